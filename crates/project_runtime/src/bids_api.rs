//! The Bids service of the project API (RT-Cloud's `bidsInterface`, issue 11): streams
//! of [`bids::BidsIncremental`]s and RT-Cloud's `BidsArchive` calls.
//!
//! Where each stream reads (RT-Cloud's split, with the console deciding what leaves it):
//! - DICOM stream: a scanner stream of the Data service (the streamer watches its
//!   allowed folder, de-identifies unless it was told otherwise, pushes each file); the
//!   analyser converts each volume (imaging) and builds the incremental. Entities: the
//!   call's, then the launch's settings (`subjectName`, `taskName`, `sessionName`),
//!   then the scan's BIDS-style ProtocolName, then `func`/`bold` (RT-Cloud's default).
//! - Dataset stream: the run's files (image, the sidecars that apply, the dataset
//!   description) read through the Data service, so the streamer's allowed folders and
//!   file types hold when data is remote; then `bids::BidsArchive` reads the run.
//! - OpenNeuro stream: the run's files fetched into the analyser's cache (crate
//!   `openneuro`; nothing reaches the console). Settings from the environment:
//!   `RTCLOUD_OPENNEURO_URL` (default OpenNeuro's S3 bucket), `RTCLOUD_OPENNEURO_CACHE`
//!   (default `$XDG_CACHE_HOME` or `~/.cache`, then `rtcloud-rs/openneuro`) and
//!   `RTCLOUD_OPENNEURO_CA` (a PEM file: trust only it, for a mirror or a test server).
//! - Archive calls (`BidsArchive` in Python): the analyser's own disk, where the script
//!   runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bids::archive::raw_description;
use bids::{BidsArchive, BidsError, BidsIncremental, BidsRun, EntitySource};
use data_link::DataInterface;
use protocol::project::v1 as pb;
use rtcloud_client::{
    entities_message, entity_source, incremental_from_message, incremental_message,
};
use session::LogKind;
use tonic::{Request, Response, Status};

use crate::api::{timeout, Shared};

/// The open streams of one API server.
#[derive(Debug, Default)]
pub struct BidsStreams {
    streams: Mutex<HashMap<String, Stream>>,
    next_id: AtomicU64,
    openneuro: OpenNeuroConfig,
}

#[derive(Debug)]
enum Stream {
    /// A scanner stream and the entities its volumes get (call, then settings).
    Dicom {
        scanner: String,
        entities: EntitySource,
        next: u32,
    },
    /// A run read whole (a dataset or OpenNeuro).
    Run { run: Arc<BidsRun>, next: u32 },
}

/// Where OpenNeuro stream files come from and are kept (see the module docs).
#[derive(Debug, Clone)]
pub struct OpenNeuroConfig {
    pub base_url: String,
    pub cache: PathBuf,
    pub ca_file: Option<PathBuf>,
}

impl Default for OpenNeuroConfig {
    /// From the environment (see the module docs).
    fn default() -> Self {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let cache = env("RTCLOUD_OPENNEURO_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                env("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache")))
                    .unwrap_or_else(std::env::temp_dir)
                    .join("rtcloud-rs")
                    .join("openneuro")
            });
        OpenNeuroConfig {
            base_url: std::env::var("RTCLOUD_OPENNEURO_URL")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| openneuro::DEFAULT_BASE_URL.to_string()),
            cache,
            ca_file: env("RTCLOUD_OPENNEURO_CA").map(PathBuf::from),
        }
    }
}

/// The entities a launch's settings file (`config.toml`) gives: `subjectName`,
/// `taskName`, `sessionName` made BIDS labels (see `bids::EntitySource::from_settings`).
pub fn launch_settings(config_toml: &Path) -> EntitySource {
    let table: toml::Table = std::fs::read_to_string(config_toml)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    EntitySource::from_settings(|key| {
        table.get(key).map(|v| match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    })
}

/// A BIDS error as the script sees it.
fn bids_status(e: BidsError) -> Status {
    match &e {
        BidsError::NotFound(_) => Status::not_found(e.to_string()),
        BidsError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Status::not_found(e.to_string())
        }
        BidsError::Io { .. } => Status::internal(e.to_string()),
        _ => Status::invalid_argument(e.to_string()),
    }
}

fn openneuro_status(e: openneuro::OpenNeuroError) -> Status {
    use openneuro::OpenNeuroError as E;
    match e {
        E::UnknownAccession { .. } | E::UnknownSubject { .. } | E::NoRun { .. } => {
            Status::not_found(e.to_string())
        }
        E::Invalid { .. } => Status::invalid_argument(e.to_string()),
        E::Http { .. } => Status::unavailable(e.to_string()),
        E::Io { .. } => Status::internal(e.to_string()),
    }
}

