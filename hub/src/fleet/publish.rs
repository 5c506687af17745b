//! `push-config`, `command` and `rollout-status`: sign with the hub's key and publish on the
//! broker, or show the rollout the hub serves. Command-line glue, hence anyhow.
//!
//! A push is retained on its scope's topic so a rig that comes online later gets it; its version
//! is above both the clock and the version retained there now, so it is always newer for every
//! rig. Commands are not retained and expire. Must never: publish a patch with a key the agents
//! would refuse, or report success before the broker acknowledged the publish.

use crate::ingest::tls;
use anyhow::{anyhow, bail, Context};
use clap::Args;
use hashward_protocol::command::{is_pushable, MAX_COMMAND_TTL_MS};
use hashward_protocol::signed::{PayloadKind, Scope, SignedContent, SignedMessage};
use hashward_protocol::{BrokerAddr, Command, Topic};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Broker `mqtt://host:port` or `mqtts://host:port`.
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    pub broker: String,
    /// With `mqtts://`: the CA certificate(s) (PEM) to trust instead of the webpki roots.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    #[arg(long, env = "HASHWARD_HUB_MQTT_USER")]
    pub username: Option<String>,
    #[arg(long, env = "HASHWARD_HUB_MQTT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// `fleet`, `site:SITE` or `rig:SITE/RIG`.
    #[arg(long)]
    pub scope: Scope,
    /// A partial agent config (TOML): pools, tuning bounds, thermal/power limits, intervals.
    #[arg(long)]
    pub file: PathBuf,
    /// The hub's private key (from `keygen`).
    #[arg(long, default_value = "/etc/hashward/hub.key")]
    pub key: PathBuf,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

