//! Statistics (issue 8, 形势网上判): the counter feeder and the indicator queries.
//!
//! The counters are a derived reader of the event log (architecture principle 3). A round reads
//! the events after the checkpoint, and for every case they touch replays its log twice — up to
//! the version already counted, and to the end — so that the delta of their
//! [`contributions`](huiyin_domain::stats::contributions) is exactly what changed; the deltas,
//! the versions and the new checkpoint commit together (see `Store::stats_apply`). The writer
//! is not slowed by statistics, and a figure is at most one feeder interval behind.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Weak;
use std::time::Duration;

use chrono::{Datelike, Months, NaiveDate};
use huiyin_domain::access::{Action, Principal, authorize};
use huiyin_domain::case::{CaseState, Event, replay};
use huiyin_domain::ids::{CaseId, UnitId};
use huiyin_domain::stats::{
    self, CaseContext, Entry, Figure, Indicator, IndicatorConfig, Target, Unit,
};
use huiyin_domain::values::RegionCode;
use huiyin_store::stats_day_number as day_number;
use huiyin_store::{CounterRow, LiveDeltas, LiveMark, counter_differences, live_delta};
use serde::Serialize;

use crate::{App, AppError, Inner};

/// Events read per feeder round.
const STATS_PAGE: u32 = 2_000;

/// How often the server's feeder looks for new events.
const STATS_EVERY: Duration = Duration::from_secs(1);
/// The longest period one query may cover (ten years of day rows at most).
const MAX_PERIOD_DAYS: i64 = 3_660;

/// How a rebuild of the counters reads and writes (see [`App::rebuild_counts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildLimits {
    /// Cases read per query.
    pub page: u32,
    /// The most counter rows held in memory before they are written (≈ 40 bytes each).
    pub rows: usize,
    /// The most cases counted before their counters and versions are written.
    pub cases: usize,
    /// Counter rows (or case versions, or live-hour rows) per transaction.
    pub write: usize,
}

impl Default for RebuildLimits {
    fn default() -> Self {
        RebuildLimits {
            page: 2_000,
            rows: 2_000_000,
            cases: 100_000,
            write: 20_000,
        }
    }
}

/// A rebuild marker older than this (no transaction of the rebuild since) is a rebuild that
/// died: a feeder takes over.
const REBUILD_STALE_MS: i64 = 120_000;

/// The rebuild's next checkpoint marker after `previous`: minus the time in milliseconds (so
/// feeders can tell a running rebuild from one that died), always below the previous marker
/// (each transaction's compare-and-set needs a new value).
fn rebuild_marker(previous: Option<i64>, now_ms: i64) -> i64 {
    let at = -now_ms.max(1);
    match previous {
        Some(p) => at.min(p - 1),
        None => at,
    }
}

/// The counters a rebuild has added up and not yet written, compact: targets and keys
/// interned, (target, day number, key) → value; with the case versions and live-hour deltas
/// that go with them.
#[derive(Default)]
struct RebuildCounts {
    targets: HashMap<Target, u32>,
    keys: HashMap<String, u32>,
    counts: HashMap<(u32, i64, u32), i64>,
    versions: Vec<(String, u64, Option<LiveMark>)>,
    live: LiveDeltas,
}

impl RebuildCounts {
    fn rows(&self) -> usize {
        self.counts.len()
    }

    fn add(&mut self, entries: Vec<Entry>) {
        for e in entries {
            let n = self.targets.len() as u32;
            let target = *self.targets.entry(e.target).or_insert(n);
            let key = match self.keys.get(e.key.as_str()) {
                Some(k) => *k,
                None => {
                    let k = self.keys.len() as u32;
                    self.keys.insert(e.key, k);
                    k
                }
            };
            *self
                .counts
                .entry((target, day_number(e.day), key))
                .or_insert(0) += e.value;
        }
    }

