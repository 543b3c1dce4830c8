//! The dashboards (形势网上判): the leader's overview of a region or unit for a period (the
//! headline indicators beside the previous period, open cases by light, the volume trend
//! against a year before, channels, categories, hot issues, the regions one level down as a
//! treemap and the units ranked), the bureau's operations view (due today, overdue by unit,
//! stalled), and the cases behind any figure (drill-down). Charts are Apache ECharts
//! (vendored, `/static/echarts.min.js`), drawn by `staff.js` from data attributes; every chart
//! has its table beside it, so the page reads without JavaScript and every number links to
//! the cases it counts.

use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;
use huiyin_app::dashboard::{Drill, DrillPage, Operations, Overview, Ranked, Slice, region_name};
use huiyin_app::stats::IndicatorRow;
use huiyin_domain::stats::{FigurePart, IndicatorConfig, Target, Unit};
use serde::Deserialize;

use super::inbox::{Row, row_of};
use super::stats::{Asked, Line, StatsQuery, line, presets, resolve};
use super::{Chrome, Signed, app_error_page, signed_at, url_encode};
use crate::WebState;
use crate::error::ApiError;
use crate::pages::i18n::Lang;
use crate::pages::{Ctx, Prefs, render};

/// The indicators shown as tiles at the top of the overview.
const TILES: &[&str] = &[
    "volume",
    "on_time_completion_rate",
    "satisfaction_rate",
    "rating_participation_rate",
    "repeat_rate",
    "online_share",
];

/// A headline figure with the links to the cases behind it.
pub struct Tile {
    pub line: Line,
    /// Cases counted above the line (or the count itself).
    pub numerator_href: String,
    /// Cases it is a share of (rates only).
    pub denominator_href: String,
}

/// One row of a breakdown table.
pub struct SliceRow {
    pub label: String,
    pub value: i64,
    pub before: i64,
    pub share: String,
    pub href: String,
}

/// One row of a ranking (a region one level down, or a unit).
pub struct RankRow {
    pub name: String,
    /// That region's or unit's own overview.
    pub href: String,
    pub received: i64,
    pub received_href: String,
    pub on_time: String,
    pub satisfaction: String,
}

#[derive(askama::Template)]
#[template(path = "staff/dashboard.html")]
struct OverviewPage {
    ctx: Ctx,
    chrome: Chrome,
    region: String,
    unit: String,
    from: String,
    to: String,
    place: String,
    presets: Vec<(String, String)>,
    errors: Vec<String>,
    behind: Option<String>,
    tiles: Vec<Tile>,
    live: Vec<(String, i64, String)>,
    trend: String,
    trend_rows: Vec<(String, i64, i64)>,
    monthly: bool,
    channels: Vec<SliceRow>,
    channels_chart: String,
    categories: Vec<SliceRow>,
    categories_chart: String,
    rising: Vec<SliceRow>,
    places: Vec<RankRow>,
    places_chart: String,
    units: Vec<RankRow>,
    units_chart: String,
    ops_href: String,
    table_href: String,
    shown: bool,
    tab: &'static str,
    /// `?region=…|unit=…[&from=…&to=…]` for the view tabs.
    who: String,
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{:.1}%", v * 100.0))
}

/// `region=…` or `unit=…` and the period, for links.
fn query_of(target: &Target, from: NaiveDate, to: NaiveDate) -> String {
    format!("{}&from={from}&to={to}", who_of(target))
}

/// `region=…` or `unit=…`.
fn who_of(target: &Target) -> String {
    match target {
        Target::Region(r) => format!("region={}", url_encode(r)),
        Target::Unit(u) => format!("unit={}", url_encode(u.as_str())),
    }
}

/// The live counts as (label, number, light class).
fn live_rows(ctx: &Ctx, live: &huiyin_store::LiveCounts) -> Vec<(String, i64, String)> {
    [
        ("staff.dash.open", live.open, ""),
        ("staff.dash.red", live.red, "red"),
        ("staff.dash.yellow", live.yellow, "yellow"),
        ("staff.dash.due_today", live.due_today, ""),
    ]
    .into_iter()
    .map(|(key, n, light)| (ctx.t(key).to_string(), n, light.to_string()))
    .collect()
}

