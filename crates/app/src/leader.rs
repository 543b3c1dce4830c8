//! The leader's use cases (领导): the lists of the leader's view, the names of the leaders in
//! charge of a case (包案领导), and the check of a hand-over's receiving leader.

use huiyin_domain::access::Scope;
use huiyin_domain::case::{Actor, CaseState, Command, Ctx, Role, decide};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_store::{CaseSummary, LeaderCursor, LeaderList};

use crate::{App, AppError};

/// Rows each list shows on the leader's overview (the rest is a link to the whole list).
pub const LEADER_PREVIEW: u32 = 10;
/// Rows per page of one whole list.
pub const LEADER_PAGE: u32 = 50;

/// The lists of the leader's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskList {
    /// Cases this leader is in charge of (包案), open ones first.
    InCharge,
    /// Open cases in scope no leader has instructed yet (待阅批).
    Awaiting,
    /// Open cases in scope already instructed.
    Instructed,
    /// 挂牌督办: cases under named supervision.
    Named,
    /// Cases with a 督办单 awaiting its written answer.
    OpenOrders,
    /// Open cases past their deadline.
    Overdue,
    /// Open cases with no event for the policy's `stalled_after_days`.
    Stalled,
    /// Open cases whose completion report was sent back (退回).
    SentBack,
    /// Cases rated 不满意.
    Unsatisfied,
    /// Cases with a 回访 still to be made.
    FollowUps,
}

impl DeskList {
    pub const ALL: [DeskList; 10] = [
        DeskList::InCharge,
        DeskList::Awaiting,
        DeskList::Instructed,
        DeskList::Named,
        DeskList::OpenOrders,
        DeskList::Overdue,
        DeskList::Stalled,
        DeskList::SentBack,
        DeskList::Unsatisfied,
        DeskList::FollowUps,
    ];

    /// The lists of the supervisors' view (督办), in the order it shows them.
    pub const SUPERVISION: [DeskList; 7] = [
        DeskList::Named,
        DeskList::OpenOrders,
        DeskList::Overdue,
        DeskList::Stalled,
        DeskList::SentBack,
        DeskList::Unsatisfied,
        DeskList::FollowUps,
    ];

    /// The stable code used in links (`?list=…`).
    pub fn code(self) -> &'static str {
        match self {
            DeskList::InCharge => "in-charge",
            DeskList::Awaiting => "awaiting",
            DeskList::Instructed => "instructed",
            DeskList::Named => "named",
            DeskList::OpenOrders => "open-orders",
            DeskList::Overdue => "overdue",
            DeskList::Stalled => "stalled",
            DeskList::SentBack => "sent-back",
            DeskList::Unsatisfied => "unsatisfied",
            DeskList::FollowUps => "follow-ups",
        }
    }

    pub fn parse(s: &str) -> Option<DeskList> {
        Self::ALL.into_iter().find(|l| l.code() == s)
    }
}

/// One list, or one page of it.
#[derive(Debug, Clone)]
pub struct DeskSection {
    pub list: DeskList,
    pub rows: Vec<CaseSummary>,
    /// Cases in the whole list (for 包案: open and closed).
    pub total: i64,
    /// For 包案: how many of `total` are open.
    pub open: i64,
    /// Where the next page starts, when there is one.
    pub next: Option<LeaderCursor>,
}

/// The leader's view: the first rows of each list with its size, each one scoped query.
#[derive(Debug, Clone)]
pub struct LeaderDesk {
    pub in_charge: DeskSection,
    pub awaiting: DeskSection,
    pub instructed: DeskSection,
}

/// A leader in charge of a case, with the name to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeView {
    pub leader: String,
    pub name: String,
    pub unit: Option<String>,
    pub unit_name: Option<String>,
    pub since: huiyin_domain::Instant,
}

fn mask_accusations(items: &mut [CaseSummary]) {
    for item in items {
        if item.class.as_deref() == Some("accusation") {
            item.petitioner_masked = None;
        }
    }
}

