//! Rigid-body motion parameters and their convention.
//!
//! # Convention (this crate's, stated once)
//! - Frame: RAS+ millimetres of the *reference* grid (x = right, y = anterior,
//!   z = superior), as in the NIfTI sform that dcm2niix writes.
//! - Six numbers: `translation_mm = [tx, ty, tz]` along x, y, z and
//!   `rotation_deg = [rx, ry, rz]` about x (pitch), y (roll), z (yaw), right-handed.
//! - Rotation matrix `R = Rz(rz) · Ry(ry) · Rx(rx)` (x applied first), about the centre
//!   `c` of the reference grid (world position of voxel ((n-1)/2, (n-1)/2, (n-1)/2)).
//! - Direction: the parameters map a point `x` of the reference to where that tissue is
//!   in the moving volume, `y = R (x - c) + c + t`. So a head that moved 1 mm to the
//!   right has `tx = +1`, and the corrected volume is `moving(T(x))` sampled on the
//!   reference grid. This is the direction of ITK's (SimpleITK's) fixed-to-moving
//!   transform with fixed = reference, which the SimpleITK test compares against.
//!
//! # Mapping to other tools
//! - AFNI 3dvolreg `-1Dfile` columns are `roll pitch yaw dS dL dP` (degrees, mm) in
//!   AFNI's DICOM (RAI = LPS-like) order: roll is about the inferior-superior axis
//!   (our `rz`), pitch about right-left (our `rx`), yaw about anterior-posterior (our
//!   `ry`); dS is our `tz`, dL is `-tx` and dP is `-ty` (L and P are minus R and A).
//!   3dvolreg also rotates about the dataset centre. AFNI reports the transform that
//!   moves the volume back onto the base, so its signs can be opposite to ours; check
//!   one volume with a known shift before comparing signs.
//! - FSL mcflirt `.par` columns are `rx ry rz` (radians) then `tx ty tz` (mm) in FSL's
//!   scaled-voxel frame (origin at a corner voxel, x flipped when the stored image has a
//!   positive-determinant affine), rotating about the volume's centre of gravity; to
//!   compare, convert radians to degrees and map FSL's axes through the image affine.
//! - Framewise displacement is the same number in every convention (Power et al. 2012):
//!   see [`framewise_displacement_mm`].

use nalgebra::{Isometry3, Rotation3, Translation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

/// The six rigid-body parameters in this crate's convention (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RigidParams {
    /// `[tx, ty, tz]`, mm along RAS+ x, y, z.
    pub translation_mm: [f64; 3],
    /// `[rx, ry, rz]`, degrees about RAS+ x, y, z; `R = Rz · Ry · Rx`.
    pub rotation_deg: [f64; 3],
}

impl RigidParams {
    /// The map `x -> R (x - c) + c + t` as an isometry of world space.
    pub fn to_isometry(&self, centre: &Vector3<f64>) -> Isometry3<f64> {
        let [rx, ry, rz] = self.rotation_deg.map(f64::to_radians);
        let rotation =
            UnitQuaternion::from_rotation_matrix(&Rotation3::from_euler_angles(rx, ry, rz));
        let t = Vector3::from(self.translation_mm);
        let shift = centre - rotation * centre + t;
        Isometry3::from_parts(Translation3::from(shift), rotation)
    }

    /// The parameters of an isometry about `centre` (the inverse of [`Self::to_isometry`]).
    pub fn from_isometry(iso: &Isometry3<f64>, centre: &Vector3<f64>) -> RigidParams {
        let (rx, ry, rz) = iso.rotation.euler_angles();
        let t = iso.translation.vector - centre + iso.rotation * centre;
        RigidParams {
            translation_mm: [t.x, t.y, t.z],
            rotation_deg: [rx, ry, rz].map(f64::to_degrees),
        }
    }

    /// `[tx, ty, tz, rx, ry, rz]` (mm, degrees): the column order of the motion
    /// regressors.
    pub fn as_array(&self) -> [f64; 6] {
        let [tx, ty, tz] = self.translation_mm;
        let [rx, ry, rz] = self.rotation_deg;
        [tx, ty, tz, rx, ry, rz]
    }

    pub fn from_array(p: [f64; 6]) -> RigidParams {
        RigidParams {
            translation_mm: [p[0], p[1], p[2]],
            rotation_deg: [p[3], p[4], p[5]],
        }
    }
}

/// Radius of the sphere on which rotations become displacements, mm (Power et al. 2012:
/// "the approximate mean distance from the cerebral cortex to the centre of the head").
pub const FD_RADIUS_MM: f64 = 50.0;

/// Framewise displacement (Power et al. 2012, NeuroImage 59:2142): the sum of the
/// absolute differences of the six parameters between two successive volumes, with
/// rotations converted to arc length on a 50 mm sphere. In mm.
pub fn framewise_displacement_mm(previous: &RigidParams, current: &RigidParams) -> f64 {
    let translation: f64 = (0..3)
        .map(|a| (current.translation_mm[a] - previous.translation_mm[a]).abs())
        .sum();
    let rotation: f64 = (0..3)
        .map(|a| (current.rotation_deg[a] - previous.rotation_deg[a]).abs())
        .sum();
    translation + FD_RADIUS_MM * rotation.to_radians()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isometry_round_trips_and_rotates_in_the_stated_order() {
        let c = Vector3::new(1.0, -12.0, 10.0);
        let p = RigidParams {
            translation_mm: [1.5, -0.7, 2.0],
            rotation_deg: [2.0, -1.0, 3.0],
        };
        let back = RigidParams::from_isometry(&p.to_isometry(&c), &c);
        for a in 0..3 {
            assert!((back.translation_mm[a] - p.translation_mm[a]).abs() < 1e-9);
            assert!((back.rotation_deg[a] - p.rotation_deg[a]).abs() < 1e-9);
        }
        // A pure yaw of +90 degrees turns +x (right) into +y (anterior) about the centre.
        let yaw = RigidParams {
            translation_mm: [0.0; 3],
            rotation_deg: [0.0, 0.0, 90.0],
        };
        let moved = yaw.to_isometry(&c) * nalgebra::Point3::from(c + Vector3::x());
        assert!((moved.coords - (c + Vector3::y())).norm() < 1e-9);
    }

    #[test]
    fn framewise_displacement_follows_power_2012() {
        let a = RigidParams::default();
        let b = RigidParams {
            translation_mm: [0.1, -0.2, 0.0],
            rotation_deg: [0.0, 0.0, 1.0],
        };
        let expected = 0.3 + 50.0 * 1f64.to_radians();
        assert!((framewise_displacement_mm(&a, &b) - expected).abs() < 1e-12);
    }
}
