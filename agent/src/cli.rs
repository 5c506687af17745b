//! The `hashward-agent` command line. Lives in the library so the all-in-one `hashward` binary
//! can offer the same commands (`hashward agent ...`); this is binary glue, hence anyhow.

use crate::config::Config;
use crate::miner::bench::BenchJob;
use crate::miner::engine::{default_batch, Engine, EngineConfig, Priority};
use crate::miner::hash::{self, Algo};
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(name = "hashward-agent", version, about = "hashward mining agent")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent: sample, spool and report over MQTT.
    Run(RunArgs),
    /// Measure a kernel's hashrate on this machine (no pool, no broker).
    Bench(BenchArgs),
    /// Show discovered hardware: CPU, topology, NUMA nodes and thread plan, thermal sensors (and
    /// the one chosen as the CPU package), power state.
    Inspect {
        /// Root to read `proc/` and `sys/` under (a fixture tree in tests).
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// Threads to plan across NUMA nodes (default: one per logical CPU).
        #[arg(long)]
        threads: Option<usize>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List the hash kernels this CPU supports, fastest first.
    Kernels {
        /// Only this algorithm.
        #[arg(long)]
        algo: Option<Algo>,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// sha256d or scrypt.
    #[arg(long)]
    pub algo: Algo,
    /// Hashing threads (default: one per logical CPU).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Nonces per kernel call (default: the algorithm's default for the kernel).
    #[arg(long)]
    pub batch: Option<u32>,
    /// Measured time, after a short warm-up.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Kernel by name (default: the fastest this CPU supports).
    #[arg(long)]
    pub kernel: Option<String>,
    /// Scheduling priority of the hashing threads: normal, low or idle.
    #[arg(long, default_value = "normal")]
    pub priority: Priority,
    /// CPUs to pin the threads to, e.g. `0,1`.
    #[arg(long, value_delimiter = ',')]
    pub cpus: Vec<usize>,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    pub json: bool,
}

/// Where `run` looks for its configuration when `--config` is not given.
pub const DEFAULT_CONFIG: &str = "/etc/hashward/agent.toml";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Agent configuration file (TOML). Without it, /etc/hashward/agent.toml if present, else
    /// built-in defaults (site `local`, rig = host name), as cpuminer and XMRig run from flags.
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Overrides `data_dir` (spool and state).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Pool URL (`stratum+tcp://host:port`, `stratum+ssl://host:port`); repeat for failover.
    /// Replaces the configured pools.
    #[arg(short = 'o', long = "pool")]
    pub pools: Vec<String>,
    /// Pool user (wallet.worker) for every `-o` pool.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Pool password for every `-o` pool.
    #[arg(short = 'p', long = "pass", default_value = "x")]
    pub pass: String,
    /// Algorithm: sha256d or scrypt.
    #[arg(long)]
    pub algo: Option<Algo>,
    /// Hashing threads.
    #[arg(long)]
    pub threads: Option<u32>,
}

impl RunArgs {
    /// The configuration `run` uses: the file (or defaults) with the command line on top.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut cfg = match &self.config {
            Some(path) => Config::load(path)?,
            None if std::path::Path::new(DEFAULT_CONFIG).exists() => Config::load(DEFAULT_CONFIG.as_ref())?,
            None => Config::standalone(),
        };
        if let Some(dir) = &self.data_dir {
            cfg.data_dir = dir.clone();
        }
        if !self.pools.is_empty() {
            let Some(user) = &self.user else {
                bail!("-o/--pool needs -u/--user")
            };
            cfg.miner.pools = self
                .pools
                .iter()
                .map(|url| crate::config::PoolEntry {
                    url: url.clone(),
                    user: user.clone(),
                    pass: self.pass.clone(),
                })
                .collect();
            cfg.miner.enabled = Some(true);
        }
        if let Some(algo) = self.algo {
            cfg.miner.algo = algo;
        }
        if self.threads.is_some() {
            cfg.miner.threads = self.threads;
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Turns true on SIGTERM or SIGINT.
pub fn shutdown_on_signals() -> anyhow::Result<watch::Receiver<bool>> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        let _ = tx.send(true);
    });
    Ok(rx)
}

