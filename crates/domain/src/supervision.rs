//! Deadlines that act: the escalation ladder (催办 → 督办单 → 通报) and supervision (督办).
//!
//! Every open case has at most one *next step* on its ladder, computed from its state and its
//! deadline policy alone ([`next_step`]); the store keeps it with the case projection so a scan
//! finds the steps that are due with one index range read, however many cases are open. The
//! steps, in order, for the most urgent running deadline:
//!
//! 1. 催办 (urge) when its light turns yellow ([`EscalationPolicy::urge_when_yellow`]);
//! 2. 催办 when it is overdue ([`EscalationPolicy::urge_when_overdue`]);
//! 3. a 督办单 (supervision order) from the supervising level — the unit that routed the case
//!    to the one that must act; when the bureau itself must act, the application names the
//!    unit above it (the system actor's unit), else the bureau is named — after [`EscalationPolicy::supervise_after_working_days`] working days
//!    overdue, with [`EscalationPolicy::supervision_reply_working_days`] to answer in writing
//!    (《信访工作条例》第四十条);
//! 4. 通报 (circulation in the supervision notice) when a 督办单 is still unanswered at its
//!    reply deadline ([`EscalationPolicy::circulate_unanswered`]).
//!
//! The steps already taken for a deadline are remembered on the case ([`LadderMark`]), keyed by
//! the deadline's kind and due instant: an extension or a new stage gives a new deadline, and
//! its ladder starts again. A step is an ordinary event written by the system actor, so it
//! shows in the case's history, and a scan that runs twice cannot take a step twice.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::case::{CaseState, Command};
use crate::clock::{self, Deadline};
use crate::ids::{ActorId, UnitId};
use crate::policy::{ClockKind, DeadlinePolicy, PolicyError};
use crate::values::DocumentText;
use crate::{CHINA_OFFSET, Instant};

/// How overdue cases are chased; part of the [`DeadlinePolicy`], so each jurisdiction sets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationPolicy {
    /// 催办 when the light turns yellow; default true.
    pub urge_when_yellow: bool,
    /// 催办 as soon as the deadline has passed; default true.
    pub urge_when_overdue: bool,
    /// Working days overdue after which the supervising level issues a 督办单; `None` never;
    /// default 3.
    pub supervise_after_working_days: Option<u32>,
    /// Working days a unit has to answer a 督办单 in writing; default 5.
    pub supervision_reply_working_days: u32,
    /// An unanswered 督办单 is circulated (通报) when its reply deadline passes; default true.
    pub circulate_unanswered: bool,
    /// An open case with no event for this many days counts as stalled in the supervisors'
    /// lists; default 10.
    pub stalled_after_days: u32,
}

impl Default for EscalationPolicy {
    fn default() -> Self {
        Self {
            urge_when_yellow: true,
            urge_when_overdue: true,
            supervise_after_working_days: Some(3),
            supervision_reply_working_days: 5,
            circulate_unanswered: true,
            stalled_after_days: 10,
        }
    }
}

impl EscalationPolicy {
    /// Checks the numbers: a reply limit of 1 to 60 working days, at most 60 working days
    /// overdue before a 督办单.
    pub(crate) fn validate(&self, at: &str) -> Result<(), PolicyError> {
        let reply = self.supervision_reply_working_days;
        let field = |name: &str| format!("{at}.escalation.{name}");
        for (name, value) in [
            ("supervision_reply_working_days", reply),
            ("stalled_after_days", self.stalled_after_days),
        ] {
            if value == 0 {
                return Err(PolicyError::ZeroLimit { field: field(name) });
            }
        }
        if self.stalled_after_days > 365 {
            return Err(PolicyError::TooLarge {
                field: field("stalled_after_days"),
                value: self.stalled_after_days,
                max: 365,
            });
        }
        for (name, value) in [
            ("supervision_reply_working_days", Some(reply)),
            (
                "supervise_after_working_days",
                self.supervise_after_working_days,
            ),
        ] {
            if let Some(value) = value.filter(|v| *v > MAX_ESCALATION_DAYS) {
                return Err(PolicyError::TooLarge {
                    field: field(name),
                    value,
                    max: MAX_ESCALATION_DAYS,
                });
            }
        }
        Ok(())
    }
}

/// The longest reply limit of a 督办单 and the longest wait before one, in working days.
pub const MAX_ESCALATION_DAYS: u32 = 60;

/// 督办形式: how a supervision order was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupervisionForm {
    /// 网上督办
    Online,
    /// 电话督办
    Phone,
    /// 上门督办 (on site)
    OnSite,
}

