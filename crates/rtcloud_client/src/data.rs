//! RT-Cloud's DataInterface for project code: through the analyser (which asks the
//! streamer or its own disk), or straight on the local disk when run alone.

use std::time::Duration;

use bytes::Bytes;
use data_link::DataInterface;
use protocol::project::v1 as pb;

use crate::remote::{api_err, Api};
use crate::{ClientError, Result};

/// The scanner's files.
#[derive(Debug, Clone)]
pub enum DataClient {
    /// Through the analyser's project API; `remote` tells whether the analyser gets the
    /// files from a streamer (true) or its own disk.
    Remote { api: Api, remote: bool },
    /// On this machine, for a script run alone.
    Local(DataInterface),
}

impl DataClient {
    /// True when the files come from a streamer on the scanner console.
    pub fn is_remote(&self) -> bool {
        match self {
            DataClient::Remote { remote, .. } => *remote,
            DataClient::Local(_) => false,
        }
    }

    /// Sets the folder (and minimum file size) `watch_file` waits in.
    pub async fn init_watch(&self, dir: &str, pattern: &str, min_size: u64) -> Result<()> {
        match self {
            DataClient::Remote { api, .. } => {
                let request = pb::InitWatchRequest {
                    dir: dir.to_owned(),
                    pattern: pattern.to_owned(),
                    min_size,
                };
                api.data()
                    .init_watch(request)
                    .await
                    .map_err(api_err("init_watch"))?;
                Ok(())
            }
            DataClient::Local(local) => Ok(local.init_watch(dir, pattern, min_size).await?),
        }
    }

    /// Waits up to `timeout` for `name` in the watched folder to be complete.
    pub async fn watch_file(&self, name: &str, timeout: Duration) -> Result<Bytes> {
        match self {
            DataClient::Remote { api, .. } => {
                let request = pb::WatchFileRequest {
                    name: name.to_owned(),
                    timeout_s: timeout.as_secs_f64(),
                };
                let reply = api
                    .data()
                    .watch_file(request)
                    .await
                    .map_err(api_err("watch_file"))?;
                Ok(reply.into_inner().data)
            }
            DataClient::Local(local) => Ok(local.watch_file(name, timeout).await?),
        }
    }

    /// A whole file.
    pub async fn get_file(&self, path: &str) -> Result<Bytes> {
        match self {
            DataClient::Remote { api, .. } => {
                let request = pb::PathRequest {
                    path: path.to_owned(),
                };
                let reply = api
                    .data()
                    .get_file(request)
                    .await
                    .map_err(api_err("get_file"))?;
                Ok(reply.into_inner().data)
            }
            DataClient::Local(local) => Ok(local.get_file(path).await?),
        }
    }

    /// The newest file matching a glob pattern.
    pub async fn get_newest_file(&self, pattern: &str) -> Result<Bytes> {
        match self {
            DataClient::Remote { api, .. } => {
                let request = pb::PatternRequest {
                    pattern: pattern.to_owned(),
                };
                let reply = api
                    .data()
                    .get_newest_file(request)
                    .await
                    .map_err(api_err("get_newest_file"))?;
                Ok(reply.into_inner().data)
            }
            DataClient::Local(local) => Ok(local.get_newest_file(pattern).await?),
        }
    }

    /// Files matching a glob pattern, sorted.
    pub async fn list_files(&self, pattern: &str) -> Result<Vec<String>> {
        match self {
            DataClient::Remote { api, .. } => {
                let request = pb::PatternRequest {
                    pattern: pattern.to_owned(),
                };
                let reply = api
                    .data()
                    .list_files(request)
                    .await
                    .map_err(api_err("list_files"))?;
                Ok(reply.into_inner().paths)
            }
            DataClient::Local(local) => Ok(local.list_files(pattern).await?),
        }
    }

    /// Folders matching a glob pattern, sorted.
    pub async fn list_dirs(&self, pattern: &str) -> Result<Vec<String>> {
        match self {
            DataClient::Remote { api, .. } => {
                let request = pb::PatternRequest {
                    pattern: pattern.to_owned(),
                };
                let reply = api
                    .data()
                    .list_dirs(request)
                    .await
                    .map_err(api_err("list_dirs"))?;
                Ok(reply.into_inner().paths)
            }
            DataClient::Local(local) => Ok(local.list_dirs(pattern).await?),
        }
    }

