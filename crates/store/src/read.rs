//! Read paths: single cases, event streams, work lists, units, tokens, and chain verification.

use std::collections::BTreeSet;

use futures_util::TryStreamExt;
use huiyin_domain::access::{Scope, region_range};
use huiyin_domain::case::{CaseState, Event, EventKind, replay};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use sqlx::Row;

use crate::chain::{GENESIS_HASH, VerifyReport, canonical_event, chain_hash};
use crate::db::Store;
use crate::event_log::{EventColumns, expected_bodies};
use crate::event_wire::{Payload, decode_kind};
use crate::{NO_DEADLINE_MS, Result, StoreError, from_ms};

/// A case's stored state (`cases.state`) read back; a body that does not read is damage.
pub(crate) fn case_state(id: &impl std::fmt::Display, json: &str) -> Result<CaseState> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("case {id} state: {e}")))
}

/// A case as stored: its state and the secret hash for the public lookup.
#[derive(Debug, Clone)]
pub struct CaseRecord {
    pub state: CaseState,
    pub secret_hash: String,
}

/// One row of a work list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseSummary {
    pub id: String,
    pub receipt: String,
    pub stage: String,
    pub title: String,
    pub current_unit_id: String,
    pub bureau_id: String,
    pub region: String,
    pub channel: String,
    pub class: Option<String>,
    pub category: Option<String>,
    pub petitioner_masked: Option<String>,
    pub received_at_ms: i64,
    pub updated_at_ms: i64,
    pub next_due_kind: Option<String>,
    /// `None` when no deadline runs.
    pub next_due_at_ms: Option<i64>,
    pub yellow_at_ms: Option<i64>,
    pub version: i64,
    /// False once the case is closed (终结, withdrawn, merged away…).
    pub is_open: bool,
}

/// Which cases a list shows. Lists are ordered by urgency (next deadline, then id) and
/// paginated by keyset: pass the last row's `(next_due_at_ms, id)` as `after`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// The unit whose work list this is (the unit that must act now).
    pub unit: Option<String>,
    /// Cases received by this bureau.
    pub bureau: Option<String>,
    pub open_only: bool,
    pub stage: Option<String>,
    /// Only cases whose next deadline has passed at this instant.
    pub overdue_at_ms: Option<i64>,
    pub after: Option<(i64, String)>,
    pub limit: u32,
    /// The cases the caller may see ([`Scope::of`] the caller); `None` only for internal
    /// callers (scans, benchmarks). Applied in SQL: units through `case_units`, regions as
    /// an indexed range on `region`.
    pub scope: Option<Scope>,
}

/// An event with its place in the log.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: Event,
    pub hash: String,
}

/// A unit row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitRecord {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub region_code: String,
    pub parent_id: Option<String>,
}

/// An API token row (the token itself is never stored).
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub unit_id: Option<String>,
    pub roles: Vec<String>,
    pub expires_at_ms: Option<i64>,
    pub revoked: bool,
}

/// id, name, unit_id, roles, expires_at, revoked_at
type TokenRow = (
    String,
    String,
    Option<String>,
    String,
    Option<i64>,
    Option<i64>,
);

pub(crate) const SUMMARY_COLUMNS: &str =
    "id, receipt, stage, title, current_unit_id, bureau_id, region, channel, class, category,
     petitioner_masked, received_at, updated_at, next_due_kind, next_due_at, yellow_at, version,
     is_open";

