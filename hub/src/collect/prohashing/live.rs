//! The Prohashing push source: runs the WAMP client, folds every result and event into the
//! [`PoolState`], delivers the state to the collectors' intake after each change, and reports
//! the link in `/sources` as `prohashing` (errors by kind: connect, timeout, decode, api). While
//! the link is down it polls the HTTP fallback (`prohashing_http` in `/sources`) for the
//! profitability map.
//!
//! Must never stop on a failure (the WAMP client reconnects with backoff, the fallback retries
//! on its interval) and never log the API key (feeds are named by [`Feed`], not by topic).

use super::config::{Feed, ProhashingConfig};
use super::payload::{self, PayloadError};
use super::state::{PoolState, POOL_ID};
use crate::collect::config::CollectConfig;
use crate::collect::http::HttpClient;
use crate::collect::service::Task;
use crate::collect::source::{Delivery, Observation, Registry, Sink, SourceError, SourceState, StatusHandle};
use crate::collect::wamp::{self, ClientConfig, ClientError, Update};
use crate::store::Store;
use hashward_common::clock::now_ms;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

pub const SOURCE_WAMP: &str = "prohashing";
pub const SOURCE_HTTP: &str = "prohashing_http";

/// A pool's state as delivered to the intake.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolObservation {
    pub pool_id: &'static str,
    pub state: PoolState,
}

/// The WAMP error as the framework counts it.
pub fn source_error(e: &ClientError) -> SourceError {
    match e {
        ClientError::Timeout(_) | ClientError::Silent(_) => SourceError::Timeout {
            after_ms: match e {
                ClientError::Silent(ms) => u64::try_from(*ms).unwrap_or(u64::MAX),
                _ => 0,
            },
        },
        ClientError::Closed(why) => SourceError::Api(why.clone()),
        other => SourceError::Connect(other.to_string()),
    }
}

/// Folds one result or event into `state`; the whole payload or nothing.
pub fn apply(
    state: &mut PoolState,
    cfg_units: &super::normalise::ProfitUnits,
    feed: Feed,
    event: bool,
    args: &[Value],
    now: u64,
) -> Result<(), PayloadError> {
    const SRC: &str = "prohashing_wamp";
    match (feed, event) {
        (Feed::Miners, false) => state.apply_miner_snapshot(payload::miners_snapshot(args)?, now, SRC),
        (Feed::Miners, true) => state.apply_miner_diffs(payload::miner_diffs(args)?, now, SRC),
        (Feed::Balances, false) => state.apply_balance_snapshot(payload::balances_snapshot(args)?, now),
        (Feed::Balances, true) => state.apply_balance_deltas(payload::balance_deltas(args)?, now),
        (Feed::Profitability, _) => state.apply_quotes(payload::profitability(args)?, cfg_units, now, SRC),
    }
    Ok(())
}

/// The Prohashing task when `[collect.prohashing]` is present and enabled (else both of its
/// `/sources` entries say `disabled`, and why). A config that cannot work is an error naming
/// its key.
pub fn task(
    cfg: &CollectConfig,
    store: Arc<Store>,
    http: HttpClient,
    registry: &Registry,
    tx: mpsc::Sender<Delivery>,
    stop: &watch::Sender<bool>,
) -> Result<Option<Task>, String> {
    let wamp_status = registry.register(SOURCE_WAMP);
    let http_status = registry.register(SOURCE_HTTP);
    let Some(p) = cfg.prohashing.clone().filter(ProhashingConfig::enabled) else {
        for h in [&wamp_status, &http_status] {
            let mut s = h.lock();
            s.state = SourceState::Disabled;
            s.note = Some("no [collect.prohashing] section (or enabled = false)".into());
        }
        return Ok(None);
    };
    p.check()?;
    if p.api_key.is_none() {
        wamp_status.lock().note = Some("no api_key: the public profitability feed only".into());
    }
    // Where the last run left off: served (stale) until the pool answers again.
    let state = match store.pool_states() {
        Ok(all) => all
            .into_iter()
            .find(|(id, _, _)| id == POOL_ID)
            .map(|(_, _, s)| s)
            .unwrap_or_default(),
        Err(e) => {
            log::warn!("collector {SOURCE_WAMP}: last state not loaded: {e}");
            PoolState::default()
        }
    };
    let sink = Sink::new(SOURCE_WAMP, tx);
    let run = run(p, state, http, sink, wamp_status, http_status, stop.subscribe());
    Ok(Some((
        SOURCE_WAMP,
        Box::pin(async move {
            run.await;
            Ok(())
        }),
    )))
}

