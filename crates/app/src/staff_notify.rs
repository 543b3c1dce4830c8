//! Notices to staff (工作通知): the people at a unit hear of what the unit must act on, and
//! leaders and administrators reach groups of people at once (定向发送).
//!
//! - A case change that gives a unit work — routed to it (转送, 交办), urged (催办), a 督办单,
//!   a 通报, a leader's instruction (阅批) or a 包案, a completion report sent back, a 回访 for
//!   the bureau to make — enqueues one
//!   `staff_notice` job in the writer's transaction, so the notice exists exactly when the change
//!   does. The worker resolves the unit's people when it runs (those who joined since hear of
//!   it; those who left do not) and writes one in-app notice per person.
//! - A broadcast to a group (`broadcast` job) does the same for everyone the group reaches
//!   (roles, unit levels and kinds in a region), and its notices are the per-person delivery
//!   record: delivered, read, e-mailed.
//! - When SMTP is configured, each notice to a person with an e-mail address becomes an `email`
//!   job, sent over SMTP with a Message-ID derived from its idempotency key (receivers can drop a
//!   repeat), retried with backoff and dead-lettered like every job.
//!
//! Every notice is keyed `<job key>:<user>`, so a job that runs twice writes each notice once.

use std::time::Duration;

use huiyin_domain::case::{CaseState, Event, EventKind, Role, RouteKind};
use huiyin_store::{ClaimedJob, DeliveryRecord, JobOutcome, NewJob, NewStaffNotice, UnitMember};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::jobs::JobError;
use crate::notify::{Locale, NotifyConfig, china_date};
use crate::{App, AppError};

/// The job kind of a notice to a unit's people.
pub const STAFF_NOTICE_KIND: &str = "staff_notice";
/// The job kind of a broadcast to a group.
pub const BROADCAST_KIND: &str = "broadcast";
/// The job kind of one e-mail.
pub const EMAIL_KIND: &str = "email";

/// What a notice to staff is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// 转送 to the unit.
    Forwarded,
    /// 交办 to the unit, with the assigner's deadline.
    Assigned,
    /// 催办.
    Urged,
    /// 督办单.
    Supervision,
    /// 通报.
    Circulated,
    /// 阅批: a leader's instruction.
    Instructed,
    /// 包案: a leader took personal charge.
    ChargeTaken,
    /// The completion report (办结报告) was sent back.
    SentBack,
    /// A message to a broadcast group.
    Broadcast,
    /// 包案: a periodic reminder to the leader in charge of an open case.
    ChargeReminder,
    /// 回访 to make (to the petition bureau).
    FollowUp,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 11] = [
        NoticeKind::Forwarded,
        NoticeKind::Assigned,
        NoticeKind::Urged,
        NoticeKind::Supervision,
        NoticeKind::Circulated,
        NoticeKind::Instructed,
        NoticeKind::ChargeTaken,
        NoticeKind::SentBack,
        NoticeKind::Broadcast,
        NoticeKind::ChargeReminder,
        NoticeKind::FollowUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Forwarded => "forwarded",
            NoticeKind::Assigned => "assigned",
            NoticeKind::Urged => "urged",
            NoticeKind::Supervision => "supervision",
            NoticeKind::Circulated => "circulated",
            NoticeKind::Instructed => "instructed",
            NoticeKind::ChargeTaken => "charge_taken",
            NoticeKind::SentBack => "sent_back",
            NoticeKind::Broadcast => "broadcast",
            NoticeKind::ChargeReminder => "charge_reminder",
            NoticeKind::FollowUp => "follow_up",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The roles at a unit that hear of its case work (not administrators, auditors or analysts,
/// whose membership is not case work).
const CASE_ROLES: [Role; 5] = [
    Role::Registrar,
    Role::Handler,
    Role::UnitHead,
    Role::Leader,
    Role::Supervisor,
];

/// The payload of a `staff_notice` job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitNotice {
    pub case_id: String,
    pub unit: String,
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
    /// Only this person of the unit (a reminder to the leader in charge), not all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// The payload of a `broadcast` job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BroadcastJob {
    pub broadcast_id: String,
}

/// The payload of an `email` job: the notice it carries (read when sending, so the text is the
/// stored one) and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmailJob {
    pub notice_key: String,
    pub to: String,
}

/// SMTP settings: a relay on the internal network (no TLS in this build; the relay forwards).
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// The sender, `名称 <address>` or a bare address.
    pub from: String,
    pub timeout: Duration,
}

