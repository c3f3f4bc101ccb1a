//! Access to ../shared/testdata (real scanner data): under CI=true a missing ../shared
//! is a failure, not a skip.

pub use test_support::shared_testdata;
