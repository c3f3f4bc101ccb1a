//! The participant feedback page, `/feedback`, for setups where the stimulus display
//! is a browser window (jsPsych-style): a bar that follows each TR's value, updated over
//! a WebSocket (`/feedback/ws`) as results are made.
//!
//! Access needs the session's link token (`?token=`, printed at start-up and shown to
//! the experimenter): the page shows nothing about the participant, but it must not be
//! open to anyone who can reach the port. The page, its script and its style are
//! separate files so the Content-Security-Policy can forbid inline code; it may not be
//! framed by another site.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use session::{Event, Session};

const PAGE: &str = include_str!("assets/feedback.html");
const SCRIPT: &str = include_str!("assets/feedback.js");
const STYLE: &str = include_str!("assets/feedback.css");
/// Only its own script, style and WebSocket; never inside another site's frame.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

#[derive(Debug, Clone)]
struct Shared {
    session: Session,
    token: String,
}

#[derive(Debug, Deserialize)]
struct Access {
    token: Option<String>,
}

/// A random link token for a session's feedback page.
pub fn new_token() -> String {
    format!(
        "{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

/// `/feedback` and `/feedback/ws` for `session`, open to holders of `token`.
pub fn router(session: Session, token: String) -> Router {
    Router::new()
        .route("/feedback", get(page))
        .route("/feedback/feedback.js", get(script))
        .route("/feedback/feedback.css", get(style))
        .route("/feedback/ws", get(socket))
        .with_state(Shared { session, token })
}

fn allowed(shared: &Shared, access: &Access) -> bool {
    // Compared in constant time: the token is the only key to the page.
    security::same_secret(access.token.as_deref().unwrap_or(""), &shared.token)
}

fn refused() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        "the feedback page needs the session's link token (?token=...), printed when data_analyser starts",
    )
        .into_response()
}

async fn page(State(shared): State<Shared>, Query(access): Query<Access>) -> Response {
    if !allowed(&shared, &access) {
        return refused();
    }
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(PAGE),
    )
        .into_response()
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        body,
    )
        .into_response()
}

async fn socket(
    State(shared): State<Shared>,
    Query(access): Query<Access>,
    peer: Option<axum::Extension<security::server::Peer>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !allowed(&shared, &access) {
        return refused();
    }
    // The link token is this page's credential: its socket may outlive the login deadline.
    if let Some(axum::Extension(peer)) = peer {
        peer.authenticated.mark();
    }
    upgrade.on_upgrade(move |ws| feed(ws, shared.session))
}

/// The latest result at once, then each new one; the page ignores anything else.
async fn feed(mut ws: WebSocket, session: Session) {
    let mut events = session.subscribe();
    if let Some(last) = session.results_after(0).pop() {
        if send(&mut ws, &Event::Result(last)).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event @ (Event::Result(_) | Event::Message { .. })) => {
                    if send(&mut ws, &event).await.is_err() {
                        return;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            incoming = ws.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn send(ws: &mut WebSocket, event: &Event) -> Result<(), axum::Error> {
    let json = serde_json::to_string(event).unwrap_or_default();
    ws.send(Message::Text(json.into())).await
}
