//! Answers one request from the analyser, always through the streamer's own access
//! rules; file IO runs on blocking threads (the scanner's disk may be a slow share).
//! Every failure goes back as a LinkError with a code and the rule's own message.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use filestore::{AccessRules, FilePattern, FilestoreError, FolderWatch, ScannerFolder};
use protocol::v1::{
    from_streamer, link_error::Code, request, response, Done, FileData, FromStreamer, LinkError,
    Paths, Pong, Response,
};
use tokio::sync::mpsc;

use super::{push, Shared};
use crate::payload::{chunks, encode};

/// Used when the analyser sent no deadline.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// A request, put_file already reassembled.
#[derive(Debug)]
pub(crate) enum Call {
    Put {
        path: String,
        bytes: Bytes,
        overwrite: bool,
    },
    Other(request::Call),
}

type Tx = mpsc::UnboundedSender<FromStreamer>;

type Failure = (Code, String);

fn send(tx: &Tx, id: u64, result: response::Result) {
    let _ = tx.send(FromStreamer {
        kind: Some(from_streamer::Kind::Response(Response {
            id,
            result: Some(result),
        })),
    });
}

/// Answers `id` with an "invalid request" error.
pub(crate) fn refuse(tx: &Tx, id: u64, message: &str) {
    send(
        tx,
        id,
        response::Result::Error(LinkError {
            code: Code::Invalid as i32,
            message: message.to_owned(),
        }),
    );
}

/// Handles one request and sends its answer on `tx`.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    tx: Tx,
    level: Option<i32>,
    id: u64,
    deadline_ms: u64,
    call: Call,
) {
    let deadline = if deadline_ms == 0 {
        DEFAULT_DEADLINE
    } else {
        Duration::from_millis(deadline_ms)
    };
    let outcome = match tokio::time::timeout(deadline, answer(&shared, deadline, call)).await {
        Ok(r) => r,
        Err(_) => Err((
            Code::Timeout,
            format!(
                "no answer within the deadline of {:.1} s",
                deadline.as_secs_f64()
            ),
        )),
    };
    match outcome {
        Ok(Answer::File { path, bytes }) => {
            let enc = encode(bytes, level.filter(|_| worth_compressing(&path)));
            for (i, chunk) in chunks(&enc).into_iter().enumerate() {
                send(
                    &tx,
                    id,
                    response::Result::File(FileData {
                        path: if i == 0 { path.clone() } else { String::new() },
                        data: Some(chunk),
                    }),
                );
            }
        }
        Ok(Answer::Result(r)) => send(&tx, id, r),
        Err((code, message)) => send(
            &tx,
            id,
            response::Result::Error(LinkError {
                code: code as i32,
                message,
            }),
        ),
    }
}

/// Images compress well (mostly empty background); other files are left alone.
fn worth_compressing(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".dcm") || lower.ends_with(".ima") || lower.ends_with(".nii")
}

enum Answer {
    File { path: String, bytes: Bytes },
    Result(response::Result),
}

fn done() -> Answer {
    Answer::Result(response::Result::Done(Done {}))
}

/// A file as it may leave the control room ([`imaging::deid::outgoing`]): DICOM, by
/// name or content (headerless data sets too), de-identified unless the streamer was
/// started with `--send-identified`; anything else as it is. A file that is DICOM but
/// cannot be de-identified is refused, never sent as stored.
fn private(shared: &Shared, shown: &str, bytes: Vec<u8>) -> Result<Bytes, Failure> {
    let mut deid = shared.files_deid.lock().unwrap_or_else(|e| e.into_inner());
    let deid = (!shared.config.send_identified).then_some(&mut *deid);
    match imaging::deid::outgoing(Path::new(shown), bytes, deid) {
        Ok(bytes) => Ok(Bytes::from(bytes)),
        Err(e) => Err((Code::Refused, e.to_string())),
    }
}

/// A filestore error as the analyser sees it: a code, and the message with every path
/// shown under its allowed folder's name ([`AccessRules::shown`]).
fn failure(rules: &AccessRules, e: FilestoreError) -> Failure {
    let e = rules.shown_error(e);
    let code = match &e {
        FilestoreError::OutsideAllowedDirs { .. }
        | FilestoreError::TypeNotAllowed { .. }
        | FilestoreError::Refused { .. }
        | FilestoreError::NotWritable { .. }
        | FilestoreError::Exists { .. }
        | FilestoreError::TooLarge { .. } => Code::Refused,
        FilestoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Code::NotFound
        }
        FilestoreError::Timeout { .. } => Code::Timeout,
        FilestoreError::BadPattern { .. } | FilestoreError::WrongKind { .. } => Code::Invalid,
        _ => Code::Io,
    };
    (code, e.to_string())
}

async fn blocking<T: Send + 'static>(
    rules: &AccessRules,
    f: impl FnOnce(&AccessRules) -> filestore::Result<T> + Send + 'static,
) -> Result<T, Failure> {
    let own = rules.clone();
    match tokio::task::spawn_blocking(move || f(&own)).await {
        Ok(r) => r.map_err(|e| failure(rules, e)),
        Err(e) => Err((Code::Io, format!("file task failed: {e}"))),
    }
}

