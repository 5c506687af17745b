//! The `hashward-hub` command line. In the library so the all-in-one `hashward` binary offers the
//! same commands (`hashward hub ...`); binary glue, hence anyhow.

use crate::config::HubConfig;
use crate::serve::{self, BrokerChoice, ServeOptions};
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "hashward-hub", version, about = "hashward fleet hub")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest the fleet's MQTT traffic and serve it over HTTP.
    Serve(ServeArgs),
    /// Generate a mosquitto ACL (and password) file confining each rig to its own topics.
    BrokerAcl(crate::cmd::broker_acl::AclArgs),
    /// Create the hub's ed25519 signing key pair (private file mode 0600) and print the public
    /// key for the agents' `[fleet] hub_public_key`.
    Keygen(crate::cmd::keygen::KeygenArgs),
    /// Sign a partial agent config and publish it, retained, to a rig, a site or the fleet.
    PushConfig(crate::cmd::push_config::PushArgs),
    /// Send a signed one-shot command to one rig (restart-miner, pause, resume, retune,
    /// repoll-asics, diagnostics).
    Command(crate::cmd::command::CommandArgs),
    /// Sign the models directory's current versions and announce them, retained, on
    /// `fleet/models`; agents download, verify and swap them.
    AnnounceModels(crate::cmd::announce_models::AnnounceArgs),
    /// Show each scope's pushed version and, per rig, applied / pending / rejected (with why).
    RolloutStatus(crate::cmd::rollout_status::RolloutArgs),
    /// A miner's revenue, cost, profit and hashprice per day from given values.
    Economics(crate::cmd::economics::EconomicsArgs),
    /// Difficulty (next N retargets) and earnings (24 h, 30 d) forecasts from history tables.
    Forecast(crate::cmd::forecast::ForecastArgs),
    /// Load a coin's daily price history (a `*_daily.csv`) into the store; re-importing adds
    /// nothing. Run it while the hub is stopped.
    Import(crate::cmd::import::ImportArgs),
    /// Run (or re-run) the daily alert score batch of one processing date (the hub must be
    /// stopped: the store opens in one process at a time).
    ScoreBatch(crate::cmd::scores::ScoreBatchArgs),
    /// Export stored data for offline work: `export alerts --from --to` (scored alerts as JSON
    /// lines for retraining).
    Export(crate::cmd::scores::ExportArgs),
    /// Replay history: `backtest allocation --fleet F (--data DIR | --intraday CSV) --from --to`
    /// compares the allocation policy with its baselines (net profit, switches).
    Backtest(crate::cmd::backtest::BacktestArgs),
}

/// Defaults of the `serve` settings given neither as a flag nor in the config file.
pub const DEFAULT_MQTT_LISTEN: &str = "127.0.0.1:1883";
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "/var/lib/hashward/hub";
pub const DEFAULT_CLIENT_ID: &str = "hashward-hub";
pub const DEFAULT_SUMMARY_INTERVAL_MS: u64 = 5000;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A hub config file (TOML; see hub.example.toml): every flag below is also a key there, and
    /// a flag given here overrides it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// External broker `mqtt://host:port` or `mqtts://host:port` (TLS); without it an embedded
    /// broker is started. `nats://host:port[,nats://...]` ingests from a NATS JetStream cluster
    /// (needs `[nats]` in the config file; docs/cluster.md).
    #[arg(long)]
    pub broker: Option<String>,
    /// With `mqtts://`: PEM CA certificate(s) the broker's certificate must chain to (only these
    /// are trusted then); without it the public webpki roots are.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Where the embedded broker listens [default: 127.0.0.1:1883, loopback].
    #[arg(long)]
    pub mqtt_listen: Option<SocketAddr>,
    /// Where the HTTP API listens [default: 127.0.0.1:8080].
    #[arg(long)]
    pub http: Option<SocketAddr>,
    /// The store's directory [default: /var/lib/hashward/hub].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// MQTT client id; must be stable across restarts so the broker keeps the hub's session
    /// [default: hashward-hub].
    #[arg(long)]
    pub client_id: Option<String>,
    #[arg(long, env = "HASHWARD_HUB_MQTT_USER")]
    pub username: Option<String>,
    #[arg(long, env = "HASHWARD_HUB_MQTT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// How often retained JSON summaries are published for dashboards [default: 5000].
    #[arg(long)]
    pub summary_interval_ms: Option<u64>,
    /// Join this shared-subscription group so several hubs split the fleet's traffic. Only with a
    /// broker that keeps shared subscriptions across its restarts (mosquitto 2.0 does not: the
    /// messages published before the hubs resubscribe would be lost).
    #[arg(long)]
    pub share_group: Option<String>,
    /// Serve the model registry (`/models/metadata`, `/models/download/{type}`) from this
    /// directory (layout of the repository's `models/`).
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// Where the fleet's records and rig registry live: `redb` [default] or
    /// `postgres://user:password@host:port/dbname` (see docs/ARCHITECTURE.md, "Store backends").
    /// The environment variable keeps the password out of the process list.
    #[arg(long, env = "HASHWARD_HUB_STORE", hide_env_values = true)]
    pub store: Option<String>,
}

