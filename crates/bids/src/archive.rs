//! `BidsArchive`: a BIDS dataset on disk (RT-Cloud's `BidsArchive`), the one module of
//! this crate that touches the disk.
//!
//! Reading: subjects, sessions, tasks and runs from the folder layout and file names
//! (BIDS 1.9 "Common principles: filesystem structure"; images `.nii` or `.nii.gz`),
//! a run's sidecar merged by the inheritance principle (top-level files first, the
//! image's own sidecar last).
//!
//! Appending a run is atomic: every new file is first written into a staging folder
//! inside the dataset (`.rtcloud-append-*`), then a journal naming what will move is
//! written, the files are renamed into place (a file that is replaced, such as
//! participants.tsv, is first hard-linked into the staging folder), and removing the
//! journal commits. An append that fails, or a process that dies during one, is rolled
//! back (at once, or by the next `open` / append): the dataset is left as it was.
//! Existing run files are never overwritten.
//!
//! A run's image is either a [`BidsRun`] in memory ([`BidsArchive::append_run`]) or
//! streamed into its staging file one volume at a time from a [`CheckedRun`] and a
//! source of its volumes ([`BidsArchive::append_streamed`], one volume in memory): both
//! write the same bytes for the same volumes.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use imaging::nifti_write::SeriesWriter;
use imaging::Volume;
use serde_json::{json, Map, Value};

use crate::entities::{Entities, EntitySource, DATATYPES};
use crate::error::{BidsError, Result};
use crate::incremental::{parse_sidecar, pretty, BidsIncremental, BIDS_VERSION};
use crate::nifti_read::read_nifti;
use crate::run::{check_geometry, BidsRun, CheckedRun};

/// Staging folders start with this (a dot: BIDS tools skip hidden files).
const STAGING_PREFIX: &str = ".rtcloud-append-";
const JOURNAL: &str = "journal.json";

/// The largest image (decompressed, bytes) `read_run` accepts by default: 4 GiB.
pub const DEFAULT_MAX_IMAGE_BYTES: usize = 4 << 30;

/// dataset_description.json of a raw dataset written by this crate (BIDS 1.9
/// "Modality agnostic files").
pub fn raw_description(name: &str) -> Value {
    json!({
        "Name": name,
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "raw",
        "GeneratedBy": [{"Name": "rtcloud-rs", "Version": env!("CARGO_PKG_VERSION")}],
    })
}

/// dataset_description.json of a derivative dataset (GeneratedBy is required there).
pub fn derivative_description(name: &str, pipeline: &str) -> Value {
    json!({
        "Name": name,
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": pipeline}],
    })
}

/// A BIDS dataset folder.
#[derive(Debug, Clone)]
pub struct BidsArchive {
    root: PathBuf,
    /// Written by the first append when the dataset has none yet.
    description: Value,
    /// Bound on an image's decompressed size when reading.
    pub max_image_bytes: usize,
}

