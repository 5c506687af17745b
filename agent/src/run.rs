//! `hashward-agent run`: opens the spool, announces the rig, samples on the configured interval
//! and feeds the publisher. Sampling never waits for the network: records go to the spool and
//! the publisher drains it whenever the broker is reachable.

use crate::asic::breaker::Breakers;
use crate::asic::client::AsicClient;
use crate::asic::config::AsicSection;
use crate::asic::control::{self as asic_control, MiningAction};
use crate::asic::poller::{Poller, PollerHandle};
use crate::config::{Config, ConfigError, MinerConfig};
use crate::fleet::FleetHandler;
use crate::infer::service::InferService;
use crate::infer::{Directive, Sample, Subject};
use crate::link::{Inbound, LinkCounters, Publisher, Spool, SpoolError};
use crate::miner::service::{self as miner_service, Miner, MinerCommand, MinerError, MinerLinks};
use crate::sample::HostSampler;
use crate::tune::perf_store::PerfStore;
use crate::watchdog::{LinkSnapshot, MinerSnapshot, MinerVerdict, Progress, StuckMiner, Tick, Watchdog};
use hashward_protocol::codec::decode_value;
use hashward_protocol::signed::Scope;
use hashward_protocol::{
    encode, Ack, AckOutcome, AgentCounters, AsicTelemetry, Body, Capability, Command, Envelope, FleetHints,
    RigId, RigState, Topic, TuningSnapshot,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
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
}

fn state_envelope(cfg: &Config, state: RigState) -> Envelope {
    Envelope::new(
        cfg.rig.clone(),
        Envelope::UNSEQUENCED,
        hashward_common::now_ms(),
        Body::State(state),
    )
}

/// What `spool_body` needs of the link: the publisher's wake-up and counters.
struct Link {
    wake: Arc<Notify>,
    counters: Arc<LinkCounters>,
}

/// Appends one record to the spool (off the async threads: it is a durable write) and wakes the
/// publisher.
async fn spool_body(spool: &Arc<Spool>, rig: &RigId, topic: &str, body: Body, link: &Link) {
    spool_body_at(spool, rig, topic, body, link, hashward_common::now_ms()).await
}

/// As [`spool_body`], stamped `ts_ms` (a sample's time, shared with its inference score).
async fn spool_body_at(spool: &Arc<Spool>, rig: &RigId, topic: &str, body: Body, link: &Link, ts_ms: u64) {
    let wake = &link.wake;
    let kind = body.kind();
    let (spool, rig, topic) = (spool.clone(), rig.clone(), topic.to_string());
    let appended = tokio::task::spawn_blocking(move || {
        spool.append(|seq| {
            let env = Envelope::new(rig, seq, ts_ms, body);
            encode(&env).map(|b| (topic, b)).map_err(|e| e.to_string())
        })
    })
    .await;
    match appended {
        Ok(Ok(seq)) => {
            log::debug!("spooled {kind} seq {seq}");
            link.counters.spooled.fetch_add(1, Ordering::Relaxed);
            wake.notify_one();
        }
        Ok(Err(e)) => log::error!("{kind} record not spooled: {e}"),
        Err(e) => log::error!("spool task failed: {e}"),
    }
}

/// The running CPU miner, if any, and what it needs to be restarted with a new config.
struct MinerSlot {
    running: Option<RunningMiner>,
    hints: watch::Receiver<Option<FleetHints>>,
    snapshots: mpsc::UnboundedSender<TuningSnapshot>,
    data_dir: std::path::PathBuf,
    holds: Holds,
}

/// Why the miner is held (paused on purpose), kept outside the miner so that a restarted miner,
/// or a restarted agent for the operator's pause, is held again. The miner hashes only when
/// nobody holds it: the circuit breaker's release must not undo an operator's pause.
#[derive(Debug, Default)]
struct Holds {
    /// `pause` command until `resume`; persisted as [`OPERATOR_PAUSE_FILE`] in the data dir.
    operator: bool,
    /// Inference circuit breaker (critical overheat), until the given time.
    breaker: Option<Instant>,
}

