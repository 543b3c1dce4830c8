//! Connecting, configuring and migrating the database.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::{Result, StoreError};

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The handle to the database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
}

/// Migrations, in order. Each runs once, in its own transaction, and is recorded in
/// `schema_migrations`. The SQL is portable; a backend-specific file may replace one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "core", include_str!("migrations/0001_core.sql")),
    (2, "org", include_str!("migrations/0002_org.sql")),
    (3, "auth", include_str!("migrations/0003_auth.sql")),
    (4, "access", include_str!("migrations/0004_access.sql")),
    (
        5,
        "attachments",
        include_str!("migrations/0005_attachments.sql"),
    ),
    (6, "admin", include_str!("migrations/0006_admin.sql")),
    (7, "jobs", include_str!("migrations/0007_jobs.sql")),
    (
        11,
        "leadership",
        include_str!("migrations/0011_leadership.sql"),
    ),
    (12, "stats", include_str!("migrations/0012_stats.sql")),
    (
        13,
        "event_chunks",
        include_str!("migrations/0013_event_chunks.sql"),
    ),
    (
        14,
        "deadline_watch",
        include_str!("migrations/0014_deadline_watch.sql"),
    ),
    (
        15,
        "supervision_lists",
        include_str!("migrations/0015_supervision_lists.sql"),
    ),
    (
        16,
        "staff_notices",
        include_str!("migrations/0016_staff_notices.sql"),
    ),
    (
        9,
        "dashboard",
        include_str!("migrations/0009_dashboard.sql"),
    ),
    (17, "warnings", include_str!("migrations/0017_warnings.sql")),
    (
        18,
        "rule_settings",
        include_str!("migrations/0018_rule_settings.sql"),
    ),
    (
        19,
        "live_hours",
        include_str!("migrations/0019_live_hours.sql"),
    ),
    (
        20,
        "rebuild_order",
        include_str!("migrations/0020_rebuild_order.sql"),
    ),
];

impl Store {
    /// Connects to `url`: `sqlite://PATH` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Db(sqlx::Error::Configuration(
                format!("unsupported database URL (use sqlite:// or postgres://): {url}").into(),
            )));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .min_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // WAL: readers never block the writer. synchronous=FULL: a commit
                            // is on disk before it is acknowledged (durable, also on power loss).
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = FULL").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA cache_size = -65536").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await?
            }
        };
        Ok(Store { pool, backend })
    }

    /// Opens (creating if needed) the embedded SQLite database in `dir`.
    pub async fn open_dir(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Db(sqlx::Error::Configuration(
                format!("cannot create data directory {}: {e}", dir.display()).into(),
            ))
        })?;
        let path = dir.join("huiyin.db");
        Store::connect(&format!("sqlite://{}", path.display())).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies the migrations that have not run yet. Safe to call at every start.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        self.pool
            .execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .await?;
        let mut applied = Vec::new();
        for (version, name, sql) in MIGRATIONS {
            let mut tx = self.pool.begin().await?;
            let done: Option<(i64,)> =
                sqlx::query_as("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(*version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if done.is_some() {
                continue;
            }
            for statement in split_sql(sql) {
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await?;
            }
            if *version == 13 {
                crate::event_log::backfill(&mut tx, self.backend).await?;
            }
            if *version == 15 {
                crate::watch::backfill(&mut tx).await?;
            }
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(*version)
            .bind(*name)
            .bind(chrono::Utc::now().timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_db(e, "migration ran concurrently"))?;
            tx.commit().await?;
            applied.push(*version);
        }
        Ok(applied)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Splits a migration file into statements (no semicolons inside literals in our files).
fn split_sql(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
