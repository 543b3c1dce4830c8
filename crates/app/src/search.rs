//! Full-text search for staff (issue 7) over [`huiyin_search`]: the index is derived data,
//! fed from the event log by sequence number — in `huiyin serve` by a background task every
//! [`FEED_EVERY`] (so a change is searchable within a second), elsewhere caught up before each
//! search — and rebuilt by `huiyin reindex`.
//!
//! The caller's scope and the Art. 30 rule are inside the query (see `huiyin_search::query`);
//! each hit is then loaded and passed through the policy once more before it is shown, and the
//! masked petitioner is shown only where [`shows_petitioner`] allows.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use huiyin_domain::Instant;
use huiyin_domain::access::{Action, CaseFacts, authorize, shows_petitioner};
use huiyin_domain::case::Actor;
use huiyin_domain::ids::CaseId;
pub use huiyin_search::{
    Caller, ConsistencyReport, FaultPlan, Highlight, HitTexts, LightCounts, LightFilter,
    PUBLIC_MAX_DEPTH, PUBLIC_MAX_LIMIT, SearchError, SearchIndex, SearchRequest, SearchStatus,
    SortOrder,
};
use serde::Serialize;

use crate::{App, AppError, Inner};

/// How often the background task reads the log (the 1-second freshness target).
pub const FEED_EVERY: Duration = Duration::from_millis(250);

/// The search index of one [`App`], opened on first use.
#[derive(Default)]
pub struct SearchState {
    index: tokio::sync::OnceCell<Arc<SearchIndex>>,
}

/// One hit as staff see it.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHitView {
    pub case_id: String,
    pub receipt: String,
    pub title: String,
    pub stage: String,
    pub class: Option<String>,
    pub category: Option<String>,
    pub current_unit_id: String,
    pub region: String,
    pub received_at: Instant,
    /// `None` for a 检举控告 the caller may not see the petitioner of.
    pub petitioner_masked: Option<String>,
    pub score: f32,
    pub highlights: Vec<Highlight>,
}

/// The answer of a search.
#[derive(Debug, Clone, Serialize)]
pub struct SearchAnswer {
    /// Matching cases in the caller's scope.
    pub total: u64,
    pub offset: usize,
    pub hits: Vec<SearchHitView>,
    pub facets: BTreeMap<String, Vec<FacetValue>>,
    pub lights: LightCounts,
    /// How far behind the log the index was when it answered.
    pub index: SearchStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct FacetValue {
    pub value: String,
    pub count: u64,
}

fn search_error(e: SearchError) -> AppError {
    if e.is_bad_input() {
        return AppError::invalid("q", e.code(), e.to_string());
    }
    match e {
        SearchError::Forbidden => AppError::Forbidden(e.to_string()),
        SearchError::Store(s) => AppError::from(s),
        other => AppError::Unavailable(format!("search index: {other}")),
    }
}

fn spawn_feeder(inner: Weak<Inner>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        loop {
            let Some(inner) = inner.upgrade() else { return };
            let app = App { inner };
            match app.search_index().await {
                Ok(index) => {
                    if let Err(e) = index.catch_up(app.store()).await {
                        tracing::warn!(error = %e, "search index: catching up with the event log failed");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "search index cannot be opened"),
            }
            drop(app);
            tokio::time::sleep(FEED_EVERY).await;
        }
    });
}

impl App {
    /// The search index, opened (or created, or rebuilt when unreadable) on first use in
    /// [`crate::Config::search_dir`], in memory without one.
    pub async fn search_index(&self) -> Result<Arc<SearchIndex>, AppError> {
        let config = &self.inner.config;
        self.inner
            .search
            .index
            .get_or_try_init(|| async {
                let dir = config.search_dir.clone();
                let seg = config
                    .segmenter
                    .unwrap_or_else(huiyin_text::segment::shared);
                tokio::task::spawn_blocking(move || SearchIndex::open(dir.as_deref(), seg))
                    .await
                    .map_err(|e| AppError::Unavailable(format!("search index: {e}")))?
                    .map(Arc::new)
                    .map_err(search_error)
            })
            .await
            .cloned()
    }

    /// For the server: keeps the search index caught up with the event log (every
    /// [`FEED_EVERY`]); a never-fed index is rebuilt first. Ends when the app is dropped.
    pub fn start_search_feeder(&self) {
        spawn_feeder(Arc::downgrade(&self.inner));
    }

