//! Exports of a unit's inbox to CSV and xlsx at 100,000 and 1,000,000 rows (issue 8,
//! "Exports": 1,000,000 rows in under a minute with memory flat).
//!
//! Data set: 1,000,000 open cases in one unit's inbox (rows straight into `cases`, the columns
//! the inbox reads; the state JSON is a stub), in transactions of 10,000; cached under
//! `target/bench-data/export-<version>-<n>/` (PostgreSQL: schema `bench_export_<version>_<n>`).
//!
//! Timed: [`huiyin_app::export::write_table`] — the export path of the product — reading the
//! inbox page by page (500 rows, keyset on `(next_due_at, id)`, `Store::inbox`, the query the
//! inbox page and its export use after the scope check) and writing a file, once per size and
//! format. Printed: seconds, rows/s, file size, and the process's peak RSS (`VmHWM`) after
//! each run; the runs go from small to large, so a flat peak means memory does not grow with
//! the rows.
//!
//! ```text
//! cargo bench -p huiyin-app --bench export
//! HUIYIN_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyin_bench \
//!   cargo bench -p huiyin-app --bench export
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use huiyin_app::export::{Cell, Column, ExportFormat, ExportSpec, RowSource, china_minute};
use huiyin_app::{App, AppError, Config};
use huiyin_store::{InboxFilter, NO_DEADLINE_MS, Store};

const DATA_VERSION: &str = "v1";
const UNIT: &str = "4406-xfj";
const CHUNK: u64 = 10_000;
const ROWS_PER_INSERT: u64 = 500;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak and current resident memory of this process, in MiB (`VmHWM`, `VmRSS`).
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn cases_sql(from: u64, to: u64) -> Vec<String> {
    let mut statements = Vec::new();
    let mut rows = Vec::new();
    let channels = ["mobile_web", "letter", "visit", "phone"];
    let classes = ["appeal", "suggestion", "accusation"];
    for i in from..to {
        let received = 1_735_776_000_000i64 + (i as i64) * 20_000;
        let due = received + ((i * 7919) % (60 * 24 * 3600)) as i64 * 1000;
        rows.push(format!(
            "('c{i:09}', '44', 'R{i:011}', 'x', 3, 'handling', 1, '{UNIT}', '{UNIT}', '{UNIT}', '440604', '4406', '440604', '{channel}', '{class}', '城乡建设/物业管理', '小区物业收费不合理，请求核查第{i}号', '张*', {received}, {received}, 'handling', {due}, {yellow}, '{{}}')",
            channel = channels[(i % 4) as usize],
            class = classes[(i % 3) as usize],
            yellow = due - 3 * 24 * 3600 * 1000
        ));
        if rows.len() as u64 == ROWS_PER_INSERT || i + 1 == to {
            statements.push(format!(
                "INSERT INTO cases (id, province, receipt, secret_hash, version, stage, is_open, bureau_id,
                    current_unit_id, handling_unit_id, region, region_city, region_county, channel, class, category, title,
                    petitioner_masked, received_at, updated_at, next_due_kind, next_due_at, yellow_at, state)
                 VALUES {}",
                rows.join(", ")
            ));
            rows.clear();
        }
    }
    statements
}

