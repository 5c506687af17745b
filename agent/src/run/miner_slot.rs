//! The CPU miner's slot in the running agent: the miner, if one runs, and why it is held.
//!
//! Must never let one holder release another's hold: the circuit breaker's release must not
//! undo an operator's pause, and an acked pause must be on disk before it is acked.

use super::miner_service::{self, Miner, MinerCommand, MinerError, MinerLinks};
use super::tasks::{joined, TaskFailed};
use crate::config::{MinerConfig, TuneConfig};
use crate::tune::perf_store::PerfStore;
use hashward_protocol::{FleetHints, TuningSnapshot};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

/// Present while an operator's pause is in force (survives agent restarts and reboots).
pub(super) const OPERATOR_PAUSE_FILE: &str = "operator-pause";

/// Why the miner is held (paused on purpose), kept outside the miner so that a restarted miner,
/// or a restarted agent for the operator's pause, is held again. The miner hashes only when
/// nobody holds it.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Holds {
    /// `pause` command until `resume`; persisted as [`OPERATOR_PAUSE_FILE`] in the data dir.
    pub operator: bool,
    /// Inference circuit breaker (critical overheat), until the given time.
    pub breaker: Option<Instant>,
}

impl Holds {
    pub fn any(&self) -> bool {
        self.operator || self.breaker.is_some()
    }

    /// Sets or extends the breaker's hold; true when it was not held by it before.
    pub fn hold_by_breaker(&mut self, until: Instant) -> bool {
        let new = self.breaker.is_none();
        self.breaker = Some(until);
        new
    }

    /// Lifts the breaker's hold once its time is up; true when it did.
    pub fn release_breaker(&mut self, now: Instant) -> bool {
        if self.breaker.is_none_or(|t| now < t) {
            return false;
        }
        self.breaker = None;
        true
    }
}

struct RunningMiner {
    miner: Arc<Miner>,
    task: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
    commands: mpsc::UnboundedSender<MinerCommand>,
}

/// The running CPU miner, if any, and what it needs to be restarted with a new config.
pub(super) struct MinerSlot {
    running: Option<RunningMiner>,
    hints: watch::Receiver<Option<FleetHints>>,
    snapshots: mpsc::UnboundedSender<TuningSnapshot>,
    data_dir: PathBuf,
    pub holds: Holds,
}

impl MinerSlot {
    /// An empty slot; the operator's pause is read back from the data dir.
    pub fn new(
        data_dir: PathBuf,
        hints: watch::Receiver<Option<FleetHints>>,
        snapshots: mpsc::UnboundedSender<TuningSnapshot>,
    ) -> MinerSlot {
        let holds = Holds {
            operator: data_dir.join(OPERATOR_PAUSE_FILE).exists(),
            breaker: None,
        };
        if holds.operator {
            log::warn!("miner: an operator's pause is in force (resume it with the `resume` command)");
        }
        MinerSlot {
            running: None,
            hints,
            snapshots,
            data_dir,
            holds,
        }
    }

    pub fn start(&mut self, cfg: &MinerConfig, tune: &TuneConfig) -> Result<(), MinerError> {
        if !cfg.is_enabled() {
            log::info!("miner: disabled (no pools configured)");
            return Ok(());
        }
        if !crate::miner::BUILT_IN {
            // A fleet push with pools may reach an ASIC-only controller: say so, keep running.
            log::error!("miner: pools are configured but this agent was built without the CPU miner (cargo feature `cpu-miner`); not mining");
            return Ok(());
        }
        let perf_path = self.data_dir.join("perf.redb");
        let perf_store = match PerfStore::open(&perf_path) {
            Ok(s) => Some(s),
            Err(e) => {
                log::error!("tune: {e}; tuning results will not be kept");
                None
            }
        };
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let links = MinerLinks {
            perf_store,
            hints: self.hints.clone(),
            snapshots: self.snapshots.clone(),
            commands: commands_rx,
        };
        let (miner, task) = miner_service::start(cfg, tune, links, stop_rx)?;
        self.running = Some(RunningMiner {
            miner,
            task,
            stop,
            commands,
        });
        if self.holds.any() {
            log::warn!("miner: started held ({:?}); it hashes once released", self.holds);
            self.send(MinerCommand::Hold(true));
        }
        Ok(())
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Sets the operator's pause (persisted first: an acked pause must survive a crash).
    pub fn hold_by_operator(&mut self, on: bool) -> std::io::Result<()> {
        // The file's existence is the record: its creation or removal must be durable.
        let path = self.data_dir.join(OPERATOR_PAUSE_FILE);
        if on {
            hashward_common::durable::write_atomic(
                &path,
                format!("{}\n", hashward_common::now_ms()).as_bytes(),
            )?;
        } else {
            hashward_common::durable::remove(&path)?;
        }
        self.holds.operator = on;
        self.send(MinerCommand::Hold(self.holds.any()));
        Ok(())
    }

    /// Sets or extends the circuit breaker's hold; true when it was not held by it before.
    pub fn hold_by_breaker(&mut self, until: Instant) -> bool {
        let new = self.holds.hold_by_breaker(until);
        self.send(MinerCommand::Hold(true));
        new
    }

    /// Releases the breaker's hold once its time is up; true when it did.
    pub fn release_breaker(&mut self, now: Instant) -> bool {
        if !self.holds.release_breaker(now) {
            return false;
        }
        self.send(MinerCommand::Hold(self.holds.any()));
        true
    }

    /// Stops the miner and waits for its task; a panic in it is returned (and logged).
    pub async fn stop(&mut self) -> Result<(), TaskFailed> {
        let Some(r) = self.running.take() else {
            return Ok(());
        };
        // A closed channel means the task is already gone; joining it tells how it ended.
        let _ = r.stop.send(true);
        joined("miner", r.task.await)
    }

    /// Stops and starts the miner. A panic of the old one is logged and does not stop the
    /// restart: a fresh miner is the remedy.
    pub async fn restart(&mut self, cfg: &MinerConfig, tune: &TuneConfig) -> Result<(), MinerError> {
        let _ = self.stop().await;
        self.start(cfg, tune)
    }

    pub fn send(&self, cmd: MinerCommand) -> bool {
        self.running
            .as_ref()
            .is_some_and(|r| r.commands.send(cmd).is_ok())
    }

    pub fn miner(&self) -> Option<&Arc<Miner>> {
        self.running.as_ref().map(|r| &r.miner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn breaker_hold_is_new_once_and_released_only_when_due() {
        let t0 = Instant::now();
        let mut h = Holds::default();
        assert!(!h.any());
        assert!(h.hold_by_breaker(t0 + Duration::from_secs(60)));
        assert!(
            !h.hold_by_breaker(t0 + Duration::from_secs(120)),
            "an extension is not a new hold"
        );
        assert!(h.any());
        assert!(
            !h.release_breaker(t0 + Duration::from_secs(60)),
            "extended to 120 s"
        );
        assert!(h.release_breaker(t0 + Duration::from_secs(120)));
        assert!(!h.any());
        assert!(
            !h.release_breaker(t0 + Duration::from_secs(200)),
            "nothing left to release"
        );
    }

    #[test]
    fn the_breakers_release_leaves_the_operators_pause() {
        let t0 = Instant::now();
        let mut h = Holds {
            operator: true,
            breaker: None,
        };
        h.hold_by_breaker(t0);
        assert!(h.release_breaker(t0));
        assert!(h.any(), "the operator still holds the miner");
    }
}
