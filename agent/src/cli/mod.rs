//! The `hashward-agent` command line. Lives in the library so the all-in-one `hashward` binary
//! can offer the same commands (`hashward agent ...`); this is binary glue, hence anyhow.

mod telemetry;
mod tune_pass;
use crate::config::Config;
use crate::miner::bench::BenchJob;
use crate::miner::engine::{default_batch, Engine, EngineConfig, Priority};
use crate::miner::hash::{self, Algo};
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use telemetry::TelemetryCommand;

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
    /// Run a real tuning pass on this machine (benchmark headers, no pool): every configuration
    /// tried with its measured hashrate, and the chosen OptimalConfig. Results are kept in the
    /// performance store the agent starts from.
    Tune(TuneArgs),
    /// Replay recorded telemetry (JSON lines, as the hub serves it) through a model and print
    /// score, threat type and severity per sample.
    Infer {
        /// sentinel_rig, sentinel_asic or efficiency_asic.
        #[arg(long)]
        model: String,
        /// One telemetry sample per line (`-` for standard input).
        #[arg(long)]
        input: PathBuf,
        /// Models directory (default: the agent's, else ./models).
        #[arg(long)]
        models_dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// ASIC miners: `asic probe` reads one miner and prints its normalised telemetry.
    #[command(subcommand)]
    Asic(AsicCommand),
    /// List the hash kernels this CPU supports, fastest first.
    Kernels {
        /// Only this algorithm.
        #[arg(long)]
        algo: Option<Algo>,
    },
    /// The private tuning telemetry: `telemetry id` shows the random id snapshots are shared
    /// under, `telemetry forget` has the hub remove them (seed 004) and draws a new id.
    #[command(subcommand)]
    Telemetry(TelemetryCommand),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// sha256d or scrypt.
    #[arg(long)]
    pub algo: Algo,
    /// Hashing threads (default: one per logical CPU).
    #[arg(long)]
    pub threads: Option<u32>,
    /// SIMD blocks per kernel call, each the kernel's lane count of nonces (default: per algorithm).
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

#[derive(Debug, Args)]
pub struct TuneArgs {
    /// sha256d or scrypt.
    #[arg(long)]
    pub algo: Algo,
    /// Measured seconds per configuration (after a short warm-up).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Agent configuration (bounds, profile, mode, data_dir); default as for `run`.
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Overrides `data_dir`, where the performance store lives.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Neither read nor write the performance store.
    #[arg(long)]
    pub no_store: bool,
    /// Start from this fleet hint, `THREADS:BATCH`, instead of local data or the topology.
    #[arg(long)]
    pub hint: Option<String>,
    /// Afterwards measure every point of the same grid and compare.
    #[arg(long)]
    pub exhaustive: bool,
    /// Kernel by name (default: the fastest this CPU supports).
    #[arg(long)]
    pub kernel: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Where `run` looks for its configuration when `--config` is not given.
pub const DEFAULT_CONFIG: &str = "/etc/hashward/agent.toml";

#[derive(Debug, Subcommand)]
pub enum AsicCommand {
    /// Read one miner once and print its normalised telemetry (hashrate in H/s, W, J/TH,
    /// per-board temperatures) as JSON.
    Probe {
        /// `http://IP[:port]` (Vnish, stock Antminer), `tcp://IP:4028` (cgminer/bmminer) or an IP.
        #[arg(long)]
        url: String,
        /// vnish, cgminer, antminer or auto (detect).
        #[arg(long, default_value = "auto")]
        kind: crate::asic::client::AsicKind,
        /// Vnish web password / Antminer digest password (user root).
        #[arg(long, env = "HASHWARD_ASIC_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Print JSON (the only output format; kept for symmetry with the other commands).
        #[arg(long)]
        json: bool,
    },
}

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
            cfg.miner.mining_threads = self.threads;
        }
        cfg.validate()?;
        Ok(cfg)
    }
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
    let batch = args.batch.unwrap_or_else(|| default_batch(args.algo));
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

fn parse_hint(s: &str) -> anyhow::Result<crate::tune::tuner::Point> {
    let (t, b) = s
        .split_once(':')
        .with_context(|| format!("--hint {s:?}: expected THREADS:BATCH"))?;
    Ok(crate::tune::tuner::Point {
        threads: t
            .trim()
            .parse()
            .with_context(|| format!("--hint threads {t:?}"))?,
        batch: b.trim().parse().with_context(|| format!("--hint batch {b:?}"))?,
    })
}

