//! The early-warning scan (预警, issue 8) over `HUIYIN_BENCH_CASES` petitions (default 10,000)
//! received over the last 35 days in ten counties of 佛山市, on SQLite and, when
//! `HUIYIN_BENCH_DATABASE_URL` is set, PostgreSQL. The petitions are the benches' realistic
//! template (one text per topic, so every county has large clusters of near copies: the
//! expensive case for the group signal), a tenth of the petitioners with a second and third
//! matter. Timed: catching the statistics counters up once (not part of a scan when the feeder
//! runs), then five scans — the first stores the warnings, the others find them again and
//! refresh them. Medians of the re-scans are reported.
//!
//! ```text
//! cargo bench -p huiyin-app --bench warning_scan
//! HUIYIN_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyin_bench cargo bench -p huiyin-app --bench warning_scan
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use huiyin_app::{App, Clock, Config, NewPetition};
use huiyin_store::Store;

async fn run(label: &str, store: Store, cases: u64) {
    store
        .insert_unit(&common::bureau("4406-xfj", "4406"))
        .await
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 20, 2, 0, 0).unwrap();
    let app = App::new(
        store,
        Config {
            clock: Clock::manual(now),
            ..Config::default()
        },
    );
    let t = Instant::now();
    let per_day = cases.div_ceil(35);
    for day in 0..35u64 {
        app.clock()
            .set(now - chrono::Duration::days(i64::try_from(35 - day).unwrap_or(0)));
        let mut set = tokio::task::JoinSet::new();
        for k in 0..per_day {
            let i = day * per_day + k;
            if i >= cases {
                break;
            }
            // A tenth of the petitioners send three matters.
            let who = if i.is_multiple_of(10) { i / 30 * 30 } else { i };
            let region = format!("4406{:02}", 4 + i % 10);
            let app = app.clone();
            set.spawn(async move {
                let mut p = common::petition(i, &region);
                p.petitioner = common::petition(who, &region).petitioner;
                app.submit(
                    common::petitioner(who),
                    NewPetition {
                        petition: p,
                        idempotency_key: None,
                        received_at: None,
                    },
                )
                .await
                .unwrap();
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
    }
    app.clock().set(now);
    println!(
        "{label}: {cases} petitions submitted in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    app.stats_catch_up().await.unwrap();
    println!(
        "{label}: counters caught up in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut rescans: Vec<Duration> = Vec::new();
    for round in 0..5 {
        let t = Instant::now();
        let scan = app.scan_warnings(app.now()).await.unwrap();
        let d = t.elapsed();
        println!(
            "{label}: scan {round}: {:.0} ms, new {:?}, refreshed {}",
            d.as_secs_f64() * 1000.0,
            scan.new,
            scan.refreshed
        );
        if round > 0 {
            rescans.push(d);
        }
    }
    rescans.sort();
    println!(
        "{label}: re-scan median {:.0} ms",
        rescans[rescans.len() / 2].as_secs_f64() * 1000.0
    );
    app.store().close().await;
}

fn main() {
    // `cargo test --benches` runs bench targets without `--bench`: skip the setup there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("warning_scan: skipped (run with `cargo bench`)");
        return;
    }
    let cases = common::env_u64("HUIYIN_BENCH_CASES", 10_000);
    let rt = common::runtime();
    rt.block_on(async {
        let (store, _dir) = common::sqlite_fresh().await.unwrap();
        run("sqlite", store, cases).await;
        if let Some(base) = common::pg_base() {
            let store = common::pg_store(&base, "bench_warnings", true)
                .await
                .unwrap();
            run("postgres", store, cases).await;
            common::pg_drop_schema(&base, "bench_warnings")
                .await
                .unwrap();
        }
    });
}
