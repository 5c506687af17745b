//! The DePIN poller's slot in the running agent: started when `[depin]` lists nodes, restarted
//! when the section changes; and the handler that spools each report it sends.
//!
//! Must never poll a node the config in force no longer lists, nor drop a report (they go to
//! the spool like every record).

use super::tasks::{joined, TaskFailed};
use super::Agent;
use crate::depin::{DepinPoller, DepinSection};
use hashward_protocol::{Body, DepinReport};
use tokio::sync::{mpsc, watch};

struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

pub(super) struct DepinSlot {
    running: Option<Running>,
    reports: mpsc::Sender<DepinReport>,
}

impl DepinSlot {
    pub fn new(reports: mpsc::Sender<DepinReport>) -> DepinSlot {
        DepinSlot {
            running: None,
            reports,
        }
    }

    /// Starts polling the section's nodes (the section was validated with the config).
    pub fn start(&mut self, section: &DepinSection) {
        if !section.enabled || section.nodes.is_empty() {
            return;
        }
        let specs = section.specs();
        log::info!("depin: polling {} node(s)", specs.len());
        let poller = DepinPoller::new(specs);
        let (stop, mut stop_rx) = watch::channel(false);
        let tx = self.reports.clone();
        let task = tokio::spawn(async move {
            let done = poller
                .run(tx, async move {
                    let _ = stop_rx.wait_for(|s| *s).await;
                })
                .await;
            log::info!(
                "depin: poller stopped after {} polls ({} ok)",
                done.polls,
                done.polls_ok
            );
        });
        self.running = Some(Running { stop, task });
    }

    /// Stops the poller and waits for it; a panic in it is returned (and logged).
    pub async fn stop(&mut self) -> Result<(), TaskFailed> {
        let Some(r) = self.running.take() else {
            return Ok(());
        };
        let _ = r.stop.send(true);
        joined("depin poller", r.task.await)
    }
}

impl Agent {
    /// One DePIN node's report: published as it is.
    pub(super) async fn on_depin_report(&mut self, r: DepinReport) {
        let topic = self.topics.depin.clone();
        self.spool_body(&topic, Body::Depin(r)).await;
    }
}
