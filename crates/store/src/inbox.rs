//! The staff workbench's reads: a unit's inbox with every filter the page offers and the
//! counts per filter value, and the unit picker's search over the national tree.
//!
//! The inbox is one unit's work list (`current_unit_id`), so it rides the
//! `cases_unit_queue` index `(current_unit_id, is_open, next_due_at, id)` and pages by keyset on
//! `(next_due_at, id)` like [`Store::list_cases`]; the extra filters are row filters on that
//! range. Lights are computed in SQL from the stored `next_due_at` and `yellow_at` with the
//! rule of [`huiyin_domain::clock::Deadline::light`] for running deadlines.

use huiyin_domain::access::region_range;
use sqlx::Row;

use crate::org::{UNIT_COLUMNS, UnitRow, unit_from_row};
use crate::read::{Bind, SUMMARY_COLUMNS, summaries};
use crate::{CaseSummary, OrgUnit, Result, Store};

/// The light of a case's most urgent running deadline at `$now` (a case without a running
/// deadline is green).
const LIGHT_SQL: &str = "CASE WHEN next_due_at < {now} THEN 'red' \
     WHEN yellow_at <= {now} THEN 'yellow' ELSE 'green' END";

/// What one inbox page shows.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    /// The unit whose inbox this is.
    pub unit: String,
    /// Only cases that wait for an organ (the default view).
    pub open_only: bool,
    pub stage: Option<String>,
    /// `red`, `yellow` or `green` at `now_ms`.
    pub light: Option<String>,
    pub channel: Option<String>,
    /// The statutory class code (`suggestion`, `accusation`, `appeal`).
    pub class: Option<String>,
    pub category: Option<String>,
    /// Received at or after (ms).
    pub received_from_ms: Option<i64>,
    /// Received before (ms).
    pub received_before_ms: Option<i64>,
    pub now_ms: i64,
    pub after: Option<(i64, String)>,
    pub limit: u32,
}

/// How many of a unit's cases have each value of each filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxCounts {
    pub total: i64,
    pub by_stage: Vec<(String, i64)>,
    pub by_light: Vec<(String, i64)>,
    pub by_channel: Vec<(String, i64)>,
    pub by_class: Vec<(String, i64)>,
    pub by_category: Vec<(String, i64)>,
}

/// The unit picker's question.
#[derive(Debug, Clone, Default)]
pub struct UnitSearch {
    /// Part of the unit's name (matched anywhere in it).
    pub name: String,
    /// A GB/T 2260 region prefix: the unit's region is this region or inside it.
    pub region: Option<String>,
    pub kind: Option<String>,
    pub limit: u32,
    /// Also retired and merged units (the administrators' unit list); pickers leave it false.
    pub with_retired: bool,
}

fn add(list: &mut Vec<(String, i64)>, key: &str, n: i64) {
    match list.iter_mut().find(|(k, _)| k == key) {
        Some((_, c)) => *c += n,
        None => list.push((key.to_string(), n)),
    }
}