async fn fill(store: &Store, n: u64) {
    let started = Instant::now();
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
    sqlx::raw_sql("ANALYZE")
        .execute(store.pool())
        .await
        .unwrap();
    println!(
        "export: generated {n} cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn sqlite_dataset(n: u64) -> Store {
    let dir = common::bench_data_dir().join(format!("export-{DATA_VERSION}-{n}"));
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
        println!("export/sqlite: using cached data set in {}", dir.display());
    }
    let store = Store::open_dir(&dir).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn pg_dataset(base: &str, n: u64) -> Store {
    let schema = format!("bench_export_{DATA_VERSION}_{n}");
    let admin = Store::connect(base).await.unwrap();
    let cached: Option<(i64,)> = sqlx::query_as(
        "SELECT 1::BIGINT FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'bench_meta'",
    )
    .bind(schema.as_str())
    .fetch_optional(admin.pool())
    .await
    .unwrap();
    admin.close().await;
    let store = common::pg_store(base, &schema, cached.is_none())
        .await
        .unwrap();
    if cached.is_none() {
        fill(&store, n).await;
    } else {
        println!("export/postgres: using cached data set in schema {schema}");
    }
    store
}

const COLUMNS: [Column; 9] = [
    Column {
        zh: "受理编号",
        en: "Receipt",
        width: 18.0,
    },
    Column {
        zh: "标题",
        en: "Title",
        width: 40.0,
    },
    Column {
        zh: "阶段",
        en: "Stage",
        width: 12.0,
    },
    Column {
        zh: "渠道",
        en: "Channel",
        width: 12.0,
    },
    Column {
        zh: "性质",
        en: "Class",
        width: 12.0,
    },
    Column {
        zh: "类别",
        en: "Category",
        width: 20.0,
    },
    Column {
        zh: "信访人",
        en: "Petitioner",
        width: 12.0,
    },
    Column {
        zh: "收到时间",
        en: "Received",
        width: 18.0,
    },
    Column {
        zh: "到期时间",
        en: "Due",
        width: 18.0,
    },
];

/// The inbox read as its export reads it, up to `max` rows.
struct Source {
    store: Store,
    filter: InboxFilter,
    left: u64,
}

impl RowSource for Source {
    async fn next_page(&mut self, _app: &App) -> Result<Option<Vec<Vec<Cell>>>, AppError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.filter.limit = 500.min(self.left) as u32;
        let items = self.store.inbox(&self.filter).await?;
        self.left = self.left.saturating_sub(items.len() as u64);
        if (items.len() as u32) < self.filter.limit {
            self.left = 0;
        }
        let Some(last) = items.last() else {
            return Ok(None);
        };
        self.filter.after = Some((
            last.next_due_at_ms.unwrap_or(NO_DEADLINE_MS),
            last.id.clone(),
        ));
        Ok(Some(
            items
                .into_iter()
                .map(|s| {
                    let petitioner = if s.class.as_deref() == Some("accusation") {
                        Cell::Empty
                    } else {
                        s.petitioner_masked.map_or(Cell::Empty, Cell::Text)
                    };
                    vec![
                        Cell::Text(s.receipt),
                        Cell::Text(s.title),
                        Cell::Text(s.stage),
                        Cell::Text(s.channel),
                        s.class.map_or(Cell::Empty, Cell::Text),
                        s.category.map_or(Cell::Empty, Cell::Text),
                        petitioner,
                        Cell::Text(china_minute(s.received_at_ms)),
                        s.next_due_at_ms
                            .map_or(Cell::Empty, |d| Cell::Text(china_minute(d))),
                    ]
                })
                .collect(),
        ))
    }
}

/// Rows made in memory, the same cells as the inbox's: the writer alone, without the database
/// (its page cache) in the process's memory.
struct Generated {
    next: u64,
    left: u64,
}

impl RowSource for Generated {
    async fn next_page(&mut self, _app: &App) -> Result<Option<Vec<Vec<Cell>>>, AppError> {
        if self.left == 0 {
            return Ok(None);
        }
        let n = 500.min(self.left);
        let rows = (self.next..self.next + n)
            .map(|i| {
                let received = 1_735_776_000_000i64 + (i as i64) * 20_000;
                vec![
                    Cell::Text(format!("R{i:011}")),
                    Cell::Text(format!("小区物业收费不合理，请求核查第{i}号")),
                    Cell::Text("handling".into()),
                    Cell::Text(["mobile_web", "letter", "visit", "phone"][(i % 4) as usize].into()),
                    Cell::Text("appeal".into()),
                    Cell::Text("城乡建设/物业管理".into()),
                    Cell::Text("张*".into()),
                    Cell::Text(china_minute(received)),
                    Cell::Text(china_minute(received + 86_400_000)),
                ]
            })
            .collect();
        self.next += n;
        self.left -= n;
        Ok(Some(rows))
    }
}

