//! `BidsRun`: incrementals appended in order into one run (RT-Cloud's `BidsRun`).
//!
//! The voxels go into an `imaging::run::Run`, so the run's 4D NIfTI is exactly what the
//! imaging crate writes (and what its tests compare with dcm2niix). The metadata is
//! kept once; fields that differ per volume (AcquisitionTime, AcquisitionNumber ...)
//! are kept per volume. An incremental that does not fit is refused naming the field.

use imaging::Volume;
use serde_json::{Map, Value};

use crate::entities::Entities;
use crate::error::{BidsError, Result};
use crate::incremental::{pretty, BidsIncremental};

/// Two affines farther apart than this (mm) do not describe the same slab; the value
/// dcm2niix's comparison (compare_nifti.py) and `imaging::run` use.
const AFFINE_TOLERANCE_MM: f64 = 1e-3;

/// Sidecar fields every volume of a run must share: acquisition parameters that
/// change the meaning of the data.
pub const KEY_FIELDS: &[&str] = &[
    "RepetitionTime",
    "EchoTime",
    "FlipAngle",
    "PhaseEncodingDirection",
    "TaskName",
    "MagneticFieldStrength",
    "Manufacturer",
];

/// A run: its entities, the 4D image growing one volume at a time, the metadata.
#[derive(Debug, Clone, Default)]
pub struct BidsRun {
    state: Option<State>,
    /// Keep only the first volume's voxels and no per-volume metadata ([`CheckedRun`]).
    checking: bool,
}

/// A run checked volume by volume without keeping its volumes: the same checks and
/// sidecar as [`BidsRun`], but only the first volume's voxels stay in memory. It is
/// pass 1 of writing a run of any length with one volume in memory; pass 2 is
/// [`crate::BidsArchive::append_streamed`], which decodes the volumes again one at a
/// time.
#[derive(Debug, Clone, Default)]
pub struct CheckedRun {
    run: BidsRun,
}

impl CheckedRun {
    /// An empty run; the first appended incremental sets entities and geometry.
    pub fn new() -> Self {
        CheckedRun {
            run: BidsRun {
                state: None,
                checking: true,
            },
        }
    }

    /// Checks `incremental` as the run's next volume and counts it; errors as
    /// [`BidsRun::append`]'s. Its voxels are dropped (the first volume's are kept).
    pub fn append(&mut self, incremental: BidsIncremental) -> Result<()> {
        self.run.append(incremental)
    }

    /// Number of volumes.
    pub fn len(&self) -> usize {
        self.run.len()
    }

    /// True before the first append.
    pub fn is_empty(&self) -> bool {
        self.run.is_empty()
    }

    /// The run's entities (`None` while empty).
    pub fn entities(&self) -> Option<&Entities> {
        self.run.entities()
    }

    /// The run's sidecar (as [`BidsRun::metadata`]).
    pub fn metadata(&self) -> Option<&Map<String, Value>> {
        self.run.metadata()
    }

    /// The run's sidecar as pretty JSON text.
    pub fn sidecar_json(&self) -> Option<String> {
        self.run.sidecar_json()
    }

    /// The run's geometry, timing and metadata (the first volume, as the image's
    /// header describes the run), and the conversion of each volume's voxels.
    pub(crate) fn image_run(&self) -> Option<&imaging::run::Run> {
        self.run.state.as_ref().map(|s| &s.run)
    }
}

#[derive(Debug, Clone)]
struct State {
    entities: Entities,
    run: imaging::run::Run,
    metadata: Map<String, Value>,
    /// Per volume: the sidecar fields whose value differs from `metadata`'s.
    per_volume: Vec<Map<String, Value>>,
}

impl BidsRun {
    /// An empty run; the first appended incremental sets entities and geometry.
    pub fn new() -> Self {
        BidsRun::default()
    }

