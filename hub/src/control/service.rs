//! The hub's second MQTT connection: publishes the signed commands queued by [`super::Control`]
//! and, with Home Assistant on, its discovery (retained, again whenever `homeassistant/status`
//! says `online`, removed when a rig leaves the registry), the per-ASIC JSON state, and turns
//! Home Assistant's command topics into signed commands.
//!
//! A separate connection so that the ingest's persistent session and manual acks stay as they
//! are. Must never sign a command for a rig the registry does not hold under that site; every
//! refusal is logged and counted.

use super::{Control, SentCommand};
use crate::fleetview::{overview, FleetSnapshot};
use crate::ha::discovery::{self, HA_PREFIX};
use crate::ha::{commands, plan, state, RigInfo};
use crate::metrics::Metrics;
use crate::store::StoreRead;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

#[derive(Debug, Clone)]
pub struct ControlConfig {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Home Assistant's discovery prefix; `None`: Home Assistant off.
    pub ha_prefix: Option<String>,
    /// Whether Home Assistant's controls are offered and obeyed: only behind a broker whose ACL
    /// decides who may write the control topics (never the embedded broker, which has none).
    pub ha_controls: bool,
    /// How often discovery is checked and ASIC states are published.
    pub interval: Duration,
}

pub async fn run(
    cfg: ControlConfig,
    control: Option<Control>,
    mut queued: mpsc::Receiver<SentCommand>,
    store: Arc<dyn StoreRead>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut opts = MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
    opts.set_keep_alive(Duration::from_secs(15))
        .set_clean_session(true);
    if let Some(user) = &cfg.username {
        opts.set_credentials(user.clone(), cfg.password.clone().unwrap_or_default());
    }
    if let Some(tls) = &cfg.tls {
        opts.set_transport(Transport::Tls(TlsConfiguration::Rustls(tls.clone())));
    }
    let (client, events) = AsyncClient::new(opts, 1024);
    // The event loop is driven on its own task, so that publishing a large discovery (which
    // waits for room in the client's queue) can never stall the loop that empties that queue.
    let (link_tx, mut link) = mpsc::unbounded_channel::<Link>();
    let backlog = Arc::new(AtomicUsize::new(0));
    let poller = tokio::spawn(drive(events, link_tx, backlog.clone(), stop.clone()));
    // Discovery published so far, per rig; cleared on (re)connect and on HA's birth message.
    let mut announced: BTreeMap<String, RigInfo> = BTreeMap::new();
    let mut tick = tokio::time::interval(cfg.interval);
    let mut connected = false;
    loop {
        tokio::select! {
            Some(ev) = link.recv() => match ev {
                Link::Connected => {
                    connected = true;
                    announced.clear();
                    if let Some(prefix) = &cfg.ha_prefix {
                        for filter in [format!("{prefix}/status"), format!("{HA_PREFIX}/#")] {
                            if let Err(e) = client.subscribe(filter, QoS::AtLeastOnce).await {
                                log::error!("control: subscribing: {e}");
                            }
                        }
                    }
                    tick.reset_immediately();
                }
                Link::Lost => connected = false,
                Link::Message(topic, payload) => {
                    backlog.fetch_sub(1, Ordering::Relaxed);
                    let prefix = cfg.ha_prefix.as_deref().unwrap_or(discovery_default());
                    if topic == format!("{prefix}/status") {
                        if payload == b"online" {
                            log::info!("Home Assistant is online: publishing discovery again");
                            announced.clear();
                            tick.reset_immediately();
                        }
                    } else {
                        let control = control.as_ref().filter(|_| cfg.ha_controls);
                        handle_command(&topic, &payload, control, store.as_ref(), &metrics);
                    }
                }
            },
            Some(sent) = queued.recv() => {
                match client.publish(sent.topic.clone(), QoS::AtLeastOnce, sent.retain, sent.payload.clone()).await {
                    Ok(()) => {
                        Metrics::inc(&metrics.commands_sent);
                        log::info!("command {} (nonce {}) sent to {}/{}", sent.command, sent.nonce, sent.site, sent.rig);
                    }
                    Err(e) => log::error!("control: publishing command {}: {e}", sent.command),
                }
            }
            _ = tick.tick(), if connected && cfg.ha_prefix.is_some() => {
                let prefix = cfg.ha_prefix.clone().unwrap_or_default();
                let controls = control.is_some() && cfg.ha_controls;
                if let Err(e) = publish_ha(&client, &prefix, controls, store.as_ref(), &metrics, &mut announced).await {
                    log::warn!("Home Assistant publishing: {e}");
                }
            }
            // The stop signal only ever turns true.
            _ = stop.changed() => break,
        }
    }
    if let Err(e) = client.try_disconnect() {
        log::debug!("control: disconnecting: {e}");
    }
    poller.abort();
    Ok(())
}

