//! Polls each configured DePIN node on its own schedule ([`super::schedule`]) and sends one
//! [`DepinReport`] per poll, success or failure, to the agent's spool.
//!
//! The I/O half: tasks, deadlines, the channel. A node that does not answer is reported as down
//! with the error kind (never left out, never filled in with its last figures); a hanging node
//! never delays the others (one task per node, a deadline on every poll).

use super::schedule::NodeSchedule;
use super::{to_report, DepinAdapter, DepinError};
use crate::asic::error::ApiError;
use hashward_protocol::DepinReport;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// One node to poll.
pub struct DepinSpec {
    pub id: String,
    pub interval: Duration,
    pub backoff_max: Duration,
    /// Deadline of one whole poll (several requests).
    pub poll_timeout: Duration,
    pub adapter: Box<dyn DepinAdapter>,
}

#[derive(Debug, Default)]
pub struct Counters {
    pub polls: AtomicU64,
    pub polls_ok: AtomicU64,
    pub polls_failed: AtomicU64,
    pub reports_sent: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterSnapshot {
    pub polls: u64,
    pub polls_ok: u64,
    pub polls_failed: u64,
    pub reports_sent: u64,
}

impl Counters {
    pub fn snapshot(&self) -> CounterSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CounterSnapshot {
            polls: g(&self.polls),
            polls_ok: g(&self.polls_ok),
            polls_failed: g(&self.polls_failed),
            reports_sent: g(&self.reports_sent),
        }
    }
}

pub struct DepinPoller {
    nodes: Vec<DepinSpec>,
    counters: Arc<Counters>,
}

impl DepinPoller {
    pub fn new(nodes: Vec<DepinSpec>) -> DepinPoller {
        DepinPoller {
            nodes,
            counters: Arc::new(Counters::default()),
        }
    }

    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Polls until `shutdown` resolves; every report goes to `tx`. Returns the final counters.
    pub async fn run<F: Future<Output = ()>>(
        self,
        tx: mpsc::Sender<DepinReport>,
        shutdown: F,
    ) -> CounterSnapshot {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = Vec::with_capacity(self.nodes.len());
        for spec in self.nodes {
            tasks.push(tokio::spawn(node_task(
                spec,
                tx.clone(),
                stop_rx.clone(),
                self.counters.clone(),
            )));
        }
        drop(tx);
        shutdown.await;
        let _ = stop_tx.send(true);
        for t in tasks {
            if let Err(e) = t.await {
                log::error!("depin poller task ended abnormally: {e}");
            }
        }
        self.counters.snapshot()
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    // Resolves on shutdown, and also if the poller was dropped.
    let _ = stop.wait_for(|s| *s).await;
}

async fn node_task(
    mut spec: DepinSpec,
    tx: mpsc::Sender<DepinReport>,
    mut stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
) {
    let mut sched = NodeSchedule::new(spec.interval, spec.backoff_max);
    let kind = spec.adapter.kind();
    let interval_s = spec.interval.as_secs();
    let mut due = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {}
            _ = stopped(&mut stop) => break,
        }
        counters.polls.fetch_add(1, Ordering::Relaxed);
        let now_ms = hashward_common::now_ms();
        let timeout = spec.poll_timeout;
        let res = tokio::select! {
            r = tokio::time::timeout(timeout, spec.adapter.poll(now_ms)) => match r {
                Ok(r) => r,
                Err(_) => Err(DepinError::Api(ApiError::Timeout { what: format!("poll of {}", spec.id), after: timeout })),
            },
            _ = stopped(&mut stop) => break,
        };
        let report = match res {
            Ok(reading) => {
                counters.polls_ok.fetch_add(1, Ordering::Relaxed);
                due += sched.on_success();
                if due < Instant::now() {
                    due = Instant::now();
                }
                to_report(&spec.id, kind, interval_s, Ok(reading))
            }
            Err(e) => {
                counters.polls_failed.fetch_add(1, Ordering::Relaxed);
                let delay = sched.on_failure();
                log::warn!(
                    "depin {}: poll failed ({} in a row), next try in {delay:?}: {e}",
                    spec.id,
                    sched.failures
                );
                due = Instant::now() + delay;
                to_report(&spec.id, kind, interval_s, Err(&e))
            }
        };
        // Awaiting (not try_send): the receiver is the local spool, and nothing may be dropped.
        if tx.send(report).await.is_err() {
            break;
        }
        counters.reports_sent.fetch_add(1, Ordering::Relaxed);
    }
}
