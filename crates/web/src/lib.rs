//! Huiyin's HTTP interface: the JSON API under `/api/v1` (OpenAPI at `/api/v1/openapi.json`)
//! and the health check. Handlers are thin: extract, parse into domain types, call one use
//! case, render. `web` never writes SQL.
#![forbid(unsafe_code)]

pub mod auth;
pub mod error;
pub mod input;
pub mod jobs;
pub mod openapi;
pub mod pages;
pub mod ratelimit;
pub mod search;
pub mod settings;
pub mod stats;
pub mod text;
pub mod warnings;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use huiyin_app::{App, CaseView, NewPetition};
use huiyin_domain::case::{Actor, Role};
use huiyin_domain::ids::CaseId;
use huiyin_domain::petition::Channel;
use huiyin_domain::values::ReceiptCode;
use huiyin_store::{ListFilter, UnitRecord};
use serde::{Deserialize, Serialize};
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::input::{ActionInput, LookupInput, PetitionInput, PublicActionInput, parse_json};
use crate::ratelimit::{Limit, RateLimiter};

/// The largest request body accepted (attachments are uploaded separately).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Shared state of the HTTP layer.
#[derive(Clone)]
pub struct WebState {
    pub app: App,
    pub public_limit: Arc<RateLimiter>,
}

/// Options for the router.
#[derive(Debug, Clone, Copy)]
pub struct WebConfig {
    /// Public requests (submit, lookup, petitioner actions) per address: burst and refill/s.
    pub public_limit: Limit,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            public_limit: Limit {
                burst: 30.0,
                per_second: 0.5,
            },
        }
    }
}

/// The whole HTTP application.
pub fn router(app: App, config: WebConfig) -> Router {
    let state = WebState {
        app,
        public_limit: Arc::new(RateLimiter::new(config.public_limit)),
    };
    Router::new()
        .merge(pages::routes())
        .route("/healthz", get(healthz))
        .route("/api/v1/openapi.json", get(openapi_doc))
        .route("/api/v1/petitions", post(public_submit))
        .route("/api/v1/public/lookup", post(public_lookup))
        .route("/api/v1/public/actions", post(public_action))
        .route("/api/v1/me", get(me))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/session", get(auth::session))
        .route("/api/v1/auth/unit", post(auth::switch_unit))
        .route("/api/v1/auth/password", post(auth::change_password))
        .route("/api/v1/auth/totp/enrol", post(auth::totp_enrol))
        .route("/api/v1/auth/totp/verify", post(auth::totp_verify))
        .route("/api/v1/public/phone/start", post(auth::phone_start))
        .route("/api/v1/public/phone/verify", post(auth::phone_verify))
        .route("/api/v1/public/phone/logout", post(auth::petitioner_logout))
        .route("/api/v1/public/my-petitions", get(auth::my_petitions))
        .route("/api/v1/cases", get(list_cases).post(staff_submit))
        .route("/api/v1/cases/{id}", get(get_case))
        .route("/api/v1/cases/{id}/events", get(case_events))
        .route("/api/v1/cases/{id}/actions", post(case_action))
        .route("/api/v1/cases/{id}/personal", get(case_personal))
        .route("/api/v1/cases/{id}/clearances", post(case_clearance))
        .route("/api/v1/audit", get(audit_trail))
        .route("/api/v1/units", get(list_units).post(create_unit))
        .merge(text::routes())
        .merge(stats::routes())
        .merge(settings::routes())
        .merge(jobs::routes())
        .merge(search::routes())
        .merge(warnings::routes())
        .fallback(not_found_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Unknown paths: a JSON error under `/api/`, an HTML page elsewhere.
async fn not_found_route(prefs: pages::Prefs, uri: axum::extract::OriginalUri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::not_found("没有这个接口，请查看 /api/v1/openapi.json").into_response()
    } else {
        pages::not_found_page(prefs, uri).await
    }
}

/// The client's address (from the socket; 127.0.0.1 in in-process tests).
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        Ok(ClientIp(ip))
    }
}

/// A staff user or machine client: a bearer token (scope-checked), or a staff session cookie
/// (CSRF-checked for state-changing methods; see [`auth`]).
pub struct Staff(pub Actor);

impl FromRequestParts<WebState> for Staff {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            if let Some(actor) = auth::staff_from_cookie(parts, state).await? {
                return Ok(Staff(actor));
            }
            return Err(ApiError::unauthorized(
                "需要登录：请先登录，或在 Authorization 头中提供 Bearer 令牌",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| ApiError::unauthorized("Authorization 头格式应为「Bearer 令牌」"))?;
        let (actor, scopes) = state.app.authenticate_token_scoped(token).await?;
        auth::check_scope(parts, scopes.as_deref())?;
        Ok(Staff(actor))
    }
}

