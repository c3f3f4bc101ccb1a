//! Transport benchmark: how long one volume-sized upload takes over the analyser's real
//! stack (dialer channel, TLS, HTTP/2, `security::server::serve`, axum) on loopback.
//! This is the part of the link's latency budget this crate owns; the whole chain
//! (file close to volume in the analyser) is measured by the data link's benchmark.
//!
//! `cargo bench -p dialer` (BENCH_ITERATIONS overrides the 300 uploads per size).
//! Prints p50/p99 per payload size; asserts nothing.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use axum::routing::post;
use bytes::Bytes;
use tower::ServiceExt;

const SIZES: [(usize, &str); 3] = [
    (1_000, "1 KB request"),
    (457_000, "457 KB Skyra mosaic"),
    (1_400_000, "1.4 MB multiband volume"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(iterations))
}

async fn run(iterations: usize) -> Result<(), Box<dyn std::error::Error>> {
    let certs = tempfile::tempdir()?;
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    security::certs::make_certs(certs.path(), &["localhost".into()], &[localhost], false)?;
    security::users::add_user(&certs.path().join("passwd"), "bench", "bench")?;
    std::fs::write(certs.path().join("password"), "bench\n")?;

    let auth = security::AuthService::new(&certs.path().join("passwd"), Default::default())?;
    let app = tonic::service::Routes::new(auth.into_server())
        .into_axum_router()
        .route(
            "/len",
            post(|body: Bytes| async move { body.len().to_string() }),
        );
    let tls = security::tls::server_config(certs.path(), false)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(security::server::serve(
        listener,
        Some(tls),
        app,
        std::future::pending(),
    ));

    let args = dialer::ConnectArgs {
        server: format!("localhost:{}", addr.port()),
        ca: certs.path().join("ca.crt"),
        client_cert: None,
        client_key: None,
        user: Some("bench".into()),
        password_file: Some(certs.path().join("password")),
        test: false,
    };
    let client = dialer::ClientInfo::default();
    let dialer = dialer::Dialer::from_args(&args)?;
    let mut logins = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        dialer.connect(&client).await?;
        logins.push(start.elapsed().as_secs_f64() * 1e3);
    }
    report("dial + TLS + login (argon2)", &mut logins);

    let (channel, _token) = dialer.connect(&client).await?;
    for (size, label) in SIZES {
        let payload = Bytes::from(vec![0x5a; size]);
        let mut times = Vec::with_capacity(iterations);
        // The first uploads warm up the flow-control windows; not counted.
        for round in 0..iterations + 20 {
            let request = http::Request::post(format!("http://{addr}/len")).body(
                tonic::body::Body::new(http_body_util::Full::new(payload.clone())),
            )?;
            let start = Instant::now();
            let response = channel.clone().oneshot(request).await?;
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await?
                .to_bytes();
            let elapsed = start.elapsed().as_secs_f64() * 1e3;
            if body != size.to_string().as_bytes() {
                return Err(format!("the server received {body:?} bytes, not {size}").into());
            }
            if round >= 20 {
                times.push(elapsed);
            }
        }
        report(&format!("upload {label}"), &mut times);
    }
    Ok(())
}

fn report(what: &str, times: &mut [f64]) {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what:<36} n={:<4} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        times.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
