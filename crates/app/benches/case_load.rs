//! Loading and projecting one case with 1,000 events (issue 2, "Speed": under 1 ms).
//!
//! The case is built through the real application path: submit, register, then 998 internal
//! notes (`Command::AddNote`) by a registrar of the bureau. Then:
//! - `events_of+replay`: `Store::events_of` (read and decode every event) and
//!   `huiyin_domain::case::replay` (fold them into the state) — what the verifier and the
//!   timeline do;
//! - `events_of`: the read and decode alone, to split the cost;
//! - `events_rows_undecoded`: the events fetched row by row through the pool without decoding
//!   (diagnostic: how `events_of` read them before it asked for one aggregated row);
//! - `case_snapshot`: `Store::case`, the stored projection the application reads on every
//!   command and view.
//!
//! Criterion measures each; the bench also prints the median and p99 of single calls.
//!
//! ```text
//! cargo bench -p huiyin-app --bench case_load
//! HUIYIN_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyin_bench cargo bench -p huiyin-app --bench case_load
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{ms, summarize};
use criterion::{Criterion, criterion_group, criterion_main};
use huiyin_app::{App, Config, NewPetition};
use huiyin_domain::case::{Command, Role, replay};
use huiyin_domain::ids::CaseId;
use huiyin_domain::petition::{AppealRoute, StatutoryClass};
use huiyin_domain::values::DocumentText;
use huiyin_store::Store;
use tokio::runtime::Runtime;

const BUREAU: &str = "4406-xfj";
const EVENTS: u64 = 1_000;

