//! Deadline policies: every statutory time limit (法定时限) as a value with the national default
//! of the 信访工作条例 (Regulations on Petition Work, 2022), overridable per jurisdiction and per
//! content category.
//!
//! Local rules are often stricter than the national ones (Foshan registers and routes first-time
//! petitions within 24 hours; Shandong's 12345 hotline handles requests in 5 working days), and
//! the way "日" is counted is itself a reading of the Civil Code (Arts. 201–203). So every limit
//! and every counting rule is data: a [`PolicySet`] holds the national [`DeadlinePolicy`] and
//! [`PolicyOverride`]s keyed by region-code prefix and category prefix, and
//! [`PolicySet::resolve`] gives the policy for one case. The clock ([`crate::clock`]) turns a
//! policy into deadlines.

use crate::supervision::EscalationPolicy;
use serde::{Deserialize, Serialize};

/// The longest limit a policy may set, in days (hours and working days are compared as days).
pub const MAX_LIMIT_DAYS: u32 = 365;
/// The most extensions a policy may allow.
pub const MAX_EXTENSIONS: u32 = 10;

/// The unit a limit is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitUnit {
    /// Exact hours from the start instant, with no rolling (e.g. Foshan's 24 hours).
    Hours,
    /// Natural days (日), counted from the day after the start.
    Days,
    /// Working days (工作日) on the official calendar.
    WorkingDays,
}

/// A time limit: an amount of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Limit {
    /// How many units; at least 1.
    pub amount: u32,
    /// The unit.
    pub unit: LimitUnit,
}

impl Limit {
    /// `amount` natural days (日).
    #[must_use]
    pub const fn days(amount: u32) -> Self {
        Self {
            amount,
            unit: LimitUnit::Days,
        }
    }

    /// `amount` working days (工作日).
    #[must_use]
    pub const fn working_days(amount: u32) -> Self {
        Self {
            amount,
            unit: LimitUnit::WorkingDays,
        }
    }

    /// `amount` hours.
    #[must_use]
    pub const fn hours(amount: u32) -> Self {
        Self {
            amount,
            unit: LimitUnit::Hours,
        }
    }

    /// Checks the limit is at least 1 and at most [`MAX_LIMIT_DAYS`] days long.
    fn validate(self, field: &str) -> Result<(), PolicyError> {
        if self.amount == 0 {
            return Err(PolicyError::ZeroLimit {
                field: field.to_owned(),
            });
        }
        let max = match self.unit {
            LimitUnit::Hours => MAX_LIMIT_DAYS * 24,
            LimitUnit::Days | LimitUnit::WorkingDays => MAX_LIMIT_DAYS,
        };
        if self.amount > max {
            return Err(PolicyError::LimitTooLong {
                field: field.to_owned(),
                amount: self.amount,
                unit: self.unit,
            });
        }
        Ok(())
    }
}

/// Each statutory timer a case can have running. Articles refer to the 信访工作条例.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// 登记转送/交办: the petition office registers a petition and routes it (转送: transfer to the
    /// competent organ; 交办: assignment with a deadline and a required completion report);
    /// 15 days from receipt (Art. 22).
    RegisterRoute,
    /// 受理告知: the competent organ tells the petitioner whether it accepts the matter; 15 days
    /// from its receipt (Art. 23).
    AcceptanceNotice,
    /// 异议: a unit sent a matter outside its competence objects; 5 working days from receiving
    /// it (Art. 23).
    Objection,
    /// 办理: handling to conclusion (办结); 60 days from acceptance, one extension of at most
    /// 30 days (Art. 34).
    Handling,
    /// 评价: the window in which the petitioner may rate the reply (default 30 days; a product
    /// rule, not in the 条例).
    Rating,
    /// 复查申请: the petitioner may ask the next-higher organ for review; 30 days from receiving
    /// the written reply (Art. 35).
    ReviewRequest,
    /// 复查意见: the review decision; 30 days from the request (Art. 35).
    ReviewDecision,
    /// 复核申请: the petitioner may ask for re-review; 30 days from receiving the review decision
    /// (Art. 36).
    RereviewRequest,
    /// 复核意见: the re-review decision; 30 days from the request, hearings (听证) not counted
    /// (Art. 36).
    RereviewDecision,
    /// 办结报告: the completion report an assigned (交办) matter owes the assigner; due by the
    /// assigner's deadline when one is given, else by the handling limit.
    CompletionReport,
}

