//! The error catalogue: every error a client can get has a stable code, an HTTP status and a
//! message a person can act on. 5xx responses say nothing internal; the cause is logged.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use huiyin_app::AppError;
use huiyin_domain::case::Rejection;
use serde::Serialize;

/// One entry of the public catalogue (served in the OpenAPI document and in docs/api.md).
pub struct CatalogueEntry {
    pub code: &'static str,
    pub status: u16,
    pub meaning: &'static str,
}

/// Every top-level error code. Field errors carry their own codes (e.g. `id_card_checksum`).
pub const CATALOGUE: &[CatalogueEntry] = &[
    CatalogueEntry {
        code: "malformed_request",
        status: 400,
        meaning: "The body is not valid JSON or misses required structure.",
    },
    CatalogueEntry {
        code: "validation_failed",
        status: 422,
        meaning: "One or more fields are invalid; see `fields`.",
    },
    CatalogueEntry {
        code: "unauthorized",
        status: 401,
        meaning: "Missing, unknown, expired or revoked credentials.",
    },
    CatalogueEntry {
        code: "forbidden",
        status: 403,
        meaning: "The caller's role or unit may not do this.",
    },
    CatalogueEntry {
        code: "not_found",
        status: 404,
        meaning: "No such resource within the caller's scope.",
    },
    CatalogueEntry {
        code: "personal_data_protected",
        status: 403,
        meaning: "The petitioner's identity is protected (检举控告, Art. 30) or the caller is not cleared for personal data; the attempt is audited.",
    },
    CatalogueEntry {
        code: "wrong_stage",
        status: 409,
        meaning: "The action is not allowed in the case's current stage.",
    },
    CatalogueEntry {
        code: "deadline_passed",
        status: 409,
        meaning: "The statutory period for this action is over.",
    },
    CatalogueEntry {
        code: "not_allowed",
        status: 409,
        meaning: "The action is not allowed for this case now (e.g. a second extension).",
    },
    CatalogueEntry {
        code: "invalid_command",
        status: 422,
        meaning: "A command argument contradicts the case (e.g. a deadline in the past).",
    },
    CatalogueEntry {
        code: "conflict",
        status: 409,
        meaning: "The case changed since the caller read it; reload and retry.",
    },
    CatalogueEntry {
        code: "payload_too_large",
        status: 413,
        meaning: "The request body exceeds the limit.",
    },
    CatalogueEntry {
        code: "rate_limited",
        status: 429,
        meaning: "Too many requests from this address; wait and retry.",
    },
    CatalogueEntry {
        code: "login_failed",
        status: 401,
        meaning: "Wrong username, password or TOTP code (deliberately not saying which).",
    },
    CatalogueEntry {
        code: "locked",
        status: 423,
        meaning: "Too many failed logins: locked for a while (default 15 minutes).",
    },
    CatalogueEntry {
        code: "csrf_failed",
        status: 403,
        meaning: "A cookie-authenticated change lacks the session's X-CSRF-Token header.",
    },
    CatalogueEntry {
        code: "mfa_required",
        status: 403,
        meaning: "The session must pass the TOTP second factor first (administrators must enrol).",
    },
    CatalogueEntry {
        code: "password_change_required",
        status: 403,
        meaning: "The initial password must be changed before anything else.",
    },
    CatalogueEntry {
        code: "scope_missing",
        status: 403,
        meaning: "The API token's scopes do not include this endpoint.",
    },
    CatalogueEntry {
        code: "password_policy",
        status: 422,
        meaning: "The new password breaks the policy; `fields` names each rule broken.",
    },
    CatalogueEntry {
        code: "totp_invalid",
        status: 422,
        meaning: "The TOTP code is wrong or was used already.",
    },
    CatalogueEntry {
        code: "code_invalid",
        status: 422,
        meaning: "The SMS verification code is wrong or expired.",
    },
    CatalogueEntry {
        code: "code_attempts_exceeded",
        status: 429,
        meaning: "Too many wrong SMS codes: the code is void; request a new one.",
    },
    CatalogueEntry {
        code: "sms_unavailable",
        status: 503,
        meaning: "The SMS gateway could not send the code; try later.",
    },
    CatalogueEntry {
        code: "unavailable",
        status: 503,
        meaning: "The service cannot take this now (configuration or shutdown).",
    },
    CatalogueEntry {
        code: "internal",
        status: 500,
        meaning: "An unexpected fault; nothing was changed; it has been logged.",
    },
];

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldErrorBody {
    pub field: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldErrorBody>,
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
                fields: Vec::new(),
            },
        }
    }

    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_request", message)
    }

    pub fn fields(fields: Vec<FieldErrorBody>) -> ApiError {
        let message = if fields.len() == 1 {
            fields[0].message.clone()
        } else {
            format!("有{}项填写不正确，请逐项修改", fields.len())
        };
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: ErrorBody {
                code: "validation_failed",
                message,
                fields,
            },
        }
    }

    pub fn field(field: &str, code: &str, message: impl Into<String>) -> ApiError {
        ApiError::fields(vec![FieldErrorBody {
            field: field.to_string(),
            code: code.to_string(),
            message: message.into(),
        }])
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        let message = r.to_string();
        match r {
            Rejection::Forbidden { .. } => ApiError::forbidden(message),
            Rejection::WrongStage { .. } => {
                ApiError::new(StatusCode::CONFLICT, "wrong_stage", message)
            }
            Rejection::DeadlinePassed(_) => {
                ApiError::new(StatusCode::CONFLICT, "deadline_passed", message)
            }
            Rejection::NotAllowed(_) => ApiError::new(StatusCode::CONFLICT, "not_allowed", message),
            Rejection::Invalid { field, .. } => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                body: ErrorBody {
                    code: "invalid_command",
                    message: message.clone(),
                    fields: vec![FieldErrorBody {
                        field: field.to_string(),
                        code: "invalid_command".into(),
                        message,
                    }],
                },
            },
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(errors) => ApiError::fields(
                errors
                    .into_iter()
                    .map(|(field, err)| FieldErrorBody {
                        field,
                        code: err.code.to_string(),
                        message: err.message,
                    })
                    .collect(),
            ),
            AppError::Rejected(r) => r.into(),
            AppError::NotFound(m) => ApiError::not_found(m),
            AppError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            AppError::Unauthorized(m) => ApiError::unauthorized(m),
            AppError::Forbidden(m) => ApiError::forbidden(m),
            AppError::Protected(m) => {
                ApiError::new(StatusCode::FORBIDDEN, "personal_data_protected", m)
            }
            AppError::Unavailable(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
            }
            AppError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "服务器内部错误，本次操作未生效，已记录日志",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.body }))).into_response()
    }
}
