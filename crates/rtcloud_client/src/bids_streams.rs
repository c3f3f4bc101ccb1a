//! BIDS streams (the Bids service; RT-Cloud's `bidsInterface`): scanner DICOM, a dataset
//! on disk or an OpenNeuro dataset, volume by volume as [`bids::BidsIncremental`]s; and
//! the wire form of incrementals and entities that the analyser shares. Run alone (no
//! analyser), the streams fail: a Rust project can use crate `bids` directly.

use std::time::Duration;

use bids::{BidsIncremental, Entities, EntitySource};
use protocol::project::v1 as pb;

use crate::data::{volume_from_message, volume_message};
use crate::remote::{api_err, Api};
use crate::{ClientError, Result};

#[derive(Debug, Clone)]
pub enum BidsClient {
    Remote(Api),
    /// Run alone: not available (use crate `bids` in-process).
    Local,
}

/// An open stream: its id, and its volume count (0 for a DICOM stream).
#[derive(Debug, Clone, PartialEq)]
pub struct BidsStream {
    pub id: String,
    pub num_volumes: u32,
    /// What the analyser changed in the given entities (labels made BIDS-valid).
    pub notes: Vec<String>,
}

impl BidsClient {
    fn api(&self, call: &'static str) -> Result<&Api> {
        match self {
            BidsClient::Remote(api) => Ok(api),
            BidsClient::Local => Err(ClientError::Invalid {
                call,
                detail: "BIDS streams run in the analyser; run alone, use crate bids in-process"
                    .into(),
            }),
        }
    }

    /// Scanner DICOMs as incrementals: files `pattern` (with `{TR}`) in `dir` on the
    /// streamer, de-identified there (`anonymize`), converted by the analyser. Entities:
    /// `entities`, then the project's settings, then the scan's ProtocolName, then
    /// `func`/`bold`.
    pub async fn init_dicom_bids_stream(
        &self,
        dir: &str,
        pattern: &str,
        min_size: u64,
        anonymize: bool,
        entities: &EntitySource,
    ) -> Result<BidsStream> {
        let request = pb::InitDicomBidsStreamRequest {
            dir: dir.into(),
            pattern: pattern.into(),
            min_size,
            anonymize,
            start_index: 0,
            entities: Some(source_message(entities)),
        };
        let reply = self
            .api("init_dicom_bids_stream")?
            .bids()
            .init_dicom_bids_stream(request)
            .await
            .map_err(api_err("init_dicom_bids_stream"))?;
        Ok(stream(reply.into_inner()))
    }

    /// The run `entities` selects in the dataset at `path` (read through the data
    /// service: the streamer's allowed folders when data is remote).
    pub async fn init_bids_stream(
        &self,
        path: &str,
        entities: &EntitySource,
    ) -> Result<BidsStream> {
        let request = pb::InitBidsStreamRequest {
            path: path.into(),
            entities: Some(source_message(entities)),
        };
        let reply = self
            .api("init_bids_stream")?
            .bids()
            .init_bids_stream(request)
            .await
            .map_err(api_err("init_bids_stream"))?;
        Ok(stream(reply.into_inner()))
    }

    /// The run `entities` selects (subject required) of OpenNeuro dataset `accession`,
    /// fetched into the analyser's cache (reused next time).
    pub async fn init_open_neuro_stream(
        &self,
        accession: &str,
        entities: &EntitySource,
    ) -> Result<BidsStream> {
        let request = pb::InitOpenNeuroStreamRequest {
            accession: accession.into(),
            entities: Some(source_message(entities)),
        };
        let reply = self
            .api("init_open_neuro_stream")?
            .bids()
            .init_open_neuro_stream(request)
            .await
            .map_err(api_err("init_open_neuro_stream"))?;
        Ok(stream(reply.into_inner()))
    }

