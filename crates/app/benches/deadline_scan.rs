//! The deadline scan over 1,000,000 open cases (issue 6, "Speed": under 1 s).
//!
//! Data set: 1,000,000 cases, every one open in handling, each taken through the real
//! lifecycle with the domain's `decide` and `apply` (submit, register, route to a department,
//! accept) and written with the store's write path, so each row carries its next
//! escalation-ladder step as the product writes it. Acceptances are spread evenly over 60 days
//! from 2 January 2025, so about 16,700 cases turn yellow on any day — what the scans of a
//! million open cases meet. Cached like the work-list data set (see `common/dataset.rs`).
//!
//! Measured, on SQLite and (with HUIYIN_BENCH_DATABASE_URL) PostgreSQL, in one run:
//! - a scan with nothing due (median of 200);
//! - a day of scans every HUIYIN_BENCH_SCAN_MINUTES minutes (default 5, what `huiyin serve`
//!   does; 60 for hourly scans), each taking the 催办 that fell due since the last one through
//!   the writer as the system actor (median and longest time, steps taken, steps/s). The
//!   yellow lights of one day's acceptances fall within about five hours (a deadline ends at
//!   the end of a day, so the last fifth of the time starts within a fifth of a day), so most
//!   scans are quiet and those five hours carry a day's steps;
//! - for comparison, the scan without the stored step: read every open case's state and ask
//!   the domain whether a step is due (what a scan costs that recomputes every case).
//!
//! The steps taken stay in the cached data set; a rerun starts its day after the last step
//! taken, so each run meets fresh steps (60 days of acceptances allow many reruns).
//!
//! ```text
//! cargo bench -p huiyin-app --bench deadline_scan
//! HUIYIN_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyin_bench \
//!   cargo bench -p huiyin-app --bench deadline_scan
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use chrono::TimeZone;
use common::dataset::{self, GenCase, Lifecycle, Spec, region_of, unit_id};
use common::{Rng, ms, summarize};
use futures_util::TryStreamExt;
use huiyin_app::{App, Clock, Config, secrets};
use huiyin_domain::calendar::Calendar;
use huiyin_domain::case::{CaseState, Command, Role, RouteKind};
use huiyin_domain::ids::UnitId;
use huiyin_domain::petition::{AppealRoute, StatutoryClass};
use huiyin_domain::policy::PolicySet;
use huiyin_domain::supervision;
use huiyin_domain::values::ReceiptCode;
use huiyin_store::Store;

const DATA_VERSION: &str = "v1";
const UNITS: u64 = 3_000;
const SPREAD_DAYS: i64 = 60;
const DAY_MINUTES: i64 = 24 * 60;

fn base() -> huiyin_domain::Instant {
    chrono::Utc
        .with_ymd_and_hms(2025, 1, 2, 1, 0, 0)
        .single()
        .unwrap()
}

fn spec() -> Spec {
    Spec {
        name: "deadline_scan",
        cache: "deadlines",
        version: DATA_VERSION,
        units: UNITS,
        seed: 0x0044_5542_414E,
        generate: generate_case,
    }
}

