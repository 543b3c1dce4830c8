//! The organisation tree in the database: regions, units with their level, department and
//! status, and the history of every unit.
//!
//! An import loads a whole [`OrgPlan`] (or a deployment's CSV of extra units) in ONE
//! transaction with multi-row INSERTs: either all of it is there afterwards or none of it.
//! Re-importing the same plan changes nothing. Units are never deleted: a merged unit is
//! retired and names its successor, so old cases keep pointing at the unit that handled them.

use std::collections::{BTreeMap, HashMap, HashSet};

use huiyin_org::{Level, OrgError, OrgPlan, UnitKind, UnitSpec, extra};
use serde::Serialize;
use sqlx::{Any, Transaction};

use crate::db::{Backend, Store};
use crate::{AuditEntry, Result, StoreError};

/// Bound parameters per multi-row INSERT. SQLite looks named parameters (`$n`) up linearly
/// while it prepares a statement, so very wide statements cost quadratic time: about a
/// thousand parameters per statement (111 unit rows) is its sweet spot. PostgreSQL pays per
/// round trip instead and takes up to 65,535: 9,000 (1,000 unit rows).
fn batch_params(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 999,
        Backend::Postgres => 9_000,
    }
}

/// A region row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionRecord {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
}

/// A unit with its place in the tree and its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgUnit {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub department: Option<String>,
    pub level: String,
    pub region_code: String,
    pub parent_id: Option<String>,
    /// `active` or `retired`.
    pub status: String,
    pub retired_at_ms: Option<i64>,
    /// For a merged unit: the unit that took over its work.
    pub successor_id: Option<String>,
}

impl OrgUnit {
    pub fn is_active(&self) -> bool {
        self.status == STATUS_ACTIVE
    }
}

const STATUS_ACTIVE: &str = "active";

/// One change in a unit's life.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitHistoryEntry {
    pub unit_id: String,
    pub at_ms: i64,
    /// `added`, `renamed`, `updated`, `reparented`, `merged`, `absorbed`, `retired`.
    pub change: String,
    pub detail: serde_json::Value,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub regions_added: u64,
    pub regions_updated: u64,
    pub units_added: u64,
    pub units_updated: u64,
    pub units_unchanged: u64,
    /// Units the plan names that were retired or merged here: left as they are.
    pub units_kept_retired: u64,
}

impl ImportReport {
    /// Whether the import changed nothing.
    pub fn is_noop(&self) -> bool {
        self.regions_added + self.regions_updated + self.units_added + self.units_updated == 0
    }
}

/// Counts per level and kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrgStats {
    /// Regions per level (nation, province, city, county, township).
    pub regions: BTreeMap<String, i64>,
    /// Active units per level, then per kind.
    pub units: BTreeMap<String, BTreeMap<String, i64>>,
    pub units_active: i64,
    pub units_retired: i64,
    pub history_entries: i64,
}

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OrgImportError {
    /// The input is wrong (bad lines, unknown regions, a cycle…): nothing was written.
    #[error("{0}")]
    Rejected(#[from] OrgError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for OrgImportError {
    fn from(e: sqlx::Error) -> Self {
        OrgImportError::Store(StoreError::Db(e))
    }
}

/// A value to bind in a multi-row INSERT.
enum Val {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

/// INSERTs `rows` into `table` in multi-row statements of at most [`batch_params`] values.
async fn insert_rows(
    backend: Backend,
    tx: &mut Transaction<'static, Any>,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Val>>,
) -> Result<()> {
    let width = columns.len();
    let per_batch = (batch_params(backend) / width.max(1)).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<Vec<Val>> = rows.by_ref().take(per_batch).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        for r in 0..batch.len() {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..width {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", r * width + c + 1));
            }
            sql.push(')');
        }
        // Only fixed table and column names and numbered placeholders; values are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in batch {
            debug_assert_eq!(row.len(), width);
            for v in row {
                q = match v {
                    Val::Text(s) => q.bind(s),
                    Val::OptText(s) => q.bind(s),
                    Val::Int(i) => q.bind(i),
                };
            }
        }
        q.execute(&mut **tx).await.map_err(|e| {
            StoreError::from_db(
                e,
                &format!("{table}: a row exists already (imported concurrently?)"),
            )
        })?;
    }
    Ok(())
}

