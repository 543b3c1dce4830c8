//! The case lifecycle (信访事项办理流程) as `decide(state, command, ctx) -> events` and
//! `apply(state, event) -> state`.
//!
//! This module owns which action is allowed in which stage, by whom, and which statutory clock it
//! starts or stops. It has no I/O: the caller loads the state, asks [`decide`], appends the events
//! and folds them with [`apply`]. Replaying a case's events from nothing reproduces its state.

use serde::{Deserialize, Serialize};

use crate::Instant;
use crate::calendar::Calendar;
use crate::clock::{self, Pause, Timer};
use crate::follow_up::{FollowUp, FollowUpMethod, FollowUpOutcome, FollowUpReason};
use crate::ids::{ActorId, CaseId, UnitId};
use crate::petition::{PetitionRecord, StatutoryClass};
use crate::policy::{ClockKind, DeadlinePolicy};
use crate::supervision::{LadderMark, SupervisionForm, SupervisionOrder};
use crate::values::{DocumentText, Reason, ReceiptCode};

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 待登记: received, waiting for the bureau to register it.
    Submitted,
    /// 已登记: registered and classified, waiting to be routed.
    Registered,
    /// 待受理: forwarded (转送), assigned (交办) or kept by the bureau; the receiving unit must
    /// accept, decline or object.
    Routed,
    /// 异议中: the receiving unit objected that it is not competent; the sender decides.
    Objected,
    /// 办理中: accepted (受理) and being handled.
    Handling,
    /// 已答复: the 信访处理意见书 was issued (办结); rating and review are open.
    Replied,
    /// 复查中: the next-higher organ reviews the reply.
    UnderReview,
    /// 已复查: the review opinion was issued; re-review is open.
    Reviewed,
    /// 复核中: the organ above the reviewer re-reviews.
    UnderRereview,
    /// 终结: after re-review the same request on the same facts is no longer accepted.
    Concluded,
    /// 不予受理: declined, with guidance to the right channel.
    Declined,
    /// 已撤回: withdrawn by the petitioner.
    Withdrawn,
    /// 已并单: merged into another case; its history is kept.
    Merged,
}

impl Stage {
    pub const ALL: [Stage; 13] = [
        Stage::Submitted,
        Stage::Registered,
        Stage::Routed,
        Stage::Objected,
        Stage::Handling,
        Stage::Replied,
        Stage::UnderReview,
        Stage::Reviewed,
        Stage::UnderRereview,
        Stage::Concluded,
        Stage::Declined,
        Stage::Withdrawn,
        Stage::Merged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Submitted => "submitted",
            Stage::Registered => "registered",
            Stage::Routed => "routed",
            Stage::Objected => "objected",
            Stage::Handling => "handling",
            Stage::Replied => "replied",
            Stage::UnderReview => "under_review",
            Stage::Reviewed => "reviewed",
            Stage::UnderRereview => "under_rereview",
            Stage::Concluded => "concluded",
            Stage::Declined => "declined",
            Stage::Withdrawn => "withdrawn",
            Stage::Merged => "merged",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The Chinese label shown to people.
    pub fn label_zh(self) -> &'static str {
        match self {
            Stage::Submitted => "待登记",
            Stage::Registered => "已登记",
            Stage::Routed => "待受理",
            Stage::Objected => "异议中",
            Stage::Handling => "办理中",
            Stage::Replied => "已答复",
            Stage::UnderReview => "复查中",
            Stage::Reviewed => "已复查",
            Stage::UnderRereview => "复核中",
            Stage::Concluded => "已终结",
            Stage::Declined => "不予受理",
            Stage::Withdrawn => "已撤回",
            Stage::Merged => "已并单",
        }
    }

    /// No further handling happens (notes and instructions are still possible).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Stage::Concluded | Stage::Declined | Stage::Withdrawn | Stage::Merged
        )
    }

    /// The case still waits for an organ to act (it counts as open in a unit's list).
    pub fn is_open(self) -> bool {
        !self.is_terminal() && !matches!(self, Stage::Replied | Stage::Reviewed)
    }
}

/// How the bureau routes a registered matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RouteKind {
    /// 转送: the competent organ handles it under the statutory limits.
    Forward,
    /// 交办: like 转送, with the assigner's deadline and a required 办结报告 (completion report)
    /// that the assigner checks.
    Assign { due_at: Instant },
    /// 自办: the bureau is itself competent and handles it.
    Bureau,
}

/// The current routing of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routing {
    pub kind: RouteKind,
    /// The receiving (competent) unit.
    pub unit: UnitId,
    /// The unit that routed it (normally the bureau).
    pub by: UnitId,
    pub at: Instant,
}

/// The decision of a 信访处理意见书 (Art. 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// 支持.
    Support,
    /// 解释说明.
    Explain,
    /// 不予支持.
    NotSupport,
}

/// The written handling opinion (信访处理意见书): request, facts, reasons, legal basis, decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingOpinion {
    /// 信访请求.
    pub request: DocumentText,
    /// 事实 (经查).
    pub facts: DocumentText,
    /// 理由.
    pub reasons: DocumentText,
    /// 法律依据 / 政策依据.
    pub legal_basis: DocumentText,
    pub decision: Decision,
}

/// The reply-quality check (答复质量) of a 信访处理意见书, review or re-review opinion, computed
/// by the application when the opinion is issued and stored in the same event, so the handler
/// and the assigner see what was checked at that moment. `None` on events written before the
/// check existed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyQuality {
    /// 0–100, higher is better.
    pub score: u8,
    /// What is wrong, worst first.
    pub findings: Vec<ReplyFinding>,
    /// Share of the petition's key terms that the opinion mentions, in percent.
    pub topic_overlap_pct: u8,
}

/// One problem the reply-quality check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyFinding {
    /// Stable machine code, e.g. `missing_facts`.
    pub code: String,
    /// Message for the handler (Chinese).
    pub message: String,
    /// Points subtracted from 100.
    pub penalty: u8,
    /// The text that triggered the finding, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// The outcome of a review (复查) or re-review (复核).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// 维持.
    Uphold,
    /// 撤销.
    Revoke,
    /// 变更.
    Change,
}

/// A satisfaction rating (满意度).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    /// 满意.
    Satisfied,
    /// 基本满意.
    BasicallySatisfied,
    /// 不满意.
    Unsatisfied,
}

/// Why a matter is declined (不予受理), with the guidance the petitioner is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineGround {
    /// Belongs to another legal procedure (诉讼, 仲裁, 复议…): 诉访分离.
    OtherProcedure,
    /// The same request on the same facts after 复核 (终结) — Art. 36.
    Concluded,
    /// The same matter is already accepted and within its time limit elsewhere — Art. 19.
    AlreadyAccepted,
    /// Not a petition matter at all.
    NotPetitionMatter,
}

/// Why one case is merged into another (并单).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeReason {
    /// A copy of the same letter (一信多投, or sent twice).
    Duplicate,
    /// 重复信访: the same petitioner on a matter already accepted and within its limit (Art. 19).
    Repeat,
}

/// How one case relates to another (关联), recorded without merging: both cases stay as they
/// are and each shows the link. The text tools suggest links at intake; staff confirm or add them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkRelation {
    /// 重复信访: the same petitioner, the same matter, while the earlier case is still within
    /// its time limit — linked to it, not accepted again (Art. 19).
    Repeat,
    /// The same petitioner and matter after the earlier case was concluded (终结, Art. 36): the
    /// request is flagged; the same facts and reasons are no longer accepted.
    RepeatAfterConclusion,
    /// 一信多投: the same letter sent to several organs.
    MultiAddressed,
    /// Many petitioners with near-identical text: a possibly organised group petition.
    Group,
    /// A different petition about the same issue.
    SameIssue,
}

impl LinkRelation {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkRelation::Repeat => "repeat",
            LinkRelation::RepeatAfterConclusion => "repeat_after_conclusion",
            LinkRelation::MultiAddressed => "multi_addressed",
            LinkRelation::Group => "group",
            LinkRelation::SameIssue => "same_issue",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            LinkRelation::Repeat => "重复信访（原件在办理期限内）",
            LinkRelation::RepeatAfterConclusion => "重复信访（原件已终结）",
            LinkRelation::MultiAddressed => "一信多投",
            LinkRelation::Group => "疑似组织的群体信访",
            LinkRelation::SameIssue => "同一问题",
        }
    }
}

/// A recorded link from this case to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseLink {
    pub to: CaseId,
    pub relation: LinkRelation,
}

/// Where the 办结报告 of a 交办 case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    NotRequired,
    Pending,
    Submitted,
    Approved,
    SentBack,
}

/// A staff or petitioner role. Staff roles come with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 信访人, acting through the receipt code and secret.
    Petitioner,
    /// 代理员: files and follows petitions for others.
    Proxy,
    /// 登记员: registers and routes at a petition bureau.
    Registrar,
    /// 承办人: handles at a responsible unit.
    Handler,
    /// 负责人: approves extensions, signs decisions.
    UnitHead,
    /// 领导: reads and instructs (阅批), takes charge (包案).
    Leader,
    /// 督办: supervises lower levels.
    Supervisor,
    Administrator,
    /// Reads the audit trail.
    Auditor,
    /// Reads statistics only.
    Analyst,
    /// The system itself (scheduled scans, imports).
    System,
}

impl Role {
    pub const ALL: [Role; 11] = [
        Role::Petitioner,
        Role::Proxy,
        Role::Registrar,
        Role::Handler,
        Role::UnitHead,
        Role::Leader,
        Role::Supervisor,
        Role::Administrator,
        Role::Auditor,
        Role::Analyst,
        Role::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Petitioner => "petitioner",
            Role::Proxy => "proxy",
            Role::Registrar => "registrar",
            Role::Handler => "handler",
            Role::UnitHead => "unit_head",
            Role::Leader => "leader",
            Role::Supervisor => "supervisor",
            Role::Administrator => "administrator",
            Role::Auditor => "auditor",
            Role::Analyst => "analyst",
            Role::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Petitioner => "信访人",
            Role::Proxy => "代理员",
            Role::Registrar => "登记员",
            Role::Handler => "承办人",
            Role::UnitHead => "单位负责人",
            Role::Leader => "领导",
            Role::Supervisor => "督办员",
            Role::Administrator => "管理员",
            Role::Auditor => "审计员",
            Role::Analyst => "分析员",
            Role::System => "系统",
        }
    }
}

