//! 回访: after a case is closed by its rating, the petition bureau calls or visits the
//! petitioner to learn whether the matter is really settled, and records what it heard.
//!
//! Which cases get a follow-up is a policy ([`FollowUpPolicy`], part of the
//! [`crate::policy::DeadlinePolicy`], so each jurisdiction sets it): by default every case
//! rated 不满意 (by phone) and every group petition (集体访, by visit). Staff of the bureau may
//! also schedule one for any replied case. A follow-up has its own due date in working days;
//! the result is one of 满意 / 基本满意 / 不满意 / 联系不上 with a note.

use serde::{Deserialize, Serialize};

use crate::Instant;
use crate::policy::PolicyError;
use crate::values::Reason;

/// Which cases get a follow-up, and how soon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FollowUpPolicy {
    /// Every case the petitioner rated 不满意 (of the bureau or of the unit); default true.
    pub unsatisfied: bool,
    /// Every group petition (集体访), whatever its rating; default true.
    pub group_petitions: bool,
    /// Every rated case (a deployment that calls back on all of them); default false.
    pub every_rated: bool,
    /// Working days the bureau has for it; default 10.
    pub within_working_days: u32,
}

impl Default for FollowUpPolicy {
    fn default() -> Self {
        Self {
            unsatisfied: true,
            group_petitions: true,
            every_rated: false,
            within_working_days: 10,
        }
    }
}

/// The longest time for a follow-up, in working days.
pub const MAX_FOLLOW_UP_DAYS: u32 = 60;

impl FollowUpPolicy {
    pub(crate) fn validate(&self, at: &str) -> Result<(), PolicyError> {
        let field = format!("{at}.follow_up.within_working_days");
        if self.within_working_days == 0 {
            return Err(PolicyError::ZeroLimit { field });
        }
        if self.within_working_days > MAX_FOLLOW_UP_DAYS {
            return Err(PolicyError::TooLarge {
                field,
                value: self.within_working_days,
                max: MAX_FOLLOW_UP_DAYS,
            });
        }
        Ok(())
    }

    /// Whether a rating of a case earns it a follow-up, why and how.
    #[must_use]
    pub fn after_rating(
        &self,
        unsatisfied: bool,
        group_petition: bool,
    ) -> Option<(FollowUpReason, FollowUpMethod)> {
        if group_petition && self.group_petitions {
            Some((FollowUpReason::GroupPetition, FollowUpMethod::Visit))
        } else if unsatisfied && self.unsatisfied {
            Some((FollowUpReason::Unsatisfied, FollowUpMethod::Phone))
        } else if self.every_rated {
            Some((FollowUpReason::EveryRated, FollowUpMethod::Phone))
        } else {
            None
        }
    }
}

/// How the bureau follows up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpMethod {
    /// 电话回访.
    Phone,
    /// 上门回访.
    Visit,
}

impl FollowUpMethod {
    pub const ALL: [FollowUpMethod; 2] = [FollowUpMethod::Phone, FollowUpMethod::Visit];

    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpMethod::Phone => "phone",
            FollowUpMethod::Visit => "visit",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            FollowUpMethod::Phone => "电话回访",
            FollowUpMethod::Visit => "上门回访",
        }
    }
}

/// Why a case has a follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpReason {
    /// Rated 不满意.
    Unsatisfied,
    /// A group petition (集体访).
    GroupPetition,
    /// The deployment follows up every rated case.
    EveryRated,
    /// Scheduled by the bureau's staff.
    Requested,
}

impl FollowUpReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpReason::Unsatisfied => "unsatisfied",
            FollowUpReason::GroupPetition => "group_petition",
            FollowUpReason::EveryRated => "every_rated",
            FollowUpReason::Requested => "requested",
        }
    }
}

/// What the follow-up found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpOutcome {
    /// 满意.
    Satisfied,
    /// 基本满意.
    BasicallySatisfied,
    /// 不满意.
    Unsatisfied,
    /// 联系不上: the petitioner could not be reached.
    Unreachable,
}

impl FollowUpOutcome {
    pub const ALL: [FollowUpOutcome; 4] = [
        FollowUpOutcome::Satisfied,
        FollowUpOutcome::BasicallySatisfied,
        FollowUpOutcome::Unsatisfied,
        FollowUpOutcome::Unreachable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpOutcome::Satisfied => "satisfied",
            FollowUpOutcome::BasicallySatisfied => "basically_satisfied",
            FollowUpOutcome::Unsatisfied => "unsatisfied",
            FollowUpOutcome::Unreachable => "unreachable",
        }
    }
}

/// One follow-up of a case, as the case's state keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub reason: FollowUpReason,
    pub method: FollowUpMethod,
    pub scheduled_at: Instant,
    pub due_at: Instant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<Instant>,
    /// How it was made (may differ from the planned method: a visit when the phone failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_by: Option<FollowUpMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<FollowUpOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Reason>,
}

impl FollowUp {
    /// Still to be made.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.done_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_follows_up_unsatisfied_and_group_petitions() {
        let p = FollowUpPolicy::default();
        assert_eq!(
            p.after_rating(true, false),
            Some((FollowUpReason::Unsatisfied, FollowUpMethod::Phone))
        );
        assert_eq!(
            p.after_rating(false, true),
            Some((FollowUpReason::GroupPetition, FollowUpMethod::Visit))
        );
        assert_eq!(p.after_rating(false, false), None);
        let all = FollowUpPolicy {
            every_rated: true,
            ..FollowUpPolicy::default()
        };
        assert_eq!(
            all.after_rating(false, false),
            Some((FollowUpReason::EveryRated, FollowUpMethod::Phone))
        );
        let none = FollowUpPolicy {
            unsatisfied: false,
            group_petitions: false,
            ..FollowUpPolicy::default()
        };
        assert_eq!(none.after_rating(true, true), None);
    }

    #[test]
    fn the_time_for_it_is_checked() {
        let bad = |d| FollowUpPolicy {
            within_working_days: d,
            ..FollowUpPolicy::default()
        };
        assert!(bad(0).validate("national").is_err());
        assert!(bad(61).validate("national").is_err());
        assert!(bad(60).validate("national").is_ok());
    }
}
