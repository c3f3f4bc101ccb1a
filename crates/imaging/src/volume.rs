//! The `Volume`: one 3D image in NIfTI index order with its geometry and timing.

use ndarray::Array3;
use serde::{Deserialize, Serialize};

/// Voxel values in the type the scanner stored them.
///
/// Arrays have shape `(nx, ny, nz)` in Fortran (column-major) layout, so that
/// `array[[i, j, k]]` is NIfTI voxel (i, j, k) and the memory order is the on-disk order.
#[derive(Debug, Clone, PartialEq)]
pub enum Voxels {
    I16(Array3<i16>),
    U16(Array3<u16>),
    /// Only when rescale slope/intercept turn stored integers into non-integers.
    F32(Array3<f32>),
}

impl Voxels {
    pub fn shape(&self) -> [usize; 3] {
        let s = match self {
            Voxels::I16(a) => a.shape(),
            Voxels::U16(a) => a.shape(),
            Voxels::F32(a) => a.shape(),
        };
        [s[0], s[1], s[2]]
    }

    /// The value of voxel (i, j, k) as f64, whatever the stored type.
    pub fn get_f64(&self, ijk: [usize; 3]) -> Option<f64> {
        match self {
            Voxels::I16(a) => a.get(ijk).map(|&v| f64::from(v)),
            Voxels::U16(a) => a.get(ijk).map(|&v| f64::from(v)),
            Voxels::F32(a) => a.get(ijk).map(|&v| f64::from(v)),
        }
    }

    /// Mean of all voxels, computed in f64 (what the sample project feeds back).
    pub fn mean(&self) -> f64 {
        let (sum, n) = match self {
            Voxels::I16(a) => (a.iter().map(|&v| f64::from(v)).sum::<f64>(), a.len()),
            Voxels::U16(a) => (a.iter().map(|&v| f64::from(v)).sum::<f64>(), a.len()),
            Voxels::F32(a) => (a.iter().map(|&v| f64::from(v)).sum::<f64>(), a.len()),
        };
        if n == 0 {
            0.0
        } else {
            sum / n as f64
        }
    }
}

/// Header facts a BIDS sidecar and an experimenter care about. Filled by
/// `metadata::from_dicom` for the common attributes; converters add what only they know.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub modality: Option<String>,
    pub manufacturer: Option<String>,
    pub manufacturers_model_name: Option<String>,
    pub software_versions: Option<String>,
    pub magnetic_field_strength: Option<f64>,
    pub series_description: Option<String>,
    pub protocol_name: Option<String>,
    pub image_type: Vec<String>,
    pub series_number: Option<i64>,
    pub acquisition_number: Option<i64>,
    pub instance_number: Option<i64>,
    pub series_instance_uid: Option<String>,
    pub study_instance_uid: Option<String>,
    pub echo_time_s: Option<f64>,
    pub flip_angle_deg: Option<f64>,
    /// BIDS form: "i", "i-", "j", "j-", "k", "k-" in NIfTI voxel axes.
    pub phase_encoding_direction: Option<String>,
    pub multiband_acceleration_factor: Option<u32>,
    /// NIfTI slice_code to write when the converter knows dcm2niix's choice (dcm2niix
    /// writes 0 for reversed-slice Siemens and non-Siemens series); `None`: derived from
    /// `Volume::slice_timing_s` by `nifti_write::slice_code`.
    pub nifti_slice_code: Option<u8>,
    /// Any further sidecar fields, in the order they should be written.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// One 3D volume ready for analysis or for a NIfTI file.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub voxels: Voxels,
    /// Voxel index (i, j, k, 1) to RAS+ millimetres, exactly as dcm2niix's sform.
    pub affine: [[f64; 4]; 4],
    /// Voxel size in mm along i, j, k (k: slice spacing, as dcm2niix writes pixdim[3]).
    pub voxel_size: [f64; 3],
    /// Repetition time in seconds, when the header gives one.
    pub tr_s: Option<f64>,
    /// Acquisition onset of each slice (NIfTI k order), in seconds from the volume's start.
    pub slice_timing_s: Vec<f64>,
    /// AcquisitionTime of the volume as seconds since midnight (scanner clock).
    pub acquisition_time_s: Option<f64>,
    pub meta: Metadata,
}