impl ServeArgs {
    /// The settings: each flag given, else the config file's key, else the default.
    pub fn options(&self) -> anyhow::Result<ServeOptions> {
        let file = match &self.config {
            Some(path) => HubConfig::load(path)?,
            None => HubConfig::default(),
        };
        let source = match &self.config {
            Some(path) => format!(" (flags and {})", path.display()),
            None => String::new(),
        };
        let dashboards = crate::control::DashboardOptions::from_config(&file)
            .map_err(|e| anyhow::anyhow!("{e}{source}"))?;
        let broker_url = self.broker.clone().or(file.broker);
        let ca_file = self.ca_file.clone().or(file.ca_file);
        let mqtt_listen = match self.mqtt_listen.or(file.mqtt_listen) {
            Some(a) => a,
            None => DEFAULT_MQTT_LISTEN.parse().context("default mqtt_listen")?,
        };
        let http = match self.http.or(file.http) {
            Some(a) => a,
            None => DEFAULT_HTTP.parse().context("default http")?,
        };
        let nats_section = file.nats.clone();
        let broker = match &broker_url {
            Some(url) if url.starts_with("nats://") => {
                if ca_file.is_some() {
                    bail!("--ca-file applies to an external --broker mqtts://...{source}");
                }
                BrokerChoice::Nats(
                    crate::ingest::nats_config::options(url, nats_section.as_ref())
                        .with_context(|| format!("broker{source}"))?,
                )
            }
            _ if nats_section.is_some() => {
                bail!(
                    "{}{source}",
                    crate::ingest::nats_config::NatsConfigError::WithoutNats
                )
            }
            Some(url) => {
                let addr =
                    hashward_protocol::BrokerAddr::parse(url).with_context(|| format!("broker{source}"))?;
                if ca_file.is_some() && !addr.tls {
                    bail!("--ca-file needs a TLS broker URL (mqtts://), got {url}{source}");
                }
                BrokerChoice::External {
                    host: addr.host,
                    port: addr.port,
                    tls: addr.tls,
                    ca_file,
                }
            }
            None if ca_file.is_some() => {
                bail!("--ca-file applies to an external --broker mqtts://...{source}")
            }
            None => BrokerChoice::Embedded(mqtt_listen),
        };
        let summary_interval_ms = self
            .summary_interval_ms
            .or(file.summary_interval_ms)
            .unwrap_or(DEFAULT_SUMMARY_INTERVAL_MS);
        if summary_interval_ms < 100 {
            bail!("--summary-interval-ms (summary_interval_ms) must be at least 100, got {summary_interval_ms}{source}");
        }
        let client_id = self
            .client_id
            .clone()
            .or(file.client_id)
            .unwrap_or_else(|| DEFAULT_CLIENT_ID.to_string());
        if client_id.is_empty() {
            bail!("client_id must not be empty{source}");
        }
        let share_group = self.share_group.clone().or(file.share_group);
        if share_group.as_deref().is_some_and(str::is_empty) {
            bail!("share_group must not be empty{source}");
        }
        let economics = file.economics.clone().unwrap_or_default();
        if let Err(e) = economics.validate() {
            bail!("{e}{source}");
        }
        if let Some(a) = &file.allocation {
            if let Err(e) = a.settings() {
                bail!("{e}{source}");
            }
        }
        let allocation = file.allocation.clone();
        let store = match self.store.clone().or(file.store) {
            Some(v) => crate::store::StoreChoice::parse(&v).map_err(|e| anyhow::anyhow!("{e}{source}"))?,
            None => crate::store::StoreChoice::Redb,
        };
        Ok(ServeOptions {
            data_dir: self
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            http,
            broker,
            client_id,
            username: self.username.clone().or(file.username),
            password: self.password.clone().or(file.password),
            summary_interval: Duration::from_millis(summary_interval_ms),
            share_group,
            models_dir: self.models_dir.clone().or(file.models_dir),
            economics,
            collect: crate::collect::config::CollectConfig::unless_disabled_by_env(
                crate::collect::config::CollectConfig {
                    sites: file.sites.unwrap_or_default(),
                    ..file.collect.unwrap_or_default()
                },
            ),
            scores: crate::cmd::scores::options(file.scores.as_ref(), &source)?,
            dashboards,
            notify: file.notify,
            store,
            sentinel: crate::sentinel::service::SentinelOptions::from_section(file.sentinel.as_ref())
                .map_err(|e| anyhow::anyhow!("{e}{source}"))?,
            allocation,
        })
    }
}

