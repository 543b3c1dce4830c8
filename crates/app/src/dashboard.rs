//! Dashboards (形势网上判) and the cases behind a figure.
//!
//! The leader's overview of a region or unit for a period reads the incrementally kept
//! counters only (the indicators, a volume trend beside the same months a year before, the
//! breakdowns by channel, class and category, the regions one level down and the units of the
//! area ranked), plus four live counts over the open cases from the projection's deadline
//! indexes. The bureau's operations view adds what is due today and the overdue cases by unit.
//!
//! A drill-down lists the cases a figure counts: the candidates of the area and period come
//! from the case table, and a case is listed exactly when its own
//! [`contributions`](huiyin_domain::stats::contributions) put the figure's counter on the
//! target within the period — the same function the counters are summed from, so the list
//! and the number agree once the counters have caught up.

use std::collections::HashMap;

use chrono::{Datelike, Months, NaiveDate, TimeZone};
use huiyin_domain::access::{Action, Principal, Scope, authorize};
use huiyin_domain::case::Actor;
use huiyin_domain::stats::{
    self, FigurePart, Indicator, IndicatorConfig, Target, Totals, figure_keys, key_matches, keys,
};
use huiyin_org::Divisions;

/// The name of the nation, the root of the tree.
const NATION_NAME: &str = "全国";
use huiyin_store::{Area, CaseSummary, LiveCounts};
use serde::Serialize;

use crate::stats::IndicatorReport;
use crate::{App, AppError};

/// Periods up to this many days are drawn day by day; longer ones month by month.
pub const DAILY_TREND_DAYS: i64 = 62;
/// Categories shown in the overview's top list.
pub const TOP_CATEGORIES: usize = 10;
/// Units ranked at most.
pub const RANKED_UNITS: u32 = 300;
/// Cases listed per drill-down page.
pub const DRILL_PAGE: usize = 50;
/// Candidate cases examined per drill-down request at most (the page then says where to go on).
pub const DRILL_SCAN: usize = 5_000;

/// One slice of a breakdown: the counter key (for the drill-down) and its code and count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slice {
    pub key: String,
    /// The part after the family prefix: a channel or class code, a category name.
    pub code: String,
    pub value: i64,
    /// The previous period's count, for growth.
    pub before: i64,
}

/// The volume trend: one point per day or month, beside the same points a year before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trend {
    pub monthly: bool,
    /// `YYYY-MM-DD` or `YYYY-MM`.
    pub labels: Vec<String>,
    pub current: Vec<i64>,
    pub last_year: Vec<i64>,
}

/// The public page's volume trend: withheld months are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicTrend {
    /// `YYYY-MM`.
    pub labels: Vec<String>,
    pub current: Vec<Option<i64>>,
    pub last_year: Vec<Option<i64>>,
}

/// A figure of one region one level down, or of one unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    /// The region code or unit id.
    pub id: String,
    pub name: String,
    /// `region`, or the unit's kind (`petition_bureau`, `department`, …).
    pub kind: String,
    pub received: i64,
    /// 按期办结率 (share), when anything was replied.
    pub on_time: Option<f64>,
    pub replied: i64,
    /// 满意率 (share), when anything was rated.
    pub satisfaction: Option<f64>,
    pub rated: i64,
}

/// The leader's overview of one target and period.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub report: IndicatorReport,
    pub trend: Trend,
    pub channels: Vec<Slice>,
    pub classes: Vec<Slice>,
    /// The most frequent first-level categories, most first.
    pub categories: Vec<Slice>,
    /// Categories that grew most against the previous period (热点问题), at least 3 cases.
    pub rising: Vec<Slice>,
    /// The regions one level down (empty for a unit or a township).
    pub places: Vec<Ranked>,
    /// The units of the area, ranked by volume (rates beside).
    pub units: Vec<Ranked>,
    /// Open cases now.
    pub live: LiveCounts,
}