    /// The cells in the table's key order (target, day, key), zeros left out, emptied from
    /// here; the interned names are kept for the next cells.
    fn take_sorted(&mut self) -> SortedCounts {
        let mut targets = vec![String::new(); self.targets.len()];
        for (t, i) in &self.targets {
            targets[*i as usize] = t.key();
        }
        let mut keys = vec![String::new(); self.keys.len()];
        for (k, i) in &self.keys {
            keys[*i as usize] = k.clone();
        }
        let rank = |names: &[String]| {
            let mut order: Vec<usize> = (0..names.len()).collect();
            order.sort_by(|a, b| names[*a].cmp(&names[*b]));
            let mut rank = vec![0u32; names.len()];
            for (r, i) in order.into_iter().enumerate() {
                rank[i] = r as u32;
            }
            rank
        };
        let (target_rank, key_rank) = (rank(&targets), rank(&keys));
        let mut cells: Vec<((u32, i64, u32), i64)> =
            self.counts.drain().filter(|(_, v)| *v != 0).collect();
        self.counts.shrink_to_fit();
        cells.sort_unstable_by_key(|((t, d, k), _)| {
            (target_rank[*t as usize], *d, key_rank[*k as usize])
        });
        SortedCounts {
            cells,
            targets,
            keys,
        }
    }
}

/// A rebuild's counters in the table's key order, made into rows a transaction at a time.
struct SortedCounts {
    cells: Vec<((u32, i64, u32), i64)>,
    targets: Vec<String>,
    keys: Vec<String>,
}

impl SortedCounts {
    fn rows(&self, cells: &[((u32, i64, u32), i64)]) -> Vec<CounterRow> {
        cells
            .iter()
            .map(|((t, day, k), value)| CounterRow {
                target: self.targets[*t as usize].clone(),
                day: *day,
                key: self.keys[*k as usize].clone(),
                value: *value,
            })
            .collect()
    }
}

/// How far the counters are behind the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StatsStatus {
    pub fed_seq: i64,
    pub head_seq: i64,
    pub behind_events: i64,
    /// A rebuild of the counters is under way (or died and waits to be taken over): the
    /// figures are incomplete until it ends.
    pub rebuilding: bool,
}

/// The fewest cases a public figure is computed from (fewer: withheld).
pub const MIN_PUBLIC_COUNT: f64 = 5.0;

/// One indicator for a target and period, with the previous period and the same period a year
/// before, and what it was computed from.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorRow {
    pub id: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub unit: Unit,
    pub definition_zh: &'static str,
    pub current: Figure,
    pub previous: Figure,
    pub last_year: Figure,
}

/// Every indicator of one target over one period.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorReport {
    pub target: Target,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub previous_from: NaiveDate,
    pub previous_to: NaiveDate,
    pub status: StatsStatus,
    pub indicators: Vec<IndicatorRow>,
}

fn spawn_feeder(inner: Weak<Inner>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut first = true;
        loop {
            let Some(inner) = inner.upgrade() else { return };
            let app = App { inner };
            // Counters never built (a new database, or a migration that emptied them) or a
            // rebuild that died: count from the stored case states, not by replaying every log.
            // (A negative checkpoint is a rebuild's marker: catching up leaves a running
            // rebuild alone and takes over one that died.)
            let unbuilt = first && matches!(app.store().stats_feed().await, Ok(f) if f.seq == 0);
            first = false;
            let round = if unbuilt {
                app.stats_rebuild().await
            } else {
                app.stats_catch_up().await
            };
            if let Err(e) = round {
                tracing::warn!(error = %e, "statistics: catching up with the event log failed");
            }
            drop(app);
            tokio::time::sleep(STATS_EVERY).await;
        }
    });
}

fn rows_of(deltas: BTreeMap<(Target, NaiveDate, String), i64>) -> Vec<CounterRow> {
    deltas
        .into_iter()
        .filter(|(_, v)| *v != 0)
        .map(|((target, day, key), value)| CounterRow {
            target: target.key(),
            day: day_number(day),
            key,
            value,
        })
        .collect()
}

impl App {
    /// For the server: keeps the statistics counters caught up with the event log (every
    /// second). Without it (tests, one-off commands) callers catch up before they read.
    pub fn start_stats_feeder(&self) {
        spawn_feeder(std::sync::Arc::downgrade(&self.inner));
    }

    /// How far the counters are behind the event log.
    pub async fn stats_status(&self) -> Result<StatsStatus, AppError> {
        let (head, _) = self.store().head().await?;
        let fed = self.store().stats_feed().await?.seq;
        Ok(StatsStatus {
            fed_seq: fed,
            head_seq: head,
            // A rebuild's marker (negative): every event is still to be counted.
            behind_events: (head - fed.max(0)).max(0),
            rebuilding: fed < 0,
        })
    }

    /// The contributions of one case under its own deadline policy.
    pub(crate) fn stats_entries(
        &self,
        state: &CaseState,
        bureau_region: Option<&RegionCode>,
    ) -> Vec<Entry> {
        let policy = self.policy_for(state);
        let deadlines = state.deadlines(&policy, &self.calendar());
        stats::contributions(
            state,
            &CaseContext {
                deadlines: &deadlines,
                bureau_region,
            },
        )
    }