impl App {
    /// The leader's view for `actor`, within its scope: each list's first rows and size.
    pub async fn leader_desk(&self, actor: &Actor) -> Result<LeaderDesk, AppError> {
        let scope = self.scope_of(actor).await?;
        Ok(LeaderDesk {
            in_charge: self
                .desk_section(actor, &scope, DeskList::InCharge, LEADER_PREVIEW, None)
                .await?,
            awaiting: self
                .desk_section(actor, &scope, DeskList::Awaiting, LEADER_PREVIEW, None)
                .await?,
            instructed: self
                .desk_section(actor, &scope, DeskList::Instructed, LEADER_PREVIEW, None)
                .await?,
        })
    }

    /// The supervisors' view (督办) for `actor`, within its scope: the first rows and size of
    /// each list of [`DeskList::SUPERVISION`].
    pub async fn supervision_desk(&self, actor: &Actor) -> Result<Vec<DeskSection>, AppError> {
        let scope = self.scope_of(actor).await?;
        let mut out = Vec::new();
        for list in DeskList::SUPERVISION {
            out.push(
                self.desk_section(actor, &scope, list, LEADER_PREVIEW, None)
                    .await?,
            );
        }
        Ok(out)
    }

    /// One page of one list of the leader's or the supervisors' view, after `after` (from
    /// the start without).
    pub async fn leader_page(
        &self,
        actor: &Actor,
        list: DeskList,
        after: Option<&LeaderCursor>,
    ) -> Result<DeskSection, AppError> {
        let scope = self.scope_of(actor).await?;
        self.desk_section(actor, &scope, list, LEADER_PAGE, after)
            .await
    }

    async fn desk_section(
        &self,
        actor: &Actor,
        scope: &Scope,
        list: DeskList,
        limit: u32,
        after: Option<&LeaderCursor>,
    ) -> Result<DeskSection, AppError> {
        let store = self.store();
        let nothing = matches!(scope, Scope::Nothing);
        let now = self.now().timestamp_millis();
        let stalled_days = self.rules().base.national.escalation.stalled_after_days;
        let which = match list {
            DeskList::InCharge => None,
            DeskList::Awaiting => Some(LeaderList::AwaitingInstruction),
            DeskList::Instructed => Some(LeaderList::Instructed),
            DeskList::Named => Some(LeaderList::NamedSupervision),
            DeskList::OpenOrders => Some(LeaderList::OpenOrders),
            DeskList::Overdue => Some(LeaderList::Overdue { now_ms: now }),
            DeskList::Stalled => Some(LeaderList::Stalled {
                before_ms: now - i64::from(stalled_days) * 86_400_000,
            }),
            DeskList::SentBack => Some(LeaderList::SentBack),
            DeskList::Unsatisfied => Some(LeaderList::Unsatisfied),
            DeskList::FollowUps => Some(LeaderList::FollowUps),
        };
        // One row more than shown says whether a next page exists.
        let (mut rows, total, open) = match which {
            None if nothing => (Vec::new(), 0, 0),
            None => {
                let rows = store
                    .cases_in_charge(actor.id.as_str(), scope, limit + 1, after)
                    .await?;
                let (total, open) = store.count_in_charge(actor.id.as_str(), scope).await?;
                (rows, total, open)
            }
            Some(which) => {
                let rows = store.leader_list(which, scope, limit + 1, after).await?;
                let total = store.leader_count(which, scope).await?;
                (rows, total, total)
            }
        };
        let next = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(LeaderCursor::after)
        } else {
            None
        };
        mask_accusations(&mut rows);
        Ok(DeskSection {
            list,
            rows,
            total,
            open,
            next,
        })
    }

    /// The display name of a staff actor (`user:…`), when the account exists.
    pub(crate) async fn staff_name(&self, actor_id: &str) -> Result<Option<String>, AppError> {
        Ok(match actor_id.strip_prefix("user:") {
            Some(user) => self.store().user_by_id(user).await?.map(|u| u.display_name),
            None => None,
        })
    }

    /// The leaders in charge of a case with their names (staff accounts) and units.
    pub async fn charge_views(&self, state: &CaseState) -> Result<Vec<ChargeView>, AppError> {
        let mut out = Vec::with_capacity(state.in_charge.len());
        for l in &state.in_charge {
            let name = self.staff_name(l.leader.as_str()).await?;
            let unit_name = match &l.unit {
                Some(u) => self.store().unit(u.as_str()).await?.map(|u| u.name),
                None => None,
            };
            out.push(ChargeView {
                leader: l.leader.as_str().to_string(),
                name: name.unwrap_or_else(|| l.leader.as_str().to_string()),
                unit: l.unit.as_ref().map(|u| u.as_str().to_string()),
                unit_name,
                since: l.since,
            });
        }
        Ok(out)
    }

    /// A hand-over of 包案 goes only to a leader of `to_unit` (an active staff account with the
    /// leader role there) who could take charge of the case themself.
    pub(crate) async fn check_charge_target(
        &self,
        case_id: &CaseId,
        to: &ActorId,
        to_unit: &UnitId,
    ) -> Result<(), AppError> {
        let not_leader = || {
            AppError::invalid(
                "to",
                "charge_target_not_leader",
                "接收包案的人员须是该单位的领导",
            )
        };
        let Some(user_id) = to.as_str().strip_prefix("user:") else {
            return Err(not_leader());
        };
        let Some(user) = self.store().user_by_id(user_id).await? else {
            return Err(not_leader());
        };
        if user.disabled {
            return Err(not_leader());
        }
        let leads = self
            .store()
            .memberships(user_id)
            .await?
            .iter()
            .any(|m| m.unit_id == to_unit.as_str() && m.roles.iter().any(|r| r == "leader"));
        if !leads {
            return Err(not_leader());
        }
        let Some(record) = self.store().case(case_id).await? else {
            return Ok(());
        };
        let target = Actor {
            id: to.clone(),
            roles: vec![Role::Leader],
            unit: Some(to_unit.clone()),
            oversees_case: false,
            is_case_petitioner: false,
        };
        let target = self.with_oversight(target, case_id).await?;
        let policy = self.policy_for(&record.state);
        let ctx = Ctx {
            now: self.now(),
            actor: &target,
            policy: &policy,
            calendar: &self.calendar(),
        };
        match decide(Some(&record.state), case_id, Command::TakeCharge, &ctx) {
            Ok(_) => Ok(()),
            // Already in charge: the lifecycle says so with its own code.
            Err(r) if r.code() == "not_allowed" => Ok(()),
            Err(_) => Err(AppError::invalid(
                "to_unit",
                "charge_target_out_of_reach",
                "该领导所在单位既不办理本件，也不是办理单位的上级，不能接收包案",
            )),
        }
    }
}

