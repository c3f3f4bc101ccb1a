//! Web/ShowPreprocessing (issue 10): a project's TR of preprocessing turned into what the
//! Run tab draws: a motion point and a brain view of three orthogonal slices (grey
//! levels, ROI, t-map) through the ROI's centre. The page gets a few kilobytes per TR,
//! never a whole volume.

use protocol::project::v1 as pb;
use session::{BrainView, MotionPoint, Slice};
use tonic::Status;

/// The largest volume shown (voxels), so a request cannot make the analyser slice more.
const MAX_VIEW_VOXELS: usize = 64 << 20;

/// What one request shows: a motion point and/or a brain view.
pub(crate) struct Shown {
    pub motion: Option<MotionPoint>,
    pub brain: Option<BrainView>,
}

/// Checks the request and makes its views; an error names the field that was wrong.
#[allow(clippy::result_large_err)] // tonic's Status is the error type of every handler
pub(crate) fn views(r: &pb::ShowPreprocessingRequest) -> Result<Shown, Status> {
    let bad = |what: String| Status::invalid_argument(format!("show_preprocessing: {what}"));
    let motion = match r.motion_params.len() {
        0 => None,
        6 => {
            let mut params = [0.0; 6];
            params.copy_from_slice(&r.motion_params);
            let numbers = params.iter().chain([&r.fd_mm, &r.fd_threshold_mm]);
            if numbers.clone().any(|v| !v.is_finite()) {
                return Err(bad(
                    "motion_params, fd_mm and fd_threshold_mm must be finite".into(),
                ));
            }
            Some(MotionPoint {
                run: r.run,
                tr: r.tr,
                params,
                fd_mm: r.fd_mm,
                fd_threshold_mm: r.fd_threshold_mm,
            })
        }
        n => return Err(bad(format!("motion_params has {n} numbers, not 6"))),
    };
    if r.volume.is_empty() {
        return Ok(Shown {
            motion,
            brain: None,
        });
    }
    let shape: [usize; 3] = r
        .shape
        .iter()
        .map(|&n| n as usize)
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| bad(format!("shape {:?} is not 3 numbers", r.shape)))?;
    let n = shape.iter().try_fold(1usize, |a, &s| a.checked_mul(s));
    let n = match n {
        Some(n) if n > 0 && n <= MAX_VIEW_VOXELS => n,
        _ => {
            return Err(bad(format!(
                "shape {shape:?}: 1 to {MAX_VIEW_VOXELS} voxels"
            )))
        }
    };
    let volume = floats(&r.volume, n).ok_or_else(|| {
        bad(format!(
            "volume has {} bytes, not 4 x {n} (float32)",
            r.volume.len()
        ))
    })?;
    let t_map = if r.t_map.is_empty() {
        None
    } else {
        Some(floats(&r.t_map, n).ok_or_else(|| {
            bad(format!(
                "t_map has {} bytes, not 4 x {n} (float32)",
                r.t_map.len()
            ))
        })?)
    };
    let mut roi = vec![false; if r.roi_voxels.is_empty() { 0 } else { n }];
    for &i in &r.roi_voxels {
        *roi.get_mut(i as usize)
            .ok_or_else(|| bad(format!("ROI voxel {i} outside the {n}-voxel volume")))? = true;
    }
    let position = centre(&roi, shape);
    let grey = grey_levels(&volume);
    let slices = [("axial", 2), ("coronal", 1), ("sagittal", 0)]
        .into_iter()
        .map(|(plane, fixed)| slice(plane, fixed, position, shape, &grey, &roi, t_map.as_deref()))
        .collect();
    Ok(Shown {
        motion,
        brain: Some(BrainView {
            run: r.run,
            tr: r.tr,
            shape,
            position,
            t_threshold: if t_map.is_some() && r.t_threshold.is_finite() {
                r.t_threshold
            } else {
                0.0
            },
            slices,
        }),
    })
}

fn floats(bytes: &[u8], n: usize) -> Option<Vec<f32>> {
    (bytes.len() == 4 * n).then(|| {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    })
}

/// The ROI's centre voxel (rounded mean of its voxels), or the volume's middle.
fn centre(roi: &[bool], shape: [usize; 3]) -> [usize; 3] {
    let (mut sum, mut count) = ([0usize; 3], 0usize);
    for (i, _) in roi.iter().enumerate().filter(|(_, &inside)| inside) {
        let ijk = [
            i % shape[0],
            (i / shape[0]) % shape[1],
            i / (shape[0] * shape[1]),
        ];
        for a in 0..3 {
            sum[a] += ijk[a];
        }
        count += 1;
    }
    if count == 0 {
        return shape.map(|s| s / 2);
    }
    [0, 1, 2].map(|a| (sum[a] + count / 2) / count)
}