/// Runs `tune`: one search (and optionally a sweep), then the decision for the chosen point.
pub fn tune(args: TuneArgs) -> anyhow::Result<serde_json::Value> {
    use crate::hw;
    use crate::tune::control::tuning_bounds;
    use crate::tune::decide::{decide_optimal_config, DecideInput, Placement};
    use crate::tune::perf_store::PerfStore;
    use crate::tune::start::{choose_start, Fallback, Hint};
    use crate::tune::thermal::{ControlTuning, Reading, ThermalController};
    use tune_pass::{self as pass, PassConfig, StoreTarget};

    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0) {
        bail!("--seconds must be in (0, 3600]");
    }
    let mut cfg = RunArgs {
        config: args.config.clone(),
        data_dir: args.data_dir.clone(),
        pools: Vec::new(),
        user: None,
        pass: "x".into(),
        algo: Some(args.algo),
        threads: None,
    }
    .config()?;
    if args.kernel.is_some() {
        cfg.miner.kernel = args.kernel.clone();
    }
    let (m, t) = (&cfg.miner, &cfg.tune);
    let found = hw::discover(&t.hardware_root);
    let (logical, physical) = (
        found.topology.logical_count().max(1),
        found.topology.physical_count().max(1),
    );
    let on_battery = !found.power.state.treat_as_ac() && t.power_mode_sensitivity;
    let profile = if on_battery {
        crate::config::Profile::Laptop
    } else {
        t.mining_profile
    };
    let bounds = tuning_bounds(t, m.mining_threads, profile, logical, physical);
    let store = if args.no_store {
        None
    } else {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("creating {}", cfg.data_dir.display()))?;
        let path = cfg.data_dir.join("perf.redb");
        Some(PerfStore::open(&path).with_context(|| {
            format!(
                "{} (is the agent running? stop it or pass --no-store)",
                path.display()
            )
        })?)
    };
    let cpu_model = found.model.name.clone();
    let operator_hint = args.hint.as_deref().map(parse_hint).transpose()?;
    let stored = store
        .as_ref()
        .map(|s| s.best_with_fallback(&cpu_model, profile.as_str(), &args.algo.to_string(), "unpinned"))
        .transpose()?
        .flatten();
    let start = choose_start(
        stored.as_ref(),
        operator_hint.map(Hint::Operator),
        &bounds,
        Fallback {
            physical_cores: physical,
            batch: m.simd_batch_size,
        },
    );
    let (start, origin) = (start.point, start.origin);
    let target = store.as_ref().map(|store| StoreTarget {
        store,
        cpu_model: cpu_model.clone(),
        profile: profile.as_str().to_string(),
    });
    let report = pass::run(
        &PassConfig {
            algo: args.algo,
            kernel: m.kernel.clone(),
            priority: m.priority,
            seconds_per_point: args.seconds,
            mode: t.auto_tune_mode,
            bounds,
            start,
            origin,
            exhaustive: args.exhaustive,
        },
        target.as_ref(),
    )?;
    let thermal = match (t.thermal(), &found.thermal.package) {
        (None, _) => None,
        (Some(t), pkg) => {
            let mut c = ThermalController::new(t, ControlTuning::default())?;
            let reading = match pkg {
                Ok(p) => Reading::Celsius(p.celsius),
                Err(_) => Reading::NoSensor,
            };
            Some(c.observe(0.0, reading))
        }
    };
    let placement = if !m.cpus.is_empty() {
        Placement::Fixed(m.cpus.clone())
    } else if t.numa_aware_enabled {
        Placement::Numa {
            nodes: found.numa_nodes().to_vec(),
            smt_siblings: found.topology.smt_siblings.clone(),
        }
    } else {
        Placement::Os
    };
    let optimal = decide_optimal_config(&DecideInput {
        tuned_threads: report.chosen.threads as usize,
        tuned_batch: report.chosen.batch,
        min_threads: Some(bounds.min_threads as usize),
        max_threads: Some(bounds.max_threads as usize),
        logical_cpus: logical,
        thermal,
        power: found.power.state,
        power_cfg: t.power(),
        placement,
        tuning: vec![format!(
            "Auto-tune: {} threads x batch {} at {} after {} measurements (started at {})",
            report.chosen.threads,
            report.chosen.batch,
            hashward_protocol::Hashrate(report.chosen.hashrate_hs),
            report.measurements,
            report.origin
        )],
    });
    let mut v = serde_json::to_value(&report)?;
    v["cpu_model"] = serde_json::json!(cpu_model);
    v["profile"] = serde_json::json!(profile.as_str());
    v["optimal_config"] = serde_json::to_value(&optimal)?;
    v["stored"] = serde_json::json!(store.is_some());
    Ok(v)
}

