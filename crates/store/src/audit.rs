//! The audit trail (`audit_log`): who read or tried to read protected data, clearances, key
//! rotations. Append-only and hash-chained with SM3 exactly like the event log, with its own
//! head row (`audit_head`) so appending never contends with case writes for long.
//!
//! Also here: explicit clearances (`clearances`) for whistleblower data and the personal-data
//! pages key rotation walks. (The units on each case, `case_units`, are written with the case
//! projection in `write.rs`.)

use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::chain::{GENESIS_HASH, chain_hash};
use crate::db::Store;
use crate::write::WriteTx;
use crate::{Result, StoreError};

/// One audit entry to append.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub actor: String,
    pub actor_unit: Option<String>,
    /// What was done, e.g. `read_personal_data`, `read_personal_data_refused`, `grant_clearance`.
    pub action: String,
    pub case_id: Option<String>,
    /// Free-form JSON with the particulars (never the personal data itself).
    pub detail: String,
}

/// A stored audit entry with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
    pub hash: String,
}

/// What `huiyin verify` found in the audit chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditVerifyReport {
    pub entries: u64,
    pub last_seq: i64,
    pub head: String,
    pub first_broken: Option<(i64, String)>,
}

impl AuditVerifyReport {
    pub fn ok(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// The canonical bytes of an audit entry: sorted-key JSON, times in milliseconds.
pub fn canonical_audit(seq: i64, e: &AuditEntry) -> String {
    // serde_json's map is a BTreeMap: keys come out sorted.
    json!({
        "seq": seq,
        "at_ms": e.at_ms,
        "actor": e.actor,
        "actor_unit": e.actor_unit,
        "action": e.action,
        "case_id": e.case_id,
        "detail": e.detail,
    })
    .to_string()
}

/// Appends on a connection that is inside a transaction: lock the head, link, insert, move.
pub(crate) async fn append_on(conn: &mut AnyConnection, entry: &AuditEntry) -> Result<i64> {
    sqlx::query("UPDATE audit_head SET id = id WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    let (head_seq, head_hash): (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
    let seq = head_seq + 1;
    let hash = chain_hash(&head_hash, &canonical_audit(seq, entry))?;
    sqlx::query(
        "INSERT INTO audit_log (seq, at_ms, actor, actor_unit, action, case_id, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(seq)
    .bind(entry.at_ms)
    .bind(entry.actor.as_str())
    .bind(entry.actor_unit.clone())
    .bind(entry.action.as_str())
    .bind(entry.case_id.clone())
    .bind(entry.detail.as_str())
    .bind(head_hash.as_str())
    .bind(hash.as_str())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(hash.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(seq)
}

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<(AuditRecord, String)> {
    Ok((
        AuditRecord {
            seq: row.try_get("seq")?,
            entry: AuditEntry {
                at_ms: row.try_get("at_ms")?,
                actor: row.try_get("actor")?,
                actor_unit: row.try_get("actor_unit")?,
                action: row.try_get("action")?,
                case_id: row.try_get("case_id")?,
                detail: row.try_get("detail")?,
            },
            hash: row.try_get("hash")?,
        },
        row.try_get("prev_hash")?,
    ))
}

const AUDIT_COLUMNS: &str =
    "seq, at_ms, actor, actor_unit, action, case_id, detail, prev_hash, hash";

impl WriteTx {
    /// Appends an audit entry in this write transaction (commits with the case change).
    pub async fn append_audit(&mut self, entry: &AuditEntry) -> Result<i64> {
        append_on(self.conn(), entry).await
    }
}

impl Store {
    /// The sequence number of the newest audit entry (0 for none): a cheap way to tell that
    /// something audited — such as an administrator's rule change — happened since.
    pub async fn audit_head_seq(&self) -> Result<i64> {
        let (seq,): (i64,) = sqlx::query_as("SELECT seq FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq)
    }

    /// Appends an audit entry in its own short transaction.
    pub async fn append_audit(&self, entry: &AuditEntry) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let seq = append_on(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Audit entries, newest first: of one case, or all; before `before_seq` for paging.
    pub async fn audit_entries(
        &self,
        case_id: Option<&str>,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>> {
        let before = before_seq.unwrap_or(i64::MAX);
        let limit = i64::from(limit.clamp(1, 1000));
        let rows = match case_id {
            Some(case) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE case_id = $1 AND seq < $2
                     ORDER BY seq DESC LIMIT $3"
                )))
                .bind(case)
                .bind(before)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq < $1 ORDER BY seq DESC LIMIT $2"
            )))
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?,
        };
        rows.iter()
            .map(|r| record_from_row(r).map(|(rec, _)| rec))
            .collect()
    }

    /// Recomputes every link of the audit chain and compares the head.
    pub async fn verify_audit(&self) -> Result<AuditVerifyReport> {
        let mut report = AuditVerifyReport {
            entries: 0,
            last_seq: 0,
            head: GENESIS_HASH.to_string(),
            first_broken: None,
        };
        let mut prev = GENESIS_HASH.to_string();
        let mut expected = 1i64;
        loop {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT 5000"
            )))
            .bind(expected)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let (rec, stored_prev) = record_from_row(row)?;
                let broken = |why: &str| Some((rec.seq, why.to_string()));
                if rec.seq != expected {
                    report.first_broken = broken("sequence gap in the audit trail");
                    return Ok(report);
                }
                if stored_prev != prev {
                    report.first_broken = broken("previous-hash link does not match");
                    return Ok(report);
                }
                let hash = chain_hash(&prev, &canonical_audit(rec.seq, &rec.entry))?;
                if hash != rec.hash {
                    report.first_broken = broken("content does not match its hash");
                    return Ok(report);
                }
                prev = hash;
                report.entries += 1;
                report.last_seq = rec.seq;
                expected += 1;
            }
        }
        let (head_seq, head_hash): (i64, String) =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        if head_seq != report.last_seq || head_hash != prev {
            report.first_broken = Some((
                head_seq,
                format!(
                    "audit head ({head_seq}) does not match the last entry ({})",
                    report.last_seq
                ),
            ));
            return Ok(report);
        }
        report.head = prev;
        Ok(report)
    }

    // ---- clearances (检举控告) ----

    /// Clears `actor_id` to see the petitioner of `case_id`; false if already cleared.
    pub async fn grant_clearance(
        &self,
        actor_id: &str,
        case_id: &str,
        granted_by: &str,
        at_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO clearances (actor_id, case_id, granted_by, at_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (actor_id, case_id) DO NOTHING",
        )
        .bind(actor_id)
        .bind(case_id)
        .bind(granted_by)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn is_cleared(&self, actor_id: &str, case_id: &str) -> Result<bool> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT at_ms FROM clearances WHERE actor_id = $1 AND case_id = $2")
                .bind(actor_id)
                .bind(case_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    // ---- personal data, as stored (ciphertext) ----

    /// A page of personal-data rows `(case_id, data, digest)` after `after_case_id`, for key
    /// rotation.
    pub async fn personal_data_page(
        &self,
        after_case_id: &str,
        limit: u32,
    ) -> Result<Vec<(String, String, String)>> {
        Ok(sqlx::query_as(
            "SELECT case_id, data, digest FROM personal_data WHERE case_id > $1
             ORDER BY case_id LIMIT $2",
        )
        .bind(after_case_id)
        .bind(i64::from(limit.clamp(1, 10_000)))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Replaces a row's stored form if it is still `old` (compare-and-set, so a concurrent
    /// writer is never overwritten). Returns whether it was replaced.
    pub async fn replace_personal_data(&self, case_id: &str, old: &str, new: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE personal_data SET data = $3 WHERE case_id = $1 AND data = $2")
                .bind(case_id)
                .bind(old)
                .bind(new)
                .execute(&self.pool)
                .await
                .map_err(StoreError::Db)?;
        Ok(done.rows_affected() == 1)
    }
}
