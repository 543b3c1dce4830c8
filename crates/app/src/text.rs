//! The text tools at intake and in the workbench (issue 5), over [`huiyin_text`]:
//!
//! - a **duplicate index** of every petition (MinHash/LSH, no text kept), derived data: rebuilt
//!   from the event log at start-up, fed directly as petitions are submitted through the app and
//!   caught up from the log by sequence number (so it can always be rebuilt, and it says how far
//!   behind it is — [`IndexStatus`]);
//! - at submission, repeats of the petitioner's **own** earlier cases: Art. 19 — a repeat on a
//!   case still open is linked to it ([`Command::Link`], relation `repeat`), not treated as new;
//!   a repeat after 终结 is linked as `repeat_after_conclusion` (flagged). Petitioners are told
//!   only about their own cases (same phone), never about anyone else's;
//! - for staff: related cases (repeat, 一信多投, possible group, same issue) filtered by the
//!   access policy, classification and routing suggestions learned from the deployment's own
//!   registered cases, and the reply-quality check;
//! - masking of personal data for published replies and exports ([`mask_personal_data`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use huiyin_domain::Instant;
use huiyin_domain::access::{Action, CaseFacts, Principal, authorize, shows_petitioner};
use huiyin_domain::case::{
    Actor, CaseState, Command, Event, EventKind, LinkRelation, ReplyFinding, ReplyQuality, Stage,
};
use huiyin_domain::ids::CaseId;
use huiyin_domain::petition::{Petition, Petitioner};
use huiyin_domain::values::PhoneNumber;
use huiyin_text::classify::{Classifier, ClassifierConfig, Prediction};
use huiyin_text::dedup::{DocId, DocMeta, DupIndex, IndexConfig, Match, Signature};
use huiyin_text::hierarchy::{
    HierarchicalClassifier, HierarchyConfig, LevelPrediction, path_segments,
};
pub use huiyin_text::reply::ReplyCheck;
use huiyin_text::reply::check_reply;
use huiyin_text::segment::{Segmenter, shared};
use serde::Serialize;

use crate::{App, AppError, Inner, NewPetition, Receipt};

/// Events read per page when the index catches up with the log.
const FEED_PAGE: u32 = 1000;
/// How often the background task catches the index up.
const FEED_EVERY: Duration = Duration::from_secs(10);
/// How often the classifiers are retrained from history (also on demand).
const RETRAIN_EVERY: Duration = Duration::from_secs(6 * 3600);
/// The newest registered cases the classifiers learn from.
pub const TRAINING_CASES: u32 = 5000;
/// Fewer registered cases than this (or fewer than two labels) and suggestions say "manual".
pub const MIN_TRAINING_CASES: usize = 10;
/// Related cases shown at most.
const MAX_RELATED: usize = 20;
/// Below this confidence a suggestion says "manual" (人工分流).
pub const MANUAL_THRESHOLD: f32 = 0.5;
/// The longest reply draft the reply check takes (characters).
pub const MAX_REPLY_CHARS: usize = 20_000;

/// Personal data (phone, ID-card and bank-card numbers, e-mail, names after cues, street
/// addresses) masked for publication of a reply or an export, e.g. `138****1234`, `王**`.
pub fn mask_personal_data(text: &str) -> String {
    huiyin_text::pii::scan(text).masked_text
}

/// The text a petition is fingerprinted and classified by: title, line break, text.
fn petition_text(title: &str, text: &str) -> String {
    format!("{title}\n{text}")
}

/// The petitioner key of the index: the same digest as the petitioner account's phone hash.
fn petitioner_key(petition: &Petition) -> Option<String> {
    match &petition.petitioner {
        Petitioner::Named(person) => person.phone.as_ref().map(crate::auth::phone_hash),
        Petitioner::Anonymous => None,
    }
}

struct DocEntry {
    case_id: Box<str>,
    petitioner: Option<Box<str>>,
    addressee: Box<str>,
}

impl DocEntry {
    fn meta(&self) -> DocMeta {
        DocMeta {
            petitioner: self.petitioner.as_deref().map(str::to_string),
            addressee: Some(self.addressee.to_string()),
        }
    }
}

struct IndexState {
    dup: DupIndex,
    docs: Vec<Option<DocEntry>>,
    by_case: HashMap<Box<str>, u32>,
    /// Recorded links seen from the other side: case → the cases that linked to it.
    linked_from: HashMap<Box<str>, Vec<Box<str>>>,
    /// The last event sequence number the index has read from the log.
    fed_seq: i64,
}

