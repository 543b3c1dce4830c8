//! Early warnings over HTTP (预警, issue 8): the warnings in the caller's scope. The rules,
//! the scan and the scoping live in `huiyin_app::warnings`.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use huiyin_app::warnings::{WarningQuery, WarningView};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::{Staff, WebState};

/// The early-warning routes, merged into the main router.
pub fn routes() -> Router<WebState> {
    Router::new().route("/api/v1/warnings", get(list))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// `spike`, `group`, `repeat_petitioner` or `falling_unit`.
    #[serde(default)]
    kind: Option<String>,
    /// A GB/T 2260 prefix within the caller's scope.
    #[serde(default)]
    region: Option<String>,
    /// `open` or `acknowledged`.
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

#[derive(Serialize)]
struct ListAnswer {
    items: Vec<WarningView>,
}

/// `GET /api/v1/warnings?kind=spike&region=4406&status=open`
async fn list(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Query(q): Query<ListQuery>,
) -> Result<Json<ListAnswer>, ApiError> {
    let items = state
        .app
        .warnings(
            &actor,
            &WarningQuery {
                kind: q.kind,
                region: q.region,
                status: q.status,
                limit: q.limit.unwrap_or(100).clamp(1, 500),
            },
        )
        .await?;
    Ok(Json(ListAnswer { items }))
}

/// The early-warning paths of the OpenAPI document.
pub fn document_paths(doc: &mut serde_json::Value) {
    use serde_json::json;

    use crate::openapi::with_errors;
    let paths = json!({
        "/api/v1/warnings": {"get": {
            "summary": "Early warnings (预警) in the caller's scope, open first, newest first: spikes of a first-level category at one county against the 28 days before, possible group petitions (near-identical texts from five or more petitioners at one place in 7 days), petitioners with three or more unresolved matters in 90 days, units whose 按期办结率 or 满意率 fell 15 points or more against last month. Each with its window, figures (`figures`, by kind), a summary in Chinese, the cases it links to, its status and acknowledgement, and the broadcasts sent about it. Scoped: petition-bureau staff, leaders and supervisors see their unit's region subtree; unit heads their unit's own warnings; others get 403.",
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["spike", "group", "repeat_petitioner", "falling_unit"]}},
                {"name": "region", "in": "query", "schema": {"type": "string"}, "description": "GB/T 2260 prefix (2, 4, 6 or 9 digits, or 0)"},
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "acknowledged"]}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}}
            ],
            "responses": with_errors(json!({"200": {"description": "{items: [WarningView]}"}}), &[400, 401, 403, 422])
        }}
    });
    crate::openapi::add_paths(doc, paths);
}
