//! The page's files, embedded in the binary (nothing to build or install to run it):
//! the app and login pages, their script and style, and the plot drawing.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::auth::current_user;
use crate::{AppError, WebState};

const INDEX: &str = include_str!("../assets/index.html");
const LOGIN: &str = include_str!("../assets/login.html");
/// Name, content type, bytes.
const FILES: [(&str, &str, &str); 5] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/app.js"),
    ),
    (
        "plot.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/plot.js"),
    ),
    (
        "runview.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/runview.js"),
    ),
    (
        "login.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/login.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../assets/app.css"),
    ),
];
/// Where every page shows the TEST MODE banner.
const BANNER_SLOT: &str = "<!--TEST-BANNER-->";
const BANNER: &str =
    "<div class=\"test-banner\" role=\"alert\">TEST MODE: no TLS, user test/test. \
                      Never use --test on a real network.</div>";

fn page(state: &WebState, html: &str) -> Html<String> {
    let banner = if state.test_mode() { BANNER } else { "" };
    Html(html.replace(BANNER_SLOT, banner))
}

/// `GET /`: the app when logged in, else the login page (coming back here after).
pub async fn index(State(state): State<WebState>, headers: HeaderMap) -> Response {
    if current_user(&state, &headers).is_some() {
        page(&state, INDEX).into_response()
    } else {
        Redirect::to("/login?next=%2F").into_response()
    }
}

/// `GET /login`.
pub async fn login_page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    if current_user(&state, &headers).is_some() {
        Redirect::to("/").into_response()
    } else {
        page(&state, LOGIN).into_response()
    }
}

/// `GET /assets/NAME`: scripts and style (no secrets: served without login).
pub async fn asset(Path(name): Path<String>) -> Result<Response, AppError> {
    let (_, content_type, body) = FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| AppError::not_found(format!("no asset {name:?}")))?;
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}
