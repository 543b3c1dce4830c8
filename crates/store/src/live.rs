//! Live counts of open cases kept as counters (issue 8: the overview of the national root under
//! 200 ms with 10,000,000 cases). Counting an area's open cases by their lights (红灯, 黄灯,
//! 今日到期) reads every open case of the area; at national scale that is over a million index
//! entries per overview. Instead the statistics feeder keeps, per area, how many open cases fall
//! due and turn yellow in each hour (`live_hours`, migration 19), and stores with each case the
//! mark it counted (`stat_cases.live`), so it subtracts exactly what it added.
//!
//! A figure at `now` is then exact, not rounded to the hour: the hours before and after the
//! current one come from the counters; the current hour is counted from the cases themselves
//! (a narrow index range); and the cases written since the counters' checkpoint are corrected
//! case by case (their counted mark out, their current mark in). When the counters are further
//! behind than [`MAX_LAG_EVENTS`], or the area is not one the counters keep, the figures are
//! counted from the cases as before.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use huiyin_domain::access::Scope;
use sqlx::Row;

use crate::dashboard::Area;
use crate::{LiveCounts, Result, Store, StoreError};

/// An hour, in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;

/// The most events the counters may be behind for a live figure to come from them.
pub const MAX_LAG_EVENTS: u32 = 5_000;

/// `live_hours.kind` of the hour a case falls due.
pub const KIND_DUE: i64 = 0;
/// `live_hours.kind` of the hour a case turns yellow.
pub const KIND_YELLOW: i64 = 1;

/// What one open case adds to the live counts: where it is (the columns the area filters of the
/// work lists use) and its two instants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveMark {
    pub unit: String,
    pub province: String,
    pub city: Option<String>,
    pub county: Option<String>,
    pub due_ms: i64,
    pub yellow_ms: i64,
}

/// Hour deltas of one feeder round: (area, kind, hour) → change.
pub type LiveDeltas = BTreeMap<(String, i64, i64), i64>;

fn hour(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS)
}

impl LiveMark {
    /// The stored form (tab-separated; unit ids and region codes hold no tabs).
    pub fn encode(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            self.unit,
            self.province,
            self.city.as_deref().unwrap_or(""),
            self.county.as_deref().unwrap_or(""),
            self.due_ms,
            self.yellow_ms
        )
    }

    pub fn decode(text: &str) -> Result<LiveMark> {
        let bad = || StoreError::Corrupt(format!("stat_cases.live: {text:?}"));
        let parts: Vec<&str> = text.split('\t').collect();
        let [unit, province, city, county, due, yellow] = parts.as_slice() else {
            return Err(bad());
        };
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Ok(LiveMark {
            unit: unit.to_string(),
            province: province.to_string(),
            city: opt(city),
            county: opt(county),
            due_ms: due.parse().map_err(|_| bad())?,
            yellow_ms: yellow.parse().map_err(|_| bad())?,
        })
    }

    /// The areas the case counts in: the nation, its province, city and county, its unit.
    pub fn areas(&self) -> Vec<String> {
        let mut out = vec!["r:0".to_string(), format!("r:{}", self.province)];
        if let Some(c) = &self.city {
            out.push(format!("r:{c}"));
        }
        if let Some(c) = &self.county {
            out.push(format!("r:{c}"));
        }
        out.push(format!("u:{}", self.unit));
        out
    }

    fn in_area(&self, key: &str) -> bool {
        self.areas().iter().any(|a| a == key)
    }
}

/// Adds to `deltas` the change from what a case counted (`old`) to what it counts now (`new`).
/// Entries that come to zero stay (writing skips them).
pub fn live_delta(deltas: &mut LiveDeltas, old: Option<&LiveMark>, new: Option<&LiveMark>) {
    if old == new {
        return;
    }
    for (mark, sign) in [(old, -1), (new, 1)] {
        let Some(m) = mark else { continue };
        for area in m.areas() {
            for (kind, ms) in [(KIND_DUE, m.due_ms), (KIND_YELLOW, m.yellow_ms)] {
                *deltas.entry((area.clone(), kind, hour(ms))).or_insert(0) += sign;
            }
        }
    }
}

