//! The command-line options every client of the analyser shares (data_streamer,
//! analysis_listener), pulled into their CLIs with `#[command(flatten)]`.

use std::path::PathBuf;

use clap::Args;

/// How to reach and log in to the analyser.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// The analyser to dial, as HOST:PORT. HOST must be one of the names or addresses
    /// its certificate was made for (`data_analyser make-certs --host/--ip`).
    #[arg(long, value_name = "HOST:PORT")]
    pub server: String,

    /// The analyser's CA certificate, copied from its certs/ca.crt. Only servers signed
    /// by this CA are trusted.
    #[arg(long, value_name = "FILE", default_value = "certs/ca.crt")]
    pub ca: PathBuf,

    /// Client certificate for analysers started with --require-client-certs (made with
    /// `data_analyser make-certs --client NAME`).
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,

    /// Private key of --client-cert.
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,

    /// User name to log in with (added on the analyser with `data_analyser add-user`).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// File whose first line is the password. Without it the password is asked for on
    /// the terminal.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// Test mode: no TLS, log in as test/test. Only for an analyser that also runs with
    /// --test; never on a real network.
    #[arg(long)]
    pub test: bool,
}