impl ClockKind {
    /// Every kind, in lifecycle order.
    pub const ALL: [Self; 10] = [
        Self::RegisterRoute,
        Self::AcceptanceNotice,
        Self::Objection,
        Self::Handling,
        Self::Rating,
        Self::ReviewRequest,
        Self::ReviewDecision,
        Self::RereviewRequest,
        Self::RereviewDecision,
        Self::CompletionReport,
    ];

    /// The `snake_case` name used in JSON and in error messages.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RegisterRoute => "register_route",
            Self::AcceptanceNotice => "acceptance_notice",
            Self::Objection => "objection",
            Self::Handling => "handling",
            Self::Rating => "rating",
            Self::ReviewRequest => "review_request",
            Self::ReviewDecision => "review_decision",
            Self::RereviewRequest => "rereview_request",
            Self::RereviewDecision => "rereview_decision",
            Self::CompletionReport => "completion_report",
        }
    }
}

/// The limit of every [`ClockKind`], one named field each so none can be missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// [`ClockKind::RegisterRoute`].
    pub register_route: Limit,
    /// [`ClockKind::AcceptanceNotice`].
    pub acceptance_notice: Limit,
    /// [`ClockKind::Objection`].
    pub objection: Limit,
    /// [`ClockKind::Handling`].
    pub handling: Limit,
    /// [`ClockKind::Rating`].
    pub rating: Limit,
    /// [`ClockKind::ReviewRequest`].
    pub review_request: Limit,
    /// [`ClockKind::ReviewDecision`].
    pub review_decision: Limit,
    /// [`ClockKind::RereviewRequest`].
    pub rereview_request: Limit,
    /// [`ClockKind::RereviewDecision`].
    pub rereview_decision: Limit,
    /// [`ClockKind::CompletionReport`] when the assigner gave no deadline; `None` follows
    /// `handling` (also after `handling` is overridden).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_report: Option<Limit>,
}

impl Default for Limits {
    /// The national limits of the 信访工作条例 (see [`ClockKind`]).
    fn default() -> Self {
        Self {
            register_route: Limit::days(15),
            acceptance_notice: Limit::days(15),
            objection: Limit::working_days(5),
            handling: Limit::days(60),
            rating: Limit::days(30),
            review_request: Limit::days(30),
            review_decision: Limit::days(30),
            rereview_request: Limit::days(30),
            rereview_decision: Limit::days(30),
            completion_report: None,
        }
    }
}

impl Limits {
    /// The limit of `kind`.
    #[must_use]
    pub fn get(&self, kind: ClockKind) -> Limit {
        match kind {
            ClockKind::RegisterRoute => self.register_route,
            ClockKind::AcceptanceNotice => self.acceptance_notice,
            ClockKind::Objection => self.objection,
            ClockKind::Handling => self.handling,
            ClockKind::Rating => self.rating,
            ClockKind::ReviewRequest => self.review_request,
            ClockKind::ReviewDecision => self.review_decision,
            ClockKind::RereviewRequest => self.rereview_request,
            ClockKind::RereviewDecision => self.rereview_decision,
            ClockKind::CompletionReport => self.completion_report.unwrap_or(self.handling),
        }
    }

