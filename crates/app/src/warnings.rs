//! Early warning (预警, issue 8): a periodic scan that flags what a leader should look at, the
//! scoped list, acknowledgement and sending a warning to a broadcast group.
//!
//! [`App::scan_warnings`] applies the rules of [`huiyin_domain::warning`] with the deployment's
//! [`WarningPolicy`] in force ([`App::warning_policy`]: an administrator's setting, else
//! `Config::warnings`):
//!
//! - **spike** (信访量激增): per county (the policy's place level) and first-level category, the
//!   received count of the last `spike_days` against the `baseline_days` before, read from the
//!   statistics counters (`received.category.*` day rows), never by counting cases;
//! - **group** (疑似集体访): the petitions received in the last `group_days` at one place,
//!   clustered by near-identical text with the duplicate index of the `text` crate
//!   ([`DupIndex`], MinHash/LSH); a cluster from `group_min_petitioners` different petitioners
//!   (by petitioner account; unknown petitioners count one each) is a signal;
//! - **repeat petitioner** (重复信访未化解): one petitioner account with `repeat_min_cases`
//!   matters received in `repeat_days` that are unresolved ([`unresolved`]);
//! - **falling unit** (单位指标下滑): a unit's 按期办结率 or 满意率 this month (so far) below last
//!   month by `falling_points` or more, each month with a denominator of at least
//!   `falling_min_denominator`, from the units' month roll-ups of the counters and the
//!   indicator formulas of [`huiyin_domain::stats::catalogue`].
//!
//! A warning's dedup key names its subject and period (the ISO week of a spike, the month of a
//! repeat petitioner or a falling unit, the first case of a group), so a re-scan refreshes an
//! open warning instead of adding a second one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Months, NaiveDate, TimeDelta};
use huiyin_domain::access::{Principal, UnitKind};
use huiyin_domain::case::{Actor, CaseState, Role, Satisfaction};
use huiyin_domain::policy::ClockKind;
use huiyin_domain::stats::{self, keys};
use huiyin_domain::warning::{WarningKind, WarningPolicy, unresolved};
use huiyin_domain::{CHINA_OFFSET, Instant};
use huiyin_store::{WarningFilter, WarningRecord, stats_day_number as day_number};
use huiyin_text::dedup::{DocMeta, DupIndex, IndexConfig, Signature};
use serde::Serialize;

use crate::staff_notify::BroadcastSpec;
use crate::{App, AppError};

/// The most petitions one scan reads for group signals and spike case links.
const MAX_RECENT: u32 = 50_000;
/// The most petitioner-linked cases one scan reads for repeat petitioners.
const MAX_REPEAT_ROWS: u32 = 200_000;
/// The cases a warning links to at most.
const MAX_CASES: usize = 200;
/// The longest acknowledgement note.
pub const MAX_NOTE: usize = 500;
/// The indicators the falling-unit rule watches.
const FALLING_INDICATORS: [&str; 2] = ["on_time_completion_rate", "satisfaction_rate"];

/// What one scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WarningScan {
    /// New warnings, by kind.
    pub new: BTreeMap<&'static str, usize>,
    /// Open warnings found again (their figures refreshed).
    pub refreshed: usize,
}

impl WarningScan {
    pub fn new_total(&self) -> usize {
        self.new.values().sum()
    }
}

/// A case a warning links to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarningCase {
    pub id: String,
    /// The receipt code as people write it (XXXX-XXXX-XXXX).
    pub receipt_code: String,
}

/// A warning as readers see it.
#[derive(Debug, Clone, Serialize)]
pub struct WarningView {
    pub id: String,
    pub kind: WarningKind,
    pub kind_label: &'static str,
    pub region: String,
    /// The place's name, when the divisions are loaded.
    pub region_name: Option<String>,
    pub unit_id: Option<String>,
    pub unit_name: Option<String>,
    pub category: Option<String>,
    pub window_from: String,
    pub window_to: String,
    pub figures: serde_json::Value,
    /// What the figures say, in Chinese.
    pub summary_zh: String,
    pub case_count: usize,
    /// The first cases (all of them up to [`MAX_CASES`]).
    pub cases: Vec<WarningCase>,
    pub status: String,
    pub created_at: Instant,
    pub updated_at: Instant,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<Instant>,
    pub note: Option<String>,
    /// Broadcasts sent about it.
    pub broadcasts: Vec<String>,
}

