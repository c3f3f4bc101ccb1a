//! A synthetic Siemens scanner: Siemens-style MOSAIC DICOM volumes of a brain-like
//! phantom with a known block-design activation, plus the ground truth to check against.
//!
//! Pure like the rest of the crate: it returns bytes and values; the caller writes files.
//! Everything is deterministic for a given [`SynthSpec`] (seeded noise), and each volume
//! can be generated on its own, which is what a simulated real-time run needs.

mod csa_write;
mod phantom;

use dicom_core::value::C;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use serde::{Deserialize, Serialize};

use crate::error::{ImagingError, Result};
use csa_write::{write_sv10, CsaTag};
pub use phantom::Phantom;

/// What to synthesise. `Default` is a 64x64x27 EPI run with 3x3x3.5 mm voxels.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    pub volumes: usize,
    pub tr_s: f64,
    pub seed: u64,
    /// In-plane matrix (rows = columns).
    pub matrix: usize,
    pub slices: usize,
    pub pixel_mm: f64,
    pub slice_thickness_mm: f64,
    /// Centre-to-centre slice distance (thickness plus gap).
    pub slice_spacing_mm: f64,
    /// The scan (series) number in the file names and SeriesNumber.
    pub series_number: u32,
    /// Length of each on and off block of the design, seconds.
    pub block_s: f64,
    /// Activation amplitude in the ROI, percent of the baseline signal.
    pub activation_percent: f64,
    /// Thermal noise standard deviation, in stored units.
    pub noise_sd: f64,
    /// Rigid head motion with known parameters (replaces the default sub-voxel sway);
    /// `None`: the default sway, as before.
    pub motion: Option<SynthMotion>,
    /// The activation lags the design like a BOLD response (a 2 s delay, then a
    /// first-order rise and fall with a 3 s time constant) instead of switching with
    /// it; the ground truth's `activation` holds the resulting time course.
    pub bold_lag: bool,
}

/// Rigid head motion of the synthetic head, in the `realtime` crate's convention:
/// `[tx, ty, tz]` mm along RAS+ x, y, z and `[rx, ry, rz]` degrees about them,
/// `R = Rz · Ry · Rx` about the grid centre, mapping the head at rest to where it is in
/// the volume (`y = R (x - c) + c + t`). The moving phantom also has a sulcus: CSF
/// one voxel thick along the ROI's two faces across i, so that motion moves the ROI's
/// edge over tissue of another intensity, as in a real brain.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthMotion {
    /// Largest translation, mm (reached on x; y and z move 0.8 and 0.6 of it).
    pub max_translation_mm: f64,
    /// Largest rotation, degrees (reached about z; x and y 0.6 and 0.8 of it).
    pub max_rotation_deg: f64,
    /// 0: slow sways only; 1: motion entirely locked to the task: the head jerks at the
    /// start of each "on" block and settles back over a few seconds (time constant
    /// 4 s), the confound a preprocessing step must remove.
    pub task_locked: f64,
}

impl SynthMotion {
    /// The six parameters `[tx, ty, tz, rx, ry, rz]` at time `t_s` of a block design
    /// with blocks of `block_s` seconds ("off" first).
    pub fn params(&self, t_s: f64, block_s: f64) -> [f64; 6] {
        let w = self.task_locked.clamp(0.0, 1.0);
        let block = (t_s / block_s).floor();
        let jerk = if block as u64 % 2 == 1 {
            (-(t_s - block * block_s) / 4.0).exp()
        } else {
            0.0
        };
        // Every sway starts at 0, so the first volume (an "off" TR) is the head at rest.
        let sway = |period: f64| (std::f64::consts::TAU * t_s / period).sin();
        let scale = [1.0, 0.8, 0.6, 0.6, 0.8, 1.0];
        let periods = [53.0, 67.0, 79.0, 61.0, 73.0, 47.0];
        let mut p = [0.0; 6];
        for a in 0..6 {
            let max = if a < 3 {
                self.max_translation_mm
            } else {
                self.max_rotation_deg
            };
            let slow = sway(periods[a]);
            p[a] = max * scale[a] * ((1.0 - w) * slow + w * jerk);
        }
        p
    }
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            volumes: 60,
            tr_s: 2.0,
            seed: 42,
            matrix: 64,
            slices: 27,
            pixel_mm: 3.0,
            slice_thickness_mm: 3.0,
            slice_spacing_mm: 3.5,
            series_number: 1,
            block_s: 20.0,
            activation_percent: 2.0,
            noise_sd: 8.0,
            motion: None,
            bold_lag: false,
        }
    }
}

