//! The job queue and notification endpoints (issue 6): dead letters and their retry, queue
//! counts and notification templates for administrators; a case's delivery log for staff who
//! may read the case; a petitioner's in-app inbox (站内信).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use huiyin_domain::ids::CaseId;
use serde::Deserialize;

use crate::error::ApiError;
use crate::input::parse_json;
use crate::{Staff, WebState};

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/api/v1/admin/jobs", get(counts))
        .route("/api/v1/admin/jobs/dead", get(dead))
        .route("/api/v1/admin/jobs/{id}/retry", post(retry))
        .route(
            "/api/v1/admin/notice-templates/{step}/{locale}/{format}",
            put(save_template),
        )
        .route("/api/v1/cases/{id}/deliveries", get(deliveries))
        .route("/api/v1/public/my-inbox", get(my_inbox))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadQuery {
    limit: Option<i64>,
    /// Keyset: only dead letters that died before this instant (ms).
    before_ms: Option<i64>,
}

async fn counts(
    State(state): State<WebState>,
    Staff(actor): Staff,
) -> Result<Json<huiyin_store::JobCounts>, ApiError> {
    Ok(Json(state.app.job_counts(&actor).await?))
}

async fn dead(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Query(q): Query<DeadQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            "limit_out_of_range",
            "每页条数应为1到1000",
        ));
    }
    let items = state.app.dead_jobs(&actor, q.before_ms, limit).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

async fn retry(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.retry_dead_job(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateInput {
    body: String,
}

async fn save_template(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Path((step, locale, format)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let input: TemplateInput = parse_json(&body)?;
    state
        .app
        .save_notice_template(&actor, &step, &locale, &format, &input.body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deliveries(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let items = state.app.deliveries(&actor, &CaseId::new(id)).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

async fn my_inbox(State(state): State<WebState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let name = crate::auth::petitioner_cookie_name(crate::auth::is_secure(&state, &headers));
    let Some(id) = crate::auth::cookie(&headers, name) else {
        return Err(ApiError::unauthorized("请先用手机号和短信验证码验证身份"));
    };
    let items = state.app.my_inbox(&id).await?;
    let mut response = Json(serde_json::json!({ "items": items })).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}