pub(crate) type UnitRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    Option<i64>,
    Option<String>,
);

pub(crate) const UNIT_COLUMNS: &str =
    "id, name, kind, department, level, region_code, parent_id, status, retired_at, successor_id";

pub(crate) fn unit_from_row(r: UnitRow) -> OrgUnit {
    OrgUnit {
        id: r.0,
        name: r.1,
        kind: r.2,
        department: r.3,
        level: r.4,
        region_code: r.5,
        parent_id: r.6,
        status: r.7,
        retired_at_ms: r.8,
        successor_id: r.9,
    }
}

fn history_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

fn history_row(unit_id: &str, at_ms: i64, change: &str, detail: serde_json::Value) -> Vec<Val> {
    vec![
        Val::Text(history_id()),
        Val::Text(unit_id.to_string()),
        Val::Int(at_ms),
        Val::Text(change.to_string()),
        Val::Text(detail.to_string()),
    ]
}

/// Appends an administrator's audit entry inside the change's transaction.
async fn audit_on(tx: &mut Transaction<'static, Any>, audit: Option<&AuditEntry>) -> Result<()> {
    if let Some(entry) = audit {
        crate::audit::append_on(tx, entry).await?;
    }
    Ok(())
}

const HISTORY_COLUMNS: [&str; 5] = ["id", "unit_id", "at_ms", "change", "detail"];

/// Follows successors from a retired unit to the active one that took over (bounded, so a
/// corrupt loop cannot hang).
fn resolve_successor<'a>(units: &'a HashMap<String, OrgUnit>, id: &'a str) -> &'a str {
    let mut at = id;
    for _ in 0..64 {
        match units.get(at) {
            Some(u) if !u.is_active() => match &u.successor_id {
                Some(next) => at = next.as_str(),
                None => return at,
            },
            _ => return at,
        }
    }
    at
}

impl Store {
    /// Takes the write lock for the organisation tree for the rest of `tx`, so two imports
    /// (or an import and a merge) never interleave.
    async fn lock_org(&self, tx: &mut Transaction<'static, Any>) -> Result<()> {
        let sql = match self.backend {
            Backend::Postgres => "LOCK TABLE units IN SHARE ROW EXCLUSIVE MODE",
            // Any write statement takes SQLite's single write lock for the transaction.
            Backend::Sqlite => "UPDATE units SET id = id WHERE 1 = 0",
        };
        sqlx::query(sql).execute(&mut **tx).await?;
        Ok(())
    }

