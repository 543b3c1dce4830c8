//! The job queue and the notification outbox (issue 6): enqueue (also inside a write
//! transaction, see [`crate::WriteTx::enqueue`]), claim with a lease, finish, retry, dead
//! letters, and the delivery log.
//!
//! Claiming is one `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING …`: on PostgreSQL the
//! inner select takes `FOR UPDATE SKIP LOCKED`, so several workers claim different jobs without
//! waiting for each other; on SQLite the statement holds the single write lock. A claimed job
//! is `running` until its lease ends; then it is due again (the worker died or hung). The
//! attempt number is the fencing token: only the holder of the current attempt can finish it.

use crate::db::{Backend, Store};
use crate::write::values_list;
use crate::{Result, StoreError};

/// A job to enqueue. The idempotency key is unique: enqueuing the same key twice keeps the
/// first job (a repeated cause never sends a notification twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub kind: String,
    pub payload: String,
    pub idempotency_key: String,
    pub case_id: Option<String>,
    /// When it may run first (milliseconds).
    pub run_at_ms: i64,
    pub max_attempts: i64,
    pub created_at_ms: i64,
}

/// A job a worker holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClaimedJob {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub idempotency_key: String,
    pub case_id: Option<String>,
    /// This attempt (1 for the first): the fencing token for finishing it.
    pub attempt: i64,
    pub max_attempts: i64,
}

/// A job as administrators see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobRecord {
    pub id: String,
    pub kind: String,
    pub idempotency_key: String,
    pub case_id: Option<String>,
    /// `ready`, `running`, `done` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub due_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct JobCounts {
    pub ready: i64,
    pub running: i64,
    pub done: i64,
    pub dead: i64,
}

/// One delivery attempt of a notification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryRecord {
    pub job_id: String,
    pub case_id: Option<String>,
    pub channel: String,
    pub step: String,
    pub attempt: i64,
    pub at_ms: i64,
    pub ok: bool,
    pub detail: String,
}

/// A write that records what became of a claimed job; several are committed together by
/// [`Store::write_job_outcomes`] (workers finish many jobs a second, and on SQLite each commit
/// is a disk flush).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Finished (see [`Store::complete_job`]).
    Done {
        id: String,
        attempt: i64,
        now_ms: i64,
    },
    /// A failed attempt (see [`Store::fail_job`]).
    Failed {
        id: String,
        attempt: i64,
        now_ms: i64,
        error: String,
        retry_at_ms: Option<i64>,
    },
    /// One delivery attempt for the log (see [`Store::log_delivery`]); always `true`.
    Delivery(DeliveryRecord),
}

/// A message in a petitioner's in-app inbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InboxMessage {
    pub id: String,
    pub case_id: String,
    pub step: String,
    pub body: String,
    pub created_at_ms: i64,
    pub read_at_ms: Option<i64>,
}

const JOB_COLUMNS: &str = "id, kind, idempotency_key, case_id, state, attempts, max_attempts, \
                           due_at, last_error, created_at, updated_at";

type JobRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    i64,
    i64,
    Option<String>,
    i64,
    i64,
);

type ClaimRow = (String, String, String, String, Option<String>, i64, i64);

type DeliveryRow = (
    String,
    Option<String>,
    String,
    String,
    i64,
    i64,
    i64,
    String,
);

fn job_record(r: JobRow) -> JobRecord {
    JobRecord {
        id: r.0,
        kind: r.1,
        idempotency_key: r.2,
        case_id: r.3,
        state: r.4,
        attempts: r.5,
        max_attempts: r.6,
        due_at_ms: r.7,
        last_error: r.8,
        created_at_ms: r.9,
        updated_at_ms: r.10,
    }
}

/// The insert of a batch of jobs (8 columns each); a known key is skipped.
pub(crate) fn insert_jobs_sql(values: &str) -> String {
    format!(
        "WITH v (id, kind, payload, idempotency_key, case_id, max_attempts, due_at, created_at)
            AS (VALUES {values})
         INSERT INTO jobs (id, kind, payload, idempotency_key, case_id, state, attempts,
            max_attempts, due_at, worker, last_error, created_at, updated_at)
         SELECT v.id, v.kind, v.payload, v.idempotency_key, v.case_id, 'ready', 0,
            v.max_attempts, v.due_at, NULL, NULL, v.created_at, v.created_at
         FROM v WHERE 1 = 1
         ON CONFLICT (idempotency_key) DO NOTHING"
    )
}

pub(crate) const JOB_INSERT_COLS: usize = 8;

/// Longest error text kept with a job or a delivery.
const MAX_ERROR: usize = 2000;

