//! Huiyin's use cases: one function per command, one transaction each.
//!
//! Every write goes through the [`writer`]: a single task that gathers the commands that arrive
//! while the previous transaction commits and writes them together (group commit). Each command
//! is still decided on its own against the state it sees; a rejected command writes nothing.
//! With SQLite that turns one fsync per petition into one fsync per batch; with PostgreSQL it
//! keeps the chain-head lock short.
#![forbid(unsafe_code)]

pub mod access;
pub mod admin;
pub mod attachments;
pub mod auth;
pub mod crypto;
pub mod dashboard;
pub mod deadlines;
pub mod error;
pub mod export;
pub mod jobs;
pub mod leader;
pub mod notify;
pub mod rules;
pub mod search;
pub mod secrets;
pub mod sms;
pub mod staff_notify;
pub mod stats;
pub mod text;
pub mod units;
pub mod views;
pub mod warnings;
pub mod workbench;
mod writer;

use std::sync::{Arc, Mutex};

use huiyin_domain::Instant;
use huiyin_domain::calendar::Calendar;
use huiyin_domain::case::{Actor, CaseState, Command, Role};

use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_domain::petition::{Channel, Petition};
use huiyin_domain::policy::{DeadlinePolicy, PolicySet};
use huiyin_domain::values::ReceiptCode;
use huiyin_store::{CaseSummary, ListFilter, Projection, Store, UnitRecord};

pub use error::AppError;
pub use views::{CaseView, DeadlineView, PublicView, TimelineEntry};
pub use writer::WriterStats;

/// Where "now" comes from: the system clock, or a clock tests can move.
#[derive(Clone)]
pub enum Clock {
    System,
    Manual(Arc<Mutex<Instant>>),
}

impl Clock {
    /// Now, to the millisecond: the store keeps event times in milliseconds, and a case's
    /// stored projection must equal the replay of its stored events (`huiyin verify`).
    pub fn now(&self) -> Instant {
        use chrono::SubsecRound;
        let t = match self {
            Clock::System => chrono::Utc::now(),
            Clock::Manual(t) => match t.lock() {
                Ok(t) => *t,
                Err(poisoned) => *poisoned.into_inner(),
            },
        };
        t.trunc_subsecs(3)
    }

    /// A manual clock starting at `t`.
    pub fn manual(t: Instant) -> Clock {
        Clock::Manual(Arc::new(Mutex::new(t)))
    }

    /// Moves a manual clock (no effect on the system clock).
    pub fn set(&self, t: Instant) {
        if let Clock::Manual(m) = self {
            match m.lock() {
                Ok(mut g) => *g = t,
                Err(poisoned) => *poisoned.into_inner() = t,
            }
        }
    }
}

/// The application's settings.
#[derive(Clone)]
pub struct Config {
    pub policies: PolicySet,
    pub calendar: &'static Calendar,
    pub clock: Clock,
    /// The most commands written in one transaction.
    pub max_batch: usize,
    /// Seals personal data at rest (SM4-GCM; see [`crypto`]). The default is a throwaway key:
    /// the binary loads the real keyring with [`crypto::Keyring::load`].
    pub cipher: crypto::SharedCipher,
    /// Sessions, lockout, rate limits, SMS codes.
    pub auth: auth::AuthConfig,
    /// How SMS codes reach petitioners (default: written to the log).
    pub sms: Arc<dyn sms::SmsGateway>,
    /// The rules in force (policies, calendar, categories with what administrators stored):
    /// [`App::new`] starts them from `policies` and `calendar`, [`App::load_rules`] adds the
    /// stored changes.
    pub rules: rules::LiveRules,
    /// Petitioner notices through the outbox: channels, webhooks, retries (issue 6).
    pub notify: notify::NotifyConfig,
    /// Where the full-text search index lives (`None`: in memory, rebuilt at start).
    pub search_dir: Option<std::path::PathBuf>,
    /// The segmenter with the deployment's user dictionaries (default: the shipped one).
    pub segmenter: Option<&'static huiyin_text::segment::Segmenter>,
    /// Public statistics (公开统计, opt-in): the GB/T 2260 region whose aggregate figures anyone
    /// may see on the portal; `None` (the default): no public statistics.
    pub public_stats: Option<String>,
    /// Where background exports write their files (`None`: a folder in the system's temp
    /// directory); files expire after 24 h (see [`export`]).
    pub export_dir: Option<std::path::PathBuf>,
    /// Exports of at most this many rows download at once; longer ones run in the background
    /// (default [`export::IMMEDIATE_ROWS`]).
    pub export_immediate_rows: u64,
    /// The thresholds of the early-warning scan (预警; defaults in
    /// [`huiyin_domain::warning::WarningPolicy`]) at start; an administrator's stored setting
    /// replaces them (see [`App::warning_policy`]).
    pub warnings: huiyin_domain::warning::WarningPolicy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            policies: PolicySet::default(),
            calendar: Calendar::china(),
            clock: Clock::System,
            max_batch: 256,
            cipher: Arc::new(crypto::Keyring::ephemeral()),
            auth: auth::AuthConfig::default(),
            sms: Arc::new(sms::DevSms),
            rules: rules::LiveRules::default(),
            notify: notify::NotifyConfig::default(),
            search_dir: None,
            public_stats: None,
            segmenter: None,
            export_dir: None,
            export_immediate_rows: export::IMMEDIATE_ROWS,
            warnings: huiyin_domain::warning::WarningPolicy::default(),
        }
    }
}

