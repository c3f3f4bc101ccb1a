//! The streamer's side of the link: dial the analyser (never listen), say Hello, answer
//! requests concurrently through `filestore`'s access rules, push scanner streams, and
//! reconnect forever with `dialer::Backoff`. Scanner streams and their unACKed volumes
//! live across reconnects, so a cut link loses nothing.

mod adaptive;
mod handler;
mod push;
mod series;
mod session;

use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex};

use dialer::{Backoff, Pace, Paced, Token};
use filestore::{AccessRules, FolderWatch};
use tonic::transport::Channel;

use push::PushState;

/// What a streamer serves. Build with [`StreamerConfig::new`], then set fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StreamerConfig {
    /// The scanner's name; the analyser finds the streamer by it.
    pub station: String,
    /// The folders and file types that may be served (enforced here, never by the analyser).
    pub rules: AccessRules,
    /// Offer zstd compression of payloads (`--no-compression` turns it off).
    pub compression: bool,
    /// zstd level for payloads (default 1): negative levels are faster and compress
    /// less (-1 halves a 457 KB mosaic in about 1 ms; 1 takes it to a third in 1.5 ms).
    pub compression_level: i32,
    /// Send a volume uncompressed when the measured link is faster than compressing
    /// it (see `adaptive`); false compresses every DICOM payload.
    pub adaptive_compression: bool,
    /// Send DICOM as stored, with the participant's details (`--send-identified`):
    /// files served by get_file, get_newest_file and watch_file, and scanner streams
    /// whose project asked for `anonymize = false` (refused without this). False by
    /// default: everything DICOM leaves de-identified.
    pub send_identified: bool,
    /// Keep StudyDescription, SeriesDescription and ProtocolName, cleaned, when
    /// de-identifying (the Clean Descriptors Option, issue 12); `--no-clean-descriptors`
    /// switches it off and they are removed.
    pub clean_descriptors: bool,
    /// Notice each new series in the allowed folders and send the analyser its
    /// acquisition parameters for protocol QA (issue 12; `--no-protocol-qa` turns it off).
    pub protocol_qa: bool,
    /// When a scanner file counts as bad and fails its volume only (default 3 TRs).
    pub bad_file_bound: filestore::BadFileBound,
    /// How scanner folders are watched (issue 13): `use_inotify` false
    /// (`--no-inotify`) polls only, every `poll_interval` (`--poll-interval`), as a
    /// folder on an SMB/NFS share needs; `min_size` is set per request.
    pub watch: filestore::WatchOptions,
}

impl StreamerConfig {
    /// Station `station` serving what `rules` allow, compression on at the default level.
    pub fn new(station: impl Into<String>, rules: AccessRules) -> Self {
        Self {
            station: station.into(),
            rules,
            compression: true,
            compression_level: crate::payload::DEFAULT_ZSTD_LEVEL,
            adaptive_compression: true,
            send_identified: false,
            clean_descriptors: true,
            protocol_qa: true,
            bad_file_bound: filestore::BadFileBound::default(),
            watch: filestore::WatchOptions::default(),
        }
    }

    /// A new de-identification session with this console's options.
    pub fn deidentifier(&self) -> imaging::deid::Deidentifier {
        imaging::deid::Deidentifier::new().with_clean_descriptors(self.clean_descriptors)
    }
}

/// State that outlives a connection.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: StreamerConfig,
    pub push: Mutex<PushState>,
    pub watch: tokio::sync::Mutex<Option<FolderWatch>>,
    /// One de-identification state for files served singly, so the UIDs of files of
    /// one series stay consistent with each other.
    pub files_deid: Mutex<imaging::deid::Deidentifier>,
    /// New series' parameter records on their way to the analyser (protocol QA).
    pub series: Mutex<series::SeriesOutbox>,
}

impl Shared {
    pub fn lock_push(&self) -> std::sync::MutexGuard<'_, PushState> {
        // Single inserts/removes: a panic elsewhere cannot leave it half-updated.
        self.push.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn lock_series(&self) -> std::sync::MutexGuard<'_, series::SeriesOutbox> {
        self.series.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs the streamer until `shutdown` completes: `connect` dials and logs in (e.g.
/// `dialer::Dialer::connect`); every lost or failed connection is retried after a
/// backoff delay (100 ms doubling to about 5 s, reset after a connection that worked).
pub async fn run<F, Fut, E>(
    config: StreamerConfig,
    mut connect: F,
    shutdown: impl Future<Output = ()>,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(Channel, Token), E>>,
    E: Display + Paced,
{
    let files_deid = Mutex::new(config.deidentifier());
    let shared = Arc::new(Shared {
        config,
        push: Mutex::new(PushState::default()),
        watch: tokio::sync::Mutex::new(None),
        files_deid,
        series: Mutex::new(series::SeriesOutbox::default()),
    });
    let series_watch = if shared.config.protocol_qa {
        let baseline = series::baseline(&shared).await;
        Some(tokio::spawn(series::watch(shared.clone(), baseline)))
    } else {
        None
    };
    let mut backoff = Backoff::default();
    tokio::pin!(shutdown);
    loop {
        let attempt = async {
            let (channel, token) = connect().await.map_err(|e| session::LinkEnd {
                pace: e.pace(),
                message: e.to_string(),
            })?;
            session::run(&shared, channel, token, &mut backoff).await
        };
        let (pace, why) = tokio::select! {
            () = &mut shutdown => break,
            result = attempt => match result {
                Ok(()) => (Pace::Outage, "the analyser closed the link".to_owned()),
                Err(end) => (end.pace, end.message),
            },
        };
        let delay = backoff.delay_after(pace);
        dialer::report_retry(pace, &why, delay, backoff.attempts());
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(delay) => {}
        }
    }
    shared.lock_push().close_all();
    if let Some(task) = series_watch {
        task.abort();
    }
    tracing::info!("streamer stopped");
}

/// [`run`] dialing with `dialer` (from `dialer::Dialer::from_args`), logging in as a
/// "streamer" of `config.station`: what `data_streamer` calls.
pub async fn run_with_dialer(
    config: StreamerConfig,
    dialer: dialer::Dialer,
    shutdown: impl Future<Output = ()>,
) {
    let client = dialer::ClientInfo {
        kind: "streamer".into(),
        station: config.station.clone(),
    };
    let connect = move || {
        let dialer = dialer.clone();
        let client = client.clone();
        async move { dialer.connect(&client).await }
    };
    run(config, connect, shutdown).await;
}