/// Who is acting, as far as the lifecycle needs to know. The application works out the facts
/// that need the organisation tree (whether the actor's unit oversees the case's units, whether
/// a petitioner proved ownership of this case) before it asks [`decide`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: ActorId,
    pub roles: Vec<Role>,
    pub unit: Option<UnitId>,
    /// The actor's unit is a superior of the units on the case (leaders, supervisors).
    #[serde(default)]
    pub oversees_case: bool,
    /// The actor proved to be this case's petitioner (receipt code and secret, or account).
    #[serde(default)]
    pub is_case_petitioner: bool,
}

impl Actor {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    fn in_unit(&self, unit: &UnitId) -> bool {
        self.unit.as_ref() == Some(unit)
    }

    /// The actor holds one of `roles` in `unit`.
    fn acts_for(&self, unit: &UnitId, roles: &[Role]) -> bool {
        self.in_unit(unit) && roles.iter().any(|r| self.has(*r))
    }

    /// The system actor used by scheduled scans and tests.
    pub fn system() -> Actor {
        Actor {
            id: ActorId::new("system"),
            roles: vec![Role::System],
            unit: None,
            oversees_case: false,
            is_case_petitioner: false,
        }
    }
}

/// Everything [`decide`] may consult besides the state and the command.
pub struct Ctx<'a> {
    pub now: Instant,
    pub actor: &'a Actor,
    pub policy: &'a DeadlinePolicy,
    pub calendar: &'a Calendar,
}

/// A request to change a case. Each is allowed only in some stages, for some roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// A petition arrives (信访人 online, 代理员, or staff entering a letter/visit/call).
    Submit {
        petition: Box<PetitionRecord>,
        receipt: ReceiptCode,
        /// The petition bureau that receives it.
        bureau: UnitId,
        received_at: Instant,
    },
    /// 登记: the bureau registers and classifies (again, while not yet routed).
    Register {
        class: StatutoryClass,
        #[serde(default)]
        category: Option<String>,
        /// For 检举控告: the units accused, which must never see the petitioner (Art. 30).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        accused: Vec<UnitId>,
    },
    /// 转送 / 交办 / 自办.
    Route { kind: RouteKind, unit: UnitId },
    /// 受理: the receiving unit accepts; the acceptance notice goes to a named petitioner.
    Accept,
    /// 不予受理 with the reason and guidance to the right channel.
    Decline {
        ground: DeclineGround,
        reason: Reason,
        guidance: Reason,
    },
    /// 异议: the receiving unit says it is not competent (within 5 working days).
    Object { reason: Reason },
    /// The sender decides on the objection: agree (the case returns for re-routing) or not.
    ResolveObjection { agree: bool, reason: Reason },
    /// The handler asks the unit head to extend the handling limit (延期).
    RequestExtension { days: u32, reason: Reason },
    /// The unit head approves or refuses the extension.
    DecideExtension { approve: bool, reason: Reason },
    /// 答复: the written 信访处理意见书 goes to the petitioner.
    Reply { opinion: HandlingOpinion },
    /// 办结报告 of a 交办 case.
    SubmitCompletionReport { report: DocumentText },
    /// The assigner checks the completion report; a rejection sends the case back to handling.
    CheckCompletionReport {
        approve: bool,
        reason: Reason,
        #[serde(default)]
        new_due_at: Option<Instant>,
    },
    /// 评价: the petitioner rates the bureau and the unit (双满意); staff record it for phone or
    /// visit petitioners.
    Rate {
        bureau: Satisfaction,
        unit: Satisfaction,
        #[serde(default)]
        comment: Option<Reason>,
    },
    /// 复查申请 to the next-higher organ.
    RequestReview { reason: Reason, review_unit: UnitId },
    /// 复查意见.
    DecideReview {
        outcome: ReviewOutcome,
        opinion: HandlingOpinion,
    },
    /// 复核申请 to the organ above the reviewer.
    RequestRereview {
        reason: Reason,
        rereview_unit: UnitId,
    },
    /// 听证 starts: the re-review clock pauses.
    StartHearing { note: Reason },
    /// 听证 ends: the clock runs again.
    EndHearing { note: Reason },
    /// 复核意见; the case is 终结.
    DecideRereview {
        outcome: ReviewOutcome,
        opinion: HandlingOpinion,
    },
    /// The petitioner withdraws (撤回).
    Withdraw { reason: Reason },
    /// The petitioner withdraws the consent to publish the reply (撤回公开同意); the public
    /// portal stops showing it.
    WithdrawPublicationConsent,
    /// 并单: this case is merged into `into`.
    MergeInto { into: CaseId, reason: MergeReason },
    /// The counterpart of [`Command::MergeInto`] on the surviving case.
    Absorb { source: CaseId, reason: MergeReason },
    /// An internal note (never shown to the petitioner).
    AddNote { text: DocumentText },
    /// 关联: record that this case relates to `to` without merging (e.g. an Art. 19 repeat).
    Link { to: CaseId, relation: LinkRelation },
    /// 阅批: a leader's instruction.
    Instruct { text: DocumentText },
    /// 包案: a leader takes personal charge of the case (a leader of the handling unit, of the
    /// unit that must act now, or of a unit above the case's units).
    TakeCharge,
    /// A leader in charge gives the charge up.
    ReleaseCharge { reason: Reason },
    /// A leader in charge hands the charge over to another leader. The application checks that
    /// `to` is a leader of `to_unit` and that this unit may take charge of the case.
    HandOverCharge {
        to: ActorId,
        to_unit: UnitId,
        reason: Reason,
    },
    /// 催办: a supervisor of the case, or the deadline scan, urges the unit that must act.
    Urge {
        text: DocumentText,
        /// The deadline-ladder step this urge takes (the deadline scan only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ladder: Option<LadderMark>,
    },
    /// 督办单: a supervision order that the unit must answer in writing within
    /// `reply_working_days` working days (the policy's default when absent).
    Supervise {
        form: SupervisionForm,
        text: DocumentText,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_working_days: Option<u32>,
        /// 挂牌督办: put the case under named supervision.
        #[serde(default)]
        named: bool,
        /// The deadline-ladder step this order takes (the deadline scan only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ladder: Option<LadderMark>,
    },
    /// The unit answers 督办单 number `number` in writing (督办回复).
    AnswerSupervision { number: u32, text: DocumentText },
    /// 通报: the case is circulated in the supervision notice; `order` names the 督办单 that
    /// went unanswered, if that is why.
    Circulate {
        text: DocumentText,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<u32>,
    },
    /// 摘牌: named supervision ends.
    EndNamedSupervision { reason: Reason },
    /// 回访: the petition bureau schedules a follow-up of a replied case (cases rated 不满意
    /// and group petitions get one by policy when rated).
    ScheduleFollowUp { method: FollowUpMethod },
    /// 回访: the bureau records the follow-up it made and what it heard.
    RecordFollowUp {
        method: FollowUpMethod,
        outcome: FollowUpOutcome,
        note: Reason,
    },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Submit { .. } => "submit",
            Command::Register { .. } => "register",
            Command::Route { .. } => "route",
            Command::Accept => "accept",
            Command::Decline { .. } => "decline",
            Command::Object { .. } => "object",
            Command::ResolveObjection { .. } => "resolve_objection",
            Command::RequestExtension { .. } => "request_extension",
            Command::DecideExtension { .. } => "decide_extension",
            Command::Reply { .. } => "reply",
            Command::SubmitCompletionReport { .. } => "submit_completion_report",
            Command::CheckCompletionReport { .. } => "check_completion_report",
            Command::Rate { .. } => "rate",
            Command::RequestReview { .. } => "request_review",
            Command::DecideReview { .. } => "decide_review",
            Command::RequestRereview { .. } => "request_rereview",
            Command::StartHearing { .. } => "start_hearing",
            Command::EndHearing { .. } => "end_hearing",
            Command::DecideRereview { .. } => "decide_rereview",
            Command::Withdraw { .. } => "withdraw",
            Command::WithdrawPublicationConsent => "withdraw_publication_consent",
            Command::MergeInto { .. } => "merge_into",
            Command::Absorb { .. } => "absorb",
            Command::AddNote { .. } => "add_note",
            Command::Link { .. } => "link",
            Command::Instruct { .. } => "instruct",
            Command::TakeCharge => "take_charge",
            Command::Urge { .. } => "urge",
            Command::Supervise { .. } => "supervise",
            Command::AnswerSupervision { .. } => "answer_supervision",
            Command::Circulate { .. } => "circulate",
            Command::EndNamedSupervision { .. } => "end_named_supervision",
            Command::ScheduleFollowUp { .. } => "schedule_follow_up",
            Command::RecordFollowUp { .. } => "record_follow_up",
            Command::ReleaseCharge { .. } => "release_charge",
            Command::HandOverCharge { .. } => "hand_over_charge",
        }
    }
}

