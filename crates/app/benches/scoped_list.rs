//! Scoped "my open cases" among 1,000,000 cases (issue 3, "Speed": under 20 ms for a county
//! petition bureau).
//!
//! Data set: one province, 20 cities × 15 counties; each county has its petition bureau and 9
//! departments, and 10 townships. 1,000,000 cases are spread over the counties with a skew
//! (county `k` of 300 drawn with density ∝ 1/√k, so the busiest county holds ~6% of all
//! cases, like a big urban district); 30% arise in a township, 70% at county level; 70% are
//! with a department, 30% still at the bureau; half are open. Rows go straight into `cases`
//! and `case_units` (the columns lists read; the state JSON is a stub), in transactions of
//! 10,000, so generating a million takes about a minute; the data set is cached under
//! `target/bench-data/scoped-<version>-<n>/` (PostgreSQL: schema `bench_scoped_<version>_<n>`).
//!
//! Timed, each through `Store::list_cases` with the caller's `Scope` (as `App::list_for`
//! builds it), first page of 50 by urgency:
//! - `county_bureau_all_open`: every open case in the county bureau's scope (its own cases and
//!   its region subtree) — the issue's "my open cases";
//! - `county_bureau_work_list`: the bureau's own work list, scope applied;
//! - `department_work_list`: a department handler (scope = its unit);
//! - `city_leader_all_open`: a city leader over 15 counties.
//!
//! ```text
//! cargo bench -p huiyin-app --bench scoped_list
//! HUIYIN_BENCH_CASES=1000000 HUIYIN_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyin_bench \
//!   cargo bench -p huiyin-app --bench scoped_list
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use huiyin_domain::access::{Principal, RoleSet, Scope, UnitKind};
use huiyin_domain::case::Role;
use huiyin_domain::ids::{ActorId, UnitId};
use huiyin_domain::values::RegionCode;
use huiyin_store::{ListFilter, Store};

const DATA_VERSION: &str = "v2";
const CITIES: u64 = 20;
const COUNTIES_PER_CITY: u64 = 15;
const DEPARTMENTS: u64 = 9;
const CHUNK: u64 = 10_000;
const ROWS_PER_INSERT: u64 = 500;
const RUNS: usize = 60;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn county_region(k: u64) -> String {
    format!(
        "44{:02}{:02}",
        k / COUNTIES_PER_CITY + 1,
        k % COUNTIES_PER_CITY + 1
    )
}

fn city_region(c: u64) -> String {
    format!("44{:02}", c + 1)
}

fn units_sql() -> Vec<String> {
    let mut rows =
        vec!["('44-xfj', '广东省信访局', 'petition_bureau', '44', '0-xfj', 0)".to_string()];
    for c in 0..CITIES {
        let r = city_region(c);
        rows.push(format!(
            "('{r}-xfj', '市信访局', 'petition_bureau', '{r}', '44-xfj', 0)"
        ));
        rows.push(format!(
            "('{r}-gov', '市人民政府', 'government', '{r}', '44-xfj', 0)"
        ));
    }
    for k in 0..CITIES * COUNTIES_PER_CITY {
        let r = county_region(k);
        let city = &r[..4];
        rows.push(format!(
            "('{r}-xfj', '县信访局', 'petition_bureau', '{r}', '{city}-xfj', 0)"
        ));
        for d in 1..=DEPARTMENTS {
            rows.push(format!(
                "('{r}-d{d}', '县职能部门', 'department', '{r}', '{r}-xfj', 0)"
            ));
        }
    }
    rows.chunks(500)
        .map(|chunk| {
            format!(
                "INSERT INTO units (id, name, kind, region_code, parent_id, created_at) VALUES {}",
                chunk.join(", ")
            )
        })
        .collect()
}