/// Runs until `stop`. `state` is where a restarted hub left off (from the store), if anywhere.
pub async fn run(
    cfg: ProhashingConfig,
    mut state: PoolState,
    http: HttpClient,
    sink: Sink,
    wamp_status: StatusHandle,
    http_status: StatusHandle,
    mut stop: watch::Receiver<bool>,
) {
    let units = cfg.units();
    let client = ClientConfig {
        url: cfg.url().to_string(),
        session: cfg.session(),
        heartbeat: cfg.heartbeat(),
        connect_timeout: cfg.connect_timeout(),
        backoff: cfg.backoff(),
        tls: None,
    };
    let (tx, mut rx) = mpsc::channel(64);
    let wamp_task = tokio::spawn(wamp::run(client, tx, stop.clone()));
    let fallback = cfg.http_base();
    // The fallback waits one heartbeat first: a link that comes straight up never needs it.
    let mut next_fallback = Instant::now() + cfg.heartbeat();
    let mut connected = false;
    let mut connecting_since = Instant::now();
    if fallback.is_none() {
        http_status.lock().state = SourceState::Disabled;
    }
    loop {
        let wait = next_fallback.saturating_duration_since(Instant::now());
        tokio::select! {
            update = rx.recv() => {
                let Some(update) = update else { break };
                let now = now_ms();
                match update {
                    Update::Connected => {
                        connected = true;
                        let ms = u64::try_from(connecting_since.elapsed().as_millis()).unwrap_or(u64::MAX);
                        let mut s = wamp_status.lock();
                        s.record_success(now, ms);
                        s.next_poll_ms = None;
                    }
                    Update::Data { label, event, args, .. } => {
                        match apply(&mut state, &units, label, event, &args, now) {
                            Ok(()) => {
                                {
                                    let mut s = wamp_status.lock();
                                    let latency = s.latency_ms.unwrap_or(0);
                                    s.record_success(now, latency);
                                }
                                let obs = PoolObservation { pool_id: POOL_ID, state: state.clone() };
                                if !sink.deliver(Observation::Pool(Box::new(obs))).await {
                                    break;
                                }
                            }
                            Err(e) => {
                                log::warn!("collector {SOURCE_WAMP}: {label:?} payload refused: {e}");
                                wamp_status.lock().record_failure(now, None, &SourceError::Decode(e.to_string()));
                            }
                        }
                    }
                    Update::Refused { label, error } => {
                        log::warn!("collector {SOURCE_WAMP}: {label:?} refused by the router: {error}");
                        wamp_status.lock().record_failure(now, None, &SourceError::Api(format!("{label:?} refused: {error}")));
                    }
                    Update::Ignored(why) => {
                        wamp_status.lock().record_failure(now, None, &SourceError::Decode(why));
                    }
                    Update::Down { error, retry_in } => {
                        if connected {
                            log::warn!("collector {SOURCE_WAMP}: link down: {error}");
                        }
                        connected = false;
                        connecting_since = Instant::now() + retry_in;
                        let mut s = wamp_status.lock();
                        s.record_failure(now, None, &source_error(&error));
                        s.next_poll_ms = Some(now + u64::try_from(retry_in.as_millis()).unwrap_or(0));
                    }
                }
            }
            _ = tokio::time::sleep(wait), if fallback.is_some() && !connected => {
                let Some(base) = &fallback else { continue };
                let t0 = Instant::now();
                let r = tokio::time::timeout(Duration::from_secs(10), super::http::profitability(&http, base)).await;
                let r = r.unwrap_or(Err(SourceError::Timeout { after_ms: 10_000 }));
                let now = now_ms();
                let latency = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
                match r {
                    Ok(quotes) => {
                        state.apply_quotes(quotes, &units, now, "prohashing_http");
                        http_status.lock().record_success(now, latency);
                        let obs = PoolObservation { pool_id: POOL_ID, state: state.clone() };
                        if !sink.deliver(Observation::Pool(Box::new(obs))).await {
                            break;
                        }
                    }
                    Err(e) => http_status.lock().record_failure(now, Some(latency), &e),
                }
                next_fallback = Instant::now() + cfg.http_interval();
                http_status.lock().next_poll_ms =
                    Some(now + u64::try_from(cfg.http_interval().as_millis()).unwrap_or(0));
            }
            _ = wamp::client::stopped(&mut stop) => break,
        }
    }
    // The client stops on the same signal; wait so its GOODBYE goes out.
    let _ = tokio::time::timeout(Duration::from_secs(2), wamp_task).await;
}