    pub(crate) async fn unit_region(
        &self,
        cache: &mut HashMap<UnitId, Option<RegionCode>>,
        unit: &UnitId,
    ) -> Result<Option<RegionCode>, AppError> {
        if let Some(hit) = cache.get(unit) {
            return Ok(hit.clone());
        }
        let region = self
            .store()
            .unit(unit.as_str())
            .await?
            .and_then(|u| RegionCode::parse(&u.region_code).ok());
        cache.insert(unit.clone(), region.clone());
        Ok(region)
    }

    /// Brings the counters up to the end of the event log, one page of events per transaction.
    pub async fn stats_catch_up(&self) -> Result<StatsStatus, AppError> {
        let mut regions = HashMap::new();
        loop {
            let from = self.store().stats_feed().await?.seq;
            if from < 0 {
                // A rebuild's marker: leave a running rebuild alone; take over one that died.
                if self.rebuild_alive(from) {
                    break;
                }
                tracing::warn!(
                    "statistics: a rebuild of the counters stopped midway; counting again"
                );
                if !self.rebuild_counts(RebuildLimits::default()).await? {
                    break;
                }
                continue;
            }
            let events = self.store().events_after(from, STATS_PAGE).await?;
            let Some(last) = events.last().map(|e| e.seq) else {
                break;
            };
            let ids: BTreeSet<String> =
                events.iter().map(|e| e.event.case_id.to_string()).collect();
            let ids: Vec<String> = ids.into_iter().collect();
            let counted = self.store().stats_counted(&ids).await?;
            let mut deltas = BTreeMap::new();
            let mut versions = Vec::with_capacity(ids.len());
            for id in &ids {
                let log: Vec<Event> = self
                    .store()
                    .events_of(&CaseId::new(id.as_str()))
                    .await?
                    .into_iter()
                    .map(|s| s.event)
                    .collect();
                let old = counted.get(id).map_or(0, |(version, _)| *version);
                let upto = usize::try_from(old).unwrap_or(usize::MAX).min(log.len());
                if upto == log.len() {
                    continue;
                }
                let replayed = |events: &[Event]| {
                    replay(events).map_err(|e| {
                        AppError::Internal(anyhow::anyhow!("statistics: case {id} replay: {e}"))
                    })
                };
                let after_state = match replayed(&log)? {
                    Some(state) => state,
                    None => continue,
                };
                let bureau = self.unit_region(&mut regions, &after_state.bureau).await?;
                let after = self.stats_entries(&after_state, bureau.as_ref());
                let before = match replayed(&log[..upto])? {
                    Some(state) => {
                        let bureau = self.unit_region(&mut regions, &state.bureau).await?;
                        self.stats_entries(&state, bureau.as_ref())
                    }
                    None => Vec::new(),
                };
                stats::accumulate(&mut deltas, &stats::delta(&before, &after));
                versions.push((id.clone(), after_state.version));
            }
            let (versions, live) = self.with_live_marks(versions, &counted).await?;
            // Another feeder (a second server on the same PostgreSQL) may have moved the
            // checkpoint first: then nothing was written and the next round starts from there.
            self.store()
                .stats_apply(from, last, &rows_of(deltas), &versions, &live)
                .await?;
        }
        self.stats_status().await
    }

    /// The live marks (see `huiyin_store::LiveMark`) to store with the case versions a round
    /// counts, and the live-hour deltas from the marks counted before. Read after the cases'
    /// logs, so a mark is never older than the version it is stored with; a newer one is
    /// corrected when the round that reads the newer events comes.
    async fn with_live_marks(
        &self,
        versions: Vec<(String, u64)>,
        counted: &HashMap<String, (u64, Option<LiveMark>)>,
    ) -> Result<(Vec<(String, u64, Option<LiveMark>)>, LiveDeltas), AppError> {
        let ids: Vec<String> = versions.iter().map(|(id, _)| id.clone()).collect();
        let mut current = self.store().live_marks(&ids).await?;
        let mut live = LiveDeltas::new();
        let out = versions
            .into_iter()
            .map(|(id, version)| {
                let mark = current.remove(&id).flatten();
                let before = counted.get(&id).and_then(|(_, m)| m.as_ref());
                live_delta(&mut live, before, mark.as_ref());
                (id, version, mark)
            })
            .collect();
        Ok((out, live))
    }