impl BidsArchive {
    /// Opens an existing dataset (its dataset_description.json must exist) after
    /// rolling back any append a crash interrupted.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let path = root.join("dataset_description.json");
        let bytes = fs::read(&path).map_err(|e| BidsError::io(&path, e))?;
        let description = Value::Object(
            parse_sidecar(&bytes)
                .map_err(|e| BidsError::invalid("dataset_description.json", e.to_string()))?,
        );
        recover(&root)?;
        Ok(BidsArchive {
            root,
            description,
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
        })
    }

    /// A dataset at `root` that may not exist yet: the first append creates the folder,
    /// `description` (see [`raw_description`]) and a README. Rolls back interrupted appends.
    pub fn open_or_new(root: impl AsRef<Path>, description: Value) -> Result<Self> {
        let root = root.as_ref();
        if root.join("dataset_description.json").is_file() {
            return Self::open(root);
        }
        if root.is_dir() {
            recover(root)?;
        }
        Ok(BidsArchive {
            root: root.to_path_buf(),
            description,
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
        })
    }

    /// The dataset's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every run with an image, sorted (subject, session, task, acquisition, run).
    /// Files whose names carry entities this crate does not model are not listed.
    pub fn runs(&self) -> Result<Vec<Entities>> {
        let mut runs = Vec::new();
        for subject in subdirs(&self.root, "sub-")? {
            let sub_dir = self.root.join(&subject);
            let mut levels = vec![(sub_dir.clone(), None)];
            for session in subdirs(&sub_dir, "ses-")? {
                levels.push((sub_dir.join(&session), Some(session)));
            }
            for (dir, session) in levels {
                for datatype in DATATYPES {
                    let data_dir = dir.join(datatype);
                    if !data_dir.is_dir() {
                        continue;
                    }
                    for name in file_names(&data_dir)? {
                        if !(name.ends_with(".nii") || name.ends_with(".nii.gz")) {
                            continue;
                        }
                        let Some(e) = Entities::from_file_name(&name, datatype) else {
                            continue;
                        };
                        let here = session.as_deref().map(|s| &s[4..]);
                        if subject[4..] == e.subject && here == e.session.as_deref() {
                            runs.push(e);
                        }
                    }
                }
            }
        }
        runs.sort_by(|a, b| {
            let key = |e: &Entities| {
                (
                    e.subject.clone(),
                    e.session.clone(),
                    e.task.clone(),
                    e.acquisition.clone(),
                    e.run_index(),
                    e.suffix.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        runs.dedup();
        Ok(runs)
    }

    /// The subject labels (without `sub-`), sorted.
    pub fn subjects(&self) -> Result<Vec<String>> {
        self.distinct(|e| Some(e.subject.clone()))
    }

    /// The session labels (without `ses-`), sorted.
    pub fn sessions(&self) -> Result<Vec<String>> {
        self.distinct(|e| e.session.clone())
    }

    /// The task labels, sorted.
    pub fn tasks(&self) -> Result<Vec<String>> {
        self.distinct(|e| Some(e.task.clone()))
    }

    fn distinct(&self, f: impl Fn(&Entities) -> Option<String>) -> Result<Vec<String>> {
        let mut values: Vec<String> = self.runs()?.iter().filter_map(f).collect();
        values.sort();
        values.dedup();
        Ok(values)
    }

    /// The one run that `wanted` describes: the runs whose entities equal every entity
    /// `wanted` gives (run indexes compared as numbers, so `1` finds `run-01`). Errors
    /// ([`BidsError::NotFound`]): no such run, naming the runs there are; more than one,
    /// naming them (give more entities).
    pub fn find_run(&self, wanted: &EntitySource) -> Result<Entities> {
        let runs = self.runs()?;
        let fits = |e: &&Entities| {
            let same = |want: &Option<String>, have: Option<&String>| {
                want.as_ref().is_none_or(|w| Some(w) == have)
            };
            same(&wanted.subject, Some(&e.subject))
                && same(&wanted.session, e.session.as_ref())
                && same(&wanted.task, Some(&e.task))
                && same(&wanted.acquisition, e.acquisition.as_ref())
                && same(&wanted.suffix, Some(&e.suffix))
                && same(&wanted.datatype, Some(&e.datatype))
                && wanted.run.as_ref().is_none_or(|w| {
                    let index = w.parse::<u32>().ok();
                    index.is_some() && index == e.run_index()
                })
        };
        let found: Vec<&Entities> = runs.iter().filter(fits).collect();
        let names =
            |list: &[&Entities]| list.iter().map(|e| e.stem()).collect::<Vec<_>>().join(", ");
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(BidsError::NotFound(format!(
                "no run with {} in {} (its runs: {})",
                describe(wanted),
                self.root.display(),
                if runs.is_empty() {
                    "none".to_string()
                } else {
                    names(&runs.iter().collect::<Vec<_>>())
                }
            ))),
            many => Err(BidsError::NotFound(format!(
                "{} runs have {} in {}: {}; give more entities (task, session, run ...)",
                many.len(),
                describe(wanted),
                self.root.display(),
                names(many)
            ))),
        }
    }

    /// The image file of a run (`.nii.gz` or `.nii`), when it exists.
    pub fn image_path(&self, entities: &Entities) -> Option<PathBuf> {
        let dir = self.root.join(entities.folder());
        ["nii.gz", "nii"]
            .iter()
            .map(|ext| dir.join(format!("{}.{ext}", entities.stem())))
            .find(|p| p.is_file())
    }

    /// Reads a run: its image split into incrementals, its sidecar by the inheritance
    /// principle. Errors: no such run ([`BidsError::NotFound`]), an unreadable image or
    /// sidecar, a sidecar without RepetitionTime.
    pub fn read_run(&self, entities: &Entities) -> Result<BidsRun> {
        let path = self.image_path(entities).ok_or_else(|| {
            BidsError::NotFound(format!(
                "no run {} in {}",
                entities.stem(),
                self.root.display()
            ))
        })?;
        let size = fs::metadata(&path)
            .map_err(|e| BidsError::io(&path, e))?
            .len();
        if size > self.max_image_bytes as u64 {
            return Err(BidsError::invalid(
                path.display().to_string(),
                format!(
                    "{size} bytes, more than the {} allowed",
                    self.max_image_bytes
                ),
            ));
        }
        let bytes = fs::read(&path).map_err(|e| BidsError::io(&path, e))?;
        let image = read_nifti(&bytes, self.max_image_bytes)
            .map_err(|e| BidsError::invalid(path.display().to_string(), e.to_string()))?;
        let metadata = self.inherited_sidecar(entities)?;
        let mut run = BidsRun::new();
        for volume in image.volumes {
            run.append(BidsIncremental::new(
                entities.clone(),
                volume,
                metadata.clone(),
            )?)?;
        }
        Ok(run)
    }

    /// The sidecars that apply to `entities`, merged from the top level down.
    fn inherited_sidecar(&self, e: &Entities) -> Result<Map<String, Value>> {
        let mut dirs = vec![
            self.root.clone(),
            self.root.join(format!("sub-{}", e.subject)),
        ];
        if let Some(s) = &e.session {
            dirs.push(dirs[1].join(format!("ses-{s}")));
        }
        dirs.push(self.root.join(e.folder()));
        let mut merged = Map::new();
        for dir in dirs {
            if !dir.is_dir() {
                continue;
            }
            let mut applying: Vec<String> = file_names(&dir)?
                .into_iter()
                .filter(|n| sidecar_applies(n, e))
                .collect();
            // Fewer entities first, so the more specific file wins.
            applying.sort_by_key(|n| n.matches('_').count());
            for name in applying {
                let path = dir.join(&name);
                let bytes = fs::read(&path).map_err(|err| BidsError::io(&path, err))?;
                let map = parse_sidecar(&bytes).map_err(|err| {
                    BidsError::invalid(path.display().to_string(), err.to_string())
                })?;
                merged.extend(map);
            }
        }
        Ok(merged)
    }

    /// Appends `run` to the dataset atomically: its image (`.nii.gz`), sidecar and events
    /// file (`events_tsv`, BIDS "Task events": tab-separated, first columns onset and
    /// duration in seconds; `None` writes the header alone), plus whatever the dataset
    /// still lacks of dataset_description.json, README and participants.tsv (a row for the
    /// subject). Refuses a run whose files exist. Returns the image's path.
    pub fn append_run(&self, run: &BidsRun, events_tsv: Option<&str>) -> Result<PathBuf> {
        self.append_with_hook(&mut Image::Run(run), events_tsv, &mut |_| Ok(()))
            .map_err(Stop::into_error)
    }

    /// [`BidsArchive::append_run`] with one volume in memory, for runs of any length:
    /// `run` was checked volume by volume (pass 1), and `volume(t)` decodes its volume
    /// `t` again (0-based, in order, each once) while the image is written into the
    /// staging folder (pass 2). The files are the same bytes as `append_run` writes for
    /// a [`BidsRun`] of the same volumes. Errors: `append_run`'s, `volume`'s, and a
    /// volume that no longer fits the run (shape, voxel type, voxel size, affine); the
    /// append is then rolled back.
    pub fn append_streamed(
        &self,
        run: &CheckedRun,
        volume: &mut dyn FnMut(usize) -> Result<Volume>,
        events_tsv: Option<&str>,
    ) -> Result<PathBuf> {
        self.append_with_hook(&mut Image::Streamed(run, volume), events_tsv, &mut |_| {
            Ok(())
        })
        .map_err(Stop::into_error)
    }

    /// RT-Cloud's name for [`BidsArchive::append_run`] without events.
    pub fn append_bids_run(&self, run: &BidsRun) -> Result<PathBuf> {
        self.append_run(run, None)
    }

    /// For crash tests only: an append that stops dead after `moves` files were renamed
    /// into place, leaving staging folder and journal as a killed process would.
    #[doc(hidden)]
    pub fn append_run_crashing_after(&self, run: &BidsRun, moves: usize) -> Result<()> {
        match self.append_with_hook(&mut Image::Run(run), None, &mut |n| {
            if n >= moves {
                Err(Stop::Crashed)
            } else {
                Ok(())
            }
        }) {
            Ok(_) | Err(Stop::Crashed) => Ok(()),
            Err(Stop::Failed(e)) => Err(e),
        }
    }

    /// For failure tests only: an append whose rename number `moves` fails with an IO
    /// error (as on a full disk); the append rolls back and returns the error.
    #[doc(hidden)]
    pub fn append_run_failing_after(&self, run: &BidsRun, moves: usize) -> Result<PathBuf> {
        let fail = |n: usize| {
            if n >= moves {
                Err(Stop::Failed(BidsError::io(
                    "(test)",
                    std::io::Error::other("injected failure"),
                )))
            } else {
                Ok(())
            }
        };
        self.append_with_hook(&mut Image::Run(run), None, &mut { fail })
            .map_err(Stop::into_error)
    }

    fn append_with_hook(
        &self,
        image: &mut Image,
        events_tsv: Option<&str>,
        hook: &mut dyn FnMut(usize) -> Result<(), Stop>,
    ) -> Result<PathBuf, Stop> {
        let (entities, sidecar) = match image {
            Image::Run(run) => (run.entities(), run.sidecar_json()),
            Image::Streamed(run, _) => (run.entities(), run.sidecar_json()),
        };
        let entities = entities
            .ok_or_else(|| BidsError::NotFound("the run has no volumes to append".into()))?
            .clone();
        if self.root.is_dir() {
            recover(&self.root)?;
        }
        let sidecar = sidecar.unwrap_or_default();
        let plan = self.plan(&entities, sidecar, events_tsv)?;
        let created_root = !self.root.is_dir();
        fs::create_dir_all(&self.root).map_err(|e| BidsError::io(&self.root, e))?;
        let staging = self.root.join(format!(
            "{STAGING_PREFIX}{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let result = self.stage_and_move(&staging, &plan, image, created_root, hook);
        match result {
            Ok(()) => {
                // The journal is gone: committed. The staging folder only holds backups.
                let _ = fs::remove_dir_all(&staging);
                Ok(self.root.join(&plan.image))
            }
            Err(Stop::Crashed) => Err(Stop::Crashed),
            Err(Stop::Failed(e)) => {
                if let Err(undo) = roll_back(&self.root, &staging, created_root) {
                    tracing::error!("rolling back the failed append: {undo}");
                }
                Err(Stop::Failed(e))
            }
        }
    }

    /// What an append will write, checked before anything is touched (the image is
    /// written while staging).
    fn plan(&self, e: &Entities, sidecar_json: String, events_tsv: Option<&str>) -> Result<Plan> {
        let folder = e.folder();
        let image = folder.join(format!("{}.nii.gz", e.stem()));
        for existing in [
            folder.join(format!("{}.nii", e.stem())),
            image.clone(),
            folder.join(format!("{}.json", e.stem())),
        ] {
            if self.root.join(&existing).exists() {
                return Err(BidsError::invalid(
                    "run",
                    format!("{} is already in the dataset", existing.display()),
                ));
            }
        }
        let mut files: Vec<(PathBuf, Option<Vec<u8>>)> = vec![
            (image.clone(), None),
            (
                folder.join(format!("{}.json", e.stem())),
                Some(sidecar_json.into_bytes()),
            ),
        ];
        if e.datatype == "func" {
            let events = events_tsv.unwrap_or("onset\tduration\n");
            if !events.starts_with("onset\tduration") {
                return Err(BidsError::invalid(
                    "events",
                    "the first columns must be onset and duration (tab-separated)",
                ));
            }
            let path = folder.join(format!("{}_events.tsv", e.stem_without_suffix()));
            if self.root.join(&path).exists() {
                return Err(BidsError::invalid(
                    "events",
                    format!("{} is already in the dataset", path.display()),
                ));
            }
            files.push((path, Some(events.as_bytes().to_vec())));
        }
        let description = PathBuf::from("dataset_description.json");
        if !self.root.join(&description).exists() {
            files.push((description, Some(pretty(&self.description).into_bytes())));
        }
        let readme = PathBuf::from("README");
        if !self.root.join(&readme).exists() {
            let name = self.description["Name"].as_str().unwrap_or("this dataset");
            let text = format!(
                "{name}\n\nA BIDS dataset written by rtcloud-rs during real-time fMRI sessions: \
                 one run appended at the end of each run of a session.\n"
            );
            files.push((readme, Some(text.into_bytes())));
        }
        if let Some(participants) = self.participants_with(&e.subject)? {
            files.push((
                PathBuf::from("participants.tsv"),
                Some(participants.into_bytes()),
            ));
        }
        let mut dirs = Vec::new();
        let mut dir = PathBuf::new();
        for part in folder.components() {
            dir.push(part);
            if !self.root.join(&dir).is_dir() {
                dirs.push(dir.clone());
            }
        }
        Ok(Plan { image, files, dirs })
    }

    /// participants.tsv with a row for `subject`, or `None` when it already has one.
    fn participants_with(&self, subject: &str) -> Result<Option<String>> {
        let path = self.root.join("participants.tsv");
        let id = format!("sub-{subject}");
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Some(format!("participant_id\n{id}\n")))
            }
            Err(e) => return Err(BidsError::io(path, e)),
        };
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("participant_id");
        if lines.any(|l| l.split('\t').next() == Some(id.as_str())) {
            return Ok(None);
        }
        let columns = header.split('\t').count();
        let mut out = text.clone();
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&id);
        for _ in 1..columns {
            out.push_str("\tn/a");
        }
        out.push('\n');
        Ok(Some(out))
    }

    fn stage_and_move(
        &self,
        staging: &Path,
        plan: &Plan,
        image: &mut Image,
        created_root: bool,
        hook: &mut dyn FnMut(usize) -> Result<(), Stop>,
    ) -> Result<(), Stop> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e| Stop::Failed(BidsError::io(p, e))
        };
        fs::create_dir(staging).map_err(io(staging))?;
        let mut journal_files = Vec::new();
        for (n, (target, bytes)) in plan.files.iter().enumerate() {
            let staged = staging.join(format!("file-{n}"));
            match bytes {
                Some(bytes) => write_synced(&staged, bytes).map_err(io(&staged))?,
                None => write_image(&staged, image)?,
            }
            let existing = self.root.join(target);
            let backup = if existing.exists() {
                let backup = staging.join(format!("backup-{n}"));
                fs::hard_link(&existing, &backup).map_err(io(&backup))?;
                Some(backup)
            } else {
                None
            };
            journal_files.push(json!({
                "target": target,
                "staged": staged,
                "backup": backup,
            }));
        }
        let journal =
            json!({"created_root": created_root, "dirs": plan.dirs, "files": journal_files});
        let tmp = staging.join("journal.tmp");
        write_synced(&tmp, pretty(&journal).as_bytes()).map_err(io(&tmp))?;
        fs::rename(&tmp, staging.join(JOURNAL)).map_err(io(staging))?;
        sync_dir(staging).map_err(io(staging))?;
        for dir in &plan.dirs {
            let dir = self.root.join(dir);
            fs::create_dir(&dir).map_err(io(&dir))?;
        }
        for (n, (target, _)) in plan.files.iter().enumerate() {
            hook(n)?;
            let target = self.root.join(target);
            fs::rename(staging.join(format!("file-{n}")), &target).map_err(io(&target))?;
        }
        for dir in plan
            .files
            .iter()
            .filter_map(|(t, _)| self.root.join(t).parent().map(Path::to_path_buf))
        {
            sync_dir(&dir).map_err(io(&dir))?;
        }
        let journal = staging.join(JOURNAL);
        fs::remove_file(&journal).map_err(io(&journal))?;
        sync_dir(staging).map_err(io(staging))?;
        Ok(())
    }
}