    /// Volume `index` of the stream (`None`: the one after the last returned), waiting
    /// up to `timeout` for a DICOM stream's file.
    pub async fn get_incremental(
        &self,
        stream: &BidsStream,
        index: Option<u32>,
        timeout: Duration,
    ) -> Result<(u32, BidsIncremental)> {
        let request = pb::GetIncrementalRequest {
            stream_id: stream.id.clone(),
            index: index.map_or(-1, i64::from),
            timeout_s: timeout.as_secs_f64(),
        };
        let reply = self
            .api("get_incremental")?
            .bids()
            .get_incremental(request)
            .await
            .map_err(api_err("get_incremental"))?
            .into_inner();
        Ok((reply.index, incremental_from_message(reply)?))
    }

    /// The number of volumes of a dataset or OpenNeuro stream (a DICOM stream's is not
    /// known ahead: FAILED_PRECONDITION).
    pub async fn get_num_volumes(&self, stream: &BidsStream) -> Result<u32> {
        let reply = self
            .api("get_num_volumes")?
            .bids()
            .get_num_volumes(pb::StreamId {
                stream_id: stream.id.clone(),
            })
            .await
            .map_err(api_err("get_num_volumes"))?;
        Ok(reply.into_inner().num_volumes)
    }

    /// Closes the stream (a DICOM stream's scanner stream too).
    pub async fn close_stream(&self, stream: &BidsStream) -> Result<()> {
        self.api("close_stream")?
            .bids()
            .close_stream(pb::StreamId {
                stream_id: stream.id.clone(),
            })
            .await
            .map_err(api_err("close_stream"))?;
        Ok(())
    }
}

fn stream(info: pb::BidsStreamInfo) -> BidsStream {
    BidsStream {
        id: info.stream_id,
        num_volumes: info.num_volumes,
        notes: info.notes,
    }
}

/// Entities on the wire (absent ones empty).
pub fn entities_message(e: &Entities) -> pb::BidsEntities {
    source_message(&EntitySource {
        subject: Some(e.subject.clone()),
        session: e.session.clone(),
        task: Some(e.task.clone()),
        acquisition: e.acquisition.clone(),
        run: e.run.clone(),
        suffix: Some(e.suffix.clone()),
        datatype: Some(e.datatype.clone()),
    })
}

fn source_message(e: &EntitySource) -> pb::BidsEntities {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    pb::BidsEntities {
        subject: text(&e.subject),
        session: text(&e.session),
        task: text(&e.task),
        acquisition: text(&e.acquisition),
        run: text(&e.run),
        suffix: text(&e.suffix),
        datatype: text(&e.datatype),
    }
}

/// The entities a message gives (empty strings are "not given").
pub fn entity_source(m: Option<pb::BidsEntities>) -> EntitySource {
    let m = m.unwrap_or_default();
    let given = |v: String| (!v.is_empty()).then_some(v);
    EntitySource {
        subject: given(m.subject),
        session: given(m.session),
        task: given(m.task),
        acquisition: given(m.acquisition),
        run: given(m.run),
        suffix: given(m.suffix),
        datatype: given(m.datatype),
    }
}

/// An incremental on the wire: entities, the volume (real values), the sidecar JSON.
pub fn incremental_message(index: u32, inc: &BidsIncremental) -> pb::BidsIncremental {
    pb::BidsIncremental {
        index,
        entities: Some(entities_message(inc.entities())),
        volume: Some(volume_message(inc.volume())),
        sidecar_json: inc.sidecar_json(),
    }
}

/// The incremental a message holds. Errors: missing or invalid entities, volume or
/// sidecar, each named.
pub fn incremental_from_message(m: pb::BidsIncremental) -> Result<BidsIncremental> {
    let invalid = |detail: String| ClientError::Invalid {
        call: "bids incremental",
        detail,
    };
    let entities = entity_source(m.entities)
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let volume = volume_from_message(
        m.volume
            .ok_or_else(|| invalid("the incremental has no volume".into()))?,
    )?;
    let metadata = bids::incremental::parse_sidecar(m.sidecar_json.as_bytes())
        .map_err(|e| invalid(e.to_string()))?;
    BidsIncremental::new(entities, volume, metadata).map_err(|e| invalid(e.to_string()))
}