/// Case `i`: received five days before its acceptance, routed to one of a bureau's
/// departments, accepted at an instant spread evenly over [`SPREAD_DAYS`].
fn generate_case(i: u64, rng: &mut Rng, policies: &PolicySet, calendar: &Calendar) -> GenCase {
    let b = rng.below(UNITS / 10) * 10;
    let k = b + 1 + rng.below(9);
    let (bureau, unit, region) = (unit_id(b), unit_id(k), region_of(b));
    let day = chrono::Duration::days(1);
    let accepted_at =
        base() + chrono::Duration::seconds(rng.below((SPREAD_DAYS * 86_400) as u64) as i64);
    let received_at = accepted_at - day * 5;
    let payload = (i.wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15) & ((1u64 << 55) - 1);
    let receipt = ReceiptCode::from_random(payload.to_le_bytes());
    let petition = common::petition(i, &region);
    let registrar = common::staff("registrar", &bureau, &[Role::Registrar]);
    let handler = common::staff("handler", &unit, &[Role::Handler]);
    let mut case = Lifecycle::new(policies, calendar);
    case.step(
        &common::petitioner(i),
        received_at,
        Command::Submit {
            petition: petition.record(Some(format!("{i:064x}"))).into(),
            receipt: receipt.clone(),
            bureau: UnitId::new(&bureau),
            received_at,
        },
    );
    case.step(
        &registrar,
        received_at + day,
        Command::Register {
            class: StatutoryClass::Appeal(AppealRoute::PetitionProcedure),
            category: petition.category.clone(),
            accused: Vec::new(),
        },
    );
    case.step(
        &registrar,
        received_at + day * 2,
        Command::Route {
            kind: RouteKind::Forward,
            unit: UnitId::new(&unit),
        },
    );
    case.step(&handler, accepted_at, Command::Accept);
    case.finish(secrets::secret_hash(
        &receipt,
        &format!("{:08X}", i % 0xFFFF_FFFF),
    ))
}

