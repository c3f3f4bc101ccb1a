//! OpenNeuro's public datasets (<https://openneuro.org>), one run at a time, into a local
//! cache that later runs reuse.
//!
//! OpenNeuro publishes every public dataset in the S3 bucket `openneuro.org`, one
//! folder per accession number (`ds002338/`), laid out as a BIDS dataset. RT-Cloud's
//! `OpenNeuroCache` syncs from it the top-level files and the files of the wanted
//! subject and run. This crate does the same with S3's public REST API (ListObjectsV2,
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html>, then one GET
//! per file): only the files the run needs, each written atomically, and a record of a
//! finished download so that the next run of the same selection makes no request.
//!
//! Blocking (ureq on rustls): call it from a blocking thread.

#[cfg(feature = "fixture")]
pub mod fixture;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bids::EntitySource;
use serde_json::{json, Value};

/// Where OpenNeuro's public bucket is served (virtual folder `openneuro.org`).
pub const DEFAULT_BASE_URL: &str = "https://s3.amazonaws.com/openneuro.org";
/// The largest file fetched (bytes): a big 4D run is a few GiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 8 << 30;
/// Keys in one listing we accept (S3 pages by 1000; a subject has far fewer files).
const MAX_LISTED_KEYS: usize = 1_000_000;
/// The cache's own records (hidden: BIDS tools skip dot files).
const RECORDS: &str = ".rtcloud-openneuro";