impl IndexState {
    fn insert(&mut self, sig: &Signature, entry: DocEntry) {
        if self.by_case.contains_key(&entry.case_id) {
            return;
        }
        let Ok(DocId(id)) = self.dup.insert(sig, &entry.meta()) else {
            tracing::warn!(case_id = %entry.case_id, "duplicate index full; case not indexed");
            return;
        };
        let i = id as usize;
        if self.docs.len() <= i {
            self.docs.resize_with(i + 1, || None);
        }
        self.by_case.insert(entry.case_id.clone(), id);
        if let Some(slot) = self.docs.get_mut(i) {
            *slot = Some(entry);
        }
    }

    /// Matches of `sig` with their case ids, best first, without `exclude`.
    fn lookup(&self, sig: &Signature, meta: &DocMeta, exclude: &str) -> Vec<(String, Match)> {
        self.with_case_ids(self.dup.query(sig, meta).matches, exclude)
    }

    /// Only the petitioner's own indexed cases related to `sig` (what the repeat check at
    /// submission reports): scored through the petitioner's own list, so the cost does not
    /// depend on how many other people sent copies of the text (a campaign of copied letters),
    /// which matters here because submission holds the write lock.
    fn lookup_own(&self, sig: &Signature, meta: &DocMeta, exclude: &str) -> Vec<(String, Match)> {
        self.with_case_ids(self.dup.query_own(sig, meta), exclude)
    }

    fn with_case_ids(&self, matches: Vec<Match>, exclude: &str) -> Vec<(String, Match)> {
        matches
            .into_iter()
            .filter_map(|m| {
                let entry = self.docs.get(m.doc.0 as usize)?.as_ref()?;
                (&*entry.case_id != exclude).then(|| (entry.case_id.to_string(), m))
            })
            .collect()
    }
}

struct Models {
    category: Option<Arc<HierarchicalClassifier>>,
    unit: Option<Arc<Classifier>>,
    info: ModelInfo,
}

/// What the suggestion models were trained on.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelInfo {
    pub trained_at: Option<Instant>,
    /// Registered cases read (the newest [`TRAINING_CASES`]).
    pub cases: usize,
    /// Distinct first-level categories learned (0 = no category model).
    pub category_labels: usize,
    /// Distinct categories learned per level, first level first (levels below the first only
    /// where the history has enough cases classified that deep).
    pub category_labels_per_level: Vec<usize>,
    /// Distinct responsible units learned (0 = no routing model).
    pub unit_labels: usize,
}

/// The derived text state of the application (one per [`App`]).
pub struct TextIndex {
    state: RwLock<IndexState>,
    feeding: tokio::sync::Mutex<()>,
    models: RwLock<Models>,
    training: tokio::sync::Mutex<()>,
}

