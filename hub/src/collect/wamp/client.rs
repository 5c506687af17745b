//! The thin I/O loop around [`Session`]: a WebSocket (`ws://`, or `wss://` over rustls with the
//! ring provider) with subprotocol `wamp.2.json`, a ping every `heartbeat` (silence for two
//! heartbeats drops the link), and reconnection with [`hashward_common::Backoff`] full jitter
//! until the stop signal. Everything the session produces goes out as [`Update`]s on a channel.
//!
//! Must never give up on its own (a dead router is retried forever, backing off), never block
//! the hub's start, and never put a topic or call argument (they may embed an API key) in an
//! error or a log line.

use super::session::{Output, Phase, Session, SessionConfig};
use futures_util::{SinkExt, StreamExt};
use hashward_common::backoff::{Backoff, Retry};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Uri};
use tokio_tungstenite::tungstenite::Message as Frame;

pub const SUBPROTOCOL: &str = "wamp.2.json";

#[derive(Debug, Clone)]
pub struct ClientConfig<L> {
    /// `ws://host:port/path` or `wss://host:port/path`.
    pub url: String,
    pub session: SessionConfig<L>,
    /// A WebSocket ping this often; nothing heard for twice this long drops the link.
    pub heartbeat: Duration,
    /// TCP connect, TLS and WebSocket handshakes, and the WAMP login, each bounded by this.
    pub connect_timeout: Duration,
    pub backoff: Backoff,
    /// Trust for `wss://` (the public roots by default).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// What the client reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Update<L> {
    /// Logged in (WELCOME received).
    Connected,
    /// A call's result or a published event.
    Data {
        label: L,
        event: bool,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    },
    /// The router refused a call or subscription: its error URI.
    Refused { label: L, error: String },
    /// A frame that was not usable (counted; the session carries on).
    Ignored(String),
    /// The link is down (or never came up): why, and the wait before the next attempt.
    Down { error: ClientError, retry_in: Duration },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    #[error("bad WAMP URL: {0}")]
    Url(String),
    #[error("connect: {0}")]
    Connect(String),
    #[error("timed out ({0})")]
    Timeout(&'static str),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("WebSocket: {0}")]
    WebSocket(String),
    #[error("session closed: {0}")]
    Closed(String),
    #[error("no frame for {0} ms (heartbeat)")]
    Silent(u128),
}

impl ClientError {
    /// The error's kind, for counters.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Url(_) => "config",
            ClientError::Connect(_) => "connect",
            ClientError::Timeout(_) | ClientError::Silent(_) => "timeout",
            ClientError::Tls(_) => "tls",
            ClientError::WebSocket(_) => "websocket",
            ClientError::Closed(_) => "session",
        }
    }
}

