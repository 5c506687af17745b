//! Fleet ingest: subscribes to every agent topic (plain, or shared when several hubs split the
//! load), decodes, stores in batches, and acknowledges each MQTT message only after the batch
//! holding it has committed.
//!
//! The session is persistent (clean session off, fixed client id), so a broker with persistence
//! keeps the hub's queue while the hub is away. Must never: ack before the commit, stop on bad
//! input, or store a record twice.

mod commit;
pub mod decode;
pub mod nats;
pub mod nats_config;
pub mod summary;
pub mod tls;

use crate::metrics::Metrics;
use crate::store::FleetStore;
use hashward_protocol::topic::hub_uplink_filter;
use rumqttc::{
    AsyncClient, Event, MqttOptions, Packet, Publish, QoS, SubscribeReasonCode, TlsConfiguration, Transport,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Largest MQTT packet the hub reads. Far above the protocol cap on purpose: refusing a large
/// packet would make rumqttc drop the connection, and the broker would redeliver the same
/// message forever. It is read, counted as a decode error and acknowledged instead.
const MAX_INCOMING_PACKET: usize = 256 << 20;
const MAX_BATCH: usize = 512;

#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub summary_interval: Duration,
    /// Shared-subscription group; `None` subscribes plainly (see `hub_uplink_filter`).
    pub share_group: Option<String>,
    /// TLS to the broker (`mqtts://`), built by [`tls::client_config`]; `None` is plain TCP.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Told about every new record and state message once stored (anomaly alerts, rig
    /// offline, config rejections); see `crate::alerts::feed`.
    pub alerts: Option<crate::alerts::AlertSink>,
}

/// Connects and runs until `shutdown` turns true.
pub async fn run(
    cfg: IngestConfig,
    store: Arc<dyn FleetStore>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut opts = MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
    opts.set_keep_alive(Duration::from_secs(15))
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_max_packet_size(MAX_INCOMING_PACKET, 1 << 20)
        .set_inflight(200);
    if let Some(user) = &cfg.username {
        opts.set_credentials(user.clone(), cfg.password.clone().unwrap_or_default());
    }
    if let Some(tls) = &cfg.tls {
        opts.set_transport(Transport::Tls(TlsConfiguration::Rustls(tls.clone())));
    }
    let (client, mut events) = AsyncClient::new(opts, 1024);
    // Unbounded on purpose: this loop must keep polling the event loop whatever the writer is
    // doing, since the writer's acknowledgements go out through it. With a bounded channel, a
    // full channel parked this loop in `send` while the writer waited on `ack` for the request
    // queue only this loop drains: ingest stopped for good under load (fleet simulator, 10,000
    // rigs at 1 s). What waits here is bounded by the broker's in-flight window for the hub,
    // since nothing is acknowledged before its commit.
    let (tx, rx) = mpsc::unbounded_channel::<Publish>();
    let writer = tokio::spawn(write_loop(
        rx,
        client.clone(),
        store.clone(),
        metrics.clone(),
        cfg.alerts.clone(),
    ));
    let summaries = tokio::spawn(summary::run(
        client.clone(),
        store,
        metrics.clone(),
        cfg.summary_interval,
        crate::elect::Leader::always(),
        shutdown.clone(),
    ));
    // Jittered, so hubs in a share group that lost the broker together do not reconnect in step.
    let mut retry = hashward_common::Retry::new(hashward_common::Backoff::new(
        Duration::from_millis(250),
        Duration::from_secs(10),
    ));
    loop {
        tokio::select! {
            ev = events.poll() => match ev {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    retry.reset();
                    log::info!("hub connected to broker {}:{} (session present: {})", cfg.host, cfg.port, ack.session_present);
                    // Always (re)subscribe: a broker without persistence forgot the session.
                    // Not awaited in this loop: the request queue may be full (summaries queued
                    // while the broker was away) and only this loop drains it. Awaiting here
                    // stopped ingest for good after a broker restart under 300 rigs
                    // (tests/broker_restart_many.rs).
                    let subscriber = client.clone();
                    let filter = hub_uplink_filter(cfg.share_group.as_deref());
                    tokio::spawn(async move {
                        if let Err(e) = subscriber.subscribe(filter, QoS::AtLeastOnce).await {
                            log::error!("subscribing: {e}");
                        }
                    });
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    let granted = ack.return_codes.iter().all(|c| matches!(c, SubscribeReasonCode::Success(_)));
                    if !granted {
                        log::error!("the broker refused the ingest subscription: {:?}", ack.return_codes);
                    }
                    metrics.ingest_subscribed.store(granted, Ordering::Relaxed);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    metrics.ingest_subscribed.store(false, Ordering::Relaxed);
                    let delay = retry.next_delay(&mut rand::thread_rng());
                    log::warn!("hub broker link: {e}; retrying in {} ms", delay.as_millis());
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.changed() => break,
                    }
                }
            },
            _ = shutdown.changed() => break,
        }
    }
    drop(tx);
    // The writer drains what was received; a panic there means a batch may be unacknowledged
    // (the broker redelivers it), and must be seen.
    if let Err(e) = writer.await {
        log::error!("ingest writer task failed: {e}");
    }
    summaries.abort();
    match summaries.await {
        Err(e) if e.is_panic() => log::error!("dashboard summaries task panicked: {e}"),
        _ => {}
    }
    if let Err(e) = client.try_disconnect() {
        log::debug!("disconnecting from the broker: {e}");
    }
}

async fn write_loop(
    mut rx: mpsc::UnboundedReceiver<Publish>,
    client: AsyncClient,
    store: Arc<dyn FleetStore>,
    metrics: Arc<Metrics>,
    alerts: Option<crate::alerts::AlertSink>,
) {
    let mut pending: Vec<Publish> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        pending.push(first);
        while pending.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => pending.push(p),
                Err(_) => break,
            }
        }
        let received: Vec<(String, bytes::Bytes)> = pending
            .iter()
            .map(|p| (p.topic.clone(), p.payload.clone()))
            .collect();
        match commit::commit(received, &store, &metrics, alerts.as_ref()).await {
            Ok(()) => {
                for p in pending.drain(..) {
                    if let Err(e) = client.ack(&p).await {
                        log::warn!("acknowledging: {e}");
                    }
                }
            }
            Err(commit::NotCommitted) => {
                // Not acknowledged: the broker redelivers after the reconnect forced below.
                pending.clear();
                // The redelivery depends on this reconnect; if it cannot be asked for, say so.
                if let Err(e) = client.try_disconnect() {
                    log::warn!("forcing a reconnect for redelivery failed: {e}");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
