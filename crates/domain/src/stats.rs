//! 形势网上判: the figures leaders read, each defined once.
//!
//! Two halves, both pure:
//!
//! - **What a case contributes.** [`contributions`] turns one case's current state into additive
//!   counter entries: a `(target, day, key)` and a value. A target is a region prefix (the nation
//!   `0`, the province, the city, the county and, where known, the township of the petition) or
//!   a unit (the receiving bureau and the unit handling the case). The day is the China-time date
//!   the measure belongs to — the day of receipt for volumes, the day of the reply for handling
//!   and rating measures (so that "rated ÷ rateable" compares one cohort), the day of the step for
//!   timeliness. Because the entries are a function of the state, a store keeps counters
//!   incremental by adding [`delta`]`(before, after)` in the same transaction as the events, and
//!   a full recomputation is the sum of [`contributions`] over every case: the two must agree.
//! - **What an indicator means.** [`catalogue`] lists every indicator with its formula over those
//!   counters (numerator, denominator, weights) and a one-line definition a leader can defend;
//!   [`evaluate`] computes it from the counters summed over a target and period. The weights and
//!   choices that practice does not settle (domain.md §5) are an [`IndicatorConfig`].
//!
//! Figures that depend on "now" rather than on events (lights, what is overdue today) are not
//! counters: they come from the live case projection.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::case::{
    CaseState, Decision, LinkRelation, ReviewOutcome, RouteKind, Satisfaction, Stage,
};
use crate::clock::Deadline;
use crate::ids::UnitId;
use crate::petition::Channel;
use crate::policy::ClockKind;
use crate::values::RegionCode;
use crate::{CHINA_OFFSET, Instant};

/// Where a counter belongs: a region (and, by prefix, everything under it) or one unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Target {
    /// A GB/T 2260 prefix: `0` (the nation), 2, 4, 6 or 9 digits.
    Region(String),
    /// A unit: the receiving bureau or the handling unit.
    Unit(UnitId),
}

impl Target {
    /// A stable text form for storage: `r:4406`, `u:xfj-4406`.
    pub fn key(&self) -> String {
        match self {
            Target::Region(code) => format!("r:{code}"),
            Target::Unit(unit) => format!("u:{}", unit.as_str()),
        }
    }
}

/// One additive counter entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entry {
    pub target: Target,
    /// The China-time date the measure belongs to.
    pub day: NaiveDate,
    /// The counter, e.g. `received`, `received.channel.mobile_web`, `handling.on_time`.
    pub key: String,
    pub value: i64,
}

/// Counter keys. Each is documented where the indicators use it (see [`catalogue`]).
pub mod keys {
    pub const RECEIVED: &str = "received";
    pub const ONLINE: &str = "received.online";
    pub const ONLINE_MOBILE: &str = "received.online.mobile";
    pub const CHANNEL: &str = "received.channel.";
    pub const CLASS: &str = "received.class.";
    pub const CATEGORY: &str = "received.category.";
    pub const SKIP_LEVEL: &str = "received.skip_level";
    pub const VISITS: &str = "received.visits";
    pub const REPEAT: &str = "received.repeat";
    pub const GROUP: &str = "received.group";
    pub const MULTI_ADDRESSED: &str = "received.multi_addressed";
    pub const FORWARDED: &str = "routed.forward";
    pub const ASSIGNED: &str = "routed.assign";
    pub const BUREAU_HANDLED: &str = "routed.bureau";
    pub const ROUTE_DONE: &str = "register_route.done";
    pub const ROUTE_ON_TIME: &str = "register_route.on_time";
    pub const ACCEPTANCE_DONE: &str = "acceptance.done";
    pub const ACCEPTANCE_ON_TIME: &str = "acceptance.on_time";
    pub const ACCEPTED: &str = "acceptance.accepted";
    pub const DECLINED: &str = "acceptance.declined";
    pub const WITHDRAWN: &str = "closed.withdrawn";
    pub const MERGED: &str = "closed.merged";
    pub const REPLIED: &str = "handling.replied";
    pub const REPLIED_ON_TIME: &str = "handling.on_time";
    pub const EXTENDED: &str = "handling.extended";
    pub const HANDLING_MS: &str = "handling.ms";
    /// `handling.days.N`: replies N whole days after acceptance (N capped at [`super::HISTOGRAM_DAYS`]).
    pub const HANDLING_DAYS: &str = "handling.days.";
    pub const DECISION: &str = "handling.decision.";
    pub const ANSWERS_DUE: &str = "answers.done";
    pub const ANSWERS_ON_TIME: &str = "answers.on_time";
    pub const RATEABLE: &str = "rating.rateable";
    pub const RATED: &str = "rating.rated";
    pub const UNIT_RATING: &str = "rating.unit.";
    pub const BUREAU_RATING: &str = "rating.bureau.";
    pub const RESOLVED_FIRST_TIME: &str = "handling.resolved_first_time";
    pub const REVIEW_REQUESTED: &str = "review.requested";
    pub const REVIEW_OUTCOME: &str = "review.outcome.";
    pub const REREVIEW_REQUESTED: &str = "rereview.requested";
    pub const REREVIEW_OUTCOME: &str = "rereview.outcome.";
}

/// Handling-day histograms count days 0..=HISTOGRAM_DAYS; longer handling counts in the last bin.
pub const HISTOGRAM_DAYS: i64 = 180;