    /// How far behind the log the index is.
    pub async fn search_status(&self) -> Result<SearchStatus, AppError> {
        let index = self.search_index().await?;
        index.status(self.store()).await.map_err(search_error)
    }

    /// Catches the index up now (a never-fed index is rebuilt); returns the cases indexed.
    pub async fn search_catch_up(&self) -> Result<u64, AppError> {
        let index = self.search_index().await?;
        index.catch_up(self.store()).await.map_err(search_error)
    }

    /// Drops and rebuilds the whole index from the database (`huiyin reindex`).
    pub async fn search_rebuild(&self) -> Result<u64, AppError> {
        let index = self.search_index().await?;
        let n = index.rebuild(self.store()).await.map_err(search_error)?;
        index.catch_up(self.store()).await.map_err(search_error)?;
        Ok(n)
    }

    /// Compares the index with the database (`huiyin reindex --check`).
    pub async fn search_check(&self) -> Result<ConsistencyReport, AppError> {
        let index = self.search_index().await?;
        index.check(self.store()).await.map_err(search_error)
    }

    /// A scoped search for staff. Bad input is refused with a stable code (`search_*`) and
    /// a message that says what to change.
    pub async fn search(
        &self,
        actor: &Actor,
        mut request: SearchRequest,
    ) -> Result<SearchAnswer, AppError> {
        let principal = self.principal(actor).await?;
        authorize(&principal, Action::Search, None)
            .map_err(|d| AppError::Forbidden(d.message().into()))?;
        let index = self.search_index().await?;
        // Without the server's feeder (tests, one-off commands) catch up first; when a
        // catch-up is already running, answer from the index as it is.
        let (head, _) = self.store().head().await?;
        if index.fed_seq() < head
            && let Err(e) = index.try_catch_up(self.store()).await
        {
            tracing::warn!(error = %e, "search index: catching up before a search failed");
        }
        let cleared_cases = self.store().cleared_cases(actor.id.as_str()).await?;
        let caller = Caller {
            principal: principal.clone(),
            cleared_cases,
        };
        request.now_ms = self.now().timestamp_millis();
        let results = {
            let index = index.clone();
            let caller = caller.clone();
            let request = request.clone();
            tokio::task::spawn_blocking(move || index.search(&caller, &request))
                .await
                .map_err(|e| AppError::Unavailable(format!("search: {e}")))?
                .map_err(search_error)?
        };
        let cleared: HashSet<&str> = caller.cleared_cases.iter().map(String::as_str).collect();
        let mut hits = Vec::with_capacity(results.hits.len());
        for hit in &results.hits {
            let Some(record) = self.store().case(&CaseId::new(hit.case_id.clone())).await? else {
                continue;
            };
            let state = record.state;
            let facts = CaseFacts::of(&state, cleared.contains(state.id.as_str()));
            // The query already kept out every case outside the scope; this is the second
            // lock on the same door (an index behind the database must not widen access).
            if authorize(&principal, Action::ReadCase, Some(&facts)).is_err() {
                continue;
            }
            let show_person = shows_petitioner(&principal, &facts);
            let reply = state.opinion.as_ref().map(|o| {
                format!(
                    "{}\n{}\n{}\n{}",
                    o.request, o.facts, o.reasons, o.legal_basis
                )
            });
            let highlights = results.highlights(&HitTexts {
                title: state.petition.title.as_str(),
                text: state.petition.text.as_str(),
                reply: reply.as_deref(),
            });
            hits.push(SearchHitView {
                case_id: state.id.as_str().to_string(),
                receipt: state.receipt.to_string(),
                title: state.petition.title.as_str().to_string(),
                stage: state.stage.as_str().to_string(),
                class: state
                    .class
                    .or(state.petition.class)
                    .map(|c| c.code().to_string()),
                category: state.category.clone().or(state.petition.category.clone()),
                current_unit_id: state.current_unit().as_str().to_string(),
                region: state.petition.region.as_str().to_string(),
                received_at: state.received_at,
                petitioner_masked: show_person
                    .then(|| {
                        state
                            .petition
                            .petitioner_masked
                            .as_ref()
                            .map(|p| p.name.clone())
                    })
                    .flatten(),
                score: hit.score,
                highlights,
            });
        }
        let facets = results
            .facets
            .iter()
            .map(|(k, vs)| {
                (
                    k.clone(),
                    vs.iter()
                        .map(|(v, n)| FacetValue {
                            value: v.clone(),
                            count: *n,
                        })
                        .collect(),
                )
            })
            .collect();
        Ok(SearchAnswer {
            total: results.total,
            offset: request.offset,
            hits,
            facets,
            lights: results.lights.clone(),
            index: index.status(self.store()).await.map_err(search_error)?,
        })
    }

