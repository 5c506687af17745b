//! `hashward-agent run`: the composition of the agent's parts. [`Agent`] owns them (the spool
//! and publisher, the CPU miner's and the ASIC poller's slots, inference, the fleet handler,
//! the watchdog) and has one handler per event, each in the file named for it: `inbox`
//! (broker messages), `commands` (signed commands), `reconfigure` (a new config in force),
//! `inference` (model outcomes), `breakers` (ASIC circuit breaker), `health` (watchdog tick),
//! `telemetry` (the records the agent produces), `depin_slot` (DePIN node reports). [`run`] is the loop and nothing else.
//!
//! Must never: wait for the network in a handler (records go to the spool), or be imported by
//! a subsystem (dependencies point from here to them).

mod asic_slot;
mod breakers;
mod commands;
mod depin_slot;
mod health;
mod inbox;
mod inference;
pub mod miner_service;
mod miner_slot;
mod reconfigure;
mod start;
mod tasks;
mod telemetry;

pub use tasks::TaskFailed;

use crate::asic::breaker::Breakers;
use crate::config::{Config, ConfigError};
use crate::fleet::FleetHandler;
use crate::infer::service::InferService;
use crate::link::{LinkCounters, Spool, SpoolError};
use crate::sample::HostSampler;
use crate::watchdog::{Progress, StuckMiner, Watchdog};
use asic_slot::AsicSlot;
use breakers::BreakerSent;
use depin_slot::DepinSlot;
use hashward_protocol::FleetHints;
use miner_service::MinerError;
use miner_slot::MinerSlot;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("creating data dir {0}: {1}")]
    DataDir(std::path::PathBuf, std::io::Error),
    #[error("spool {0}: {1}")]
    Spool(std::path::PathBuf, SpoolError),
    #[error("encoding the state message: {0}")]
    Encode(#[from] hashward_protocol::EncodeError),
    #[error("miner: {0}")]
    Miner(#[from] MinerError),
    #[error("config: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Asic(String),
    /// A task ended by panicking (a bug); the agent stopped and says which.
    #[error("{}", .0.iter().map(|t| t.to_string()).collect::<Vec<_>>().join("; "))]
    Tasks(Vec<TaskFailed>),
}

/// What records need of the link: the publisher's wake-up and counters.
struct Link {
    wake: Arc<Notify>,
    counters: Arc<LinkCounters>,
}

/// The topics the agent publishes records on (its own `site/rig`).
struct Topics {
    tele: String,
    perf: String,
    ack: String,
    alert: String,
    score: String,
    advice: String,
    depin: String,
}

/// The watchdog and what it judges by.
struct Health {
    watchdog: Watchdog,
    stuck: StuckMiner,
    progress: Progress,
    /// The spool could not be read at the last check (logged once per failure, not per tick).
    spool_failing: bool,
}

/// The running agent: every part, and the config in force.
pub(crate) struct Agent {
    cfg: Config,
    fleet: FleetHandler,
    spool: Arc<Spool>,
    link: Link,
    topics: Topics,
    /// Inbound messages refused as bad input (the link's and the fleet handler's are added).
    input_errors: u64,
    miner: MinerSlot,
    asic: AsicSlot,
    depin: DepinSlot,
    infer: Option<InferService>,
    hints: watch::Sender<Option<FleetHints>>,
    /// ASICs the inference circuit breaker paused, and until when (kept across restarts: a
    /// paused ASIC stays paused until it is resumed). Due ones are resumed at the health tick.
    breakers: Breakers,
    breaker_done: mpsc::UnboundedSender<BreakerSent>,
    sampler: HostSampler,
    sample_every: tokio::time::Interval,
    health: Health,
}

/// A tick every `every`, skipping missed ticks rather than bursting to catch up.
fn interval(every: Duration) -> tokio::time::Interval {
    let mut i = tokio::time::interval(every);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    i
}

/// Runs the agent until `shutdown` turns true. `local` is the rig's own config (defaults and
/// file); signed pushes saved under its data dir are merged on top before anything starts.
pub async fn run(local: Config, mut shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    let (mut agent, mut ev) = Agent::start(local)?;
    loop {
        tokio::select! {
            _ = agent.sample_every.tick() => agent.on_sample_tick().await,
            Some(snap) = ev.snapshots.recv() => agent.on_tuning_snapshot(snap).await,
            Some(t) = ev.asic.recv() => agent.on_asic_reading(t).await,
            Some(r) = ev.depin.recv() => agent.on_depin_report(r).await,
            Some(msg) = ev.inbox.recv() => agent.on_inbound(msg).await,
            Some(o) = start::next_outcome(&mut ev.outcomes) => agent.on_inference(o).await,
            Some(sent) = ev.breakers.recv() => agent.on_breaker_sent(sent),
            _ = ev.health.tick() => agent.on_health_tick().await,
            _ = shutdown.changed() => break,
        }
    }
    agent.stop(ev).await
}
