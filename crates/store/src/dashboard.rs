//! Dashboards and the cases behind a figure (issue 8, 形势网上判): counter series and sums over
//! many targets, live counts over open cases (lights, due today, overdue by unit), the units
//! of an area for rankings, and the candidate cases of a drill-down. Every query on cases
//! takes the caller's [`Scope`] where it lists or counts cases.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use huiyin_domain::access::{Scope, region_range};
use huiyin_domain::case::CaseState;
use sqlx::Row;

use crate::leader::{columns_of, mark, scope_clause};
use crate::read::{Bind, summaries};
use crate::stats::{day_number, day_ranges};
use crate::{CaseSummary, Result, Store, StoreError, UnitRecord};

/// Where live figures are counted: the cases of a place (a region prefix, `0` the nation), or
/// the cases a unit must act on now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area<'a> {
    Region(&'a str),
    Unit(&'a str),
}

/// Counts over the open cases of an area at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LiveCounts {
    pub open: i64,
    /// Past their most urgent deadline (红灯).
    pub red: i64,
    /// Inside the warning window before it (黄灯).
    pub yellow: i64,
    /// Due before the end of the day (今日到期), not yet overdue.
    pub due_today: i64,
}

/// The `WHERE` part that keeps a query on `cases c` inside `area` (live figures: a unit's
/// current cases; the cases of a place by the columns the queue indexes cover).
pub(crate) fn area_clause(area: Area<'_>, binds: &mut Vec<Bind>) -> String {
    match area {
        Area::Unit(unit) => format!(
            "c.current_unit_id = {}",
            mark(binds, Bind::Text(unit.to_string()))
        ),
        Area::Region(code) => {
            let column = match code.len() {
                2 => "c.province",
                4 => "c.region_city",
                6 => "c.region_county",
                _ => "",
            };
            if code == "0" || code.is_empty() {
                "1 = 1".into()
            } else if column.is_empty() {
                region_prefix_clause(code, binds)
            } else {
                format!("{column} = {}", mark(binds, Bind::Text(code.to_string())))
            }
        }
    }
}

/// `c.region` within a prefix, as an index range.
fn region_prefix_clause(code: &str, binds: &mut Vec<Bind>) -> String {
    if code == "0" || code.is_empty() {
        return "1 = 1".into();
    }
    let (low, high) = region_range(code);
    let mut sql = format!("c.region >= {}", mark(binds, Bind::Text(low)));
    if let Some(high) = high {
        sql += &format!(" AND c.region < {}", mark(binds, Bind::Text(high)));
    }
    sql
}

/// The scope clause first (it numbers its own placeholders), then the rest as [`Bind`]s.
fn scoped(scope: &Scope) -> (String, Vec<Bind>) {
    let mut texts = Vec::new();
    let within = scope_clause(scope, &mut texts);
    (within, texts.into_iter().map(Bind::Text).collect())
}

pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    binds: Vec<Bind>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t),
            Bind::Int(i) => q.bind(i),
        };
    }
    q
}

