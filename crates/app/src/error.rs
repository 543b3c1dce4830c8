//! The application's errors: client errors apart from internal ones.

use huiyin_domain::case::Rejection;
use huiyin_domain::values::FieldError;
use huiyin_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Fields failed validation: each with its field path and error.
    #[error("invalid input")]
    Invalid(Vec<(String, FieldError)>),
    /// The lifecycle refused the command.
    #[error("rejected: {0}")]
    Rejected(Rejection),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Personal data refused by whistleblower or personal-data protection (stable code
    /// `personal_data_protected`).
    #[error("protected: {0}")]
    Protected(String),
    /// A configuration or capacity problem the operator must fix.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Invalid(vec![(field.to_string(), FieldError::new(code, message))])
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::NotFound(m) => AppError::NotFound(m),
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<Rejection> for AppError {
    fn from(r: Rejection) -> Self {
        AppError::Rejected(r)
    }
}