    /// Writes a file (never seen half written) into a writable folder; an existing file
    /// is replaced only with `overwrite`.
    pub async fn put_file(&self, path: &str, data: Bytes, overwrite: bool) -> Result<()> {
        match self {
            DataClient::Remote { api, .. } => {
                let request = pb::PutFileRequest {
                    path: path.to_owned(),
                    data,
                    overwrite,
                };
                api.data()
                    .put_file(request)
                    .await
                    .map_err(api_err("put_file"))?;
                Ok(())
            }
            DataClient::Local(local) => Ok(local.put_file(path, data, overwrite).await?),
        }
    }

    /// Starts a scanner stream of `dir`'s files named by `pattern` (e.g.
    /// `001_000013_{TR:06d}.dcm`) from index 1; returns its id.
    pub async fn init_scanner_stream(
        &self,
        dir: &str,
        pattern: &str,
        min_size: u64,
        anonymize: bool,
    ) -> Result<String> {
        self.init_scanner_stream_at(dir, pattern, min_size, anonymize, 1)
            .await
    }

    /// [`DataClient::init_scanner_stream`] from `start_index`.
    pub async fn init_scanner_stream_at(
        &self,
        dir: &str,
        pattern: &str,
        min_size: u64,
        anonymize: bool,
        start_index: u32,
    ) -> Result<String> {
        match self {
            DataClient::Remote { api, .. } => {
                let request = pb::InitScannerStreamRequest {
                    dir: dir.to_owned(),
                    pattern: pattern.to_owned(),
                    min_size,
                    anonymize,
                    start_index,
                };
                let reply = api
                    .data()
                    .init_scanner_stream(request)
                    .await
                    .map_err(api_err("init_scanner_stream"))?;
                Ok(reply.into_inner().stream_id)
            }
            DataClient::Local(local) => Ok(local
                .init_scanner_stream_at(dir, pattern, min_size, anonymize, start_index)
                .await?),
        }
    }

    async fn image(
        &self,
        stream_id: &str,
        index: u32,
        timeout: Duration,
        form: pb::ImageForm,
    ) -> Result<pb::ImageData> {
        let DataClient::Remote { api, .. } = self else {
            unreachable!("only called for the remote client")
        };
        let request = pb::GetImageDataRequest {
            stream_id: stream_id.to_owned(),
            index,
            timeout_s: timeout.as_secs_f64(),
            form: form as i32,
        };
        let reply = api
            .data()
            .get_image_data(request)
            .await
            .map_err(api_err("get_image_data"))?;
        Ok(reply.into_inner())
    }

    /// Waits up to `timeout` for volume `index` of a stream: the DICOM file's bytes
    /// (de-identified unless the stream was opened with `anonymize = false`).
    pub async fn get_image_data(
        &self,
        stream_id: &str,
        index: u32,
        timeout: Duration,
    ) -> Result<Bytes> {
        match self {
            DataClient::Remote { .. } => Ok(self
                .image(stream_id, index, timeout, pb::ImageForm::Dicom)
                .await?
                .dicom),
            DataClient::Local(local) => {
                Ok(local.get_image_data(stream_id, index, timeout).await?.bytes)
            }
        }
    }

    /// [`DataClient::get_image_data`], decoded into a volume (by the analyser, exactly
    /// as dcm2niix would).
    pub async fn get_image_volume(
        &self,
        stream_id: &str,
        index: u32,
        timeout: Duration,
    ) -> Result<imaging::Volume> {
        match self {
            DataClient::Remote { .. } => {
                let reply = self
                    .image(stream_id, index, timeout, pb::ImageForm::Volume)
                    .await?;
                let volume = reply.volume.ok_or_else(|| ClientError::Invalid {
                    call: "get_image_data",
                    detail: format!("volume {index} came back without its voxels"),
                })?;
                volume_from_message(volume)
            }
            DataClient::Local(local) => {
                Ok(local.get_image_volume(stream_id, index, timeout).await?)
            }
        }
    }

