//! `GET /api/live`: one WebSocket per open page. Down it go the session's events as
//! JSON (`plot`, `log`, `launch`, `user_error`, ...), settings changes, and the
//! connection status whenever it changes; `{"type":"reload"}` when the page fell too
//! far behind, `{"type":"logged_out"}` when its session ended. Up it comes only
//! `active` (the experimenter used the page), which keeps the session from idling out.
//!
//! Must never: accept a socket from another origin (browsers do not apply the
//! same-origin rules to WebSockets), or outlive the session it was opened with.

use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::auth::{origin_allowed, User};
use crate::{view, AppError, WebState};

/// How often connections and the session's life are looked at.
const TICK: Duration = Duration::from_secs(1);

/// Upgrades a logged-in request from this site to the live socket.
pub async fn live(
    State(state): State<WebState>,
    user: User,
    parts: Parts,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    if !origin_allowed(&parts, true) {
        tracing::warn!(user = %user.name, "WebSocket from another origin refused");
        return Err(AppError::forbidden("WebSocket from another site refused"));
    }
    Ok(ws
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| serve(state, user, socket))
        .into_response())
}

async fn serve(state: WebState, user: User, mut socket: WebSocket) {
    let session = state.controller().session().clone();
    let mut events = session.subscribe();
    let mut changes = state.inner.changes.subscribe();
    let mut tick = tokio::time::interval(TICK);
    let mut last_connections = Value::Null;
    loop {
        let out: Option<Value> = tokio::select! {
            event = events.recv() => match event {
                Ok(event) => serde_json::to_value(event).ok(),
                Err(RecvError::Lagged(_)) => Some(json!({ "type": "reload" })),
                Err(RecvError::Closed) => break,
            },
            change = changes.recv() => match change {
                Ok(change) => Some(change),
                Err(RecvError::Lagged(_)) => Some(json!({ "type": "reload" })),
                Err(RecvError::Closed) => break,
            },
            _ = tick.tick() => {
                if !state.sessions().is_alive(&user.session_id, Instant::now()) {
                    let _ = send(&mut socket, &json!({ "type": "logged_out" })).await;
                    break;
                }
                let now = view::connections(&state);
                (now != last_connections).then(|| {
                    last_connections = now.clone();
                    now
                })
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if text.as_str() == "active" {
                        state.sessions().touch(&user.session_id, Instant::now());
                    }
                    None
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => None,
            },
        };
        if let Some(message) = out {
            if send(&mut socket, &message).await.is_err() {
                break;
            }
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

async fn send(socket: &mut WebSocket, message: &Value) -> Result<(), axum::Error> {
    socket.send(Message::Text(message.to_string().into())).await
}
