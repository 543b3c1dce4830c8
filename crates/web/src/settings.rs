//! The statistics settings over HTTP for administrators (统计指标与预警阈值): the indicator
//! configuration every figure is computed under and the early-warning thresholds, the same use
//! cases as the page `/staff/admin/indicators` (`huiyin_app::admin`).
//!
//! `PATCH` merges: the fields given replace those in force, the others keep their values. A
//! field the settings do not have is refused by name (a typo must not be ignored silently), a
//! value of the wrong type names its field, and a setting the domain refuses comes back with the
//! domain's message; nothing is stored in any of these cases.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use huiyin_app::admin::IndicatorSettings;
use huiyin_domain::stats::IndicatorConfig;
use huiyin_domain::warning::WarningPolicy;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, FieldErrorBody};
use crate::input::parse_json;
use crate::{Staff, WebState};

const PATH: &str = "/api/v1/admin/indicator-settings";

pub fn routes() -> Router<WebState> {
    Router::new().route(PATH, get(show).patch(change).delete(restore))
}

async fn show(
    State(state): State<WebState>,
    Staff(actor): Staff,
) -> Result<Json<IndicatorSettings>, ApiError> {
    Ok(Json(state.app.indicator_settings(&actor).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeInput {
    #[serde(default)]
    indicators: Option<serde_json::Value>,
    #[serde(default)]
    warnings: Option<serde_json::Value>,
}

/// `current` with the fields of `patch` replaced; every field of `patch` must be one of
/// `current`'s. Errors name the field (`indicators.basically_satisfied_weight`).
fn merged<T: Serialize + DeserializeOwned>(
    name: &str,
    current: &T,
    patch: serde_json::Value,
) -> Result<T, FieldErrorBody> {
    let error = |field: String, code: &str, message: String| FieldErrorBody {
        field,
        code: code.to_string(),
        message,
    };
    let serde_json::Value::Object(patch) = patch else {
        return Err(error(
            name.to_string(),
            "object_expected",
            format!("{name} 应为 JSON 对象，只写要修改的项"),
        ));
    };
    let mut base = match serde_json::to_value(current) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => {
            return Err(error(
                name.to_string(),
                "settings_unreadable",
                "现行设置无法读出".into(),
            ));
        }
    };
    for (key, value) in patch {
        if !base.contains_key(&key) {
            let known: Vec<&str> = base.keys().map(String::as_str).collect();
            return Err(error(
                format!("{name}.{key}"),
                "unknown_field",
                format!("没有「{key}」这一项；可修改的项：{}", known.join("、")),
            ));
        }
        base.insert(key, value);
    }
    let de = serde_json::Value::Object(base);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = format!("{name}.{}", e.path());
        error(
            field.clone(),
            "invalid_value",
            format!("{field} 的值不正确：{}", e.into_inner()),
        )
    })
}

/// `PATCH /api/v1/admin/indicator-settings`: changes the indicator configuration, the warning
/// thresholds or both (one audit entry, in force at once); answers with the settings now.
async fn change(
    State(state): State<WebState>,
    Staff(actor): Staff,
    body: Bytes,
) -> Result<Json<IndicatorSettings>, ApiError> {
    let input: ChangeInput = parse_json(&body)?;
    let rules = state.app.rules();
    let mut errors = Vec::new();
    let indicators: Option<IndicatorConfig> = input
        .indicators
        .map(|p| merged("indicators", &rules.indicators, p))
        .and_then(|r| r.map_err(|e| errors.push(e)).ok());
    let warnings: Option<WarningPolicy> = input
        .warnings
        .map(|p| merged("warnings", &rules.warnings, p))
        .and_then(|r| r.map_err(|e| errors.push(e)).ok());
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    state
        .app
        .admin_set_indicator_config(&actor, indicators, warnings)
        .await?;
    Ok(Json(state.app.indicator_settings(&actor).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreQuery {
    /// `indicators`, `warnings` or `all`.
    which: String,
}

#[derive(Serialize)]
struct Restored {
    /// Whether anything was stored (false: the defaults were in force already).
    changed: bool,
    settings: IndicatorSettings,
}

/// `DELETE /api/v1/admin/indicator-settings?which=…`: restores the defaults.
async fn restore(
    State(state): State<WebState>,
    Staff(actor): Staff,
    Query(q): Query<RestoreQuery>,
) -> Result<Json<Restored>, ApiError> {
    let (indicators, warnings) = match q.which.as_str() {
        "indicators" => (true, false),
        "warnings" => (false, true),
        "all" => (true, true),
        other => {
            return Err(ApiError::field(
                "which",
                "which_invalid",
                format!("which 应为 indicators、warnings 或 all（收到「{other}」）"),
            ));
        }
    };
    let changed = state
        .app
        .admin_restore_indicator_defaults(&actor, indicators, warnings)
        .await?;
    Ok(Json(Restored {
        changed,
        settings: state.app.indicator_settings(&actor).await?,
    }))
}

/// The settings paths of the OpenAPI document.
pub fn document_paths(doc: &mut serde_json::Value) {
    use serde_json::json;

    use crate::openapi::with_errors;
    let bearer = json!([{"bearer": []}]);
    let paths = json!({
        "/api/v1/admin/indicator-settings": {
            "get": {
                "summary": "The statistics settings in force (indicator configuration: 基本满意's weight in 满意率, the 12345-style composite's weights, the decisions counted as resolved; the early-warning thresholds), their defaults, and who changed each and when. Administrators only.",
                "security": bearer,
                "responses": with_errors(json!({"200": {"description": "IndicatorSettings"}}), &[401, 403])
            },
            "patch": {
                "summary": "Change the indicator configuration and/or the warning thresholds: {\"indicators\": {…}, \"warnings\": {…}}, each holding only the fields to change (the others keep their values). Unknown fields, wrong types and values the domain refuses are 422 with the field named; nothing is stored then. One audit entry; in force at once. Administrators only.",
                "security": bearer,
                "responses": with_errors(json!({"200": {"description": "IndicatorSettings after the change"}}), &[400, 401, 403, 422])
            },
            "delete": {
                "summary": "Restore the defaults (`which`: indicators, warnings or all). `changed` is false when the defaults were in force already (nothing audited).",
                "security": bearer,
                "parameters": [{"name": "which", "in": "query", "required": true, "schema": {"type": "string", "enum": ["indicators", "warnings", "all"]}}],
                "responses": with_errors(json!({"200": {"description": "{changed, settings}"}}), &[400, 401, 403, 422])
            }
        }
    });
    crate::openapi::add_paths(doc, paths);
}