impl Default for TextIndex {
    fn default() -> Self {
        TextIndex {
            state: RwLock::new(IndexState {
                dup: DupIndex::new(IndexConfig::default()),
                docs: Vec::new(),
                by_case: HashMap::new(),
                linked_from: HashMap::new(),
                fed_seq: 0,
            }),
            feeding: tokio::sync::Mutex::new(()),
            models: RwLock::new(Models {
                category: None,
                unit: None,
                info: ModelInfo::default(),
            }),
            training: tokio::sync::Mutex::new(()),
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

/// How far the duplicate index is behind the event log.
#[derive(Debug, Clone, Serialize)]
pub struct IndexStatus {
    /// Petitions in the index.
    pub indexed: usize,
    /// The last event the index has read.
    pub fed_seq: i64,
    /// The last event written.
    pub head_seq: i64,
    /// Events not yet read (petitions submitted through the app are indexed at once; others,
    /// e.g. imported, within [`FEED_EVERY`]).
    pub behind_events: i64,
    /// Bytes the index holds.
    pub memory_bytes: usize,
}

/// What a petitioner is told about their own earlier cases (never anyone else's, never content).
#[derive(Debug, Clone, Serialize)]
pub struct OwnCaseHint {
    pub received_at: Instant,
    pub stage: Stage,
    pub stage_label: &'static str,
    /// Still being handled: follow it with its receipt code instead of a new petition.
    pub open: bool,
}

/// The answer to "have I petitioned this before?" — in the submit answer and from
/// `POST /api/v1/public/similar`.
#[derive(Debug, Clone, Serialize)]
pub struct SimilarAnswer {
    /// `own_open_case` (follow it), `own_concluded_case` (终结: not accepted again on the same
    /// facts and reasons) or `none`.
    pub outcome: &'static str,
    pub message: String,
    /// The petitioner's own earlier cases with near-identical text, newest first.
    pub own_cases: Vec<OwnCaseHint>,
    /// On submission: the new case was linked to the earlier one (Art. 19).
    pub linked: bool,
}

impl SimilarAnswer {
    fn none() -> Self {
        SimilarAnswer {
            outcome: "none",
            message: "没有发现您提交过相同的信访事项".into(),
            own_cases: Vec::new(),
            linked: false,
        }
    }
}

/// One related case, as a staff member in scope may see it.
#[derive(Debug, Clone, Serialize)]
pub struct RelatedCase {
    pub case_id: String,
    pub receipt_code: String,
    pub title: String,
    pub stage: Stage,
    pub stage_label: &'static str,
    pub received_at: Instant,
    pub bureau_id: String,
    /// `repeat`, `repeat_after_conclusion`, `multi_addressed`, `group`, `same_issue`, or
    /// `near_copy` when the petitioner of either case is protected from the caller (检举控告).
    pub relation: &'static str,
    pub relation_label: &'static str,
    /// Estimated Jaccard similarity of the texts (absent for a link with no text match).
    pub similarity: Option<f32>,
    pub exact_copy: bool,
    /// Same petitioner (same phone); absent when unknown or protected.
    pub same_petitioner: Option<bool>,
    /// A link between the two cases is recorded (by either side).
    pub linked: bool,
}

/// `GET /api/v1/cases/{id}/related`.
#[derive(Debug, Clone, Serialize)]
pub struct RelatedAnswer {
    pub case_id: String,
    pub items: Vec<RelatedCase>,
    pub index: IndexStatus,
}

/// One suggestion (category or unit).
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// The suggested label, or `manual` below the threshold or without a model.
    pub label: String,
    pub manual: bool,
    /// Why manual without a prediction (`not_enough_history`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    pub best_label: Option<String>,
    pub confidence: f32,
    pub alternatives: Vec<Alternative>,
    /// The words and character sequences that drove the decision.
    pub words: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Alternative {
    pub label: String,
    pub confidence: f32,
}

/// The unit suggestion with the unit's name and kind.
#[derive(Debug, Clone, Serialize)]
pub struct UnitSuggestion {
    #[serde(flatten)]
    pub suggestion: Suggestion,
    pub unit_name: Option<String>,
    pub unit_kind: Option<String>,
}

/// `GET /api/v1/cases/{id}/suggestions`.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestions {
    pub case_id: String,
    /// First-level content category.
    pub category: Suggestion,
    /// The responsible unit, as the deployment's registrars routed similar cases.
    pub unit: UnitSuggestion,
    pub manual_threshold: f32,
    pub model: ModelInfo,
    /// The category path (一级/二级/三级) down to the deepest level the model is confident of,
    /// with the confidence of each level.
    pub category_path: PathSuggestion,
}

/// The category path suggestion.
#[derive(Debug, Clone, Serialize)]
pub struct PathSuggestion {
    /// The deepest confident path (`城乡建设/安全生产`), or `manual`.
    pub label: String,
    pub manual: bool,
    /// Why manual without a prediction (`not_enough_history`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The confident levels' names.
    pub path: Vec<String>,
    /// Every level looked at, with its confidence; the last may be below the threshold.
    pub levels: Vec<LevelPrediction>,
}

fn path_suggestion(
    model: Option<&HierarchicalClassifier>,
    seg: &Segmenter,
    text: &str,
) -> (Suggestion, PathSuggestion) {
    let Some(model) = model else {
        return (
            suggestion(None, seg, text),
            PathSuggestion {
                label: huiyin_text::classify::MANUAL.into(),
                manual: true,
                reason: Some("not_enough_history"),
                path: Vec::new(),
                levels: Vec::new(),
            },
        );
    };
    let p = model.predict(seg, text);
    (
        suggestion_of(p.first),
        PathSuggestion {
            label: p.label,
            manual: p.manual,
            reason: None,
            path: p.path,
            levels: p.levels,
        },
    )
}

fn suggestion(model: Option<&Classifier>, seg: &Segmenter, text: &str) -> Suggestion {
    let Some(model) = model else {
        return Suggestion {
            label: huiyin_text::classify::MANUAL.into(),
            manual: true,
            reason: Some("not_enough_history"),
            best_label: None,
            confidence: 0.0,
            alternatives: Vec::new(),
            words: Vec::new(),
        };
    };
    suggestion_of(model.predict(seg, text))
}

fn suggestion_of(p: Prediction) -> Suggestion {
    Suggestion {
        label: p.label,
        manual: p.manual,
        reason: None,
        best_label: Some(p.best_label),
        confidence: p.confidence,
        alternatives: p
            .alternatives
            .into_iter()
            .map(|(label, confidence)| Alternative { label, confidence })
            .collect(),
        words: p.top_features.into_iter().map(|f| f.feature).collect(),
    }
}

fn relation_label(relation: &str) -> &'static str {
    match relation {
        "repeat" => LinkRelation::Repeat.label_zh(),
        "repeat_after_conclusion" => LinkRelation::RepeatAfterConclusion.label_zh(),
        "multi_addressed" => LinkRelation::MultiAddressed.label_zh(),
        "group" => LinkRelation::Group.label_zh(),
        "same_issue" => LinkRelation::SameIssue.label_zh(),
        _ => "内容高度相似",
    }
}

/// The relation of `other` to the case, from the index match (`None`: a link only).
fn relation_of(m: Option<&Match>, other: &CaseState) -> &'static str {
    let Some(m) = m else { return "same_issue" };
    if !m.near_copy {
        return "same_issue";
    }
    match m.same_petitioner {
        Some(false) => "group",
        _ if m.same_addressee == Some(false) => "multi_addressed",
        _ if other.stage == Stage::Concluded => "repeat_after_conclusion",
        _ => "repeat",
    }
}