/// What fetching can fail with; every message names the dataset, subject or file.
#[derive(Debug, thiserror::Error)]
pub enum OpenNeuroError {
    #[error("OpenNeuro has no dataset {accession} (at {base})")]
    UnknownAccession { accession: String, base: String },
    #[error("OpenNeuro dataset {accession} has no subject {subject:?} (its subjects: {known})")]
    UnknownSubject {
        accession: String,
        subject: String,
        known: String,
    },
    #[error("OpenNeuro dataset {accession}, subject {subject}: no image with {wanted}")]
    NoRun {
        accession: String,
        subject: String,
        wanted: String,
    },
    #[error("invalid {what}: {why}")]
    Invalid { what: String, why: String },
    #[error("{url}: {detail}")]
    Http { url: String, detail: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = OpenNeuroError> = std::result::Result<T, E>;

/// An OpenNeuro (or mirror) endpoint and the cache folder it fills.
#[derive(Debug, Clone)]
pub struct OpenNeuro {
    base: String,
    cache: PathBuf,
    agent: ureq::Agent,
    /// Bound on one file's size (bytes).
    pub max_file_bytes: u64,
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq)]
struct Object {
    key: String,
    size: u64,
}

impl OpenNeuro {
    /// `base`: the bucket's URL (e.g. [`DEFAULT_BASE_URL`]); `cache`: the folder that
    /// holds one sub-folder per dataset; `ca_pem`: trust only these roots (a mirror or
    /// test server) instead of the public web's (webpki-roots).
    pub fn new(base: &str, cache: impl Into<PathBuf>, ca_pem: Option<&[u8]>) -> Result<Self> {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(pem) = ca_pem {
            let certs: Vec<_> = ureq::tls::parse_pem(pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(OpenNeuroError::Invalid {
                    what: "CA certificate".into(),
                    why: "no PEM certificate in it".into(),
                });
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(OpenNeuro {
            base: base.trim_end_matches('/').to_string(),
            cache: cache.into(),
            agent,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        })
    }

    /// The cached dataset's folder (a BIDS dataset once something was fetched).
    pub fn dataset_dir(&self, accession: &str) -> PathBuf {
        self.cache.join(accession)
    }

    /// Makes the files of the run(s) `wanted` selects present in the cache and returns
    /// the dataset's folder: the dataset's top-level files, and the subject's files
    /// whose names agree with every entity `wanted` gives (session, task,
    /// acquisition, run as a number, suffix; images and sidecars). A selection fetched
    /// before, whose files are all still there with their sizes, makes no request.
    /// Errors: an accession that is not `ds` and digits, no subject in `wanted`, an
    /// unknown accession or subject (naming the subjects there are), no matching image,
    /// a network or disk failure (files already fetched stay; the next call resumes).
    pub fn fetch(&self, accession: &str, wanted: &EntitySource) -> Result<PathBuf> {
        let digits = accession.strip_prefix("ds").unwrap_or_default();
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(OpenNeuroError::Invalid {
                what: "accession number".into(),
                why: format!("{accession:?} is not an OpenNeuro accession such as ds002338"),
            });
        }
        let subject = wanted.subject.clone().ok_or(OpenNeuroError::Invalid {
            what: "entities".into(),
            why: "an OpenNeuro stream needs the subject".into(),
        })?;
        let root = self.dataset_dir(accession);
        let record = root
            .join(RECORDS)
            .join(format!("{}.json", selection_key(wanted)));
        if let Some(files) = self.complete(&record) {
            tracing::info!(accession, files, "OpenNeuro run already in the cache");
            return Ok(root);
        }
        let (top, prefixes) = self.list(&format!("{accession}/"), true)?;
        if top.is_empty() && prefixes.is_empty() {
            return Err(OpenNeuroError::UnknownAccession {
                accession: accession.into(),
                base: self.base.clone(),
            });
        }
        let subject_prefix = format!("{accession}/sub-{subject}/");
        if !prefixes.contains(&subject_prefix) {
            let known: Vec<&str> = prefixes
                .iter()
                .filter_map(|p| p.strip_prefix(&format!("{accession}/sub-")))
                .map(|p| p.trim_end_matches('/'))
                .collect();
            return Err(OpenNeuroError::UnknownSubject {
                accession: accession.into(),
                subject,
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
            });
        }
        let (files, _) = self.list(&subject_prefix, false)?;
        let chosen: Vec<Object> = files
            .into_iter()
            .filter(|o| wanted_file(&o.key, wanted))
            .collect();
        if !chosen.iter().any(|o| is_image(&o.key)) {
            return Err(OpenNeuroError::NoRun {
                accession: accession.into(),
                subject,
                wanted: describe(wanted),
            });
        }
        let all: Vec<Object> = top.into_iter().chain(chosen).collect();
        for object in &all {
            self.download(accession, object)?;
        }
        let listed: Vec<Value> = all
            .iter()
            .map(|o| json!({"key": o.key, "size": o.size}))
            .collect();
        write_atomic(
            &record,
            serde_json::to_string_pretty(&listed)
                .unwrap_or_default()
                .as_bytes(),
        )?;
        Ok(root)
    }

    /// The number of files of a finished selection when all are still there.
    fn complete(&self, record: &Path) -> Option<usize> {
        let listed: Vec<Value> = serde_json::from_slice(&std::fs::read(record).ok()?).ok()?;
        for item in &listed {
            let key = item["key"].as_str()?;
            let size = item["size"].as_u64()?;
            let path = self.cache.join(safe_relative(key).ok()?);
            if std::fs::metadata(path).ok()?.len() != size {
                return None;
            }
        }
        Some(listed.len())
    }

    /// Every object under `prefix` (with `delimiter`: only those directly in it, plus
    /// the sub-folders as common prefixes), following S3's continuation tokens.
    fn list(&self, prefix: &str, delimiter: bool) -> Result<(Vec<Object>, Vec<String>)> {
        let (mut objects, mut prefixes) = (Vec::new(), Vec::new());
        let mut token: Option<String> = None;
        loop {
            let url = self.base.clone();
            let mut request = self
                .agent
                .get(&url)
                .query("list-type", "2")
                .query("prefix", prefix);
            if delimiter {
                request = request.query("delimiter", "/");
            }
            if let Some(t) = &token {
                request = request.query("continuation-token", t);
            }
            let text = self.body(request, &url, 64 << 20)?;
            let text = String::from_utf8(text).map_err(|_| OpenNeuroError::Http {
                url: url.clone(),
                detail: "the listing is not UTF-8".into(),
            })?;
            let page = parse_listing(&text).map_err(|detail| OpenNeuroError::Http {
                url: url.clone(),
                detail,
            })?;
            objects.extend(page.objects);
            prefixes.extend(page.prefixes);
            if objects.len() > MAX_LISTED_KEYS {
                return Err(OpenNeuroError::Http {
                    url,
                    detail: format!("more than {MAX_LISTED_KEYS} files under {prefix}"),
                });
            }
            match page.next {
                Some(t) => token = Some(t),
                None => return Ok((objects, prefixes)),
            }
        }
    }

    /// Fetches one object unless the cache has it with its size.
    fn download(&self, accession: &str, object: &Object) -> Result<()> {
        let relative = safe_relative(&object.key)?;
        if !relative.starts_with(accession) {
            return Err(OpenNeuroError::Invalid {
                what: "listing".into(),
                why: format!("{} is outside {accession}", object.key),
            });
        }
        let path = self.cache.join(&relative);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == object.size) {
            return Ok(());
        }
        if object.size > self.max_file_bytes {
            return Err(OpenNeuroError::Invalid {
                what: object.key.clone(),
                why: format!(
                    "{} bytes, more than the {} allowed",
                    object.size, self.max_file_bytes
                ),
            });
        }
        let url = format!("{}/{}", self.base, object.key);
        let bytes = self.body(self.agent.get(&url), &url, object.size)?;
        if bytes.len() as u64 != object.size {
            return Err(OpenNeuroError::Http {
                url,
                detail: format!(
                    "{} bytes arrived, the listing said {}",
                    bytes.len(),
                    object.size
                ),
            });
        }
        tracing::debug!(
            key = object.key,
            bytes = bytes.len(),
            "fetched from OpenNeuro"
        );
        write_atomic(&path, &bytes)
    }

