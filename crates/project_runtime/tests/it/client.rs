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