/// Rows `from..to` of the data set, as literal multi-row INSERTs (all values generated here).
fn cases_sql(from: u64, to: u64) -> Vec<String> {
    let counties = CITIES * COUNTIES_PER_CITY;
    let mut statements = Vec::new();
    let mut cases = Vec::new();
    let mut units = Vec::new();
    for i in from..to {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i + 1).wrapping_mul(0x1000_0000_01B3));
        let k = ((counties as f64) * rng.unit().powi(2)) as u64;
        let county = county_region(k);
        let region = if rng.below(10) < 3 {
            format!("{county}{:03}", rng.below(10) + 1)
        } else {
            county.clone()
        };
        let bureau = format!("{county}-xfj");
        let current = if rng.below(10) < 7 {
            format!("{county}-d{}", rng.below(DEPARTMENTS) + 1)
        } else {
            bureau.clone()
        };
        let open = rng.below(2);
        let received = 1_735_776_000_000i64 + (i as i64) * 20_000;
        let due = received + (rng.below(60 * 24 * 3600) as i64) * 1000;
        let id = format!("c{i:09}");
        cases.push(format!(
            "('{id}', '44', 'R{i:011}', 'x', 3, 'handling', {open}, '{bureau}', '{current}', '{current}', '{region}', '{city}', '{county}', 'mobile_web', 'appeal', '城乡建设', '物业收费问题', '张*', {received}, {received}, 'handling', {due}, {yellow}, '{{}}')",
            city = &county[..4],
            yellow = due - 3 * 24 * 3600 * 1000
        ));
        units.push(format!("('{id}', '{bureau}', {open}, {due})"));
        if current != bureau {
            units.push(format!("('{id}', '{current}', {open}, {due})"));
        }
        if cases.len() as u64 == ROWS_PER_INSERT || i + 1 == to {
            statements.push(format!(
                "INSERT INTO cases (id, province, receipt, secret_hash, version, stage, is_open, bureau_id,
                    current_unit_id, handling_unit_id, region, region_city, region_county, channel, class, category, title,
                    petitioner_masked, received_at, updated_at, next_due_kind, next_due_at, yellow_at, state)
                 VALUES {}",
                cases.join(", ")
            ));
            statements.push(format!(
                "INSERT INTO case_units (case_id, unit_id, is_open, next_due_at) VALUES {}",
                units.join(", ")
            ));
            cases.clear();
            units.clear();
        }
    }
    statements
}

async fn fill(store: &Store, n: u64) {
    let started = Instant::now();
    let mut tx = store.pool().begin().await.unwrap();
    for sql in units_sql() {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut from = 0;
    while from < n {
        let to = (from + CHUNK).min(n);
        let mut tx = store.pool().begin().await.unwrap();
        for sql in cases_sql(from, to) {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        from = to;
    }
    sqlx::raw_sql("CREATE TABLE bench_meta (n BIGINT)")
        .execute(store.pool())
        .await
        .unwrap();
    let analyze = sqlx::raw_sql("ANALYZE").execute(store.pool()).await;
    analyze.unwrap();
    println!(
        "scoped_list: generated {n} cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn sqlite_dataset(n: u64) -> Store {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/bench-data")
        .join(format!("scoped-{DATA_VERSION}-{n}"));
    let done = dir.join("complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open_dir(&dir).await.unwrap();
        store.migrate().await.unwrap();
        fill(&store, n).await;
        store.close().await;
        std::fs::write(&done, b"ok").unwrap();
    } else {
        println!(
            "scoped_list/sqlite: using cached data set in {}",
            dir.display()
        );
    }
    let store = Store::open_dir(&dir).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn pg_dataset(base: &str, n: u64) -> Store {
    let schema = format!("bench_scoped_{DATA_VERSION}_{n}");
    let admin = Store::connect(base).await.unwrap();
    let cached: Option<(i64,)> = sqlx::query_as(
        "SELECT 1::BIGINT FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'bench_meta'",
    )
    .bind(schema.as_str())
    .fetch_optional(admin.pool())
    .await
    .unwrap();
    if cached.is_none() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        )))
        .execute(admin.pool())
        .await
        .unwrap();
    }
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    let store = Store::connect(&format!("{base}{sep}options=-csearch_path%3D{schema}"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    if cached.is_none() {
        fill(&store, n).await;
    } else {
        println!("scoped_list/postgres: using cached data set in schema {schema}");
    }
    store
}

fn principal(unit: &str, region: &str, kind: UnitKind, role: Role) -> Principal {
    Principal {
        id: ActorId::new("bench"),
        roles: RoleSet::of(&[role]),
        unit: Some(UnitId::new(unit)),
        region: Some(RegionCode::parse(region).unwrap()),
        unit_kind: kind,
    }
}

/// Median and 95th percentile of `RUNS` timed calls (after 5 warm-up calls).
async fn time(store: &Store, filter: &ListFilter) -> (Duration, Duration, usize) {
    let mut rows = 0;
    for _ in 0..5 {
        rows = store.list_cases(filter).await.unwrap().len();
    }
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let page = store.list_cases(filter).await.unwrap();
        times.push(t.elapsed());
        std::hint::black_box(page);
    }
    times.sort();
    (times[RUNS / 2], times[RUNS * 95 / 100], rows)
}