pub(crate) fn summary_from_row(row: &sqlx::any::AnyRow) -> Result<CaseSummary> {
    let due: i64 = row.try_get("next_due_at")?;
    let yellow: i64 = row.try_get("yellow_at")?;
    Ok(CaseSummary {
        id: row.try_get("id")?,
        receipt: row.try_get("receipt")?,
        stage: row.try_get("stage")?,
        title: row.try_get("title")?,
        current_unit_id: row.try_get("current_unit_id")?,
        bureau_id: row.try_get("bureau_id")?,
        region: row.try_get("region")?,
        channel: row.try_get("channel")?,
        class: row.try_get("class")?,
        category: row.try_get("category")?,
        petitioner_masked: row.try_get("petitioner_masked")?,
        received_at_ms: row.try_get("received_at")?,
        updated_at_ms: row.try_get("updated_at")?,
        next_due_kind: row.try_get("next_due_kind")?,
        next_due_at_ms: (due != NO_DEADLINE_MS).then_some(due),
        yellow_at_ms: (yellow != NO_DEADLINE_MS).then_some(yellow),
        version: row.try_get("version")?,
        is_open: row.try_get::<i64, _>("is_open")? == 1,
    })
}

/// A value for a numbered placeholder of a query built from fixed fragments.
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

/// Runs a query built from fixed fragments and numbered placeholders (values bound, never
/// concatenated) and reads its rows as case summaries.
pub(crate) async fn summaries(
    pool: &sqlx::AnyPool,
    sql: String,
    binds: Vec<Bind>,
) -> Result<Vec<CaseSummary>> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t),
            Bind::Int(i) => q.bind(i),
        };
    }
    let rows = q.fetch_all(pool).await?;
    rows.iter().map(summary_from_row).collect()
}

fn event_from_row(row: &sqlx::any::AnyRow) -> Result<StoredEvent> {
    let payload: String = row.try_get("payload")?;
    let kind: EventKind =
        decode_kind(&payload).map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?;
    let version: i64 = row.try_get("version")?;
    let unit: Option<String> = row.try_get("actor_unit")?;
    Ok(StoredEvent {
        seq: row.try_get("seq")?,
        hash: row.try_get("hash")?,
        event: Event {
            case_id: CaseId::new(row.try_get::<String, _>("case_id")?),
            version: version as u64,
            at: from_ms(row.try_get("at_ms")?)?,
            actor: ActorId::new(row.try_get::<String, _>("actor")?),
            actor_unit: unit.map(UnitId::new),
            kind,
        },
    })
}