    /// Appends `incremental` as the run's next volume. Errors
    /// ([`BidsError::Mismatch`], naming the field): another entity ("entity task"), image
    /// shape, voxel size, voxel data type, affine (more than 1e-3 mm apart), or a
    /// [`KEY_FIELDS`] value. The run is unchanged after an error.
    pub fn append(&mut self, incremental: BidsIncremental) -> Result<()> {
        let (entities, volume, metadata) = incremental.into_parts();
        let Some(state) = &mut self.state else {
            self.state = Some(State {
                entities,
                run: if self.checking {
                    imaging::run::Run::checking(volume)
                } else {
                    imaging::run::Run::new(volume)
                },
                metadata,
                per_volume: vec![Map::new()],
            });
            return Ok(());
        };
        check_entities(&state.entities, &entities)?;
        check_geometry(state.run.first(), &volume)?;
        for key in KEY_FIELDS {
            let (ours, theirs) = (state.metadata.get(*key), metadata.get(*key));
            if ours != theirs {
                let show = |v: Option<&Value>| v.map_or("none".to_string(), Value::to_string);
                return Err(BidsError::Mismatch {
                    field: (*key).to_string(),
                    run: show(ours),
                    volume: show(theirs),
                });
            }
        }
        let timing_before = state.run.first().slice_timing_s.clone();
        state.run.push(volume)?;
        if state.run.first().slice_timing_s != timing_before {
            // imaging::run took the second volume's slice times (dcm2niix's rule for
            // Siemens): the run's sidecar follows.
            if let Value::Object(fresh) = imaging::bids::sidecar(state.run.first()) {
                for key in ["SliceTiming", "MultibandAccelerationFactor"] {
                    match fresh.get(key) {
                        Some(v) => state.metadata.insert(key.into(), v.clone()),
                        None => state.metadata.remove(key),
                    };
                }
            }
        }
        if !self.checking {
            let differing = metadata
                .into_iter()
                .filter(|(k, v)| state.metadata.get(k) != Some(v))
                .collect();
            state.per_volume.push(differing);
        }
        Ok(())
    }

    /// RT-Cloud's name for [`BidsRun::append`].
    pub fn append_incremental(&mut self, incremental: BidsIncremental) -> Result<()> {
        self.append(incremental)
    }

    /// Number of volumes.
    pub fn len(&self) -> usize {
        self.state.as_ref().map_or(0, |s| s.run.len())
    }

    /// True before the first append.
    pub fn is_empty(&self) -> bool {
        self.state.is_none()
    }

    /// The run's entities (`None` while empty).
    pub fn entities(&self) -> Option<&Entities> {
        self.state.as_ref().map(|s| &s.entities)
    }

    /// The run's sidecar: the first volume's metadata (what dcm2niix writes for a series).
    pub fn metadata(&self) -> Option<&Map<String, Value>> {
        self.state.as_ref().map(|s| &s.metadata)
    }

    /// The run's sidecar as pretty JSON text.
    pub fn sidecar_json(&self) -> Option<String> {
        self.metadata().map(|m| pretty(&Value::Object(m.clone())))
    }

    /// Volume `t` (0-based) as an incremental, with its own per-volume metadata.
    pub fn incremental(&self, t: usize) -> Option<BidsIncremental> {
        let state = self.state.as_ref()?;
        let mut volume: Volume = state.run.first().clone();
        volume.voxels = state.run.voxels(t)?.clone();
        let mut metadata = state.metadata.clone();
        metadata.extend(state.per_volume.get(t)?.clone());
        BidsIncremental::new(state.entities.clone(), volume, metadata).ok()
    }

    /// The run as one NIfTI-1 image (4D from two volumes on; `gz`: `.nii.gz` bytes).
    /// Error: the run is empty.
    pub fn to_nifti(&self, gz: bool) -> Result<Vec<u8>> {
        let state = self
            .state
            .as_ref()
            .ok_or_else(|| BidsError::NotFound("the run has no volumes yet".into()))?;
        Ok(state.run.to_nifti(gz)?)
    }
}

/// A run of `volumes` volumes from imaging's synthetic scanner (a `matrix` x `matrix`
/// mosaic of `slices` slices, Siemens-like DICOM converted by imaging) with the
/// entities `entities` gives: a real run for tests, fixtures and demos.
pub fn synthetic_run(
    entities: &crate::EntitySource,
    volumes: usize,
    matrix: usize,
    slices: usize,
) -> Result<BidsRun> {
    let spec = imaging::synth::SynthSpec {
        volumes,
        matrix,
        slices,
        ..imaging::synth::SynthSpec::default()
    };
    let synth = imaging::synth::Synth::new(spec)?;
    let mut run = BidsRun::new();
    for t in 0..volumes {
        let volume = imaging::volume_from_file(&synth.file(t)?.bytes)?;
        let none = crate::EntitySource::default();
        run.append(BidsIncremental::from_volume(volume, entities, &none)?)?;
    }
    Ok(run)
}

fn check_entities(run: &Entities, new: &Entities) -> Result<()> {
    let fields = [
        ("subject", Some(&run.subject), Some(&new.subject)),
        ("session", run.session.as_ref(), new.session.as_ref()),
        ("task", Some(&run.task), Some(&new.task)),
        (
            "acquisition",
            run.acquisition.as_ref(),
            new.acquisition.as_ref(),
        ),
        ("run", run.run.as_ref(), new.run.as_ref()),
        ("suffix", Some(&run.suffix), Some(&new.suffix)),
        ("datatype", Some(&run.datatype), Some(&new.datatype)),
    ];
    for (name, ours, theirs) in fields {
        if ours != theirs {
            let show = |v: Option<&String>| v.map_or("none".to_string(), |s| format!("{s:?}"));
            return Err(BidsError::Mismatch {
                field: format!("entity {name}"),
                run: show(ours),
                volume: show(theirs),
            });
        }
    }
    Ok(())
}