/// The application: the store, the policies, and the writer.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: Config,
    writer: writer::Handle,
    /// Duplicate index and suggestion models: derived, rebuilt from the log (see [`text`]).
    text: text::TextIndex,
    /// Wakes this process's job workers when a commit enqueued jobs.
    jobs: Arc<jobs::JobSignal>,
    /// Group commit of the workers' job outcomes.
    outcomes: jobs::Outcomes,
    /// Full-text search index: derived, fed from the log (see [`search`]).
    search: search::SearchState,
    /// The audit chain's head when the rules were last read (see [`App::refresh_rules`]).
    rules_seen: std::sync::atomic::AtomicI64,
    /// Background exports of this process (see [`export`]).
    exports: export::ExportJobs,
}

/// A new petition as the web layer parsed it.
#[derive(Debug, Clone)]
pub struct NewPetition {
    pub petition: Petition,
    /// A client-chosen key: the same key submitted twice creates one petition.
    pub idempotency_key: Option<String>,
    /// For staff entry of letters and visits: when it was received (defaults to now).
    pub received_at: Option<Instant>,
}

/// What a submitter gets back.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Receipt {
    pub case_id: String,
    /// The receipt code (受理凭证编号), shown as XXXX-XXXX-XXXX.
    pub receipt_code: String,
    /// The query secret (查询密码); shown once, needed with the code to look the case up.
    pub secret: String,
    /// The bureau that received it.
    pub bureau_id: String,
    pub bureau_name: String,
    pub received_at: Instant,
    /// The deadline for registration and routing.
    pub register_due_at: Option<Instant>,
    /// This request repeated an earlier one with the same idempotency key.
    pub replayed: bool,
}