impl SmtpConfig {
    /// Reads `smtp://host[:port]` and the sender address.
    pub fn parse(url: &str, from: &str) -> Result<SmtpConfig, String> {
        let rest = url.strip_prefix("smtp://").ok_or_else(|| {
            format!(
                "the SMTP address must look like smtp://host:port (this build has no TLS; use a \
                 relay on the internal network): {url}"
            )
        })?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("the SMTP port is not a number: {p}"))?,
            ),
            None => (rest, 25),
        };
        if host.is_empty() {
            return Err(format!("the SMTP address names no host: {url}"));
        }
        from.parse::<Mailbox>()
            .map_err(|e| format!("the sender address {from:?} is not an e-mail address: {e}"))?;
        Ok(SmtpConfig {
            host: host.to_string(),
            port,
            from: from.to_string(),
            timeout: Duration::from_secs(10),
        })
    }
}

/// Checks an e-mail address typed by an administrator.
pub fn valid_email(s: &str) -> bool {
    s.len() <= 254 && !s.contains(['<', '>', ' ', ',']) && s.parse::<lettre::Address>().is_ok()
}

// ---------------------------------------------------------------------------------------------
// Which notices a change causes
// ---------------------------------------------------------------------------------------------

/// The title and body of a notice, in the deployment's language.
fn words(
    locale: Locale,
    kind: NoticeKind,
    receipt: &str,
    case_title: &str,
    detail: &str,
) -> (String, String) {
    let zh = locale == Locale::Zh;
    let (title, lead) = match (kind, zh) {
        (NoticeKind::Forwarded, true) => ("转送件", "转送至本单位，请依法受理办理。"),
        (NoticeKind::Forwarded, false) => (
            "Forwarded case",
            "forwarded to your unit; accept and handle it as the law requires.",
        ),
        (NoticeKind::Assigned, true) => ("交办件", "交办本单位，须按期办结并报送办结报告。"),
        (NoticeKind::Assigned, false) => (
            "Assigned case",
            "assigned to your unit; finish it in time and send the completion report.",
        ),
        (NoticeKind::Urged, true) => ("催办", "请抓紧办理。"),
        (NoticeKind::Urged, false) => ("Urge", "please act on it now."),
        (NoticeKind::Supervision, true) => ("督办单", "收到上级督办单。"),
        (NoticeKind::Supervision, false) => {
            ("Supervision order", "is under supervision from above.")
        }
        (NoticeKind::Circulated, true) => ("通报", "本单位被通报。"),
        (NoticeKind::Circulated, false) => ("Circulated", "your unit is named in a circular."),
        (NoticeKind::Instructed, true) => ("领导阅批", "领导作出批示，请按批示办理。"),
        (NoticeKind::Instructed, false) => (
            "Leader's instruction",
            "a leader gave an instruction; act on it.",
        ),
        (NoticeKind::ChargeTaken, true) => ("领导包案", "领导已包案，请及时报告办理进展。"),
        (NoticeKind::ChargeTaken, false) => (
            "Leader in charge",
            "a leader took personal charge; report progress to them.",
        ),
        (NoticeKind::SentBack, true) => ("办结报告退回", "办结报告被退回，请补充办理后重报。"),
        (NoticeKind::SentBack, false) => (
            "Completion report sent back",
            "the completion report was sent back; complete the work and report again.",
        ),
        (NoticeKind::ChargeReminder, true) => {
            ("包案进展提醒", "仍在办理中，请督促承办单位报告办理进展。")
        }
        (NoticeKind::ChargeReminder, false) => (
            "Progress reminder",
            "is still open; ask the handling unit for a progress report.",
        ),
        (NoticeKind::FollowUp, true) => ("回访", "需要回访信访人并记录回访结果。"),
        (NoticeKind::FollowUp, false) => (
            "Follow-up",
            "needs a follow-up with the petitioner; record what they say.",
        ),
        (NoticeKind::Broadcast, _) => ("", ""),
    };
    let title = if zh {
        format!("{title}：{receipt}")
    } else {
        format!("{title}: {receipt}")
    };
    let mut body = if zh {
        format!("信访事项 {receipt}「{case_title}」{lead}")
    } else {
        format!("Case {receipt} “{case_title}” {lead}")
    };
    if !detail.is_empty() {
        body.push('\n');
        body.push_str(detail);
    }
    (title, body)
}