    async fn load_units(tx: &mut Transaction<'static, Any>) -> Result<HashMap<String, OrgUnit>> {
        let rows: Vec<UnitRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM units"
        )))
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.0.clone(), unit_from_row(r)))
            .collect())
    }

    /// Loads or updates the tree of `plan` in one transaction. New regions and units are
    /// inserted; an existing unit is updated only where it differs from the plan (its name,
    /// kind, department, level, region or parent), with a history entry; retired units stay
    /// retired; nothing is deleted.
    pub async fn import_org(&self, plan: &OrgPlan, now_ms: i64) -> Result<ImportReport> {
        let mut tx = self.pool.begin().await?;
        self.lock_org(&mut tx).await?;
        let mut report = ImportReport::default();

        // Regions.
        let existing: Vec<(String, String, String, Option<String>)> =
            sqlx::query_as("SELECT code, name, level, parent_code FROM regions")
                .fetch_all(&mut *tx)
                .await?;
        let existing: HashMap<String, (String, String, Option<String>)> = existing
            .into_iter()
            .map(|(c, n, l, p)| (c, (n, l, p)))
            .collect();
        let mut new_regions = Vec::new();
        for r in &plan.regions {
            match existing.get(&r.code) {
                None => new_regions.push(vec![
                    Val::Text(r.code.clone()),
                    Val::Text(r.name.clone()),
                    Val::Text(r.level.as_str().into()),
                    Val::OptText(r.parent.clone()),
                    Val::Int(now_ms),
                ]),
                Some((name, level, parent))
                    if name != &r.name || level != r.level.as_str() || parent != &r.parent =>
                {
                    sqlx::query(
                        "UPDATE regions SET name = $2, level = $3, parent_code = $4, updated_at = $5 WHERE code = $1",
                    )
                    .bind(r.code.clone())
                    .bind(r.name.clone())
                    .bind(r.level.as_str())
                    .bind(r.parent.clone())
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    report.regions_updated += 1;
                }
                Some(_) => {}
            }
        }
        report.regions_added = new_regions.len() as u64;
        insert_rows(
            self.backend,
            &mut tx,
            "regions",
            &["code", "name", "level", "parent_code", "updated_at"],
            new_regions,
        )
        .await?;

        let units = Self::load_units(&mut tx).await?;
        let counts = apply_units(
            self.backend,
            &mut tx,
            &plan.units,
            &units,
            now_ms,
            "catalogue",
        )
        .await?;
        report.units_added = counts.0;
        report.units_updated = counts.1;
        report.units_unchanged = counts.2;
        report.units_kept_retired = counts.3;
        tx.commit().await?;
        Ok(report)
    }

    /// Imports a deployment's own units from CSV text (`id,name,kind,region,parent[,department]`).
    /// Every line is checked first — unknown regions, parents that exist neither in the file
    /// nor in the database, cycles, duplicate ids — and any problem rejects the whole file with
    /// the line numbers; otherwise all rows are written in one transaction (an id that exists
    /// already is updated where it differs, with history).
    /// With `audit`, the entry is appended in the same transaction.
    pub async fn import_units_csv(
        &self,
        text: &str,
        now_ms: i64,
        audit: Option<&AuditEntry>,
    ) -> std::result::Result<ImportReport, OrgImportError> {
        self.units_csv(text, now_ms, audit, false).await
    }

    /// Like [`Store::import_units_csv`], for new units only: a line whose id exists already
    /// refuses the file (`unit_duplicate`), checked under the organisation lock, so two
    /// administrators adding the same id at once cannot turn the second addition into an
    /// update of the first.
    pub async fn add_units_csv(
        &self,
        text: &str,
        now_ms: i64,
        audit: Option<&AuditEntry>,
    ) -> std::result::Result<ImportReport, OrgImportError> {
        self.units_csv(text, now_ms, audit, true).await
    }

    async fn units_csv(
        &self,
        text: &str,
        now_ms: i64,
        audit: Option<&AuditEntry>,
        new_only: bool,
    ) -> std::result::Result<ImportReport, OrgImportError> {
        let rows = extra::parse_csv(text)?;
        let mut tx = self.pool.begin().await?;
        self.lock_org(&mut tx).await?;
        let regions: Vec<(String,)> = sqlx::query_as("SELECT code FROM regions")
            .fetch_all(&mut *tx)
            .await?;
        let regions: HashSet<String> = regions.into_iter().map(|(c,)| c).collect();
        let units = Self::load_units(&mut tx).await?;
        if new_only {
            let taken: Vec<extra::LineError> = rows
                .iter()
                .filter(|r| units.contains_key(&r.unit.id))
                .map(|r| extra::LineError {
                    line: r.line,
                    code: "unit_duplicate",
                    message: format!("单位编号 {} 已被使用", r.unit.id),
                })
                .collect();
            if !taken.is_empty() {
                return Err(OrgImportError::Rejected(OrgError::Lines(taken)));
            }
        }
        let specs = extra::validate(
            rows,
            |r| regions.contains(r),
            |id| units.get(id).map(|u| u.parent_id.clone()),
        )?;
        let counts = apply_units(self.backend, &mut tx, &specs, &units, now_ms, "csv").await?;
        audit_on(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(ImportReport {
            units_added: counts.0,
            units_updated: counts.1,
            units_unchanged: counts.2,
            units_kept_retired: counts.3,
            ..ImportReport::default()
        })
    }

    /// Renames a unit (with history). Returns false if the name is already that. With
    /// `audit`, the entry is appended in the same transaction (here and in the changes below).
    pub async fn rename_unit(
        &self,
        id: &str,
        name: &str,
        now_ms: i64,
        audit: Option<&AuditEntry>,
    ) -> Result<bool> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > extra::MAX_NAME_CHARS {
            return Err(StoreError::Conflict(format!(
                "单位名称不能为空，且不超过{}个字",
                extra::MAX_NAME_CHARS
            )));
        }
        let mut tx = self.pool.begin().await?;
        self.lock_org(&mut tx).await?;
        let unit = Self::org_unit_in(&mut tx, id).await?;
        if unit.name == name {
            return Ok(false);
        }
        sqlx::query("UPDATE units SET name = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(name)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({"from": unit.name, "to": name});
        insert_rows(
            self.backend,
            &mut tx,
            "unit_history",
            &HISTORY_COLUMNS,
            vec![history_row(id, now_ms, "renamed", detail)],
        )
        .await?;
        audit_on(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Merges unit `id` into `into`: `id` is retired with `into` as its successor and its
    /// active sub-units move under `into`. Cases keep the unit ids they have.
    pub async fn merge_unit(
        &self,
        id: &str,
        into: &str,
        now_ms: i64,
        audit: Option<&AuditEntry>,
    ) -> Result<()> {
        if id == into {
            return Err(StoreError::Conflict("不能把单位合并到它自己".into()));
        }
        let mut tx = self.pool.begin().await?;
        self.lock_org(&mut tx).await?;
        let from = Self::org_unit_in(&mut tx, id).await?;
        let target = Self::org_unit_in(&mut tx, into).await?;
        if !from.is_active() {
            return Err(StoreError::Conflict(format!("单位 {id} 已撤销或已合并")));
        }
        if !target.is_active() {
            return Err(StoreError::Conflict(format!(
                "目标单位 {into} 已撤销或已合并，请合并到仍在运行的单位"
            )));
        }
        // The target must not sit below the merged unit, or moving the children would make
        // a cycle.
        let mut at = target.parent_id.clone();
        for _ in 0..64 {
            let Some(p) = at else { break };
            if p == id {
                return Err(StoreError::Conflict(format!(
                    "目标单位 {into} 是 {id} 的下级单位，不能合并（会形成环）"
                )));
            }
            at = Self::org_unit_in(&mut tx, &p).await?.parent_id;
        }
        let children: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM units WHERE parent_id = $1 AND status = 'active' ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE units SET status = 'retired', retired_at = $2, successor_id = $3, updated_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(now_ms)
        .bind(into)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE units SET parent_id = $2, updated_at = $3 WHERE parent_id = $1 AND status = 'active'",
        )
        .bind(id)
        .bind(into)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let mut history = vec![
            history_row(id, now_ms, "merged", serde_json::json!({"into": into})),
            history_row(into, now_ms, "absorbed", serde_json::json!({"from": id})),
        ];
        for (child,) in &children {
            history.push(history_row(
                child,
                now_ms,
                "reparented",
                serde_json::json!({"from": id, "to": into, "because": "merged"}),
            ));
        }
        insert_rows(
            self.backend,
            &mut tx,
            "unit_history",
            &HISTORY_COLUMNS,
            history,
        )
        .await?;
        audit_on(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Retires a unit that has no active sub-units (merge it instead if its work goes on
    /// elsewhere). Cases keep the unit id.
    pub async fn retire_unit(
        &self,
        id: &str,
        now_ms: i64,
        audit: Option<&AuditEntry>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        self.lock_org(&mut tx).await?;
        let unit = Self::org_unit_in(&mut tx, id).await?;
        if !unit.is_active() {
            return Err(StoreError::Conflict(format!("单位 {id} 已撤销或已合并")));
        }
        let (children,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM units WHERE parent_id = $1 AND status = 'active'")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if children > 0 {
            return Err(StoreError::Conflict(format!(
                "单位 {id} 还有{children}个下级单位，请先合并或撤销下级单位，或用 merge 把它合并到其他单位"
            )));
        }
        sqlx::query(
            "UPDATE units SET status = 'retired', retired_at = $2, updated_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        insert_rows(
            self.backend,
            &mut tx,
            "unit_history",
            &HISTORY_COLUMNS,
            vec![history_row(id, now_ms, "retired", serde_json::json!({}))],
        )
        .await?;
        audit_on(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn org_unit_in(tx: &mut Transaction<'static, Any>, id: &str) -> Result<OrgUnit> {
        let row: Option<UnitRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        row.map(unit_from_row)
            .ok_or_else(|| StoreError::NotFound(format!("单位 {id} 不存在")))
    }

    // ---- lookups ----

    /// One unit with its tree columns.
    pub async fn org_unit(&self, id: &str) -> Result<Option<OrgUnit>> {
        let row: Option<UnitRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(unit_from_row))
    }

    /// The units directly below `id` (active and retired), by name.
    pub async fn children_of(&self, id: &str) -> Result<Vec<OrgUnit>> {
        let rows: Vec<UnitRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE parent_id = $1 ORDER BY name, id LIMIT 1000"
        )))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(unit_from_row).collect())
    }

    /// The units with these ids (unknown ids are left out), in id order.
    pub async fn units_by_ids(&self, ids: &[String]) -> Result<Vec<OrgUnit>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {UNIT_COLUMNS} FROM units WHERE id IN ({})",
                placeholders.join(", ")
            );
            let mut q = sqlx::query_as::<_, UnitRow>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.clone());
            }
            out.extend(
                q.fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(unit_from_row),
            );
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }

    /// The region code of a unit.
    pub async fn unit_region(&self, id: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT region_code FROM units WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(r,)| r))
    }

    /// The active units of one region, in id order.
    pub async fn units_in_region(&self, region: &str) -> Result<Vec<OrgUnit>> {
        let rows: Vec<UnitRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE region_code = $1 AND status = 'active' ORDER BY id"
        )))
        .bind(region)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(unit_from_row).collect())
    }

    /// The unit that carries on the work of `id`: itself if active, else the end of its
    /// successor chain.
    pub async fn current_successor(&self, id: &str) -> Result<Option<OrgUnit>> {
        let mut at = match self.org_unit(id).await? {
            Some(u) => u,
            None => return Ok(None),
        };
        for _ in 0..64 {
            match (&at.successor_id, at.is_active()) {
                (Some(next), false) => match self.org_unit(next).await? {
                    Some(u) => at = u,
                    None => break,
                },
                _ => break,
            }
        }
        Ok(Some(at))
    }

    pub async fn region(&self, code: &str) -> Result<Option<RegionRecord>> {
        let row: Option<(String, String, String, Option<String>)> =
            sqlx::query_as("SELECT code, name, level, parent_code FROM regions WHERE code = $1")
                .bind(code)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(code, name, level, parent_code)| RegionRecord {
            code,
            name,
            level,
            parent_code,
        }))
    }

    /// The regions from the nation down to `code` (those that are imported), e.g. for
    /// 440604: 0, 44, 4406, 440604. One query: the ancestors are the code's prefixes.
    pub async fn region_path(&self, code: &str) -> Result<Vec<RegionRecord>> {
        let Some(level) = Level::of_code(code) else {
            return Ok(Vec::new());
        };
        let mut codes = vec!["0".to_string()];
        for (n, l) in [
            (2, Level::Province),
            (4, Level::City),
            (6, Level::County),
            (9, Level::Township),
        ] {
            if l <= level && code.len() >= n {
                codes.push(code[..n].to_string());
            }
        }
        let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT code, name, level, parent_code FROM regions WHERE code IN ($1, $2, $3, $4, $5)",
        )
        .bind(codes.first().cloned())
        .bind(codes.get(1).cloned())
        .bind(codes.get(2).cloned())
        .bind(codes.get(3).cloned())
        .bind(codes.get(4).cloned())
        .fetch_all(&self.pool)
        .await?;
        let mut path: Vec<RegionRecord> = rows
            .into_iter()
            .map(|(code, name, level, parent_code)| RegionRecord {
                code,
                name,
                level,
                parent_code,
            })
            .collect();
        path.sort_by_key(|r| if r.code == "0" { 0 } else { r.code.len() });
        Ok(path)
    }

    /// A unit's history, oldest first.
    pub async fn unit_history(&self, id: &str) -> Result<Vec<UnitHistoryEntry>> {
        let rows: Vec<(String, i64, String, String)> = sqlx::query_as(
            "SELECT unit_id, at_ms, change, detail FROM unit_history WHERE unit_id = $1 ORDER BY at_ms, id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(unit_id, at_ms, change, detail)| {
                Ok(UnitHistoryEntry {
                    unit_id,
                    at_ms,
                    change,
                    detail: serde_json::from_str(&detail)
                        .map_err(|e| StoreError::Corrupt(format!("unit history detail: {e}")))?,
                })
            })
            .collect()
    }

    /// Counts of regions per level and of active units per level and kind.
    pub async fn org_stats(&self) -> Result<OrgStats> {
        let mut stats = OrgStats::default();
        let regions: Vec<(String, i64)> =
            sqlx::query_as("SELECT level, COUNT(*) FROM regions GROUP BY level")
                .fetch_all(&self.pool)
                .await?;
        stats.regions = regions.into_iter().collect();
        let units: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT level, kind, status, COUNT(*) FROM units GROUP BY level, kind, status",
        )
        .fetch_all(&self.pool)
        .await?;
        for (level, kind, status, n) in units {
            if status == STATUS_ACTIVE {
                stats.units_active += n;
                *stats
                    .units
                    .entry(level)
                    .or_default()
                    .entry(kind)
                    .or_default() += n;
            } else {
                stats.units_retired += n;
            }
        }
        let (history,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM unit_history")
            .fetch_one(&self.pool)
            .await?;
        stats.history_entries = history;
        Ok(stats)
    }
}