async fn run(label: &str, store: &Store) {
    let count = store.count_cases().await.unwrap();
    // County 0 of city 1 is the busiest (the skew favours low k); county 7 is a median one.
    let busy = county_region(0);
    let median = county_region(7 * COUNTIES_PER_CITY + 7);
    let mut queries: Vec<(String, ListFilter)> = Vec::new();
    for (name, county) in [("busiest", &busy), ("median", &median)] {
        let bureau = principal(
            &format!("{county}-xfj"),
            county,
            UnitKind::PetitionBureau,
            Role::Registrar,
        );
        let scope = Scope::of(&bureau);
        queries.push((
            format!("county_bureau_all_open/{name}"),
            ListFilter {
                open_only: true,
                limit: 50,
                scope: Some(scope.clone()),
                ..ListFilter::default()
            },
        ));
        queries.push((
            format!("county_bureau_work_list/{name}"),
            ListFilter {
                unit: Some(format!("{county}-xfj")),
                open_only: true,
                limit: 50,
                scope: Some(scope),
                ..ListFilter::default()
            },
        ));
        let handler = principal(
            &format!("{county}-d3"),
            county,
            UnitKind::Other,
            Role::Handler,
        );
        queries.push((
            format!("department_work_list/{name}"),
            ListFilter {
                unit: Some(format!("{county}-d3")),
                open_only: true,
                limit: 50,
                scope: Some(Scope::of(&handler)),
                ..ListFilter::default()
            },
        ));
    }
    let leader = principal("4401-gov", "4401", UnitKind::Other, Role::Leader);
    queries.push((
        "city_leader_all_open/busiest_city".into(),
        ListFilter {
            open_only: true,
            limit: 50,
            scope: Some(Scope::of(&leader)),
            ..ListFilter::default()
        },
    ));
    for (name, filter) in &queries {
        let (median_t, p95, rows) = time(store, filter).await;
        println!(
            "scoped_list/{label}/{name}: median {:.2} ms, p95 {:.2} ms ({rows} rows of {count} cases)",
            median_t.as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3,
        );
    }
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench` absent: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = env_u64("HUIYIN_BENCH_CASES", 1_000_000);
    rt.block_on(async {
        let store = sqlite_dataset(n).await;
        run("sqlite", &store).await;
        store.close().await;
        if let Ok(base) = std::env::var("HUIYIN_BENCH_DATABASE_URL") {
            let pg_n = env_u64("HUIYIN_BENCH_PG_CASES", n);
            let store = pg_dataset(&base, pg_n).await;
            run("postgres", &store).await;
            store.close().await;
        }
    });
}
