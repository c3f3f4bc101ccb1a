//! The Run tab's live views (issue 10): `GET /api/brain-view` (the latest brain view:
//! three slices with the ROI and the t-map, a few kilobytes) and the motion and latency
//! points that `GET /api/state` carries under `run_view`. New TRs arrive on the live
//! socket as `motion`, `latency` and `brain_view` events.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::User;
use crate::WebState;

/// The motion points, TR latencies and which brain view is ready, for `/api/state`.
pub(crate) fn state(session: &session::Session) -> Value {
    let (motion, latency) = session.run_view();
    let brain = session
        .brain_view()
        .map(|b| json!({ "run": b.run, "tr": b.tr }));
    json!({ "motion": motion, "latency": latency, "brain": brain })
}

/// `GET /api/brain-view`: the latest brain view, or `null` before the first.
pub async fn brain_view(State(state): State<WebState>, _user: User) -> Json<Value> {
    let view = state.controller().session().brain_view();
    Json(json!(view))
}
