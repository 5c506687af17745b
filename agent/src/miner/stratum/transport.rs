//! One Stratum v1 connection to one pool (tokio).
//!
//! What it is for: connecting (TCP or TLS), the handshake (`mining.configure` for BIP310
//! version rolling, `mining.subscribe`, `mining.authorize`), turning `mining.notify` /
//! `mining.set_difficulty` / `mining.set_extranonce` into [`MiningJob`]s, sending shares with
//! `mining.submit` and matching answers by id, `client.reconnect`, and per-pool counters.
//! Bad input (malformed JSON, wrong types, lines over 64 KiB, unknown methods) is logged with
//! what was wrong, counted and skipped.
//! What it must never do: panic or `unwrap()` on pool input, send a share whose job was
//! cleaned or belongs to another connection, emit events before it is made the active
//! connection, or block on a pool that stopped reading (writes have a timeout).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::job::{JobContext, MiningJob, Share};
use super::message::{self, Incoming, MessageError, Notify, RpcError, Subscribed, MAX_LINE_BYTES};
use super::stats::{RejectReason, StatsHandle};
use super::target::target_from_difficulty;
use super::url::{PoolUrl, Scheme};
use super::{ClientConfig, PoolEvent, ShareOutcome, ShareResult};

/// Jobs kept per work epoch; shares for older (evicted) jobs are dropped as stale.
const MAX_JOBS: usize = 32;

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

/// Why an established session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// Connection lost or closed for the given reason.
    Disconnected(String),
    /// The pool asked us (`client.reconnect`) to reconnect to `url` after `wait`.
    Reconnect { url: PoolUrl, wait: Duration },
    /// The client is shutting down.
    Shutdown,
}

/// Allocates work epochs (generations) and remembers which pool owned each.
#[derive(Debug, Default)]
pub struct Generations {
    next: u64,
    /// (first generation, pool), most recent last.
    owners: VecDeque<(u64, usize)>,
}

impl Generations {
    /// A new generation owned by `pool`.
    pub fn alloc(&mut self, pool: usize) -> u64 {
        self.next += 1;
        let g = self.next;
        if self.owners.back().map(|(_, p)| *p) != Some(pool) {
            self.owners.push_back((g, pool));
            if self.owners.len() > 256 {
                self.owners.pop_front();
            }
        }
        g
    }

    /// The pool that owned generation `g`, if still remembered.
    pub fn owner(&self, g: u64) -> Option<usize> {
        self.owners
            .iter()
            .rev()
            .find(|(start, _)| *start <= g)
            .map(|(_, p)| *p)
    }
}

pub type SharedGenerations = Arc<Mutex<Generations>>;

fn lock_gens(g: &SharedGenerations) -> std::sync::MutexGuard<'_, Generations> {
    g.lock().unwrap_or_else(|e| e.into_inner())
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
    let pool = lock_gens(gens).owner(share.generation).unwrap_or(fallback_pool);
    log::debug!(
        "pool {pool}: dropping share for job {} (generation {}): {:?}",
        share.job_id,
        share.generation,
        outcome
    );
    stats.update(pool, |s| match outcome {
        ShareOutcome::DroppedInvalid => s.invalid_dropped += 1,
        _ => s.stale_dropped += 1,
    });
    let _ = events.send(PoolEvent::ShareResult(ShareResult {
        pool,
        job_id: share.job_id.clone(),
        generation: share.generation,
        nonce: share.nonce,
        outcome,
        latency: None,
    }));
}

// ---------------------------------------------------------------------------------------------
// Transport

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
    let _ = tcp.set_nodelay(true);
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

// ---------------------------------------------------------------------------------------------
// Session

struct PendingSubmit {
    share: Share,
    sent: Instant,
}

/// Where a connection stands in its handshake.
#[derive(Debug, Default)]
struct Handshake {
    configure_id: Option<u64>,
    subscribe_id: u64,
    authorize_id: u64,
    subscribed: bool,
    authorized: bool,
}

/// Static, shared parts every session needs.
#[derive(Clone)]
pub struct SessionContext {
    pub config: Arc<ClientConfig>,
    pub stats: StatsHandle,
    pub events: mpsc::UnboundedSender<PoolEvent>,
    pub generations: SharedGenerations,
    pub tls: Option<tokio_rustls::TlsConnector>,
}