/// Present while an operator's pause is in force (survives agent restarts and reboots).
const OPERATOR_PAUSE_FILE: &str = "operator-pause";

impl Holds {
    fn any(&self) -> bool {
        self.operator || self.breaker.is_some()
    }
}

struct RunningMiner {
    miner: Arc<Miner>,
    task: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
    commands: mpsc::UnboundedSender<MinerCommand>,
}

impl MinerSlot {
    fn start(&mut self, cfg: &MinerConfig) -> Result<(), MinerError> {
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
        let (miner, task) = miner_service::start(cfg, links, stop_rx)?;
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

    /// Sets the operator's pause (persisted first: an acked pause must survive a crash).
    fn hold_by_operator(&mut self, on: bool) -> std::io::Result<()> {
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
    fn hold_by_breaker(&mut self, until: Instant) -> bool {
        let new = self.holds.breaker.is_none();
        self.holds.breaker = Some(until);
        self.send(MinerCommand::Hold(true));
        new
    }

    /// Releases the breaker's hold once its time is up; true when it did.
    fn release_breaker(&mut self, now: Instant) -> bool {
        if self.holds.breaker.is_none_or(|t| now < t) {
            return false;
        }
        self.holds.breaker = None;
        self.send(MinerCommand::Hold(self.holds.any()));
        true
    }

    async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = r.stop.send(true);
            let _ = r.task.await;
        }
    }

    async fn restart(&mut self, cfg: &MinerConfig) -> Result<(), MinerError> {
        self.stop().await;
        self.start(cfg)
    }

    fn send(&self, cmd: MinerCommand) -> bool {
        self.running
            .as_ref()
            .is_some_and(|r| r.commands.send(cmd).is_ok())
    }

    fn miner(&self) -> Option<&Arc<Miner>> {
        self.running.as_ref().map(|r| &r.miner)
    }
}

/// How a pause or resume sent for the circuit breaker ended (back to the main loop, which keeps
/// the record in step: a failed resume is retried, a failed pause is forgotten).
struct BreakerSent {
    id: String,
    action: MiningAction,
    result: Result<(), String>,
    /// False when `id` is no longer in `[asic]`: nobody here can resume it.
    configured: bool,
}

/// A failed resume is tried again after this long.
const BREAKER_RETRY_MS: u64 = 60_000;