    /// A 200 answer's body of at most `limit` bytes.
    fn body(
        &self,
        request: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
        url: &str,
        limit: u64,
    ) -> Result<Vec<u8>> {
        let http = |detail: String| OpenNeuroError::Http {
            url: url.to_string(),
            detail,
        };
        let mut response = request.call().map_err(|e| http(e.to_string()))?;
        let status = response.status();
        if status != 200 {
            return Err(http(format!("HTTP status {status}")));
        }
        response
            .body_mut()
            .with_config()
            .limit(limit.max(1))
            .read_to_vec()
            .map_err(|e| http(e.to_string()))
    }
}

/// One page of a ListObjectsV2 answer.
struct Page {
    objects: Vec<Object>,
    prefixes: Vec<String>,
    next: Option<String>,
}

fn parse_listing(text: &str) -> std::result::Result<Page, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("not S3 XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "ListBucketResult" {
        return Err(format!("not an S3 listing (<{}>)", root.tag_name().name()));
    }
    let child_text = |node: roxmltree::Node, name: &str| {
        node.children()
            .find(|c| c.tag_name().name() == name)
            .and_then(|c| c.text())
            .map(str::to_string)
    };
    let mut page = Page {
        objects: Vec::new(),
        prefixes: Vec::new(),
        next: None,
    };
    for node in root.children().filter(roxmltree::Node::is_element) {
        match node.tag_name().name() {
            "Contents" => {
                let key = child_text(node, "Key").ok_or("a <Contents> without <Key>")?;
                let size = child_text(node, "Size")
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| format!("{key}: no <Size>"))?;
                page.objects.push(Object { key, size });
            }
            "CommonPrefixes" => page.prefixes.extend(child_text(node, "Prefix")),
            _ => {}
        }
    }
    if child_text(root, "IsTruncated").as_deref() == Some("true") {
        page.next = Some(
            child_text(root, "NextContinuationToken")
                .ok_or("a truncated listing without NextContinuationToken")?,
        );
    }
    Ok(page)
}

