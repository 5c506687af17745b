//! `hashward`: the all-in-one single-host setup. With no subcommand it starts the embedded MQTT
//! broker, the hub and one local agent on loopback, with state under `./hashward-data`.
//! `hashward agent ...` and `hashward hub ...` run the agent's and the hub's own command lines.

use anyhow::Context;
use clap::Parser;
use hashward_agent::config::Config as AgentConfig;
use hashward_hub::serve::{self, BrokerChoice, ServeOptions};
use hashward_protocol::TOPIC_PREFIX;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "hashward",
    version,
    about = "hashward all-in-one: embedded broker + hub + local agent on loopback",
    after_help = "Also: `hashward agent --help` and `hashward hub --help` for the separate programs."
)]
struct AllInOne {
    /// State directory (hub store, agent spool).
    #[arg(long, default_value = "hashward-data")]
    data_dir: PathBuf,
    /// Embedded MQTT broker address (loopback only by default).
    #[arg(long, default_value = "127.0.0.1:1883")]
    mqtt_listen: SocketAddr,
    /// Hub HTTP address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// Telemetry interval of the local agent.
    #[arg(long, default_value_t = 5000)]
    interval_ms: u64,
}

fn all_in_one(args: AllInOne) -> anyhow::Result<()> {
    // The embedded broker has no TLS, users or ACLs: on any other address it would let the LAN
    // publish config and commands. A fleet broker is mosquitto (`hashward-hub broker-acl`).
    if !args.mqtt_listen.ip().is_loopback() {
        anyhow::bail!(
            "--mqtt-listen {}: the all-in-one broker listens on loopback only (it has no TLS, \
             passwords or ACLs); for a fleet, run mosquitto with `hashward hub broker-acl`",
            args.mqtt_listen
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let shutdown =
            hashward_common::signal::shutdown_on_signals().context("installing signal handlers")?;
        let hub = serve::start(
            ServeOptions {
                data_dir: args.data_dir.join("hub"),
                http: args.http,
                broker: BrokerChoice::Embedded(args.mqtt_listen),
                client_id: "hashward-hub".into(),
                username: None,
                password: None,
                summary_interval: Duration::from_secs(5),
                share_group: None,
                models_dir: std::path::Path::new("models/sentinel_rig")
                    .is_dir()
                    .then(|| "models".into()),
                economics: Default::default(),
                collect: hashward_hub::collect::config::CollectConfig::unless_disabled_by_env(
                    Default::default(),
                ),
                scores: Default::default(),
                dashboards: Default::default(),
                notify: None,
                store: Default::default(),
                sentinel: Default::default(),
                allocation: None,
            },
            shutdown.clone(),
        )
        .await?;
        let mut agent = AgentConfig::standalone();
        agent.data_dir = args.data_dir.join("agent");
        agent.broker.url = format!("mqtt://{}:{}", hub.mqtt_host, hub.mqtt_port);
        agent.telemetry.interval_ms = args.interval_ms;
        // Run from a checkout: the repository's models are the bundled ones.
        if std::path::Path::new("models/sentinel_rig/model.onnx").is_file() {
            agent.inference.bundled_models_dir = "models".into();
        }
        agent.validate()?;
        let (site, rig) = (agent.site.clone(), agent.rig.clone());
        let http = hub.http_addr;
        println!(
            "hashward is running (Ctrl-C stops it)\n\
             \x20 web:          http://{http}/  (the dashboard)\n\
             \x20 hub HTTP:     http://{http}/rigs  (also /health, /metrics, /rigs/{rig}/telemetry)\n\
             \x20 MQTT broker:  mqtt://{}:{} (loopback only)\n\
             \x20 agent topics: {TOPIC_PREFIX}/{site}/{rig}/state|tele\n\
             \x20 dashboards:   hashward/json/{site}/{rig}/summary, hashward/json/fleet/summary\n\
             \x20 state:        {}",
            hub.mqtt_host,
            hub.mqtt_port,
            args.data_dir.display()
        );
        let agent = tokio::spawn(hashward_agent::run::run(agent, shutdown));
        match agent.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(anyhow::Error::from(e).context("local agent")),
            Err(e) => return Err(anyhow::anyhow!("local agent task failed: {e}")),
        }
        hub.wait().await.context("hub")?;
        Ok(())
    })
}

fn main() -> anyhow::Result<()> {
    // The agent's logger keeps recent lines for its diagnostics command.
    hashward_agent::logring::init(hashward_hub::DEFAULT_LOG_FILTER);
    let mut argv = std::env::args_os();
    let first = argv.nth(1);
    match first.as_ref().and_then(|a| a.to_str()) {
        Some("agent") => hashward_agent::cli::main(hashward_agent::cli::Cli::parse_from(
            std::iter::once("hashward agent".into()).chain(argv),
        )),
        Some("hub") => hashward_hub::cli::main(hashward_hub::cli::Cli::parse_from(
            std::iter::once("hashward hub".into()).chain(argv),
        )),
        _ => all_in_one(AllInOne::parse()),
    }
}