/// What happened to a case. Immutable once written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    Submitted {
        petition: Box<PetitionRecord>,
        receipt: ReceiptCode,
        bureau: UnitId,
        received_at: Instant,
    },
    Registered {
        class: StatutoryClass,
        category: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        accused: Vec<UnitId>,
    },
    Routed {
        route: RouteKind,
        unit: UnitId,
        by: UnitId,
    },
    Accepted {
        /// Whether an acceptance notice (受理告知书) goes to the petitioner (not when anonymous).
        notice_to_petitioner: bool,
    },
    Declined {
        ground: DeclineGround,
        reason: Reason,
        guidance: Reason,
    },
    Objected {
        reason: Reason,
    },
    ObjectionAgreed {
        reason: Reason,
    },
    ObjectionOverruled {
        reason: Reason,
    },
    ExtensionRequested {
        days: u32,
        reason: Reason,
    },
    ExtensionApproved {
        days: u32,
        reason: Reason,
    },
    ExtensionRefused {
        reason: Reason,
    },
    Replied {
        opinion: HandlingOpinion,
        /// Filled in by the application before the event is written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quality: Option<ReplyQuality>,
    },
    CompletionReportSubmitted {
        report: DocumentText,
    },
    CompletionReportApproved {
        reason: Reason,
    },
    CompletionReportSentBack {
        reason: Reason,
        new_due_at: Option<Instant>,
    },
    Rated {
        bureau: Satisfaction,
        unit: Satisfaction,
        comment: Option<Reason>,
        /// Recorded by staff for a phone or visit petitioner.
        recorded_by_staff: bool,
    },
    ReviewRequested {
        reason: Reason,
        review_unit: UnitId,
    },
    ReviewDecided {
        outcome: ReviewOutcome,
        opinion: HandlingOpinion,
        /// Filled in by the application before the event is written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quality: Option<ReplyQuality>,
    },
    RereviewRequested {
        reason: Reason,
        rereview_unit: UnitId,
    },
    HearingStarted {
        note: Reason,
    },
    HearingEnded {
        note: Reason,
    },
    RereviewDecided {
        outcome: ReviewOutcome,
        opinion: HandlingOpinion,
        /// Filled in by the application before the event is written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quality: Option<ReplyQuality>,
    },
    Withdrawn {
        reason: Reason,
    },
    /// The consent to publish the reply was withdrawn.
    PublicationConsentWithdrawn {},
    MergedInto {
        into: CaseId,
        reason: MergeReason,
    },
    Absorbed {
        source: CaseId,
        reason: MergeReason,
    },
    NoteAdded {
        text: DocumentText,
    },
    Linked {
        to: CaseId,
        relation: LinkRelation,
    },
    Instructed {
        text: DocumentText,
    },
    /// 包案: `leader` (of `unit`) took personal charge of the case.
    ChargeTaken {
        leader: ActorId,
        unit: Option<UnitId>,
    },
    ChargeReleased {
        leader: ActorId,
        reason: Reason,
    },
    ChargeHandedOver {
        from: ActorId,
        to: ActorId,
        to_unit: UnitId,
        reason: Reason,
    },
    /// 催办 of `unit`, the unit that had to act.
    Urged {
        text: DocumentText,
        unit: UnitId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ladder: Option<LadderMark>,
    },
    /// 督办单 number `number`, from `by_unit`, to `unit`.
    SupervisionIssued {
        number: u32,
        form: SupervisionForm,
        text: DocumentText,
        unit: UnitId,
        by_unit: Option<UnitId>,
        reply_due_at: Instant,
        named: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ladder: Option<LadderMark>,
    },
    SupervisionAnswered {
        number: u32,
        text: DocumentText,
    },
    /// 通报 of `unit`.
    Circulated {
        text: DocumentText,
        unit: UnitId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<u32>,
    },
    NamedSupervisionEnded {
        reason: Reason,
    },
    /// 回访 scheduled: due by `due_at`.
    FollowUpScheduled {
        reason: FollowUpReason,
        method: FollowUpMethod,
        due_at: Instant,
    },
    /// 回访 made.
    FollowUpRecorded {
        method: FollowUpMethod,
        outcome: FollowUpOutcome,
        note: Reason,
    },
}

impl EventKind {
    /// Stable name stored with the event.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Submitted { .. } => "submitted",
            EventKind::Registered { .. } => "registered",
            EventKind::Routed { .. } => "routed",
            EventKind::Accepted { .. } => "accepted",
            EventKind::Declined { .. } => "declined",
            EventKind::Objected { .. } => "objected",
            EventKind::ObjectionAgreed { .. } => "objection_agreed",
            EventKind::ObjectionOverruled { .. } => "objection_overruled",
            EventKind::ExtensionRequested { .. } => "extension_requested",
            EventKind::ExtensionApproved { .. } => "extension_approved",
            EventKind::ExtensionRefused { .. } => "extension_refused",
            EventKind::Replied { .. } => "replied",
            EventKind::CompletionReportSubmitted { .. } => "completion_report_submitted",
            EventKind::CompletionReportApproved { .. } => "completion_report_approved",
            EventKind::CompletionReportSentBack { .. } => "completion_report_sent_back",
            EventKind::Rated { .. } => "rated",
            EventKind::ReviewRequested { .. } => "review_requested",
            EventKind::ReviewDecided { .. } => "review_decided",
            EventKind::RereviewRequested { .. } => "rereview_requested",
            EventKind::HearingStarted { .. } => "hearing_started",
            EventKind::HearingEnded { .. } => "hearing_ended",
            EventKind::RereviewDecided { .. } => "rereview_decided",
            EventKind::Withdrawn { .. } => "withdrawn",
            EventKind::PublicationConsentWithdrawn {} => "publication_consent_withdrawn",
            EventKind::MergedInto { .. } => "merged_into",
            EventKind::Absorbed { .. } => "absorbed",
            EventKind::NoteAdded { .. } => "note_added",
            EventKind::Linked { .. } => "linked",
            EventKind::Instructed { .. } => "instructed",
            EventKind::ChargeTaken { .. } => "charge_taken",
            EventKind::ChargeReleased { .. } => "charge_released",
            EventKind::ChargeHandedOver { .. } => "charge_handed_over",
            EventKind::Urged { .. } => "urged",
            EventKind::SupervisionIssued { .. } => "supervision_issued",
            EventKind::SupervisionAnswered { .. } => "supervision_answered",
            EventKind::Circulated { .. } => "circulated",
            EventKind::NamedSupervisionEnded { .. } => "named_supervision_ended",
            EventKind::FollowUpScheduled { .. } => "follow_up_scheduled",
            EventKind::FollowUpRecorded { .. } => "follow_up_recorded",
        }
    }

    /// Whether the petitioner's own timeline shows this event. Internal notes, leaders'
    /// instructions, objections between organs and completion reports stay internal.
    pub fn visible_to_petitioner(&self) -> bool {
        !matches!(
            self,
            EventKind::NoteAdded { .. }
                | EventKind::Linked { .. }
                | EventKind::Instructed { .. }
                | EventKind::Objected { .. }
                | EventKind::ObjectionAgreed { .. }
                | EventKind::ObjectionOverruled { .. }
                | EventKind::ExtensionRequested { .. }
                | EventKind::ExtensionRefused { .. }
                | EventKind::CompletionReportSubmitted { .. }
                | EventKind::CompletionReportApproved { .. }
                | EventKind::CompletionReportSentBack { .. }
                | EventKind::Registered { .. }
                | EventKind::ChargeTaken { .. }
                | EventKind::ChargeReleased { .. }
                | EventKind::ChargeHandedOver { .. }
                | EventKind::Urged { .. }
                | EventKind::SupervisionIssued { .. }
                | EventKind::SupervisionAnswered { .. }
                | EventKind::Circulated { .. }
                | EventKind::NamedSupervisionEnded { .. }
                | EventKind::FollowUpScheduled { .. }
                | EventKind::FollowUpRecorded { .. }
        )
    }

    /// A plain-words line for the petitioner's timeline (zh-CN).
    pub fn petitioner_summary(&self) -> String {
        match self {
            EventKind::Submitted { .. } => "您的信访事项已收到".into(),
            EventKind::Routed { route, .. } => match route {
                RouteKind::Forward => "已转送有权处理的机关办理".into(),
                RouteKind::Assign { .. } => "已交办有权处理的机关限期办理".into(),
                RouteKind::Bureau => "由信访部门直接办理".into(),
            },
            EventKind::Accepted { .. } => "有权处理的机关已受理，将在法定期限内办结".into(),
            EventKind::Declined { guidance, .. } => format!("不予受理。{guidance}"),
            EventKind::ExtensionApproved { days, reason } => {
                format!("办理期限延长{days}日，理由：{reason}")
            }
            EventKind::Replied { .. } => "已出具信访处理意见书，请查看答复并评价".into(),
            EventKind::Rated { .. } => "您已评价".into(),
            EventKind::ReviewRequested { .. } => "已收到您的复查申请".into(),
            EventKind::ReviewDecided { .. } => "已出具复查意见书".into(),
            EventKind::RereviewRequested { .. } => "已收到您的复核申请".into(),
            EventKind::HearingStarted { .. } => "复核机关组织听证（听证时间不计入期限）".into(),
            EventKind::HearingEnded { .. } => "听证结束".into(),
            EventKind::RereviewDecided { .. } => {
                "已出具复核意见书。同一事实和理由的请求不再受理".into()
            }
            EventKind::Withdrawn { .. } => "您已撤回信访事项".into(),
            EventKind::PublicationConsentWithdrawn {} => {
                "您已撤回公开同意，答复不再在网上公开".into()
            }
            EventKind::MergedInto { .. } => "与您的其他相同事项合并办理".into(),
            EventKind::Absorbed { .. } => "相同事项已合并到本件办理".into(),
            _ => String::new(),
        }
    }
}

/// An event with its envelope: which case, which version, when and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub case_id: CaseId,
    /// 1 for the first event of a case, then +1 each.
    pub version: u64,
    pub at: Instant,
    pub actor: ActorId,
    pub actor_unit: Option<UnitId>,
    pub kind: EventKind,
}

/// A leader in personal charge of a case (包案领导).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderInCharge {
    pub leader: ActorId,
    pub unit: Option<UnitId>,
    pub since: Instant,
}

/// Why a command was refused. Each variant has a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("「{command}」不能在「{stage}」阶段进行")]
    WrongStage {
        command: &'static str,
        stage: &'static str,
    },
    #[error("无权进行「{command}」：{why}")]
    Forbidden {
        command: &'static str,
        why: &'static str,
    },
    #[error("{0}")]
    DeadlinePassed(String),
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotAllowed(String),
}

impl Rejection {
    /// The stable code clients and tests match on.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::WrongStage { .. } => "wrong_stage",
            Rejection::Forbidden { .. } => "forbidden",
            Rejection::DeadlinePassed(_) => "deadline_passed",
            Rejection::Invalid { .. } => "invalid_command",
            Rejection::NotAllowed(_) => "not_allowed",
        }
    }
}

