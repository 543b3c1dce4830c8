//! Statistics over HTTP (issue 8, 形势网上判): the indicators of a region or unit for a period,
//! with the previous period and the same period a year before, and how far the counters are
//! behind the event log. The definitions live in `huiyin_domain::stats`; scoping in the app.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use huiyin_app::dashboard::{Drill, DrillPage, Operations, Overview};
use huiyin_app::stats::{IndicatorReport, StatsStatus};
use huiyin_domain::ids::UnitId;
use huiyin_domain::stats::{FigurePart, Target};
use serde::Deserialize;

use crate::error::ApiError;
use crate::{Staff, WebState};

/// The statistics routes, merged into the main router.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/api/v1/stats/indicators", get(indicators))
        .route("/api/v1/stats/status", get(status))
        .route("/api/v1/stats/overview", get(overview))
        .route("/api/v1/stats/operations", get(operations))
        .route("/api/v1/stats/cases", get(cases))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndicatorQuery {
    /// A GB/T 2260 code (`0` for the nation): the region and its subtree.
    #[serde(default)]
    region: Option<String>,
    /// Or one unit.
    #[serde(default)]
    unit: Option<String>,
    from: String,
    to: String,
}

fn date(field: &str, raw: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::field(
            field,
            "date_invalid",
            format!("日期应写作 YYYY-MM-DD，例如 2026-01-31（收到「{raw}」）"),
        )
    })
}

fn target_of(region: Option<&str>, unit: Option<&str>) -> Result<Target, ApiError> {
    Ok(match (region, unit) {
        (Some(region), None) => Target::Region(region.trim().to_string()),
        (None, Some(unit)) => Target::Unit(UnitId::new(unit.trim())),
        _ => {
            return Err(ApiError::field(
                "region",
                "stats_target_required",
                "请给出 region（行政区划代码，0 为全国）或 unit（单位编号）之一",
            ));
        }
    })
}

/// `GET /api/v1/stats/indicators?region=4406&from=2026-01-01&to=2026-06-30`
async fn indicators(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Query(q): Query<IndicatorQuery>,
) -> Result<Json<IndicatorReport>, ApiError> {
    let target = target_of(q.region.as_deref(), q.unit.as_deref())?;
    let from = date("from", &q.from)?;
    let to = date("to", &q.to)?;
    let principal = state.app.principal(&actor).await?;
    let report = state
        .app
        .indicators(&principal, &target, from, to, &state.app.indicator_config())
        .await?;
    Ok(Json(report))
}

