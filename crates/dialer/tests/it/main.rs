//! End-to-end tests of dialing the analyser: a real `security::server::serve` with the
//! Auth service on 127.0.0.1:0, real certificates from `make_certs`, real TLS.

mod analyser;
mod keepalive;
mod login;
mod mtls;
mod refusals;
mod shutdown;
