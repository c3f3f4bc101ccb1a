//! The `Volume`: one 3D image in NIfTI index order with its geometry and timing.

use ndarray::Array3;
use serde::{Deserialize, Serialize};

/// Voxel values in the type the scanner stored them (see [`Scaling`] for real values).
///
/// Arrays have shape `(nx, ny, nz)` in Fortran (column-major) layout, so that
/// `array[[i, j, k]]` is NIfTI voxel (i, j, k) and the memory order is the on-disk order.
#[derive(Debug, Clone, PartialEq)]
pub enum Voxels {
    I16(Array3<i16>),
    U16(Array3<u16>),
    /// Real values: only when the scaling differs between the slices or volumes of one
    /// series, so that no single scl_slope/scl_inter fits (dcm2niix then writes float32).
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

    /// The element type's name as numpy spells it: "int16", "uint16" or "float32".
    pub fn dtype_name(&self) -> &'static str {
        match self {
            Voxels::I16(_) => "int16",
            Voxels::U16(_) => "uint16",
            Voxels::F32(_) => "float32",
        }
    }

    /// Appends the voxels as little-endian bytes in NIfTI order (i fastest, then j, then
    /// k), whatever the array layout: the on-disk and on-the-wire order.
    pub fn write_le(&self, out: &mut Vec<u8>) {
        // `t()` reverses the axes, so its logical (row-major) order has i varying fastest.
        match self {
            Voxels::I16(a) => a
                .t()
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            Voxels::U16(a) => a
                .t()
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            Voxels::F32(a) => a
                .t()
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        }
    }

    /// The inverse of [`Voxels::write_le`]: `bytes` must hold exactly the voxels of
    /// `shape` in `dtype` (as [`Voxels::dtype_name`] names it).
    pub fn from_le_bytes(shape: [usize; 3], dtype: &str, bytes: &[u8]) -> crate::Result<Voxels> {
        use ndarray::ShapeBuilder;
        let width = match dtype {
            "int16" | "uint16" => 2,
            "float32" => 4,
            other => {
                return Err(crate::ImagingError::Unsupported(format!(
                    "voxel type {other:?} (expected int16, uint16 or float32)"
                )))
            }
        };
        let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if count.and_then(|n| n.checked_mul(width)) != Some(bytes.len()) {
            return Err(crate::ImagingError::Invalid(format!(
                "{} bytes of voxels do not fill a {dtype} volume of shape {shape:?}",
                bytes.len()
            )));
        }
        let f_shape = (shape[0], shape[1], shape[2]).f();
        let shape_err = |e: ndarray::ShapeError| crate::ImagingError::Invalid(e.to_string());
        Ok(match dtype {
            "int16" => Voxels::I16(
                Array3::from_shape_vec(
                    f_shape,
                    bytes
                        .chunks_exact(2)
                        .map(|c| i16::from_le_bytes([c[0], c[1]]))
                        .collect(),
                )
                .map_err(shape_err)?,
            ),
            "uint16" => Voxels::U16(
                Array3::from_shape_vec(
                    f_shape,
                    bytes
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect(),
                )
                .map_err(shape_err)?,
            ),
            _ => Voxels::F32(
                Array3::from_shape_vec(
                    f_shape,
                    bytes
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )
                .map_err(shape_err)?,
            ),
        })
    }

    /// The voxels with output axis `n` taken from axis `source[n]`, reversed when
    /// `flip[n]`; Fortran layout like every `Voxels`.
    pub fn reoriented(&self, source: [usize; 3], flip: [bool; 3]) -> Voxels {
        fn turn<T: Copy>(a: &Array3<T>, source: [usize; 3], flip: [bool; 3]) -> Array3<T> {
            use ndarray::{Axis, ShapeBuilder};
            let mut view = a.view().permuted_axes(source);
            for (n, &f) in flip.iter().enumerate() {
                if f {
                    view.invert_axis(Axis(n));
                }
            }
            let shape = view.dim();
            // `t()` iterates with the first axis fastest: Fortran order.
            let values: Vec<T> = view.t().iter().copied().collect();
            Array3::from_shape_vec(shape.f(), values).expect("same number of voxels")
        }
        match self {
            Voxels::I16(a) => Voxels::I16(turn(a, source, flip)),
            Voxels::U16(a) => Voxels::U16(turn(a, source, flip)),
            Voxels::F32(a) => Voxels::F32(turn(a, source, flip)),
        }
    }

    /// Float32 of `stored * slope + inter` for every voxel (same shape and layout).
    pub fn real_values(&self, s: Scaling) -> Voxels {
        let real = |v: f32| v * s.slope + s.inter;
        Voxels::F32(match self {
            Voxels::I16(a) => a.mapv(|v| real(f32::from(v))),
            Voxels::U16(a) => a.mapv(|v| real(f32::from(v))),
            Voxels::F32(a) => a.mapv(real),
        })
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
    /// The sidecar's RepetitionTime (seconds) when it differs from the NIfTI TR
    /// (`Volume::tr_s`): GE multi-phase EPI adds the delay between phases only here,
    /// as dcm2niix does. `None`: the sidecar uses `Volume::tr_s`.
    #[serde(default)]
    pub sidecar_repetition_time_s: Option<f64>,
    /// NIfTI slice_code to write when the converter knows dcm2niix's choice (dcm2niix
    /// writes 0 for reversed-slice Siemens and non-Siemens series); `None`: derived from
    /// `Volume::slice_timing_s` by `nifti_write::slice_code`.
    pub nifti_slice_code: Option<u8>,
    /// Any further sidecar fields, in the order they should be written.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Stored-to-real value mapping, `real = stored * slope + inter`, in the f32 precision
/// of NIfTI's scl_slope / scl_inter (which is what dcm2niix writes and readers apply).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scaling {
    pub slope: f32,
    pub inter: f32,
}

