//! The I/O side of one Stratum v1 connection (tokio): connect over TCP or TLS, frame lines,
//! enforce the connect, handshake and write timeouts, and drive a [`Session`] with what
//! arrives (lines, shares, ticks, shutdown), writing the lines it queues and forwarding its
//! events to the engine.
//!
//! What it is for: the thin loop around the sans-IO [`Session`], which makes every protocol
//! decision. Lines over 64 KiB or not UTF-8 are skipped here (the session counts them).
//! What it must never do: decide anything about the protocol, buffer an unbounded line, or
//! block on a pool that stopped reading (writes have a timeout).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::generations::{dropped_share, SharedGenerations};
use super::job::Share;
use super::message::MAX_LINE_BYTES;
use super::session::{Output, Session, SessionEnd, Shared, Stop};
use super::stats::StatsHandle;
use super::url::{PoolUrl, Scheme};
use super::{ClientConfig, PoolEvent, ShareOutcome};

/// How often the session is asked about submit and idle timeouts.
const TICK: Duration = Duration::from_millis(250);

/// Why a connection could not be established.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connect to {addr} failed: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("timed out: {0}")]
    Timeout(&'static str),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("pool closed the connection during the handshake")]
    Closed,
    #[error("subscribe failed: {0}")]
    Subscribe(String),
    #[error("authorization refused: {0}")]
    Unauthorized(String),
}

/// A byte stream to a pool (TCP or TLS).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Build a TLS connector trusting the webpki roots plus `extra_roots` (DER).
pub fn tls_connector(extra_roots: &[Vec<u8>]) -> Result<tokio_rustls::TlsConnector, ClientError> {
    use hashward_common::tls::{client_config, Trust};
    let config = client_config(Trust::PublicAnd(extra_roots)).map_err(|e| ClientError::Tls(e.to_string()))?;
    Ok(tokio_rustls::TlsConnector::from(config))
}

async fn connect(
    url: &PoolUrl,
    timeout: Duration,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> Result<Box<dyn Io>, ClientError> {
    let addr = url.authority();
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(&addr))
        .await
        .map_err(|_| ClientError::Timeout("TCP connect"))?
        .map_err(|source| ClientError::Connect {
            addr: addr.clone(),
            source,
        })?;
    // Without NODELAY shares wait for Nagle, which costs latency, not correctness.
    if let Err(e) = tcp.set_nodelay(true) {
        log::debug!("{addr}: TCP_NODELAY not set: {e}");
    }
    match url.scheme {
        Scheme::Tcp => Ok(Box::new(tcp)),
        Scheme::Tls => {
            let connector = tls.ok_or_else(|| ClientError::Tls("no TLS connector".into()))?;
            let name = rustls::pki_types::ServerName::try_from(url.host.clone())
                .map_err(|e| ClientError::Tls(format!("server name {:?}: {e}", url.host)))?;
            let stream = tokio::time::timeout(timeout, connector.connect(name, tcp))
                .await
                .map_err(|_| ClientError::Timeout("TLS handshake"))?
                .map_err(|e| ClientError::Tls(e.to_string()))?;
            Ok(Box::new(stream))
        }
    }
}

/// One item from the line reader.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadItem {
    Line(String),
    /// A line longer than [`MAX_LINE_BYTES`] was skipped (its length so far).
    Oversized(usize),
    /// A line that is not UTF-8 was skipped.
    NotUtf8,
    Eof,
    Error(String),
}