/// What the contributions need besides the case itself.
#[derive(Debug, Clone, Copy)]
pub struct CaseContext<'a> {
    /// The case's deadlines under its resolved policy (see [`CaseState::deadlines`]).
    pub deadlines: &'a [Deadline],
    /// The region of the receiving bureau, for 越级 (skip-level visits), when known.
    pub bureau_region: Option<&'a RegionCode>,
}

fn day_of(at: Instant) -> NaiveDate {
    at.with_timezone(&CHINA_OFFSET).date_naive()
}

/// The level of a region code: 0 nation, 1 province, 2 city, 3 county, 4 township.
pub fn region_level(code: &str) -> u8 {
    match code.len() {
        2 => 1,
        4 => 2,
        6 => 3,
        9 => 4,
        _ => 0,
    }
}

/// The region targets a petition's place counts under: the nation and every prefix level.
pub fn region_targets(region: &RegionCode) -> Vec<String> {
    let code = region.as_str();
    let mut out = vec!["0".to_string()];
    for len in [2usize, 4, 6, 9] {
        if code.len() >= len && code != "0" {
            out.push(code[..len].to_string());
        }
    }
    out
}

fn satisfaction_code(s: Satisfaction) -> &'static str {
    match s {
        Satisfaction::Satisfied => "satisfied",
        Satisfaction::BasicallySatisfied => "basically_satisfied",
        Satisfaction::Unsatisfied => "unsatisfied",
    }
}

fn decision_code(d: Decision) -> &'static str {
    match d {
        Decision::Support => "support",
        Decision::Explain => "explain",
        Decision::NotSupport => "not_support",
    }
}

fn outcome_code(o: ReviewOutcome) -> &'static str {
    match o {
        ReviewOutcome::Uphold => "uphold",
        ReviewOutcome::Revoke => "revoke",
        ReviewOutcome::Change => "change",
    }
}

/// A timed step: its clock, whether it was done, and its done / on-time counters.
type Step<'k> = (ClockKind, bool, Option<(&'k str, &'k str)>);

fn deadline_of<'a>(ctx: &CaseContext<'a>, kind: ClockKind) -> Option<&'a Deadline> {
    ctx.deadlines.iter().find(|d| d.kind == kind)
}

