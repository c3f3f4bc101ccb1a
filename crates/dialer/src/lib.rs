//! dialer: how data_streamer and analysis_listener reach the analyser.
//!
//! - [`ConnectArgs`]: the shared CLI options (`#[command(flatten)]`).
//! - [`Dialer`] / [`connect`]: TLS against the analyser's CA, HTTP/2 keepalive, login;
//!   returns a tonic [`Channel`](tonic::transport::Channel) and the session [`Token`].
//! - [`Backoff`]: pacing of reconnect attempts.
//!
//! This crate only dials out: it must never open a listening port (control rooms allow
//! no inbound connections), and never log the password or the token.

mod args;
mod backoff;
mod connect;
mod error;
mod io;
mod token;

pub use args::ConnectArgs;
pub use backoff::{report_retry, Backoff, Pace, Paced, REFUSED_RETRY};
pub use connect::{
    connect, ClientInfo, Dialer, CONNECT_TIMEOUT, KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT,
    LOGIN_TIMEOUT,
};
pub use error::DialError;
pub use token::{Bearer, Token};