async fn answer(shared: &Arc<Shared>, deadline: Duration, call: Call) -> Result<Answer, Failure> {
    let rules = &shared.config.rules;
    let call = match call {
        Call::Put {
            path,
            bytes,
            overwrite,
        } => {
            let written = blocking(rules, move |r| {
                r.write_file_atomic(Path::new(&path), &bytes, overwrite)
            })
            .await?;
            tracing::info!(path = %written.display(), "put_file written");
            return Ok(done());
        }
        Call::Other(c) => c,
    };
    match call {
        request::Call::Ping(_) => Ok(Answer::Result(response::Result::Pong(Pong {
            streamer_time: crate::epoch_secs(SystemTime::now()),
        }))),
        request::Call::GetFile(g) => {
            let path = g.path;
            let (canonical, bytes) = blocking(rules, move |r| {
                let canonical = r.resolve_read(Path::new(&path))?;
                let bytes = r.read_file(&canonical)?;
                Ok((canonical, bytes))
            })
            .await?;
            let path = rules.shown(&canonical);
            let bytes = private(shared, &path, bytes)?;
            Ok(Answer::File { path, bytes })
        }
        request::Call::NewestFile(n) => {
            let pattern = n.pattern;
            let found = blocking(rules, move |r| {
                Ok(match r.newest_file(&pattern)? {
                    Some(p) => Some((p.clone(), r.read_file(&p)?)),
                    None => None,
                })
            })
            .await?;
            match found {
                Some((path, bytes)) => {
                    let path = rules.shown(&path);
                    let bytes = private(shared, &path, bytes)?;
                    Ok(Answer::File { path, bytes })
                }
                None => Err((Code::NotFound, "no file matches the pattern".to_owned())),
            }
        }
        request::Call::ListFiles(l) => {
            let pattern = l.pattern;
            let list = blocking(rules, move |r| r.list_files(&pattern)).await?;
            Ok(paths(list.iter().map(|p| rules.shown(p)).collect()))
        }
        request::Call::ListDirs(l) => {
            let pattern = l.pattern;
            let list = blocking(rules, move |r| r.list_dirs(&pattern)).await?;
            Ok(paths(list.iter().map(|p| rules.shown(p)).collect()))
        }
        request::Call::PutFile(_) => Err((Code::Invalid, "put_file was not reassembled".into())),
        request::Call::InitWatch(w) => {
            let opts = filestore::WatchOptions {
                min_size: w.min_size,
                ..shared.config.watch.clone()
            };
            let watch = FolderWatch::open_with(rules, Path::new(&w.dir), opts, None)
                .map_err(|e| failure(rules, e))?;
            *shared.watch.lock().await = Some(watch);
            Ok(done())
        }
        request::Call::WatchFile(w) => {
            let mut guard = shared.watch.lock().await;
            let Some(watch) = guard.as_mut() else {
                return Err((
                    Code::Invalid,
                    "no folder is watched: call init_watch(dir, pattern, min_size) first".into(),
                ));
            };
            let file = if w.name.contains('/') {
                watch.wait_for_path(Path::new(&w.name), deadline).await
            } else {
                watch.wait_for(&w.name, deadline).await
            }
            .map_err(|e| failure(rules, e))?;
            let path = rules.shown(&file.path);
            let bytes = private(shared, &path, file.bytes)?;
            Ok(Answer::File { path, bytes })
        }
        request::Call::InitScannerStream(s) => {
            if s.stream_id.is_empty() || s.stream_id.len() > 128 {
                return Err((Code::Invalid, "a stream id must be 1-128 characters".into()));
            }
            if !s.anonymize && !shared.config.send_identified {
                return Err((
                    Code::Refused,
                    "this streamer sends DICOM only de-identified, so a scanner stream with \
                     anonymize=false is refused; only the console decides: start data_streamer \
                     with --send-identified where the analyser may hold identified data"
                        .into(),
                ));
            }
            let pattern = FilePattern::new(&s.pattern).map_err(|e| failure(rules, e))?;
            let start = s.start_index;
            // The scanner creates the session folder with its first image: wait for it
            // (leaving time to answer before the analyser's deadline).
            let within = deadline.saturating_sub(deadline / 10);
            let opts = filestore::WatchOptions {
                min_size: s.min_size,
                ..shared.config.watch.clone()
            };
            let folder = ScannerFolder::open_when_present_with(
                rules,
                Path::new(&s.dir),
                pattern,
                start,
                opts,
                within,
            )
            .await
            .map_err(|e| failure(rules, e))?
            .with_bad_file_bound(shared.config.bad_file_bound.clone());
            tracing::info!(stream = %s.stream_id, dir = %s.dir, pattern = %s.pattern, start, anonymize = s.anonymize, "scanner stream opened");
            push::open(shared, s.stream_id, folder, s.dir, s.pattern, s.anonymize)
                .map_err(|e| (Code::Invalid, e))?;
            Ok(done())
        }
        request::Call::CloseScannerStream(c) => {
            if shared.lock_push().close(&c.stream_id) {
                Ok(done())
            } else {
                Err((
                    Code::UnknownStream,
                    format!("no scanner stream {}", c.stream_id),
                ))
            }
        }
        request::Call::GetAllowedFileTypes(_) => Ok(paths(rules.allowed_types().to_vec())),
        request::Call::ClockSkew(c) => Ok(Answer::Result(response::Result::ClockSkew(
            crate::data::clock_skew(c.caller_time, c.round_trip),
        ))),
    }
}

fn paths(paths: Vec<String>) -> Answer {
    Answer::Result(response::Result::Paths(Paths { paths }))
}