/// The counter entries one case contributes, as of its current state. Entries with the same
/// target, day and key are summed; zero values are left out.
pub fn contributions(state: &CaseState, ctx: &CaseContext<'_>) -> Vec<Entry> {
    // Measures first, as (day, key, value); then every measure goes to every target.
    let mut measures: Vec<(NaiveDate, String, i64)> = Vec::new();
    let mut add = |day: NaiveDate, key: &str, value: i64| {
        if value != 0 {
            measures.push((day, key.to_string(), value));
        }
    };
    let petition = &state.petition;
    let received = day_of(state.received_at);

    add(received, keys::RECEIVED, 1);
    if petition.channel.is_online() {
        add(received, keys::ONLINE, 1);
        if petition.channel == Channel::MobileWeb {
            add(received, keys::ONLINE_MOBILE, 1);
        }
    }
    add(
        received,
        &format!("{}{}", keys::CHANNEL, petition.channel.as_str()),
        1,
    );
    if let Some(class) = state.class.or(petition.class) {
        add(received, &format!("{}{}", keys::CLASS, class.code()), 1);
    }
    if let Some(category) = state.category.as_deref().or(petition.category.as_deref()) {
        // Only the first level counts here; a category path is written `l1/l2/l3`.
        let l1 = category.split('/').next().unwrap_or(category).trim();
        if !l1.is_empty() {
            add(received, &format!("{}{}", keys::CATEGORY, l1), 1);
        }
    }
    if petition.channel == Channel::Visit {
        add(received, keys::VISITS, 1);
        if let Some(bureau_region) = ctx.bureau_region {
            // 依法逐级走访: the petitioner's own level or the next one up. A visit to an organ two
            // or more levels above the place of the matter skips levels (越级).
            let own = region_level(petition.region.as_str()).min(3);
            let bureau = region_level(bureau_region.as_str());
            if own >= bureau + 2 {
                add(received, keys::SKIP_LEVEL, 1);
            }
        }
    }
    if state.links.iter().any(|l| {
        matches!(
            l.relation,
            LinkRelation::Repeat | LinkRelation::RepeatAfterConclusion
        )
    }) {
        add(received, keys::REPEAT, 1);
    }
    if state
        .links
        .iter()
        .any(|l| l.relation == LinkRelation::MultiAddressed)
        || !petition.also_sent_to.is_empty()
    {
        add(received, keys::MULTI_ADDRESSED, 1);
    }
    if petition.group_headcount.is_some_and(|n| n >= 5)
        || state
            .links
            .iter()
            .any(|l| l.relation == LinkRelation::Group)
    {
        add(received, keys::GROUP, 1);
    }
    if let Some(routing) = &state.routing {
        let key = match routing.kind {
            RouteKind::Forward => keys::FORWARDED,
            RouteKind::Assign { .. } => keys::ASSIGNED,
            RouteKind::Bureau => keys::BUREAU_HANDLED,
        };
        add(received, key, 1);
    }

    // Timeliness of the steps, on the day each step was done. A timer also stops when a case
    // ends otherwise (withdrawn, merged): only a step actually done counts.
    let accepted_or_declined = state.accepted_at.is_some() || state.stage == Stage::Declined;
    // A reply stands while handling is stopped; a 交办 reply whose completion report was sent
    // back is handled again and counts once it is answered anew.
    let reply_stands = state.replied_at.is_some()
        && deadline_of(ctx, ClockKind::Handling).is_some_and(|d| d.stopped_at.is_some());
    let steps: [Step<'_>; 5] = [
        (
            ClockKind::RegisterRoute,
            state.routing.is_some(),
            Some((keys::ROUTE_DONE, keys::ROUTE_ON_TIME)),
        ),
        (
            ClockKind::AcceptanceNotice,
            accepted_or_declined,
            Some((keys::ACCEPTANCE_DONE, keys::ACCEPTANCE_ON_TIME)),
        ),
        (
            ClockKind::Handling,
            reply_stands,
            Some((keys::REPLIED, keys::REPLIED_ON_TIME)),
        ),
        (
            ClockKind::ReviewDecision,
            state.review_outcome.is_some(),
            None,
        ),
        (
            ClockKind::RereviewDecision,
            state.rereview_outcome.is_some(),
            None,
        ),
    ];
    for (kind, done, step_keys) in steps {
        let Some(d) = deadline_of(ctx, kind).filter(|_| done) else {
            continue;
        };
        let (Some(stopped), Some(met)) = (d.stopped_at, d.met) else {
            continue;
        };
        let day = day_of(stopped);
        if let Some((done_key, on_time_key)) = step_keys {
            add(day, done_key, 1);
            add(day, on_time_key, i64::from(met));
        }
        // Written answers to the petitioner: the register/route step is internal.
        if kind != ClockKind::RegisterRoute {
            add(day, keys::ANSWERS_DUE, 1);
            add(day, keys::ANSWERS_ON_TIME, i64::from(met));
        }
    }
    let mut push = |day: NaiveDate, key: &str, value: i64| add(day, key, value);

    let acceptance_day = deadline_of(ctx, ClockKind::AcceptanceNotice)
        .and_then(|d| d.stopped_at)
        .map(day_of);
    if let Some(day) = acceptance_day {
        if state.accepted_at.is_some() {
            push(day, keys::ACCEPTED, 1);
        }
        if state.stage == Stage::Declined {
            push(day, keys::DECLINED, 1);
        }
    }
    match state.stage {
        Stage::Withdrawn => push(day_of(state.updated_at), keys::WITHDRAWN, 1),
        Stage::Merged => push(day_of(state.updated_at), keys::MERGED, 1),
        _ => {}
    }

    // The reply and what follows it, on the day of the reply (one cohort).
    if let Some(replied_at) = state.replied_at.filter(|_| reply_stands) {
        let day = day_of(replied_at);
        if state.extensions_granted > 0 {
            push(day, keys::EXTENDED, 1);
        }
        if let Some(accepted_at) = state.accepted_at {
            let ms = (replied_at - accepted_at).num_milliseconds().max(0);
            push(day, keys::HANDLING_MS, ms);
            let days = (ms / (24 * 60 * 60 * 1000)).min(HISTOGRAM_DAYS);
            push(day, &format!("{}{days}", keys::HANDLING_DAYS), 1);
        }
        if let Some(opinion) = &state.opinion {
            push(
                day,
                &format!("{}{}", keys::DECISION, decision_code(opinion.decision)),
                1,
            );
        }
        if !petition.anonymous {
            push(day, keys::RATEABLE, 1);
        }
        if let Some((bureau, unit)) = state.rating {
            push(day, keys::RATED, 1);
            push(
                day,
                &format!("{}{}", keys::UNIT_RATING, satisfaction_code(unit)),
                1,
            );
            push(
                day,
                &format!("{}{}", keys::BUREAU_RATING, satisfaction_code(bureau)),
                1,
            );
        }
        let reviewed = state.review_unit.is_some();
        let unsatisfied = matches!(state.rating, Some((_, Satisfaction::Unsatisfied)));
        if !reviewed && !unsatisfied && state.merged_into.is_none() {
            push(day, keys::RESOLVED_FIRST_TIME, 1);
        }
        if reviewed {
            push(day, keys::REVIEW_REQUESTED, 1);
        }
        if let Some(outcome) = state.review_outcome {
            push(
                day,
                &format!("{}{}", keys::REVIEW_OUTCOME, outcome_code(outcome)),
                1,
            );
        }
        if state.rereview_unit.is_some() {
            push(day, keys::REREVIEW_REQUESTED, 1);
        }
        if let Some(outcome) = state.rereview_outcome {
            push(
                day,
                &format!("{}{}", keys::REREVIEW_OUTCOME, outcome_code(outcome)),
                1,
            );
        }
    }

    let mut targets: Vec<Target> = region_targets(&petition.region)
        .into_iter()
        .map(Target::Region)
        .collect();
    targets.push(Target::Unit(state.bureau.clone()));
    if let Some(unit) = state.handling_unit()
        && *unit != state.bureau
    {
        targets.push(Target::Unit(unit.clone()));
    }

    let mut sums: BTreeMap<(Target, NaiveDate, String), i64> = BTreeMap::new();
    for target in &targets {
        for (day, key, value) in &measures {
            *sums.entry((target.clone(), *day, key.clone())).or_insert(0) += value;
        }
    }
    collect(sums)
}

fn collect(sums: BTreeMap<(Target, NaiveDate, String), i64>) -> Vec<Entry> {
    sums.into_iter()
        .filter(|(_, v)| *v != 0)
        .map(|((target, day, key), value)| Entry {
            target,
            day,
            key,
            value,
        })
        .collect()
}

