//! For tests (feature `fixture`): a local HTTPS server that serves a folder as
//! OpenNeuro's public S3 bucket does: `GET /openneuro.org?list-type=2&prefix=..`
//! (ListObjectsV2 XML, with `delimiter=/` common prefixes and continuation tokens,
//! [`PAGE`] keys a page so that paging is exercised) and `GET /openneuro.org/KEY`.
//! Real TLS: its own CA and server certificate (crate `security`), on 127.0.0.1 port 0.
//! Every request is recorded so tests can count what a client fetched.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};

/// Keys in one listing page (S3 uses 1000; small here so paging is tested).
pub const PAGE: usize = 3;

/// The running server; dropping it stops it.
#[derive(Debug)]
pub struct Fixture {
    /// The bucket's base URL, e.g. `https://localhost:PORT/openneuro.org`.
    pub url: String,
    /// The CA certificate (PEM) that signed the server's certificate.
    pub ca_pem: Vec<u8>,
    log: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Fixture {
    /// Serves `bucket` (a folder holding `dsNNNNNN/` datasets). `certs` is an empty
    /// folder for the CA and server certificate.
    pub fn start(bucket: &Path, certs: &Path) -> std::io::Result<Fixture> {
        let other = |e: security::SecurityError| std::io::Error::other(e.to_string());
        security::certs::make_certs(
            certs,
            &["localhost".to_string()],
            &["127.0.0.1".parse().expect("an address")],
            true,
        )
        .map_err(other)?;
        let tls = security::tls::server_config(certs, false).map_err(other)?;
        let ca_pem = std::fs::read(certs.join(security::certs::CA_CERT))?;
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        std_listener.set_nonblocking(true)?;
        let addr: SocketAddr = std_listener.local_addr()?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bucket, served_log) = (bucket.to_path_buf(), log.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                    return;
                };
                let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                tokio::pin!(stopped);
                loop {
                    let accepted = tokio::select! {
                        _ = &mut stopped => return,
                        a = listener.accept() => a,
                    };
                    let Ok((tcp, _)) = accepted else { continue };
                    let (acceptor, bucket, log) =
                        (acceptor.clone(), bucket.clone(), served_log.clone());
                    tokio::spawn(async move {
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let service = hyper::service::service_fn(move |req| {
                            let answer = serve(&bucket, &log, &req);
                            async move { Ok::<_, Infallible>(answer) }
                        });
                        let _ = hyper_util::server::conn::auto::Builder::new(
                            hyper_util::rt::TokioExecutor::new(),
                        )
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                    });
                }
            });
        });
        Ok(Fixture {
            url: format!("https://localhost:{}/openneuro.org", addr.port()),
            ca_pem,
            log,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Every request so far, as `path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve<B>(bucket: &Path, log: &Mutex<Vec<String>>, req: &Request<B>) -> Response<Full<Bytes>> {
    let uri = req.uri();
    if let Ok(mut l) = log.lock() {
        l.push(uri.to_string());
    }
    let path = uri.path();
    if path == "/openneuro.org" || path == "/openneuro.org/" {
        let query = query_pairs(uri.query().unwrap_or_default());
        let get = |k: &str| query.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        if get("list-type") != Some("2") {
            return answer(400, "only ListObjectsV2 (list-type=2)".into());
        }
        let start = get("continuation-token")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        return answer(
            200,
            listing(
                bucket,
                get("prefix").unwrap_or_default(),
                get("delimiter"),
                start,
            ),
        );
    }
    let Some(key) = path.strip_prefix("/openneuro.org/") else {
        return answer(404, "NoSuchBucket".into());
    };
    let plain = Path::new(key)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    match std::fs::read(bucket.join(key)) {
        Ok(bytes) if plain => Response::builder()
            .status(200)
            .body(Full::new(Bytes::from(bytes)))
            .unwrap_or_default(),
        _ => answer(
            404,
            format!("<Error><Code>NoSuchKey</Code><Key>{key}</Key></Error>"),
        ),
    }
}

fn answer(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

/// `a=b&c=d`, percent-decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// ListObjectsV2's answer: keys (and common prefixes) after `start`, [`PAGE`] of them.
fn listing(bucket: &Path, prefix: &str, delimiter: Option<&str>, start: usize) -> String {
    let mut keys = Vec::new();
    walk(bucket, bucket, &mut keys);
    keys.sort();
    let mut entries: Vec<(bool, String, u64)> = Vec::new();
    for (key, size) in keys.into_iter().filter(|(k, _)| k.starts_with(prefix)) {
        let rest = &key[prefix.len()..];
        match (delimiter, rest.find('/')) {
            (Some(_), Some(slash)) => {
                let common = format!("{prefix}{}", &rest[..=slash]);
                if !entries.iter().any(|(p, k, _)| *p && *k == common) {
                    entries.push((true, common, 0));
                }
            }
            _ => entries.push((false, key, size)),
        }
    }
    let page: Vec<_> = entries.iter().skip(start).take(PAGE).collect();
    let truncated = start + PAGE < entries.len();
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult \
         xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>openneuro.org</Name>",
    );
    xml.push_str(&format!(
        "<Prefix>{prefix}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{PAGE}</MaxKeys>\
         <IsTruncated>{truncated}</IsTruncated>",
        page.len()
    ));
    if truncated {
        xml.push_str(&format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            start + PAGE
        ));
    }
    for (is_prefix, key, size) in page {
        if *is_prefix {
            xml.push_str(&format!(
                "<CommonPrefixes><Prefix>{key}</Prefix></CommonPrefixes>"
            ));
        } else {
            xml.push_str(&format!(
                "<Contents><Key>{key}</Key><Size>{size}</Size>\
                 <StorageClass>STANDARD</StorageClass></Contents>"
            ));
        }
    }
    xml.push_str("</ListBucketResult>");
    xml
}

fn walk(root: &Path, dir: &Path, keys: &mut Vec<(String, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path: PathBuf = entry.path();
        if path.is_dir() {
            walk(root, &path, keys);
        } else if let (Ok(rel), Ok(meta)) = (path.strip_prefix(root), entry.metadata()) {
            keys.push((rel.to_string_lossy().replace('\\', "/"), meta.len()));
        }
    }
}
