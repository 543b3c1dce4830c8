//! Administration (管理) use cases for the administrators' pages: staff users and their roles,
//! the content categories (内容分类), deadline-policy overrides per jurisdiction and the
//! holiday calendar, the statistics indicator configuration and the early-warning thresholds.
//! Only administrators may call them (the access policy's `ManageUsers` and
//! `ManageUnits`), every change is written to the hash-chained audit trail, and a change to the
//! rules is put in force at once (see [`crate::rules`]).
//!
//! User changes go through the same functions as `huiyin user …` ([`App::add_user`],
//! [`App::grant`], [`App::revoke`], [`App::set_user_disabled`], [`App::reset_password`]), with
//! two guards the command line leaves to the operator: the last enabled administrator cannot
//! lose the role or be disabled, and an administrator cannot disable their own account.

use chrono::{Datelike, NaiveDate, Weekday};
use huiyin_domain::access::{Action, authorize};
use huiyin_domain::calendar::{MAX_YEAR, MIN_YEAR};
use huiyin_domain::case::{Actor, Role};
use huiyin_domain::policy::{ClockKind, DeadlinePolicy, Limit, LimitUnit, MAX_LIMIT_DAYS};
use huiyin_domain::stats::IndicatorConfig;
use huiyin_domain::values::FieldError;
use huiyin_domain::warning::WarningPolicy;
use huiyin_store::{
    AuditEntry, CalendarYearRow, CategoryRecord, MembershipRecord, PolicyOverrideRow,
    RuleSettingRow, UserListRow, UserRecord,
};

use crate::auth::{AuthError, CreatedUser};
use crate::rules::{Changed, Rules, StoredOverride};
use crate::{App, AppError};

/// The longest category name (characters).
pub const MAX_CATEGORY_NAME: usize = 30;

/// The deepest category level.
pub const MAX_CATEGORY_LEVEL: i64 = 3;

/// What a category import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CategoryImport {
    /// Lines read (not blank).
    pub lines: usize,
    /// Categories added (at any level).
    pub added: usize,
    /// Categories that existed already.
    pub existing: usize,
}

/// A day of a calendar year as entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDay {
    pub date: NaiveDate,
    pub working: bool,
    pub name: String,
}

/// The stored setting of the statistics indicator configuration ([`IndicatorConfig`]).
pub const INDICATOR_CONFIG: &str = "indicator_config";

/// The stored setting of the early-warning thresholds ([`WarningPolicy`]).
pub const WARNING_POLICY: &str = "warning_policy";

/// Who last changed a stored setting, and when.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChangedBy {
    pub at_ms: i64,
    /// The actor id (`user:…`).
    pub by: String,
    /// The staff member's display name, when the account still exists.
    pub by_name: Option<String>,
}

/// The statistics settings (统计指标与预警阈值) in force, their defaults, and their changes
/// (`None`: the default is in force).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IndicatorSettings {
    pub indicators: IndicatorConfig,
    pub warnings: WarningPolicy,
    pub default_indicators: IndicatorConfig,
    pub default_warnings: WarningPolicy,
    pub indicators_changed: Option<ChangedBy>,
    pub warnings_changed: Option<ChangedBy>,
}

/// A stored setting read back: it was validated when written, so a body that no longer reads
/// or validates is damage, reported rather than silently replaced by the default.
fn stored_setting<T: serde::de::DeserializeOwned, E: std::fmt::Display>(
    row: &RuleSettingRow,
    validate: impl Fn(&T) -> Result<(), E>,
) -> Result<T, AppError> {
    let value: T = serde_json::from_str(&row.body).map_err(|e| {
        AppError::Internal(anyhow::anyhow!(
            "stored setting {:?} unreadable: {e}",
            row.name
        ))
    })?;
    validate(&value).map_err(|e| {
        AppError::Internal(anyhow::anyhow!(
            "stored setting {:?} invalid: {e}",
            row.name
        ))
    })?;
    Ok(value)
}

fn setting_body<T: serde::Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("setting JSON: {e}")))
}

fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> AppError {
    AppError::Invalid(vec![(field.to_string(), FieldError::new(code, message))])
}

/// A limit's length in natural days, to compare limits in different units: hours rounded up
/// to days, a working day counted as 7/5 of a day (rounded up).
pub fn limit_days(l: Limit) -> u32 {
    match l.unit {
        LimitUnit::Hours => l.amount.div_ceil(24),
        LimitUnit::Days => l.amount,
        LimitUnit::WorkingDays => (l.amount * 7).div_ceil(5),
    }
}

/// Whether a timer is a period the petitioner has (复查/复核 requests): a local rule may not
/// shorten it. The organs' periods may be made shorter, never longer, than the 条例's.
pub fn is_petitioner_period(kind: ClockKind) -> bool {
    matches!(kind, ClockKind::ReviewRequest | ClockKind::RereviewRequest)
}