/// What to add to the counters when a case goes from `before` (none for a new case) to
/// `after`: the entries of `after` minus those of `before`, zeros left out.
pub fn delta(before: &[Entry], after: &[Entry]) -> Vec<Entry> {
    let mut sums: BTreeMap<(Target, NaiveDate, String), i64> = BTreeMap::new();
    for e in after {
        *sums
            .entry((e.target.clone(), e.day, e.key.clone()))
            .or_insert(0) += e.value;
    }
    for e in before {
        *sums
            .entry((e.target.clone(), e.day, e.key.clone()))
            .or_insert(0) -= e.value;
    }
    collect(sums)
}

/// Adds entries into running totals (by target, day and key), as a store's counter table does.
pub fn accumulate(totals: &mut BTreeMap<(Target, NaiveDate, String), i64>, entries: &[Entry]) {
    for e in entries {
        let slot = totals
            .entry((e.target.clone(), e.day, e.key.clone()))
            .or_insert(0);
        *slot += e.value;
        if *slot == 0 {
            totals.remove(&(e.target.clone(), e.day, e.key.clone()));
        }
    }
}

/// Whether `p` may read the statistics of `region` (and its subtree): staff who see their
/// unit's region subtree (petition bureaus, leaders, supervisors), and analysts and auditors,
/// for regions within their unit's region. [`crate::access::authorize`] with
/// [`crate::access::Action::ReadStatistics`] decides the role first.
pub fn sees_region_statistics(p: &crate::access::Principal, region: &RegionCode) -> bool {
    use crate::case::Role;
    let sees = p.roles.has(Role::System)
        || p.sees_region()
        || p.roles.any(&[Role::Analyst, Role::Auditor]);
    sees && (p.roles.has(Role::System) || p.region_covers(region))
}

/// The choices practice does not settle, per deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IndicatorConfig {
    /// How much a 基本满意 counts in 满意率 (1.0 = as 满意, 0.0 = not at all). Default 0.9.
    pub basically_satisfied_weight: f64,
    /// 12345-style composite: weights of 响应率, 解决率 and 满意率 (default 0.1 / 0.5 / 0.4).
    pub hotline_weights: [f64; 3],
    /// Which decisions of a 信访处理意见书 count as resolved for 解决率 (default: 支持).
    pub resolved_decisions: Vec<Decision>,
}

impl Default for IndicatorConfig {
    fn default() -> Self {
        Self {
            basically_satisfied_weight: 0.9,
            hotline_weights: [0.1, 0.5, 0.4],
            resolved_decisions: vec![Decision::Support],
        }
    }
}

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl IndicatorConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let w = self.basically_satisfied_weight;
        if !(0.0..=1.0).contains(&w) {
            return Err(ConfigError(format!(
                "基本满意的权重应在0到1之间（现为{w}）"
            )));
        }
        if self
            .hotline_weights
            .iter()
            .any(|w| !(0.0..=1.0).contains(w))
        {
            return Err(ConfigError(
                "响应率、解决率、满意率的权重应在0到1之间".into(),
            ));
        }
        let sum: f64 = self.hotline_weights.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            return Err(ConfigError(format!(
                "响应率、解决率、满意率的权重之和应为1（现为{sum}）"
            )));
        }
        if self.resolved_decisions.is_empty() {
            return Err(ConfigError("至少要有一种处理意见算作已解决".into()));
        }
        Ok(())
    }
}

/// What an indicator measures in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Count,
    /// A share, 0.0–1.0, shown as a percentage.
    Share,
    Days,
}

/// How an indicator is computed from the counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Formula {
    /// The sum of one counter.
    Count { key: String },
    /// Σ weight × counter over Σ weight × counter.
    Ratio {
        numerator: Vec<(String, f64)>,
        denominator: Vec<(String, f64)>,
    },
    /// A sum in milliseconds over a count, in days.
    MeanDays { sum_ms: String, count: String },
    /// The median of a day histogram (`prefix` + N).
    MedianDays { prefix: String },
    /// Σ weight × another indicator (each a share).
    Weighted { parts: Vec<(String, f64)> },
}

/// One indicator: an id, its names, its formula and its definition in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicator {
    pub id: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub unit: Unit,
    pub formula: Formula,
    /// The definition a leader can defend: what is counted, over what, on which day.
    pub definition_zh: &'static str,
}

fn k(key: &str) -> String {
    key.to_string()
}

fn ratio(num: &[(&str, f64)], den: &[(&str, f64)]) -> Formula {
    Formula::Ratio {
        numerator: num.iter().map(|(k, w)| (k.to_string(), *w)).collect(),
        denominator: den.iter().map(|(k, w)| (k.to_string(), *w)).collect(),
    }
}

