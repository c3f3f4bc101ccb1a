//! The Bids service through the Rust client, on the analyser's disk: a DICOM stream
//! gives the volumes the scanner stream gives with entities from the call, the launch's
//! settings and the defaults; a dataset written by the archive streams back the same
//! incrementals; errors name what was wrong.

use bids::archive::raw_description;
use bids::{BidsArchive, BidsRun, EntitySource};
use rtcloud_client::ClientInterface;
use session::LaunchKind;

use crate::{controller, project_dir, WAIT};

const SKYRA: &str = "siemens-mosaic-skyra-e11";

fn source(pairs: &[(&str, &str)]) -> EntitySource {
    let mut s = EntitySource::default();
    for (k, v) in pairs {
        s.set(k, v);
    }
    s
}

/// A DICOM BIDS stream of the Skyra files in `dir` from TR 0.
async fn dicom_stream(
    client: &ClientInterface,
    dir: &str,
    entities: &EntitySource,
) -> rtcloud_client::BidsStream {
    client
        .bids
        .init_dicom_bids_stream(dir, "001_000013_{TR:06d}.dcm", 0, true, entities)
        .await
        .expect("opens")
}

#[tokio::test]
async fn dicom_and_dataset_streams_give_the_same_incrementals() {
    let Some(testdata) = test_support::shared_testdata() else {
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("data");
    let scans = data.join("scans");
    std::fs::create_dir_all(&scans).expect("scans");
    for tr in 0..4 {
        let name = format!("001_000013_{tr:06}.dcm");
        std::fs::copy(testdata.join(SKYRA).join(&name), scans.join(&name)).expect("copy");
    }
    project_dir(root.path(), &[("p.sh", "true\n")]);
    let (controller, api) = controller(root.path(), &data, WAIT).await;
    // A running launch whose settings name the subject (as RT-Cloud's subjectName).
    let launch = controller.session().begin_launch(
        LaunchKind::Main,
        &[1],
        &[13],
        "subjectName = \"sub-01\"\ntaskName = \"faces\"\n",
    );
    controller.session().flush(); // the launch's config.toml on disk
    let client = ClientInterface::connect(&api.addr().to_string(), &api.issue_token())
        .await
        .expect("connects");
    let dir = scans.to_str().expect("utf-8");

    // Entities: the call's run, the settings' subject and task, func/bold by default;
    // a label that is not a BIDS label is cleaned, and the stream says so.
    let stream = dicom_stream(&client, dir, &source(&[("run", "1"), ("acq", "ep_2d")])).await;
    assert_eq!(stream.notes.len(), 1, "{:?}", stream.notes);
    assert!(
        stream.notes[0].contains("acquisition \"ep_2d\""),
        "{:?}",
        stream.notes
    );
    let err = client
        .bids
        .get_num_volumes(&stream)
        .await
        .expect_err("unknown length");
    assert_eq!(err.code(), Some(tonic::Code::FailedPrecondition), "{err}");
    let scanner = client
        .data
        .init_scanner_stream_at(dir, "001_000013_{TR:06d}.dcm", 0, true, 0)
        .await
        .expect("scanner stream");
    let mut run = BidsRun::new();
    for tr in 0..4 {
        let (index, inc) = client
            .bids
            .get_incremental(&stream, None, WAIT)
            .await
            .expect("incremental");
        assert_eq!(index, tr);
        // The session from the file's BIDS-style ProtocolName
        // (func_ses-01_task-faces_run-01), the rest from the call.
        assert_eq!(
            inc.entities().stem(),
            "sub-01_ses-01_task-faces_acq-ep2d_run-1_bold"
        );
        assert_eq!(inc.metadata()["RepetitionTime"], serde_json::json!(1.5));
        let volume = client
            .data
            .get_image_volume(&scanner, tr, WAIT)
            .await
            .expect("volume");
        assert_eq!(inc.image_data(), &volume.voxels, "TR {tr}");
        run.append(inc).expect("fits the run");
    }
    client.bids.close_stream(&stream).await.expect("closes");

    // The run written by the archive streams back the same incrementals.
    let dataset = data.join("bids");
    BidsArchive::open_or_new(&dataset, raw_description("test"))
        .expect("dataset")
        .append_run(&run, None)
        .expect("appended");
    let path = dataset.to_str().expect("utf-8");
    let replay = client
        .bids
        .init_bids_stream(path, &source(&[("sub", "01"), ("run", "01")]))
        .await
        .expect("opens");
    assert_eq!(replay.num_volumes, 4);
    for t in 0..4u32 {
        let (index, inc) = client
            .bids
            .get_incremental(&replay, Some(t), WAIT)
            .await
            .expect("incremental");
        let expected = run.incremental(t as usize).expect("volume");
        assert_eq!(index, t);
        assert_eq!(inc.image_data(), expected.image_data(), "volume {t}");
        // BIDS keeps one sidecar per run: what differed per volume (AcquisitionTime ...)
        // is the run's first volume's after the round trip.
        assert_eq!(Some(inc.metadata()), run.metadata(), "volume {t}");
    }
    let past = client.bids.get_incremental(&replay, None, WAIT).await;
    assert_eq!(
        past.expect_err("past the end").code(),
        Some(tonic::Code::OutOfRange)
    );

    let err = client
        .bids
        .init_bids_stream(path, &source(&[("sub", "01"), ("run", "2")]))
        .await
        .expect_err("no run 2");
    assert_eq!(err.code(), Some(tonic::Code::NotFound), "{err}");
    assert!(
        err.to_string()
            .contains("sub-01_ses-01_task-faces_acq-ep2d_run-1_bold"),
        "{err}"
    );
    // The dataset as the script named it, not the analyser's private copy.
    assert!(err.to_string().contains(&format!(" in {path} (")), "{err}");
    let outside = root.path().join("elsewhere");
    let err = client
        .bids
        .init_bids_stream(outside.to_str().expect("utf-8"), &source(&[("sub", "01")]))
        .await
        .expect_err("outside the allowed folders");
    assert!(err.to_string().contains("is not a BIDS dataset"), "{err}");

    // Without a launch's settings and without a subject, the first volume says so.
    controller
        .session()
        .end_launch(launch.number, "exit 0", true)
        .expect("ended");
    let stream = dicom_stream(&client, dir, &source(&[("task", "faces")])).await;
    let err = client
        .bids
        .get_incremental(&stream, Some(0), WAIT)
        .await
        .expect_err("no subject");
    assert_eq!(err.code(), Some(tonic::Code::InvalidArgument), "{err}");
    assert!(err.to_string().contains("BIDS requires subject"), "{err}");
}