/// Builds the case with `EVENTS` events and returns its id.
async fn build_case(store: &Store) -> CaseId {
    store
        .insert_unit(&common::bureau(BUREAU, "4406"))
        .await
        .unwrap();
    let app = App::new(store.clone(), Config::default());
    let receipt = app
        .submit(
            common::petitioner(1),
            NewPetition {
                petition: common::petition(1, "440604"),
                idempotency_key: None,
                received_at: None,
            },
        )
        .await
        .unwrap();
    let id = CaseId::new(receipt.case_id);
    let registrar = common::staff("registrar", BUREAU, &[Role::Registrar]);
    app.execute(
        registrar.clone(),
        id.clone(),
        Command::Register {
            class: StatutoryClass::Appeal(AppealRoute::PetitionProcedure),
            category: None,
            accused: Vec::new(),
        },
        None,
    )
    .await
    .unwrap();
    // The notes go in concurrently, so the writer batches them.
    let mut handles = Vec::new();
    for i in 2..EVENTS {
        let app = app.clone();
        let registrar = registrar.clone();
        let id = id.clone();
        handles.push(tokio::spawn(async move {
            let text = DocumentText::parse(&format!(
                "第{i}次备注：已电话联系信访人，了解诉求的具体情况，并与相关职能部门沟通协调，约定下周现场核实。"
            ))
            .unwrap();
            app.execute(registrar, id, Command::AddNote { text }, None)
                .await
                .unwrap();
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let events = store.events_of(&id).await.unwrap();
    assert_eq!(events.len() as u64, EVENTS);
    let replayed = replay(events.iter().map(|e| &e.event)).unwrap();
    let stored = store.case(&id).await.unwrap().map(|r| r.state);
    assert_eq!(replayed, stored, "replay reproduces the stored projection");
    id
}

fn single_calls(rt: &Runtime, backend: &str, store: &Store, id: &CaseId) {
    let samples = 500;
    let mut replay_t: Vec<Duration> = Vec::with_capacity(samples);
    let mut snap_t: Vec<Duration> = Vec::with_capacity(samples);
    rt.block_on(async {
        for _ in 0..samples {
            let t = Instant::now();
            let events = store.events_of(id).await.unwrap();
            let state = replay(events.iter().map(|e| &e.event)).unwrap();
            std::hint::black_box(state);
            replay_t.push(t.elapsed());
            let t = Instant::now();
            std::hint::black_box(store.case(id).await.unwrap());
            snap_t.push(t.elapsed());
        }
    });
    for (name, samples, floor_ms) in [
        ("events_of+replay", &mut replay_t, 1.0),
        ("case_snapshot", &mut snap_t, 1.0),
    ] {
        let s = summarize(samples);
        println!(
            "case_load/{backend}/{name}: {} single calls, median={:.3}ms p99={:.3}ms floor<{floor_ms}ms (median): {}",
            s.n,
            ms(s.median),
            ms(s.p99),
            if ms(s.median) < floor_ms {
                "PASS"
            } else {
                "FAIL"
            },
        );
    }
}

fn bench(c: &mut Criterion) {
    // `cargo test --benches` runs bench targets without `--bench`: skip the (long) setup there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("case_load: skipped (run with `cargo bench`)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut targets: Vec<(&'static str, Store, Option<tempfile::TempDir>)> = Vec::new();
    let (store, dir) = rt.block_on(common::sqlite_fresh()).unwrap();
    targets.push(("sqlite", store, Some(dir)));
    let pg_base = common::pg_base();
    if let Some(base) = &pg_base {
        let store = rt
            .block_on(common::pg_store(base, "bench_case_load", true))
            .unwrap();
        targets.push(("postgres", store, None));
    }
    for (backend, store, _dir) in &targets {
        let t = Instant::now();
        let id = rt.block_on(build_case(store));
        println!(
            "case_load/{backend}: built a case with {EVENTS} events in {:.1}s",
            t.elapsed().as_secs_f64()
        );
        single_calls(&rt, backend, store, &id);
        let mut group = c.benchmark_group(format!("case_load/{backend}"));
        group.bench_function("events_of+replay", |b| {
            b.iter(|| {
                rt.block_on(async {
                    let events = store.events_of(&id).await.unwrap();
                    replay(events.iter().map(|e| &e.event)).unwrap()
                })
            });
        });
        group.bench_function("events_of", |b| {
            b.iter(|| rt.block_on(store.events_of(&id)).unwrap());
        });
        // Diagnostic: the rows fetched one by one through the pool, not decoded — the driver's
        // per-row cost that `events_of` avoids by reading one aggregated row.
        group.bench_function("events_rows_undecoded", |b| {
            b.iter(|| {
                rt.block_on(
                    sqlx::query(
                        "SELECT seq, case_id, version, at_ms, actor, actor_unit, payload, hash
                         FROM events WHERE case_id = $1 ORDER BY version",
                    )
                    .bind(id.as_str())
                    .fetch_all(store.pool()),
                )
                .unwrap()
                .len()
            });
        });
        // Diagnostic: the chunk rows `events_of` reads, fetched but not decoded — what the
        // driver costs before any JSON is parsed.
        let chunk_rows = || {
            rt.block_on(
                sqlx::query_as::<_, (String,)>(
                    "SELECT body FROM event_chunks WHERE case_id = $1 ORDER BY chunk",
                )
                .bind(id.as_str())
                .fetch_all(store.pool()),
            )
            .unwrap()
        };
        group.bench_function("chunks_undecoded", |b| {
            b.iter(|| chunk_rows().len());
        });
        let bodies = chunk_rows();
        group.bench_function("chunks_scan_only", |b| {
            b.iter(|| {
                for (body,) in &bodies {
                    for v in serde_json::Deserializer::from_str(body)
                        .into_iter::<serde::de::IgnoredAny>()
                    {
                        v.unwrap();
                    }
                }
            });
        });
        group.bench_function("chunks_decode_only", |b| {
            b.iter(|| {
                let mut n = 0;
                for (body,) in &bodies {
                    n += huiyin_store::decode_chunk_for_bench(&id, body)
                        .unwrap()
                        .len();
                }
                n
            });
        });
        let decoded: Vec<_> = bodies
            .iter()
            .flat_map(|(b,)| huiyin_store::decode_chunk_for_bench(&id, b).unwrap())
            .collect();
        group.bench_function("replay_only", |b| {
            b.iter(|| replay(decoded.iter().map(|e| &e.event)).unwrap());
        });
        group.bench_function("case_snapshot", |b| {
            b.iter(|| rt.block_on(store.case(&id)).unwrap());
        });
        group.finish();
        rt.block_on(store.close());
    }
    if let Some(base) = &pg_base {
        rt.block_on(common::pg_drop_schema(base, "bench_case_load"))
            .unwrap();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(100)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
