//! JSON GETs for the DePIN backends over the ASIC module's bounded HTTP/1.1 client
//! ([`crate::asic::http::HttpConn`]: one kept-alive connection, a deadline per request, a cap
//! on every body).
//!
//! Must never accept a reply it cannot read as the expected JSON shape: a 401/403 is `auth`, any
//! other non-2xx a `refused`, a body that does not parse `malformed` naming the field.

use crate::asic::error::ApiError;
use crate::asic::http::HttpConn;
use hyper::Method;
use serde::de::DeserializeOwned;

/// GETs `path` and reads the body as `T`.
pub(crate) async fn get_json<T: DeserializeOwned>(
    conn: &mut HttpConn,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<T, ApiError> {
    let reply = conn.send(Method::GET, path, headers, None).await?;
    let what = format!("GET http://{}{path}", conn.addr());
    match reply.status {
        200..=299 => {}
        401 | 403 => {
            return Err(ApiError::Unauthorized {
                what,
                detail: format!("HTTP {}", reply.status),
            })
        }
        status => return Err(ApiError::Status { what, status }),
    }
    serde_json::from_slice(&reply.body).map_err(|e| {
        let head: String = String::from_utf8_lossy(&reply.body[..reply.body.len().min(40)])
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        ApiError::malformed(what, format!("{e}; {} bytes starting {head:?}", reply.body.len()))
    })
}

/// Resolves a configured `http://host:port` to the client's socket address.
pub(crate) async fn connect(
    url: &str,
    default_port: u16,
    timeout: std::time::Duration,
) -> Result<HttpConn, ApiError> {
    let ep = crate::asic::target::Endpoint::parse(url)?;
    let addr = ep.resolve(default_port).await?;
    Ok(HttpConn::new(addr, timeout))
}
