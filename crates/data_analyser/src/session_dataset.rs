//! Every session leaves a BIDS dataset (issue 11): `SESSION_DIR/bids/`.
//!
//! Each scanner volume a script is served (the project API's volume tap) is kept, as
//! received (de-identified by the streamer unless the project said otherwise), in
//! `SESSION_DIR/incoming/launch-NNN/`. When a Run launch ends, each of its scanner
//! streams becomes one BIDS run appended to the dataset (`bids::BidsArchive`, atomic),
//! its DICOMs move to `bids/sourcedata/<run folder>/<run name>/` (so the run can be
//! replayed with `data_streamer replay`), and the launch's results go to
//! `bids/derivatives/rtcloud-rs/`. Entities: `subjectName`, `taskName`, `sessionName` of
//! the launch's settings (letters and digits kept), the run number from the launch's
//! runs (else 1, 2, ... per stream), then the volume's BIDS-style ProtocolName, then the
//! project's name as the task and `func`/`bold`. The events file holds the settings'
//! design where there is one (`blockTRs`: alternating rest and task blocks), else its
//! header alone.
//!
//! All of it happens on one thread of its own: the TR path only hands the bytes over
//! (a bounded queue; a volume that does not fit is logged as missing from the dataset).
//!
//! Memory is one volume whatever the run's length (issue 13): the kept files are read
//! twice, first to check every volume against the run (`bids::CheckedRun`: entities,
//! grid, key metadata, counted), then again one at a time while
//! `BidsArchive::append_streamed` writes the 4D NIfTI into the archive's staging
//! folder, renamed into place with the run's other files. Before, a `BidsRun` held the
//! whole run decoded (about 200 MiB after a 300-volume Skyra run, 800 MiB after two
//! minutes of 1.4 MB volumes).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use anyhow::{Context, Result};
use bids::archive::{derivative_description, raw_description};
use bids::{BidsArchive, BidsIncremental, CheckedRun, Entities, EntitySource};
use project_runtime::api::{TappedVolume, VolumeTap};
use project_runtime::bids_api::launch_settings;
use session::{Event, LaunchKind, LogKind, Session};

/// Volumes (and launch ends) waiting for the dataset thread; beyond this a volume is
/// dropped from the dataset (logged), never delaying the TR.
const QUEUE: usize = 1024;

enum Msg {
    /// A served volume and the launch that was running.
    Volume(TappedVolume, Option<u32>),
    LaunchEnded(session::Launch),
    /// Finish every launch that has ended, then answer.
    Close(std::sync::mpsc::Sender<()>),
}

/// The session's dataset writer (a thread of its own).
#[derive(Debug, Clone)]
pub struct SessionDataset {
    tx: SyncSender<Msg>,
}

impl SessionDataset {
    /// Writes what ended runs left unwritten (the analyser is shutting down), waiting
    /// at most `limit`.
    pub fn close(&self, limit: std::time::Duration) {
        let (reply, done) = std::sync::mpsc::channel();
        if self.tx.send(Msg::Close(reply)).is_ok() && done.recv_timeout(limit).is_err() {
            tracing::warn!("the session's BIDS dataset was not finished in {limit:?}");
        }
    }
}

