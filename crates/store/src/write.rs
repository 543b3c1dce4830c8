//! The write path: one transaction that locks the chain head, loads cases, appends their events
//! with the next links of the hash chain, writes the projections, and commits — all or nothing.

use huiyin_domain::case::{CaseState, Event};
use huiyin_domain::ids::CaseId;
use huiyin_domain::policy::ClockKind;
use sqlx::{Any, Transaction};

use crate::chain::{canonical_event, chain_hash};
use crate::db::Store;
use crate::{NO_DEADLINE_MS, Result, StoreError, to_ms};

/// The list columns derived from a case's deadlines (computed by the application, which holds
/// the policy and the calendar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    pub next_due_kind: Option<ClockKind>,
    pub next_due_at_ms: Option<i64>,
    pub yellow_at_ms: Option<i64>,
}

/// An open write transaction holding the chain head.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    head_seq: i64,
    head_hash: String,
    appended: u64,
}

fn clock_name(kind: ClockKind) -> Result<String> {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(other) => Ok(other.to_string()),
        Err(e) => Err(StoreError::Corrupt(format!("clock kind: {e}"))),
    }
}

impl Store {
    /// Starts a write transaction. Taking the chain head first serialises writers across
    /// processes (a row lock on PostgreSQL, the write lock on SQLite) so the sequence order is
    /// the commit order and readers that follow the log by sequence never miss an event.
    pub async fn begin_write(&self) -> Result<WriteTx> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE chain_head SET id = id WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let (head_seq, head_hash): (i64, String) =
            sqlx::query_as("SELECT seq, hash FROM chain_head WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        Ok(WriteTx {
            tx,
            head_seq,
            head_hash,
            appended: 0,
        })
    }
}