/// What the event loop reports to the service.
enum Link {
    Connected,
    Lost,
    Message(String, Vec<u8>),
}

/// Messages from Home Assistant waiting for the service; a burst beyond this is dropped and
/// logged (the broker's ACL limits who can send them at all). Connects and losses always pass.
const LINK_QUEUE: usize = 256;

/// Drives the MQTT event loop with backoff until stopped, reporting connects, losses and the
/// messages of the control subscriptions.
async fn drive(
    mut events: rumqttc::EventLoop,
    tx: mpsc::UnboundedSender<Link>,
    backlog: Arc<AtomicUsize>,
    mut stop: watch::Receiver<bool>,
) {
    let mut retry = hashward_common::Retry::new(hashward_common::Backoff::new(
        Duration::from_millis(250),
        Duration::from_secs(10),
    ));
    loop {
        let ev = tokio::select! {
            ev = events.poll() => ev,
            _ = stop.changed() => return,
        };
        let report = match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                retry.reset();
                Link::Connected
            }
            Ok(Event::Incoming(Packet::Publish(p))) => Link::Message(p.topic.clone(), p.payload.to_vec()),
            Ok(_) => continue,
            Err(e) => {
                let delay = retry.next_delay(&mut rand::thread_rng());
                log::warn!("control broker link: {e}; retrying in {} ms", delay.as_millis());
                if tx.send(Link::Lost).is_err() {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => return,
                }
                continue;
            }
        };
        if matches!(report, Link::Message(..)) {
            if backlog.load(Ordering::Relaxed) >= LINK_QUEUE {
                log::warn!("control: message dropped, {LINK_QUEUE} already waiting");
                continue;
            }
            backlog.fetch_add(1, Ordering::Relaxed);
        }
        if tx.send(report).is_err() {
            return;
        }
    }
}

fn discovery_default() -> &'static str {
    crate::ha::DEFAULT_DISCOVERY_PREFIX
}

/// A message on a Home Assistant command topic: checked, signed and queued, or refused.
fn handle_command(
    topic: &str,
    payload: &[u8],
    control: Option<&Control>,
    store: &dyn StoreRead,
    metrics: &Metrics,
) {
    let refuse = |why: String| {
        Metrics::inc(&metrics.commands_refused);
        log::warn!("Home Assistant command refused: {why}");
    };
    let cmd = match commands::parse(topic, payload) {
        Ok(c) => c,
        Err(e) => return refuse(e.to_string()),
    };
    let Some(control) = control else {
        return refuse(format!(
            "{topic}: Home Assistant controls need [commands] signing_key and an external broker"
        ));
    };
    match store.rig(cmd.rig.as_str()) {
        Ok(Some(e)) if e.site == cmd.site => {}
        Ok(_) => return refuse(format!("{topic}: no rig {}/{} at this hub", cmd.site, cmd.rig)),
        Err(e) => return refuse(format!("{topic}: store: {e}")),
    }
    if let Err(e) = control.send(&cmd.site, &cmd.rig, &cmd.command) {
        refuse(format!("{topic}: {e}"));
    }
}

async fn publish_ha(
    client: &AsyncClient,
    prefix: &str,
    controls: bool,
    store: &dyn StoreRead,
    metrics: &Metrics,
    announced: &mut BTreeMap<String, RigInfo>,
) -> Result<(), String> {
    let snap = FleetSnapshot::load(store, hashward_common::now_ms()).map_err(|e| e.to_string())?;
    let view = overview(&snap);
    let mut present = BTreeMap::new();
    for (row, rs) in view.rigs.iter().zip(&snap.rigs) {
        for a in &row.asics {
            let topic = discovery::asic_state_topic(&row.site, &row.rig, &a.miner_id);
            client
                .publish(topic, QoS::AtLeastOnce, true, state::asic_state(a).to_string())
                .await
                .map_err(|e| e.to_string())?;
        }
        let info = plan::rig_info(announced.get(&row.rig), row, &rs.entry.agent_version);
        present.insert(row.rig.clone(), info);
    }
    let (announce, remove) = plan::plan(announced, &present);
    for info in announce {
        for d in discovery::rig_discovery(prefix, info, controls) {
            client
                .publish(d.topic, QoS::AtLeastOnce, true, d.payload.to_string())
                .await
                .map_err(|e| e.to_string())?;
            Metrics::inc(&metrics.ha_discovery_published);
        }
    }
    // A rig gone from the registry: empty retained payloads remove its entities and the ASIC
    // states published for them.
    for info in remove {
        let states = info
            .asics
            .iter()
            .map(|a| discovery::asic_state_topic(&info.site, &info.rig, &a.id));
        for topic in discovery::removal(prefix, info).into_iter().chain(states) {
            client
                .publish(topic, QoS::AtLeastOnce, true, Vec::new())
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    *announced = present;
    Ok(())
}