/// A refused request's status on a page: a bad request is shown as 422 beside the form.
fn page_status(e: &ApiError) -> StatusCode {
    if e.status == StatusCode::BAD_REQUEST {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        e.status
    }
}

fn cases_href_indicator(q: &str, id: &str, part: &str) -> String {
    format!("/staff/stats/cases?{q}&indicator={id}&part={part}")
}

fn cases_href_key(q: &str, key: &str) -> String {
    format!("/staff/stats/cases?{q}&key={}", url_encode(key))
}

/// Chart data as a JSON attribute value (askama escapes it for the attribute).
fn chart_json(value: serde_json::Value) -> String {
    value.to_string()
}

fn slice_label(ctx: &Ctx, family: &str, code: &str) -> String {
    match family {
        "channel" | "class" => ctx
            .t_opt(&format!("{family}.{code}"))
            .map_or_else(|| code.to_string(), str::to_string),
        _ => code.to_string(),
    }
}

fn slice_rows(ctx: &Ctx, q: &str, family: &str, slices: &[Slice], total: i64) -> Vec<SliceRow> {
    slices
        .iter()
        .map(|s| SliceRow {
            label: slice_label(ctx, family, &s.code),
            value: s.value,
            before: s.before,
            share: if total > 0 {
                format!("{:.1}%", s.value as f64 * 100.0 / total as f64)
            } else {
                "—".into()
            },
            href: cases_href_key(q, &s.key),
        })
        .collect()
}