impl SupervisionForm {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Phone => "phone",
            Self::OnSite => "on_site",
        }
    }

    pub const fn label_zh(self) -> &'static str {
        match self {
            Self::Online => "网上督办",
            Self::Phone => "电话督办",
            Self::OnSite => "上门督办",
        }
    }
}

/// One rung of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LadderStep {
    /// 催办: the deadline is near (yellow).
    UrgeDueSoon,
    /// 催办: the deadline has passed (red).
    UrgeOverdue,
    /// 督办单 from the supervising level.
    Supervise,
    /// 通报: a 督办单 went unanswered.
    Circulate,
}

impl LadderStep {
    pub const ALL: [Self; 4] = [
        Self::UrgeDueSoon,
        Self::UrgeOverdue,
        Self::Supervise,
        Self::Circulate,
    ];

    /// Stable name, stored with the case projection.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UrgeDueSoon => "urge_due_soon",
            Self::UrgeOverdue => "urge_overdue",
            Self::Supervise => "supervise",
            Self::Circulate => "circulate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.as_str() == s)
    }
}

/// The ladder steps taken for one deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderMark {
    pub kind: ClockKind,
    pub due_at: Instant,
    pub step: LadderStep,
}

/// A 督办单 on the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisionOrder {
    /// 1-based, in the order issued on this case.
    pub number: u32,
    pub form: SupervisionForm,
    pub by: ActorId,
    /// The supervising unit.
    pub by_unit: Option<UnitId>,
    pub issued_at: Instant,
    /// The unit's written answer is due by then.
    pub reply_due_at: Instant,
    pub text: DocumentText,
    /// 挂牌督办: the case is under named supervision from this order on.
    pub named: bool,
    #[serde(default)]
    pub answered_at: Option<Instant>,
    #[serde(default)]
    pub answer: Option<DocumentText>,
    /// The order went unanswered past its deadline and was circulated (通报).
    #[serde(default)]
    pub circulated: bool,
}

impl SupervisionOrder {
    /// Open: not yet answered.
    pub fn is_open(&self) -> bool {
        self.answered_at.is_none()
    }
}

/// The end of the `n`-th working day after the day of `at` (China time).
#[must_use]
pub fn working_days_after(calendar: &Calendar, at: Instant, n: u32) -> Instant {
    let date = at.with_timezone(&CHINA_OFFSET).date_naive();
    clock::end_of_day(calendar.add_working_days(date, n))
}

/// Whether a timer is a duty of a unit, which the ladder chases. The petitioner's own windows
/// (评价, 复查申请, 复核申请) and the unit's right to object (异议) are not.
#[must_use]
pub const fn is_duty(kind: ClockKind) -> bool {
    !matches!(
        kind,
        ClockKind::Objection
            | ClockKind::Rating
            | ClockKind::ReviewRequest
            | ClockKind::RereviewRequest
    )
}

/// The deadline the ladder follows: the most urgent running duty that is not paused.
#[must_use]
pub fn followed_deadline(
    state: &CaseState,
    policy: &DeadlinePolicy,
    calendar: &Calendar,
) -> Option<Deadline> {
    if !state.awaits_action() {
        return None;
    }
    state
        .deadlines(policy, calendar)
        .into_iter()
        .filter(|d| d.stopped_at.is_none() && !d.paused && is_duty(d.kind))
        .min_by_key(|d| d.due_at)
}

/// The rungs of the deadline ladder not yet taken for `d`, earliest first.
fn pending_rungs(
    state: &CaseState,
    d: &Deadline,
    esc: &EscalationPolicy,
    calendar: &Calendar,
) -> Vec<(LadderStep, Instant)> {
    let taken = state
        .ladder
        .filter(|m| m.kind == d.kind && m.due_at == d.due_at)
        .map(|m| m.step);
    let supervise_at = esc
        .supervise_after_working_days
        .map(|n| after(working_days_after(calendar, d.due_at, n).max(d.due_at)));
    [
        (
            LadderStep::UrgeDueSoon,
            esc.urge_when_yellow.then_some(d.yellow_at),
        ),
        (
            LadderStep::UrgeOverdue,
            esc.urge_when_overdue.then(|| after(d.due_at)),
        ),
        (LadderStep::Supervise, supervise_at),
    ]
    .into_iter()
    .filter(|(step, _)| taken.is_none_or(|t| *step > t))
    .filter_map(|(step, at)| at.map(|at| (step, at)))
    .collect()
}

/// The open 督办单 that is circulated first when it stays unanswered.
fn unanswered_order<'a>(
    state: &'a CaseState,
    esc: &EscalationPolicy,
) -> Option<&'a SupervisionOrder> {
    if !esc.circulate_unanswered {
        return None;
    }
    state
        .supervision
        .iter()
        .filter(|o| o.is_open() && !o.circulated)
        .min_by_key(|o| o.reply_due_at)
}