/// Writes `specs` (parents first) against the `existing` units: inserts the new ones in
/// batches, updates the ones that differ, leaves retired ones alone. Returns (added, updated,
/// unchanged, kept retired).
async fn apply_units(
    backend: Backend,
    tx: &mut Transaction<'static, Any>,
    specs: &[UnitSpec],
    existing: &HashMap<String, OrgUnit>,
    now_ms: i64,
    source: &str,
) -> Result<(u64, u64, u64, u64)> {
    let (mut updated, mut unchanged, mut kept) = (0u64, 0u64, 0u64);
    let mut new_units = Vec::new();
    let mut history = Vec::new();
    // Updates run after the inserts: a changed parent may be a unit this import adds.
    let mut updates: Vec<(&UnitSpec, Option<String>)> = Vec::new();
    for u in specs {
        // A parent that was merged away is replaced by its successor, so a re-import does not
        // undo the merge.
        let parent = u
            .parent
            .as_deref()
            .map(|p| resolve_successor(existing, p).to_string());
        let Some(old) = existing.get(&u.id) else {
            history.push(history_row(
                &u.id,
                now_ms,
                "added",
                serde_json::json!({"name": u.name, "parent": parent, "source": source}),
            ));
            new_units.push(vec![
                Val::Text(u.id.clone()),
                Val::Text(u.name.clone()),
                Val::Text(u.kind.as_str().into()),
                Val::OptText(u.department.clone()),
                Val::Text(u.level.as_str().into()),
                Val::Text(u.region.clone()),
                Val::OptText(parent),
                Val::Int(now_ms),
                Val::Int(now_ms),
            ]);
            continue;
        };
        if !old.is_active() {
            kept += 1;
            continue;
        }
        let mut before = serde_json::Map::new();
        let mut after = serde_json::Map::new();
        let mut diff = |field: &str, was: Option<&str>, now: Option<&str>| {
            if was != now {
                before.insert(field.into(), was.into());
                after.insert(field.into(), now.into());
            }
        };
        diff("name", Some(&old.name), Some(&u.name));
        diff("kind", Some(&old.kind), Some(u.kind.as_str()));
        diff(
            "department",
            old.department.as_deref(),
            u.department.as_deref(),
        );
        diff("level", Some(&old.level), Some(u.level.as_str()));
        diff("region_code", Some(&old.region_code), Some(&u.region));
        diff("parent_id", old.parent_id.as_deref(), parent.as_deref());
        if after.is_empty() {
            unchanged += 1;
            continue;
        }
        let change = if after.len() == 1 && after.contains_key("name") {
            "renamed"
        } else {
            "updated"
        };
        updates.push((u, parent));
        history.push(history_row(
            &u.id,
            now_ms,
            change,
            serde_json::json!({"before": before, "after": after, "source": source}),
        ));
        updated += 1;
    }
    let added = new_units.len() as u64;
    insert_rows(
        backend,
        tx,
        "units",
        &[
            "id",
            "name",
            "kind",
            "department",
            "level",
            "region_code",
            "parent_id",
            "created_at",
            "updated_at",
        ],
        new_units,
    )
    .await?;
    for (u, parent) in updates {
        sqlx::query(
            "UPDATE units SET name = $2, kind = $3, department = $4, level = $5, region_code = $6,
                parent_id = $7, updated_at = $8 WHERE id = $1",
        )
        .bind(u.id.clone())
        .bind(u.name.clone())
        .bind(u.kind.as_str())
        .bind(u.department.clone())
        .bind(u.level.as_str())
        .bind(u.region.clone())
        .bind(parent)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    }
    insert_rows(backend, tx, "unit_history", &HISTORY_COLUMNS, history).await?;
    Ok((added, updated, unchanged, kept))
}

