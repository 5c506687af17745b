//! MQTT publisher: sends spooled records in sequence order at QoS 1 and removes each from the
//! spool only when the broker's PubAck for it arrives.
//!
//! rumqttc keeps no queue across a clean-session reconnect and retries without backoff, so every
//! connection here is a fresh client and event loop: nothing stale is ever re-sent from rumqttc's
//! memory, and after each reconnect the replay starts again at the oldest unacknowledged record
//! (the hub drops the duplicates this may cause). The wait between attempts is our own backoff.
//!
//! With an `mqtts://` URL the connection is TLS (rustls, ring provider) trusting only
//! `broker.ca_file` when set, else the webpki roots; it is never downgraded to plain TCP.
//!
//! Must never: remove a record before its PubAck, publish records out of order within a
//! connection, or block the sampler.

use super::config::{BrokerAddr, BrokerConfig};
use crate::link::spool::Spool;
use hashward_common::{Backoff, Retry};
use rumqttc::{
    AsyncClient, ConnectionError, Event, LastWill, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration,
    Transport,
};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};

/// Largest MQTT packet either way; above the protocol's own payload cap.
const MAX_PACKET: usize = 1 << 20;
/// How long a graceful shutdown waits for outstanding acknowledgements.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, Default)]
pub struct LinkCounters {
    pub published: AtomicU64,
    pub reconnects: AtomicU64,
    pub connected: AtomicBool,
    /// Inbound messages dropped because the inbox was full.
    pub inbound_dropped: AtomicU64,
    /// Records ever appended to the spool in this run (grows while offline too).
    pub spooled: AtomicU64,
}

pub struct Publisher {
    pub broker: BrokerConfig,
    pub client_id: String,
    pub state_topic: String,
    /// Retained birth (online) and last-will (offline) state payloads.
    pub birth: Vec<u8>,
    pub will: Vec<u8>,
    pub spool: Arc<Spool>,
    /// Woken whenever a record is appended to the spool.
    pub wake: Arc<Notify>,
    pub counters: Arc<LinkCounters>,
    /// Hub -> agent topics to subscribe to on every connection (retained ones arrive at once).
    pub subscriptions: Vec<String>,
    /// Where messages on those topics go; a full inbox drops (and counts) rather than stalls
    /// the uplink.
    pub inbox: mpsc::Sender<Inbound>,
}

/// A broker TLS setup failure, naming the config key it came from.
#[derive(Debug, thiserror::Error)]
#[error("broker.ca_file: {0}")]
pub struct TlsError(#[from] hashward_common::tls::TlsError);

/// The TLS client config for the broker: only the CA(s) in `ca_file` when given (a private
/// fleet CA must not be widened to every public CA), else the webpki roots.
pub fn tls_client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    use hashward_common::tls::{client_config, Trust};
    Ok(client_config(Trust::ca_file_or_public(ca_file))?)
}

/// A lost connection in words an operator can act on: a TLS failure names the trust source.
fn describe_connection_error(e: &ConnectionError, broker: &BrokerConfig) -> String {
    match e {
        ConnectionError::Tls(t) => {
            let trust = match &broker.ca_file {
                Some(p) => format!("broker.ca_file {}", p.display()),
                None => "the public webpki roots (no broker.ca_file set)".to_string(),
            };
            format!(
                "TLS to {} failed: {t}; the broker's certificate must chain to {trust} and name the \
                 host in the URL",
                broker.url
            )
        }
        other => other.to_string(),
    }
}

/// A message the hub (or the broker's retained store) sent to this agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub topic: String,
    pub payload: Vec<u8>,
}

enum SessionEnd {
    Shutdown,
    Lost(String),
}

/// What one connection has handed to rumqttc and not yet seen acknowledged.
#[derive(Default)]
struct Window {
    /// Sequence numbers published, in order, whose packet id rumqttc has not reported yet.
    /// `0` stands for the (unspooled) state message.
    awaiting_pkid: VecDeque<u64>,
    inflight: HashMap<u16, u64>,
    /// Highest sequence number handed to rumqttc on this connection.
    cursor: u64,
    acked: Vec<u64>,
}

impl Window {
    fn outstanding(&self) -> usize {
        self.awaiting_pkid.len() + self.inflight.len()
    }

    /// rumqttc reports packet ids in the order publishes were queued.
    fn sent(&mut self, pkid: u16) {
        if let Some(seq) = self.awaiting_pkid.pop_front() {
            self.inflight.insert(pkid, seq);
        }
    }