    pub async fn close_scanner_stream(&self, stream_id: &str) -> Result<()> {
        match self {
            DataClient::Remote { api, .. } => {
                let request = pb::StreamId {
                    stream_id: stream_id.to_owned(),
                };
                api.data()
                    .close_scanner_stream(request)
                    .await
                    .map_err(api_err("close_scanner_stream"))?;
                Ok(())
            }
            DataClient::Local(local) => Ok(local.close_scanner_stream(stream_id).await?),
        }
    }

    /// The file types the data source may serve.
    pub async fn get_allowed_file_types(&self) -> Result<Vec<String>> {
        match self {
            DataClient::Remote { api, .. } => {
                let reply = api
                    .data()
                    .get_allowed_file_types(pb::Empty {})
                    .await
                    .map_err(api_err("get_allowed_file_types"))?;
                Ok(reply.into_inner().paths)
            }
            DataClient::Local(local) => Ok(local.get_allowed_file_types().await?),
        }
    }

    /// A round trip to the data source; returns its clock (seconds since the epoch).
    pub async fn ping(&self) -> Result<f64> {
        match self {
            DataClient::Remote { api, .. } => {
                let reply = api
                    .data()
                    .ping(pb::Empty {})
                    .await
                    .map_err(api_err("ping"))?;
                Ok(reply.into_inner().streamer_time)
            }
            DataClient::Local(local) => Ok(local.ping().await?),
        }
    }

    /// The data source's clock minus the caller's, in seconds.
    pub async fn get_clock_skew(&self, caller_time: f64, round_trip_s: f64) -> Result<f64> {
        match self {
            DataClient::Remote { api, .. } => {
                let request = pb::ClockSkewRequest {
                    caller_time,
                    round_trip_s,
                };
                let reply = api
                    .data()
                    .get_clock_skew(request)
                    .await
                    .map_err(api_err("get_clock_skew"))?;
                Ok(reply.into_inner().skew_s)
            }
            DataClient::Local(local) => Ok(local.get_clock_skew(caller_time, round_trip_s).await?),
        }
    }
}

/// A volume as the project API carries it (see `Volume` in the proto).
pub fn volume_message(volume: &imaging::Volume) -> pb::Volume {
    let voxels = volume.real_voxels();
    let shape = voxels.shape();
    let mut data = Vec::new();
    voxels.write_le(&mut data);
    pb::Volume {
        shape: shape.iter().map(|&n| n as u32).collect(),
        dtype: voxels.dtype_name().to_owned(),
        data: data.into(),
        affine: volume.affine.iter().flatten().copied().collect(),
        voxel_size: volume.voxel_size.to_vec(),
        tr_s: volume.tr_s.unwrap_or(0.0),
        slice_timing_s: volume.slice_timing_s.clone(),
        acquisition_time_s: volume.acquisition_time_s,
    }
}

/// The volume the analyser decoded, back into an [`imaging::Volume`] (header metadata
/// stays behind: ask for the DICOM when you need it).
pub fn volume_from_message(v: pb::Volume) -> Result<imaging::Volume> {
    let invalid = |detail: String| ClientError::Invalid {
        call: "get_image_data",
        detail,
    };
    let shape: [usize; 3] = v
        .shape
        .iter()
        .map(|&n| n as usize)
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| invalid(format!("volume shape {:?} is not 3D", v.shape)))?;
    let voxels = imaging::Voxels::from_le_bytes(shape, &v.dtype, &v.data)
        .map_err(|e| invalid(e.to_string()))?;
    let mut affine = [[0.0; 4]; 4];
    if v.affine.len() != 16 {
        return Err(invalid(format!(
            "affine has {} numbers, not 16",
            v.affine.len()
        )));
    }
    for (i, value) in v.affine.iter().enumerate() {
        affine[i / 4][i % 4] = *value;
    }
    let voxel_size: [f64; 3] = v
        .voxel_size
        .try_into()
        .map_err(|_| invalid("voxel size is not 3 numbers".into()))?;
    Ok(imaging::Volume {
        voxels,
        // The analyser sends real values (scaling applied).
        scaling: imaging::Scaling::IDENTITY,
        affine,
        voxel_size,
        tr_s: (v.tr_s > 0.0).then_some(v.tr_s),
        slice_timing_s: v.slice_timing_s,
        acquisition_time_s: v.acquisition_time_s,
        meta: imaging::Metadata::default(),
    })
}
