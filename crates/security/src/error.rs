//! The one error type of this crate. Every message names the file or peer involved and
//! says how to fix it, because the people who read them run a scanner, not a PKI.

use std::path::PathBuf;

/// Everything that can go wrong while loading or writing keys, certificates and users.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityError {
    #[error("cannot {action} {path}: {source}{hint}")]
    Io {
        action: &'static str,
        path: PathBuf,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no {what}: {fix}")]
    MissingPem {
        path: PathBuf,
        what: &'static str,
        fix: &'static str,
    },
    #[error("{path} is not a valid {what} ({detail}): {fix}")]
    BadPem {
        path: PathBuf,
        what: &'static str,
        detail: String,
        fix: &'static str,
    },
    #[error("no host name or address for the server certificate: pass --host NAME (the name clients dial) and/or --ip ADDR")]
    NoHosts,
    #[error("cannot make a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("TLS setup with {path}: {source}")]
    Tls {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error(
        "client certificates are required but {path} could not be used to check them: {detail}"
    )]
    ClientVerifier { path: PathBuf, detail: String },
    #[error("{path} line {line}: {detail}; fix or delete the line, then add the user again with `data_analyser add-user -u NAME`")]
    PasswdLine {
        path: PathBuf,
        line: usize,
        detail: String,
    },
    #[error("bad user name {name:?}: use letters, digits, '.', '_' or '-' (no ':' or spaces)")]
    BadUserName { name: String },
    #[error("the password must not be empty")]
    EmptyPassword,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl SecurityError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        let hint = if source.kind() == std::io::ErrorKind::NotFound {
            " (make the certificates with `data_analyser make-certs --host NAME`, or pass the right path)"
        } else {
            ""
        };
        SecurityError::Io {
            action,
            path: path.into(),
            hint,
            source,
        }
    }
}
