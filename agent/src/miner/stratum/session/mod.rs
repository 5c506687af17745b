//! The Stratum v1 session of one pool connection, as a state machine without I/O.
//!
//! What it is for: everything a connection decides. The handshake (`mining.configure` for
//! BIP310 version rolling, `mining.subscribe`, `mining.authorize`, then
//! `mining.extranonce.subscribe`), turning `mining.notify` / `mining.set_difficulty` /
//! `mining.set_extranonce` into [`MiningJob`]s, matching `mining.submit` answers by id,
//! unanswered-share and idle timeouts, `client.reconnect`, and per-pool counters. Inputs are a
//! line from the pool, a share to submit and a tick, each with the current time passed as a
//! value; outputs (lines to send, [`PoolEvent`]s) are queued for the transport to drain.
//! Bad input (malformed JSON, wrong types, unknown methods or ids) is logged with what was
//! wrong, counted and skipped.
//! What it must never do: I/O, read a clock, panic or `unwrap()` on pool input, send a share
//! whose job was cleaned or belongs to another connection, or emit events before it is made
//! the active connection.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::generations::{dropped_share, lock_gens, SharedGenerations};
use super::job::{MiningJob, Share};
use super::message::{self, Incoming, MessageError, Notify, RpcError, Subscribed, MAX_LINE_BYTES};
use super::stats::{RejectReason, StatsHandle};
use super::url::PoolUrl;
use super::{ClientConfig, PoolEvent, ShareOutcome, ShareResult};

/// Jobs kept per work epoch; shares for older (evicted) jobs are dropped as stale.
const MAX_JOBS: usize = 32;

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

/// Why the session cannot go on after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The pool answered `mining.subscribe` with an error or an unusable result.
    Subscribe(String),
    /// The pool refused `mining.authorize`.
    Unauthorized(String),
    /// The session ended (e.g. `client.reconnect`).
    End(SessionEnd),
}

/// Something the transport must do for the session, in order.
#[derive(Debug, Clone)]
pub enum Output {
    /// Write this line (newline included) to the pool.
    Send(String),
    /// Hand this event to the engine.
    Event(PoolEvent),
}

/// What a connection shares with the client's other connections.
#[derive(Clone)]
pub struct Shared {
    pub config: Arc<ClientConfig>,
    pub stats: StatsHandle,
    pub generations: SharedGenerations,
}

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

/// The protocol state of one connection to one pool.
pub struct Session {
    pool: usize,
    url: PoolUrl,
    user: String,
    shared: Shared,
    outbox: VecDeque<Output>,
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

impl Session {
    /// A session for pool `pool` at `url`, with its handshake requests (configure when
    /// version rolling is wanted, subscribe, authorize) queued to send.
    pub fn new(
        pool: usize,
        url: PoolUrl,
        user: String,
        password: &str,
        shared: Shared,
        now: Instant,
    ) -> Session {
        let config = shared.config.clone();
        let mut s = Session {
            pool,
            url,
            user,
            shared,
            outbox: VecDeque::new(),
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
            last_rx: now,
        };
        if let Some(mask) = config.version_rolling_mask {
            let id = s.request(
                "mining.configure",
                message::configure_version_rolling_params(mask, 2),
            );
            s.handshake.configure_id = Some(id);
        }
        s.handshake.subscribe_id =
            s.request("mining.subscribe", message::subscribe_params(&config.user_agent));
        let params = message::authorize_params(&s.user, password);
        s.handshake.authorize_id = s.request("mining.authorize", params);
        s
    }

    /// Pool index.
    pub fn pool(&self) -> usize {
        self.pool
    }

    /// Subscribed and authorized: the connection can be activated.
    pub fn is_ready(&self) -> bool {
        self.handshake.subscribed && self.handshake.authorized
    }

    /// Everything queued since the last call, oldest first.
    pub fn take_outputs(&mut self) -> VecDeque<Output> {
        std::mem::take(&mut self.outbox)
    }