/// The case as its events made it. Holds no raw personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseState {
    pub id: CaseId,
    /// The number of events applied.
    pub version: u64,
    pub stage: Stage,
    pub receipt: ReceiptCode,
    pub petition: PetitionRecord,
    pub received_at: Instant,
    /// The petition bureau that received and registered it.
    pub bureau: UnitId,
    pub class: Option<StatutoryClass>,
    pub category: Option<String>,
    pub routing: Option<Routing>,
    /// Every unit the case has been routed to, in order (for scope and history).
    pub routed_units: Vec<UnitId>,
    pub accepted_at: Option<Instant>,
    pub pending_extension: Option<u32>,
    pub extensions_granted: u32,
    pub extension_days: u32,
    pub objection_overruled: bool,
    pub opinion: Option<HandlingOpinion>,
    pub replied_at: Option<Instant>,
    pub report: ReportStatus,
    pub rating: Option<(Satisfaction, Satisfaction)>,
    pub review_unit: Option<UnitId>,
    pub review_outcome: Option<ReviewOutcome>,
    pub rereview_unit: Option<UnitId>,
    pub rereview_outcome: Option<ReviewOutcome>,
    pub in_hearing: bool,
    pub merged_into: Option<CaseId>,
    pub absorbed: Vec<CaseId>,
    /// 检举控告: units accused by the petitioner; they never see who petitioned.
    #[serde(default)]
    pub accused_units: Vec<UnitId>,
    pub notes: u32,
    pub instructions: u32,
    /// Cases this one is linked to (关联), in the order recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<CaseLink>,
    /// The statutory timers; see [`clock`].
    pub timers: Vec<Timer>,
    /// 包案领导: the leaders who took personal charge of the case, in the order they did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_charge: Vec<LeaderInCharge>,
    pub updated_at: Instant,
    /// The reply-quality check of every opinion issued, oldest first (stored in the event that
    /// issued it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reply_checks: Vec<IssuedReplyCheck>,
    /// 催办 received, by a supervisor or the deadline scan.
    #[serde(default)]
    pub urges: u32,
    /// 督办单, in the order issued.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supervision: Vec<SupervisionOrder>,
    /// 挂牌督办: under named supervision since then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub named_supervision_since: Option<Instant>,
    /// 通报 of this case.
    #[serde(default)]
    pub circulations: u32,
    /// The deadline-ladder step last taken (see [`crate::supervision`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ladder: Option<LadderMark>,
    /// 回访, in the order scheduled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<FollowUp>,
}

/// The reply-quality check of one issued opinion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedReplyCheck {
    /// `opinion` (信访处理意见书), `review` (复查意见) or `rereview` (复核意见).
    pub document: String,
    /// The version of the case the event that issued it created.
    pub version: u64,
    pub at: Instant,
    #[serde(flatten)]
    pub quality: ReplyQuality,
}

impl CaseState {
    /// 网上公开: whether the reply may be shown, with personal data masked, in the public
    /// portal's search — the petitioner agreed (and has not withdrawn it), a written reply
    /// (处理意见书) exists, and it is not a 检举控告, whose petitioners are protected (Art. 30)
    /// whatever they agreed to.
    pub fn publishable(&self) -> bool {
        self.petition.publish_consent
            && self.opinion.is_some()
            && self.class.or(self.petition.class) != Some(StatutoryClass::Accusation)
            && !matches!(self.stage, Stage::Merged | Stage::Withdrawn)
    }

    /// Whether an organ still has to act: an open stage, or a 交办 reply whose completion
    /// report is still owed or waits to be checked.
    pub fn awaits_action(&self) -> bool {
        self.stage.is_open()
            || (self.stage == Stage::Replied
                && matches!(self.report, ReportStatus::Pending | ReportStatus::Submitted))
    }

    /// The unit currently responsible for acting (for lists and scope).
    pub fn current_unit(&self) -> &UnitId {
        if self.stage == Stage::Replied && self.report == ReportStatus::Submitted {
            // The assigner checks the completion report.
            return self.routing.as_ref().map_or(&self.bureau, |r| &r.by);
        }
        match self.stage {
            Stage::UnderReview => self.review_unit.as_ref().unwrap_or(&self.bureau),
            Stage::UnderRereview => self.rereview_unit.as_ref().unwrap_or(&self.bureau),
            Stage::Objected => self.routing.as_ref().map_or(&self.bureau, |r| &r.by),
            _ => self.routing.as_ref().map_or(&self.bureau, |r| &r.unit),
        }
    }

    /// The unit that handles (accepted) the matter.
    pub fn handling_unit(&self) -> Option<&UnitId> {
        self.routing.as_ref().map(|r| &r.unit)
    }

    pub fn timer(&self, kind: ClockKind) -> Option<&Timer> {
        self.timers
            .iter()
            .rev()
            .find(|t| t.kind == kind && t.stopped_at.is_none())
    }

    /// Every unit that has a part in the case (for scope).
    pub fn units(&self) -> Vec<&UnitId> {
        let mut units = vec![&self.bureau];
        units.extend(self.routed_units.iter());
        units.extend(self.review_unit.iter());
        units.extend(self.rereview_unit.iter());
        units.sort();
        units.dedup();
        units
    }

    /// The deadlines of the running and finished timers.
    pub fn deadlines(&self, policy: &DeadlinePolicy, calendar: &Calendar) -> Vec<clock::Deadline> {
        clock::deadlines(&self.timers, policy, calendar)
    }

    fn start_timer(&mut self, kind: ClockKind, at: Instant, due_override: Option<Instant>) {
        self.stop_timer(kind, at);
        self.timers.push(Timer {
            kind,
            started_at: at,
            extension_days: 0,
            pauses: Vec::new(),
            due_override,
            stopped_at: None,
        });
    }

    fn stop_timer(&mut self, kind: ClockKind, at: Instant) {
        for t in self.timers.iter_mut() {
            if t.kind == kind && t.stopped_at.is_none() {
                t.stopped_at = Some(at);
                for p in t.pauses.iter_mut() {
                    if p.to.is_none() {
                        p.to = Some(at);
                    }
                }
            }
        }
    }

    fn stop_all_timers(&mut self, at: Instant) {
        let running: Vec<ClockKind> = self
            .timers
            .iter()
            .filter(|t| t.stopped_at.is_none())
            .map(|t| t.kind)
            .collect();
        for kind in running {
            self.stop_timer(kind, at);
        }
    }

    fn running_timer_mut(&mut self, kind: ClockKind) -> Option<&mut Timer> {
        self.timers
            .iter_mut()
            .rev()
            .find(|t| t.kind == kind && t.stopped_at.is_none())
    }
}

fn wrong_stage(command: &Command, state: &CaseState) -> Rejection {
    Rejection::WrongStage {
        command: command.name(),
        stage: state.stage.label_zh(),
    }
}

fn forbidden(command: &Command, why: &'static str) -> Rejection {
    Rejection::Forbidden {
        command: command.name(),
        why,
    }
}

const HANDLERS: &[Role] = &[Role::Handler, Role::UnitHead];
const HEADS: &[Role] = &[Role::UnitHead];
const REGISTRARS: &[Role] = &[Role::Registrar, Role::UnitHead];

/// Checks that a running timer has not passed its deadline at `now`.
fn within(state: &CaseState, kind: ClockKind, ctx: &Ctx<'_>, what: &str) -> Result<(), Rejection> {
    let Some(timer) = state.timer(kind) else {
        return Err(Rejection::DeadlinePassed(format!("{what}的期限未在计时")));
    };
    let deadline = clock::deadline(timer, ctx.policy, ctx.calendar);
    if ctx.now > deadline.due_at {
        let local = deadline.due_at.with_timezone(&crate::CHINA_OFFSET);
        return Err(Rejection::DeadlinePassed(format!(
            "{what}的期限已于{}届满",
            local.format("%Y-%m-%d %H:%M")
        )));
    }
    Ok(())
}

/// 包案: a leader of the handling unit or of the unit that must act now, or a leader whose unit
/// is above the case's units (`oversees_case`, set by the application from the tree).
fn may_take_charge(state: &CaseState, actor: &Actor) -> bool {
    if !actor.has(Role::Leader) {
        return false;
    }
    let own = state
        .handling_unit()
        .into_iter()
        .chain([state.current_unit()])
        .any(|u| actor.in_unit(u));
    own || actor.oversees_case
}

/// 催办, 督办 and 通报 come from the system (the deadline scan), or from a supervisor of the
/// bureau that received the case, of the unit that routed it, or of a unit above the case's
/// units. Only the system takes deadline-ladder steps.
fn check_supervisor(
    command: &Command,
    state: &CaseState,
    actor: &Actor,
    ladder: bool,
) -> Result<(), Rejection> {
    if actor.has(Role::System) {
        return Ok(());
    }
    if ladder {
        return Err(forbidden(command, "只有期限扫描可以记录自动催办督办的阶梯"));
    }
    let router = state.routing.as_ref().map(|r| &r.by);
    let supervises = actor.has(Role::Supervisor)
        && (actor.oversees_case
            || actor.in_unit(&state.bureau)
            || router.is_some_and(|u| actor.in_unit(u)));
    if supervises {
        Ok(())
    } else {
        Err(forbidden(
            command,
            "只有受理信访部门、交办单位或上级单位的督办员可以催办、督办和通报",
        ))
    }
}

/// The petitioner, or staff of the bureau acting on the petitioner's behalf (a letter, a call).
fn petitioner_or_bureau(state: &CaseState, actor: &Actor) -> bool {
    ((actor.has(Role::Petitioner) || actor.has(Role::Proxy)) && actor.is_case_petitioner)
        || actor.acts_for(&state.bureau, REGISTRARS)
}

fn check_days(days: u32, max: u32) -> Result<(), Rejection> {
    if days == 0 || days > max {
        return Err(Rejection::Invalid {
            field: "days",
            message: format!("延期天数应为1到{max}日（《信访工作条例》第三十四条）"),
        });
    }
    Ok(())
}

