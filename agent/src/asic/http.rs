//! A small HTTP/1.1 client for miner web APIs (Vnish, stock Antminer cgi): one kept-alive
//! connection per miner, every request bounded by a deadline and every body by a size cap.
//!
//! It must never wait without a deadline, read an unbounded body, or leave a connection task
//! running after a request to a hanging miner was given up (the task is aborted with the
//! connection). Miner web servers are slow embedded daemons: one request at a time per miner.

use super::error::ApiError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderMap, CONTENT_TYPE, HOST};
use hyper::Method;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::AbortHandle;

/// Largest reply body accepted. A real `/summary` or `stats.cgi` is a few kilobytes; anything
/// near this is not a miner talking.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// One reply, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

struct Live {
    sender: SendRequest<Full<Bytes>>,
    task: AbortHandle,
}

impl Drop for Live {
    fn drop(&mut self) {
        // The connection future may be blocked on a miner that never answers; end it with us.
        self.task.abort();
    }
}

/// A (lazily opened, reused) connection to one miner's web server.
pub struct HttpConn {
    addr: SocketAddr,
    host: String,
    timeout: Duration,
    live: Option<Live>,
}

impl HttpConn {
    /// `timeout` bounds each request as a whole: connect, send, and reading the body.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        HttpConn {
            addr,
            host: addr.to_string(),
            timeout,
            live: None,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops the kept-alive connection (next request opens a new one).
    pub fn reset(&mut self) {
        self.live = None;
    }

    /// Sends one request and reads the whole reply (any status) within the timeout.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        json_body: Option<Bytes>,
    ) -> Result<Reply, ApiError> {
        let what = format!("{method} http://{}{path}", self.addr);
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.send_inner(&what, method, path, headers, json_body)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => {
                self.live = None;
                Err(e)
            }
            Err(_) => {
                self.live = None;
                Err(ApiError::Timeout { what, after: timeout })
            }
        }
    }

    async fn send_inner(
        &mut self,
        what: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Result<Reply, ApiError> {
        if self.live.is_some() {
            match self
                .try_once(what, method.clone(), path, headers, body.clone())
                .await
            {
                Ok(reply) => return Ok(reply),
                // A kept-alive connection the miner closed while idle fails before anything is
                // sent; that is not the miner's fault, so retry once on a fresh connection.
                Err(Attempt::Stale(e)) => {
                    log::debug!("{what}: kept-alive connection was closed ({e}), reconnecting");
                    self.live = None;
                }
                Err(Attempt::Failed(e)) => return Err(e),
            }
        }
        self.connect(what).await?;
        self.try_once(what, method, path, headers, body)
            .await
            .map_err(Attempt::into_error)
    }

    async fn connect(&mut self, what: &str) -> Result<(), ApiError> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|source| ApiError::Connect {
                addr: self.addr.to_string(),
                source,
            })?;
        // Small request/response pairs: do not let Nagle hold the request back.
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ApiError::Http {
                what: what.to_string(),
                detail: e.to_string(),
            })?;
        let addr = self.addr;
        let task = tokio::spawn(async move {
            if let Err(e) = conn.await {
                log::debug!("connection to {addr} ended: {e}");
            }
        });
        self.live = Some(Live {
            sender,
            task: task.abort_handle(),
        });
        Ok(())
    }

    async fn try_once(
        &mut self,
        what: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Result<Reply, Attempt> {
        let http_err = |e: &dyn std::fmt::Display| ApiError::Http {
            what: what.to_string(),
            detail: e.to_string(),
        };
        let live = self
            .live
            .as_mut()
            .ok_or_else(|| Attempt::Failed(http_err(&"no connection")))?;
        live.sender
            .ready()
            .await
            .map_err(|e| Attempt::Stale(http_err(&e)))?;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.as_str());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if body.is_some() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| Attempt::Failed(http_err(&e)))?;
        let resp = live.sender.send_request(req).await.map_err(|e| {
            if e.is_canceled() {
                Attempt::Stale(http_err(&e))
            } else {
                Attempt::Failed(http_err(&e))
            }
        })?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, MAX_BODY).collect().await.map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                Attempt::Failed(ApiError::TooLarge {
                    what: what.to_string(),
                    limit: MAX_BODY,
                })
            } else {
                Attempt::Failed(http_err(&e))
            }
        })?;
        Ok(Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body.to_bytes(),
        })
    }
}

enum Attempt {
    /// Failed before the request could have reached the miner: safe to retry.
    Stale(ApiError),
    Failed(ApiError),
}

impl Attempt {
    fn into_error(self) -> ApiError {
        match self {
            Attempt::Stale(e) | Attempt::Failed(e) => e,
        }
    }
}
