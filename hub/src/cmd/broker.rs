//! What the operator tools share: the broker flags, an MQTT connection that publishes once and
//! waits for the broker's acknowledgement, reading a retained message, and the version rule for
//! retained pushes. Command-line glue, hence anyhow.
//!
//! Must never report success before the broker acknowledged the publish.

use anyhow::{anyhow, bail, Context};
use clap::Args;
use hashward_protocol::signed::SignedMessage;
use hashward_protocol::BrokerAddr;
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

pub(super) fn options(b: &BrokerArgs) -> anyhow::Result<MqttOptions> {
    let addr = BrokerAddr::parse(&b.broker)?;
    let id = format!("hashward-hub-cli-{}", std::process::id());
    let mut opts = MqttOptions::new(id, addr.host, addr.port);
    opts.set_keep_alive(Duration::from_secs(10));
    if let Some(u) = &b.username {
        opts.set_credentials(u.clone(), b.password.clone().unwrap_or_default());
    }
    if addr.tls {
        let cfg = crate::ingest::tls::client_config(b.ca_file.as_deref())?;
        opts.set_transport(Transport::Tls(TlsConfiguration::Rustls(cfg)));
    } else if b.ca_file.is_some() {
        bail!("--ca-file needs a TLS broker URL (mqtts://), got {}", b.broker);
    }
    Ok(opts)
}

/// Connects, publishes `payload` on `topic` at QoS 1 and waits for the broker's
/// acknowledgement.
pub(super) async fn publish(
    b: &BrokerArgs,
    topic: &str,
    payload: Vec<u8>,
    retain: bool,
) -> anyhow::Result<()> {
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
    // The publish is acknowledged (or the read is done); a failed goodbye loses nothing.
    if let Err(e) = client.disconnect().await {
        log::debug!("disconnecting from the broker: {e}");
    }
    Ok(())
}

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// A version above both the clock and the one retained on `topic` now (two round trips:
/// read, then the caller publishes); also returns the retained one (0: none).
pub(super) async fn next_version(b: &BrokerArgs, topic: &str, now: u64) -> anyhow::Result<(u64, u64)> {
    let before = read_retained(b, topic).await?;
    let last = before
        .as_deref()
        .and_then(|b| postcard::from_bytes::<SignedMessage>(b).ok())
        .map(|m| m.content.version)
        .unwrap_or(0);
    Ok((now.max(last + 1), last))
}

/// Reads the retained message on `topic` without publishing.
pub(super) async fn read_retained(b: &BrokerArgs, topic: &str) -> anyhow::Result<Option<Vec<u8>>> {
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
    // The publish is acknowledged (or the read is done); a failed goodbye loses nothing.
    if let Err(e) = client.disconnect().await {
        log::debug!("disconnecting from the broker: {e}");
    }
    Ok(retained)
}
