//! Who is using the page: login and logout, the server-side sessions behind the
//! cookie, and the checks every state-changing request passes (CSRF token, Origin).
//!
//! The cookie holds only a random session id (`__Host-` prefixed, Secure, HttpOnly,
//! SameSite=Strict, Path=/). A session ends after [`SESSION_MAX_AGE`], after
//! [`SESSION_IDLE`] without use, or at logout, on the server: an old cookie is then
//! worth nothing. Passwords go through `security::AuthService::check_password`, so the
//! web and gRPC logins share the users, the throttle and the timing of refusals.
//!
//! Must never: log a password, a session id or a CSRF token, or redirect after login
//! to anything but a path of this site.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::RngCore;
use security::users::Role;
use security::LoginRefused;
use serde::Deserialize;

use crate::{AppError, WebState};

/// A session ends this long after login, however busy.
pub const SESSION_MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// ... or after this long without a request or page activity.
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// Sessions kept at once; the least recently used is dropped first.
const MAX_SESSIONS: usize = 1000;
/// The header carrying the CSRF token on every state-changing request.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The cookie over TLS: `__Host-` makes browsers refuse it unless Secure, Path=/ and
/// without Domain, so no other site or subdomain can plant or read it.
const COOKIE: &str = "__Host-rtcloud";
/// The cookie in `--test` mode (plain HTTP cannot carry a Secure cookie).
const TEST_COOKIE: &str = "rtcloud-test";

/// One logged-in browser.
#[derive(Debug, Clone)]
struct WebSession {
    user: String,
    /// The password hash at login: the session ends when it changes.
    stamp: Option<String>,
    csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// The logged-in browsers by session id; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct WebSessions {
    map: Arc<Mutex<HashMap<String, WebSession>>>,
}

/// A logged-in request: who, and the session it belongs to.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub csrf: String,
    pub(crate) session_id: String,
    stamp: Option<String>,
}

impl WebSessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, WebSession>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session for `user`, whose password hash is `stamp` now; returns its id
    /// (for the cookie).
    pub fn create(&self, user: &str, stamp: Option<String>, now: Instant) -> String {
        let mut map = self.lock();
        map.retain(|_, s| alive(s, now));
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(id, _)| id.clone())
            {
                map.remove(&oldest);
            }
        }
        let id = random_token();
        map.insert(
            id.clone(),
            WebSession {
                user: user.to_owned(),
                stamp,
                csrf: random_token(),
                created: now,
                last_seen: now,
            },
        );
        id
    }

    /// The session's user, counting this as activity; None when unknown or expired.
    pub fn touch(&self, id: &str, now: Instant) -> Option<User> {
        let mut map = self.lock();
        let session = map.get_mut(id)?;
        if !alive(session, now) {
            map.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(User {
            name: session.user.clone(),
            csrf: session.csrf.clone(),
            session_id: id.to_owned(),
            stamp: session.stamp.clone(),
        })
    }

    /// True while the session lives (without counting as activity).
    pub fn is_alive(&self, id: &str, now: Instant) -> bool {
        self.lock().get(id).is_some_and(|s| alive(s, now))
    }

    /// Ends a session (logout).
    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }
}

fn alive(s: &WebSession, now: Instant) -> bool {
    now.saturating_duration_since(s.created) < SESSION_MAX_AGE
        && now.saturating_duration_since(s.last_seen) < SESSION_IDLE
}

/// 32 random bytes from the OS, as hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn cookie_name(state: &WebState) -> &'static str {
    if state.test_mode() {
        TEST_COOKIE
    } else {
        COOKIE
    }
}

/// The session id from the request's cookies, if any.
pub(crate) fn session_id(state: &WebState, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The logged-in user of a request, if any (counts as activity). A session whose
/// user's password changed, or who was removed, since login ends here.
pub(crate) fn current_user(state: &WebState, headers: &HeaderMap) -> Option<User> {
    let id = session_id(state, headers)?;
    let user = state.sessions().touch(&id, Instant::now())?;
    if state.inner.auth.credential_stamp(&user.name) != user.stamp {
        tracing::info!(user = %user.name, "password changed or user removed: web session ended");
        state.sessions().end(&id);
        return None;
    }
    Some(user)
}

impl FromRequestParts<WebState> for User {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<User, AppError> {
        let user = current_user(state, &parts.headers).ok_or_else(AppError::unauthorized)?;
        security::server::mark_authenticated(&parts.extensions);
        Ok(user)
    }
}

/// A logged-in request allowed to change something: it carries the session's CSRF
/// token in the `x-csrf-token` header, and comes from this site when it names its
/// origin. Another site can make a browser send the cookie, but not read the token.
#[derive(Debug, Clone)]
pub struct Changing(pub User);

impl FromRequestParts<WebState> for Changing {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Changing, AppError> {
        let user = User::from_request_parts(parts, state).await?;
        if !origin_allowed(parts, false) {
            return Err(AppError::forbidden("request from another site refused"));
        }
        let token = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !security::same_secret(token, &user.csrf) {
            tracing::warn!(user = %user.name, "request without a valid CSRF token refused");
            return Err(AppError::forbidden(
                "missing or wrong CSRF token: reload the page",
            ));
        }
        Ok(Changing(user))
    }
}

/// The host the browser addressed: HTTP/2's authority or HTTP/1.1's Host header.
fn request_host(parts: &Parts) -> Option<String> {
    parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
}

/// True when the Origin header names this site (scheme aside: TLS ends before us in
/// no setup, but the browser's scheme is what it is). `required`: refuse a request
/// without Origin (WebSockets always send one).
pub(crate) fn origin_allowed(parts: &Parts, required: bool) -> bool {
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return !required;
    };
    let (Ok(origin), Some(host)) = (origin.to_str(), request_host(parts)) else {
        return false;
    };
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    origin_host.is_some_and(|h| h.eq_ignore_ascii_case(&host))
}