pub(crate) fn limited(state: &WebState, ip: IpAddr) -> Result<(), ApiError> {
    if state.public_limit.check(ip) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "请求过于频繁，请稍后再试",
        ))
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    database: &'static str,
    events: i64,
}

async fn healthz(State(state): State<WebState>) -> Response {
    match state.app.store().head().await {
        Ok((seq, _)) => Json(Health {
            status: "ok",
            database: "ok",
            events: seq,
        })
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable",
                    database: "unreachable",
                    events: -1,
                }),
            )
                .into_response()
        }
    }
}

async fn openapi_doc() -> Json<serde_json::Value> {
    Json(openapi::document())
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let key = v.to_str().map_err(|_| {
                ApiError::field(
                    "Idempotency-Key",
                    "idempotency_key_invalid",
                    "Idempotency-Key 只能包含可见 ASCII 字符",
                )
            })?;
            if key.is_empty() || key.len() > 200 {
                return Err(ApiError::field(
                    "Idempotency-Key",
                    "idempotency_key_invalid",
                    "Idempotency-Key 长度应为1到200个字符",
                ));
            }
            Ok(Some(key.to_string()))
        }
    }
}

/// 网上信访: a petitioner submits from the portal or a phone.
async fn public_submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    limited(&state, ip)?;
    let input: PetitionInput = parse_json(&body)?;
    if input.received_at.is_some() {
        return Err(ApiError::field(
            "received_at",
            "field_not_allowed",
            "网上提交不能指定收到时间",
        ));
    }
    if !matches!(input.channel, Channel::OnlineWeb | Channel::MobileWeb) {
        return Err(ApiError::field(
            "channel",
            "channel_not_allowed",
            "网上提交的渠道只能是 online_web 或 mobile_web",
        ));
    }
    let (petition, _) = input.parse(None)?;
    let actor = Actor {
        id: huiyin_domain::ids::ActorId::new(format!("public:{ip}")),
        roles: vec![Role::Petitioner],
        unit: None,
        oversees_case: false,
        is_case_petitioner: true,
    };
    let (receipt, similar) = state
        .app
        .submit_checked(
            actor,
            NewPetition {
                petition,
                idempotency_key: idempotency_key(&headers)?,
                received_at: None,
            },
        )
        .await?;
    Ok(receipt_response(receipt, similar))
}

/// 来信/来访/来电登记 and API intake by staff or machine clients.
async fn staff_submit(
    State(state): State<WebState>,
    Staff(actor): Staff,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: PetitionInput = parse_json(&body)?;
    let proxy_user = actor.has(Role::Proxy).then(|| actor.id.to_string());
    let (petition, received_at) = input.parse(proxy_user.as_deref())?;
    let (receipt, similar) = state
        .app
        .submit_checked(
            actor,
            NewPetition {
                petition,
                idempotency_key: idempotency_key(&headers)?,
                received_at,
            },
        )
        .await?;
    Ok(receipt_response(receipt, similar))
}

/// The receipt with what the intake check found (`similar`: the petitioner's own earlier
/// cases, and whether the new one was linked to them).
#[derive(Serialize)]
struct ReceiptAnswer {
    #[serde(flatten)]
    receipt: huiyin_app::Receipt,
    similar: huiyin_app::text::SimilarAnswer,
}

/// 201 for a new petition, 200 when an idempotency key replayed an earlier one.
fn receipt_response(
    receipt: huiyin_app::Receipt,
    similar: huiyin_app::text::SimilarAnswer,
) -> Response {
    let status = if receipt.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(ReceiptAnswer { receipt, similar })).into_response()
}

fn parse_receipt(raw: &str) -> Result<ReceiptCode, ApiError> {
    ReceiptCode::parse(raw).map_err(|e| ApiError::field("receipt_code", e.code, e.message))
}