/// Whether a file of the subject's folder belongs to the selection: every entity
/// `wanted` gives that the path names (folder `ses-`, file `ses`, `task`, `acq`, `run`)
/// agrees, each given one is named, and the suffix agrees when given.
fn wanted_file(key: &str, wanted: &EntitySource) -> bool {
    let name = key.rsplit('/').next().unwrap_or_default();
    if name.is_empty() {
        return false;
    }
    let stem = name.split('.').next().unwrap_or_default();
    let parts: Vec<&str> = stem.split('_').collect();
    let Some((suffix, pairs)) = parts.split_last() else {
        return false;
    };
    let named = |key: &str| {
        pairs
            .iter()
            .find_map(|p| p.split_once('-').filter(|(k, _)| *k == key).map(|(_, v)| v))
    };
    // A sidecar applies when every entity it names agrees (the inheritance principle);
    // an image must name each one given.
    let image = is_image(name);
    let agrees = |key: &str, want: &Option<String>, numeric: bool| match (want, named(key)) {
        (None, _) => true,
        (Some(_), None) => !image,
        (Some(w), Some(have)) => {
            if numeric {
                have.parse::<u64>().ok().is_some() && have.parse::<u64>().ok() == w.parse().ok()
            } else {
                have == w
            }
        }
    };
    agrees("ses", &wanted.session, false)
        && agrees("task", &wanted.task, false)
        && agrees("acq", &wanted.acquisition, false)
        && agrees("run", &wanted.run, true)
        && wanted.suffix.as_deref().is_none_or(|s| *suffix == s)
}

fn is_image(key: &str) -> bool {
    key.ends_with(".nii") || key.ends_with(".nii.gz")
}

/// A listing's key as a path under the cache: plain names only (no `..`, no root).
fn safe_relative(key: &str) -> Result<PathBuf> {
    let path = Path::new(key);
    let plain = path
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if plain && !key.is_empty() {
        Ok(path.to_path_buf())
    } else {
        Err(OpenNeuroError::Invalid {
            what: "listing".into(),
            why: format!("{key:?} is not a plain relative file name"),
        })
    }
}

/// The selection as a file name: `sub-01_task-x_run-1_bold`.
fn selection_key(wanted: &EntitySource) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("sub", &wanted.subject),
        ("ses", &wanted.session),
        ("task", &wanted.task),
        ("acq", &wanted.acquisition),
        ("run", &wanted.run),
        ("suffix", &wanted.suffix),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}-{}", bids::entities::to_label(v)));
        }
    }
    parts.join("_")
}

fn describe(wanted: &EntitySource) -> String {
    let key = selection_key(wanted);
    if key.is_empty() {
        "any entities".into()
    } else {
        key.replace('_', ", ")
    }
}

/// The file written atomically (filestore's temp file + rename), its folders made.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| OpenNeuroError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).map_err(io)?;
    filestore::write_atomic(path, bytes).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_page_parses() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>openneuro.org</Name>
<Prefix>ds000001/</Prefix><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>
<NextContinuationToken>abc</NextContinuationToken>
<Contents><Key>ds000001/README</Key><Size>12</Size></Contents>
<CommonPrefixes><Prefix>ds000001/sub-01/</Prefix></CommonPrefixes></ListBucketResult>"#;
        let page = parse_listing(xml).expect("parses");
        assert_eq!(
            page.objects,
            vec![Object {
                key: "ds000001/README".into(),
                size: 12
            }]
        );
        assert_eq!(page.prefixes, vec!["ds000001/sub-01/".to_string()]);
        assert_eq!(page.next.as_deref(), Some("abc"));
        assert!(parse_listing("<Error><Code>NoSuchBucket</Code></Error>").is_err());
    }

    #[test]
    fn files_are_chosen_by_entities() {
        let mut wanted = EntitySource::default();
        wanted.set("sub", "01");
        wanted.set("run", "1");
        wanted.set("suffix", "bold");
        let key = |name: &str| format!("ds1/sub-01/func/{name}");
        assert!(wanted_file(
            &key("sub-01_task-a_run-01_bold.nii.gz"),
            &wanted
        ));
        assert!(wanted_file(&key("sub-01_task-a_run-01_bold.json"), &wanted));
        assert!(!wanted_file(
            &key("sub-01_task-a_run-02_bold.nii.gz"),
            &wanted
        ));
        assert!(!wanted_file(&key("sub-01_task-a_bold.nii.gz"), &wanted));
        assert!(wanted_file("ds1/sub-01/sub-01_task-a_bold.json", &wanted));
        assert!(!wanted_file(
            &key("sub-01_task-a_run-01_events.tsv"),
            &wanted
        ));
        assert!(!wanted_file("ds1/sub-01/anat/sub-01_T1w.nii.gz", &wanted));
        assert!(safe_relative("ds1/../x").is_err());
        assert!(safe_relative("/etc/passwd").is_err());
    }
}
