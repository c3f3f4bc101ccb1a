//! The test rig: certificates and a user in a temp folder, an analyser on
//! 127.0.0.1:0, streamers, and test_support's proxy whose connections can be cut.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use data_link::analyser::{DataLinkService, Streamers};
use data_link::streamer::StreamerConfig;
use dialer::{ConnectArgs, Dialer};
use filestore::AccessRules;
use security::{AuthService, Sessions};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";
/// Failure guard only: generous for a loaded 2-core machine.
pub const GUARD: Duration = Duration::from_secs(60);

/// Certificates for localhost/127.0.0.1, a password file and a user.
pub fn certs() -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    security::certs::make_certs(
        dir.path(),
        &["localhost".to_owned()],
        &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
        false,
    )
    .expect("make_certs");
    security::users::add_user(&dir.path().join("passwd"), USER, PASSWORD).expect("add_user");
    std::fs::write(dir.path().join("password"), format!("{PASSWORD}\n")).expect("password");
    dir
}

/// A running analyser with the DataLink service; stops when dropped.
pub struct Analyser {
    pub addr: SocketAddr,
    pub streamers: Streamers,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Analyser {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn analyser(certs: &Path) -> Analyser {
    let sessions = Sessions::default();
    let tls = security::tls::server_config(certs, false).expect("server tls");
    let auth = AuthService::new(&certs.join("passwd"), sessions.clone()).expect("auth");
    let streamers = Streamers::new();
    let link = DataLinkService::new(streamers.clone()).server(sessions.interceptor());
    let app = tonic::service::Routes::new(auth.into_server())
        .add_service(link)
        .into_axum_router();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(security::server::serve(listener, Some(tls), app, async {
        let _ = stopped.await;
    }));
    Analyser {
        addr,
        streamers,
        stop: Some(stop),
    }
}

/// A running streamer; stops when dropped.
pub struct Streamer {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Streamer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

/// Starts a streamer for `station` serving `dirs`, dialing `server` (HOST:PORT).
pub fn streamer(
    certs: &Path,
    server: SocketAddr,
    station: &str,
    dirs: &[&Path],
    types: &[&str],
    compression: bool,
) -> Streamer {
    let mut config = StreamerConfig::new(
        station,
        AccessRules::new(dirs.iter().copied(), types.iter().copied()).expect("rules"),
    );
    config.compression = compression;
    if let Some(level) = std::env::var("LINK_ZSTD_LEVEL")
        .ok()
        .and_then(|l| l.parse().ok())
    {
        config.compression_level = level;
    }
    start_streamer(certs, server, config)
}

/// Starts a streamer with `config`, dialing `server` as localhost.
pub fn start_streamer(certs: &Path, server: SocketAddr, config: StreamerConfig) -> Streamer {
    let args = ConnectArgs {
        server: format!("localhost:{}", server.port()),
        ca: certs.join("ca.crt"),
        client_cert: None,
        client_key: None,
        user: Some(USER.to_owned()),
        password_file: Some(certs.join("password")),
        test: false,
    };
    let dialer = Dialer::from_args(&args).expect("dialer");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(data_link::streamer::run_with_dialer(
        config,
        dialer,
        async {
            let _ = stopped.await;
        },
    ));
    Streamer {
        stop: Some(stop),
        task,
    }
}

/// A streamer of `config.station` dialing `analyser`, once it is connected, and the
/// DataInterface of that station.
pub async fn connected(
    certs: &Path,
    analyser: &Analyser,
    config: StreamerConfig,
) -> (Streamer, data_link::DataInterface) {
    let station = config.station.clone();
    let streamer = start_streamer(certs, analyser.addr, config);
    analyser
        .streamers
        .wait_for(&station, GUARD)
        .await
        .expect("the streamer connects");
    let data = data_link::DataInterface::remote(analyser.streamers.clone(), station);
    (streamer, data)
}

#[allow(unused_imports)] // not every file including the harness cuts links
pub use test_support::Proxy;

#[allow(unused_imports)] // not every bench including this file reads the test data
pub use test_support::shared_testdata;
