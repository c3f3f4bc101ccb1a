//! A `Run`: the 4D series growing one volume at a time as the scanner streams it.
//!
//! Every volume of a run shares the first volume's [`Scaling`]: when one arrives with
//! another scaling, the run switches to float32 real values (what dcm2niix writes when
//! the scaling varies within a series).
//!
//! Appending moves the new voxels into a `Vec` and never copies earlier volumes; the
//! NIfTI writer then streams all of them in order into one buffer.
//!
//! A run made by [`Run::checking`] keeps only the first volume's voxels: it checks and
//! counts the others, so that a caller can then write the 4D image volume by volume
//! ([`crate::nifti_write::SeriesWriter`], each volume through [`Run::to_frame`]) with one
//! volume in memory, whatever the run's length.

use crate::error::{ImagingError, Result};
use crate::nifti_write::{datatype_of, series_to_nifti};
use crate::volume::{Scaling, Volume, Voxels};

/// Two affines farther apart than this (mm) belong to different runs.
const AFFINE_TOLERANCE_MM: f64 = 1e-3;

/// A 4D run: the first volume gives geometry, timing and metadata for all.
#[derive(Debug, Clone)]
pub struct Run {
    first: Volume,
    /// Voxels of volumes 1.. (volume 0's are in `first`); empty when not kept.
    later: Vec<Voxels>,
    /// Number of volumes (`later.len() + 1` when the voxels are kept).
    len: usize,
    /// False for a run made by [`Run::checking`].
    keeps_voxels: bool,
    /// The run switched to float32 real values (scaling that varies between volumes).
    real_values: bool,
}

impl Run {
    /// A run starting with `first`, keeping every volume's voxels.
    pub fn new(first: Volume) -> Self {
        Run {
            first,
            later: Vec::new(),
            len: 1,
            keeps_voxels: true,
            real_values: false,
        }
    }

    /// A run that checks and counts the volumes pushed after `first` (the same checks,
    /// slice-timing and scaling rules as [`Run::new`]'s) but keeps only `first`'s
    /// voxels: [`Run::to_nifti`] and [`Run::voxels`] of later volumes have nothing to
    /// give; write the image with [`crate::nifti_write::SeriesWriter`] instead.
    pub fn checking(first: Volume) -> Self {
        Run {
            keeps_voxels: false,
            ..Run::new(first)
        }
    }

    /// Appends the next volume; refuses one of another shape, voxel type or position.
    pub fn push(&mut self, mut volume: Volume) -> Result<()> {
        let index = self.len();
        let float = |v: &Voxels| matches!(v, Voxels::F32(_));
        if volume.scaling != self.first.scaling
            || float(&volume.voxels) != float(&self.first.voxels)
        {
            self.switch_to_real_values();
            volume.voxels = volume.real_voxels().into_owned();
            volume.scaling = Scaling::IDENTITY;
        }
        let (ours, theirs) = (self.first.voxels.shape(), volume.voxels.shape());
        if ours != theirs {
            return Err(ImagingError::Inconsistent(format!(
                "volume {index} has shape {theirs:?} but the run has {ours:?}"
            )));
        }
        let (ours, theirs) = (datatype_of(&self.first.voxels), datatype_of(&volume.voxels));
        if ours != theirs {
            return Err(ImagingError::Inconsistent(format!(
                "volume {index} has NIfTI datatype {theirs} but the run has {ours}"
            )));
        }
        for (r, (a, b)) in self.first.affine.iter().zip(&volume.affine).enumerate() {
            for (c, (x, y)) in a.iter().zip(b).enumerate() {
                // Written so that a NaN counts as a difference.
                let same = (x - y).abs() <= AFFINE_TOLERANCE_MM;
                if !same {
                    return Err(ImagingError::Inconsistent(format!(
                        "volume {index} has affine[{r}][{c}] = {y} but the run has {x} \
                         (the slab moved: start a new run)"
                    )));
                }
            }
        }
        if index == 1 {
            self.adopt_second_volume_timing(&volume);
        }
        if self.keeps_voxels {
            self.later.push(volume.voxels);
        }
        self.len += 1;
        Ok(())
    }

