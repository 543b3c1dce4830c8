//! What the full-text search index (`huiyin-search`, issue 7) reads from the database. The
//! index is derived data: fed from the event log by sequence number, rebuilt from here at any
//! time, and checked against here (`huiyin reindex --check`).

use huiyin_domain::case::{CaseState, EventKind};
use sqlx::Row;

use crate::{NO_DEADLINE_MS, Result, Store, StoreError};

/// The most case ids asked about in one statement.
const MAX_IDS_PER_QUERY: usize = 500;

/// A case as the search index needs it: its state, the deadline columns the light follows
/// from, and the texts that are only in the log (notes, review opinions, completion reports).
#[derive(Debug, Clone)]
pub struct SearchSource {
    pub state: CaseState,
    /// `None` when no deadline runs.
    pub next_due_at_ms: Option<i64>,
    pub yellow_at_ms: Option<i64>,
    /// Internal notes (内部备注) and leaders' instructions, for staff.
    pub notes: Vec<String>,
    /// Replies other than the current 处理意见书: review and re-review opinions, completion
    /// reports.
    pub other_replies: Vec<String>,
}

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn opinion_text(o: &huiyin_domain::case::HandlingOpinion) -> String {
    format!(
        "{}\n{}\n{}\n{}",
        o.request, o.facts, o.reasons, o.legal_basis
    )
}

impl Store {
    /// Up to `limit` cases in id order after `after` (keyset), with their log-only texts:
    /// the full rebuild of the search index reads the `cases` table this way instead of
    /// replaying the whole log.
    pub async fn search_sources_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SearchSource>> {
        let rows = sqlx::query(
            "SELECT id, state, next_due_at, yellow_at FROM cases WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        self.sources_from_rows(rows).await
    }

    /// The cases among `ids` that exist, with their log-only texts (for the catch-up).
    pub async fn search_sources_of(&self, ids: &[String]) -> Result<Vec<SearchSource>> {
        let mut rows = Vec::new();
        for chunk in ids.chunks(MAX_IDS_PER_QUERY) {
            if chunk.is_empty() {
                continue;
            }
            let sql = format!(
                "SELECT id, state, next_due_at, yellow_at FROM cases WHERE id IN ({})",
                placeholders(chunk.len())
            );
            // only `$n` placeholders are formatted in; the ids are bound
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            rows.extend(q.fetch_all(&self.pool).await?);
        }
        self.sources_from_rows(rows).await
    }

    async fn sources_from_rows(&self, rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<SearchSource>> {
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id")?;
            let json: String = row.try_get("state")?;
            let state: CaseState = crate::read::case_state(&id, &json)?;
            let due: i64 = row.try_get("next_due_at")?;
            let yellow: i64 = row.try_get("yellow_at")?;
            out.push(SearchSource {
                state,
                next_due_at_ms: (due != NO_DEADLINE_MS).then_some(due),
                yellow_at_ms: (yellow != NO_DEADLINE_MS).then_some(yellow),
                notes: Vec::new(),
                other_replies: Vec::new(),
            });
        }
        // Cases with notes, instructions or later opinions are a minority: one query per
        // page finds their texts.
        let wanted: Vec<String> = out
            .iter()
            .filter(|s| {
                s.state.notes > 0
                    || s.state.instructions > 0
                    || s.state.review_outcome.is_some()
                    || s.state.rereview_outcome.is_some()
                    || s.state.report != huiyin_domain::case::ReportStatus::NotRequired
            })
            .map(|s| s.state.id.as_str().to_string())
            .collect();
        if wanted.is_empty() {
            return Ok(out);
        }
        let index: std::collections::HashMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, s)| (s.state.id.as_str().to_string(), i))
            .collect();
        for chunk in wanted.chunks(MAX_IDS_PER_QUERY) {
            let sql = format!(
                "SELECT case_id, payload FROM events WHERE case_id IN ({}) AND kind IN
                 ('note_added', 'instructed', 'review_decided', 'rereview_decided',
                  'completion_report_submitted')
                 ORDER BY seq",
                placeholders(chunk.len())
            );
            // only `$n` placeholders are formatted in; the ids are bound
            let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            for (case_id, payload) in q.fetch_all(&self.pool).await? {
                let kind: EventKind = serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?;
                let Some(src) = index.get(&case_id).and_then(|i| out.get_mut(*i)) else {
                    continue;
                };
                match kind {
                    EventKind::NoteAdded { text } | EventKind::Instructed { text } => {
                        src.notes.push(text.to_string())
                    }
                    EventKind::ReviewDecided { opinion, .. }
                    | EventKind::RereviewDecided { opinion, .. } => {
                        src.other_replies.push(opinion_text(&opinion))
                    }
                    EventKind::CompletionReportSubmitted { report } => {
                        src.other_replies.push(report.to_string())
                    }
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// `(id, version)` of up to `limit` cases after `after` in id order, for the consistency
    /// check of the search index.
    pub async fn case_versions_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT id, version FROM cases WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after.unwrap_or(""))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The case ids of the events after `seq` (up to `limit` events), and the last sequence
    /// number read: what the search index's catch-up re-indexes.
    pub async fn cases_changed_after(&self, seq: i64, limit: u32) -> Result<(Vec<String>, i64)> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT seq, case_id FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(seq)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        let last = rows.last().map_or(seq, |(s, _)| *s);
        let mut seen = std::collections::HashSet::new();
        let ids = rows
            .into_iter()
            .filter_map(|(_, id)| seen.insert(id.clone()).then_some(id))
            .collect();
        Ok((ids, last))
    }

    /// The cases `actor` holds an explicit clearance for (检举控告 petitioner data).
    pub async fn cleared_cases(&self, actor: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT case_id FROM clearances WHERE actor_id = $1")
                .bind(actor)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
