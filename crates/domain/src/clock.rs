//! The statutory clock: turns a case's timers into deadlines and traffic lights.
//!
//! A case records each running time limit as a [`Timer`] (plain data, filled in by the lifecycle
//! when events are applied); [`deadline`] computes its [`Deadline`] under a
//! [`DeadlinePolicy`] and a [`Calendar`]. Everything is pure: "now" is always a parameter.
//!
//! Counting rules, all in China Standard Time ([`CHINA_OFFSET`]):
//!
//! - **Days** (日): with `start_next_day` (Civil Code Art. 201) day 1 is the day after the start
//!   date, so the due date is `start_date + n`; without it, day 1 is the start date itself. Granted
//!   extensions (natural days) and paused days are added to that statutory due date, and then, with
//!   `roll_off_day_forward` (Civil Code Art. 203), a due date that is not a working day moves to
//!   the next working day.
//! - **Working days** (工作日): the n-th working day after the start date (with `start_next_day`;
//!   without it the start date counts when it is a working day). Extensions and paused days are
//!   added as natural days and the result always moves to a working day.
//! - **Hours**: `started_at + n` hours exactly, plus extensions as 24-hour days and paused time
//!   exactly; no rolling.
//! - A date deadline ends at the **end of the due date**, 23:59:59.999 China time: the last
//!   millisecond, rather than the last nanosecond, so that it survives storage and JSON with
//!   millisecond or microsecond precision without turning into the next day. A step done at that
//!   instant or earlier is on time.
//! - Pauses (e.g. a hearing, 听证, whose time does not count, Art. 36): each closed pause, clipped
//!   to the time the timer ran and merged with pauses it overlaps, adds its length rounded up to
//!   whole days (24 hours each). An open pause (no end yet) adds nothing: the deadline is shown as
//!   if the pause ended when it began, with `paused: true`, and moves once the pause is closed.
//! - An explicit `due_override` (e.g. the assigner's deadline for a 交办 matter) is the deadline
//!   as given: policy, extensions and pauses do not apply to it.
//! - Beyond the years the calendar [`covers`](Calendar::covers), days count on the plain week;
//!   callers should flag such deadlines as provisional.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::policy::{ClockKind, DeadlinePolicy, LimitUnit};
use crate::{CHINA_OFFSET, Instant};

/// A span during which a timer does not run, e.g. a hearing (听证).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// When the pause began.
    pub from: Instant,
    /// When it ended; `None` while it lasts.
    pub to: Option<Instant>,
}

/// One statutory timer of a case, as recorded data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// Which time limit this is.
    pub kind: ClockKind,
    /// When it started (e.g. receipt, acceptance, the request).
    pub started_at: Instant,
    /// Granted extensions, in natural days, added to the statutory due date.
    #[serde(default)]
    pub extension_days: u32,
    /// Spans that do not count.
    #[serde(default)]
    pub pauses: Vec<Pause>,
    /// An explicit deadline (e.g. the assigner's 交办 deadline); wins over the policy.
    #[serde(default)]
    pub due_override: Option<Instant>,
    /// When the step was done; the timer no longer runs but is kept to judge timeliness.
    #[serde(default)]
    pub stopped_at: Option<Instant>,
}

impl Timer {
    /// A running timer with no extension, pause or override.
    #[must_use]
    pub const fn new(kind: ClockKind, started_at: Instant) -> Self {
        Self {
            kind,
            started_at,
            extension_days: 0,
            pauses: Vec::new(),
            due_override: None,
            stopped_at: None,
        }
    }
}

/// The traffic light of a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Light {
    /// Time enough, or done on time.
    Green,
    /// Less than the policy's yellow share of the time is left.
    Yellow,
    /// Overdue, or done late.
    Red,
}

/// A computed deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// Which time limit this is.
    pub kind: ClockKind,
    /// When the timer started.
    pub started_at: Instant,
    /// The last instant at which the step is on time.
    pub due_at: Instant,
    /// From this instant on the light is yellow.
    pub yellow_at: Instant,
    /// A pause is open: `due_at` will move when it closes.
    pub paused: bool,
    /// When the step was done, if it was.
    pub stopped_at: Option<Instant>,
    /// Whether the step was done on time; `None` while it runs.
    pub met: Option<bool>,
}