    /// Records the broker's PubAck; true if it was one of ours.
    fn acked(&mut self, pkid: u16, counters: &LinkCounters) -> bool {
        let Some(seq) = self.inflight.remove(&pkid) else {
            return false;
        };
        if seq != 0 {
            self.acked.push(seq);
            counters.published.fetch_add(1, Ordering::Relaxed);
        }
        true
    }
}

impl Publisher {
    fn options(&self) -> Result<MqttOptions, String> {
        let addr = BrokerAddr::parse(&self.broker.url).map_err(|e| e.to_string())?;
        let mut o = MqttOptions::new(self.client_id.clone(), addr.host, addr.port);
        o.set_keep_alive(Duration::from_secs(self.broker.keep_alive_s))
            .set_clean_session(true)
            .set_max_packet_size(MAX_PACKET, MAX_PACKET)
            .set_inflight(self.broker.max_inflight.saturating_add(2))
            .set_last_will(LastWill::new(
                self.state_topic.clone(),
                self.will.clone(),
                QoS::AtLeastOnce,
                true,
            ));
        if let Some(user) = &self.broker.username {
            o.set_credentials(user.clone(), self.broker.password.clone().unwrap_or_default());
        }
        if addr.tls {
            // Rebuilt per connection, so a rotated CA file is picked up without a restart.
            let tls = tls_client_config(self.broker.ca_file.as_deref()).map_err(|e| e.to_string())?;
            o.set_transport(Transport::Tls(TlsConfiguration::Rustls(tls)));
        }
        Ok(o)
    }