pub fn main(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::BrokerAcl(args) => crate::cmd::broker_acl::main(args),
        Command::Keygen(args) => crate::cmd::keygen::run(args),
        Command::PushConfig(args) => crate::cmd::push_config::run(args),
        Command::Command(args) => crate::cmd::command::run(args),
        Command::RolloutStatus(args) => crate::cmd::rollout_status::run(args),
        Command::Import(args) => crate::cmd::import::run(args),
        Command::AnnounceModels(args) => crate::cmd::announce_models::run(args),
        Command::Economics(args) => crate::cmd::economics::run(args),
        Command::Forecast(args) => crate::cmd::forecast::run(args),
        Command::ScoreBatch(args) => crate::cmd::scores::score_batch(args),
        Command::Export(args) => crate::cmd::scores::export(args),
        Command::Backtest(args) => crate::cmd::backtest::run_cmd(args),
        Command::Serve(args) => {
            let opts = args.options()?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(async {
                let shutdown =
                    hashward_common::signal::shutdown_on_signals().context("installing signal handlers")?;
                let running = serve::start(opts, shutdown).await?;
                // systemd Type=notify: ready once the store, broker link and HTTP are up; the
                // watchdog is pinged from this loop, so a wedged runtime stops pinging.
                let notifier = hashward_sdnotify::Notifier::from_env().unwrap_or_else(|e| {
                    log::warn!("systemd notification off: {e}");
                    hashward_sdnotify::Notifier::disabled()
                });
                let every = hashward_sdnotify::ping_interval_from_env()
                    .unwrap_or_else(|e| {
                        log::warn!("systemd watchdog off: {e}");
                        None
                    })
                    .unwrap_or(Duration::from_secs(3600));
                if let Err(e) = notifier.ready(&format!("serving HTTP on {}", running.http_addr)) {
                    log::warn!("{e}");
                }
                let wait = running.wait();
                tokio::pin!(wait);
                let mut ping = tokio::time::interval(every);
                let stopped = loop {
                    tokio::select! {
                        r = &mut wait => break r,
                        _ = ping.tick() => {
                            if let Err(e) = notifier.watchdog() {
                                log::warn!("{e}");
                            }
                        }
                    }
                };
                if let Err(e) = notifier.stopping() {
                    log::warn!("{e}");
                }
                Ok(stopped?)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(args: &[&str]) -> ServeArgs {
        let mut argv = vec!["hashward-hub", "serve"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Serve(a) => a,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn flags_override_the_file_which_overrides_the_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.toml");
        std::fs::write(
            &path,
            "http = \"127.0.0.1:9001\"\ndata_dir = \"/srv/hub\"\nsummary_interval_ms = 250\n",
        )
        .expect("write");
        let cfg = path.to_str().expect("utf-8");
        let o = serve_args(&["--config", cfg, "--http", "127.0.0.1:9002"])
            .options()
            .expect("options");
        assert_eq!(o.http, "127.0.0.1:9002".parse().expect("addr"), "the flag wins");
        assert_eq!(o.data_dir, PathBuf::from("/srv/hub"), "the file fills in");
        assert_eq!(o.summary_interval, Duration::from_millis(250));
        assert_eq!(o.client_id, DEFAULT_CLIENT_ID, "the default is last");
        assert!(matches!(o.broker, BrokerChoice::Embedded(a) if a.port() == 1883));
        let o = serve_args(&[]).options().expect("defaults");
        assert_eq!(
            (o.http.port(), o.data_dir),
            (8080, PathBuf::from(DEFAULT_DATA_DIR))
        );
    }

    #[test]
    fn bad_values_from_the_file_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.toml");
        std::fs::write(&path, "summary_interval_ms = 5\n").expect("write");
        let cfg = path.to_str().expect("utf-8");
        let e = serve_args(&["--config", cfg])
            .options()
            .expect_err("too short")
            .to_string();
        assert!(e.contains("summary_interval_ms") && e.contains("hub.toml"), "{e}");
        std::fs::write(&path, "ca_file = \"/x.pem\"\nbroker = \"mqtt://b:1883\"\n").expect("write");
        let e = serve_args(&["--config", cfg])
            .options()
            .expect_err("ca without tls")
            .to_string();
        assert!(e.contains("mqtts"), "{e}");
    }

    #[test]
    fn the_sentinel_interval_is_read_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.toml");
        let cfg = path.to_str().expect("utf-8");
        let o = serve_args(&[]).options().expect("defaults");
        assert_eq!(o.sentinel.interval, Duration::from_secs(300));
        std::fs::write(&path, "[sentinel]\ninterval_s = 1.5\n").expect("write");
        let o = serve_args(&["--config", cfg]).options().expect("options");
        assert_eq!(o.sentinel.interval, Duration::from_millis(1500));
        for bad in ["0", "-3", "0.5", "1e9", "nan"] {
            std::fs::write(&path, format!("[sentinel]\ninterval_s = {bad}\n")).expect("write");
            let e = serve_args(&["--config", cfg])
                .options()
                .expect_err(bad)
                .to_string();
            assert!(
                e.contains("[sentinel] interval_s") && e.contains("hub.toml"),
                "{bad}: {e}"
            );
        }
        std::fs::write(&path, "[sentinel]\ninterval = 5\n").expect("write");
        let e = serve_args(&["--config", cfg])
            .options()
            .expect_err("unknown key")
            .to_string();
        assert!(e.contains("interval"), "{e}");
    }

    #[test]
    fn the_store_setting_picks_the_backend_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.toml");
        let cfg = path.to_str().expect("utf-8");
        assert_eq!(
            serve_args(&[]).options().expect("default").store,
            crate::store::StoreChoice::Redb
        );
        std::fs::write(&path, "store = \"postgres://hub:pw@db:5432/fleet\"\n").expect("write");
        let o = serve_args(&["--config", cfg]).options().expect("postgres");
        assert!(
            matches!(&o.store, crate::store::StoreChoice::Postgres(u) if u.redacted() == "postgres://db:5432/fleet")
        );
        std::fs::write(&path, "store = \"postgres://hub:pw@db:nope/fleet\"\n").expect("write");
        let e = serve_args(&["--config", cfg])
            .options()
            .expect_err("bad port")
            .to_string();
        assert!(
            e.contains("store") && e.contains("hub.toml") && !e.contains("pw@"),
            "{e}"
        );
        let e = serve_args(&["--store", "sqlite:///x.db"])
            .options()
            .expect_err("unknown scheme")
            .to_string();
        assert!(e.contains("store must be") && e.contains("sqlite"), "{e}");
    }
}