/// Starts the dataset thread for `session`; returns the tap for the project API and
/// the writer's handle.
pub fn start(session: Session, project: &str) -> (VolumeTap, SessionDataset) {
    let (tx, rx) = sync_channel::<Msg>(QUEUE);
    let mut events = session.subscribe();
    let forward = tx.clone();
    let log_session = session.clone();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(Event::Launch(launch)) if launch.ended_at.is_some() => {
                    if launch.kind == LaunchKind::Main {
                        send(&forward, Msg::LaunchEnded(launch), &log_session);
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    let writer = Writer {
        session: session.clone(),
        project: project.to_string(),
        streams: Vec::new(),
    };
    if let Err(e) = std::thread::Builder::new()
        .name("bids-dataset".into())
        .spawn(move || writer.run(rx))
    {
        session.log(
            LogKind::Session,
            format!("BIDS dataset: no writer thread ({e}); this session leaves no dataset"),
        );
    }
    let handle = SessionDataset { tx: tx.clone() };
    let tap: VolumeTap = Arc::new(move |volume| {
        let launch = session.current_launch();
        send(&tx, Msg::Volume(volume, launch), &session);
    });
    (tap, handle)
}

fn send(tx: &SyncSender<Msg>, msg: Msg, session: &Session) {
    if let Err(TrySendError::Full(msg)) = tx.try_send(msg) {
        let what = match msg {
            Msg::Volume(v, _) => format!("volume {} of stream {}", v.index, v.stream_id),
            Msg::LaunchEnded(l) => format!("the end of launch {}", l.number),
            Msg::Close(_) => "closing".to_string(),
        };
        session.log(
            LogKind::Session,
            format!("BIDS dataset: queue full, {what} is missing from the session's dataset"),
        );
    }
}

/// The volumes of one scanner stream of the running launch, kept on disk.
struct StreamFiles {
    stream_id: String,
    launch: Option<u32>,
    /// (index, kept file, name on the scanner side).
    files: Vec<(u32, PathBuf, String)>,
}

struct Writer {
    session: Session,
    project: String,
    streams: Vec<StreamFiles>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Msg>) {
        for msg in rx {
            let outcome = match msg {
                Msg::Volume(v, launch) => self.keep(v, launch),
                Msg::LaunchEnded(launch) => self.finish(&launch),
                Msg::Close(reply) => {
                    let ended: Vec<session::Launch> = self
                        .session
                        .launches()
                        .into_iter()
                        .filter(|l| l.kind == LaunchKind::Main && l.ended_at.is_some())
                        .collect();
                    let outcome = ended.iter().try_for_each(|l| self.finish(l));
                    reply.send(()).ok();
                    outcome
                }
            };
            if let Err(e) = outcome {
                self.session.log(
                    LogKind::Session,
                    format!("BIDS dataset: {}", cli_common::error_report(&e)),
                );
            }
        }
    }

    fn incoming(&self) -> PathBuf {
        self.session.dir().join("incoming")
    }

    /// Keeps the volume's bytes until its launch ends.
    fn keep(&mut self, v: TappedVolume, launch: Option<u32>) -> Result<()> {
        let same = |s: &StreamFiles| s.stream_id == v.stream_id && s.launch == launch;
        let at = match self.streams.iter().position(same) {
            Some(at) => at,
            None => {
                self.streams.push(StreamFiles {
                    stream_id: v.stream_id.clone(),
                    launch,
                    files: Vec::new(),
                });
                self.streams.len() - 1
            }
        };
        let dir = self.incoming().join(format!(
            "launch-{:03}-{}",
            launch.unwrap_or(0),
            bids::entities::to_label(&v.stream_id)
        ));
        let stream = &mut self.streams[at];
        if stream.files.iter().any(|(index, _, _)| *index == v.index) {
            return Ok(()); // served twice (a script asked again): kept once
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{:06}.dcm", v.index));
        filestore::write_atomic(&path, &v.bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        let name = Path::new(&v.path).file_name().map_or_else(
            || format!("{:06}.dcm", v.index),
            |n| n.to_string_lossy().to_string(),
        );
        stream.files.push((v.index, path, name));
        Ok(())
    }

    /// The launch ended: its streams become runs of the session's dataset.
    fn finish(&mut self, launch: &session::Launch) -> Result<()> {
        let (streams, others): (Vec<StreamFiles>, Vec<StreamFiles>) =
            std::mem::take(&mut self.streams)
                .into_iter()
                .partition(|s| s.launch == Some(launch.number));
        self.streams = others;
        if streams.is_empty() {
            return Ok(());
        }
        let settings = self.settings(launch);
        let block_trs = self.block_trs(launch);
        let mut first_run = None;
        for (k, mut stream) in streams.into_iter().enumerate() {
            stream.files.sort_by_key(|(index, _, _)| *index);
            let run_number = launch.runs.get(k).copied().unwrap_or(k as i64 + 1);
            let mut source = settings.clone();
            source.set("run", &format!("{run_number:02}"));
            match self.append(&stream, &source, block_trs) {
                Ok((archive, entities)) => {
                    first_run.get_or_insert((archive, entities));
                }
                Err(e) => self.session.log(
                    LogKind::Session,
                    format!(
                        "BIDS dataset: run {run_number} not written: {}",
                        cli_common::error_report(&e)
                    ),
                ),
            }
        }
        if self.streams.is_empty() {
            let _ = std::fs::remove_dir_all(self.incoming());
        }
        if let Some((archive, entities)) = first_run {
            self.derivatives(launch, &archive, &entities)?;
        }
        Ok(())
    }

    /// Entities from the launch's settings file (see the module docs).
    fn settings(&self, launch: &session::Launch) -> EntitySource {
        launch_settings(&self.session.dir().join(&launch.dir).join("config.toml"))
    }

    /// The launch's block design (`blockTRs`, the glm project's alternating rest/task
    /// blocks), which becomes the run's events file.
    fn block_trs(&self, launch: &session::Launch) -> Option<u32> {
        let path = self.session.dir().join(&launch.dir).join("config.toml");
        let table: toml::Table = std::fs::read_to_string(path).ok()?.parse().ok()?;
        table
            .get("blockTRs")?
            .as_integer()
            .and_then(|n| u32::try_from(n).ok())
    }

    /// Converts one stream's volumes into a run and appends it; moves its DICOMs into
    /// sourcedata/. Two passes over the kept files, so that memory holds one volume
    /// whatever the run's length: the first decodes and checks every volume
    /// ([`CheckedRun`]), the second decodes them again while the image is written.
    fn append(
        &self,
        stream: &StreamFiles,
        settings: &EntitySource,
        block_trs: Option<u32>,
    ) -> Result<(BidsArchive, Entities)> {
        let mut run = CheckedRun::new();
        let mut fallback = EntitySource::default();
        fallback.set("task", &bids::entities::to_label(&self.project));
        fallback.set("datatype", "func");
        fallback.set("suffix", "bold");
        // The files that became volumes of the run, in order.
        let mut used: Vec<&Path> = Vec::new();
        for (index, path, _) in &stream.files {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let volume = match imaging::volume_from_file(&bytes) {
                Ok(v) => v,
                Err(e) => {
                    // One bad file fails that file: the run goes on without it.
                    self.session.log(
                        LogKind::Session,
                        format!("BIDS dataset: volume {index} left out: {e}"),
                    );
                    continue;
                }
            };
            let protocol = bids::incremental::protocol_entities(&volume);
            let entities = settings.clone().or(&protocol).or(&fallback);
            let inc = BidsIncremental::from_volume(volume, &entities, &EntitySource::default())?;
            run.append(inc)
                .with_context(|| format!("volume {index} does not fit the run"))?;
            used.push(path);
        }
        let entities = run
            .entities()
            .context("no volume of the stream could be converted")?
            .clone();
        let root = self.session.dir().join("bids");
        let description = raw_description(&format!("rtcloud-rs session {}", self.session.id()));
        let archive = BidsArchive::open_or_new(&root, description)?;
        let tr_s = run
            .metadata()
            .and_then(|m| m.get("RepetitionTime"))
            .and_then(serde_json::Value::as_f64);
        let events = block_trs
            .zip(tr_s)
            .and_then(|(n, tr)| bids::events::alternating_blocks_tsv(n, tr, run.len()));
        let mut volume = |t: usize| -> bids::Result<imaging::Volume> {
            let path = used
                .get(t)
                .ok_or_else(|| bids::BidsError::NotFound(format!("the run has no volume {t}")))?;
            let bytes = std::fs::read(path).map_err(|e| bids::BidsError::io(path, e))?;
            Ok(imaging::volume_from_file(&bytes)?)
        };
        let image = archive.append_streamed(&run, &mut volume, events.as_deref())?;
        let source_dir = root
            .join("sourcedata")
            .join(entities.folder())
            .join(entities.stem());
        std::fs::create_dir_all(&source_dir)
            .with_context(|| format!("creating {}", source_dir.display()))?;
        for (_, path, name) in &stream.files {
            let target = source_dir.join(name);
            std::fs::rename(path, &target)
                .with_context(|| format!("moving {} to {}", path.display(), target.display()))?;
        }
        self.session.log(
            LogKind::Session,
            format!(
                "BIDS dataset: {} volumes appended as {} (DICOMs in {})",
                run.len(),
                image
                    .strip_prefix(self.session.dir())
                    .unwrap_or(&image)
                    .display(),
                source_dir
                    .strip_prefix(self.session.dir())
                    .unwrap_or(&source_dir)
                    .display()
            ),
        );
        Ok((archive, entities))
    }

    /// The launch's results and plot beside the first run, under derivatives/rtcloud-rs.
    fn derivatives(
        &self,
        launch: &session::Launch,
        archive: &BidsArchive,
        entities: &Entities,
    ) -> Result<()> {
        let root = archive.root().join("derivatives").join("rtcloud-rs");
        let description = root.join("dataset_description.json");
        if !description.exists() {
            std::fs::create_dir_all(&root)
                .with_context(|| format!("creating {}", root.display()))?;
            let text = serde_json::to_string_pretty(&derivative_description(
                &format!("rtcloud-rs results of project {}", self.project),
                "rtcloud-rs",
            ))?;
            filestore::write_atomic(&description, text.as_bytes())
                .with_context(|| format!("writing {}", description.display()))?;
        }
        let dir = root.join(entities.folder());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        self.session.flush(); // results.tsv complete on disk
        let launch_dir = self.session.dir().join(&launch.dir);
        for name in ["results", "plot"] {
            let from = launch_dir.join(format!("{name}.tsv"));
            let Ok(bytes) = std::fs::read(&from) else {
                continue;
            };
            let to = dir.join(format!(
                "{}_desc-{name}_timeseries.tsv",
                entities.stem_without_suffix()
            ));
            filestore::write_atomic(&to, &bytes)
                .with_context(|| format!("writing {}", to.display()))?;
        }
        Ok(())
    }
}