/// The bureau's operations view: live counts, what is due today, overdue by unit.
#[derive(Debug, Clone, Serialize)]
pub struct Operations {
    pub live: LiveCounts,
    /// Open cases due before the end of today (within the user's case scope).
    pub due_today: Vec<CaseSummary>,
    /// (unit id, unit name, overdue open cases), most first.
    pub overdue_by_unit: Vec<(String, String, i64)>,
    /// Open cases with no event for the policy's stalled days, and that number of days.
    pub stalled: i64,
    pub stalled_days: u32,
}

/// What a drill-down asks for: a part of an indicator, or one counter (a breakdown's slice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drill {
    Indicator { id: String, part: FigurePart },
    Key(String),
}

/// One page of the cases behind a figure.
#[derive(Debug, Clone, Serialize)]
pub struct DrillPage {
    pub rows: Vec<CaseSummary>,
    /// Where the next request starts (the last case examined), when more may follow.
    pub next: Option<String>,
    /// How many candidate cases this request examined.
    pub examined: usize,
    /// The counters the figure is read from.
    pub keys: Vec<String>,
}

fn china_day_start_ms(day: NaiveDate) -> i64 {
    huiyin_domain::CHINA_OFFSET
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map_or(0, |t| t.timestamp_millis())
}

fn year_back(d: NaiveDate) -> NaiveDate {
    d.checked_sub_months(Months::new(12)).unwrap_or(d)
}

/// The regions one level below `code` (placeholders such as 市辖区 replaced by their own
/// children), with names.
pub fn child_regions(code: &str) -> Vec<(String, String)> {
    let Ok(d) = Divisions::embedded() else {
        return Vec::new();
    };
    let parent = if code.is_empty() { "0" } else { code };
    let mut out = Vec::new();
    let mut stack: Vec<&str> = vec![parent];
    while let Some(p) = stack.pop() {
        for r in d.regions() {
            if r.parent.as_deref() == Some(p) {
                if r.is_placeholder() {
                    stack.push(r.code.as_str());
                } else {
                    out.push((r.code.clone(), r.name.clone()));
                }
            }
        }
    }
    out.sort();
    out
}

/// The name of a region, with its parents from the province down (`广东省佛山市`).
pub fn region_name(code: &str) -> String {
    let Ok(d) = Divisions::embedded() else {
        return code.to_string();
    };
    if code == "0" {
        return NATION_NAME.to_string();
    }
    let path = d.path(code);
    if path.is_empty() {
        return code.to_string();
    }
    path.iter()
        .filter(|r| r.code != "0" && !r.is_placeholder())
        .map(|r| r.name.as_str())
        .collect()
}

fn find<'a>(catalogue: &'a [Indicator], id: &str) -> Option<&'a Indicator> {
    catalogue.iter().find(|i| i.id == id)
}

/// The families of a breakdown, with their slices out of period totals.
fn slices(now: &Totals, before: &Totals, prefix: &str) -> Vec<Slice> {
    let mut out: Vec<Slice> = now
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(prefix).map(|code| Slice {
                key: k.clone(),
                code: code.to_string(),
                value: *v,
                before: before.get(k).copied().unwrap_or(0),
            })
        })
        .collect();
    out.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.code.cmp(&b.code)));
    out
}

