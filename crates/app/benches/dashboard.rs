//! The dashboards over the work-list data set (issue 8, "Speed": the overview for the national
//! root and for a county under 200 ms, any indicator for a unit and period under 100 ms).
//!
//! Data set: the work-list data set (`common/worklist.rs`: by default 1,000,000 cases over
//! 3,000 units in 300 counties of province 44, taken through the real lifecycle, received over
//! 2025), its counters built from the stored case states (timed once, `stats_rebuild`, when
//! the cache has none; with `HUIYIN_BENCH_COMPARE_REBUILD=1` that rebuild and the feeder's
//! replay of every case's log are timed alternately, twice each). Then, each timed `HUIYIN_BENCH_ROUNDS` times (default 30) with
//! medians and the slowest reported:
//! - `App::overview` for the nation, the province, the busiest county and a median county, for
//!   the whole year 2025 (months) and one month (days): the indicators with the previous
//!   period and the year before, the trend, breakdowns, the regions one level down, the units
//!   ranked, and the live counts over the open cases;
//! - `App::indicators` for the busiest unit and a median unit, a year and a month;
//! - `App::operations` for the busiest county (live counts, due today, overdue by unit,
//!   stalled);
//! - `App::cases_behind` the first page of a county's volume.
//!
//! Counters are kept per target, day and key, so the rows an overview reads depend on the
//! number of targets and days it covers, not on the number of cases; the live counts read the
//! open cases of the area (an index range).
//!
//! ```text
//! cargo bench -p huiyin-app --bench dashboard
//! HUIYIN_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyin_bench cargo bench -p huiyin-app --bench dashboard
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone};
use common::worklist::spec;
use common::{dataset, env_u64, ms, summarize};
use huiyin_app::dashboard::Drill;
use huiyin_app::{App, Clock, Config};
use huiyin_domain::access::{Principal, Scope};
use huiyin_domain::case::{Actor, Role};
use huiyin_domain::ids::{ActorId, UnitId};
use huiyin_domain::stats::{FigurePart, IndicatorConfig, Target};
use huiyin_store::{Area, Store};

async fn time<F, Fut, T>(label: &str, rounds: u64, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let _ = f().await; // warm the caches once
    let mut samples: Vec<Duration> = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let _ = f().await;
        samples.push(t.elapsed());
    }
    let s = summarize(&mut samples);
    println!(
        "{label}: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(s.median),
        ms(s.p99),
        ms(s.max)
    );
}

async fn busiest(store: &Store, sql: &str) -> Vec<String> {
    let rows: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(store.pool())
        .await
        .unwrap();
    let n = rows.len();
    vec![rows[0].0.clone(), rows[n / 2].0.clone()]
}