    /// Runs until `shutdown` turns true; reconnects with backoff forever otherwise.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Retry::new(Backoff::new(
            Duration::from_millis(self.broker.backoff_min_ms),
            Duration::from_millis(self.broker.backoff_max_ms),
        ));
        let mut first = true;
        loop {
            if !first {
                self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            }
            first = false;
            match self.session(&mut backoff, &mut shutdown).await {
                SessionEnd::Shutdown => return,
                SessionEnd::Lost(why) => {
                    self.counters.connected.store(false, Ordering::Relaxed);
                    let delay = backoff.next_delay(&mut rand::thread_rng());
                    log::warn!("broker link lost: {why}; retrying in {} ms", delay.as_millis());
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    async fn session(&self, backoff: &mut Retry, shutdown: &mut watch::Receiver<bool>) -> SessionEnd {
        let opts = match self.options() {
            Ok(o) => o,
            Err(e) => return SessionEnd::Lost(e),
        };
        let cap = usize::from(self.broker.max_inflight) + 16;
        let (client, mut events) = AsyncClient::new(opts, cap);
        let mut w = Window::default();
        let mut connected = false;
        let mut flush = tokio::time::interval(Duration::from_millis(100));
        let end = loop {
            tokio::select! {
                ev = events.poll() => match ev {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        connected = true;
                        self.counters.connected.store(true, Ordering::Relaxed);
                        log::info!("connected to {}", self.broker.url);
                        if let Err(e) = client.try_publish(&self.state_topic, QoS::AtLeastOnce, true, self.birth.clone()) {
                            break SessionEnd::Lost(format!("queueing birth: {e}"));
                        }
                        w.awaiting_pkid.push_back(0);
                        let subscribed = self.subscriptions.iter().try_for_each(|topic| {
                            client
                                .try_subscribe(topic.as_str(), QoS::AtLeastOnce)
                                .map_err(|e| format!("subscribing to {topic}: {e}"))
                        });
                        if let Err(e) = subscribed.and_then(|()| self.fill(&client, &mut w)) {
                            break SessionEnd::Lost(e);
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let msg = Inbound { topic: p.topic.clone(), payload: p.payload.to_vec() };
                        if self.inbox.try_send(msg).is_err() {
                            self.counters.inbound_dropped.fetch_add(1, Ordering::Relaxed);
                            log::warn!("inbox full: dropped a message on {}", p.topic);
                        }
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => w.sent(pkid),
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        if w.acked(ack.pkid, &self.counters) {
                            backoff.reset();
                        }
                        if let Err(e) = self.fill(&client, &mut w) {
                            break SessionEnd::Lost(e);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => break SessionEnd::Lost(describe_connection_error(&e, &self.broker)),
                },
                _ = self.wake.notified(), if connected => {
                    if let Err(e) = self.fill(&client, &mut w) {
                        break SessionEnd::Lost(e);
                    }
                }
                _ = flush.tick() => self.flush_acked(&mut w),
                _ = shutdown.changed() => {
                    self.goodbye(&client, &mut events, &mut w, connected).await;
                    break SessionEnd::Shutdown;
                }
            }
        };
        self.flush_acked(&mut w);
        end
    }

    /// Hands the next spooled records to rumqttc while the window has room.
    fn fill(&self, client: &AsyncClient, w: &mut Window) -> Result<(), String> {
        let room = usize::from(self.broker.max_inflight).saturating_sub(w.outstanding());
        if room == 0 {
            return Ok(());
        }
        let records = self.spool.read_after(w.cursor, room).map_err(|e| e.to_string())?;
        for r in records {
            client
                .try_publish(r.topic, QoS::AtLeastOnce, false, r.payload)
                .map_err(|e| format!("queueing seq {}: {e}", r.seq))?;
            w.awaiting_pkid.push_back(r.seq);
            w.cursor = r.seq;
        }
        Ok(())
    }

    fn flush_acked(&self, w: &mut Window) {
        if w.acked.is_empty() {
            return;
        }
        match self.spool.remove(&w.acked) {
            Ok(()) => w.acked.clear(),
            // Left in the spool, the records are simply sent again later; the hub dedupes.
            Err(e) => log::error!(
                "removing {} acknowledged records from the spool: {e}",
                w.acked.len()
            ),
        }
    }

    /// Drains what the spool holds (bounded by the grace period), publishes the offline state,
    /// and disconnects. Whatever is not acknowledged in time stays in the spool for next start.
    async fn goodbye(
        &self,
        client: &AsyncClient,
        events: &mut rumqttc::EventLoop,
        w: &mut Window,
        connected: bool,
    ) {
        if !connected {
            return;
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        let mut offline_sent = false;
        loop {
            if self.fill(client, w).is_err() {
                break;
            }
            if w.outstanding() == 0 {
                if offline_sent {
                    break;
                }
                // Only once the spool is drained, so the hub sees the last records before the
                // rig goes offline.
                if client
                    .try_publish(&self.state_topic, QoS::AtLeastOnce, true, self.will.clone())
                    .is_err()
                {
                    break;
                }
                w.awaiting_pkid.push_back(0);
                offline_sent = true;
            }
            match tokio::time::timeout_at(deadline, events.poll()).await {
                Ok(Ok(Event::Outgoing(Outgoing::Publish(pkid)))) => w.sent(pkid),
                Ok(Ok(Event::Incoming(Packet::PubAck(ack)))) => {
                    w.acked(ack.pkid, &self.counters);
                }
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(_) => break,
            }
        }
        let _ = client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while let Ok(ev) = events.poll().await {
                if matches!(ev, Event::Outgoing(Outgoing::Disconnect)) {
                    break;
                }
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tls_tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn ca_file_problems_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let err = tls_client_config(Some(&missing))
            .expect_err("missing file")
            .to_string();
        assert!(
            err.contains("missing.pem") && err.contains("broker.ca_file"),
            "{err}"
        );

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let err = tls_client_config(Some(&empty)).expect_err("no certs").to_string();
        assert!(err.contains("no PEM certificate"), "{err}");

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let err = tls_client_config(Some(&garbage))
            .expect_err("bad cert")
            .to_string();
        assert!(err.contains("garbage.pem"), "{err}");
    }

    #[test]
    fn without_ca_file_the_public_roots_are_used() {
        tls_client_config(None).expect("webpki roots");
    }

    #[test]
    fn ca_file_requires_a_tls_url() {
        let plain = "site = \"s\"\nrig = \"r\"\n[broker]\nurl = \"mqtt://h\"\nca_file = \"/x/ca.pem\"\n";
        let err = Config::from_toml(plain).expect_err("plain url").to_string();
        assert!(
            err.contains("broker.ca_file") && err.contains("mqtts://"),
            "{err}"
        );
        let tls = "site = \"s\"\nrig = \"r\"\n[broker]\nurl = \"mqtts://h\"\nca_file = \"/x/ca.pem\"\n";
        let cfg = Config::from_toml(tls).expect("tls url");
        assert_eq!(cfg.broker.ca_file.as_deref(), Some(Path::new("/x/ca.pem")));
    }
}
