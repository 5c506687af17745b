//! Prohashing's HTTP API, the fallback while the WAMP link is down: `GET {base}/profitability`
//! answers the same per-algorithm map the WAMP call does (the prohashing-http shape seed 002
//! §10.1 names, `{"<algo id>": {algorithm_name, usd, btc, ...}}`). Worker and balance data have
//! no HTTP equivalent there; they wait for WAMP to come back (served meanwhile as stale).
//!
//! Must never put the URL in an error (the framework's HTTP client already keeps it out).

use super::payload::{self, AlgoQuote};
use crate::collect::http::HttpClient;
use crate::collect::source::SourceError;

/// One fallback poll: the quotes, or why not.
pub async fn profitability(http: &HttpClient, base: &str) -> Result<Vec<AlgoQuote>, SourceError> {
    let body = http.get_ok(&format!("{base}/profitability"), &[]).await?;
    parse(&body)
}

/// The body of `/profitability`.
pub fn parse(body: &[u8]) -> Result<Vec<AlgoQuote>, SourceError> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| SourceError::Decode("prohashing /profitability: not JSON".into()))?;
    payload::profitability(&[v]).map_err(|e| SourceError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_body_parses_and_garbage_is_a_decode_error() {
        let body =
            br#"{"1": {"algorithm_name": "Scrypt", "usd": 0.0025041009705167, "btc": 6.8628068694276e-7,
            "max_usd": 0.0052676028280028, "percentile_usd": 0.0023765266674273,
            "data_timestamp": 1547510680.4959, "server_timestamp": 1547510683.3438, "server_id": 4}}"#;
        let q = parse(body).expect("parses");
        assert_eq!((q[0].id.as_str(), q[0].algorithm_name.as_str()), ("1", "Scrypt"));
        assert!(matches!(parse(b"<html>"), Err(SourceError::Decode(_))));
        let e = parse(br#"{"1": {"algorithm_name": "Scrypt", "usd": "0.1"}}"#).expect_err("changed");
        assert!(e.to_string().contains("`usd`"), "{e}");
    }
}
