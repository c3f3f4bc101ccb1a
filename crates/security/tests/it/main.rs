//! Integration tests of the security crate, one binary (see ../shared/STYLE.md).
//! Dialing and login over TLS are tested end to end in crates/dialer/tests.

mod certs;
mod server;
mod sessions;
mod users;