async fn public_lookup(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Result<Response, ApiError> {
    limited(&state, ip)?;
    let input: LookupInput = parse_json(&body)?;
    let receipt = parse_receipt(&input.receipt_code)?;
    let view = state.app.public_lookup(&receipt, &input.secret).await?;
    Ok(Json(view).into_response())
}

async fn public_action(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Result<Response, ApiError> {
    limited(&state, ip)?;
    let input: PublicActionInput = parse_json(&body)?;
    let receipt = parse_receipt(&input.receipt_code)?;
    let view = state
        .app
        .petitioner_command(&receipt, &input.secret, input.command)
        .await?;
    Ok(Json(view).into_response())
}

async fn me(Staff(actor): Staff) -> Json<Actor> {
    Json(actor)
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    unit: Option<String>,
    stage: Option<String>,
    #[serde(default)]
    open: Option<bool>,
    #[serde(default)]
    overdue: Option<bool>,
    after_due: Option<i64>,
    after_id: Option<String>,
    limit: Option<u32>,
    /// Every case in the caller's scope instead of one unit's work list.
    #[serde(default)]
    all: Option<bool>,
}

#[derive(Serialize)]
struct ListPage {
    items: Vec<huiyin_store::CaseSummary>,
    /// Pass as `after_due` and `after_id` for the next page; absent on the last page.
    next: Option<Cursor>,
}

#[derive(Serialize)]
struct Cursor {
    after_due: i64,
    after_id: String,
}

/// The largest page.
pub const MAX_PAGE: u32 = 200;

async fn list_cases(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Query(q): Query<ListQuery>,
) -> Result<Json<ListPage>, ApiError> {
    // Which unit's work list (default: the caller's own); the caller's scope is applied in
    // the query whatever is asked, so another unit's list shows only cases in scope.
    let unit = if q.all.unwrap_or(false) {
        None
    } else {
        q.unit
            .clone()
            .or_else(|| actor.unit.as_ref().map(|u| u.to_string()))
    };
    if let Some(unit) = &unit
        && !state.app.may_list_unit(&actor, unit).await?
    {
        return Err(ApiError::forbidden("只能查看本单位或下级单位的案件"));
    }
    if let Some(stage) = &q.stage
        && huiyin_domain::case::Stage::parse(stage).is_none()
    {
        return Err(ApiError::field(
            "stage",
            "stage_unknown",
            format!("未知的阶段「{stage}」"),
        ));
    }
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::field(
            "limit",
            "limit_out_of_range",
            format!("每页条数应为1到{MAX_PAGE}"),
        ));
    }
    let after = match (q.after_due, q.after_id.clone()) {
        (Some(d), Some(id)) => Some((d, id)),
        (None, None) => None,
        _ => {
            return Err(ApiError::field(
                "after_id",
                "cursor_incomplete",
                "翻页需要同时提供 after_due 和 after_id",
            ));
        }
    };
    let filter = ListFilter {
        unit,
        bureau: None,
        open_only: q.open.unwrap_or(true),
        stage: q.stage.clone(),
        overdue_at_ms: q
            .overdue
            .unwrap_or(false)
            .then(|| state.app.now().timestamp_millis()),
        after,
        limit,
        scope: None,
    };
    let items = state.app.list_for(&actor, filter).await?;
    let next = (items.len() as u32 == limit)
        .then(|| items.last())
        .flatten()
        .map(|last| Cursor {
            after_due: last.next_due_at_ms.unwrap_or(huiyin_store::NO_DEADLINE_MS),
            after_id: last.id.clone(),
        });
    Ok(Json(ListPage { items, next }))
}

async fn get_case(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    // The policy decides (huiyin_domain::access); 检举控告 come back redacted when the
    // caller is not cleared for the petitioner.
    let view = state.app.case_view_for(&actor, &CaseId::new(id)).await?;
    Ok(Json(view))
}

#[derive(Serialize)]
struct EventOut {
    seq: i64,
    version: u64,
    at: huiyin_domain::Instant,
    actor: String,
    actor_unit: Option<String>,
    #[serde(flatten)]
    kind: huiyin_domain::case::EventKind,
    hash: String,
}

async fn case_events(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Path(id): Path<String>,
) -> Result<Json<Vec<EventOut>>, ApiError> {
    let case_id = CaseId::new(id);
    let events = state.app.events_for(&actor, &case_id).await?;
    Ok(Json(
        events
            .into_iter()
            .map(|e| EventOut {
                seq: e.seq,
                version: e.event.version,
                at: e.event.at,
                actor: e.event.actor.to_string(),
                actor_unit: e.event.actor_unit.map(|u| u.to_string()),
                kind: e.event.kind,
                hash: e.hash,
            })
            .collect(),
    ))
}

fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    match headers.get(header::IF_MATCH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .map(|s| s.trim().trim_matches('"'))
            .and_then(|s| s.parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::field(
                    "If-Match",
                    "if_match_invalid",
                    "If-Match 应为案件版本号，例如 \"7\"",
                )
            }),
    }
}