/// The `staff_notice` jobs `events` (just decided, folded into `state`) cause, for the
/// writer's transaction.
pub fn staff_notices_for(
    config: &NotifyConfig,
    state: &CaseState,
    events: &[Event],
) -> Vec<NewJob> {
    if !config.staff {
        return Vec::new();
    }
    let zh = config.locale == Locale::Zh;
    let current = state.routing.as_ref().map(|r| r.unit.to_string());
    let mut jobs = Vec::new();
    for event in events {
        let (kind, unit, detail): (NoticeKind, Option<String>, String) = match &event.kind {
            EventKind::Routed { route, unit, .. } => match route {
                RouteKind::Forward => {
                    (NoticeKind::Forwarded, Some(unit.to_string()), String::new())
                }
                RouteKind::Assign { due_at } => (
                    NoticeKind::Assigned,
                    Some(unit.to_string()),
                    if zh {
                        format!("交办期限：{}", china_date(*due_at))
                    } else {
                        format!("Due: {}", china_date(*due_at))
                    },
                ),
                RouteKind::Bureau => continue,
            },
            EventKind::Urged { text, unit, .. } => {
                (NoticeKind::Urged, Some(unit.to_string()), text.to_string())
            }
            EventKind::SupervisionIssued {
                number,
                text,
                unit,
                reply_due_at,
                named,
                ..
            } => {
                let head = match (zh, named) {
                    (true, true) => format!(
                        "第 {number} 号督办单（挂牌督办），请于 {} 前书面答复。",
                        china_date(*reply_due_at)
                    ),
                    (true, false) => format!(
                        "第 {number} 号督办单，请于 {} 前书面答复。",
                        china_date(*reply_due_at)
                    ),
                    (false, named) => format!(
                        "Supervision order no. {number}{}; answer in writing by {}.",
                        if *named { " (named supervision)" } else { "" },
                        china_date(*reply_due_at)
                    ),
                };
                (
                    NoticeKind::Supervision,
                    Some(unit.to_string()),
                    format!("{head}\n{text}"),
                )
            }
            EventKind::Circulated { text, unit, .. } => (
                NoticeKind::Circulated,
                Some(unit.to_string()),
                text.to_string(),
            ),
            EventKind::Instructed { text } => {
                (NoticeKind::Instructed, current.clone(), text.to_string())
            }
            EventKind::ChargeTaken { .. } => {
                (NoticeKind::ChargeTaken, current.clone(), String::new())
            }
            EventKind::CompletionReportSentBack { reason, .. } => {
                (NoticeKind::SentBack, current.clone(), reason.to_string())
            }
            EventKind::FollowUpScheduled { method, due_at, .. } => (
                NoticeKind::FollowUp,
                Some(state.bureau.to_string()),
                if zh {
                    format!("{}，{} 前完成。", method.label_zh(), china_date(*due_at))
                } else {
                    format!("By {}, due {}.", method.as_str(), china_date(*due_at))
                },
            ),
            _ => continue,
        };
        let Some(unit) = unit else { continue };
        let (title, body) = words(
            config.locale,
            kind,
            &state.receipt.display(),
            state.petition.title.as_str(),
            &detail,
        );
        let notice = UnitNotice {
            case_id: state.id.to_string(),
            unit: unit.clone(),
            kind,
            title,
            body,
            user: None,
        };
        let Ok(payload) = serde_json::to_string(&notice) else {
            continue;
        };
        jobs.push(NewJob {
            kind: STAFF_NOTICE_KIND.into(),
            payload,
            idempotency_key: format!("staff:{}:{}:{}", state.id, event.version, unit),
            case_id: Some(state.id.to_string()),
            run_at_ms: event.at.timestamp_millis(),
            max_attempts: config.max_attempts.max(1),
            created_at_ms: event.at.timestamp_millis(),
        });
    }
    jobs
}

// ---------------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------------

/// Runs `staff_notice`, `broadcast` and `email` jobs.
pub struct StaffNoticeHandler {
    mailer: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::Retry(e.to_string())
}

