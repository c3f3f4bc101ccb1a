//! `data_analyser builtin NAME`: runs a built-in project as the analyser's child
//! process, the way any project script runs (RTCLOUD_API / RTCLOUD_TOKEN from the
//! environment). Hidden from --help: the analyser starts it, people do not.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct BuiltinArgs {
    /// sample, roi-feedback, motion or glm.
    pub name: String,
    /// The settings file.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Run numbers, comma separated (default: runNum in the settings).
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub runs: Vec<i64>,
    /// Scan numbers, one per run (default: scanNum in the settings).
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub scans: Vec<i64>,
}

pub fn run(args: BuiltinArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let client = rtcloud_client::ClientInterface::from_env().await?;
        let launch = builtin_projects::LaunchArgs {
            config: args.config,
            runs: args.runs,
            scans: args.scans,
        };
        builtin_projects::run(&args.name, &client, &launch)
            .await
            .with_context(|| format!("built-in project {}", args.name))
    })
}
