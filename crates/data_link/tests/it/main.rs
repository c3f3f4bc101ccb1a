//! Tests of the data link over real TLS on 127.0.0.1: an in-process analyser
//! (`security::server::serve` with Auth and DataLink), in-process streamers dialing it
//! with `dialer`, real files in temp folders, real scanner data from ../shared/testdata.

mod bad_files;
mod calls;
mod harness;
mod privacy;
mod refusals;
mod streams;