/// `%` and `_` typed by a person match themselves.
fn like_pattern(s: &str) -> String {
    let mut out = String::from("%");
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `SELECT {what} FROM cases WHERE …` with the inbox's filters (no cursor, no order), and the
/// values to bind.
fn inbox_where(f: &InboxFilter, what: &str) -> (String, Vec<Bind>) {
    let mut binds: Vec<Bind> = Vec::new();
    let mut mark = |b: Bind| {
        binds.push(b);
        format!("${}", binds.len())
    };
    let mut sql = format!(
        "SELECT {what} FROM cases WHERE current_unit_id = {}",
        mark(Bind::Text(f.unit.clone()))
    );

    if f.open_only {
        sql += " AND is_open = 1";
    }
    for (column, value) in [
        ("stage", &f.stage),
        ("channel", &f.channel),
        ("class", &f.class),
        ("category", &f.category),
    ] {
        if let Some(v) = value {
            sql += &format!(" AND {column} = {}", mark(Bind::Text(v.clone())));
        }
    }
    if let Some(light) = &f.light {
        let now = mark(Bind::Int(f.now_ms));
        sql += &format!(
            " AND ({}) = {}",
            LIGHT_SQL.replace("{now}", &now),
            mark(Bind::Text(light.clone()))
        );
    }
    if let Some(t) = f.received_from_ms {
        sql += &format!(" AND received_at >= {}", mark(Bind::Int(t)));
    }
    if let Some(t) = f.received_before_ms {
        sql += &format!(" AND received_at < {}", mark(Bind::Int(t)));
    }
    (sql, binds)
}

impl Store {
    /// One page of a unit's inbox, most urgent first. See [`InboxFilter`].
    pub async fn inbox(&self, f: &InboxFilter) -> Result<Vec<CaseSummary>> {
        let (mut sql, mut binds) = inbox_where(f, SUMMARY_COLUMNS);
        let mut mark = |b: Bind| {
            binds.push(b);
            format!("${}", binds.len())
        };
        if let Some((due, id)) = &f.after {
            let a = mark(Bind::Int(*due));
            let b = mark(Bind::Text(id.clone()));
            sql += &format!(" AND (next_due_at, id) > ({a}, {b})");
        }
        let n = mark(Bind::Int(i64::from(f.limit.clamp(1, 500))));
        sql += &format!(" ORDER BY next_due_at, id LIMIT {n}");
        summaries(&self.pool, sql, binds).await
    }

    /// How many cases the inbox shows with these filters (all pages; the cursor and the page
    /// size are ignored), e.g. to tell how big an export will be.
    pub async fn inbox_count(&self, f: &InboxFilter) -> Result<i64> {
        let (sql, binds) = inbox_where(f, "COUNT(*) AS n");
        // Only fixed fragments and numbered placeholders are concatenated; values are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t),
                Bind::Int(i) => q.bind(i),
            };
        }
        Ok(q.fetch_one(&self.pool).await?.try_get("n")?)
    }

    /// The counts per filter value over a unit's inbox (open cases, or all with
    /// `open_only = false`), in one grouped scan of the unit's index range.
    pub async fn inbox_counts(
        &self,
        unit: &str,
        open_only: bool,
        now_ms: i64,
    ) -> Result<InboxCounts> {
        let light = LIGHT_SQL.replace("{now}", "$2");
        let open = if open_only { " AND is_open = 1" } else { "" };
        let sql = format!(
            "SELECT stage, channel, class, category, {light} AS light, COUNT(*) AS n
             FROM cases WHERE current_unit_id = $1{open}
             GROUP BY stage, channel, class, category, {light}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(unit)
            .bind(now_ms)
            .fetch_all(&self.pool)
            .await?;
        let mut c = InboxCounts::default();
        for row in rows {
            let n: i64 = row.try_get("n")?;
            let stage: String = row.try_get("stage")?;
            let channel: String = row.try_get("channel")?;
            let class: Option<String> = row.try_get("class")?;
            let category: Option<String> = row.try_get("category")?;
            let light: String = row.try_get("light")?;
            c.total += n;
            add(&mut c.by_stage, &stage, n);
            add(&mut c.by_channel, &channel, n);
            add(&mut c.by_light, &light, n);
            if let Some(class) = class {
                add(&mut c.by_class, &class, n);
            }
            if let Some(category) = category {
                add(&mut c.by_category, &category, n);
            }
        }
        for list in [
            &mut c.by_stage,
            &mut c.by_light,
            &mut c.by_channel,
            &mut c.by_class,
            &mut c.by_category,
        ] {
            list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        }
        Ok(c)
    }

    /// The unit picker: active units whose name contains `name`, optionally within a region
    /// and of one kind; higher levels first, then by region and name.
    pub async fn search_units(&self, s: &UnitSearch) -> Result<Vec<OrgUnit>> {
        let mut binds: Vec<Bind> = Vec::new();
        let mut mark = |v: Bind| {
            binds.push(v);
            format!("${}", binds.len())
        };
        let mut sql = format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE {} AND name LIKE {} ESCAPE '\\'",
            if s.with_retired {
                "1 = 1"
            } else {
                "status = 'active'"
            },
            mark(Bind::Text(like_pattern(s.name.trim())))
        );
        if let Some(region) = s.region.as_deref().filter(|r| !r.is_empty()) {
            // A prefix as an index range on region_code (units_region).
            let (low, high) = region_range(region);
            sql += &format!(" AND region_code >= {}", mark(Bind::Text(low)));
            if let Some(high) = high {
                sql += &format!(" AND region_code < {}", mark(Bind::Text(high)));
            }
        }
        if let Some(kind) = s.kind.as_deref().filter(|k| !k.is_empty()) {
            sql += &format!(" AND kind = {}", mark(Bind::Text(kind.to_string())));
        }
        let limit = mark(Bind::Int(i64::from(s.limit.clamp(1, 100))));
        sql += &format!(" ORDER BY length(region_code), region_code, name LIMIT {limit}");
        // Only fixed fragments and numbered placeholders are concatenated; values are bound.
        let mut q = sqlx::query_as::<_, UnitRow>(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t),
                Bind::Int(i) => q.bind(i),
            };
        }
        Ok(q.fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(unit_from_row)
            .collect())
    }
}
