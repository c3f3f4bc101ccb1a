//! cli_common: the start-up and shut-down chores every rtcloud-rs binary shares, so
//! the three services log and stop alike. Nothing here knows about the protocol.

use tracing_subscriber::EnvFilter;

/// Logs to stderr: `info` for the given crates of ours, `warn` for dependencies,
/// unless RUST_LOG says otherwise.
pub fn init_logging(our_crates: &[&str]) {
    let default = our_crates.iter().fold(String::from("warn"), |acc, krate| {
        format!("{acc},{krate}=info")
    });
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// Completes on Ctrl-C or SIGTERM (how a terminal and a service manager ask us to stop).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(term) => {
                term.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    tracing::info!("stopping");
}
