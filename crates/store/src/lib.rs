//! Huiyin's database: the only source of truth.
//!
//! - The event log (`events`): append-only, one global sequence, a per-case version for
//!   optimistic concurrency, every event hash-chained with SM3.
//! - Projections (`cases`): the current state of each case and the columns lists need,
//!   written in the same transaction as the events that changed it.
//! - Units, personal data (kept apart from the log), idempotency keys, API tokens.
//!
//! One code path serves SQLite (embedded, the default) and PostgreSQL through sqlx's `Any`
//! driver with portable SQL; the few differences are behind [`Backend`].
#![forbid(unsafe_code)]

mod admin;
mod attachments;
mod audit;
mod auth;
mod chain;
mod dashboard;
mod db;
mod event_log;
mod event_wire;
mod inbox;
mod jobs;
mod leader;
mod live;
mod notices;
mod org;
mod read;
mod search;
mod stats;
mod text;
mod warnings;
mod watch;
mod write;

pub use admin::{CalendarYearRow, CategoryRecord, PolicyOverrideRow, RuleSettingRow, UserListRow};
pub use attachments::AttachmentRecord;
pub use audit::{AuditEntry, AuditRecord, AuditVerifyReport, canonical_audit};
pub use auth::{
    MembershipRecord, PetitionerCase, PetitionerSessionRecord, SessionRecord, SmsCodeRecord,
    UserChange, UserRecord, split_list,
};
pub use chain::{GENESIS_HASH, VerifyReport, canonical_event, chain_hash};
pub use dashboard::{Area, LiveCounts};
pub use db::{Backend, Store};
pub use inbox::{InboxCounts, InboxFilter, UnitSearch};
pub use jobs::{
    ClaimedJob, DeliveryRecord, InboxMessage, JobCounts, JobOutcome, JobRecord, NewJob,
};
pub use leader::{CirculationRow, LeaderCursor, LeaderList, is_leadership_event};
pub use live::{LiveDeltas, LiveMark, live_delta};
pub use notices::{
    Broadcast, BroadcastGroup, DueChargeReminder, NewStaffNotice, StaffNotice, UnitMember,
};
pub use org::{
    ImportReport, OrgImportError, OrgStats, OrgUnit, RegionRecord, UnitHistoryEntry, kind_codes,
};
pub use read::{
    CaseRecord, CaseSummary, ListFilter, StoredEvent, TokenRecord, UnitRecord,
    decode_chunk_for_bench,
};
pub use search::SearchSource;
pub use stats::{CounterRow, StatsFeed, counter_differences, day_number as stats_day_number};
pub use warnings::{WarningFilter, WarningRecord};
pub use watch::DueWatch;
pub use write::{Projection, WriteTx};

use chrono::{TimeZone, Utc};
use huiyin_domain::Instant;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else changed the case first (a unique version was taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A referenced row does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The stored data cannot be read back (corruption or a bug).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl StoreError {
    fn from_db(err: sqlx::Error, what: &str) -> StoreError {
        if let sqlx::Error::Database(db) = &err
            && db.is_unique_violation()
        {
            return StoreError::Conflict(what.to_string());
        }
        StoreError::Db(err)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Milliseconds since the Unix epoch, the portable time column type.
pub fn to_ms(t: Instant) -> i64 {
    t.timestamp_millis()
}

/// The inverse of [`to_ms`].
pub fn from_ms(ms: i64) -> Result<Instant> {
    match Utc.timestamp_millis_opt(ms) {
        chrono::LocalResult::Single(t) => Ok(t),
        _ => Err(StoreError::Corrupt(format!("timestamp out of range: {ms}"))),
    }
}

/// The far future, used where a column needs a value that sorts last (no deadline).
pub const NO_DEADLINE_MS: i64 = i64::MAX;

/// Fresh databases for tests: SQLite in a temporary directory by default, or a new schema on
/// the PostgreSQL server named by `HUIYIN_TEST_DATABASE_URL`. Every test gets its own, so tests
/// never share state.
pub mod testing {
    use crate::{Result, Store};

    /// A test database; call [`TestDb::cleanup`] at the end (a failed test leaves its schema
    /// for inspection; CI drops the whole database afterwards).
    pub struct TestDb {
        pub store: Store,
        pub url: String,
        schema: Option<(String, String)>,
        _dir: Option<tempfile::TempDir>,
    }

    impl TestDb {
        pub async fn cleanup(self) -> Result<()> {
            self.store.close().await;
            if let Some((admin_url, schema)) = self.schema {
                let admin = Store::connect(&admin_url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE"
                )))
                .execute(admin.pool())
                .await?;
                admin.close().await;
            }
            Ok(())
        }
    }

    /// Which backend the test suite runs on.
    pub fn postgres_url() -> Option<String> {
        std::env::var("HUIYIN_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
    }

    /// A fresh, migrated database.
    pub async fn fresh() -> Result<TestDb> {
        if let Some(base) = postgres_url() {
            let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
            let admin = Store::connect(&base).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(admin.pool())
                .await?;
            admin.close().await;
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
            let store = Store::connect(&url).await?;
            store.migrate().await?;
            Ok(TestDb {
                store,
                url,
                schema: Some((base, schema)),
                _dir: None,
            })
        } else {
            let dir = tempfile::tempdir().map_err(|e| {
                crate::StoreError::Db(sqlx::Error::Configuration(e.to_string().into()))
            })?;
            let url = format!("sqlite://{}", dir.path().join("huiyin.db").display());
            let store = Store::connect(&url).await?;
            store.migrate().await?;
            Ok(TestDb {
                store,
                url,
                schema: None,
                _dir: Some(dir),
            })
        }
    }
}