/// The background task of [`App::start_text_feeder`].
fn spawn_feeder(inner: Weak<Inner>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut last_training: Option<std::time::Instant> = None;
        loop {
            let Some(inner) = inner.upgrade() else { return };
            let app = App { inner };
            if let Err(e) = app.text_catch_up().await {
                tracing::warn!(error = %e, "duplicate index: catching up with the event log failed");
            }
            if last_training.is_none_or(|t| t.elapsed() >= RETRAIN_EVERY) {
                last_training = Some(std::time::Instant::now());
                if let Err(e) = app.retrain_text_models().await {
                    tracing::warn!(error = %e, "retraining the suggestion models failed");
                }
            }
            drop(app);
            tokio::time::sleep(FEED_EVERY).await;
        }
    });
}

impl App {
    fn text(&self) -> &TextIndex {
        &self.inner.text
    }

    /// For the server: rebuilds the duplicate index from the event log now (in the background),
    /// then keeps it caught up every 10 s and retrains the suggestion models every 6 hours.
    /// Without it (tests, one-off commands) the index is fed by submissions and caught up before
    /// each read that needs it, and the models train on first use. Ends when the app is dropped.
    pub fn start_text_feeder(&self) {
        spawn_feeder(std::sync::Arc::downgrade(&self.inner));
    }

    /// How far the duplicate index is behind the event log.
    pub async fn text_status(&self) -> Result<IndexStatus, AppError> {
        let (head, _) = self.store().head().await?;
        let st = read(&self.text().state);
        Ok(IndexStatus {
            indexed: st.dup.len(),
            fed_seq: st.fed_seq,
            head_seq: head,
            behind_events: (head - st.fed_seq).max(0),
            memory_bytes: st.dup.memory_bytes(),
        })
    }

    /// Reads the event log from where the index stopped and indexes every submitted petition
    /// (petitions already indexed at submission are skipped). Rebuilding = starting from 0.
    pub async fn text_catch_up(&self) -> Result<IndexStatus, AppError> {
        let one = self.text().feeding.lock().await;
        self.feed_locked(one).await
    }

    /// Before a read: catches up unless a catch-up is already running (e.g. the start-up
    /// rebuild of a large log), in which case the read answers from the index as it is — the
    /// returned status says how far behind that is — instead of waiting for the rebuild.
    async fn text_catch_up_if_free(&self) -> Result<IndexStatus, AppError> {
        match self.text().feeding.try_lock() {
            Ok(one) => self.feed_locked(one).await,
            Err(_) => self.text_status().await,
        }
    }

    async fn feed_locked(
        &self,
        one: tokio::sync::MutexGuard<'_, ()>,
    ) -> Result<IndexStatus, AppError> {
        loop {
            let from = read(&self.text().state).fed_seq;
            let events = self.store().events_after(from, FEED_PAGE).await?;
            let Some(last) = events.last().map(|e| e.seq) else {
                break;
            };
            let mut submitted = Vec::new();
            let mut links: Vec<(Box<str>, Box<str>)> = Vec::new();
            for e in &events {
                match &e.event.kind {
                    EventKind::Submitted {
                        petition, bureau, ..
                    } => submitted.push((
                        e.event.case_id.to_string(),
                        petition_text(petition.title.as_str(), petition.text.as_str()),
                        bureau.to_string(),
                    )),
                    EventKind::Linked { to, .. } => {
                        links.push((to.as_str().into(), e.event.case_id.as_str().into()))
                    }
                    _ => {}
                }
            }
            // Petitions submitted through this app were indexed at submission: no second
            // signature or phone lookup for them.
            {
                let st = read(&self.text().state);
                submitted.retain(|(case_id, _, _)| !st.by_case.contains_key(case_id.as_str()));
            }
            let ids: Vec<String> = submitted.iter().map(|s| s.0.clone()).collect();
            let phones: HashMap<String, String> = self
                .store()
                .petitioner_phones_of(&ids)
                .await?
                .into_iter()
                .collect();
            let signed: Vec<(Signature, DocEntry)> = submitted
                .into_iter()
                .map(|(case_id, text, bureau)| {
                    let petitioner = phones.get(&case_id).map(|p| p.as_str().into());
                    (
                        Signature::of_text(&text),
                        DocEntry {
                            case_id: case_id.into(),
                            petitioner,
                            addressee: bureau.into(),
                        },
                    )
                })
                .collect();
            let full_page = events.len() as u32 == FEED_PAGE;
            {
                let mut st = write(&self.text().state);
                for (sig, entry) in signed {
                    st.insert(&sig, entry);
                }
                for (to, from) in links {
                    let from_list = st.linked_from.entry(to).or_default();
                    if !from_list.contains(&from) {
                        from_list.push(from);
                    }
                }
                st.fed_seq = st.fed_seq.max(last);
            }
            if !full_page {
                break;
            }
        }
        drop(one);
        self.text_status().await
    }

