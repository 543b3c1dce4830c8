//! A unit's open-case list among 1,000,000 cases (issue 2, "Speed": under 20 ms).
//!
//! Data set: 1,000,000 cases over 3,000 units (300 petition bureaus, each with 9 departments),
//! each case taken through the real lifecycle with the domain's `decide` and `apply` — submit,
//! register, route, accept, reply or decline — and written with the store's own write path
//! (`WriteTx::insert_case` + `WriteTx::append`, hash chain included) in transactions of 10,000
//! cases. About half the cases are open. Cases are spread over units with a skew (unit `k`
//! of 3,000 is chosen with density ∝ 1/√k), so the busiest unit holds ~2% of all cases, like
//! a big city bureau. Stages: 5% submitted, 5% registered, 15% routed, 25% handling (open);
//! 10% declined, 40% replied (closed).
//!
//! The SQLite file is cached under `target/bench-data/worklist-<version>-<n>/` and the
//! PostgreSQL data set in the schema `bench_worklist_<version>_<n>`, so reruns skip the
//! generation. Then `Store::list_cases` with `unit`, `open_only`, `limit = 50` is timed: the
//! first page, a keyset page after 1,000 rows and the last page, for the busiest unit and a
//! median one.
//!
//! ```text
//! cargo bench -p huiyin-app --bench work_list
//! HUIYIN_BENCH_CASES=1000000 HUIYIN_BENCH_PG_CASES=1000000 \
//!   HUIYIN_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyin_bench cargo bench -p huiyin-app --bench work_list
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::dataset;
use common::worklist::spec;
use common::{ms, summarize};
use criterion::{Criterion, criterion_group, criterion_main};
use huiyin_store::{CaseSummary, ListFilter, Store};
use tokio::runtime::Runtime;

const PAGE: u32 = 50;
/// The later page starts after this many rows (keyset).
const DEEP_ROWS: usize = 1_000;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The busiest unit and a median one, by open cases.
async fn pick_units(store: &Store) -> Vec<(String, i64)> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT current_unit_id, COUNT(*) AS n FROM cases WHERE is_open = 1
         GROUP BY current_unit_id ORDER BY n DESC, current_unit_id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    vec![rows[0].clone(), rows[rows.len() / 2].clone()]
}

fn filter(unit: &str, after: Option<(i64, String)>) -> ListFilter {
    ListFilter {
        unit: Some(unit.to_string()),
        open_only: true,
        after,
        limit: PAGE,
        ..ListFilter::default()
    }
}

fn key(row: &CaseSummary) -> (i64, String) {
    (row.next_due_at_ms.unwrap_or(i64::MAX), row.id.clone())
}

/// The keyset position after `rows` rows of the unit's list (walking the pages).
async fn after_rows(store: &Store, unit: &str, rows: usize) -> Option<(i64, String)> {
    let mut after = None;
    let mut seen = 0;
    while seen < rows {
        let page = store
            .list_cases(&filter(unit, after.clone()))
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        seen += page.len();
        after = Some(key(last));
        if page.len() < PAGE as usize {
            break;
        }
    }
    after
}

/// Keyset pages walked one by one give the same rows as one long page (up to 500 rows).
async fn check_pages(store: &Store, unit: &str) {
    let mut all = filter(unit, None);
    all.limit = 500;
    let expected: Vec<String> = store
        .list_cases(&all)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut walked = Vec::new();
    let mut after = None;
    while walked.len() < expected.len() {
        let page = store
            .list_cases(&filter(unit, after.clone()))
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(key(last));
        walked.extend(page.into_iter().map(|r| r.id));
    }
    walked.truncate(expected.len());
    assert_eq!(walked, expected, "keyset pages of {unit}");
}

struct Query {
    name: String,
    filter: ListFilter,
}

async fn queries(store: &Store) -> Vec<Query> {
    let mut out = Vec::new();
    for (label, (unit, open)) in ["busiest", "median"]
        .into_iter()
        .zip(pick_units(store).await)
    {
        println!("work_list: {label} unit {unit} has {open} open cases");
        check_pages(store, &unit).await;
        out.push(Query {
            name: format!("{label}_unit_first_page"),
            filter: filter(&unit, None),
        });
        // A later page: after 1,000 rows, or the last full page of a smaller list.
        let last_full = (open as usize).saturating_sub(1) / PAGE as usize * PAGE as usize;
        let deep = DEEP_ROWS.min(last_full);
        if deep == 0 {
            continue;
        }
        let after = after_rows(store, &unit, deep).await;
        out.push(Query {
            name: format!("{label}_unit_page_after_{deep}"),
            filter: filter(&unit, after),
        });
        // The last page of a long list: where a keyset condition that the index cannot seek
        // to shows (every earlier row would be read and dropped).
        if last_full > DEEP_ROWS {
            let after = after_rows(store, &unit, last_full).await;
            out.push(Query {
                name: format!("{label}_unit_last_page_after_{last_full}"),
                filter: filter(&unit, after),
            });
        }
    }
    out
}

fn single_calls(rt: &Runtime, backend: &str, store: &Store, queries: &[Query]) {
    for q in queries {
        let mut samples: Vec<Duration> = Vec::with_capacity(300);
        rt.block_on(async {
            for _ in 0..300 {
                let t = Instant::now();
                let rows = store.list_cases(&q.filter).await.unwrap();
                samples.push(t.elapsed());
                assert!(!rows.is_empty());
            }
        });
        let s = summarize(&mut samples);
        println!(
            "work_list/{backend}/{}: {} single calls, median={:.3}ms p99={:.3}ms floor<20ms (median): {}",
            q.name,
            s.n,
            ms(s.median),
            ms(s.p99),
            if ms(s.median) < 20.0 { "PASS" } else { "FAIL" },
        );
    }
}

fn bench(c: &mut Criterion) {
    // `cargo test --benches` runs bench targets without `--bench`: skip the (long) setup there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("work_list: skipped (run with `cargo bench`)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = env_u64("HUIYIN_BENCH_CASES", 1_000_000);
    let mut targets: Vec<(String, Store)> = Vec::new();
    let t = Instant::now();
    let store = rt.block_on(dataset::sqlite(&spec(), n));
    println!(
        "work_list/sqlite: {n} cases ready in {:.0}s",
        t.elapsed().as_secs_f64()
    );
    targets.push((format!("sqlite-{n}"), store));
    if let Some(base) = common::pg_base() {
        let pg_n = env_u64("HUIYIN_BENCH_PG_CASES", n);
        let t = Instant::now();
        let (store, _schema) = rt.block_on(dataset::postgres(&spec(), &base, pg_n));
        println!(
            "work_list/postgres: {pg_n} cases ready in {:.0}s",
            t.elapsed().as_secs_f64()
        );
        targets.push((format!("postgres-{pg_n}"), store));
    }
    for (backend, store) in &targets {
        let count = rt.block_on(store.count_cases()).unwrap();
        println!("work_list/{backend}: {count} cases in the table");
        let qs = rt.block_on(queries(store));
        single_calls(&rt, backend, store, &qs);
        let mut group = c.benchmark_group(format!("work_list/{backend}"));
        for q in &qs {
            group.bench_function(&q.name, |b| {
                b.iter(|| rt.block_on(store.list_cases(&q.filter)).unwrap());
            });
        }
        group.finish();
        rt.block_on(store.close());
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
