//! `huiyin category …`: the content categories (内容分类), a 3-level taxonomy a deployment
//! loads from its own JSON Lines file (`{"l1": "城乡建设", "l2": "物业管理", "l3": "…"}`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use huiyin_app::{App, AppError, Config};

use crate::DataArgs;

#[derive(Subcommand)]
pub enum CategoryCmd {
    /// Add every category of a JSON Lines file (l1, optional l2 and l3) not there yet. A bad
    /// line refuses the whole file; the import is one transaction with one audit entry.
    Import {
        #[command(flatten)]
        data: DataArgs,
        /// The JSON Lines file.
        #[arg(long)]
        file: std::path::PathBuf,
    },
    /// List the categories as JSON lines (retired ones marked).
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

pub async fn run(command: CategoryCmd) -> Result<ExitCode> {
    match command {
        CategoryCmd::Import { data, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let app = App::new(data.open().await?, Config::default());
            let report = app
                .import_categories(&text, "cli:category-import")
                .await
                .map_err(|e| match e {
                    AppError::Invalid(fields) => anyhow::anyhow!(
                        "{}",
                        fields
                            .iter()
                            .map(|(_, e)| format!("{} ({})", e.message, e.code))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    other => anyhow::anyhow!("{other}"),
                })?;
            println!("{}", serde_json::to_string(&report)?);
        }
        CategoryCmd::List { data } => {
            let store = data.open().await?;
            for c in store.categories().await? {
                println!("{}", serde_json::to_string(&c)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
