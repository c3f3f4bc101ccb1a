//! The wire protocol shared by data_streamer, data_analyser and analysis_listener.
//!
//! Generated from `proto/` at the repository root (see build.rs); this crate holds no
//! logic of its own. Each proto package is one module here, named after its version.

/// `package rtcloud.v1`: every service and message of the current protocol.
pub mod v1 {
    #![allow(missing_debug_implementations, clippy::all, clippy::pedantic)]
    tonic::include_proto!("rtcloud.v1");
}

/// `package rtcloud.project.v1`: the project API that analysis scripts call on the
/// analyser (127.0.0.1 only, per-run token).
pub mod project {
    pub mod v1 {
        #![allow(missing_debug_implementations, clippy::all, clippy::pedantic)]
        tonic::include_proto!("rtcloud.project.v1");
    }
}
