//! RT-Cloud's SubjectInterface: results to the stimulus PC (via the analyser) and the
//! participant's responses back.

use std::sync::{Arc, Mutex};

use protocol::project::v1 as pb;

use crate::remote::{api_err, Api};
use crate::{ClientError, Result};

/// A participant's response to one TR.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub run: i64,
    pub tr: i64,
    pub value: serde_json::Value,
    /// When it reached the analyser (seconds since the epoch).
    pub received_at: f64,
}

/// In local mode there is no participant: no responses, results are printed.
#[derive(Debug, Clone, Default)]
pub struct LocalResponses(Arc<Mutex<Vec<Response>>>);

#[derive(Debug, Clone)]
pub enum SubjectClient {
    Remote(Api),
    Local(LocalResponses),
}

impl SubjectClient {
    /// The feedback value of `tr` in `run`, to be shown `onset_delay_ms` after now.
    pub async fn set_result(
        &self,
        run: i64,
        tr: i64,
        value: f64,
        onset_delay_ms: f64,
    ) -> Result<()> {
        match self {
            SubjectClient::Remote(api) => {
                let request = pb::SetResultRequest {
                    run,
                    tr,
                    value,
                    onset_delay_ms,
                };
                api.subject()
                    .set_result(request)
                    .await
                    .map_err(api_err("set_result"))?;
            }
            SubjectClient::Local(_) => println!("result run {run} TR {tr}: {value}"),
        }
        Ok(())
    }

    /// Any JSON object as the result; its "run"/"tr" fields file it.
    pub async fn set_result_dict(
        &self,
        value: &serde_json::Value,
        onset_delay_ms: f64,
    ) -> Result<()> {
        if !value.is_object() {
            return Err(ClientError::Invalid {
                call: "set_result_dict",
                detail: "the result must be a JSON object".into(),
            });
        }
        match self {
            SubjectClient::Remote(api) => {
                let request = pb::SetResultDictRequest {
                    json: value.to_string(),
                    onset_delay_ms,
                };
                api.subject()
                    .set_result_dict(request)
                    .await
                    .map_err(api_err("set_result_dict"))?;
            }
            SubjectClient::Local(_) => println!("result {value}"),
        }
        Ok(())
    }

    /// A text message for the stimulus PC.
    pub async fn set_message(&self, text: &str) -> Result<()> {
        match self {
            SubjectClient::Remote(api) => {
                let request = pb::SetMessageRequest {
                    text: text.to_owned(),
                };
                api.subject()
                    .set_message(request)
                    .await
                    .map_err(api_err("set_message"))?;
            }
            SubjectClient::Local(_) => println!("message: {text}"),
        }
        Ok(())
    }

    /// The participant's latest response to `tr` of `run`, if any came.
    pub async fn get_response(&self, run: i64, tr: i64) -> Result<Option<Response>> {
        match self {
            SubjectClient::Remote(api) => {
                let reply = api
                    .subject()
                    .get_response(pb::GetResponseRequest { run, tr })
                    .await
                    .map_err(api_err("get_response"))?;
                reply.into_inner().response.map(response).transpose()
            }
            SubjectClient::Local(local) => Ok(local
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .rev()
                .find(|r| r.run == run && r.tr == tr)
                .cloned()),
        }
    }

    /// Every response so far, in arrival order.
    pub async fn get_all_responses(&self) -> Result<Vec<Response>> {
        match self {
            SubjectClient::Remote(api) => {
                let reply = api
                    .subject()
                    .get_all_responses(pb::Empty {})
                    .await
                    .map_err(api_err("get_all_responses"))?;
                reply
                    .into_inner()
                    .responses
                    .into_iter()
                    .map(response)
                    .collect()
            }
            SubjectClient::Local(local) => {
                Ok(local.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
            }
        }
    }
}

fn response(r: pb::Response) -> Result<Response> {
    let value = serde_json::from_str(&r.json).map_err(|e| ClientError::Invalid {
        call: "get_response",
        detail: format!("the response is not JSON: {e}"),
    })?;
    Ok(Response {
        run: r.run,
        tr: r.tr,
        value,
        received_at: r.received_at,
    })
}