    /// Sets the limit of `kind`.
    pub fn set(&mut self, kind: ClockKind, limit: Limit) {
        match kind {
            ClockKind::RegisterRoute => self.register_route = limit,
            ClockKind::AcceptanceNotice => self.acceptance_notice = limit,
            ClockKind::Objection => self.objection = limit,
            ClockKind::Handling => self.handling = limit,
            ClockKind::Rating => self.rating = limit,
            ClockKind::ReviewRequest => self.review_request = limit,
            ClockKind::ReviewDecision => self.review_decision = limit,
            ClockKind::RereviewRequest => self.rereview_request = limit,
            ClockKind::RereviewDecision => self.rereview_decision = limit,
            ClockKind::CompletionReport => self.completion_report = Some(limit),
        }
    }
}

/// How the deadlines of one case are computed: the limits and the counting rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlinePolicy {
    /// The limit of each timer.
    pub limits: Limits,
    /// The longest single extension of the handling limit, in natural days (Art. 34: 30).
    pub max_extension_days: u32,
    /// How many extensions may be granted (Art. 34: 1).
    pub max_extensions: u32,
    /// Counting starts the day after the start (Civil Code Art. 201); default true.
    pub start_next_day: bool,
    /// A deadline in natural days that falls on a day off moves to the next working day (Civil
    /// Code Art. 203); default true.
    pub roll_off_day_forward: bool,
    /// The light turns yellow when less than this share of the time is left; in (0, 1),
    /// default 0.2.
    pub yellow_share: f64,
    /// How overdue cases are chased (催办, 督办单, 通报).
    pub escalation: EscalationPolicy,
    /// Which closed cases get a follow-up (回访).
    pub follow_up: crate::follow_up::FollowUpPolicy,
}

impl Default for DeadlinePolicy {
    /// The national defaults (domain.md, section 4).
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_extension_days: 30,
            max_extensions: 1,
            start_next_day: true,
            roll_off_day_forward: true,
            yellow_share: 0.2,
            escalation: EscalationPolicy::default(),
            follow_up: crate::follow_up::FollowUpPolicy::default(),
        }
    }
}

impl DeadlinePolicy {
    /// The limit of `kind`.
    #[must_use]
    pub fn limit(&self, kind: ClockKind) -> Limit {
        self.limits.get(kind)
    }

    /// Whether one more extension of `days` may be granted after `granted` earlier ones.
    #[must_use]
    pub const fn allows_extension(&self, granted: u32, days: u32) -> bool {
        granted < self.max_extensions && days >= 1 && days <= self.max_extension_days
    }

    /// Applies the fields an override sets.
    pub fn apply(&mut self, o: &PolicyOverride) {
        for kind in ClockKind::ALL {
            if let Some(limit) = o.limits.get(kind) {
                self.limits.set(kind, limit);
            }
        }
        if let Some(v) = o.max_extension_days {
            self.max_extension_days = v;
        }
        if let Some(v) = o.max_extensions {
            self.max_extensions = v;
        }
        if let Some(v) = o.start_next_day {
            self.start_next_day = v;
        }
        if let Some(v) = o.roll_off_day_forward {
            self.roll_off_day_forward = v;
        }
        if let Some(v) = o.yellow_share {
            self.yellow_share = v;
        }
        if let Some(v) = &o.escalation {
            self.escalation = v.clone();
        }
        if let Some(v) = &o.follow_up {
            self.follow_up = v.clone();
        }
    }

    /// Checks every limit and number is sensible.
    ///
    /// # Errors
    /// The first bad field, named from `national`.
    pub fn validate(&self) -> Result<(), PolicyError> {
        self.validate_at("national")
    }

    fn validate_at(&self, at: &str) -> Result<(), PolicyError> {
        for kind in ClockKind::ALL {
            self.limits
                .get(kind)
                .validate(&format!("{at}.limits.{}", kind.as_str()))?;
        }
        validate_extensions(at, Some(self.max_extension_days), Some(self.max_extensions))?;
        validate_yellow_share(at, Some(self.yellow_share))?;
        self.escalation.validate(at)?;
        self.follow_up.validate(at)
    }
}