/// The box ROI and the expected signal, written as `ground_truth.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub volumes: usize,
    pub tr_s: f64,
    pub seed: u64,
    /// NIfTI voxel shape (nx, ny, nz).
    pub shape: [usize; 3],
    pub voxel_size_mm: [f64; 3],
    /// 1 during an "on" block, 0 during "off", one value per TR.
    pub design: Vec<u8>,
    /// ROI as inclusive-exclusive voxel ranges in NIfTI (i, j, k) order, as dcm2niix
    /// and `imaging` lay the volume out (rows flipped relative to the DICOM image).
    pub roi_voxel_min: [usize; 3],
    pub roi_voxel_max: [usize; 3],
    /// ROI centre in RAS+ millimetres (the NIfTI world frame).
    pub roi_center_ras_mm: [f64; 3],
    /// ROI half size in millimetres along the NIfTI axes.
    pub roi_half_size_mm: [f64; 3],
    /// Exact mean of the stored ROI voxel values in each volume.
    pub roi_mean: Vec<f64>,
    /// Slice acquisition onsets in seconds, slice storage (NIfTI k) order.
    pub slice_timing_s: Vec<f64>,
    /// The activation of each volume as a fraction of `activation_percent` (0..1): the
    /// design itself, or its lagged form with [`SynthSpec::bold_lag`].
    #[serde(default)]
    pub activation: Vec<f64>,
    /// With [`SynthSpec::motion`]: each volume's true rigid parameters
    /// `[tx, ty, tz, rx, ry, rz]` (mm, degrees; see [`SynthMotion`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motion: Option<Vec<[f64; 6]>>,
}

/// One generated volume: the name the scanner would give it and its DICOM bytes.
#[derive(Debug, Clone)]
pub struct SynthFile {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A generator for one run; cheap to create, each volume made on demand.
#[derive(Debug, Clone)]
pub struct Synth {
    spec: SynthSpec,
    phantom: Phantom,
}

impl Synth {
    pub fn new(spec: SynthSpec) -> Result<Synth> {
        if spec.matrix < 16 || spec.matrix > 512 || spec.slices == 0 || spec.slices > 256 {
            return Err(ImagingError::Unsupported(format!(
                "synthetic matrix {}x{} with {} slices (matrix 16-512, slices 1-256)",
                spec.matrix, spec.matrix, spec.slices
            )));
        }
        if !(spec.tr_s > 0.0 && spec.tr_s < 100.0) {
            return Err(ImagingError::Unsupported(format!(
                "synthetic TR {} s (must be between 0 and 100 s)",
                spec.tr_s
            )));
        }
        let phantom = Phantom::new(&spec);
        Ok(Synth { spec, phantom })
    }

    pub fn spec(&self) -> &SynthSpec {
        &self.spec
    }

    /// Design value (0 off, 1 on) of volume `index` (0-based).
    pub fn design(&self, index: usize) -> u8 {
        let t = index as f64 * self.spec.tr_s;
        ((t / self.spec.block_s).floor() as u64 % 2) as u8
    }

    /// Activation of volume `index` as a fraction of the full effect (0..1).
    pub fn activation(&self, index: usize) -> f64 {
        if !self.spec.bold_lag {
            return f64::from(self.design(index));
        }
        // The design delayed by 2 s through a first-order lag (3 s), integrated in 0.1 s
        // steps from the start of the run.
        let (dt, delay, tau) = (0.1, 2.0, 3.0);
        let t_end = index as f64 * self.spec.tr_s;
        let mut a = 0.0;
        let steps = (t_end / dt).round() as usize;
        for n in 0..steps {
            let s = n as f64 * dt - delay;
            let on = s >= 0.0 && (s / self.spec.block_s).floor() as u64 % 2 == 1;
            a += (f64::from(u8::from(on)) - a) * (1.0 - (-dt / tau).exp());
        }
        a
    }

    /// Siemens interleaved ascending: with an odd slice count the even-numbered slices
    /// (0, 2, ...) go first, with an even count the odd ones, as the scanner does.
    pub fn slice_timing_s(&self) -> Vec<f64> {
        let n = self.spec.slices;
        let first = if n % 2 == 1 { 0 } else { 1 };
        let order: Vec<usize> = (first..n)
            .step_by(2)
            .chain((1 - first..n).step_by(2))
            .collect();
        let mut timing = vec![0.0; n];
        let step = self.spec.tr_s / n as f64;
        for (position, &slice) in order.iter().enumerate() {
            timing[slice] = position as f64 * step;
        }
        timing
    }

