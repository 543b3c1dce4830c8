//! Huiyin text intelligence (文本智能): the library behind duplicate and repeat detection
//! (重复信访, 一信多投), content classification and routing suggestions, personal-data detection
//! and masking, reply-quality checks for 信访处理意见书, and hotspot (热点) detection.
//!
//! No database and no async: every function works on text and small in-memory structures that a
//! service can persist (they are serialisable) or rebuild from its event log.

pub mod classify;
pub mod cli;
pub mod dedup;
pub mod hash;
pub mod hierarchy;
pub mod hotspot;
pub mod normalize;
pub mod pii;
pub mod reply;
pub mod segment;

/// Errors of this crate. Messages name what to fix.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// A line of input could not be read or parsed.
    #[error("input line {line}: {message}")]
    Input {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// A model file or model data is unusable.
    #[error("model: {0}")]
    Model(String),
    /// Training data is unusable (e.g. fewer than two labels).
    #[error("training data: {0}")]
    Training(String),
    /// An index operation referred to a document that does not exist.
    #[error("unknown document id {0}")]
    UnknownDoc(u32),
    /// The index is full (u32 document ids are exhausted).
    #[error("index is full")]
    IndexFull,
}

pub use cli::{TextCliError, run_cli};