/// Limits an override changes; `None` keeps the value it overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsOverride {
    /// New limit of [`ClockKind::RegisterRoute`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register_route: Option<Limit>,
    /// New limit of [`ClockKind::AcceptanceNotice`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acceptance_notice: Option<Limit>,
    /// New limit of [`ClockKind::Objection`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objection: Option<Limit>,
    /// New limit of [`ClockKind::Handling`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handling: Option<Limit>,
    /// New limit of [`ClockKind::Rating`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<Limit>,
    /// New limit of [`ClockKind::ReviewRequest`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_request: Option<Limit>,
    /// New limit of [`ClockKind::ReviewDecision`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_decision: Option<Limit>,
    /// New limit of [`ClockKind::RereviewRequest`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rereview_request: Option<Limit>,
    /// New limit of [`ClockKind::RereviewDecision`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rereview_decision: Option<Limit>,
    /// New limit of [`ClockKind::CompletionReport`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_report: Option<Limit>,
}

impl LimitsOverride {
    /// The limit this override sets for `kind`, if any.
    #[must_use]
    pub const fn get(&self, kind: ClockKind) -> Option<Limit> {
        match kind {
            ClockKind::RegisterRoute => self.register_route,
            ClockKind::AcceptanceNotice => self.acceptance_notice,
            ClockKind::Objection => self.objection,
            ClockKind::Handling => self.handling,
            ClockKind::Rating => self.rating,
            ClockKind::ReviewRequest => self.review_request,
            ClockKind::ReviewDecision => self.review_decision,
            ClockKind::RereviewRequest => self.rereview_request,
            ClockKind::RereviewDecision => self.rereview_decision,
            ClockKind::CompletionReport => self.completion_report,
        }
    }

    /// Sets the limit of `kind`.
    pub fn set(&mut self, kind: ClockKind, limit: Limit) {
        let slot = match kind {
            ClockKind::RegisterRoute => &mut self.register_route,
            ClockKind::AcceptanceNotice => &mut self.acceptance_notice,
            ClockKind::Objection => &mut self.objection,
            ClockKind::Handling => &mut self.handling,
            ClockKind::Rating => &mut self.rating,
            ClockKind::ReviewRequest => &mut self.review_request,
            ClockKind::ReviewDecision => &mut self.review_decision,
            ClockKind::RereviewRequest => &mut self.rereview_request,
            ClockKind::RereviewDecision => &mut self.rereview_decision,
            ClockKind::CompletionReport => &mut self.completion_report,
        };
        *slot = Some(limit);
    }
}

/// A local change to the national policy; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyOverride {
    /// Limits this override changes.
    pub limits: LimitsOverride,
    /// See [`DeadlinePolicy::max_extension_days`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_extension_days: Option<u32>,
    /// See [`DeadlinePolicy::max_extensions`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_extensions: Option<u32>,
    /// See [`DeadlinePolicy::start_next_day`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_next_day: Option<bool>,
    /// See [`DeadlinePolicy::roll_off_day_forward`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roll_off_day_forward: Option<bool>,
    /// See [`DeadlinePolicy::yellow_share`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yellow_share: Option<f64>,
    /// See [`DeadlinePolicy::escalation`]; replaces it whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalationPolicy>,
    /// See [`DeadlinePolicy::follow_up`]; replaces it whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<crate::follow_up::FollowUpPolicy>,
}

impl PolicyOverride {
    /// An override that sets one limit.
    #[must_use]
    pub fn limit(kind: ClockKind, limit: Limit) -> Self {
        let mut o = Self::default();
        o.limits.set(kind, limit);
        o
    }

    fn validate_at(&self, at: &str) -> Result<(), PolicyError> {
        for kind in ClockKind::ALL {
            if let Some(limit) = self.limits.get(kind) {
                limit.validate(&format!("{at}.limits.{}", kind.as_str()))?;
            }
        }
        validate_extensions(at, self.max_extension_days, self.max_extensions)?;
        validate_yellow_share(at, self.yellow_share)?;
        self.escalation
            .as_ref()
            .map_or(Ok(()), |e| e.validate(at))?;
        self.follow_up.as_ref().map_or(Ok(()), |f| f.validate(at))
    }
}