impl StaffNoticeHandler {
    pub fn new(config: &NotifyConfig) -> Result<StaffNoticeHandler, String> {
        let mailer = match &config.smtp {
            None => None,
            Some(smtp) => {
                let from = smtp
                    .from
                    .parse::<Mailbox>()
                    .map_err(|e| format!("sender address: {e}"))?;
                let transport =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str())
                        .port(smtp.port)
                        .timeout(Some(smtp.timeout))
                        .build();
                Some((transport, from))
            }
        };
        Ok(StaffNoticeHandler { mailer })
    }

    /// Writes one notice per person and, with SMTP configured, one `email` job per person with
    /// an address. E-mail jobs are enqueued for every recipient, not only the new notices, so
    /// a fan-out that failed half-way and runs again still sends every e-mail (their keys make
    /// the second enqueue a no-op).
    async fn fan_out(
        &self,
        app: &App,
        job: &ClaimedJob,
        members: &[UnitMember],
        notice: impl Fn(&UnitMember) -> NewStaffNotice,
    ) -> Result<String, JobError> {
        let notices: Vec<NewStaffNotice> = members.iter().map(&notice).collect();
        let new = app
            .store()
            .put_staff_notices(&notices)
            .await
            .map_err(retry)?;
        let mut emails = Vec::new();
        if self.mailer.is_some() {
            for (m, n) in members.iter().zip(&notices) {
                let Some(to) = m.email.as_deref().filter(|e| valid_email(e)) else {
                    continue;
                };
                let Ok(payload) = serde_json::to_string(&EmailJob {
                    notice_key: n.idempotency_key.clone(),
                    to: to.to_string(),
                }) else {
                    continue;
                };
                emails.push(NewJob {
                    kind: EMAIL_KIND.into(),
                    payload,
                    idempotency_key: format!("{}:email", n.idempotency_key),
                    case_id: n.case_id.clone(),
                    run_at_ms: app.now().timestamp_millis(),
                    max_attempts: job.max_attempts.max(1),
                    created_at_ms: app.now().timestamp_millis(),
                });
            }
        }
        if !emails.is_empty() {
            app.store().enqueue_jobs(&emails).await.map_err(retry)?;
            app.job_signal().notify();
        }
        Ok(format!(
            "{} people, {} new notices, {} e-mails",
            members.len(),
            new,
            emails.len()
        ))
    }

    async fn unit_notice(&self, app: &App, job: &ClaimedJob) -> Result<String, JobError> {
        let n: UnitNotice = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Permanent(format!("malformed staff notice: {e}")))?;
        let members: Vec<UnitMember> = app
            .store()
            .unit_members(&n.unit)
            .await
            .map_err(retry)?
            .into_iter()
            .filter(|m| {
                m.roles
                    .iter()
                    .any(|r| CASE_ROLES.iter().any(|c| c.as_str() == r))
            })
            .filter(|m| n.user.as_ref().is_none_or(|u| *u == m.user_id))
            .collect();
        let now = app.now().timestamp_millis();
        let detail = self
            .fan_out(app, job, &members, |m| NewStaffNotice {
                idempotency_key: format!("{}:{}", job.idempotency_key, m.user_id),
                user_id: m.user_id.clone(),
                unit_id: Some(n.unit.clone()),
                case_id: Some(n.case_id.clone()),
                broadcast_id: None,
                kind: n.kind.as_str().into(),
                title: n.title.clone(),
                body: n.body.clone(),
                created_at_ms: now,
            })
            .await?;
        log_delivery::<&str>(
            app,
            job,
            Some(&n.case_id),
            "staff",
            n.kind.as_str(),
            Ok(&detail),
        )
        .await;
        Ok(detail)
    }

    async fn broadcast(&self, app: &App, job: &ClaimedJob) -> Result<String, JobError> {
        let b: BroadcastJob = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Permanent(format!("malformed broadcast job: {e}")))?;
        let Some(message) = app
            .store()
            .broadcast(&b.broadcast_id)
            .await
            .map_err(retry)?
        else {
            return Err(JobError::Permanent(format!(
                "broadcast {} does not exist",
                b.broadcast_id
            )));
        };
        let Some(group) = app
            .store()
            .broadcast_group(&message.group_id)
            .await
            .map_err(retry)?
        else {
            return Err(JobError::Permanent(format!(
                "broadcast group {} does not exist",
                message.group_id
            )));
        };
        let members = app.store().group_members(&group).await.map_err(retry)?;
        let now = app.now().timestamp_millis();
        self.fan_out(app, job, &members, |m| NewStaffNotice {
            idempotency_key: format!("broadcast:{}:{}", message.id, m.user_id),
            user_id: m.user_id.clone(),
            unit_id: Some(m.unit_id.clone()),
            case_id: message.case_id.clone(),
            broadcast_id: Some(message.id.clone()),
            kind: NoticeKind::Broadcast.as_str().into(),
            title: message.title.clone(),
            body: message.body.clone(),
            created_at_ms: now,
        })
        .await
    }

    async fn email(&self, app: &App, job: &ClaimedJob) -> Result<String, JobError> {
        let e: EmailJob = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Permanent(format!("malformed e-mail job: {e}")))?;
        let Some((transport, from)) = &self.mailer else {
            return Err(JobError::Retry(
                "SMTP is not configured on this worker".into(),
            ));
        };
        let Some(notice) = app
            .store()
            .staff_notice_by_key(&e.notice_key)
            .await
            .map_err(retry)?
        else {
            return Err(JobError::Permanent(format!(
                "notice {} does not exist",
                e.notice_key
            )));
        };
        let result = send(transport, from, &e, &notice, &job.idempotency_key).await;
        let now = app.now().timestamp_millis();
        let (sent, error) = match &result {
            Ok(_) => (Some(now), None),
            Err(err) => (None, Some(err.to_string())),
        };
        if let Err(err) = app
            .store()
            .set_staff_notice_email(&e.notice_key, sent, error.as_deref())
            .await
        {
            tracing::warn!(error = %err, "e-mail status not recorded");
        }
        log_delivery(
            app,
            job,
            notice.case_id.as_deref(),
            "email",
            &notice.kind,
            result.as_ref().map(String::as_str),
        )
        .await;
        result
    }

    pub(crate) async fn run(&self, app: &App, job: &ClaimedJob) -> Result<(), JobError> {
        match job.kind.as_str() {
            STAFF_NOTICE_KIND => self.unit_notice(app, job).await.map(|_| ()),
            BROADCAST_KIND => self.broadcast(app, job).await.map(|_| ()),
            EMAIL_KIND => self.email(app, job).await.map(|_| ()),
            other => Err(JobError::Permanent(format!("unknown job kind {other}"))),
        }
    }
}

