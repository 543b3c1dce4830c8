//! Full-text search over HTTP (issue 7): `GET /api/v1/search` for staff, scoped by the access
//! policy inside the query; `GET /api/v1/search/places` (search-as-you-type for the place
//! filter) and `GET /api/v1/search/status` (how far behind the event log the index is).
//! Handlers are thin; the rules live in `huiyin_app::search` and `huiyin_search`.

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use chrono::NaiveDate;
use huiyin_app::search::{
    FacetValue, LightFilter, PublicSearchAnswer, SearchAnswer, SearchRequest, SearchStatus,
    SortOrder,
};
use serde::Deserialize;

use crate::error::ApiError;
use crate::{Staff, WebState};

/// The search routes, merged into the main router.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/api/v1/search", get(search))
        .route("/api/v1/search/places", get(places))
        .route("/api/v1/search/status", get(status))
        .route("/api/v1/public/search", get(public_search))
}

/// The query string of the public search.
#[derive(Debug, Default, Deserialize)]
pub struct PublicSearchParams {
    #[serde(default)]
    pub q: Option<String>,
    pub sort: Option<String>,
    pub offset: Option<String>,
    pub limit: Option<String>,
}

impl PublicSearchParams {
    /// The words, order, offset and page size, checked.
    pub fn parts(&self) -> Result<(String, SortOrder, usize, usize), ApiError> {
        Ok((
            self.q.clone().unwrap_or_default(),
            sort_order(&self.sort)?,
            number("offset", &self.offset, 0)?,
            number("limit", &self.limit, 10)?,
        ))
    }
}

/// 网上公开: the published replies (petitioner consent, masked), for anyone; rate-limited.
async fn public_search(
    State(state): State<WebState>,
    crate::ClientIp(ip): crate::ClientIp,
    Query(params): Query<PublicSearchParams>,
) -> Result<Json<PublicSearchAnswer>, ApiError> {
    crate::limited(&state, ip)?;
    let (q, sort, offset, limit) = params.parts()?;
    Ok(Json(
        state.app.public_search(&q, sort, offset, limit).await?,
    ))
}

/// The query string of a search; every value is read as text and checked here, so a bad
/// value gets a field error, not a bare rejection.
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    pub q: Option<String>,
    pub stage: Option<String>,
    pub unit: Option<String>,
    pub region: Option<String>,
    pub category: Option<String>,
    pub class: Option<String>,
    pub channel: Option<String>,
    /// `YYYY-MM-DD`, inclusive (China time).
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive (China time).
    pub to: Option<String>,
    pub light: Option<String>,
    pub rating: Option<String>,
    pub open: Option<String>,
    /// `relevance` (default), `newest`, `oldest`.
    pub sort: Option<String>,
    pub offset: Option<String>,
    pub limit: Option<String>,
}

/// `relevance` (default), `newest` or `oldest`.
fn sort_order(v: &Option<String>) -> Result<SortOrder, ApiError> {
    match nonempty(v).as_deref() {
        None | Some("relevance") => Ok(SortOrder::Relevance),
        Some("newest") => Ok(SortOrder::Newest),
        Some("oldest") => Ok(SortOrder::Oldest),
        Some(_) => Err(ApiError::field(
            "sort",
            "sort_unknown",
            "排序应为 relevance、newest 或 oldest",
        )),
    }
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Midnight China time (UTC+8) of a `YYYY-MM-DD` day, in ms.
fn day_ms(field: &str, v: &str) -> Result<i64, ApiError> {
    let day = NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::field(
            field,
            "date_invalid",
            format!("日期「{v}」格式应为 YYYY-MM-DD"),
        )
    })?;
    let midnight = day
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis() - 8 * 3600 * 1000)
        .ok_or_else(|| ApiError::field(field, "date_invalid", "日期无效"))?;
    Ok(midnight)
}

fn number(field: &str, v: &Option<String>, default: usize) -> Result<usize, ApiError> {
    match nonempty(v) {
        None => Ok(default),
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| ApiError::field(field, "number_invalid", format!("「{s}」不是非负整数"))),
    }
}

const STAGES: &[&str] = &[
    "submitted",
    "registered",
    "routed",
    "objected",
    "handling",
    "replied",
    "under_review",
    "reviewed",
    "under_rereview",
    "concluded",
    "declined",
    "withdrawn",
    "merged",
];

impl SearchParams {
    /// The request, or the first field error.
    pub fn to_request(&self) -> Result<SearchRequest, ApiError> {
        let stage = nonempty(&self.stage);
        if let Some(s) = &stage
            && huiyin_domain::case::Stage::parse(s).is_none()
        {
            return Err(ApiError::field(
                "stage",
                "stage_unknown",
                format!("未知的阶段「{s}」，可用：{}", STAGES.join(", ")),
            ));
        }
        let class = nonempty(&self.class);
        if let Some(c) = &class
            && !["suggestion", "accusation", "appeal", "none"].contains(&c.as_str())
        {
            return Err(ApiError::field(
                "class",
                "class_unknown",
                "法定类别应为 suggestion、accusation、appeal 或 none",
            ));
        }
        let rating = nonempty(&self.rating);
        if let Some(r) = &rating
            && !["satisfied", "basically_satisfied", "unsatisfied", "none"].contains(&r.as_str())
        {
            return Err(ApiError::field(
                "rating",
                "rating_unknown",
                "满意度应为 satisfied、basically_satisfied、unsatisfied 或 none",
            ));
        }
        let light = match nonempty(&self.light) {
            None => None,
            Some(l) => Some(LightFilter::parse(&l).ok_or_else(|| {
                ApiError::field(
                    "light",
                    "light_unknown",
                    "亮灯应为 green、yellow、red 或 none",
                )
            })?),
        };
        let sort = sort_order(&self.sort)?;
        let open_only = match nonempty(&self.open).as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => {
                return Err(ApiError::field(
                    "open",
                    "bool_invalid",
                    "open 应为 true 或 false",
                ));
            }
        };
        let from = nonempty(&self.from)
            .map(|v| day_ms("from", &v))
            .transpose()?;
        let to = nonempty(&self.to)
            .map(|v| day_ms("to", &v).map(|ms| ms + 24 * 3600 * 1000))
            .transpose()?;
        Ok(SearchRequest {
            q: self.q.clone().unwrap_or_default(),
            stage,
            unit: nonempty(&self.unit),
            region: nonempty(&self.region),
            category: nonempty(&self.category),
            class,
            channel: nonempty(&self.channel),
            received_from_ms: from,
            received_to_ms: to,
            light,
            rating,
            open_only,
            sort,
            offset: number("offset", &self.offset, 0)?,
            limit: number("limit", &self.limit, 20)?,
            now_ms: 0,
        })
    }
}

