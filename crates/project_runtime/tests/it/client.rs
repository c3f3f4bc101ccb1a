//! The Rust client against the real project API: tokens, every kind of call, errors
//! that keep their meaning, and volumes identical to decoding the file directly.

use std::time::Duration;

use protocol::project::v1 as pb;
use rtcloud_client::ClientInterface;
use serde_json::json;

use crate::{controller, project_dir, WAIT};

const SKYRA: &str = "siemens-mosaic-skyra-e11";

#[tokio::test]
async fn calls_without_the_launch_token_are_refused() {
    let root = tempfile::tempdir().expect("temp dir");
    project_dir(root.path(), &[("p.sh", "true\n")]);
    let (_controller, api) = controller(root.path(), root.path(), WAIT).await;
    let addr = api.addr().to_string();

    let mut bare = pb::data_client::DataClient::connect(format!("http://{addr}"))
        .await
        .expect("connects");
    let status = bare.ping(pb::Empty {}).await.expect_err("no token");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert!(status.message().contains("RTCLOUD_TOKEN"), "{status:?}");

    let wrong = ClientInterface::connect(&addr, "not-the-token").await;
    assert_eq!(
        wrong.expect_err("wrong token").code(),
        Some(tonic::Code::Unauthenticated)
    );

    let token = api.issue_token();
    let client = ClientInterface::connect(&addr, &token)
        .await
        .expect("the launch's token opens it");
    client.data.ping().await.expect("ping");
    // The launch ended: its token no longer works.
    api.revoke_token(&token);
    let err = client.data.ping().await.expect_err("revoked");
    assert_eq!(err.code(), Some(tonic::Code::Unauthenticated));
}

