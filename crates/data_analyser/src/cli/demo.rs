//! `data_analyser demo`: the whole system on one machine, in one command. An analyser
//! (certificates and a one-time password in a temporary folder, or --test), a scanner
//! replaying a synthetic run (or the recorded run in --dicoms) at TR pace, a streamer
//! sending it over TLS, and a listener writing each TR's result into --out. The ROI
//! feedback project (the sample project for recorded data) runs on Run in the web page,
//! or at once with --auto-run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use imaging::synth::Synth;
use tokio::sync::watch;

use crate::cli::project::{self, ProjectArgs};
use crate::cli::synth::{spec_from, write_ground_truth};
use crate::files::write_atomic;
use crate::server::ServerArgs;
use crate::service::PortArgs;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Replay this recorded run (its .dcm files in name order) instead of a synthetic one.
    #[arg(long, value_name = "DIR")]
    pub dicoms: Option<PathBuf>,
    /// Seconds between volumes, as the scanner's TR.
    #[arg(long, default_value_t = 1.0, value_name = "SEC")]
    pub tr: f64,
    /// Number of synthetic volumes.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(12..=10_000))]
    pub volumes: u32,
    /// Folder for the listener's results (run-1/tr-NNNN.json ...) and the session files.
    #[arg(long, short, default_value = "demo-out", value_name = "DIR")]
    pub out: PathBuf,
    /// Start the run at once instead of waiting for Run in the web page.
    #[arg(long)]
    pub auto_run: bool,
    /// Shut everything down when that run has ended (for scripts and CI).
    #[arg(long, requires = "auto_run")]
    pub exit_after_run: bool,
    /// The analyser's port (0 picks a free one).
    #[arg(long, default_value_t = 8888)]
    pub port: u16,
    /// The listener's results server port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8890)]
    pub results_port: u16,
    /// No TLS, user test/test (the web page shows a TEST MODE banner).
    #[arg(long)]
    pub test: bool,
}

pub fn run(args: DemoArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(demo(args))
}

/// What the scanner will play, and the project that analyses it.
struct Scan {
    source: PathBuf,
    rename: Option<filestore::FilePattern>,
    volumes: usize,
    project: &'static str,
    settings: toml::Table,
}