/// Each size in the order given (a later, larger run that does not raise the peak shows memory
/// does not grow with the rows), both formats; from the inbox of `store`, or generated rows.
async fn run(label: &str, store: Store, sizes: &[u64], generated: bool) {
    let app = App::new(store.clone(), Config::default());
    let out_dir = tempfile::tempdir_in(common::bench_data_dir()).unwrap();
    for &rows in sizes {
        for format in [ExportFormat::Csv, ExportFormat::Xlsx] {
            if format == ExportFormat::Xlsx && rows > huiyin_app::export::XLSX_MAX_ROWS {
                println!("export/{label}/xlsx/{rows}: more rows than a worksheet holds, not run");
                continue;
            }
            let spec = ExportSpec {
                list: "inbox".into(),
                filters: String::new(),
                format,
                sheet: "收件箱".into(),
                columns: COLUMNS.to_vec(),
                english: false,
            };
            let path = out_dir
                .path()
                .join(format!("{rows}.{}", format.extension()));
            let file = std::fs::File::create(&path).unwrap();
            let started = Instant::now();
            let temp = Some(out_dir.path().to_path_buf());
            let progress = Arc::new(AtomicU64::new(0));
            let (_, written) = if generated {
                let mut source = Generated {
                    next: 0,
                    left: rows,
                };
                huiyin_app::export::write_table(&app, &spec, &mut source, file, temp, progress)
                    .await
                    .unwrap()
            } else {
                let mut source = Source {
                    store: store.clone(),
                    filter: InboxFilter {
                        unit: UNIT.into(),
                        open_only: true,
                        now_ms: 1_767_225_600_000,
                        limit: 500,
                        ..InboxFilter::default()
                    },
                    left: rows,
                };
                huiyin_app::export::write_table(&app, &spec, &mut source, file, temp, progress)
                    .await
                    .unwrap()
            };
            let secs = started.elapsed().as_secs_f64();
            assert_eq!(written, rows);
            let size = std::fs::metadata(&path).unwrap().len() as f64 / (1024.0 * 1024.0);
            let (peak, rss) = memory_mib();
            println!(
                "export/{label}/{}/{rows}: {secs:.1} s, {:.0} rows/s, file {size:.1} MiB, peak RSS {peak:.0} MiB, RSS now {rss:.0} MiB",
                format.extension(),
                rows as f64 / secs
            );
            std::fs::remove_file(&path).unwrap();
        }
    }
}

fn main() {
    let n = env_u64("HUIYIN_BENCH_CASES", 1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // `generated`: the writer alone on rows made in memory (an empty store), 100,000, then n,
    // then 3n rows; otherwise the inbox of the data set, 100,000, n, and n again.
    let generated = std::env::var("HUIYIN_BENCH_EXPORT_SOURCE").as_deref() == Ok("generated");
    rt.block_on(async {
        if generated {
            let dir = tempfile::tempdir_in(common::bench_data_dir()).unwrap();
            let store = Store::open_dir(dir.path()).await.unwrap();
            store.migrate().await.unwrap();
            let (peak, _) = memory_mib();
            println!("export/generated: peak RSS before the first export {peak:.0} MiB");
            run("generated", store, &[100_000.min(n), n, 3 * n], true).await;
            return;
        }
        let sizes = [100_000.min(n), n, n];
        let store = sqlite_dataset(n).await;
        let (peak, _) = memory_mib();
        println!("export/sqlite: peak RSS after opening the data set {peak:.0} MiB");
        run("sqlite", store, &sizes, false).await;
        if let Some(base) = common::pg_base() {
            let store = pg_dataset(&base, n).await;
            run("postgres", store, &sizes, false).await;
        }
    });
}
