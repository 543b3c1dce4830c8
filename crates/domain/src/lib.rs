//! Huiyin's domain: the law as code. Pure — no I/O, no async, no SQL, no HTTP.
//!
//! - [`access`]: the authorisation policy (who may do what to which case) and query scopes.
//! - [`values`]: parsed value types (ID-card numbers, phone numbers, region codes, receipt codes…).
//! - [`petition`]: a petition as received (信访事项).
//! - [`case`]: the case lifecycle as `decide(state, command, ctx)` and `apply(state, event)`.
//! - [`stats`]: the indicators (形势网上判) and what each case contributes to their counters.
//! - [`calendar`], [`policy`], [`clock`]: the statutory clock (法定时限) over the official
//!   holiday calendar, with per-jurisdiction policies.
#![forbid(unsafe_code)]

pub mod access;
pub mod calendar;
pub mod case;
pub mod clock;
pub mod follow_up;
pub mod ids;
pub mod petition;
pub mod policy;
pub mod stats;
pub mod supervision;
pub mod values;
pub mod warning;

/// An instant, always in UTC; shown in Asia/Shanghai.
pub type Instant = chrono::DateTime<chrono::Utc>;

/// China Standard Time (UTC+8, no daylight saving since 1991): the offset in which statutory
/// days begin and end.
pub const CHINA_OFFSET: chrono::FixedOffset = match chrono::FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};