    /// Own earlier cases of the petitioner among `matches` (near copies, same phone), newest
    /// first, merged cases resolved to where they went.
    async fn own_cases<'m>(
        &self,
        matches: &'m [(String, Match)],
    ) -> Result<Vec<(CaseState, &'m Match)>, AppError> {
        let mut own: Vec<(CaseState, &'m Match)> = Vec::new();
        for (case_id, m) in matches {
            if !(m.near_copy && m.same_petitioner == Some(true)) {
                continue;
            }
            let Some(mut record) = self.store().case(&CaseId::new(case_id.as_str())).await? else {
                continue;
            };
            if let Some(into) = record.state.merged_into.clone()
                && let Some(target) = self.store().case(&into).await?
            {
                record = target;
            }
            if !own.iter().any(|(s, _)| s.id == record.state.id) {
                own.push((record.state, m));
            }
        }
        // newest first; ids (UUIDv7, time-ordered) break ties within a millisecond
        own.sort_by(|a, b| {
            (b.0.received_at, b.0.id.as_str()).cmp(&(a.0.received_at, a.0.id.as_str()))
        });
        Ok(own)
    }

    fn hints(own: &[(CaseState, &Match)]) -> SimilarAnswer {
        let hints: Vec<OwnCaseHint> = own
            .iter()
            .filter(|(s, _)| s.stage != Stage::Withdrawn && s.stage != Stage::Declined)
            .map(|(s, _)| OwnCaseHint {
                received_at: s.received_at,
                stage: s.stage,
                stage_label: s.stage.label_zh(),
                open: !s.stage.is_terminal(),
            })
            .collect();
        if hints.iter().any(|h| h.open) {
            SimilarAnswer {
                outcome: "own_open_case",
                message: "您已提交过相同的信访事项，仍在办理期限内。请使用当时的受理凭证编号和查询密码查询进度，不必重复提交；重复提交的将与原件关联办理（《信访工作条例》第十九条）".into(),
                own_cases: hints,
                linked: false,
            }
        } else if hints.iter().any(|h| h.stage == Stage::Concluded) {
            SimilarAnswer {
                outcome: "own_concluded_case",
                message: "您已提交过相同的信访事项，且已办理终结。同一事实和理由的请求不再受理（《信访工作条例》第三十六条）".into(),
                own_cases: hints,
                linked: false,
            }
        } else {
            SimilarAnswer::none()
        }
    }

    /// `POST /api/v1/public/similar`: a petitioner's draft checked against the index. Only the
    /// petitioner's own cases (same phone) are reported, with no content.
    pub async fn similar_for_draft(
        &self,
        title: &str,
        text: &str,
        region: &huiyin_domain::values::RegionCode,
        phone: Option<&PhoneNumber>,
    ) -> Result<SimilarAnswer, AppError> {
        let Some(phone) = phone else {
            return Ok(SimilarAnswer::none());
        };
        self.text_catch_up_if_free().await?;
        let addressee = self
            .store()
            .bureau_for_region(region.as_str())
            .await?
            .map(|b| b.id);
        let meta = DocMeta {
            petitioner: Some(crate::auth::phone_hash(phone)),
            addressee,
        };
        let sig = Signature::of_text(&petition_text(title, text));
        let matches = read(&self.text().state).lookup_own(&sig, &meta, "");
        let own = self.own_cases(&matches).await?;
        Ok(Self::hints(&own))
    }

    /// Submits like [`App::submit`], then checks the petition against the index: a repeat of the
    /// petitioner's own open case is linked to it (Art. 19), after 终结 it is linked and flagged;
    /// the answer tells the petitioner about their own cases only.
    pub async fn submit_checked(
        &self,
        actor: Actor,
        new: NewPetition,
    ) -> Result<(Receipt, SimilarAnswer), AppError> {
        let text = petition_text(new.petition.title.as_str(), new.petition.text.as_str());
        let petitioner = petitioner_key(&new.petition);
        let sig = Signature::of_text(&text);
        let receipt = self.submit(actor, new).await?;
        if receipt.replayed {
            return Ok((receipt, SimilarAnswer::none()));
        }
        let entry = DocEntry {
            case_id: receipt.case_id.as_str().into(),
            petitioner: petitioner.as_deref().map(Into::into),
            addressee: receipt.bureau_id.as_str().into(),
        };
        let meta = entry.meta();
        let matches = {
            let mut st = write(&self.text().state);
            let matches = st.lookup_own(&sig, &meta, &receipt.case_id);
            st.insert(&sig, entry);
            matches
        };
        if petitioner.is_none() {
            return Ok((receipt, SimilarAnswer::none()));
        }
        let own = self.own_cases(&matches).await?;
        let mut answer = Self::hints(&own);
        let new_id = CaseId::new(receipt.case_id.as_str());
        // One link per submission, to the case the petitioner should follow: the earliest
        // open one (a chain of repeats all points at the case being handled), else the latest
        // concluded one. Linking to every earlier copy would make a burst of resubmissions cost
        // a write per pair.
        let open = |to_same_organ: bool| {
            own.iter().rev().find(|(s, m)| {
                !s.stage.is_terminal() && (m.same_addressee != Some(false)) == to_same_organ
            })
        };
        let target = open(true)
            .map(|(s, _)| (s, LinkRelation::Repeat))
            .or_else(|| open(false).map(|(s, _)| (s, LinkRelation::MultiAddressed)))
            .or_else(|| {
                own.iter()
                    .find(|(s, _)| s.stage == Stage::Concluded)
                    .map(|(s, _)| (s, LinkRelation::RepeatAfterConclusion))
            });
        let mut linked = false;
        if let Some((state, relation)) = target {
            let command = Command::Link {
                to: state.id.clone(),
                relation,
            };
            match self
                .inner
                .writer
                .execute(Actor::system(), new_id.clone(), command, None)
                .await
            {
                Ok(_) => {
                    linked = true;
                    tracing::info!(case_id = %new_id, to = %state.id, relation = relation.as_str(), "repeat petition linked");
                }
                Err(e) => {
                    tracing::warn!(case_id = %new_id, to = %state.id, error = %e, "recording a repeat link failed")
                }
            }
        }
        answer.linked = linked;
        Ok((receipt, answer))
    }

    /// `GET /api/v1/cases/{id}/related`: near copies and same-issue cases from the index plus
    /// the recorded links, each only if the caller may read it.
    pub async fn related_cases(
        &self,
        actor: &Actor,
        case_id: &CaseId,
    ) -> Result<RelatedAnswer, AppError> {
        let (principal, state, cleared) = self
            .authorize_case(actor, case_id, Action::ReadCase)
            .await?;
        let status = self.text_catch_up_if_free().await?;
        let sig = Signature::of_text(&petition_text(
            state.petition.title.as_str(),
            state.petition.text.as_str(),
        ));
        let matches = {
            let st = read(&self.text().state);
            let meta = st
                .by_case
                .get(case_id.as_str())
                .and_then(|&i| st.docs.get(i as usize))
                .and_then(Option::as_ref)
                .map(DocEntry::meta)
                .unwrap_or_else(|| DocMeta {
                    petitioner: None,
                    addressee: Some(state.bureau.to_string()),
                });
            st.lookup(&sig, &meta, case_id.as_str())
        };
        let own_protected = !shows_petitioner(&principal, &CaseFacts::of(&state, cleared));
        let mut items: Vec<RelatedCase> = Vec::new();
        let mut candidates: Vec<(CaseId, Option<Match>)> = matches
            .into_iter()
            .map(|(id, m)| (CaseId::new(id), Some(m)))
            .collect();
        let linked_from: Vec<CaseId> = read(&self.text().state)
            .linked_from
            .get(case_id.as_str())
            .map(|v| v.iter().map(|c| CaseId::new(c.to_string())).collect())
            .unwrap_or_default();
        for other in state.links.iter().map(|l| l.to.clone()).chain(linked_from) {
            if !candidates.iter().any(|(id, _)| id == &other) {
                candidates.push((other, None));
            }
        }
        for (other_id, m) in candidates {
            if items.len() >= MAX_RELATED {
                break;
            }
            let Some(other) = self.store().case(&other_id).await? else {
                continue;
            };
            let other = other.state;
            if !self.may_read(&principal, actor, &other).await? {
                continue;
            }
            let other_protected = !shows_petitioner(
                &principal,
                &CaseFacts::of(&other, self.cleared(actor, &other.id).await?),
            );
            let protected = own_protected || other_protected;
            let recorded = state
                .links
                .iter()
                .find(|l| l.to == other.id)
                .or_else(|| other.links.iter().find(|l| l.to == state.id));
            let mut relation = match (&m, recorded) {
                (None, Some(link)) => link.relation.as_str(),
                _ => relation_of(m.as_ref(), &other),
            };
            // which petitioner sent what is withheld where the policy hides the petitioner
            if protected && relation != "same_issue" {
                relation = "near_copy";
            }
            let linked = recorded.is_some();
            items.push(RelatedCase {
                case_id: other.id.to_string(),
                receipt_code: other.receipt.display(),
                title: other.petition.title.as_str().to_string(),
                stage: other.stage,
                stage_label: other.stage.label_zh(),
                received_at: other.received_at,
                bureau_id: other.bureau.to_string(),
                relation,
                relation_label: relation_label(relation),
                similarity: m.as_ref().map(|m| m.jaccard),
                exact_copy: m.as_ref().is_some_and(|m| m.exact),
                same_petitioner: if protected {
                    None
                } else {
                    m.as_ref().and_then(|m| m.same_petitioner)
                },
                linked,
            });
        }
        Ok(RelatedAnswer {
            case_id: case_id.to_string(),
            items,
            index: status,
        })
    }

    async fn cleared(&self, actor: &Actor, case: &CaseId) -> Result<bool, AppError> {
        Ok(self
            .store()
            .is_cleared(actor.id.as_str(), case.as_str())
            .await?)
    }

    /// The access policy's answer for reading `other` (the same rule as every case read).
    async fn may_read(
        &self,
        principal: &Principal,
        actor: &Actor,
        other: &CaseState,
    ) -> Result<bool, AppError> {
        let cleared = self.cleared(actor, &other.id).await?;
        Ok(authorize(
            principal,
            Action::ReadCase,
            Some(&CaseFacts::of(other, cleared)),
        )
        .is_ok())
    }

    /// Retrains the category and routing models from the newest registered cases (the
    /// deployment's own history; no model ships with the product).
    pub async fn retrain_text_models(&self) -> Result<ModelInfo, AppError> {
        let _one = self.text().training.lock().await;
        let cases = self.store().registered_cases(TRAINING_CASES).await?;
        let mut by_category: Vec<(String, String)> = Vec::new();
        let mut by_unit: Vec<(String, String)> = Vec::new();
        for s in &cases {
            let text = petition_text(s.petition.title.as_str(), s.petition.text.as_str());
            // the whole category path (一级/二级/三级): each level is learned where enough
            // cases were classified that deep
            if let Some(path) = s.category.as_deref()
                && !path_segments(path, 3).is_empty()
            {
                by_category.push((text.clone(), path.to_string()));
            }
            if let Some(unit) = s.routed_units.last() {
                by_unit.push((text, unit.to_string()));
            }
        }
        let n = cases.len();
        let (category, unit) =
            tokio::task::spawn_blocking(move || (train_paths(&by_category), train(&by_unit)))
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("training task failed: {e}")))?;
        let info = ModelInfo {
            trained_at: Some(self.now()),
            cases: n,
            category_labels: category
                .as_ref()
                .map_or(0, |m| m.first_level().labels().len()),
            category_labels_per_level: category
                .as_ref()
                .map_or_else(Vec::new, |m| m.labels_per_level()),
            unit_labels: unit.as_ref().map_or(0, |m| m.labels().len()),
        };
        let mut models = write(&self.text().models);
        models.category = category.map(Arc::new);
        models.unit = unit.map(Arc::new);
        models.info = info.clone();
        Ok(info)
    }

    /// `GET /api/v1/cases/{id}/suggestions`.
    pub async fn suggestions(
        &self,
        actor: &Actor,
        case_id: &CaseId,
    ) -> Result<Suggestions, AppError> {
        let (_, state, _) = self
            .authorize_case(actor, case_id, Action::ReadCase)
            .await?;
        if read(&self.text().models).info.trained_at.is_none() {
            self.retrain_text_models().await?;
        }
        let (category, unit, info) = {
            let m = read(&self.text().models);
            (m.category.clone(), m.unit.clone(), m.info.clone())
        };
        let text = petition_text(state.petition.title.as_str(), state.petition.text.as_str());
        let seg = shared();
        let (category, category_path) = path_suggestion(category.as_deref(), seg, &text);
        let unit = suggestion(unit.as_deref(), seg, &text);
        let record = match unit.best_label.as_deref() {
            Some(id) => self.store().unit(id).await?,
            None => None,
        };
        Ok(Suggestions {
            case_id: case_id.to_string(),
            category,
            unit: UnitSuggestion {
                suggestion: unit,
                unit_name: record.as_ref().map(|u| u.name.clone()),
                unit_kind: record.map(|u| u.kind),
            },
            manual_threshold: MANUAL_THRESHOLD,
            model: info,
            category_path,
        })
    }

    /// `POST /api/v1/cases/{id}/reply-check`: a draft reply or 处理意见书 checked against the
    /// petition (missing parts, stock phrases, off-topic, vague dates).
    pub async fn reply_check(
        &self,
        actor: &Actor,
        case_id: &CaseId,
        reply: &str,
    ) -> Result<ReplyCheck, AppError> {
        let n = reply.trim().chars().count();
        if n == 0 {
            return Err(AppError::invalid("reply", "reply_empty", "请填写答复内容"));
        }
        if n > MAX_REPLY_CHARS {
            return Err(AppError::invalid(
                "reply",
                "reply_too_long",
                format!("答复内容最多{MAX_REPLY_CHARS}个字符"),
            ));
        }
        let (_, state, _) = self
            .authorize_case(actor, case_id, Action::ReadCase)
            .await?;
        let message = petition_text(state.petition.title.as_str(), state.petition.text.as_str());
        Ok(check_reply(shared(), &message, reply))
    }
}

