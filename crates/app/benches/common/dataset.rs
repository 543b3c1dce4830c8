//! Large generated data sets for the benches, written with the store's own write path
//! (`WriteTx::insert_case` + `WriteTx::append`, hash chain included) in transactions of 10,000
//! cases and cached: the SQLite file under `target/bench-data/<cache>-<version>-<n>/`, the
//! PostgreSQL data set in the schema `bench_<cache>_<version>_<n>`, so reruns skip the
//! generation. The units are one tree of petition bureaus, each with 9 departments
//! ([`unit_id`], [`region_of`]).

use std::path::Path;
use std::time::Instant;

use huiyin_domain::calendar::Calendar;
use huiyin_domain::case::{Actor, CaseState, Command, Ctx, Event, apply, decide};
use huiyin_domain::ids::CaseId;
use huiyin_domain::policy::PolicySet;
use huiyin_store::{Projection, Store};

use super::Rng;

/// One generated case: its final state, list columns, events and secret hash.
pub struct GenCase {
    pub state: CaseState,
    pub projection: Projection,
    pub events: Vec<Event>,
    pub secret_hash: String,
}

/// A data set: how to make case `i`, and how it is cached.
pub struct Spec {
    /// The bench's name, in progress lines.
    pub name: &'static str,
    /// The cache's name.
    pub cache: &'static str,
    /// Bump when the generated data changes, so stale caches are not reused.
    pub version: &'static str,
    /// Units `0..units` of the tree.
    pub units: u64,
    pub seed: u64,
    pub generate: fn(u64, &mut Rng, &PolicySet, &Calendar) -> GenCase,
}

const CHUNK: usize = 10_000;
/// Cases whose writes are sent together within a transaction.
const FLUSH: usize = 250;
/// The cases of a lean data set that have their event log (so the log is not empty).
pub const LEAN_LOGGED: u64 = 1_000;

/// While a lean data set of `n` cases is generated: `n` (its cases are received in order).
static ORDERED_OVER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `Some(n)` while a lean data set of `n` cases is generated: the generators then spread the
/// cases' arrival over the year in the order of their index.
pub fn ordered_over() -> Option<u64> {
    match ORDERED_OVER.load(std::sync::atomic::Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}

/// Unit `k`: bureau `b0000`, `b0010`, …; departments `d0001`…`d0009` under `b0000`, and so on.
pub fn unit_id(k: u64) -> String {
    if k.is_multiple_of(10) {
        format!("b{k:04}")
    } else {
        format!("d{k:04}")
    }
}

/// The county of unit `k`'s bureau.
pub fn region_of(k: u64) -> String {
    format!("44{:04}", k / 10)
}

/// Writes `n` cases of `spec` (and its units) through the store's write path, the events of
/// each case with it (all cases when `lean` is false, the first [`LEAN_LOGGED`] otherwise).
pub async fn write(store: &Store, spec: &Spec, n: u64, label: &str, lean: bool) {
    let name = spec.name;
    let started = Instant::now();
    // The units in one transaction (bureaus come before their departments).
    let mut wtx = store.begin_write().await.unwrap();
    for k in 0..spec.units {
        let unit = if k.is_multiple_of(10) {
            super::bureau(&unit_id(k), &region_of(k))
        } else {
            super::department(&unit_id(k), &region_of(k), &unit_id(k - k % 10))
        };
        sqlx::query(
            "INSERT INTO units (id, name, kind, region_code, parent_id, created_at)
             VALUES ($1, $2, $3, $4, $5, 0)",
        )
        .bind(unit.id)
        .bind(unit.name)
        .bind(unit.kind)
        .bind(unit.region_code)
        .bind(unit.parent_id)
        .execute(&mut *wtx.conn())
        .await
        .unwrap();
    }
    wtx.commit().await.unwrap();
    ORDERED_OVER.store(
        if lean { n } else { 0 },
        std::sync::atomic::Ordering::Relaxed,
    );
    // Cases are made on another thread while this one writes the previous ones.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<GenCase>(CHUNK);
    let (make, seed) = (spec.generate, spec.seed);
    let producer = std::thread::spawn(move || {
        let policies = PolicySet::default();
        let calendar = Calendar::china();
        let mut rng = Rng::new(seed);
        for i in 0..n {
            if tx
                .blocking_send(make(i, &mut rng, &policies, calendar))
                .is_err()
            {
                break;
            }
        }
    });
    let mut written = 0u64;
    let mut events = 0u64;
    while written < n {
        // The writer's group commit: the writes kept and sent as multi-row statements.
        let mut wtx = store.begin_batch().await.unwrap();
        let mut in_tx = 0;
        while in_tx < CHUNK && written < n {
            let Some(c) = rx.recv().await else { break };
            wtx.insert_case(&c.state, &c.projection, &c.secret_hash)
                .await
                .unwrap();
            if !lean || written < LEAN_LOGGED {
                wtx.append(&c.events).await.unwrap();
                events += c.events.len() as u64;
            }
            in_tx += 1;
            written += 1;
            if in_tx % FLUSH == 0 {
                wtx.flush().await.unwrap();
            }
        }
        wtx.commit().await.unwrap();
        if written.is_multiple_of(100_000) || written == n {
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{name}/{label}: generated {written}/{n} cases ({events} events) in {secs:.0}s, {:.0} cases/s",
                written as f64 / secs
            );
        }
    }
    producer.join().unwrap();
}