    /// Empties the counters and recounts everything from every case's stored state (the
    /// projection: one read per case instead of two replays of its log), then catches up with
    /// the events written meanwhile. See [`App::rebuild_counts`].
    pub async fn stats_rebuild(&self) -> Result<StatsStatus, AppError> {
        self.stats_rebuild_with(RebuildLimits::default()).await
    }

    /// [`App::stats_rebuild`] with other limits (tests use small ones to exercise every step).
    pub async fn stats_rebuild_with(&self, limits: RebuildLimits) -> Result<StatsStatus, AppError> {
        if !self.rebuild_counts(limits).await? {
            tracing::warn!(
                "statistics: another server took over the rebuild of the counters; it finishes the count"
            );
            return self.stats_status().await;
        }
        self.stats_catch_up().await
    }

    /// The rebuild's count: empties the counters, reads the cases in the order received
    /// (`limits.page` a query), adds up their counters in memory — targets and keys interned,
    /// at most `limits.rows` rows or `limits.cases` cases before they are written — and
    /// writes them sorted by the table's key in transactions of at most `limits.write` rows,
    /// the case versions and live marks after them. Cases received close together count on
    /// the same few weeks of days, so each counter row is written about once, and no
    /// transaction holds the write lock long enough to keep a petition waiting.
    ///
    /// While it runs, the checkpoint holds a negative marker (see [`rebuild_marker`]) that each
    /// transaction moves on with a compare-and-set. Feeders leave a marker younger than
    /// [`REBUILD_STALE_MS`] alone (the counters are half-written); an older one is a rebuild
    /// that died, which a feeder takes over by starting again. A compare-and-set that fails
    /// means someone took over: the count stops and returns false. Returns true with the
    /// checkpoint at the head of the log read at the start (every later event is counted by
    /// catching up, from each case's stored version).
    pub async fn rebuild_counts(&self, limits: RebuildLimits) -> Result<bool, AppError> {
        // Every event up to `head` is in the projection before the scan below reads it.
        let (head, _) = self.store().head().await?;
        let mut marker = rebuild_marker(None, self.now().timestamp_millis());
        self.store().stats_reset(marker).await?;
        let mut regions = HashMap::new();
        let mut counts = RebuildCounts::default();
        let mut after = (i64::MIN, String::new());
        loop {
            let page = self
                .store()
                .case_states_received_after((after.0, &after.1), limits.page.max(1))
                .await?;
            let done = page.len() < limits.page.max(1) as usize;
            if let Some((state, received, _)) = page.last() {
                after = (*received, state.id.to_string());
            }
            for (state, _, mark) in page {
                let bureau = self.unit_region(&mut regions, &state.bureau).await?;
                counts.add(self.stats_entries(&state, bureau.as_ref()));
                live_delta(&mut counts.live, None, mark.as_ref());
                counts
                    .versions
                    .push((state.id.to_string(), state.version, mark));
            }
            if done || counts.rows() >= limits.rows || counts.versions.len() >= limits.cases {
                match self
                    .write_rebuild_counts(marker, &mut counts, limits.write)
                    .await?
                {
                    Some(moved) => marker = moved,
                    None => return Ok(false),
                }
            }
            if done {
                break;
            }
        }
        Ok(self
            .store()
            .stats_apply(marker, head, &[], &[], &LiveDeltas::new())
            .await?)
    }

    /// Writes and empties what `counts` holds, moving the rebuild's marker on with each
    /// transaction. The marker now, or `None` when someone else moved it (took over).
    async fn write_rebuild_counts(
        &self,
        mut marker: i64,
        counts: &mut RebuildCounts,
        write: usize,
    ) -> Result<Option<i64>, AppError> {
        let sorted = counts.take_sorted();
        let versions = std::mem::take(&mut counts.versions);
        let live: Vec<_> = std::mem::take(&mut counts.live).into_iter().collect();
        let none = LiveDeltas::new();
        for chunk in sorted.cells.chunks(write.max(1)) {
            let rows = sorted.rows(chunk);
            if !self.rebuild_step(&mut marker, &rows, &[], &none).await? {
                return Ok(None);
            }
        }
        for chunk in versions.chunks(write.max(1)) {
            if !self.rebuild_step(&mut marker, &[], chunk, &none).await? {
                return Ok(None);
            }
        }
        for chunk in live.chunks(write.max(1)) {
            let chunk: LiveDeltas = chunk.iter().cloned().collect();
            if !self.rebuild_step(&mut marker, &[], &[], &chunk).await? {
                return Ok(None);
            }
        }
        Ok(Some(marker))
    }

