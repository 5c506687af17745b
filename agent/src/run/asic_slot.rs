//! The ASIC poller's slot in the running agent: started when `[asic]` lists machines,
//! restarted when the section changes.
//!
//! Must never poll a machine the config in force no longer lists.

use super::tasks::{joined, TaskFailed};
use crate::asic::config::AsicSection;
use crate::asic::poller::{Poller, PollerHandle};
use hashward_protocol::AsicTelemetry;
use tokio::sync::{mpsc, watch};

struct RunningPoller {
    handle: PollerHandle,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// The running ASIC poller, if any machines are configured.
pub(super) struct AsicSlot {
    running: Option<RunningPoller>,
    telemetry: mpsc::Sender<AsicTelemetry>,
}

impl AsicSlot {
    /// An empty slot whose poller, once started, sends its readings to `telemetry`.
    pub fn new(telemetry: mpsc::Sender<AsicTelemetry>) -> AsicSlot {
        AsicSlot {
            running: None,
            telemetry,
        }
    }

    pub fn start(&mut self, section: &AsicSection) -> Result<(), String> {
        if !section.enabled || section.miners.is_empty() {
            return Ok(());
        }
        let creds = section.load_credentials().map_err(|e| format!("asic: {e}"))?;
        let specs = section.asic_specs(&creds).map_err(|e| format!("asic: {e}"))?;
        log::info!("asic: polling {} ASIC(s)", specs.len());
        let poller = Poller::new(specs, section.poller_options());
        let handle = poller.handle();
        let (stop, mut stop_rx) = watch::channel(false);
        let tx = self.telemetry.clone();
        let task = tokio::spawn(async move {
            let done = poller
                .run(tx, async move {
                    // A dropped sender also means stop.
                    let _ = stop_rx.wait_for(|s| *s).await;
                })
                .await;
            log::info!(
                "asic: poller stopped after {} polls ({} ok)",
                done.polls,
                done.polls_ok
            );
        });
        self.running = Some(RunningPoller { handle, stop, task });
        Ok(())
    }

    /// Stops the poller and waits for it; a panic in it is returned (and logged).
    pub async fn stop(&mut self) -> Result<(), TaskFailed> {
        let Some(r) = self.running.take() else {
            return Ok(());
        };
        // A closed channel means the task is already gone; joining it tells how it ended.
        let _ = r.stop.send(true);
        joined("asic poller", r.task.await)
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    pub fn handle(&self) -> Option<&PollerHandle> {
        self.running.as_ref().map(|r| &r.handle)
    }
}
