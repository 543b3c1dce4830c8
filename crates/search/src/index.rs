//! The index on disk, fed from the event log by global sequence number.
//!
//! The checkpoint (the last `seq` read) is the payload of the index's own commit, so the
//! documents and the checkpoint are written together: after a crash the index is exactly as
//! of its last commit and catches up from there (re-indexing a case from its current state
//! is idempotent). A missing, unreadable or older-schema index directory is rebuilt.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use huiyin_store::{SearchSource, Store};
use huiyin_text::segment::Segmenter;
use serde::{Deserialize, Serialize};
use tantivy::schema::{Term, Value};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument};

use crate::SearchError;
use crate::schema::{Fields, SCHEMA_VERSION, UnitTree, document, schema};
use crate::tokenizer::{TOKENIZER, ZhTokenizer};

/// Events read per catch-up page.
const FEED_PAGE: u32 = 2000;
/// Cases read per rebuild page.
const REBUILD_PAGE: u32 = 2000;
/// The writer's memory budget per indexing thread (tantivy's minimum is 15 MB).
const WRITER_BUDGET_PER_THREAD: usize = 64_000_000;
/// Indexing threads at most (each segments and files the documents given to it).
const WRITER_THREADS: usize = 4;
/// Below this many cases a batch is segmented on the calling thread.
const PARALLEL_FROM: usize = 64;

#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    seq: i64,
    schema: u32,
}

/// How far behind the log the index is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SearchStatus {
    /// Cases in the index.
    pub indexed: u64,
    /// The last event the index has committed.
    pub fed_seq: i64,
    /// The last event written to the log.
    pub head_seq: i64,
    /// Events not yet in the index.
    pub behind_events: i64,
}

/// What `huiyin reindex --check` finds.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ConsistencyReport {
    pub cases_in_database: u64,
    pub cases_in_index: u64,
    /// In the database, not in the index (first 20).
    pub missing: Vec<String>,
    /// In the index, not in the database (first 20).
    pub extra: Vec<String>,
    /// In both, at another version (first 20).
    pub stale: Vec<String>,
    pub missing_count: u64,
    pub extra_count: u64,
    pub stale_count: u64,
    /// Whether the index had read the whole log when checked (otherwise differences for
    /// cases changed since are expected).
    pub caught_up: bool,
}

impl ConsistencyReport {
    pub fn ok(&self) -> bool {
        self.missing_count == 0 && self.extra_count == 0 && self.stale_count == 0
    }
}

/// A test hook: stop indexing after this many documents without committing, as a crash
/// would.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultPlan {
    pub crash_after_docs: Option<u64>,
}

pub(crate) struct Writer {
    pub(crate) writer: IndexWriter<TantivyDocument>,
    pub(crate) fed_seq: i64,
    units: Arc<UnitTree>,
    units_loaded: bool,
}

/// The search index of one application server.
pub struct SearchIndex {
    pub(crate) index: Index,
    pub(crate) reader: IndexReader,
    pub(crate) fields: Fields,
    pub(crate) seg: &'static Segmenter,
    pub(crate) writer: tokio::sync::Mutex<Writer>,
    fed: Mutex<i64>,
    dir: Option<PathBuf>,
    /// Threads that segment documents.
    threads: usize,
}

fn open_or_create(dir: Option<&Path>) -> Result<(Index, i64), SearchError> {
    let (schema, _) = schema();
    let Some(dir) = dir else {
        return Ok((Index::create_in_ram(schema), 0));
    };
    if let Ok(index) = Index::open_in_dir(dir) {
        let same_schema =
            serde_json::to_string(&index.schema()).ok() == serde_json::to_string(&schema).ok();
        let checkpoint = index
            .load_metas()
            .ok()
            .and_then(|m| m.payload)
            .and_then(|p| serde_json::from_str::<Checkpoint>(&p).ok());
        if same_schema && let Some(cp) = checkpoint.as_ref().filter(|c| c.schema == SCHEMA_VERSION)
        {
            return Ok((index, cp.seq));
        }
        if same_schema && checkpoint.is_none() {
            // created but never committed: empty, fed from 0
            return Ok((index, 0));
        }
        tracing::warn!(dir = %dir.display(), "search index of another schema; rebuilding");
    }
    // Missing or unreadable: start afresh.
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| SearchError::Io(e.to_string()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| SearchError::Io(e.to_string()))?;
    Ok((Index::create_in_dir(dir, schema)?, 0))
}