impl App {
    /// Received per month of `from..=to` (whole months at either end), beside the same months a
    /// year before, for the counters' target `key`.
    async fn monthly_trend(
        &self,
        key: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Trend, AppError> {
        let store = self.store();
        let now = store.stats_months(key, keys::RECEIVED, from, to).await?;
        let then = store
            .stats_months(key, keys::RECEIVED, year_back(from), year_back(to))
            .await?;
        let mut labels = Vec::new();
        let (mut current, mut last_year) = (Vec::new(), Vec::new());
        let mut m = NaiveDate::from_ymd_opt(from.year(), from.month(), 1).unwrap_or(from);
        while m <= to {
            let n = i64::from(m.year()) * 100 + i64::from(m.month());
            labels.push(format!("{:04}-{:02}", m.year(), m.month()));
            current.push(now.get(&n).copied().unwrap_or(0));
            last_year.push(then.get(&(n - 100)).copied().unwrap_or(0));
            let Some(next) = m.checked_add_months(Months::new(1)) else {
                break;
            };
            m = next;
        }
        Ok(Trend {
            monthly: true,
            labels,
            current,
            last_year,
        })
    }

    /// The public statistics page's volume trend (公开统计): the published region's received
    /// cases per month of `from..=to` (at most a year, not in the future) beside the
    /// same months a year before; a month of fewer than [`crate::stats::MIN_PUBLIC_COUNT`] cases
    /// is withheld (`None`). Not found when the deployment publishes none.
    pub async fn public_trend(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<PublicTrend, AppError> {
        let region = self.public_region(from, to)?;
        let t = self
            .monthly_trend(&Target::Region(region).key(), from, to)
            .await?;
        let shown = |v: &i64| (*v as f64 >= crate::stats::MIN_PUBLIC_COUNT).then_some(*v);
        Ok(PublicTrend {
            labels: t.labels,
            current: t.current.iter().map(shown).collect(),
            last_year: t.last_year.iter().map(shown).collect(),
        })
    }

    /// The leader's overview of `target` for `from..=to` (scoped like the indicators).
    pub async fn overview(
        &self,
        principal: &Principal,
        target: &Target,
        from: NaiveDate,
        to: NaiveDate,
        config: &IndicatorConfig,
    ) -> Result<Overview, AppError> {
        let report = self.indicators(principal, target, from, to, config).await?;
        let store = self.store();
        let key = target.key();
        let now_totals = store.stats_sum(&key, from, to).await?;
        let before_totals = store
            .stats_sum(&key, report.previous_from, report.previous_to)
            .await?;

        let monthly = (to - from).num_days() + 1 > DAILY_TREND_DAYS;
        let trend = if monthly {
            self.monthly_trend(&key, from, to).await?
        } else {
            let now = store.stats_days(&key, keys::RECEIVED, from, to).await?;
            let then = store
                .stats_days(&key, keys::RECEIVED, year_back(from), year_back(to))
                .await?;
            let mut labels = Vec::new();
            let (mut current, mut last_year) = (Vec::new(), Vec::new());
            let mut d = from;
            while d <= to {
                labels.push(d.to_string());
                current.push(
                    now.get(&huiyin_store::stats_day_number(d))
                        .copied()
                        .unwrap_or(0),
                );
                last_year.push(
                    then.get(&huiyin_store::stats_day_number(year_back(d)))
                        .copied()
                        .unwrap_or(0),
                );
                let Some(next) = d.succ_opt() else { break };
                d = next;
            }
            Trend {
                monthly,
                labels,
                current,
                last_year,
            }
        };

        let channels = slices(&now_totals, &before_totals, keys::CHANNEL);
        let classes = slices(&now_totals, &before_totals, keys::CLASS);
        let mut categories = slices(&now_totals, &before_totals, keys::CATEGORY);
        let mut rising: Vec<Slice> = categories
            .iter()
            .filter(|s| s.value >= 3 && s.value > s.before)
            .cloned()
            .collect();
        // Growth first (relative, against at least one case before), then size.
        rising.sort_by(|a, b| {
            let g = |s: &Slice| (s.value - s.before) as f64 / (s.before.max(1) as f64);
            g(b).total_cmp(&g(a)).then_with(|| b.value.cmp(&a.value))
        });
        rising.truncate(5);
        categories.truncate(TOP_CATEGORIES);

        let catalogue = stats::catalogue(config);
        let ranked_keys: Vec<String> = {
            let mut k = vec![keys::RECEIVED.to_string()];
            for id in ["on_time_completion_rate", "satisfaction_rate"] {
                if let Some(ind) = find(&catalogue, id) {
                    for part in [FigurePart::Numerator, FigurePart::Denominator] {
                        k.extend(figure_keys(ind, part, &catalogue));
                    }
                }
            }
            k.sort();
            k.dedup();
            k
        };
        let rank = |id: String, name: String, kind: String, totals: Option<&Totals>| {
            let empty = Totals::new();
            let t = totals.unwrap_or(&empty);
            let figure =
                |ind: &str| find(&catalogue, ind).map(|i| stats::evaluate(i, t, &catalogue));
            let on_time = figure("on_time_completion_rate");
            let sat = figure("satisfaction_rate");
            Ranked {
                id,
                name,
                kind,
                received: t.get(keys::RECEIVED).copied().unwrap_or(0),
                on_time: on_time.as_ref().and_then(|f| f.value),
                replied: on_time.map_or(0, |f| f.denominator as i64),
                satisfaction: sat.as_ref().and_then(|f| f.value),
                rated: sat.map_or(0, |f| f.denominator.round() as i64),
            }
        };

        let (places, units, area) = match target {
            Target::Region(code) => {
                let children = child_regions(code);
                let targets: Vec<String> = children.iter().map(|(c, _)| format!("r:{c}")).collect();
                let sums = store
                    .stats_sum_targets(&targets, &ranked_keys, from, to)
                    .await?;
                let places: Vec<Ranked> = children
                    .into_iter()
                    .map(|(c, name)| {
                        let t = sums.get(&format!("r:{c}"));
                        rank(c, name, "region".into(), t)
                    })
                    .collect();
                let unit_rows = store.units_for_ranking(code, RANKED_UNITS).await?;
                let targets: Vec<String> =
                    unit_rows.iter().map(|u| format!("u:{}", u.id)).collect();
                let sums = store
                    .stats_sum_targets(&targets, &ranked_keys, from, to)
                    .await?;
                let mut units: Vec<Ranked> = unit_rows
                    .into_iter()
                    .filter_map(|u| {
                        let t = sums.get(&format!("u:{}", u.id))?;
                        Some(rank(u.id, u.name, u.kind, Some(t)))
                    })
                    .filter(|r| r.received > 0 || r.replied > 0 || r.rated > 0)
                    .collect();
                units.sort_by(|a, b| {
                    b.received
                        .cmp(&a.received)
                        .then_with(|| b.replied.cmp(&a.replied))
                        .then_with(|| a.id.cmp(&b.id))
                });
                (places, units, Area::Region(code.as_str()))
            }
            Target::Unit(unit) => (Vec::new(), Vec::new(), Area::Unit(unit.as_str())),
        };
        let (now_ms, eod_ms) = self.today_bounds();
        // Aggregates of the area the principal may see the statistics of.
        let live = store.live_counts(area, &Scope::All, now_ms, eod_ms).await?;
        Ok(Overview {
            report,
            trend,
            channels,
            classes,
            categories,
            rising,
            places,
            units,
            live,
        })
    }

    /// Now and the end of today (China time), in ms.
    fn today_bounds(&self) -> (i64, i64) {
        let now = self.now();
        let today = now.with_timezone(&huiyin_domain::CHINA_OFFSET).date_naive();
        let eod = today.succ_opt().map_or(i64::MAX, china_day_start_ms);
        (now.timestamp_millis(), eod)
    }

    /// The case scope of `actor`'s lists, or nothing when they may only read figures.
    async fn list_scope(&self, actor: &Actor) -> Result<Scope, AppError> {
        let principal = self.principal(actor).await?;
        Ok(match authorize(&principal, Action::ReadList, None) {
            Ok(()) => Scope::of(&principal),
            Err(_) => Scope::Nothing,
        })
    }

    /// The operations view of `target` now: live counts, due today, overdue by unit, stalled.
    pub async fn operations(&self, actor: &Actor, target: &Target) -> Result<Operations, AppError> {
        let principal = self.principal(actor).await?;
        self.authorize_stats_target(&principal, target).await?;
        let area = match target {
            Target::Region(code) => Area::Region(code.as_str()),
            Target::Unit(unit) => Area::Unit(unit.as_str()),
        };
        let store = self.store();
        let (now_ms, eod_ms) = self.today_bounds();
        let live = store.live_counts(area, &Scope::All, now_ms, eod_ms).await?;
        let scope = self.list_scope(actor).await?;
        let mut due_today = store.due_between(area, &scope, now_ms, eod_ms, 50).await?;
        mask_accusations(&mut due_today);
        let overdue = store.overdue_by_unit(area, &Scope::All, now_ms, 30).await?;
        let mut names = HashMap::new();
        for (unit, _) in &overdue {
            if let Some(u) = store.unit(unit).await? {
                names.insert(unit.clone(), u.name);
            }
        }
        let overdue_by_unit = overdue
            .into_iter()
            .map(|(u, n)| {
                let name = names.get(&u).cloned().unwrap_or_else(|| u.clone());
                (u, name, n)
            })
            .collect();
        let stalled_days = self.rules().base.national.escalation.stalled_after_days;
        let stalled = store
            .stalled_count(area, &scope, now_ms - i64::from(stalled_days) * 86_400_000)
            .await?;
        Ok(Operations {
            live,
            due_today,
            overdue_by_unit,
            stalled,
            stalled_days,
        })
    }

    /// The cases behind a figure of `target` over `from..=to`: one page of at most
    /// [`DRILL_PAGE`] cases, examining at most [`DRILL_SCAN`] candidates after `after`.
    /// The figure's statistics must be readable; the cases listed are also only those the
    /// user's case scope holds (an analyst who reads figures only gets a clear refusal).
    #[allow(clippy::too_many_arguments)]
    pub async fn cases_behind(
        &self,
        actor: &Actor,
        target: &Target,
        drill: &Drill,
        from: NaiveDate,
        to: NaiveDate,
        after: &str,
        config: &IndicatorConfig,
    ) -> Result<DrillPage, AppError> {
        if to < from {
            return Err(AppError::invalid(
                "to",
                "period_invalid",
                "结束日期不能早于开始日期",
            ));
        }
        if (to - from).num_days() >= 3_660 {
            return Err(AppError::invalid(
                "to",
                "period_too_long",
                "统计期间最长十年",
            ));
        }
        let principal = self.principal(actor).await?;
        self.authorize_stats_target(&principal, target).await?;
        let scope = self.list_scope(actor).await?;
        if matches!(scope, Scope::Nothing) {
            return Err(AppError::Forbidden(
                "可以查看统计数字，但无权查看案件清单".into(),
            ));
        }
        let catalogue = stats::catalogue(config);
        let wanted = match drill {
            Drill::Indicator { id, part } => {
                let ind = find(&catalogue, id).ok_or_else(|| {
                    AppError::invalid("indicator", "indicator_unknown", "没有这个统计指标")
                })?;
                figure_keys(ind, *part, &catalogue)
            }
            Drill::Key(key) => {
                if !stats::is_counter_key(key) {
                    return Err(AppError::invalid(
                        "key",
                        "counter_unknown",
                        "没有这个统计项",
                    ));
                }
                vec![key.clone()]
            }
        };
        let area = match target {
            Target::Region(code) => Area::Region(code.as_str()),
            Target::Unit(unit) => Area::Unit(unit.as_str()),
        };
        let received_before = to.succ_opt().map_or(i64::MAX, china_day_start_ms);
        let changed_since = china_day_start_ms(from);
        let store = self.store();
        let mut regions = HashMap::new();
        let mut hits: Vec<String> = Vec::new();
        let mut examined = 0usize;
        let mut cursor = after.to_string();
        let mut next = None;
        'scan: loop {
            let batch = store
                .drill_candidates(area, &scope, received_before, changed_since, &cursor, 500)
                .await?;
            let full = batch.len() == 500;
            for state in &batch {
                examined += 1;
                cursor = state.id.to_string();
                let bureau = self.unit_region(&mut regions, &state.bureau).await?;
                let counts = self.stats_entries(state, bureau.as_ref()).iter().any(|e| {
                    &e.target == target
                        && e.day >= from
                        && e.day <= to
                        && e.value != 0
                        && key_matches(&wanted, &e.key)
                });
                if counts {
                    hits.push(state.id.to_string());
                }
                if hits.len() >= DRILL_PAGE || examined >= DRILL_SCAN {
                    next = Some(cursor.clone());
                    break 'scan;
                }
            }
            if !full {
                break;
            }
        }
        let mut rows = store.summaries_of(&hits, &scope).await?;
        mask_accusations(&mut rows);
        let order: HashMap<&str, usize> = hits
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        rows.sort_by_key(|r| order.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
        Ok(DrillPage {
            rows,
            next,
            examined,
            keys: wanted,
        })
    }
}

/// The annual report of a region or unit (《信访工作条例》第四十一条): volumes and their
/// breakdowns beside the year before, the fields, the organs most complained about, how many
/// were forwarded (转送), assigned (交办) and supervised (督办), the 建议意见类 petitions, and the
/// handling figures.
#[derive(Debug, Clone, Serialize)]
pub struct AnnualReport {
    pub year: i32,
    pub overview: Overview,
    /// Units other than petition bureaus by the cases they handled (被投诉较多的机关), at most 10.
    pub organs: Vec<Ranked>,
    pub forwarded: i64,
    pub assigned: i64,
    pub bureau_handled: i64,
    /// 督办单 issued in the year, and on how many cases.
    pub supervision_orders: i64,
    pub supervised_cases: i64,
    /// 通报 made in the year.
    pub circulars: i64,
    /// 建议意见类 petitions received.
    pub suggestions: i64,
}

impl App {
    /// The annual report of `target` for `year` (scoped like the indicators).
    pub async fn annual_report(
        &self,
        principal: &Principal,
        target: &Target,
        year: i32,
        config: &IndicatorConfig,
    ) -> Result<AnnualReport, AppError> {
        let this_year = self
            .now()
            .with_timezone(&huiyin_domain::CHINA_OFFSET)
            .date_naive()
            .year();
        let (Some(from), Some(to)) = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year, 12, 31),
        ) else {
            return Err(AppError::invalid("year", "year_invalid", "年份不正确"));
        };
        if !(2000..=this_year).contains(&year) {
            return Err(AppError::invalid(
                "year",
                "year_invalid",
                format!("年度应在 2000 至 {this_year} 之间"),
            ));
        }
        let overview = self.overview(principal, target, from, to, config).await?;
        let totals = self.store().stats_sum(&target.key(), from, to).await?;
        let count = |key: &str| totals.get(key).copied().unwrap_or(0);
        let mut organs: Vec<Ranked> = overview
            .units
            .iter()
            .filter(|u| u.kind != "petition_bureau")
            .cloned()
            .collect();
        organs.truncate(10);
        let area = match target {
            Target::Region(code) => Area::Region(code.as_str()),
            Target::Unit(unit) => Area::Unit(unit.as_str()),
        };
        let (start, end) = (
            china_day_start_ms(from),
            to.succ_opt().map_or(i64::MAX, china_day_start_ms),
        );
        let (supervision_orders, supervised_cases) = self
            .store()
            .count_events_in("supervision_issued", area, start, end)
            .await?;
        let (circulars, _) = self
            .store()
            .count_events_in("circulated", area, start, end)
            .await?;
        Ok(AnnualReport {
            year,
            forwarded: count(keys::FORWARDED),
            assigned: count(keys::ASSIGNED),
            bureau_handled: count(keys::BUREAU_HANDLED),
            supervision_orders,
            supervised_cases,
            circulars,
            suggestions: count(&format!("{}suggestion", keys::CLASS)),
            organs,
            overview,
        })
    }
}

/// Lists never show who filed a 检举控告, not even masked.
fn mask_accusations(rows: &mut [CaseSummary]) {
    for row in rows {
        if row.class.as_deref() == Some("accusation") {
            row.petitioner_masked = None;
        }
    }
}