/// Runs the engine on random headers and reports what it measured.
pub fn bench(args: BenchArgs) -> anyhow::Result<serde_json::Value> {
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 86_400.0) {
        bail!("--seconds must be in (0, 86400]");
    }
    let threads = match args.threads {
        Some(t) => t,
        None => std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
    };
    let lanes = hash::select(args.algo, args.kernel.as_deref())?.lanes();
    let batch = args.batch.unwrap_or_else(|| default_batch(args.algo, lanes));
    let (tx, _found) = tokio::sync::mpsc::unbounded_channel();
    let cfg = EngineConfig {
        algo: args.algo,
        kernel: args.kernel.clone(),
        threads,
        batch,
        cpus: args.cpus.clone(),
        priority: args.priority,
    };
    let engine: Engine<BenchJob> = Engine::start(cfg, tx)?;
    engine.set_job(Arc::new(BenchJob::default()));
    // Warm-up: threads start, caches and scratchpads fill, clocks settle.
    std::thread::sleep(Duration::from_secs_f64((args.seconds / 10.0).clamp(0.2, 2.0)));
    let (h0, t0) = (engine.total_hashes(), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(args.seconds));
    let (hashes, seconds) = (engine.total_hashes() - h0, t0.elapsed().as_secs_f64());
    Ok(serde_json::json!({
        "algo": args.algo,
        "impl": engine.kernel(),
        "threads": engine.threads(),
        "batch": engine.batch(),
        "priority": args.priority,
        "hashes": hashes,
        "seconds": seconds,
        "hashrate_hs": hashes as f64 / seconds,
    }))
}

/// What `inspect` prints, as JSON.
pub fn inspect(root: &std::path::Path, threads: Option<usize>) -> serde_json::Value {
    use crate::tune::{hw, numa};
    let hw = hw::discover(root);
    let threads = threads.unwrap_or_else(|| hw.topology.logical_count().max(1));
    let plan = numa::plan(hw.numa_nodes(), &hw.topology.smt_siblings, threads);
    let sensors: Vec<_> = hw
        .thermal
        .sensors
        .iter()
        .map(|r| {
            serde_json::json!({
                "source": format!("{:?}", r.sensor.source),
                "label": r.sensor.label,
                "role": format!("{:?}", r.sensor.role),
                "celsius": r.celsius.as_ref().ok(),
                "error": r.celsius.as_ref().err().map(|e| e.to_string()),
            })
        })
        .collect();
    serde_json::json!({
        "root": root,
        "hardware": hw.summary(),
        "sensors": sensors,
        "numa_plan": { "threads": plan.total_threads(), "layout": plan.layout(), "cpus": plan.cpus(), "capped": plan.capped },
        "problems": hw.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
    })
}

pub fn main(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect { root, threads, json } => {
            let v = inspect(&root, threads);
            if json {
                println!("{v}");
            } else {
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            Ok(())
        }
        Command::Kernels { algo } => {
            for a in algo
                .map(|a| vec![a])
                .unwrap_or_else(|| vec![Algo::Sha256d, Algo::Scrypt])
            {
                match hash::available(a) {
                    Ok(kernels) => {
                        for k in kernels {
                            println!("{a}\t{}\t{} lanes", k.name(), k.lanes());
                        }
                    }
                    Err(e) => eprintln!("{a}: {e}"),
                }
            }
            Ok(())
        }
        Command::Bench(args) => {
            let json = args.json;
            let r = bench(args)?;
            if json {
                println!("{r}");
            } else {
                println!(
                    "{} on {} thread(s) with {}: {} ({} hashes in {:.2} s, batch {})",
                    r["algo"].as_str().unwrap_or("?"),
                    r["threads"],
                    r["impl"].as_str().unwrap_or("?"),
                    hashward_protocol::Hashrate(r["hashrate_hs"].as_f64().unwrap_or(0.0)),
                    r["hashes"],
                    r["seconds"].as_f64().unwrap_or(0.0),
                    r["batch"]
                );
            }
            Ok(())
        }
        Command::Run(args) => {
            let cfg = args.config()?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(async {
                let shutdown = shutdown_on_signals()?;
                crate::run::run(cfg, shutdown).await.map_err(anyhow::Error::from)
            })
        }
    }
}