    /// Stored values of volume `index` (0-based), NIfTI order `(i, j, k)` flattened with
    /// i fastest, and the exact ROI mean of those values.
    pub fn volume_values(&self, index: usize) -> (Vec<u16>, f64) {
        self.phantom
            .render(&self.spec, index, self.activation(index), self.spec.seed)
    }

    /// The DICOM file of volume `index` (0-based).
    pub fn file(&self, index: usize) -> Result<SynthFile> {
        let (values, _) = self.volume_values(index);
        let bytes = self.mosaic_dicom(index, &values)?;
        Ok(SynthFile {
            file_name: format!("001_{:06}_{:06}.dcm", self.spec.series_number, index + 1),
            bytes,
        })
    }

    pub fn ground_truth(&self) -> GroundTruth {
        let s = &self.spec;
        let roi = &self.phantom.roi;
        let affine = self.ras_affine();
        let center_ijk: Vec<f64> = (0..3)
            .map(|a| (roi.min[a] + roi.max[a]) as f64 / 2.0 - 0.5)
            .collect();
        let mut center = [0.0; 3];
        for (r, c) in center.iter_mut().enumerate() {
            *c = affine[r][3] + (0..3).map(|a| affine[r][a] * center_ijk[a]).sum::<f64>();
        }
        let sizes = [s.pixel_mm, s.pixel_mm, s.slice_spacing_mm];
        GroundTruth {
            volumes: s.volumes,
            tr_s: s.tr_s,
            seed: s.seed,
            shape: [s.matrix, s.matrix, s.slices],
            voxel_size_mm: sizes,
            design: (0..s.volumes).map(|i| self.design(i)).collect(),
            roi_voxel_min: roi.min,
            roi_voxel_max: roi.max,
            roi_center_ras_mm: center,
            roi_half_size_mm: [0, 1, 2].map(|a| (roi.max[a] - roi.min[a]) as f64 * sizes[a] / 2.0),
            roi_mean: (0..s.volumes).map(|i| self.volume_values(i).1).collect(),
            slice_timing_s: self.slice_timing_s(),
            activation: (0..s.volumes).map(|i| self.activation(i)).collect(),
            motion: s.motion.as_ref().map(|m| {
                (0..s.volumes)
                    .map(|i| m.params(i as f64 * s.tr_s, s.block_s))
                    .collect()
            }),
        }
    }

    /// The voxel-to-RAS affine the converter must produce for this run (dcm2niix's
    /// convention: DICOM rows flipped so that j runs posterior to anterior here).
    pub fn ras_affine(&self) -> [[f64; 4]; 4] {
        let s = &self.spec;
        let (first, _) = self.slice_positions_lps();
        let ny = s.matrix as f64;
        // Axial slices: DICOM row direction +x (LPS), column direction +y, normal +z.
        // NIfTI j = rows-1-row, so j moves along -y (LPS) = +A (RAS).
        let dx = s.pixel_mm;
        let dz = s.slice_spacing_mm;
        let origin_lps = [first[0], first[1] + (ny - 1.0) * dx, first[2]];
        [
            [-dx, 0.0, 0.0, -origin_lps[0]],
            [0.0, dx, 0.0, -origin_lps[1]],
            [0.0, 0.0, dz, origin_lps[2]],
            [0.0, 0.0, 0.0, 1.0],
        ]
    }

    /// LPS position of the first pixel of the first slice, and of the mosaic's corner as
    /// Siemens writes it in ImagePositionPatient (as if the whole mosaic were one slice).
    fn slice_positions_lps(&self) -> ([f64; 3], [f64; 3]) {
        let s = &self.spec;
        let fov = s.matrix as f64 * s.pixel_mm;
        let z0 = -(s.slices as f64 - 1.0) / 2.0 * s.slice_spacing_mm + 10.0;
        let first = [
            -fov / 2.0 + s.pixel_mm / 2.0,
            -fov / 2.0 + s.pixel_mm / 2.0 - 12.0,
            z0,
        ];
        let tiles = mosaic_tiles(s.slices) as f64;
        let shift = (tiles * s.matrix as f64 - s.matrix as f64) / 2.0 * s.pixel_mm;
        let corner = [first[0] - shift, first[1] - shift, first[2]];
        (first, corner)
    }

