//! Statistics over HTTP (issue 8, 形势网上判): the indicators of a region or unit for a period,
//! with the previous period and the same period a year before, and how far the counters are
//! behind the event log. The definitions live in `huiyin_domain::stats`; scoping in the app.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use huiyin_app::stats::{IndicatorReport, StatsStatus};
use huiyin_domain::ids::UnitId;
use huiyin_domain::stats::{IndicatorConfig, Target};
use serde::Deserialize;

use crate::error::ApiError;
use crate::{Staff, WebState};

/// The statistics routes, merged into the main router.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/api/v1/stats/indicators", get(indicators))
        .route("/api/v1/stats/status", get(status))
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

/// `GET /api/v1/stats/indicators?region=4406&from=2026-01-01&to=2026-06-30`
async fn indicators(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Query(q): Query<IndicatorQuery>,
) -> Result<Json<IndicatorReport>, ApiError> {
    let target = match (q.region.as_deref(), q.unit.as_deref()) {
        (Some(region), None) => Target::Region(region.trim().to_string()),
        (None, Some(unit)) => Target::Unit(UnitId::new(unit.trim())),
        _ => {
            return Err(ApiError::field(
                "region",
                "stats_target_required",
                "请给出 region（行政区划代码，0 为全国）或 unit（单位编号）之一",
            ));
        }
    };
    let from = date("from", &q.from)?;
    let to = date("to", &q.to)?;
    let principal = state.app.principal(&actor).await?;
    let report = state
        .app
        .indicators(&principal, &target, from, to, &IndicatorConfig::default())
        .await?;
    Ok(Json(report))
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
        "/api/v1/stats/status": {"get": {
            "summary": "How far the statistics counters are behind the event log (fed_seq, head_seq, behind_events).",
            "security": bearer,
            "responses": with_errors(json!({"200": {"description": "StatsStatus"}}), &[401])
        }}
    });
    if let (Some(target), serde_json::Value::Object(new)) =
        (doc.get_mut("paths").and_then(|p| p.as_object_mut()), paths)
    {
        target.extend(new);
    }
}