/// A 信访处理意见书 as one text for the reply check: its parts in the order the law lists them.
pub fn opinion_text(opinion: &huiyin_domain::case::HandlingOpinion) -> String {
    use huiyin_domain::case::Decision;
    let decision = match opinion.decision {
        Decision::Support => "予以支持",
        Decision::Explain => "予以解释说明",
        Decision::NotSupport => "不予支持",
    };
    format!(
        "您反映的{}。经查，{}。理由：{}。依据{}，对您的请求{}。",
        opinion.request.as_str(),
        opinion.facts.as_str(),
        opinion.reasons.as_str(),
        opinion.legal_basis.as_str(),
        decision
    )
}

/// The reply check as stored with an opinion (no floats, so the event's canonical form is the
/// same on every platform).
pub fn reply_quality(check: &ReplyCheck) -> ReplyQuality {
    ReplyQuality {
        score: check.score,
        findings: check
            .findings
            .iter()
            .map(|f| ReplyFinding {
                code: f.code.clone(),
                message: f.message.clone(),
                penalty: f.penalty,
                evidence: f.evidence.clone(),
            })
            .collect(),
        topic_overlap_pct: (check.topic_overlap.clamp(0.0, 1.0) * 100.0).round() as u8,
    }
}

/// Fills in the reply-quality check of every opinion the events issue (信访处理意见书, 复查意见,
/// 复核意见), checked against the petition of `state`, before the events are written: the
/// handler and the assigner then read the check of what was sent, without anyone asking for it.
pub(crate) fn attach_reply_quality(state: &CaseState, events: &mut [Event]) {
    for e in events.iter_mut() {
        let (EventKind::Replied { opinion, quality }
        | EventKind::ReviewDecided {
            opinion, quality, ..
        }
        | EventKind::RereviewDecided {
            opinion, quality, ..
        }) = &mut e.kind
        else {
            continue;
        };
        let message = petition_text(state.petition.title.as_str(), state.petition.text.as_str());
        let check = check_reply(shared(), &message, &opinion_text(opinion));
        *quality = Some(reply_quality(&check));
    }
}

