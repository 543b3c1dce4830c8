//! Notifications to petitioners through the outbox (issue 6).
//!
//! When a command's events reach a statutory step — registered (登记), accepted (受理) or
//! declined (不予受理) with guidance, extended (延期) with the reason, replied (答复), invited
//! to rate (评价), told of the right to review (复查) or re-review (复核) and the time left —
//! the writer enqueues one `notice` job per channel in the same transaction as the events.
//! A worker renders the template (zh-CN or English, text or HTML) and delivers it: SMS through
//! the [`SmsGateway`](crate::sms::SmsGateway), the petitioner's in-app inbox (站内信), and
//! webhooks signed with HMAC-SM3 over a timestamp (see [`verify_webhook`]). Every attempt is in
//! the case's delivery log; every job carries an idempotency key (`case:version:step:channel`)
//! that receivers use to drop the duplicates at-least-once delivery can produce.
//!
//! The phone number is not in the job: the worker opens the sealed personal record when it
//! sends, and audits that read for a 检举控告 (accusation) case.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use huiyin_domain::Instant;
use huiyin_domain::calendar::Calendar;
use huiyin_domain::case::{CaseState, Event, EventKind};
use huiyin_domain::clock;
use huiyin_domain::ids::CaseId;
use huiyin_domain::policy::{ClockKind, DeadlinePolicy};
use huiyin_domain::values::PhoneNumber;
use huiyin_store::{AuditEntry, ClaimedJob, DeliveryRecord, NewJob};

use crate::jobs::{JobError, JobFuture, JobHandler};
use crate::{App, AppError};

/// The job kind of a notification.
pub const NOTICE_KIND: &str = "notice";

/// A statutory step the petitioner is told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Registered,
    Accepted,
    Declined,
    Extended,
    Replied,
    RateInvite,
    ReviewRight,
    RereviewRight,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Step::Registered,
        Step::Accepted,
        Step::Declined,
        Step::Extended,
        Step::Replied,
        Step::RateInvite,
        Step::ReviewRight,
        Step::RereviewRight,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Registered => "registered",
            Step::Accepted => "accepted",
            Step::Declined => "declined",
            Step::Extended => "extended",
            Step::Replied => "replied",
            Step::RateInvite => "rate_invite",
            Step::ReviewRight => "review_right",
            Step::RereviewRight => "rereview_right",
        }
    }

    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The placeholders a template of this step may use.
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            Step::Registered | Step::Replied => &["receipt"],
            Step::Accepted | Step::RateInvite | Step::ReviewRight | Step::RereviewRight => {
                &["receipt", "deadline"]
            }
            Step::Declined => &["receipt", "reason", "guidance"],
            Step::Extended => &["receipt", "days", "reason", "deadline"],
        }
    }
}

/// Template language.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Locale {
    #[default]
    Zh,
    En,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::Zh => "zh",
            Locale::En => "en",
        }
    }
    pub fn parse(s: &str) -> Option<Locale> {
        match s {
            "zh" | "zh-CN" => Some(Locale::Zh),
            "en" => Some(Locale::En),
            _ => None,
        }
    }
}

/// Template format: plain text (SMS, inbox) or HTML (e-mail, webhooks carry both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Text,
    Html,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Html => "html",
        }
    }
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "text" => Some(Format::Text),
            "html" => Some(Format::Html),
            _ => None,
        }
    }
}

/// Where a notice goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Inbox,
    /// The n-th configured webhook.
    Webhook {
        target: usize,
    },
}

impl Channel {
    fn key(self) -> String {
        match self {
            Channel::Sms => "sms".into(),
            Channel::Inbox => "inbox".into(),
            Channel::Webhook { target } => format!("webhook{target}"),
        }
    }
}

/// The payload of a `notice` job: everything needed to render and send it, except the phone
/// number (opened from the sealed record when sending).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Notice {
    pub case_id: String,
    pub step: Step,
    pub channel: Channel,
    pub locale: Locale,
    pub vars: BTreeMap<String, String>,
}