    fn mosaic_dicom(&self, index: usize, values: &[u16]) -> Result<Vec<u8>> {
        let s = &self.spec;
        let n = s.matrix;
        let tiles = mosaic_tiles(s.slices);
        let side = tiles * n;
        let mut pixels = vec![0u16; side * side];
        for k in 0..s.slices {
            let (tile_row, tile_col) = (k / tiles, k % tiles);
            for row in 0..n {
                // NIfTI j counts rows from the bottom of the DICOM image.
                let j = n - 1 - row;
                let dst = (tile_row * n + row) * side + tile_col * n;
                let src = (k * n + j) * n;
                pixels[dst..dst + n].copy_from_slice(&values[src..src + n]);
            }
        }
        let mut obj = InMemDicomObject::new_empty();
        self.put_header(&mut obj, index);
        put(
            &mut obj,
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(side as u16),
        );
        put(
            &mut obj,
            tags::COLUMNS,
            VR::US,
            PrimitiveValue::from(side as u16),
        );
        let csa = write_sv10(&self.csa_tags());
        put(
            &mut obj,
            Tag(0x0029, 0x0010),
            VR::LO,
            PrimitiveValue::from("SIEMENS CSA HEADER"),
        );
        put(
            &mut obj,
            Tag(0x0029, 0x1008),
            VR::CS,
            PrimitiveValue::from("IMAGE NUM 4"),
        );
        put(
            &mut obj,
            Tag(0x0029, 0x1009),
            VR::LO,
            PrimitiveValue::from("20111222"),
        );
        put(
            &mut obj,
            Tag(0x0029, 0x1010),
            VR::OB,
            PrimitiveValue::U8(C::from_vec(csa)),
        );
        put(
            &mut obj,
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(C::from_vec(pixels)),
        );
        let file = obj
            .with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax("1.2.840.10008.1.2.1")
                    .implementation_class_uid("1.2.826.0.1.3680043.10.1024.1")
                    .implementation_version_name("RTCLOUD_RS_SYNTH"),
            )
            .map_err(|e| ImagingError::Invalid(format!("synthetic file meta: {e}")))?;
        let mut bytes = Vec::with_capacity(side * side * 2 + 16384);
        file.write_all(&mut bytes)
            .map_err(|e| ImagingError::Invalid(format!("writing synthetic DICOM: {e}")))?;
        Ok(bytes)
    }

    fn csa_tags(&self) -> Vec<CsaTag> {
        let s = &self.spec;
        let ref_times: Vec<f64> = self.slice_timing_s().iter().map(|t| t * 1000.0).collect();
        vec![
            CsaTag::int("EchoLinePosition", "IS", 6, (s.matrix / 2) as i64),
            CsaTag::int("NumberOfImagesInMosaic", "US", 10, s.slices as i64),
            CsaTag::text(
                "SliceMeasurementDuration",
                "DS",
                3,
                &format!("{:.8}", s.tr_s * 1e6 / s.slices as f64),
            ),
            CsaTag::text(
                "AcquisitionMatrixText",
                "SH",
                22,
                &format!("{}*{}", s.matrix, s.matrix),
            ),
            CsaTag::floats("BandwidthPerPixelPhaseEncode", 1, &[20.0]),
            CsaTag::int("PhaseEncodingDirectionPositive", "IS", 6, 1),
            CsaTag::floats("SliceNormalVector", 3, &[0.0, 0.0, 1.0]),
            CsaTag::floats("MosaicRefAcqTimes", 0, &ref_times),
        ]
    }

