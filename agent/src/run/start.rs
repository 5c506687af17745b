//! Starting and stopping the agent: the spool, the birth and last-will messages, the parts
//! that run (miner, ASIC poller, inference), the publisher; and, at the end, stopping them in
//! an order that loses nothing.
//!
//! Must never let the publisher stop before the parts that produce records: a record appended
//! during shutdown must still be drained.

use super::asic_slot::AsicSlot;
use super::breakers::BreakerSent;
use super::depin_slot::DepinSlot;
use super::health::HEALTH_EVERY;
use super::miner_slot::MinerSlot;
use super::reconfigure::write_config_in_force;
use super::tasks::{joined, TaskFailed};
use super::{interval, Agent, Health, Link, RunError, Topics};
use crate::asic::breaker::Breakers;
use crate::config::Config;
use crate::fleet::FleetHandler;
use crate::infer::service::InferService;
use crate::infer::worker::Outcome;
use crate::link::{Inbound, LinkCounters, Publisher, Spool};
use crate::sample::HostSampler;
use crate::watchdog::{Progress, StuckMiner, Watchdog};
use hashward_protocol::{
    encode, AsicTelemetry, Body, Capability, DepinReport, Envelope, RigState, Topic, TuningSnapshot,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

/// What the loop waits on besides the agent's own ticks.
pub(super) struct Events {
    pub snapshots: mpsc::UnboundedReceiver<TuningSnapshot>,
    pub asic: mpsc::Receiver<AsicTelemetry>,
    pub depin: mpsc::Receiver<DepinReport>,
    pub inbox: mpsc::Receiver<Inbound>,
    /// None when inference is off.
    pub outcomes: Option<mpsc::Receiver<Outcome>>,
    pub breakers: mpsc::UnboundedReceiver<BreakerSent>,
    pub health: tokio::time::Interval,
    publisher: JoinHandle<()>,
    stop_publisher: watch::Sender<bool>,
}

/// The next inference outcome; never ready while inference is off.
pub(super) async fn next_outcome(outcomes: &mut Option<mpsc::Receiver<Outcome>>) -> Option<Outcome> {
    match outcomes.as_mut() {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

fn state_envelope(cfg: &Config, state: RigState) -> Envelope {
    Envelope::new(
        cfg.rig.clone(),
        Envelope::UNSEQUENCED,
        hashward_common::now_ms(),
        Body::State(state),
    )
}

impl Agent {
    pub(super) fn start(local: Config) -> Result<(Agent, Events), RunError> {
        std::fs::create_dir_all(&local.data_dir).map_err(|e| RunError::DataDir(local.data_dir.clone(), e))?;
        let (fleet, cfg) = FleetHandler::open(local)?;
        write_config_in_force(&cfg);
        let spool_path = cfg.spool_path();
        let spool = Spool::open(&spool_path, cfg.spool.max_bytes)
            .map_err(|e| RunError::Spool(spool_path.clone(), e))?;
        let boot = spool
            .next_boot()
            .map_err(|e| RunError::Spool(spool_path.clone(), e))?;
        let spool = Arc::new(spool);

        let (hints, hints_rx) = watch::channel(None);
        let (snapshots_tx, snapshots) = mpsc::unbounded_channel();
        let mut miner = MinerSlot::new(cfg.data_dir.clone(), hints_rx, snapshots_tx);
        miner.start(&cfg.miner, &cfg.tune)?;
        let (asic_tx, asic_rx) = mpsc::channel::<AsicTelemetry>(256);
        let mut asic = AsicSlot::new(asic_tx);
        asic.start(&cfg.asic).map_err(RunError::Asic)?;
        let (depin_tx, depin_rx) = mpsc::channel::<DepinReport>(64);
        let mut depin = DepinSlot::new(depin_tx);
        depin.start(&cfg.depin);
        let (infer, outcomes) =
            match InferService::start(&cfg.inference, &cfg.data_dir, cfg.fleet.verifying_key()?) {
                Some((svc, rx)) => (Some(svc), Some(rx)),
                None => (None, None),
            };
        let mut capabilities = vec![Capability::SignedConfig];
        if infer.is_some() {
            capabilities.push(Capability::Inference);
        }
        if miner.is_running() {
            capabilities.push(Capability::CpuMiner);
        }
        if asic.is_running() {
            capabilities.push(Capability::AsicPoller);
        }

        let sampler = HostSampler::new(cfg.tune.hardware_root.clone());
        let hardware = sampler.hardware(&cfg.tune.hardware_root);
        log::info!(
            "rig {}/{} boot {boot}: {} ({} logical / {} physical cores, {} NUMA node(s))",
            cfg.site,
            cfg.rig,
            hardware.cpu_model,
            hardware.logical_cores,
            hardware.physical_cores,
            hardware.numa_nodes
        );
        let birth = encode(&state_envelope(
            &cfg,
            RigState {
                online: true,
                boot,
                agent_version: env!("CARGO_PKG_VERSION").to_string(),
                hardware: Some(hardware),
                capabilities,
            },
        ))?;
        let will = encode(&state_envelope(
            &cfg,
            RigState {
                online: false,
                boot,
                agent_version: env!("CARGO_PKG_VERSION").to_string(),
                hardware: None,
                capabilities: vec![],
            },
        ))?;

        let (site, rig) = (cfg.site.clone(), cfg.rig.clone());
        let link = Link {
            wake: Arc::new(Notify::new()),
            counters: Arc::new(LinkCounters::default()),
        };
        let (inbox_tx, inbox) = mpsc::channel::<Inbound>(64);
        let publisher = Publisher {
            broker: cfg.broker.clone(),
            client_id: format!("hashward-agent-{rig}"),
            state_topic: Topic::State {
                site: site.clone(),
                rig: rig.clone(),
            }
            .to_string(),
            birth,
            will,
            spool: spool.clone(),
            wake: link.wake.clone(),
            counters: link.counters.clone(),
            subscriptions: vec![
                Topic::FleetHints.to_string(),
                Topic::FleetCfg.to_string(),
                Topic::FleetModels.to_string(),
                Topic::SiteCfg { site: site.clone() }.to_string(),
                Topic::RigCfg {
                    site: site.clone(),
                    rig: rig.clone(),
                }
                .to_string(),
                Topic::RigCmd {
                    site: site.clone(),
                    rig: rig.clone(),
                }
                .to_string(),
            ],
            inbox: inbox_tx,
        };
        // The publisher stops only after the sampler has: a record appended during shutdown must
        // still be drained, not left behind by a publisher that already said goodbye.
        let (stop_publisher, publisher_shutdown) = watch::channel(false);
        let publisher = tokio::spawn(publisher.run(publisher_shutdown));

        let own = |t: fn(hashward_protocol::SiteId, hashward_protocol::RigId) -> Topic| {
            t(site.clone(), rig.clone()).to_string()
        };
        let topics = Topics {
            tele: own(|site, rig| Topic::Tele { site, rig }),
            perf: own(|site, rig| Topic::Perf { site, rig }),
            ack: own(|site, rig| Topic::Ack { site, rig }),
            alert: own(|site, rig| Topic::Alert { site, rig }),
            score: own(|site, rig| Topic::Score { site, rig }),
            advice: own(|site, rig| Topic::Advice { site, rig }),
            depin: own(|site, rig| Topic::Depin { site, rig }),
        };
        let breakers = Breakers::load(&cfg.data_dir);
        let (breaker_done, breakers_rx) = mpsc::unbounded_channel::<BreakerSent>();
        for (id, until) in breakers.held() {
            log::warn!(
                "inference: ASIC {id} is paused by the circuit breaker until {until} (ms since epoch)"
            );
        }
        let mut watchdog = Watchdog::from_env(&cfg.watchdog);
        let stuck = StuckMiner::new(cfg.watchdog.clone());
        let mut progress = Progress::new();
        // Link: records published, or piling up in the spool while the broker is away.
        progress.watch_link(Instant::now(), cfg.interval() * 3 + Duration::from_secs(60));
        let health_every = watchdog.ping_every().unwrap_or(HEALTH_EVERY).min(HEALTH_EVERY);
        watchdog.ready(&format!("rig {site}/{rig} running"));
        let mut agent = Agent {
            sample_every: interval(cfg.interval()),
            cfg,
            fleet,
            spool,
            link,
            topics,
            input_errors: 0,
            miner,
            asic,
            depin,
            infer,
            hints,
            breakers,
            breaker_done,
            sampler,
            health: Health {
                watchdog,
                stuck,
                progress,
                spool_failing: false,
            },
        };
        agent.arm_watches(Instant::now());
        let events = Events {
            snapshots,
            asic: asic_rx,
            depin: depin_rx,
            inbox,
            outcomes,
            breakers: breakers_rx,
            health: interval(health_every),
            publisher,
            stop_publisher,
        };
        Ok((agent, events))
    }

    /// Stops every part, the publisher last so it drains what they produced. A task that
    /// panicked is returned as an error after everything else has stopped.
    pub(super) async fn stop(mut self, ev: Events) -> Result<(), RunError> {
        self.health.watchdog.stopping();
        log::info!("shutting down: flushing what the broker will take");
        // A closed channel means the publisher is already gone; joining it tells how it ended.
        let _ = ev.stop_publisher.send(true);
        let mut failed: Vec<TaskFailed> = Vec::new();
        failed.extend(self.miner.stop().await.err());
        failed.extend(self.asic.stop().await.err());
        failed.extend(self.depin.stop().await.err());
        match tokio::time::timeout(Duration::from_secs(5), ev.publisher).await {
            Ok(ended) => failed.extend(joined("publisher", ended).err()),
            Err(_) => log::warn!("publisher did not stop in time; unsent records stay in the spool"),
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(RunError::Tasks(failed))
        }
    }
}