/// A webhook receiver.
#[derive(Clone)]
pub struct WebhookTarget {
    pub url: String,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Notification settings.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// Petitioner notices by SMS (named petitioners with a phone).
    pub sms: bool,
    /// Petitioner notices in the in-app inbox.
    pub inbox: bool,
    pub webhooks: Vec<WebhookTarget>,
    pub locale: Locale,
    /// Attempts before a notice becomes a dead letter.
    pub max_attempts: i64,
    /// The most one webhook request may take.
    pub webhook_timeout: Duration,
    /// Notices to the staff of a unit that must act (工作通知, [`crate::staff_notify`]).
    pub staff: bool,
    /// E-mail of staff notices over SMTP (none without).
    pub smtp: Option<crate::staff_notify::SmtpConfig>,
    /// Days between 包案 progress reminders to the leader in charge (0: none).
    pub charge_reminder_days: u32,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            sms: true,
            inbox: true,
            webhooks: Vec::new(),
            locale: Locale::Zh,
            max_attempts: 8,
            webhook_timeout: Duration::from_secs(10),
            staff: true,
            smtp: None,
            charge_reminder_days: 7,
        }
    }
}

impl WebhookTarget {
    /// Checks a webhook target from the command line or the environment.
    pub fn new(url: &str, secret: &[u8]) -> Result<WebhookTarget, String> {
        if !url.starts_with("http://") {
            return Err(format!(
                "the webhook URL must start with http:// (this build has no TLS client; use a \
                 relay on the internal network, the request is signed either way): {url}"
            ));
        }
        if secret.len() < 16 {
            return Err("the webhook secret must be at least 16 bytes".into());
        }
        Ok(WebhookTarget {
            url: url.to_string(),
            secret: secret.to_vec(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Which notices a change causes
// ---------------------------------------------------------------------------------------------

pub(crate) fn china_date(t: Instant) -> String {
    t.with_timezone(&huiyin_domain::CHINA_OFFSET)
        .format("%Y-%m-%d")
        .to_string()
}

fn due_of(
    state: &CaseState,
    policy: &DeadlinePolicy,
    calendar: &Calendar,
    kind: ClockKind,
) -> Option<Instant> {
    clock::deadlines(&state.timers, policy, calendar)
        .into_iter()
        .filter(|d| d.kind == kind && d.stopped_at.is_none())
        .map(|d| d.due_at)
        .max()
}

/// The notices `events` (just decided, already folded into `state`) cause, as jobs for the
/// writer's transaction.
pub fn notices_for(
    config: &NotifyConfig,
    state: &CaseState,
    events: &[Event],
    policy: &DeadlinePolicy,
    calendar: &Calendar,
) -> Vec<NewJob> {
    let mut jobs = Vec::new();
    let receipt = state.receipt.display();
    let due = |kind| {
        due_of(state, policy, calendar, kind)
            .map(china_date)
            .unwrap_or_default()
    };
    for event in events {
        let mut steps: Vec<(Step, Vec<(&str, String)>)> = Vec::new();
        match &event.kind {
            EventKind::Registered { .. } => steps.push((Step::Registered, vec![])),
            EventKind::Accepted {
                notice_to_petitioner: true,
            } => steps.push((Step::Accepted, vec![("deadline", due(ClockKind::Handling))])),
            EventKind::Declined {
                reason, guidance, ..
            } => steps.push((
                Step::Declined,
                vec![
                    ("reason", reason.to_string()),
                    ("guidance", guidance.to_string()),
                ],
            )),
            EventKind::ExtensionApproved { days, reason } => steps.push((
                Step::Extended,
                vec![
                    ("days", days.to_string()),
                    ("reason", reason.to_string()),
                    ("deadline", due(ClockKind::Handling)),
                ],
            )),
            EventKind::Replied { .. } => {
                steps.push((Step::Replied, vec![]));
                steps.push((Step::RateInvite, vec![("deadline", due(ClockKind::Rating))]));
                steps.push((
                    Step::ReviewRight,
                    vec![("deadline", due(ClockKind::ReviewRequest))],
                ));
            }
            EventKind::ReviewDecided { .. } => steps.push((
                Step::RereviewRight,
                vec![("deadline", due(ClockKind::RereviewRequest))],
            )),
            _ => {}
        }
        for (step, extra) in steps {
            let mut vars = BTreeMap::new();
            vars.insert("receipt".to_string(), receipt.clone());
            for (k, v) in extra {
                vars.insert(k.to_string(), v);
            }
            let mut channels = Vec::new();
            let phone = state
                .petition
                .petitioner_masked
                .as_ref()
                .is_some_and(|m| m.phone.is_some());
            if phone && config.sms {
                channels.push(Channel::Sms);
            }
            if phone && config.inbox {
                channels.push(Channel::Inbox);
            }
            channels.extend((0..config.webhooks.len()).map(|target| Channel::Webhook { target }));
            for channel in channels {
                let notice = Notice {
                    case_id: state.id.to_string(),
                    step,
                    channel,
                    locale: config.locale,
                    vars: vars.clone(),
                };
                let Ok(payload) = serde_json::to_string(&notice) else {
                    continue;
                };
                jobs.push(NewJob {
                    kind: NOTICE_KIND.into(),
                    payload,
                    idempotency_key: format!(
                        "{}:{}:{}:{}",
                        state.id,
                        event.version,
                        step.as_str(),
                        channel.key()
                    ),
                    case_id: Some(state.id.to_string()),
                    run_at_ms: event.at.timestamp_millis(),
                    max_attempts: config.max_attempts.max(1),
                    created_at_ms: event.at.timestamp_millis(),
                });
            }
        }
    }
    jobs
}

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

/// The built-in template of a step.
pub fn default_template(step: Step, locale: Locale, format: Format) -> &'static str {
    use Locale::{En, Zh};
    let text = match (step, locale) {
        (Step::Registered, Zh) => {
            "【回音】您的信访事项（编号{receipt}）已登记，请凭编号和查询密码查询办理进展。"
        }
        (Step::Registered, En) => {
            "[Huiyin] Your petition {receipt} has been registered. Use the number and your query password to follow it."
        }
        (Step::Accepted, Zh) => {
            "【回音】您的信访事项（编号{receipt}）已受理，将于{deadline}前办结并书面答复。"
        }
        (Step::Accepted, En) => {
            "[Huiyin] Your petition {receipt} has been accepted and will be answered in writing by {deadline}."
        }
        (Step::Declined, Zh) => {
            "【回音】您的信访事项（编号{receipt}）不予受理。理由：{reason}。{guidance}"
        }
        (Step::Declined, En) => {
            "[Huiyin] Your petition {receipt} was not accepted. Reason: {reason}. {guidance}"
        }
        (Step::Extended, Zh) => {
            "【回音】您的信访事项（编号{receipt}）办理期限延长{days}日，至{deadline}。理由：{reason}"
        }
        (Step::Extended, En) => {
            "[Huiyin] The time to handle your petition {receipt} was extended by {days} days, to {deadline}. Reason: {reason}"
        }
        (Step::Replied, Zh) => {
            "【回音】您的信访事项（编号{receipt}）已出具信访处理意见书，请登录查看。"
        }
        (Step::Replied, En) => {
            "[Huiyin] The written reply to your petition {receipt} is ready; sign in to read it."
        }
        (Step::RateInvite, Zh) => {
            "【回音】请在{deadline}前对信访事项（编号{receipt}）的办理情况作出评价。"
        }
        (Step::RateInvite, En) => {
            "[Huiyin] Please rate how your petition {receipt} was handled, by {deadline}."
        }
        (Step::ReviewRight, Zh) => {
            "【回音】对信访事项（编号{receipt}）的处理意见不服的，可在{deadline}前向上一级机关请求复查。"
        }
        (Step::ReviewRight, En) => {
            "[Huiyin] If you disagree with the reply to {receipt}, you may ask the next-higher authority for a review by {deadline}."
        }
        (Step::RereviewRight, Zh) => {
            "【回音】对信访事项（编号{receipt}）的复查意见不服的，可在{deadline}前请求复核。"
        }
        (Step::RereviewRight, En) => {
            "[Huiyin] If you disagree with the review of {receipt}, you may ask for a re-review by {deadline}."
        }
    };
    match format {
        Format::Text => text,
        // The same words; HTML templates differ once an administrator saves one.
        Format::Html => text,
    }
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub code: &'static str,
    pub message: String,
}

/// The longest template body.
pub const MAX_TEMPLATE_CHARS: usize = 2000;

/// Checks a template when it is saved: not empty, not too long, every `{name}` a placeholder
/// the step provides, no stray or unclosed brace — so a notice never fails to render.
pub fn validate_template(step: Step, body: &str) -> Result<(), TemplateError> {
    let err = |code, message: String| Err(TemplateError { code, message });
    if body.trim().is_empty() {
        return err("template_empty", "模板内容不能为空".into());
    }
    if body.chars().count() > MAX_TEMPLATE_CHARS {
        return err(
            "template_too_long",
            format!("模板最多{MAX_TEMPLATE_CHARS}个字符"),
        );
    }
    let mut rest = body;
    while let Some(i) = rest.find(['{', '}']) {
        if rest[i..].starts_with('}') {
            return err(
                "template_brace",
                format!(
                    "第{}个字符处有多余的「}}」",
                    body.len() - rest.len() + i + 1
                ),
            );
        }
        let after = &rest[i + 1..];
        let Some(end) = after
            .find(['{', '}'])
            .filter(|&e| after[e..].starts_with('}'))
        else {
            return err("template_brace", "「{」没有对应的「}」".into());
        };
        let name = &after[..end];
        if !step.variables().contains(&name) {
            return err(
                "template_unknown_placeholder",
                format!(
                    "「{{{name}}}」不是「{}」模板可用的占位符（可用：{}）",
                    step.as_str(),
                    step.variables()
                        .iter()
                        .map(|v| format!("{{{v}}}"))
                        .collect::<Vec<_>>()
                        .join("、")
                ),
            );
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Fills a (validated) template; for HTML the values are escaped.
pub fn render(body: &str, vars: &BTreeMap<String, String>, format: Format) -> String {
    let mut out = String::with_capacity(body.len() + 64);
    let mut rest = body;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(end) => {
                let value = vars.get(&after[..end]).map(String::as_str).unwrap_or("");
                match format {
                    Format::Text => out.push_str(value),
                    Format::Html => out.push_str(&escape_html(value)),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

type TemplateKey = (Step, Locale, Format);

/// Templates saved by administrators, read from the database at most every few seconds.
#[derive(Default)]
struct TemplateCache {
    loaded: Option<(std::time::Instant, HashMap<TemplateKey, String>)>,
}

const TEMPLATE_TTL: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------------

/// The header carrying the idempotency key of a delivery.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// How far a webhook's timestamp may be from the receiver's clock.
pub const WEBHOOK_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// What a receiver checks: the HMAC-SM3 signature of `timestamp + "\n" + body` and a timestamp
/// within [`WEBHOOK_TOLERANCE_MS`] of its own clock (a replayed old request fails).
pub fn verify_webhook(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now_ms: i64,
) -> bool {
    let Ok(ts) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    (now_ms - ts).abs() <= WEBHOOK_TOLERANCE_MS
        && crate::sms::verify_signature(secret, ts, body, signature)
}

/// Runs `notice` jobs.
pub struct NoticeHandler {
    client: reqwest::Client,
    templates: RwLock<TemplateCache>,
    staff: crate::staff_notify::StaffNoticeHandler,
}

impl NoticeHandler {
    pub fn new(config: &NotifyConfig) -> Result<NoticeHandler, String> {
        let client = reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(NoticeHandler {
            client,
            templates: RwLock::new(TemplateCache::default()),
            staff: crate::staff_notify::StaffNoticeHandler::new(config)?,
        })
    }

    async fn template(&self, app: &App, key: TemplateKey) -> String {
        let fresh = |c: &TemplateCache| {
            c.loaded
                .as_ref()
                .filter(|(at, _)| at.elapsed() < TEMPLATE_TTL)
                .map(|(_, m)| m.get(&key).cloned())
        };
        let cached = match self.templates.read() {
            Ok(c) => fresh(&c),
            Err(_) => None,
        };
        let saved = match cached {
            Some(found) => found,
            None => {
                let mut map = HashMap::new();
                match app.store().notice_templates().await {
                    Ok(rows) => {
                        for (step, locale, format, body) in rows {
                            if let (Some(s), Some(l), Some(f)) = (
                                Step::parse(&step),
                                Locale::parse(&locale),
                                Format::parse(&format),
                            ) {
                                map.insert((s, l, f), body);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read saved templates; using the built-in ones")
                    }
                }
                let found = map.get(&key).cloned();
                if let Ok(mut c) = self.templates.write() {
                    c.loaded = Some((std::time::Instant::now(), map));
                }
                found
            }
        };
        saved.unwrap_or_else(|| default_template(key.0, key.1, key.2).to_string())
    }

    /// Opens the petitioner's phone from the sealed record (audited for 检举控告).
    async fn phone(&self, app: &App, notice: &Notice) -> Result<Option<PhoneNumber>, JobError> {
        let case_id = CaseId::new(notice.case_id.clone());
        let retry = |e: String| JobError::Retry(e);
        let Some((sealed, _)) = app
            .store()
            .personal_data(&case_id)
            .await
            .map_err(|e| retry(e.to_string()))?
        else {
            return Ok(None);
        };
        let plain = app
            .cipher()
            .decrypt(&sealed, case_id.as_str().as_bytes())
            .map_err(|e| JobError::Permanent(format!("opening personal data: {e}")))?;
        let data: serde_json::Value = serde_json::from_slice(&plain)
            .map_err(|e| JobError::Permanent(format!("personal data JSON: {e}")))?;
        let phone = data
            .pointer("/petitioner/phone")
            .and_then(|p| p.as_str())
            .and_then(|p| PhoneNumber::parse(p).ok());
        let accusation = app
            .store()
            .case(&case_id)
            .await
            .map_err(|e| retry(e.to_string()))?
            .is_some_and(|c| {
                c.state.class == Some(huiyin_domain::petition::StatutoryClass::Accusation)
            });
        if accusation {
            app.store()
                .append_audit(&AuditEntry {
                    at_ms: app.now().timestamp_millis(),
                    actor: "system:notify".into(),
                    actor_unit: None,
                    action: "read_personal_data".into(),
                    case_id: Some(notice.case_id.clone()),
                    detail: serde_json::json!({
                        "purpose": "notice",
                        "step": notice.step.as_str(),
                        "fields": ["phone"],
                    })
                    .to_string(),
                })
                .await
                .map_err(|e| retry(e.to_string()))?;
        }
        Ok(phone)
    }

    async fn deliver(
        &self,
        app: &App,
        job: &ClaimedJob,
        notice: &Notice,
    ) -> Result<String, JobError> {
        let text = render(
            &self
                .template(app, (notice.step, notice.locale, Format::Text))
                .await,
            &notice.vars,
            Format::Text,
        );
        match notice.channel {
            Channel::Sms => {
                let Some(phone) = self.phone(app, notice).await? else {
                    return Ok("skipped: no phone number on record".into());
                };
                app.sms()
                    .send_keyed(phone.as_str(), &text, &job.idempotency_key)
                    .await
                    .map_err(|e| match e {
                        crate::sms::SmsError::Config(m) => JobError::Permanent(m),
                        other => JobError::Retry(other.to_string()),
                    })?;
                Ok(format!("sent to {}", phone.masked()))
            }
            Channel::Inbox => {
                let Some(phone) = self.phone(app, notice).await? else {
                    return Ok("skipped: no phone number on record".into());
                };
                let new = app
                    .store()
                    .put_inbox_message(
                        &job.idempotency_key,
                        &crate::auth::phone_hash(&phone),
                        &notice.case_id,
                        notice.step.as_str(),
                        &text,
                        app.now().timestamp_millis(),
                    )
                    .await
                    .map_err(|e| JobError::Retry(e.to_string()))?;
                Ok(if new {
                    "in the inbox".into()
                } else {
                    "in the inbox already (duplicate)".into()
                })
            }
            Channel::Webhook { target } => {
                let Some(hook) = app.notify_config().webhooks.get(target) else {
                    return Err(JobError::Permanent(format!(
                        "webhook {target} is no longer configured"
                    )));
                };
                let html = render(
                    &self
                        .template(app, (notice.step, notice.locale, Format::Html))
                        .await,
                    &notice.vars,
                    Format::Html,
                );
                let timestamp = chrono::Utc::now().timestamp_millis();
                let body = serde_json::to_vec(&serde_json::json!({
                    "id": job.idempotency_key,
                    "case_id": notice.case_id,
                    "step": notice.step.as_str(),
                    "locale": notice.locale.as_str(),
                    "text": text,
                    "html": html,
                    "vars": notice.vars,
                    "timestamp": timestamp,
                }))
                .map_err(|e| JobError::Permanent(e.to_string()))?;
                let signature = crate::sms::sign(&hook.secret, timestamp, &body)
                    .map_err(|e| JobError::Permanent(e.to_string()))?;
                let response = self
                    .client
                    .post(&hook.url)
                    .header("content-type", "application/json")
                    .header(crate::sms::TIMESTAMP_HEADER, timestamp.to_string())
                    .header(crate::sms::SIGNATURE_HEADER, signature)
                    .header(IDEMPOTENCY_HEADER, job.idempotency_key.as_str())
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| JobError::Retry(format!("webhook unreachable: {e}")))?;
                let status = response.status();
                if status.is_success() {
                    Ok(format!("HTTP {}", status.as_u16()))
                } else if status.is_server_error()
                    || status.as_u16() == 408
                    || status.as_u16() == 429
                {
                    Err(JobError::Retry(format!("webhook answered HTTP {status}")))
                } else {
                    Err(JobError::Permanent(format!(
                        "webhook refused the notice: HTTP {status}"
                    )))
                }
            }
        }
    }
}

impl JobHandler for NoticeHandler {
    fn run<'a>(&'a self, app: &'a App, job: &'a ClaimedJob) -> JobFuture<'a> {
        Box::pin(async move {
            if job.kind != NOTICE_KIND {
                return self.staff.run(app, job).await;
            }
            let notice: Notice = serde_json::from_str(&job.payload)
                .map_err(|e| JobError::Permanent(format!("malformed notice: {e}")))?;
            let channel = match notice.channel {
                Channel::Sms => "sms",
                Channel::Inbox => "inbox",
                Channel::Webhook { .. } => "webhook",
            };
            let result = self.deliver(app, job, &notice).await;
            let logged: Result<&str, String> = match &result {
                Ok(d) => Ok(d.as_str()),
                Err(e) => Err(e.to_string()),
            };
            crate::staff_notify::log_delivery(
                app,
                job,
                Some(&notice.case_id),
                channel,
                notice.step.as_str(),
                logged,
            )
            .await;
            result.map(|_| ())
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Administration
// ---------------------------------------------------------------------------------------------

fn require_admin(actor: &huiyin_domain::case::Actor) -> Result<(), AppError> {
    if actor.has(huiyin_domain::case::Role::Administrator) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "只有系统管理员可以管理通知和任务队列".into(),
        ))
    }
}

impl App {
    /// The dead letters (administrators).
    pub async fn dead_jobs(
        &self,
        actor: &huiyin_domain::case::Actor,
        before_ms: Option<i64>,
        limit: i64,
    ) -> Result<Vec<huiyin_store::JobRecord>, AppError> {
        require_admin(actor)?;
        Ok(self.store().dead_jobs(before_ms, limit).await?)
    }

    /// Puts a dead letter back in the queue (administrators; audited).
    pub async fn retry_dead_job(
        &self,
        actor: &huiyin_domain::case::Actor,
        id: &str,
    ) -> Result<(), AppError> {
        require_admin(actor)?;
        let now = self.now().timestamp_millis();
        if !self.store().retry_dead_job(id, now).await? {
            return Err(AppError::NotFound("没有这条死信（可能已重试）".into()));
        }
        self.store()
            .append_audit(&AuditEntry {
                at_ms: now,
                actor: actor.id.to_string(),
                actor_unit: actor.unit.as_ref().map(|u| u.to_string()),
                action: "retry_dead_job".into(),
                case_id: None,
                detail: serde_json::json!({ "job": id }).to_string(),
            })
            .await?;
        self.job_signal().notify();
        Ok(())
    }

    /// How many jobs are in each state (administrators).
    pub async fn job_counts(
        &self,
        actor: &huiyin_domain::case::Actor,
    ) -> Result<huiyin_store::JobCounts, AppError> {
        require_admin(actor)?;
        Ok(self.store().job_counts().await?)
    }

    /// A case's delivery log, for those who may read the case.
    pub async fn deliveries(
        &self,
        actor: &huiyin_domain::case::Actor,
        case_id: &CaseId,
    ) -> Result<Vec<DeliveryRecord>, AppError> {
        self.authorize_case(actor, case_id, huiyin_domain::access::Action::ReadEvents)
            .await?;
        Ok(self.store().deliveries_for_case(case_id.as_str()).await?)
    }

    /// Saves a notification template (administrators): refused when malformed, so a notice
    /// never fails when sent.
    pub async fn save_notice_template(
        &self,
        actor: &huiyin_domain::case::Actor,
        step: &str,
        locale: &str,
        format: &str,
        body: &str,
    ) -> Result<(), AppError> {
        require_admin(actor)?;
        let step = Step::parse(step).ok_or_else(|| {
            AppError::invalid(
                "step",
                "unknown_step",
                format!(
                    "没有这个通知环节；可用：{}",
                    Step::ALL.map(Step::as_str).join("、")
                ),
            )
        })?;
        let locale = Locale::parse(locale)
            .ok_or_else(|| AppError::invalid("locale", "unknown_locale", "语言应为 zh 或 en"))?;
        let format = Format::parse(format).ok_or_else(|| {
            AppError::invalid("format", "unknown_format", "格式应为 text 或 html")
        })?;
        validate_template(step, body).map_err(|e| AppError::invalid("body", e.code, e.message))?;
        self.store()
            .put_notice_template(
                step.as_str(),
                locale.as_str(),
                format.as_str(),
                body,
                self.now().timestamp_millis(),
            )
            .await?;
        Ok(())
    }

    /// A petitioner's in-app inbox (by petitioner session).
    pub async fn my_inbox(
        &self,
        session: &str,
    ) -> Result<Vec<huiyin_store::InboxMessage>, AppError> {
        let account = self
            .petitioner_account(session)
            .await
            .map_err(|e| AppError::Unauthorized(e.to_string()))?;
        Ok(self.store().inbox_for_account(&account, 100).await?)
    }
}

/// The default handler set: notices to petitioners and to staff, broadcasts and e-mail.
pub fn handler(config: &NotifyConfig) -> Result<Arc<dyn JobHandler>, String> {
    Ok(Arc::new(NoticeHandler::new(config)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_template_is_valid() {
        for step in Step::ALL {
            for locale in [Locale::Zh, Locale::En] {
                for format in [Format::Text, Format::Html] {
                    let t = default_template(step, locale, format);
                    assert_eq!(validate_template(step, t), Ok(()), "{step:?} {locale:?}");
                }
            }
        }
    }

    #[test]
    fn malformed_templates_are_refused_with_a_code() {
        let code = |step, body| validate_template(step, body).err().map(|e| e.code);
        assert_eq!(code(Step::Accepted, ""), Some("template_empty"));
        assert_eq!(
            code(Step::Accepted, "已受理 {receipt"),
            Some("template_brace")
        );
        assert_eq!(
            code(Step::Accepted, "已受理 receipt}"),
            Some("template_brace")
        );
        assert_eq!(code(Step::Accepted, "{a{b}}"), Some("template_brace"));
        assert_eq!(
            code(Step::Registered, "{receipt} {deadline}"),
            Some("template_unknown_placeholder")
        );
        assert_eq!(code(Step::Extended, "{days}日 {reason} {deadline}"), None);
        assert_eq!(
            code(Step::Replied, &"长".repeat(MAX_TEMPLATE_CHARS + 1)),
            Some("template_too_long")
        );
    }

    #[test]
    fn rendering_fills_placeholders_and_escapes_html() {
        let mut vars = BTreeMap::new();
        vars.insert("receipt".to_string(), "AB12".to_string());
        vars.insert("reason".to_string(), "<b>x</b> & y".to_string());
        assert_eq!(
            render("编号{receipt}：{reason}", &vars, Format::Text),
            "编号AB12：<b>x</b> & y"
        );
        assert_eq!(
            render("<p>{reason}</p>", &vars, Format::Html),
            "<p>&lt;b&gt;x&lt;/b&gt; &amp; y</p>"
        );
    }

    #[test]
    fn webhook_verification_refuses_forgeries_and_replays() {
        let secret = b"0123456789abcdef-hook";
        let body = br#"{"id":"k"}"#;
        let now = 1_700_000_000_000;
        let sig = crate::sms::sign(secret, now, body).unwrap_or_default();
        assert!(verify_webhook(
            secret,
            &now.to_string(),
            &sig,
            body,
            now + 1000
        ));
        assert!(!verify_webhook(
            secret,
            &now.to_string(),
            &sig,
            br#"{"id":"x"}"#,
            now
        ));
        assert!(!verify_webhook(
            secret,
            &now.to_string(),
            &sig,
            body,
            now + WEBHOOK_TOLERANCE_MS + 1
        ));
        assert!(!verify_webhook(secret, "soon", &sig, body, now));
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let b = crate::jobs::Backoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
        };
        let mut rng = rand::rng();
        for _ in 0..50 {
            let d1 = b.delay(1, &mut rng);
            assert!(d1 >= Duration::from_secs(1) && d1 <= Duration::from_secs(2));
            let d3 = b.delay(3, &mut rng);
            assert!(d3 >= Duration::from_secs(4) && d3 <= Duration::from_secs(8));
            let d30 = b.delay(30, &mut rng);
            assert!(d30 >= Duration::from_secs(30) && d30 <= Duration::from_secs(60));
        }
    }
}
