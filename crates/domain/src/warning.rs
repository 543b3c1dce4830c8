//! 预警 (early warning): the rules that decide, from counts, whether something is worth a
//! leader's attention. Pure functions of figures the application gathers (statistics counters,
//! clusters of near-identical texts, a petitioner's open matters); see docs/stats.md
//! "Early warning".

use serde::{Deserialize, Serialize};

use crate::case::{CaseState, Satisfaction};

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// A first-level category at one place far above its recent baseline (信访量激增).
    Spike,
    /// Many petitioners with near-identical texts at one place (疑似集体访).
    Group,
    /// One petitioner with several unresolved matters (重复信访).
    RepeatPetitioner,
    /// A unit whose 按期办结率 or 满意率 fell against the month before (指标下滑).
    FallingUnit,
}

impl WarningKind {
    pub const ALL: [WarningKind; 4] = [
        WarningKind::Spike,
        WarningKind::Group,
        WarningKind::RepeatPetitioner,
        WarningKind::FallingUnit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::Spike => "spike",
            WarningKind::Group => "group",
            WarningKind::RepeatPetitioner => "repeat_petitioner",
            WarningKind::FallingUnit => "falling_unit",
        }
    }

    pub fn parse(s: &str) -> Option<WarningKind> {
        WarningKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            WarningKind::Spike => "信访量激增",
            WarningKind::Group => "疑似集体访",
            WarningKind::RepeatPetitioner => "重复信访未化解",
            WarningKind::FallingUnit => "单位指标下滑",
        }
    }
}

/// The thresholds of the early-warning rules, per deployment. The defaults are stated on each
/// field; [`WarningPolicy::validate`] refuses settings that make no sense.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WarningPolicy {
    /// Spike: the days counted (default 7, ending today).
    pub spike_days: i64,
    /// Spike: the baseline, the days before those (default 28).
    pub baseline_days: i64,
    /// Spike: how many times the baseline's daily mean × `spike_days` (default 3.0).
    pub spike_ratio: f64,
    /// Spike: the fewest cases in `spike_days` (default 5).
    pub spike_min_cases: i64,
    /// Spike and group signals: the length of a place's region code (default 6, the county).
    pub place_code_len: usize,
    /// Group signal: the days looked at (default 7).
    pub group_days: i64,
    /// Group signal: the fewest different petitioners with near-identical texts (default 5).
    pub group_min_petitioners: usize,
    /// Repeat petitioner: the days looked at (default 90).
    pub repeat_days: i64,
    /// Repeat petitioner: the fewest unresolved matters of one petitioner (default 3).
    pub repeat_min_cases: usize,
    /// Falling unit: the fall in percentage points against last month (default 15).
    pub falling_points: f64,
    /// Falling unit: the smallest denominator in each month (default 10).
    pub falling_min_denominator: f64,
}

impl Default for WarningPolicy {
    fn default() -> Self {
        Self {
            spike_days: 7,
            baseline_days: 28,
            spike_ratio: 3.0,
            spike_min_cases: 5,
            place_code_len: 6,
            group_days: 7,
            group_min_petitioners: 5,
            repeat_days: 90,
            repeat_min_cases: 3,
            falling_points: 15.0,
            falling_min_denominator: 10.0,
        }
    }
}

/// Why a policy is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

impl WarningPolicy {
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !(1..=90).contains(&self.spike_days) || !(1..=365).contains(&self.baseline_days) {
            return Err(PolicyError(
                "激增的统计天数应为1至90天，基线天数应为1至365天".into(),
            ));
        }
        if !(self.spike_ratio.is_finite() && self.spike_ratio >= 1.0) {
            return Err(PolicyError("激增倍数应不小于1".into()));
        }
        if self.spike_min_cases < 1 || self.repeat_min_cases < 2 || self.group_min_petitioners < 2 {
            return Err(PolicyError(
                "最少件数应不小于1，重复信访件数与集体访人数应不小于2".into(),
            ));
        }
        if ![2, 4, 6, 9].contains(&self.place_code_len) {
            return Err(PolicyError("地点的区划代码长度应为2、4、6或9位".into()));
        }
        if !(1..=90).contains(&self.group_days) || !(1..=730).contains(&self.repeat_days) {
            return Err(PolicyError(
                "集体访的统计天数应为1至90天，重复信访的统计天数应为1至730天".into(),
            ));
        }
        let points_ok = self.falling_points > 0.0 && self.falling_points <= 100.0;
        // Finite too: an infinite minimum would never warn, and JSON cannot store it.
        let minimum_ok =
            self.falling_min_denominator.is_finite() && self.falling_min_denominator >= 1.0;
        if !(points_ok && minimum_ok) {
            return Err(PolicyError(
                "下滑幅度应在0至100个百分点之间，最少件数应不小于1".into(),
            ));
        }
        Ok(())
    }

    /// The count in `spike_days` from which a spike is flagged, given the baseline's count:
    /// `spike_ratio × baseline / baseline_days × spike_days`, and at least `spike_min_cases`.
    pub fn spike_threshold(&self, baseline: i64) -> f64 {
        let expected =
            self.spike_ratio * baseline as f64 / self.baseline_days as f64 * self.spike_days as f64;
        expected.max(self.spike_min_cases as f64)
    }

    /// Whether `recent` cases in `spike_days` against `baseline` cases in the `baseline_days`
    /// before are a spike.
    pub fn is_spike(&self, recent: i64, baseline: i64) -> bool {
        recent >= self.spike_min_cases && recent as f64 + 1e-9 >= self.spike_threshold(baseline)
    }

    /// Whether near-identical texts from `petitioners` different people are a group signal.
    pub fn is_group(&self, petitioners: usize) -> bool {
        petitioners >= self.group_min_petitioners
    }

    /// Whether one petitioner's `unresolved` matters in `repeat_days` call for a warning.
    pub fn is_repeat(&self, unresolved: usize) -> bool {
        unresolved >= self.repeat_min_cases
    }

    /// The fall of a rate in percentage points, `last − this`, when both months have at least
    /// `falling_min_denominator` and it is at least `falling_points`; else `None`. Each month
    /// is `(numerator, denominator)`.
    pub fn falling(&self, last: (f64, f64), this: (f64, f64)) -> Option<f64> {
        if last.1 < self.falling_min_denominator || this.1 < self.falling_min_denominator {
            return None;
        }
        let points = (last.0 / last.1 - this.0 / this.1) * 100.0;
        (points + 1e-9 >= self.falling_points).then_some(points)
    }
}