/// RT-Cloud's defaults, after every other source: a functional (bold) run.
fn defaults() -> EntitySource {
    let mut d = EntitySource::default();
    d.set("datatype", "func");
    d.set("suffix", "bold");
    d
}

impl Shared {
    /// The entities the running launch's settings give.
    fn settings_entities(&self) -> EntitySource {
        let Some(number) = self.session.current_launch() else {
            return EntitySource::default();
        };
        self.session.flush(); // the launch's config.toml is written by the session's writer
        self.session
            .launches()
            .into_iter()
            .find(|l| l.number == number)
            .map(|l| launch_settings(&self.session.dir().join(l.dir).join("config.toml")))
            .unwrap_or_default()
    }

    /// The call's entities made BIDS labels, each change noted in the user log.
    fn given_entities(&self, m: Option<pb::BidsEntities>) -> (EntitySource, Vec<String>) {
        let (source, notes) = entity_source(m).to_labels();
        for note in &notes {
            self.session.log(LogKind::User, format!("BIDS: {note}"));
        }
        (source, notes)
    }

    fn add_stream(&self, stream: Stream) -> String {
        let n = self.bids.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("bids-{n}");
        if let Ok(mut streams) = self.bids.streams.lock() {
            streams.insert(id.clone(), stream);
        }
        id
    }

    fn run_stream(&self, run: BidsRun, notes: Vec<String>) -> Response<pb::BidsStreamInfo> {
        let num_volumes = run.len() as u32;
        let stream_id = self.add_stream(Stream::Run {
            run: Arc::new(run),
            next: 0,
        });
        Response::new(pb::BidsStreamInfo {
            stream_id,
            num_volumes,
            notes,
        })
    }
}

