//! security: who may talk to the analyser, and how the bytes are protected.
//!
//! - [`certs`]: the private CA, the server certificate and client certificates (rcgen).
//! - [`tls`]: rustls configs for the analyser and for its clients.
//! - [`users`]: the argon2id password file (`certs/passwd`).
//! - [`sessions`]: bearer tokens issued at login and checked on every call.
//! - [`auth`]: the `rtcloud.v1.Auth` gRPC service (login).
//! - [`throttle`]: failed-login limits per address (100 an hour) and per account
//!   (growing delays that owners skip).
//! - [`server`]: the analyser's one TLS port (HTTP/1.1 + HTTP/2, axum + tonic).
//!
//! This crate owns keys, passwords and tokens. It must never log a password, a key or a
//! token, never trust the system's root certificates (the analyser's CA is private) and
//! never fall back to plaintext on its own: plaintext is only `--test`, chosen by the
//! caller.

pub mod auth;
pub mod certs;
mod error;
mod fsutil;
pub mod server;
pub mod sessions;
pub mod throttle;
pub mod tls;
pub mod users;

pub use auth::{AuthService, LoginRefused};
pub use error::SecurityError;
pub use fsutil::warn_if_readable_by_others;
pub use sessions::{Identity, RequireLogin, Sessions};
pub use throttle::Source;

/// True when two secrets (tokens) are equal, compared in time independent of where
/// they differ (subtle's constant-time comparison), so timing does not leak a token.
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Largest gRPC message either side accepts. Files travel in chunks of at most 1 MiB,
/// so this leaves room for headers without letting a peer make us buffer gigabytes.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_compare_by_content() {
        assert!(super::same_secret("abc", "abc"));
        assert!(!super::same_secret("abc", "abd"));
        assert!(!super::same_secret("abc", "ab"));
    }
}
