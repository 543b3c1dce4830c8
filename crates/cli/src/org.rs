//! `huiyin org …`: load the national organisation tree (or one province), a deployment's own
//! units from CSV, counts, and the life of a unit (rename, merge, retire, history).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;
use huiyin_org::{Catalogue, Divisions, plan};
use huiyin_store::{ImportReport, OrgImportError, Store};

use crate::DataArgs;

#[derive(Subcommand)]
pub enum OrgCmd {
    /// Load or update the tree from the shipped GB/T 2260 divisions (idempotent, one
    /// transaction), or, with --file, a deployment's own units from CSV.
    Import {
        #[command(flatten)]
        data: DataArgs,
        /// Only this province (2 digits, e.g. 44 for 广东省) plus the nation's own units.
        #[arg(long, conflicts_with = "file")]
        province: Option<String>,
        /// A JSON unit catalogue replacing the built-in one (`huiyin org catalogue` prints it).
        #[arg(long, conflicts_with = "file")]
        catalogue: Option<PathBuf>,
        /// A CSV of extra units: id,name,kind,region,parent[,department].
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Counts of regions per level and of units per level and kind.
    Stats {
        #[command(flatten)]
        data: DataArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Rename a unit (recorded in its history).
    Rename {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        unit: String,
        #[arg(long)]
        name: String,
    },
    /// Merge a unit into another: it is retired with the other as successor and its sub-units
    /// move there. Cases keep the unit they were handled by.
    Merge {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        unit: String,
        #[arg(long)]
        into: String,
    },
    /// Retire a unit without sub-units.
    Retire {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        unit: String,
    },
    /// A unit's history as JSON lines.
    History {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        unit: String,
    },
    /// Print the built-in unit catalogue as JSON (a starting point for --catalogue).
    Catalogue,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Imports the shipped tree (all of it, or one province) with the built-in catalogue or the
/// one in `catalogue`.
pub async fn import_tree(
    store: &Store,
    province: Option<&str>,
    catalogue: Option<&Path>,
) -> Result<ImportReport> {
    let catalogue = match catalogue {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("无法读取单位目录文件 {}", path.display()))?;
            Catalogue::from_json(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?
        }
        None => Catalogue::default(),
    };
    let national = Divisions::embedded().map_err(|e| anyhow!("{e}"))?;
    let divisions = match province {
        Some(code) => national
            .province(code)
            .map_err(|e| anyhow!("--province: {e}"))?,
        None => national.clone(),
    };
    let plan = plan(&divisions, &catalogue).map_err(|e| anyhow!("{e}"))?;
    Ok(store.import_org(&plan, now_ms()).await?)
}

fn print_report(report: &ImportReport) -> Result<()> {
    println!("{}", serde_json::to_string(report)?);
    eprintln!(
        "导入完成 / imported: 区划新增 {} 更新 {}；单位新增 {} 更新 {} 未变 {} 已撤销保留 {}",
        report.regions_added,
        report.regions_updated,
        report.units_added,
        report.units_updated,
        report.units_unchanged,
        report.units_kept_retired
    );
    Ok(())
}

/// The audit entry of a change made on the command line (the operator has no staff account;
/// the entry says which command made it).
fn cli_entry(action: &str, detail: serde_json::Value) -> huiyin_store::AuditEntry {
    huiyin_store::AuditEntry {
        at_ms: now_ms(),
        actor: format!("cli:{action}"),
        actor_unit: None,
        action: action.to_string(),
        case_id: None,
        detail: detail.to_string(),
    }
}

pub async fn run(command: OrgCmd) -> Result<()> {
    match command {
        OrgCmd::Import {
            data,
            province,
            catalogue,
            file,
        } => {
            let store = data.open().await?;
            let report = match file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("无法读取单位文件 {}", path.display()))?;
                    let audit = cli_entry(
                        "org_import_units",
                        serde_json::json!({"file": path.display().to_string()}),
                    );
                    match store.import_units_csv(&text, now_ms(), Some(&audit)).await {
                        Ok(r) => r,
                        Err(OrgImportError::Rejected(e)) => {
                            return Err(anyhow!("{}: {e}", path.display()));
                        }
                        Err(OrgImportError::Store(e)) => return Err(e.into()),
                    }
                }
                None => import_tree(&store, province.as_deref(), catalogue.as_deref()).await?,
            };
            print_report(&report)?;
        }
        OrgCmd::Stats { data, json } => {
            let store = data.open().await?;
            let stats = store.org_stats().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                for (level, n) in &stats.regions {
                    println!("regions {level:<10} {n:>8}");
                }
                for (level, kinds) in &stats.units {
                    for (kind, n) in kinds {
                        println!("units   {level:<10} {kind:<16} {n:>8}");
                    }
                }
                println!(
                    "units   active {} retired {}",
                    stats.units_active, stats.units_retired
                );
            }
        }
        OrgCmd::Rename { data, unit, name } => {
            let store = data.open().await?;
            let audit = cli_entry("org_rename", serde_json::json!({"id": unit, "name": name}));
            if store
                .rename_unit(&unit, &name, now_ms(), Some(&audit))
                .await?
            {
                println!("{unit} renamed");
            } else {
                println!("{unit} already has that name");
            }
        }
        OrgCmd::Merge { data, unit, into } => {
            let store = data.open().await?;
            let audit = cli_entry("org_merge", serde_json::json!({"id": unit, "into": into}));
            store
                .merge_unit(&unit, &into, now_ms(), Some(&audit))
                .await?;
            println!("{unit} merged into {into}");
        }
        OrgCmd::Retire { data, unit } => {
            let store = data.open().await?;
            let audit = cli_entry("org_retire", serde_json::json!({"id": unit}));
            store.retire_unit(&unit, now_ms(), Some(&audit)).await?;
            println!("{unit} retired");
        }
        OrgCmd::History { data, unit } => {
            let store = data.open().await?;
            if store.org_unit(&unit).await?.is_none() {
                return Err(anyhow!("单位 {unit} 不存在"));
            }
            for entry in store.unit_history(&unit).await? {
                println!("{}", serde_json::to_string(&entry)?);
            }
        }
        OrgCmd::Catalogue => println!("{}", Catalogue::default().to_json()),
    }
    Ok(())
}