pub(crate) fn check_geometry(first: &Volume, new: &Volume) -> Result<()> {
    let mismatch = |field: &str, run: String, volume: String| BidsError::Mismatch {
        field: field.to_string(),
        run,
        volume,
    };
    let (ours, theirs) = (first.voxels.shape(), new.voxels.shape());
    if ours != theirs {
        return Err(mismatch(
            "image shape",
            format!("{ours:?}"),
            format!("{theirs:?}"),
        ));
    }
    let (ours, theirs) = (first.voxels.dtype_name(), new.voxels.dtype_name());
    if ours != theirs {
        return Err(mismatch("voxel data type", ours.into(), theirs.into()));
    }
    let close = |a: f64, b: f64| (a - b).abs() <= AFFINE_TOLERANCE_MM;
    if !first
        .voxel_size
        .iter()
        .zip(&new.voxel_size)
        .all(|(a, b)| close(*a, *b))
    {
        return Err(mismatch(
            "voxel size (mm)",
            format!("{:?}", first.voxel_size),
            format!("{:?}", new.voxel_size),
        ));
    }
    for (r, (a, b)) in first.affine.iter().zip(&new.affine).enumerate() {
        for (c, (x, y)) in a.iter().zip(b).enumerate() {
            if !close(*x, *y) {
                return Err(mismatch(
                    &format!("affine[{r}][{c}] (mm)"),
                    x.to_string(),
                    y.to_string(),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::EntitySource;
    use crate::incremental::tests::{arguments, synthetic};
    use serde_json::json;

    fn incremental(index: usize) -> BidsIncremental {
        BidsIncremental::from_volume(synthetic(index), &arguments(), &EntitySource::default())
            .expect("complete")
    }

    #[test]
    fn incrementals_append_in_order_into_one_image() {
        let mut run = BidsRun::new();
        assert!(run.to_nifti(false).is_err());
        for t in 0..3 {
            run.append(incremental(t)).expect("fits");
        }
        assert_eq!(run.len(), 3);
        for t in 0..3 {
            let back = run.incremental(t).expect("volume t");
            assert_eq!(back.image_data(), incremental(t).image_data(), "volume {t}");
            assert_eq!(back.metadata(), incremental(t).metadata(), "volume {t}");
        }
        let image = crate::nifti_read::read_nifti(&run.to_nifti(true).expect("4D"), 1 << 30)
            .expect("reads");
        assert_eq!(image.volumes.len(), 3);
    }

    #[test]
    fn a_mismatching_incremental_is_refused_naming_the_field() {
        let mut run = BidsRun::new();
        run.append(incremental(0)).expect("first");
        let expect_refused = |run: &mut BidsRun, inc: BidsIncremental, field: &str| {
            let err = run.append(inc).expect_err("refused");
            assert!(err.to_string().starts_with(field), "{field}: {err}");
            assert_eq!(run.len(), 1, "unchanged after refusing {field}");
        };
        let (mut entities, volume, metadata) = incremental(1).into_parts();
        entities.task = "rest".into();
        let other_task = BidsIncremental::new(entities, volume, metadata).expect("valid");
        expect_refused(&mut run, other_task, "entity task");

        let (entities, mut volume, metadata) = incremental(1).into_parts();
        volume.affine[0][3] += 2.0;
        let moved = BidsIncremental::new(entities, volume, metadata).expect("valid");
        expect_refused(&mut run, moved, "affine[0][3]");

        let (entities, volume, mut metadata) = incremental(1).into_parts();
        metadata.insert("EchoTime".into(), json!(0.05));
        let other_te = BidsIncremental::new(entities, volume, metadata).expect("valid");
        expect_refused(&mut run, other_te, "EchoTime");

        let (entities, mut small, metadata) = incremental(1).into_parts();
        small.voxels =
            imaging::Voxels::from_le_bytes([2, 2, 2], "uint16", &[0; 16]).expect("2x2x2");
        let smaller = BidsIncremental::new(entities, small, metadata).expect("valid");
        expect_refused(&mut run, smaller, "image shape");
        run.append(incremental(1))
            .expect("the right one still fits");
        assert_eq!(run.len(), 2);
    }
}
