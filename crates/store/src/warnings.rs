//! Early warnings (预警, issue 8): the stored warnings, the counter rows and recent cases the
//! scan reads, and the scoped list.

use huiyin_domain::access::region_range;
use huiyin_domain::case::CaseState;

use crate::{Result, Store};

/// One stored warning.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WarningRecord {
    pub id: String,
    /// `spike`, `group`, `repeat_petitioner` or `falling_unit`.
    pub kind: String,
    /// The subject and its period; a re-scan refreshes the open warning with this key.
    #[serde(skip)]
    pub dedup_key: String,
    /// The region the warning belongs to (its place, or the unit's region).
    pub region: String,
    pub unit_id: Option<String>,
    /// The first-level category (spikes).
    pub category: Option<String>,
    /// The period looked at, China-time dates `YYYY-MM-DD`.
    pub window_from: String,
    pub window_to: String,
    /// The figures behind the warning, as JSON.
    pub figures: String,
    /// The cases behind it, comma-separated.
    pub case_ids: Vec<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// `open` or `acknowledged`.
    pub status: String,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at_ms: Option<i64>,
    pub note: Option<String>,
}

/// Which warnings a list returns. `regions` and `unit` are the reader's scope (any of them);
/// `all` lifts it (the system, national readers).
#[derive(Debug, Clone, Default)]
pub struct WarningFilter {
    pub all: bool,
    /// Region prefixes whose warnings are in scope.
    pub regions: Vec<String>,
    /// A unit whose own warnings are in scope.
    pub unit: Option<String>,
    pub kind: Option<String>,
    /// Narrows to a region prefix (within the scope).
    pub region: Option<String>,
    pub status: Option<String>,
    pub limit: i64,
}

type WarningRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
);

const SELECT: &str = "SELECT id, kind, dedup_key, region, unit_id, category, window_from, \
     window_to, figures, case_ids, created_at, updated_at, status, acknowledged_by, \
     acknowledged_at, note FROM warnings";

fn record_of(r: WarningRow) -> WarningRecord {
    WarningRecord {
        id: r.0,
        kind: r.1,
        dedup_key: r.2,
        region: r.3,
        unit_id: r.4,
        category: r.5,
        window_from: r.6,
        window_to: r.7,
        figures: r.8,
        case_ids: r
            .9
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        created_at_ms: r.10,
        updated_at_ms: r.11,
        status: r.12,
        acknowledged_by: r.13,
        acknowledged_at_ms: r.14,
        note: r.15,
    }
}

/// `region >= low AND region < high` for a prefix, binding into `binds`; `None` for the nation.
fn region_clause(prefix: &str, binds: &mut Vec<String>) -> Option<String> {
    if prefix == "0" || prefix.is_empty() {
        return None;
    }
    let (low, high) = region_range(prefix);
    binds.push(low);
    let mut part = format!("(region >= ${}", binds.len());
    if let Some(high) = high {
        binds.push(high);
        part += &format!(" AND region < ${}", binds.len());
    }
    Some(part + ")")
}

