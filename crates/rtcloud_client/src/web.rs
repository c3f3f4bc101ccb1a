//! RT-Cloud's WebDisplayInterface: plot points and log lines on the experimenter's page.

use protocol::project::v1 as pb;

use crate::remote::{api_err, Api};
use crate::Result;

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
}