/// Checks a local limit against the statutory one (domain.md section 4): at least 1; an
/// organ's limit no longer than the national one (local rules may only be stricter), a
/// petitioner's period no shorter; the rating window (a product rule) at most a year.
pub fn check_local_limit(kind: ClockKind, limit: Limit) -> Result<(), FieldError> {
    let national = DeadlinePolicy::default().limit(kind);
    let max_amount = match limit.unit {
        LimitUnit::Hours => MAX_LIMIT_DAYS * 24,
        LimitUnit::Days | LimitUnit::WorkingDays => MAX_LIMIT_DAYS,
    };
    if limit.amount == 0 {
        return Err(FieldError::new("limit_zero", "时限至少为1"));
    }
    if limit.amount > max_amount {
        return Err(FieldError::new(
            "limit_too_long",
            format!("时限不能超过{MAX_LIMIT_DAYS}日"),
        ));
    }
    let (days, national_days) = (limit_days(limit), limit_days(national));
    match kind {
        ClockKind::Rating => Ok(()),
        k if is_petitioner_period(k) && days < national_days => Err(FieldError::new(
            "limit_below_statutory",
            format!(
                "信访人的申请期限不能短于法定的{}日（《信访工作条例》第三十五、三十六条）",
                national_days
            ),
        )),
        k if !is_petitioner_period(k) && days > national_days => Err(FieldError::new(
            "limit_above_statutory",
            format!(
                "地方时限只能比法定时限更严：不能超过{}（约{}日）",
                limit_words(national),
                national_days
            ),
        )),
        _ => Ok(()),
    }
}

fn limit_words(l: Limit) -> String {
    match l.unit {
        LimitUnit::Hours => format!("{}小时", l.amount),
        LimitUnit::Days => format!("{}日", l.amount),
        LimitUnit::WorkingDays => format!("{}个工作日", l.amount),
    }
}

/// Checks a category name: 1 to [`MAX_CATEGORY_NAME`] characters, no '/', no control
/// characters. Returns it trimmed.
pub fn check_category_name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(FieldError::new("category_name_empty", "请填写分类名称"));
    }
    if name.chars().count() > MAX_CATEGORY_NAME {
        return Err(FieldError::new(
            "category_name_too_long",
            format!("分类名称不能超过{MAX_CATEGORY_NAME}个字"),
        ));
    }
    if name.contains('/') || name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "category_name_chars",
            "分类名称不能包含“/”或控制字符",
        ));
    }
    Ok(name.to_string())
}

/// Reads the days of one calendar year, one a line: `YYYY-MM-DD off 名称` (a day off) or
/// `YYYY-MM-DD work 名称` (a make-up working day, 调休). Every date in `year`, listed once; a
/// make-up working day on a Saturday or Sunday. Errors name the line.
pub fn parse_calendar_year(year: i32, text: &str) -> Result<Vec<CalendarDay>, FieldError> {
    let mut days: Vec<CalendarDay> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, char::is_whitespace);
        let (date, kind, name) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("").trim(),
            parts.next().unwrap_or("").trim(),
        );
        let Some(date) = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .ok()
            .filter(|_| date.len() == 10)
        else {
            return Err(FieldError::new(
                "calendar_bad_date",
                format!("第{n}行：日期应写作 {year}-01-01 这样的格式"),
            ));
        };
        if date.year() != year {
            return Err(FieldError::new(
                "calendar_wrong_year",
                format!("第{n}行：{date} 不在{year}年"),
            ));
        }
        let working = match kind {
            "off" | "休" => false,
            "work" | "班" => true,
            _ => {
                return Err(FieldError::new(
                    "calendar_bad_kind",
                    format!("第{n}行：日期后应写 off（放假）或 work（调休上班）"),
                ));
            }
        };
        if name.is_empty() || name.chars().count() > 20 {
            return Err(FieldError::new(
                "calendar_bad_name",
                format!("第{n}行：请写上节日名称（1到20个字），例如“春节”"),
            ));
        }
        if working && !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            return Err(FieldError::new(
                "calendar_makeup_weekday",
                format!("第{n}行：{date} 不是周六或周日，调休上班日只能是周末"),
            ));
        }
        if days.iter().any(|d| d.date == date) {
            return Err(FieldError::new(
                "calendar_duplicate",
                format!("第{n}行：{date} 已经列过一次"),
            ));
        }
        days.push(CalendarDay {
            date,
            working,
            name: name.to_string(),
        });
    }
    days.sort_by_key(|d| d.date);
    Ok(days)
}

/// The calendar text format of one year's days (see `huiyin_domain::calendar`).
pub fn calendar_year_text(year: i32, days: &[CalendarDay]) -> String {
    let mut out = format!("year {year}\n");
    for d in days {
        out.push_str(&format!(
            "{} {} {}\n",
            d.date.format("%Y-%m-%d"),
            if d.working { "work" } else { "off" },
            d.name
        ));
    }
    out
}

