//! The `huiyin` binary: serve, migrate, verify, token, unit, demo.
//!
//! Every command that reads or writes data takes the same `--data DIR` / `--database URL`
//! options: with neither, the embedded SQLite database under `./huiyin-data` is used.

mod categories;
mod demo;
mod keys;
mod org;
mod users;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use huiyin_app::App;
use huiyin_domain::case::Role;
use huiyin_store::{Store, UnitRecord};

#[derive(Parser)]
#[command(
    name = "huiyin",
    version,
    about = "回音 Huiyin — 网上信访信息系统 (online petition information system)"
)]
struct Cli {
    /// Log as JSON lines (for log collectors) instead of human-readable text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args, Clone)]
struct DataArgs {
    /// Directory of the embedded SQLite database.
    #[arg(long, default_value = "./huiyin-data")]
    data: PathBuf,
    /// A database URL (postgres://… or sqlite://…); overrides --data.
    #[arg(long, env = "HUIYIN_DATABASE_URL")]
    database: Option<String>,
}

impl DataArgs {
    async fn open(&self) -> Result<Store> {
        let store = match &self.database {
            Some(url) => Store::connect(url).await.with_context(
                || "cannot connect to the database given by --database / HUIYIN_DATABASE_URL",
            )?,
            None => Store::open_dir(&self.data).await.with_context(|| {
                format!("cannot open the data directory {}", self.data.display())
            })?,
        };
        store.migrate().await.context("migration failed")?;
        Ok(store)
    }
}

/// Where this server's full-text index lives (each server keeps its own).
#[derive(clap::Args, Debug)]
struct SearchDirArg {
    /// The search index directory (default <data>/search).
    #[arg(long = "search-dir", env = "HUIYIN_SEARCH_DIR")]
    search_dir: Option<PathBuf>,
}

impl SearchDirArg {
    fn dir(self, data: &std::path::Path) -> PathBuf {
        self.search_dir.unwrap_or_else(|| data.join("search"))
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the web server (and, with --demo, populate a demonstration system first).
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Populate a demonstration system (units, staff tokens, a few hundred petitions) if
        /// the database is empty, and print the demo tokens.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        auth: users::AuthArgs,
        #[command(flatten)]
        jobs: worker::WorkerArgs,
        /// Do not run the job worker in this process (run `huiyin worker` instead).
        #[arg(long)]
        no_worker: bool,
        #[command(flatten)]
        search: SearchDirArg,
        /// Publish the aggregate statistics of this GB/T 2260 region (0: the nation) on the
        /// portal at /stats (信访数据公开; off unless given; --demo publishes 44).
        #[arg(long, env = "HUIYIN_PUBLIC_STATS")]
        public_stats: Option<String>,
    },
    /// Take every escalation step due now (催办, 督办单, 通报) once, and print what was done
    /// (`serve` and `worker` scan on their own every --deadline-scan-secs).
    ScanDeadlines {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        auth: users::AuthArgs,
    },
    /// Create or update the database schema.
    Migrate {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Prove the SM3 hash chain of the event log (and, with --projections, that every case's
    /// stored state equals the replay of its events and its event chunks hold exactly its
    /// events). Exits 1 on the first broken link.
    Verify {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        projections: bool,
    },
    /// API tokens for machine clients and staff tools.
    Token {
        #[command(subcommand)]
        command: TokenCmd,
    },
    /// Organisational units.
    Unit {
        #[command(subcommand)]
        command: UnitCmd,
    },
    /// Personal-data encryption keys (SM4): status, rotate.
    Keys {
        #[command(subcommand)]
        command: KeysCmd,
    },
    /// The national organisation tree: import, stats, rename, merge, retire, history.
    Org {
        #[command(subcommand)]
        command: org::OrgCmd,
    },
    /// Chinese text tools over JSON Lines: train, classify, dedup, hotspots, reply-check, pii.
    /// `huiyin text` alone prints the usage.
    Text {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Staff users: add, grant and revoke roles, disable, reset passwords.
    User {
        #[command(subcommand)]
        command: users::UserCmd,
    },
    /// Content categories (内容分类): import a taxonomy, list.
    Category {
        #[command(subcommand)]
        command: categories::CategoryCmd,
    },
    /// Populate a demonstration system into an empty database and print its tokens.
    Demo {
        #[command(flatten)]
        data: DataArgs,
        /// How many petitions to generate.
        #[arg(long, default_value_t = 300)]
        petitions: u32,
    },
    /// Run only the job worker (notifications): claims due jobs until SIGTERM/Ctrl-C, then
    /// finishes those in flight. Several may run against one PostgreSQL database.
    Worker {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        auth: users::AuthArgs,
        #[command(flatten)]
        jobs: worker::WorkerArgs,
    },
    /// Rebuild the full-text search index from the database (or, with --check, compare it with
    /// the database and exit 1 when they differ). Each server keeps its own index under
    /// <data>/search (or --search-dir).
    Reindex {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        search: SearchDirArg,
        /// Only compare the index with the database (after catching up).
        #[arg(long)]
        check: bool,
    },
    /// Statistics counters (形势网上判): `status` (how far behind the event log), `rebuild`
    /// (recount everything from the log), `check` (compare with a recomputation; exits 1 on a
    /// difference).
    Stats {
        #[command(flatten)]
        data: DataArgs,
        #[arg(value_enum)]
        action: StatsAction,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum StatsAction {
    Status,
    Rebuild,
    Check,
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a token; it is printed once and only its hash is stored.
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// The unit the token acts for.
        #[arg(long)]
        unit: Option<String>,
        /// Roles (repeat or comma-separate): registrar, handler, unit_head, leader, supervisor,
        /// proxy, administrator, auditor, analyst.
        #[arg(long = "role", value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// Days until it expires (default: never).
        #[arg(long)]
        days: Option<u32>,
        /// Limit the token to these scopes (repeat or comma-separate): cases:read,
        /// cases:write, petitions:submit, units:read, units:write. Default: all its roles allow.
        #[arg(long = "scope", value_delimiter = ',')]
        scopes: Vec<String>,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// The current key and the keys personal-data rows still use.
    Status {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Re-encrypt every personal-data row under a new key (idempotent, resumable; old keys
    /// are kept until no row uses them).
    Rotate {
        #[command(flatten)]
        data: DataArgs,
        /// Rows per batch.
        #[arg(long, default_value_t = 500)]
        batch: u32,
    },
}

#[derive(Subcommand)]
enum UnitCmd {
    /// Add a unit.
    Add {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// petition_bureau, department, government, discipline, court, procuratorate, township…
        #[arg(long)]
        kind: String,
        /// GB/T 2260 region code of the unit.
        #[arg(long)]
        region: String,
        #[arg(long)]
        parent: Option<String>,
    },
    /// List units as JSON lines.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    if json {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
}

/// mimalloc instead of the system allocator: loading a long case allocates a few thousand
/// small strings, and glibc's malloc and free were about a third of the decode time
/// (docs/benchmarks.md, "One case with 1,000 events").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Cmd) -> Result<std::process::ExitCode> {
    use std::process::ExitCode;
    match command {
        Cmd::Serve {
            data,
            listen,
            demo,
            auth,
            jobs,
            no_worker,
            search,
            public_stats,
        } => {
            let store = data.open().await?;
            let mut config = keys::config(&data.data)?;
            config.search_dir = Some(search.dir(&data.data));
            config.export_dir = Some(data.data.join("exports"));
            config.public_stats = match public_stats {
                Some(code) => {
                    let code = code.trim().to_string();
                    if code != "0" {
                        huiyin_domain::values::RegionCode::parse(&code)
                            .map_err(|e| anyhow::anyhow!("--public-stats {code}: {}", e.message))?;
                    }
                    Some(code)
                }
                None if demo => Some(demo::DEMO_PROVINCE.to_string()),
                None => None,
            };
            let config = jobs.apply(auth.apply(config)?)?;
            let app = App::new(store, config);
            // policies, calendar years and categories administrators stored
            app.load_rules().await?;
            if demo {
                demo::ensure(&app, 300).await?;
            }
            // derived text index and suggestion models: rebuilt from the log, kept current
            app.start_text_feeder();
            // statistics counters: derived from the log, caught up every second
            app.start_stats_feeder();
            app.start_rules_watch();
            // the full-text search index: this server's own, fed from the shared log
            app.start_search_feeder();
            let stop = std::sync::Arc::new(tokio::sync::Notify::new());
            let worker = if no_worker {
                None
            } else {
                Some(worker::spawn(&app, &jobs, stop.clone())?)
            };
            let served = serve(app.clone(), listen).await;
            if let Some(task) = worker {
                stop.notify_one();
                match task.await {
                    Ok(report) => tracing::info!(?report, "job worker finished"),
                    Err(e) => tracing::error!(error = %e, "job worker failed"),
                }
            }
            app.store().close().await;
            served?;
        }
        Cmd::Worker { data, auth, jobs } => {
            let store = data.open().await?;
            let config = jobs.apply(auth.apply(keys::config(&data.data)?)?)?;
            let app = App::new(store, config);
            app.load_rules().await?;
            let stop = std::sync::Arc::new(tokio::sync::Notify::new());
            let task = worker::spawn(&app, &jobs, stop.clone())?;
            println!("回音 Huiyin: job worker running (Ctrl-C or SIGTERM to stop)");
            shutdown_signal().await;
            stop.notify_one();
            let report = task.await.context("job worker failed")?;
            println!("{}", serde_json::to_string(&report)?);
            app.store().close().await;
        }
        Cmd::ScanDeadlines { data, auth } => {
            let store = data.open().await?;
            let app = App::new(store, auth.apply(keys::config(&data.data)?)?);
            app.load_rules().await?;
            let report = app.scan_deadlines(app.now()).await?;
            println!("{}", serde_json::to_string(&report)?);
            app.store().close().await;
        }
        Cmd::Migrate { data } => {
            let store = data.open().await?;
            let (seq, _) = store.head().await?;
            println!("database is up to date ({seq} events)");
        }
        Cmd::Verify { data, projections } => {
            let store = data.open().await?;
            let report = store.verify(projections).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            let audit = store.verify_audit().await?;
            println!("{}", serde_json::to_string_pretty(&audit)?);
            if let Some((seq, why)) = &audit.first_broken {
                eprintln!("audit trail broken at entry {seq}: {why}");
                return Ok(ExitCode::FAILURE);
            }
            eprintln!("audit trail intact: {} entries", audit.entries);
            if !report.ok() {
                if let Some((seq, why)) = &report.first_broken {
                    eprintln!("hash chain broken at event {seq}: {why}");
                }
                if !report.projection_mismatches.is_empty() {
                    eprintln!(
                        "{} case projection(s) differ from their events",
                        report.projection_mismatches.len()
                    );
                }
                if !report.chunk_mismatches.is_empty() {
                    eprintln!(
                        "{} case(s) have event chunks that differ from their events",
                        report.chunk_mismatches.len()
                    );
                }
                return Ok(ExitCode::FAILURE);
            }
            eprintln!(
                "hash chain intact: {} events, head {}",
                report.events, report.head
            );
        }
        Cmd::Token {
            command:
                TokenCmd::Create {
                    data,
                    name,
                    unit,
                    roles,
                    days,
                    scopes,
                },
        } => {
            users::check_scopes(&scopes)?;
            let store = data.open().await?;
            let app = App::new(store, keys::config(&data.data)?);
            let mut parsed = Vec::new();
            for r in &roles {
                match Role::parse(r.trim()) {
                    Some(Role::Petitioner | Role::System) | None => {
                        bail!(
                            "unknown or non-staff role `{r}`; use registrar, handler, unit_head, leader, supervisor, proxy, administrator, auditor or analyst"
                        )
                    }
                    Some(role) => parsed.push(role),
                }
            }
            let token = app
                .create_scoped_token(&name, unit.as_deref(), &parsed, days, &scopes)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{token}");
        }
        Cmd::Unit {
            command:
                UnitCmd::Add {
                    data,
                    id,
                    name,
                    kind,
                    region,
                    parent,
                },
        } => {
            huiyin_domain::values::RegionCode::parse(&region)
                .map_err(|e| anyhow::anyhow!("--region: {}", e.message))?;
            let store = data.open().await?;
            if let Some(p) = &parent
                && store.unit(p).await?.is_none()
            {
                bail!("--parent: unit `{p}` does not exist");
            }
            store
                .insert_unit(&UnitRecord {
                    id: id.clone(),
                    name,
                    kind,
                    region_code: region,
                    parent_id: parent,
                })
                .await?;
            println!("unit {id} added");
        }
        Cmd::Unit {
            command: UnitCmd::List { data },
        } => {
            let store = data.open().await?;
            for u in store.units().await? {
                println!("{}", serde_json::to_string(&u)?);
            }
        }
        Cmd::Org { command } => org::run(command).await?,
        Cmd::Text { args } => {
            let stdin = std::io::stdin();
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            if let Err(e) = huiyin_text::run_cli(&args, &mut stdin.lock(), &mut out) {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
            std::io::Write::flush(&mut out)?;
        }
        Cmd::Keys {
            command: KeysCmd::Status { data },
        } => {
            let store = data.open().await?;
            keys::status(store, &data.data).await?;
        }
        Cmd::Keys {
            command: KeysCmd::Rotate { data, batch },
        } => {
            let store = data.open().await?;
            keys::rotate(store, &data.data, batch).await?;
        }
        Cmd::User { command } => return users::run(command).await,
        Cmd::Category { command } => return categories::run(command).await,
        Cmd::Demo { data, petitions } => {
            let store = data.open().await?;
            let app = App::new(store, keys::config(&data.data)?);
            demo::ensure(&app, petitions).await?;
        }
        Cmd::Reindex {
            data,
            search,
            check,
        } => {
            let store = data.open().await?;
            let mut config = keys::config(&data.data)?;
            config.search_dir = Some(search.dir(&data.data));
            let app = App::new(store, config);
            let err = |e: huiyin_app::AppError| anyhow::anyhow!("{e}");
            if check {
                app.search_catch_up().await.map_err(err)?;
                let report = app.search_check().await.map_err(err)?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                if !report.ok() {
                    return Ok(ExitCode::FAILURE);
                }
            } else {
                let started = std::time::Instant::now();
                let n = app.search_rebuild().await.map_err(err)?;
                let status = app.search_status().await.map_err(err)?;
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "{}",
                    serde_json::json!({
                        "indexed": n,
                        "seconds": secs,
                        "cases_per_second": if secs > 0.0 { n as f64 / secs } else { 0.0 },
                        "status": status,
                    })
                );
            }
        }
        Cmd::Stats { data, action } => {
            let store = data.open().await?;
            let app = App::new(store, keys::config(&data.data)?);
            let status = match action {
                StatsAction::Status => app.stats_status().await?,
                StatsAction::Rebuild => app.stats_rebuild().await?,
                StatsAction::Check => {
                    let problems = app.stats_check().await?;
                    for p in &problems {
                        eprintln!("{p}");
                    }
                    if !problems.is_empty() {
                        eprintln!(
                            "{} counter(s) differ from the recomputation",
                            problems.len()
                        );
                        return Ok(ExitCode::FAILURE);
                    }
                    app.stats_status().await?
                }
            };
            println!("{}", serde_json::to_string(&status)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(app: App, listen: SocketAddr) -> Result<()> {
    let router = huiyin_web::router(app.clone(), huiyin_web::WebConfig::default());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "Huiyin is listening");
    println!("回音 Huiyin: http://{local}/  (API: http://{local}/api/v1/openapi.json)");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("server failed")?;
    tracing::info!("shutting down: in-flight requests finished");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