/// Decides what happens when `command` is applied to the case. `state` is `None` only for
/// [`Command::Submit`]. Returns the events to append, numbered from `state.version + 1`.
pub fn decide(
    state: Option<&CaseState>,
    case_id: &CaseId,
    command: Command,
    ctx: &Ctx<'_>,
) -> Result<Vec<Event>, Rejection> {
    let actor = ctx.actor;
    let kinds = match state {
        None => match command {
            Command::Submit {
                petition,
                receipt,
                bureau,
                received_at,
            } => {
                let may_submit = actor.has(Role::Petitioner)
                    || actor.has(Role::Proxy)
                    || actor.has(Role::Registrar)
                    || actor.has(Role::System);
                if !may_submit {
                    return Err(Rejection::Forbidden {
                        command: "submit",
                        why: "只有信访人、代理员或登记员可以提交信访事项",
                    });
                }
                if received_at > ctx.now {
                    return Err(Rejection::Invalid {
                        field: "received_at",
                        message: "收到时间不能晚于当前时间".into(),
                    });
                }
                vec![EventKind::Submitted {
                    petition,
                    receipt,
                    bureau,
                    received_at,
                }]
            }
            other => {
                return Err(Rejection::NotAllowed(format!(
                    "信访事项不存在，不能进行「{}」",
                    other.name()
                )));
            }
        },
        Some(state) => decide_existing(state, command, ctx)?,
    };
    let base = state.map_or(0, |s| s.version);
    Ok(kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Event {
            case_id: case_id.clone(),
            version: base + 1 + i as u64,
            at: ctx.now,
            actor: actor.id.clone(),
            actor_unit: actor.unit.clone(),
            kind,
        })
        .collect())
}