/// The cached SQLite data set, generated on first use.
pub async fn sqlite(spec: &Spec, n: u64) -> Store {
    sqlite_of(spec, n, false).await
}

/// A lean data set: every case's row (list columns and its real state) but the event log of
/// only the first [`LEAN_LOGGED`] cases — for the benches that read the projection and the
/// counters, never the log, at sizes whose full log would not fit this machine's disk — and
/// the cases received in the order they were made, as in production (see [`ordered_over`]).
pub async fn sqlite_lean(spec: &Spec, n: u64) -> Store {
    sqlite_of(spec, n, true).await
}

async fn sqlite_of(spec: &Spec, n: u64, lean: bool) -> Store {
    let (name, version) = (spec.cache, spec.version);
    let root = super::bench_data_dir();
    let lean_suffix = if lean { "-lean2" } else { "" };
    let dir = root.join(format!("{name}-{version}-{n}{lean_suffix}"));
    let marker = dir.join("complete");
    if !marker.exists() {
        let partial = root.join(format!("{name}-{version}-{n}{lean_suffix}.partial"));
        if partial.exists() {
            std::fs::remove_dir_all(&partial).unwrap();
        }
        let store = Store::open_dir(&partial).await.unwrap();
        store.migrate().await.unwrap();
        write(&store, spec, n, "sqlite", lean).await;
        store.close().await;
        std::fs::write(partial.join("complete"), version).unwrap();
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::rename(&partial, &dir).unwrap();
    } else {
        println!(
            "{}/sqlite: using cached data set {}",
            spec.name,
            dir.display()
        );
    }
    print_size(spec, &dir.join("huiyin.db"));
    let store = Store::open_dir(&dir).await.unwrap();
    migrate_cached(spec, &store, "sqlite").await;
    store
}

/// Brings a cached data set to the current schema (migrations added since it was generated
/// run over its 1,000,000 cases once), so the lists are measured with every current index.
async fn migrate_cached(spec: &Spec, store: &Store, label: &str) {
    let t = Instant::now();
    let applied = store.migrate().await.unwrap();
    if !applied.is_empty() {
        println!(
            "{}/{label}: applied migrations {applied:?} to the cached data set in {:.0}s",
            spec.name,
            t.elapsed().as_secs_f64()
        );
    }
}

fn print_size(spec: &Spec, path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        println!(
            "{}/sqlite: database file {:.2} GiB",
            spec.name,
            meta.len() as f64 / (1u64 << 30) as f64
        );
    }
}

/// The cached PostgreSQL data set (a schema in the bench database), generated on first use.
pub async fn postgres(spec: &Spec, base: &str, n: u64) -> (Store, String) {
    let schema = format!("bench_{}_{}_{n}", spec.cache, spec.version);
    let admin = Store::connect(base).await.unwrap();
    let done: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'bench_meta'",
    )
    .bind(schema.as_str())
    .fetch_optional(admin.pool())
    .await
    .unwrap();
    admin.close().await;
    if done.is_some() {
        println!(
            "{}/postgres: using cached data set in schema {schema}",
            spec.name
        );
        let store = Store::connect(&super::pg_url(base, &schema)).await.unwrap();
        migrate_cached(spec, &store, "postgres").await;
        return (store, schema);
    }
    let store = super::pg_store(base, &schema, true).await.unwrap();
    write(&store, spec, n, "postgres", false).await;
    // What autovacuum would do soon after a load this size.
    sqlx::raw_sql("ANALYZE")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::raw_sql("CREATE TABLE bench_meta (version TEXT NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap();
    (store, schema)
}

/// A case taken through its lifecycle with the domain's own `decide` and `apply`.
pub struct Lifecycle<'a> {
    pub id: CaseId,
    pub state: Option<CaseState>,
    pub events: Vec<Event>,
    policies: &'a PolicySet,
    calendar: &'a Calendar,
}

impl<'a> Lifecycle<'a> {
    pub fn new(policies: &'a PolicySet, calendar: &'a Calendar) -> Self {
        Lifecycle {
            id: CaseId::new(uuid::Uuid::now_v7().to_string()),
            state: None,
            events: Vec::new(),
            policies,
            calendar,
        }
    }

    /// Runs `command` at `now`; it must be allowed.
    pub fn step(&mut self, actor: &Actor, now: huiyin_domain::Instant, command: Command) {
        let policy = match (&self.state, &command) {
            (Some(s), _) => self
                .policies
                .resolve(s.petition.region.as_str(), s.category.as_deref()),
            (None, Command::Submit { petition, .. }) => {
                self.policies.resolve(petition.region.as_str(), None)
            }
            (None, _) => self.policies.national.clone(),
        };
        let ctx = Ctx {
            now,
            actor,
            policy: &policy,
            calendar: self.calendar,
        };
        let new = decide(self.state.as_ref(), &self.id, command, &ctx).expect("allowed step");
        for e in &new {
            self.state = Some(apply(self.state.take(), e).expect("apply"));
        }
        self.events.extend(new);
    }

    /// The generated case, with its projection under its policy.
    pub fn finish(self, secret_hash: String) -> GenCase {
        let state = self.state.expect("a state");
        let policy = self
            .policies
            .resolve(state.petition.region.as_str(), state.category.as_deref());
        GenCase {
            projection: Projection::of(&state, &policy, self.calendar),
            state,
            events: self.events,
            secret_hash,
        }
    }
}