/// Every indicator under `config`. Ids are stable (they name the figures in the API).
pub fn catalogue(config: &IndicatorConfig) -> Vec<Indicator> {
    let bw = config.basically_satisfied_weight;
    let sat = format!("{}satisfied", keys::UNIT_RATING);
    let basic = format!("{}basically_satisfied", keys::UNIT_RATING);
    let bsat = format!("{}satisfied", keys::BUREAU_RATING);
    let bbasic = format!("{}basically_satisfied", keys::BUREAU_RATING);
    let resolved: Vec<(String, f64)> = config
        .resolved_decisions
        .iter()
        .map(|d| (format!("{}{}", keys::DECISION, decision_code(*d)), 1.0))
        .collect();
    let [w_response, w_resolve, w_satisfy] = config.hotline_weights;
    vec![
        Indicator {
            id: "volume",
            name_zh: "信访总量",
            name_en: "Volume",
            unit: Unit::Count,
            formula: Formula::Count {
                key: k(keys::RECEIVED),
            },
            definition_zh: "期内收到的信访件数（按收到日期）",
        },
        Indicator {
            id: "timely_acceptance_rate",
            name_zh: "及时受理率",
            name_en: "Timely acceptance rate",
            unit: Unit::Share,
            formula: ratio(
                &[(keys::ACCEPTANCE_ON_TIME, 1.0)],
                &[(keys::ACCEPTANCE_DONE, 1.0)],
            ),
            definition_zh: "期内作出受理或不予受理告知的件中，在法定15日内告知的比例（按告知日期）",
        },
        Indicator {
            id: "timely_routing_rate",
            name_zh: "按期登记转送率",
            name_en: "On-time registration and routing",
            unit: Unit::Share,
            formula: ratio(&[(keys::ROUTE_ON_TIME, 1.0)], &[(keys::ROUTE_DONE, 1.0)]),
            definition_zh: "期内转送、交办或自办的件中，在登记转送时限内完成的比例（按转送日期）",
        },
        Indicator {
            id: "on_time_completion_rate",
            name_zh: "按期办结率",
            name_en: "On-time completion rate",
            unit: Unit::Share,
            formula: ratio(&[(keys::REPLIED_ON_TIME, 1.0)], &[(keys::REPLIED, 1.0)]),
            definition_zh: "期内出具信访处理意见书的件中，在办理期限（含批准的延期）内办结的比例（按答复日期）",
        },
        Indicator {
            id: "on_time_answer_rate",
            name_zh: "按期答复率",
            name_en: "On-time answer rate",
            unit: Unit::Share,
            formula: ratio(&[(keys::ANSWERS_ON_TIME, 1.0)], &[(keys::ANSWERS_DUE, 1.0)]),
            definition_zh: "期内向信访人作出的书面答复（受理告知、处理意见、复查意见、复核意见）中按期的比例（按答复日期）",
        },
        Indicator {
            id: "rating_participation_rate",
            name_zh: "参评率",
            name_en: "Rating participation",
            unit: Unit::Share,
            formula: ratio(&[(keys::RATED, 1.0)], &[(keys::RATEABLE, 1.0)]),
            definition_zh: "期内答复的实名件中，信访人作出评价的比例（按答复日期）",
        },
        Indicator {
            id: "satisfaction_rate",
            name_zh: "满意率",
            name_en: "Satisfaction (responsible unit)",
            unit: Unit::Share,
            formula: Formula::Ratio {
                numerator: vec![(sat.clone(), 1.0), (basic.clone(), bw)],
                denominator: vec![(k(keys::RATED), 1.0)],
            },
            definition_zh: "对责任单位的评价中，满意加权基本满意所占比例（按答复日期；基本满意权重可配置）",
        },
        Indicator {
            id: "bureau_satisfaction_rate",
            name_zh: "信访部门满意率",
            name_en: "Satisfaction (petition bureau)",
            unit: Unit::Share,
            formula: Formula::Ratio {
                numerator: vec![(bsat, 1.0), (bbasic, bw)],
                denominator: vec![(k(keys::RATED), 1.0)],
            },
            definition_zh: "对信访部门的评价中，满意加权基本满意所占比例（双满意之一）",
        },
        Indicator {
            id: "repeat_rate",
            name_zh: "重复信访率",
            name_en: "Repeat rate",
            unit: Unit::Share,
            formula: ratio(&[(keys::REPEAT, 1.0)], &[(keys::RECEIVED, 1.0)]),
            definition_zh: "期内收到的件中，被关联为同一信访人重复信访的比例（按收到日期，计在重复的那一件上）",
        },
        Indicator {
            id: "first_time_resolution_rate",
            name_zh: "一次性化解率",
            name_en: "Resolved first time",
            unit: Unit::Share,
            formula: ratio(&[(keys::RESOLVED_FIRST_TIME, 1.0)], &[(keys::REPLIED, 1.0)]),
            definition_zh: "期内答复的件中，未申请复查、对责任单位未评不满意、未被并单的比例（按答复日期）",
        },
        Indicator {
            id: "online_share",
            name_zh: "网信占比",
            name_en: "Online share",
            unit: Unit::Share,
            formula: ratio(&[(keys::ONLINE, 1.0)], &[(keys::RECEIVED, 1.0)]),
            definition_zh: "期内收到的件中，网上（网页、手机、系统接口）提交的比例",
        },
        Indicator {
            id: "mobile_share_of_online",
            name_zh: "网信中手机占比",
            name_en: "Phone share of online",
            unit: Unit::Share,
            formula: ratio(&[(keys::ONLINE_MOBILE, 1.0)], &[(keys::ONLINE, 1.0)]),
            definition_zh: "网上提交的件中，从手机提交的比例",
        },
        Indicator {
            id: "skip_level_rate",
            name_zh: "越级率",
            name_en: "Skip-level visits",
            unit: Unit::Share,
            formula: ratio(&[(keys::SKIP_LEVEL, 1.0)], &[(keys::VISITS, 1.0)]),
            definition_zh: "期内来访中，到事项发生地上两级或更高层级机关走访的比例（依法逐级走访）",
        },
        Indicator {
            id: "mean_handling_days",
            name_zh: "平均办理天数",
            name_en: "Mean handling days",
            unit: Unit::Days,
            formula: Formula::MeanDays {
                sum_ms: k(keys::HANDLING_MS),
                count: k(keys::REPLIED),
            },
            definition_zh: "期内答复的件，从受理到出具处理意见书的平均自然日数",
        },
        Indicator {
            id: "median_handling_days",
            name_zh: "办理天数中位数",
            name_en: "Median handling days",
            unit: Unit::Days,
            formula: Formula::MedianDays {
                prefix: k(keys::HANDLING_DAYS),
            },
            definition_zh: "期内答复的件，从受理到出具处理意见书的整日数的中位数",
        },
        Indicator {
            id: "review_rate",
            name_zh: "复查率",
            name_en: "Review rate",
            unit: Unit::Share,
            formula: ratio(&[(keys::REVIEW_REQUESTED, 1.0)], &[(keys::REPLIED, 1.0)]),
            definition_zh: "期内答复的件中，信访人申请复查的比例（按答复日期）",
        },
        Indicator {
            id: "review_revocation_rate",
            name_zh: "复查撤销变更率",
            name_en: "Reviews revoking or changing",
            unit: Unit::Share,
            formula: Formula::Ratio {
                numerator: vec![
                    (format!("{}revoke", keys::REVIEW_OUTCOME), 1.0),
                    (format!("{}change", keys::REVIEW_OUTCOME), 1.0),
                ],
                denominator: vec![
                    (format!("{}uphold", keys::REVIEW_OUTCOME), 1.0),
                    (format!("{}revoke", keys::REVIEW_OUTCOME), 1.0),
                    (format!("{}change", keys::REVIEW_OUTCOME), 1.0),
                ],
            },
            definition_zh: "作出复查意见的件中，撤销或变更原处理意见的比例",
        },
        Indicator {
            id: "rereview_rate",
            name_zh: "复核率",
            name_en: "Re-review rate",
            unit: Unit::Share,
            formula: ratio(&[(keys::REREVIEW_REQUESTED, 1.0)], &[(keys::REPLIED, 1.0)]),
            definition_zh: "期内答复的件中，经复查后又申请复核的比例（按答复日期）",
        },
        Indicator {
            id: "rereview_revocation_rate",
            name_zh: "复核撤销变更率",
            name_en: "Re-reviews revoking or changing",
            unit: Unit::Share,
            formula: Formula::Ratio {
                numerator: vec![
                    (format!("{}revoke", keys::REREVIEW_OUTCOME), 1.0),
                    (format!("{}change", keys::REREVIEW_OUTCOME), 1.0),
                ],
                denominator: vec![
                    (format!("{}uphold", keys::REREVIEW_OUTCOME), 1.0),
                    (format!("{}revoke", keys::REREVIEW_OUTCOME), 1.0),
                    (format!("{}change", keys::REREVIEW_OUTCOME), 1.0),
                ],
            },
            definition_zh: "作出复核意见的件中，撤销或变更复查意见的比例",
        },
        Indicator {
            id: "hotline_response_rate",
            name_zh: "响应率",
            name_en: "Response rate (12345)",
            unit: Unit::Share,
            formula: ratio(&[(keys::ROUTE_ON_TIME, 1.0)], &[(keys::ROUTE_DONE, 1.0)]),
            definition_zh: "12345口径：期内派转的件中按时派转（响应）的比例",
        },
        Indicator {
            id: "hotline_resolution_rate",
            name_zh: "解决率",
            name_en: "Resolution rate (12345)",
            unit: Unit::Share,
            formula: Formula::Ratio {
                numerator: resolved,
                denominator: vec![(k(keys::REPLIED), 1.0)],
            },
            definition_zh: "12345口径：期内办结的件中，处理意见属于“已解决”（默认：支持）的比例",
        },
        Indicator {
            id: "hotline_composite",
            name_zh: "12345综合评价",
            name_en: "12345 composite",
            unit: Unit::Share,
            formula: Formula::Weighted {
                parts: vec![
                    ("hotline_response_rate".into(), w_response),
                    ("hotline_resolution_rate".into(), w_resolve),
                    ("satisfaction_rate".into(), w_satisfy),
                ],
            },
            definition_zh: "响应率、解决率、满意率的加权和（权重可配置，默认0.1/0.5/0.4）",
        },
    ]
}

