//! project_runtime: the analyser's side of the experimenter's project code.
//!
//! - [`api`]: the project API (data, subject, web, session) that scripts call on
//!   127.0.0.1 with a per-launch token.
//! - [`bids_api`]: the Bids service (BIDS streams and archives, issue 11).
//! - [`controller`]: Run / Stop / Initialize / Finalize of the project's scripts, one at
//!   a time, their output into the session log, their settings editable between runs.
//!
//! Must never: expose the project API beyond loopback, or let a script outlive Stop.

pub mod api;
pub mod bids_api;
pub mod controller;
mod preprocess_api;
pub mod qa;
mod run_view;

pub use api::{ApiInfo, ProjectApi};
pub use controller::{ControlError, Controller, DEFAULT_STOP_GRACE};