/// Where to go after login: a path of this site, never another site (`//evil`,
/// `/\evil`, `https://...`) and never back to the login page.
pub fn safe_redirect(next: Option<&str>) -> String {
    let Some(next) = next else {
        return "/".into();
    };
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.starts_with("/login")
        && next.len() <= 512
        && next
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '\\' && c != '"');
    if ok {
        next.to_owned()
    } else {
        "/".into()
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    next: Option<String>,
}

/// `POST /api/login {user, password, next}`: sets the session cookie and answers
/// `{redirect}`, or 401 / 429 with the reason.
pub async fn login(
    State(state): State<WebState>,
    parts: Parts,
    Json(form): Json<LoginForm>,
) -> Result<Response, AppError> {
    if !origin_allowed(&parts, false) {
        return Err(AppError::forbidden("login from another site refused"));
    }
    let LoginForm {
        user,
        password,
        next,
    } = form;
    let source = security::AuthService::source_of(&parts.extensions);
    let checked = state
        .inner
        .auth
        .check_login(&user, password, source, Role::Experimenter, "")
        .await;
    if let Err(refused) = checked {
        tracing::warn!(%user, "web login refused: {refused}");
        let status = match refused {
            LoginRefused::Throttled { .. } | LoginRefused::AddressThrottled { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            LoginRefused::NotAllowed(_) => StatusCode::FORBIDDEN,
            LoginRefused::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        };
        return Err(AppError::new(status, refused.to_string()));
    }
    security::server::mark_authenticated(&parts.extensions);
    let stamp = state.inner.auth.credential_stamp(&user);
    let id = state.sessions().create(&user, stamp, Instant::now());
    tracing::info!(%user, "web login");
    let cookie = format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        cookie_name(&state),
        SESSION_MAX_AGE.as_secs(),
        if state.test_mode() { "" } else { "; Secure" }
    );
    let redirect = safe_redirect(next.as_deref());
    Ok(set_cookie(
        cookie,
        Json(serde_json::json!({ "redirect": redirect })),
    ))
}

/// `POST /api/logout`: ends the session on the server and clears the cookie.
pub async fn logout(State(state): State<WebState>, Changing(user): Changing) -> Response {
    state.sessions().end(&user.session_id);
    tracing::info!(user = %user.name, "web logout");
    let cookie = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        cookie_name(&state),
        if state.test_mode() { "" } else { "; Secure" }
    );
    set_cookie(cookie, Json(serde_json::json!({ "redirect": "/login" })))
}

fn set_cookie(cookie: String, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_too_old_or_logged_out() {
        let sessions = WebSessions::default();
        let t0 = Instant::now();
        let id = sessions.create("alice", None, t0);
        let minute = Duration::from_secs(60);
        // Activity every 20 minutes keeps it alive ...
        for k in 1..=30 {
            let t = t0 + 20 * minute * k;
            if t.duration_since(t0) >= SESSION_MAX_AGE {
                // ... but never past 12 hours.
                assert!(sessions.touch(&id, t).is_none(), "at {k}");
                break;
            }
            assert_eq!(sessions.touch(&id, t).expect("alive").name, "alice");
        }
        let id = sessions.create("bob", None, t0);
        assert!(sessions.touch(&id, t0 + 31 * minute).is_none(), "idle");
        let id = sessions.create("carol", None, t0);
        sessions.end(&id);
        assert!(sessions.touch(&id, t0).is_none(), "logged out");
    }

    #[test]
    fn redirects_stay_on_this_site() {
        assert_eq!(safe_redirect(Some("/#settings")), "/#settings");
        assert_eq!(safe_redirect(None), "/");
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "/login?next=/",
            "",
        ] {
            assert_eq!(safe_redirect(Some(bad)), "/", "{bad}");
        }
    }

    #[test]
    fn tokens_are_random_256_bits() {
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 64);
    }
}