#[derive(Debug, Args)]
pub struct CommandArgs {
    /// The rig, `SITE/RIG`.
    #[arg(long)]
    pub rig: String,
    /// restart-miner, pause, resume, retune, repoll-asics or diagnostics.
    #[arg(long = "cmd")]
    pub command: Command,
    /// How long the command stays valid.
    #[arg(long, default_value_t = 300)]
    pub ttl_secs: u64,
    #[arg(long, default_value = "/etc/hashward/hub.key")]
    pub key: PathBuf,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

#[derive(Debug, Args)]
pub struct RolloutArgs {
    /// The hub's HTTP address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub hub: String,
    /// Print the JSON the hub serves at /fleet/config.
    #[arg(long)]
    pub json: bool,
}

/// Checks a patch the way the agents will: TOML, sections of pushable keys, not empty.
pub fn check_patch(text: &str) -> anyhow::Result<()> {
    let table: toml::Table = text.parse().context("the patch is not TOML")?;
    if table.is_empty() {
        bail!("the patch is empty");
    }
    for (section, v) in &table {
        let toml::Value::Table(keys) = v else {
            bail!("key {section:?} cannot be pushed (only telemetry.interval_ms, [miner], [watchdog] and [asic] settings)");
        };
        for k in keys.keys() {
            if !is_pushable(section, k) {
                bail!("key \"{section}.{k}\" cannot be pushed (only telemetry.interval_ms, [miner], [watchdog] and [asic] settings)");
            }
        }
    }
    Ok(())
}

fn scope_topic(scope: &Scope) -> Topic {
    match scope {
        Scope::Fleet => Topic::FleetCfg,
        Scope::Site(site) => Topic::SiteCfg { site: site.clone() },
        Scope::Rig(site, rig) => Topic::RigCfg {
            site: site.clone(),
            rig: rig.clone(),
        },
    }
}

fn options(b: &BrokerArgs) -> anyhow::Result<MqttOptions> {
    let addr = BrokerAddr::parse(&b.broker)?;
    let id = format!("hashward-hub-cli-{}", std::process::id());
    let mut opts = MqttOptions::new(id, addr.host, addr.port);
    opts.set_keep_alive(Duration::from_secs(10));
    if let Some(u) = &b.username {
        opts.set_credentials(u.clone(), b.password.clone().unwrap_or_default());
    }
    if addr.tls {
        let cfg = tls::client_config(b.ca_file.as_deref())?;
        opts.set_transport(Transport::Tls(TlsConfiguration::Rustls(cfg)));
    } else if b.ca_file.is_some() {
        bail!("--ca-file needs a TLS broker URL (mqtts://), got {}", b.broker);
    }
    Ok(opts)
}

/// Connects, publishes `payload` on `topic` at QoS 1 and waits for the broker's
/// acknowledgement.
async fn publish(b: &BrokerArgs, topic: &str, payload: Vec<u8>, retain: bool) -> anyhow::Result<()> {
    let (client, mut events) = AsyncClient::new(options(b)?, 16);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut sent = false;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.poll())
            .await
            .map_err(|_| anyhow!("broker did not acknowledge within 15 s"))?
            .map_err(|e| anyhow!("broker: {e}"))?;
        match ev {
            Event::Incoming(Packet::ConnAck(_)) if !sent => {
                client
                    .publish(topic, QoS::AtLeastOnce, retain, payload.clone())
                    .await?;
                sent = true;
            }
            Event::Incoming(Packet::PubAck(_)) => break,
            _ => {}
        }
    }
    let _ = client.disconnect().await;
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn push_config(args: PushArgs) -> anyhow::Result<()> {
    let key = super::keys::load(&args.key)?;
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    check_patch(&text).with_context(|| format!("{}", args.file.display()))?;
    let topic = scope_topic(&args.scope).to_string();
    runtime()?.block_on(async {
        let now = hashward_common::now_ms();
        let (version, last) = next_version(&args.broker, &topic, now).await?;
        let msg = SignedMessage::sign(
            SignedContent {
                kind: PayloadKind::Config,
                scope: args.scope.clone(),
                version,
                issued_ms: now,
                expires_ms: None,
                payload: text.into_bytes(),
            },
            &key,
        )?;
        publish(&args.broker, &topic, postcard::to_stdvec(&msg)?, true).await?;
        println!(
            "{}",
            serde_json::json!({"scope": args.scope.to_string(), "version": version, "topic": topic, "previous_version": last})
        );
        Ok(())
    })
}

/// A version above both the clock and the one retained on `topic` now (two round trips:
/// read, then the caller publishes); also returns the retained one (0: none).
async fn next_version(b: &BrokerArgs, topic: &str, now: u64) -> anyhow::Result<(u64, u64)> {
    let before = publish_read_only(b, topic).await?;
    let last = before
        .as_deref()
        .and_then(|b| postcard::from_bytes::<SignedMessage>(b).ok())
        .map(|m| m.content.version)
        .unwrap_or(0);
    Ok((now.max(last + 1), last))
}

#[derive(Debug, Args)]
pub struct AnnounceArgs {
    /// The models directory the hub serves (`serve --models-dir`).
    #[arg(long)]
    pub models_dir: PathBuf,
    #[arg(long, default_value = "/etc/hashward/hub.key")]
    pub key: PathBuf,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

pub fn announce_models(args: AnnounceArgs) -> anyhow::Result<()> {
    let key = super::keys::load(&args.key)?;
    let topic = Topic::FleetModels.to_string();
    runtime()?.block_on(async {
        let now = hashward_common::now_ms();
        let (version, _) = next_version(&args.broker, &topic, now).await?;
        let msg = crate::models::build_announcement(&args.models_dir, &key, version, now)?;
        publish(&args.broker, &topic, postcard::to_stdvec(&msg)?, true).await?;
        println!("{}", serde_json::json!({"topic": topic, "version": version}));
        Ok(())
    })
}

/// Reads the retained message on `topic` without publishing.
async fn publish_read_only(b: &BrokerArgs, topic: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let (client, mut events) = AsyncClient::new(options(b)?, 16);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let ev = tokio::time::timeout_at(deadline, events.poll())
            .await
            .map_err(|_| anyhow!("broker did not answer within 15 s"))?
            .map_err(|e| anyhow!("broker: {e}"))?;
        match ev {
            Event::Incoming(Packet::ConnAck(_)) => {
                client.subscribe(topic, QoS::AtLeastOnce).await?;
            }
            Event::Incoming(Packet::SubAck(_)) => break,
            _ => {}
        }
    }
    let mut retained = None;
    let quiet = tokio::time::sleep(Duration::from_millis(700));
    tokio::pin!(quiet);
    loop {
        tokio::select! {
            ev = events.poll() => {
                if let Event::Incoming(Packet::Publish(p)) = ev.map_err(|e| anyhow!("broker: {e}"))? {
                    if p.topic == topic && !p.payload.is_empty() {
                        retained = Some(p.payload.to_vec());
                        break;
                    }
                }
            }
            _ = &mut quiet => break,
        }
    }
    let _ = client.disconnect().await;
    Ok(retained)
}