/// Reads the run `wanted` selects from the dataset at `root` through `data` (see the
/// module docs): image names are listed, the run found among them, and only its image
/// and the sidecars that apply to it are fetched into a private folder.
#[allow(clippy::result_large_err)] // tonic's Status is the error of every handler
async fn read_through(
    data: &DataInterface,
    root: &str,
    wanted: &EntitySource,
) -> Result<BidsRun, Status> {
    let root = root.trim_end_matches('/');
    let mirror =
        tempfile::tempdir().map_err(|e| Status::internal(format!("a temporary folder: {e}")))?;
    let fetch = |relative: String| async move {
        let bytes = data
            .get_file(&format!("{root}/{relative}"))
            .await
            .map_err(crate::api::status)?;
        Ok::<_, Status>((relative, bytes))
    };
    let put = |relative: &str, bytes: &[u8]| -> Result<(), Status> {
        let path = mirror.path().join(relative);
        let io = |e: std::io::Error| Status::internal(format!("{}: {e}", path.display()));
        std::fs::create_dir_all(path.parent().unwrap_or(mirror.path())).map_err(io)?;
        std::fs::write(&path, bytes).map_err(io)
    };
    let (_, description) = fetch("dataset_description.json".into())
        .await
        .map_err(|s| {
            Status::new(
                s.code(),
                format!(
                    "{root} is not a BIDS dataset the data service can read: {}",
                    s.message()
                ),
            )
        })?;
    put("dataset_description.json", &description)?;
    // The images, as empty placeholders: enough for the archive to find the run.
    let subject = wanted.subject.as_deref().unwrap_or("*");
    let images = data
        .list_files(&format!("{root}/sub-{subject}/**/*.nii*"))
        .await
        .map_err(crate::api::status)?;
    for shown in &images {
        let mut parts = shown.rsplit('/');
        let (Some(name), Some(datatype)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Some(e) = bids::Entities::from_file_name(name, datatype) {
            put(&e.folder().join(name).to_string_lossy(), b"")?;
        }
    }
    let archive = BidsArchive::open(mirror.path()).map_err(bids_status)?;
    let entities = archive.find_run(wanted).map_err(|e| {
        Status::not_found(
            e.to_string()
                .replace(&mirror.path().display().to_string(), root),
        )
    })?;
    let name = archive
        .image_path(&entities)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .ok_or_else(|| Status::internal("the run's image vanished"))?;
    let (relative, image) =
        fetch(entities.folder().join(&name).to_string_lossy().into_owned()).await?;
    put(&relative, &image)?;
    // The sidecars, from the top level down to the run's folder.
    let mut levels = vec![String::new(), format!("sub-{}/", entities.subject)];
    if let Some(s) = &entities.session {
        levels.push(format!("sub-{}/ses-{s}/", entities.subject));
    }
    levels.push(format!("{}/", entities.folder().to_string_lossy()));
    for level in levels {
        let Ok(listed) = data.list_files(&format!("{root}/{level}*.json")).await else {
            continue; // a level without sidecars
        };
        for shown in listed {
            let name = shown.rsplit('/').next().unwrap_or_default();
            if bids::archive::sidecar_applies(name, &entities) {
                let (relative, bytes) = fetch(format!("{level}{name}")).await?;
                put(&relative, &bytes)?;
            }
        }
    }
    let read = tokio::task::spawn_blocking(move || {
        let run = archive.read_run(&entities);
        drop(mirror);
        run
    });
    read.await
        .map_err(|e| Status::internal(format!("reading the run: {e}")))?
        .map_err(bids_status)
}

#[tonic::async_trait]
impl pb::bids_server::Bids for Shared {
    async fn init_dicom_bids_stream(
        &self,
        request: Request<pb::InitDicomBidsStreamRequest>,
    ) -> Result<Response<pb::BidsStreamInfo>, Status> {
        let r = request.into_inner();
        let (given, notes) = self.given_entities(r.entities);
        let entities = given.or(&self.settings_entities());
        let scanner = self
            .data
            .init_scanner_stream_at(&r.dir, &r.pattern, r.min_size, r.anonymize, r.start_index)
            .await
            .map_err(crate::api::status)?;
        self.measure_console_clock();
        let stream_id = self.add_stream(Stream::Dicom {
            scanner,
            entities,
            next: r.start_index,
        });
        Ok(Response::new(pb::BidsStreamInfo {
            stream_id,
            num_volumes: 0,
            notes,
        }))
    }

    async fn init_bids_stream(
        &self,
        request: Request<pb::InitBidsStreamRequest>,
    ) -> Result<Response<pb::BidsStreamInfo>, Status> {
        let r = request.into_inner();
        let (wanted, notes) = self.given_entities(r.entities);
        let run = read_through(&self.data, &r.path, &wanted).await?;
        Ok(self.run_stream(run, notes))
    }

    async fn init_open_neuro_stream(
        &self,
        request: Request<pb::InitOpenNeuroStreamRequest>,
    ) -> Result<Response<pb::BidsStreamInfo>, Status> {
        let r = request.into_inner();
        let (wanted, notes) = self.given_entities(r.entities);
        if wanted.subject.is_none() {
            return Err(Status::invalid_argument(
                "an OpenNeuro stream needs the subject (and the run, when there are several)",
            ));
        }
        let config = self.bids.openneuro.clone();
        self.session.log(
            LogKind::User,
            format!(
                "BIDS: fetching OpenNeuro {} into {}",
                r.accession,
                config.cache.display()
            ),
        );
        let run = tokio::task::spawn_blocking(move || {
            let ca = match &config.ca_file {
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    Status::failed_precondition(format!(
                        "RTCLOUD_OPENNEURO_CA {}: {e}",
                        path.display()
                    ))
                })?),
                None => None,
            };
            let client = openneuro::OpenNeuro::new(&config.base_url, &config.cache, ca.as_deref())
                .map_err(openneuro_status)?;
            let root = client
                .fetch(&r.accession, &wanted)
                .map_err(openneuro_status)?;
            let archive = BidsArchive::open(&root).map_err(bids_status)?;
            let entities = archive.find_run(&wanted).map_err(bids_status)?;
            archive.read_run(&entities).map_err(bids_status)
        })
        .await
        .map_err(|e| Status::internal(format!("the OpenNeuro stream: {e}")))??;
        Ok(self.run_stream(run, notes))
    }

    async fn get_incremental(
        &self,
        request: Request<pb::GetIncrementalRequest>,
    ) -> Result<Response<pb::BidsIncremental>, Status> {
        let r = request.into_inner();
        let wanted = u32::try_from(r.index).ok();
        enum Plan {
            Dicom(String, EntitySource, u32),
            Run(Arc<BidsRun>, u32),
        }
        let plan = {
            let mut streams = self
                .bids
                .streams
                .lock()
                .map_err(|_| Status::internal("the stream table is poisoned"))?;
            let stream = streams.get_mut(&r.stream_id).ok_or_else(|| {
                Status::not_found(format!(
                    "no BIDS stream {:?} (closed, or never opened)",
                    r.stream_id
                ))
            })?;
            match stream {
                Stream::Dicom {
                    scanner,
                    entities,
                    next,
                } => {
                    let index = wanted.unwrap_or(*next);
                    *next = index + 1;
                    Plan::Dicom(scanner.clone(), entities.clone(), index)
                }
                Stream::Run { run, next } => {
                    let index = wanted.unwrap_or(*next);
                    *next = index + 1;
                    Plan::Run(run.clone(), index)
                }
            }
        };
        let (index, incremental) = match plan {
            Plan::Run(run, index) => {
                let inc = run.incremental(index as usize).ok_or_else(|| {
                    Status::out_of_range(format!(
                        "BIDS stream {} has {} volumes; there is no volume {index}",
                        r.stream_id,
                        run.len()
                    ))
                })?;
                (index, inc)
            }
            Plan::Dicom(scanner, entities, index) => {
                let image = self
                    .served_image(&scanner, index, timeout(r.timeout_s)?)
                    .await?;
                let volume = self.decode(&image, &scanner).await?;
                let protocol = bids::incremental::protocol_entities(&volume);
                let all = entities.or(&protocol).or(&defaults());
                let inc = BidsIncremental::from_volume(volume, &all, &EntitySource::default())
                    .map_err(|e| Status::invalid_argument(format!("volume {index}: {e}")))?;
                (image.index, inc)
            }
        };
        Ok(Response::new(incremental_message(index, &incremental)))
    }

    async fn get_num_volumes(
        &self,
        request: Request<pb::StreamId>,
    ) -> Result<Response<pb::NumVolumes>, Status> {
        let id = request.into_inner().stream_id;
        let streams = self
            .bids
            .streams
            .lock()
            .map_err(|_| Status::internal("the stream table is poisoned"))?;
        match streams.get(&id) {
            Some(Stream::Run { run, .. }) => Ok(Response::new(pb::NumVolumes {
                num_volumes: run.len() as u32,
            })),
            Some(Stream::Dicom { .. }) => Err(Status::failed_precondition(
                "a DICOM stream's length is not known ahead (the scanner is still writing it)",
            )),
            None => Err(Status::not_found(format!("no BIDS stream {id:?}"))),
        }
    }

    async fn close_stream(
        &self,
        request: Request<pb::StreamId>,
    ) -> Result<Response<pb::Empty>, Status> {
        let id = request.into_inner().stream_id;
        let removed = self
            .bids
            .streams
            .lock()
            .ok()
            .and_then(|mut s| s.remove(&id));
        if let Some(Stream::Dicom { scanner, .. }) = removed {
            self.data
                .close_scanner_stream(&scanner)
                .await
                .map_err(crate::api::status)?;
        }
        Ok(Response::new(pb::Empty {}))
    }

    async fn archive_runs(
        &self,
        request: Request<pb::ArchivePath>,
    ) -> Result<Response<pb::ArchiveListing>, Status> {
        let path = request.into_inner().path;
        let runs = tokio::task::spawn_blocking(move || BidsArchive::open(&path)?.runs())
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(bids_status)?;
        Ok(Response::new(pb::ArchiveListing {
            runs: runs.iter().map(entities_message).collect(),
        }))
    }

    async fn archive_get_run(
        &self,
        request: Request<pb::ArchiveRunRequest>,
    ) -> Result<Response<pb::BidsRunData>, Status> {
        let r = request.into_inner();
        let wanted = entity_source(r.entities);
        let run = tokio::task::spawn_blocking(move || {
            let archive = BidsArchive::open(&r.path)?;
            archive.read_run(&archive.find_run(&wanted)?)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(bids_status)?;
        let incrementals = (0..run.len())
            .filter_map(|t| {
                run.incremental(t)
                    .map(|inc| incremental_message(t as u32, &inc))
            })
            .collect();
        Ok(Response::new(pb::BidsRunData { incrementals }))
    }

    async fn archive_append_run(
        &self,
        request: Request<pb::ArchiveAppendRequest>,
    ) -> Result<Response<pb::ArchivePath>, Status> {
        let r = request.into_inner();
        let mut run = BidsRun::new();
        for (t, m) in r.incrementals.into_iter().enumerate() {
            let inc = incremental_from_message(m)
                .map_err(|e| Status::invalid_argument(format!("incremental {t}: {e}")))?;
            run.append(inc)
                .map_err(|e| Status::invalid_argument(format!("incremental {t}: {e}")))?;
        }
        let events = (!r.events_tsv.is_empty()).then_some(r.events_tsv);
        let image = tokio::task::spawn_blocking(move || {
            let name = Path::new(&r.path)
                .file_name()
                .map_or("dataset".into(), |n| n.to_string_lossy().into_owned());
            BidsArchive::open_or_new(&r.path, raw_description(&name))?
                .append_run(&run, events.as_deref())
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(bids_status)?;
        Ok(Response::new(pb::ArchivePath {
            path: image.display().to_string(),
        }))
    }
}