/// 全文检索: cases in the caller's scope matching the words and filters, with facets, light
/// counts and highlighted fragments.
async fn search(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchAnswer>, ApiError> {
    let request = params.to_request()?;
    Ok(Json(state.app.search(&actor, request).await?))
}

#[derive(Debug, Deserialize)]
struct PlaceParams {
    #[serde(default)]
    prefix: String,
    limit: Option<String>,
}

/// Place names starting with `prefix`, from the caller's cases only.
async fn places(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Query(params): Query<PlaceParams>,
) -> Result<Json<Vec<FacetValue>>, ApiError> {
    let limit = number("limit", &params.limit, 10)?;
    Ok(Json(
        state
            .app
            .suggest_places(&actor, &params.prefix, limit)
            .await?,
    ))
}

/// How far behind the event log the search index is.
async fn status(
    State(state): State<WebState>,
    Staff(actor): Staff,
) -> Result<Json<SearchStatus>, ApiError> {
    state.app.scope_of(&actor).await?;
    Ok(Json(state.app.search_status().await?))
}

/// Adds the search paths to the OpenAPI document.
pub fn document_paths(doc: &mut serde_json::Value) {
    use serde_json::json;

    use crate::openapi::with_errors;
    let bearer = json!([{"bearer": []}]);
    let s = |name: &str, desc: &str| json!({"name": name, "in": "query", "schema": {"type": "string"}, "description": desc});
    let paths = json!({
        "/api/v1/search": {"get": {
            "summary": "全文检索: cases in the caller's scope (the scope is part of the query: no hit, count or facet from outside it). Words are ANDed; `\"a phrase\"`, `-excluded`, `prefix*` (at most 2, ≥ 2 characters). Traditional and simplified characters find each other. A masked petitioner name or contact (e.g. the last four digits) matches only where the caller may see the petitioner (检举控告: Art. 30). Bad input: 422 with field `q` and code search_syntax, search_query_too_long, search_too_many_terms, search_wildcard or search_page_too_deep.",
            "security": bearer,
            "parameters": [
                s("q", "Words (max 200 characters)"),
                s("stage", "Stage code"), s("unit", "Current or handling unit, or any unit above it"),
                s("region", "Region code prefix"), s("category", "Category or its first level"),
                s("class", "suggestion | accusation | appeal | none"), s("channel", "Channel code"),
                s("from", "Received on or after (YYYY-MM-DD, China time)"), s("to", "Received on or before (YYYY-MM-DD)"),
                s("light", "green | yellow | red | none"), s("rating", "satisfied | basically_satisfied | unsatisfied | none"),
                s("open", "true: only cases awaiting action"), s("sort", "relevance (default) | newest | oldest"),
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 999}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}
            ],
            "responses": with_errors(json!({"200": {"description": "{total, offset, hits: [{case_id, receipt, title, stage, class, category, current_unit_id, region, received_at, petitioner_masked, score, highlights: [{field, fragment, highlighted: [[start, end]]}]}], facets: {stage|class|channel|rating|category|unit|region: [{value, count}]}, lights: {green, yellow, red, none}, index: SearchStatus}"}}), &[401, 403, 422, 503])
        }},
        "/api/v1/public/search": {"get": {
            "summary": "网上公开: published replies, for anyone (rate-limited). Only cases whose petitioner agreed to publication (`publish_consent` at submission, withdrawable) and that have a written reply, never 检举控告; searched in title, text and reply only; every text personal-data masked; no receipt code or petitioner.",
            "parameters": [
                s("q", "Words (max 200 characters); empty: the newest"),
                s("sort", "relevance (default) | newest | oldest"),
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 199}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 20, "default": 10}}
            ],
            "responses": with_errors(json!({"200": {"description": "{total, offset, items: [{title, category, received_at, replied_at, unit_name, decision, text, request, facts, reasons, legal_basis}]}"}}), &[422, 429, 503])
        }},
        "/api/v1/search/places": {"get": {
            "summary": "Search-as-you-type for the place filter: place names starting with `prefix` among the caller's cases only, most frequent first",
            "security": bearer,
            "parameters": [s("prefix", "The typed start (max 32 characters)"), {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 20}}],
            "responses": with_errors(json!({"200": {"description": "[{value, count}]"}}), &[401, 403, 422])
        }},
        "/api/v1/search/status": {"get": {
            "summary": "How far the search index of this server is behind the event log: {indexed, fed_seq, head_seq, behind_events}",
            "security": bearer,
            "responses": with_errors(json!({"200": {"description": "SearchStatus"}}), &[401, 403])
        }}
    });
    crate::openapi::add_paths(doc, paths);
}