/// Grey levels 0..=255: 0 at zero (or below), 255 at the 99th percentile of the
/// positive voxels, so a few bright voxels do not darken the brain.
fn grey_levels(volume: &[f32]) -> Vec<u8> {
    let mut positive: Vec<f32> = volume
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let top = if positive.is_empty() {
        1.0
    } else {
        let k = (positive.len() - 1) * 99 / 100;
        *positive.select_nth_unstable_by(k, f32::total_cmp).1
    };
    volume
        .iter()
        .map(|&v| {
            if v.is_finite() && v > 0.0 {
                (v / top * 255.0).round().min(255.0) as u8
            } else {
                0
            }
        })
        .collect()
}

/// The plane through `position` that keeps axis `fixed` constant; the lower of the
/// two other axes runs along the width.
fn slice(
    plane: &'static str,
    fixed: usize,
    position: [usize; 3],
    shape: [usize; 3],
    grey: &[u8],
    roi: &[bool],
    t_map: Option<&[f32]>,
) -> Slice {
    let (u, v) = match fixed {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    let (width, height) = (shape[u], shape[v]);
    let index = |x: usize, y: usize| {
        let mut ijk = position;
        ijk[u] = x;
        ijk[v] = y;
        ijk[0] + shape[0] * (ijk[1] + shape[1] * ijk[2])
    };
    let cells = || (0..height).flat_map(|y| (0..width).map(move |x| index(x, y)));
    Slice {
        plane,
        width,
        height,
        grey: cells().map(|i| grey[i]).collect(),
        roi: if roi.is_empty() {
            Vec::new()
        } else {
            cells().map(|i| u8::from(roi[i])).collect()
        },
        t: match t_map {
            Some(t) => cells()
                .map(|i| {
                    let t = t[i];
                    if t.is_finite() {
                        (t * 10.0).round() / 10.0
                    } else {
                        0.0
                    }
                })
                .collect(),
            None => Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(shape: [u32; 3]) -> pb::ShowPreprocessingRequest {
        let n = (shape[0] * shape[1] * shape[2]) as usize;
        pb::ShowPreprocessingRequest {
            run: 1,
            tr: 3,
            shape: shape.to_vec(),
            volume: (0..n)
                .flat_map(|i| (i as f32).to_le_bytes())
                .collect::<Vec<u8>>()
                .into(),
            ..Default::default()
        }
    }

    #[test]
    fn slices_go_through_the_roi_centre_and_carry_its_outline_and_t() {
        let mut r = request([4, 5, 6]);
        // The ROI: voxels (1..3, 2, 4), i.e. centre (2, 2, 4) after rounding.
        r.roi_voxels = vec![1 + 4 * (2 + 5 * 4), 2 + 4 * (2 + 5 * 4)];
        r.t_map = (0..120)
            .flat_map(|i| (if i == 0 { f32::NAN } else { 0.25 * i as f32 }).to_le_bytes())
            .collect::<Vec<u8>>()
            .into();
        r.t_threshold = 3.0;
        let view = views(&r).expect("valid").brain.expect("a brain view");
        assert_eq!(view.position, [2, 2, 4]);
        let axial = &view.slices[0];
        assert_eq!((axial.plane, axial.width, axial.height), ("axial", 4, 5));
        // Axial (x = i, y = j) at k = 4: cell (1, 2) is voxel 1 + 4 * (2 + 20).
        assert_eq!(axial.roi[1 + 4 * 2], 1);
        assert_eq!(axial.roi.iter().filter(|&&v| v == 1).count(), 2);
        assert_eq!(axial.t[1 + 4 * 2], 22.3);
        let sagittal = &view.slices[2];
        assert_eq!((sagittal.width, sagittal.height), (5, 6));
        // Voxel 0 is the lowest positive-free value: black; the brightest is 255.
        assert_eq!(view.slices[1].grey.len(), 4 * 6);
        assert!(axial.grey.iter().all(|&g| g > 0));
    }

    #[test]
    fn bad_requests_name_the_field() {
        let mut r = request([4, 5, 6]);
        r.roi_voxels = vec![120];
        let e = views(&r).err().expect("refused");
        assert!(e.message().contains("ROI voxel 120"), "{}", e.message());
        let mut r = request([4, 5, 6]);
        r.volume = r.volume.slice(4..);
        assert!(views(&r)
            .err()
            .expect("refused")
            .message()
            .contains("volume has 476 bytes"));
        let mut r = request([4, 5, 6]);
        r.motion_params = vec![0.0; 5];
        assert!(views(&r)
            .err()
            .expect("refused")
            .message()
            .contains("5 numbers"));
        r.motion_params = vec![0.0, 0.0, f64::NAN, 0.0, 0.0, 0.0];
        assert!(views(&r)
            .err()
            .expect("refused")
            .message()
            .contains("finite"));
        let mut r = request([4, 5, 6]);
        r.shape = vec![0, 5, 6];
        assert!(views(&r)
            .err()
            .expect("refused")
            .message()
            .contains("shape"));
    }
}