/// Pauses or resumes the configured ASIC `id` for the inference circuit breaker, off the main
/// loop; the outcome goes to `done`. Only Vnish firmware can pause; for the others the log says
/// why it did not happen.
fn asic_mining(
    section: &AsicSection,
    id: &str,
    action: MiningAction,
    done: &mpsc::UnboundedSender<BreakerSent>,
) {
    let spec = section
        .load_credentials()
        .and_then(|c| section.asic_specs(&c))
        .map_err(|e| e.to_string())
        .map(|specs| specs.into_iter().find(|s| s.id == id));
    let timeout = Duration::from_millis(section.request_timeout_ms);
    let (id, done) = (id.to_string(), done.clone());
    tokio::spawn(async move {
        let configured = !matches!(spec, Ok(None));
        let result = async {
            let spec = spec?.ok_or_else(|| format!("no miner {id:?} in [asic] any more"))?;
            let mut client = AsicClient::connect(&spec, timeout)
                .await
                .map_err(|e| e.to_string())?;
            asic_control::mining(&mut client, action)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        match &result {
            Ok(()) => log::warn!("inference: ASIC {id}: {} sent (circuit breaker)", action.name()),
            Err(e) => log::error!("inference: ASIC {id}: {} failed: {e}", action.name()),
        }
        let _ = done.send(BreakerSent {
            id,
            action,
            result,
            configured,
        });
    });
}

/// The running ASIC poller, if any miners are configured.
struct AsicSlot {
    running: Option<(PollerHandle, watch::Sender<bool>, tokio::task::JoinHandle<()>)>,
    telemetry: mpsc::Sender<AsicTelemetry>,
}

impl AsicSlot {
    fn start(&mut self, section: &AsicSection) -> Result<(), String> {
        if !section.enabled || section.miners.is_empty() {
            return Ok(());
        }
        let creds = section.load_credentials().map_err(|e| format!("asic: {e}"))?;
        let specs = section.asic_specs(&creds).map_err(|e| format!("asic: {e}"))?;
        log::info!("asic: polling {} miner(s)", specs.len());
        let poller = Poller::new(specs, section.poller_options());
        let handle = poller.handle();
        let (stop, mut stop_rx) = watch::channel(false);
        let tx = self.telemetry.clone();
        let task = tokio::spawn(async move {
            let done = poller
                .run(tx, async move {
                    let _ = stop_rx.wait_for(|s| *s).await;
                })
                .await;
            log::info!(
                "asic: poller stopped after {} polls ({} ok)",
                done.polls,
                done.polls_ok
            );
        });
        self.running = Some((handle, stop, task));
        Ok(())
    }

    async fn stop(&mut self) {
        if let Some((_, stop, task)) = self.running.take() {
            let _ = stop.send(true);
            let _ = task.await;
        }
    }

    fn handle(&self) -> Option<&PollerHandle> {
        self.running.as_ref().map(|(h, _, _)| h)
    }
}

/// Applies a new config in force, touching only what changed.
async fn apply_config(
    old: &Config,
    new: &Config,
    slot: &mut MinerSlot,
    asic: &mut AsicSlot,
    tick: &mut tokio::time::Interval,
) -> Result<(), String> {
    if old.asic != new.asic {
        log::info!("asic: settings or miner list changed; restarting the poller");
        asic.stop().await;
        asic.start(&new.asic)?;
    }
    if old.telemetry.interval_ms != new.telemetry.interval_ms {
        log::info!(
            "telemetry interval {} ms -> {} ms",
            old.telemetry.interval_ms,
            new.telemetry.interval_ms
        );
        *tick = tokio::time::interval(new.interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    }
    if old.miner != new.miner {
        if miner_service::needs_restart(&old.miner, &new.miner) {
            log::info!("miner: algorithm, pools, kernel or priority changed; restarting the miner");
            slot.restart(&new.miner)
                .await
                .map_err(|e| format!("miner did not restart: {e}"))?;
        } else if !slot.send(MinerCommand::Reconfigure(Box::new(new.miner.clone()))) && new.miner.is_enabled()
        {
            slot.restart(&new.miner)
                .await
                .map_err(|e| format!("miner did not start: {e}"))?;
        }
    }
    Ok(())
}

/// Runs a verified command; the ack's outcome.
async fn run_command(
    cmd: Command,
    cfg: &Config,
    slot: &mut MinerSlot,
    fleet: &FleetHandler,
    spool: &Spool,
    asic: &AsicSlot,
) -> AckOutcome {
    let no_miner = || AckOutcome::Rejected("no CPU miner runs on this rig".into());
    match cmd {
        Command::RestartMiner => {
            if !cfg.miner.is_enabled() {
                return no_miner();
            }
            match slot.restart(&cfg.miner).await {
                Ok(()) => AckOutcome::Applied,
                Err(e) => AckOutcome::Rejected(format!("miner did not restart: {e}")),
            }
        }
        Command::PauseMining | Command::ResumeMining => {
            if slot.running.is_none() {
                return no_miner();
            }
            match slot.hold_by_operator(cmd == Command::PauseMining) {
                Ok(()) => {
                    if slot.holds.breaker.is_some() {
                        log::warn!("miner: the operator's pause is lifted, but the circuit breaker holds the miner until it releases");
                    }
                    AckOutcome::Applied
                }
                Err(e) => AckOutcome::Rejected(format!("could not record the pause in the data dir: {e}")),
            }
        }
        Command::Retune => {
            if slot.send(MinerCommand::Retune) {
                AckOutcome::Applied
            } else {
                no_miner()
            }
        }
        Command::RepollAsics => match asic.handle() {
            Some(h) => {
                let n = h.repoll_now();
                log::info!("asic: re-polling {n} miner(s) now by operator command");
                AckOutcome::Applied
            }
            None => AckOutcome::Rejected("no ASIC poller runs on this rig".into()),
        },
        Command::Diagnostics => {
            let report = serde_json::json!({
                "agent_version": env!("CARGO_PKG_VERSION"),
                "site": cfg.site,
                "rig": cfg.rig,
                "config_versions": fleet.versions(),
                "config_in_force": std::fs::read_to_string(cfg.data_dir.join("config-in-force.toml")).ok(),
                "pools": cfg.miner.pools.iter().map(|p| &p.url).collect::<Vec<_>>(),
                "miner": slot.miner().map(|m| m.telemetry()),
                "asic": asic.handle().map(|h| serde_json::json!({
                    "counters": h.counters(),
                    "miners": h.asics().iter().map(|m| serde_json::json!({
                        "id": m.id, "reachable": m.reachable, "last_error": m.last_error,
                        "quarantine": m.quarantine, "interval_ms": m.interval_ms,
                    })).collect::<Vec<_>>(),
                })),
                "spool": spool.stats().ok().map(|s| serde_json::json!({
                    "records": s.records, "bytes": s.bytes, "dropped": s.dropped
                })),
                "log": crate::logring::recent(DIAG_LOG_LINES)
                    .unwrap_or_else(|| vec!["(log capture is not enabled in this process)".into()]),
            });
            let mut text = report.to_string();
            if text.len() > DIAG_MAX_BYTES {
                let mut cut = DIAG_MAX_BYTES;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            AckOutcome::Report(text)
        }
    }
}

/// How often progress is checked (and systemd pinged, if it asks for less often).
const HEALTH_EVERY: Duration = Duration::from_secs(10);

/// Keeps the watchdog's watches in step with what runs and with the config in force: a push may
/// start or stop the miner or the ASIC poller, or change their intervals. A part stopped on
/// purpose must not hold back systemd's ping, a started one must not go unwatched, and a longer
/// interval must not look like a hang. A changed watch starts afresh from `now`.
fn arm_watches(progress: &mut Progress, now: Instant, cfg: &Config, slot: &MinerSlot, asic: &AsicSlot) {
    // Longer than the stuck-miner rule, so the agent restarts its miner before systemd
    // restarts the agent.
    let miner = cfg.watchdog.stuck_after() + Duration::from_secs(120);
    match (slot.running.is_some(), progress.miner_allowance()) {
        (true, a) if a != Some(miner) => progress.watch_miner(now, miner),
        (false, Some(_)) => progress.unwatch_miner(),
        _ => {}
    }
    let poller = Duration::from_secs(cfg.asic.telemetry_max_interval_s * 3 + 60);
    match (asic.running.is_some(), progress.poller_allowance("asic")) {
        (true, a) if a != Some(poller) => progress.watch_poller("asic", now, poller),
        (false, Some(_)) => progress.unwatch_poller("asic"),
        _ => {}
    }
}

/// Feeds the watchdog from the main loop: pings systemd only while every watched part makes
/// progress, and restarts a miner whose hashrate stayed below the minimum (Hive OS's rule).
#[allow(clippy::too_many_arguments)]
async fn check_health(
    now: Instant,
    progress: &mut Progress,
    watchdog: &mut Watchdog,
    stuck: &mut StuckMiner,
    slot: &mut MinerSlot,
    cfg: &Config,
    counters: &LinkCounters,
    spool: &Spool,
    asic: &AsicSlot,
) {
    arm_watches(progress, now, cfg, slot, asic);
    let stats = spool.stats().unwrap_or_default();
    progress.link(
        now,
        LinkSnapshot {
            published: counters.published.load(Ordering::Relaxed),
            spooled: counters.spooled.load(Ordering::Relaxed),
            pending: stats.records,
            connected: counters.connected.load(Ordering::Relaxed),
        },
    );
    if let Some(h) = asic.handle() {
        progress.poller("asic", now, h.counters().polls);
    }
    let mut restart = None;
    if let Some(m) = slot.miner() {
        let t = m.telemetry();
        let should_hash = !t.paused;
        progress.miner(
            now,
            MinerSnapshot {
                hashes: m.total_hashes(),
                should_hash,
            },
        );
        match stuck.observe(now, t.hashrate_60s.0, should_hash) {
            MinerVerdict::Restart { reason } => restart = Some(reason),
            MinerVerdict::RestartLimited { reason } => log::error!("watchdog: {reason}"),
            _ => {}
        }
    }
    if let Some(reason) = restart {
        log::error!("watchdog: {reason}; restarting the miner");
        if let Err(e) = slot.restart(&cfg.miner).await {
            log::error!("watchdog: miner did not restart: {e}");
        }
    }
    if let Tick::Withheld(why) = watchdog.tick(now, progress) {
        log::warn!("watchdog: not pinging systemd: {why}");
    }
}

/// Writes the config in force to `data_dir/config-in-force.toml` (pool passwords redacted) so
/// an operator, and the tests, can see what the merge of local file and pushes produced.
fn write_config_in_force(cfg: &Config) {
    let mut shown = cfg.clone();
    for p in &mut shown.miner.pools {
        p.pass = "(redacted)".into();
    }
    if let Some(pw) = shown.broker.password.as_mut() {
        *pw = "(redacted)".into();
    }
    let path = cfg.data_dir.join("config-in-force.toml");
    let text = match toml::to_string(&shown) {
        Ok(t) => format!("# The config in force: defaults < local file < fleet < site < rig pushes.\n# Written by the agent; edit the local file, not this one.\n{t}"),
        Err(e) => {
            log::warn!("config in force not written: {e}");
            return;
        }
    };
    if let Err(e) = hashward_common::durable::write_atomic(&path, text.as_bytes()) {
        log::warn!("{}: {e}", path.display());
    }
}

const DIAG_LOG_LINES: usize = 100;
const DIAG_MAX_BYTES: usize = 32 * 1024;

/// Runs the agent until `shutdown` turns true. `local` is the rig's own config (defaults and
/// file); signed pushes saved under its data dir are merged on top before anything starts.
pub async fn run(local: Config, mut shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    std::fs::create_dir_all(&local.data_dir).map_err(|e| RunError::DataDir(local.data_dir.clone(), e))?;
    let (mut fleet, mut cfg) = FleetHandler::open(local)?;
    write_config_in_force(&cfg);
    let spool_path = cfg.spool_path();
    let spool =
        Spool::open(&spool_path, cfg.spool.max_bytes).map_err(|e| RunError::Spool(spool_path.clone(), e))?;
    let boot = spool
        .next_boot()
        .map_err(|e| RunError::Spool(spool_path.clone(), e))?;
    let spool = Arc::new(spool);

    let (hints_tx, hints_rx) = watch::channel(None);
    let (snapshots_tx, mut snapshots_rx) = mpsc::unbounded_channel();
    let mut slot = MinerSlot {
        running: None,
        hints: hints_rx,
        snapshots: snapshots_tx,
        data_dir: cfg.data_dir.clone(),
        holds: Holds {
            operator: cfg.data_dir.join(OPERATOR_PAUSE_FILE).exists(),
            breaker: None,
        },
    };
    if slot.holds.operator {
        log::warn!("miner: an operator's pause is in force (resume it with the `resume` command)");
    }
    slot.start(&cfg.miner)?;
    let (asic_tx, mut asic_rx) = mpsc::channel::<AsicTelemetry>(256);
    let mut asic = AsicSlot {
        running: None,
        telemetry: asic_tx,
    };
    asic.start(&cfg.asic).map_err(RunError::Asic)?;
    let (infer, mut outcomes) =
        match InferService::start(&cfg.inference, &cfg.data_dir, cfg.fleet.verifying_key()?) {
            Some((svc, rx)) => (Some(svc), Some(rx)),
            None => (None, None),
        };
    let mut capabilities = vec![Capability::SignedConfig];
    if infer.is_some() {
        capabilities.push(Capability::Inference);
    }
    if slot.running.is_some() {
        capabilities.push(Capability::CpuMiner);
    }
    if asic.running.is_some() {
        capabilities.push(Capability::AsicPoller);
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

    let (site, rig) = (cfg.site.clone(), cfg.rig.clone());
    let wake = Arc::new(Notify::new());
    let counters = Arc::new(LinkCounters::default());
    let link = Link {
        wake: wake.clone(),
        counters: counters.clone(),
    };
    let input_errors = Arc::new(AtomicU64::new(0));
    let (inbox_tx, mut inbox_rx) = mpsc::channel::<Inbound>(64);
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
        wake: wake.clone(),
        counters: counters.clone(),
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

    let topic = |t: Topic| t.to_string();
    let tele_topic = topic(Topic::Tele {
        site: site.clone(),
        rig: rig.clone(),
    });
    let perf_topic = topic(Topic::Perf {
        site: site.clone(),
        rig: rig.clone(),
    });
    let ack_topic = topic(Topic::Ack {
        site: site.clone(),
        rig: rig.clone(),
    });
    let alert_topic = topic(Topic::Alert {
        site: site.clone(),
        rig: rig.clone(),
    });
    let score_topic = topic(Topic::Score {
        site: site.clone(),
        rig: rig.clone(),
    });
    // ASICs the inference circuit breaker paused, and until when (kept across restarts: a
    // paused ASIC stays paused until it is resumed). Due ones are resumed at the health tick.
    let mut asic_breakers = Breakers::load(&cfg.data_dir);
    let (breaker_tx, mut breaker_rx) = mpsc::unbounded_channel::<BreakerSent>();
    for (id, until) in asic_breakers.held() {
        log::warn!("inference: ASIC {id} is paused by the circuit breaker until {until} (ms since epoch)");
    }
    let mut tick = tokio::time::interval(cfg.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut watchdog = Watchdog::from_env(&cfg.watchdog);
    let mut stuck = StuckMiner::new(cfg.watchdog.clone());
    let mut progress = Progress::new();
    let now = Instant::now();
    // Link: records published, or piling up in the spool while the broker is away.
    progress.watch_link(now, cfg.interval() * 3 + Duration::from_secs(60));
    arm_watches(&mut progress, now, &cfg, &slot, &asic);
    let health_every = watchdog.ping_every().unwrap_or(HEALTH_EVERY).min(HEALTH_EVERY);
    let mut health = tokio::time::interval(health_every);
    health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    watchdog.ready(&format!("rig {site}/{rig} running"));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(snap) = snapshots_rx.recv() => {
                log::info!(
                    "tune: sharing snapshot {} threads x batch {} ({:.0} H/s) with the hub",
                    snap.threads, snap.batch_size, snap.avg_hashrate_hs
                );
                spool_body(&spool, &rig, &perf_topic, Body::Perf(snap), &link).await;
                continue;
            }
            Some(t) = asic_rx.recv() => {
                let Ok(miner) = RigId::new(t.miner_id.as_str()) else {
                    log::warn!("asic: miner id {:?} cannot be a topic level; reading dropped", t.miner_id);
                    continue;
                };
                let topic = Topic::Asic { site: site.clone(), rig: rig.clone(), miner: miner.to_string() }.to_string();
                let ts = hashward_common::now_ms();
                if let Some(svc) = &infer {
                    svc.submit(Sample::Asic(Box::new(t.clone())), ts);
                }
                spool_body_at(&spool, &rig, &topic, Body::Asic(t), &link, ts).await;
                continue;
            }
            Some(msg) = inbox_rx.recv() => {
                let scope = match Topic::parse(&msg.topic) {
                    Ok(Topic::FleetHints) => {
                        match decode_value::<FleetHints>(&msg.payload) {
                            Ok(h) => {
                                hints_tx.send_replace(Some(h));
                            }
                            Err(e) => {
                                input_errors.fetch_add(1, Ordering::Relaxed);
                                log::warn!("fleet hints on {} refused: {e}", msg.topic);
                            }
                        }
                        continue;
                    }
                    Ok(Topic::FleetModels) => {
                        if msg.payload.is_empty() {
                            continue;
                        }
                        let version = postcard::from_bytes::<hashward_protocol::signed::SignedMessage>(&msg.payload)
                            .map(|m| m.content.version)
                            .unwrap_or(0);
                        let outcome = match &infer {
                            Some(svc) => svc.update(msg.payload.to_vec()).await,
                            None => AckOutcome::Rejected("inference is off on this rig".into()),
                        };
                        let ack = Ack { scope: "models".into(), version, outcome };
                        spool_body(&spool, &rig, &ack_topic, Body::Ack(ack), &link).await;
                        continue;
                    }
                    Ok(Topic::FleetCfg) => Some((Scope::Fleet, false)),
                    Ok(Topic::SiteCfg { site }) => Some((Scope::Site(site), false)),
                    Ok(Topic::RigCfg { site, rig }) => Some((Scope::Rig(site, rig), false)),
                    Ok(Topic::RigCmd { site, rig }) => Some((Scope::Rig(site, rig), true)),
                    _ => None,
                };
                let Some((scope, is_command)) = scope else {
                    input_errors.fetch_add(1, Ordering::Relaxed);
                    log::warn!("unexpected message on {}", msg.topic);
                    continue;
                };
                if msg.payload.is_empty() {
                    // A cleared retained push: nothing to apply, nothing to ack.
                    continue;
                }
                let ack = if is_command {
                    match fleet.on_command(&scope, &msg.payload, hashward_common::now_ms()) {
                        Ok(c) => {
                            let outcome = run_command(c.command, &cfg, &mut slot, &fleet, &spool, &asic).await;
                            Ack { scope: "cmd".into(), version: c.nonce, outcome }
                        }
                        Err(ack) => ack,
                    }
                } else {
                    let out = fleet.on_config(&scope, &msg.payload);
                    let mut ack = out.ack;
                    if let Some(new) = out.config {
                        if let Err(e) = apply_config(&cfg, &new, &mut slot, &mut asic, &mut tick).await {
                            log::error!("fleet: {e}");
                            ack.outcome = AckOutcome::Rejected(e);
                        }
                        cfg = new;
                        write_config_in_force(&cfg);
                    }
                    ack
                };
                spool_body(&spool, &rig, &ack_topic, Body::Ack(ack), &link).await;
                continue;
            }
            Some(o) = async { match outcomes.as_mut() { Some(r) => r.recv().await, None => std::future::pending().await } } => {
                let score = o.assessment.to_score(o.sample_ts_ms);
                spool_body(&spool, &rig, &score_topic, Body::Score(score), &link).await;
                if let Some(alert) = o.alert {
                    log::warn!("inference: {} ({:?}, {:?})", alert.message, alert.severity, alert.threat_type);
                    spool_body(&spool, &rig, &alert_topic, Body::Alert(alert), &link).await;
                }
                if let Some(Directive::PauseMining { subject, threat, duration_s }) = o.assessment.directive {
                    match subject {
                        Subject::Rig => {
                            if slot.running.is_some()
                                && slot.hold_by_breaker(Instant::now() + Duration::from_secs(duration_s))
                            {
                                log::error!("inference: critical {threat:?}: mining paused for {duration_s} s (circuit breaker)");
                            }
                        }
                        Subject::Asic(id) => {
                            match asic_breakers.trip(&id, hashward_common::now_ms() + duration_s * 1000) {
                                Ok(true) => {
                                    log::error!("inference: critical {threat:?} on ASIC {id}: pausing it for {duration_s} s (circuit breaker)");
                                    asic_mining(&cfg.asic, &id, MiningAction::Pause, &breaker_tx);
                                }
                                Ok(false) => {}
                                // Not paused: nothing would remember to resume it.
                                Err(e) => log::error!("inference: critical {threat:?} on ASIC {id}, not paused: recording the pause failed: {e}"),
                            }
                        }
                    }
                }
                if let Some(advice) = o.advice {
                    log::info!("inference: power advice: {}", serde_json::to_string(&advice).unwrap_or_default());
                }
                continue;
            }
            Some(sent) = breaker_rx.recv() => {
                let step = match (sent.action, &sent.result) {
                    (MiningAction::Resume, Ok(())) => asic_breakers.resumed(&sent.id),
                    (MiningAction::Resume, Err(_)) if !sent.configured => {
                        log::error!("inference: ASIC {} left [asic] while paused by the circuit breaker: resume it by hand", sent.id);
                        asic_breakers.resumed(&sent.id)
                    }
                    (MiningAction::Resume, Err(_)) => {
                        log::error!("inference: ASIC {} is still paused; trying again in {} s", sent.id, BREAKER_RETRY_MS / 1000);
                        asic_breakers.resume_failed(&sent.id, hashward_common::now_ms() + BREAKER_RETRY_MS)
                    }
                    (_, Ok(())) => Ok(()),
                    (_, Err(_)) => asic_breakers.pause_failed(&sent.id),
                };
                if let Err(e) = step {
                    log::error!("inference: recording the ASIC circuit breaker in the data dir failed: {e}");
                }
                continue;
            }
            _ = health.tick() => {
                let now = Instant::now();
                if slot.release_breaker(now) {
                    log::warn!(
                        "inference: circuit breaker released; {}",
                        if slot.holds.any() { "the operator's pause still holds the miner" } else { "mining resumed" }
                    );
                }
                for id in asic_breakers.due(hashward_common::now_ms()) {
                    log::warn!("inference: circuit breaker on ASIC {id} released; resuming it");
                    asic_mining(&cfg.asic, &id, MiningAction::Resume, &breaker_tx);
                }
                check_health(now, &mut progress, &mut watchdog, &mut stuck, &mut slot, &cfg, &counters, &spool, &asic).await;
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
                + counters.inbound_dropped.load(Ordering::Relaxed)
                + fleet.rejected,
        };
        let mut tele = sampler.sample(agent);
        tele.miner = slot.miner().map(|m| m.telemetry());
        let ts = hashward_common::now_ms();
        if let Some(svc) = &infer {
            svc.submit(Sample::Rig(Box::new(tele.clone())), ts);
        }
        spool_body_at(&spool, &rig, &tele_topic, Body::Tele(tele), &link, ts).await;
    }
    watchdog.stopping();
    log::info!("shutting down: flushing what the broker will take");
    let _ = stop_publisher.send(true);
    slot.stop().await;
    asic.stop().await;
    if tokio::time::timeout(Duration::from_secs(5), publisher)
        .await
        .is_err()
    {
        log::warn!("publisher did not stop in time; unsent records stay in the spool");
    }
    Ok(())
}