    /// Place names starting with `prefix` among the cases the caller may read (the place
    /// filter's search-as-you-type).
    pub async fn suggest_places(
        &self,
        actor: &Actor,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<FacetValue>, AppError> {
        let principal = self.principal(actor).await?;
        authorize(&principal, Action::Search, None)
            .map_err(|d| AppError::Forbidden(d.message().into()))?;
        let index = self.search_index().await?;
        let (head, _) = self.store().head().await?;
        if index.fed_seq() < head
            && let Err(e) = index.try_catch_up(self.store()).await
        {
            tracing::warn!(error = %e, "search index: catching up before a suggestion failed");
        }
        let caller = Caller {
            principal,
            cleared_cases: Vec::new(),
        };
        let prefix = prefix.to_string();
        let found =
            tokio::task::spawn_blocking(move || index.suggest_places(&caller, &prefix, limit))
                .await
                .map_err(|e| AppError::Unavailable(format!("search: {e}")))?
                .map_err(search_error)?;
        Ok(found
            .into_iter()
            .map(|(value, count)| FacetValue { value, count })
            .collect())
    }
}

/// One published reply as the public portal shows it (网上公开): everything masked, no receipt
/// code, no petitioner, no internal text.
#[derive(Debug, Clone, Serialize)]
pub struct PublicReplyView {
    pub title: String,
    pub category: Option<String>,
    pub received_at: Instant,
    pub replied_at: Option<Instant>,
    /// The organ that replied.
    pub unit_name: String,
    /// `support`, `explain`, `not_support`.
    pub decision: huiyin_domain::case::Decision,
    /// The petition text, personal data masked.
    pub text: String,
    /// 信访请求 / 经查 / 理由 / 依据 of the reply, personal data masked.
    pub request: String,
    pub facts: String,
    pub reasons: String,
    pub legal_basis: String,
}

/// A page of the public search.
#[derive(Debug, Clone, Serialize)]
pub struct PublicSearchAnswer {
    pub total: usize,
    pub offset: usize,
    pub items: Vec<PublicReplyView>,
}

impl App {
    /// The public portal's search of published replies: only cases whose petitioner agreed
    /// to publication (`CaseState::publishable`), searched in their title, text and reply,
    /// every text masked (`crate::text::mask_personal_data`). Each hit is checked against the
    /// stored case once more, so a consent withdrawn a moment ago (before the index caught
    /// up) is never shown.
    pub async fn public_search(
        &self,
        q: &str,
        sort: SortOrder,
        offset: usize,
        limit: usize,
    ) -> Result<PublicSearchAnswer, AppError> {
        let index = self.search_index().await?;
        let (head, _) = self.store().head().await?;
        if index.fed_seq() < head
            && let Err(e) = index.try_catch_up(self.store()).await
        {
            tracing::warn!(error = %e, "search index: catching up before a public search failed");
        }
        let results = {
            let index = index.clone();
            let q = q.to_string();
            tokio::task::spawn_blocking(move || index.search_public(&q, sort, offset, limit))
                .await
                .map_err(|e| AppError::Unavailable(format!("search: {e}")))?
                .map_err(search_error)?
        };
        let mask = crate::text::mask_personal_data;
        let mut items = Vec::with_capacity(results.case_ids.len());
        for id in results.case_ids {
            let Some(record) = self.store().case(&CaseId::new(id)).await? else {
                continue;
            };
            let state = record.state;
            let (true, Some(opinion)) = (state.publishable(), state.opinion.as_ref()) else {
                continue;
            };
            let unit = state.handling_unit().unwrap_or(&state.bureau);
            let unit_name = match self.store().unit(unit.as_str()).await? {
                Some(u) => u.name,
                None => unit.to_string(),
            };
            items.push(PublicReplyView {
                title: mask(state.petition.title.as_str()),
                category: state.category.clone().or(state.petition.category.clone()),
                received_at: state.received_at,
                replied_at: state.replied_at,
                unit_name,
                decision: opinion.decision,
                text: mask(state.petition.text.as_str()),
                request: mask(opinion.request.as_str()),
                facts: mask(opinion.facts.as_str()),
                reasons: mask(opinion.reasons.as_str()),
                legal_basis: mask(opinion.legal_basis.as_str()),
            });
        }
        Ok(PublicSearchAnswer {
            total: results.total,
            offset,
            items,
        })
    }
}
