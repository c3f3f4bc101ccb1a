//! analysis_listener: runs on the stimulus PC. This file parses the command line and
//! starts the link and the local results server (see the library's modules).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use analysis_listener::{board::Board, link, output::Output, server};
use anyhow::{Context, Result};
use clap::Parser;

/// Receives each TR's result from the analyser for PsychoPy, MATLAB or a browser.
///
/// Dials the analyser at --server (outbound only, TLS, login), and writes every result
/// into --out-dir as run-<run>/tr-<tr>.json (and results.tsv), at the moment the project
/// asked for (onset delay, corrected for the clocks' difference). A local server on
/// 127.0.0.1:--results-port hands results to presentation software and takes the
/// participant's responses (these need the token printed at start and written to
/// OUT_DIR/results-token). Results made while the listener was away arrive when it is
/// back, each exactly once.
///
/// Example: analysis_listener --server analyser.example.org:8888 --ca ca.crt
///   --user stimulus --password-file ~/.rtcloud-password --out-dir C:/feedback
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(flatten)]
    connect: dialer::ConnectArgs,
    /// Folder for the results and messages (created if missing).
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// Port of the local results server on 127.0.0.1 (0 picks a free one; the address
    /// is printed as `Results server: http://127.0.0.1:PORT`).
    #[arg(long, default_value_t = 8890, value_name = "PORT")]
    results_port: u16,
    /// Also write each result as RT-Cloud's subject service did, for presentation
    /// scripts written for RT-Cloud: run<R>/classoutput/vol-<R>-<T>.txt (the value) and
    /// <name>.json (a result dict), in --out-dir.
    #[arg(long)]
    rtcloud_layout: bool,
    /// This listener's name, as the analyser's web page shows it.
    #[arg(long, default_value = "stimulus", value_name = "NAME")]
    name: String,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cli_common::init_logging(&["analysis_listener", "dialer"]);
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cli_common::error_report(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let output = Output::open(&cli.out_dir)
        .with_context(|| format!("opening --out-dir {}", cli.out_dir.display()))?
        .with_rtcloud_layout(cli.rtcloud_layout);
    // Asks for the password (if needed) before anything runs in the background.
    let dialer = dialer::Dialer::from_args(&cli.connect)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let board = Board::default();
        let (replies, reply_queue) = tokio::sync::mpsc::unbounded_channel();
        // POST /responses needs this start's token: scripts read it from the folder.
        let (token, token_line) = server::issue_token(&cli.out_dir)
            .with_context(|| format!("writing the results token into {}", cli.out_dir.display()))?;
        let app = server::router(board.clone(), replies, cli.out_dir.clone(), token);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, cli.results_port));
        let bound = server::serve(addr, app, cli_common::shutdown_signal())
            .await
            .with_context(|| format!("starting the results server on {addr}"))?;
        // Tests and scripts read this line to learn the port.
        println!("Results server: http://{bound}");
        println!("{token_line}");
        let client = dialer::ClientInfo {
            kind: "listener".into(),
            station: cli.name.clone(),
        };
        let connect = move || {
            let dialer = dialer.clone();
            let client = client.clone();
            async move { dialer.connect(&client).await }
        };
        link::run(
            connect,
            output,
            board,
            reply_queue,
            cli_common::shutdown_signal(),
        )
        .await;
        Ok(())
    })
}
