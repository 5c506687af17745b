//! Fleet ingest from a NATS JetStream cluster (`broker = "nats://..."`): agents keep speaking
//! MQTT to any node's MQTT listener; NATS maps their topics `hashward/v1/{site}/{rig}/{kind}` to
//! subjects `hashward.v1.{site}.{rig}.{kind}`, a work-queue stream holds the uplink ones, and
//! every hub pulls from one durable consumer, so the hubs share one queue and each record goes
//! to one of them. A message is acknowledged only after the store commit holding it, exactly as
//! the MQTT ingest acks; one not acknowledged is redelivered after the consumer's ack wait.
//!
//! What the hub publishes (dashboard summaries, fleet hints, config pushes, commands) still goes
//! out as retained MQTT through the cluster's MQTT listener, with an MQTT client here.
//!
//! Must never: acknowledge before the commit, take the retained config or commands the hub
//! itself sends into the stream, or stop on bad input.

use super::commit::{commit, NotCommitted};
use super::IngestConfig;
use crate::elect::{Leader, LeaseTiming};
use crate::metrics::Metrics;
use crate::store::FleetStore;
use async_nats::jetstream::{self, consumer::pull, stream, AckKind};
use futures_util::{FutureExt, StreamExt};
use hashward_protocol::topic::{TOPIC_PREFIX, UPLINK_LEAVES};
use rumqttc::{AsyncClient, Event, MqttOptions, Transport};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const MAX_BATCH: usize = 512;
/// How long a delivered, unacknowledged message waits before the cluster gives it to a hub
/// again (the hub holding it died, or its store failed).
const ACK_WAIT: Duration = Duration::from_secs(30);
/// Messages delivered and not yet acknowledged, over all hubs; bounds what a dead hub's
/// redelivery holds back.
const MAX_ACK_PENDING: i64 = 20_000;

/// Where the cluster is and what the hubs share on it (`[nats]` of hub.toml).
#[derive(Debug, Clone, PartialEq)]
pub struct NatsOptions {
    /// `nats://host:port`, several comma-separated for failover.
    pub servers: String,
    /// The cluster's MQTT listener, for what the hub publishes to agents and dashboards.
    pub mqtt_host: String,
    pub mqtt_port: u16,
    pub stream: String,
    /// The durable consumer every hub pulls from.
    pub consumer: String,
    /// Copies of the stream and the lease bucket; 3 on a three-node cluster, so a node can die.
    pub replicas: usize,
    pub lease_bucket: String,
    pub lease: LeaseTiming,
}

