//! filestore integration tests: real files in temp dirs, real DICOMs from ../shared.

mod fileops;
mod pattern;
mod rules;
mod testdata;
mod watch;