/// Which part of a figure the cases behind it are asked for (drill-down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FigurePart {
    /// The cases counted above the line (e.g. replied on time).
    Numerator,
    /// The cases it is a share of (e.g. all replied).
    Denominator,
}

/// The counters one part of a figure is read from (weight ≠ 0). A key that ends in `.` stands
/// for every counter it begins (a day histogram). A count's denominator is the count itself;
/// mean and median handling days count the replies they average over; a weighted composite
/// reads its parts' counters.
pub fn figure_keys(
    indicator: &Indicator,
    part: FigurePart,
    catalogue: &[Indicator],
) -> Vec<String> {
    let listed = |parts: &[(String, f64)]| -> Vec<String> {
        parts
            .iter()
            .filter(|(_, w)| *w != 0.0)
            .map(|(k, _)| k.clone())
            .collect()
    };
    let mut out = match (&indicator.formula, part) {
        (Formula::Count { key }, _) => vec![key.clone()],
        (Formula::Ratio { numerator, .. }, FigurePart::Numerator) => listed(numerator),
        (Formula::Ratio { denominator, .. }, FigurePart::Denominator) => listed(denominator),
        (Formula::MeanDays { count, .. }, _) => vec![count.clone()],
        (Formula::MedianDays { prefix }, _) => vec![prefix.clone()],
        (Formula::Weighted { parts }, part) => parts
            .iter()
            .filter(|(_, w)| *w != 0.0)
            .filter_map(|(id, _)| catalogue.iter().find(|i| i.id == id))
            .filter(|i| !matches!(i.formula, Formula::Weighted { .. }))
            .flat_map(|i| figure_keys(i, part, catalogue))
            .collect(),
    };
    out.sort();
    out.dedup();
    out
}

