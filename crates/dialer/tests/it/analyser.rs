//! An in-process analyser for the tests: certificates and a user in a temp folder,
//! the Auth service behind `security::server::serve` on 127.0.0.1:0.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use dialer::ConnectArgs;
use security::{AuthService, Sessions};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";

/// A certs folder made like `data_analyser make-certs --host localhost --ip 127.0.0.1`,
/// plus `passwd` with alice and a `password` file for the client.
pub fn certs_for(hosts: &[&str], ips: &[IpAddr]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    security::certs::make_certs(dir.path(), &hosts, ips, false).expect("make_certs");
    security::users::add_user(&dir.path().join("passwd"), USER, PASSWORD).expect("add_user");
    std::fs::write(dir.path().join("password"), format!("{PASSWORD}\n")).expect("password file");
    dir
}

pub fn localhost_certs() -> TempDir {
    certs_for(&["localhost"], &[IpAddr::V4(Ipv4Addr::LOCALHOST)])
}

/// A running analyser; stops when dropped.
pub struct Analyser {
    pub addr: SocketAddr,
    pub sessions: Sessions,
    stop: Option<oneshot::Sender<()>>,
    /// Ends when `serve` has returned.
    pub stopped: Option<tokio::task::JoinHandle<()>>,
}

impl Analyser {
    /// Stops serving (as on Ctrl-C) and waits until `serve` has returned.
    pub async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.stopped.take() {
            task.await.expect("serve panicked");
        }
    }
}

impl Drop for Analyser {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    Tls,
    MutualTls,
    Plaintext,
}

/// Starts an analyser with the certificates and users of `certs`.
pub async fn start(certs: &Path, mode: Mode) -> Analyser {
    let sessions = Sessions::default();
    let (tls, auth) = match mode {
        Mode::Plaintext => (
            None,
            AuthService::test_mode(sessions.clone()).expect("auth"),
        ),
        Mode::Tls | Mode::MutualTls => (
            Some(security::tls::server_config(certs, mode == Mode::MutualTls).expect("server tls")),
            AuthService::new(&certs.join("passwd"), sessions.clone()).expect("auth"),
        ),
    };
    // `/hang` answers never: a stand-in for a long-lived stream such as the data link.
    let app = tonic::service::Routes::new(auth.into_server())
        .into_axum_router()
        .route("/hang", axum::routing::get(std::future::pending::<()>));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(security::server::serve(listener, tls, app, async {
        let _ = stopped.await;
    }));
    Analyser {
        addr,
        sessions,
        stop: Some(stop),
        stopped: Some(task),
    }
}

/// Client options as a streamer would pass them.
pub fn args(server: String, ca: PathBuf, password_file: PathBuf) -> ConnectArgs {
    ConnectArgs {
        server,
        ca,
        client_cert: None,
        client_key: None,
        user: Some(USER.to_owned()),
        password_file: Some(password_file),
        test: false,
    }
}

/// Options for `certs`' own CA and password, dialing `addr` as `host`.
pub fn args_for(certs: &Path, host: &str, addr: SocketAddr) -> ConnectArgs {
    args(
        format!("{host}:{}", addr.port()),
        certs.join("ca.crt"),
        certs.join("password"),
    )
}

pub fn streamer() -> dialer::ClientInfo {
    dialer::ClientInfo {
        kind: "streamer".into(),
        station: "skyra".into(),
    }
}