    /// One rebuild transaction, moving the marker on (false: someone else moved it).
    async fn rebuild_step(
        &self,
        marker: &mut i64,
        rows: &[CounterRow],
        versions: &[(String, u64, Option<LiveMark>)],
        live: &LiveDeltas,
    ) -> Result<bool, AppError> {
        let next = rebuild_marker(Some(*marker), self.now().timestamp_millis());
        let moved = self
            .store()
            .stats_apply(*marker, next, rows, versions, live)
            .await?;
        *marker = next;
        Ok(moved)
    }

    /// Whether the checkpoint `seq` is the marker of a rebuild that is still writing.
    fn rebuild_alive(&self, seq: i64) -> bool {
        seq < 0 && self.now().timestamp_millis().saturating_add(seq) < REBUILD_STALE_MS
    }

    /// Compares the counters with a recomputation from every case's stored state, after
    /// catching up. Returns what differs (empty when consistent), month roll-ups included.
    pub async fn stats_check(&self) -> Result<Vec<String>, AppError> {
        if self.stats_catch_up().await?.rebuilding {
            return Ok(vec![
                "a rebuild of the counters is under way (统计计数正在重建): check again when it ends"
                    .to_string(),
            ]);
        }
        let mut regions = HashMap::new();
        let mut expected = BTreeMap::new();
        let mut after = String::new();
        loop {
            let page = self.store().case_states_after(&after, 1_000).await?;
            let Some(last) = page.last() else { break };
            after = last.id.to_string();
            for state in &page {
                let bureau = self.unit_region(&mut regions, &state.bureau).await?;
                stats::accumulate(&mut expected, &self.stats_entries(state, bureau.as_ref()));
            }
        }
        let expected = rows_of(expected);
        let stored = self.store().stats_day_rows().await?;
        let as_map = |rows: &[CounterRow]| -> BTreeMap<(String, i64, String), i64> {
            rows.iter()
                .map(|r| ((r.target.clone(), r.day, r.key.clone()), r.value))
                .collect()
        };
        let (want, have) = (as_map(&expected), as_map(&stored));
        let mut problems =
            counter_differences(&want, &have, |k| format!("{} {} {}", k.0, k.1, k.2));
        for (target, month, key) in self.store().stats_rollup_mismatches().await? {
            problems.push(format!(
                "{target} {month} {key}: month roll-up differs from its days"
            ));
        }
        problems.extend(self.store().live_check().await?);
        Ok(problems)
    }

    /// Every indicator for `target` over `from..=to`, with the previous period of the same
    /// length and the same period a year before. Scoped: the principal must be allowed to read
    /// statistics of that region or unit.
    pub async fn indicators(
        &self,
        principal: &Principal,
        target: &Target,
        from: NaiveDate,
        to: NaiveDate,
        config: &IndicatorConfig,
    ) -> Result<IndicatorReport, AppError> {
        if to < from {
            return Err(AppError::invalid(
                "to",
                "period_invalid",
                "结束日期不能早于开始日期",
            ));
        }
        let days = (to - from).num_days() + 1;
        if days > MAX_PERIOD_DAYS {
            return Err(AppError::invalid(
                "to",
                "period_too_long",
                "统计期间最长十年",
            ));
        }
        config
            .validate()
            .map_err(|e| AppError::invalid("config", "indicator_config_invalid", e.0))?;
        self.authorize_stats_target(principal, target).await?;
        self.indicators_of(target, from, to, config).await
    }

    /// Whether the deployment publishes its statistics (`Config::public_stats`).
    pub fn publishes_stats(&self) -> bool {
        self.inner.config.public_stats.is_some()
    }

    /// The published region, for a public period `from..=to` (at most a year, not in the
    /// future). Not found when the deployment publishes none.
    pub(crate) fn public_region(&self, from: NaiveDate, to: NaiveDate) -> Result<String, AppError> {
        let Some(region) = self.inner.config.public_stats.clone() else {
            return Err(AppError::NotFound("本系统没有公开统计数据".into()));
        };
        let today = self
            .now()
            .with_timezone(&huiyin_domain::CHINA_OFFSET)
            .date_naive();
        if to < from {
            return Err(AppError::invalid(
                "to",
                "period_invalid",
                "结束日期不能早于开始日期",
            ));
        }
        if (to - from).num_days() >= 366 || to > today {
            return Err(AppError::invalid(
                "to",
                "public_period",
                "公开统计的期间最长一年，且不能晚于今天",
            ));
        }
        Ok(region)
    }