/// The kinds and levels as the database stores them (for callers that match on strings).
pub fn kind_codes() -> Vec<&'static str> {
    UnitKind::ALL.iter().map(|k| k.as_str()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use huiyin_org::{Catalogue, Divisions, plan};

    const SMALL: &str = "44\t广东省\n4406\t佛山市\n440604\t禅城区\n011\t祖庙街道\n440605\t南海区\n";

    fn small_plan() -> OrgPlan {
        plan(&Divisions::parse(SMALL).unwrap(), &Catalogue::default()).unwrap()
    }

    #[tokio::test]
    async fn a_small_tree_imports_once_and_reimports_as_a_no_op() {
        let db = crate::testing::fresh().await.unwrap();
        let s = &db.store;
        let p = small_plan();
        let r = s.import_org(&p, 1_000).await.unwrap();
        assert_eq!(r.regions_added, 6);
        // 0-xfj exists from the first migration: updated (its parent is now 0-gov).
        assert_eq!(r.units_added as usize, p.units.len() - 1);
        assert_eq!(r.units_updated, 1);
        let xfj = s.org_unit("0-xfj").await.unwrap().unwrap();
        assert_eq!(xfj.parent_id.as_deref(), Some("0-gov"));
        assert_eq!(xfj.level, "nation");
        let history = s.org_stats().await.unwrap().history_entries;
        let again = s.import_org(&p, 2_000).await.unwrap();
        assert!(again.is_noop(), "{again:?}");
        assert_eq!(again.units_unchanged as usize, p.units.len());
        assert_eq!(s.org_stats().await.unwrap().history_entries, history);
        let bureau = s.bureau_for_region("440604011").await.unwrap().unwrap();
        assert_eq!(bureau.id, "440604-xfj");
        let path: Vec<String> = s
            .region_path("440604011")
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.code)
            .collect();
        assert_eq!(path, ["0", "44", "4406", "440604", "440604011"]);
        db.cleanup().await.unwrap();
    }
}