/// What `inspect` prints, as JSON.
pub fn inspect(root: &std::path::Path, threads: Option<usize>) -> anyhow::Result<serde_json::Value> {
    use crate::{hw, tune::numa};
    let hw = hw::discover(root);
    let threads = threads.unwrap_or_else(|| hw.topology.logical_count().max(1));
    let plan = numa::plan(hw.numa_nodes(), &hw.topology.smt_siblings, threads);
    Ok(serde_json::to_value(hw::report::InspectReport::new(
        root,
        &hw,
        plan.report(),
    ))?)
}

pub fn main(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect { root, threads, json } => {
            let v = inspect(&root, threads)?;
            if json {
                println!("{v}");
            } else {
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            Ok(())
        }
        Command::Infer {
            model,
            input,
            models_dir,
            json,
        } => {
            use crate::infer::replay::{replay_from_dir, Format};
            let dir = models_dir.unwrap_or_else(|| {
                let installed = PathBuf::from("/var/lib/hashward/models");
                if installed.join(&model).is_dir() {
                    installed
                } else {
                    PathBuf::from("models")
                }
            });
            let format = if json { Format::Json } else { Format::Text };
            let stdout = std::io::stdout();
            let summary = if input.as_os_str() == "-" {
                replay_from_dir(&dir, &model, std::io::stdin().lock(), stdout.lock(), format)
            } else {
                let f =
                    std::fs::File::open(&input).with_context(|| format!("opening {}", input.display()))?;
                replay_from_dir(&dir, &model, std::io::BufReader::new(f), stdout.lock(), format)
            }
            .with_context(|| {
                format!(
                    "replaying {} through {model} from {}",
                    input.display(),
                    dir.display()
                )
            })?;
            // The figures as fields, never a Debug string: with --json, machines read this too.
            let figures = serde_json::json!({
                "lines": summary.lines,
                "assessed": summary.assessed,
                "errors": summary.errors,
                "alerts": summary.alerts,
            });
            if json {
                eprintln!("{figures}");
            } else {
                eprintln!(
                    "{} line(s): {} assessed, {} alert(s), {} error(s)",
                    summary.lines, summary.assessed, summary.alerts, summary.errors
                );
            }
            Ok(())
        }
        Command::Asic(AsicCommand::Probe {
            url,
            kind,
            password,
            json,
        }) => {
            let opts = crate::asic::probe::ProbeOptions::new(&url, kind).password(password);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(crate::asic::probe::run(&opts, json, &mut std::io::stdout()))
                .with_context(|| format!("probing {url}"))
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
        Command::Tune(args) => {
            let json = args.json;
            let v = tune(args)?;
            if json {
                println!("{v}");
            } else {
                for t in v["trials"].as_array().into_iter().flatten() {
                    println!(
                        "{:>4} threads x batch {:<4} {}",
                        t["point"]["threads"],
                        t["point"]["batch"],
                        hashward_protocol::Hashrate(t["hashrate_hs"].as_f64().unwrap_or(0.0))
                    );
                }
                println!("{}", serde_json::to_string_pretty(&v["optimal_config"])?);
                if let Some(s) = v.get("exhaustive").filter(|s| !s.is_null()) {
                    println!(
                        "exhaustive sweep: {} measurements vs {}; chosen = {:.1}% of the best",
                        s["measurements"],
                        v["measurements"],
                        s["chosen_vs_best"].as_f64().unwrap_or(0.0) * 100.0
                    );
                }
            }
            Ok(())
        }
        Command::Telemetry(cmd) => telemetry::main(cmd),
        Command::Run(args) => {
            let cfg = args.config()?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(async {
                let shutdown =
                    hashward_common::signal::shutdown_on_signals().context("installing signal handlers")?;
                crate::run::run(cfg, shutdown).await.map_err(anyhow::Error::from)
            })
        }
    }
}