/// The category levels on `(text, category path)` pairs, or `None` without enough history.
fn train_paths(examples: &[(String, String)]) -> Option<HierarchicalClassifier> {
    if examples.len() < MIN_TRAINING_CASES {
        return None;
    }
    let mut firsts: Vec<&str> = examples
        .iter()
        .filter_map(|(_, p)| path_segments(p, 1).first().copied())
        .collect();
    firsts.sort_unstable();
    firsts.dedup();
    if firsts.len() < 2 {
        return None;
    }
    let mut config = HierarchyConfig::default();
    config.classifier.manual_threshold = MANUAL_THRESHOLD;
    config.min_examples = MIN_TRAINING_CASES;
    match HierarchicalClassifier::train(examples, config, shared()) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, "training the category model failed");
            None
        }
    }
}

/// The intake model on `(text, label)` pairs, or `None` without enough history.
fn train(examples: &[(String, String)]) -> Option<Classifier> {
    if examples.len() < MIN_TRAINING_CASES {
        return None;
    }
    let mut labels: Vec<&str> = examples.iter().map(|(_, l)| l.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    if labels.len() < 2 {
        return None;
    }
    let mut config = ClassifierConfig::fast();
    config.manual_threshold = MANUAL_THRESHOLD;
    match Classifier::train(examples, config, shared()) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, "training a suggestion model failed");
            None
        }
    }
}