#[tokio::test]
async fn every_call_reaches_the_session_or_the_disk_with_errors_that_keep_their_meaning() {
    let Some(testdata) = test_support::shared_testdata() else {
        return;
    };
    let scans = testdata.join(SKYRA);
    let root = tempfile::tempdir().expect("temp dir");
    project_dir(root.path(), &[("p.sh", "true\n")]);
    let (controller, api) = controller(root.path(), &scans, WAIT).await;
    let client = ClientInterface::connect(&api.addr().to_string(), &api.issue_token())
        .await
        .expect("connects");
    assert!(!client.is_data_remote());
    assert!(!client.is_subject_remote());
    let session = controller.session();

    // Data: files, listing, a scanner stream decoded exactly as the file itself.
    let dir = scans.to_str().expect("utf-8 path");
    let listed = client
        .data
        .list_files(&format!("{dir}/*.dcm"))
        .await
        .expect("lists");
    assert_eq!(listed.len(), 11);
    let file = scans.join("001_000013_000003.dcm");
    let bytes = client
        .data
        .get_file(file.to_str().expect("utf-8"))
        .await
        .expect("reads");
    assert_eq!(bytes, std::fs::read(&file).expect("file"));
    let stream = client
        .data
        .init_scanner_stream(dir, "001_000013_{TR:06d}.dcm", 100_000, false)
        .await
        .expect("stream opens");
    let volume = client
        .data
        .get_image_volume(&stream, 3, WAIT)
        .await
        .expect("volume 3");
    let direct = imaging::volume_from_file(&bytes).expect("decodes");
    assert_eq!(volume.voxels, direct.voxels);
    assert_eq!(volume.affine, direct.affine);
    assert_eq!(volume.slice_timing_s, direct.slice_timing_s);
    assert_eq!(volume.tr_s, direct.tr_s);
    let dicom = client
        .data
        .get_image_data(&stream, 4, WAIT)
        .await
        .expect("volume 4");
    assert_eq!(
        dicom,
        std::fs::read(scans.join("001_000013_000004.dcm")).expect("file")
    );
    let again = client.data.get_image_data(&stream, 4, WAIT).await;
    assert_eq!(
        again.expect_err("once").code(),
        Some(tonic::Code::FailedPrecondition)
    );
    client
        .data
        .close_scanner_stream(&stream)
        .await
        .expect("closes");

    let outside = client
        .data
        .get_file("/etc/passwd")
        .await
        .expect_err("refused");
    assert_eq!(outside.code(), Some(tonic::Code::PermissionDenied));
    assert!(
        outside.to_string().contains("outside the allowed folders"),
        "{outside}"
    );
    let missing = client
        .data
        .get_file(&format!("{dir}/no-such.dcm"))
        .await
        .expect_err("missing");
    assert_eq!(missing.code(), Some(tonic::Code::NotFound), "{missing}");
    let late = client
        .data
        .watch_file("never.dcm", Duration::from_millis(50))
        .await
        .expect_err("not watching yet");
    assert!(late.code().is_some(), "{late}");

    // Subject: results are filed; responses come back.
    client
        .subject
        .set_result(1, 3, 0.25, 100.0)
        .await
        .expect("result");
    client
        .subject
        .set_result_dict(&json!({"runId": 1, "trId": 4, "value": [1, 2]}), 0.0)
        .await
        .expect("dict");
    client.subject.set_message("relax").await.expect("message");
    let results = session.results_after(0);
    assert_eq!(results.len(), 2);
    assert_eq!(
        (results[0].run, results[0].tr, results[0].onset_delay_ms),
        (1, 3, 100.0)
    );
    assert_eq!(results[0].value, json!(0.25));
    assert_eq!((results[1].run, results[1].tr), (1, 4));
    assert_eq!(session.messages()[0].1, "relax");

    assert!(client
        .subject
        .get_response(1, 3)
        .await
        .expect("asks")
        .is_none());
    session.add_response(1, 3, json!({"key": "left"}));
    let response = client
        .subject
        .get_response(1, 3)
        .await
        .expect("asks")
        .expect("has one");
    assert_eq!(response.value, json!({"key": "left"}));
    assert_eq!(
        client.subject.get_all_responses().await.expect("all").len(),
        1
    );

    // Web: plots and logs.
    client.web.plot_data_point(1, 3, 308.5).await.expect("plot");
    client.web.plot_data_point(2, 1, 1.0).await.expect("plot");
    client.web.clear_run_plot(2).await.expect("clear");
    assert_eq!(session.plots()[&1], vec![(3, 308.5)]);
    assert!(!session.plots().contains_key(&2));
    client
        .web
        .user_log("for the experimenter")
        .await
        .expect("log");
    client
        .web
        .set_user_error("motion too large")
        .await
        .expect("error");
    assert_eq!(session.user_error().as_deref(), Some("motion too large"));
    assert!(session
        .logs()
        .iter()
        .any(|l| l.kind == session::LogKind::User && l.text == "for the experimenter"));
    client.web.clear_all_plots().await.expect("clear all");
    assert!(session.plots().is_empty());
}