impl App {
    /// Starts the application (and its writer task) on a migrated store.
    pub fn new(store: Store, config: Config) -> App {
        let mut config = config;
        config.rules = rules::LiveRules::new(
            rules::Rules::base(config.policies.clone(), config.calendar)
                .with_warnings(config.warnings.clone()),
        );
        let jobs = Arc::new(jobs::JobSignal::default());
        let writer = writer::spawn(store.clone(), config.clone(), jobs.clone());
        let outcomes = jobs::Outcomes::spawn(store.clone());
        let exports = export::ExportJobs::new(config.export_dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("huiyin-exports-{}", std::process::id()))
        }));
        let inner = Arc::new(Inner {
            store,
            config,
            writer,
            text: text::TextIndex::default(),
            jobs,
            outcomes,
            search: search::SearchState::default(),
            rules_seen: std::sync::atomic::AtomicI64::new(-1),
            exports,
        });
        App { inner }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn now(&self) -> Instant {
        self.inner.config.clock.now()
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.config.clock
    }

    /// The holiday calendar in force (the shipped years with those administrators entered).
    pub fn calendar(&self) -> Arc<Calendar> {
        Arc::clone(&self.inner.config.rules.current().calendar)
    }

    /// The rules in force now (policies, calendar, categories).
    pub fn rules(&self) -> Arc<rules::Rules> {
        self.inner.config.rules.current()
    }

    /// The statistics indicator configuration in force (an administrator's setting, else
    /// [`huiyin_domain::stats::IndicatorConfig::default`]): every figure is computed under it.
    pub fn indicator_config(&self) -> huiyin_domain::stats::IndicatorConfig {
        self.inner.config.rules.current().indicators.clone()
    }

    /// The early-warning thresholds in force (an administrator's setting, else the start-up
    /// [`Config::warnings`]).
    pub fn warning_policy(&self) -> huiyin_domain::warning::WarningPolicy {
        self.inner.config.rules.current().warnings.clone()
    }

    /// The start-up warning thresholds ([`Config::warnings`]): what "restore defaults" puts
    /// back.
    pub fn default_warning_policy(&self) -> &huiyin_domain::warning::WarningPolicy {
        &self.inner.config.warnings
    }

    /// The deadline policy for a case's place and category.
    pub fn policy_for(&self, state: &CaseState) -> DeadlinePolicy {
        self.inner.config.rules.current().policy_for(state)
    }

    /// Records what became of a claimed job (finished, failed, a delivery attempt), committed
    /// together with the other outcomes waiting. `Ok(false)`: the lease had been lost.
    pub async fn record_job_outcome(
        &self,
        outcome: huiyin_store::JobOutcome,
    ) -> Result<bool, String> {
        self.inner.outcomes.write(outcome).await
    }

    /// Wakes this process's job workers (a commit that enqueued jobs calls it).
    pub fn job_signal(&self) -> Arc<jobs::JobSignal> {
        self.inner.jobs.clone()
    }

    /// The SMS sender.
    pub fn sms(&self) -> &dyn sms::SmsGateway {
        self.inner.config.sms.as_ref()
    }

    /// The notification settings.
    pub fn notify_config(&self) -> &notify::NotifyConfig {
        &self.inner.config.notify
    }

    pub fn writer_stats(&self) -> WriterStats {
        self.inner.writer.stats()
    }

    /// Submits a petition. The actor decides which channels are allowed: petitioners submit
    /// online, proxies as proxies, staff and API clients any channel.
    pub async fn submit(&self, actor: Actor, new: NewPetition) -> Result<Receipt, AppError> {
        check_channel(&actor, new.petition.channel)?;
        if let Err(errors) = new.petition.validate() {
            return Err(AppError::Invalid(errors));
        }
        let bureau = self
            .store()
            .bureau_for_region(new.petition.region.as_str())
            .await?
            .ok_or_else(|| {
                AppError::Unavailable("没有负责该地区的信访部门，请联系管理员导入组织机构".into())
            })?;
        self.inner
            .writer
            .submit(actor, new, UnitId::new(bureau.id.clone()), bureau.name)
            .await
    }

    /// Runs a command on a case. With `expected_version`, the case must still be at that
    /// version (the caller saw it so), else the command is refused with a conflict.
    pub async fn execute(
        &self,
        actor: Actor,
        case_id: CaseId,
        command: Command,
        expected_version: Option<u64>,
    ) -> Result<CaseState, AppError> {
        if matches!(command, Command::Absorb { .. }) {
            // The surviving side of a merge is written only together with its `merge_into`.
            return Err(AppError::invalid(
                "command",
                "command_internal",
                "「absorb」只能通过「merge_into」并单时自动记录",
            ));
        }
        if let Command::HandOverCharge { to, to_unit, .. } = &command {
            self.check_charge_target(&case_id, to, to_unit).await?;
        }
        let actor = self.with_oversight(actor, &case_id).await?;
        self.inner
            .writer
            .execute(actor, case_id, command, expected_version)
            .await
    }

    /// Sets `oversees_case` from the organisation tree: the actor's unit is an ancestor of a
    /// unit on the case.
    async fn with_oversight(&self, mut actor: Actor, case_id: &CaseId) -> Result<Actor, AppError> {
        let Some(unit) = actor.unit.clone() else {
            return Ok(actor);
        };
        if !(actor.has(Role::Leader) || actor.has(Role::Supervisor)) {
            return Ok(actor);
        }
        let Some(record) = self.store().case(case_id).await? else {
            return Ok(actor);
        };
        for case_unit in record.state.units() {
            if self.is_ancestor(&unit, case_unit).await? {
                actor.oversees_case = true;
                break;
            }
        }
        // 督办 follows the petition bureaus' own hierarchy: a supervisor of a petition bureau
        // oversees every case of its region, whichever government department handles it.
        if !actor.oversees_case && actor.has(Role::Supervisor) {
            let principal = self.principal(&actor).await?;
            actor.oversees_case = principal.unit_kind
                == huiyin_domain::access::UnitKind::PetitionBureau
                && principal.region_covers(&record.state.petition.region);
        }
        Ok(actor)
    }

    /// Whether `ancestor` is `unit` or above it in the tree.
    pub async fn is_ancestor(&self, ancestor: &UnitId, unit: &UnitId) -> Result<bool, AppError> {
        let mut current = Some(unit.as_str().to_string());
        let mut steps = 0;
        while let Some(id) = current {
            if id == ancestor.as_str() {
                return Ok(true);
            }
            steps += 1;
            if steps > 16 {
                break;
            }
            current = self.store().unit(&id).await?.and_then(|u| u.parent_id);
        }
        Ok(false)
    }

    /// A case with its deadlines and lights, for staff.
    pub async fn case_view(&self, case_id: &CaseId) -> Result<CaseView, AppError> {
        let record = self
            .store()
            .case(case_id)
            .await?
            .ok_or_else(|| AppError::NotFound("信访事项不存在".into()))?;
        Ok(views::case_view(self, record.state))
    }

    /// The events of a case, for staff.
    pub async fn events(
        &self,
        case_id: &CaseId,
    ) -> Result<Vec<huiyin_store::StoredEvent>, AppError> {
        Ok(self.store().events_of(case_id).await?)
    }

    /// The petitioner's own view, after checking the receipt code and secret.
    pub async fn public_lookup(
        &self,
        receipt: &ReceiptCode,
        secret: &str,
    ) -> Result<PublicView, AppError> {
        let case_id = self.check_secret(receipt, secret).await?;
        let record = self
            .store()
            .case(&case_id)
            .await?
            .ok_or_else(|| AppError::NotFound("信访事项不存在".into()))?;
        let events = self.store().events_of(&case_id).await?;
        Ok(views::public_view(self, &record.state, &events))
    }

    /// A petitioner acts on their own case (rate, ask for review or re-review, withdraw).
    pub async fn petitioner_command(
        &self,
        receipt: &ReceiptCode,
        secret: &str,
        command: Command,
    ) -> Result<PublicView, AppError> {
        let allowed = matches!(
            command,
            Command::Rate { .. }
                | Command::RequestReview { .. }
                | Command::RequestRereview { .. }
                | Command::Withdraw { .. }
                | Command::WithdrawPublicationConsent
        );
        if !allowed {
            return Err(AppError::Forbidden("信访人不能进行此操作".into()));
        }
        let case_id = self.check_secret(receipt, secret).await?;
        let actor = Actor {
            id: ActorId::new(format!("petitioner:{}", receipt.as_str())),
            roles: vec![Role::Petitioner],
            unit: None,
            oversees_case: false,
            is_case_petitioner: true,
        };
        self.inner
            .writer
            .execute(actor, case_id, command, None)
            .await?;
        self.public_lookup(receipt, secret).await
    }

    /// The organ a petitioner's review (复查) or re-review (复核) goes to by default: the
    /// next-higher unit of the one that replied (or of the reviewer, for a re-review); the
    /// bureau's parent when the tree has nothing above. Checked with the receipt and secret.
    pub async fn petitioner_review_unit(
        &self,
        receipt: &ReceiptCode,
        secret: &str,
        rereview: bool,
    ) -> Result<UnitId, AppError> {
        let case_id = self.check_secret(receipt, secret).await?;
        let record = self
            .store()
            .case(&case_id)
            .await?
            .ok_or_else(|| AppError::NotFound("信访事项不存在".into()))?;
        let state = record.state;
        let from = if rereview {
            state.review_unit.clone()
        } else {
            state.handling_unit().cloned()
        }
        .unwrap_or_else(|| state.bureau.clone());
        match self.parent_unit(&from).await? {
            Some(parent) => Ok(UnitId::new(parent.id)),
            None => Ok(from),
        }
    }

    async fn check_secret(&self, receipt: &ReceiptCode, secret: &str) -> Result<CaseId, AppError> {
        let not_found = || AppError::NotFound("受理凭证编号或查询密码不正确".into());
        let Some((case_id, stored)) = self.store().case_by_receipt(receipt.as_str()).await? else {
            return Err(not_found());
        };
        if !secrets::verify_secret(receipt, secret, &stored) {
            return Err(not_found());
        }
        Ok(case_id)
    }

    /// A work list.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<CaseSummary>, AppError> {
        Ok(self.store().list_cases(filter).await?)
    }

    /// The next-higher unit of `unit` (the organ a review goes to by default).
    pub async fn parent_unit(&self, unit: &UnitId) -> Result<Option<UnitRecord>, AppError> {
        let Some(u) = self.store().unit(unit.as_str()).await? else {
            return Ok(None);
        };
        match u.parent_id {
            Some(p) => Ok(self.store().unit(&p).await?),
            None => Ok(None),
        }
    }

    // ---- API tokens ----

    /// Creates an API token for a machine client; returns the token (shown once).
    pub async fn create_token(
        &self,
        name: &str,
        unit: Option<&str>,
        roles: &[Role],
        valid_days: Option<u32>,
    ) -> Result<String, AppError> {
        if let Some(unit) = unit
            && self.store().unit(unit).await?.is_none()
        {
            return Err(AppError::NotFound(format!("单位 {unit} 不存在")));
        }
        let staff = roles.iter().any(|r| {
            matches!(
                r,
                Role::Registrar | Role::Handler | Role::UnitHead | Role::Leader | Role::Supervisor
            )
        });
        if staff && unit.is_none() {
            return Err(AppError::invalid(
                "unit",
                "token_unit_required",
                "工作人员角色的令牌必须属于一个单位",
            ));
        }
        let token = secrets::new_token();
        let expires = valid_days
            .map(|d| (self.now() + chrono::Duration::days(i64::from(d))).timestamp_millis());
        let roles: Vec<String> = roles.iter().map(|r| r.as_str().to_string()).collect();
        self.store()
            .insert_token(
                &uuid::Uuid::now_v7().to_string(),
                &secrets::token_hash(&token),
                name,
                unit,
                &roles,
                expires,
            )
            .await?;
        Ok(token)
    }

    /// The actor behind a bearer token, if the token is valid.
    pub async fn authenticate_token(&self, token: &str) -> Result<Actor, AppError> {
        let unauthorized = || AppError::Unauthorized("API 令牌无效、已过期或已撤销".into());
        if !token.starts_with(secrets::TOKEN_PREFIX) {
            return Err(unauthorized());
        }
        let Some(record) = self
            .store()
            .token_by_hash(&secrets::token_hash(token))
            .await?
        else {
            return Err(unauthorized());
        };
        if record.revoked
            || record
                .expires_at_ms
                .is_some_and(|e| e <= self.now().timestamp_millis())
        {
            return Err(unauthorized());
        }
        Ok(Actor {
            id: ActorId::new(format!("token:{}", record.id)),
            roles: record.roles.iter().filter_map(|r| Role::parse(r)).collect(),
            unit: record.unit_id.map(UnitId::new),
            oversees_case: false,
            is_case_petitioner: false,
        })
    }
}

fn check_channel(actor: &Actor, channel: Channel) -> Result<(), AppError> {
    let ok = if actor.has(Role::Registrar) || actor.has(Role::System) {
        true
    } else if actor.has(Role::Proxy) {
        channel == Channel::Proxy
    } else if actor.has(Role::Petitioner) {
        matches!(channel, Channel::OnlineWeb | Channel::MobileWeb)
    } else {
        false
    };
    if ok {
        Ok(())
    } else if actor.roles.is_empty() || actor.has(Role::Petitioner) {
        Err(AppError::invalid(
            "channel",
            "channel_not_allowed",
            "网上提交的渠道只能是 online_web 或 mobile_web",
        ))
    } else {
        Err(AppError::Forbidden("该身份不能以此渠道登记信访事项".into()))
    }
}

/// The list columns of a case (see [`Projection::of`]).
pub(crate) fn projection(
    state: &CaseState,
    policy: &DeadlinePolicy,
    calendar: &Calendar,
) -> Projection {
    Projection::of(state, policy, calendar)
}