/// Where this run's hours start: the first yellow lights (48 days after the first
/// acceptances), or an hour after the last step an earlier run took.
async fn first_hour(store: &Store) -> huiyin_domain::Instant {
    let (last,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(at_ms) FROM events WHERE kind = 'urged'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    match last.and_then(chrono::DateTime::from_timestamp_millis) {
        Some(t) => t + chrono::Duration::hours(1),
        None => base() + chrono::Duration::days(50),
    }
}

/// The scan without the stored step: every open case's state read and asked.
async fn recompute_all(app: &App, now: huiyin_domain::Instant) -> (usize, usize) {
    let calendar = app.calendar();
    let mut rows = sqlx::query_as::<_, (String,)>("SELECT state FROM cases WHERE is_open = 1")
        .fetch(app.store().pool());
    let (mut open, mut due) = (0, 0);
    while let Some((json,)) = rows.try_next().await.unwrap() {
        let state: CaseState = serde_json::from_str(&json).unwrap();
        let policy = app.policy_for(&state);
        open += 1;
        if supervision::due_step(&state, &policy, &calendar, now).is_some() {
            due += 1;
        }
    }
    (open, due)
}

async fn run(backend: &str, store: Store) {
    let start = first_hour(&store).await;
    let app = App::new(
        store.clone(),
        Config {
            clock: Clock::manual(start),
            ..Config::default()
        },
    );
    app.load_rules().await.unwrap();
    let (open,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cases WHERE is_open = 1")
        .fetch_one(store.pool())
        .await
        .unwrap();
    println!("deadline_scan/{backend}: {open} open cases; the day from {start}");

    // Nothing due: before any light turns yellow.
    let quiet = base() + chrono::Duration::days(10);
    let mut samples = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let report = app.scan_deadlines(quiet).await.unwrap();
        samples.push(t.elapsed());
        assert_eq!(report.due, 0);
    }
    let s = summarize(&mut samples);
    println!(
        "deadline_scan/{backend}: nothing due: median={:.3}ms p99={:.3}ms ({} scans) floor<1s: {}",
        ms(s.median),
        ms(s.p99),
        s.n,
        if s.median < Duration::from_secs(1) {
            "PASS"
        } else {
            "FAIL"
        }
    );

    // A day of scans.
    let every = common::env_u64("HUIYIN_BENCH_SCAN_MINUTES", 5).clamp(1, 1440) as i64;
    let mut times = Vec::new();
    let mut steps = Vec::new();
    for k in 1..=DAY_MINUTES / every {
        let now = start + chrono::Duration::minutes(k * every);
        app.clock().set(now);
        let t = Instant::now();
        let report = app.scan_deadlines(now).await.unwrap();
        let took = t.elapsed();
        assert_eq!(report.failed, 0, "{report:?}");
        if report.taken_total() > 0 && (k == 1 || every >= 60 || k % (60 / every).max(1) == 0) {
            println!(
                "deadline_scan/{backend}: scan at +{}min: {} steps in {:.1}ms ({:.0} steps/s) {:?}",
                k * every,
                report.taken_total(),
                ms(took),
                report.taken_total() as f64 / took.as_secs_f64(),
                report.taken
            );
        }
        times.push(took);
        steps.push(report.taken_total());
    }
    // Quiet scans find nothing; busy ones write their steps (the first scan of a fresh data
    // set also takes the backlog since the first yellow lights, so it is left out).
    let quiet: Vec<Duration> = times
        .iter()
        .zip(&steps)
        .filter(|(_, n)| **n == 0)
        .map(|(t, _)| *t)
        .collect();
    let busy: Vec<(Duration, usize)> = times
        .iter()
        .zip(&steps)
        .skip(1)
        .filter(|(_, n)| **n > 0)
        .map(|(t, n)| (*t, *n))
        .collect();
    if !quiet.is_empty() {
        let s = summarize(&mut quiet.clone());
        println!(
            "deadline_scan/{backend}: every {every} min, quiet scans: {}, median={:.3}ms max={:.3}ms floor<1s: {}",
            s.n,
            ms(s.median),
            ms(s.max),
            if s.max < Duration::from_secs(1) {
                "PASS"
            } else {
                "FAIL"
            }
        );
    }
    if !busy.is_empty() {
        let mut t: Vec<Duration> = busy.iter().map(|(t, _)| *t).collect();
        let total: usize = busy.iter().map(|(_, n)| n).sum();
        let mut n: Vec<usize> = busy.iter().map(|(_, n)| *n).collect();
        n.sort_unstable();
        let secs: f64 = t.iter().map(Duration::as_secs_f64).sum();
        let s = summarize(&mut t);
        println!(
            "deadline_scan/{backend}: every {every} min, busy scans: {}, median={:.0}ms max={:.0}ms (median {} steps a scan), {total} steps at {:.0} steps/s floor<1s (max): {}",
            s.n,
            ms(s.median),
            ms(s.max),
            n[n.len() / 2],
            total as f64 / secs,
            if s.max < Duration::from_secs(1) {
                "PASS"
            } else {
                "FAIL"
            }
        );
    }
    let now = start + chrono::Duration::minutes(DAY_MINUTES);

    // Without the stored step.
    let probe = now + chrono::Duration::hours(1);
    let t = Instant::now();
    let (open, due) = recompute_all(&app, probe).await;
    let naive = t.elapsed();
    let t = Instant::now();
    let found = store
        .count_due_watches(probe.timestamp_millis())
        .await
        .unwrap();
    let indexed = t.elapsed();
    println!(
        "deadline_scan/{backend}: finding the steps due: recomputing {open} cases {:.0}ms ({due} due) vs the stored steps {:.1}ms ({found} due): {:.0}x",
        ms(naive),
        ms(indexed),
        naive.as_secs_f64() / indexed.as_secs_f64().max(1e-9)
    );
    store.close().await;
}

fn main() {
    // `cargo test --benches` runs bench targets without `--bench`: skip the setup there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("deadline_scan: skipped (run with `cargo bench`)");
        return;
    }
    let n = common::env_u64("HUIYIN_BENCH_CASES", 1_000_000);
    let pg_n = common::env_u64("HUIYIN_BENCH_PG_CASES", n);
    let rt = common::runtime();
    rt.block_on(async {
        let store = dataset::sqlite(&spec(), n).await;
        run("sqlite", store).await;
        if let Some(base) = common::pg_base() {
            let (store, _schema) = dataset::postgres(&spec(), &base, pg_n).await;
            run("postgres", store).await;
        }
    });
}
