//! The leader's use cases (领导): the lists of the leader's view, the names of the leaders in
//! charge of a case (包案领导), and the check of a hand-over's receiving leader.

use huiyin_domain::access::Scope;
use huiyin_domain::case::{Actor, CaseState, Command, Ctx, Role, decide};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_store::{CaseSummary, LeaderList};

use crate::{App, AppError};

/// How many rows each list of the leader's view shows.
pub const LEADER_ROWS: u32 = 100;

/// The leader's view: three lists, each one scoped query.
#[derive(Debug, Clone, Default)]
pub struct LeaderDesk {
    /// Open cases in scope no leader has instructed yet (待阅批).
    pub awaiting: Vec<CaseSummary>,
    /// Cases this leader is in charge of (包案), open ones first.
    pub in_charge: Vec<CaseSummary>,
    /// Open cases in scope already instructed.
    pub instructed: Vec<CaseSummary>,
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
    /// The leader's view for `actor`, within its scope.
    pub async fn leader_desk(&self, actor: &Actor) -> Result<LeaderDesk, AppError> {
        let scope = self.scope_of(actor).await?;
        let store = self.store();
        let mut desk = LeaderDesk {
            awaiting: store
                .leader_list(LeaderList::AwaitingInstruction, &scope, LEADER_ROWS)
                .await?,
            in_charge: if matches!(scope, Scope::Nothing) {
                Vec::new()
            } else {
                store
                    .cases_in_charge(actor.id.as_str(), &scope, LEADER_ROWS)
                    .await?
            },
            instructed: store
                .leader_list(LeaderList::Instructed, &scope, LEADER_ROWS)
                .await?,
        };
        mask_accusations(&mut desk.awaiting);
        mask_accusations(&mut desk.in_charge);
        mask_accusations(&mut desk.instructed);
        Ok(desk)
    }

    /// The leaders in charge of a case with their names (staff accounts) and units.
    pub async fn charge_views(&self, state: &CaseState) -> Result<Vec<ChargeView>, AppError> {
        let mut out = Vec::with_capacity(state.in_charge.len());
        for l in &state.in_charge {
            let name = match l.leader.as_str().strip_prefix("user:") {
                Some(user) => self.store().user_by_id(user).await?.map(|u| u.display_name),
                None => None,
            };
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
