//! Runs tests/sitk_register.py (SimpleITK) on volumes; shared by the SimpleITK test and
//! the preprocessing benchmark (which includes this file by path).

use std::process::Command;

use realtime::RigidParams;

/// Runs tests/sitk_register.py on `volumes` and returns its parameters (in our
/// convention) and seconds per registration.
pub fn simpleitk_register(
    python: &std::path::Path,
    reference: &[f32],
    grid: &realtime::Grid,
    volumes: &[Vec<f32>],
) -> Vec<(RigidParams, f64)> {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path();
    let write = |name: &str, data: &[f32]| {
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(dir.join(name), bytes).expect("write volume");
    };
    write("reference.f32", reference);
    for (n, v) in volumes.iter().enumerate() {
        write(&format!("moved_{n}.f32"), v);
    }
    let affine: Vec<Vec<f64>> = (0..4)
        .map(|r| (0..4).map(|c| grid.affine[(r, c)]).collect())
        .collect();
    let centre = grid.centre();
    let geometry = serde_json::json!({
        "shape": grid.shape, "affine_ras": affine,
        "centre_ras": [centre.x, centre.y, centre.z], "volumes": volumes.len(),
    });
    std::fs::write(dir.join("geometry.json"), geometry.to_string()).expect("write geometry");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sitk_register.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(dir)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "sitk_register.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.join("sitk.json")).expect("sitk.json"))
            .expect("json");
    results
        .iter()
        .map(|r| {
            let m = &r["matrix_ras"];
            let at = |i: usize, j: usize| m[i][j].as_f64().expect("number");
            let matrix = nalgebra::Matrix4::from_fn(at);
            let rotation =
                nalgebra::Rotation3::from_matrix(&matrix.fixed_view::<3, 3>(0, 0).into_owned());
            let iso = nalgebra::Isometry3::from_parts(
                nalgebra::Translation3::new(at(0, 3), at(1, 3), at(2, 3)),
                nalgebra::UnitQuaternion::from_rotation_matrix(&rotation),
            );
            (
                RigidParams::from_isometry(&iso, &centre),
                r["seconds"].as_f64().expect("seconds"),
            )
        })
        .collect()
}