/// Whether a counter `key` is one of `keys` (a key ending in `.` matches every key it begins).
pub fn key_matches(keys: &[String], key: &str) -> bool {
    keys.iter().any(|k| {
        if k.ends_with('.') {
            key.starts_with(k.as_str())
        } else {
            k == key
        }
    })
}

/// The counter families a drill-down may ask for by key (breakdowns such as
/// `received.channel.web`): the prefixes of [`keys`].
pub fn is_counter_key(key: &str) -> bool {
    const FAMILIES: &[&str] = &[
        "received",
        "routed.",
        "register_route.",
        "acceptance.",
        "closed.",
        "handling.",
        "answers.",
        "rating.",
        "review.",
        "rereview.",
    ];
    !key.is_empty()
        && key.chars().count() <= 120
        && !key.chars().any(char::is_control)
        && FAMILIES.iter().any(|f| {
            key == *f
                || (key.starts_with(f) && (f.ends_with('.') || key[f.len()..].starts_with('.')))
        })
}

/// One computed figure, with what it was computed from (so every figure can be explained).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub id: &'static str,
    /// `None` when the denominator is zero (no data, not 0 %).
    pub value: Option<f64>,
    pub numerator: f64,
    pub denominator: f64,
}

/// Counter sums over one target and period, by key.
pub type Totals = BTreeMap<String, i64>;

fn weighted(totals: &Totals, parts: &[(String, f64)]) -> f64 {
    parts
        .iter()
        .map(|(key, w)| w * totals.get(key).copied().unwrap_or(0) as f64)
        .sum()
}

/// Computes `indicator` from `totals` (the catalogue is needed for weighted composites).
pub fn evaluate(indicator: &Indicator, totals: &Totals, catalogue: &[Indicator]) -> Figure {
    let (value, numerator, denominator) = match &indicator.formula {
        Formula::Count { key } => {
            let n = totals.get(key).copied().unwrap_or(0) as f64;
            (Some(n), n, 1.0)
        }
        Formula::Ratio {
            numerator,
            denominator,
        } => {
            let n = weighted(totals, numerator);
            let d = weighted(totals, denominator);
            ((d > 0.0).then(|| n / d), n, d)
        }
        Formula::MeanDays { sum_ms, count } => {
            let n = totals.get(sum_ms).copied().unwrap_or(0) as f64 / 86_400_000.0;
            let d = totals.get(count).copied().unwrap_or(0) as f64;
            ((d > 0.0).then(|| n / d), n, d)
        }
        Formula::MedianDays { prefix } => {
            let mut bins: Vec<(i64, i64)> = totals
                .iter()
                .filter_map(|(key, n)| {
                    key.strip_prefix(prefix.as_str())
                        .and_then(|d| d.parse::<i64>().ok())
                        .map(|d| (d, *n))
                })
                .collect();
            bins.sort_unstable();
            let count: i64 = bins.iter().map(|(_, n)| n).sum();
            let value = median_of_bins(&bins, count);
            (value, value.unwrap_or(0.0), count as f64)
        }
        Formula::Weighted { parts } => {
            let mut sum = 0.0;
            let mut complete = true;
            for (id, w) in parts {
                let part = catalogue
                    .iter()
                    .find(|i| i.id == id)
                    .filter(|i| !matches!(i.formula, Formula::Weighted { .. }))
                    .map(|i| evaluate(i, totals, catalogue).value);
                match part {
                    Some(Some(v)) => sum += w * v,
                    _ => complete = false,
                }
            }
            (complete.then_some(sum), sum, 1.0)
        }
    };
    Figure {
        id: indicator.id,
        value,
        numerator,
        denominator,
    }
}

