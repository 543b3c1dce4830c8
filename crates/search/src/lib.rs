//! Full-text search of cases (issue 7): a tantivy index with a jieba tokenizer over
//! `huiyin_text`, fed from the event log by global sequence number, queried with the caller's
//! scope and the Art. 30 rule inside the query.
//!
//! - [`tokenizer`]: 繁→简 and full-width folding, jieba with the region names and user
//!   dictionaries, punctuation and stop words dropped, offsets into the original text;
//! - [`schema`]: one document per case (title, text, 处理意见书 and other replies, notes,
//!   masked petitioner, places, category, units; scope, filter and facet terms);
//! - [`index`]: the on-disk index with its checkpoint, catch-up, rebuild and consistency
//!   check;
//! - [`public`]: the portal's search of published replies (consenting cases only);
//! - [`query`]: scoped search with filters, facets, light counts, sort, highlights, place
//!   suggestions; bad input refused with a reason.
#![forbid(unsafe_code)]

pub mod index;
pub mod public;
pub mod query;
pub mod schema;
pub mod tokenizer;

pub use index::{ConsistencyReport, FaultPlan, SearchIndex, SearchStatus};
pub use public::{PUBLIC_MAX_DEPTH, PUBLIC_MAX_LIMIT, PublicResults};
pub use query::{
    Caller, Highlight, Hit, HitTexts, LightCounts, LightFilter, SearchRequest, SearchResults,
    SortOrder,
};

/// What can go wrong in search. The query errors carry a message a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("查询语法错误：{0}")]
    Syntax(String),
    #[error("查询过长：{chars} 个字，最多 {max} 个 (query too long)")]
    QueryTooLong { chars: usize, max: usize },
    #[error("查询词过多，最多 {max} 个 (too many words)")]
    TooManyTerms { max: usize },
    #[error("通配符使用受限：{0}")]
    Wildcard(String),
    #[error("翻页过深或每页过多：{what} 超过 {max} (page too deep; narrow the search)")]
    PageTooDeep { max: usize, what: &'static str },
    #[error("您的角色不能检索信访事项")]
    Forbidden,
    /// A fault plan stopped indexing (tests only).
    #[error("indexing stopped by the fault plan")]
    Crashed,
    #[error("search index i/o: {0}")]
    Io(String),
    #[error(transparent)]
    Index(Box<tantivy::TantivyError>),
    #[error(transparent)]
    Store(#[from] huiyin_store::StoreError),
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        SearchError::Index(Box::new(e))
    }
}

impl SearchError {
    /// The stable error code of the API.
    pub fn code(&self) -> &'static str {
        match self {
            SearchError::Syntax(_) => "search_syntax",
            SearchError::QueryTooLong { .. } => "search_query_too_long",
            SearchError::TooManyTerms { .. } => "search_too_many_terms",
            SearchError::Wildcard(_) => "search_wildcard",
            SearchError::PageTooDeep { .. } => "search_page_too_deep",
            SearchError::Forbidden => "forbidden",
            SearchError::Crashed
            | SearchError::Io(_)
            | SearchError::Index(_)
            | SearchError::Store(_) => "search_unavailable",
        }
    }

    /// Whether the caller's input is at fault (400), not the server.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            SearchError::Syntax(_)
                | SearchError::QueryTooLong { .. }
                | SearchError::TooManyTerms { .. }
                | SearchError::Wildcard(_)
                | SearchError::PageTooDeep { .. }
        )
    }
}