/// The Message-ID of an e-mail job: the same for every attempt, so a receiver that sees it
/// twice (at-least-once) can drop the second.
pub fn message_id(idempotency_key: &str) -> String {
    use sm3::Digest;
    let digest = sm3::Sm3::digest(idempotency_key.as_bytes());
    format!("<{}@huiyin.notice>", hex::encode(&digest[..16]))
}

async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    e: &EmailJob,
    notice: &huiyin_store::StaffNotice,
    key: &str,
) -> Result<String, JobError> {
    let to =
        e.to.parse::<Mailbox>()
            .map_err(|err| JobError::Permanent(format!("recipient address: {err}")))?;
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><body><h1 style=\"font-size:1.2em\">{}</h1><p>{}</p></body></html>",
        crate::notify::escape_html(&notice.title),
        crate::notify::escape_html(&notice.body).replace('\n', "<br>")
    );
    let message = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(notice.title.clone())
        .message_id(Some(message_id(key)))
        .multipart(MultiPart::alternative_plain_html(notice.body.clone(), html))
        .map_err(|err| JobError::Permanent(format!("building the e-mail: {err}")))?;
    match transport.send(message).await {
        Ok(response) => Ok(format!("SMTP {}", response.code())),
        Err(err) if err.is_permanent() => Err(JobError::Permanent(format!(
            "the mail server refused the message: {err}"
        ))),
        Err(err) => Err(JobError::Retry(format!("mail server: {err}"))),
    }
}

/// Writes one attempt into the case's delivery log (nothing for a message about no case).
pub(crate) async fn log_delivery<E: std::fmt::Display>(
    app: &App,
    job: &ClaimedJob,
    case_id: Option<&str>,
    channel: &str,
    step: &str,
    result: Result<&str, E>,
) {
    if case_id.is_none() {
        return;
    }
    let (ok, detail) = match result {
        Ok(d) => (true, d.to_string()),
        Err(e) => (false, e.to_string()),
    };
    let logged = app
        .record_job_outcome(JobOutcome::Delivery(DeliveryRecord {
            job_id: job.id.clone(),
            case_id: case_id.map(str::to_string),
            channel: channel.into(),
            step: step.into(),
            attempt: job.attempt,
            at_ms: app.now().timestamp_millis(),
            ok,
            detail,
        }))
        .await;
    if let Err(e) = logged {
        tracing::warn!(error = %e, job = %job.id, "delivery log not written");
    }
}

// ---------------------------------------------------------------------------------------------
// Reading notices, broadcast groups and broadcasts
// ---------------------------------------------------------------------------------------------

/// What a broadcast says (the seeds' four kinds of message to a group).
pub const BROADCAST_KINDS: [&str; 4] =
    ["instruction", "case_dynamics", "assignment", "supervision"];

/// The longest group name, broadcast title and body.
pub const MAX_GROUP_NAME: usize = 60;
pub const MAX_BROADCAST_TITLE: usize = 100;
pub const MAX_BROADCAST_BODY: usize = 4000;

/// A new broadcast group as an administrator describes it.
#[derive(Debug, Clone, Default)]
pub struct GroupSpec {
    pub name: String,
    pub region_code: String,
    pub levels: Vec<String>,
    pub kinds: Vec<String>,
    pub roles: Vec<String>,
}

/// A message for a group.
#[derive(Debug, Clone, Default)]
pub struct BroadcastSpec {
    pub group_id: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    /// The case it is about (optional).
    pub case_id: Option<String>,
}

fn require_role(
    actor: &huiyin_domain::case::Actor,
    roles: &[Role],
    why: &str,
) -> Result<(), AppError> {
    if roles.iter().any(|r| actor.has(*r)) {
        Ok(())
    } else {
        Err(AppError::Forbidden(why.into()))
    }
}

const SENDERS: [Role; 3] = [Role::Administrator, Role::Leader, Role::Supervisor];

fn distinct(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !out.iter().any(|y| y == x) {
            out.push(x.to_string());
        }
    }
    out
}

