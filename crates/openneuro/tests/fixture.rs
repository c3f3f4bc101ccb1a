//! The OpenNeuro stream's download against a local HTTPS server laid out as OpenNeuro's
//! public S3 bucket (real TLS with a test CA): only the run's files are fetched, the
//! cache is reused without a request, and unknown datasets or subjects are named.

use bids::archive::raw_description;
use bids::{BidsArchive, BidsRun, EntitySource};
use openneuro::fixture::Fixture;
use openneuro::OpenNeuro;

/// A synthetic run of `volumes` volumes with the given entities.
fn run(subject: &str, run: &str, volumes: usize) -> BidsRun {
    let mut entities = wanted(subject, run);
    entities.set("task", "faces");
    bids::run::synthetic_run(&entities, volumes, 32, 12).expect("a synthetic run")
}

fn wanted(subject: &str, run: &str) -> EntitySource {
    let mut w = EntitySource::default();
    w.set("sub", subject);
    w.set("run", run);
    w.set("suffix", "bold");
    w.set("datatype", "func");
    w
}

#[test]
fn a_run_is_fetched_once_and_unknown_names_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bucket = dir.path().join("bucket");
    let dataset = BidsArchive::open_or_new(bucket.join("ds000001"), raw_description("fixture"))
        .expect("new dataset");
    for (subject, number) in [("01", "01"), ("01", "02"), ("02", "01")] {
        dataset
            .append_run(&run(subject, number, 3), None)
            .expect("appended");
    }
    let certs = dir.path().join("certs");
    let server = Fixture::start(&bucket, &certs).expect("fixture");
    let cache = dir.path().join("cache");
    let client = OpenNeuro::new(&server.url, &cache, Some(&server.ca_pem)).expect("client");

    let root = client
        .fetch("ds000001", &wanted("01", "1"))
        .expect("fetched");
    let fetched: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| !r.contains("list-type"))
        .collect();
    let mut names: Vec<&str> = fetched
        .iter()
        .map(|r| r.trim_start_matches("/openneuro.org/ds000001/"))
        .collect();
    names.sort();
    // The top-level files and run 1 of subject 01: image and sidecar, nothing else.
    assert_eq!(
        names,
        [
            "README",
            "dataset_description.json",
            "participants.tsv",
            "sub-01/func/sub-01_task-faces_run-01_bold.json",
            "sub-01/func/sub-01_task-faces_run-01_bold.nii.gz",
        ]
    );
    let cached = BidsArchive::open(&root).expect("a dataset");
    let entities = cached.find_run(&wanted("01", "1")).expect("the run");
    let replayed = cached.read_run(&entities).expect("readable");
    let original = dataset.read_run(&entities).expect("readable");
    assert_eq!(replayed.len(), 3);
    for t in 0..3 {
        let (a, b) = (replayed.incremental(t), original.incremental(t));
        let (a, b) = (a.expect("volume"), b.expect("volume"));
        assert_eq!(a.image_data(), b.image_data(), "volume {t}");
        assert_eq!(a.metadata(), b.metadata(), "volume {t}");
    }

    // The second stream of the same run makes no request at all.
    let before = server.requests().len();
    assert_eq!(
        client
            .fetch("ds000001", &wanted("01", "1"))
            .expect("cached"),
        root
    );
    assert_eq!(server.requests().len(), before, "{:?}", server.requests());
    // A file lost from the cache is fetched again, alone.
    let image = root.join("sub-01/func/sub-01_task-faces_run-01_bold.nii.gz");
    std::fs::remove_file(&image).expect("removed");
    client
        .fetch("ds000001", &wanted("01", "1"))
        .expect("refetched");
    let again: Vec<String> = server.requests()[before..]
        .iter()
        .filter(|r| !r.contains("list-type"))
        .cloned()
        .collect();
    assert_eq!(
        again,
        ["/openneuro.org/ds000001/sub-01/func/sub-01_task-faces_run-01_bold.nii.gz"]
    );

    let err = client
        .fetch("ds999999", &wanted("01", "1"))
        .expect_err("unknown dataset");
    assert!(
        err.to_string()
            .starts_with("OpenNeuro has no dataset ds999999"),
        "{err}"
    );
    let err = client
        .fetch("ds000001", &wanted("07", "1"))
        .expect_err("unknown subject");
    assert_eq!(
        err.to_string(),
        "OpenNeuro dataset ds000001 has no subject \"07\" (its subjects: 01, 02)"
    );
    let err = client
        .fetch("ds000001", &wanted("02", "5"))
        .expect_err("no such run");
    assert!(
        err.to_string().contains("no image with sub-02, run-5"),
        "{err}"
    );
    let err = client
        .fetch("ds1x", &wanted("01", "1"))
        .expect_err("not an accession");
    assert!(
        err.to_string().contains("not an OpenNeuro accession"),
        "{err}"
    );
}