/// What a list asks for (beyond the reader's scope).
#[derive(Debug, Clone, Default)]
pub struct WarningQuery {
    pub kind: Option<String>,
    pub region: Option<String>,
    pub status: Option<String>,
    pub limit: i64,
}

fn china_day(at: Instant) -> NaiveDate {
    at.with_timezone(&CHINA_OFFSET).date_naive()
}

fn start_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(CHINA_OFFSET).single())
        .map_or(0, |t| t.timestamp_millis())
}

fn ms_instant(ms: i64) -> Instant {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn place_of(region: &str, len: usize) -> &str {
    if region.len() >= len {
        &region[..len]
    } else {
        region
    }
}

fn l1_of(state: &CaseState) -> Option<&str> {
    let category = state
        .category
        .as_deref()
        .or(state.petition.category.as_deref())?;
    let l1 = category.split('/').next().unwrap_or(category).trim();
    (!l1.is_empty()).then_some(l1)
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// What a warning's figures say, in Chinese (the page has the English).
pub fn summary_zh(kind: WarningKind, category: Option<&str>, f: &serde_json::Value) -> String {
    let n = |k: &str| f.get(k).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    match kind {
        WarningKind::Spike => format!(
            "近{}日收到“{}”类信访{}件，前{}日共{}件（日均{:.1}件），达到基线的{:.1}倍",
            n("days"),
            category.unwrap_or("—"),
            n("recent"),
            n("baseline_days"),
            n("baseline"),
            n("baseline") / n("baseline_days").max(1.0),
            n("ratio"),
        ),
        WarningKind::Group => format!(
            "近{}日同一地点{}名信访人提交内容高度相似的信访{}件",
            n("days"),
            n("petitioners"),
            n("cases"),
        ),
        WarningKind::RepeatPetitioner => format!(
            "同一信访人近{}日有{}件信访事项未化解（共{}件）",
            n("days"),
            n("unresolved"),
            n("cases"),
        ),
        WarningKind::FallingUnit => {
            let name = match f.get("indicator").and_then(serde_json::Value::as_str) {
                Some("satisfaction_rate") => "满意率",
                _ => "按期办结率",
            };
            format!(
                "{name}本月{}（{}件），上月{}（{}件），下降{:.1}个百分点",
                pct(n("this_rate")),
                n("this_denominator"),
                pct(n("last_rate")),
                n("last_denominator"),
                n("points"),
            )
        }
    }
}

/// The reader's scope over warnings: petition-bureau staff, leaders and supervisors see the
/// warnings of their unit's region subtree; unit heads and leaders see their own unit's.
fn reader_filter(p: &Principal) -> Result<WarningFilter, AppError> {
    if p.roles.has(Role::System) {
        return Ok(WarningFilter {
            all: true,
            ..WarningFilter::default()
        });
    }
    let mut f = WarningFilter::default();
    if p.sees_region()
        && let Some(region) = &p.region
    {
        if region.as_str() == "0" {
            f.all = true;
        } else {
            f.regions.push(region.as_str().to_string());
        }
    }
    if p.roles
        .any(&[Role::UnitHead, Role::Leader, Role::Supervisor])
    {
        f.unit = p.unit.as_ref().map(|u| u.as_str().to_string());
    }
    if !f.all && f.regions.is_empty() && f.unit.is_none() {
        return Err(AppError::Forbidden(
            "只有领导、督办人员、信访部门工作人员和单位负责人可以查看预警".into(),
        ));
    }
    Ok(f)
}

fn in_scope(f: &WarningFilter, w: &WarningRecord) -> bool {
    f.all
        || f.regions.iter().any(|r| w.region.starts_with(r.as_str()))
        || (f.unit.is_some() && f.unit == w.unit_id)
}

/// The root of `i` in a union-find forest (with path halving).
fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn not_found() -> AppError {
    AppError::NotFound("没有这条预警，或它不在您的权限范围内".into())
}

impl App {
    /// Scans for warnings as of `now` (the server runs it with the deadline scans). Catches
    /// the statistics counters up first.
    pub async fn scan_warnings(&self, now: Instant) -> Result<WarningScan, AppError> {
        let policy = self.warning_policy();
        policy
            .validate()
            .map_err(|e| AppError::Unavailable(format!("预警规则设置有误：{}", e.0)))?;
        self.stats_catch_up().await?;
        let today = china_day(now);
        let recent_days = policy.spike_days.max(policy.group_days);
        let recent_from = today - TimeDelta::days(recent_days - 1);
        let recent = self
            .store()
            .cases_received_since(start_ms(recent_from), MAX_RECENT)
            .await?;
        if recent.len() as u32 == MAX_RECENT {
            tracing::warn!(
                limit = MAX_RECENT,
                "early warning: more recent petitions than one scan reads; the newest are left out"
            );
        }
        let mut found = Vec::new();
        found.extend(self.find_spikes(&policy, today, now, &recent).await?);
        found.extend(self.find_groups(&policy, today, now, &recent).await?);
        found.extend(self.find_repeats(&policy, today, now).await?);
        found.extend(self.find_falling(&policy, today, now).await?);
        let mut report = WarningScan::default();
        for (kind, w) in found {
            if self.store().warning_upsert(&w).await? {
                *report.new.entry(kind.as_str()).or_insert(0) += 1;
            } else {
                report.refreshed += 1;
            }
        }
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    fn warning_record(
        kind: WarningKind,
        dedup_key: String,
        region: &str,
        unit: Option<String>,
        category: Option<String>,
        window: (NaiveDate, NaiveDate),
        figures: serde_json::Value,
        case_ids: Vec<String>,
        now: Instant,
    ) -> (WarningKind, WarningRecord) {
        let now_ms = now.timestamp_millis();
        (
            kind,
            WarningRecord {
                id: uuid::Uuid::now_v7().to_string(),
                kind: kind.as_str().to_string(),
                dedup_key,
                region: region.to_string(),
                unit_id: unit,
                category,
                window_from: window.0.format("%Y-%m-%d").to_string(),
                window_to: window.1.format("%Y-%m-%d").to_string(),
                figures: figures.to_string(),
                case_ids,
                created_at_ms: now_ms,
                updated_at_ms: now_ms,
                status: "open".into(),
                acknowledged_by: None,
                acknowledged_at_ms: None,
                note: None,
            },
        )
    }

    async fn find_spikes(
        &self,
        policy: &WarningPolicy,
        today: NaiveDate,
        now: Instant,
        recent: &[CaseState],
    ) -> Result<Vec<(WarningKind, WarningRecord)>, AppError> {
        let window_from = today - TimeDelta::days(policy.spike_days - 1);
        let baseline_from = window_from - TimeDelta::days(policy.baseline_days);
        let rows = self
            .store()
            .stats_region_day_rows(
                policy.place_code_len,
                keys::CATEGORY,
                day_number(baseline_from),
                day_number(today),
            )
            .await?;
        let split = day_number(window_from);
        // (place, category) → (recent, baseline)
        let mut sums: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
        for (target, day, key, value) in rows {
            let (Some(place), Some(category)) =
                (target.strip_prefix("r:"), key.strip_prefix(keys::CATEGORY))
            else {
                continue;
            };
            let entry = sums
                .entry((place.to_string(), category.to_string()))
                .or_insert((0, 0));
            if day >= split {
                entry.0 += value;
            } else {
                entry.1 += value;
            }
        }
        let week = today.iso_week();
        let since = start_ms(window_from);
        let mut out = Vec::new();
        for ((place, category), (count, baseline)) in sums {
            if !policy.is_spike(count, baseline) {
                continue;
            }
            let case_ids: Vec<String> = recent
                .iter()
                .filter(|s| {
                    s.received_at.timestamp_millis() >= since
                        && s.petition.region.as_str().starts_with(place.as_str())
                        && l1_of(s) == Some(category.as_str())
                })
                .take(MAX_CASES)
                .map(|s| s.id.to_string())
                .collect();
            // the baseline's daily mean over the window's days
            let expected = baseline as f64 / policy.baseline_days as f64 * policy.spike_days as f64;
            let ratio = if expected > 0.0 {
                count as f64 / expected
            } else {
                0.0
            };
            let figures = serde_json::json!({
                "recent": count,
                "days": policy.spike_days,
                "baseline": baseline,
                "baseline_days": policy.baseline_days,
                "threshold": policy.spike_threshold(baseline),
                "ratio": ratio,
            });
            out.push(Self::warning_record(
                WarningKind::Spike,
                format!(
                    "spike:{place}:{category}:{}-W{:02}",
                    week.year(),
                    week.week()
                ),
                &place,
                None,
                Some(category),
                (window_from, today),
                figures,
                case_ids,
                now,
            ));
        }
        Ok(out)
    }

    async fn find_groups(
        &self,
        policy: &WarningPolicy,
        today: NaiveDate,
        now: Instant,
        recent: &[CaseState],
    ) -> Result<Vec<(WarningKind, WarningRecord)>, AppError> {
        let window_from = today - TimeDelta::days(policy.group_days - 1);
        let since = start_ms(window_from);
        let mut by_place: BTreeMap<&str, Vec<&CaseState>> = BTreeMap::new();
        for s in recent
            .iter()
            .filter(|s| s.received_at.timestamp_millis() >= since)
        {
            by_place
                .entry(place_of(s.petition.region.as_str(), policy.place_code_len))
                .or_default()
                .push(s);
        }
        by_place.retain(|_, cases| cases.len() >= policy.group_min_petitioners);
        let ids: Vec<String> = by_place
            .values()
            .flatten()
            .map(|s| s.id.to_string())
            .collect();
        let phones: HashMap<String, String> = self
            .store()
            .petitioner_phones_of(&ids)
            .await?
            .into_iter()
            .collect();
        let mut out = Vec::new();
        for (place, cases) in by_place {
            // The duplicate index of the text crate, over this place's petitions only.
            let mut index = DupIndex::with_capacity(IndexConfig::default(), cases.len());
            let mut signed = Vec::with_capacity(cases.len());
            let mut doc_of: HashMap<u32, usize> = HashMap::new();
            for (i, s) in cases.iter().enumerate() {
                let sig = Signature::of_text(&format!(
                    "{}\n{}",
                    s.petition.title.as_str(),
                    s.petition.text.as_str()
                ));
                let meta = DocMeta {
                    petitioner: phones.get(s.id.as_str()).cloned(),
                    addressee: None,
                };
                if let Ok(doc) = index.insert(&sig, &meta) {
                    doc_of.insert(doc.0, i);
                }
                signed.push((sig, meta));
            }
            // Near copies joined into clusters (union-find over the index's matches).
            let mut parent: Vec<usize> = (0..cases.len()).collect();
            for (i, (sig, meta)) in signed.iter().enumerate() {
                for m in index.query(sig, meta).matches {
                    if !m.near_copy {
                        continue;
                    }
                    if let Some(&j) = doc_of.get(&m.doc.0) {
                        let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                        if a != b {
                            parent[a.max(b)] = a.min(b);
                        }
                    }
                }
            }
            let mut clusters: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for i in 0..cases.len() {
                let r = root(&mut parent, i);
                clusters.entry(r).or_default().push(i);
            }
            for members in clusters.into_values() {
                let people: BTreeSet<String> = members
                    .iter()
                    .map(|&i| {
                        signed[i]
                            .1
                            .petitioner
                            .clone()
                            .unwrap_or_else(|| format!("case:{}", cases[i].id))
                    })
                    .collect();
                if !policy.is_group(people.len()) {
                    continue;
                }
                let first = cases[members[0]];
                let mut units: BTreeMap<&str, usize> = BTreeMap::new();
                for &i in &members {
                    *units.entry(cases[i].bureau.as_str()).or_insert(0) += 1;
                }
                let unit = units
                    .iter()
                    .max_by_key(|(u, n)| (**n, std::cmp::Reverse(**u)))
                    .map(|(u, _)| u.to_string());
                let figures = serde_json::json!({
                    "days": policy.group_days,
                    "petitioners": people.len(),
                    "cases": members.len(),
                });
                out.push(Self::warning_record(
                    WarningKind::Group,
                    format!("group:{place}:{}", first.id),
                    place,
                    unit,
                    l1_of(first).map(str::to_string),
                    (window_from, today),
                    figures,
                    members
                        .iter()
                        .take(MAX_CASES)
                        .map(|&i| cases[i].id.to_string())
                        .collect(),
                    now,
                ));
            }
        }
        Ok(out)
    }

    async fn find_repeats(
        &self,
        policy: &WarningPolicy,
        today: NaiveDate,
        now: Instant,
    ) -> Result<Vec<(WarningKind, WarningRecord)>, AppError> {
        let window_from = today - TimeDelta::days(policy.repeat_days - 1);
        let rows = self
            .store()
            .petitioner_cases_since(start_ms(window_from), MAX_REPEAT_ROWS)
            .await?;
        let mut by_account: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (account, case_id) in rows {
            by_account.entry(account).or_default().push(case_id);
        }
        let month = today.format("%Y%m").to_string();
        let mut out = Vec::new();
        for (account, case_ids) in by_account {
            if case_ids.len() < policy.repeat_min_cases {
                continue;
            }
            let mut states = Vec::with_capacity(case_ids.len());
            for id in &case_ids {
                if let Some(r) = self
                    .store()
                    .case(&huiyin_domain::ids::CaseId::new(id.as_str()))
                    .await?
                {
                    states.push(r.state);
                }
            }
            let matters: Vec<&CaseState> = states
                .iter()
                .filter(|s| {
                    !matches!(
                        s.stage,
                        huiyin_domain::case::Stage::Withdrawn | huiyin_domain::case::Stage::Merged
                    )
                })
                .collect();
            let open: Vec<&CaseState> = matters.iter().copied().filter(|s| unresolved(s)).collect();
            if !policy.is_repeat(open.len()) {
                continue;
            }
            let Some(latest) = open.iter().max_by_key(|s| (s.received_at, s.id.as_str())) else {
                continue;
            };
            let figures = serde_json::json!({
                "days": policy.repeat_days,
                "cases": matters.len(),
                "unresolved": open.len(),
            });
            out.push(Self::warning_record(
                WarningKind::RepeatPetitioner,
                format!("repeat:{account}:{month}"),
                latest.petition.region.as_str(),
                Some(latest.bureau.to_string()),
                None,
                (window_from, today),
                figures,
                open.iter()
                    .take(MAX_CASES)
                    .map(|s| s.id.to_string())
                    .collect(),
                now,
            ));
        }
        Ok(out)
    }

    async fn find_falling(
        &self,
        policy: &WarningPolicy,
        today: NaiveDate,
        now: Instant,
    ) -> Result<Vec<(WarningKind, WarningRecord)>, AppError> {
        let this_first = today.with_day(1).unwrap_or(today);
        let last_first = this_first
            .checked_sub_months(Months::new(1))
            .unwrap_or(this_first);
        let config = self.indicator_config();
        let catalogue = stats::catalogue(&config);
        let watched: Vec<&stats::Indicator> = catalogue
            .iter()
            .filter(|i| FALLING_INDICATORS.contains(&i.id))
            .collect();
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        for i in &watched {
            if let stats::Formula::Ratio {
                numerator,
                denominator,
            } = &i.formula
            {
                wanted.extend(numerator.iter().map(|(k, _)| k.clone()));
                wanted.extend(denominator.iter().map(|(k, _)| k.clone()));
            }
        }
        let wanted: Vec<String> = wanted.into_iter().collect();
        let month_row = |d: NaiveDate| day_number(d) / 100 * 100;
        let mut totals: BTreeMap<String, [stats::Totals; 2]> = BTreeMap::new();
        for (slot, first) in [(0usize, last_first), (1, this_first)] {
            for (target, key, value) in self
                .store()
                .stats_unit_month_rows(month_row(first), &wanted)
                .await?
            {
                let Some(unit) = target.strip_prefix("u:") else {
                    continue;
                };
                let entry = totals.entry(unit.to_string()).or_default();
                *entry[slot].entry(key).or_insert(0) += value;
            }
        }
        let month = this_first.format("%Y%m").to_string();
        let mut out = Vec::new();
        for (unit, [last, this]) in totals {
            for indicator in &watched {
                let l = stats::evaluate(indicator, &last, &catalogue);
                let t = stats::evaluate(indicator, &this, &catalogue);
                let Some(points) =
                    policy.falling((l.numerator, l.denominator), (t.numerator, t.denominator))
                else {
                    continue;
                };
                let Some(record) = self.store().unit(&unit).await? else {
                    continue;
                };
                let case_ids = self
                    .falling_cases(&unit, indicator.id, start_ms(this_first))
                    .await?;
                let figures = serde_json::json!({
                    "indicator": indicator.id,
                    "last_rate": l.value,
                    "last_numerator": l.numerator,
                    "last_denominator": l.denominator,
                    "this_rate": t.value,
                    "this_numerator": t.numerator,
                    "this_denominator": t.denominator,
                    "points": points,
                });
                out.push(Self::warning_record(
                    WarningKind::FallingUnit,
                    format!("falling:{unit}:{}:{month}", indicator.id),
                    &record.region_code,
                    Some(unit.clone()),
                    None,
                    (last_first, today),
                    figures,
                    case_ids,
                    now,
                ));
            }
        }
        Ok(out)
    }

    /// The unit's cases replied this month that pull the indicator down: replied late, or not
    /// rated 满意.
    async fn falling_cases(
        &self,
        unit: &str,
        indicator: &str,
        since_ms: i64,
    ) -> Result<Vec<String>, AppError> {
        let states = self
            .store()
            .cases_of_unit_updated_since(unit, since_ms, 5_000)
            .await?;
        let calendar = self.calendar();
        let mut out = Vec::new();
        for s in states {
            if out.len() >= MAX_CASES {
                break;
            }
            if s.replied_at.is_none_or(|r| r.timestamp_millis() < since_ms) {
                continue;
            }
            let pulls_down = if indicator == "satisfaction_rate" {
                matches!(s.rating, Some((_, u)) if u != Satisfaction::Satisfied)
            } else {
                let deadlines = s.deadlines(&self.policy_for(&s), &calendar);
                deadlines
                    .iter()
                    .any(|d| d.kind == ClockKind::Handling && d.met == Some(false))
            };
            if pulls_down {
                out.push(s.id.to_string());
            }
        }
        Ok(out)
    }

    /// Warnings in the reader's scope, open first, newest first.
    pub async fn warnings(
        &self,
        actor: &Actor,
        query: &WarningQuery,
    ) -> Result<Vec<WarningView>, AppError> {
        let principal = self.principal(actor).await?;
        let mut filter = reader_filter(&principal)?;
        if let Some(kind) = query.kind.as_deref().filter(|k| !k.is_empty()) {
            if WarningKind::parse(kind).is_none() {
                return Err(AppError::invalid(
                    "kind",
                    "warning_kind",
                    "预警类别应为：信访量激增、疑似集体访、重复信访未化解或单位指标下滑",
                ));
            }
            filter.kind = Some(kind.to_string());
        }
        if let Some(region) = query
            .region
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            if !(region == "0"
                || (matches!(region.len(), 2 | 4 | 6 | 9)
                    && region.bytes().all(|b| b.is_ascii_digit())))
            {
                return Err(AppError::invalid(
                    "region",
                    "region_invalid",
                    "行政区划代码应为2、4、6或9位数字",
                ));
            }
            filter.region = Some(region.to_string());
        }
        if let Some(status) = query.status.as_deref().filter(|s| !s.is_empty()) {
            if !matches!(status, "open" | "acknowledged") {
                return Err(AppError::invalid(
                    "status",
                    "warning_status",
                    "状态应为“未处理”或“已确认”",
                ));
            }
            filter.status = Some(status.to_string());
        }
        filter.limit = if query.limit <= 0 { 100 } else { query.limit };
        let records = self.store().warnings(&filter).await?;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            out.push(self.warning_view(r, 20).await?);
        }
        Ok(out)
    }

    /// One warning in the reader's scope, with all its cases.
    pub async fn warning(&self, actor: &Actor, id: &str) -> Result<WarningView, AppError> {
        let record = self.warning_in_scope(actor, id).await?.1;
        self.warning_view(record, MAX_CASES).await
    }

    async fn warning_in_scope(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<(Principal, WarningRecord), AppError> {
        let principal = self.principal(actor).await?;
        let filter = reader_filter(&principal)?;
        let record = self
            .store()
            .warning(id.trim())
            .await?
            .filter(|w| in_scope(&filter, w))
            .ok_or_else(not_found)?;
        Ok((principal, record))
    }

    async fn warning_view(&self, r: WarningRecord, cases: usize) -> Result<WarningView, AppError> {
        let kind = WarningKind::parse(&r.kind)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("warning kind {}", r.kind)))?;
        let figures: serde_json::Value =
            serde_json::from_str(&r.figures).map_err(|e| AppError::Internal(e.into()))?;
        let mut links = Vec::new();
        for id in r.case_ids.iter().take(cases) {
            if let Some(c) = self
                .store()
                .case(&huiyin_domain::ids::CaseId::new(id.as_str()))
                .await?
            {
                links.push(WarningCase {
                    id: id.clone(),
                    receipt_code: c.state.receipt.display(),
                });
            }
        }
        let unit_name = match &r.unit_id {
            Some(u) => self.store().unit(u).await?.map(|u| u.name),
            None => None,
        };
        let region_name = self.store().region(&r.region).await?.map(|g| g.name);
        let broadcasts = self.store().warning_broadcasts(&r.id).await?;
        Ok(WarningView {
            summary_zh: summary_zh(kind, r.category.as_deref(), &figures),
            id: r.id,
            kind,
            kind_label: kind.label_zh(),
            region: r.region,
            region_name,
            unit_id: r.unit_id,
            unit_name,
            category: r.category,
            window_from: r.window_from,
            window_to: r.window_to,
            figures,
            case_count: r.case_ids.len(),
            cases: links,
            status: r.status,
            created_at: ms_instant(r.created_at_ms),
            updated_at: ms_instant(r.updated_at_ms),
            acknowledged_by: r.acknowledged_by,
            acknowledged_at: r.acknowledged_at_ms.map(ms_instant),
            note: r.note,
            broadcasts,
        })
    }

    /// Acknowledges a warning with a note: supervisors, leaders and petition-bureau heads
    /// whose scope covers it.
    pub async fn acknowledge_warning(
        &self,
        actor: &Actor,
        id: &str,
        note: &str,
    ) -> Result<WarningView, AppError> {
        let (principal, record) = self.warning_in_scope(actor, id).await?;
        let may = principal.roles.any(&[Role::Supervisor, Role::Leader])
            || (principal.roles.has(Role::UnitHead)
                && principal.unit_kind == UnitKind::PetitionBureau)
            || principal.roles.has(Role::System);
        if !may {
            return Err(AppError::Forbidden(
                "只有督办人员、领导和信访部门负责人可以确认预警".into(),
            ));
        }
        let note = note.trim();
        if note.is_empty() || note.chars().count() > MAX_NOTE {
            return Err(AppError::invalid(
                "note",
                "warning_note",
                format!("请填写处理意见（不超过 {MAX_NOTE} 字）"),
            ));
        }
        if !self
            .store()
            .warning_acknowledge(
                &record.id,
                actor.id.as_str(),
                self.now().timestamp_millis(),
                note,
            )
            .await?
        {
            return Err(AppError::Conflict("这条预警已经确认过了".into()));
        }
        let fresh = self
            .store()
            .warning(&record.id)
            .await?
            .ok_or_else(not_found)?;
        self.warning_view(fresh, MAX_CASES).await
    }

    /// Sends a warning to a broadcast group as 督办情况 (supervision status): its figures in
    /// words, the receipt codes of its cases and the sender's note. The broadcast records the
    /// warning. Leaders and supervisors (the senders of broadcasts) whose scope covers it.
    pub async fn send_warning(
        &self,
        actor: &Actor,
        id: &str,
        group_id: &str,
        note: &str,
    ) -> Result<huiyin_store::Broadcast, AppError> {
        let (_, record) = self.warning_in_scope(actor, id).await?;
        let view = self.warning_view(record, 20).await?;
        let note = note.trim();
        if note.chars().count() > MAX_NOTE {
            return Err(AppError::invalid(
                "note",
                "warning_note",
                format!("附言不超过 {MAX_NOTE} 字"),
            ));
        }
        let place = view
            .region_name
            .clone()
            .unwrap_or_else(|| view.region.clone());
        let mut body = format!(
            "{}（{}，{} 至 {}）：{}。",
            view.kind_label, place, view.window_from, view.window_to, view.summary_zh
        );
        if !view.cases.is_empty() {
            let codes: Vec<&str> = view.cases.iter().map(|c| c.receipt_code.as_str()).collect();
            body.push_str(&format!(
                "\n涉及信访事项{}件：{}",
                view.case_count,
                codes.join("、")
            ));
        }
        if !note.is_empty() {
            body.push_str(&format!("\n{note}"));
        }
        let spec = BroadcastSpec {
            group_id: group_id.to_string(),
            kind: "supervision".into(),
            title: format!("预警：{}（{place}）", view.kind_label),
            body,
            case_id: None,
        };
        self.send_broadcast_about(actor, &spec, Some(view.id.clone()))
            .await
    }
}