impl Default for NatsOptions {
    fn default() -> Self {
        NatsOptions {
            servers: "nats://127.0.0.1:4222".into(),
            mqtt_host: "127.0.0.1".into(),
            mqtt_port: 1883,
            stream: "HASHWARD_UPLINK".into(),
            consumer: "hashward-hub".into(),
            replicas: 3,
            lease_bucket: "hashward_lease".into(),
            lease: LeaseTiming::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("NATS servers {servers:?}: {reason}")]
    Connect { servers: String, reason: String },
    #[error("JetStream stream {stream}: {reason}")]
    Stream { stream: String, reason: String },
    #[error("JetStream consumer {consumer} on {stream}: {reason}")]
    Consumer {
        stream: String,
        consumer: String,
        reason: String,
    },
}

/// The subjects of the agents' uplink topics, and only those: `hashward.v1.*.*.tele`, ...,
/// `hashward.v1.*.*.asic.*`. The config and command topics the hub publishes are not in it.
pub fn uplink_subjects() -> Vec<String> {
    let prefix = TOPIC_PREFIX.replace('/', ".");
    UPLINK_LEAVES
        .iter()
        .map(|leaf| format!("{prefix}.*.*.{}", leaf.replace('/', ".").replace('+', "*")))
        .collect()
}

/// The MQTT topic a subject was published as. Exact because ids cannot hold a `/` and write
/// a `.` encoded (`RigId::topic_level`).
pub fn topic_of(subject: &str) -> String {
    subject.replace('.', "/")
}

/// A client that keeps reconnecting (to any server of the cluster) on its own.
pub async fn connect(servers: &str, name: &str) -> Result<async_nats::Client, NatsError> {
    async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .connect(servers.split(',').map(str::trim).collect::<Vec<&str>>())
        .await
        .map_err(|e| NatsError::Connect {
            servers: servers.to_string(),
            reason: e.to_string(),
        })
}

fn stream_config(opts: &NatsOptions) -> stream::Config {
    stream::Config {
        name: opts.stream.clone(),
        description: Some("hashward agents' uplink records, pulled by the hubs".into()),
        subjects: uplink_subjects(),
        // A message leaves the stream once a hub acknowledged it, after its commit.
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        num_replicas: opts.replicas,
        ..Default::default()
    }
}

/// Creates the stream and the shared durable consumer, or checks they are as configured
/// (idempotent: every hub does this at start). A stream whose subjects differ is updated.
pub async fn ensure(
    js: &jetstream::Context,
    opts: &NatsOptions,
) -> Result<jetstream::consumer::PullConsumer, NatsError> {
    let serr = |e: &dyn std::fmt::Display| NatsError::Stream {
        stream: opts.stream.clone(),
        reason: e.to_string(),
    };
    let want = stream_config(opts);
    let mut s = js
        .get_or_create_stream(want.clone())
        .await
        .map_err(|e| serr(&e))?;
    let have = s.info().await.map_err(|e| serr(&e))?.config.clone();
    if have.retention != want.retention {
        return Err(serr(&format!(
            "exists with retention {:?}, not work-queue; delete it or name another stream",
            have.retention
        )));
    }
    if have.subjects != want.subjects {
        log::warn!(
            "stream {}: subjects {:?} updated to {:?}",
            opts.stream,
            have.subjects,
            want.subjects
        );
        js.update_stream(want).await.map_err(|e| serr(&e))?;
    }
    s.get_or_create_consumer(
        &opts.consumer,
        pull::Config {
            durable_name: Some(opts.consumer.clone()),
            description: Some("shared by every hashward hub".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_ack_pending: MAX_ACK_PENDING,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| NatsError::Consumer {
        stream: opts.stream.clone(),
        consumer: opts.consumer.clone(),
        reason: e.to_string(),
    })
}

/// Runs the ingest until `shutdown`: the MQTT client for what the hub publishes (with the
/// dashboard summaries, run by the leader only), and the pull loop.
pub async fn run(
    opts: NatsOptions,
    nats: async_nats::Client,
    cfg: IngestConfig,
    store: Arc<dyn FleetStore>,
    metrics: Arc<Metrics>,
    leader: Leader,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = publisher(&cfg, shutdown.clone());
    let summaries = tokio::spawn(super::summary::run(
        client.clone(),
        store.clone(),
        metrics.clone(),
        cfg.summary_interval,
        leader,
        shutdown.clone(),
    ));
    let js = jetstream::new(nats);
    let mut retry = hashward_common::Retry::new(hashward_common::Backoff::new(
        Duration::from_millis(250),
        Duration::from_secs(10),
    ));
    loop {
        let outcome = match ensure(&js, &opts).await {
            Ok(consumer) => {
                retry.reset();
                pull_loop(
                    &consumer,
                    &opts,
                    &store,
                    &metrics,
                    cfg.alerts.as_ref(),
                    &mut shutdown,
                )
                .await
            }
            Err(e) => Err(e.to_string()),
        };
        metrics.ingest_subscribed.store(false, Ordering::Relaxed);
        match outcome {
            Ok(()) => break,
            Err(e) => {
                let delay = retry.next_delay(&mut rand::thread_rng());
                log::warn!("NATS ingest: {e}; retrying in {} ms", delay.as_millis());
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => break,
                }
            }
        }
    }
    summaries.abort();
    match summaries.await {
        Err(e) if e.is_panic() => log::error!("dashboard summaries task panicked: {e}"),
        _ => {}
    }
    if let Err(e) = client.try_disconnect() {
        log::debug!("disconnecting from the MQTT listener: {e}");
    }
}

/// Pulls batches until shutdown (`Ok`) or until the message stream ends (`Err`, re-ensured).
async fn pull_loop(
    consumer: &jetstream::consumer::PullConsumer,
    opts: &NatsOptions,
    store: &Arc<dyn FleetStore>,
    metrics: &Metrics,
    alerts: Option<&crate::alerts::AlertSink>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(MAX_BATCH)
        .heartbeat(Duration::from_secs(5))
        .messages()
        .await
        .map_err(|e| format!("pulling from {}: {e}", opts.consumer))?;
    metrics.ingest_subscribed.store(true, Ordering::Relaxed);
    log::info!(
        "hub pulling from JetStream stream {} through consumer {}",
        opts.stream,
        opts.consumer
    );
    loop {
        let first = tokio::select! {
            m = messages.next() => m,
            _ = shutdown.changed() => return Ok(()),
        };
        let mut batch = Vec::with_capacity(MAX_BATCH);
        match first {
            None => return Err("the consumer's message stream ended".into()),
            Some(Ok(m)) => batch.push(m),
            Some(Err(e)) => {
                use async_nats::jetstream::consumer::pull::MessagesErrorKind as K;
                if matches!(e.kind(), K::ConsumerDeleted | K::RequestLimitExceeded) {
                    return Err(format!("consumer {}: {e}", opts.consumer));
                }
                // Missing heartbeats, a node gone: the client reconnects and pulls again.
                log::warn!("NATS pull: {e}");
                continue;
            }
        }
        // What is already here joins the batch; nothing waits for more.
        while batch.len() < MAX_BATCH {
            match messages.next().now_or_never() {
                Some(Some(Ok(m))) => batch.push(m),
                Some(Some(Err(e))) => log::warn!("NATS pull: {e}"),
                _ => break,
            }
        }
        let received = batch
            .iter()
            .map(|m| (topic_of(m.subject.as_str()), m.payload.clone()))
            .collect();
        match commit(received, store, metrics, alerts).await {
            Ok(()) => {
                for m in &batch {
                    // A lost ack only means a redelivery, which the store counts as duplicate.
                    if let Err(e) = m.ack().await {
                        log::warn!("acknowledging to NATS: {e}");
                    }
                }
            }
            Err(NotCommitted) => {
                for m in &batch {
                    if let Err(e) = m.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await {
                        log::warn!("asking NATS for a redelivery: {e}");
                    }
                }
            }
        }
    }
}

/// The MQTT client for what the hub publishes (summaries, hints), driven on its own task.
/// Clean session: it subscribes to nothing, the agents' records come through JetStream.
fn publisher(cfg: &IngestConfig, mut shutdown: watch::Receiver<bool>) -> AsyncClient {
    let mut opts = MqttOptions::new(format!("{}-pub", cfg.client_id), cfg.host.clone(), cfg.port);
    opts.set_keep_alive(Duration::from_secs(15))
        .set_clean_session(true)
        .set_max_packet_size(1 << 20, 1 << 20);
    if let Some(user) = &cfg.username {
        opts.set_credentials(user.clone(), cfg.password.clone().unwrap_or_default());
    }
    if let Some(tls) = &cfg.tls {
        opts.set_transport(Transport::Tls(rumqttc::TlsConfiguration::Rustls(tls.clone())));
    }
    let (client, mut events) = AsyncClient::new(opts, 1024);
    let (host, port) = (cfg.host.clone(), cfg.port);
    tokio::spawn(async move {
        let mut retry = hashward_common::Retry::new(hashward_common::Backoff::new(
            Duration::from_millis(250),
            Duration::from_secs(10),
        ));
        loop {
            tokio::select! {
                ev = events.poll() => match ev {
                    Ok(Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                        retry.reset();
                        log::info!("hub publishing through the MQTT listener {host}:{port}");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let delay = retry.next_delay(&mut rand::thread_rng());
                        log::warn!("MQTT listener {host}:{port}: {e}; retrying in {} ms", delay.as_millis());
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = shutdown.changed() => return,
                        }
                    }
                },
                _ = shutdown.changed() => return,
            }
        }
    });
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashward_protocol::{RigId, SiteId, Topic};

    #[test]
    fn the_stream_takes_every_uplink_subject_and_no_config_or_command() {
        let subjects = uplink_subjects();
        assert_eq!(subjects.len(), UPLINK_LEAVES.len());
        assert!(subjects.contains(&"hashward.v1.*.*.tele".to_string()));
        assert!(subjects.contains(&"hashward.v1.*.*.asic.*".to_string()));
        let matches = |subject: &str| {
            subjects.iter().any(|f| {
                let (f, s): (Vec<&str>, Vec<&str>) = (f.split('.').collect(), subject.split('.').collect());
                f.len() == s.len() && f.iter().zip(&s).all(|(a, b)| *a == "*" || a == b)
            })
        };
        let (site, rig) = (
            SiteId::new("farm.eu").expect("id"),
            RigId::new("r.1").expect("id"),
        );
        let as_subject = |t: Topic| t.to_string().replace('/', ".");
        for up in [
            Topic::Tele {
                site: site.clone(),
                rig: rig.clone(),
            },
            Topic::Asic {
                site: site.clone(),
                rig: rig.clone(),
                miner: "m.1".into(),
            },
        ] {
            assert!(matches(&as_subject(up)));
        }
        for down in [
            Topic::RigCfg {
                site: site.clone(),
                rig: rig.clone(),
            },
            Topic::RigCmd {
                site: site.clone(),
                rig: rig.clone(),
            },
            Topic::SiteCfg { site },
            Topic::FleetCfg,
            Topic::FleetHints,
            Topic::FleetModels,
        ] {
            assert!(!matches(&as_subject(down.clone())), "{down}");
        }
    }

    #[test]
    fn a_subject_maps_back_to_its_topic_with_dotted_ids() {
        let t = Topic::Tele {
            site: SiteId::new("farm.eu").expect("id"),
            rig: RigId::new("r.1").expect("id"),
        };
        let subject = t.to_string().replace('/', ".");
        assert_eq!(Topic::parse(&topic_of(&subject)), Ok(t));
    }
}