impl Store {
    pub async fn case(&self, id: &CaseId) -> Result<Option<CaseRecord>> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT state, secret_hash FROM cases WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(json, secret_hash)| {
            let state = crate::read::case_state(&id, &json)?;
            Ok(CaseRecord { state, secret_hash })
        })
        .transpose()
    }

    /// The case id and secret hash for a receipt code (stored form, no separators).
    pub async fn case_by_receipt(&self, receipt: &str) -> Result<Option<(CaseId, String)>> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT id, secret_hash FROM cases WHERE receipt = $1")
                .bind(receipt)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(id, h)| (CaseId::new(id), h)))
    }

    /// A case's events in version order.
    ///
    /// Read from the case's event chunks (`event_log`: the wire records of 64 events a row,
    /// written with the events) and decoded chunk by chunk, the payloads tag first without
    /// serde's buffering (`event_wire`). The same query reads the highest version in
    /// `events`; if the chunks do not hold exactly the versions 1..=that one, or one does not
    /// decode, the events are read row by row instead (and a warning logged): the same result,
    /// only slower.
    pub async fn events_of(&self, id: &CaseId) -> Result<Vec<StoredEvent>> {
        // The chunks as rows (16 for 1,000 events), each with the highest version of the
        // case's events; concatenating them in the database instead cost more (a growing
        // value of ~350 KB, copied again by the driver). Each chunk is decoded as it arrives,
        // while the driver's thread reads the next one.
        let mut chunks = sqlx::query_as::<_, (String, i64)>(
            "SELECT body, (SELECT max(version) FROM events WHERE case_id = $1)
             FROM event_chunks WHERE case_id = $1 ORDER BY chunk",
        )
        .bind(id.as_str())
        .fetch(&self.pool);
        let mut events: Vec<StoredEvent> = Vec::new();
        let mut last_version = None;
        while let Some((body, last)) = chunks.try_next().await? {
            if last_version.is_none() {
                events.reserve(last.max(0) as usize);
                last_version = Some(last);
            }
            if let Err(e) = decode_chunk(id, &body, &mut events) {
                drop(chunks);
                tracing::warn!(case = %id, error = %e, "unreadable event chunk; reading the events row by row");
                return self.events_of_by_row(id).await;
            }
        }
        drop(chunks);
        let Some(last_version) = last_version else {
            // No chunk: no event, or chunks lost; the rows say which.
            return self.events_of_by_row(id).await;
        };
        // Appended in version order; sorted to be sure (one pass when already in order).
        events.sort_by_key(|e| e.event.version);
        let complete = events.len() as u64 == last_version as u64
            && events.iter().zip(1u64..).all(|(e, v)| e.event.version == v);
        if !complete {
            tracing::warn!(case = %id, "event chunks do not match the events; reading the events row by row");
            return self.events_of_by_row(id).await;
        }
        Ok(events)
    }

    /// [`Store::events_of`] row by row (the slow, general path).
    async fn events_of_by_row(&self, id: &CaseId) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "SELECT seq, case_id, version, at_ms, actor, actor_unit, payload, hash
             FROM events WHERE case_id = $1 ORDER BY version",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Events after a global sequence number, for derived readers (search, counters, outbox).
    pub async fn events_after(&self, seq: i64, limit: u32) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "SELECT seq, case_id, version, at_ms, actor, actor_unit, payload, hash
             FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    pub async fn head(&self) -> Result<(i64, String)> {
        Ok(
            sqlx::query_as("SELECT seq, hash FROM chain_head WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// A work list. See [`ListFilter`].
    pub async fn list_cases(&self, filter: &ListFilter) -> Result<Vec<CaseSummary>> {
        if let Some(Scope::Limited { units, regions }) = &filter.scope
            && filter.unit.is_none()
            && filter.open_only
        {
            return self.list_in_scope(filter, units, regions).await;
        }
        let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM cases WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        // Build the WHERE clause with numbered placeholders, then bind in the same order.
        if filter.unit.is_some() {
            sql += &format!(" AND current_unit_id = {}", next());
        }
        if filter.bureau.is_some() {
            sql += &format!(" AND bureau_id = {}", next());
        }
        if filter.open_only {
            sql += " AND is_open = 1";
        }
        if filter.stage.is_some() {
            sql += &format!(" AND stage = {}", next());
        }
        if filter.overdue_at_ms.is_some() {
            sql += &format!(" AND next_due_at < {}", next());
        }
        if filter.after.is_some() {
            // A row-value comparison (SQLite ≥ 3.15, PostgreSQL), so both seek the
            // (current_unit_id, is_open, next_due_at, id) index to the page start; the
            // equivalent `a > x OR (a = x AND id > y)` made PostgreSQL read and drop every
            // earlier row (the last page of a 13,000-case list took ~60 ms).
            let (a, b) = (next(), next());
            sql += &format!(" AND (next_due_at, id) > ({a}, {b})");
        }
        // The caller's scope: the cases one of its units is on, or within one of its regions.
        let mut scope_binds: Vec<String> = Vec::new();
        // A unit's own work list needs no scope test: its current unit is on every row, and
        // the caller's scope holds that unit (case_units always lists the current unit).
        let redundant = match (&filter.scope, &filter.unit) {
            (Some(Scope::Limited { units, .. }), Some(unit)) => {
                units.iter().any(|u| u.as_str() == unit)
            }
            _ => false,
        };
        let scope = if redundant {
            None
        } else {
            filter.scope.as_ref()
        };
        match scope {
            None | Some(Scope::All) => {}
            Some(Scope::Nothing) => sql += " AND 1 = 0",
            Some(Scope::Limited { units, regions }) => {
                let mut parts = Vec::new();
                if !units.is_empty() {
                    let marks: Vec<String> = units
                        .iter()
                        .map(|u| {
                            scope_binds.push(u.as_str().to_string());
                            next()
                        })
                        .collect();
                    parts.push(format!(
                        "id IN (SELECT case_id FROM case_units WHERE unit_id IN ({}))",
                        marks.join(", ")
                    ));
                }
                for region in regions {
                    let (low, high) = region_range(region.as_str());
                    scope_binds.push(low);
                    let mut part = format!("(region >= {}", next());
                    if let Some(high) = high {
                        scope_binds.push(high);
                        part += &format!(" AND region < {}", next());
                    }
                    parts.push(part + ")");
                }
                if parts.is_empty() {
                    sql += " AND 1 = 0";
                } else {
                    sql += &format!(" AND ({})", parts.join(" OR "));
                }
            }
        }
        sql += &format!(" ORDER BY next_due_at, id LIMIT {}", next());
        // Only fixed fragments and numbered placeholders are concatenated; values are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(u) = &filter.unit {
            q = q.bind(u.clone());
        }
        if let Some(b) = &filter.bureau {
            q = q.bind(b.clone());
        }
        if let Some(s) = &filter.stage {
            q = q.bind(s.clone());
        }
        if let Some(t) = filter.overdue_at_ms {
            q = q.bind(t);
        }
        if let Some((due, id)) = &filter.after {
            q = q.bind(*due).bind(id.clone());
        }
        for value in scope_binds {
            q = q.bind(value);
        }
        q = q.bind(i64::from(filter.limit.clamp(1, 500)));
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(summary_from_row).collect()
    }

    /// Open cases in a limited scope, most urgent first: one ordered, limited index range per
    /// unit (`case_units_queue`) and per region (the level column's queue index), merged. Each
    /// branch applies every filter, so the merge is exact; a county bureau's "my open cases"
    /// reads about two pages of index entries instead of every case in the county.
    async fn list_in_scope(
        &self,
        filter: &ListFilter,
        units: &[huiyin_domain::ids::UnitId],
        regions: &[huiyin_domain::values::RegionCode],
    ) -> Result<Vec<CaseSummary>> {
        let mut binds: Vec<Bind> = Vec::new();
        let mut mark = |b: Bind| {
            binds.push(b);
            format!("${}", binds.len())
        };
        let limit = i64::from(filter.limit.clamp(1, 500));
        // Filters on the case row `c`, the same in every branch.
        let case_filters = |mark: &mut dyn FnMut(Bind) -> String, due: &str, id: &str| {
            let mut sql = String::new();
            if let Some(b) = &filter.bureau {
                sql += &format!(" AND c.bureau_id = {}", mark(Bind::Text(b.clone())));
            }
            if let Some(st) = &filter.stage {
                sql += &format!(" AND c.stage = {}", mark(Bind::Text(st.clone())));
            }
            if let Some(t) = filter.overdue_at_ms {
                sql += &format!(" AND {due} < {}", mark(Bind::Int(t)));
            }
            if let Some((after_due, after_id)) = &filter.after {
                // A row-value comparison, so both databases seek the index instead of
                // filtering every earlier row of the branch.
                let (a, b) = (
                    mark(Bind::Int(*after_due)),
                    mark(Bind::Text(after_id.clone())),
                );
                sql += &format!(" AND ({due}, {id}) > ({a}, {b})");
            }
            sql
        };
        let mut branches = Vec::new();
        for unit in units {
            let u = mark(Bind::Text(unit.as_str().to_string()));
            let more = case_filters(&mut mark, "cu.next_due_at", "cu.case_id");
            let n = mark(Bind::Int(limit));
            branches.push(format!(
                "SELECT case_id FROM (SELECT cu.case_id AS case_id FROM case_units cu
                   JOIN cases c ON c.id = cu.case_id
                   WHERE cu.unit_id = {u} AND cu.is_open = 1{more}
                   ORDER BY cu.next_due_at, cu.case_id LIMIT {n}) AS b{}",
                branches.len()
            ));
        }
        for region in regions {
            let column = match region.as_str().len() {
                2 => "c.province",
                4 => "c.region_city",
                6 => "c.region_county",
                _ => "c.region",
            };
            let r = mark(Bind::Text(region.as_str().to_string()));
            let more = case_filters(&mut mark, "c.next_due_at", "c.id");
            let n = mark(Bind::Int(limit));
            branches.push(format!(
                "SELECT case_id FROM (SELECT c.id AS case_id FROM cases c
                   WHERE {column} = {r} AND c.is_open = 1{more}
                   ORDER BY c.next_due_at, c.id LIMIT {n}) AS b{}",
                branches.len()
            ));
        }
        if branches.is_empty() {
            return Ok(Vec::new());
        }
        let n = mark(Bind::Int(limit));
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM cases WHERE id IN ({})
             ORDER BY next_due_at, id LIMIT {n}",
            branches.join(" UNION ")
        );
        summaries(&self.pool, sql, binds).await
    }

    pub async fn count_cases(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cases")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    // ---- units ----

    /// Adds a unit; its level is its region's (as migration 0002 set it for older units).
    pub async fn insert_unit(&self, unit: &UnitRecord) -> Result<()> {
        let level = huiyin_org::Level::of_code(&unit.region_code).map_or("other", |l| l.as_str());
        sqlx::query(
            "INSERT INTO units (id, name, kind, region_code, parent_id, created_at, level)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(unit.id.as_str())
        .bind(unit.name.as_str())
        .bind(unit.kind.as_str())
        .bind(unit.region_code.as_str())
        .bind(unit.parent_id.clone())
        .bind(chrono::Utc::now().timestamp_millis())
        .bind(level)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, &format!("unit {} exists already", unit.id)))?;
        Ok(())
    }

    pub async fn unit(&self, id: &str) -> Result<Option<UnitRecord>> {
        let row: Option<(String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, name, kind, region_code, parent_id FROM units WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(id, name, kind, region_code, parent_id)| UnitRecord {
                id,
                name,
                kind,
                region_code,
                parent_id,
            }),
        )
    }

    pub async fn units(&self) -> Result<Vec<UnitRecord>> {
        let rows: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, name, kind, region_code, parent_id FROM units ORDER BY region_code, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, kind, region_code, parent_id)| UnitRecord {
                id,
                name,
                kind,
                region_code,
                parent_id,
            })
            .collect())
    }

    /// The petition bureau responsible for a place: the one whose region is the longest prefix
    /// of `region` (county, then city, province, the nation).
    pub async fn bureau_for_region(&self, region: &str) -> Result<Option<UnitRecord>> {
        let mut candidates: Vec<String> = [9usize, 6, 4, 2]
            .iter()
            .filter(|n| region.len() >= **n)
            .map(|n| region[..*n].to_string())
            .collect();
        candidates.push("0".to_string());
        for code in candidates {
            let row: Option<(String, String, String, String, Option<String>)> = sqlx::query_as(
                "SELECT id, name, kind, region_code, parent_id FROM units
                 WHERE region_code = $1 AND kind = 'petition_bureau' AND status = 'active'
                 ORDER BY id LIMIT 1",
            )
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
            if let Some((id, name, kind, region_code, parent_id)) = row {
                return Ok(Some(UnitRecord {
                    id,
                    name,
                    kind,
                    region_code,
                    parent_id,
                }));
            }
        }
        Ok(None)
    }

    // ---- API tokens ----

    pub async fn insert_token(
        &self,
        id: &str,
        token_hash: &str,
        name: &str,
        unit_id: Option<&str>,
        roles: &[String],
        expires_at_ms: Option<i64>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (id, token_hash, name, unit_id, roles, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(token_hash)
        .bind(name)
        .bind(unit_id.map(str::to_string))
        .bind(roles.join(","))
        .bind(chrono::Utc::now().timestamp_millis())
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_db(e, "token exists already"))?;
        Ok(())
    }

    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        let row: Option<TokenRow> =
            sqlx::query_as(
                "SELECT id, name, unit_id, roles, expires_at, revoked_at FROM api_tokens WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(
            |(id, name, unit_id, roles, expires_at_ms, revoked_at)| TokenRecord {
                id,
                name,
                unit_id,
                roles: roles
                    .split(',')
                    .filter(|r| !r.is_empty())
                    .map(str::to_string)
                    .collect(),
                expires_at_ms,
                revoked: revoked_at.is_some(),
            },
        ))
    }

    pub async fn revoke_token(&self, id: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- personal data ----

    pub async fn personal_data(&self, case: &CaseId) -> Result<Option<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT data, digest FROM personal_data WHERE case_id = $1")
                .bind(case.as_str())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    // ---- verification ----

    /// Walks the whole log in sequence order and recomputes every link of the hash chain; with
    /// `projections`, also replays every case and compares it with its stored projection.
    pub async fn verify(&self, projections: bool) -> Result<VerifyReport> {
        let mut report = VerifyReport {
            events: 0,
            last_seq: 0,
            head: GENESIS_HASH.to_string(),
            first_broken: None,
            projection_mismatches: Vec::new(),
            chunk_mismatches: Vec::new(),
        };
        let mut prev = GENESIS_HASH.to_string();
        let mut expected_seq = 1i64;
        loop {
            let rows = sqlx::query(
                "SELECT seq, case_id, version, at_ms, actor, actor_unit, payload, prev_hash, hash
                 FROM events WHERE seq >= $1 ORDER BY seq LIMIT 5000",
            )
            .bind(expected_seq)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let seq: i64 = row.try_get("seq")?;
                let stored_prev: String = row.try_get("prev_hash")?;
                let broken = |why: String| Some((seq, why));
                if seq != expected_seq {
                    report.first_broken = broken(format!("sequence gap: expected {expected_seq}"));
                    return Ok(report);
                }
                if stored_prev != prev {
                    report.first_broken = broken("previous-hash link does not match".into());
                    return Ok(report);
                }
                let stored = match event_from_row(row) {
                    Ok(e) => e,
                    Err(e) => {
                        report.first_broken = broken(format!("unreadable event: {e}"));
                        return Ok(report);
                    }
                };
                let canonical = canonical_event(seq, &stored.event)?;
                let hash = chain_hash(&prev, &canonical)?;
                if hash != stored.hash {
                    report.first_broken = broken("content does not match its hash".into());
                    return Ok(report);
                }
                prev = hash;
                report.events += 1;
                report.last_seq = seq;
                expected_seq += 1;
            }
        }
        let (head_seq, head_hash) = self.head().await?;
        if head_seq != report.last_seq || head_hash != prev {
            report.first_broken = Some((
                head_seq,
                format!(
                    "chain head ({head_seq}) does not match the last event ({})",
                    report.last_seq
                ),
            ));
            return Ok(report);
        }
        report.head = prev;
        if projections {
            report.chunk_mismatches = self.verify_chunks().await?;
            report.projection_mismatches = self.verify_projections().await?;
        }
        Ok(report)
    }

    /// The cases whose event chunks differ from what their events make (`event_log`).
    async fn verify_chunks(&self) -> Result<Vec<String>> {
        let mut mismatches = BTreeSet::new();
        let mut after = String::new();
        loop {
            let ids: Vec<(String,)> = sqlx::query_as(
                "SELECT DISTINCT case_id FROM (SELECT case_id FROM events WHERE case_id > $1
                 UNION SELECT case_id FROM event_chunks WHERE case_id > $1) c
                 ORDER BY case_id LIMIT 500",
            )
            .bind(after.as_str())
            .fetch_all(&self.pool)
            .await?;
            let Some((last,)) = ids.last().cloned() else {
                break;
            };
            let rows: Vec<EventColumns> = sqlx::query_as(
                "SELECT seq, case_id, version, at_ms, actor, actor_unit, hash, payload FROM events
                 WHERE case_id > $1 AND case_id <= $2",
            )
            .bind(after.as_str())
            .bind(last.as_str())
            .fetch_all(&self.pool)
            .await?;
            let stored: Vec<(String, i64, String)> = sqlx::query_as(
                "SELECT case_id, chunk, body FROM event_chunks WHERE case_id > $1 AND case_id <= $2",
            )
            .bind(after.as_str())
            .bind(last.as_str())
            .fetch_all(&self.pool)
            .await?;
            let mut expected = expected_bodies(&rows);
            for (case_id, chunk, body) in stored {
                if expected.remove(&(case_id.clone(), chunk)).as_ref() != Some(&body) {
                    mismatches.insert(case_id);
                }
            }
            mismatches.extend(expected.into_keys().map(|(case_id, _)| case_id));
            after = last;
        }
        Ok(mismatches.into_iter().collect())
    }

    async fn verify_projections(&self) -> Result<Vec<String>> {
        let mut mismatches = Vec::new();
        let mut after = String::new();
        loop {
            let ids: Vec<(String,)> =
                sqlx::query_as("SELECT id FROM cases WHERE id > $1 ORDER BY id LIMIT 1000")
                    .bind(after.as_str())
                    .fetch_all(&self.pool)
                    .await?;
            let Some((last,)) = ids.last().cloned() else {
                break;
            };
            for (id,) in ids {
                let case = CaseId::new(id.clone());
                let events = self.events_of(&case).await?;
                let replayed = replay(events.iter().map(|e| &e.event))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let stored = self.case(&case).await?.map(|r| r.state);
                if replayed != stored {
                    mismatches.push(id);
                }
            }
            after = last;
        }
        Ok(mismatches)
    }
}