impl Deadline {
    /// Whether the timer runs at `now`: not stopped, or stopped only after `now` (so a history
    /// can be judged as of an earlier time).
    #[must_use]
    pub fn is_running(&self, now: Instant) -> bool {
        self.stopped_at.is_none_or(|stopped| stopped > now)
    }

    /// The light at `now`: a stopped timer is green if it was done on time and red if late; a
    /// running one is red after `due_at`, yellow from `yellow_at`, else green.
    #[must_use]
    pub fn light(&self, now: Instant) -> Light {
        match self.stopped_at {
            Some(stopped) if stopped <= now => {
                if stopped <= self.due_at {
                    Light::Green
                } else {
                    Light::Red
                }
            }
            _ if now > self.due_at => Light::Red,
            _ if now >= self.yellow_at => Light::Yellow,
            _ => Light::Green,
        }
    }
}

/// The deadline of `timer` under `policy` and `calendar` (see the module documentation for the
/// counting rules).
#[must_use]
pub fn deadline(timer: &Timer, policy: &DeadlinePolicy, calendar: &Calendar) -> Deadline {
    let started_at = timer.started_at;
    let due_at = timer
        .due_override
        .unwrap_or_else(|| statutory_due(timer, policy, calendar));
    Deadline {
        kind: timer.kind,
        started_at,
        due_at,
        yellow_at: yellow_at(started_at, due_at, policy.yellow_share),
        paused: timer.stopped_at.is_none() && timer.pauses.iter().any(|p| p.to.is_none()),
        stopped_at: timer.stopped_at,
        met: timer.stopped_at.map(|stopped| stopped <= due_at),
    }
}

/// The deadlines of several timers under one policy.
#[must_use]
pub fn deadlines(timers: &[Timer], policy: &DeadlinePolicy, calendar: &Calendar) -> Vec<Deadline> {
    timers
        .iter()
        .map(|timer| deadline(timer, policy, calendar))
        .collect()
}