/// The key of `area` in `live_hours`, when the counters keep it.
pub fn area_key(area: Area<'_>) -> Option<String> {
    match area {
        Area::Unit(unit) => Some(format!("u:{unit}")),
        Area::Region(code) if code.is_empty() || code == "0" => Some("r:0".into()),
        Area::Region(code) if matches!(code.len(), 2 | 4 | 6) => Some(format!("r:{code}")),
        Area::Region(_) => None,
    }
}

/// One case's part in the four figures at `now` (before `eod`), leaving out the current hour
/// `[hs, hs + 1 h)` for the lights and due today: [open, red, yellow or red, due today].
fn part(mark: &LiveMark, hs: i64, now: i64, eod: i64) -> [i64; 4] {
    let he = hs + HOUR_MS;
    let outside = |ms: i64| ms < hs || ms >= he;
    let d = mark.due_ms;
    let y = mark.yellow_ms;
    [
        1,
        i64::from(outside(d) && d < now),
        i64::from(outside(y) && y <= now),
        i64::from(outside(d) && d >= now && d < eod),
    ]
}

/// The mark of a case from its list columns `is_open, current_unit_id, province, region_city,
/// region_county, next_due_at, yellow_at`, starting at column `first` (`None`: closed).
pub(crate) fn mark_of_row(row: &sqlx::any::AnyRow, first: usize) -> Result<Option<LiveMark>> {
    let open: i64 = row.try_get(first)?;
    if open != 1 {
        return Ok(None);
    }
    Ok(Some(LiveMark {
        unit: row.try_get(first + 1)?,
        province: row.try_get(first + 2)?,
        city: row.try_get(first + 3)?,
        county: row.try_get(first + 4)?,
        due_ms: row.try_get(first + 5)?,
        yellow_ms: row.try_get(first + 6)?,
    }))
}

impl Store {
    /// The current marks of `ids` from the cases' list columns (`None`: closed).
    pub async fn live_marks(&self, ids: &[String]) -> Result<HashMap<String, Option<LiveMark>>> {
        let mut out = HashMap::new();
        self.rows_with_ids(
            ids,
            |list| {
                format!(
                    "SELECT id, is_open, current_unit_id, province, region_city, region_county,
                            next_due_at, yellow_at
                     FROM cases WHERE id IN (SELECT * FROM (VALUES {list}) AS ids)"
                )
            },
            |row| {
                out.insert(row.try_get(0)?, mark_of_row(row, 1)?);
                Ok(())
            },
        )
        .await?;
        Ok(out)
    }