fn decide_existing(
    state: &CaseState,
    command: Command,
    ctx: &Ctx<'_>,
) -> Result<Vec<EventKind>, Rejection> {
    use Stage as S;
    let actor = ctx.actor;
    let stage = state.stage;
    // Notes and instructions are possible in every stage; everything else needs the right one.
    let event = match &command {
        Command::Submit { .. } => {
            return Err(Rejection::NotAllowed("该信访事项已经提交".into()));
        }
        Command::Register {
            class,
            category,
            accused,
        } => {
            if !matches!(stage, S::Submitted | S::Registered) {
                return Err(wrong_stage(&command, state));
            }
            if !actor.acts_for(&state.bureau, REGISTRARS) {
                return Err(forbidden(&command, "只有收件信访部门的登记员可以登记"));
            }
            if !accused.is_empty() && *class != StatutoryClass::Accusation {
                return Err(Rejection::Invalid {
                    field: "accused",
                    message: "只有检举控告类事项可以登记被检举控告单位".into(),
                });
            }
            EventKind::Registered {
                class: *class,
                category: category.clone(),
                accused: accused.clone(),
            }
        }
        Command::Route { kind, unit } => {
            if stage != S::Registered {
                return Err(wrong_stage(&command, state));
            }
            if !actor.acts_for(&state.bureau, REGISTRARS) {
                return Err(forbidden(
                    &command,
                    "只有收件信访部门的登记员可以转送或交办",
                ));
            }
            match kind {
                RouteKind::Bureau if unit != &state.bureau => {
                    return Err(Rejection::Invalid {
                        field: "unit",
                        message: "自办时承办单位应为本信访部门".into(),
                    });
                }
                RouteKind::Forward | RouteKind::Assign { .. } if unit == &state.bureau => {
                    return Err(Rejection::Invalid {
                        field: "unit",
                        message: "转送或交办的单位不能是本信访部门，自办请选择「自办」".into(),
                    });
                }
                RouteKind::Assign { due_at } if *due_at <= ctx.now => {
                    return Err(Rejection::Invalid {
                        field: "due_at",
                        message: "交办期限应晚于当前时间".into(),
                    });
                }
                _ => {}
            }
            EventKind::Routed {
                route: kind.clone(),
                unit: unit.clone(),
                by: state.bureau.clone(),
            }
        }
        Command::Accept => {
            if stage != S::Routed {
                return Err(wrong_stage(&command, state));
            }
            let Some(routing) = &state.routing else {
                return Err(wrong_stage(&command, state));
            };
            if !actor.acts_for(&routing.unit, HANDLERS) {
                return Err(forbidden(&command, "只有承办单位的承办人或负责人可以受理"));
            }
            if let Some(class) = state.class
                && class.leaves_petition_procedure()
            {
                return Err(Rejection::NotAllowed(
                    "该事项应通过其他法定途径解决（诉访分离），请作不予受理并告知途径".into(),
                ));
            }
            EventKind::Accepted {
                notice_to_petitioner: !state.petition.anonymous,
            }
        }
        Command::Decline {
            ground,
            reason,
            guidance,
        } => {
            let allowed = match stage {
                S::Registered => actor.acts_for(&state.bureau, REGISTRARS),
                S::Routed => state
                    .routing
                    .as_ref()
                    .is_some_and(|r| actor.acts_for(&r.unit, HANDLERS)),
                _ => return Err(wrong_stage(&command, state)),
            };
            if !allowed {
                return Err(forbidden(
                    &command,
                    "只有信访部门登记员或承办单位可以不予受理",
                ));
            }
            EventKind::Declined {
                ground: *ground,
                reason: reason.clone(),
                guidance: guidance.clone(),
            }
        }
        Command::Object { reason } => {
            if stage != S::Routed {
                return Err(wrong_stage(&command, state));
            }
            let Some(routing) = &state.routing else {
                return Err(wrong_stage(&command, state));
            };
            if !actor.acts_for(&routing.unit, HANDLERS) {
                return Err(forbidden(&command, "只有承办单位可以提出异议"));
            }
            if routing.kind == RouteKind::Bureau {
                return Err(Rejection::NotAllowed(
                    "信访部门自办的事项不能提出异议".into(),
                ));
            }
            if state.objection_overruled {
                return Err(Rejection::NotAllowed(
                    "异议已被驳回，不能再次提出异议，请受理或不予受理".into(),
                ));
            }
            within(state, ClockKind::Objection, ctx, "提出异议（5个工作日）")?;
            EventKind::Objected {
                reason: reason.clone(),
            }
        }
        Command::ResolveObjection { agree, reason } => {
            if stage != S::Objected {
                return Err(wrong_stage(&command, state));
            }
            let Some(routing) = &state.routing else {
                return Err(wrong_stage(&command, state));
            };
            if !actor.acts_for(&routing.by, REGISTRARS) {
                return Err(forbidden(&command, "只有转送或交办的单位可以处理异议"));
            }
            if *agree {
                EventKind::ObjectionAgreed {
                    reason: reason.clone(),
                }
            } else {
                EventKind::ObjectionOverruled {
                    reason: reason.clone(),
                }
            }
        }
        Command::RequestExtension { days, reason } => {
            if stage != S::Handling {
                return Err(wrong_stage(&command, state));
            }
            let unit = state.handling_unit().unwrap_or(&state.bureau);
            if !actor.acts_for(unit, HANDLERS) {
                return Err(forbidden(&command, "只有承办单位可以申请延期"));
            }
            if state.pending_extension.is_some() {
                return Err(Rejection::NotAllowed("已有待审批的延期申请".into()));
            }
            if state.extensions_granted >= ctx.policy.max_extensions {
                return Err(Rejection::NotAllowed(format!(
                    "办理期限只能延长{}次（《信访工作条例》第三十四条）",
                    ctx.policy.max_extensions
                )));
            }
            check_days(*days, ctx.policy.max_extension_days)?;
            within(state, ClockKind::Handling, ctx, "办理")?;
            EventKind::ExtensionRequested {
                days: *days,
                reason: reason.clone(),
            }
        }
        Command::DecideExtension { approve, reason } => {
            if stage != S::Handling {
                return Err(wrong_stage(&command, state));
            }
            let Some(days) = state.pending_extension else {
                return Err(Rejection::NotAllowed("没有待审批的延期申请".into()));
            };
            let unit = state.handling_unit().unwrap_or(&state.bureau);
            if !actor.acts_for(unit, HEADS) {
                return Err(forbidden(&command, "延期须经承办单位负责人批准"));
            }
            if *approve {
                EventKind::ExtensionApproved {
                    days,
                    reason: reason.clone(),
                }
            } else {
                EventKind::ExtensionRefused {
                    reason: reason.clone(),
                }
            }
        }
        Command::Reply { opinion } => {
            if stage != S::Handling {
                return Err(wrong_stage(&command, state));
            }
            let unit = state.handling_unit().unwrap_or(&state.bureau);
            if !actor.acts_for(unit, HEADS) {
                return Err(forbidden(&command, "信访处理意见书须由承办单位负责人签发"));
            }
            EventKind::Replied {
                opinion: opinion.clone(),
                quality: None,
            }
        }
        Command::SubmitCompletionReport { report } => {
            if stage != S::Replied {
                return Err(wrong_stage(&command, state));
            }
            if !matches!(state.report, ReportStatus::Pending) {
                return Err(Rejection::NotAllowed("本件无需或已经报送办结报告".into()));
            }
            let unit = state.handling_unit().unwrap_or(&state.bureau);
            if !actor.acts_for(unit, HANDLERS) {
                return Err(forbidden(&command, "只有承办单位可以报送办结报告"));
            }
            EventKind::CompletionReportSubmitted {
                report: report.clone(),
            }
        }
        Command::CheckCompletionReport {
            approve,
            reason,
            new_due_at,
        } => {
            if stage.is_terminal() {
                return Err(wrong_stage(&command, state));
            }
            if state.report != ReportStatus::Submitted {
                return Err(Rejection::NotAllowed("没有待审核的办结报告".into()));
            }
            let Some(routing) = &state.routing else {
                return Err(wrong_stage(&command, state));
            };
            if !actor.acts_for(&routing.by, REGISTRARS) {
                return Err(forbidden(&command, "只有交办单位可以审核办结报告"));
            }
            if *approve {
                EventKind::CompletionReportApproved {
                    reason: reason.clone(),
                }
            } else {
                if stage != S::Replied {
                    return Err(Rejection::NotAllowed(
                        "已进入复查程序，不能再退回重办".into(),
                    ));
                }
                if let Some(due) = new_due_at
                    && *due <= ctx.now
                {
                    return Err(Rejection::Invalid {
                        field: "new_due_at",
                        message: "新的办理期限应晚于当前时间".into(),
                    });
                }
                let assigned_due = state
                    .timers
                    .iter()
                    .rev()
                    .find(|t| t.kind == ClockKind::CompletionReport)
                    .and_then(|t| t.due_override);
                if new_due_at.is_none()
                    && let Some(due) = assigned_due
                    && due <= ctx.now
                {
                    return Err(Rejection::Invalid {
                        field: "new_due_at",
                        message: "原交办期限已过，退回重办须给出新的办理期限".into(),
                    });
                }
                EventKind::CompletionReportSentBack {
                    reason: reason.clone(),
                    new_due_at: *new_due_at,
                }
            }
        }
        Command::Rate {
            bureau,
            unit,
            comment,
        } => {
            if stage != S::Replied {
                return Err(wrong_stage(&command, state));
            }
            if !petitioner_or_bureau(state, actor) {
                return Err(forbidden(
                    &command,
                    "只有信访人本人或代其登记的信访部门可以评价",
                ));
            }
            if state.rating.is_some() {
                return Err(Rejection::NotAllowed("已经评价过".into()));
            }
            within(state, ClockKind::Rating, ctx, "评价")?;
            EventKind::Rated {
                bureau: *bureau,
                unit: *unit,
                comment: comment.clone(),
                recorded_by_staff: !actor.is_case_petitioner,
            }
        }
        Command::RequestReview {
            reason,
            review_unit,
        } => {
            if stage != S::Replied {
                return Err(wrong_stage(&command, state));
            }
            if !petitioner_or_bureau(state, actor) {
                return Err(forbidden(&command, "只有信访人本人可以申请复查"));
            }
            if state.petition.anonymous {
                return Err(Rejection::NotAllowed("匿名信访事项不能申请复查".into()));
            }
            if Some(review_unit) == state.handling_unit() {
                return Err(Rejection::Invalid {
                    field: "review_unit",
                    message: "复查应向原办理机关的上一级机关提出".into(),
                });
            }
            within(state, ClockKind::ReviewRequest, ctx, "申请复查（30日）")?;
            EventKind::ReviewRequested {
                reason: reason.clone(),
                review_unit: review_unit.clone(),
            }
        }
        Command::DecideReview { outcome, opinion } => {
            if stage != S::UnderReview {
                return Err(wrong_stage(&command, state));
            }
            let unit = state.review_unit.as_ref().unwrap_or(&state.bureau);
            if !actor.acts_for(unit, HEADS) {
                return Err(forbidden(&command, "复查意见须由复查机关负责人签发"));
            }
            EventKind::ReviewDecided {
                outcome: *outcome,
                opinion: opinion.clone(),
                quality: None,
            }
        }
        Command::RequestRereview {
            reason,
            rereview_unit,
        } => {
            if stage != S::Reviewed {
                return Err(wrong_stage(&command, state));
            }
            if !petitioner_or_bureau(state, actor) {
                return Err(forbidden(&command, "只有信访人本人可以申请复核"));
            }
            if Some(rereview_unit) == state.review_unit.as_ref()
                || Some(rereview_unit) == state.handling_unit()
            {
                return Err(Rejection::Invalid {
                    field: "rereview_unit",
                    message: "复核应向复查机关的上一级机关提出".into(),
                });
            }
            within(state, ClockKind::RereviewRequest, ctx, "申请复核（30日）")?;
            EventKind::RereviewRequested {
                reason: reason.clone(),
                rereview_unit: rereview_unit.clone(),
            }
        }
        Command::StartHearing { note } | Command::EndHearing { note } => {
            if stage != S::UnderRereview {
                return Err(wrong_stage(&command, state));
            }
            let unit = state.rereview_unit.as_ref().unwrap_or(&state.bureau);
            if !actor.acts_for(unit, HANDLERS) {
                return Err(forbidden(&command, "只有复核机关可以组织听证"));
            }
            match (&command, state.in_hearing) {
                (Command::StartHearing { .. }, false) => {
                    EventKind::HearingStarted { note: note.clone() }
                }
                (Command::EndHearing { .. }, true) => {
                    EventKind::HearingEnded { note: note.clone() }
                }
                (Command::StartHearing { .. }, true) => {
                    return Err(Rejection::NotAllowed("听证已在进行中".into()));
                }
                _ => return Err(Rejection::NotAllowed("没有正在进行的听证".into())),
            }
        }
        Command::DecideRereview { outcome, opinion } => {
            if stage != S::UnderRereview {
                return Err(wrong_stage(&command, state));
            }
            let unit = state.rereview_unit.as_ref().unwrap_or(&state.bureau);
            if !actor.acts_for(unit, HEADS) {
                return Err(forbidden(&command, "复核意见须由复核机关负责人签发"));
            }
            if state.in_hearing {
                return Err(Rejection::NotAllowed(
                    "听证尚未结束，不能作出复核意见".into(),
                ));
            }
            EventKind::RereviewDecided {
                outcome: *outcome,
                opinion: opinion.clone(),
                quality: None,
            }
        }
        Command::Withdraw { reason } => {
            if stage.is_terminal() {
                return Err(wrong_stage(&command, state));
            }
            if !petitioner_or_bureau(state, actor) {
                return Err(forbidden(&command, "只有信访人本人可以撤回"));
            }
            EventKind::Withdrawn {
                reason: reason.clone(),
            }
        }
        Command::WithdrawPublicationConsent => {
            if !((actor.has(Role::Petitioner) || actor.has(Role::Proxy))
                && actor.is_case_petitioner)
            {
                return Err(forbidden(&command, "只有信访人本人可以撤回公开同意"));
            }
            if !state.petition.publish_consent {
                return Err(Rejection::NotAllowed("本件未同意公开，无需撤回".into()));
            }
            EventKind::PublicationConsentWithdrawn {}
        }
        Command::MergeInto { into, reason } => {
            if !matches!(stage, S::Submitted | S::Registered) {
                return Err(wrong_stage(&command, state));
            }
            if into == &state.id {
                return Err(Rejection::Invalid {
                    field: "into",
                    message: "不能与自身并单".into(),
                });
            }
            if !actor.acts_for(&state.bureau, REGISTRARS) {
                return Err(forbidden(&command, "只有收件信访部门的登记员可以并单"));
            }
            EventKind::MergedInto {
                into: into.clone(),
                reason: *reason,
            }
        }
        Command::Absorb { source, reason } => {
            if stage.is_terminal() {
                return Err(Rejection::NotAllowed(format!(
                    "目标信访事项处于「{}」阶段，不能并入",
                    stage.label_zh()
                )));
            }
            if source == &state.id {
                return Err(Rejection::Invalid {
                    field: "source",
                    message: "不能与自身并单".into(),
                });
            }
            let related = actor.has(Role::Registrar) || actor.has(Role::UnitHead);
            if !related {
                return Err(forbidden(&command, "只有登记员可以并单"));
            }
            EventKind::Absorbed {
                source: source.clone(),
                reason: *reason,
            }
        }
        Command::AddNote { text } => {
            let staff_on_case =
                state.units().into_iter().any(|u| actor.in_unit(u)) || actor.oversees_case;
            let staff = actor.roles.iter().any(|r| {
                matches!(
                    r,
                    Role::Registrar
                        | Role::Handler
                        | Role::UnitHead
                        | Role::Leader
                        | Role::Supervisor
                )
            });
            if !(staff && staff_on_case) {
                return Err(forbidden(&command, "只有办理本件的工作人员可以添加备注"));
            }
            EventKind::NoteAdded { text: text.clone() }
        }
        Command::Link { to, relation } => {
            if to == &state.id {
                return Err(Rejection::Invalid {
                    field: "to",
                    message: "不能与自身关联".into(),
                });
            }
            if state
                .links
                .iter()
                .any(|l| &l.to == to && l.relation == *relation)
            {
                return Err(Rejection::NotAllowed("已经记录过这一关联".into()));
            }
            let staff_on_case =
                state.units().into_iter().any(|u| actor.in_unit(u)) || actor.oversees_case;
            let staff = actor.roles.iter().any(|r| {
                matches!(
                    r,
                    Role::Registrar
                        | Role::Handler
                        | Role::UnitHead
                        | Role::Leader
                        | Role::Supervisor
                )
            });
            if !(actor.has(Role::System) || (staff && staff_on_case)) {
                return Err(forbidden(
                    &command,
                    "只有办理本件的工作人员可以关联信访事项",
                ));
            }
            EventKind::Linked {
                to: to.clone(),
                relation: *relation,
            }
        }
        Command::Instruct { text } => {
            let on_case = state.units().into_iter().any(|u| actor.in_unit(u));
            if !(actor.has(Role::Leader) && (actor.oversees_case || on_case)) {
                return Err(forbidden(&command, "只有本级或上级领导可以阅批"));
            }
            EventKind::Instructed { text: text.clone() }
        }
        Command::TakeCharge => {
            if !state.awaits_action() {
                return Err(wrong_stage(&command, state));
            }
            if !may_take_charge(state, actor) {
                return Err(forbidden(
                    &command,
                    "只有办理单位或其上级单位的领导可以包案",
                ));
            }
            if state.in_charge.iter().any(|l| l.leader == actor.id) {
                return Err(Rejection::NotAllowed("您已包案此信访事项".into()));
            }
            EventKind::ChargeTaken {
                leader: actor.id.clone(),
                unit: actor.unit.clone(),
            }
        }
        Command::ReleaseCharge { reason } => {
            if !state.in_charge.iter().any(|l| l.leader == actor.id) {
                return Err(forbidden(&command, "只有包案领导本人可以解除包案"));
            }
            EventKind::ChargeReleased {
                leader: actor.id.clone(),
                reason: reason.clone(),
            }
        }
        Command::HandOverCharge {
            to,
            to_unit,
            reason,
        } => {
            if !state.awaits_action() {
                return Err(wrong_stage(&command, state));
            }
            if !state.in_charge.iter().any(|l| l.leader == actor.id) {
                return Err(forbidden(&command, "只有包案领导本人可以移交包案"));
            }
            if to == &actor.id {
                return Err(Rejection::Invalid {
                    field: "to",
                    message: "不能把包案移交给自己".into(),
                });
            }
            if state.in_charge.iter().any(|l| &l.leader == to) {
                return Err(Rejection::NotAllowed("接收的领导已包案此信访事项".into()));
            }
            EventKind::ChargeHandedOver {
                from: actor.id.clone(),
                to: to.clone(),
                to_unit: to_unit.clone(),
                reason: reason.clone(),
            }
        }
        Command::Urge { text, ladder } => {
            check_supervisor(&command, state, actor, ladder.is_some())?;
            if !state.awaits_action() {
                return Err(wrong_stage(&command, state));
            }
            EventKind::Urged {
                text: text.clone(),
                unit: state.current_unit().clone(),
                ladder: *ladder,
            }
        }
        Command::Supervise {
            form,
            text,
            reply_working_days,
            named,
            ladder,
        } => {
            check_supervisor(&command, state, actor, ladder.is_some())?;
            if !state.awaits_action() {
                return Err(wrong_stage(&command, state));
            }
            let days =
                reply_working_days.unwrap_or(ctx.policy.escalation.supervision_reply_working_days);
            if days == 0 || days > crate::supervision::MAX_ESCALATION_DAYS {
                return Err(Rejection::Invalid {
                    field: "reply_working_days",
                    message: format!(
                        "督办单的答复期限应为1到{max}个工作日",
                        max = crate::supervision::MAX_ESCALATION_DAYS
                    ),
                });
            }
            let by_unit = actor.unit.clone().or_else(|| {
                Some(
                    state
                        .routing
                        .as_ref()
                        .map_or(&state.bureau, |r| &r.by)
                        .clone(),
                )
            });
            EventKind::SupervisionIssued {
                number: u32::try_from(state.supervision.len()).unwrap_or(u32::MAX - 1) + 1,
                form: *form,
                text: text.clone(),
                unit: state.current_unit().clone(),
                by_unit,
                reply_due_at: crate::supervision::working_days_after(ctx.calendar, ctx.now, days),
                named: *named,
                ladder: *ladder,
            }
        }
        Command::AnswerSupervision { number, text } => {
            let Some(order) = state.supervision.iter().find(|o| o.number == *number) else {
                return Err(Rejection::Invalid {
                    field: "number",
                    message: format!("本件没有第{n}号督办单", n = number),
                });
            };
            if !order.is_open() {
                return Err(Rejection::NotAllowed(format!(
                    "第{n}号督办单已经答复",
                    n = number
                )));
            }
            let answering = state
                .handling_unit()
                .into_iter()
                .chain([state.current_unit()])
                .any(|u| actor.acts_for(u, HANDLERS));
            if !answering {
                return Err(forbidden(
                    &command,
                    "只有被督办单位的承办人或负责人可以答复督办单",
                ));
            }
            EventKind::SupervisionAnswered {
                number: *number,
                text: text.clone(),
            }
        }
        Command::Circulate { text, order } => {
            check_supervisor(&command, state, actor, false)?;
            if let Some(n) = order {
                match state.supervision.iter().find(|o| o.number == *n) {
                    None => {
                        return Err(Rejection::Invalid {
                            field: "order",
                            message: format!("本件没有第{n}号督办单"),
                        });
                    }
                    Some(o) if o.circulated => {
                        return Err(Rejection::NotAllowed(format!(
                            "第{n}号督办单逾期未复已经通报"
                        )));
                    }
                    Some(_) => {}
                }
            } else if !state.awaits_action() {
                return Err(wrong_stage(&command, state));
            }
            EventKind::Circulated {
                text: text.clone(),
                unit: state.current_unit().clone(),
                order: *order,
            }
        }
        Command::EndNamedSupervision { reason } => {
            check_supervisor(&command, state, actor, false)?;
            if state.named_supervision_since.is_none() {
                return Err(Rejection::NotAllowed("本件没有挂牌督办".into()));
            }
            EventKind::NamedSupervisionEnded {
                reason: reason.clone(),
            }
        }
        Command::ScheduleFollowUp { method } => {
            check_follow_up_staff(&command, state, actor)?;
            if !matches!(
                stage,
                S::Replied | S::UnderReview | S::Reviewed | S::UnderRereview | S::Concluded
            ) {
                return Err(wrong_stage(&command, state));
            }
            if state.follow_ups.iter().any(FollowUp::is_open) {
                return Err(Rejection::NotAllowed("本件已有待办的回访".into()));
            }
            follow_up_scheduled(ctx, FollowUpReason::Requested, *method)
        }
        Command::RecordFollowUp {
            method,
            outcome,
            note,
        } => {
            check_follow_up_staff(&command, state, actor)?;
            if !state.follow_ups.iter().any(FollowUp::is_open) {
                return Err(Rejection::NotAllowed("本件没有待办的回访".into()));
            }
            EventKind::FollowUpRecorded {
                method: *method,
                outcome: *outcome,
                note: note.clone(),
            }
        }
    };
    let mut events = vec![event];
    // 回访 by policy: a rating that closes the case schedules it in the same change.
    if let EventKind::Rated { bureau, unit, .. } = &events[0] {
        let unsatisfied = [bureau, unit].contains(&&Satisfaction::Unsatisfied);
        let group = state.petition.group_headcount.is_some_and(|n| n > 1);
        if let Some((reason, method)) = ctx.policy.follow_up.after_rating(unsatisfied, group)
            && !state.follow_ups.iter().any(FollowUp::is_open)
        {
            events.push(follow_up_scheduled(ctx, reason, method));
        }
    }
    Ok(events)
}

