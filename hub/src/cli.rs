//! The `hashward-hub` command line. In the library so the all-in-one `hashward` binary offers the
//! same commands (`hashward hub ...`); binary glue, hence anyhow.

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
    BrokerAcl(crate::acl::AclArgs),
    /// Create the hub's ed25519 signing key pair (private file mode 0600) and print the public
    /// key for the agents' `[fleet] hub_public_key`.
    Keygen {
        /// Directory for hub.key and hub.pub.
        #[arg(long, default_value = "/etc/hashward")]
        dir: PathBuf,
    },
    /// Sign a partial agent config and publish it, retained, to a rig, a site or the fleet.
    PushConfig(crate::fleet::publish::PushArgs),
    /// Send a signed one-shot command to one rig (restart-miner, pause, resume, retune,
    /// repoll-asics, diagnostics).
    Command(crate::fleet::publish::CommandArgs),
    /// Sign the models directory's current versions and announce them, retained, on
    /// `fleet/models`; agents download, verify and swap them.
    AnnounceModels(crate::fleet::publish::AnnounceArgs),
    /// Show each scope's pushed version and, per rig, applied / pending / rejected (with why).
    RolloutStatus(crate::fleet::publish::RolloutArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// External broker `mqtt://host:port` or `mqtts://host:port` (TLS); without it an embedded
    /// broker is started.
    #[arg(long)]
    pub broker: Option<String>,
    /// With `mqtts://`: PEM CA certificate(s) the broker's certificate must chain to (only these
    /// are trusted then); without it the public webpki roots are.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Where the embedded broker listens (loopback by default).
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub mqtt_listen: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    #[arg(long, default_value = "/var/lib/hashward/hub")]
    pub data_dir: PathBuf,
    /// MQTT client id; must be stable across restarts so the broker keeps the hub's session.
    #[arg(long, default_value = "hashward-hub")]
    pub client_id: String,
    #[arg(long, env = "HASHWARD_HUB_MQTT_USER")]
    pub username: Option<String>,
    #[arg(long, env = "HASHWARD_HUB_MQTT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// How often retained JSON summaries are published for dashboards.
    #[arg(long, default_value_t = 5000)]
    pub summary_interval_ms: u64,
    /// Join this shared-subscription group so several hubs split the fleet's traffic. Only with a
    /// broker that keeps shared subscriptions across its restarts (mosquitto 2.0 does not: the
    /// messages published before the hubs resubscribe would be lost).
    #[arg(long)]
    pub share_group: Option<String>,
    /// Serve the model registry (`/models/metadata`, `/models/download/{type}`) from this
    /// directory (layout of the repository's `models/`).
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
}

impl ServeArgs {
    pub fn options(&self) -> anyhow::Result<ServeOptions> {
        let broker = match &self.broker {
            Some(url) => {
                let addr = hashward_protocol::BrokerAddr::parse(url)?;
                if self.ca_file.is_some() && !addr.tls {
                    bail!("--ca-file needs a TLS broker URL (mqtts://), got {url}");
                }
                BrokerChoice::External {
                    host: addr.host,
                    port: addr.port,
                    tls: addr.tls,
                    ca_file: self.ca_file.clone(),
                }
            }
            None if self.ca_file.is_some() => bail!("--ca-file applies to an external --broker mqtts://..."),
            None => BrokerChoice::Embedded(self.mqtt_listen),
        };
        if self.summary_interval_ms < 100 {
            bail!("--summary-interval-ms must be at least 100");
        }
        Ok(ServeOptions {
            data_dir: self.data_dir.clone(),
            http: self.http,
            broker,
            client_id: self.client_id.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            summary_interval: Duration::from_millis(self.summary_interval_ms),
            share_group: self.share_group.clone(),
            models_dir: self.models_dir.clone(),
        })
    }
}

pub fn main(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::BrokerAcl(args) => crate::acl::main(args),
        Command::Keygen { dir } => {
            let public = crate::fleet::keys::generate(&dir)?;
            eprintln!(
                "wrote {} (private, mode 0600) and {}; pin the public key on every rig:",
                dir.join("hub.key").display(),
                dir.join("hub.pub").display()
            );
            println!("[fleet]\nhub_public_key = \"{public}\"");
            Ok(())
        }
        Command::PushConfig(args) => crate::fleet::publish::push_config(args),
        Command::Command(args) => crate::fleet::publish::command(args),
        Command::RolloutStatus(args) => crate::fleet::publish::rollout_status(args),
        Command::AnnounceModels(args) => crate::fleet::publish::announce_models(args),
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
                loop {
                    tokio::select! {
                        _ = &mut wait => break,
                        _ = ping.tick() => {
                            if let Err(e) = notifier.watchdog() {
                                log::warn!("{e}");
                            }
                        }
                    }
                }
                let _ = notifier.stopping();
                Ok(())
            })
        }
    }
}