/// Where an append's image comes from.
enum Image<'a> {
    /// A run held in memory.
    Run(&'a BidsRun),
    /// A checked run and the source of its volumes, decoded one at a time.
    Streamed(&'a CheckedRun, &'a mut dyn FnMut(usize) -> Result<Volume>),
}

/// Writes the run's image (`.nii.gz`) into the new file `path` and syncs it.
fn write_image(path: &Path, image: &mut Image) -> Result<(), Stop> {
    let io = |e| Stop::Failed(BidsError::io(path, e));
    let file = fs::File::create(path).map_err(io)?;
    let file = match image {
        Image::Run(run) => {
            let mut file = file;
            file.write_all(&run.to_nifti(true)?).map_err(io)?;
            file
        }
        Image::Streamed(run, volume) => {
            let Some(layout) = run.image_run() else {
                return Err(BidsError::NotFound("the run has no volumes to append".into()).into());
            };
            // The run's geometry and scaling rule (pass 1); its volumes come again
            // one at a time, each checked against the run and written at once.
            let out = BufWriter::with_capacity(1 << 16, file);
            let mut writer = SeriesWriter::new(layout.first(), layout.len(), true, out)
                .map_err(BidsError::from)?;
            for t in 0..layout.len() {
                let mut next = volume(t)?;
                layout.to_frame(&mut next);
                check_geometry(layout.first(), &next)
                    .map_err(|e| BidsError::invalid(format!("volume {t}"), e.to_string()))?;
                writer.write_volume(&next.voxels).map_err(BidsError::from)?;
            }
            let out = writer.finish().map_err(BidsError::from)?;
            out.into_inner().map_err(|e| io(e.into_error()))?
        }
    };
    file.sync_all().map_err(io)
}