fn clip(s: &str) -> String {
    if s.len() <= MAX_ERROR {
        return s.to_string();
    }
    let mut end = MAX_ERROR;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl Store {
    /// Enqueues jobs in a transaction of their own (for jobs that no case change causes:
    /// broadcasts, scans, tests). Returns how many were new.
    pub async fn enqueue_jobs(&self, jobs: &[NewJob]) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let n = insert_jobs(&mut tx, self.backend, jobs).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Claims up to `limit` due jobs for `worker`, leased until `now_ms + lease_ms`.
    pub async fn claim_jobs(
        &self,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedJob>> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, due_at = $1,
                worker = $2, updated_at = $3
             WHERE id IN (SELECT id FROM jobs WHERE state IN ('ready', 'running') AND due_at <= $3
                          ORDER BY due_at LIMIT $4 {lock})
             RETURNING id, kind, payload, idempotency_key, case_id, attempts, max_attempts"
        );
        let rows: Vec<ClaimRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(now_ms.saturating_add(lease_ms))
            .bind(worker)
            .bind(now_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ClaimedJob {
                id: r.0,
                kind: r.1,
                payload: r.2,
                idempotency_key: r.3,
                case_id: r.4,
                attempt: r.5,
                max_attempts: r.6,
            })
            .collect())
    }

    /// Finishes a job. `false`: the lease was lost (another worker holds a later attempt).
    pub async fn complete_job(&self, id: &str, attempt: i64, now_ms: i64) -> Result<bool> {
        self.write_one_outcome(JobOutcome::Done {
            id: id.to_string(),
            attempt,
            now_ms,
        })
        .await
    }

    /// Records a failed attempt: due again at `retry_at_ms`, or (with `None`) a dead letter.
    /// `false`: the lease was lost.
    pub async fn fail_job(
        &self,
        id: &str,
        attempt: i64,
        now_ms: i64,
        error: &str,
        retry_at_ms: Option<i64>,
    ) -> Result<bool> {
        self.write_one_outcome(JobOutcome::Failed {
            id: id.to_string(),
            attempt,
            now_ms,
            error: error.to_string(),
            retry_at_ms,
        })
        .await
    }

    async fn write_one_outcome(&self, outcome: JobOutcome) -> Result<bool> {
        let done = self
            .write_job_outcomes(std::slice::from_ref(&outcome))
            .await?;
        Ok(done.first().copied().unwrap_or(false))
    }

    /// Writes job outcomes in one transaction, in order; for each, whether it took (`false`:
    /// the lease had been lost). All or none are written.
    pub async fn write_job_outcomes(&self, outcomes: &[JobOutcome]) -> Result<Vec<bool>> {
        let mut tx = self.pool.begin().await?;
        let mut took = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            let ok = match outcome {
                JobOutcome::Done { id, attempt, now_ms } => {
                    sqlx::query(
                        "UPDATE jobs SET state = 'done', due_at = $3, updated_at = $3, last_error = NULL
                         WHERE id = $1 AND attempts = $2 AND state = 'running'",
                    )
                    .bind(id.as_str())
                    .bind(*attempt)
                    .bind(*now_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1
                }
                JobOutcome::Failed {
                    id,
                    attempt,
                    now_ms,
                    error,
                    retry_at_ms,
                } => {
                    let (state, due) = match retry_at_ms {
                        Some(at) => ("ready", *at),
                        None => ("dead", *now_ms),
                    };
                    sqlx::query(
                        "UPDATE jobs SET state = $3, due_at = $4, updated_at = $5, last_error = $6
                         WHERE id = $1 AND attempts = $2 AND state = 'running'",
                    )
                    .bind(id.as_str())
                    .bind(*attempt)
                    .bind(state)
                    .bind(due)
                    .bind(*now_ms)
                    .bind(clip(error))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1
                }
                JobOutcome::Delivery(d) => {
                    sqlx::query(
                        "INSERT INTO deliveries (id, job_id, case_id, channel, step, attempt, at_ms, ok, detail)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(d.job_id.as_str())
                    .bind(d.case_id.as_deref())
                    .bind(d.channel.as_str())
                    .bind(d.step.as_str())
                    .bind(d.attempt)
                    .bind(d.at_ms)
                    .bind(i64::from(d.ok))
                    .bind(clip(&d.detail))
                    .execute(&mut *tx)
                    .await?;
                    true
                }
            };
            took.push(ok);
        }
        tx.commit().await?;
        Ok(took)
    }

    /// Extends the lease of a job still being worked on. `false`: the lease was lost.
    pub async fn extend_lease(&self, id: &str, attempt: i64, until_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET due_at = $3 WHERE id = $1 AND attempts = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(attempt)
        .bind(until_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The dead letters, newest first, keyset-paginated by `before_ms`.
    pub async fn dead_jobs(&self, before_ms: Option<i64>, limit: i64) -> Result<Vec<JobRecord>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'dead' AND updated_at < $1
             ORDER BY updated_at DESC, id LIMIT $2"
        );
        let rows: Vec<JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(before_ms.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(job_record).collect())
    }

    /// Puts a dead letter back in the queue with fresh attempts. `false`: no such dead job.
    pub async fn retry_dead_job(&self, id: &str, now_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'ready', attempts = 0, due_at = $2, updated_at = $2
             WHERE id = $1 AND state = 'dead'",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// One job.
    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row: Option<JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(job_record))
    }

    /// The jobs a case caused, oldest first.
    pub async fn jobs_for_case(&self, case_id: &str) -> Result<Vec<JobRecord>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE case_id = $1 ORDER BY created_at, id LIMIT 1000"
        );
        let rows: Vec<JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(job_record).collect())
    }

    /// How many jobs are in each state.
    pub async fn job_counts(&self) -> Result<JobCounts> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .fetch_all(&self.pool)
                .await?;
        let mut counts = JobCounts::default();
        for (state, n) in rows {
            match state.as_str() {
                "ready" => counts.ready = n,
                "running" => counts.running = n,
                "done" => counts.done = n,
                "dead" => counts.dead = n,
                other => return Err(StoreError::Corrupt(format!("job state {other}"))),
            }
        }
        Ok(counts)
    }

    /// Records one delivery attempt.
    pub async fn log_delivery(&self, d: &DeliveryRecord) -> Result<()> {
        self.write_one_outcome(JobOutcome::Delivery(d.clone()))
            .await
            .map(|_| ())
    }

    /// A case's delivery log, oldest first.
    pub async fn deliveries_for_case(&self, case_id: &str) -> Result<Vec<DeliveryRecord>> {
        let rows: Vec<DeliveryRow> = sqlx::query_as(
            "SELECT job_id, case_id, channel, step, attempt, at_ms, ok, detail FROM deliveries
                 WHERE case_id = $1 ORDER BY at_ms, id LIMIT 1000",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| DeliveryRecord {
                job_id: r.0,
                case_id: r.1,
                channel: r.2,
                step: r.3,
                attempt: r.4,
                at_ms: r.5,
                ok: r.6 != 0,
                detail: r.7,
            })
            .collect())
    }

    /// Puts a message in a petitioner's inbox; `false` if its key was delivered before.
    pub async fn put_inbox_message(
        &self,
        idempotency_key: &str,
        phone_hash: &str,
        case_id: &str,
        step: &str,
        body: &str,
        now_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO inbox_messages (id, idempotency_key, phone_hash, case_id, step, body,
                created_at, read_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(idempotency_key)
        .bind(phone_hash)
        .bind(case_id)
        .bind(step)
        .bind(body)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A petitioner's inbox (by phone hash), newest first.
    pub async fn inbox_messages(&self, phone_hash: &str, limit: i64) -> Result<Vec<InboxMessage>> {
        let rows: Vec<(String, String, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, case_id, step, body, created_at, read_at FROM inbox_messages
             WHERE phone_hash = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(phone_hash)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| InboxMessage {
                id: r.0,
                case_id: r.1,
                step: r.2,
                body: r.3,
                created_at_ms: r.4,
                read_at_ms: r.5,
            })
            .collect())
    }

    /// The inbox of a petitioner account, newest first.
    pub async fn inbox_for_account(
        &self,
        account_id: &str,
        limit: i64,
    ) -> Result<Vec<InboxMessage>> {
        let phone: Option<(String,)> =
            sqlx::query_as("SELECT phone_hash FROM petitioner_accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
        match phone {
            Some((hash,)) => self.inbox_messages(&hash, limit).await,
            None => Ok(Vec::new()),
        }
    }

    /// Saves an administrator's template (already checked by the application).
    pub async fn put_notice_template(
        &self,
        step: &str,
        locale: &str,
        format: &str,
        body: &str,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO notice_templates (step, locale, format, body, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (step, locale, format) DO UPDATE SET body = $4, updated_at = $5",
        )
        .bind(step)
        .bind(locale)
        .bind(format)
        .bind(body)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The saved templates: (step, locale, format, body).
    pub async fn notice_templates(&self) -> Result<Vec<(String, String, String, String)>> {
        Ok(
            sqlx::query_as("SELECT step, locale, format, body FROM notice_templates")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

/// Inserts jobs through `conn` (a transaction's connection); a known key is skipped.
pub(crate) async fn insert_jobs(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    jobs: &[NewJob],
) -> Result<u64> {
    let mut affected = 0;
    for chunk in jobs.chunks(500) {
        let list = values_list(backend, chunk.len(), JOB_INSERT_COLS);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(insert_jobs_sql(&list)));
        for j in chunk {
            query = query
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(j.kind.as_str())
                .bind(j.payload.as_str())
                .bind(j.idempotency_key.as_str())
                .bind(j.case_id.as_deref())
                .bind(j.max_attempts)
                .bind(j.run_at_ms)
                .bind(j.created_at_ms);
        }
        affected += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(affected)
}
