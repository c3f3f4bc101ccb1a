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
//! Browsers may call it from pages on this machine (file:// or localhost origins);
//! other origins are not allowed (CORS), so a web page elsewhere cannot read or post.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
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

#[derive(Debug, Clone)]
struct Shared {
    board: Board,
    responses: mpsc::UnboundedSender<Reply>,
    /// Where results of earlier runs of this listener are (after a restart).
    out_dir: PathBuf,
}

/// The router; `responses` carries posted responses to the link.
pub fn router(board: Board, responses: mpsc::UnboundedSender<Reply>, out_dir: PathBuf) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|origin: &HeaderValue, _| {
            local_origin(origin.to_str().unwrap_or(""))
        }))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([axum::http::header::CONTENT_TYPE]);
    Router::new()
        .route("/results/latest", get(latest))
        .route("/results/stream", get(stream))
        .route("/results/{run}/{tr}", get(one))
        .route("/messages/latest", get(message))
        .route("/responses", post(respond))
        .route("/status", get(status))
        .layer(cors)
        .with_state(Shared {
            board,
            responses,
            out_dir,
        })
}

/// file:// pages send "null"; pages served from this machine are localhost.
fn local_origin(origin: &str) -> bool {
    if origin == "null" {
        return true;
    }
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    let host = rest.rsplit_once(':').map_or(rest, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            rest
        }
    });
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
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

async fn respond(State(shared): State<Shared>, Json(posted): Json<Posted>) -> Response {
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
    use super::local_origin;

    #[test]
    fn only_this_machines_pages_may_call() {
        for ok in [
            "null",
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
        ] {
            assert!(!local_origin(bad), "{bad}");
        }
    }
}