async fn demo(args: DemoArgs) -> Result<()> {
    let work = tempfile::Builder::new()
        .prefix("rtcloud-demo-")
        .tempdir()
        .context("making a temporary folder")?;
    let at = |rel: &str| work.path().join(rel);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let out = std::path::absolute(&args.out).context("the --out folder")?;
    let scanner = at("scanner");
    std::fs::create_dir_all(&scanner).context("the scanner folder")?;

    let scan = prepare_scan(&args, work.path(), &out)?;
    let mut settings = scan.settings.clone();
    settings.insert("imgDir".into(), scanner.display().to_string().into());
    settings.insert("numTRs".into(), (scan.volumes as i64).into());
    settings.insert("plotXRangeHigh".into(), (scan.volumes as i64 + 1).into());
    let config = at(&format!("{}.toml", scan.project));
    write_atomic(&config, toml::to_string(&settings)?.as_bytes())?;

    // Certificates for this machine and a one-time password, unless --test.
    let certs = at("certs");
    let password = if args.test {
        "test".to_owned()
    } else {
        security::certs::make_certs(
            &certs,
            &["localhost".into()],
            &["127.0.0.1".parse()?],
            false,
        )?;
        let password = one_time_password();
        // One account for the whole demo, but bound to its station like a real site's.
        let grants = security::users::Grants {
            roles: Some(security::users::Role::ALL.to_vec()),
            stations: Some(vec!["scanner".into()]),
        };
        security::users::add_user_with(&certs.join("passwd"), "demo", &password, Some(grants))?;
        password
    };
    let password_file = at("password");
    write_private(&password_file, format!("{password}\n").as_bytes())?;

    let project_args = ProjectArgs {
        projects: "projects".into(),
        project: Some(scan.project.into()),
        config: Some(config),
        main_script: None,
        init_script: None,
        finalize_script: None,
        data_remote: true,
        subject_remote: true,
        station: "scanner".into(),
        allowed_dirs: Vec::new(),
        allowed_types: Vec::new(),
        sessions_dir: out.join("sessions"),
        python: std::env::var_os("RTCLOUD_PYTHON").map_or("python3".into(), PathBuf::from),
        run_on_start: args.auto_run,
        exit_after_run: args.exit_after_run,
        stop_grace: 5.0,
        in_process: false,
        port: PortArgs {
            host: "127.0.0.1".into(),
            port: args.port,
            server: ServerArgs {
                certs_dir: certs.clone(),
                passwd: None,
                require_client_certs: false,
                test: args.test,
            },
        },
    };

    // The analyser first: the address and password are printed, and the streamer and
    // listener dial, only once its port is bound.
    let (stop, stopped) = watch::channel(false);
    let stop = std::sync::Arc::new(stop);
    let (streamer_done, streamer_ended) = tokio::sync::oneshot::channel::<()>();
    let (listener_done, listener_ended) = tokio::sync::oneshot::channel::<()>();
    let (bound, bound_addr) = tokio::sync::oneshot::channel();
    let hooks = project::Hooks {
        bound: Some(bound),
        // The streamer and listener hang up before the analyser stops serving.
        before_stop: Some(Box::new({
            let stop = stop.clone();
            move || -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
                Box::pin(async move {
                    stop.send(true).ok();
                    streamer_ended.await.ok();
                    listener_ended.await.ok();
                })
            }
        })),
    };
    let analyser = tokio::spawn(project::serve_project_with(project_args, hooks));
    let port = match bound_addr.await {
        Ok(addr) => addr.port(),
        // It ended before binding (the port is taken, no certificates ...): say why.
        Err(_) => {
            analyser.await.context("the analyser task")??;
            bail!("the analyser ended before listening");
        }
    };
    let connect = dialer::ConnectArgs {
        server: format!("127.0.0.1:{port}"),
        ca: certs.join("ca.crt"),
        client_cert: None,
        client_key: None,
        user: Some(if args.test { "test" } else { "demo" }.into()),
        password_file: Some(password_file),
        test: args.test,
    };

    let scheme = if args.test { "http" } else { "https" };
    println!(
        "rtcloud-rs demo: {} volumes, TR {} s, project {}",
        scan.volumes, args.tr, scan.project
    );
    println!(
        "  web page:  {scheme}://localhost:{port}   user: {}   password: {password}",
        if args.test { "test" } else { "demo" }
    );
    if !args.test {
        println!(
            "  (the browser will not know the demo's certificate authority: {} )",
            certs.join("ca.crt").display()
        );
    }
    println!(
        "  results:   {} (run-1/tr-NNNN.json) and the listener on 127.0.0.1:{}",
        out.display(),
        args.results_port
    );
    if !args.auto_run {
        println!("  press Run in the web page to start the project; Ctrl-C stops everything");
    }

    let shutdown = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let streamer_dialer = dialer::Dialer::from_args(&connect)?;
    let rules = filestore::AccessRules::new([&scanner], [".dcm"])?;
    let streamer = data_link::streamer::run_with_dialer(
        data_link::streamer::StreamerConfig::new("scanner", rules),
        streamer_dialer,
        shutdown(),
    );
    let streamer = tokio::spawn(async move {
        streamer.await;
        streamer_done.send(()).ok();
    });
    let listening = listen(connect, out.clone(), args.results_port, shutdown());
    let listener = tokio::spawn(async move {
        let outcome = listening.await;
        listener_done.send(()).ok();
        outcome
    });
    let replay = {
        let options = filestore::ReplayOptions {
            tr: Duration::try_from_secs_f64(args.tr).context("--tr must be >= 0")?,
            chunks: 4,
            chunk_pause: Duration::from_millis(5),
            rename: scan.rename,
            start_index: 1,
            extensions: vec!["dcm".into()],
            limit: Some(scan.volumes),
        };
        let (source, into) = (scan.source.clone(), scanner.clone());
        tokio::task::spawn_blocking(move || {
            filestore::replay_blocking(&source, &into, &options, |_| {})
        })
    };

    let outcome = analyser.await.context("the analyser task")?;
    // Also when the analyser failed before its hook ran.
    stop.send(true).ok();
    replay.abort();
    streamer.await.ok();
    if let Ok(Err(e)) = listener.await {
        tracing::error!("the listener: {}", cli_common::error_report(&e));
    }
    if outcome.is_ok() && args.exit_after_run {
        println!("demo: the run has ended; results in {}", out.display());
    }
    outcome
}