impl App {
    /// 包案 progress reminders: each leader in charge of an open case hears of it every
    /// [`NotifyConfig::charge_reminder_days`] days from the day they took charge (0: never).
    /// Each reminder is a job keyed by case, leader and period, so racing scans or a scan that
    /// stopped half-way send each one once. Returns how many were enqueued.
    pub async fn remind_charges(&self, now: huiyin_domain::Instant) -> Result<usize, AppError> {
        let days = self.notify_config().charge_reminder_days;
        if days == 0 || !self.notify_config().staff {
            return Ok(0);
        }
        let every_ms = i64::from(days) * 86_400_000;
        let now_ms = now.timestamp_millis();
        let mut sent = 0;
        loop {
            let due = self
                .store()
                .due_charge_reminders(now_ms, every_ms, 500)
                .await?;
            if due.is_empty() {
                break;
            }
            for r in &due {
                if let Some(job) = self.charge_reminder_job(r, now_ms).await? {
                    sent += self.store().enqueue_jobs(&[job]).await?;
                }
                self.store()
                    .set_charge_reminded(&r.case_id, &r.leader_id, r.period, now_ms)
                    .await?;
            }
            if due.len() < 500 {
                break;
            }
        }
        if sent > 0 {
            self.job_signal().notify();
        }
        Ok(usize::try_from(sent).unwrap_or(usize::MAX))
    }

    async fn charge_reminder_job(
        &self,
        r: &huiyin_store::DueChargeReminder,
        now_ms: i64,
    ) -> Result<Option<NewJob>, AppError> {
        // Only people with an account are reminded (a leader acting by API token has none).
        let (Some(user), Some(unit)) = (r.leader_id.strip_prefix("user:"), r.unit_id.as_ref())
        else {
            return Ok(None);
        };
        let Some(record) = self
            .store()
            .case(&huiyin_domain::ids::CaseId::new(r.case_id.clone()))
            .await?
        else {
            return Ok(None);
        };
        let state = record.state;
        let config = self.notify_config();
        let zh = config.locale == Locale::Zh;
        let days = (now_ms - r.since_ms) / 86_400_000;
        let detail = if zh {
            format!("当前阶段：{}；已包案 {days} 天。", state.stage.label_zh())
        } else {
            format!(
                "Stage: {}; in your charge for {days} days.",
                state.stage.as_str()
            )
        };
        let (title, body) = words(
            config.locale,
            NoticeKind::ChargeReminder,
            &state.receipt.display(),
            state.petition.title.as_str(),
            &detail,
        );
        let notice = UnitNotice {
            case_id: r.case_id.clone(),
            unit: unit.clone(),
            kind: NoticeKind::ChargeReminder,
            title,
            body,
            user: Some(user.to_string()),
        };
        let payload = serde_json::to_string(&notice).map_err(|e| AppError::Internal(e.into()))?;
        Ok(Some(NewJob {
            kind: STAFF_NOTICE_KIND.into(),
            payload,
            idempotency_key: format!("charge:{}:{}:{}", r.case_id, r.leader_id, r.period),
            case_id: Some(r.case_id.clone()),
            run_at_ms: now_ms,
            max_attempts: config.max_attempts.max(1),
            created_at_ms: now_ms,
        }))
    }