/// Runs until `stop` turns true, reconnecting as needed. Returns early only if nobody listens
/// to `updates` any more.
pub async fn run<L>(cfg: ClientConfig<L>, updates: mpsc::Sender<Update<L>>, mut stop: watch::Receiver<bool>)
where
    L: Clone + Send + Sync + 'static,
{
    let mut retry = Retry::new(cfg.backoff);
    loop {
        if *stop.borrow() {
            return;
        }
        let outcome = connect_and_serve(&cfg, &updates, &mut stop, &mut retry).await;
        let error = match outcome {
            Ok(()) => return,
            Err(e) => e,
        };
        let retry_in = retry.next_delay(&mut rand::thread_rng());
        if updates.send(Update::Down { error, retry_in }).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(retry_in) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

/// One connection: `Ok` when stopped, else why it ended.
async fn connect_and_serve<L: Clone>(
    cfg: &ClientConfig<L>,
    updates: &mpsc::Sender<Update<L>>,
    stop: &mut watch::Receiver<bool>,
    retry: &mut Retry,
) -> Result<(), ClientError> {
    let mut ws = tokio::select! {
        ws = connect(cfg) => ws?,
        _ = stopped(stop) => return Ok(()),
    };
    let mut session = Session::new(cfg.session.clone());
    for out in session.open() {
        if let Output::Send(text) = out {
            ws.send(Frame::text(text)).await.map_err(ws_err)?;
        }
    }
    let login_deadline = Instant::now() + cfg.connect_timeout;
    let mut ping = tokio::time::interval(cfg.heartbeat);
    ping.tick().await;
    let mut last_heard = Instant::now();
    loop {
        let silence_limit = cfg.heartbeat * 2;
        tokio::select! {
            frame = ws.next() => {
                let frame = match frame {
                    None => return Err(ClientError::WebSocket("connection closed".into())),
                    Some(f) => f.map_err(ws_err)?,
                };
                last_heard = Instant::now();
                let text = match frame {
                    Frame::Text(t) => t.to_string(),
                    Frame::Close(c) => {
                        let why = c.map(|c| format!("{} {}", u16::from(c.code), c.reason)).unwrap_or_default();
                        return Err(ClientError::WebSocket(format!("closed by router {why}")));
                    }
                    // Pongs (and pings, which tungstenite answers) only prove liveness.
                    _ => continue,
                };
                let outs = match session.receive(&text) {
                    Ok(outs) => outs,
                    Err(e) => {
                        send(updates, Update::Ignored(e.to_string())).await?;
                        continue;
                    }
                };
                for out in outs {
                    match out {
                        Output::Send(t) => ws.send(Frame::text(t)).await.map_err(ws_err)?,
                        Output::Established(_) => {
                            retry.reset();
                            send(updates, Update::Connected).await?;
                        }
                        Output::Result { label, args, kwargs } => {
                            send(updates, Update::Data { label, event: false, args, kwargs }).await?
                        }
                        Output::Event { label, args, kwargs } => {
                            send(updates, Update::Data { label, event: true, args, kwargs }).await?
                        }
                        Output::Subscribed(_) => {}
                        Output::Refused { label, error } => send(updates, Update::Refused { label, error }).await?,
                        Output::Closed(why) => return Err(ClientError::Closed(why.to_string())),
                    }
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > silence_limit {
                    return Err(ClientError::Silent(last_heard.elapsed().as_millis()));
                }
                if session.phase() != Phase::Established && Instant::now() > login_deadline {
                    return Err(ClientError::Timeout("WAMP login"));
                }
                ws.send(Frame::Ping(Vec::new().into())).await.map_err(ws_err)?;
            }
            _ = stopped(stop) => {
                if let Some(goodbye) = session.close() {
                    // Best effort: the hub is stopping either way.
                    let _ = timeout(Duration::from_secs(1), ws.send(Frame::text(goodbye))).await;
                }
                let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
                return Ok(());
            }
        }
    }
}

/// Resolves once `stop` is true (or its sender is gone: the hub is going away either way).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard wait_for returns is not Send: drop it here, not in the caller's select.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

async fn send<L>(updates: &mpsc::Sender<Update<L>>, u: Update<L>) -> Result<(), ClientError> {
    updates
        .send(u)
        .await
        .map_err(|_| ClientError::Closed("nobody reads the updates".into()))
}

fn ws_err(e: tokio_tungstenite::tungstenite::Error) -> ClientError {
    ClientError::WebSocket(e.to_string())
}

type Ws = tokio_tungstenite::WebSocketStream<Box<dyn IoBox>>;
trait IoBox: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoBox for T {}

/// TCP, then TLS for `wss://`, then the WebSocket handshake asking for `wamp.2.json`.
async fn connect<L>(cfg: &ClientConfig<L>) -> Result<Ws, ClientError> {
    let uri: Uri = cfg.url.parse().map_err(|e| ClientError::Url(format!("{e}")))?;
    let tls = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => return Err(ClientError::Url("scheme must be ws:// or wss://".into())),
    };
    let host = uri
        .host()
        .ok_or_else(|| ClientError::Url("no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let limit = cfg.connect_timeout;
    let tcp = timeout(limit, tokio::net::TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| ClientError::Timeout("TCP connect"))?
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    tcp.set_nodelay(true).ok();
    let stream: Box<dyn IoBox> = if tls {
        let config = match &cfg.tls {
            Some(c) => c.clone(),
            None => hashward_common::tls::client_config(hashward_common::tls::Trust::Public)
                .map_err(|e| ClientError::Tls(e.to_string()))?,
        };
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| ClientError::Url(format!("host {host:?}: {e}")))?;
        let s = timeout(limit, tokio_rustls::TlsConnector::from(config).connect(name, tcp))
            .await
            .map_err(|_| ClientError::Timeout("TLS handshake"))?
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        Box::new(s)
    } else {
        Box::new(tcp)
    };
    let mut request = cfg
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| ClientError::Url(e.to_string()))?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
    let (ws, _response) = timeout(limit, tokio_tungstenite::client_async(request, stream))
        .await
        .map_err(|_| ClientError::Timeout("WebSocket handshake"))?
        .map_err(ws_err)?;
    Ok(ws)
}