/// A bad file in the scanner folder fails its own volume only: get_image_data raises an
/// error naming the file (DATA_LOSS), the session log shows it, the next volume comes.
#[tokio::test]
async fn a_bad_scanner_file_fails_its_volume_and_the_stream_goes_on() {
    let Some(testdata) = test_support::shared_testdata() else {
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");
    let scans = tempfile::tempdir().expect("scanner folder");
    for index in [1, 2, 4] {
        let name = format!("001_000013_{index:06}.dcm");
        std::fs::copy(testdata.join(SKYRA).join(&name), scans.path().join(&name)).expect("copy");
    }
    std::fs::write(scans.path().join("001_000013_000003.dcm"), b"").expect("empty file");
    project_dir(root.path(), &[("p.sh", "true\n")]);
    let (controller, api) = controller(root.path(), scans.path(), WAIT).await;
    let client = ClientInterface::connect(&api.addr().to_string(), &api.issue_token())
        .await
        .expect("connects");
    let stream = client
        .data
        .init_scanner_stream(
            scans.path().to_str().expect("utf-8"),
            "001_000013_{TR:06d}.dcm",
            0,
            false,
        )
        .await
        .expect("stream opens");
    for index in [1, 2] {
        client
            .data
            .get_image_data(&stream, index, WAIT)
            .await
            .unwrap_or_else(|e| panic!("volume {index}: {e}"));
    }
    let bad = client
        .data
        .get_image_data(&stream, 3, WAIT)
        .await
        .expect_err("an empty file is no volume");
    assert_eq!(bad.code(), Some(tonic::Code::DataLoss), "{bad}");
    assert!(bad.to_string().contains("001_000013_000003.dcm"), "{bad}");
    assert!(bad.to_string().contains("empty"), "{bad}");
    let next = client
        .data
        .get_image_data(&stream, 4, WAIT)
        .await
        .expect("the stream goes on");
    assert_eq!(
        next,
        std::fs::read(scans.path().join("001_000013_000004.dcm")).expect("file")
    );
    let logged = controller
        .session()
        .logs()
        .into_iter()
        .any(|l| l.kind == session::LogKind::Error && l.text.contains("001_000013_000003.dcm"));
    assert!(logged, "the session log names the bad file");
}

/// The Preprocess service through the Rust client: motion parameters, FD and DVARS of
/// the Skyra run equal the same correction done in-process with crate `realtime`, the
/// corrected volume comes back in the reference grid, the GLM gives a t-map, and bad
/// calls fail with a message naming what was wrong.
#[tokio::test]
async fn preprocessing_through_the_api_equals_the_in_process_result() {
    let Some(testdata) = test_support::shared_testdata() else {
        return;
    };
    let scans = testdata.join(SKYRA);
    let root = tempfile::tempdir().expect("temp dir");
    project_dir(root.path(), &[("p.sh", "true\n")]);
    let (_controller, api) = controller(root.path(), &scans, WAIT).await;
    let client = ClientInterface::connect(&api.addr().to_string(), &api.issue_token())
        .await
        .expect("connects");
    let volumes: Vec<imaging::Volume> = (1..=10)
        .map(|k| {
            let file = scans.join(format!("001_000013_{k:06}.dcm"));
            imaging::volume_from_file(&std::fs::read(file).expect("file")).expect("volume")
        })
        .collect();

    let reference = &volumes[0];
    let grid = realtime::Grid::of(reference).expect("grid");
    let data = realtime::grid::volume_f32(reference);
    let brain = realtime::mask::Mask::brain(&data, &grid, 0.15).expect("brain");
    let mut corrector =
        realtime::MotionCorrector::new(&data, grid.clone(), realtime::MotionConfig::default())
            .expect("reference");
    let mut quality = realtime::QualityTracker::new(brain.indices.clone(), Default::default());

    let id = client
        .preprocess
        .init_motion_correction(reference)
        .await
        .expect("motion state");
    for (k, volume) in volumes.iter().enumerate() {
        let moving = realtime::grid::volume_f32(volume);
        let (estimate, corrected) = corrector.correct(&moving, &grid).expect("in-process");
        let q = quality.push(&estimate.params, corrected).expect("quality");
        let remote = client
            .preprocess
            .correct_motion(&id, volume, k == 9)
            .await
            .expect("corrected");
        assert_eq!(remote.params, estimate.params.as_array(), "TR {}", k + 1);
        assert_eq!(
            (remote.fd_mm, remote.dvars),
            (q.fd_mm, q.dvars),
            "TR {}",
            k + 1
        );
        if k == 9 {
            let back = remote.corrected.expect("asked for the volume");
            assert_eq!(realtime::grid::volume_f32(&back), corrected);
            assert_eq!(back.voxels.shape(), grid.shape);
        }
    }

    let mask = imaging::Volume {
        voxels: imaging::Voxels::F32(ndarray::Array3::from_shape_fn(
            (grid.shape[0], grid.shape[1], grid.shape[2]),
            |(i, j, k)| f32::from(brain.contains(grid.index(i, j, k))),
        )),
        scaling: imaging::Scaling::IDENTITY,
        ..reference.clone()
    };
    let spec = rtcloud_client::GlmSpec {
        tr_s: 2.0,
        volumes: 10,
        conditions: vec![("task".into(), vec![4.0, 12.0], vec![4.0, 4.0])],
        cutoff_s: 0.0,
        motion: false,
        motion_derivatives: false,
    };
    let glm = client
        .preprocess
        .init_glm(&spec, &mask)
        .await
        .expect("GLM state");
    let mut t_map = None;
    for volume in &volumes {
        t_map = Some(
            client
                .preprocess
                .update_glm(&glm, volume, None)
                .await
                .expect("t-map"),
        );
    }
    let t_map = realtime::grid::volume_f32(&t_map.expect("ten TRs"));
    assert!(brain.indices.iter().all(|&i| t_map[i].is_finite()));
    assert!(t_map
        .iter()
        .enumerate()
        .all(|(i, &t)| brain.contains(i) || t == 0.0));

    let err = client
        .preprocess
        .correct_motion("pre-999", reference, false)
        .await
        .expect_err("no such state");
    assert_eq!(err.code(), Some(tonic::Code::NotFound), "{err}");
    let mut small = reference.clone();
    small.voxels = imaging::Voxels::I16(ndarray::Array3::zeros((8, 8, 4)));
    let err = client
        .preprocess
        .update_glm(&glm, &small, None)
        .await
        .expect_err("another shape");
    assert_eq!(err.code(), Some(tonic::Code::InvalidArgument), "{err}");
    client.preprocess.close(&id).await.expect("closed");
    client.preprocess.close(&glm).await.expect("closed");
    let err = client.preprocess.close(&id).await.expect_err("gone");
    assert_eq!(err.code(), Some(tonic::Code::NotFound), "{err}");
}

/// Protocol QA (issue 12): `get_qa_report` answers from the analyser's verdicts, by a
/// series' id or its end, the newest when empty, NOT_FOUND before any.
#[tokio::test]
async fn get_qa_report_gives_the_verdict_on_a_series() {
    use project_runtime::qa::SeriesVerdict;
    use protocol_qa::{AcquisitionRecord, Template};
    let Some(testdata) = test_support::shared_testdata() else {
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");
    project_dir(root.path(), &[("p.sh", "true\n")]);
    let (_controller, api) = controller(root.path(), root.path(), WAIT).await;
    let client = ClientInterface::connect(&api.addr().to_string(), &api.issue_token())
        .await
        .expect("connects");
    let none = client
        .get_qa_report("")
        .await
        .expect_err("nothing seen yet");
    assert_eq!(none.code(), Some(tonic::Code::NotFound));

    let read = |file: &str| {
        let bytes = std::fs::read(testdata.join("siemens-mosaic-d13").join(file)).expect("read");
        AcquisitionRecord::from_dicom(&bytes).expect("a record")
    };
    let template = Template::learn(&[read("cmrr_Asc_6/IM-0005-0001.dcm")]).remove(0);
    let check = template.check(&read("ep2d_Asc_2/IM-0001-0001.dcm"));
    api.qa_board().publish(SeriesVerdict {
        station: String::new(),
        series: "scans/20261201/001_000002".into(),
        session: "scans/20261201/001".into(),
        first_file: "scans/20261201/001_000002_000001.dcm".into(),
        seen_at: 0.0,
        repeat: 1,
        skipped: Vec::new(),
        error: None,
        verdict: check.verdict(),
        check: Some(check),
    });
    for series in ["001_000002", "scans/20261201/001_000002", ""] {
        let report = client.get_qa_report(series).await.expect("the verdict");
        assert_eq!(report.series, "scans/20261201/001_000002");
        assert_eq!(report.verdict, "red");
        assert_eq!(report.template, "Research^Rorden_Prisma / cmrr_Asc");
        let flip = report
            .parameters
            .iter()
            .find(|p| p.parameter == "flip_angle_deg")
            .expect("flip");
        assert_eq!(
            (
                flip.series_value.as_str(),
                flip.template_value.as_str(),
                flip.verdict.as_str()
            ),
            ("90", "52", "red")
        );
    }
    let other = client
        .get_qa_report("001_000003")
        .await
        .expect_err("not seen");
    assert_eq!(other.code(), Some(tonic::Code::NotFound));
}
