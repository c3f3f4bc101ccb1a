//! RT-Cloud's WebDisplayInterface: plot points and log lines on the experimenter's page.

use protocol::project::v1 as pb;

use crate::remote::{api_err, Api};
use crate::Result;

/// One TR's preprocessing as the Run tab shows it (Web/ShowPreprocessing, issue 10).
/// Send it after the TR's result, so it adds nothing to the result's latency.
#[derive(Debug, Clone, Copy, Default)]
pub struct PreprocessingView<'a> {
    pub run: i64,
    pub tr: i64,
    /// `[tx, ty, tz, rx, ry, rz]` (mm, degrees; the Preprocess convention), the FD and
    /// the FD threshold (mm) for the motion plot.
    pub motion: Option<([f64; 6], f64, f64)>,
    /// Voxels along i, j, k of `volume` and `t_map`.
    pub shape: [usize; 3],
    /// The volume for the brain view (NIfTI order, i fastest), e.g. motion-corrected.
    pub volume: Option<&'a [f32]>,
    /// The ROI as voxel indices into `volume` (its outline is drawn).
    pub roi_voxels: &'a [usize],
    /// A t-map in the volume's grid and its threshold (the overlay).
    pub t_map: Option<(&'a [f32], f64)>,
}

#[derive(Debug, Clone)]
pub enum WebClient {
    Remote(Api),
    /// Run alone: printed.
    Local,
}

impl WebClient {
    /// Adds the point (`tr`, `value`) to `run`'s plot.
    pub async fn plot_data_point(&self, run: i64, tr: i64, value: f64) -> Result<()> {
        match self {
            WebClient::Remote(api) => {
                let request = pb::PlotDataPointRequest { run, tr, value };
                api.web()
                    .plot_data_point(request)
                    .await
                    .map_err(api_err("plot_data_point"))?;
            }
            WebClient::Local => println!("plot run {run} TR {tr}: {value}"),
        }
        Ok(())
    }

    pub async fn clear_run_plot(&self, run: i64) -> Result<()> {
        if let WebClient::Remote(api) = self {
            api.web()
                .clear_run_plot(pb::ClearRunPlotRequest { run })
                .await
                .map_err(api_err("clear_run_plot"))?;
        }
        Ok(())
    }

    pub async fn clear_all_plots(&self) -> Result<()> {
        if let WebClient::Remote(api) = self {
            api.web()
                .clear_all_plots(pb::Empty {})
                .await
                .map_err(api_err("clear_all_plots"))?;
        }
        Ok(())
    }

    /// A line for the experimenter.
    pub async fn user_log(&self, text: &str) -> Result<()> {
        match self {
            WebClient::Remote(api) => {
                let request = pb::LogRequest {
                    text: text.to_owned(),
                };
                api.web()
                    .user_log(request)
                    .await
                    .map_err(api_err("user_log"))?;
            }
            WebClient::Local => println!("{text}"),
        }
        Ok(())
    }

    /// A line in the session's record.
    pub async fn session_log(&self, text: &str) -> Result<()> {
        match self {
            WebClient::Remote(api) => {
                let request = pb::LogRequest {
                    text: text.to_owned(),
                };
                api.web()
                    .session_log(request)
                    .await
                    .map_err(api_err("session_log"))?;
            }
            WebClient::Local => println!("session: {text}"),
        }
        Ok(())
    }

    /// An error the experimenter must see.
    pub async fn set_user_error(&self, text: &str) -> Result<()> {
        match self {
            WebClient::Remote(api) => {
                let request = pb::LogRequest {
                    text: text.to_owned(),
                };
                api.web()
                    .set_user_error(request)
                    .await
                    .map_err(api_err("set_user_error"))?;
            }
            WebClient::Local => eprintln!("error: {text}"),
        }
        Ok(())
    }

    /// Shows a TR's motion and brain view on the Run tab; run alone, prints the motion.
    pub async fn show_preprocessing(&self, view: &PreprocessingView<'_>) -> Result<()> {
        let api = match self {
            WebClient::Remote(api) => api,
            WebClient::Local => {
                if let Some((p, fd, _)) = view.motion {
                    println!("run {} TR {}: motion {p:?}, FD {fd} mm", view.run, view.tr);
                }
                return Ok(());
            }
        };
        let le = |values: &[f32]| -> bytes::Bytes {
            values
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>()
                .into()
        };
        let (motion_params, fd_mm, fd_threshold_mm) = match view.motion {
            Some((p, fd, threshold)) => (p.to_vec(), fd, threshold),
            None => (Vec::new(), 0.0, 0.0),
        };
        let request = pb::ShowPreprocessingRequest {
            run: view.run,
            tr: view.tr,
            motion_params,
            fd_mm,
            fd_threshold_mm,
            shape: view.shape.iter().map(|&n| n as u32).collect(),
            volume: view.volume.map(le).unwrap_or_default(),
            roi_voxels: view.roi_voxels.iter().map(|&i| i as u32).collect(),
            t_map: view.t_map.map(|(t, _)| le(t)).unwrap_or_default(),
            t_threshold: view.t_map.map_or(0.0, |(_, threshold)| threshold),
        };
        api.web()
            .show_preprocessing(request)
            .await
            .map_err(api_err("show_preprocessing"))?;
        Ok(())
    }
}