/// Whether a petitioner's matter is still unresolved for the repeat-petitioner rule: an organ
/// still has to act on it (registration to handling, review, re-review), or the responsible
/// unit's reply was rated 不满意. Withdrawn, merged and declined petitions are not matters.
pub fn unresolved(state: &CaseState) -> bool {
    use crate::case::Stage;
    if matches!(
        state.stage,
        Stage::Withdrawn | Stage::Merged | Stage::Declined
    ) {
        return false;
    }
    state.stage.is_open() || matches!(state.rating, Some((_, Satisfaction::Unsatisfied)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_as_documented() {
        let p = WarningPolicy::default();
        assert_eq!(p.validate(), Ok(()));
        assert_eq!((p.spike_days, p.baseline_days), (7, 28));
        assert_eq!(p.group_min_petitioners, 5);
        assert_eq!((p.repeat_days, p.repeat_min_cases), (90, 3));
    }

    #[test]
    fn spike_needs_the_ratio_and_the_minimum() {
        let p = WarningPolicy::default();
        // 28 baseline cases over 28 days: a mean of 1 a day, 7 a week; 3× is 21.
        assert!(!p.is_spike(20, 28));
        assert!(p.is_spike(21, 28));
        // no baseline: the minimum decides
        assert!(!p.is_spike(4, 0));
        assert!(p.is_spike(5, 0));
        // a small baseline: 3 × 4 / 28 × 7 = 3, but five cases are needed
        assert!(!p.is_spike(4, 4));
        assert!(p.is_spike(5, 4));
        assert_eq!(p.spike_threshold(28), 21.0);
        assert_eq!(p.spike_threshold(0), 5.0);
    }

    #[test]
    fn falling_needs_points_and_denominators() {
        let p = WarningPolicy::default();
        // 90 % → 75 %: exactly 15 points
        assert!(p.falling((9.0, 10.0), (15.0, 20.0)).is_some());
        // 90 % → 76 %: 14 points
        assert_eq!(p.falling((9.0, 10.0), (19.0, 25.0)), None);
        // a month with 9 cases is too few
        assert_eq!(p.falling((9.0, 9.0), (1.0, 10.0)), None);
        assert_eq!(p.falling((10.0, 10.0), (1.0, 9.0)), None);
        // rising is no warning
        assert_eq!(p.falling((5.0, 10.0), (10.0, 10.0)), None);
        let points = p.falling((10.0, 10.0), (5.0, 10.0)).unwrap_or(0.0);
        assert!((points - 50.0).abs() < 1e-9);
    }

    #[test]
    fn group_and_repeat_thresholds() {
        let p = WarningPolicy::default();
        assert!(!p.is_group(4));
        assert!(p.is_group(5));
        assert!(!p.is_repeat(2));
        assert!(p.is_repeat(3));
    }

    #[test]
    fn bad_policies_are_refused() {
        let mut p = WarningPolicy {
            spike_ratio: 0.5,
            ..WarningPolicy::default()
        };
        assert!(p.validate().is_err());
        p = WarningPolicy {
            place_code_len: 5,
            ..WarningPolicy::default()
        };
        assert!(p.validate().is_err());
        p = WarningPolicy {
            falling_points: f64::NAN,
            ..WarningPolicy::default()
        };
        assert!(p.validate().is_err());
    }

    #[test]
    fn kinds_round_trip() {
        for k in WarningKind::ALL {
            assert_eq!(WarningKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(WarningKind::parse("other"), None);
    }
}