fn follow_up_scheduled(ctx: &Ctx<'_>, reason: FollowUpReason, method: FollowUpMethod) -> EventKind {
    EventKind::FollowUpScheduled {
        reason,
        method,
        due_at: crate::supervision::working_days_after(
            ctx.calendar,
            ctx.now,
            ctx.policy.follow_up.within_working_days,
        ),
    }
}

/// 回访 is the petition bureau's work: its registrars and heads, or its supervisors.
fn check_follow_up_staff(
    command: &Command,
    state: &CaseState,
    actor: &Actor,
) -> Result<(), Rejection> {
    let bureau_staff = actor.acts_for(&state.bureau, REGISTRARS)
        || (actor.has(Role::Supervisor) && (actor.in_unit(&state.bureau) || actor.oversees_case));
    if bureau_staff || actor.has(Role::System) {
        Ok(())
    } else {
        Err(forbidden(
            command,
            "只有受理信访部门的登记员、负责人或督办员可以安排和记录回访",
        ))
    }
}

/// A stored event stream that cannot be folded (corrupt or out of order).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("the first event of case {0} is not `submitted`")]
    NotStarted(CaseId),
    #[error("case {0} was submitted twice")]
    SubmittedTwice(CaseId),
    #[error("case {case}: expected version {expected}, found {found}")]
    VersionGap {
        case: CaseId,
        expected: u64,
        found: u64,
    },
}

/// Folds one event into the state. Pure and total for events that [`decide`] produced.
pub fn apply(state: Option<CaseState>, event: &Event) -> Result<CaseState, ReplayError> {
    match state {
        None => start(event),
        Some(mut s) => {
            apply_to(&mut s, event)?;
            Ok(s)
        }
    }
}

/// The state a case's first event (submitted) starts.
fn start(event: &Event) -> Result<CaseState, ReplayError> {
    let at = event.at;
    match &event.kind {
        EventKind::Submitted {
            petition,
            receipt,
            bureau,
            received_at,
        } => {
            if event.version != 1 {
                return Err(ReplayError::VersionGap {
                    case: event.case_id.clone(),
                    expected: 1,
                    found: event.version,
                });
            }
            let mut s = CaseState {
                id: event.case_id.clone(),
                version: 1,
                stage: Stage::Submitted,
                receipt: receipt.clone(),
                petition: (**petition).clone(),
                received_at: *received_at,
                bureau: bureau.clone(),
                class: petition.class,
                category: petition.category.clone(),
                routing: None,
                routed_units: Vec::new(),
                accepted_at: None,
                pending_extension: None,
                extensions_granted: 0,
                extension_days: 0,
                objection_overruled: false,
                opinion: None,
                replied_at: None,
                report: ReportStatus::NotRequired,
                rating: None,
                review_unit: None,
                review_outcome: None,
                rereview_unit: None,
                rereview_outcome: None,
                in_hearing: false,
                merged_into: None,
                absorbed: Vec::new(),
                accused_units: Vec::new(),
                notes: 0,
                instructions: 0,
                links: Vec::new(),
                in_charge: Vec::new(),
                timers: Vec::new(),
                updated_at: at,
                reply_checks: Vec::new(),
                urges: 0,
                supervision: Vec::new(),
                named_supervision_since: None,
                circulations: 0,
                ladder: None,
                follow_ups: Vec::new(),
            };
            s.start_timer(ClockKind::RegisterRoute, *received_at, None);
            Ok(s)
        }
        _ => Err(ReplayError::NotStarted(event.case_id.clone())),
    }
}

