//! `Run`: a 4D series built volume by volume equals dcm2niix's 4D file.

use imaging::run::Run;
use imaging::Voxels;
use ndarray::{Array3, ShapeBuilder};

use super::{assert_headers_match, frames_of, parse_header, volume_from_reference};
use crate::testdata::shared_testdata;

#[test]
fn streamed_run_equals_the_reference_4d_file() {
    let Some(td) = shared_testdata() else { return };
    let path = td.join("ref/siemens-mosaic-skyra-e11/series.nii");
    let bytes = std::fs::read(&path).expect("read reference");
    let theirs = parse_header(&bytes);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path.with_extension("json")).expect("json"))
            .expect("json parses");
    let mut volumes = frames_of(&theirs, &bytes)
        .into_iter()
        .map(|frame| volume_from_reference(&theirs, frame, &json));
    let mut run = Run::new(volumes.next().expect("a first volume"));
    for v in volumes {
        run.push(v).expect("same geometry");
    }
    assert_eq!(run.len(), 10);
    for gz in [false, true] {
        let mut ours = run.to_nifti(gz).expect("write run");
        if gz {
            let mut plain = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&ours[..]), &mut plain)
                .expect("gunzip");
            ours = plain;
        }
        assert_headers_match(&parse_header(&ours), &theirs, "skyra run");
        assert_eq!(ours.len(), bytes.len(), "file size");
        assert!(
            ours[352..] == bytes[352..],
            "run voxels equal the reference's"
        );
    }
    let sidecar = run.sidecar();
    assert_eq!(sidecar["RepetitionTime"], serde_json::json!(1.5));
    assert_eq!(sidecar["SliceTiming"].as_array().map(Vec::len), Some(27));
}

#[test]
fn push_refuses_a_different_volume() {
    let Some(td) = shared_testdata() else { return };
    let path = td.join("ref/siemens-mosaic-skyra-e11/vol_13_000003.nii");
    let bytes = std::fs::read(&path).expect("read reference");
    let h = parse_header(&bytes);
    let frame = frames_of(&h, &bytes).remove(0);
    let first = volume_from_reference(&h, frame, &serde_json::Value::Null);
    let mut run = Run::new(first.clone());

    let mut moved = first.clone();
    moved.affine[0][3] += 0.01;
    let err = run.push(moved).expect_err("moved slab");
    assert!(err.to_string().contains("affine[0][3]"), "{err}");

    let mut small = first.clone();
    small.voxels = Voxels::I16(Array3::zeros((64, 64, 26).f()));
    let err = run.push(small).expect_err("other shape");
    assert!(err.to_string().contains("shape [64, 64, 26]"), "{err}");

    let mut unsigned = first.clone();
    unsigned.voxels = Voxels::U16(Array3::zeros((64, 64, 27).f()));
    let err = run.push(unsigned).expect_err("other type");
    assert!(err.to_string().contains("datatype 512"), "{err}");

    let mut nudged = first.clone();
    nudged.affine[2][3] += 0.0005;
    run.push(nudged)
        .expect("within 1e-3 mm is the same position");
    assert_eq!(run.len(), 2);
}
