//! Files: browsing a connected streamer's allowed folders and copying chosen files into
//! the session (`SESSION_DIR/uploads/`, RT-Cloud's upload pane), and downloading a
//! past launch's files.
//!
//! Streamer paths go to the streamer, which checks them against its own access rules.
//! Nothing from the browser becomes a path on the analyser's disk except a file's bare
//! name inside uploads/, and downloads come from a fixed list of names.

use std::path::{Component, Path};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use data_link::DataInterface;
use serde::Deserialize;
use serde_json::{json, Value};
use session::LogKind;

use crate::auth::{Changing, User};
use crate::{AppError, WebState};

/// The files of a launch that can be downloaded, with their content types.
pub const LAUNCH_FILES: [(&str, &str); 5] = [
    ("results.tsv", "text/tab-separated-values; charset=utf-8"),
    ("config.toml", "text/plain; charset=utf-8"),
    ("log.txt", "text/plain; charset=utf-8"),
    ("plot.tsv", "text/tab-separated-values; charset=utf-8"),
    ("status.json", "application/json"),
];
/// Files copied in one request, at most.
const MAX_COPY: usize = 200;

#[derive(Debug, Deserialize)]
pub struct BrowseQuery {
    station: String,
    /// A folder on the streamer; empty: its allowed folders.
    #[serde(default)]
    dir: String,
}

/// The streamer of `station`, if connected.
fn streamer(state: &WebState, station: &str) -> Result<(DataInterface, Vec<String>), AppError> {
    match state.inner.streamers.info(station) {
        Some(info) if info.connected => Ok((
            DataInterface::remote(state.inner.streamers.clone(), station),
            info.allowed_dirs,
        )),
        _ => Err(AppError::not_found(format!(
            "streamer {station:?} is not connected: start data_streamer --station {station} on that machine"
        ))),
    }
}

/// `GET /api/files?station=S&dir=D`: the folders and files in D (or the allowed folders).
pub async fn browse(
    State(state): State<WebState>,
    _user: User,
    Query(query): Query<BrowseQuery>,
) -> Result<Json<Value>, AppError> {
    let (data, allowed) = streamer(&state, &query.station)?;
    let dir = query.dir.trim_end_matches('/');
    if dir.is_empty() {
        return Ok(Json(
            json!({ "dir": "", "parent": null, "dirs": allowed, "files": [] }),
        ));
    }
    // The folder becomes a glob pattern on the streamer: its name must not be one.
    if dir.contains(['*', '?', '[', ']', '{', '}']) {
        return Err(AppError::bad_request(format!(
            "folder {dir:?} has glob characters (*?[]{{}}) in its name and cannot be browsed here"
        )));
    }
    let pattern = format!("{dir}/*");
    let link = |e: data_link::LinkError| AppError::new(StatusCode::BAD_GATEWAY, e.to_string());
    let dirs = data.list_dirs(&pattern).await.map_err(link)?;
    let files = data.list_files(&pattern).await.map_err(link)?;
    let parent = if allowed.iter().any(|a| a.trim_end_matches('/') == dir) {
        Some(String::new())
    } else {
        Path::new(dir).parent().map(|p| p.display().to_string())
    };
    Ok(Json(
        json!({ "dir": dir, "parent": parent, "dirs": dirs, "files": files }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct CopyForm {
    station: String,
    paths: Vec<String>,
}

/// `POST /api/files/copy {station, paths}`: copies each file from the streamer into
/// `SESSION_DIR/uploads/` (atomically); answers what was copied and what failed.
pub async fn copy(
    State(state): State<WebState>,
    Changing(user): Changing,
    Json(form): Json<CopyForm>,
) -> Result<Json<Value>, AppError> {
    if form.paths.is_empty() || form.paths.len() > MAX_COPY {
        return Err(AppError::bad_request(format!(
            "choose between 1 and {MAX_COPY} files to copy"
        )));
    }
    let (data, _) = streamer(&state, &form.station)?;
    let session = state.controller().session();
    let uploads = session.dir().join("uploads");
    let (mut copied, mut failed) = (Vec::new(), Vec::new());
    for path in &form.paths {
        let Some(name) = bare_name(path) else {
            failed.push(json!({ "path": path, "error": "not a file name" }));
            continue;
        };
        let bytes = match data.get_file(path).await {
            Ok(bytes) => bytes,
            Err(e) => {
                failed.push(json!({ "path": path, "error": e.to_string() }));
                continue;
            }
        };
        let to = uploads.join(&name);
        let size = bytes.len();
        let write = {
            let (uploads, to) = (uploads.clone(), to.clone());
            tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&uploads)?;
                filestore::write_atomic(&to, &bytes)
            })
            .await
        };
        match write {
            Ok(Ok(())) => copied.push(json!({ "path": path, "name": name, "bytes": size })),
            Ok(Err(e)) => failed
                .push(json!({ "path": path, "error": format!("writing {}: {e}", to.display()) })),
            Err(e) => failed.push(json!({ "path": path, "error": e.to_string() })),
        }
    }
    session.log(
        LogKind::Session,
        format!(
            "{} copied {} file(s) from streamer {} to {}{}",
            user.name,
            copied.len(),
            form.station,
            uploads.display(),
            if failed.is_empty() {
                String::new()
            } else {
                format!(" ({} failed)", failed.len())
            }
        ),
    );
    Ok(Json(
        json!({ "copied": copied, "failed": failed, "into": uploads.display().to_string() }),
    ))
}

/// The last component of a streamer path, if it is a plain file name.
fn bare_name(path: &str) -> Option<String> {
    let name = Path::new(path).file_name()?.to_str()?;
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(_)), None) if !name.starts_with('.') => Some(name.to_owned()),
        _ => None,
    }
}

/// `GET /api/launches/{number}/{file}`: one of a launch's files ([`LAUNCH_FILES`]).
pub async fn download(
    State(state): State<WebState>,
    _user: User,
    UrlPath((number, file)): UrlPath<(u32, String)>,
) -> Result<Response, AppError> {
    let Some(&(name, content_type)) = LAUNCH_FILES.iter().find(|(n, _)| *n == file) else {
        return Err(AppError::not_found(format!(
            "no launch file {file:?}; there are {}",
            LAUNCH_FILES.map(|(n, _)| n).join(", ")
        )));
    };
    let session = state.controller().session().clone();
    let launch = session
        .launches()
        .into_iter()
        .find(|l| l.number == number)
        .ok_or_else(|| AppError::not_found(format!("no launch {number} in this session")))?;
    let path = session.dir().join(&launch.dir).join(name);
    let read = tokio::task::spawn_blocking(move || {
        // Writes queued before this request are on disk first.
        session.flush();
        std::fs::read(&path)
    })
    .await
    .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let bytes = read.map_err(|_| {
        AppError::not_found(format!(
            "launch {number} has no {name} (a launch that plotted nothing has no plot.tsv)"
        ))
    })?;
    let filename = format!("launch-{number:03}-{}-{name}", launch.kind.as_str());
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_file_names_land_in_uploads() {
        assert_eq!(bare_name("/data/scans/001.dcm").as_deref(), Some("001.dcm"));
        assert_eq!(bare_name("001.dcm").as_deref(), Some("001.dcm"));
        for bad in ["/data/..", "/", "", "/data/.hidden", ".."] {
            assert_eq!(bare_name(bad), None, "{bad}");
        }
    }
}
