//! The DataInterface: what project code calls to get the scanner's files, the same on
//! a remote streamer (by station) and on the analyser's own disk (single machine, same
//! access rules through `filestore`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use filestore::{AccessRules, FilePattern, FolderWatch, ScannerFolder};
use protocol::v1::{request, to_streamer, Chunk, Request};

use crate::analyser::registry::Reply;
use crate::analyser::streams::ScannerStream;
use crate::analyser::Streamers;
use crate::error::{LinkError, Result};
use crate::local::local_stream;
use crate::payload::{chunks, encode};

pub use crate::analyser::streams::ImageData;
pub use crate::local::Local;

/// How long a call without its own timeout waits for the streamer's answer.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the files come from: a streamer (by station) or the analyser's own disk.
#[derive(Debug, Clone)]
pub enum DataInterface {
    Remote(Remote),
    Local(Local),
}

/// A station's streamer, through the registry.
#[derive(Debug, Clone)]
pub struct Remote {
    streamers: Streamers,
    station: String,
}

impl DataInterface {
    /// Files from the streamer of `station`.
    pub fn remote(streamers: Streamers, station: impl Into<String>) -> Self {
        DataInterface::Remote(Remote {
            streamers,
            station: station.into(),
        })
    }

    /// Files from this machine's disk, under `rules`.
    pub fn local(rules: AccessRules) -> Self {
        DataInterface::Local(Local {
            rules,
            watch: Arc::default(),
            streams: Arc::default(),
            tasks: Arc::default(),
        })
    }

    /// True for a streamer, false for the local disk.
    pub fn is_remote(&self) -> bool {
        matches!(self, DataInterface::Remote(_))
    }

    /// Sets the folder (and minimum file size) `watch_file` waits in.
    pub async fn init_watch(&self, dir: &str, pattern: &str, min_size: u64) -> Result<()> {
        match self {
            DataInterface::Remote(r) => {
                let call = request::Call::InitWatch(protocol::v1::InitWatch {
                    dir: dir.to_owned(),
                    pattern: pattern.to_owned(),
                    min_size,
                });
                r.call(format!("init_watch({dir})"), call, DEFAULT_CALL_TIMEOUT)
                    .await
                    .map(drop)
            }
            DataInterface::Local(l) => {
                let rules = l.rules.clone();
                let dir = dir.to_owned();
                let watch = FolderWatch::open(&rules, Path::new(&dir), min_size)?;
                *l.watch.lock().await = Some(watch);
                Ok(())
            }
        }
    }

    /// Waits up to `timeout` for `name` (in the init_watch folder) to be complete.
    pub async fn watch_file(&self, name: &str, timeout: Duration) -> Result<Bytes> {
        match self {
            DataInterface::Remote(r) => {
                let call = request::Call::WatchFile(protocol::v1::WatchFile {
                    name: name.to_owned(),
                });
                // The streamer gives up at `timeout`; leave time for its answer.
                r.file(
                    format!("watch_file({name})"),
                    call,
                    timeout + Duration::from_secs(5),
                )
                .await
            }
            DataInterface::Local(l) => {
                let mut guard = l.watch.lock().await;
                let Some(watch) = guard.as_mut() else {
                    return Err(not_watching("local disk"));
                };
                let file = if name.contains('/') {
                    watch.wait_for_path(Path::new(name), timeout).await?
                } else {
                    watch.wait_for(name, timeout).await?
                };
                Ok(Bytes::from(file.bytes))
            }
        }
    }

    /// A whole file.
    pub async fn get_file(&self, path: &str) -> Result<Bytes> {
        match self {
            DataInterface::Remote(r) => {
                let call = request::Call::GetFile(protocol::v1::GetFile {
                    path: path.to_owned(),
                });
                r.file(format!("get_file({path})"), call, DEFAULT_CALL_TIMEOUT)
                    .await
            }
            DataInterface::Local(l) => {
                let p = path.to_owned();
                l.blocking(move |rules| rules.read_file(Path::new(&p)))
                    .await
                    .map(Bytes::from)
            }
        }
    }

