//! The collectors' HTTP client: one GET per call over a fresh connection (polls are minutes
//! apart; a pool would hold sockets for nothing), `https://` through rustls with the ring
//! provider and the public roots, `http://` for the loopback fakes.
//!
//! Must never put a request URL or header in an error: keys may travel in either. The caller
//! applies the timeout.

use super::source::SourceError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Uri;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// Bodies above this are refused (the largest real answer, a 365-day chart, is ~30 KiB).
pub const MAX_BODY: usize = 4 << 20;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

#[derive(Clone)]
pub struct HttpClient {
    tls: Arc<rustls::ClientConfig>,
}

impl HttpClient {
    pub fn new() -> Result<HttpClient, hashward_common::tls::TlsError> {
        Ok(HttpClient {
            tls: hashward_common::tls::client_config(hashward_common::tls::Trust::Public)?,
        })
    }

    /// GETs `url` with `headers`; any status is a `Response` (see [`HttpClient::get_ok`]).
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Response, SourceError> {
        self.request(hyper::Method::GET, url, headers, Bytes::new()).await
    }

    /// POSTs `body` to `url` (a node's JSON-RPC); any status is a `Response`.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response, SourceError> {
        self.request(hyper::Method::POST, url, headers, Bytes::from(body))
            .await
    }

    async fn request(
        &self,
        method: hyper::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response, SourceError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| SourceError::Connect("the configured base URL is not a URL".into()))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(SourceError::Connect(
                    "the base URL is neither http:// nor https://".into(),
                ))
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| SourceError::Connect("the base URL has no host".into()))?
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| SourceError::Connect(format!("{host}:{port}: {e}")))?;
        let host_header = match uri.port_u16() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, host_header)
            .header(hyper::header::ACCEPT, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("hashward-hub/", env!("CARGO_PKG_VERSION")),
            );
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|_| SourceError::Connect("request header not valid HTTP".into()))?;
        if https {
            let name = ServerName::try_from(host.clone())
                .map_err(|_| SourceError::Connect(format!("{host}: not a valid TLS server name")))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| SourceError::Connect(format!("{host}:{port}: TLS: {e}")))?;
            send(TokioIo::new(tls), req).await
        } else {
            send(TokioIo::new(tcp), req).await
        }
    }

    /// As [`HttpClient::get`], with 429 as `RateLimited` and any other non-2xx as `HttpStatus`.
    pub async fn get_ok(&self, url: &str, headers: &[(&str, &str)]) -> Result<Bytes, SourceError> {
        let r = self.get(url, headers).await?;
        match r.status {
            200..=299 => Ok(r.body),
            429 => Err(SourceError::RateLimited {
                retry_after: r.retry_after,
            }),
            status => Err(SourceError::HttpStatus { status }),
        }
    }
}

async fn send<T>(io: TokioIo<T>, req: hyper::Request<Full<Bytes>>) -> Result<Response, SourceError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| SourceError::Connect(format!("HTTP handshake: {e}")))?;
    // The connection task ends with the response (or the caller's timeout dropping us).
    let conn = tokio::spawn(conn);
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| SourceError::Connect(format!("request: {e}")))?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(hyper::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| SourceError::Decode(format!("reading the body: {e}")))?
        .to_bytes();
    conn.abort();
    Ok(Response {
        status,
        retry_after,
        body,
    })
}

/// `Retry-After` in its delay-seconds form; the HTTP-date form is ignored (backoff applies).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_parse_and_dates_do_not() {
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT"), None);
    }
}
