//! analysis_listener: the stimulus PC's end. It dials the analyser (never listens on
//! the network), writes each TR's result where presentation software reads it, and
//! serves the results and takes the participant's responses on 127.0.0.1.
//!
//! - [`link`]: the connection: Hello with the folder's position, results in order at
//!   their onset time, acknowledgements, responses back, reconnect forever.
//! - [`output`]: the folder (one JSON per TR, results.tsv, messages), each result once.
//! - [`rtcloud_layout`]: RT-Cloud's `run<R>/classoutput/vol-<R>-<T>.txt` files, as an
//!   option beside the folder's own.
//! - [`board`] and [`server`]: the local results server (long-poll, latest, live
//!   stream, responses).
//!
//! Must never: write a result twice, skip one, or listen beyond 127.0.0.1.

pub mod board;
pub mod link;
pub mod output;
pub mod rtcloud_layout;
pub mod server;
