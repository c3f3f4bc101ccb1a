//! cli_common: the start-up and shut-down chores every rtcloud-rs binary shares, so
//! the three services log, stop and report errors alike. Nothing here knows about the
//! protocol.

use tracing_subscriber::EnvFilter;

/// Logs to stderr: `info` for the given crates of ours, `warn` for dependencies,
/// unless RUST_LOG says otherwise. Colours only on a terminal: in a file or a pipe
/// escape codes are noise.
pub fn init_logging(our_crates: &[&str]) {
    use std::io::IsTerminal;
    let default = our_crates.iter().fold(String::from("warn"), |acc, krate| {
        format!("{acc},{krate}=info")
    });
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
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

/// An error and its causes on one line, for the last words of a binary. Library errors
/// often repeat their cause in their own message (so that a message sent over the
/// network is complete); a cause already quoted by the message before it is skipped.
pub fn error_report(error: &anyhow::Error) -> String {
    let mut report = String::new();
    let mut previous = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !previous.contains(&text) {
            if !report.is_empty() {
                report.push_str(": ");
            }
            report.push_str(&text);
        }
        previous = text;
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_quoted_by_their_error_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        #[derive(Debug, thiserror::Error)]
        #[error("folder /x cannot be used ({source})")]
        struct Quoting {
            source: std::io::Error,
        }
        let error = anyhow::Error::new(Quoting { source: io }).context("checking --allowed-dirs");
        assert_eq!(
            error_report(&error),
            "checking --allowed-dirs: folder /x cannot be used (no such file)"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_report(&plain), "outer: inner");
    }
}