/// A wire record: `[seq, version, at_ms, actor, actor_unit, hash, payload]`.
type WireRecord<K> = (i64, u64, i64, String, Option<String>, String, K);

/// One chunk's wire records, decoded onto `out`. A payload the tag-first path does not take
/// is decoded the ordinary way, the whole chunk again: the same result, only slower. An error
/// means a damaged copy; `out` is then left as it was.
fn decode_chunk(id: &CaseId, body: &str, out: &mut Vec<StoredEvent>) -> Result<()> {
    let start = out.len();
    if decode_records(id, body, out, |Payload(kind)| kind).is_ok() {
        return Ok(());
    }
    out.truncate(start);
    decode_records(id, body, out, |kind: EventKind| kind).map_err(|e| {
        out.truncate(start);
        StoreError::Corrupt(format!("event chunk: {e}"))
    })
}

/// The wire records of a chunk with payloads read as `K`, pushed onto `out`.
fn decode_records<K: serde::de::DeserializeOwned>(
    id: &CaseId,
    body: &str,
    out: &mut Vec<StoredEvent>,
    kind: fn(K) -> EventKind,
) -> std::result::Result<(), String> {
    for record in serde_json::Deserializer::from_str(body).into_iter::<WireRecord<K>>() {
        let (seq, version, at, actor, unit, hash, k) = record.map_err(|e| e.to_string())?;
        let event = stored_event(id, (seq, version, at, actor, unit, hash, kind(k)));
        out.push(event.map_err(|e| e.to_string())?);
    }
    Ok(())
}

fn stored_event(
    id: &CaseId,
    (seq, version, at_ms, actor, unit, hash, kind): WireRecord<EventKind>,
) -> Result<StoredEvent> {
    Ok(StoredEvent {
        seq,
        hash,
        event: Event {
            case_id: id.clone(),
            version,
            at: from_ms(at_ms)?,
            actor: ActorId::new(actor),
            actor_unit: unit.map(UnitId::new),
            kind,
        },
    })
}

/// Diagnostic for the `case_load` bench: one chunk body decoded as `events_of` does.
#[doc(hidden)]
pub fn decode_chunk_for_bench(id: &CaseId, body: &str) -> Result<Vec<StoredEvent>> {
    let mut out = Vec::new();
    decode_chunk(id, body, &mut out)?;
    Ok(out)
}