/// The longest period the 通报 list covers at once.
pub const MAX_CIRCULAR_DAYS: i64 = 366;

/// One 通报 of the printable list, with the units' names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Circular {
    pub row: huiyin_store::CirculationRow,
    pub unit_name: String,
    pub by_unit_name: String,
}

impl App {
    /// The circulars (通报) of cases in the actor's scope made in `[from, to)`: the list a
    /// supervising level publishes (supervisors and leaders). At most 2,000 rows; a longer
    /// period than [`MAX_CIRCULAR_DAYS`] is refused.
    pub async fn circulars(
        &self,
        actor: &Actor,
        from: huiyin_domain::Instant,
        to: huiyin_domain::Instant,
    ) -> Result<Vec<Circular>, AppError> {
        if !(actor.has(Role::Supervisor) || actor.has(Role::Leader)) {
            return Err(AppError::Forbidden("只有督办人员和领导可以查看通报".into()));
        }
        if to <= from {
            return Err(AppError::invalid(
                "to",
                "period_empty",
                "结束日期应晚于开始日期",
            ));
        }
        if (to - from).num_days() > MAX_CIRCULAR_DAYS {
            return Err(AppError::invalid(
                "to",
                "period_too_long",
                format!("通报列表一次最多 {MAX_CIRCULAR_DAYS} 天"),
            ));
        }
        let scope = self.scope_of(actor).await?;
        let rows = self
            .store()
            .circulations(&scope, from.timestamp_millis(), to.timestamp_millis(), 2000)
            .await?;
        let mut ids: Vec<String> = rows
            .iter()
            .flat_map(|r| std::iter::once(r.unit_id.clone()).chain(r.by_unit.clone()))
            .collect();
        ids.sort();
        ids.dedup();
        let names: std::collections::HashMap<String, String> = self
            .store()
            .units_by_ids(&ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect();
        let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
        Ok(rows
            .into_iter()
            .map(|row| Circular {
                unit_name: name_of(&row.unit_id),
                by_unit_name: row.by_unit.as_deref().map(name_of).unwrap_or_default(),
                row,
            })
            .collect())
    }
}