/// The scanner's files and the project for them.
fn prepare_scan(args: &DemoArgs, work: &Path, out: &Path) -> Result<Scan> {
    if let Some(dir) = &args.dicoms {
        let volumes = std::fs::read_dir(dir)
            .with_context(|| format!("--dicoms {}", dir.display()))?
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "dcm"))
            .count();
        if volumes == 0 {
            bail!("--dicoms {}: no .dcm files", dir.display());
        }
        let mut settings = default_settings("sample")?;
        settings.insert("scanNum".into(), toml::Value::Array(vec![1.into()]));
        return Ok(Scan {
            source: dir.clone(),
            rename: Some(filestore::FilePattern::new("001_000001_{TR:06d}.dcm")?),
            volumes,
            project: "sample",
            settings,
        });
    }
    // Blocks of 10 TRs whatever the TR, so a fast demo still shows the activation.
    let spec = imaging::synth::SynthSpec {
        block_s: 10.0 * args.tr,
        ..spec_from(args.volumes, args.tr, 42)
    };
    let synth = Synth::new(spec).context("invalid demo settings")?;
    let source = work.join("source");
    for index in 0..args.volumes as usize {
        let file = synth.file(index)?;
        write_atomic(&source.join(&file.file_name), &file.bytes)?;
    }
    let truth = synth.ground_truth();
    // Beside the results, so the feedback can be compared with the true design.
    write_ground_truth(out, &truth)?;
    let corner = |c: [usize; 3]| toml::Value::Array(c.iter().map(|&n| (n as i64).into()).collect());
    let mut settings = default_settings("roi-feedback")?;
    settings.insert(
        "roiBox".into(),
        toml::Value::Array(vec![
            corner(truth.roi_voxel_min),
            corner(truth.roi_voxel_max),
        ]),
    );
    settings.insert("scanNum".into(), toml::Value::Array(vec![1.into()]));
    // The synthetic activation is 2%: half the bar.
    settings.insert("maxPercentChange".into(), 4.0.into());
    Ok(Scan {
        source,
        rename: None,
        volumes: args.volumes as usize,
        project: "roi-feedback",
        settings,
    })
}

fn default_settings(project: &str) -> Result<toml::Table> {
    let text = builtin_projects::default_config(project).context("a built-in project")?;
    Ok(text.parse()?)
}

/// Writes a secret only this user may read (the dialer warns about any other).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// 16 random letters and digits.
fn one_time_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// The listener, in-process: results into `out`, the results server on `results_port`.
async fn listen(
    connect: dialer::ConnectArgs,
    out: PathBuf,
    results_port: u16,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    use analysis_listener::{board::Board, link, output::Output, server};
    let output = Output::open(&out)?;
    let dialer = dialer::Dialer::from_args(&connect)?;
    let board = Board::default();
    let (replies, reply_queue) = tokio::sync::mpsc::unbounded_channel();
    let (token, token_line) = server::issue_token(&out)
        .with_context(|| format!("writing the results token into {}", out.display()))?;
    let app = server::router(board.clone(), replies, out, token);
    let (server_stop, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let bound = server::serve(([127, 0, 0, 1], results_port).into(), app, async move {
        server_stopped.await.ok();
    })
    .await
    .with_context(|| format!("the listener's results server on port {results_port}"))?;
    println!("Results server: http://{bound}");
    println!("{token_line}");
    let client = dialer::ClientInfo {
        kind: "listener".into(),
        station: "demo".into(),
    };
    let connect = move || {
        let dialer = dialer.clone();
        let client = client.clone();
        async move { dialer.connect(&client).await }
    };
    link::run(connect, output, board, reply_queue, shutdown).await;
    server_stop.send(()).ok();
    Ok(())
}