fn rank_rows(
    ranked: &[Ranked],
    own_q: impl Fn(&Ranked) -> String,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<RankRow> {
    ranked
        .iter()
        .map(|r| {
            let q = format!("{}&from={from}&to={to}", own_q(r));
            RankRow {
                name: r.name.clone(),
                href: format!("/staff/dashboard?{q}"),
                received: r.received,
                received_href: cases_href_key(&q, "received"),
                on_time: pct(r.on_time),
                satisfaction: pct(r.satisfaction),
            }
        })
        .collect()
}

fn tile(ctx: &Ctx, q: &str, row: &IndicatorRow) -> Tile {
    let numerator_href = cases_href_indicator(q, row.id, "numerator");
    let denominator_href = if row.unit == Unit::Count {
        String::new()
    } else {
        cases_href_indicator(q, row.id, "denominator")
    };
    Tile {
        line: line(ctx, row),
        numerator_href,
        denominator_href,
    }
}

fn place_name(ctx: &Ctx, target: &Target, unit_name: Option<String>) -> String {
    match target {
        Target::Region(code) => region_name(code),
        Target::Unit(u) => {
            unit_name.unwrap_or_else(|| ctx.tf("staff.dash.unit_named", &[("id", u.as_str())]))
        }
    }
}

fn first_error(ctx: &Ctx, e: ApiError) -> String {
    let e = crate::pages::domain_text::localize(ctx.lang, e);
    e.body
        .fields
        .first()
        .map_or_else(|| e.body.message.clone(), |f| f.message.clone())
}

fn overview_page(ctx: Ctx, chrome: Chrome, q: &StatsQuery) -> OverviewPage {
    OverviewPage {
        region: q.region.trim().to_string(),
        unit: q.unit.trim().to_string(),
        from: q.from.clone(),
        to: q.to.clone(),
        place: String::new(),
        presets: Vec::new(),
        errors: Vec::new(),
        behind: None,
        tiles: Vec::new(),
        live: Vec::new(),
        trend: String::new(),
        trend_rows: Vec::new(),
        monthly: false,
        channels: Vec::new(),
        channels_chart: String::new(),
        categories: Vec::new(),
        categories_chart: String::new(),
        rising: Vec::new(),
        places: Vec::new(),
        places_chart: String::new(),
        units: Vec::new(),
        units_chart: String::new(),
        ops_href: String::new(),
        table_href: String::new(),
        shown: false,
        tab: "overview",
        who: String::new(),
        ctx,
        chrome,
    }
}

fn fill(page: &mut OverviewPage, asked: &Asked, o: &Overview, unit_name: Option<String>) {
    let ctx = &page.ctx;
    let q = query_of(&asked.target, asked.from, asked.to);
    page.place = place_name(ctx, &asked.target, unit_name);
    page.from = asked.from.to_string();
    page.to = asked.to.to_string();
    page.region = asked.region.clone();
    page.behind = (o.report.status.behind_events > 0).then(|| {
        ctx.tf(
            "staff.stats.behind",
            &[("n", &o.report.status.behind_events.to_string())],
        )
    });
    page.tiles = TILES
        .iter()
        .filter_map(|id| o.report.indicators.iter().find(|r| r.id == *id))
        .map(|r| tile(ctx, &q, r))
        .collect();
    let who = who_of(&asked.target);
    page.live = live_rows(ctx, &o.live);
    page.ops_href = format!("/staff/dashboard/operations?{who}");
    page.table_href = format!("/staff/stats?{q}");
    page.who = format!("?{q}");
    page.monthly = o.trend.monthly;
    page.trend_rows = o
        .trend
        .labels
        .iter()
        .zip(o.trend.current.iter().zip(o.trend.last_year.iter()))
        .map(|(l, (c, y))| (l.clone(), *c, *y))
        .collect();
    page.trend = chart_json(serde_json::json!({
        "labels": o.trend.labels,
        "series": [
            {"name": ctx.t("staff.dash.this_period"), "data": o.trend.current},
            {"name": ctx.t("staff.stats.c_year"), "data": o.trend.last_year},
        ],
    }));
    let total = o
        .report
        .indicators
        .iter()
        .find(|r| r.id == "volume")
        .and_then(|r| r.current.value)
        .unwrap_or(0.0) as i64;
    page.channels = slice_rows(ctx, &q, "channel", &o.channels, total);
    page.channels_chart = chart_json(serde_json::json!({
        "items": page.channels.iter().map(|r| serde_json::json!({
            "name": r.label, "value": r.value, "href": r.href})).collect::<Vec<_>>(),
    }));
    page.categories = slice_rows(ctx, &q, "category", &o.categories, total);
    page.categories_chart = chart_json(serde_json::json!({
        "items": page.categories.iter().map(|r| serde_json::json!({
            "name": r.label, "value": r.value, "href": r.href})).collect::<Vec<_>>(),
    }));
    page.rising = slice_rows(ctx, &q, "category", &o.rising, total);
    let (from, to) = (asked.from, asked.to);
    page.places = rank_rows(
        &o.places,
        |r| format!("region={}", url_encode(&r.id)),
        from,
        to,
    );
    page.places_chart = chart_json(serde_json::json!({
        "items": page.places.iter().filter(|r| r.received > 0).map(|r| serde_json::json!({
            "name": r.name, "value": r.received, "href": r.href})).collect::<Vec<_>>(),
    }));
    page.units = rank_rows(
        &o.units,
        |r| format!("unit={}", url_encode(&r.id)),
        from,
        to,
    );
    page.units_chart = chart_json(serde_json::json!({
        "items": o.units.iter().zip(page.units.iter()).take(15).map(|(u, r)| serde_json::json!({
            "name": r.name,
            "value": u.on_time.map(|v| (v * 1000.0).round() / 10.0),
            "href": r.href})).collect::<Vec<_>>(),
    }));
    page.presets = presets(
        ctx,
        "/staff/dashboard",
        &asked.region,
        page.unit.as_str(),
        asked.today,
    );
    page.shown = true;
}

/// `GET /staff/dashboard?region=…|unit=…&from=…&to=…`: the leader's overview (总览).
pub async fn overview(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<StatsQuery>,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff/dashboard").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let chrome = signed.chrome(&ctx, "stats");
    let mut page = overview_page(ctx, chrome, &q);
    let asked = match resolve(&state, &signed, &q).await {
        Ok(a) => a,
        Err(e) => {
            page.errors.push(first_error(&page.ctx, e));
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let result = state
        .app
        .overview(
            &asked.principal,
            &asked.target,
            asked.from,
            asked.to,
            &state.app.indicator_config(),
        )
        .await;
    match result {
        Ok(o) => {
            let unit_name = unit_name(&state, &asked.target).await;
            fill(&mut page, &asked, &o, unit_name);
            render(StatusCode::OK, &page)
        }
        Err(e) => {
            let e = ApiError::from(e);
            if e.status.is_server_error() {
                return app_error_page(page.ctx, e);
            }
            let status = page_status(&e);
            page.region = asked.region.clone();
            page.presets = presets(
                &page.ctx,
                "/staff/dashboard",
                &asked.region,
                page.unit.as_str(),
                asked.today,
            );
            page.errors.push(first_error(&page.ctx, e));
            render(status, &page)
        }
    }
}

async fn unit_name(state: &WebState, target: &Target) -> Option<String> {
    match target {
        Target::Unit(u) => state
            .app
            .store()
            .unit(u.as_str())
            .await
            .ok()
            .flatten()
            .map(|u| u.name),
        Target::Region(_) => None,
    }
}

#[derive(askama::Template)]
#[template(path = "staff/operations.html")]
struct OperationsPage {
    ctx: Ctx,
    chrome: Chrome,
    place: String,
    errors: Vec<String>,
    live: Vec<(String, i64, String)>,
    due: Vec<Row>,
    overdue: Vec<(String, i64, String)>,
    overdue_chart: String,
    stalled: i64,
    stalled_words: String,
    overview_href: String,
    shown: bool,
    tab: &'static str,
    who: String,
}

/// `GET /staff/dashboard/operations?region=…|unit=…`: the bureau's operations view (运行).
pub async fn operations(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<StatsQuery>,
) -> Response {
    let (signed, here) =
        match signed_at(&state, &headers, &uri, "/staff/dashboard/operations").await {
            Ok(s) => s,
            Err(r) => return r,
        };
    let ctx = signed.ctx(prefs, here);
    let chrome = signed.chrome(&ctx, "stats");
    let mut page = OperationsPage {
        place: String::new(),
        errors: Vec::new(),
        live: Vec::new(),
        due: Vec::new(),
        overdue: Vec::new(),
        overdue_chart: String::new(),
        stalled: 0,
        stalled_words: String::new(),
        overview_href: String::new(),
        shown: false,
        tab: "operations",
        who: String::new(),
        ctx,
        chrome,
    };
    let asked = match resolve(&state, &signed, &q).await {
        Ok(a) => a,
        Err(e) => {
            page.errors.push(first_error(&page.ctx, e));
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    match state.app.operations(&signed.actor, &asked.target).await {
        Ok(ops) => {
            let unit_name = unit_name(&state, &asked.target).await;
            let now_ms = state.app.now().timestamp_millis();
            fill_operations(&mut page, &asked, &ops, unit_name, now_ms);
            render(StatusCode::OK, &page)
        }
        Err(e) => {
            let e = ApiError::from(e);
            if e.status.is_server_error() {
                return app_error_page(page.ctx, e);
            }
            let status = e.status;
            page.errors.push(first_error(&page.ctx, e));
            render(status, &page)
        }
    }
}

fn fill_operations(
    page: &mut OperationsPage,
    asked: &Asked,
    ops: &Operations,
    unit: Option<String>,
    now_ms: i64,
) {
    let ctx = &page.ctx;
    page.place = place_name(ctx, &asked.target, unit);
    page.live = live_rows(ctx, &ops.live);
    page.due = ops
        .due_today
        .iter()
        .map(|c| row_of(ctx, c.clone(), now_ms))
        .collect();
    page.overdue = ops
        .overdue_by_unit
        .iter()
        .map(|(id, name, n)| {
            (
                name.clone(),
                *n,
                format!("/staff/dashboard/operations?unit={}", url_encode(id)),
            )
        })
        .collect();
    page.overdue_chart = chart_json(serde_json::json!({
        "items": page.overdue.iter().map(|(name, n, href)| serde_json::json!({
            "name": name, "value": n, "href": href})).collect::<Vec<_>>(),
    }));
    page.stalled = ops.stalled;
    page.stalled_words = ctx.tf(
        "staff.dash.stalled_n",
        &[
            ("n", &ops.stalled.to_string()),
            ("days", &ops.stalled_days.to_string()),
        ],
    );
    let who = who_of(&asked.target);
    page.overview_href = format!("/staff/dashboard?{who}");
    page.who = format!("?{who}");
    page.shown = true;
}

#[derive(Debug, Default, Deserialize)]
pub struct CasesQuery {
    #[serde(flatten)]
    pub stats: StatsQuery,
    #[serde(default)]
    pub indicator: String,
    #[serde(default)]
    pub part: String,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub after: String,
}

#[derive(askama::Template)]
#[template(path = "staff/stats_cases.html")]
struct CasesPage {
    ctx: Ctx,
    chrome: Chrome,
    heading: String,
    place: String,
    period: String,
    errors: Vec<String>,
    rows: Vec<Row>,
    examined: String,
    next: String,
    back: String,
    shown: bool,
}

/// `GET /staff/stats/cases?region=…|unit=…&from=…&to=…&indicator=…&part=…|key=…&after=…`:
/// the cases behind a figure.
pub async fn cases(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<CasesQuery>,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff/stats/cases").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let chrome = signed.chrome(&ctx, "stats");
    let mut page = CasesPage {
        heading: ctx.t("staff.dash.cases_title").to_string(),
        place: String::new(),
        period: String::new(),
        errors: Vec::new(),
        rows: Vec::new(),
        examined: String::new(),
        next: String::new(),
        back: "/staff/dashboard".into(),
        shown: false,
        ctx,
        chrome,
    };
    let asked = resolve(&state, &signed, &q.stats).await;
    let drill = crate::stats::drill_of(&q.indicator, &q.part, &q.key);
    let (asked, drill) = match (asked, drill) {
        (Ok(a), Ok(d)) => (a, d),
        (Err(e), _) | (_, Err(e)) => {
            page.errors.push(first_error(&page.ctx, e));
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let result = drill_page(&state, &signed, &asked, &drill, q.after.trim()).await;
    match result {
        Ok(p) => {
            let query = query_of(&asked.target, asked.from, asked.to);
            page.heading = heading(&page.ctx, &drill, &state.app.indicator_config());
            page.place = place_name(
                &page.ctx,
                &asked.target,
                unit_name(&state, &asked.target).await,
            );
            page.period = format!("{} – {}", asked.from, asked.to);
            page.back = format!("/staff/dashboard?{query}");
            page.examined = page
                .ctx
                .tf("staff.dash.examined", &[("n", &p.examined.to_string())]);
            if let Some(next) = &p.next {
                let what = match &drill {
                    Drill::Indicator { id, part } => format!(
                        "indicator={id}&part={}",
                        match part {
                            FigurePart::Numerator => "numerator",
                            FigurePart::Denominator => "denominator",
                        }
                    ),
                    Drill::Key(k) => format!("key={}", url_encode(k)),
                };
                page.next = format!(
                    "/staff/stats/cases?{query}&{what}&after={}",
                    url_encode(next)
                );
            }
            let now_ms = state.app.now().timestamp_millis();
            page.rows = p
                .rows
                .into_iter()
                .map(|r| row_of(&page.ctx, r, now_ms))
                .collect();
            page.shown = true;
            render(StatusCode::OK, &page)
        }
        Err(e) => {
            if e.status.is_server_error() {
                return app_error_page(page.ctx, e);
            }
            let status = page_status(&e);
            page.errors.push(first_error(&page.ctx, e));
            render(status, &page)
        }
    }
}

async fn drill_page(
    state: &WebState,
    signed: &Signed,
    asked: &Asked,
    drill: &Drill,
    after: &str,
) -> Result<DrillPage, ApiError> {
    Ok(state
        .app
        .cases_behind(
            &signed.actor,
            &asked.target,
            drill,
            asked.from,
            asked.to,
            after,
            &state.app.indicator_config(),
        )
        .await?)
}

/// "按期办结率 · 分子：期内按期办结的件" and the like.
fn heading(ctx: &Ctx, drill: &Drill, config: &IndicatorConfig) -> String {
    match drill {
        Drill::Indicator { id, part } => {
            let cat = huiyin_domain::stats::catalogue(config);
            let name = cat
                .iter()
                .find(|i| i.id == id)
                .map(|i| match ctx.lang {
                    Lang::Zh => i.name_zh,
                    Lang::En => i.name_en,
                })
                .unwrap_or(id.as_str());
            let part = match part {
                FigurePart::Numerator => ctx.t("staff.dash.numerator"),
                FigurePart::Denominator => ctx.t("staff.dash.denominator"),
            };
            format!("{name} · {part}")
        }
        Drill::Key(key) => {
            let (family, code) = key
                .strip_prefix("received.channel.")
                .map(|c| ("channel", c))
                .or_else(|| key.strip_prefix("received.class.").map(|c| ("class", c)))
                .or_else(|| {
                    key.strip_prefix("received.category.")
                        .map(|c| ("category", c))
                })
                .unwrap_or(("", key.as_str()));
            let label = if key == "received" {
                ctx.t("staff.dash.received").to_string()
            } else {
                slice_label(ctx, family, code)
            };
            ctx.tf("staff.dash.cases_of", &[("what", &label)])
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct AnnualQuery {
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub year: String,
}

/// One line of a table of the annual report.
pub struct ReportLine {
    pub label: String,
    pub value: i64,
    pub share: String,
    pub before: i64,
    pub change: String,
}

#[derive(askama::Template)]
#[template(path = "staff/annual.html")]
struct AnnualPage {
    ctx: Ctx,
    chrome: Chrome,
    region: String,
    unit: String,
    year: String,
    years: Vec<(i32, String)>,
    place: String,
    errors: Vec<String>,
    shown: bool,
    volume: i64,
    volume_before: i64,
    volume_change: String,
    online: String,
    channels: Vec<ReportLine>,
    classes: Vec<ReportLine>,
    categories: Vec<ReportLine>,
    organs: Vec<RankRow>,
    forwarded: i64,
    assigned: i64,
    bureau_handled: i64,
    supervision_orders: i64,
    supervised_cases: i64,
    circulars: i64,
    suggestions: i64,
    handling: Vec<(String, String, String)>,
    tab: &'static str,
    who: String,
    xlsx: String,
}

fn change(now: i64, before: i64) -> String {
    if before == 0 {
        "—".into()
    } else {
        format!("{:+.1}%", (now - before) as f64 * 100.0 / before as f64)
    }
}

fn report_lines(ctx: &Ctx, family: &str, slices: &[Slice], total: i64) -> Vec<ReportLine> {
    slices
        .iter()
        .map(|s| ReportLine {
            label: slice_label(ctx, family, &s.code),
            value: s.value,
            share: if total > 0 {
                format!("{:.1}%", s.value as f64 * 100.0 / total as f64)
            } else {
                "—".into()
            },
            before: s.before,
            change: change(s.value, s.before),
        })
        .collect()
}

/// `GET /staff/stats/annual?region=…|unit=…&year=…`: the annual report (年度信访工作报告,
/// 《信访工作条例》第四十一条), print-ready; last year by default.
pub async fn annual(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<AnnualQuery>,
) -> Response {
    use chrono::Datelike;
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff/stats/annual").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let chrome = signed.chrome(&ctx, "stats");
    let this_year = state
        .app
        .now()
        .with_timezone(&super::forms::cst())
        .date_naive()
        .year();
    let mut page = AnnualPage {
        region: q.region.trim().to_string(),
        unit: q.unit.trim().to_string(),
        year: q.year.trim().to_string(),
        years: (this_year - 5..=this_year)
            .rev()
            .map(|y| (y, y.to_string()))
            .collect(),
        place: String::new(),
        errors: Vec::new(),
        shown: false,
        volume: 0,
        volume_before: 0,
        volume_change: String::new(),
        online: String::new(),
        channels: Vec::new(),
        classes: Vec::new(),
        categories: Vec::new(),
        organs: Vec::new(),
        forwarded: 0,
        assigned: 0,
        bureau_handled: 0,
        supervision_orders: 0,
        supervised_cases: 0,
        circulars: 0,
        suggestions: 0,
        handling: Vec::new(),
        tab: "annual",
        who: String::new(),
        xlsx: String::new(),
        ctx,
        chrome,
    };
    let (asked, year, r) = match annual_of(&state, &signed, &q, this_year).await {
        Ok(x) => x,
        Err(e) => {
            if e.status.is_server_error() {
                return app_error_page(page.ctx, e);
            }
            let status = page_status(&e);
            page.errors.push(first_error(&page.ctx, e));
            return render(status, &page);
        }
    };
    page.year = year.to_string();
    page.region = asked.region.clone();
    page.who = format!("?{}", who_of(&asked.target));
    page.xlsx = format!(
        "/staff/stats/annual.xlsx?{}&year={year}",
        who_of(&asked.target)
    );
    let unit_name = unit_name(&state, &asked.target).await;
    let ctx = &page.ctx;
    page.place = place_name(ctx, &asked.target, unit_name);
    let figure = |id: &str| r.overview.report.indicators.iter().find(|i| i.id == id);
    let volume = figure("volume");
    page.volume = volume.and_then(|v| v.current.value).unwrap_or(0.0) as i64;
    page.volume_before = volume.and_then(|v| v.last_year.value).unwrap_or(0.0) as i64;
    page.volume_change = change(page.volume, page.volume_before);
    page.online = figure("online_share")
        .map(|f| line(ctx, f).current)
        .unwrap_or_default();
    page.channels = report_lines(ctx, "channel", &r.overview.channels, page.volume);
    page.classes = report_lines(ctx, "class", &r.overview.classes, page.volume);
    page.categories = report_lines(ctx, "category", &r.overview.categories, page.volume);
    let (from, to) = (asked.from, asked.to);
    page.organs = rank_rows(
        &r.organs,
        |o| format!("unit={}", url_encode(&o.id)),
        from,
        to,
    );
    page.forwarded = r.forwarded;
    page.assigned = r.assigned;
    page.bureau_handled = r.bureau_handled;
    page.supervision_orders = r.supervision_orders;
    page.supervised_cases = r.supervised_cases;
    page.circulars = r.circulars;
    page.suggestions = r.suggestions;
    page.handling = [
        "timely_acceptance_rate",
        "on_time_completion_rate",
        "on_time_answer_rate",
        "rating_participation_rate",
        "satisfaction_rate",
        "first_time_resolution_rate",
        "repeat_rate",
        "review_rate",
        "review_revocation_rate",
        "mean_handling_days",
    ]
    .iter()
    .filter_map(|id| figure(id))
    .map(|row| {
        let l = line(ctx, row);
        (l.name, l.current, l.basis)
    })
    .collect();
    page.shown = true;
    render(StatusCode::OK, &page)
}

/// The report asked for: the target, the year (last year without one) and its figures.
async fn annual_of(
    state: &WebState,
    signed: &Signed,
    q: &AnnualQuery,
    this_year: i32,
) -> Result<(Asked, i32, huiyin_app::dashboard::AnnualReport), ApiError> {
    let year = match q.year.trim() {
        "" => this_year - 1,
        raw => raw
            .parse::<i32>()
            .map_err(|_| ApiError::field("year", "year_format", "年度应写作四位数字，例如 2025"))?,
    };
    let sq = StatsQuery {
        region: q.region.clone(),
        unit: q.unit.clone(),
        from: format!("{year:04}-01-01"),
        to: format!("{year:04}-12-31"),
    };
    let asked = resolve(state, signed, &sq).await?;
    let report = state
        .app
        .annual_report(
            &asked.principal,
            &asked.target,
            year,
            &state.app.indicator_config(),
        )
        .await?;
    Ok((asked, year, report))
}

const ANNUAL_COLUMNS: &[huiyin_app::export::Column] = &[
    huiyin_app::export::Column {
        zh: "部分",
        en: "Part",
        width: 22.0,
    },
    huiyin_app::export::Column {
        zh: "项目",
        en: "Item",
        width: 30.0,
    },
    huiyin_app::export::Column {
        zh: "本年",
        en: "This year",
        width: 12.0,
    },
    huiyin_app::export::Column {
        zh: "占比",
        en: "Share",
        width: 10.0,
    },
    huiyin_app::export::Column {
        zh: "上年",
        en: "Last year",
        width: 12.0,
    },
    huiyin_app::export::Column {
        zh: "同比",
        en: "Change",
        width: 10.0,
    },
];

/// `GET /staff/stats/annual.xlsx?region=…|unit=…&year=…`: the annual report as a workbook
/// (one sheet, a row per figure, the sections of the page in the first column); audited like
/// every export.
pub async fn annual_xlsx(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<AnnualQuery>,
) -> Response {
    use chrono::Datelike;
    use huiyin_app::export::{Cell, ExportFormat, ExportSpec, Rows};
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff/stats/annual").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let this_year = state
        .app
        .now()
        .with_timezone(&super::forms::cst())
        .date_naive()
        .year();
    let (asked, year, r) = match annual_of(&state, &signed, &q, this_year).await {
        Ok(x) => x,
        Err(e) => return app_error_page(ctx, e),
    };
    let figure = |id: &str| r.overview.report.indicators.iter().find(|i| i.id == id);
    let volume = figure("volume")
        .and_then(|v| v.current.value)
        .unwrap_or(0.0) as i64;
    let before = figure("volume")
        .and_then(|v| v.last_year.value)
        .unwrap_or(0.0) as i64;
    let count = |n: i64| Cell::Number(n as f64);
    let mut rows: Vec<Vec<Cell>> = vec![vec![
        Cell::from("一、信访事项数据统计"),
        Cell::from("信访总量"),
        count(volume),
        Cell::Empty,
        count(before),
        Cell::from(change(volume, before)),
    ]];
    for (part, family, lines) in [
        ("一、按渠道", "channel", &r.overview.channels),
        ("一、按法定类别", "class", &r.overview.classes),
        ("二、涉及领域", "category", &r.overview.categories),
    ] {
        for l in report_lines(&ctx, family, lines, volume) {
            rows.push(vec![
                Cell::from(part),
                Cell::from(l.label),
                count(l.value),
                Cell::from(l.share),
                count(l.before),
                Cell::from(l.change),
            ]);
        }
    }
    for o in &r.organs {
        rows.push(vec![
            Cell::from("三、被投诉较多的机关"),
            Cell::from(o.name.clone()),
            count(o.received),
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
        ]);
    }
    for (label, n) in [
        ("转送", r.forwarded),
        ("交办", r.assigned),
        ("信访部门直接办理", r.bureau_handled),
        ("督办单", r.supervision_orders),
        ("督办涉及件数", r.supervised_cases),
        ("通报", r.circulars),
        ("建议意见类信访事项", r.suggestions),
    ] {
        rows.push(vec![
            Cell::from("四、转送、交办、督办"),
            Cell::from(label),
            count(n),
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
        ]);
    }
    for row in &r.overview.report.indicators {
        if row.id == "volume" {
            continue;
        }
        let l = line(&ctx, row);
        rows.push(vec![
            Cell::from("五、办理情况"),
            Cell::from(row.name_zh),
            Cell::from(l.current),
            Cell::from(l.basis),
            Cell::from(l.last_year),
            Cell::Empty,
        ]);
    }
    let spec = ExportSpec {
        list: "annual_report".into(),
        filters: uri.query().unwrap_or("").to_string(),
        format: ExportFormat::Xlsx,
        sheet: format!("{year}年度报告"),
        columns: ANNUAL_COLUMNS.to_vec(),
        english: false,
    };
    let name = match &asked.target {
        Target::Region(code) => format!("huiyin-annual-{code}-{year}.xlsx"),
        Target::Unit(u) => format!("huiyin-annual-{}-{year}.xlsx", u.as_str()),
    };
    match state
        .app
        .export_now(&signed.actor, &spec, Rows(Some(rows)))
        .await
    {
        Ok((bytes, _, _)) => {
            super::exports::attachment(ExportFormat::Xlsx, &name, axum::body::Body::from(bytes))
        }
        Err(e) => app_error_page(ctx, e.into()),
    }
}