impl Store {
    /// The counters `keys` of every target in `targets` summed over `from..=to`:
    /// target → key → value (zeros left out).
    pub async fn stats_sum_targets(
        &self,
        targets: &[String],
        keys: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<HashMap<String, BTreeMap<String, i64>>> {
        let mut out: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
        if targets.is_empty() || keys.is_empty() {
            return Ok(out);
        }
        for chunk in targets.chunks(200) {
            for (lo, hi, months) in day_ranges(from, to) {
                let mut binds = Vec::new();
                let t: Vec<String> = chunk
                    .iter()
                    .map(|t| mark(&mut binds, Bind::Text(t.clone())))
                    .collect();
                let k: Vec<String> = keys
                    .iter()
                    .map(|k| mark(&mut binds, Bind::Text(k.clone())))
                    .collect();
                let (lo, hi) = (
                    mark(&mut binds, Bind::Int(lo)),
                    mark(&mut binds, Bind::Int(hi)),
                );
                let rows_of = if months { "= 0" } else { "<> 0" };
                let sql = format!(
                    "SELECT target, key, CAST(SUM(value) AS BIGINT) AS v FROM stat_counters
                     WHERE target IN ({}) AND key IN ({}) AND day >= {lo} AND day <= {hi}
                       AND day % 100 {rows_of}
                     GROUP BY target, key",
                    t.join(", "),
                    k.join(", ")
                );
                let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), binds);
                for row in q.fetch_all(&self.pool).await? {
                    let (target, key, v): (String, String, i64) =
                        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                    *out.entry(target).or_default().entry(key).or_insert(0) += v;
                }
            }
        }
        for sums in out.values_mut() {
            sums.retain(|_, v| *v != 0);
        }
        Ok(out)
    }

    /// One counter of `target` day by day over `from..=to` (yyyymmdd → value, zeros left out).
    pub async fn stats_days(
        &self,
        target: &str,
        key: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<BTreeMap<i64, i64>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT day, value FROM stat_counters
             WHERE target = $1 AND key = $2 AND day >= $3 AND day <= $4 AND day % 100 <> 0",
        )
        .bind(target)
        .bind(key)
        .bind(day_number(from))
        .bind(day_number(to))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().filter(|(_, v)| *v != 0).collect())
    }

    /// One counter of `target` month by month over `from..=to` (yyyymm → value): whole months
    /// from their roll-up rows, the partial months at either end from their days.
    pub async fn stats_months(
        &self,
        target: &str,
        key: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<BTreeMap<i64, i64>> {
        let mut out = BTreeMap::new();
        for (lo, hi, months) in day_ranges(from, to) {
            let sql = if months {
                "SELECT day / 100 AS m, CAST(SUM(value) AS BIGINT) FROM stat_counters
                 WHERE target = $1 AND key = $2 AND day >= $3 AND day <= $4 AND day % 100 = 0
                 GROUP BY day / 100"
            } else {
                "SELECT day / 100 AS m, CAST(SUM(value) AS BIGINT) FROM stat_counters
                 WHERE target = $1 AND key = $2 AND day >= $3 AND day <= $4 AND day % 100 <> 0
                 GROUP BY day / 100"
            };
            let rows: Vec<(i64, i64)> = sqlx::query_as(sql)
                .bind(target)
                .bind(key)
                .bind(lo)
                .bind(hi)
                .fetch_all(&self.pool)
                .await?;
            for (m, v) in rows {
                *out.entry(m).or_insert(0) += v;
            }
        }
        out.retain(|_, v| *v != 0);
        Ok(out)
    }

    /// Open cases of `area` within `scope` at `now_ms`: how many, red, yellow and due before
    /// `end_of_day_ms`. From the live counters where they serve (see `live.rs`: everything in
    /// scope, the nation, a province, city, county or unit, counters not far behind), exact at
    /// `now_ms` either way.
    pub async fn live_counts(
        &self,
        area: Area<'_>,
        scope: &Scope,
        now_ms: i64,
        end_of_day_ms: i64,
    ) -> Result<LiveCounts> {
        if let Some(counts) = self
            .live_counts_from_hours(area, scope, now_ms, end_of_day_ms)
            .await?
        {
            return Ok(counts);
        }
        self.live_counts_of_cases(area, scope, now_ms, end_of_day_ms)
            .await
    }

    /// [`Store::live_counts`] counted from the open cases themselves (an index range over the
    /// area's open cases), whatever the counters say.
    pub async fn live_counts_of_cases(
        &self,
        area: Area<'_>,
        scope: &Scope,
        now_ms: i64,
        end_of_day_ms: i64,
    ) -> Result<LiveCounts> {
        let (within, mut binds) = scoped(scope);
        let place = area_clause(area, &mut binds);
        let now = mark(&mut binds, Bind::Int(now_ms));
        let eod = mark(&mut binds, Bind::Int(end_of_day_ms));
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT),
               CAST(COALESCE(SUM(CASE WHEN c.next_due_at < {now} THEN 1 ELSE 0 END), 0) AS BIGINT),
               CAST(COALESCE(SUM(CASE WHEN c.next_due_at >= {now} AND c.yellow_at <= {now}
                                      THEN 1 ELSE 0 END), 0) AS BIGINT),
               CAST(COALESCE(SUM(CASE WHEN c.next_due_at >= {now} AND c.next_due_at < {eod}
                                      THEN 1 ELSE 0 END), 0) AS BIGINT)
             FROM cases c WHERE c.is_open = 1 AND {place} AND {within}"
        );
        let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), binds);
        let row = q.fetch_one(&self.pool).await?;
        Ok(LiveCounts {
            open: row.try_get(0)?,
            red: row.try_get(1)?,
            yellow: row.try_get(2)?,
            due_today: row.try_get(3)?,
        })
    }

    /// Open cases of `area` within `scope` with no event since `before_ms` (stalled, 久未办理).
    pub async fn stalled_count(
        &self,
        area: Area<'_>,
        scope: &Scope,
        before_ms: i64,
    ) -> Result<i64> {
        let (within, mut binds) = scoped(scope);
        let place = area_clause(area, &mut binds);
        let before = mark(&mut binds, Bind::Int(before_ms));
        // The nation's stalled cases are a range of `cases_open_updated`; any smaller area's
        // are found through its own queue index, so `+ 0` keeps SQLite's planner from taking
        // the nation-wide range instead (it did: 0.2 s became 6.8 s for a county).
        let nation = matches!(area, Area::Region(code) if code.is_empty() || code == "0");
        let updated = if nation {
            "c.updated_at"
        } else {
            "c.updated_at + 0"
        };
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM cases c
             WHERE c.is_open = 1 AND {updated} < {before} AND {place} AND {within}"
        );
        let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), binds);
        Ok(q.fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Overdue open cases of `area` within `scope` by the unit that must act, most first (at
    /// most `limit` units).
    pub async fn overdue_by_unit(
        &self,
        area: Area<'_>,
        scope: &Scope,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<(String, i64)>> {
        let (within, mut binds) = scoped(scope);
        let place = area_clause(area, &mut binds);
        let now = mark(&mut binds, Bind::Int(now_ms));
        let n = mark(&mut binds, Bind::Int(i64::from(limit.clamp(1, 500))));
        let sql = format!(
            "SELECT c.current_unit_id, CAST(COUNT(*) AS BIGINT) AS n FROM cases c
             WHERE c.is_open = 1 AND c.next_due_at < {now} AND {place} AND {within}
             GROUP BY c.current_unit_id ORDER BY n DESC, c.current_unit_id LIMIT {n}"
        );
        let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), binds);
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Open cases of `area` within `scope` due in `now_ms..end_ms`, most urgent first.
    pub async fn due_between(
        &self,
        area: Area<'_>,
        scope: &Scope,
        now_ms: i64,
        end_ms: i64,
        limit: u32,
    ) -> Result<Vec<CaseSummary>> {
        let (within, mut binds) = scoped(scope);
        let place = area_clause(area, &mut binds);
        let now = mark(&mut binds, Bind::Int(now_ms));
        let end = mark(&mut binds, Bind::Int(end_ms));
        let n = mark(&mut binds, Bind::Int(i64::from(limit.clamp(1, 500))));
        let sql = format!(
            "SELECT {} FROM cases c
             WHERE c.is_open = 1 AND c.next_due_at >= {now} AND c.next_due_at < {end}
               AND {place} AND {within}
             ORDER BY c.next_due_at, c.id LIMIT {n}",
            columns_of("c")
        );
        summaries(&self.pool, sql, binds).await
    }

    /// The active units of a region and of the regions one level below it (the units a
    /// region's figures rank), at most `limit`, by region then name.
    pub async fn units_for_ranking(&self, region: &str, limit: u32) -> Result<Vec<UnitRecord>> {
        let code = if region.is_empty() { "0" } else { region };
        // The next level's code length: 0 → 2 → 4 → 6 → 9.
        let child_len: i64 = match code.len() {
            1 => 2,
            2 => 4,
            4 => 6,
            _ => 9,
        };
        let (low, high) = if code == "0" {
            (String::new(), None)
        } else {
            region_range(code)
        };
        let mut sql = String::from(
            "SELECT id, name, kind, region_code, parent_id FROM units
             WHERE status = 'active' AND (region_code = $1 OR (LENGTH(region_code) <= $2",
        );
        if code == "0" {
            sql += " AND region_code <> '0'))";
        } else {
            sql += " AND region_code > $3";
            if high.is_some() {
                sql += " AND region_code < $4";
            }
            sql += "))";
        }
        sql += &format!(
            " ORDER BY region_code, name LIMIT {}",
            i64::from(limit.clamp(1, 2000))
        );
        let mut q = sqlx::query_as::<_, (String, String, String, String, Option<String>)>(
            sqlx::AssertSqlSafe(sql),
        )
        .bind(code.to_string())
        .bind(child_len);
        if code != "0" {
            q = q.bind(low);
            if let Some(high) = high {
                q = q.bind(high);
            }
        }
        Ok(q.fetch_all(&self.pool)
            .await?
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

    /// Cases that may be behind a figure of `area` for a period: of the place (or with the
    /// unit on them, for a unit), received before `received_before_ms` and changed since
    /// `changed_since_ms` (a contribution's day lies between the two), within `scope`, in id
    /// order after `after_id`, at most `limit`. The caller keeps those whose contributions
    /// count in the figure.
    pub async fn drill_candidates(
        &self,
        area: Area<'_>,
        scope: &Scope,
        received_before_ms: i64,
        changed_since_ms: i64,
        after_id: &str,
        limit: u32,
    ) -> Result<Vec<CaseState>> {
        let (within, mut binds) = scoped(scope);
        let place = match area {
            Area::Unit(unit) => format!(
                "c.id IN (SELECT case_id FROM case_units WHERE unit_id = {})",
                mark(&mut binds, Bind::Text(unit.to_string()))
            ),
            Area::Region(code) => region_prefix_clause(code, &mut binds),
        };
        let before = mark(&mut binds, Bind::Int(received_before_ms));
        let since = mark(&mut binds, Bind::Int(changed_since_ms));
        let after = mark(&mut binds, Bind::Text(after_id.to_string()));
        let n = mark(&mut binds, Bind::Int(i64::from(limit.clamp(1, 5000))));
        let sql = format!(
            "SELECT c.id, c.state FROM cases c
             WHERE {place} AND c.received_at < {before} AND c.updated_at >= {since}
               AND c.id > {after} AND {within}
             ORDER BY c.id LIMIT {n}"
        );
        let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), binds);
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                let id: String = row.try_get(0)?;
                let json: String = row.try_get(1)?;
                crate::read::case_state(&id, &json)
            })
            .collect()
    }

    /// How many events of `kind` (`supervision_issued`, `circulated`: the kinds with a partial
    /// index) were recorded in `[from_ms, to_ms)` on cases of `area`, and on how many cases.
    pub async fn count_events_in(
        &self,
        kind: &str,
        area: Area<'_>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(i64, i64)> {
        let literal = match kind {
            "supervision_issued" => "supervision_issued",
            "circulated" => "circulated",
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "no index for events of kind {kind}"
                )));
            }
        };
        let mut binds = Vec::new();
        let place = match area {
            Area::Unit(unit) => format!(
                "c.id IN (SELECT case_id FROM case_units WHERE unit_id = {})",
                mark(&mut binds, Bind::Text(unit.to_string()))
            ),
            Area::Region(code) => region_prefix_clause(code, &mut binds),
        };
        let from = mark(&mut binds, Bind::Int(from_ms));
        let to = mark(&mut binds, Bind::Int(to_ms));
        // The literal kind matches the partial index.
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COUNT(DISTINCT e.case_id) AS BIGINT)
             FROM events e JOIN cases c ON c.id = e.case_id
             WHERE e.kind = '{literal}' AND e.at_ms >= {from} AND e.at_ms < {to} AND {place}"
        );
        let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), binds);
        let row = q.fetch_one(&self.pool).await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// The list rows of the cases `ids` (any order; unknown ids left out), within `scope`.
    pub async fn summaries_of(&self, ids: &[String], scope: &Scope) -> Result<Vec<CaseSummary>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (within, mut binds) = scoped(scope);
        let marks: Vec<String> = ids
            .iter()
            .map(|id| mark(&mut binds, Bind::Text(id.clone())))
            .collect();
        let sql = format!(
            "SELECT {} FROM cases c WHERE c.id IN ({}) AND {within} ORDER BY c.id",
            columns_of("c"),
            marks.join(", ")
        );
        summaries(&self.pool, sql, binds).await
    }
}