/// The case after a command; after an opinion is issued (`reply`, `decide_review`,
/// `decide_rereview`), also its reply-quality check as stored with it (`reply_check`), so the
/// handler and the assigner see its score and findings.
#[derive(Serialize)]
struct ActionAnswer {
    #[serde(flatten)]
    view: CaseView,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_check: Option<huiyin_domain::case::IssuedReplyCheck>,
}

async fn case_action(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ActionAnswer>, ApiError> {
    let input: ActionInput = parse_json(&body)?;
    let case_id = CaseId::new(id);
    state
        .app
        .authorize_command(&actor, &case_id, input.command.name())
        .await?;
    let expected = input.expected_version.or(if_match(&headers)?);
    let issues_opinion = matches!(
        input.command,
        huiyin_domain::case::Command::Reply { .. }
            | huiyin_domain::case::Command::DecideReview { .. }
            | huiyin_domain::case::Command::DecideRereview { .. }
    );
    let after = state
        .app
        .execute(actor.clone(), case_id.clone(), input.command, expected)
        .await?;
    let reply_check = if issues_opinion {
        after
            .reply_checks
            .iter()
            .rev()
            .find(|c| c.version <= after.version)
            .cloned()
    } else {
        None
    };
    Ok(Json(ActionAnswer {
        view: state.app.case_view_for(&actor, &case_id).await?,
        reply_check,
    }))
}

/// The petitioner's unmasked personal data: only for those the policy clears (Art. 30 for
/// 检举控告); every read and every refused attempt is audited. 403 `personal_data_protected`.
async fn case_personal(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Path(id): Path<String>,
) -> Result<Json<huiyin_app::access::PersonalView>, ApiError> {
    Ok(Json(
        state.app.personal_data(&actor, &CaseId::new(id)).await?,
    ))
}

#[derive(Deserialize)]
struct ClearanceInput {
    /// The actor to clear, e.g. `user:…` or `token:…`.
    actor_id: String,
}

/// A unit head who may see a 检举控告's petitioner clears someone else to see it (audited).
async fn case_clearance(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: ClearanceInput = parse_json(&body)?;
    if input.actor_id.trim().is_empty() || input.actor_id.len() > 200 {
        return Err(ApiError::field(
            "actor_id",
            "actor_id_invalid",
            "请填写被授权人的编号（1到200个字符）",
        ));
    }
    let new = state
        .app
        .grant_clearance(
            &actor,
            &huiyin_domain::ids::ActorId::new(input.actor_id.trim()),
            &CaseId::new(id),
        )
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(serde_json::json!({ "cleared": true }))).into_response())
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    case_id: Option<String>,
    before_seq: Option<i64>,
    limit: Option<u32>,
}

/// The audit trail, for auditors (审计员).
async fn audit_trail(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<huiyin_store::AuditRecord>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::field(
            "limit",
            "limit_out_of_range",
            "每页条数应为1到1000",
        ));
    }
    let case_id = q.case_id.map(CaseId::new);
    Ok(Json(
        state
            .app
            .audit_for(&actor, case_id.as_ref(), q.before_seq, limit)
            .await?,
    ))
}

async fn list_units(
    State(state): State<WebState>,
    Staff(actor): Staff,
) -> Result<Json<Vec<UnitRecord>>, ApiError> {
    let principal = state.app.principal(&actor).await?;
    if huiyin_domain::access::authorize(&principal, huiyin_domain::access::Action::ReadUnits, None)
        .is_err()
    {
        return Err(ApiError::forbidden("只有工作人员可以查看组织机构"));
    }
    Ok(Json(
        state
            .app
            .store()
            .units()
            .await
            .map_err(huiyin_app::AppError::from)?,
    ))
}

async fn create_unit(
    State(state): State<WebState>,
    Staff(actor): Staff,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !actor.has(Role::Administrator) {
        return Err(ApiError::forbidden("只有管理员可以新建单位"));
    }
    let unit: UnitRecord = parse_json(&body)?;
    // The same checks, history and audit entry as the administrators' page.
    let added = state
        .app
        .admin_add_unit(
            &actor,
            &huiyin_app::units::NewUnit {
                id: unit.id,
                name: unit.name,
                kind: unit.kind,
                region_code: unit.region_code,
                parent_id: unit.parent_id.unwrap_or_default(),
                department: String::new(),
            },
        )
        .await?;
    let unit = UnitRecord {
        id: added.id,
        name: added.name,
        kind: added.kind,
        region_code: added.region_code,
        parent_id: added.parent_id,
    };
    Ok((StatusCode::CREATED, Json(unit)).into_response())
}