    /// The public statistics (公开统计) of the deployment's published region over
    /// `from..=to` (at most a year, not in the future): the same indicators as the staff see,
    /// with every figure computed from fewer than [`MIN_PUBLIC_COUNT`] cases withheld, so no
    /// one case can be singled out. Not found when the deployment publishes none.
    pub async fn public_indicators(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<IndicatorReport, AppError> {
        let region = self.public_region(from, to)?;
        let mut report = self
            .indicators_of(&Target::Region(region), from, to, &self.indicator_config())
            .await?;
        for row in &mut report.indicators {
            for f in [&mut row.current, &mut row.previous, &mut row.last_year] {
                let basis = if row.unit == Unit::Count {
                    f.numerator
                } else {
                    f.denominator
                };
                if basis < MIN_PUBLIC_COUNT {
                    f.value = None;
                    f.numerator = 0.0;
                    f.denominator = 0.0;
                }
            }
        }
        Ok(report)
    }

    async fn indicators_of(
        &self,
        target: &Target,
        from: NaiveDate,
        to: NaiveDate,
        config: &IndicatorConfig,
    ) -> Result<IndicatorReport, AppError> {
        let days = (to - from).num_days() + 1;
        let status = self.stats_status().await?;
        let previous_to = from.pred_opt().unwrap_or(from);
        let previous_from = previous_to - chrono::TimeDelta::days(days - 1);
        let year_back = |d: NaiveDate| d.checked_sub_months(Months::new(12)).unwrap_or(d);
        let key = target.key();
        let current = self.store().stats_sum(&key, from, to).await?;
        let previous = self
            .store()
            .stats_sum(&key, previous_from, previous_to)
            .await?;
        let last_year = self
            .store()
            .stats_sum(&key, year_back(from), year_back(to))
            .await?;
        let catalogue = stats::catalogue(config);
        let row = |ind: &Indicator| IndicatorRow {
            id: ind.id,
            name_zh: ind.name_zh,
            name_en: ind.name_en,
            unit: ind.unit,
            definition_zh: ind.definition_zh,
            current: stats::evaluate(ind, &current, &catalogue),
            previous: stats::evaluate(ind, &previous, &catalogue),
            last_year: stats::evaluate(ind, &last_year, &catalogue),
        };
        Ok(IndicatorReport {
            target: target.clone(),
            from,
            to,
            previous_from,
            previous_to,
            status,
            indicators: catalogue.iter().map(row).collect(),
        })
    }

    /// Statistics of a region: staff who see that region (petition bureaus, leaders,
    /// supervisors, analysts and auditors of a unit at or above it). Of a unit: its own staff,
    /// or those who see the unit's region.
    pub(crate) async fn authorize_stats_target(
        &self,
        principal: &Principal,
        target: &Target,
    ) -> Result<(), AppError> {
        authorize(principal, Action::ReadStatistics, None)
            .map_err(|d| AppError::Forbidden(d.message().into()))?;
        let region = match target {
            Target::Region(code) => RegionCode::parse(code)
                .map_err(|e| AppError::Invalid(vec![("region".into(), e)]))?,
            Target::Unit(unit) => {
                if principal.unit.as_ref() == Some(unit) {
                    return Ok(());
                }
                let record = self
                    .store()
                    .unit(unit.as_str())
                    .await?
                    .ok_or_else(|| AppError::NotFound("没有这个单位".into()))?;
                RegionCode::parse(&record.region_code)
                    .map_err(|e| AppError::Invalid(vec![("unit".into(), e)]))?
            }
        };
        if stats::sees_region_statistics(principal, &region) {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "无权查看该地区或单位的统计：只能查看本单位及所辖地区".into(),
            ))
        }
    }
}

/// The first and last day of a calendar year, for the annual figures.
pub fn year_period(year: i32) -> Option<(NaiveDate, NaiveDate)> {
    Some((
        NaiveDate::from_ymd_opt(year, 1, 1)?,
        NaiveDate::from_ymd_opt(year, 12, 31)?,
    ))
}

/// Today's period so far (the first of the month to `today`).
pub fn month_to_date(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    (today.with_day(1).unwrap_or(today), today)
}
