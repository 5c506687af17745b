//! `hashward-agent run`: opens the spool, announces the rig, samples on the configured interval
//! and feeds the publisher. Sampling never waits for the network: records go to the spool and
//! the publisher drains it whenever the broker is reachable.

use crate::config::Config;
use crate::link::{LinkCounters, Publisher, Spool, SpoolError};
use crate::miner::service::{self as miner_service, MinerError};
use crate::sample::HostSampler;
use hashward_protocol::{encode, AgentCounters, Body, Capability, Envelope, RigState, Topic};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

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

    let miner = if cfg.miner.is_enabled() {
        Some(miner_service::start(&cfg.miner, shutdown.clone())?)
    } else {
        log::info!("miner: disabled (no pools configured)");
        None
    };
    let mut capabilities = vec![Capability::SignedConfig];
    if miner.is_some() {
        capabilities.push(Capability::CpuMiner);
    }

    let mut sampler = HostSampler::new();
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
    let mut tick = tokio::time::interval(cfg.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => break,
        }
        let spool_stats = spool.stats().unwrap_or_default();
        let agent = AgentCounters {
            spool_records: spool_stats.records,
            spool_bytes: spool_stats.bytes,
            spool_dropped: spool_stats.dropped,
            published: counters.published.load(Ordering::Relaxed),
            reconnects: counters.reconnects.load(Ordering::Relaxed),
            input_errors: 0,
        };
        let mut tele = sampler.sample(agent);
        tele.miner = miner.as_ref().map(|(m, _)| m.telemetry());
        let (spool, rig, topic) = (spool.clone(), cfg.rig.clone(), tele_topic.clone());
        let appended = tokio::task::spawn_blocking(move || {
            spool.append(|seq| {
                let env = Envelope::new(rig, seq, crate::now_ms(), Body::Tele(tele));
                encode(&env).map(|b| (topic, b)).map_err(|e| e.to_string())
            })
        })
        .await;
        match appended {
            Ok(Ok(seq)) => {
                log::debug!("spooled telemetry seq {seq}");
                wake.notify_one();
            }
            Ok(Err(e)) => log::error!("telemetry sample not spooled: {e}"),
            Err(e) => log::error!("spool task failed: {e}"),
        }
    }
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
