//! Helpers shared by the benchmarks: where the databases live, petitions, actors, units and
//! latency statistics. Each bench uses only some of them.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use huiyin_domain::case::{Actor, Role};
use huiyin_domain::ids::{ActorId, UnitId};
use huiyin_domain::petition::{Channel, Person, Petition, Petitioner};
use huiyin_domain::values::{Address, PersonName, PetitionText, PhoneNumber, RegionCode, Title};
use huiyin_store::{Store, UnitRecord};

pub mod dataset;
pub mod worklist;

/// The PostgreSQL server to also run on, if any (`postgres://…`, a database the bench may
/// create schemas in).
pub const PG_ENV: &str = "HUIYIN_BENCH_DATABASE_URL";

/// The allocator the `huiyin` binary uses (see `crates/cli/src/main.rs`), so the benches that
/// share this module measure what the product does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, BoxError>;

/// `target/bench-data/`: where generated data sets are cached and SQLite files are written
/// (on disk, not a tmpfs, so fsync costs what it costs in production).
pub fn bench_data_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("bench-data");
    std::fs::create_dir_all(&dir).expect("create target/bench-data");
    dir
}

/// A fresh, migrated SQLite store in a temporary directory under `target/bench-data/`.
pub async fn sqlite_fresh() -> Result<(Store, tempfile::TempDir)> {
    let dir = tempfile::tempdir_in(bench_data_dir())?;
    let store = Store::open_dir(dir.path()).await?;
    store.migrate().await?;
    Ok((store, dir))
}

/// The PostgreSQL base URL, if the bench should run there too.
pub fn pg_base() -> Option<String> {
    std::env::var(PG_ENV).ok().filter(|s| !s.trim().is_empty())
}

/// `base` with every connection's `search_path` set to `schema`, so each bench keeps its own
/// tables in one database.
pub fn pg_url(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// Creates `schema` (dropping it first when `fresh`) and returns a store whose tables live there.
pub async fn pg_store(base: &str, schema: &str, fresh: bool) -> Result<Store> {
    let admin = Store::connect(base).await?;
    if fresh {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(admin.pool())
        .await?;
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}"
    )))
    .execute(admin.pool())
    .await?;
    admin.close().await;
    let store = Store::connect(&pg_url(base, schema)).await?;
    store.migrate().await?;
    Ok(store)
}

/// Drops a bench schema.
pub async fn pg_drop_schema(base: &str, schema: &str) -> Result<()> {
    let admin = Store::connect(base).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(admin.pool())
    .await?;
    admin.close().await;
    Ok(())
}

/// A petition bureau for a region (GB/T 2260 code) under the national bureau.
pub fn bureau(id: &str, region: &str) -> UnitRecord {
    UnitRecord {
        id: id.to_string(),
        name: format!("{region}信访局"),
        kind: "petition_bureau".to_string(),
        region_code: region.to_string(),
        parent_id: Some("0-xfj".to_string()),
    }
}

/// A functional department under a bureau.
pub fn department(id: &str, region: &str, parent: &str) -> UnitRecord {
    UnitRecord {
        id: id.to_string(),
        name: format!("{id}职能部门"),
        kind: "department".to_string(),
        region_code: region.to_string(),
        parent_id: Some(parent.to_string()),
    }
}

pub fn petitioner(i: u64) -> Actor {
    Actor {
        id: ActorId::new(format!("petitioner:bench-{i}")),
        roles: vec![Role::Petitioner],
        unit: None,
        oversees_case: false,
        is_case_petitioner: false,
    }
}

pub fn staff(name: &str, unit: &str, roles: &[Role]) -> Actor {
    Actor {
        id: ActorId::new(format!("staff:{name}")),
        roles: roles.to_vec(),
        unit: Some(UnitId::new(unit)),
        oversees_case: false,
        is_case_petitioner: false,
    }
}