    /// Turns `volume` (one of the run's volumes, decoded again) into what it adds to
    /// the run's image: unchanged, or float32 real values (identity scaling) once the
    /// run switched to them (what [`Run::push`] keeps).
    pub fn to_frame(&self, volume: &mut Volume) {
        let float = matches!(volume.voxels, Voxels::F32(_));
        if self.real_values && !(float && volume.scaling.is_identity()) {
            volume.voxels = volume.voxels.real_values(volume.scaling);
            volume.scaling = Scaling::IDENTITY;
        }
    }

    /// dcm2niix's check of Siemens slice times (its issues 126 and 870): the first
    /// volume's times can be bogus (missing, longer than the TR, or another range than
    /// the next volume's); the run then takes the second volume's times, and the
    /// multiband factor they imply, when those fit in one TR. When streaming, this is
    /// the moment the run's sidecar changes.
    fn adopt_second_volume_timing(&mut self, second: &Volume) {
        let siemens = self.first.meta.manufacturer.as_deref() == Some("Siemens");
        let (ours, theirs) = (&self.first.slice_timing_s, &second.slice_timing_s);
        if !siemens || theirs.len() < 2 || (!ours.is_empty() && ours.len() != theirs.len()) {
            return;
        }
        let range = |t: &[f64]| {
            let max = t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let min = t.iter().copied().fold(f64::INFINITY, f64::min);
            (min, max)
        };
        let tr = self.first.tr_s.unwrap_or(f64::INFINITY);
        let (lo1, hi1) = range(theirs);
        if !(lo1 < hi1 && hi1 - lo1 <= tr) {
            return;
        }
        let (lo0, hi0) = range(ours);
        let first_fits = lo0 < hi0 && hi0 <= tr;
        let same_range = ((hi0 - lo0) - (hi1 - lo1)).abs() < 1e-4;
        if first_fits && same_range {
            return;
        }
        tracing::info!("the first volume's slice times do not fit; the run uses the second's");
        self.first.slice_timing_s = theirs.iter().map(|t| t - lo1).collect();
        self.first.meta.multiband_acceleration_factor = second.meta.multiband_acceleration_factor;
    }

    /// Turns every volume into float32 real values (scaling applied, identity after).
    fn switch_to_real_values(&mut self) {
        self.real_values = true;
        let scaling = self.first.scaling;
        if scaling.is_identity() && matches!(self.first.voxels, Voxels::F32(_)) {
            return;
        }
        tracing::warn!("intensity scaling varies between volumes: the run becomes float32");
        self.first.voxels = self.first.real_voxels().into_owned();
        self.first.scaling = Scaling::IDENTITY;
        for voxels in &mut self.later {
            *voxels = voxels.real_values(scaling);
        }
    }

    /// Number of volumes in the run (at least 1).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a run starts with its first volume.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The first volume: geometry, timing and metadata of the whole run.
    pub fn first(&self) -> &Volume {
        &self.first
    }

    /// Voxels of volume `t` (`None` past the end, and for `t > 0` in a checking run).
    pub fn voxels(&self, t: usize) -> Option<&Voxels> {
        match t {
            0 => Some(&self.first.voxels),
            _ => self.later.get(t - 1),
        }
    }

    /// The run as one NIfTI-1 file (4D once it has two volumes), TR in pixdim[4].
    /// Error: a checking run with more than one volume (it kept no voxels to write).
    pub fn to_nifti(&self, gz: bool) -> Result<Vec<u8>> {
        if !self.keeps_voxels && self.len > 1 {
            return Err(ImagingError::Inconsistent(
                "a checking run keeps no voxels: write its image with SeriesWriter".into(),
            ));
        }
        let frames: Vec<&Voxels> = std::iter::once(&self.first.voxels)
            .chain(&self.later)
            .collect();
        series_to_nifti(&self.first, &frames, gz)
    }

    /// The BIDS sidecar of the run (the first volume's metadata and acquisition time).
    pub fn sidecar(&self) -> serde_json::Value {
        crate::bids::sidecar(&self.first)
    }
}