    /// Make this the live connection: emit `Connected` and the first job.
    pub fn activate(&mut self) {
        self.active = true;
        self.generation = lock_gens(&self.shared.generations).alloc(self.pool);
        let url = self.url.to_string();
        let (mask, diff) = (self.version_mask, self.difficulty);
        self.shared.stats.update(self.pool, |s| {
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
        self.emit(PoolEvent::Connected {
            pool: self.pool,
            url,
            version_mask: self.version_mask,
        });
        if let Some(n) = self.pending_notify.take() {
            self.new_job(&n, true);
        }
    }

    /// Tear down: unanswered shares are reported, counters updated, `Disconnected` emitted
    /// (only if the session was active).
    pub fn close(&mut self, reason: &str) {
        let pending: Vec<PendingSubmit> = self.pending.drain().map(|(_, p)| p).collect();
        for p in pending {
            self.shared.stats.update(self.pool, |s| s.unanswered += 1);
            self.emit_result(&p.share, ShareOutcome::Unanswered, None);
        }
        if self.active {
            log::warn!("pool {} ({}): disconnected: {reason}", self.pool, self.url);
            self.shared.stats.update(self.pool, |s| {
                s.connected = false;
                s.disconnects += 1;
            });
            self.emit(PoolEvent::Disconnected {
                pool: self.pool,
                reason: reason.to_string(),
            });
        }
    }

    /// Report shares unanswered for longer than the submit timeout; end the session when the
    /// pool has been silent for longer than the idle timeout.
    pub fn tick(&mut self, now: Instant) -> Option<SessionEnd> {
        let (submit_timeout, idle_timeout) =
            (self.shared.config.submit_timeout, self.shared.config.idle_timeout);
        let mut expired: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.sent) > submit_timeout)
            .map(|(id, _)| *id)
            .collect();
        expired.sort_unstable();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                log::warn!("pool {}: share for job {} unanswered", self.pool, p.share.job_id);
                self.shared.stats.update(self.pool, |s| s.unanswered += 1);
                self.emit_result(&p.share, ShareOutcome::Unanswered, None);
            }
        }
        let idle = now.saturating_duration_since(self.last_rx);
        if idle > idle_timeout {
            return Some(SessionEnd::Disconnected(format!(
                "no message from the pool for {} s",
                idle.as_secs()
            )));
        }
        None
    }

    /// The transport skipped a line longer than [`MAX_LINE_BYTES`] (`n` bytes so far).
    pub fn skipped_oversized(&mut self, n: usize, now: Instant) {
        log::warn!(
            "pool {}: skipped a line of {n}+ bytes (limit {MAX_LINE_BYTES})",
            self.pool
        );
        self.last_rx = now;
        self.shared.stats.update(self.pool, |s| s.oversized_lines += 1);
    }

    /// The transport skipped a line that is not UTF-8.
    pub fn skipped_not_utf8(&mut self, now: Instant) {
        log::warn!("pool {}: skipped a line that is not UTF-8", self.pool);
        self.last_rx = now;
        self.shared.stats.update(self.pool, |s| s.malformed_lines += 1);
    }

    /// Handle one line (without its newline) received from the pool.
    pub fn handle_line(&mut self, line: &str, now: Instant) -> Result<(), Stop> {
        log::trace!("pool {} -> {line}", self.pool);
        self.last_rx = now;
        let msg = match message::parse_line(line) {
            Ok(m) => m,
            Err(e) => {
                self.malformed("line", &e, line);
                return Ok(());
            }
        };
        match msg {
            Incoming::Response { id, result, error } => self.on_response(id, result, error, line, now),
            Incoming::Call { id, method, params } => self.on_call(id, &method, &params, line),
        }
    }

    /// Queue a share to send, or drop it if it is stale or unusable on this connection.
    pub fn submit(&mut self, share: Share, now: Instant) {
        let job = match self.jobs.get(&share.job_id) {
            Some(j) if share.generation == self.generation && j.generation == share.generation => j.clone(),
            _ => return self.drop_share(&share, ShareOutcome::DroppedStale),
        };
        if share.version_bits.is_some() && job.version_mask.is_none() {
            return self.drop_share(&share, ShareOutcome::DroppedInvalid);
        }
        let params = job.submit_params(&self.user, &share);
        let id = self.request("mining.submit", params);
        self.pending.insert(id, PendingSubmit { share, sent: now });
    }

    fn drop_share(&mut self, share: &Share, outcome: ShareOutcome) {
        let event = dropped_share(
            share,
            outcome,
            self.pool,
            &self.shared.generations,
            &self.shared.stats,
        );
        self.emit(event);
    }

    fn request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.outbox
            .push_back(Output::Send(message::request_line(id, method, params)));
        id
    }

    fn reply(&mut self, id: &Value, result: Value, error: Option<&RpcError>) {
        self.outbox
            .push_back(Output::Send(message::response_line(id, result, error)));
    }

    fn emit(&mut self, event: PoolEvent) {
        self.outbox.push_back(Output::Event(event));
    }

    fn emit_result(&mut self, share: &Share, outcome: ShareOutcome, latency: Option<Duration>) {
        self.emit(PoolEvent::ShareResult(ShareResult {
            pool: self.pool,
            job_id: share.job_id.clone(),
            generation: share.generation,
            nonce: share.nonce,
            outcome,
            latency,
        }));
    }

    fn malformed(&self, what: &str, err: &MessageError, line: &str) {
        let shown: String = line.chars().take(200).collect();
        log::warn!("pool {}: skipped {what}: {err}: {shown}", self.pool);
        self.shared.stats.update(self.pool, |s| s.malformed_lines += 1);
    }

    fn on_response(
        &mut self,
        id: Option<u64>,
        result: Value,
        error: Option<RpcError>,
        line: &str,
        now: Instant,
    ) -> Result<(), Stop> {
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
            self.on_submit_answer(p, &result, error, now);
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
                return Err(Stop::Subscribe(format!("{} {}", e.code, e.message)));
            }
            match message::parse_subscribe_result(&result) {
                Ok(sub) => {
                    self.extranonce = Some(sub);
                    self.handshake.subscribed = true;
                    self.after_handshake_step();
                }
                Err(e) => {
                    self.malformed("subscribe result", &e, line);
                    return Err(Stop::Subscribe(e.to_string()));
                }
            }
        } else if id == hs.authorize_id && !hs.authorized {
            if error.is_none() && message::result_is_true(&result) {
                hs.authorized = true;
                self.after_handshake_step();
            } else {
                let why = error.map_or_else(
                    || format!("result {result}"),
                    |e| format!("{} {}", e.code, e.message),
                );
                return Err(Stop::Unauthorized(why));
            }
        } else {
            log::debug!("pool {}: answer to request {id} ignored: {line}", self.pool);
        }
        Ok(())
    }

    /// Once both subscribe and authorize are answered, ask for extranonce changes if wanted.
    fn after_handshake_step(&mut self) {
        if self.is_ready() && self.shared.config.extranonce_subscribe {
            self.request("mining.extranonce.subscribe", Value::Array(Vec::new()));
        }
    }

    fn on_submit_answer(&mut self, p: PendingSubmit, result: &Value, error: Option<RpcError>, now: Instant) {
        let latency = now.saturating_duration_since(p.sent);
        let outcome = match (&error, message::result_is_true(result)) {
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
        let wall = SystemTime::now();
        self.shared.stats.update(self.pool, |s| {
            s.record_latency(latency);
            match &outcome {
                ShareOutcome::Accepted => {
                    s.accepted += 1;
                    s.last_share_time = Some(wall);
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
    }
}

mod calls;

#[cfg(test)]
mod tests;