const SURNAMES: [&str; 8] = ["张", "王", "李", "赵", "刘", "陈", "杨", "黄"];
const TOPICS: [(&str, &str); 6] = [
    ("小区冬季供暖温度不达标", "城乡建设/供热"),
    ("拖欠农民工工资问题", "劳动和社会保障/工资"),
    ("道路施工夜间噪音扰民", "生态环境/噪声"),
    ("征地补偿款未按时发放", "自然资源/征地补偿"),
    ("学校周边交通安全隐患", "交通运输/道路安全"),
    ("物业公司违规收费", "城乡建设/物业管理"),
];

/// A realistic online petition in `region` (≈300 characters of text, a named petitioner with
/// a phone number and an address).
pub fn petition(i: u64, region: &str) -> Petition {
    let (title, category) = TOPICS[(i % TOPICS.len() as u64) as usize];
    let name = format!(
        "{}{}",
        SURNAMES[(i % 8) as usize],
        ["伟", "芳", "娜", "强"][(i / 8 % 4) as usize]
    );
    let text = format!(
        "{title}。本人居住在本区某街道某小区，自去年十一月以来该问题一直没有得到解决，\
         多次向社区居委会和相关部门反映，均答复正在协调处理，但至今没有实质进展。\
         该问题严重影响了本人及家人和周边居民的正常生活，老人和孩子的身体健康也受到影响。\
         恳请有关部门依法依规尽快调查核实，督促责任单位限期整改，并将处理结果书面答复本人。\
         附：相关照片、缴费凭证和与物业、社区沟通的记录，如有需要可以随时提供。编号{i}。"
    );
    Petition {
        channel: if i % 10 < 7 {
            Channel::MobileWeb
        } else {
            Channel::OnlineWeb
        },
        petitioner: Petitioner::Named(Person {
            name: PersonName::parse(&name).expect("name"),
            phone: Some(PhoneNumber::parse(&format!("138{:08}", i % 100_000_000)).expect("phone")),
            id_card: None,
            address: Some(Address::parse("某区某街道某小区3栋2单元501室").expect("address")),
        }),
        group: None,
        title: Title::parse(title).expect("title"),
        text: PetitionText::parse(&text).expect("text"),
        region: RegionCode::parse(region).expect("region"),
        category: Some(category.to_string()),
        class: None,
        attachments: Vec::new(),
        also_sent_to: Vec::new(),
        publish_consent: false,
        proxy: None,
    }
}

/// Latency statistics of a sample.
pub struct Summary {
    pub n: usize,
    pub median: Duration,
    pub p99: Duration,
    pub min: Duration,
    pub max: Duration,
}

pub fn summarize(samples: &mut [Duration]) -> Summary {
    samples.sort_unstable();
    let n = samples.len();
    let at = |q: f64| samples[((n as f64 * q).ceil() as usize).clamp(1, n) - 1];
    Summary {
        n,
        median: at(0.5),
        p99: at(0.99),
        min: samples[0],
        max: samples[n - 1],
    }
}

/// A number from the environment, or the default.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The multi-threaded runtime the benches drive the app with.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A small deterministic PRNG (splitmix64), so generated data sets are the same every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// One petition submitted online and registered by the bureau, as `huiyin serve` does it: the
/// submission with the duplicate-index check against the petitioner's own earlier cases, then
/// `Register` at version 1.
pub async fn submit_and_register(
    app: &huiyin_app::App,
    registrar: &Actor,
    region: &str,
    i: u64,
) -> Result<()> {
    let (receipt, _similar) = app
        .submit_checked(
            petitioner(i),
            huiyin_app::NewPetition {
                petition: petition(i, region),
                idempotency_key: Some(format!("bench-submit-{i}")),
                received_at: None,
            },
        )
        .await?;
    let state = app
        .execute(
            registrar.clone(),
            huiyin_domain::ids::CaseId::new(receipt.case_id),
            huiyin_domain::case::Command::Register {
                class: huiyin_domain::petition::StatutoryClass::Appeal(
                    huiyin_domain::petition::AppealRoute::PetitionProcedure,
                ),
                category: Some("城乡建设/住房保障".to_string()),
                accused: Vec::new(),
            },
            Some(1),
        )
        .await?;
    assert_eq!(state.version, 2);
    Ok(())
}
