//! The live protocol QA page (issue 12), one per station: `GET /qa?station=NAME` (the
//! page, `assets/qa.html` + `qa.js`), `GET /api/qa?station=NAME` (that station's
//! verdicts so far, JSON) and `GET /api/qa/live?station=NAME` (a WebSocket: each new
//! verdict of that station as it is published, `{"type":"reload"}` when the page fell
//! behind). Every route needs a logged-in session; the socket also this site's origin.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::{current_user, origin_allowed, User};
use crate::{AppError, WebState};

const PAGE: &str = include_str!("../assets/qa.html");
const SCRIPT: &str = include_str!("../assets/qa.js");
const STYLE: &str = include_str!("../assets/qa.css");

#[derive(Debug, Deserialize)]
pub struct StationQuery {
    /// The station whose series are shown; empty: the project's data station.
    #[serde(default)]
    station: String,
}

/// `GET /qa`: the page (the login page first when not logged in).
pub async fn page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    if current_user(&state, &headers).is_some() {
        Html(PAGE).into_response()
    } else {
        Redirect::to("/login?next=%2Fqa").into_response()
    }
}

/// `GET /qa/qa.js`.
pub async fn script() -> Response {
    typed(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /qa/qa.css`.
pub async fn style() -> Response {
    typed(STYLE, "text/css; charset=utf-8")
}

fn typed(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `GET /api/qa?station=NAME`: the station's verdicts, oldest first.
pub async fn report(
    State(state): State<WebState>,
    _user: User,
    Query(q): Query<StationQuery>,
) -> Json<serde_json::Value> {
    let station = station_or_default(&state, q.station);
    let verdicts = state.inner.qa.station(&station);
    Json(json!({ "station": station, "series": verdicts }))
}

/// `GET /api/qa/live?station=NAME`: that station's new verdicts as they come.
pub async fn live(
    State(state): State<WebState>,
    user: User,
    parts: Parts,
    Query(q): Query<StationQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    if !origin_allowed(&parts, true) {
        tracing::warn!(user = %user.name, "QA WebSocket from another origin refused");
        return Err(AppError::forbidden("WebSocket from another site refused"));
    }
    let station = station_or_default(&state, q.station);
    Ok(ws
        .max_message_size(4 * 1024)
        .on_upgrade(move |socket| serve(state, user, station, socket))
        .into_response())
}

async fn serve(state: WebState, user: User, station: String, mut socket: WebSocket) {
    let mut verdicts = state.inner.qa.subscribe();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        let out = tokio::select! {
            _ = tick.tick() => {
                if !state.sessions().is_alive(&user.session_id, std::time::Instant::now()) {
                    break;
                }
                None
            },
            v = verdicts.recv() => match v {
                Ok(v) if v.station == station => serde_json::to_value(&v).ok().map(|v| json!({ "type": "series", "series": v })),
                Ok(_) => None,
                Err(RecvError::Lagged(_)) => Some(json!({ "type": "reload" })),
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => None,
            },
        };
        if let Some(message) = out {
            if socket
                .send(Message::Text(message.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

fn station_or_default(state: &WebState, station: String) -> String {
    if station.is_empty() {
        state.inner.data_station.clone().unwrap_or_default()
    } else {
        station
    }
}