    /// The newest file matching a glob pattern.
    pub async fn get_newest_file(&self, pattern: &str) -> Result<Bytes> {
        match self {
            DataInterface::Remote(r) => {
                let call = request::Call::NewestFile(protocol::v1::NewestFile {
                    pattern: pattern.to_owned(),
                });
                r.file(
                    format!("get_newest_file({pattern})"),
                    call,
                    DEFAULT_CALL_TIMEOUT,
                )
                .await
            }
            DataInterface::Local(l) => {
                let p = pattern.to_owned();
                let found = l
                    .blocking(move |rules| match rules.newest_file(&p)? {
                        Some(path) => rules.read_file(&path).map(Some),
                        None => Ok(None),
                    })
                    .await?;
                found
                    .ok_or_else(|| LinkError::Remote {
                        station: "local disk".into(),
                        call: format!("get_newest_file({pattern})"),
                        code: protocol::v1::link_error::Code::NotFound as i32,
                        message: "no file matches the pattern".into(),
                    })
                    .map(Bytes::from)
            }
        }
    }

    /// Files matching a glob pattern, sorted.
    pub async fn list_files(&self, pattern: &str) -> Result<Vec<String>> {
        self.list(pattern, false).await
    }

    /// Folders matching a glob pattern, sorted.
    pub async fn list_dirs(&self, pattern: &str) -> Result<Vec<String>> {
        self.list(pattern, true).await
    }

    async fn list(&self, pattern: &str, dirs: bool) -> Result<Vec<String>> {
        match self {
            DataInterface::Remote(r) => {
                let pattern = pattern.to_owned();
                let (name, call) = if dirs {
                    (
                        format!("list_dirs({pattern})"),
                        request::Call::ListDirs(protocol::v1::ListDirs { pattern }),
                    )
                } else {
                    (
                        format!("list_files({pattern})"),
                        request::Call::ListFiles(protocol::v1::ListFiles { pattern }),
                    )
                };
                match r.call(name, call, DEFAULT_CALL_TIMEOUT).await? {
                    Reply::Paths(p) => Ok(p),
                    other => Err(r.unexpected(other)),
                }
            }
            DataInterface::Local(l) => {
                let p = pattern.to_owned();
                l.blocking(move |rules| {
                    if dirs {
                        rules.list_dirs(&p)
                    } else {
                        rules.list_files(&p)
                    }
                })
                .await
                .map(|v| v.into_iter().map(|p| p.display().to_string()).collect())
            }
        }
    }

    /// Writes a file atomically (temporary file, then rename) on the streamer's disk, in
    /// one of its writable folders (`--writable-dirs`). An existing file is replaced
    /// only with `overwrite`; otherwise the call fails and the file stays as it was.
    pub async fn put_file(&self, path: &str, bytes: Bytes, overwrite: bool) -> Result<()> {
        match self {
            DataInterface::Remote(r) => {
                let enc = encode(bytes, None);
                let messages = chunks(&enc)
                    .into_iter()
                    .enumerate()
                    .map(|(i, chunk): (usize, Chunk)| {
                        to_streamer::Kind::Request(Request {
                            id: 0,
                            deadline_ms: 0,
                            call: Some(request::Call::PutFile(protocol::v1::PutFile {
                                path: if i == 0 {
                                    path.to_owned()
                                } else {
                                    String::new()
                                },
                                data: Some(chunk),
                                overwrite,
                            })),
                        })
                    })
                    .collect();
                r.station()?
                    .call(format!("put_file({path})"), messages, DEFAULT_CALL_TIMEOUT)
                    .await
                    .map(drop)
            }
            DataInterface::Local(l) => {
                let p = path.to_owned();
                l.blocking(move |rules| rules.write_file_atomic(Path::new(&p), &bytes, overwrite))
                    .await
                    .map(drop)
            }
        }
    }

