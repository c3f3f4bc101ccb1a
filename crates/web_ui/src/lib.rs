//! web_ui: the experimenter's web page, served by data_analyser on its one port.
//!
//! Log in, see the streamers and listeners connected, edit the project's settings,
//! Run / Stop / Initialize / Finalize, watch the plots, the logs and the script's
//! output live, copy files from a streamer, download past runs' results.
//!
//! - [`auth`]: login against the analyser's password file (throttled, shared with
//!   the gRPC login), server-side sessions in a `__Host-` cookie, CSRF tokens.
//! - [`api`]: the JSON state and the actions (run, stop, settings, plots).
//! - [`live`]: the one WebSocket per page: session events and connection changes.
//! - [`files`]: the streamer's folders, copies to the session, launch downloads.
//! - [`assets`]: the pages, script and style, embedded in the binary.
//!
//! Wiring (data_analyser's project mode):
//! ```ignore
//! let web = web_ui::WebState::new(controller, streamers, auth, web_ui::WebOptions::default());
//! let app = grpc_routes.into_axum_router().merge(web_ui::router(web));
//! ```
//!
//! Must never: change anything without a logged-in session and its CSRF token, take
//! a file path for the analyser's disk from the browser, or load anything from another
//! origin (fonts, scripts, CDNs).

pub mod api;
pub mod assets;
pub mod auth;
mod error;
pub mod files;
pub mod live;
pub mod qa;
mod run_view;
mod view;

use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use data_link::analyser::Streamers;
use project_runtime::Controller;
use security::AuthService;
use tokio::sync::broadcast;
use tower_http::set_header::SetResponseHeaderLayer;

pub use auth::{WebSessions, SESSION_IDLE, SESSION_MAX_AGE};
pub use error::AppError;

/// The listeners (stimulus PCs) and whether each is connected now, by name.
pub type ListenerStatus = Arc<dyn Fn() -> Vec<(String, bool)> + Send + Sync>;

/// Everything the web routes need; cheap to clone (shared).
#[derive(Clone)]
pub struct WebState {
    inner: Arc<Inner>,
}

struct Inner {
    controller: Controller,
    streamers: Streamers,
    auth: AuthService,
    listeners: ListenerStatus,
    test_mode: bool,
    sessions: WebSessions,
    /// Changes the session's own events do not carry (settings), for the live views.
    changes: broadcast::Sender<serde_json::Value>,
    /// The station the project's data calls go to, when the data is remote.
    data_station: Option<String>,
    /// Protocol QA verdicts per station (issue 12).
    qa: project_runtime::qa::QaBoard,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState")
            .field("project", &self.inner.controller.project().name)
            .field("test_mode", &self.inner.test_mode)
            .finish_non_exhaustive()
    }
}

/// How the web page is served, beyond the controller and the links.
#[derive(Clone)]
pub struct WebOptions {
    /// `--test`: plain HTTP, so the cookie cannot be `__Host-`/Secure, and every page
    /// shows a TEST MODE banner.
    pub test_mode: bool,
    /// The listeners' status (none connected until the analyser fills this in).
    pub listeners: ListenerStatus,
    /// The station the project reads from (`--data-remote --station NAME`).
    pub data_station: Option<String>,
    /// Protocol QA verdicts per station, for the QA page (issue 12).
    pub qa: project_runtime::qa::QaBoard,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            test_mode: false,
            listeners: Arc::new(Vec::new),
            data_station: None,
            qa: Default::default(),
        }
    }
}

impl std::fmt::Debug for WebOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebOptions")
            .field("test_mode", &self.test_mode)
            .field("data_station", &self.data_station)
            .finish_non_exhaustive()
    }
}

impl WebState {
    /// `auth` checks passwords: the same users and throttle as the gRPC login.
    pub fn new(
        controller: Controller,
        streamers: Streamers,
        auth: AuthService,
        options: WebOptions,
    ) -> WebState {
        let (changes, _) = broadcast::channel(64);
        WebState {
            inner: Arc::new(Inner {
                controller,
                streamers,
                auth,
                listeners: options.listeners,
                test_mode: options.test_mode,
                sessions: WebSessions::default(),
                changes,
                data_station: options.data_station,
                qa: options.qa,
            }),
        }
    }

    pub fn controller(&self) -> &Controller {
        &self.inner.controller
    }

    pub fn sessions(&self) -> &WebSessions {
        &self.inner.sessions
    }

    pub fn test_mode(&self) -> bool {
        self.inner.test_mode
    }
}

/// The web routes with their security headers. Merge into the analyser's router; it
/// has no fallback of its own (the gRPC router has one).
pub fn router(state: WebState) -> Router {
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    let mut router = Router::new()
        .route("/", get(assets::index))
        .route("/login", get(assets::login_page))
        .route("/assets/{name}", get(assets::asset))
        .route("/api/login", post(auth::login))
        .route("/api/logout", post(auth::logout))
        .route("/api/state", get(api::state))
        .route("/api/run", post(api::run))
        .route("/api/stop", post(api::stop))
        .route("/api/settings", post(api::set_setting))
        .route("/api/settings/reset", post(api::reset_settings))
        .route("/api/plots/clear", post(api::clear_plots))
        .route("/api/files", get(files::browse))
        .route("/api/files/copy", post(files::copy))
        .route("/api/launches/{number}/{file}", get(files::download))
        .route("/api/live", get(live::live))
        .route("/api/brain-view", get(run_view::brain_view))
        // Protocol QA (issue 12).
        .route("/qa", get(qa::page))
        .route("/qa/qa.js", get(qa::script))
        .route("/qa/qa.css", get(qa::style))
        .route("/api/qa", get(qa::report))
        .route("/api/qa/live", get(qa::live))
        .with_state(state);
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router
}
