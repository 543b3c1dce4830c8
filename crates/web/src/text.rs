//! The text tools over HTTP (issue 5): a petitioner's draft checked for their own earlier
//! cases, and for staff related cases, suggestions, the reply check, the index status,
//! retraining and masking. Handlers are thin; the rules live in `huiyin_app::text`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use huiyin_app::text::{IndexStatus, ModelInfo, RelatedAnswer, SimilarAnswer, Suggestions};
use huiyin_domain::case::Role;
use huiyin_domain::ids::CaseId;
use huiyin_domain::values::{PetitionText, PhoneNumber, RegionCode, Title};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::input::parse_json;
use crate::{ClientIp, Staff, WebState, limited};

/// The text routes, merged into the main router.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/api/v1/public/similar", post(public_similar))
        .route("/api/v1/cases/{id}/related", get(related))
        .route("/api/v1/cases/{id}/suggestions", get(suggestions))
        .route("/api/v1/cases/{id}/reply-check", post(reply_check))
        .route("/api/v1/text/status", get(status))
        .route("/api/v1/text/retrain", post(retrain))
        .route("/api/v1/text/mask", post(mask))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DraftInput {
    #[serde(default)]
    title: Option<String>,
    text: String,
    region: String,
    /// The petitioner's phone: only cases under the same phone are reported.
    #[serde(default)]
    phone: Option<String>,
}

