//! The client task: an ordered pool list with failover, backoff and return to the primary.
//!
//! What it is for: keeping exactly one live pool connection. Connection failures move to the
//! next pool in the list after an exponential backoff with jitter; a connection that was up
//! and then dropped gets one quick retry on the same pool first (pool restarts are common);
//! while on a backup pool the primary is tried again every `primary_retry_interval`, and the
//! client switches back as soon as a full handshake with it succeeds. `client.reconnect`
//! requests are honoured for the same host.
//! What it must never do: spin without delay on a failing pool, hold a share across a
//! connection change (shares of a gone connection are dropped as stale), or block the
//! engine's threads.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::SeedableRng;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::generations::Generations;
use super::job::Share;
use super::session::SessionEnd;
use super::stats::{PoolStats, StatsHandle};
use super::transport::{drop_share, Connection, SessionContext};
use super::url::{PoolUrl, Scheme, UrlError};
use super::{ClientConfig, PoolEvent, ShareOutcome};

/// Invalid client configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no pools configured")]
    NoPools,
    #[error("pool {index}: {source}")]
    Url { index: usize, source: UrlError },
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// Submitting failed because the client task has stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stratum client has stopped")]
pub struct SubmitError;

/// What the engine holds: submit shares, read counters, stop the client. Clonable and usable
/// from any thread (nothing here blocks).
#[derive(Debug, Clone)]
pub struct StratumHandle {
    submits: mpsc::UnboundedSender<Share>,
    stats: StatsHandle,
    shutdown: Arc<watch::Sender<bool>>,
}

impl StratumHandle {
    /// Queue a share for submission. The client drops it (and reports `DroppedStale`) if its
    /// job was cleaned or its connection is gone by the time it is processed.
    pub fn submit(&self, share: Share) -> Result<(), SubmitError> {
        self.submits.send(share).map_err(|_| SubmitError)
    }

    /// Counters of every pool, in configured order.
    pub fn stats(&self) -> Vec<PoolStats> {
        self.stats.snapshot()
    }

    /// The shared counters themselves.
    pub fn stats_handle(&self) -> &StatsHandle {
        &self.stats
    }