/// Folds one event into a started case's state in place, as [`apply`] does (what [`replay`]
/// uses, so a long history does not move the whole state once per event). On an error the
/// state is left as it was.
pub fn apply_to(s: &mut CaseState, event: &Event) -> Result<(), ReplayError> {
    let at = event.at;
    if let EventKind::Submitted { .. } = &event.kind {
        return Err(ReplayError::SubmittedTwice(event.case_id.clone()));
    }
    if event.version != s.version + 1 {
        return Err(ReplayError::VersionGap {
            case: event.case_id.clone(),
            expected: s.version + 1,
            found: event.version,
        });
    }
    s.version = event.version;
    s.updated_at = at;
    match &event.kind {
        EventKind::Submitted { .. } => {}
        EventKind::Registered {
            class,
            category,
            accused,
        } => {
            s.stage = Stage::Registered;
            s.class = Some(*class);
            s.category = category.clone();
            s.accused_units = accused.clone();
        }
        EventKind::Routed { route, unit, by } => {
            s.stage = Stage::Routed;
            s.stop_timer(ClockKind::RegisterRoute, at);
            s.objection_overruled = false;
            s.routing = Some(Routing {
                kind: route.clone(),
                unit: unit.clone(),
                by: by.clone(),
                at,
            });
            if !s.routed_units.contains(unit) {
                s.routed_units.push(unit.clone());
            }
            s.start_timer(ClockKind::AcceptanceNotice, at, None);
            match route {
                RouteKind::Bureau => s.report = ReportStatus::NotRequired,
                RouteKind::Forward => {
                    s.report = ReportStatus::NotRequired;
                    s.start_timer(ClockKind::Objection, at, None);
                }
                RouteKind::Assign { due_at } => {
                    s.report = ReportStatus::Pending;
                    s.start_timer(ClockKind::Objection, at, None);
                    s.start_timer(ClockKind::CompletionReport, at, Some(*due_at));
                }
            }
        }
        EventKind::Accepted { .. } => {
            s.stage = Stage::Handling;
            s.accepted_at = Some(at);
            s.stop_timer(ClockKind::AcceptanceNotice, at);
            s.stop_timer(ClockKind::Objection, at);
            s.start_timer(ClockKind::Handling, at, None);
        }
        EventKind::Declined { .. } => {
            s.stage = Stage::Declined;
            s.stop_all_timers(at);
        }
        EventKind::Objected { .. } => {
            s.stage = Stage::Objected;
            s.stop_timer(ClockKind::Objection, at);
        }
        EventKind::ObjectionAgreed { .. } => {
            // The matter returns to the sender, who routes it afresh; the routing clock restarts
            // from the return (a policy choice, documented in docs/domain-rules.md).
            s.stage = Stage::Registered;
            s.stop_timer(ClockKind::AcceptanceNotice, at);
            s.stop_timer(ClockKind::CompletionReport, at);
            s.routing = None;
            s.report = ReportStatus::NotRequired;
            s.start_timer(ClockKind::RegisterRoute, at, None);
        }
        EventKind::ObjectionOverruled { .. } => {
            s.stage = Stage::Routed;
            s.objection_overruled = true;
        }
        EventKind::ExtensionRequested { days, .. } => {
            s.pending_extension = Some(*days);
        }
        EventKind::ExtensionApproved { days, .. } => {
            s.pending_extension = None;
            s.extensions_granted += 1;
            s.extension_days += days;
            if let Some(t) = s.running_timer_mut(ClockKind::Handling) {
                t.extension_days += days;
            }
        }
        EventKind::ExtensionRefused { .. } => {
            s.pending_extension = None;
        }
        EventKind::Replied { opinion, .. } => {
            s.stage = Stage::Replied;
            s.opinion = Some(opinion.clone());
            s.replied_at = Some(at);
            s.pending_extension = None;
            s.stop_timer(ClockKind::Handling, at);
            // Anonymous petitioners see the reply through their receipt code and may rate it;
            // review needs a known petitioner.
            s.start_timer(ClockKind::Rating, at, None);
            if !s.petition.anonymous {
                s.start_timer(ClockKind::ReviewRequest, at, None);
            }
        }
        EventKind::CompletionReportSubmitted { .. } => {
            s.report = ReportStatus::Submitted;
            s.stop_timer(ClockKind::CompletionReport, at);
        }
        EventKind::CompletionReportApproved { .. } => {
            s.report = ReportStatus::Approved;
        }
        EventKind::CompletionReportSentBack { new_due_at, .. } => {
            s.report = ReportStatus::Pending;
            s.stage = Stage::Handling;
            s.rating = None;
            s.stop_timer(ClockKind::Rating, at);
            s.stop_timer(ClockKind::ReviewRequest, at);
            let due = new_due_at.or_else(|| {
                s.timers
                    .iter()
                    .rev()
                    .find(|t| t.kind == ClockKind::CompletionReport)
                    .and_then(|t| t.due_override)
            });
            s.start_timer(ClockKind::CompletionReport, at, due);
            // Handling resumes: the original handling timer (with its extension) runs again.
            if let Some(t) = s
                .timers
                .iter_mut()
                .rev()
                .find(|t| t.kind == ClockKind::Handling)
            {
                t.stopped_at = None;
            }
        }
        EventKind::Rated { bureau, unit, .. } => {
            s.rating = Some((*bureau, *unit));
            s.stop_timer(ClockKind::Rating, at);
        }
        EventKind::ReviewRequested { review_unit, .. } => {
            s.stage = Stage::UnderReview;
            s.review_unit = Some(review_unit.clone());
            s.stop_timer(ClockKind::Rating, at);
            s.stop_timer(ClockKind::ReviewRequest, at);
            s.start_timer(ClockKind::ReviewDecision, at, None);
        }
        EventKind::ReviewDecided { outcome, .. } => {
            s.stage = Stage::Reviewed;
            s.review_outcome = Some(*outcome);
            s.stop_timer(ClockKind::ReviewDecision, at);
            s.start_timer(ClockKind::RereviewRequest, at, None);
        }
        EventKind::RereviewRequested { rereview_unit, .. } => {
            s.stage = Stage::UnderRereview;
            s.rereview_unit = Some(rereview_unit.clone());
            s.stop_timer(ClockKind::RereviewRequest, at);
            s.start_timer(ClockKind::RereviewDecision, at, None);
        }
        EventKind::HearingStarted { .. } => {
            s.in_hearing = true;
            if let Some(t) = s.running_timer_mut(ClockKind::RereviewDecision) {
                t.pauses.push(Pause { from: at, to: None });
            }
        }
        EventKind::HearingEnded { .. } => {
            s.in_hearing = false;
            if let Some(t) = s.running_timer_mut(ClockKind::RereviewDecision) {
                for p in t.pauses.iter_mut() {
                    if p.to.is_none() {
                        p.to = Some(at);
                    }
                }
            }
        }
        EventKind::RereviewDecided { outcome, .. } => {
            s.stage = Stage::Concluded;
            s.rereview_outcome = Some(*outcome);
            s.stop_all_timers(at);
        }
        EventKind::PublicationConsentWithdrawn {} => {
            s.petition.publish_consent = false;
        }
        EventKind::Withdrawn { .. } => {
            s.stage = Stage::Withdrawn;
            s.in_hearing = false;
            s.pending_extension = None;
            s.stop_all_timers(at);
        }
        EventKind::MergedInto { into, .. } => {
            s.stage = Stage::Merged;
            s.merged_into = Some(into.clone());
            s.stop_all_timers(at);
        }
        EventKind::Absorbed { source, .. } => {
            if !s.absorbed.contains(source) {
                s.absorbed.push(source.clone());
            }
        }
        EventKind::NoteAdded { .. } => s.notes += 1,
        EventKind::Linked { to, relation } => s.links.push(CaseLink {
            to: to.clone(),
            relation: *relation,
        }),
        EventKind::Instructed { .. } => s.instructions += 1,
        EventKind::ChargeTaken { leader, unit } => {
            if !s.in_charge.iter().any(|l| &l.leader == leader) {
                s.in_charge.push(LeaderInCharge {
                    leader: leader.clone(),
                    unit: unit.clone(),
                    since: at,
                });
            }
        }
        EventKind::ChargeReleased { leader, .. } => s.in_charge.retain(|l| &l.leader != leader),
        EventKind::ChargeHandedOver {
            from, to, to_unit, ..
        } => {
            s.in_charge.retain(|l| &l.leader != from);
            if !s.in_charge.iter().any(|l| &l.leader == to) {
                s.in_charge.push(LeaderInCharge {
                    leader: to.clone(),
                    unit: Some(to_unit.clone()),
                    since: at,
                });
            }
        }
        EventKind::Urged { ladder, .. } => {
            s.urges += 1;
            if ladder.is_some() {
                s.ladder = *ladder;
            }
        }
        EventKind::SupervisionIssued {
            number,
            form,
            text,
            by_unit,
            reply_due_at,
            named,
            ladder,
            ..
        } => {
            s.supervision.push(SupervisionOrder {
                number: *number,
                form: *form,
                by: event.actor.clone(),
                by_unit: by_unit.clone(),
                issued_at: at,
                reply_due_at: *reply_due_at,
                text: text.clone(),
                named: *named,
                answered_at: None,
                answer: None,
                circulated: false,
            });
            if *named && s.named_supervision_since.is_none() {
                s.named_supervision_since = Some(at);
            }
            if ladder.is_some() {
                s.ladder = *ladder;
            }
        }
        EventKind::SupervisionAnswered { number, text } => {
            if let Some(o) = s.supervision.iter_mut().find(|o| o.number == *number) {
                o.answered_at = Some(at);
                o.answer = Some(text.clone());
            }
        }
        EventKind::Circulated { order, .. } => {
            s.circulations += 1;
            if let Some(o) = order.and_then(|n| s.supervision.iter_mut().find(|o| o.number == n)) {
                o.circulated = true;
            }
        }
        EventKind::NamedSupervisionEnded { .. } => s.named_supervision_since = None,
        EventKind::FollowUpScheduled {
            reason,
            method,
            due_at,
        } => s.follow_ups.push(FollowUp {
            reason: *reason,
            method: *method,
            scheduled_at: at,
            due_at: *due_at,
            done_at: None,
            done_by: None,
            outcome: None,
            note: None,
        }),
        EventKind::FollowUpRecorded {
            method,
            outcome,
            note,
        } => {
            if let Some(f) = s.follow_ups.iter_mut().rev().find(|f| f.is_open()) {
                f.done_at = Some(at);
                f.done_by = Some(*method);
                f.outcome = Some(*outcome);
                f.note = Some(note.clone());
            }
        }
    }
    let (EventKind::Replied { quality, .. }
    | EventKind::ReviewDecided { quality, .. }
    | EventKind::RereviewDecided { quality, .. }) = &event.kind
    else {
        return Ok(());
    };
    if let Some(quality) = quality {
        let document = match &event.kind {
            EventKind::Replied { .. } => "opinion",
            EventKind::ReviewDecided { .. } => "review",
            _ => "rereview",
        };
        s.reply_checks.push(IssuedReplyCheck {
            document: document.to_string(),
            version: event.version,
            at,
            quality: quality.clone(),
        });
    }
    Ok(())
}

/// Folds a whole event stream.
pub fn replay<'a>(
    events: impl IntoIterator<Item = &'a Event>,
) -> Result<Option<CaseState>, ReplayError> {
    let mut state: Option<CaseState> = None;
    for event in events {
        match &mut state {
            None => state = Some(start(event)?),
            Some(s) => apply_to(s, event)?,
        }
    }
    Ok(state)
}
