//! subject_link: the analyser's side of the link analysis_listener dials from the
//! stimulus PC.
//!
//! - [`SubjectLinkService`]: `SubjectLink/Subscribe`: after the listener's Hello, every
//!   result (and message) of the session it has not yet written out, in order, then
//!   each new one as the project makes it; acknowledgements and participant responses
//!   come back on the same stream.
//! - [`Listeners`]: who is connected and how far each has acknowledged, for the web
//!   page and `--run-on-start`.
//! - [`feedback_page`]: `/feedback`, the participant's display in a browser window.
//!
//! Exactly once: results are numbered in the [`session::Session`], which keeps them all;
//! the listener names the last one it wrote, so a reconnect resumes right after it.
//! Must never: send a result twice on one stream, or out of order.

pub mod feedback_page;
mod listeners;
mod service;

pub use listeners::{ListenerInfo, Listeners};
pub use service::SubjectLinkService;
