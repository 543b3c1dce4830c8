//! Statistics counters (issue 8, 形势网上判): the stored sums of
//! [`huiyin_domain::stats`] entries, per target, day and key, with month roll-ups.
//!
//! The counters are derived from the event log: a feeder (in the app) reads events after the
//! checkpoint, recomputes the contributions of every case they touch, and hands this module
//! the deltas, the case versions now counted and the new checkpoint, which [`Store::stats_apply`]
//! writes in one transaction — so a crash never counts an event twice or loses one.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use huiyin_domain::case::CaseState;
use sqlx::Row;

use crate::live::{LiveDeltas, LiveMark};
use crate::write::{Val, exec_rows};
use crate::{Result, Store, StoreError};

/// What differs between recomputed counters (`want`) and stored ones (`have`), one readable line
/// per key (`name` says which): a stored value that differs or is missing, and a stored value
/// the recomputation does not have. Zeros are not stored, so `want` should hold none.
pub fn counter_differences<K: Ord>(
    want: &BTreeMap<K, i64>,
    have: &BTreeMap<K, i64>,
    name: impl Fn(&K) -> String,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (k, v) in want {
        if have.get(k) != Some(v) {
            problems.push(format!(
                "{}: counted {:?}, recomputed {v}",
                name(k),
                have.get(k)
            ));
        }
    }
    for (k, v) in have {
        if !want.contains_key(k) {
            problems.push(format!("{}: counted {v}, recomputed 0", name(k)));
        }
    }
    problems
}

/// One counter row (or one delta to add to it). `day` is yyyymmdd; yyyymm00 for a month.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CounterRow {
    pub target: String,
    pub day: i64,
    pub key: String,
    pub value: i64,
}

/// Where the counters stand in the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsFeed {
    pub seq: i64,
}

/// A date as the `day` column stores it.
pub fn day_number(day: NaiveDate) -> i64 {
    i64::from(day.year()) * 10_000 + i64::from(day.month()) * 100 + i64::from(day.day())
}

/// The rows of `day` column values that cover `from..=to`: whole months by their roll-up row,
/// the partial months at either end by their day rows. Each is `(lo, hi, months)`.
pub(crate) fn day_ranges(from: NaiveDate, to: NaiveDate) -> Vec<(i64, i64, bool)> {
    if from > to {
        return Vec::new();
    }
    let month_of = |d: NaiveDate| i64::from(d.year()) * 100 + i64::from(d.month());
    let first_of_next = |d: NaiveDate| {
        let (y, m) = if d.month() == 12 {
            (d.year() + 1, 1)
        } else {
            (d.year(), d.month() + 1)
        };
        NaiveDate::from_ymd_opt(y, m, 1)
    };
    let last_of = |d: NaiveDate| first_of_next(d).and_then(|n| n.pred_opt());
    // The first month wholly inside the range, and the last.
    let first_full = if from.day() == 1 {
        Some(from)
    } else {
        first_of_next(from)
    };
    let last_full = if last_of(to) == Some(to) {
        Some(to)
    } else {
        NaiveDate::from_ymd_opt(to.year(), to.month(), 1).and_then(|d| d.pred_opt())
    };
    match (first_full, last_full) {
        (Some(a), Some(b)) if month_of(a) <= month_of(b) && a <= b => {
            let mut out = Vec::new();
            if a > from {
                out.push((day_number(from), month_of(from) * 100 + 31, false));
            }
            out.push((month_of(a) * 100, month_of(b) * 100, true));
            if b < to {
                out.push((month_of(to) * 100 + 1, day_number(to), false));
            }
            out
        }
        _ => vec![(day_number(from), day_number(to), false)],
    }
}

