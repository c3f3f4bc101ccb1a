//! `data_analyser builtin NAME`: runs a built-in project as the analyser's child
//! process, the way any project script runs (RTCLOUD_API / RTCLOUD_TOKEN from the
//! environment). Hidden from --help: the analyser starts it, people do not. With
//! `--in-process` the same main runs as a task of the analyser ([`in_process`]).

use std::path::PathBuf;

use std::ffi::OsString;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Parser};

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
        main(args, &client).await
    })
}

async fn main(args: BuiltinArgs, client: &rtcloud_client::ClientInterface) -> Result<()> {
    let launch = builtin_projects::LaunchArgs {
        config: args.config,
        runs: args.runs,
        scans: args.scans,
    };
    builtin_projects::run(&args.name, client, &launch)
        .await
        .with_context(|| format!("built-in project {}", args.name))
}

/// The arguments of `data_analyser builtin NAME ...` without the program name.
#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
struct Words {
    /// Always "builtin".
    #[arg(value_parser = ["builtin"])]
    _subcommand: String,
    #[command(flatten)]
    args: BuiltinArgs,
}

/// `data_analyser builtin NAME` as a task of the analyser (`--in-process`, issue 14):
/// the same arguments and API address and token a child process would get, read
/// from the launch rather than from this process's command line and environment.
pub fn in_process() -> projects::InProcess {
    projects::InProcess(Arc::new(
        |argv: Vec<OsString>, env: Vec<(String, String)>| {
            Box::pin(async move {
                let var = |name: &str| {
                    env.iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let run = async {
                    let words = Words::try_parse_from(argv)?;
                    let client = rtcloud_client::ClientInterface::connect(
                        &var("RTCLOUD_API"),
                        &var("RTCLOUD_TOKEN"),
                    )
                    .await?;
                    main(words.args, &client).await
                };
                run.await.map_err(|e: anyhow::Error| format!("{e:#}"))
            })
        },
    ))
}