/// What one append writes (paths relative to the root).
#[derive(Debug)]
struct Plan {
    image: PathBuf,
    /// The files and their bytes; the image's (`None`) is written while staging.
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
    /// Folders to create, parents first.
    dirs: Vec<PathBuf>,
}

/// How an append stopped early: an error (rolled back at once) or a simulated crash.
#[derive(Debug)]
enum Stop {
    Failed(BidsError),
    Crashed,
}

impl Stop {
    fn into_error(self) -> BidsError {
        match self {
            Stop::Failed(e) => e,
            Stop::Crashed => BidsError::invalid("append", "stopped by a simulated crash"),
        }
    }
}

impl From<BidsError> for Stop {
    fn from(e: BidsError) -> Self {
        Stop::Failed(e)
    }
}

/// Rolls back every interrupted append under `root` (see the module docs).
fn recover(root: &Path) -> Result<()> {
    let entries = fs::read_dir(root).map_err(|e| BidsError::io(root, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(STAGING_PREFIX) && entry.path().is_dir() {
            tracing::warn!("rolling back an interrupted append ({name})");
            roll_back(root, &entry.path(), false)?;
        }
    }
    Ok(())
}

/// Undoes what the journal in `staging` says may have moved, then removes `staging`.
/// Without a journal nothing had moved (or the append had committed). The dataset
/// folder itself goes too when the append had created it.
fn roll_back(root: &Path, staging: &Path, mut created_root: bool) -> Result<()> {
    let journal = staging.join(JOURNAL);
    if let Ok(bytes) = fs::read(&journal) {
        let journal: Value = serde_json::from_slice(&bytes)
            .map_err(|e| BidsError::invalid(journal.display().to_string(), e.to_string()))?;
        let paths = |v: &Value| -> Vec<PathBuf> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(PathBuf::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        created_root |= journal["created_root"].as_bool() == Some(true);
        let files = journal["files"].as_array().cloned().unwrap_or_default();
        for file in files.iter().rev() {
            let Some(target) = file["target"].as_str().map(|t| root.join(t)) else {
                continue;
            };
            match file["backup"].as_str() {
                Some(backup) => {
                    fs::rename(backup, &target).map_err(|e| BidsError::io(&target, e))?
                }
                None => match fs::remove_file(&target) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(BidsError::io(&target, e))
                    }
                    _ => {}
                },
            }
        }
        for dir in paths(&journal["dirs"]).iter().rev() {
            let dir = root.join(dir);
            if dir.is_dir() {
                fs::remove_dir(&dir).map_err(|e| BidsError::io(&dir, e))?;
            }
        }
    }
    fs::remove_dir_all(staging).map_err(|e| BidsError::io(staging, e))?;
    if created_root && fs::read_dir(root).is_ok_and(|mut d| d.next().is_none()) {
        let _ = fs::remove_dir(root);
    }
    Ok(())
}

