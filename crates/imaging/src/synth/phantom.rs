//! The synthetic brain: an ellipsoid with grey/white/CSF contrast, a box ROI that follows
//! the design, slow scanner drift, slight sub-voxel motion and seeded Gaussian noise.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::SynthSpec;

/// A box of voxels, `min` inclusive and `max` exclusive, NIfTI (i, j, k) order.
#[derive(Debug, Clone, PartialEq)]
pub struct RoiBox {
    pub min: [usize; 3],
    pub max: [usize; 3],
}

/// The fixed part of the phantom (what does not change between volumes).
#[derive(Debug, Clone)]
pub struct Phantom {
    pub roi: RoiBox,
    /// Ellipsoid semi-axes in mm along the NIfTI axes.
    semi_axes_mm: [f64; 3],
}

const GREY: f64 = 900.0;
const WHITE: f64 = 650.0;
const CSF: f64 = 1400.0;
/// Largest stored value: the 12 bits Siemens declares in BitsStored.
const MAX_STORED: f64 = 4095.0;

impl Phantom {
    pub fn new(spec: &SynthSpec) -> Phantom {
        let n = spec.matrix;
        let nz = spec.slices;
        let fov = n as f64 * spec.pixel_mm;
        let depth = nz as f64 * spec.slice_spacing_mm;
        // A cortical ROI, lateral and anterior of centre, well inside the grey matter
        // shell; about 6x6x4 voxels at the default resolution.
        let side = (n / 10).max(2);
        let depth_vox = (nz / 7).clamp(1, 4);
        let i0 = n / 2 + n / 5;
        let j0 = n / 2 + n / 16;
        let k0 = nz / 2 - depth_vox / 2;
        Phantom {
            roi: RoiBox {
                min: [i0, j0, k0],
                max: [i0 + side, j0 + side, k0 + depth_vox],
            },
            semi_axes_mm: [
                0.36 * fov,
                0.44 * fov,
                0.55 * depth.max(3.0 * spec.slice_spacing_mm),
            ],
        }
    }

    /// Stored values of volume `index` (i fastest, then j, then k) and the exact mean of
    /// the ROI voxels.
    pub fn render(
        &self,
        spec: &SynthSpec,
        index: usize,
        activation: f64,
        seed: u64,
    ) -> (Vec<u16>, f64) {
        let (n, nz) = (spec.matrix, spec.slices);
        let t = index as f64 * spec.tr_s;
        let run = (spec.volumes.max(1) as f64) * spec.tr_s;
        let tau = t / run;
        let drift = 1.0 + 0.006 * tau + 0.004 * tau * tau;
        // Sub-voxel head motion: slow sways of a few tenths of a voxel.
        let shift_mm = [
            0.25 * spec.pixel_mm * (std::f64::consts::TAU * t / 47.0).sin(),
            0.15 * spec.pixel_mm * (std::f64::consts::TAU * t / 71.0).sin(),
            0.10 * spec.slice_spacing_mm * (std::f64::consts::TAU * t / 89.0).sin(),
        ];
        let gain = 1.0 + spec.activation_percent / 100.0 * activation;
        let mut rng =
            StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index as u64);
        let centre = [
            n as f64 / 2.0 - 0.5,
            n as f64 / 2.0 - 0.5,
            nz as f64 / 2.0 - 0.5,
        ];
        let size = [spec.pixel_mm, spec.pixel_mm, spec.slice_spacing_mm];
        let mut out = Vec::with_capacity(n * n * nz);
        let (mut roi_sum, mut roi_n) = (0.0, 0usize);
        // With rigid motion, each voxel shows the head point that moved there:
        // head = Rᵀ (world - c - t) + c, in RAS (NIfTI i runs to the left here).
        let rigid = spec
            .motion
            .as_ref()
            .map(|m| HeadPose::new(m.params(t, spec.block_s)));
        for k in 0..nz {
            for j in 0..n {
                for i in 0..n {
                    let ijk = [i, j, k];
                    let mut head_mm = [0.0; 3];
                    for a in 0..3 {
                        head_mm[a] = (ijk[a] as f64 - centre[a]) * size[a];
                    }
                    let (mut v, in_roi) = match &rigid {
                        // A voxel integrates what it covers (partial volume), so a
                        // sub-voxel move changes the edge voxels gradually, as in EPI:
                        // the mean of 2x2x2 samples.
                        Some(pose) => {
                            let mut sum = 0.0;
                            for d in SUBVOXEL {
                                let p = [0, 1, 2].map(|a| head_mm[a] + d[a] * size[a]);
                                sum += self.moved_value(pose.head_point(p), size, centre, gain).0;
                            }
                            let inside = self
                                .moved_value(pose.head_point(head_mm), size, centre, gain)
                                .1;
                            (sum / SUBVOXEL.len() as f64 * drift, inside)
                        }
                        None => {
                            for a in 0..3 {
                                head_mm[a] -= shift_mm[a];
                            }
                            let in_roi = (0..3)
                                .all(|a| ijk[a] >= self.roi.min[a] && ijk[a] < self.roi.max[a]);
                            let r2: f64 = (0..3)
                                .map(|a| (head_mm[a] / self.semi_axes_mm[a]).powi(2))
                                .sum();
                            let mut v = tissue(r2.sqrt()) * drift;
                            if in_roi {
                                v *= gain;
                            }
                            (v, in_roi)
                        }
                    };
                    v += spec.noise_sd * gaussian(&mut rng);
                    // Magnitude images are never negative; the scanner stores 12 bits.
                    let stored = v.abs().round().min(MAX_STORED) as u16;
                    if in_roi {
                        roi_sum += f64::from(stored);
                        roi_n += 1;
                    }
                    out.push(stored);
                }
            }
        }
        (
            out,
            if roi_n == 0 {
                0.0
            } else {
                roi_sum / roi_n as f64
            },
        )
    }
}