    /// Starts pushing the files of `dir` named by `pattern` (e.g.
    /// `001_000013_{TR:06d}.dcm`) from index 1, each as soon as it is complete;
    /// de-identified unless `anonymize` is false, which a streamer refuses unless it was
    /// started with `--send-identified` (the console decides). Returns the stream id.
    pub async fn init_scanner_stream(
        &self,
        dir: &str,
        pattern: &str,
        min_size: u64,
        anonymize: bool,
    ) -> Result<String> {
        self.init_scanner_stream_at(dir, pattern, min_size, anonymize, 1)
            .await
    }

    /// [`DataInterface::init_scanner_stream`] starting at `start_index` (to resume).
    pub async fn init_scanner_stream_at(
        &self,
        dir: &str,
        pattern: &str,
        min_size: u64,
        anonymize: bool,
        start_index: u32,
    ) -> Result<String> {
        let id = format!("s-{:016x}", rand::random::<u64>());
        match self {
            DataInterface::Remote(r) => {
                let init = protocol::v1::InitScannerStream {
                    stream_id: id.clone(),
                    dir: dir.to_owned(),
                    pattern: pattern.to_owned(),
                    min_size,
                    anonymize,
                    start_index,
                };
                let stream = Arc::new(
                    ScannerStream::new(
                        id.clone(),
                        r.station.clone(),
                        dir.to_owned(),
                        pattern.to_owned(),
                    )
                    .with_init(init.clone()),
                );
                // Registered before asking, so the first push finds it.
                r.streamers.add_stream(stream);
                let call = request::Call::InitScannerStream(init);
                let name = format!("init_scanner_stream({dir}, {pattern})");
                if let Err(e) = r.call(name, call, DEFAULT_CALL_TIMEOUT).await {
                    r.streamers.remove_stream(&id);
                    return Err(e);
                }
                Ok(id)
            }
            DataInterface::Local(l) => {
                let pattern_parsed = FilePattern::new(pattern)?;
                let folder = ScannerFolder::open_when_present(
                    &l.rules,
                    Path::new(dir),
                    pattern_parsed,
                    min_size,
                    start_index,
                    DEFAULT_CALL_TIMEOUT,
                )
                .await?;
                let stream = Arc::new(ScannerStream::new(
                    id.clone(),
                    String::new(),
                    dir.to_owned(),
                    pattern.to_owned(),
                ));
                l.streams
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.clone(), stream.clone());
                let task = tokio::spawn(local_stream(folder, stream, anonymize));
                l.tasks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(task.abort_handle());
                Ok(id)
            }
        }
    }

    /// Waits up to `timeout` for volume `index` of a scanner stream; each volume is
    /// returned once.
    pub async fn get_image_data(
        &self,
        stream_id: &str,
        index: u32,
        timeout: Duration,
    ) -> Result<ImageData> {
        let stream = match self {
            DataInterface::Remote(r) => r.streamers.stream(stream_id),
            DataInterface::Local(l) => l
                .streams
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(stream_id)
                .cloned(),
        }
        .ok_or_else(|| LinkError::UnknownStream {
            stream_id: stream_id.to_owned(),
        })?;
        stream.take(index, timeout).await
    }

    /// [`DataInterface::get_image_data`], decoded into a volume.
    pub async fn get_image_volume(
        &self,
        stream_id: &str,
        index: u32,
        timeout: Duration,
    ) -> Result<imaging::Volume> {
        let data = self.get_image_data(stream_id, index, timeout).await?;
        imaging::volume_from_file(&data.bytes).map_err(|source| LinkError::Imaging {
            stream_id: stream_id.to_owned(),
            index,
            source,
        })
    }

    /// The file types (extensions) the streamer may serve.
    pub async fn get_allowed_file_types(&self) -> Result<Vec<String>> {
        match self {
            DataInterface::Remote(r) => {
                let call = request::Call::GetAllowedFileTypes(protocol::v1::GetAllowedFileTypes {});
                match r
                    .call("get_allowed_file_types".into(), call, DEFAULT_CALL_TIMEOUT)
                    .await?
                {
                    Reply::Paths(p) => Ok(p),
                    other => Err(r.unexpected(other)),
                }
            }
            DataInterface::Local(l) => Ok(l.rules.allowed_types().to_vec()),
        }
    }

    /// A round trip to the streamer; returns its clock (seconds since the epoch).
    pub async fn ping(&self) -> Result<f64> {
        match self {
            DataInterface::Remote(r) => {
                let call = request::Call::Ping(protocol::v1::Ping {});
                match r.call("ping".into(), call, DEFAULT_CALL_TIMEOUT).await? {
                    Reply::Pong(t) => Ok(t),
                    other => Err(r.unexpected(other)),
                }
            }
            DataInterface::Local(_) => Ok(crate::epoch_secs(SystemTime::now())),
        }
    }

    /// The streamer's clock minus the caller's, in seconds, given the caller's clock
    /// (seconds since the epoch) and its measured round trip (seconds).
    pub async fn get_clock_skew(&self, caller_time: f64, round_trip: f64) -> Result<f64> {
        match self {
            DataInterface::Remote(r) => {
                let call = request::Call::ClockSkew(protocol::v1::ClockSkew {
                    caller_time,
                    round_trip,
                });
                match r
                    .call("get_clock_skew".into(), call, DEFAULT_CALL_TIMEOUT)
                    .await?
                {
                    Reply::ClockSkew(s) => Ok(s),
                    other => Err(r.unexpected(other)),
                }
            }
            DataInterface::Local(_) => Ok(clock_skew(caller_time, round_trip)),
        }
    }

    /// Stops a scanner stream (pushes stop; volumes not yet taken are dropped).
    pub async fn close_scanner_stream(&self, stream_id: &str) -> Result<()> {
        match self {
            DataInterface::Remote(r) => {
                let stream = r.streamers.remove_stream(stream_id);
                if let Some(s) = &stream {
                    s.close();
                }
                let call = request::Call::CloseScannerStream(protocol::v1::CloseScannerStream {
                    stream_id: stream_id.to_owned(),
                });
                r.call(
                    format!("close_scanner_stream({stream_id})"),
                    call,
                    DEFAULT_CALL_TIMEOUT,
                )
                .await
                .map(drop)
            }
            DataInterface::Local(l) => {
                let s = l
                    .streams
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(stream_id);
                if let Some(s) = s {
                    s.close();
                }
                Ok(())
            }
        }
    }
}

