//! The local results server for presentation software, on 127.0.0.1 only:
//!
//! - `GET /results/{run}/{tr}?wait_ms=N`: that TR's result as JSON; waits up to N ms
//!   for it (long-poll), then 404;
//! - `GET /results/latest`: the newest result (404 before the first);
//! - `GET /results/stream`: every result as it becomes visible (Server-Sent Events);
//! - `GET /messages/latest`: the newest message as `{"text": ...}`;
//! - `POST /responses` with `{"run": R, "tr": T, "response": ANY}`: the participant's
//!   response, sent on to the analyser (project code's get_response);
//! - `GET /status`: whether the analyser is connected.
//!
//! Who may call it: programs on this PC (PsychoPy, MATLAB, a page served from
//! localhost). Any web page open in a browser here can also send requests, so:
//! - the `Host` header must name this machine (127.0.0.1, localhost or [::1]): a page
//!   of a foreign site whose name was re-pointed at 127.0.0.1 (DNS rebinding) is
//!   refused;
//! - an `Origin`, when sent, must be a localhost origin; `null` (file:// pages,
//!   sandboxed frames, and pages of any site that ask for it) is refused;
//! - `POST /responses` needs this start's token ([`TOKEN_HEADER`] or `?token=`), printed
//!   at start and written to `OUT_DIR/`[`TOKEN_FILE`] (readable by this user only) for
//!   scripts; a page elsewhere cannot read it, so it cannot forge a response.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::board::Board;
use crate::link::Reply;
use crate::output::Delivered;

/// The longest long-poll.
const MAX_WAIT: Duration = Duration::from_secs(600);
/// The header that carries the token of `POST /responses`.
pub const TOKEN_HEADER: &str = "x-listener-token";
/// The file in the output folder that holds this start's token.
pub const TOKEN_FILE: &str = "results-token";

#[derive(Debug, Clone)]
struct Shared {
    board: Board,
    responses: mpsc::UnboundedSender<Reply>,
    /// Where results of earlier runs of this listener are (after a restart).
    out_dir: PathBuf,
    /// This start's token for posting responses.
    token: String,
}

/// A fresh token for this start, written to `out_dir/`[`TOKEN_FILE`], and the line
/// to print about it: `Results token: TOKEN (...)`.
pub fn issue_token(out_dir: &std::path::Path) -> std::io::Result<(String, String)> {
    let token = new_token();
    let path = write_token(out_dir, &token)?;
    let line = format!(
        "Results token: {token} (for POST /responses, header {TOKEN_HEADER}; also in {})",
        path.display()
    );
    Ok((token, line))
}

/// A fresh token for one start of the listener (128 random bits, hex).
fn new_token() -> String {
    format!(
        "{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

/// Writes `token` to `out_dir/`[`TOKEN_FILE`] (mode 0600, temp file + rename).
fn write_token(out_dir: &std::path::Path, token: &str) -> std::io::Result<PathBuf> {
    let path = out_dir.join(TOKEN_FILE);
    let tmp = out_dir.join(format!(".{TOKEN_FILE}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    {
        use std::io::Write;
        let mut file = options.open(&tmp)?;
        file.write_all(format!("{token}\n").as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// The router; `responses` carries posted responses to the link; `token` guards them.
pub fn router(
    board: Board,
    responses: mpsc::UnboundedSender<Reply>,
    out_dir: PathBuf,
    token: String,
) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|origin: &HeaderValue, _| {
            local_origin(origin.to_str().unwrap_or(""))
        }))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::HeaderName::from_static(TOKEN_HEADER),
        ]);
    Router::new()
        .route("/results/latest", get(latest))
        .route("/results/stream", get(stream))
        .route("/results/{run}/{tr}", get(one))
        .route("/messages/latest", get(message))
        .route("/responses", post(respond))
        .route("/status", get(status))
        .layer(cors)
        // Outermost: refused before CORS or any handler sees the request.
        .layer(axum::middleware::from_fn(this_machine_only))
        .with_state(Shared {
            board,
            responses,
            out_dir,
            token,
        })
}

/// Refuses requests whose Host is not this machine (DNS rebinding) or whose Origin is
/// not a localhost page (`null` included).
async fn this_machine_only(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !local_host(host) {
        tracing::warn!(host, "request with a foreign Host refused (DNS rebinding?)");
        return forbidden("the Host must be 127.0.0.1, localhost or [::1]");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        if !local_origin(origin.to_str().unwrap_or("")) {
            tracing::warn!(?origin, "request from a page of another origin refused");
            return forbidden("only pages served from this machine (http://localhost) may call");
        }
    }
    next.run(request).await
}

fn forbidden(why: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(serde_json::json!({ "error": why })),
    )
        .into_response()
}

/// True for `127.0.0.1`, `localhost` or `[::1]`, with or without a port.
fn local_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    matches!(name, "localhost" | "127.0.0.1" | "[::1]")
}

