//! Submission throughput (issue 2, "Speed"): petitions submitted *and* registered per second,
//! durably, through the real application path, with many concurrent callers so the writer's
//! group commit batches.
//!
//! Each petition is `App::submit_checked` by a petitioner (online, named, with an idempotency
//! key, so the personal-data and submission rows are written too; then the duplicate-index
//! lookup of the petitioner's own earlier cases, as the public submit of `huiyin serve` does,
//! with the background index feeder running as there) followed by `App::execute`
//! `Command::Register` by a registrar of the receiving bureau. Its latency is the time from the
//! submit call to the register answer; both answers come only after their commit (SQLite WAL
//! with `synchronous = FULL`, or PostgreSQL with `synchronous_commit = on`).
//!
//! ```text
//! cargo bench -p huiyin-app --bench submit_throughput
//! HUIYIN_BENCH_N=20000 HUIYIN_BENCH_TASKS=64 HUIYIN_BENCH_DATABASE_URL=postgres://… cargo bench …
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Result, ms, summarize};
use huiyin_app::{App, Config};
use huiyin_domain::case::Role;
use huiyin_store::Store;

const BUREAU: &str = "4406-xfj";
const REGION: &str = "440604";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Outcome {
    backend: &'static str,
    petitions: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: u64,
    stats: huiyin_app::WriterStats,
}

/// The cost of one statement round trip inside a transaction (the writer's unit of work):
/// a primary-key read of the chain head, 2,000 times.
async fn statement_round_trip(backend: &str, store: &Store) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    let mut samples = Vec::with_capacity(2_000);
    for _ in 0..2_000 {
        let t = Instant::now();
        let _: (i64,) = sqlx::query_as("SELECT seq FROM chain_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        samples.push(t.elapsed());
    }
    tx.rollback().await?;
    let s = summarize(&mut samples);
    println!(
        "submit_throughput/{backend:<8} one statement round trip in a transaction: median={:.1}µs p99={:.1}µs",
        s.median.as_secs_f64() * 1e6,
        s.p99.as_secs_f64() * 1e6,
    );
    Ok(())
}

async fn run(backend: &'static str, store: Store, n: u64, tasks: u64) -> Result<Outcome> {
    statement_round_trip(backend, &store).await?;
    store.insert_unit(&common::bureau(BUREAU, "4406")).await?;
    let app = App::new(store, Config::default());
    // As `huiyin serve`: the duplicate index is caught up from the log in the background.
    app.start_text_feeder();
    let registrar = common::staff("registrar", BUREAU, &[Role::Registrar]);

    // A short warm-up (connections, caches), not counted.
    for i in 0..50 {
        common::submit_and_register(&app, &registrar, REGION, u64::MAX - i).await?;
    }
    let before = app.writer_stats();

    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let app = app.clone();
        let registrar = registrar.clone();
        let next = next.clone();
        let errors = errors.clone();
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                match common::submit_and_register(&app, &registrar, REGION, i).await {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("petition {i} failed: {e}");
                        }
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(n as usize);
    for h in handles {
        latencies.extend(h.await?);
    }
    let elapsed = started.elapsed();
    let after = app.writer_stats();
    let stats = huiyin_app::WriterStats {
        batches: after.batches - before.batches,
        commands: after.commands - before.commands,
        largest_batch: after.largest_batch,
    };
    let count: i64 = app.store().count_cases().await?;
    assert_eq!(count as u64, n + 50 - errors.load(Ordering::Relaxed));
    app.store().close().await;
    Ok(Outcome {
        backend,
        petitions: latencies.len() as u64,
        elapsed,
        latencies,
        errors: errors.load(Ordering::Relaxed),
        stats,
    })
}

fn report(o: &mut Outcome) {
    let rate = o.petitions as f64 / o.elapsed.as_secs_f64();
    let s = summarize(&mut o.latencies);
    let avg_batch = o.stats.commands as f64 / o.stats.batches.max(1) as f64;
    println!(
        "submit_throughput/{:<8} petitions={} errors={} elapsed={:.2}s rate={:.0} petitions/s \
         ({:.0} commands/s) latency median={:.2}ms p99={:.2}ms max={:.2}ms \
         writer: batches={} commands={} avg_batch={:.1} largest_batch={} floor>=1000/s: {}",
        o.backend,
        o.petitions,
        o.errors,
        o.elapsed.as_secs_f64(),
        rate,
        rate * 2.0,
        ms(s.median),
        ms(s.p99),
        ms(s.max),
        o.stats.batches,
        o.stats.commands,
        avg_batch,
        o.stats.largest_batch,
        if rate >= 1000.0 { "PASS" } else { "FAIL" },
    );
}

fn main() -> Result<()> {
    // `cargo test --benches` runs bench targets with `--test`-like flags; `cargo bench` passes
    // `--bench`. Only run the load on a real bench run.
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("submit_throughput: skipped (run with `cargo bench`)");
        return Ok(());
    }
    let n = env_u64("HUIYIN_BENCH_N", 20_000);
    let tasks = env_u64("HUIYIN_BENCH_TASKS", 64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        println!("submit_throughput: N={n} petitions, {tasks} concurrent callers");
        let (store, dir) = common::sqlite_fresh().await?;
        let mut sqlite = run("sqlite", store, n, tasks).await?;
        report(&mut sqlite);
        drop(dir);
        if let Some(base) = common::pg_base() {
            let schema = "bench_submit";
            let store = common::pg_store(&base, schema, true).await?;
            let mut pg = run("postgres", store, n, tasks).await?;
            report(&mut pg);
            common::pg_drop_schema(&base, schema).await?;
            let (a, b) = (
                sqlite.petitions as f64 / sqlite.elapsed.as_secs_f64(),
                pg.petitions as f64 / pg.elapsed.as_secs_f64(),
            );
            println!(
                "submit_throughput: postgres/sqlite rate ratio = {:.2}",
                b / a
            );
        }
        Ok(())
    })
}