/// Does the sidecar file `name` apply to a run with entities `e`? Its suffix must be
/// the run's and each of its entities must have the run's value.
/// Whether the sidecar file `name` applies to the run `e` by the inheritance principle
/// (BIDS 1.9 "The Inheritance Principle"): same suffix, and every entity it names
/// has the run's value.
pub fn sidecar_applies(name: &str, e: &Entities) -> bool {
    let Some(stem) = name.strip_suffix(".json") else {
        return false;
    };
    let parts: Vec<&str> = stem.split('_').collect();
    let Some((suffix, pairs)) = parts.split_last() else {
        return false;
    };
    *suffix == e.suffix
        && pairs.iter().all(|pair| {
            let Some((key, value)) = pair.split_once('-') else {
                return false;
            };
            let ours = match key {
                "sub" => Some(&e.subject),
                "ses" => e.session.as_ref(),
                "task" => Some(&e.task),
                "acq" => e.acquisition.as_ref(),
                "run" => e.run.as_ref(),
                _ => None,
            };
            ours.is_some_and(|v| v == value)
        })
}

/// The entities a source gives, as `subject=01, run=1`.
fn describe(source: &EntitySource) -> String {
    let pairs: Vec<String> = [
        ("subject", &source.subject),
        ("session", &source.session),
        ("task", &source.task),
        ("acquisition", &source.acquisition),
        ("run", &source.run),
        ("suffix", &source.suffix),
        ("datatype", &source.datatype),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
    .collect();
    if pairs.is_empty() {
        "any entities".into()
    } else {
        pairs.join(", ")
    }
}

/// Names of the sub-folders of `dir` starting with `prefix`, sorted.
fn subdirs(dir: &Path, prefix: &str) -> Result<Vec<String>> {
    let entries = fs::read_dir(dir).map_err(|e| BidsError::io(dir, e))?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(prefix) && n.len() > prefix.len())
        .collect();
    names.sort();
    Ok(names)
}

/// Names of the files of `dir`, sorted.
fn file_names(dir: &Path) -> Result<Vec<String>> {
    let entries = fs::read_dir(dir).map_err(|e| BidsError::io(dir, e))?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    Ok(names)
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}