/// The median of a sorted histogram of `count` values: the middle value, or the mean of the
/// two middle ones.
fn median_of_bins(bins: &[(i64, i64)], count: i64) -> Option<f64> {
    if count == 0 {
        return None;
    }
    let nth = |rank: i64| -> i64 {
        let mut seen = 0;
        for (value, n) in bins {
            seen += n;
            if seen > rank {
                return *value;
            }
        }
        bins.last().map(|(v, _)| *v).unwrap_or(0)
    };
    if count % 2 == 1 {
        Some(nth(count / 2) as f64)
    } else {
        Some((nth(count / 2 - 1) + nth(count / 2)) as f64 / 2.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn totals(pairs: &[(&str, i64)]) -> Totals {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn find<'a>(cat: &'a [Indicator], id: &str) -> &'a Indicator {
        cat.iter()
            .find(|i| i.id == id)
            .unwrap_or_else(|| panic!("{id}"))
    }

    #[test]
    fn a_figure_names_the_counters_behind_each_part() {
        let cat = catalogue(&IndicatorConfig::default());
        let on_time = find(&cat, "on_time_completion_rate");
        assert_eq!(
            figure_keys(on_time, FigurePart::Numerator, &cat),
            vec![keys::REPLIED_ON_TIME.to_string()]
        );
        assert_eq!(
            figure_keys(on_time, FigurePart::Denominator, &cat),
            vec![keys::REPLIED.to_string()]
        );
        // 满意率: satisfied and basically satisfied above the line, every rated unit below.
        let sat = figure_keys(find(&cat, "satisfaction_rate"), FigurePart::Numerator, &cat);
        assert!(
            sat.contains(&"rating.unit.satisfied".to_string()),
            "{sat:?}"
        );
        assert!(sat.contains(&"rating.unit.basically_satisfied".to_string()));
        assert!(!sat.contains(&"rating.unit.unsatisfied".to_string()));
        // A basically-satisfied weight of 0 leaves those cases out of the numerator.
        let strict = catalogue(&IndicatorConfig {
            basically_satisfied_weight: 0.0,
            ..IndicatorConfig::default()
        });
        let sat = figure_keys(
            find(&strict, "satisfaction_rate"),
            FigurePart::Numerator,
            &strict,
        );
        assert!(!sat.contains(&"rating.unit.basically_satisfied".to_string()));
        // The median reads the whole histogram; a composite its parts.
        let median = figure_keys(
            find(&cat, "median_handling_days"),
            FigurePart::Denominator,
            &cat,
        );
        assert_eq!(median, vec![keys::HANDLING_DAYS.to_string()]);
        assert!(key_matches(&median, "handling.days.12"));
        assert!(!key_matches(&median, "handling.replied"));
        let composite = figure_keys(find(&cat, "hotline_composite"), FigurePart::Numerator, &cat);
        assert!(composite.len() >= 3, "{composite:?}");
    }

    #[test]
    fn drill_down_keys_are_counter_families_only() {
        assert!(is_counter_key("received"));
        assert!(is_counter_key("received.channel.web"));
        assert!(is_counter_key("received.category.城乡建设"));
        assert!(is_counter_key("handling.on_time"));
        assert!(!is_counter_key("receivedx"));
        assert!(!is_counter_key("users.password"));
        assert!(!is_counter_key(""));
        assert!(!is_counter_key(&"received.".repeat(30)));
        assert!(!is_counter_key("received.\n"));
        assert!(!is_counter_key("received.a\u{0}"));
    }

    #[test]
    fn satisfaction_weighs_basically_satisfied_by_the_config() {
        let t = totals(&[
            ("rating.rated", 10),
            ("rating.unit.satisfied", 6),
            ("rating.unit.basically_satisfied", 2),
            ("rating.unit.unsatisfied", 2),
        ]);
        let cat = catalogue(&IndicatorConfig::default());
        let f = evaluate(find(&cat, "satisfaction_rate"), &t, &cat);
        assert!((f.value.unwrap() - 0.78).abs() < 1e-9, "{f:?}");
        let cfg = IndicatorConfig {
            basically_satisfied_weight: 1.0,
            ..IndicatorConfig::default()
        };
        let cat = catalogue(&cfg);
        let f = evaluate(find(&cat, "satisfaction_rate"), &t, &cat);
        assert!((f.value.unwrap() - 0.8).abs() < 1e-9);
    }

    #[test]
    fn an_empty_denominator_is_no_figure_not_zero() {
        let cat = catalogue(&IndicatorConfig::default());
        let f = evaluate(find(&cat, "on_time_completion_rate"), &Totals::new(), &cat);
        assert_eq!(f.value, None);
        let f = evaluate(find(&cat, "hotline_composite"), &Totals::new(), &cat);
        assert_eq!(f.value, None);
    }

    #[test]
    fn median_of_a_histogram() {
        let cat = catalogue(&IndicatorConfig::default());
        let m = find(&cat, "median_handling_days");
        let t = totals(&[("handling.days.3", 2), ("handling.days.10", 1)]);
        assert_eq!(evaluate(m, &t, &cat).value, Some(3.0));
        let t = totals(&[("handling.days.3", 2), ("handling.days.10", 2)]);
        assert_eq!(evaluate(m, &t, &cat).value, Some(6.5));
        let t = totals(&[("handling.days.12", 1)]);
        assert_eq!(evaluate(m, &t, &cat).value, Some(12.0));
    }

    #[test]
    fn composite_follows_the_weights() {
        let t = totals(&[
            ("register_route.done", 10),
            ("register_route.on_time", 10),
            ("handling.replied", 4),
            ("handling.decision.support", 2),
            ("rating.rated", 4),
            ("rating.unit.satisfied", 4),
        ]);
        let cat = catalogue(&IndicatorConfig::default());
        let f = evaluate(find(&cat, "hotline_composite"), &t, &cat);
        // 0.1 × 1.0 + 0.5 × 0.5 + 0.4 × 1.0
        assert!((f.value.unwrap() - 0.75).abs() < 1e-9, "{f:?}");
    }

    #[test]
    fn config_is_validated() {
        assert!(IndicatorConfig::default().validate().is_ok());
        let bad = IndicatorConfig {
            hotline_weights: [0.5, 0.5, 0.5],
            ..IndicatorConfig::default()
        };
        assert!(bad.validate().unwrap_err().0.contains("之和应为1"));
        let bad = IndicatorConfig {
            basically_satisfied_weight: 1.5,
            ..IndicatorConfig::default()
        };
        assert!(bad.validate().is_err());
        let bad = IndicatorConfig {
            resolved_decisions: vec![],
            ..IndicatorConfig::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn region_targets_cover_every_level() {
        let r = RegionCode::parse("440604001").unwrap();
        assert_eq!(
            region_targets(&r),
            vec!["0", "44", "4406", "440604", "440604001"]
        );
        let r = RegionCode::parse("4406").unwrap();
        assert_eq!(region_targets(&r), vec!["0", "44", "4406"]);
    }

    #[test]
    fn indicator_ids_are_unique() {
        let cat = catalogue(&IndicatorConfig::default());
        let mut ids: Vec<_> = cat.iter().map(|i| i.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), cat.len());
    }
}