pub fn command(args: CommandArgs) -> anyhow::Result<()> {
    let key = super::keys::load(&args.key)?;
    let scope: Scope = format!("rig:{}", args.rig).parse()?;
    let Scope::Rig(site, rig) = scope.clone() else {
        bail!("--rig must be SITE/RIG");
    };
    let ttl_ms = args.ttl_secs.saturating_mul(1000);
    if ttl_ms == 0 || ttl_ms > MAX_COMMAND_TTL_MS {
        bail!("--ttl-secs must be 1..={}", MAX_COMMAND_TTL_MS / 1000);
    }
    let now = hashward_common::now_ms();
    let nonce: u64 = rand::random();
    let msg = SignedMessage::sign(
        SignedContent {
            kind: PayloadKind::Command,
            scope,
            version: nonce,
            issued_ms: now,
            expires_ms: Some(now + ttl_ms),
            payload: postcard::to_stdvec(&args.command)?,
        },
        &key,
    )?;
    let topic = Topic::RigCmd { site, rig }.to_string();
    runtime()?.block_on(publish(&args.broker, &topic, postcard::to_stdvec(&msg)?, false))?;
    println!(
        "{}",
        serde_json::json!({"rig": args.rig, "command": args.command.name(), "nonce": nonce, "expires_ms": now + ttl_ms})
    );
    Ok(())
}

pub fn rollout_status(args: RolloutArgs) -> anyhow::Result<()> {
    let url = format!("{}/fleet/config", args.hub.trim_end_matches('/'));
    let v: serde_json::Value = ureq::get(&url)
        .call()
        .with_context(|| format!("GET {url}"))?
        .body_mut()
        .read_json()
        .with_context(|| format!("GET {url}: not JSON"))?;
    if args.json {
        println!("{v}");
        return Ok(());
    }
    println!("{:<24} {:>15}", "SCOPE", "VERSION");
    for s in v["scopes"].as_array().into_iter().flatten() {
        println!("{:<24} {:>15}", s["scope"].as_str().unwrap_or("?"), s["version"]);
    }
    println!();
    println!(
        "{:<32} {:<24} {:<9} {:>15} REASON",
        "RIG", "SCOPE", "STATUS", "APPLIED"
    );
    for r in v["rigs"].as_array().into_iter().flatten() {
        let name = format!(
            "{}/{}{}",
            r["site"].as_str().unwrap_or("?"),
            r["rig"].as_str().unwrap_or("?"),
            if r["online"].as_bool() == Some(true) {
                ""
            } else {
                " (offline)"
            }
        );
        for s in r["scopes"].as_array().into_iter().flatten() {
            println!(
                "{:<32} {:<24} {:<9} {:>15} {}",
                name,
                s["scope"].as_str().unwrap_or("?"),
                s["status"].as_str().unwrap_or("?"),
                s["applied_version"]
                    .as_u64()
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
                s["reason"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}