fn validate_extensions(
    at: &str,
    max_extension_days: Option<u32>,
    max_extensions: Option<u32>,
) -> Result<(), PolicyError> {
    if let Some(value) = max_extension_days.filter(|v| *v > MAX_LIMIT_DAYS) {
        return Err(PolicyError::TooLarge {
            field: format!("{at}.max_extension_days"),
            value,
            max: MAX_LIMIT_DAYS,
        });
    }
    if let Some(value) = max_extensions.filter(|v| *v > MAX_EXTENSIONS) {
        return Err(PolicyError::TooLarge {
            field: format!("{at}.max_extensions"),
            value,
            max: MAX_EXTENSIONS,
        });
    }
    Ok(())
}

fn validate_yellow_share(at: &str, yellow_share: Option<f64>) -> Result<(), PolicyError> {
    match yellow_share {
        // Written so that NaN is rejected too.
        Some(value) if !(value > 0.0 && value < 1.0) => Err(PolicyError::YellowShare {
            field: format!("{at}.yellow_share"),
            value,
        }),
        _ => Ok(()),
    }
}

/// All deadline policies of a deployment: the national policy and the local overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySet {
    /// The national policy (defaults of the 条例).
    pub national: DeadlinePolicy,
    /// Overrides by administrative-division code prefix (e.g. `"44"` Guangdong, `"4406"` Foshan).
    pub by_region: Vec<(String, PolicyOverride)>,
    /// Overrides by content-category code or name prefix (e.g. a 12345 request type).
    pub by_category: Vec<(String, PolicyOverride)>,
}

impl PolicySet {
    /// Reads and validates a policy set from JSON. Missing fields take the national defaults;
    /// unknown fields are rejected (a typo must not silently keep a default).
    ///
    /// # Errors
    /// Malformed JSON, or the first field [`validate`](Self::validate) rejects.
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        let set: Self = serde_json::from_str(json)?;
        set.validate()?;
        Ok(set)
    }

    /// Checks the national policy and every override.
    ///
    /// # Errors
    /// The first bad field, named by its path, e.g. `by_region["4406"].limits.register_route`.
    pub fn validate(&self) -> Result<(), PolicyError> {
        self.national.validate()?;
        for (prefix, o) in &self.by_region {
            let at = format!("by_region[{prefix:?}]");
            if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PolicyError::BadRegionPrefix { field: at });
            }
            o.validate_at(&at)?;
        }
        for (prefix, o) in &self.by_category {
            let at = format!("by_category[{prefix:?}]");
            if prefix.trim().is_empty() {
                return Err(PolicyError::EmptyPrefix { field: at });
            }
            o.validate_at(&at)?;
        }
        for (list, name) in [
            (&self.by_region, "by_region"),
            (&self.by_category, "by_category"),
        ] {
            for (i, (prefix, _)) in list.iter().enumerate() {
                if list[..i].iter().any(|(p, _)| p == prefix) {
                    return Err(PolicyError::DuplicatePrefix {
                        field: format!("{name}[{prefix:?}]"),
                    });
                }
            }
        }
        Ok(())
    }

    /// The policy for a case in `region_code` (an administrative-division code such as
    /// `"440604"`) about `category`: the national policy, then every region override whose prefix
    /// the code starts with, from the shortest prefix to the longest, then every category
    /// override whose prefix the category starts with, again shortest first. The most specific
    /// override is applied last and wins.
    #[must_use]
    pub fn resolve(&self, region_code: &str, category: Option<&str>) -> DeadlinePolicy {
        let mut policy = self.national.clone();
        let mut apply_matching = |list: &[(String, PolicyOverride)], key: &str| {
            let mut matching: Vec<&(String, PolicyOverride)> = list
                .iter()
                .filter(|(p, _)| key.starts_with(p.as_str()))
                .collect();
            matching.sort_by_key(|(p, _)| p.len()); // stable: declaration order breaks ties
            for (_, o) in matching {
                policy.apply(o);
            }
        };
        apply_matching(&self.by_region, region_code);
        if let Some(category) = category {
            apply_matching(&self.by_category, category);
        }
        policy
    }
}

