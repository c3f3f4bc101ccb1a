//! The DataInterface's local backend: the analyser's own disk through the same
//! `filestore` access rules a streamer applies, for single-machine use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use filestore::{AccessRules, FolderWatch, ScannerFolder};

use crate::analyser::streams::{ImageData, ScannerStream};
use crate::error::{LinkError, Result};

/// The analyser's own disk.
#[derive(Debug, Clone)]
pub struct Local {
    pub(crate) rules: AccessRules,
    pub(crate) watch: Arc<tokio::sync::Mutex<Option<FolderWatch>>>,
    pub(crate) streams: Arc<Mutex<HashMap<String, Arc<ScannerStream>>>>,
    pub(crate) tasks: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Local {
    /// Runs a blocking file operation off the async threads (the disk may be a share).
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&AccessRules) -> filestore::Result<T> + Send + 'static,
    ) -> Result<T> {
        let rules = self.rules.clone();
        match tokio::task::spawn_blocking(move || f(&rules)).await {
            Ok(r) => r.map_err(LinkError::from),
            Err(e) => Err(LinkError::Protocol {
                peer: "local disk".into(),
                detail: format!("file task failed: {e}"),
            }),
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // Only the last clone stops the folder tasks.
        if Arc::strong_count(&self.tasks) == 1 {
            for t in self.tasks.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                t.abort();
            }
        }
    }
}

/// Feeds a local scanner stream from its folder; a bad file fails its index only.
pub(crate) async fn local_stream(
    mut folder: ScannerFolder,
    stream: Arc<ScannerStream>,
    anonymize: bool,
) {
    let mut deid = anonymize.then(imaging::deid::Deidentifier::new);
    loop {
        match folder.next().await {
            Ok(file) => {
                let path = file.path.display().to_string();
                // The one decision on what leaves (DICOM by name or content); what
                // cannot be de-identified fails its volume only and is not sent.
                let bytes = match imaging::deid::outgoing(&file.path, file.bytes, deid.as_mut()) {
                    Ok(b) => Bytes::from(b),
                    Err(e) => {
                        stream.insert_bad(file.index, e.to_string());
                        continue;
                    }
                };
                stream.insert(ImageData {
                    index: file.index,
                    bytes,
                    path,
                    completed_at: file.completed_at,
                    sent_at: None,
                    received_at: SystemTime::now(),
                });
            }
            Err(e) => match &e {
                filestore::FilestoreError::BadFile { index, .. } => {
                    stream.insert_bad(*index, e.to_string());
                }
                _ => {
                    stream.fail(e.to_string());
                    return;
                }
            },
        }
    }
}