impl Store {
    /// Stores a warning unless one with its `dedup_key` exists; an existing open one gets the
    /// new figures, cases and window (an acknowledged one is left as it was). Returns whether
    /// a new warning was stored.
    pub async fn warning_upsert(&self, w: &WarningRecord) -> Result<bool> {
        let case_ids = w.case_ids.join(",");
        let inserted = sqlx::query(
            "INSERT INTO warnings (id, kind, dedup_key, region, unit_id, category, window_from,
                 window_to, figures, case_ids, created_at, updated_at, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'open')
             ON CONFLICT (dedup_key) DO NOTHING",
        )
        .bind(&w.id)
        .bind(&w.kind)
        .bind(&w.dedup_key)
        .bind(&w.region)
        .bind(&w.unit_id)
        .bind(&w.category)
        .bind(&w.window_from)
        .bind(&w.window_to)
        .bind(&w.figures)
        .bind(&case_ids)
        .bind(w.created_at_ms)
        .bind(w.updated_at_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(true);
        }
        sqlx::query(
            "UPDATE warnings SET figures = $1, case_ids = $2, window_from = $3, window_to = $4,
                 updated_at = $5
             WHERE dedup_key = $6 AND status = 'open'",
        )
        .bind(&w.figures)
        .bind(&case_ids)
        .bind(&w.window_from)
        .bind(&w.window_to)
        .bind(w.updated_at_ms)
        .bind(&w.dedup_key)
        .execute(&self.pool)
        .await?;
        Ok(false)
    }

    /// One warning.
    pub async fn warning(&self, id: &str) -> Result<Option<WarningRecord>> {
        let sql = format!("{SELECT} WHERE id = $1");
        let row: Option<WarningRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(record_of))
    }

    /// Warnings within the filter's scope, open first, newest first.
    pub async fn warnings(&self, f: &WarningFilter) -> Result<Vec<WarningRecord>> {
        let mut binds: Vec<String> = Vec::new();
        let mut wheres: Vec<String> = Vec::new();
        if !f.all {
            let mut scope = Vec::new();
            for r in &f.regions {
                match region_clause(r, &mut binds) {
                    Some(part) => scope.push(part),
                    None => scope.push("1 = 1".to_string()),
                }
            }
            if let Some(unit) = &f.unit {
                binds.push(unit.clone());
                scope.push(format!("unit_id = ${}", binds.len()));
            }
            if scope.is_empty() {
                return Ok(Vec::new());
            }
            wheres.push(format!("({})", scope.join(" OR ")));
        }
        if let Some(kind) = &f.kind {
            binds.push(kind.clone());
            wheres.push(format!("kind = ${}", binds.len()));
        }
        if let Some(status) = &f.status {
            binds.push(status.clone());
            wheres.push(format!("status = ${}", binds.len()));
        }
        if let Some(region) = &f.region
            && let Some(part) = region_clause(region, &mut binds)
        {
            wheres.push(part);
        }
        let filter = if wheres.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", wheres.join(" AND "))
        };
        let sql = format!(
            "{SELECT}{filter} ORDER BY CASE WHEN status = 'open' THEN 0 ELSE 1 END, \
             created_at DESC, id DESC LIMIT {}",
            f.limit.clamp(1, 1_000)
        );
        // only `$n` placeholders and a clamped number are formatted in; values are bound
        let mut q = sqlx::query_as::<_, WarningRow>(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b.as_str());
        }
        Ok(q.fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(record_of)
            .collect())
    }

    /// Acknowledges an open warning. Returns false when it is not open (already acknowledged).
    pub async fn warning_acknowledge(
        &self,
        id: &str,
        by: &str,
        at_ms: i64,
        note: &str,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE warnings SET status = 'acknowledged', acknowledged_by = $1,
                 acknowledged_at = $2, note = $3
             WHERE id = $4 AND status = 'open'",
        )
        .bind(by)
        .bind(at_ms)
        .bind(note)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// The broadcasts sent about a warning (ids, oldest first).
    pub async fn warning_broadcasts(&self, warning_id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM broadcasts WHERE warning_id = $1 ORDER BY sent_at, id")
                .bind(warning_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Day rows (not month roll-ups) of region targets with a code of `code_len` digits and a
    /// key starting with `key_prefix`, over days `from..=to` (yyyymmdd): `(target, day, key,
    /// value)`.
    pub async fn stats_region_day_rows(
        &self,
        code_len: usize,
        key_prefix: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64, String, i64)>> {
        let sql = "SELECT target, day, key, value FROM stat_counters
             WHERE day >= $1 AND day <= $2 AND day % 100 <> 0
               AND target >= 'r:' AND target < 'r;' AND LENGTH(target) = $3
               AND key LIKE $4 AND value <> 0";
        let rows: Vec<(String, i64, String, i64)> = sqlx::query_as(sql)
            .bind(from)
            .bind(to)
            .bind(i64::try_from(code_len + 2).unwrap_or(0))
            .bind(format!("{key_prefix}%"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    /// The month roll-ups (`month` = yyyymm00) of every unit target for `keys`:
    /// `(target, key, value)`.
    pub async fn stats_unit_month_rows(
        &self,
        month: i64,
        keys: &[String],
    ) -> Result<Vec<(String, String, i64)>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..keys.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT target, key, value FROM stat_counters
             WHERE day = $1 AND target >= 'u:' AND target < 'u;' AND key IN ({})",
            marks.join(", ")
        );
        // only `$n` placeholders are formatted in; the keys are bound
        let mut q = sqlx::query_as::<_, (String, String, i64)>(sqlx::AssertSqlSafe(sql));
        q = q.bind(month);
        for k in keys {
            q = q.bind(k.as_str());
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// The states of the cases received at or after `from_ms` (at most `limit`, oldest first).
    pub async fn cases_received_since(&self, from_ms: i64, limit: u32) -> Result<Vec<CaseState>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, state FROM cases WHERE received_at >= $1
             ORDER BY received_at, id LIMIT $2",
        )
        .bind(from_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, json)| crate::read::case_state(&id, &json))
            .collect()
    }

    /// The states of the cases `unit` received or handles that changed at or after `from_ms`
    /// (at most `limit`).
    pub async fn cases_of_unit_updated_since(
        &self,
        unit: &str,
        from_ms: i64,
        limit: u32,
    ) -> Result<Vec<CaseState>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, state FROM cases
             WHERE (handling_unit_id = $1 OR bureau_id = $1) AND updated_at >= $2
             ORDER BY updated_at, id LIMIT $3",
        )
        .bind(unit)
        .bind(from_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, json)| crate::read::case_state(&id, &json))
            .collect()
    }

    /// `(petitioner account, case id)` of the cases received at or after `from_ms` that belong
    /// to a petitioner account (at most `limit`).
    pub async fn petitioner_cases_since(
        &self,
        from_ms: i64,
        limit: u32,
    ) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT pc.account_id, c.id FROM cases c
             JOIN petitioner_cases pc ON pc.case_id = c.id
             WHERE c.received_at >= $1 ORDER BY c.received_at, c.id LIMIT $2",
        )
        .bind(from_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }
}