/// The skew as RT-Cloud defines it: this clock minus the caller's clock advanced by
/// half the round trip.
pub(crate) fn clock_skew(caller_time: f64, round_trip: f64) -> f64 {
    crate::epoch_secs(SystemTime::now()) - (caller_time + round_trip / 2.0)
}

fn not_watching(station: &str) -> LinkError {
    LinkError::Remote {
        station: station.to_owned(),
        call: "watch_file".into(),
        code: protocol::v1::link_error::Code::Invalid as i32,
        message: "no folder is watched: call init_watch(dir, pattern, min_size) first".into(),
    }
}

impl Remote {
    fn station(&self) -> Result<Arc<crate::analyser::registry::Station>> {
        self.streamers
            .get(&self.station)
            .ok_or_else(|| LinkError::NotConnected {
                station: self.station.clone(),
            })
    }

    async fn call(&self, name: String, call: request::Call, timeout: Duration) -> Result<Reply> {
        let msg = to_streamer::Kind::Request(Request {
            id: 0,
            deadline_ms: 0,
            call: Some(call),
        });
        self.station()?.call(name, vec![msg], timeout).await
    }

    async fn file(&self, name: String, call: request::Call, timeout: Duration) -> Result<Bytes> {
        match self.call(name, call, timeout).await? {
            Reply::File { bytes } => Ok(bytes),
            other => Err(self.unexpected(other)),
        }
    }

    fn unexpected(&self, reply: Reply) -> LinkError {
        LinkError::Protocol {
            peer: self.station.clone(),
            detail: format!("unexpected answer {reply:?}"),
        }
    }
}
