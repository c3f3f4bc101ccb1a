//! End-to-end tests of the data_analyser binary: the real executable, real files, temp
//! folders (one integration-test binary, see ../shared/STYLE.md).

mod availability;
mod cli;
mod convert;
mod demo;
mod fresh_machine;
mod hardening;
mod link;
mod listener;
mod preproc;
mod projects;
mod qa;
mod run_view;
mod scripts;
mod session_bids;
mod site;
mod support;
mod timeline;
mod web;
