//! crates/bids integration tests: datasets written to and read from real folders.

mod archive;
mod common;
mod streamed;
mod validator;