impl Scaling {
    /// Stored values are the real values.
    pub const IDENTITY: Scaling = Scaling {
        slope: 1.0,
        inter: 0.0,
    };

    pub fn is_identity(&self) -> bool {
        *self == Scaling::IDENTITY
    }

    /// The real value of a stored value, computed in f64 like nibabel's reader.
    pub fn apply(&self, stored: f64) -> f64 {
        if self.is_identity() {
            stored
        } else {
            stored * f64::from(self.slope) + f64::from(self.inter)
        }
    }
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling::IDENTITY
    }
}

/// One 3D volume ready for analysis or for a NIfTI file.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// Stored values (integers as the scanner wrote them, like dcm2niix keeps them).
    pub voxels: Voxels,
    /// How `voxels` become real values (RescaleSlope/Intercept, or the Philips scaling
    /// dcm2niix chooses); written as scl_slope / scl_inter.
    pub scaling: Scaling,
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

impl Volume {
    /// The volume turned to the closest RAS-aligned axes the way dcm2niix turns 3D
    /// acquisitions (see [`crate::geometry::ras_reorientation`]); unchanged when it
    /// already is. Voxels, voxel size and affine move together.
    pub fn reoriented_to_ras(mut self) -> Volume {
        let Some(plan) = crate::geometry::ras_reorientation(&self.affine, self.voxels.shape())
        else {
            return self;
        };
        self.voxels = self.voxels.reoriented(plan.source, plan.flip);
        self.voxel_size = plan.source.map(|a| self.voxel_size[a]);
        self.affine = plan.affine;
        self
    }

    /// The real value of voxel (i, j, k): the stored value with [`Volume::scaling`] applied.
    pub fn value_f64(&self, ijk: [usize; 3]) -> Option<f64> {
        self.voxels.get_f64(ijk).map(|v| self.scaling.apply(v))
    }

    /// The real values: the stored voxels when the scaling is the identity, else float32
    /// of `stored * slope + inter` (for consumers that do not carry the scaling along).
    pub fn real_voxels(&self) -> std::borrow::Cow<'_, Voxels> {
        if self.scaling.is_identity() {
            std::borrow::Cow::Borrowed(&self.voxels)
        } else {
            std::borrow::Cow::Owned(self.voxels.real_values(self.scaling))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered() -> Voxels {
        // Value 100*i + 10*j + k, so any mix-up of the axes shows.
        Voxels::I16(Array3::from_shape_fn((3, 2, 2), |(i, j, k)| {
            (100 * i + 10 * j + k) as i16
        }))
    }

    #[test]
    fn wire_bytes_are_in_nifti_order_and_come_back_equal() {
        let voxels = numbered();
        let mut bytes = Vec::new();
        voxels.write_le(&mut bytes);
        assert_eq!(bytes.len(), 3 * 2 * 2 * 2);
        // i fastest: voxel (1, 0, 0) second, (0, 1, 0) fourth, (0, 0, 1) seventh.
        assert_eq!(i16::from_le_bytes([bytes[2], bytes[3]]), 100);
        assert_eq!(i16::from_le_bytes([bytes[6], bytes[7]]), 10);
        assert_eq!(i16::from_le_bytes([bytes[12], bytes[13]]), 1);
        let back = Voxels::from_le_bytes([3, 2, 2], "int16", &bytes).expect("decodes");
        assert_eq!(back, voxels);
    }

    #[test]
    fn wire_bytes_of_the_wrong_length_or_type_are_refused() {
        let mut bytes = Vec::new();
        numbered().write_le(&mut bytes);
        let short = Voxels::from_le_bytes([3, 2, 2], "int16", &bytes[1..]);
        assert!(short.is_err_and(|e| e.to_string().contains("do not fill")));
        let huge = Voxels::from_le_bytes([usize::MAX, 2, 2], "int16", &bytes);
        assert!(huge.is_err());
        let other = Voxels::from_le_bytes([3, 2, 2], "float64", &bytes);
        assert!(other.is_err_and(|e| e.to_string().contains("float64")));
    }
}