async fn run(label: &str, store: Store, rounds: u64) {
    // Mid-January 2026: the whole of 2025 is past, some cases are still open.
    let now = chrono::Utc.with_ymd_and_hms(2026, 1, 15, 2, 0, 0).unwrap();
    let app = App::new(
        store.clone(),
        Config {
            clock: Clock::manual(now),
            ..Config::default()
        },
    );
    let cases: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cases")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let status = app.stats_status().await.unwrap();
    if status.fed_seq <= 0 || status.behind_events > 0 {
        let t = Instant::now();
        let s = app.stats_rebuild().await.unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "dashboard/{label}: counters rebuilt from {} cases ({} events) in {secs:.1} s ({:.0} cases/s)",
            cases.0,
            s.fed_seq,
            cases.0 as f64 / secs
        );
    }
    if std::env::var_os("HUIYIN_BENCH_REBUILD_ONLY").is_some() {
        // One timed rebuild from the case states, then stop (for profiling it).
        let t = Instant::now();
        app.stats_rebuild().await.unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "dashboard/{label}: rebuild from the case states {secs:.1} s ({:.0} cases/s)",
            cases.0 as f64 / secs
        );
        return;
    }
    if std::env::var_os("HUIYIN_BENCH_COMPARE_REBUILD").is_some() {
        // The two ways to a full count, alternated, on the same data: from the stored case
        // states (`stats_rebuild`), and the feeder replaying every case's log from seq 0.
        for round in 0..2 {
            let t = Instant::now();
            app.stats_rebuild().await.unwrap();
            let projection = t.elapsed().as_secs_f64();
            let t = Instant::now();
            store.stats_reset(0).await.unwrap();
            let s = app.stats_catch_up().await.unwrap();
            let replay = t.elapsed().as_secs_f64();
            println!(
                "dashboard/{label}: rebuild round {round}: from the case states {projection:.1} s ({:.0} cases/s), replaying the log {replay:.1} s ({:.0} cases/s, {:.0} events/s); ratio {:.1}",
                cases.0 as f64 / projection,
                cases.0 as f64 / replay,
                s.fed_seq as f64 / replay,
                replay / projection
            );
        }
        assert!(app.stats_check().await.unwrap().is_empty());
    }
    let rows: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM stat_counters")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let open: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cases WHERE is_open = 1")
        .fetch_one(store.pool())
        .await
        .unwrap();
    println!(
        "dashboard/{label}: {} cases ({} open), {} counter rows",
        cases.0, open.0, rows.0
    );
    let counties = busiest(
        &store,
        "SELECT region_county, COUNT(*) AS n FROM cases GROUP BY region_county ORDER BY n DESC",
    )
    .await;
    let units = busiest(
        &store,
        "SELECT current_unit_id, COUNT(*) AS n FROM cases GROUP BY current_unit_id ORDER BY n DESC",
    )
    .await;
    let system = Principal::system();
    let config = IndicatorConfig::default();
    let year = (
        NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
    );
    let month = (
        NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
        NaiveDate::from_ymd_opt(2025, 6, 30).unwrap(),
    );
    let targets = [
        ("nation", "0".to_string()),
        ("province 44", "44".to_string()),
        ("busiest county", counties[0].clone()),
        ("median county", counties[1].clone()),
    ];
    for (name, code) in &targets {
        for (period, (from, to)) in [("year", year), ("month", month)] {
            let target = Target::Region(code.clone());
            time(
                &format!("dashboard/{label}/overview {name} ({code}), {period}"),
                rounds,
                || app.overview(&system, &target, from, to, &config),
            )
            .await;
        }
    }
    for (name, unit) in [("busiest unit", &units[0]), ("median unit", &units[1])] {
        for (period, (from, to)) in [("year", year), ("month", month)] {
            let target = Target::Unit(UnitId::new(unit.as_str()));
            time(
                &format!("dashboard/{label}/indicators {name} ({unit}), {period}"),
                rounds,
                || app.indicators(&system, &target, from, to, &config),
            )
            .await;
        }
    }
    let system_actor = Actor {
        id: ActorId::new("system:bench"),
        roles: vec![Role::System],
        unit: None,
        oversees_case: false,
        is_case_petitioner: false,
    };
    let county = Target::Region(counties[0].clone());
    time(
        &format!("dashboard/{label}/operations busiest county"),
        rounds,
        || app.operations(&system_actor, &county),
    )
    .await;
    // The part of the overview and the operations view that reads the open cases (an index
    // range), not the counters: it grows with the number of open cases of the area.
    let now_ms = now.timestamp_millis();
    // The end of the China-time day (UTC+8), as the dashboards use it.
    let (day, cst) = (86_400_000, 8 * 3_600_000);
    let eod_ms = ((now_ms + cst) / day + 1) * day - cst;
    // Side by side: from the live counters (live.rs) and counted from the open cases.
    for (name, code) in &targets {
        let area = Area::Region(code.as_str());
        let kept = store
            .live_counts_from_hours(area, &Scope::All, now_ms, eod_ms)
            .await
            .unwrap();
        let counted = store
            .live_counts_of_cases(area, &Scope::All, now_ms, eod_ms)
            .await
            .unwrap();
        assert_eq!(kept, Some(counted), "{name}");
        time(
            &format!("dashboard/{label}/live counts {name} ({code}) from the counters"),
            rounds,
            || store.live_counts_from_hours(area, &Scope::All, now_ms, eod_ms),
        )
        .await;
        time(
            &format!("dashboard/{label}/live counts {name} ({code}) from the open cases"),
            rounds,
            || store.live_counts_of_cases(area, &Scope::All, now_ms, eod_ms),
        )
        .await;
    }
    let nation = Target::Region("0".into());
    time(
        &format!("dashboard/{label}/operations nation"),
        rounds,
        || app.operations(&system_actor, &nation),
    )
    .await;
    let volume = Drill::Indicator {
        id: "volume".into(),
        part: FigurePart::Numerator,
    };
    time(
        &format!("dashboard/{label}/cases behind a county's June volume, first page"),
        rounds,
        || {
            app.cases_behind(
                &system_actor,
                &county,
                &volume,
                month.0,
                month.1,
                "",
                &config,
            )
        },
    )
    .await;
}

fn main() {
    let n = env_u64("HUIYIN_BENCH_CASES", 1_000_000);
    let rounds = env_u64("HUIYIN_BENCH_ROUNDS", 30);
    let rt = common::runtime();
    rt.block_on(async {
        let spec = spec();
        let store = if std::env::var_os("HUIYIN_BENCH_LEAN").is_some() {
            dataset::sqlite_lean(&spec, n).await
        } else {
            dataset::sqlite(&spec, n).await
        };
        if std::env::var_os("HUIYIN_BENCH_GENERATE_ONLY").is_some() {
            return;
        }
        run("sqlite", store, rounds).await;
        if let Some(base) = common::pg_base() {
            let n = env_u64("HUIYIN_BENCH_PG_CASES", n);
            let (store, _) = dataset::postgres(&spec, &base, n).await;
            run("postgres", store, rounds).await;
        }
    });
}