/// Read newline-delimited lines from `r` into `tx`, never buffering more than
/// [`MAX_LINE_BYTES`] (+ one read buffer) of a single line.
pub async fn read_lines<R: AsyncRead + Unpin>(r: R, tx: mpsc::Sender<ReadItem>) {
    let mut r = BufReader::with_capacity(16 * 1024, r);
    let mut buf: Vec<u8> = Vec::new();
    let mut discarding: Option<usize> = None;
    loop {
        let chunk = match r.fill_buf().await {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(ReadItem::Error(e.to_string())).await;
                return;
            }
        };
        if chunk.is_empty() {
            let _ = tx.send(ReadItem::Eof).await;
            return;
        }
        let (take, complete) = match chunk.iter().position(|b| *b == b'\n') {
            Some(pos) => (pos, true),
            None => (chunk.len(), false),
        };
        match discarding.as_mut() {
            Some(n) => *n += take,
            None => {
                buf.extend_from_slice(&chunk[..take]);
                if buf.len() > MAX_LINE_BYTES {
                    discarding = Some(buf.len());
                    buf = Vec::new();
                }
            }
        }
        r.consume(if complete { take + 1 } else { take });
        if !complete {
            continue;
        }
        let item = if let Some(n) = discarding.take() {
            ReadItem::Oversized(n)
        } else {
            let mut line = std::mem::take(&mut buf);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match String::from_utf8(line) {
                Ok(s) => ReadItem::Line(s),
                Err(_) => ReadItem::NotUtf8,
            }
        };
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

/// Record and report a share that is dropped without being sent.
pub(crate) fn drop_share(
    share: &Share,
    outcome: ShareOutcome,
    fallback_pool: usize,
    gens: &SharedGenerations,
    stats: &StatsHandle,
    events: &mpsc::UnboundedSender<PoolEvent>,
) {
    // The engine gone means the client is being torn down; nobody is left to tell.
    let _ = events.send(dropped_share(share, outcome, fallback_pool, gens, stats));
}

/// Static, shared parts every connection needs.
#[derive(Clone)]
pub struct SessionContext {
    pub config: Arc<ClientConfig>,
    pub stats: StatsHandle,
    pub events: mpsc::UnboundedSender<PoolEvent>,
    pub generations: SharedGenerations,
    pub tls: Option<tokio_rustls::TlsConnector>,
}

/// One live connection to one pool: the socket, its reader task and the session.
pub struct Connection {
    session: Session,
    events: mpsc::UnboundedSender<PoolEvent>,
    write_timeout: Duration,
    lines: mpsc::Receiver<ReadItem>,
    reader: JoinHandle<()>,
    writer: WriteHalf<Box<dyn Io>>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Connection {
    /// Connect to `url` (pool index `pool`) and complete configure/subscribe/authorize.
    /// Emits no events; call [`Connection::activate`] to make it the live connection.
    pub async fn establish(
        pool: usize,
        url: PoolUrl,
        ctx: SessionContext,
    ) -> Result<Connection, ClientError> {
        let cfg = ctx.config.clone();
        let pool_cfg = cfg
            .pools
            .get(pool)
            .ok_or_else(|| ClientError::Subscribe(format!("no pool {pool} configured")))?;
        let stream = connect(&url, cfg.connect_timeout, ctx.tls.as_ref()).await?;
        let (rd, writer) = tokio::io::split(stream);
        let (tx, lines) = mpsc::channel(64);
        let reader = tokio::spawn(read_lines(rd, tx));
        let shared = Shared {
            config: cfg.clone(),
            stats: ctx.stats,
            generations: ctx.generations,
        };
        let session = Session::new(
            pool,
            url,
            pool_cfg.user.clone(),
            &pool_cfg.password,
            shared,
            Instant::now(),
        );
        let mut c = Connection {
            session,
            events: ctx.events,
            write_timeout: cfg.write_timeout,
            lines,
            reader,
            writer,
        };
        let deadline = tokio::time::Instant::now() + cfg.handshake_timeout;
        match tokio::time::timeout_at(deadline, c.handshake()).await {
            Ok(r) => r.map(|()| c),
            Err(_) => Err(ClientError::Timeout("handshake")),
        }
    }

    async fn handshake(&mut self) -> Result<(), ClientError> {
        self.flush().await?;
        while !self.session.is_ready() {
            match self.lines.recv().await {
                Some(ReadItem::Line(line)) => {
                    self.session
                        .handle_line(&line, Instant::now())
                        .map_err(handshake_error)?;
                }
                Some(ReadItem::Oversized(n)) => self.session.skipped_oversized(n, Instant::now()),
                Some(ReadItem::NotUtf8) => self.session.skipped_not_utf8(Instant::now()),
                Some(ReadItem::Error(e)) => {
                    return Err(ClientError::Io(std::io::Error::other(format!("read error: {e}"))))
                }
                Some(ReadItem::Eof) | None => return Err(ClientError::Closed),
            }
            self.flush().await?;
        }
        Ok(())
    }

    /// Pool index.
    pub fn pool(&self) -> usize {
        self.session.pool()
    }

    /// Make this the live connection: emit `Connected` and the first job.
    pub fn activate(&mut self) {
        self.session.activate();
        self.forward_events();
    }

    /// Run until the connection ends, serving shares from `submits`.
    pub async fn run(
        &mut self,
        submits: &mut mpsc::UnboundedReceiver<Share>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let end = tokio::select! {
                item = self.lines.recv() => match item {
                    Some(ReadItem::Line(line)) => match self.session.handle_line(&line, Instant::now()) {
                        Ok(()) => None,
                        Err(Stop::End(end)) => Some(end),
                        Err(other) => Some(SessionEnd::Disconnected(handshake_error(other).to_string())),
                    },
                    Some(ReadItem::Oversized(n)) => {
                        self.session.skipped_oversized(n, Instant::now());
                        None
                    }
                    Some(ReadItem::NotUtf8) => {
                        self.session.skipped_not_utf8(Instant::now());
                        None
                    }
                    Some(ReadItem::Eof) => Some(SessionEnd::Disconnected("pool closed the connection".into())),
                    Some(ReadItem::Error(e)) => Some(SessionEnd::Disconnected(format!("read error: {e}"))),
                    None => Some(SessionEnd::Disconnected("reader stopped".into())),
                },
                share = submits.recv() => match share {
                    Some(share) => {
                        self.session.submit(share, Instant::now());
                        None
                    }
                    None => Some(SessionEnd::Shutdown),
                },
                _ = tick.tick() => self.session.tick(Instant::now()),
                _ = shutdown.changed() => Some(SessionEnd::Shutdown),
            };
            if let Some(end) = end {
                return end;
            }
            if let Err(e) = self.flush().await {
                return SessionEnd::Disconnected(format!("write failed: {e}"));
            }
        }
    }

    /// Tear down: unanswered shares are reported, counters updated, `Disconnected` emitted
    /// (only if the session was active).
    pub fn close(mut self, reason: &str) {
        self.session.close(reason);
        self.forward_events();
    }

    /// Write the session's queued lines and forward its events, in order. After a failed
    /// write the remaining lines are moot (the connection ends) but events still go out.
    async fn flush(&mut self) -> Result<(), std::io::Error> {
        let mut failed = None;
        for out in self.session.take_outputs() {
            match out {
                Output::Send(line) if failed.is_none() => {
                    if let Err(e) = self.write_line(&line).await {
                        failed = Some(e);
                    }
                }
                Output::Send(_) => {}
                Output::Event(e) => self.send_event(e),
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Forward queued events where no write can happen (lines, if any, are dropped: the
    /// connection is being closed or has not started).
    fn forward_events(&mut self) {
        for out in self.session.take_outputs() {
            if let Output::Event(e) = out {
                self.send_event(e);
            }
        }
    }

    fn send_event(&self, event: PoolEvent) {
        // The engine gone means the client is being torn down; nobody is left to tell.
        let _ = self.events.send(event);
    }

    async fn write_line(&mut self, line: &str) -> Result<(), std::io::Error> {
        log::trace!("pool {} <- {}", self.session.pool(), line.trim_end());
        let w = &mut self.writer;
        match tokio::time::timeout(self.write_timeout, async {
            w.write_all(line.as_bytes()).await?;
            w.flush().await
        })
        .await
        {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "write timed out",
            )),
        }
    }
}

/// What a session stop means while the connection is still being established.
fn handshake_error(stop: Stop) -> ClientError {
    match stop {
        Stop::Subscribe(why) => ClientError::Subscribe(why),
        Stop::Unauthorized(why) => ClientError::Unauthorized(why),
        Stop::End(SessionEnd::Disconnected(r)) => {
            ClientError::Io(std::io::Error::new(std::io::ErrorKind::BrokenPipe, r))
        }
        Stop::End(_) => ClientError::Closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(input: Vec<u8>) -> Vec<ReadItem> {
        let (tx, mut rx) = mpsc::channel(16);
        let task = tokio::spawn(read_lines(std::io::Cursor::new(input), tx));
        let mut out = Vec::new();
        while let Some(item) = rx.recv().await {
            let end = matches!(item, ReadItem::Eof | ReadItem::Error(_));
            out.push(item);
            if end {
                break;
            }
        }
        task.await.expect("reader task");
        out
    }

    #[tokio::test]
    async fn line_reader_splits_and_skips_oversized() {
        let mut input = b"{\"a\":1}\r\n\n  \nsecond\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        input.extend(b"\nafter\n\xff\xfe\nlast-no-newline");
        let items = collect(input).await;
        assert_eq!(
            items,
            vec![
                ReadItem::Line("{\"a\":1}".into()),
                ReadItem::Line("second".into()),
                ReadItem::Oversized(MAX_LINE_BYTES + 10),
                ReadItem::Line("after".into()),
                ReadItem::NotUtf8,
                ReadItem::Eof,
            ]
        );
    }

    #[tokio::test]
    async fn line_reader_accepts_line_at_limit() {
        let mut input = vec![b'y'; MAX_LINE_BYTES];
        input.push(b'\n');
        let items = collect(input).await;
        assert!(matches!(&items[0], ReadItem::Line(s) if s.len() == MAX_LINE_BYTES));
    }
}
