//! Why dialing the analyser failed, in words that say what to do about it.

use std::path::PathBuf;

/// A failed dial or login. Each message names the analyser and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DialError {
    #[error("--server {server:?}: {detail}; write it as HOST:PORT, e.g. analyser.local:8888")]
    BadServer { server: String, detail: String },
    #[error(transparent)]
    Security(#[from] security::SecurityError),
    #[error("no CA certificate at {path}: copy the analyser's certs/ca.crt (made by `data_analyser make-certs`) to this machine and pass it with --ca")]
    NoCa { path: PathBuf },
    #[error("no user name: pass --user NAME (added on the analyser with `data_analyser add-user -u NAME`), or --test against an analyser in test mode")]
    NoUser,
    #[error(
        "no password for user {user}: pass --password-file FILE, or run on a terminal to be asked"
    )]
    NoPassword { user: String },
    #[error("cannot read the password file {path}: {source}")]
    PasswordFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot reach the analyser at {server}: {detail}; check --server, that data_analyser runs there, and the firewall")]
    Unreachable { server: String, detail: String },
    #[error("the certificate of {server} is not signed by {ca}: copy the analyser's certs/ca.crt here and pass it with --ca")]
    UnknownCa { server: String, ca: PathBuf },
    #[error("the certificate of {server} is not valid for the name {host}: dial a name or address it was made for, or run `data_analyser make-certs --host {host}` (or --ip) on the analyser and restart it")]
    WrongName { server: String, host: String },
    #[error("the certificate of {server} has expired or is not yet valid: check this machine's clock, or run `data_analyser make-certs` on the analyser")]
    Expired { server: String },
    #[error("the analyser at {server} requires a client certificate: pass --client-cert and --client-key (made with `data_analyser make-certs --client NAME`)")]
    ClientCertRequired { server: String },
    #[error("the analyser at {server} refused the client certificate: use one made by `data_analyser make-certs --client NAME` with the analyser's own CA")]
    ClientCertRejected { server: String },
    #[error("{server} does not speak TLS: if the analyser runs with --test, pass --test here too")]
    NotTls { server: String },
    #[error("{server} did not answer in plaintext: the analyser probably uses TLS, so drop --test and pass --ca certs/ca.crt")]
    NotPlaintext { server: String },
    #[error("TLS with {server} failed: {detail}")]
    Tls { server: String, detail: String },
    #[error("the analyser at {server} refused user {user}: {message}")]
    Refused {
        server: String,
        user: String,
        message: String,
    },
    #[error("the analyser at {server} asks to wait {} s before the next login: {message}", retry_after.as_secs())]
    Throttled {
        server: String,
        retry_after: std::time::Duration,
        message: String,
    },
    #[error("login at {server} failed: {status}")]
    Login {
        server: String,
        status: tonic::Status,
    },
    #[error(
        "no answer from {server} within {secs} s; check that the analyser is running and reachable"
    )]
    Timeout { server: String, secs: u64 },
}

impl DialError {
    /// True when retrying cannot help until someone changes a setting (wrong CA, name,
    /// password, client certificate, TLS mode, bad options); false for outages
    /// (unreachable, timeout, broken call), which a reconnect loop simply waits out.
    /// Reconnect loops still retry both, but log the first kind loudly.
    pub fn needs_fixing(&self) -> bool {
        !matches!(
            self,
            DialError::Unreachable { .. }
                | DialError::Timeout { .. }
                | DialError::Login { .. }
                | DialError::Throttled { .. }
        )
    }
}

impl crate::Paced for DialError {
    fn pace(&self) -> crate::Pace {
        match self {
            DialError::Throttled { retry_after, .. } => crate::Pace::Throttled(*retry_after),
            e if e.needs_fixing() => crate::Pace::Refused,
            _ => crate::Pace::Outage,
        }
    }
}
