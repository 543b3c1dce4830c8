//! What the text tools (duplicate index, classifiers; `huiyin-text` via the app) read from the
//! database. They are derived data: fed from the event log by sequence number and rebuilt from
//! here at any time.

use huiyin_domain::case::CaseState;

use crate::{Result, Store};

/// The most case ids asked about in one statement.
const MAX_IDS_PER_QUERY: usize = 500;

impl Store {
    /// The phone hash of the petitioner account (see `petitioner_cases`) linked to each
    /// of `case_ids`, as `(case_id, phone_hash)`; cases without a phone have none.
    pub async fn petitioner_phones_of(&self, case_ids: &[String]) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for chunk in case_ids.chunks(MAX_IDS_PER_QUERY) {
            if chunk.is_empty() {
                continue;
            }
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT pc.case_id, pa.phone_hash FROM petitioner_cases pc
                 JOIN petitioner_accounts pa ON pa.id = pc.account_id
                 WHERE pc.case_id IN ({})",
                marks.join(", ")
            );
            // only `$n` placeholders are formatted in; the ids are bound
            let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            out.extend(q.fetch_all(&self.pool).await?);
        }
        Ok(out)
    }

    /// The newest `limit` registered cases (those with a content category), for training the
    /// category and routing classifiers from the deployment's own history.
    pub async fn registered_cases(&self, limit: u32) -> Result<Vec<CaseState>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, state FROM cases WHERE category IS NOT NULL
             ORDER BY received_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, json)| crate::read::case_state(&id, &json))
            .collect()
    }
}