/// A policy that was rejected, naming the field by its path (e.g. `national.yellow_share`).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A limit of zero.
    #[error("{field}: a limit must be at least 1")]
    ZeroLimit {
        /// The field's path.
        field: String,
    },
    /// A limit longer than [`MAX_LIMIT_DAYS`] days.
    #[error("{field}: {amount} {unit:?} is longer than {MAX_LIMIT_DAYS} days")]
    LimitTooLong {
        /// The field's path.
        field: String,
        /// The amount given.
        amount: u32,
        /// Its unit.
        unit: LimitUnit,
    },
    /// A number above its maximum.
    #[error("{field}: {value} is more than {max}")]
    TooLarge {
        /// The field's path.
        field: String,
        /// The value given.
        value: u32,
        /// The largest allowed.
        max: u32,
    },
    /// A yellow share not strictly between 0 and 1.
    #[error("{field}: {value} is not strictly between 0 and 1")]
    YellowShare {
        /// The field's path.
        field: String,
        /// The value given.
        value: f64,
    },
    /// A region prefix that is empty or not all digits.
    #[error("{field}: a region prefix must be one or more digits")]
    BadRegionPrefix {
        /// The field's path.
        field: String,
    },
    /// An empty category prefix.
    #[error("{field}: a category prefix must not be empty")]
    EmptyPrefix {
        /// The field's path.
        field: String,
    },
    /// The same prefix twice in one list.
    #[error("{field}: the prefix appears more than once")]
    DuplicatePrefix {
        /// The field's path.
        field: String,
    },
    /// The JSON could not be read.
    #[error("policy JSON: {0}")]
    Json(#[from] serde_json::Error),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// Foshan (佛山, 4406) registers and routes within 24 hours; Guangdong (44) rates in 15 days;
    /// Shandong 12345 requests (category "12345") are handled in 5 working days.
    fn sample() -> PolicySet {
        let guangdong = PolicyOverride {
            limits: LimitsOverride {
                rating: Some(Limit::days(15)),
                register_route: Some(Limit::days(10)),
                ..LimitsOverride::default()
            },
            yellow_share: Some(0.3),
            ..PolicyOverride::default()
        };
        PolicySet {
            national: DeadlinePolicy::default(),
            by_region: vec![
                (
                    "4406".into(),
                    PolicyOverride::limit(ClockKind::RegisterRoute, Limit::hours(24)),
                ),
                ("44".into(), guangdong),
            ],
            by_category: vec![(
                "12345".into(),
                PolicyOverride::limit(ClockKind::Handling, Limit::working_days(5)),
            )],
        }
    }

    #[test]
    fn national_defaults() {
        let p = DeadlinePolicy::default();
        assert_eq!(p.limit(ClockKind::RegisterRoute), Limit::days(15));
        assert_eq!(p.limit(ClockKind::AcceptanceNotice), Limit::days(15));
        assert_eq!(p.limit(ClockKind::Objection), Limit::working_days(5));
        assert_eq!(p.limit(ClockKind::Handling), Limit::days(60));
        assert_eq!(p.limit(ClockKind::Rating), Limit::days(30));
        for kind in [
            ClockKind::ReviewRequest,
            ClockKind::ReviewDecision,
            ClockKind::RereviewRequest,
            ClockKind::RereviewDecision,
        ] {
            assert_eq!(p.limit(kind), Limit::days(30), "{kind:?}");
        }
        assert_eq!(p.limit(ClockKind::CompletionReport), Limit::days(60));
        assert_eq!((p.max_extension_days, p.max_extensions), (30, 1));
        assert!(p.start_next_day && p.roll_off_day_forward);
        assert!((p.yellow_share - 0.2).abs() < f64::EPSILON);
        p.validate().unwrap();
    }

    #[test]
    fn extensions_allowed_once_up_to_30_days() {
        let p = DeadlinePolicy::default();
        assert!(p.allows_extension(0, 30));
        assert!(!p.allows_extension(0, 31));
        assert!(!p.allows_extension(0, 0));
        assert!(!p.allows_extension(1, 10));
    }

    #[test]
    fn foshan_city_prefix_overrides_province_and_nation() {
        let set = sample();
        set.validate().unwrap();
        let foshan = set.resolve("440604", None);
        assert_eq!(foshan.limit(ClockKind::RegisterRoute), Limit::hours(24));
        // From the province override, which the city does not touch.
        assert_eq!(foshan.limit(ClockKind::Rating), Limit::days(15));
        assert!((foshan.yellow_share - 0.3).abs() < f64::EPSILON);
        // National.
        assert_eq!(foshan.limit(ClockKind::Handling), Limit::days(60));

        let guangzhou = set.resolve("440100", None);
        assert_eq!(guangzhou.limit(ClockKind::RegisterRoute), Limit::days(10));

        let beijing = set.resolve("110101", None);
        assert_eq!(beijing, DeadlinePolicy::default());
    }

    #[test]
    fn order_of_declaration_does_not_matter_longest_prefix_wins() {
        let mut set = sample();
        set.by_region.reverse();
        assert_eq!(
            set.resolve("440604", None).limit(ClockKind::RegisterRoute),
            Limit::hours(24)
        );
    }

    #[test]
    fn shandong_12345_category_handling_in_working_days() {
        let set = sample();
        let p = set.resolve("370102", Some("12345-咨询"));
        assert_eq!(p.limit(ClockKind::Handling), Limit::working_days(5));
        // The completion report follows the handling limit unless set itself.
        assert_eq!(p.limit(ClockKind::CompletionReport), Limit::working_days(5));
        assert_eq!(
            set.resolve("370102", Some("投诉"))
                .limit(ClockKind::Handling),
            Limit::days(60)
        );
        assert_eq!(
            set.resolve("370102", None).limit(ClockKind::Handling),
            Limit::days(60)
        );
    }

    #[test]
    fn category_is_applied_after_region_longest_prefix_last() {
        let mut set = sample();
        set.by_category = vec![
            (
                "12345".into(),
                PolicyOverride::limit(ClockKind::RegisterRoute, Limit::hours(2)),
            ),
            (
                "1".into(),
                PolicyOverride::limit(ClockKind::RegisterRoute, Limit::hours(48)),
            ),
        ];
        // Region 4406 says 24 h; category "1" says 48 h; category "12345" says 2 h and is longer.
        let p = set.resolve("440604", Some("12345"));
        assert_eq!(p.limit(ClockKind::RegisterRoute), Limit::hours(2));
        let p = set.resolve("440604", Some("1x"));
        assert_eq!(p.limit(ClockKind::RegisterRoute), Limit::hours(48));
        let p = set.resolve("440604", Some("x"));
        assert_eq!(p.limit(ClockKind::RegisterRoute), Limit::hours(24));
    }

    #[test]
    fn json_round_trip_and_partial_json() {
        let set = sample();
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(PolicySet::from_json(&json).unwrap(), set);

        let partial = r#"{
            "by_region": [["4406", {"limits": {"register_route": {"amount": 24, "unit": "hours"}}}]],
            "by_category": [["12345", {"limits": {"handling": {"amount": 5, "unit": "working_days"}}}]]
        }"#;
        let parsed = PolicySet::from_json(partial).unwrap();
        assert_eq!(parsed.national, DeadlinePolicy::default());
        assert_eq!(
            parsed
                .resolve("440604", Some("12345"))
                .limit(ClockKind::Handling),
            Limit::working_days(5)
        );
    }

    fn field_of(err: &PolicyError) -> &str {
        match err {
            PolicyError::ZeroLimit { field }
            | PolicyError::LimitTooLong { field, .. }
            | PolicyError::TooLarge { field, .. }
            | PolicyError::YellowShare { field, .. }
            | PolicyError::BadRegionPrefix { field }
            | PolicyError::EmptyPrefix { field }
            | PolicyError::DuplicatePrefix { field } => field,
            PolicyError::Json(_) => "<json>",
        }
    }

    #[test]
    fn validation_names_the_field() {
        let cases = [
            (
                r#"{"national": {"limits": {"handling": {"amount": 0, "unit": "days"}}}}"#,
                "national.limits.handling",
            ),
            (
                r#"{"national": {"limits": {"rating": {"amount": 366, "unit": "days"}}}}"#,
                "national.limits.rating",
            ),
            (
                r#"{"national": {"limits": {"objection": {"amount": 400, "unit": "working_days"}}}}"#,
                "national.limits.objection",
            ),
            (
                r#"{"national": {"yellow_share": 1.0}}"#,
                "national.yellow_share",
            ),
            (
                r#"{"national": {"yellow_share": 0}}"#,
                "national.yellow_share",
            ),
            (
                r#"{"national": {"max_extension_days": 1000}}"#,
                "national.max_extension_days",
            ),
            (
                r#"{"by_region": [["4406", {"limits": {"register_route": {"amount": 9000, "unit": "hours"}}}]]}"#,
                "by_region[\"4406\"].limits.register_route",
            ),
            (
                r#"{"by_region": [["44", {"yellow_share": -0.5}]]}"#,
                "by_region[\"44\"].yellow_share",
            ),
            (r#"{"by_region": [["", {}]]}"#, "by_region[\"\"]"),
            (r#"{"by_region": [["44a", {}]]}"#, "by_region[\"44a\"]"),
            (r#"{"by_category": [[" ", {}]]}"#, "by_category[\" \"]"),
            (
                r#"{"by_region": [["44", {}], ["44", {}]]}"#,
                "by_region[\"44\"]",
            ),
            (
                r#"{"by_category": [["12345", {"limits": {"completion_report": {"amount": 0, "unit": "days"}}}]]}"#,
                "by_category[\"12345\"].limits.completion_report",
            ),
        ];
        for (json, field) in cases {
            let err = PolicySet::from_json(json).unwrap_err();
            assert_eq!(field_of(&err), field, "{json}: {err}");
            assert!(err.to_string().starts_with(field), "{err}");
        }
        // 24 × 365 hours is the longest hour limit.
        PolicySet::from_json(
            r#"{"national": {"limits": {"register_route": {"amount": 8760, "unit": "hours"}}}}"#,
        )
        .unwrap();
    }

    #[test]
    fn nan_yellow_share_is_rejected() {
        let p = DeadlinePolicy {
            yellow_share: f64::NAN,
            ..DeadlinePolicy::default()
        };
        assert!(matches!(p.validate(), Err(PolicyError::YellowShare { .. })));
    }

    #[test]
    fn typos_and_bad_units_are_json_errors() {
        for json in [
            r#"{"national": {"limits": {"handlin": {"amount": 5, "unit": "days"}}}}"#,
            r#"{"national": {"limits": {"handling": {"amount": 5, "unit": "weeks"}}}}"#,
            r#"{"by_region": [["44", {"yelow_share": 0.5}]]}"#,
            r#"{"nationl": {}}"#,
        ] {
            assert!(
                matches!(PolicySet::from_json(json), Err(PolicyError::Json(_))),
                "{json}"
            );
        }
    }

    #[test]
    fn clock_kind_names_match_serde() {
        for kind in ClockKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::String(kind.as_str().into())
            );
        }
    }
}