impl WriteTx {
    /// The case's current state and version, read inside the transaction.
    pub async fn load_case(&mut self, id: &CaseId) -> Result<Option<CaseState>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT state FROM cases WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|(json,)| {
            serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("case {id} state: {e}")))
        })
        .transpose()
    }

    /// Appends events (already numbered by the domain) and links them into the chain.
    /// Returns their global sequence numbers.
    pub async fn append(&mut self, events: &[Event]) -> Result<Vec<i64>> {
        let mut seqs = Vec::with_capacity(events.len());
        for event in events {
            let seq = self.head_seq + 1;
            let canonical = canonical_event(seq, event)?;
            let hash = chain_hash(&self.head_hash, &canonical)?;
            let payload = serde_json::to_string(&event.kind)
                .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?;
            sqlx::query(
                "INSERT INTO events (seq, case_id, version, kind, at_ms, actor, actor_unit, payload, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(seq)
            .bind(event.case_id.as_str())
            .bind(event.version as i64)
            .bind(event.kind.name())
            .bind(to_ms(event.at))
            .bind(event.actor.as_str())
            .bind(event.actor_unit.as_ref().map(|u| u.as_str().to_string()))
            .bind(payload)
            .bind(self.head_hash.as_str())
            .bind(hash.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| {
                StoreError::from_db(
                    e,
                    &format!("case {} version {} exists already", event.case_id, event.version),
                )
            })?;
            self.head_seq = seq;
            self.head_hash = hash;
            self.appended += 1;
            seqs.push(seq);
        }
        Ok(seqs)
    }

    /// Inserts the projection of a new case.
    pub async fn insert_case(
        &mut self,
        state: &CaseState,
        projection: &Projection,
        secret_hash: &str,
    ) -> Result<()> {
        let c = Columns::of(state, projection)?;
        sqlx::query(
            "INSERT INTO cases (id, province, receipt, secret_hash, version, stage, is_open, bureau_id,
                current_unit_id, handling_unit_id, region, channel, class, category, title,
                petitioner_masked, received_at, updated_at, next_due_kind, next_due_at, yellow_at, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
        )
        .bind(state.id.as_str())
        .bind(state.petition.region.province())
        .bind(state.receipt.as_str())
        .bind(secret_hash)
        .bind(state.version as i64)
        .bind(state.stage.as_str())
        .bind(i64::from(state.awaits_action()))
        .bind(state.bureau.as_str())
        .bind(state.current_unit().as_str())
        .bind(c.handling)
        .bind(state.petition.region.as_str())
        .bind(state.petition.channel.as_str())
        .bind(c.class)
        .bind(state.category.clone())
        .bind(state.petition.title.as_str())
        .bind(c.masked)
        .bind(to_ms(state.received_at))
        .bind(to_ms(state.updated_at))
        .bind(c.due_kind)
        .bind(c.due)
        .bind(c.yellow)
        .bind(c.json)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| StoreError::from_db(e, "case or receipt code exists already"))?;
        self.fill_region_levels(state).await?;
        self.sync_case_units(state, projection).await?;
        Ok(())
    }

    /// Updates the projection of an existing case, which must still be at `expected_version`.
    pub async fn update_case(
        &mut self,
        state: &CaseState,
        projection: &Projection,
        expected_version: u64,
    ) -> Result<()> {
        let c = Columns::of(state, projection)?;
        let done = sqlx::query(
            "UPDATE cases SET version = $2, stage = $3, is_open = $4, current_unit_id = $5,
                handling_unit_id = $6, class = $7, category = $8, updated_at = $9,
                next_due_kind = $10, next_due_at = $11, yellow_at = $12, state = $13
             WHERE id = $1 AND version = $14",
        )
        .bind(state.id.as_str())
        .bind(state.version as i64)
        .bind(state.stage.as_str())
        .bind(i64::from(state.awaits_action()))
        .bind(state.current_unit().as_str())
        .bind(c.handling)
        .bind(c.class)
        .bind(state.category.clone())
        .bind(to_ms(state.updated_at))
        .bind(c.due_kind)
        .bind(c.due)
        .bind(c.yellow)
        .bind(c.json)
        .bind(expected_version as i64)
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "case {} changed concurrently",
                state.id
            )));
        }
        self.sync_case_units(state, projection).await?;
        Ok(())
    }

    /// Stores the petitioner's personal data apart from the log.
    pub async fn put_personal_data(
        &mut self,
        case: &CaseId,
        data: &str,
        digest: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO personal_data (case_id, data, digest) VALUES ($1, $2, $3)")
            .bind(case.as_str())
            .bind(data)
            .bind(digest)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| StoreError::from_db(e, "personal data exists already"))?;
        Ok(())
    }

    /// The case created earlier with this idempotency key (hashed), and the sealed secret.
    pub async fn find_submission(&mut self, key_hash: &str) -> Result<Option<(CaseId, String)>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT case_id, sealed_secret FROM submissions WHERE idempotency_key = $1",
        )
        .bind(key_hash)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.map(|(id, sealed)| (CaseId::new(id), sealed)))
    }

    pub async fn put_submission(
        &mut self,
        key_hash: &str,
        case: &CaseId,
        sealed_secret: &str,
        at_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO submissions (idempotency_key, case_id, sealed_secret, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(key_hash)
        .bind(case.as_str())
        .bind(sealed_secret)
        .bind(at_ms)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| StoreError::from_db(e, "idempotency key used already"))?;
        Ok(())
    }

    /// Moves the chain head and commits.
    pub async fn commit(mut self) -> Result<()> {
        if self.appended > 0 {
            sqlx::query("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(self.head_seq)
                .bind(self.head_hash.as_str())
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        Ok(())
    }

    /// Direct access for statements that belong to the same transaction (e.g. tokens, units).
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// The derived columns of a case row.
struct Columns {
    json: String,
    due_kind: Option<String>,
    due: i64,
    yellow: i64,
    masked: Option<String>,
    class: Option<String>,
    handling: Option<String>,
}

impl Columns {
    fn of(state: &CaseState, projection: &Projection) -> Result<Columns> {
        Ok(Columns {
            json: serde_json::to_string(state)
                .map_err(|e| StoreError::Corrupt(format!("case state: {e}")))?,
            due_kind: projection.next_due_kind.map(clock_name).transpose()?,
            due: projection.next_due_at_ms.unwrap_or(NO_DEADLINE_MS),
            yellow: projection.yellow_at_ms.unwrap_or(NO_DEADLINE_MS),
            masked: state
                .petition
                .petitioner_masked
                .as_ref()
                .map(|m| m.name.clone()),
            class: state.class.map(|c| c.code().to_string()),
            handling: state.handling_unit().map(|u| u.as_str().to_string()),
        })
    }
}