    /// Ask the client task to close its connection and stop.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// A running client: its handle, its events and its task.
#[derive(Debug)]
pub struct StratumClient {
    pub handle: StratumHandle,
    /// Unbounded so a slow engine never stalls the pool connection; the engine is expected
    /// to drain it promptly.
    pub events: mpsc::UnboundedReceiver<PoolEvent>,
    pub task: JoinHandle<()>,
}

/// Start the client on the current tokio runtime.
pub fn spawn(config: ClientConfig) -> Result<StratumClient, ConfigError> {
    if config.pools.is_empty() {
        return Err(ConfigError::NoPools);
    }
    let urls = config
        .pools
        .iter()
        .enumerate()
        .map(|(index, p)| PoolUrl::parse(&p.url).map_err(|source| ConfigError::Url { index, source }))
        .collect::<Result<Vec<_>, _>>()?;
    let tls = if urls.iter().any(|u| u.scheme == Scheme::Tls) {
        Some(
            super::transport::tls_connector(&config.extra_root_certs)
                .map_err(|e| ConfigError::Tls(e.to_string()))?,
        )
    } else {
        None
    };
    let stats = StatsHandle::new(&urls.iter().map(ToString::to_string).collect::<Vec<_>>());
    let (events_tx, events) = mpsc::unbounded_channel();
    let (submit_tx, submit_rx) = mpsc::unbounded_channel();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let ctx = SessionContext {
        config: Arc::new(config),
        stats: stats.clone(),
        events: events_tx,
        generations: Arc::new(Mutex::new(Generations::default())),
        tls,
    };
    let runner = Runner {
        ctx,
        urls,
        submits: submit_rx,
        shutdown: shutdown_rx,
    };
    let task = tokio::spawn(runner.run());
    Ok(StratumClient {
        handle: StratumHandle {
            submits: submit_tx,
            stats,
            shutdown: Arc::new(shutdown_tx),
        },
        events,
        task,
    })
}

struct Runner {
    ctx: SessionContext,
    urls: Vec<PoolUrl>,
    submits: mpsc::UnboundedReceiver<Share>,
    shutdown: watch::Receiver<bool>,
}

/// Keep trying the primary every `interval` until a full handshake succeeds.
async fn probe_primary(ctx: SessionContext, url: PoolUrl, interval: Duration) -> Connection {
    loop {
        tokio::time::sleep(interval).await;
        match Connection::establish(0, url.clone(), ctx.clone()).await {
            Ok(s) => return s,
            Err(e) => {
                log::debug!("primary pool still unavailable: {e}");
                ctx.stats.update(0, |s| s.connect_failures += 1);
            }
        }
    }
}

/// Whether the failover runner goes on after a wait or a session, or stops (shutdown).
enum RunnerFlow {
    Stop,
    Continue,
}

impl Runner {
    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Sleep `d`, dropping any shares that arrive meanwhile (there is no live connection).
    async fn sleep_draining(&mut self, d: Duration, fallback_pool: usize) -> RunnerFlow {
        let until = tokio::time::Instant::now() + d;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return RunnerFlow::Continue,
                share = self.submits.recv() => match share {
                    Some(share) => self.drop_stale(&share, fallback_pool),
                    None => return RunnerFlow::Stop,
                },
                _ = self.shutdown.changed() => return RunnerFlow::Stop,
            }
        }
    }

    fn drop_stale(&self, share: &Share, fallback_pool: usize) {
        drop_share(
            share,
            ShareOutcome::DroppedStale,
            fallback_pool,
            &self.ctx.generations,
            &self.ctx.stats,
            &self.ctx.events,
        );
    }

    async fn establish(&mut self, pool: usize, url: PoolUrl) -> Option<Result<Connection, String>> {
        let fut = Connection::establish(pool, url, self.ctx.clone());
        tokio::pin!(fut);
        loop {
            tokio::select! {
                r = &mut fut => return Some(r.map_err(|e| e.to_string())),
                share = self.submits.recv() => match share {
                    Some(share) => self.drop_stale(&share, pool),
                    None => return None,
                },
                _ = self.shutdown.changed() => return None,
            }
        }
    }

    async fn run(mut self) {
        let n = self.urls.len();
        let mut current = 0usize;
        let mut failures = 0u32;
        let mut url_override: Option<PoolUrl> = None;
        let mut preconnected: Option<Connection> = None;
        let mut rng = rand::rngs::StdRng::from_entropy();
        loop {
            if self.stopping() {
                break;
            }
            let mut session = match preconnected.take() {
                Some(s) => s,
                None => {
                    let url = url_override.take().unwrap_or_else(|| self.urls[current].clone());
                    match self.establish(current, url.clone()).await {
                        None => break,
                        Some(Ok(s)) => s,
                        Some(Err(e)) => {
                            log::warn!("pool {current} ({url}): connection failed: {e}");
                            self.ctx.stats.update(current, |s| s.connect_failures += 1);
                            let delay = self.ctx.config.backoff.jittered(failures, &mut rng);
                            failures = failures.saturating_add(1);
                            current = (current + 1) % n;
                            log::info!("next attempt: pool {current} in {delay:?}");
                            match self.sleep_draining(delay, current).await {
                                RunnerFlow::Stop => break,
                                RunnerFlow::Continue => continue,
                            }
                        }
                    }
                }
            };
            failures = 0;
            session.activate();
            let probe_url = self.urls[0].clone();
            let interval = self.ctx.config.primary_retry_interval;
            let on_backup = session.pool() != 0;
            let end = tokio::select! {
                end = session.run(&mut self.submits, &mut self.shutdown) => Some(end),
                primary = probe_primary(self.ctx.clone(), probe_url, interval), if on_backup => {
                    preconnected = Some(primary);
                    None
                }
            };
            match end {
                None => {
                    log::info!("primary pool is back; switching from pool {}", session.pool());
                    session.close("switching back to the primary pool");
                    current = 0;
                }
                Some(SessionEnd::Shutdown) => {
                    session.close("shutdown");
                    break;
                }
                Some(SessionEnd::Reconnect { url, wait }) => {
                    session.close(&format!("pool asked to reconnect to {url}"));
                    url_override = Some(url);
                    if let RunnerFlow::Stop = self.sleep_draining(wait, current).await {
                        break;
                    }
                }
                Some(SessionEnd::Disconnected(reason)) => {
                    session.close(&reason);
                    // One quick retry on the same pool; connect failures then move on.
                    let delay = self.ctx.config.backoff.jittered(0, &mut rng);
                    if let RunnerFlow::Stop = self.sleep_draining(delay, current).await {
                        break;
                    }
                }
            }
        }
        log::info!("stratum client stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spawn_rejects_bad_config() {
        let cfg = ClientConfig::new(Vec::new(), super::super::DIFF1_SHA256D);
        assert!(matches!(spawn(cfg), Err(ConfigError::NoPools)));
        let cfg = ClientConfig::new(
            vec![super::super::PoolConfig {
                url: "http://x:1".into(),
                user: "u".into(),
                password: "p".into(),
            }],
            super::super::DIFF1_SHA256D,
        );
        assert!(matches!(spawn(cfg), Err(ConfigError::Url { index: 0, .. })));
    }
}