impl SearchIndex {
    /// Opens the index in `dir` (created or rebuilt when missing, unreadable or of another
    /// schema), or an in-memory index with `None`. `seg` is the segmenter with the
    /// deployment's dictionaries.
    pub fn open(dir: Option<&Path>, seg: &'static Segmenter) -> Result<SearchIndex, SearchError> {
        let (index, fed_seq) = match open_or_create(dir) {
            Ok(x) => x,
            Err(e) => {
                let Some(d) = dir else { return Err(e) };
                tracing::warn!(error = %e, "search index unreadable; rebuilding");
                if d.exists() {
                    std::fs::remove_dir_all(d).map_err(|e| SearchError::Io(e.to_string()))?;
                }
                open_or_create(dir)?
            }
        };
        index
            .tokenizers()
            .register(TOKENIZER, ZhTokenizer::new(seg));
        let (_, fields) = schema();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let writer_threads = threads.clamp(1, WRITER_THREADS);
        let writer = index
            .writer_with_num_threads(writer_threads, writer_threads * WRITER_BUDGET_PER_THREAD)?;
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
            seg,
            writer: tokio::sync::Mutex::new(Writer {
                writer,
                fed_seq,
                units: Arc::new(UnitTree::default()),
                units_loaded: false,
            }),
            fed: Mutex::new(fed_seq),
            dir: dir.map(Path::to_path_buf),
            threads,
        })
    }

    /// The tantivy index (benchmarks read its size and segments).
    pub fn tantivy_index(&self) -> &Index {
        &self.index
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The last event sequence number the index has committed.
    pub fn fed_seq(&self) -> i64 {
        *self.fed.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_fed(&self, seq: i64) {
        *self.fed.lock().unwrap_or_else(|p| p.into_inner()) = seq;
    }

    /// Cases in the index as of the last commit.
    pub fn indexed(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub async fn status(&self, store: &Store) -> Result<SearchStatus, SearchError> {
        let (head, _) = store.head().await?;
        let fed = self.fed_seq();
        Ok(SearchStatus {
            indexed: self.indexed(),
            fed_seq: fed,
            head_seq: head,
            behind_events: (head - fed).max(0),
        })
    }

    async fn load_units(store: &Store, w: &mut Writer) -> Result<(), SearchError> {
        let units = store.units().await?;
        w.units = Arc::new(UnitTree {
            units: units
                .into_iter()
                .map(|u| (u.id, (u.name, u.parent_id)))
                .collect(),
        });
        w.units_loaded = true;
        Ok(())
    }

    /// Builds the documents of `sources` (place extraction segments title and text) on every
    /// core, off the async threads; the writer's threads then segment the text fields.
    async fn documents(
        &self,
        sources: Vec<SearchSource>,
        units: Arc<UnitTree>,
    ) -> Result<Vec<TantivyDocument>, SearchError> {
        let fields = self.fields;
        let seg = self.seg;
        let threads = self.threads;
        tokio::task::spawn_blocking(move || {
            build_documents(&fields, &sources, &units, seg, threads)
        })
        .await
        .map_err(|e| SearchError::Io(format!("indexing task: {e}")))?
    }

    /// Adds the documents (each replacing the case's earlier one); `false` when the fault
    /// plan's budget ran out (nothing of this batch after that point is added).
    fn add_documents(
        &self,
        w: &mut Writer,
        docs: Vec<(String, TantivyDocument)>,
        budget: &mut Option<u64>,
    ) -> Result<bool, SearchError> {
        for (id, doc) in docs {
            if let Some(left) = budget {
                if *left == 0 {
                    return Ok(false);
                }
                *left -= 1;
            }
            w.writer
                .delete_term(Term::from_field_text(self.fields.id, &id));
            w.writer.add_document(doc)?;
        }
        Ok(true)
    }

    async fn index_sources(
        &self,
        w: &mut Writer,
        sources: Vec<SearchSource>,
        budget: &mut Option<u64>,
    ) -> Result<bool, SearchError> {
        let ids: Vec<String> = sources
            .iter()
            .map(|s| s.state.id.as_str().to_string())
            .collect();
        let docs = self.documents(sources, w.units.clone()).await?;
        self.add_documents(w, ids.into_iter().zip(docs).collect(), budget)
    }

    fn commit(&self, w: &mut Writer, seq: i64) -> Result<(), SearchError> {
        let payload = serde_json::to_string(&Checkpoint {
            seq,
            schema: SCHEMA_VERSION,
        })
        .map_err(|e| SearchError::Io(e.to_string()))?;
        let mut prepared = w.writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        w.fed_seq = seq;
        self.reader.reload()?;
        self.set_fed(seq);
        Ok(())
    }

    /// Reads the log after the checkpoint and re-indexes every case it touches, committing
    /// with the new checkpoint after each page; a never-fed index is rebuilt instead.
    /// Returns the number of cases (re)indexed.
    pub async fn catch_up(&self, store: &Store) -> Result<u64, SearchError> {
        self.catch_up_with(store, FaultPlan::default()).await
    }

    /// [`SearchIndex::catch_up`] with a fault plan (tests).
    pub async fn catch_up_with(&self, store: &Store, plan: FaultPlan) -> Result<u64, SearchError> {
        let mut w = self.writer.lock().await;
        self.catch_up_locked(store, &mut w, plan).await
    }

    /// [`SearchIndex::catch_up`] unless another catch-up is running (`None` then: the caller
    /// answers from the index as it is rather than wait, e.g. behind a start-up rebuild).
    pub async fn try_catch_up(&self, store: &Store) -> Result<Option<u64>, SearchError> {
        let Ok(mut w) = self.writer.try_lock() else {
            return Ok(None);
        };
        self.catch_up_locked(store, &mut w, FaultPlan::default())
            .await
            .map(Some)
    }

    async fn catch_up_locked(
        &self,
        store: &Store,
        w: &mut Writer,
        plan: FaultPlan,
    ) -> Result<u64, SearchError> {
        if w.fed_seq == 0 {
            return self.rebuild_locked(store, w, plan).await;
        }
        if !w.units_loaded {
            Self::load_units(store, w).await?;
        }
        let mut budget = plan.crash_after_docs;
        let mut n = 0;
        loop {
            let (ids, last) = store.cases_changed_after(w.fed_seq, FEED_PAGE).await?;
            if last == w.fed_seq {
                return Ok(n);
            }
            let sources = store.search_sources_of(&ids).await?;
            // A unit created since the tree was read: read the tree again.
            let unknown = sources.iter().any(|s| {
                crate::schema::units_on(&s.state)
                    .iter()
                    .any(|u| !w.units.units.contains_key(*u))
            });
            if unknown {
                Self::load_units(store, w).await?;
            }
            let count = sources.len() as u64;
            if !self.index_sources(w, sources, &mut budget).await? {
                w.writer.rollback()?;
                return Err(SearchError::Crashed);
            }
            n += count;
            self.commit(w, last)?;
        }
    }

    /// Drops every document and indexes every case from the `cases` table, then sets the
    /// checkpoint to the log head read before the scan (events after it are replayed by the
    /// next catch-up, so none is missed). Returns the number of cases indexed.
    pub async fn rebuild(&self, store: &Store) -> Result<u64, SearchError> {
        let mut w = self.writer.lock().await;
        self.rebuild_locked(store, &mut w, FaultPlan::default())
            .await
    }

    /// [`SearchIndex::rebuild`] with a fault plan (tests).
    pub async fn rebuild_with(&self, store: &Store, plan: FaultPlan) -> Result<u64, SearchError> {
        let mut w = self.writer.lock().await;
        self.rebuild_locked(store, &mut w, plan).await
    }

    async fn rebuild_locked(
        &self,
        store: &Store,
        w: &mut Writer,
        plan: FaultPlan,
    ) -> Result<u64, SearchError> {
        let (head, _) = store.head().await?;
        Self::load_units(store, w).await?;
        w.writer.delete_all_documents()?;
        let mut budget = plan.crash_after_docs;
        let mut n = 0;
        // A pipeline: while one page is segmented on the blocking threads, the next is read
        // from the database (and its state JSON parsed).
        let mut page = store.search_sources_after(None, REBUILD_PAGE).await?;
        while let Some(last) = page.last() {
            let after = last.state.id.as_str().to_string();
            let ids: Vec<String> = page
                .iter()
                .map(|s| s.state.id.as_str().to_string())
                .collect();
            let (docs, next) = tokio::join!(
                self.documents(page, w.units.clone()),
                store.search_sources_after(Some(&after), REBUILD_PAGE)
            );
            n += ids.len() as u64;
            if !self.add_documents(w, ids.into_iter().zip(docs?).collect(), &mut budget)? {
                w.writer.rollback()?;
                return Err(SearchError::Crashed);
            }
            page = next?;
        }
        self.commit(w, head)?;
        Ok(n)
    }

    /// Compares the index with the `cases` table: every case present at its current version,
    /// nothing else.
    pub async fn check(&self, store: &Store) -> Result<ConsistencyReport, SearchError> {
        let mut in_index = std::collections::HashMap::new();
        let searcher = self.reader.searcher();
        for seg in searcher.segment_readers() {
            let versions = seg.fast_fields().i64("version")?;
            let store_reader = seg
                .get_store_reader(16)
                .map_err(|e| SearchError::Io(e.to_string()))?;
            for doc in seg.doc_ids_alive() {
                let d: TantivyDocument = store_reader.get(doc)?;
                let id = d
                    .get_first(self.fields.id)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                in_index.insert(id, versions.first(doc).unwrap_or(-1));
            }
        }
        let mut report = ConsistencyReport {
            cases_in_index: in_index.len() as u64,
            ..ConsistencyReport::default()
        };
        let mut after: Option<String> = None;
        loop {
            let page = store.case_versions_after(after.as_deref(), 5000).await?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (id, version) in page {
                report.cases_in_database += 1;
                match in_index.remove(&id) {
                    None => {
                        report.missing_count += 1;
                        if report.missing.len() < 20 {
                            report.missing.push(id);
                        }
                    }
                    Some(v) if v != version => {
                        report.stale_count += 1;
                        if report.stale.len() < 20 {
                            report.stale.push(id);
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        for id in in_index.into_keys() {
            report.extra_count += 1;
            if report.extra.len() < 20 {
                report.extra.push(id);
            }
        }
        let (head, _) = store.head().await?;
        report.caught_up = self.fed_seq() >= head;
        Ok(report)
    }
}

/// The documents of `sources`, in order, built on up to `threads` threads.
fn build_documents(
    fields: &Fields,
    sources: &[SearchSource],
    units: &UnitTree,
    seg: &Segmenter,
    threads: usize,
) -> Result<Vec<TantivyDocument>, SearchError> {
    if threads < 2 || sources.len() < PARALLEL_FROM {
        return Ok(sources
            .iter()
            .map(|src| document(fields, src, units, seg))
            .collect());
    }
    let chunk = sources.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = sources
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|src| document(fields, src, units, seg))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(sources.len());
        for worker in workers {
            let docs = worker
                .join()
                .map_err(|_| SearchError::Io("an indexing thread panicked".into()))?;
            out.extend(docs);
        }
        Ok(out)
    })
}