/// 提交前查重: is this draft a repeat of the petitioner's own earlier petition? Rate-limited
/// like every public endpoint; tells nothing about other people's petitions.
async fn public_similar(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Result<Json<SimilarAnswer>, ApiError> {
    limited(&state, ip)?;
    let input: DraftInput = parse_json(&body)?;
    let text =
        PetitionText::parse(&input.text).map_err(|e| ApiError::field("text", e.code, e.message))?;
    let title = match input.title.as_deref() {
        Some(t) => Title::parse(t)
            .map_err(|e| ApiError::field("title", e.code, e.message))?
            .as_str()
            .to_string(),
        None => String::new(),
    };
    let region = RegionCode::parse(&input.region)
        .map_err(|e| ApiError::field("region", e.code, e.message))?;
    let phone = input
        .phone
        .as_deref()
        .map(PhoneNumber::parse)
        .transpose()
        .map_err(|e| ApiError::field("phone", e.code, e.message))?;
    Ok(Json(
        state
            .app
            .similar_for_draft(&title, text.as_str(), &region, phone.as_ref())
            .await?,
    ))
}

/// Related cases in the caller's scope: repeats, 一信多投, possible groups, same issue.
async fn related(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Path(id): Path<String>,
) -> Result<Json<RelatedAnswer>, ApiError> {
    Ok(Json(
        state.app.related_cases(&actor, &CaseId::new(id)).await?,
    ))
}

/// Category and routing suggestions with confidence and the words behind them.
async fn suggestions(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Path(id): Path<String>,
) -> Result<Json<Suggestions>, ApiError> {
    Ok(Json(state.app.suggestions(&actor, &CaseId::new(id)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyInput {
    reply: String,
}

/// A draft reply or 处理意见书 checked before it is sent.
async fn reply_check(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<huiyin_app::text::ReplyCheck>, ApiError> {
    let input: ReplyInput = parse_json(&body)?;
    Ok(Json(
        state
            .app
            .reply_check(&actor, &CaseId::new(id), &input.reply)
            .await?,
    ))
}

fn staff_only(actor: &huiyin_domain::case::Actor) -> Result<(), ApiError> {
    let staff = actor.roles.iter().any(|r| {
        matches!(
            r,
            Role::Registrar
                | Role::Handler
                | Role::UnitHead
                | Role::Leader
                | Role::Supervisor
                | Role::Administrator
        )
    });
    if staff {
        Ok(())
    } else {
        Err(ApiError::forbidden("只有工作人员可以使用文本工具"))
    }
}

/// How far the duplicate index is behind the event log.
async fn status(
    State(state): State<WebState>,
    Staff(actor): Staff,
) -> Result<Json<IndexStatus>, ApiError> {
    staff_only(&actor)?;
    Ok(Json(state.app.text_status().await?))
}

/// Retrains the suggestion models from the registered cases now (they also retrain
/// periodically); catches the duplicate index up first.
async fn retrain(
    State(state): State<WebState>,
    Staff(actor): Staff,
) -> Result<Json<ModelInfo>, ApiError> {
    if !(actor.has(Role::Registrar) || actor.has(Role::UnitHead) || actor.has(Role::Administrator))
    {
        return Err(ApiError::forbidden(
            "只有登记员、单位负责人或管理员可以重新训练",
        ));
    }
    state.app.text_catch_up().await?;
    Ok(Json(state.app.retrain_text_models().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaskInput {
    text: String,
}

#[derive(Serialize)]
struct MaskOutput {
    masked_text: String,
}

/// The largest text masked in one request (characters).
pub const MAX_MASK_CHARS: usize = 100_000;

/// Personal data masked for publishing a reply or exporting.
async fn mask(Staff(actor): Staff, body: Bytes) -> Result<Json<MaskOutput>, ApiError> {
    staff_only(&actor)?;
    let input: MaskInput = parse_json(&body)?;
    if input.text.chars().count() > MAX_MASK_CHARS {
        return Err(ApiError::field(
            "text",
            "text_too_long",
            format!("一次最多处理{MAX_MASK_CHARS}个字符"),
        ));
    }
    Ok(Json(MaskOutput {
        masked_text: huiyin_app::text::mask_personal_data(&input.text),
    }))
}

/// The text endpoints and their schemas in the OpenAPI document.
pub fn document_paths(doc: &mut serde_json::Value) {
    use serde_json::json;

    use crate::openapi::with_errors;
    let bearer = json!([{"bearer": []}]);
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    let paths = json!({
        "/api/v1/public/similar": {"post": {
            "summary": "Before submitting: is this draft a repeat of the petitioner's own earlier petition? (public, rate-limited). Only cases under the same phone are reported, with their date and stage and no content; without a phone the answer is always `none`.",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["text", "region"], "additionalProperties": false, "properties": {
                "title": {"type": "string", "maxLength": 100}, "text": {"type": "string", "minLength": 5, "maxLength": 20000},
                "region": {"type": "string"}, "phone": {"type": "string"}
            }}}}},
            "responses": with_errors(json!({"200": {"description": "outcome own_open_case / own_concluded_case / none", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SimilarAnswer"}}}}}), &[400, 422, 429])
        }},
        "/api/v1/cases/{id}/related": {"get": {
            "summary": "Related cases the caller may read: repeats (重复信访), 一信多投, possible organised groups, same issue, and recorded links. Cases outside the caller's scope are left out; where the policy hides the petitioner (检举控告) the relation is `near_copy` and `same_petitioner` is absent. `index` says how far the derived duplicate index is behind the event log.",
            "security": bearer, "parameters": [id],
            "responses": with_errors(json!({"200": {"description": "RelatedAnswer"}}), &[401, 403, 404])
        }},
        "/api/v1/cases/{id}/suggestions": {"get": {
            "summary": "Content category (first level) and responsible unit suggested by models trained on this deployment's own registered cases, with confidence, alternatives and the words that drove them; `manual` below the threshold or without enough history (`reason: not_enough_history`).",
            "security": bearer, "parameters": [id],
            "responses": with_errors(json!({"200": {"description": "Suggestions"}}), &[401, 403, 404])
        }},
        "/api/v1/cases/{id}/reply-check": {"post": {
            "summary": "Check a draft reply or 处理意见书 against the petition: score 0–100 and findings (missing parts, stock phrases, off-topic, vague dates). Field errors: `reply_empty`, `reply_too_long`.",
            "security": bearer, "parameters": [id],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["reply"], "additionalProperties": false, "properties": {"reply": {"type": "string", "maxLength": 20000}}}}}},
            "responses": with_errors(json!({"200": {"description": "{score, findings: [{code, message, penalty, evidence}], topic_overlap}"}}), &[400, 401, 403, 404, 422])
        }},
        "/api/v1/text/status": {"get": {
            "summary": "How far the duplicate index is behind the event log (staff)",
            "security": bearer,
            "responses": with_errors(json!({"200": {"description": "{indexed, fed_seq, head_seq, behind_events, memory_bytes}"}}), &[401, 403])
        }},
        "/api/v1/text/retrain": {"post": {
            "summary": "Retrain the suggestion models from the registered cases now (registrars, unit heads, administrators; they also retrain every 6 hours)",
            "security": bearer,
            "responses": with_errors(json!({"200": {"description": "ModelInfo: trained_at, cases, category_labels, unit_labels"}}), &[401, 403])
        }},
        "/api/v1/text/mask": {"post": {
            "summary": "Mask personal data (phone, ID and bank card numbers, e-mail, names, addresses) in a text for publication or export (staff). Field error: `text_too_long`.",
            "security": bearer,
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["text"], "additionalProperties": false, "properties": {"text": {"type": "string"}}}}}},
            "responses": with_errors(json!({"200": {"description": "{masked_text}"}}), &[400, 401, 403, 422])
        }}
    });
    crate::openapi::add_paths(doc, paths);
    let similar = json!({"type": "object", "properties": {
        "outcome": {"type": "string", "enum": ["own_open_case", "own_concluded_case", "none"]},
        "message": {"type": "string"},
        "own_cases": {"type": "array", "items": {"type": "object", "properties": {
            "received_at": {"type": "string", "format": "date-time"}, "stage": {"type": "string"},
            "stage_label": {"type": "string"}, "open": {"type": "boolean"}
        }}},
        "linked": {"type": "boolean", "description": "On submission: linked to the earlier case (Art. 19)"}
    }});
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(|s| s.as_object_mut())
    {
        schemas.insert("SimilarAnswer".into(), similar);
    }
}