/// One connection to one pool.
pub struct Session {
    pool: usize,
    url: PoolUrl,
    user: String,
    ctx: SessionContext,
    lines: mpsc::Receiver<ReadItem>,
    reader: JoinHandle<()>,
    writer: WriteHalf<Box<dyn Io>>,
    next_id: u64,
    handshake: Handshake,
    extranonce: Option<Subscribed>,
    version_mask: Option<u32>,
    difficulty: f64,
    /// Latest notify seen before activation (replayed as the first job).
    pending_notify: Option<Notify>,
    active: bool,
    generation: u64,
    jobs: HashMap<String, Arc<MiningJob>>,
    job_order: VecDeque<String>,
    latest_job: Option<Arc<MiningJob>>,
    pending: HashMap<u64, PendingSubmit>,
    last_rx: Instant,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Session {
    /// Connect to `url` (pool index `pool`) and complete configure/subscribe/authorize.
    /// Emits no events; call [`Session::activate`] to make it the live connection.
    pub async fn establish(pool: usize, url: PoolUrl, ctx: SessionContext) -> Result<Session, ClientError> {
        let cfg = ctx.config.clone();
        let pool_cfg = cfg
            .pools
            .get(pool)
            .ok_or_else(|| ClientError::Subscribe(format!("no pool {pool} configured")))?;
        let stream = connect(&url, cfg.connect_timeout, ctx.tls.as_ref()).await?;
        let (rd, writer) = tokio::io::split(stream);
        let (tx, lines) = mpsc::channel(64);
        let reader = tokio::spawn(read_lines(rd, tx));
        let mut s = Session {
            pool,
            url,
            user: pool_cfg.user.clone(),
            ctx,
            lines,
            reader,
            writer,
            next_id: 1,
            handshake: Handshake::default(),
            extranonce: None,
            version_mask: None,
            difficulty: 1.0,
            pending_notify: None,
            active: false,
            generation: 0,
            jobs: HashMap::new(),
            job_order: VecDeque::new(),
            latest_job: None,
            pending: HashMap::new(),
            last_rx: Instant::now(),
        };
        let deadline = tokio::time::Instant::now() + cfg.handshake_timeout;
        match tokio::time::timeout_at(deadline, s.handshake(&pool_cfg.password)).await {
            Ok(r) => r.map(|()| s),
            Err(_) => Err(ClientError::Timeout("handshake")),
        }
    }

    async fn handshake(&mut self, password: &str) -> Result<(), ClientError> {
        let cfg = self.ctx.config.clone();
        if let Some(mask) = cfg.version_rolling_mask {
            let id = self
                .send(
                    "mining.configure",
                    message::configure_version_rolling_params(mask, 2),
                )
                .await?;
            self.handshake.configure_id = Some(id);
        }
        self.handshake.subscribe_id = self
            .send("mining.subscribe", message::subscribe_params(&cfg.user_agent))
            .await?;
        let user = self.user.clone();
        self.handshake.authorize_id = self
            .send("mining.authorize", message::authorize_params(&user, password))
            .await?;
        while !(self.handshake.subscribed && self.handshake.authorized) {
            match self.lines.recv().await {
                Some(ReadItem::Line(line)) => {
                    if let Err(end) = self.on_line(&line).await {
                        return Err(match end {
                            HandshakeFail::Client(e) => e,
                            HandshakeFail::End(SessionEnd::Disconnected(r)) => {
                                ClientError::Io(std::io::Error::new(std::io::ErrorKind::BrokenPipe, r))
                            }
                            HandshakeFail::End(_) => ClientError::Closed,
                        });
                    }
                }
                Some(other) => {
                    if let Some(end) = self.on_read_problem(other) {
                        return Err(match end {
                            SessionEnd::Disconnected(r) if r.starts_with("read error") => {
                                ClientError::Io(std::io::Error::other(r))
                            }
                            _ => ClientError::Closed,
                        });
                    }
                }
                None => return Err(ClientError::Closed),
            }
        }
        if cfg.extranonce_subscribe {
            self.send("mining.extranonce.subscribe", Value::Array(Vec::new()))
                .await?;
        }
        Ok(())
    }

    /// Pool index.
    pub fn pool(&self) -> usize {
        self.pool
    }

    /// Make this the live connection: emit `Connected` and the first job.
    pub fn activate(&mut self) {
        self.active = true;
        self.generation = lock_gens(&self.ctx.generations).alloc(self.pool);
        let url = self.url.to_string();
        let (mask, diff) = (self.version_mask, self.difficulty);
        self.ctx.stats.update(self.pool, |s| {
            s.connected = true;
            s.connects += 1;
            s.version_mask = mask;
            s.difficulty = Some(diff);
        });
        log::info!(
            "pool {} ({url}): connected; version rolling mask {:?}",
            self.pool,
            self.version_mask
        );
        let _ = self.ctx.events.send(PoolEvent::Connected {
            pool: self.pool,
            url,
            version_mask: self.version_mask,
        });
        if let Some(n) = self.pending_notify.take() {
            self.new_job(&n, true);
        }
    }

    /// Run until the connection ends, serving shares from `submits`.
    pub async fn run(
        &mut self,
        submits: &mut mpsc::UnboundedReceiver<Share>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        let tick_every = Duration::from_millis(250);
        let mut tick = tokio::time::interval(tick_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                item = self.lines.recv() => {
                    match item {
                        Some(ReadItem::Line(line)) => match self.on_line(&line).await {
                            Ok(()) => {}
                            Err(HandshakeFail::End(end)) => return end,
                            Err(HandshakeFail::Client(e)) => return SessionEnd::Disconnected(e.to_string()),
                        },
                        Some(other) => {
                            if let Some(end) = self.on_read_problem(other) {
                                return end;
                            }
                        }
                        None => return SessionEnd::Disconnected("reader stopped".into()),
                    }
                }
                share = submits.recv() => {
                    match share {
                        Some(share) => {
                            if let Err(e) = self.submit(share).await {
                                return SessionEnd::Disconnected(format!("write failed: {e}"));
                            }
                        }
                        None => return SessionEnd::Shutdown,
                    }
                }
                _ = tick.tick() => {
                    if let Some(end) = self.check_timeouts() {
                        return end;
                    }
                }
                _ = shutdown.changed() => return SessionEnd::Shutdown,
            }
        }
    }

