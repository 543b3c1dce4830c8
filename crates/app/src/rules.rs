//! The rules in force that administrators may change while the system runs: deadline-policy
//! overrides per jurisdiction, the holiday calendar's years, the content categories, the
//! statistics indicator configuration and the early-warning thresholds.
//!
//! They are stored in the database (see `huiyin_store`'s admin tables) and held here as one
//! immutable [`Rules`] value behind a lock: readers take an `Arc` of the current value (no lock
//! held while computing), a change builds a new value and swaps it in, so a new deadline uses
//! the new rules at once. The shipped defaults (the national policy of the 信访工作条例 and the
//! State Council calendar of 2007–2026) stay the base the stored changes apply to; so do
//! [`IndicatorConfig::default`] and the start-up `Config::warnings`, which a stored setting
//! replaces whole and which "restore defaults" puts back.

use std::sync::{Arc, RwLock};

use huiyin_domain::calendar::Calendar;
use huiyin_domain::case::CaseState;
use huiyin_domain::policy::{DeadlinePolicy, PolicyOverride, PolicySet};
use huiyin_domain::stats::IndicatorConfig;
use huiyin_domain::warning::WarningPolicy;
use huiyin_store::CategoryRecord;

/// A stored policy override, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredOverride {
    /// Region-code prefix; "" for every region.
    pub region_prefix: String,
    /// Category path prefix; "" for every category.
    pub category: String,
    pub policy: PolicyOverride,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

/// Who last changed a stored setting, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub at_ms: i64,
    pub by: String,
}

/// The rules in force.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The deployment's configured policy set (national defaults unless configured otherwise).
    pub base: PolicySet,
    /// Overrides administrators set, applied after the base.
    pub overrides: Vec<StoredOverride>,
    /// The shipped calendar with the years administrators entered.
    pub calendar: Arc<Calendar>,
    /// The years administrators entered (they replace the shipped list of that year).
    pub edited_years: Vec<i32>,
    /// Every category, retired ones included, by path.
    pub categories: Vec<CategoryRecord>,
    /// The statistics indicator configuration in force (weights, what counts as resolved).
    pub indicators: IndicatorConfig,
    /// Set when an administrator stored `indicators`; `None`: the default.
    pub indicators_changed: Option<Changed>,
    /// The early-warning thresholds in force.
    pub warnings: WarningPolicy,
    /// Set when an administrator stored `warnings`; `None`: the start-up `Config::warnings`.
    pub warnings_changed: Option<Changed>,
}

impl Rules {
    /// The base rules with nothing stored.
    pub fn base(policies: PolicySet, calendar: &Calendar) -> Rules {
        Rules {
            base: policies,
            overrides: Vec::new(),
            calendar: Arc::new(calendar.clone()),
            edited_years: Vec::new(),
            categories: Vec::new(),
            indicators: IndicatorConfig::default(),
            indicators_changed: None,
            warnings: WarningPolicy::default(),
            warnings_changed: None,
        }
    }

    /// The base rules with the deployment's start-up warning thresholds.
    pub fn with_warnings(mut self, warnings: WarningPolicy) -> Rules {
        self.warnings = warnings;
        self
    }

    /// The policy for a place and a category: the base set's answer, then every stored
    /// override that matches (its region prefix starts the region code, its category prefix
    /// the category path), region-only overrides first, then by the length of the region
    /// prefix and of the category prefix: the most specific is applied last and wins.
    pub fn resolve(&self, region_code: &str, category: Option<&str>) -> DeadlinePolicy {
        let mut policy = self.base.resolve(region_code, category);
        let mut matching: Vec<&StoredOverride> = self
            .overrides
            .iter()
            .filter(|o| {
                region_code.starts_with(o.region_prefix.as_str())
                    && (o.category.is_empty()
                        || category.is_some_and(|c| category_matches(c, &o.category)))
            })
            .collect();
        matching.sort_by_key(|o| {
            (
                !o.category.is_empty(),
                o.region_prefix.len(),
                o.category.len(),
            )
        });
        for o in matching {
            policy.apply(&o.policy);
        }
        policy
    }

    /// The policy for a case's place and category.
    pub fn policy_for(&self, state: &CaseState) -> DeadlinePolicy {
        self.resolve(state.petition.region.as_str(), state.category.as_deref())
    }

    /// The categories still offered (not retired), by path.
    pub fn active_categories(&self) -> impl Iterator<Item = &CategoryRecord> {
        self.categories.iter().filter(|c| !c.retired)
    }
}

/// Whether a case's category path falls under a category prefix: the same path, or one below
/// it (`城乡建设` covers `城乡建设/物业管理`, not `城乡建设局`).
pub fn category_matches(path: &str, prefix: &str) -> bool {
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The shared, swappable rules (cheap to clone: every clone sees the same value).
#[derive(Debug, Clone)]
pub struct LiveRules(Arc<RwLock<Arc<Rules>>>);

impl LiveRules {
    pub fn new(rules: Rules) -> LiveRules {
        LiveRules(Arc::new(RwLock::new(Arc::new(rules))))
    }

    /// The rules in force now.
    pub fn current(&self) -> Arc<Rules> {
        match self.0.read() {
            Ok(r) => Arc::clone(&r),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Puts new rules in force.
    pub fn replace(&self, rules: Rules) {
        let rules = Arc::new(rules);
        match self.0.write() {
            Ok(mut g) => *g = rules,
            Err(poisoned) => *poisoned.into_inner() = rules,
        }
    }
}

impl Default for LiveRules {
    fn default() -> Self {
        LiveRules::new(Rules::base(PolicySet::default(), Calendar::china()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use huiyin_domain::policy::{ClockKind, Limit};

    fn o(region: &str, category: &str, kind: ClockKind, limit: Limit) -> StoredOverride {
        StoredOverride {
            region_prefix: region.into(),
            category: category.into(),
            policy: PolicyOverride::limit(kind, limit),
            updated_at_ms: 0,
            updated_by: "t".into(),
        }
    }

    #[test]
    fn most_specific_override_wins_and_categories_match_by_path() {
        let mut rules = Rules::base(PolicySet::default(), Calendar::china());
        rules.overrides = vec![
            o(
                "4406",
                "城乡建设",
                ClockKind::RegisterRoute,
                Limit::hours(12),
            ),
            o("44", "", ClockKind::RegisterRoute, Limit::days(10)),
            o("4406", "", ClockKind::RegisterRoute, Limit::hours(24)),
        ];
        let k = ClockKind::RegisterRoute;
        assert_eq!(rules.resolve("440604", None).limit(k), Limit::hours(24));
        assert_eq!(
            rules.resolve("440604", Some("城乡建设/物业管理")).limit(k),
            Limit::hours(12)
        );
        assert_eq!(
            rules.resolve("440604", Some("城乡建设局")).limit(k),
            Limit::hours(24)
        );
        assert_eq!(rules.resolve("440100", None).limit(k), Limit::days(10));
        assert_eq!(rules.resolve("110101", None).limit(k), Limit::days(15));
    }

    #[test]
    fn a_replaced_value_is_seen_by_every_clone() {
        let live = LiveRules::default();
        let other = live.clone();
        let mut rules = Rules::base(PolicySet::default(), Calendar::china());
        rules.edited_years = vec![2027];
        live.replace(rules);
        assert_eq!(other.current().edited_years, vec![2027]);
    }
}
