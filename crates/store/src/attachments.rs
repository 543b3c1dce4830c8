//! Attachments (migration 0005): uploaded files, sealed, owned by a draft until the petition
//! is submitted and then linked to its case. The store keeps what it is given; checking the
//! content and sealing it is the app's work.

use huiyin_domain::ids::CaseId;

use crate::{Result, Store, StoreError};

/// One stored attachment: its metadata and the sealed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    pub id: String,
    pub draft_id: String,
    pub case_id: Option<String>,
    pub file_name: String,
    pub media_type: String,
    pub size_bytes: u64,
    /// SM3 of the plain content, hex.
    pub sm3: String,
    pub created_at_ms: i64,
}

type Row = (
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    String,
    i64,
);

/// A row with the sealed content last.
type SealedRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    String,
    i64,
    String,
);

const COLUMNS: &str = "id, draft_id, case_id, file_name, media_type, size_bytes, sm3, created_at";

fn record(row: Row) -> AttachmentRecord {
    let (id, draft_id, case_id, file_name, media_type, size, sm3, created_at_ms) = row;
    AttachmentRecord {
        id,
        draft_id,
        case_id,
        file_name,
        media_type,
        size_bytes: u64::try_from(size).unwrap_or(0),
        sm3,
        created_at_ms,
    }
}

impl Store {
    /// Stores an upload of a draft with its sealed content.
    pub async fn put_attachment(&self, rec: &AttachmentRecord, sealed: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO attachments (id, draft_id, case_id, file_name, media_type, size_bytes, sm3, content, created_at)
             VALUES ($1, $2, NULL, $3, $4, $5, $6, $7, $8)",
        )
        .bind(rec.id.as_str())
        .bind(rec.draft_id.as_str())
        .bind(rec.file_name.as_str())
        .bind(rec.media_type.as_str())
        .bind(i64::try_from(rec.size_bytes).unwrap_or(i64::MAX))
        .bind(rec.sm3.as_str())
        .bind(sealed)
        .bind(rec.created_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "attachment exists already"))?;
        Ok(())
    }

    /// The uploads of a draft, oldest first.
    pub async fn draft_attachments(&self, draft_id: &str) -> Result<Vec<AttachmentRecord>> {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM attachments WHERE draft_id = $1 ORDER BY created_at, id"
        )))
        .bind(draft_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(record).collect())
    }

    /// The attachments linked to a case, oldest first.
    pub async fn case_attachments(&self, case: &CaseId) -> Result<Vec<AttachmentRecord>> {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM attachments WHERE case_id = $1 ORDER BY created_at, id"
        )))
        .bind(case.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(record).collect())
    }

    /// One attachment with its sealed content.
    pub async fn attachment(&self, id: &str) -> Result<Option<(AttachmentRecord, String)>> {
        let row: Option<SealedRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS}, content FROM attachments WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(a, b, c, d, e, f, g, h, content)| {
                (record((a, b, c, d, e, f, g, h)), content)
            }),
        )
    }

    /// Removes an upload that is not yet part of a submitted petition.
    pub async fn remove_draft_attachment(&self, draft_id: &str, id: &str) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM attachments WHERE id = $1 AND draft_id = $2 AND case_id IS NULL",
        )
        .bind(id)
        .bind(draft_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Links the draft's uploads to the case it became (idempotent: a repeated submit links
    /// nothing new). Returns how many were linked now.
    pub async fn link_attachments(&self, draft_id: &str, case: &CaseId) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE attachments SET case_id = $2 WHERE draft_id = $1 AND case_id IS NULL",
        )
        .bind(draft_id)
        .bind(case.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