impl App {
    pub(crate) async fn require(&self, actor: &Actor, action: Action) -> Result<(), AppError> {
        let principal = self.principal(actor).await?;
        authorize(&principal, action, None).map_err(|d| AppError::Forbidden(d.message().into()))
    }

    pub(crate) fn admin_entry(
        &self,
        actor: &Actor,
        action: &str,
        detail: serde_json::Value,
    ) -> AuditEntry {
        AuditEntry {
            at_ms: self.now().timestamp_millis(),
            actor: actor.id.to_string(),
            actor_unit: actor.unit.as_ref().map(|u| u.to_string()),
            action: action.to_string(),
            case_id: None,
            detail: detail.to_string(),
        }
    }

    /// How often a server looks whether another process changed the rules.
    pub const RULES_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

    /// Reloads the rules if anything was audited since they were last read — every rule
    /// change is — so a change made through another server process on the same database is
    /// in force here within [`App::RULES_EVERY`]. Returns whether it reloaded.
    pub async fn refresh_rules(&self) -> Result<bool, AppError> {
        use std::sync::atomic::Ordering;
        let head = self.store().audit_head_seq().await?;
        if head == self.inner.rules_seen.load(Ordering::Acquire) {
            return Ok(false);
        }
        self.load_rules().await?;
        Ok(true)
    }