    /// A staff member's notices, newest first (`before`: the last one of the previous page).
    pub async fn my_notices(
        &self,
        user_id: &str,
        unread_only: bool,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<huiyin_store::StaffNotice>, AppError> {
        Ok(self
            .store()
            .staff_notices_for(user_id, unread_only, before, limit)
            .await?)
    }

    /// How many of a staff member's notices are unread.
    pub async fn unread_notices(&self, user_id: &str) -> Result<i64, AppError> {
        Ok(self.store().unread_staff_notices(user_id).await?)
    }

    /// Marks one notice (or, with `None`, all) read; only the person's own.
    pub async fn mark_notices_read(
        &self,
        user_id: &str,
        id: Option<&str>,
    ) -> Result<u64, AppError> {
        Ok(self
            .store()
            .mark_staff_notices_read(user_id, id, self.now().timestamp_millis())
            .await?)
    }

    /// Sets or clears a staff member's e-mail address for notices (administrators; audited).
    pub async fn admin_set_email(
        &self,
        actor: &huiyin_domain::case::Actor,
        username: &str,
        email: &str,
    ) -> Result<Option<String>, AppError> {
        self.require(actor, huiyin_domain::access::Action::ManageUsers)
            .await?;
        let email = email.trim();
        let email = if email.is_empty() {
            None
        } else if valid_email(email) {
            Some(email.to_lowercase())
        } else {
            return Err(AppError::invalid(
                "email",
                "email_invalid",
                "电子邮箱格式不对，应如 name@example.gov.cn",
            ));
        };
        let u = username.trim().to_lowercase();
        let Some(user) = self.store().user_by_username(&u).await? else {
            return Err(AppError::NotFound(format!("用户 {u} 不存在")));
        };
        self.store()
            .set_user_email(&user.id, email.as_deref())
            .await?;
        self.store()
            .append_audit(&self.admin_entry(
                actor,
                "set_email",
                serde_json::json!({ "user": user.username, "set": email.is_some() }),
            ))
            .await?;
        Ok(email)
    }

    /// Defines a broadcast group (administrators; audited). Refuses an unknown region, level,
    /// kind or role, and a group that reaches no kind of unit at all.
    pub async fn create_broadcast_group(
        &self,
        actor: &huiyin_domain::case::Actor,
        spec: &GroupSpec,
    ) -> Result<huiyin_store::BroadcastGroup, AppError> {
        require_role(
            actor,
            &[Role::Administrator],
            "只有系统管理员可以设置发送群组",
        )?;
        let name = spec.name.trim();
        if name.is_empty() || name.chars().count() > MAX_GROUP_NAME {
            return Err(AppError::invalid(
                "name",
                "group_name",
                format!("请填写群组名称（不超过 {MAX_GROUP_NAME} 字）"),
            ));
        }
        let region = spec.region_code.trim();
        let region = if region.is_empty() { "0" } else { region };
        // A region of the shipped divisions, or one that units were set up in.
        let known = region == "0"
            || (huiyin_org::Level::of_code(region).is_some()
                && (self.store().region(region).await?.is_some()
                    || !self
                        .store()
                        .search_units(&huiyin_store::UnitSearch {
                            region: Some(region.to_string()),
                            limit: 1,
                            ..Default::default()
                        })
                        .await?
                        .is_empty()));
        if !known {
            return Err(AppError::invalid(
                "region_code",
                "region_unknown",
                format!("没有行政区划代码 {region}"),
            ));
        }
        let levels = distinct(&spec.levels);
        if let Some(bad) = levels
            .iter()
            .find(|l| huiyin_org::Level::parse(l).is_none())
        {
            return Err(AppError::invalid(
                "levels",
                "level_unknown",
                format!("没有这个层级：{bad}"),
            ));
        }
        let kinds = distinct(&spec.kinds);
        if let Some(bad) = kinds
            .iter()
            .find(|k| huiyin_org::UnitKind::parse(k).is_none())
        {
            return Err(AppError::invalid(
                "kinds",
                "kind_unknown",
                format!("没有这类单位：{bad}"),
            ));
        }
        let roles = distinct(&spec.roles);
        if let Some(bad) = roles.iter().find(|r| Role::parse(r).is_none()) {
            return Err(AppError::invalid(
                "roles",
                "role_unknown",
                format!("没有这个角色：{bad}"),
            ));
        }
        let group = huiyin_store::BroadcastGroup {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_string(),
            region_code: region.to_string(),
            levels,
            kinds,
            roles,
            created_by: actor.id.to_string(),
            created_at_ms: self.now().timestamp_millis(),
            retired_at_ms: None,
        };
        self.store().create_broadcast_group(&group).await?;
        self.store()
            .append_audit(&self.admin_entry(
                actor,
                "create_broadcast_group",
                serde_json::json!({ "group": group.id, "name": group.name }),
            ))
            .await?;
        Ok(group)
    }

    /// The groups with how many people each reaches now (administrators, leaders, supervisors).
    pub async fn broadcast_groups(
        &self,
        actor: &huiyin_domain::case::Actor,
    ) -> Result<Vec<(huiyin_store::BroadcastGroup, usize)>, AppError> {
        require_role(
            actor,
            &SENDERS,
            "只有系统管理员、领导和督办人员可以使用定向发送",
        )?;
        let mut out = Vec::new();
        for g in self.store().broadcast_groups().await? {
            let n = if g.retired_at_ms.is_none() {
                self.store().group_members(&g).await?.len()
            } else {
                0
            };
            out.push((g, n));
        }
        Ok(out)
    }

    /// Retires a group (administrators; audited).
    pub async fn retire_broadcast_group(
        &self,
        actor: &huiyin_domain::case::Actor,
        id: &str,
    ) -> Result<(), AppError> {
        require_role(
            actor,
            &[Role::Administrator],
            "只有系统管理员可以设置发送群组",
        )?;
        if !self
            .store()
            .retire_broadcast_group(id, self.now().timestamp_millis())
            .await?
        {
            return Err(AppError::NotFound("没有这个群组（或已停用）".into()));
        }
        self.store()
            .append_audit(&self.admin_entry(
                actor,
                "retire_broadcast_group",
                serde_json::json!({ "group": id }),
            ))
            .await?;
        Ok(())
    }

    /// Sends a message to a group: the broadcast and its delivery job in one transaction
    /// (administrators, leaders, supervisors; audited). A case it names must be one the
    /// sender may read.
    pub async fn send_broadcast(
        &self,
        actor: &huiyin_domain::case::Actor,
        spec: &BroadcastSpec,
    ) -> Result<huiyin_store::Broadcast, AppError> {
        self.send_broadcast_about(actor, spec, None).await
    }

    /// [`App::send_broadcast`], recording the early warning (预警) it is about, if any.
    pub(crate) async fn send_broadcast_about(
        &self,
        actor: &huiyin_domain::case::Actor,
        spec: &BroadcastSpec,
        warning_id: Option<String>,
    ) -> Result<huiyin_store::Broadcast, AppError> {
        require_role(
            actor,
            &SENDERS,
            "只有系统管理员、领导和督办人员可以使用定向发送",
        )?;
        let Some(group) = self.store().broadcast_group(spec.group_id.trim()).await? else {
            return Err(AppError::invalid(
                "group_id",
                "group_unknown",
                "没有这个群组",
            ));
        };
        if group.retired_at_ms.is_some() {
            return Err(AppError::invalid(
                "group_id",
                "group_retired",
                "这个群组已停用",
            ));
        }
        if !BROADCAST_KINDS.contains(&spec.kind.as_str()) {
            return Err(AppError::invalid(
                "kind",
                "broadcast_kind",
                "请选择消息类别：工作指令、案件动态、交办通知或督办情况",
            ));
        }
        let title = spec.title.trim();
        if title.is_empty() || title.chars().count() > MAX_BROADCAST_TITLE {
            return Err(AppError::invalid(
                "title",
                "broadcast_title",
                format!("请填写标题（不超过 {MAX_BROADCAST_TITLE} 字）"),
            ));
        }
        let body = spec.body.trim();
        if body.is_empty() || body.chars().count() > MAX_BROADCAST_BODY {
            return Err(AppError::invalid(
                "body",
                "broadcast_body",
                format!("请填写内容（不超过 {MAX_BROADCAST_BODY} 字）"),
            ));
        }
        let case_id = match spec
            .case_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            None => None,
            Some(c) => {
                // A receipt code (受理号) as people write it, or the case's id.
                let by_receipt = match huiyin_domain::values::ReceiptCode::parse(c) {
                    Ok(code) => self.store().case_by_receipt(code.as_str()).await?,
                    Err(_) => None,
                };
                let id = match by_receipt {
                    Some((id, _)) => id,
                    None => huiyin_domain::ids::CaseId::new(c.to_string()),
                };
                self.authorize_case(actor, &id, huiyin_domain::access::Action::ReadCase)
                    .await
                    .map_err(|_| {
                        AppError::invalid(
                            "case_id",
                            "case_not_readable",
                            "没有这个信访事项，或您无权查看它",
                        )
                    })?;
                Some(id.to_string())
            }
        };
        let now = self.now().timestamp_millis();
        let b = huiyin_store::Broadcast {
            id: uuid::Uuid::now_v7().to_string(),
            group_id: group.id.clone(),
            group_name: group.name.clone(),
            kind: spec.kind.clone(),
            title: title.to_string(),
            body: body.to_string(),
            case_id,
            sent_by: actor.id.to_string(),
            sent_at_ms: now,
            delivered: 0,
            read: 0,
            emailed: 0,
            warning_id,
        };
        let payload = serde_json::to_string(&BroadcastJob {
            broadcast_id: b.id.clone(),
        })
        .map_err(|e| AppError::Internal(e.into()))?;
        let job = NewJob {
            kind: BROADCAST_KIND.into(),
            payload,
            idempotency_key: format!("broadcast:{}", b.id),
            case_id: b.case_id.clone(),
            run_at_ms: now,
            max_attempts: self.notify_config().max_attempts.max(1),
            created_at_ms: now,
        };
        self.store().create_broadcast(&b, &job).await?;
        self.job_signal().notify();
        self.store()
            .append_audit(&self.admin_entry(
                actor,
                "send_broadcast",
                serde_json::json!({
                    "broadcast": b.id, "group": group.id, "kind": b.kind, "warning": b.warning_id
                }),
            ))
            .await?;
        Ok(b)
    }

    /// The latest broadcasts (administrators, leaders, supervisors).
    pub async fn broadcasts(
        &self,
        actor: &huiyin_domain::case::Actor,
    ) -> Result<Vec<huiyin_store::Broadcast>, AppError> {
        require_role(
            actor,
            &SENDERS,
            "只有系统管理员、领导和督办人员可以使用定向发送",
        )?;
        Ok(self.store().broadcasts(50).await?)
    }

    /// One broadcast with its per-person delivery record.
    pub async fn broadcast_detail(
        &self,
        actor: &huiyin_domain::case::Actor,
        id: &str,
    ) -> Result<(huiyin_store::Broadcast, Vec<huiyin_store::StaffNotice>), AppError> {
        require_role(
            actor,
            &SENDERS,
            "只有系统管理员、领导和督办人员可以使用定向发送",
        )?;
        let Some(b) = self.store().broadcast(id).await? else {
            return Err(AppError::NotFound("没有这条定向发送消息".into()));
        };
        let people = self.store().broadcast_deliveries(id).await?;
        Ok((b, people))
    }
}