/// Offsets (in voxels) of the samples a moving voxel averages.
const SUBVOXEL: [[f64; 3]; 8] = [
    [-0.25, -0.25, -0.25],
    [0.25, -0.25, -0.25],
    [-0.25, 0.25, -0.25],
    [0.25, 0.25, -0.25],
    [-0.25, -0.25, 0.25],
    [0.25, -0.25, 0.25],
    [-0.25, 0.25, 0.25],
    [0.25, 0.25, 0.25],
];

impl Phantom {
    /// The signal (before drift) at head point `head_mm` (mm from the centre along the
    /// NIfTI axes, head at rest) and whether it is in the ROI: tissue, or CSF in the
    /// sulcus, times the activation `gain` in the ROI.
    fn moved_value(
        &self,
        head_mm: [f64; 3],
        size: [f64; 3],
        centre: [f64; 3],
        gain: f64,
    ) -> (f64, bool) {
        let q = [0, 1, 2].map(|a| head_mm[a] / size[a] + centre[a]);
        let in_roi = (0..3)
            .all(|a| q[a] >= self.roi.min[a] as f64 - 0.5 && q[a] < self.roi.max[a] as f64 - 0.5);
        let base = if self.in_sulcus(q) {
            CSF
        } else {
            let r2: f64 = (0..3)
                .map(|a| (head_mm[a] / self.semi_axes_mm[a]).powi(2))
                .sum();
            tissue(r2.sqrt())
        };
        (if in_roi { base * gain } else { base }, in_roi)
    }

    /// Whether the head point at voxel coordinates `q` (of the head at rest) lies in the
    /// sulcus: CSF one voxel thick along both faces of the ROI across i (the
    /// lateral-medial axis), one voxel longer than the ROI along j. Only the rigid-motion
    /// phantom has it: real cortex borders CSF, so a head movement moves the ROI's edge
    /// over tissue of another intensity (issue 10's feedback-quality test).
    fn in_sulcus(&self, q: [f64; 3]) -> bool {
        let (min, max) = (
            self.roi.min.map(|v| v as f64),
            self.roi.max.map(|v| v as f64),
        );
        let across = (q[0] >= min[0] - 1.5 && q[0] < min[0] - 0.5)
            || (q[0] >= max[0] - 0.5 && q[0] < max[0] + 0.5);
        across
            && q[1] >= min[1] - 1.5
            && q[1] < max[1] + 0.5
            && q[2] >= min[2] - 0.5
            && q[2] < max[2] - 0.5
    }
}

/// One volume's rigid pose: the rotation matrix `R = Rz · Ry · Rx` and translation.
struct HeadPose {
    rotation: [[f64; 3]; 3],
    translation_mm: [f64; 3],
}

impl HeadPose {
    fn new(p: [f64; 6]) -> HeadPose {
        let [a, b, c] = [p[3], p[4], p[5]].map(f64::to_radians);
        let (sa, ca, sb, cb, sc, cc) = (a.sin(), a.cos(), b.sin(), b.cos(), c.sin(), c.cos());
        // Rz(c) · Ry(b) · Rx(a), written out.
        let rotation = [
            [cc * cb, cc * sb * sa - sc * ca, cc * sb * ca + sc * sa],
            [sc * cb, sc * sb * sa + cc * ca, sc * sb * ca - cc * sa],
            [-sb, cb * sa, cb * ca],
        ];
        HeadPose {
            rotation,
            translation_mm: [p[0], p[1], p[2]],
        }
    }

    /// The head point (mm from the centre along the NIfTI axes, i = left) seen at a
    /// voxel `mm` from the centre: Rᵀ (y - t) with the i axis flipped into RAS and back.
    fn head_point(&self, mm: [f64; 3]) -> [f64; 3] {
        let ras = [-mm[0], mm[1], mm[2]];
        let d = [0, 1, 2].map(|a| ras[a] - self.translation_mm[a]);
        let head = [0, 1, 2].map(|c| (0..3).map(|r| self.rotation[r][c] * d[r]).sum::<f64>());
        [-head[0], head[1], head[2]]
    }
}

/// Signal at normalised ellipsoid radius `r`: CSF in the middle, white matter, then a
/// grey matter shell with a soft edge (so sub-voxel motion changes the edge voxels).
fn tissue(r: f64) -> f64 {
    let edge = 0.06;
    let outside = ((r - (1.0 - edge)) / edge).clamp(0.0, 1.0);
    let base = if r < 0.18 {
        CSF
    } else if r < 0.55 {
        WHITE
    } else {
        GREY
    };
    base * (1.0 - outside)
}

/// One standard normal draw (Box-Muller), so no extra crate is needed.
fn gaussian(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