/// The deadline due first among those running at `now` and not paused (a paused deadline will
/// move); the first of equals.
#[must_use]
pub fn most_urgent(deadlines: &[Deadline], now: Instant) -> Option<&Deadline> {
    deadlines
        .iter()
        .filter(|d| d.is_running(now) && !d.paused)
        .min_by_key(|d| d.due_at)
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn statutory_due(timer: &Timer, policy: &DeadlinePolicy, calendar: &Calendar) -> Instant {
    let limit = policy.limit(timer.kind);
    let pauses = merged_pauses(timer);
    if limit.unit == LimitUnit::Hours {
        // Exact time: hours, extension days of 24 hours, and the paused time itself.
        let paused = pauses.iter().fold(TimeDelta::zero(), |sum, (from, to)| {
            sum.checked_add(&(*to - *from)).unwrap_or(TimeDelta::MAX)
        });
        return TimeDelta::try_hours(i64::from(limit.amount))
            .zip(TimeDelta::try_days(i64::from(timer.extension_days)))
            .and_then(|(hours, days)| hours.checked_add(&days)?.checked_add(&paused))
            .and_then(|total| timer.started_at.checked_add_signed(total))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
    }
    // Each pause counts in whole days, a partial day rounded up.
    let paused_days: u64 = pauses
        .iter()
        .map(|(from, to)| {
            let ms = (*to - *from).num_milliseconds();
            u64::try_from(ms.div_euclid(DAY_MS) + i64::from(ms.rem_euclid(DAY_MS) != 0))
                .unwrap_or(0)
        })
        .sum();
    let added_days = u64::from(timer.extension_days) + paused_days;
    let start_date = timer.started_at.with_timezone(&CHINA_OFFSET).date_naive();
    let due_date = if limit.unit == LimitUnit::WorkingDays {
        // Without start_next_day the start date is day 1 when it is a working day.
        let counted_from = if policy.start_next_day {
            start_date
        } else {
            start_date.pred_opt().unwrap_or(start_date)
        };
        let statutory = calendar.add_working_days(counted_from, limit.amount);
        calendar.next_working_day_on_or_after(add_days(statutory, added_days))
    } else {
        let amount = u64::from(limit.amount);
        let statutory = if policy.start_next_day {
            add_days(start_date, amount)
        } else {
            add_days(start_date, amount.saturating_sub(1))
        };
        let due = add_days(statutory, added_days);
        if policy.roll_off_day_forward {
            calendar.next_working_day_on_or_after(due)
        } else {
            due
        }
    };
    end_of_day(due_date)
}

/// Closed pauses clipped to the time the timer ran (from the start to the stop, if any), sorted
/// and merged so that overlapping pauses count once.
fn merged_pauses(timer: &Timer) -> Vec<(Instant, Instant)> {
    let mut spans: Vec<(Instant, Instant)> = timer
        .pauses
        .iter()
        .filter_map(|p| {
            let from = p.from.max(timer.started_at);
            let to = p.to?;
            let to = timer.stopped_at.map_or(to, |stopped| to.min(stopped));
            (to > from).then_some((from, to))
        })
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(Instant, Instant)> = Vec::with_capacity(spans.len());
    for (from, to) in spans {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

fn add_days(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_add_days(Days::new(days))
        .unwrap_or(NaiveDate::MAX)
}

/// 23:59:59.999 China time on `date`, as an instant.
pub(crate) fn end_of_day(date: NaiveDate) -> Instant {
    let last_ms = NaiveTime::from_hms_milli_opt(23, 59, 59, 999).unwrap_or(NaiveTime::MIN);
    let local = date.and_time(last_ms);
    local
        .checked_sub_signed(TimeDelta::seconds(i64::from(
            CHINA_OFFSET.local_minus_utc(),
        )))
        .map_or(DateTime::<Utc>::MAX_UTC, |utc| utc.and_utc())
}

/// `started_at + (due_at - started_at) × (1 - yellow_share)`, kept within the two.
fn yellow_at(started_at: Instant, due_at: Instant, yellow_share: f64) -> Instant {
    let total_ms = (due_at - started_at).num_milliseconds();
    if total_ms <= 0 {
        return due_at;
    }
    let share = yellow_share.clamp(0.0, 1.0);
    // `as` saturates, and NaN becomes 0; the clamp keeps the result in range either way.
    let green_ms = ((total_ms as f64) * (1.0 - share)).round() as i64;
    started_at + TimeDelta::milliseconds(green_ms.clamp(0, total_ms))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::{Datelike, TimeZone};
    use proptest::prelude::*;

    use super::*;
    use crate::policy::Limit;

    /// An instant from a China-time wall clock reading.
    fn cst(y: i32, m: u32, d: u32, h: u32, min: u32) -> Instant {
        CHINA_OFFSET
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The end (23:59:59.999 China time) of a date.
    fn eod(y: i32, m: u32, d: u32) -> Instant {
        cst(y, m, d, 23, 59) + TimeDelta::milliseconds(59_999)
    }

    fn local_date(t: Instant) -> NaiveDate {
        t.with_timezone(&CHINA_OFFSET).date_naive()
    }

    fn due(timer: &Timer, policy: &DeadlinePolicy) -> Instant {
        deadline(timer, policy, Calendar::china()).due_at
    }

    fn national() -> DeadlinePolicy {
        DeadlinePolicy::default()
    }

    #[test]
    fn end_of_day_is_last_millisecond_china_time() {
        let end = end_of_day(NaiveDate::from_ymd_opt(2024, 10, 10).unwrap());
        assert_eq!(end.to_rfc3339(), "2024-10-10T15:59:59.999+00:00");
    }

    #[test]
    fn objection_five_working_days_across_national_day_2024() {
        // Friday 2024-09-27. Working days after it: 09-29 (make-up Sunday), 09-30, then the
        // holiday 10-01..07, then 10-08, 10-09, 10-10.
        let timer = Timer::new(ClockKind::Objection, cst(2024, 9, 27, 16, 30));
        assert_eq!(due(&timer, &national()), eod(2024, 10, 10));
    }

    #[test]
    fn fifteen_days_into_a_holiday_roll_to_first_working_day() {
        // 2024-09-20 + 15 = 2024-10-05, inside National Day; first working day after: 10-08.
        let timer = Timer::new(ClockKind::RegisterRoute, cst(2024, 9, 20, 10, 0));
        assert_eq!(due(&timer, &national()), eod(2024, 10, 8));
        // Without rolling the deadline stays on the holiday.
        let no_roll = DeadlinePolicy {
            roll_off_day_forward: false,
            ..national()
        };
        assert_eq!(due(&timer, &no_roll), eod(2024, 10, 5));
        // 2025-01-15 + 15 = 2025-01-30, inside the Spring Festival (01-28..02-04): 02-05.
        let timer = Timer::new(ClockKind::AcceptanceNotice, cst(2025, 1, 15, 9, 0));
        assert_eq!(due(&timer, &national()), eod(2025, 2, 5));
    }

    #[test]
    fn start_date_counts_when_start_next_day_is_off() {
        let same_day = DeadlinePolicy {
            start_next_day: false,
            ..national()
        };
        // 2024-06-05 (Wed) + 30 = 07-05 (Fri); counting the start day: 07-04 (Thu).
        let timer = Timer::new(ClockKind::ReviewDecision, cst(2024, 6, 5, 9, 0));
        assert_eq!(due(&timer, &national()), eod(2024, 7, 5));
        assert_eq!(due(&timer, &same_day), eod(2024, 7, 4));
        // Working days from Monday 2024-06-03: normally 06-04..07 and, past the Dragon Boat
        // holiday on Monday 06-10, Tuesday 06-11; counting the Monday itself: Friday 06-07.
        let timer = Timer::new(ClockKind::Objection, cst(2024, 6, 3, 9, 0));
        assert_eq!(due(&timer, &national()), eod(2024, 6, 11));
        assert_eq!(due(&timer, &same_day), eod(2024, 6, 7));
    }

    #[test]
    fn handling_sixty_days_plus_thirty_day_extension() {
        // 2024-08-02 + 60 = 2024-10-01 (National Day) → rolls to 10-08.
        let mut timer = Timer::new(ClockKind::Handling, cst(2024, 8, 2, 11, 0));
        assert_eq!(due(&timer, &national()), eod(2024, 10, 8));
        // The extension is added to the statutory date (10-01 + 30 = 10-31, a Thursday), not to
        // the rolled one (which would give 11-07).
        timer.extension_days = 30;
        assert_eq!(due(&timer, &national()), eod(2024, 10, 31));
    }

    #[test]
    fn hearing_pause_moves_rereview_decision() {
        // 2024-06-05 + 30 = 2024-07-05 (Friday).
        let mut timer = Timer::new(ClockKind::RereviewDecision, cst(2024, 6, 5, 9, 0));
        assert_eq!(due(&timer, &national()), eod(2024, 7, 5));
        // A hearing of exactly 10 days: 07-15 (Monday).
        timer.pauses.push(Pause {
            from: cst(2024, 6, 10, 9, 0),
            to: Some(cst(2024, 6, 20, 9, 0)),
        });
        assert_eq!(due(&timer, &national()), eod(2024, 7, 15));
        // One hour more is a partial day, rounded up: 11 days, 07-16.
        timer.pauses[0].to = Some(cst(2024, 6, 20, 10, 0));
        assert_eq!(due(&timer, &national()), eod(2024, 7, 16));
        // An overlapping second record of the same hearing counts once.
        timer.pauses.push(Pause {
            from: cst(2024, 6, 15, 9, 0),
            to: Some(cst(2024, 6, 18, 9, 0)),
        });
        assert_eq!(due(&timer, &national()), eod(2024, 7, 16));
        // A pause before the start does not count.
        timer.pauses = vec![Pause {
            from: cst(2024, 5, 1, 9, 0),
            to: Some(cst(2024, 6, 5, 9, 0)),
        }];
        assert_eq!(due(&timer, &national()), eod(2024, 7, 5));
    }

    #[test]
    fn open_pause_is_flagged_and_counts_nothing_yet() {
        let mut timer = Timer::new(ClockKind::RereviewDecision, cst(2024, 6, 5, 9, 0));
        timer.pauses.push(Pause {
            from: cst(2024, 6, 10, 9, 0),
            to: None,
        });
        let d = deadline(&timer, &national(), Calendar::china());
        assert!(d.paused);
        assert_eq!(d.due_at, eod(2024, 7, 5));
        // A paused deadline is not the most urgent: it will move.
        assert!(most_urgent(std::slice::from_ref(&d), cst(2024, 6, 11, 0, 0)).is_none());
    }

    #[test]
    fn twenty_four_hour_rule_is_exact_and_does_not_roll() {
        let foshan = crate::policy::PolicySet {
            by_region: vec![(
                "4406".into(),
                crate::policy::PolicyOverride::limit(ClockKind::RegisterRoute, Limit::hours(24)),
            )],
            ..Default::default()
        }
        .resolve("440604", None);
        // Received on National Day at 10:00: due the next day at 10:00, holiday or not.
        let timer = Timer::new(ClockKind::RegisterRoute, cst(2024, 10, 1, 10, 0));
        let d = deadline(&timer, &foshan, Calendar::china());
        assert_eq!(d.due_at, cst(2024, 10, 2, 10, 0));
        // Yellow with a fifth (4.8 h) left.
        assert_eq!(d.yellow_at, cst(2024, 10, 2, 5, 12));
    }

    #[test]
    fn counting_uses_china_date_not_utc_date() {
        // 2024-06-04T17:00Z is 2024-06-05 01:00 in China.
        let started = Utc.with_ymd_and_hms(2024, 6, 4, 17, 0, 0).single().unwrap();
        let timer = Timer::new(ClockKind::ReviewRequest, started);
        assert_eq!(due(&timer, &national()), eod(2024, 7, 5));
    }

    #[test]
    fn due_override_wins_over_policy() {
        let mut timer = Timer::new(ClockKind::CompletionReport, cst(2024, 3, 1, 9, 0));
        assert_eq!(due(&timer, &national()), eod(2024, 4, 30)); // 60 days, like handling
        timer.due_override = Some(cst(2024, 3, 20, 17, 0));
        timer.extension_days = 30;
        assert_eq!(due(&timer, &national()), cst(2024, 3, 20, 17, 0));
    }

    #[test]
    fn outside_the_calendar_the_plain_week_applies() {
        // 2030-10-01 is a Tuesday; no 2030 notice is shipped, so it counts as a working day.
        assert!(!Calendar::china().covers(2030));
        let timer = Timer::new(ClockKind::RegisterRoute, cst(2030, 9, 16, 9, 0));
        assert_eq!(due(&timer, &national()), eod(2030, 10, 1));
    }

    #[test]
    fn lights() {
        let timer = Timer::new(ClockKind::ReviewDecision, cst(2024, 6, 5, 9, 0));
        let d = deadline(&timer, &national(), Calendar::china());
        assert_eq!(d.due_at, eod(2024, 7, 5));
        assert!(d.yellow_at > cst(2024, 6, 28, 0, 0) && d.yellow_at < cst(2024, 6, 30, 0, 0));
        assert_eq!(d.light(cst(2024, 6, 6, 0, 0)), Light::Green);
        assert_eq!(
            d.light(d.yellow_at - TimeDelta::milliseconds(1)),
            Light::Green
        );
        assert_eq!(d.light(d.yellow_at), Light::Yellow);
        assert_eq!(d.light(d.due_at), Light::Yellow);
        assert_eq!(d.light(d.due_at + TimeDelta::milliseconds(1)), Light::Red);
        assert_eq!(d.met, None);

        let mut done = timer.clone();
        done.stopped_at = Some(d.due_at);
        let on_time = deadline(&done, &national(), Calendar::china());
        assert_eq!(on_time.met, Some(true));
        assert_eq!(on_time.light(cst(2025, 1, 1, 0, 0)), Light::Green);
        // Judged as of before the stop, it was still running.
        assert_eq!(on_time.light(d.yellow_at), Light::Yellow);

        done.stopped_at = Some(d.due_at + TimeDelta::milliseconds(1));
        let late = deadline(&done, &national(), Calendar::china());
        assert_eq!(late.met, Some(false));
        assert_eq!(late.light(cst(2025, 1, 1, 0, 0)), Light::Red);
        assert_eq!(serde_json::to_string(&Light::Yellow).unwrap(), "\"yellow\"");
    }

    #[test]
    fn most_urgent_is_earliest_running() {
        let start = cst(2024, 6, 5, 9, 0);
        let mut objection = Timer::new(ClockKind::Objection, start);
        let handling = Timer::new(ClockKind::Handling, start);
        let register = Timer::new(ClockKind::RegisterRoute, start);
        objection.stopped_at = Some(cst(2024, 6, 6, 9, 0));
        let all = deadlines(
            &[objection, handling, register],
            &national(),
            Calendar::china(),
        );
        assert_eq!(all.len(), 3);
        let now = cst(2024, 6, 7, 0, 0);
        assert_eq!(
            most_urgent(&all, now).map(|d| d.kind),
            Some(ClockKind::RegisterRoute)
        );
        // Before the objection was answered, it was the most urgent.
        let before = cst(2024, 6, 5, 12, 0);
        assert_eq!(
            most_urgent(&all, before).map(|d| d.kind),
            Some(ClockKind::Objection)
        );
        assert!(most_urgent(&[], now).is_none());
    }

    #[test]
    fn timer_json_defaults() {
        let json = r#"{"kind": "handling", "started_at": "2024-06-05T01:00:00Z"}"#;
        let timer: Timer = serde_json::from_str(json).unwrap();
        assert_eq!(
            timer,
            Timer::new(ClockKind::Handling, cst(2024, 6, 5, 9, 0))
        );
    }

    #[test]
    fn absurd_data_saturates_instead_of_panicking() {
        let start = cst(2024, 6, 5, 9, 0);
        for unit in [LimitUnit::Hours, LimitUnit::Days, LimitUnit::WorkingDays] {
            let policy = policy_with(
                Limit {
                    amount: u32::MAX,
                    unit,
                },
                true,
                true,
            );
            let mut timer = Timer::new(ClockKind::Handling, start);
            timer.extension_days = u32::MAX;
            timer.pauses = vec![
                Pause {
                    from: DateTime::<Utc>::MIN_UTC,
                    to: Some(DateTime::<Utc>::MAX_UTC),
                };
                3
            ];
            let d = deadline(&timer, &policy, Calendar::china());
            assert!(d.due_at > start && d.yellow_at >= start && d.yellow_at <= d.due_at);
        }
    }

    // ---- properties -------------------------------------------------------------------------

    fn instant_2024_2026() -> impl Strategy<Value = Instant> {
        let from = cst(2024, 1, 1, 0, 0).timestamp_millis();
        let to = cst(2026, 12, 31, 23, 59).timestamp_millis();
        (from..to).prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap())
    }

    fn limit() -> impl Strategy<Value = Limit> {
        let unit = prop_oneof![
            Just(LimitUnit::Hours),
            Just(LimitUnit::Days),
            Just(LimitUnit::WorkingDays)
        ];
        (1_u32..=90, unit).prop_map(|(amount, unit)| Limit { amount, unit })
    }

    fn policy_with(limit: Limit, start_next_day: bool, roll: bool) -> DeadlinePolicy {
        let mut policy = DeadlinePolicy {
            start_next_day,
            roll_off_day_forward: roll,
            ..DeadlinePolicy::default()
        };
        policy.limits.set(ClockKind::Handling, limit);
        policy
    }

    fn pauses(started_at: Instant) -> impl Strategy<Value = Vec<Pause>> {
        // Offsets in minutes from the start (some before it), lengths up to 20 days.
        proptest::collection::vec((-10_000_i64..100_000, 1_i64..28_800), 0..4).prop_map(
            move |spans| {
                spans
                    .into_iter()
                    .map(|(offset, len)| {
                        let from = started_at + TimeDelta::minutes(offset);
                        Pause {
                            from,
                            to: Some(from + TimeDelta::minutes(len)),
                        }
                    })
                    .collect()
            },
        )
    }

    fn timer_and_policy() -> impl Strategy<Value = (Timer, DeadlinePolicy)> {
        (
            instant_2024_2026(),
            limit(),
            any::<bool>(),
            any::<bool>(),
            0_u32..=30,
        )
            .prop_flat_map(|(start, limit, next_day, roll, ext)| {
                pauses(start).prop_map(move |pauses| {
                    let mut timer = Timer::new(ClockKind::Handling, start);
                    timer.extension_days = ext;
                    timer.pauses = pauses;
                    (timer, policy_with(limit, next_day, roll))
                })
            })
    }

    proptest! {
        #[test]
        fn due_and_yellow_are_ordered((timer, policy) in timer_and_policy()) {
            let d = deadline(&timer, &policy, Calendar::china());
            prop_assert!(d.due_at >= d.started_at);
            prop_assert!(d.started_at <= d.yellow_at && d.yellow_at <= d.due_at);
        }

        #[test]
        fn rolled_day_deadline_is_a_working_day(
            start in instant_2024_2026(),
            amount in 1_u32..=365,
            ext in 0_u32..=30,
            next_day in any::<bool>(),
        ) {
            let policy = policy_with(Limit::days(amount), next_day, true);
            let mut timer = Timer::new(ClockKind::Handling, start);
            timer.extension_days = ext;
            let d = deadline(&timer, &policy, Calendar::china());
            let due_date = local_date(d.due_at);
            prop_assume!(Calendar::china().covers(due_date.year()));
            prop_assert!(Calendar::china().is_working_day(due_date), "{due_date}");
            // It ends the day, China time.
            prop_assert_eq!(d.due_at, end_of_day(due_date));
            // And it is the first working day on or after the plain count.
            let plain = local_date(start) + Days::new(u64::from(amount + ext) - u64::from(!next_day));
            prop_assert!(due_date >= plain);
            prop_assert_eq!(
                Calendar::china().working_days_between(plain, due_date),
                u32::from(due_date != plain)
            );
        }

        #[test]
        fn working_day_deadline_counts_exactly_n(start in instant_2024_2026(), n in 1_u32..=60) {
            let policy = policy_with(Limit::working_days(n), true, true);
            let d = deadline(&Timer::new(ClockKind::Handling, start), &policy, Calendar::china());
            let due_date = local_date(d.due_at);
            prop_assert!(Calendar::china().is_working_day(due_date));
            prop_assert_eq!(Calendar::china().working_days_between(local_date(start), due_date), n);
        }

        #[test]
        fn hour_deadline_is_exact(start in instant_2024_2026(), n in 1_u32..=72) {
            let policy = policy_with(Limit::hours(n), true, true);
            let d = deadline(&Timer::new(ClockKind::Handling, start), &policy, Calendar::china());
            prop_assert_eq!(d.due_at - start, TimeDelta::hours(i64::from(n)));
        }

        #[test]
        fn extension_never_makes_it_earlier((timer, policy) in timer_and_policy(), more in 1_u32..=30) {
            let before = deadline(&timer, &policy, Calendar::china()).due_at;
            let mut extended = timer.clone();
            extended.extension_days += more;
            prop_assert!(deadline(&extended, &policy, Calendar::china()).due_at >= before);
        }

        #[test]
        fn pauses_never_make_it_earlier((timer, policy) in timer_and_policy()) {
            let with = deadline(&timer, &policy, Calendar::china()).due_at;
            let mut without = timer.clone();
            without.pauses.clear();
            prop_assert!(with >= deadline(&without, &policy, Calendar::china()).due_at);
        }

        #[test]
        fn met_matches_stop_and_light(
            (timer, policy) in timer_and_policy(),
            stop_after_min in 0_i64..200_000,
        ) {
            let mut timer = timer;
            let stopped = timer.started_at + TimeDelta::minutes(stop_after_min);
            timer.stopped_at = Some(stopped);
            let d = deadline(&timer, &policy, Calendar::china());
            prop_assert_eq!(d.met, Some(stopped <= d.due_at));
            let later = stopped + TimeDelta::days(1);
            let expected = if stopped <= d.due_at { Light::Green } else { Light::Red };
            prop_assert_eq!(d.light(later), expected);
        }
    }
}