    fn put_header(&self, obj: &mut InMemDicomObject, index: usize) {
        let s = &self.spec;
        let seed_uid = format!("2.25.{}", 1_000_000 + (s.seed % 1_000_000_000));
        let study_uid = format!("{seed_uid}.1");
        let series_uid = format!("{seed_uid}.2.{}", s.series_number);
        let frame_uid = format!("{seed_uid}.3");
        let sop_uid = format!("{seed_uid}.4.{}.{}", s.series_number, index + 1);
        let (_, corner) = self.slice_positions_lps();
        // Acquisition starts at 10:00:00 and advances by one TR per volume.
        let t = 36_000.0 + index as f64 * s.tr_s;
        let acq_time = format!(
            "{:02}{:02}{:09.6}",
            (t / 3600.0).floor() as u32,
            ((t % 3600.0) / 60.0).floor() as u32,
            t % 60.0
        );
        let strs: [(Tag, VR, String); 41] = [
            (tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100".into()),
            (
                tags::IMAGE_TYPE,
                VR::CS,
                "ORIGINAL\\PRIMARY\\M\\ND\\MOSAIC".into(),
            ),
            (
                tags::SOP_CLASS_UID,
                VR::UI,
                "1.2.840.10008.5.1.4.1.1.4".into(),
            ),
            (tags::SOP_INSTANCE_UID, VR::UI, sop_uid),
            (tags::STUDY_DATE, VR::DA, "20000101".into()),
            (tags::SERIES_DATE, VR::DA, "20000101".into()),
            (tags::ACQUISITION_DATE, VR::DA, "20000101".into()),
            (tags::STUDY_TIME, VR::TM, "100000.000000".into()),
            (tags::ACQUISITION_TIME, VR::TM, acq_time),
            (tags::MODALITY, VR::CS, "MR".into()),
            (tags::MANUFACTURER, VR::LO, "SIEMENS".into()),
            (tags::INSTITUTION_NAME, VR::LO, "Synthetic Scanner".into()),
            (tags::MANUFACTURER_MODEL_NAME, VR::LO, "Synthetic".into()),
            (tags::SERIES_DESCRIPTION, VR::LO, "synthetic_bold".into()),
            (tags::PATIENT_NAME, VR::PN, "SYNTHETIC^PHANTOM".into()),
            (tags::PATIENT_ID, VR::LO, "SYNTH0001".into()),
            (tags::PATIENT_BIRTH_DATE, VR::DA, "19000101".into()),
            (tags::PATIENT_SEX, VR::CS, "O".into()),
            (tags::SCANNING_SEQUENCE, VR::CS, "EP".into()),
            (tags::SEQUENCE_VARIANT, VR::CS, "SK\\SS".into()),
            (tags::MR_ACQUISITION_TYPE, VR::CS, "2D".into()),
            (
                tags::SEQUENCE_NAME,
                VR::SH,
                format!("*epfid2d1_{}", s.matrix),
            ),
            (tags::SLICE_THICKNESS, VR::DS, ds(s.slice_thickness_mm)),
            (tags::REPETITION_TIME, VR::DS, ds(s.tr_s * 1000.0)),
            (tags::ECHO_TIME, VR::DS, "30".into()),
            (tags::MAGNETIC_FIELD_STRENGTH, VR::DS, "3".into()),
            (tags::SPACING_BETWEEN_SLICES, VR::DS, ds(s.slice_spacing_mm)),
            (
                tags::SOFTWARE_VERSIONS,
                VR::LO,
                "syngo MR E11 (synthetic)".into(),
            ),
            (tags::PROTOCOL_NAME, VR::LO, "synthetic_bold".into()),
            (
                tags::IN_PLANE_PHASE_ENCODING_DIRECTION,
                VR::CS,
                "COL".into(),
            ),
            (tags::FLIP_ANGLE, VR::DS, "70".into()),
            (tags::PATIENT_POSITION, VR::CS, "HFS".into()),
            (tags::STUDY_INSTANCE_UID, VR::UI, study_uid),
            (tags::SERIES_INSTANCE_UID, VR::UI, series_uid),
            (tags::SERIES_NUMBER, VR::IS, s.series_number.to_string()),
            (tags::ACQUISITION_NUMBER, VR::IS, (index + 1).to_string()),
            (tags::INSTANCE_NUMBER, VR::IS, (index + 1).to_string()),
            (
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                corner.map(ds).join("\\"),
            ),
            (
                tags::IMAGE_ORIENTATION_PATIENT,
                VR::DS,
                "1\\0\\0\\0\\1\\0".into(),
            ),
            (tags::FRAME_OF_REFERENCE_UID, VR::UI, frame_uid),
            (
                tags::PHOTOMETRIC_INTERPRETATION,
                VR::CS,
                "MONOCHROME2".into(),
            ),
        ];
        for (tag, vr, value) in strs {
            put(obj, tag, vr, PrimitiveValue::from(value));
        }
        put(
            obj,
            tags::ACQUISITION_MATRIX,
            VR::US,
            PrimitiveValue::U16(C::from_vec(vec![s.matrix as u16, 0, 0, s.matrix as u16])),
        );
        put(
            obj,
            tags::PIXEL_SPACING,
            VR::DS,
            PrimitiveValue::from(format!("{}\\{}", ds(s.pixel_mm), ds(s.pixel_mm))),
        );
        for (tag, v) in [
            (tags::SAMPLES_PER_PIXEL, 1u16),
            (tags::BITS_ALLOCATED, 16),
            (tags::BITS_STORED, 12),
            (tags::HIGH_BIT, 11),
            (tags::PIXEL_REPRESENTATION, 0),
        ] {
            put(obj, tag, VR::US, PrimitiveValue::from(v));
        }
    }
}

/// Tiles per side of a Siemens mosaic: the smallest square that holds every slice.
pub fn mosaic_tiles(slices: usize) -> usize {
    let mut t = 1;
    while t * t < slices {
        t += 1;
    }
    t
}

/// A DS value: up to 16 characters, no trailing zeros.
fn ds(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.chars().take(16).collect()
}

fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: PrimitiveValue) {
    obj.put(DataElement::new(tag, vr, value));
}
