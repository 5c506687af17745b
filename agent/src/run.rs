//! `hashward-agent run`: opens the spool, announces the rig, samples on the configured interval
//! and feeds the publisher. Sampling never waits for the network: records go to the spool and
//! the publisher drains it whenever the broker is reachable.

use crate::config::Config;
use crate::link::{Inbound, LinkCounters, Publisher, Spool, SpoolError};
use crate::miner::service::{self as miner_service, MinerError, MinerLinks};
use crate::sample::HostSampler;
use crate::tune::perf_store::PerfStore;
use hashward_protocol::codec::decode_value;
use hashward_protocol::{
    encode, AgentCounters, Body, Capability, Envelope, FleetHints, RigId, RigState, Topic,
};
use std::sync::atomic::{AtomicU64, Ordering};
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
}

fn state_envelope(cfg: &Config, state: RigState) -> Envelope {
    Envelope::new(
        cfg.rig.clone(),
        Envelope::UNSEQUENCED,
        crate::now_ms(),
        Body::State(state),
    )
}

/// Appends one record to the spool (off the async threads: it is a durable write) and wakes the
/// publisher.
async fn spool_body(spool: &Arc<Spool>, rig: &RigId, topic: &str, body: Body, wake: &Notify) {
    let kind = body.kind();
    let (spool, rig, topic) = (spool.clone(), rig.clone(), topic.to_string());
    let appended = tokio::task::spawn_blocking(move || {
        spool.append(|seq| {
            let env = Envelope::new(rig, seq, crate::now_ms(), body);
            encode(&env).map(|b| (topic, b)).map_err(|e| e.to_string())
        })
    })
    .await;
    match appended {
        Ok(Ok(seq)) => {
            log::debug!("spooled {kind} seq {seq}");
            wake.notify_one();
        }
        Ok(Err(e)) => log::error!("{kind} record not spooled: {e}"),
        Err(e) => log::error!("spool task failed: {e}"),
    }
}

/// Decodes what the hub sends. A message that does not decode is logged, counted in the
/// telemetry's `input_errors`, and changes nothing.
async fn handle_inbox(
    mut inbox: mpsc::Receiver<Inbound>,
    hints: watch::Sender<Option<FleetHints>>,
    input_errors: Arc<AtomicU64>,
) {
    while let Some(msg) = inbox.recv().await {
        match Topic::parse(&msg.topic) {
            Ok(Topic::FleetHints) => match decode_value::<FleetHints>(&msg.payload) {
                Ok(h) => {
                    hints.send_replace(Some(h));
                }
                Err(e) => {
                    input_errors.fetch_add(1, Ordering::Relaxed);
                    log::warn!("fleet hints on {} refused: {e}", msg.topic);
                }
            },
            other => {
                input_errors.fetch_add(1, Ordering::Relaxed);
                log::warn!("unexpected message on {} ({other:?})", msg.topic);
            }
        }
    }
}

/// Runs the agent until `shutdown` turns true.
pub async fn run(cfg: Config, mut shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| RunError::DataDir(cfg.data_dir.clone(), e))?;
    let spool_path = cfg.spool_path();
    let spool =
        Spool::open(&spool_path, cfg.spool.max_bytes).map_err(|e| RunError::Spool(spool_path.clone(), e))?;
    let boot = spool
        .next_boot()
        .map_err(|e| RunError::Spool(spool_path.clone(), e))?;
    let spool = Arc::new(spool);

    let (hints_tx, hints_rx) = watch::channel(None);
    let (snapshots_tx, mut snapshots_rx) = mpsc::unbounded_channel();
    let miner = if cfg.miner.is_enabled() {
        let perf_path = cfg.data_dir.join("perf.redb");
        let perf_store = match PerfStore::open(&perf_path) {
            Ok(s) => Some(s),
            Err(e) => {
                log::error!("tune: {e}; tuning results will not be kept");
                None
            }
        };
        let links = MinerLinks {
            perf_store,
            hints: hints_rx,
            snapshots: snapshots_tx,
        };
        Some(miner_service::start(&cfg.miner, links, shutdown.clone())?)
    } else {
        log::info!("miner: disabled (no pools configured)");
        None
    };
    let mut capabilities = vec![Capability::SignedConfig];
    if miner.is_some() {
        capabilities.push(Capability::CpuMiner);
    }

    let mut sampler = HostSampler::new(cfg.miner.hardware_root.clone());
    let hardware = sampler.hardware(&cfg.miner.hardware_root);
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

    let wake = Arc::new(Notify::new());
    let counters = Arc::new(LinkCounters::default());
    let input_errors = Arc::new(AtomicU64::new(0));
    let (inbox_tx, inbox_rx) = mpsc::channel(64);
    let inbox = tokio::spawn(handle_inbox(inbox_rx, hints_tx, input_errors.clone()));
    let publisher = Publisher {
        broker: cfg.broker.clone(),
        client_id: format!("hashward-agent-{}", cfg.rig),
        state_topic: Topic::State {
            site: cfg.site.clone(),
            rig: cfg.rig.clone(),
        }
        .to_string(),
        birth,
        will,
        spool: spool.clone(),
        wake: wake.clone(),
        counters: counters.clone(),
        subscriptions: vec![Topic::FleetHints.to_string()],
        inbox: inbox_tx,
    };
    // The publisher stops only after the sampler has: a record appended during shutdown must
    // still be drained, not left behind by a publisher that already said goodbye.
    let (stop_publisher, publisher_shutdown) = watch::channel(false);
    let publisher = tokio::spawn(publisher.run(publisher_shutdown));

    let tele_topic = Topic::Tele {
        site: cfg.site.clone(),
        rig: cfg.rig.clone(),
    }
    .to_string();
    let perf_topic = Topic::Perf {
        site: cfg.site.clone(),
        rig: cfg.rig.clone(),
    }
    .to_string();
    let mut tick = tokio::time::interval(cfg.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(snap) = snapshots_rx.recv() => {
                log::info!(
                    "tune: sharing snapshot {} threads x batch {} ({:.0} H/s) with the hub",
                    snap.threads, snap.batch_size, snap.avg_hashrate_hs
                );
                spool_body(&spool, &cfg.rig, &perf_topic, Body::Perf(snap), &wake).await;
                continue;
            }
            _ = shutdown.changed() => break,
        }
        let spool_stats = spool.stats().unwrap_or_default();
        let agent = AgentCounters {
            spool_records: spool_stats.records,
            spool_bytes: spool_stats.bytes,
            spool_dropped: spool_stats.dropped,
            published: counters.published.load(Ordering::Relaxed),
            reconnects: counters.reconnects.load(Ordering::Relaxed),
            input_errors: input_errors.load(Ordering::Relaxed)
                + counters.inbound_dropped.load(Ordering::Relaxed),
        };
        let mut tele = sampler.sample(agent);
        tele.miner = miner.as_ref().map(|(m, _)| m.telemetry());
        spool_body(&spool, &cfg.rig, &tele_topic, Body::Tele(tele), &wake).await;
    }
    inbox.abort();
    log::info!("shutting down: flushing what the broker will take");
    let _ = stop_publisher.send(true);
    if let Some((m, task)) = miner {
        let _ = task.await;
        drop(m);
    }
    if tokio::time::timeout(Duration::from_secs(5), publisher)
        .await
        .is_err()
    {
        log::warn!("publisher did not stop in time; unsent records stay in the spool");
    }
    Ok(())
}