    /// Every non-zero `live_hours` row, for checks: (area, kind, hour) → n.
    pub async fn live_hour_rows(&self) -> Result<LiveDeltas> {
        let rows: Vec<(String, i64, i64, i64)> =
            sqlx::query_as("SELECT area, kind, hour, n FROM live_hours WHERE n <> 0")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(a, k, h, n)| ((a, k, h), n))
            .collect())
    }

    /// The live counts of `area` from the counters, exact at `now_ms`; `None` when they cannot
    /// give them (an area they do not keep, a scope other than everything, an end of day off
    /// the hour, counters being rebuilt or too far behind): count from the cases then.
    pub async fn live_counts_from_hours(
        &self,
        area: Area<'_>,
        scope: &Scope,
        now_ms: i64,
        end_of_day_ms: i64,
    ) -> Result<Option<LiveCounts>> {
        let Some(key) = area_key(area) else {
            return Ok(None);
        };
        if !matches!(scope, Scope::All) || end_of_day_ms % HOUR_MS != 0 || end_of_day_ms <= now_ms {
            return Ok(None);
        }
        let feed = self.stats_feed().await?.seq;
        if feed <= 0 {
            return Ok(None);
        }
        // The cases written since the checkpoint, to correct one by one.
        let recent: Vec<(String,)> =
            sqlx::query_as("SELECT case_id FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(feed)
                .bind(i64::from(MAX_LAG_EVENTS))
                .fetch_all(&self.pool)
                .await?;
        if recent.len() >= MAX_LAG_EVENTS as usize {
            return Ok(None);
        }
        let hn = hour(now_ms);
        let hs = hn * HOUR_MS;
        let he_day = end_of_day_ms / HOUR_MS;
        // [open, red, yellow or red, due today] from the counters, the current hour left out.
        let row = sqlx::query(
            "SELECT
               CAST(COALESCE(SUM(CASE WHEN kind = 0 THEN n ELSE 0 END), 0) AS BIGINT),
               CAST(COALESCE(SUM(CASE WHEN kind = 0 AND hour < $2 THEN n ELSE 0 END), 0) AS BIGINT),
               CAST(COALESCE(SUM(CASE WHEN kind = 1 AND hour < $2 THEN n ELSE 0 END), 0) AS BIGINT),
               CAST(COALESCE(SUM(CASE WHEN kind = 0 AND hour > $2 AND hour < $3 THEN n ELSE 0 END), 0) AS BIGINT)
             FROM live_hours WHERE area = $1",
        )
        .bind(&key)
        .bind(hn)
        .bind(he_day)
        .fetch_one(&self.pool)
        .await?;
        let mut sums = [
            row.try_get::<i64, _>(0)?,
            row.try_get::<i64, _>(1)?,
            row.try_get::<i64, _>(2)?,
            row.try_get::<i64, _>(3)?,
        ];
        // The cases written since: their counted part out, their current part in.
        let ids: Vec<String> = recent
            .into_iter()
            .map(|(id,)| id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !ids.is_empty() {
            let counted = self.stats_counted(&ids).await?;
            let current = self.live_marks(&ids).await?;
            for id in &ids {
                if let Some(old) = counted
                    .get(id)
                    .and_then(|(_, mark)| mark.as_ref())
                    .filter(|m| m.in_area(&key))
                {
                    for (s, p) in sums.iter_mut().zip(part(old, hs, now_ms, end_of_day_ms)) {
                        *s -= p;
                    }
                }
                if let Some(new) = current
                    .get(id)
                    .and_then(Option::as_ref)
                    .filter(|m| m.in_area(&key))
                {
                    for (s, p) in sums.iter_mut().zip(part(new, hs, now_ms, end_of_day_ms)) {
                        *s += p;
                    }
                }
            }
        }
        // The current hour, from the cases (two narrow index ranges).
        let mut binds = Vec::new();
        let place = crate::dashboard::area_clause(area, &mut binds);
        let n = binds.len();
        let sql = format!(
            "SELECT
               CAST(COALESCE(SUM(CASE WHEN c.next_due_at < ${} THEN 1 ELSE 0 END), 0) AS BIGINT),
               CAST(COALESCE(SUM(CASE WHEN c.next_due_at >= ${} THEN 1 ELSE 0 END), 0) AS BIGINT)
             FROM cases c
             WHERE c.is_open = 1 AND c.next_due_at >= ${} AND c.next_due_at < ${} AND {place}",
            n + 1,
            n + 1,
            n + 2,
            n + 3
        );
        let due_hour = crate::dashboard::bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), binds)
            .bind(now_ms)
            .bind(hs)
            .bind(hs + HOUR_MS)
            .fetch_one(&self.pool)
            .await?;
        let mut binds = Vec::new();
        let place = crate::dashboard::area_clause(area, &mut binds);
        let n = binds.len();
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM cases c
             WHERE c.is_open = 1 AND c.yellow_at >= ${} AND c.yellow_at <= ${} AND {place}",
            n + 1,
            n + 2
        );
        let yellow_hour: i64 =
            crate::dashboard::bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), binds)
                .bind(hs)
                .bind(now_ms)
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
        let red = sums[1] + due_hour.try_get::<i64, _>(0)?;
        // yellow_at is never after next_due_at, so every red case is also past its yellow.
        let yellow_or_red = sums[2] + yellow_hour;
        Ok(Some(LiveCounts {
            open: sums[0],
            red,
            yellow: yellow_or_red - red,
            due_today: sums[3] + due_hour.try_get::<i64, _>(1)?,
        }))
    }

    /// Recomputes `live_hours` and the counted marks from the cases' list columns, for checks:
    /// what differs, as readable lines (empty when consistent).
    pub async fn live_check(&self) -> Result<Vec<String>> {
        let mut want = LiveDeltas::new();
        let mut marks: HashMap<String, LiveMark> = HashMap::new();
        let mut after = String::new();
        loop {
            let ids: Vec<(String,)> =
                sqlx::query_as("SELECT id FROM cases WHERE id > $1 ORDER BY id LIMIT 1000")
                    .bind(&after)
                    .fetch_all(&self.pool)
                    .await?;
            let Some((last,)) = ids.last() else { break };
            after = last.clone();
            let ids: Vec<String> = ids.into_iter().map(|(id,)| id).collect();
            for (id, mark) in self.live_marks(&ids).await? {
                if let Some(m) = mark {
                    live_delta(&mut want, None, Some(&m));
                    marks.insert(id, m);
                }
            }
        }
        let have = self.live_hour_rows().await?;
        let mut problems = crate::stats::counter_differences(&want, &have, |k| {
            format!("live {} kind {} hour {}", k.0, k.1, k.2)
        });
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT case_id, live FROM stat_cases WHERE live IS NOT NULL")
                .fetch_all(&self.pool)
                .await?;
        let mut seen = 0usize;
        for (id, live) in rows {
            let counted = LiveMark::decode(&live)?;
            if marks.get(&id) != Some(&counted) {
                problems.push(format!("live mark of {id}: counted {live:?}, case differs"));
            }
            seen += 1;
        }
        if seen != marks.len() {
            problems.push(format!(
                "live marks: {seen} counted, {} open cases",
                marks.len()
            ));
        }
        Ok(problems)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mark(due: i64, yellow: i64) -> LiveMark {
        LiveMark {
            unit: "d0001".into(),
            province: "44".into(),
            city: Some("4406".into()),
            county: Some("440604".into()),
            due_ms: due,
            yellow_ms: yellow,
        }
    }

    #[test]
    fn marks_round_trip_and_count_in_their_areas() {
        let m = mark(7 * HOUR_MS + 5, 3 * HOUR_MS);
        assert_eq!(LiveMark::decode(&m.encode()).unwrap(), m);
        let no_county = LiveMark {
            city: None,
            county: None,
            ..m.clone()
        };
        assert_eq!(LiveMark::decode(&no_county.encode()).unwrap(), no_county);
        assert_eq!(m.areas(), ["r:0", "r:44", "r:4406", "r:440604", "u:d0001"]);
        assert!(LiveMark::decode("a\tb").is_err());
        assert!(LiveMark::decode("a\t44\t\t\tx\t1").is_err());
    }

    #[test]
    fn a_delta_moves_a_case_between_hours_and_cancels_out() {
        let mut d = LiveDeltas::new();
        let a = mark(7 * HOUR_MS, 3 * HOUR_MS);
        live_delta(&mut d, None, Some(&a));
        assert_eq!(d.len(), 10);
        assert_eq!(d.get(&("r:0".into(), KIND_DUE, 7)), Some(&1));
        let b = mark(9 * HOUR_MS, 3 * HOUR_MS + 1);
        live_delta(&mut d, Some(&a), Some(&b));
        assert_eq!(d.get(&("r:0".into(), KIND_DUE, 7)), Some(&0));
        assert_eq!(d.get(&("r:0".into(), KIND_DUE, 9)), Some(&1));
        assert_eq!(d.get(&("u:d0001".into(), KIND_YELLOW, 3)), Some(&1));
        live_delta(&mut d, Some(&b), None);
        assert!(d.values().all(|n| *n == 0));
    }

    #[test]
    fn the_current_hour_is_left_to_the_cases() {
        let hs = 10 * HOUR_MS;
        let now = hs + 1_000;
        let eod = 16 * HOUR_MS;
        // Overdue since an earlier hour: red and past yellow.
        assert_eq!(part(&mark(hs - 1, hs - 5), hs, now, eod), [1, 1, 1, 0]);
        // Due in the current hour: neither red nor due today here (the cases count it).
        assert_eq!(part(&mark(hs + 500, hs - 5), hs, now, eod), [1, 0, 1, 0]);
        // Due later today, yellow in the current hour: due today only.
        assert_eq!(
            part(&mark(12 * HOUR_MS, hs + 10), hs, now, eod),
            [1, 0, 0, 1]
        );
        // Due tomorrow, green.
        assert_eq!(
            part(&mark(40 * HOUR_MS, 30 * HOUR_MS), hs, now, eod),
            [1, 0, 0, 0]
        );
        assert_eq!(area_key(Area::Region("0")).as_deref(), Some("r:0"));
        assert_eq!(
            area_key(Area::Region("440604")).as_deref(),
            Some("r:440604")
        );
        assert_eq!(area_key(Area::Region("440604001")), None);
        assert_eq!(area_key(Area::Unit("d1")).as_deref(), Some("u:d1"));
    }
}
