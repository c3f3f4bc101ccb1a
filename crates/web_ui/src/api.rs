//! The page's state and actions: `GET /api/state` (everything a fresh page needs, so a
//! reload loses nothing) and the POSTs that run scripts, edit settings and clear plots.
//! Every POST passes [`Changing`] (session + CSRF token).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use project_runtime::ControlError;
use serde::Deserialize;
use serde_json::{json, Value};
use session::{LaunchKind, LogKind};

use crate::auth::{Changing, User};
use crate::{view, AppError, WebState};

/// `GET /api/state`: who is logged in (and the CSRF token), the project, settings,
/// plots, logs, launches and connections.
pub async fn state(State(state): State<WebState>, user: User) -> Json<Value> {
    let controller = state.controller();
    let session = controller.session();
    let settings = controller.settings();
    let plots: serde_json::Map<String, Value> = session
        .plots()
        .into_iter()
        .map(|(run, points)| (run.to_string(), json!(points)))
        .collect();
    Json(json!({
        "user": user.name,
        "csrf": user.csrf,
        "test_mode": state.test_mode(),
        "project": controller.project().name,
        "session_dir": session.dir().display().to_string(),
        "running": controller.running(),
        "launches": session.launches(),
        "settings": view::settings(settings.table()),
        "plot": view::plot(settings.table()),
        "plots": plots,
        "logs": session.logs(),
        "user_error": session.user_error(),
        "connections": view::connections(&state),
        "run_view": crate::run_view::state(session),
    }))
}

#[derive(Debug, Deserialize)]
pub struct RunForm {
    /// main, initialize or finalize.
    kind: String,
}

/// `POST /api/run {kind}`: starts the main (Run), initialize or finalize script with the
/// current settings; 409 while another script runs.
pub async fn run(
    State(state): State<WebState>,
    Changing(user): Changing,
    Json(form): Json<RunForm>,
) -> Result<Json<Value>, AppError> {
    let kind = match form.kind.as_str() {
        "main" => LaunchKind::Main,
        "initialize" => LaunchKind::Initialize,
        "finalize" => LaunchKind::Finalize,
        other => {
            return Err(AppError::bad_request(format!(
                "no script kind {other:?}: main, initialize or finalize"
            )))
        }
    };
    tracing::info!(user = %user.name, kind = kind.as_str(), "start requested from the web page");
    match state.controller().start(kind).await {
        Ok(launch) => Ok(Json(json!({ "launch": launch }))),
        Err(e @ ControlError::Busy { .. }) => {
            Err(AppError::new(StatusCode::CONFLICT, e.to_string()))
        }
        Err(e) => Err(AppError::bad_request(e.to_string())),
    }
}

/// `POST /api/stop`: stops the running script (SIGTERM, SIGKILL after the grace
/// period) and answers how it ended.
pub async fn stop(State(state): State<WebState>, Changing(user): Changing) -> Json<Value> {
    tracing::info!(user = %user.name, "stop requested from the web page");
    let outcome = state
        .controller()
        .stop()
        .await
        .map(project_runtime::controller::describe);
    Json(json!({ "stopped": outcome.is_some(), "outcome": outcome }))
}

#[derive(Debug, Deserialize)]
pub struct SettingForm {
    key: String,
    /// As typed in the form: `3`, `true`, `1, 2`, `text`.
    value: String,
}

/// `POST /api/settings {key, value}`: changes one setting for the next launch, keeping
/// its type; 400 with the reason when the value does not fit.
pub async fn set_setting(
    State(state): State<WebState>,
    Changing(user): Changing,
    Json(form): Json<SettingForm>,
) -> Result<Json<Value>, AppError> {
    let controller = state.controller();
    let before = controller
        .settings()
        .table()
        .get(&form.key)
        .map(|v| v.to_string());
    controller
        .set_setting(&form.key, &form.value)
        .map_err(|e| AppError::bad_request(e.to_string()))?;
    let after = controller
        .settings()
        .table()
        .get(&form.key)
        .map(|v| v.to_string());
    if before != after {
        controller.session().log(
            LogKind::Session,
            format!(
                "setting {} changed from {} to {} by {} (used from the next launch)",
                form.key,
                before.unwrap_or_default(),
                after.unwrap_or_default(),
                user.name
            ),
        );
        settings_changed(&state);
    }
    Ok(Json(view::settings_message(&state)))
}

/// `POST /api/settings/reset`: back to the values of the project's settings file.
pub async fn reset_settings(
    State(state): State<WebState>,
    Changing(user): Changing,
) -> Json<Value> {
    state.controller().reset_settings();
    state.controller().session().log(
        LogKind::Session,
        format!("settings reset to the file's values by {}", user.name),
    );
    settings_changed(&state);
    Json(view::settings_message(&state))
}

/// Keeps the edited settings with the session (each launch also keeps its own copy)
/// and tells the open pages.
fn settings_changed(state: &WebState) {
    let controller = state.controller();
    let path = controller.session().dir().join("settings.toml");
    if let Err(e) = controller.settings().write_to(&path) {
        tracing::error!("keeping the edited settings: {e}");
    }
    // Nobody watching is fine.
    let _ = state.inner.changes.send(view::settings_message(state));
}

#[derive(Debug, Deserialize)]
pub struct ClearForm {
    /// One run's plot, or all when absent.
    run: Option<i64>,
}

/// `POST /api/plots/clear {run?}`.
pub async fn clear_plots(
    State(state): State<WebState>,
    Changing(_): Changing,
    Json(form): Json<ClearForm>,
) -> Json<Value> {
    let session = state.controller().session();
    match form.run {
        Some(run) => session.clear_plot(run),
        None => session.clear_all_plots(),
    }
    Json(json!({ "cleared": form.run }))
}
