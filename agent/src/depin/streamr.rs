//! Streamr node: the `info` plugin's `GET /info` on the node's HTTP server (port 7171), as a
//! health check.
//!
//! Shape from streamr-dev/network `packages/node/src/plugins/info/InfoPlugin.ts`: older nodes
//! answer `{"nodeId": ...}`, newer ones the SDK's diagnostic info (a JSON object whose layout
//! follows the network stack's version). A JSON object means the node is up; `nodeId` is read
//! when it is at the top level. Earnings are paid on-chain to the operator contract and are out
//! of scope ([`super::STREAMR_EARNINGS`]): the report says so instead of showing a zero.

use super::http::{connect, get_json};
use super::{DepinAdapter, DepinError, PollFuture, Reading, STREAMR_EARNINGS};
use crate::asic::error::ApiError;
use crate::asic::http::HttpConn;
use hashward_protocol::DepinKind;
use std::time::Duration;

pub const DEFAULT_URL: &str = "http://127.0.0.1:7171";
const DEFAULT_PORT: u16 = 7171;

/// The reading of one `/info` reply. Pure.
pub fn normalise(info: &serde_json::Value) -> Result<Reading, String> {
    let obj = info
        .as_object()
        .ok_or_else(|| format!("expected a JSON object, got {}", kind_of(info)))?;
    Ok(Reading {
        node_id: obj.get("nodeId").and_then(|v| v.as_str()).map(str::to_string),
        earnings_unavailable: Some(STREAMR_EARNINGS.to_string()),
        ..Reading::default()
    })
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

pub struct StreamrClient {
    url: String,
    timeout: Duration,
    conn: Option<HttpConn>,
}

impl StreamrClient {
    pub fn new(url: &str, timeout: Duration) -> StreamrClient {
        StreamrClient {
            url: url.to_string(),
            timeout,
            conn: None,
        }
    }

    async fn read(&mut self) -> Result<Reading, DepinError> {
        let conn = match self.conn.take() {
            Some(c) => c,
            None => connect(&self.url, DEFAULT_PORT, self.timeout).await?,
        };
        let conn = self.conn.insert(conn);
        let info: serde_json::Value = get_json(conn, "/info", &[]).await?;
        normalise(&info).map_err(|e| DepinError::Api(ApiError::malformed("GET /info", e)))
    }
}

impl DepinAdapter for StreamrClient {
    fn kind(&self) -> DepinKind {
        DepinKind::Streamr
    }

    fn poll(&mut self, _now_ms: u64) -> PollFuture<'_> {
        Box::pin(self.read())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_is_health_and_earnings_say_why_not() {
        let r = normalise(&serde_json::json!({"nodeId": "0xab#c"})).expect("object");
        assert_eq!(r.node_id.as_deref(), Some("0xab#c"));
        assert!(r.earnings.is_none());
        assert_eq!(r.earnings_unavailable.as_deref(), Some(STREAMR_EARNINGS));
        let r = normalise(&serde_json::json!({"controlLayer": {}})).expect("newer shape");
        assert_eq!(r.node_id, None);
        assert!(normalise(&serde_json::json!([1])).is_err());
    }
}
