//! Retained JSON topics for dashboards: `hashward/json/market/{coin}` carries the served
//! market record (the `/market/{coin}` body) and is republished when the record served changes
//! (another source, a newer fetch, or turning stale), checked once a second.
//!
//! Must never publish on the fleet's signed topics, and never hold up the collectors: it has its
//! own MQTT connection and drops a publish rather than wait when the broker is away.

use super::service::CollectState;
use hashward_protocol::topic::JSON_PREFIX;
use rumqttc::{AsyncClient, Event, MqttOptions, QoS, TlsConfiguration, Transport};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Where the publisher connects (the hub's broker, with the hub's credentials).
#[derive(Debug, Clone)]
pub struct MqttTarget {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

pub fn market_topic(coin: &str) -> String {
    format!("{JSON_PREFIX}/market/{coin}")
}

/// Runs until `stop` turns true.
pub async fn run(
    target: MqttTarget,
    state: Arc<CollectState>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut opts = MqttOptions::new(target.client_id.clone(), target.host.clone(), target.port);
    opts.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true);
    if let Some(user) = &target.username {
        opts.set_credentials(user.clone(), target.password.clone().unwrap_or_default());
    }
    if let Some(tls) = &target.tls {
        opts.set_transport(Transport::Tls(TlsConfiguration::Rustls(tls.clone())));
    }
    let (client, mut events) = AsyncClient::new(opts, 64);
    let mut retry = hashward_common::Retry::new(hashward_common::Backoff::new(
        Duration::from_millis(250),
        Duration::from_secs(30),
    ));
    // What each topic last carried: (source, fetched_at_ms, stale).
    let mut published: BTreeMap<String, (String, u64, bool)> = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut connected = false;
    let mut stop_waiting = stop.clone();
    loop {
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            r = stop.changed() => if r.is_err() { break },
            ev = events.poll() => match ev {
                Ok(Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    retry.reset();
                    connected = true;
                    // A broker without persistence lost the retained messages: send them again.
                    published.clear();
                }
                Ok(_) => {}
                Err(e) => {
                    connected = false;
                    let delay = retry.next_delay(&mut rand::thread_rng());
                    log::debug!("market topics: broker link: {e}; retrying in {} ms", delay.as_millis());
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop_waiting.changed() => {}
                    }
                }
            },
            _ = tick.tick(), if connected => {
                let now = hashward_common::clock::now_ms();
                for v in state.market(now) {
                    let key = (v.data.source.clone(), v.data.fetched_at_ms, v.stale);
                    if published.get(&v.data.coin.id) == Some(&key) {
                        continue;
                    }
                    let body = match serde_json::to_vec(&v) {
                        Ok(b) => b,
                        Err(e) => {
                            log::error!("market record of {} not serialisable: {e}", v.data.coin.id);
                            continue;
                        }
                    };
                    match client.try_publish(market_topic(&v.data.coin.id), QoS::AtLeastOnce, true, body) {
                        Ok(()) => {
                            state.counters.published.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            published.insert(v.data.coin.id.clone(), key);
                        }
                        Err(e) => log::debug!("market topic of {} not published: {e}", v.data.coin.id),
                    }
                }
                for (topic, key, body) in super::pool_view::retained(&state.registry, &state.store, now) {
                    if published.get(&topic) == Some(&key) {
                        continue;
                    }
                    match client.try_publish(topic.clone(), QoS::AtLeastOnce, true, body) {
                        Ok(()) => {
                            state.counters.published.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            published.insert(topic, key);
                        }
                        Err(e) => log::debug!("{topic} not published: {e}"),
                    }
                }
            }
        }
    }
    client.try_disconnect().ok();
    Ok(())
}