    /// For the server: [`App::refresh_rules`] every [`App::RULES_EVERY`].
    pub fn start_rules_watch(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let inner = std::sync::Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(Self::RULES_EVERY).await;
                let Some(inner) = inner.upgrade() else { return };
                let app = App { inner };
                if let Err(e) = app.refresh_rules().await {
                    tracing::warn!(error = %e, "rules: reloading after a change elsewhere failed");
                }
            }
        });
    }

    /// Reads the stored rule changes (policy overrides, calendar years, categories) and puts
    /// them in force over the configured base. Called at start and after every change.
    pub async fn load_rules(&self) -> Result<(), AppError> {
        // Read before the rules, so a change committed meanwhile is seen by the next refresh.
        let head = self.store().audit_head_seq().await?;
        let config = &self.inner.config;
        let mut rules = Rules::base(config.policies.clone(), config.calendar)
            .with_warnings(config.warnings.clone());
        for row in self.store().policy_overrides().await? {
            let policy = serde_json::from_str(&row.body).map_err(|e| {
                AppError::Internal(anyhow::anyhow!(
                    "stored policy override {:?}/{:?} unreadable: {e}",
                    row.region_prefix,
                    row.category
                ))
            })?;
            rules.overrides.push(StoredOverride {
                region_prefix: row.region_prefix,
                category: row.category,
                policy,
                updated_at_ms: row.updated_at_ms,
                updated_by: row.updated_by,
            });
        }
        let years = self.store().calendar_years().await?;
        if !years.is_empty() {
            let text: String = years.iter().map(|y| y.body.as_str()).collect();
            let calendar = config.calendar.replacing_years(&text).map_err(|e| {
                AppError::Internal(anyhow::anyhow!("stored calendar unreadable: {e}"))
            })?;
            rules.calendar = std::sync::Arc::new(calendar);
            rules.edited_years = years.iter().map(|y| y.year).collect();
        }
        rules.categories = self.store().categories().await?;
        for row in self.store().rule_settings().await? {
            let changed = Some(Changed {
                at_ms: row.updated_at_ms,
                by: row.updated_by.clone(),
            });
            match row.name.as_str() {
                INDICATOR_CONFIG => {
                    rules.indicators = stored_setting(&row, IndicatorConfig::validate)?;
                    rules.indicators_changed = changed;
                }
                WARNING_POLICY => {
                    rules.warnings = stored_setting(&row, WarningPolicy::validate)?;
                    rules.warnings_changed = changed;
                }
                other => tracing::warn!(setting = other, "rules: unknown stored setting ignored"),
            }
        }
        config.rules.replace(rules);
        self.inner
            .rules_seen
            .store(head, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    // ---- users ----

    /// Staff users matching `q` (login or name), a page at a time.
    pub async fn admin_users(
        &self,
        actor: &Actor,
        q: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<UserListRow>, i64), AppError> {
        self.require(actor, Action::ManageUsers).await?;
        let q: String = q.trim().chars().take(50).collect();
        Ok(self
            .store()
            .list_users(&q, offset.max(0), limit.clamp(1, 200))
            .await?)
    }

    /// One user with their memberships.
    pub async fn admin_user(
        &self,
        actor: &Actor,
        username: &str,
    ) -> Result<(UserRecord, Vec<MembershipRecord>), AppError> {
        self.require(actor, Action::ManageUsers).await?;
        let u = username.trim().to_lowercase();
        let Some(user) = self.store().user_by_username(&u).await? else {
            return Err(AppError::NotFound(format!("用户 {u} 不存在")));
        };
        let memberships = self.store().memberships(&user.id).await?;
        Ok((user, memberships))
    }

    /// Creates a user (see [`App::add_user`]), audited.
    pub async fn admin_add_user(
        &self,
        actor: &Actor,
        username: &str,
        display_name: &str,
        unit: &str,
        role: &str,
    ) -> Result<CreatedUser, AuthError> {
        self.require(actor, Action::ManageUsers).await?;
        let created = self
            .add_user_by(
                username,
                display_name,
                unit,
                &[role.to_string()],
                None,
                Some(actor),
            )
            .await?;
        Ok(created)
    }

    /// Refuses a change that would leave no enabled administrator: `loses` says whether the
    /// user would no longer be an administrator after it.
    async fn guard_last_admin(&self, user: &UserRecord, loses: bool) -> Result<(), AuthError> {
        if !loses {
            return Ok(());
        }
        let admins = self.store().active_administrators().await?;
        if admins.contains(&user.id) && admins.len() <= 1 {
            return Err(AuthError::App(AppError::Conflict(format!(
                "{} 是唯一可用的系统管理员：请先给另一位用户授予管理员角色",
                user.username
            ))));
        }
        Ok(())
    }

    /// Grants a role in a unit (see [`App::grant`]), audited.
    pub async fn admin_grant(
        &self,
        actor: &Actor,
        username: &str,
        unit: &str,
        role: &str,
    ) -> Result<Vec<String>, AuthError> {
        self.require(actor, Action::ManageUsers).await?;
        if role.trim().is_empty() {
            return Err(AuthError::App(invalid(
                "role",
                "role_missing",
                "请选择角色",
            )));
        }
        if unit.trim().is_empty() {
            return Err(AuthError::App(invalid(
                "unit",
                "unit_missing",
                "请选择单位",
            )));
        }
        let now = self
            .grant_by(username, unit.trim(), &[role.to_string()], Some(actor))
            .await
            .map_err(|e| match e {
                AuthError::App(AppError::NotFound(m)) if m.starts_with("单位") => AuthError::App(
                    AppError::Invalid(vec![("unit".into(), FieldError::new("unit_unknown", m))]),
                ),
                other => other,
            })?;
        Ok(now)
    }

    /// Revokes a role in a unit (see [`App::revoke`]), audited; never the last administrator.
    pub async fn admin_revoke(
        &self,
        actor: &Actor,
        username: &str,
        unit: &str,
        role: &str,
    ) -> Result<Vec<String>, AuthError> {
        self.require(actor, Action::ManageUsers).await?;
        let (user, memberships) = self.admin_user(actor, username).await?;
        let admin = Role::Administrator.as_str();
        let stays_admin = memberships
            .iter()
            .any(|m| m.unit_id != unit && m.roles.iter().any(|r| r == admin));
        self.guard_last_admin(&user, role == admin && !stays_admin)
            .await?;
        let now = self
            .revoke_by(&user.username, unit, &[role.to_string()], Some(actor))
            .await?;
        Ok(now)
    }

    /// Disables or enables a user (see [`App::set_user_disabled`]), audited; never oneself,
    /// never the last administrator.
    pub async fn admin_set_disabled(
        &self,
        actor: &Actor,
        username: &str,
        disabled: bool,
    ) -> Result<(), AuthError> {
        self.require(actor, Action::ManageUsers).await?;
        let (user, _) = self.admin_user(actor, username).await?;
        if disabled && user.id == actor.id.as_str() {
            return Err(AuthError::App(AppError::Conflict(
                "不能停用自己的账号：请另一位管理员操作".into(),
            )));
        }
        self.guard_last_admin(&user, disabled).await?;
        self.set_user_disabled_by(&user.username, disabled, Some(actor))
            .await
    }

    /// Resets a user's password to a generated one that must be changed at the next sign-in
    /// (see [`App::reset_password`]), audited (the password never is). Returns it, to be
    /// shown once.
    pub async fn admin_reset_password(
        &self,
        actor: &Actor,
        username: &str,
        reset_totp: bool,
    ) -> Result<String, AuthError> {
        self.require(actor, Action::ManageUsers).await?;
        let (user, _) = self.admin_user(actor, username).await?;
        let generated = self
            .reset_password_by(&user.username, None, reset_totp, Some(actor))
            .await?
            .ok_or_else(|| AuthError::App(AppError::Internal(anyhow::anyhow!("no password"))))?;
        Ok(generated)
    }

    // ---- categories ----

    /// Adds a category under `parent_id` (a first-level one without), audited.
    pub async fn admin_add_category(
        &self,
        actor: &Actor,
        parent_id: Option<&str>,
        name: &str,
    ) -> Result<CategoryRecord, AppError> {
        self.require(actor, Action::ManageUnits).await?;
        let name =
            check_category_name(name).map_err(|e| AppError::Invalid(vec![("name".into(), e)]))?;
        let parent = match parent_id.map(str::trim).filter(|p| !p.is_empty()) {
            Some(id) => {
                let Some(p) = self.store().category(id).await? else {
                    return Err(invalid("parent", "category_unknown", "上级分类不存在"));
                };
                if p.retired {
                    return Err(invalid(
                        "parent",
                        "category_retired",
                        "上级分类已停用，请先恢复它",
                    ));
                }
                if p.level >= MAX_CATEGORY_LEVEL {
                    return Err(invalid(
                        "parent",
                        "category_too_deep",
                        "分类最多三级：第三级分类下不能再加分类",
                    ));
                }
                Some(p)
            }
            None => None,
        };
        let c = CategoryRecord {
            id: uuid::Uuid::now_v7().to_string(),
            parent_id: parent.as_ref().map(|p| p.id.clone()),
            level: parent.as_ref().map_or(1, |p| p.level + 1),
            path: match &parent {
                Some(p) => format!("{}/{name}", p.path),
                None => name.clone(),
            },
            name,
            retired: false,
        };
        if self.rules().categories.iter().any(|x| x.path == c.path) {
            return Err(invalid(
                "name",
                "category_exists",
                format!("分类“{}”已经存在", c.path),
            ));
        }
        let entry = self.admin_entry(
            actor,
            "admin_add_category",
            serde_json::json!({"id": c.id, "path": c.path}),
        );
        self.store()
            .insert_categories(
                std::slice::from_ref(&c),
                self.now().timestamp_millis(),
                &entry,
            )
            .await
            .map_err(|e| match AppError::from(e) {
                AppError::Conflict(m) => invalid("name", "category_exists", m),
                other => other,
            })?;
        self.load_rules().await?;
        Ok(c)
    }

    /// Renames a category (its subcategories move with it), audited. Cases keep the path
    /// they were classified under.
    pub async fn admin_rename_category(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
    ) -> Result<CategoryRecord, AppError> {
        self.require(actor, Action::ManageUnits).await?;
        let name =
            check_category_name(name).map_err(|e| AppError::Invalid(vec![("name".into(), e)]))?;
        let Some(old) = self.store().category(id).await? else {
            return Err(AppError::NotFound("分类不存在".into()));
        };
        let entry = self.admin_entry(
            actor,
            "admin_rename_category",
            serde_json::json!({"id": id, "from": old.path, "name": name}),
        );
        let c = self
            .store()
            .rename_category(id, &name, &entry)
            .await
            .map_err(|e| match AppError::from(e) {
                AppError::Conflict(m) => invalid("name", "category_exists", m),
                other => other,
            })?;
        self.load_rules().await?;
        Ok(c)
    }

    /// Retires a category and those under it (no longer offered; cases keep it), or restores
    /// one; audited. Categories are never deleted.
    pub async fn admin_retire_category(
        &self,
        actor: &Actor,
        id: &str,
        retired: bool,
    ) -> Result<u64, AppError> {
        self.require(actor, Action::ManageUnits).await?;
        let Some(c) = self.store().category(id).await? else {
            return Err(AppError::NotFound("分类不存在".into()));
        };
        if !retired && let Some(parent) = &c.parent_id {
            let parent_retired = self
                .store()
                .category(parent)
                .await?
                .is_some_and(|p| p.retired);
            if parent_retired {
                return Err(AppError::Conflict(
                    "上级分类已停用：请先恢复上级分类".into(),
                ));
            }
        }
        let entry = self.admin_entry(
            actor,
            if retired {
                "admin_retire_category"
            } else {
                "admin_restore_category"
            },
            serde_json::json!({"id": id, "path": c.path}),
        );
        let n = self
            .store()
            .set_category_retired(id, retired, &entry)
            .await?;
        self.load_rules().await?;
        Ok(n)
    }

    /// Imports a taxonomy from JSON Lines (`{"l1": …, "l2": …, "l3": …}`, `l2`/`l3` optional):
    /// adds every category not there yet, in one transaction with one audit entry by `by`.
    /// A bad line refuses the whole file, naming the line.
    pub async fn import_categories(
        &self,
        jsonl: &str,
        by: &str,
    ) -> Result<CategoryImport, AppError> {
        #[derive(serde::Deserialize)]
        struct Line {
            l1: String,
            #[serde(default)]
            l2: Option<String>,
            #[serde(default)]
            l3: Option<String>,
        }
        let mut known: Vec<CategoryRecord> = self.store().categories().await?;
        let mut added: Vec<CategoryRecord> = Vec::new();
        let mut report = CategoryImport::default();
        let mut seen_existing = std::collections::HashSet::new();
        for (i, raw) in jsonl.lines().enumerate() {
            let n = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            report.lines += 1;
            let line: Line = serde_json::from_str(raw).map_err(|e| {
                invalid(
                    "file",
                    "import_bad_json",
                    format!("第{n}行不是有效的 JSON：{e}"),
                )
            })?;
            let names = [Some(line.l1), line.l2, line.l3];
            let mut parent: Option<CategoryRecord> = None;
            for (level, name) in names.into_iter().enumerate() {
                let Some(name) = name.filter(|s| !s.trim().is_empty()) else {
                    break;
                };
                let name = check_category_name(&name)
                    .map_err(|e| invalid("file", e.code, format!("第{n}行：{}", e.message)))?;
                let path = match &parent {
                    Some(p) => format!("{}/{name}", p.path),
                    None => name.clone(),
                };
                let found = known.iter().find(|c| c.path == path).cloned();
                let c = match found {
                    Some(c) => {
                        if !added.iter().any(|a| a.id == c.id) {
                            seen_existing.insert(c.id.clone());
                        }
                        c
                    }
                    None => {
                        let c = CategoryRecord {
                            id: uuid::Uuid::now_v7().to_string(),
                            parent_id: parent.as_ref().map(|p| p.id.clone()),
                            level: i64::try_from(level).unwrap_or(2) + 1,
                            name,
                            path,
                            retired: false,
                        };
                        known.push(c.clone());
                        added.push(c.clone());
                        c
                    }
                };
                parent = Some(c);
            }
        }
        report.added = added.len();
        report.existing = seen_existing.len();
        if !added.is_empty() {
            let entry = AuditEntry {
                at_ms: self.now().timestamp_millis(),
                actor: by.to_string(),
                actor_unit: None,
                action: "import_categories".into(),
                case_id: None,
                detail: serde_json::json!({"lines": report.lines, "added": report.added})
                    .to_string(),
            };
            self.store()
                .insert_categories(&added, self.now().timestamp_millis(), &entry)
                .await?;
        }
        self.load_rules().await?;
        Ok(report)
    }

    // ---- deadline policies ----

    /// Sets the override for a region prefix ('' nationwide) and a category ('' any): the
    /// limits given replace the national ones there (each checked by [`check_local_limit`]);
    /// audited, in force at once.
    pub async fn admin_set_policy(
        &self,
        actor: &Actor,
        region_prefix: &str,
        category: &str,
        limits: &[(ClockKind, Limit)],
    ) -> Result<(), AppError> {
        self.require(actor, Action::ManageUnits).await?;
        let region = region_prefix.trim();
        let category = category.trim();
        let mut errors = Vec::new();
        if !region.is_empty() && (region.len() > 12 || !region.bytes().all(|b| b.is_ascii_digit()))
        {
            errors.push((
                "region_prefix".to_string(),
                FieldError::new(
                    "region_prefix_invalid",
                    "地区代码前缀应为1到12位数字，例如 44（广东省）、4406（佛山市）",
                ),
            ));
        }
        if region.is_empty() && category.is_empty() {
            errors.push((
                "region_prefix".to_string(),
                FieldError::new(
                    "policy_scope_missing",
                    "请填写地区代码前缀或选择分类：全国时限由《信访工作条例》规定",
                ),
            ));
        }
        if !category.is_empty() && !self.rules().categories.iter().any(|c| c.path == category) {
            errors.push((
                "category".to_string(),
                FieldError::new("category_unknown", "没有这个分类，请从列表中选择"),
            ));
        }
        if limits.is_empty() {
            errors.push((
                "limits".to_string(),
                FieldError::new("policy_empty", "请至少填写一项时限"),
            ));
        }
        for (kind, limit) in limits {
            if let Err(e) = check_local_limit(*kind, *limit) {
                errors.push((format!("amount.{}", kind.as_str()), e));
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let mut policy = huiyin_domain::policy::PolicyOverride::default();
        for (kind, limit) in limits {
            policy.limits.set(*kind, *limit);
        }
        let body = serde_json::to_string(&policy)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("policy JSON: {e}")))?;
        let entry = self.admin_entry(
            actor,
            "admin_set_policy",
            serde_json::json!({"region_prefix": region, "category": category, "override": policy}),
        );
        self.store()
            .put_policy_override(
                &PolicyOverrideRow {
                    region_prefix: region.to_string(),
                    category: category.to_string(),
                    body,
                    updated_at_ms: self.now().timestamp_millis(),
                    updated_by: actor.id.to_string(),
                },
                &entry,
            )
            .await?;
        self.load_rules().await
    }

    /// Removes an override (the national or wider rule applies again), audited.
    pub async fn admin_delete_policy(
        &self,
        actor: &Actor,
        region_prefix: &str,
        category: &str,
    ) -> Result<(), AppError> {
        self.require(actor, Action::ManageUnits).await?;
        let entry = self.admin_entry(
            actor,
            "admin_delete_policy",
            serde_json::json!({"region_prefix": region_prefix, "category": category}),
        );
        if !self
            .store()
            .delete_policy_override(region_prefix, category, &entry)
            .await?
        {
            return Err(AppError::NotFound("没有这条地方时限".into()));
        }
        self.load_rules().await
    }

    // ---- holiday calendar ----

    /// Sets a year's official days off and make-up working days (replacing the shipped or
    /// an earlier list of that year), audited, in force at once.
    pub async fn admin_set_calendar_year(
        &self,
        actor: &Actor,
        year: i32,
        days_text: &str,
    ) -> Result<Vec<CalendarDay>, AppError> {
        self.require(actor, Action::ManageUnits).await?;
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return Err(invalid(
                "year",
                "calendar_year_range",
                format!("年份应在{MIN_YEAR}到{MAX_YEAR}之间"),
            ));
        }
        let days = parse_calendar_year(year, days_text)
            .map_err(|e| AppError::Invalid(vec![("days".into(), e)]))?;
        let body = calendar_year_text(year, &days);
        // The text must read back as the calendar module reads it.
        self.inner
            .config
            .calendar
            .replacing_years(&body)
            .map_err(|e| invalid("days", "calendar_invalid", e.to_string()))?;
        let entry = self.admin_entry(
            actor,
            "admin_set_calendar_year",
            serde_json::json!({
                "year": year,
                "days_off": days.iter().filter(|d| !d.working).count(),
                "makeup_days": days.iter().filter(|d| d.working).count(),
            }),
        );
        self.store()
            .put_calendar_year(
                &CalendarYearRow {
                    year,
                    body,
                    updated_at_ms: self.now().timestamp_millis(),
                    updated_by: actor.id.to_string(),
                },
                &entry,
            )
            .await?;
        self.load_rules().await?;
        Ok(days)
    }

    // ---- statistics indicators and early-warning thresholds ----

    /// The statistics settings in force with their defaults and who last changed each (by
    /// name): what the administrators' page and `GET /api/v1/admin/indicator-settings` show.
    pub async fn indicator_settings(&self, actor: &Actor) -> Result<IndicatorSettings, AppError> {
        self.require(actor, Action::ManageUnits).await?;
        let rules = self.rules();
        Ok(IndicatorSettings {
            indicators: rules.indicators.clone(),
            warnings: rules.warnings.clone(),
            default_indicators: IndicatorConfig::default(),
            default_warnings: self.default_warning_policy().clone(),
            indicators_changed: self.changed_by(rules.indicators_changed.as_ref()).await?,
            warnings_changed: self.changed_by(rules.warnings_changed.as_ref()).await?,
        })
    }

    async fn changed_by(&self, changed: Option<&Changed>) -> Result<Option<ChangedBy>, AppError> {
        let Some(c) = changed else { return Ok(None) };
        Ok(Some(ChangedBy {
            at_ms: c.at_ms,
            by: c.by.clone(),
            by_name: self.staff_name(&c.by).await?,
        }))
    }

    /// Sets the statistics indicator configuration, the early-warning thresholds, or both:
    /// each validated (a refusal names the setting with the domain's message, and nothing is
    /// written), both written with one audit entry in one transaction, in force at once.
    pub async fn admin_set_indicator_config(
        &self,
        actor: &Actor,
        indicators: Option<IndicatorConfig>,
        warnings: Option<WarningPolicy>,
    ) -> Result<(), AppError> {
        self.require(actor, Action::ManageUnits).await?;
        let mut errors = Vec::new();
        if indicators.is_none() && warnings.is_none() {
            errors.push((
                "indicators".to_string(),
                FieldError::new("settings_empty", "请至少修改一项设置"),
            ));
        }
        if let Some(Err(e)) = indicators.as_ref().map(IndicatorConfig::validate) {
            errors.push((
                "indicators".to_string(),
                FieldError::new("indicator_config_invalid", e.0),
            ));
        }
        if let Some(Err(e)) = warnings.as_ref().map(WarningPolicy::validate) {
            errors.push((
                "warnings".to_string(),
                FieldError::new("warning_policy_invalid", e.0),
            ));
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let now_ms = self.now().timestamp_millis();
        let before = self.rules();
        let mut rows = Vec::new();
        let mut detail = serde_json::Map::new();
        if let Some(c) = &indicators {
            rows.push(self.setting_row(INDICATOR_CONFIG, setting_body(c)?, actor, now_ms));
            detail.insert(
                INDICATOR_CONFIG.into(),
                serde_json::json!({"from": before.indicators, "to": c}),
            );
        }
        if let Some(w) = &warnings {
            rows.push(self.setting_row(WARNING_POLICY, setting_body(w)?, actor, now_ms));
            detail.insert(
                WARNING_POLICY.into(),
                serde_json::json!({"from": before.warnings, "to": w}),
            );
        }
        let entry = self.admin_entry(
            actor,
            "admin_set_indicator_config",
            serde_json::Value::Object(detail),
        );
        self.store().put_rule_settings(&rows, &[], &entry).await?;
        self.load_rules().await
    }

    /// Restores the defaults of the indicator configuration and/or the warning thresholds
    /// (removes the stored settings), audited, in force at once. `Ok(false)`: nothing was
    /// stored, nothing changed (and nothing is audited).
    pub async fn admin_restore_indicator_defaults(
        &self,
        actor: &Actor,
        indicators: bool,
        warnings: bool,
    ) -> Result<bool, AppError> {
        self.require(actor, Action::ManageUnits).await?;
        let before = self.rules();
        // What is stored, not what this process last read: another server may have set it.
        let stored: Vec<String> = self
            .store()
            .rule_settings()
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect();
        let is_stored = |name: &str| stored.iter().any(|s| s == name);
        let mut remove = Vec::new();
        let mut detail = serde_json::Map::new();
        if indicators && is_stored(INDICATOR_CONFIG) {
            remove.push(INDICATOR_CONFIG);
            detail.insert(
                INDICATOR_CONFIG.into(),
                serde_json::json!({"from": before.indicators}),
            );
        }
        if warnings && is_stored(WARNING_POLICY) {
            remove.push(WARNING_POLICY);
            detail.insert(
                WARNING_POLICY.into(),
                serde_json::json!({"from": before.warnings}),
            );
        }
        if remove.is_empty() {
            return Ok(false);
        }
        let entry = self.admin_entry(
            actor,
            "admin_restore_indicator_defaults",
            serde_json::Value::Object(detail),
        );
        self.store().put_rule_settings(&[], &remove, &entry).await?;
        self.load_rules().await?;
        Ok(true)
    }

    fn setting_row(&self, name: &str, body: String, actor: &Actor, now_ms: i64) -> RuleSettingRow {
        RuleSettingRow {
            name: name.to_string(),
            body,
            updated_at_ms: now_ms,
            updated_by: actor.id.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn local_limits_may_be_stricter_never_looser() {
        check_local_limit(ClockKind::RegisterRoute, Limit::hours(24)).unwrap();
        check_local_limit(ClockKind::Handling, Limit::working_days(5)).unwrap();
        assert_eq!(
            check_local_limit(ClockKind::Handling, Limit::days(61))
                .unwrap_err()
                .code,
            "limit_above_statutory"
        );
        // 45 working days are about 63 days: longer than 60.
        assert!(check_local_limit(ClockKind::Handling, Limit::working_days(45)).is_err());
        assert_eq!(
            check_local_limit(ClockKind::ReviewRequest, Limit::days(20))
                .unwrap_err()
                .code,
            "limit_below_statutory"
        );
        check_local_limit(ClockKind::ReviewRequest, Limit::days(60)).unwrap();
        assert_eq!(
            check_local_limit(ClockKind::Objection, Limit::working_days(0))
                .unwrap_err()
                .code,
            "limit_zero"
        );
    }

    #[test]
    fn a_calendar_year_is_checked_line_by_line() {
        let days = parse_calendar_year(
            2027,
            "2027-01-01 off 元旦\n\n# 春节\n2027-02-07 work 春节\n2027-02-06 off 春节\n",
        )
        .unwrap();
        assert_eq!(days.len(), 3);
        assert_eq!(days[0].date.to_string(), "2027-01-01");
        for (text, code) in [
            ("2027-1-1 off 元旦", "calendar_bad_date"),
            ("2026-12-31 off 元旦", "calendar_wrong_year"),
            ("2027-01-01 rest 元旦", "calendar_bad_kind"),
            ("2027-01-01 off", "calendar_bad_name"),
            ("2027-02-08 work 春节", "calendar_makeup_weekday"),
            (
                "2027-01-01 off 元旦\n2027-01-01 off 元旦",
                "calendar_duplicate",
            ),
        ] {
            let e = parse_calendar_year(2027, text).unwrap_err();
            assert_eq!(e.code, code, "{text}");
            assert!(e.message.starts_with('第'), "{}", e.message);
        }
        let text = calendar_year_text(2027, &days);
        assert!(text.starts_with("year 2027\n2027-01-01 off 元旦\n"));
    }

    #[test]
    fn category_names_are_checked() {
        assert_eq!(check_category_name(" 物业 ").unwrap(), "物业");
        assert!(check_category_name("").is_err());
        assert!(check_category_name("a/b").is_err());
        assert!(check_category_name(&"长".repeat(31)).is_err());
    }
}