/// The next ladder step of the case and the instant from which it is due; `None` when nothing
/// more will happen on its own (closed, paused, or every enabled step taken).
#[must_use]
pub fn next_step(
    state: &CaseState,
    policy: &DeadlinePolicy,
    calendar: &Calendar,
) -> Option<(LadderStep, Instant)> {
    if !state.awaits_action() {
        return None;
    }
    let esc = &policy.escalation;
    let circulate =
        unanswered_order(state, esc).map(|o| (LadderStep::Circulate, after(o.reply_due_at)));
    let rung = followed_deadline(state, policy, calendar)
        .and_then(|d| pending_rungs(state, &d, esc, calendar).into_iter().next());
    circulate.into_iter().chain(rung).min_by_key(|(_, at)| *at)
}

/// The step to take at `now`, with the mark it leaves on the deadline ladder (`None` for a
/// 通报). A 通报 of an unanswered 督办单 comes first. On the deadline ladder the highest rung
/// due is taken and the lower ones are skipped: a case first seen weeks overdue gets its
/// 督办单, not a "due soon" urge followed by two more notices.
#[must_use]
pub fn due_step(
    state: &CaseState,
    policy: &DeadlinePolicy,
    calendar: &Calendar,
    now: Instant,
) -> Option<(LadderStep, Option<LadderMark>)> {
    if !state.awaits_action() {
        return None;
    }
    let esc = &policy.escalation;
    if unanswered_order(state, esc).is_some_and(|o| after(o.reply_due_at) <= now) {
        return Some((LadderStep::Circulate, None));
    }
    let d = followed_deadline(state, policy, calendar)?;
    let (step, _) = pending_rungs(state, &d, esc, calendar)
        .into_iter()
        .rev()
        .find(|(_, at)| *at <= now)?;
    Some((
        step,
        Some(LadderMark {
            kind: d.kind,
            due_at: d.due_at,
            step,
        }),
    ))
}

/// The command the deadline scan gives for `step` (from [`due_step`]), with its standard text.
#[must_use]
pub fn command_for(
    state: &CaseState,
    step: LadderStep,
    mark: Option<LadderMark>,
    policy: &DeadlinePolicy,
) -> Option<Command> {
    let date = |at: Instant| {
        at.with_timezone(&CHINA_OFFSET)
            .format("%Y年%m月%d日")
            .to_string()
    };
    let what = mark.map(|m| duty_label(m.kind)).unwrap_or("办理");
    let text = match step {
        LadderStep::UrgeDueSoon => format!(
            "{what}期限将于{}届满，请抓紧办理，按期完成。",
            date(mark?.due_at)
        ),
        LadderStep::UrgeOverdue => format!(
            "{what}期限已于{}届满，请立即办理，并说明逾期原因。",
            date(mark?.due_at)
        ),
        LadderStep::Supervise => format!(
            "{what}期限已于{}届满，逾期{}个工作日仍未完成。请于答复期限内书面反馈办理情况（《信访工作条例》第四十条）。",
            date(mark?.due_at),
            policy.escalation.supervise_after_working_days.unwrap_or(0)
        ),
        LadderStep::Circulate => {
            let order = unanswered_order(state, &policy.escalation)?;
            format!(
                "第{}号督办单要求于{}前书面答复，逾期未复，予以通报。",
                order.number,
                date(order.reply_due_at)
            )
        }
    };
    let text = DocumentText::parse(&text).ok()?;
    Some(match step {
        LadderStep::UrgeDueSoon | LadderStep::UrgeOverdue => Command::Urge { text, ladder: mark },
        LadderStep::Supervise => Command::Supervise {
            form: SupervisionForm::Online,
            text,
            reply_working_days: None,
            named: false,
            ladder: mark,
        },
        LadderStep::Circulate => Command::Circulate {
            text,
            order: unanswered_order(state, &policy.escalation).map(|o| o.number),
        },
    })
}

/// The duty a timer stands for, in the words of the standard texts.
const fn duty_label(kind: ClockKind) -> &'static str {
    match kind {
        ClockKind::RegisterRoute => "登记转送",
        ClockKind::AcceptanceNotice => "受理告知",
        ClockKind::Objection => "异议",
        ClockKind::Handling => "办理",
        ClockKind::Rating => "评价",
        ClockKind::ReviewRequest => "复查申请",
        ClockKind::ReviewDecision => "复查",
        ClockKind::RereviewRequest => "复核申请",
        ClockKind::RereviewDecision => "复核",
        ClockKind::CompletionReport => "办结报告",
    }
}

fn after(at: Instant) -> Instant {
    at.checked_add_signed(TimeDelta::milliseconds(1))
        .unwrap_or(at)
}