impl Store {
    /// The last event sequence number the counters include.
    pub async fn stats_feed(&self) -> Result<StatsFeed> {
        let (seq,): (i64,) = sqlx::query_as("SELECT seq FROM stat_feed WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(StatsFeed { seq })
    }

    /// Runs `sql` (given the `VALUES` list of one chunk of `ids`, at most 500) for every chunk
    /// and hands each row to `each`: the reads of a set of cases by id.
    pub(crate) async fn rows_with_ids(
        &self,
        ids: &[String],
        sql: impl Fn(&str) -> String,
        mut each: impl FnMut(&sqlx::any::AnyRow) -> Result<()>,
    ) -> Result<()> {
        for chunk in ids.chunks(500) {
            let list = crate::write::values_list(self.backend, chunk.len(), 1);
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql(&list)));
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                each(&row)?;
            }
        }
        Ok(())
    }

    /// What the counters hold for each of `case_ids` (absent: not counted yet): the version it
    /// is counted at and, when it was open then, the live mark it was counted with.
    pub async fn stats_counted(
        &self,
        case_ids: &[String],
    ) -> Result<HashMap<String, (u64, Option<LiveMark>)>> {
        let mut out = HashMap::new();
        self.rows_with_ids(
            case_ids,
            |list| {
                format!(
                    "SELECT case_id, version, live FROM stat_cases
                     WHERE case_id IN (SELECT * FROM (VALUES {list}) AS ids)"
                )
            },
            |row| {
                let id: String = row.try_get(0)?;
                let version: i64 = row.try_get(1)?;
                let live: Option<String> = row.try_get(2)?;
                let mark = live.as_deref().map(LiveMark::decode).transpose()?;
                out.insert(id, (u64::try_from(version).unwrap_or(0), mark));
                Ok(())
            },
        )
        .await?;
        Ok(out)
    }

    /// Writes one feeder round: adds `deltas` (day rows, and their month roll-ups), records the
    /// case versions now counted, and moves the checkpoint from `from` to `to` — all in one
    /// transaction, and only if the checkpoint is still `from`. Returns false (and writes
    /// nothing) when another feeder moved it first.
    pub async fn stats_apply(
        &self,
        from: i64,
        to: i64,
        deltas: &[CounterRow],
        versions: &[(String, u64, Option<LiveMark>)],
        live: &LiveDeltas,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query("UPDATE stat_feed SET seq = $1 WHERE id = 1 AND seq = $2")
            .bind(to)
            .bind(from)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        // Day rows and month roll-ups, each key once per statement.
        let mut rows: BTreeMap<(&str, i64, &str), i64> = BTreeMap::new();
        for d in deltas {
            if d.day % 100 == 0 {
                return Err(StoreError::Corrupt(format!(
                    "counter delta on a month row: {}",
                    d.day
                )));
            }
            *rows.entry((&d.target, d.day, &d.key)).or_insert(0) += d.value;
            *rows
                .entry((&d.target, d.day / 100 * 100, &d.key))
                .or_insert(0) += d.value;
        }
        let mut values = Vec::with_capacity(rows.len() * 4);
        for ((target, day, key), value) in rows.into_iter().filter(|(_, v)| *v != 0) {
            values.push(Val::S(target.to_string()));
            values.push(Val::I(day));
            values.push(Val::S(key.to_string()));
            values.push(Val::I(value));
        }
        exec_rows(
            &mut tx,
            self.backend,
            4,
            values,
            |list| {
                format!(
                    "INSERT INTO stat_counters (target, day, key, value) VALUES {list}
                     ON CONFLICT (target, day, key) DO UPDATE
                     SET value = stat_counters.value + excluded.value"
                )
            },
            "statistics counters",
        )
        .await?;
        let mut values = Vec::with_capacity(versions.len() * 3);
        for (case_id, version, mark) in versions {
            values.push(Val::S(case_id.clone()));
            values.push(Val::I(i64::try_from(*version).unwrap_or(i64::MAX)));
            values.push(Val::N(mark.as_ref().map(LiveMark::encode)));
        }
        exec_rows(
            &mut tx,
            self.backend,
            3,
            values,
            |list| {
                format!(
                    "INSERT INTO stat_cases (case_id, version, live) VALUES {list}
                     ON CONFLICT (case_id) DO UPDATE
                     SET version = excluded.version, live = excluded.live"
                )
            },
            "statistics case versions",
        )
        .await?;
        // The live hours (live.rs): add, then drop the rows that came to zero.
        let mut values = Vec::with_capacity(live.len() * 4);
        let mut emptied = Vec::new();
        for ((area, kind, hour), n) in live.iter().filter(|(_, n)| **n != 0) {
            values.extend([
                Val::S(area.clone()),
                Val::I(*kind),
                Val::I(*hour),
                Val::I(*n),
            ]);
            if *n < 0 {
                emptied.extend([Val::S(area.clone()), Val::I(*kind), Val::I(*hour)]);
            }
        }
        exec_rows(
            &mut tx,
            self.backend,
            4,
            values,
            |list| {
                format!(
                    "INSERT INTO live_hours (area, kind, hour, n) VALUES {list}
                     ON CONFLICT (area, kind, hour) DO UPDATE SET n = live_hours.n + excluded.n"
                )
            },
            "live counters",
        )
        .await?;
        exec_rows(
            &mut tx,
            self.backend,
            3,
            emptied,
            |list| {
                format!(
                    "WITH v (area, kind, hour) AS (VALUES {list})
                     DELETE FROM live_hours WHERE n = 0
                       AND EXISTS (SELECT 1 FROM v WHERE v.area = live_hours.area
                                   AND v.kind = live_hours.kind AND v.hour = live_hours.hour)"
                )
            },
            "live counters",
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The counters of `target` summed over `from..=to` (China-time dates), by key.
    pub async fn stats_sum(
        &self,
        target: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<BTreeMap<String, i64>> {
        let mut out = BTreeMap::new();
        for (lo, hi, months) in day_ranges(from, to) {
            let sql = if months {
                "SELECT key, CAST(SUM(value) AS BIGINT) FROM stat_counters
                 WHERE target = $1 AND day >= $2 AND day <= $3 AND day % 100 = 0 GROUP BY key"
            } else {
                "SELECT key, CAST(SUM(value) AS BIGINT) FROM stat_counters
                 WHERE target = $1 AND day >= $2 AND day <= $3 AND day % 100 <> 0 GROUP BY key"
            };
            let rows: Vec<(String, i64)> = sqlx::query_as(sql)
                .bind(target)
                .bind(lo)
                .bind(hi)
                .fetch_all(&self.pool)
                .await?;
            for (key, value) in rows {
                *out.entry(key).or_insert(0) += value;
            }
        }
        out.retain(|_, v| *v != 0);
        Ok(out)
    }

    /// Every non-zero day row (not the month roll-ups), for consistency checks.
    pub async fn stats_day_rows(&self) -> Result<Vec<CounterRow>> {
        let rows: Vec<(String, i64, String, i64)> = sqlx::query_as(
            "SELECT target, day, key, value FROM stat_counters
             WHERE day % 100 <> 0 AND value <> 0 ORDER BY target, day, key",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(target, day, key, value)| CounterRow {
                target,
                day,
                key,
                value,
            })
            .collect())
    }

    /// Month roll-ups that differ from the sum of their day rows (empty when consistent).
    pub async fn stats_rollup_mismatches(&self) -> Result<Vec<(String, i64, String)>> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT target, month, key FROM (
                 SELECT target, (day / 100) * 100 AS month, key,
                        SUM(CASE WHEN day % 100 = 0 THEN value ELSE 0 END) AS rolled,
                        SUM(CASE WHEN day % 100 = 0 THEN 0 ELSE value END) AS days
                 FROM stat_counters GROUP BY target, (day / 100) * 100, key
             ) sums WHERE rolled <> days ORDER BY target, month, key",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Empties the counters and the counted case versions and sets the checkpoint to `seq`, for
    /// a rebuild (0: recount from the start of the event log; a negative marker: a rebuild from
    /// the projection is under way, see `App::stats_rebuild`).
    pub async fn stats_reset(&self, seq: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM stat_counters")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM stat_cases")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM live_hours")
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE stat_feed SET seq = $1 WHERE id = 1")
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Case states in the order received after `after` (received at, id), a page of `limit`,
    /// each with its live mark (`None`: closed) read from the same row: the statistics rebuild's
    /// scan (`App::stats_rebuild`).
    pub async fn case_states_received_after(
        &self,
        after: (i64, &str),
        limit: u32,
    ) -> Result<Vec<(CaseState, i64, Option<LiveMark>)>> {
        let rows = sqlx::query(
            "SELECT id, state, received_at, is_open, current_unit_id, province, region_city,
                    region_county, next_due_at, yellow_at
             FROM cases WHERE (received_at, id) > ($1, $2) ORDER BY received_at, id LIMIT $3",
        )
        .bind(after.0)
        .bind(after.1)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(0)?;
                let json: String = row.try_get(1)?;
                let state: CaseState = crate::read::case_state(&id, &json)?;
                Ok((state, row.try_get(2)?, crate::live::mark_of_row(row, 3)?))
            })
            .collect()
    }

    /// Case states in id order after `after` (a page of `limit`), for recomputations.
    pub async fn case_states_after(&self, after: &str, limit: u32) -> Result<Vec<CaseState>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, state FROM cases WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(id, json)| crate::read::case_state(&id, &json))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn ranges_use_month_rows_for_whole_months() {
        assert_eq!(
            day_ranges(d(2024, 1, 15), d(2024, 4, 10)),
            vec![
                (20240115, 20240131, false),
                (20240200, 20240300, true),
                (20240401, 20240410, false)
            ]
        );
        assert_eq!(
            day_ranges(d(2024, 1, 1), d(2024, 12, 31)),
            vec![(20240100, 20241200, true)]
        );
        assert_eq!(
            day_ranges(d(2024, 3, 5), d(2024, 3, 9)),
            vec![(20240305, 20240309, false)]
        );
        assert_eq!(
            day_ranges(d(2024, 12, 20), d(2025, 1, 31)),
            vec![(20241220, 20241231, false), (20250100, 20250100, true)]
        );
        assert!(day_ranges(d(2024, 3, 9), d(2024, 3, 5)).is_empty());
    }
}