/// `GET /api/v1/stats/overview?region=4406&from=…&to=…`: the dashboard's figures.
async fn overview(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Query(q): Query<IndicatorQuery>,
) -> Result<Json<Overview>, ApiError> {
    let target = target_of(q.region.as_deref(), q.unit.as_deref())?;
    let (from, to) = (date("from", &q.from)?, date("to", &q.to)?);
    let principal = state.app.principal(&actor).await?;
    Ok(Json(
        state
            .app
            .overview(&principal, &target, from, to, &state.app.indicator_config())
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AreaQuery {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    unit: Option<String>,
}

/// `GET /api/v1/stats/operations?region=4406`: live counts, due today, overdue by unit.
async fn operations(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Query(q): Query<AreaQuery>,
) -> Result<Json<Operations>, ApiError> {
    let target = target_of(q.region.as_deref(), q.unit.as_deref())?;
    Ok(Json(state.app.operations(&actor, &target).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesQuery {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    unit: Option<String>,
    from: String,
    to: String,
    #[serde(default)]
    indicator: String,
    #[serde(default)]
    part: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    after: String,
}

/// `GET /api/v1/stats/cases?region=…&from=…&to=…&indicator=…&part=…|key=…&after=…`: the
/// cases behind a figure, a page at a time.
async fn cases(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Query(q): Query<CasesQuery>,
) -> Result<Json<DrillPage>, ApiError> {
    let target = target_of(q.region.as_deref(), q.unit.as_deref())?;
    let (from, to) = (date("from", &q.from)?, date("to", &q.to)?);
    let drill = drill_of(&q.indicator, &q.part, &q.key)?;
    Ok(Json(
        state
            .app
            .cases_behind(
                &actor,
                &target,
                &drill,
                from,
                to,
                q.after.trim(),
                &state.app.indicator_config(),
            )
            .await?,
    ))
}

/// What a drill-down asks for: `indicator` (with `part`, numerator by default) or `key`.
pub fn drill_of(indicator: &str, part: &str, key: &str) -> Result<Drill, ApiError> {
    match (indicator.trim(), key.trim()) {
        ("", "") => Err(ApiError::field(
            "indicator",
            "drill_required",
            "请给出指标（indicator 与 part）或统计项（key）",
        )),
        (id, "") => {
            let part = match part.trim() {
                "" | "numerator" => FigurePart::Numerator,
                "denominator" => FigurePart::Denominator,
                other => {
                    return Err(ApiError::field(
                        "part",
                        "part_invalid",
                        format!("part 应为 numerator 或 denominator（收到「{other}」）"),
                    ));
                }
            };
            Ok(Drill::Indicator {
                id: id.to_string(),
                part,
            })
        }
        ("", key) => Ok(Drill::Key(key.to_string())),
        _ => Err(ApiError::field(
            "key",
            "drill_ambiguous",
            "指标（indicator）与统计项（key）只能给出一个",
        )),
    }
}

/// `GET /api/v1/stats/status`: how far the counters are behind the event log.
async fn status(
    State(state): State<WebState>,
    Staff(_actor): Staff,
) -> Result<Json<StatsStatus>, ApiError> {
    Ok(Json(state.app.stats_status().await?))
}

/// The statistics paths of the OpenAPI document.
pub fn document_paths(doc: &mut serde_json::Value) {
    use serde_json::json;

    use crate::openapi::with_errors;
    let bearer = json!([{"bearer": []}]);
    let paths = json!({
        "/api/v1/stats/indicators": {"get": {
            "summary": "Every indicator (及时受理率, 按期办结率, 参评率, 满意率, 重复信访率, 一次性化解率, 网信占比, 越级率, handling days, review outcomes, 12345 rates …) for a region and its subtree or one unit over a period, each with its definition, numerator and denominator, the previous period of the same length and the same period a year before. `value` is null when the denominator is zero. Scoped: a unit's own staff, or staff who see the region (petition bureaus, leaders, supervisors, analysts).",
            "security": bearer,
            "parameters": [
                {"name": "region", "in": "query", "schema": {"type": "string"}, "description": "GB/T 2260 code, 0 for the nation"},
                {"name": "unit", "in": "query", "schema": {"type": "string"}},
                {"name": "from", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}},
                {"name": "to", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}}
            ],
            "responses": with_errors(json!({"200": {"description": "IndicatorReport"}}), &[400, 401, 403, 404, 422])
        }},
        "/api/v1/stats/overview": {"get": {
            "summary": "The dashboard of a region (and its subtree) or unit for a period: every indicator as in /indicators, the volume trend by day (periods up to 62 days) or month beside the same points a year before, volume by channel, statutory class and first-level category (each slice with its counter key and the previous period's count), hot issues (categories growing most, at least 3 cases), the regions one level down and the units of the area with volume, 按期办结率 and 满意率, and live counts of open cases (open, red, yellow, due today). Scoped like /indicators.",
            "security": bearer,
            "parameters": [
                {"name": "region", "in": "query", "schema": {"type": "string"}},
                {"name": "unit", "in": "query", "schema": {"type": "string"}},
                {"name": "from", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}},
                {"name": "to", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}}
            ],
            "responses": with_errors(json!({"200": {"description": "Overview"}}), &[400, 401, 403, 404, 422])
        }},
        "/api/v1/stats/operations": {"get": {
            "summary": "The operations view of a region or unit now: live counts, the open cases due before the end of today (within the caller's case scope), overdue open cases by the unit that must act, and the stalled count.",
            "security": bearer,
            "parameters": [
                {"name": "region", "in": "query", "schema": {"type": "string"}},
                {"name": "unit", "in": "query", "schema": {"type": "string"}}
            ],
            "responses": with_errors(json!({"200": {"description": "Operations"}}), &[400, 401, 403, 404])
        }},
        "/api/v1/stats/cases": {"get": {
            "summary": "The cases behind a figure (drill-down): the cases whose own contributions count in `indicator`'s numerator or denominator (`part`), or in one counter `key` (a breakdown slice such as received.channel.mobile_web), for the target and period. 50 cases a page, at most 5,000 candidates examined per request; `next` is the `after` of the next page. Only cases in the caller's case scope; readers of figures only (analysts) get 403.",
            "security": bearer,
            "parameters": [
                {"name": "region", "in": "query", "schema": {"type": "string"}},
                {"name": "unit", "in": "query", "schema": {"type": "string"}},
                {"name": "from", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}},
                {"name": "to", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}},
                {"name": "indicator", "in": "query", "schema": {"type": "string"}},
                {"name": "part", "in": "query", "schema": {"type": "string", "enum": ["numerator", "denominator"]}},
                {"name": "key", "in": "query", "schema": {"type": "string"}},
                {"name": "after", "in": "query", "schema": {"type": "string"}}
            ],
            "responses": with_errors(json!({"200": {"description": "DrillPage"}}), &[400, 401, 403, 404, 422])
        }},
        "/api/v1/stats/status": {"get": {
            "summary": "How far the statistics counters are behind the event log (fed_seq, head_seq, behind_events; rebuilding: a rebuild of the counters is under way and the figures are incomplete).",
            "security": bearer,
            "responses": with_errors(json!({"200": {"description": "StatsStatus"}}), &[401])
        }}
    });
    crate::openapi::add_paths(doc, paths);
}