    /// Tear down: unanswered shares are reported, counters updated, `Disconnected` emitted
    /// (only if the session was active).
    pub fn close(mut self, reason: &str) {
        for (_, p) in self.pending.drain() {
            self.ctx.stats.update(self.pool, |s| s.unanswered += 1);
            let _ = self.ctx.events.send(PoolEvent::ShareResult(ShareResult {
                pool: self.pool,
                job_id: p.share.job_id.clone(),
                generation: p.share.generation,
                nonce: p.share.nonce,
                outcome: ShareOutcome::Unanswered,
                latency: None,
            }));
        }
        if self.active {
            log::warn!("pool {} ({}): disconnected: {reason}", self.pool, self.url);
            self.ctx.stats.update(self.pool, |s| {
                s.connected = false;
                s.disconnects += 1;
            });
            let _ = self.ctx.events.send(PoolEvent::Disconnected {
                pool: self.pool,
                reason: reason.to_string(),
            });
        }
    }

    fn check_timeouts(&mut self) -> Option<SessionEnd> {
        let cfg = &self.ctx.config;
        let now = Instant::now();
        let expired: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| now.duration_since(p.sent) > cfg.submit_timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                log::warn!("pool {}: share for job {} unanswered", self.pool, p.share.job_id);
                self.ctx.stats.update(self.pool, |s| s.unanswered += 1);
                self.emit_result(&p.share, ShareOutcome::Unanswered, None);
            }
        }
        let idle = now.duration_since(self.last_rx);
        if idle > cfg.idle_timeout {
            return Some(SessionEnd::Disconnected(format!(
                "no message from the pool for {} s",
                idle.as_secs()
            )));
        }
        None
    }

    fn on_read_problem(&mut self, item: ReadItem) -> Option<SessionEnd> {
        match item {
            ReadItem::Oversized(n) => {
                log::warn!(
                    "pool {}: skipped a line of {n}+ bytes (limit {MAX_LINE_BYTES})",
                    self.pool
                );
                self.last_rx = Instant::now();
                self.ctx.stats.update(self.pool, |s| s.oversized_lines += 1);
                None
            }
            ReadItem::NotUtf8 => {
                log::warn!("pool {}: skipped a line that is not UTF-8", self.pool);
                self.last_rx = Instant::now();
                self.ctx.stats.update(self.pool, |s| s.malformed_lines += 1);
                None
            }
            ReadItem::Eof => Some(SessionEnd::Disconnected("pool closed the connection".into())),
            ReadItem::Error(e) => Some(SessionEnd::Disconnected(format!("read error: {e}"))),
            ReadItem::Line(_) => None,
        }
    }

    fn malformed(&self, what: &str, err: &MessageError, line: &str) {
        let shown: String = line.chars().take(200).collect();
        log::warn!("pool {}: skipped {what}: {err}: {shown}", self.pool);
        self.ctx.stats.update(self.pool, |s| s.malformed_lines += 1);
    }

    async fn send(&mut self, method: &str, params: Value) -> Result<u64, std::io::Error> {
        let id = self.next_id;
        self.next_id += 1;
        let line = message::request_line(id, method, params);
        self.write_line(&line).await?;
        Ok(id)
    }

    async fn write_line(&mut self, line: &str) -> Result<(), std::io::Error> {
        log::trace!("pool {} <- {}", self.pool, line.trim_end());
        let w = &mut self.writer;
        match tokio::time::timeout(self.ctx.config.write_timeout, async {
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

    async fn on_line(&mut self, line: &str) -> Result<(), HandshakeFail> {
        log::trace!("pool {} -> {line}", self.pool);
        self.last_rx = Instant::now();
        let msg = match message::parse_line(line) {
            Ok(m) => m,
            Err(e) => {
                self.malformed("line", &e, line);
                return Ok(());
            }
        };
        match msg {
            Incoming::Response { id, result, error } => self.on_response(id, result, error, line),
            Incoming::Call { id, method, params } => self.on_call(id, &method, &params, line).await,
        }
    }

    fn on_response(
        &mut self,
        id: Option<u64>,
        result: Value,
        error: Option<RpcError>,
        line: &str,
    ) -> Result<(), HandshakeFail> {
        let Some(id) = id else {
            self.malformed(
                "response",
                &MessageError::WrongType {
                    what: "id",
                    expected: "one of our numeric ids",
                },
                line,
            );
            return Ok(());
        };
        if let Some(p) = self.pending.remove(&id) {
            let latency = p.sent.elapsed();
            let outcome = match (&error, message::result_is_true(&result)) {
                (None, true) => ShareOutcome::Accepted,
                (Some(e), _) => ShareOutcome::Rejected {
                    reason: RejectReason::from_code(e.code),
                    message: e.message.clone(),
                },
                (None, false) => ShareOutcome::Rejected {
                    reason: RejectReason::Other,
                    message: format!("result {result}"),
                },
            };
            let now = SystemTime::now();
            self.ctx.stats.update(self.pool, |s| {
                s.record_latency(latency);
                match &outcome {
                    ShareOutcome::Accepted => {
                        s.accepted += 1;
                        s.last_share_time = Some(now);
                    }
                    ShareOutcome::Rejected { reason, .. } => s.rejected.add(*reason),
                    _ => {}
                }
            });
            if let ShareOutcome::Rejected { reason, message } = &outcome {
                log::info!(
                    "pool {}: share for job {} rejected ({reason:?}): {message}",
                    self.pool,
                    p.share.job_id
                );
            }
            self.emit_result(&p.share, outcome, Some(latency));
            return Ok(());
        }
        let hs = &mut self.handshake;
        if Some(id) == hs.configure_id {
            hs.configure_id = None;
            if let Some(e) = error {
                log::info!(
                    "pool {}: mining.configure refused ({} {}); no version rolling",
                    self.pool,
                    e.code,
                    e.message
                );
                return Ok(());
            }
            match message::parse_configure_result(&result) {
                Ok(mask) => {
                    if self.active {
                        log::info!("pool {}: late mining.configure answer ignored", self.pool);
                    } else {
                        self.version_mask = mask;
                    }
                }
                Err(e) => self.malformed("configure result", &e, line),
            }
        } else if id == hs.subscribe_id && !hs.subscribed {
            if let Some(e) = error {
                return Err(HandshakeFail::Client(ClientError::Subscribe(format!(
                    "{} {}",
                    e.code, e.message
                ))));
            }
            match message::parse_subscribe_result(&result) {
                Ok(sub) => {
                    self.extranonce = Some(sub);
                    self.handshake.subscribed = true;
                }
                Err(e) => {
                    self.malformed("subscribe result", &e, line);
                    return Err(HandshakeFail::Client(ClientError::Subscribe(e.to_string())));
                }
            }
        } else if id == hs.authorize_id && !hs.authorized {
            if error.is_none() && message::result_is_true(&result) {
                hs.authorized = true;
            } else {
                let why = error.map_or_else(
                    || format!("result {result}"),
                    |e| format!("{} {}", e.code, e.message),
                );
                return Err(HandshakeFail::Client(ClientError::Unauthorized(why)));
            }
        } else {
            log::debug!("pool {}: answer to request {id} ignored: {line}", self.pool);
        }
        Ok(())
    }

    async fn on_call(
        &mut self,
        id: Option<Value>,
        method: &str,
        params: &[Value],
        line: &str,
    ) -> Result<(), HandshakeFail> {
        match method {
            "mining.notify" => match message::parse_notify(params) {
                Ok(n) => {
                    if self.active {
                        self.new_job(&n, n.clean_jobs);
                    } else {
                        self.pending_notify = Some(n);
                    }
                }
                Err(e) => self.malformed("mining.notify", &e, line),
            },
            "mining.set_difficulty" => match message::parse_set_difficulty(params) {
                Ok(d) => {
                    log::debug!("pool {}: difficulty {d} (applies from the next job)", self.pool);
                    self.difficulty = d;
                    self.ctx.stats.update(self.pool, |s| s.difficulty = Some(d));
                }
                Err(e) => self.malformed("mining.set_difficulty", &e, line),
            },
            "mining.set_extranonce" => match message::parse_set_extranonce(params) {
                Ok(sub) => self.set_extranonce(sub),
                Err(e) => self.malformed("mining.set_extranonce", &e, line),
            },
            "mining.set_version_mask" => {
                match params
                    .first()
                    .and_then(Value::as_str)
                    .map(|s| message::decode_u32_be(s, "version mask"))
                {
                    Some(Ok(mask)) => {
                        if self.version_mask.is_some() {
                            self.version_mask = (mask != 0).then_some(mask);
                            let m = self.version_mask;
                            self.ctx.stats.update(self.pool, |s| s.version_mask = m);
                        }
                    }
                    Some(Err(e)) => self.malformed("mining.set_version_mask", &e, line),
                    None => self.malformed(
                        "mining.set_version_mask",
                        &MessageError::WrongType {
                            what: "mask",
                            expected: "a hex string",
                        },
                        line,
                    ),
                }
            }
            "client.reconnect" => match message::parse_reconnect(params) {
                Ok(r) => {
                    if let Some(h) = &r.host {
                        if !h.eq_ignore_ascii_case(&self.url.host) {
                            log::warn!(
                                "pool {}: client.reconnect to another host {h:?} refused",
                                self.pool
                            );
                            return Ok(());
                        }
                    }
                    let mut url = self.url.clone();
                    if let Some(p) = r.port {
                        url.port = p;
                    }
                    let wait = Duration::from_secs(r.wait_secs).min(self.ctx.config.max_reconnect_wait);
                    log::info!("pool {}: pool asked to reconnect to {url} in {wait:?}", self.pool);
                    return Err(HandshakeFail::End(SessionEnd::Reconnect { url, wait }));
                }
                Err(e) => self.malformed("client.reconnect", &e, line),
            },
            "client.get_version" => {
                if let Some(id) = id {
                    let ua = self.ctx.config.user_agent.clone();
                    self.reply(&id, Value::String(ua), None).await?;
                }
            }
            "client.show_message" => {
                let text = params.first().and_then(Value::as_str).unwrap_or("");
                log::info!(
                    "pool {} says: {}",
                    self.pool,
                    text.chars().take(500).collect::<String>()
                );
                if let Some(id) = id {
                    self.reply(&id, Value::Bool(true), None).await?;
                }
            }
            other => {
                let shown: String = other.chars().take(64).collect();
                log::warn!("pool {}: unknown method {shown:?} skipped", self.pool);
                self.ctx.stats.update(self.pool, |s| s.unknown_methods += 1);
                if let Some(id) = id {
                    let err = RpcError {
                        code: 20,
                        message: "Method not supported".into(),
                    };
                    self.reply(&id, Value::Null, Some(&err)).await?;
                }
            }
        }
        Ok(())
    }

    async fn reply(
        &mut self,
        id: &Value,
        result: Value,
        error: Option<&RpcError>,
    ) -> Result<(), HandshakeFail> {
        let line = message::response_line(id, result, error);
        self.write_line(&line)
            .await
            .map_err(|e| HandshakeFail::End(SessionEnd::Disconnected(format!("write failed: {e}"))))
    }

    fn set_extranonce(&mut self, sub: Subscribed) {
        log::info!(
            "pool {}: new extranonce1 {} size {}",
            self.pool,
            hex::encode(&sub.extranonce1),
            sub.extranonce2_size
        );
        self.extranonce = Some(sub.clone());
        if !self.active {
            return;
        }
        // Old jobs' coinbases no longer match what the pool will check: new epoch, and the
        // latest job re-keyed so the engine does not idle until the next notify.
        self.generation = lock_gens(&self.ctx.generations).alloc(self.pool);
        self.jobs.clear();
        self.job_order.clear();
        if let Some(latest) = self.latest_job.take() {
            let job = Arc::new(latest.with_extranonce(&sub, self.generation));
            self.insert_job(job.clone());
            let _ = self.ctx.events.send(PoolEvent::NewJob(job));
        }
    }

    fn new_job(&mut self, n: &Notify, clean: bool) {
        let Some(extranonce) = self.extranonce.clone() else {
            log::warn!("pool {}: mining.notify before subscribe; skipped", self.pool);
            return;
        };
        let target = match target_from_difficulty(&self.ctx.config.diff1, self.difficulty) {
            Ok(t) => t,
            Err(e) => {
                log::warn!("pool {}: {e}; job {} skipped", self.pool, n.job_id);
                return;
            }
        };
        if clean {
            self.generation = lock_gens(&self.ctx.generations).alloc(self.pool);
            self.jobs.clear();
            self.job_order.clear();
        }
        let job = Arc::new(MiningJob::new(
            n,
            &extranonce,
            JobContext {
                pool: self.pool,
                generation: self.generation,
                clean,
                target,
                difficulty: self.difficulty,
                version_mask: self.version_mask,
            },
        ));
        log::debug!(
            "pool {}: job {} clean={clean} generation {} difficulty {}",
            self.pool,
            n.job_id,
            self.generation,
            self.difficulty
        );
        self.insert_job(job.clone());
        let _ = self.ctx.events.send(PoolEvent::NewJob(job));
    }

    fn insert_job(&mut self, job: Arc<MiningJob>) {
        if self.jobs.insert(job.job_id.clone(), job.clone()).is_none() {
            self.job_order.push_back(job.job_id.clone());
        }
        while self.job_order.len() > MAX_JOBS {
            if let Some(old) = self.job_order.pop_front() {
                self.jobs.remove(&old);
            }
        }
        self.latest_job = Some(job);
    }

    fn emit_result(&self, share: &Share, outcome: ShareOutcome, latency: Option<Duration>) {
        let _ = self.ctx.events.send(PoolEvent::ShareResult(ShareResult {
            pool: self.pool,
            job_id: share.job_id.clone(),
            generation: share.generation,
            nonce: share.nonce,
            outcome,
            latency,
        }));
    }

    /// Send a share, or drop it if it is stale or unusable on this connection.
    async fn submit(&mut self, share: Share) -> Result<(), std::io::Error> {
        let job = match self.jobs.get(&share.job_id) {
            Some(j) if share.generation == self.generation && j.generation == share.generation => j.clone(),
            _ => {
                drop_share(
                    &share,
                    ShareOutcome::DroppedStale,
                    self.pool,
                    &self.ctx.generations,
                    &self.ctx.stats,
                    &self.ctx.events,
                );
                return Ok(());
            }
        };
        if share.version_bits.is_some() && job.version_mask.is_none() {
            drop_share(
                &share,
                ShareOutcome::DroppedInvalid,
                self.pool,
                &self.ctx.generations,
                &self.ctx.stats,
                &self.ctx.events,
            );
            return Ok(());
        }
        let params = job.submit_params(&self.user, &share);
        let id = self.send("mining.submit", params).await?;
        self.pending.insert(
            id,
            PendingSubmit {
                share,
                sent: Instant::now(),
            },
        );
        Ok(())
    }
}

/// Internal: a line handler either fails the handshake or ends the session.
enum HandshakeFail {
    Client(ClientError),
    End(SessionEnd),
}

impl From<std::io::Error> for HandshakeFail {
    fn from(e: std::io::Error) -> Self {
        HandshakeFail::Client(ClientError::Io(e))
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

    #[test]
    fn generations_remember_owners() {
        let mut g = Generations::default();
        let a = g.alloc(0);
        let b = g.alloc(0);
        let c = g.alloc(1);
        let d = g.alloc(0);
        assert_eq!((a, b, c, d), (1, 2, 3, 4));
        assert_eq!(g.owner(1), Some(0));
        assert_eq!(g.owner(2), Some(0));
        assert_eq!(g.owner(3), Some(1));
        assert_eq!(g.owner(4), Some(0));
        assert_eq!(g.owner(0), None);
    }
}
