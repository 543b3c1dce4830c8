//! The deadline scan's reads: the cases whose next escalation-ladder step is due (migration
//! 14). The step is written with the case projection ([`crate::Projection::watch`]), so the
//! scan is one keyset range read of the `cases_watch` index `(watch_at, id)`: its cost grows
//! with the steps due, not with the cases open.

use huiyin_domain::ids::CaseId;
use huiyin_domain::supervision::LadderStep;

use crate::db::Store;
use crate::{NO_DEADLINE_MS, Result};

/// A case whose stored ladder step is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueWatch {
    pub case_id: CaseId,
    /// `None` for a row stored before migration 14 (or with an unknown name): recompute it.
    pub step: Option<LadderStep>,
    pub at_ms: i64,
}

impl Store {
    /// Up to `limit` cases whose step is due at `now_ms`, in `(watch_at, id)` order after
    /// `after` (the last row of the previous page).
    pub async fn due_watches(
        &self,
        now_ms: i64,
        limit: u32,
        after: Option<(i64, &str)>,
    ) -> Result<Vec<DueWatch>> {
        let limit = i64::from(limit.clamp(1, 10_000));
        let rows: Vec<(String, Option<String>, i64)> = match after {
            None => {
                sqlx::query_as(
                    "SELECT id, watch_step, watch_at FROM cases WHERE watch_at <= $1
                     ORDER BY watch_at, id LIMIT $2",
                )
                .bind(now_ms)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            Some((at, id)) => {
                sqlx::query_as(
                    "SELECT id, watch_step, watch_at FROM cases
                     WHERE watch_at <= $1 AND (watch_at, id) > ($2, $3)
                     ORDER BY watch_at, id LIMIT $4",
                )
                .bind(now_ms)
                .bind(at)
                .bind(id.to_string())
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(id, step, at_ms)| DueWatch {
                case_id: CaseId::new(id),
                step: step.as_deref().and_then(LadderStep::parse),
                at_ms,
            })
            .collect())
    }

    /// How many cases have a ladder step due at `now_ms` (for the scan's report and the
    /// administrators' page).
    pub async fn count_due_watches(&self, now_ms: i64) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cases WHERE watch_at <= $1")
            .bind(now_ms)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Writes a recomputed step for a case still at `version` (a stale row: the policy
    /// changed, or the case was stored before migration 14). Returns whether it was written;
    /// a case changed meanwhile got its step with that change.
    pub async fn set_watch(
        &self,
        case_id: &CaseId,
        version: u64,
        watch: Option<(LadderStep, i64)>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE cases SET watch_step = $1, watch_at = $2 WHERE id = $3 AND version = $4",
        )
        .bind(watch.map(|(step, _)| step.as_str().to_string()))
        .bind(watch.map_or(NO_DEADLINE_MS, |(_, at)| at))
        .bind(case_id.as_str().to_string())
        .bind(i64::try_from(version).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Migration 15's backfill: the supervision columns of the cases stored before it (the ladder
/// step itself is recomputed by the first scan, which knows the policies). Only a rating or a
/// sent-back report can predate the migration, so only those rows are written.
pub(crate) async fn backfill(conn: &mut sqlx::AnyConnection) -> Result<()> {
    let mut after = String::new();
    loop {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, state FROM cases WHERE id > $1 ORDER BY id LIMIT 1000")
                .bind(after.clone())
                .fetch_all(&mut *conn)
                .await?;
        let Some((last, _)) = rows.last() else {
            return Ok(());
        };
        after = last.clone();
        for (id, json) in rows {
            let state: huiyin_domain::case::CaseState = serde_json::from_str(&json)
                .map_err(|e| crate::StoreError::Corrupt(format!("case {id}: {e}")))?;
            let flags = crate::write::SupervisionFlags::of(&state);
            if flags == crate::write::SupervisionFlags::default() {
                continue;
            }
            sqlx::query(
                "UPDATE cases SET named_supervision = $1, open_orders = $2, sent_back = $3,
                    unsatisfied = $4 WHERE id = $5",
            )
            .bind(flags.named)
            .bind(flags.open_orders)
            .bind(flags.sent_back)
            .bind(flags.unsatisfied)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
    }
}
