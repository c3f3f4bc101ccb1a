//! For the Python tests: a synthetic run (`--volumes`, the imaging crate's synthetic
//! scanner) written as dataset `ACCESSION` (subject, task, run) into `DIR/bucket`, then
//! served as OpenNeuro's S3 bucket over real TLS (openneuro::fixture) until stdin
//! closes. Prints `URL <base url>`, then `CA <ca.crt path>`, then every request as
//! `GET <path?query>` when stdin closes.
//!
//!   openneuro_fixture DIR ACCESSION SUBJECT TASK RUN VOLUMES

use std::io::Read;
use std::path::Path;

use bids::archive::raw_description;
use bids::{BidsArchive, EntitySource};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, accession, subject, task, run, volumes] = args.as_slice() else {
        return Err("usage: openneuro_fixture DIR ACCESSION SUBJECT TASK RUN VOLUMES".into());
    };
    let dir = Path::new(dir);
    let mut entities = EntitySource::default();
    for (k, v) in [
        ("sub", subject.as_str()),
        ("task", task),
        ("run", run),
        ("datatype", "func"),
        ("suffix", "bold"),
    ] {
        entities.set(k, v);
    }
    let volumes: usize = volumes.parse()?;
    let bids_run = bids::run::synthetic_run(&entities, volumes, 32, 12)?;
    let dataset = dir.join("bucket").join(accession);
    BidsArchive::open_or_new(&dataset, raw_description("fixture"))?.append_run(&bids_run, None)?;
    let certs = dir.join("certs");
    let server = openneuro::fixture::Fixture::start(&dir.join("bucket"), &certs)?;
    println!("URL {}", server.url);
    println!("CA {}", certs.join(security::certs::CA_CERT).display());
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest)?;
    for request in server.requests() {
        println!("GET {request}");
    }
    Ok(())
}