/// Pages served from this machine (http(s)://localhost...). Not "null": any page can
/// make its requests carry that (a sandboxed frame), so it proves nothing.
fn local_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !rest.is_empty() && local_host(rest)
}

/// Serves on `addr` until `shutdown`; returns the bound address at once.
pub async fn serve(
    addr: SocketAddr,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        // Nagle off: a long-poll's answer goes out at once.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("TCP_NODELAY not set: {e}");
            }
        });
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!("results server stopped: {e}");
        }
    });
    Ok(bound)
}

#[derive(Debug, Deserialize)]
struct Wait {
    wait_ms: Option<u64>,
}

fn not_found(what: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": what })),
    )
        .into_response()
}

async fn one(
    State(shared): State<Shared>,
    Path((run, tr)): Path<(i64, i64)>,
    Query(wait): Query<Wait>,
) -> Response {
    // Subscribe before looking, so a result arriving in between is not missed.
    let mut live = shared.board.subscribe();
    if let Some(found) = find(&shared, run, tr) {
        return Json(found).into_response();
    }
    let wait = Duration::from_millis(wait.wait_ms.unwrap_or(0)).min(MAX_WAIT);
    let arrived = tokio::time::timeout(wait, async {
        loop {
            match live.recv().await {
                Ok(r) if r.run == run && r.tr == tr => return Some(r),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if let Some(found) = shared.board.result(run, tr) {
                        return Some(found);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .await;
    match arrived {
        Ok(Some(r)) => Json(r).into_response(),
        _ => not_found(format!("no result for run {run} TR {tr} yet")),
    }
}

/// In memory, or written by an earlier run of this listener.
fn find(shared: &Shared, run: i64, tr: i64) -> Option<Delivered> {
    shared.board.result(run, tr).or_else(|| {
        let path = shared
            .out_dir
            .join(format!("run-{run}"))
            .join(format!("tr-{tr:04}.json"));
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    })
}

async fn latest(State(shared): State<Shared>) -> Response {
    match shared.board.latest() {
        Some(r) => Json(r).into_response(),
        None => not_found("no result yet".into()),
    }
}

async fn message(State(shared): State<Shared>) -> Response {
    match shared.board.message() {
        Some(text) => Json(serde_json::json!({ "text": text })).into_response(),
        None => not_found("no message yet".into()),
    }
}

async fn stream(
    State(shared): State<Shared>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let results = BroadcastStream::new(shared.board.subscribe()).filter_map(|item| {
        let result = item.ok()?;
        let json = serde_json::to_string(&result).ok()?;
        Some(Ok(SseEvent::default().event("result").data(json)))
    });
    Sse::new(results).keep_alive(KeepAlive::default())
}

#[derive(Debug, Deserialize)]
struct Posted {
    run: i64,
    tr: i64,
    response: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The token given in the header or the query, compared in constant time.
fn token_ok(shared: &Shared, headers: &HeaderMap, query: &TokenQuery) -> bool {
    let given = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .or(query.token.as_deref())
        .unwrap_or("")
        .trim();
    security::same_secret(given, &shared.token)
}

async fn respond(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
    Json(posted): Json<Posted>,
) -> Response {
    if !token_ok(&shared, &headers, &query) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({
                "error": format!("POST /responses needs this listener's token in the {TOKEN_HEADER} header (printed at start, and in OUT_DIR/{TOKEN_FILE})")
            })),
        )
            .into_response();
    }
    let reply = Reply::new(posted.run, posted.tr, &posted.response);
    let id = reply.id.clone();
    if shared.responses.send(reply).is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": "the listener is shutting down" })),
        )
            .into_response();
    }
    // Accepted: it reaches the analyser now, or as soon as the link is back.
    (StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id }))).into_response()
}

async fn status(State(shared): State<Shared>) -> Response {
    let (connected, session_id, skew_s) = shared.board.link();
    Json(serde_json::json!({
        "connected": connected,
        "session_id": session_id,
        "clock_skew_ms": skew_s * 1000.0,
        "write_error": shared.board.write_error(),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::{local_host, local_origin};

    #[test]
    fn only_this_machine_by_name() {
        for ok in ["127.0.0.1", "127.0.0.1:8890", "localhost:1", "[::1]:80"] {
            assert!(local_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8890",
            "127.0.0.1.nip.io",
            "",
            "[::1]x",
        ] {
            assert!(!local_host(bad), "{bad}");
        }
    }

    #[test]
    fn only_this_machines_pages_may_call() {
        for ok in [
            "http://localhost",
            "http://localhost:8000",
            "https://127.0.0.1:9",
            "http://[::1]:80",
        ] {
            assert!(local_origin(ok), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "http://localhost.evil.example",
            "https://127.0.0.1.nip.io",
            "",
            "null",
        ] {
            assert!(!local_origin(bad), "{bad}");
        }
    }
}
