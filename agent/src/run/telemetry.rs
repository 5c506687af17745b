//! The records the agent produces on its own: rig telemetry on every sampling tick, ASIC
//! readings as the poller delivers them, tuning snapshots from the miner. Each goes to the
//! spool and wakes the publisher.
//!
//! Must never wait for the network: records go to the spool, the publisher drains it whenever
//! the broker is reachable.

use super::Agent;
use hashward_protocol::{encode, AgentCounters, AsicTelemetry, Body, Envelope, RigId, Topic, TuningSnapshot};
use std::sync::atomic::Ordering;

use crate::infer::Sample;

impl Agent {
    /// Appends one record to the spool (off the async threads: it is a durable write) and wakes
    /// the publisher.
    pub(super) async fn spool_body(&self, topic: &str, body: Body) {
        self.spool_body_at(topic, body, hashward_common::now_ms()).await
    }

    /// As [`Agent::spool_body`], stamped `ts_ms` (a sample's time, shared with its score).
    pub(super) async fn spool_body_at(&self, topic: &str, body: Body, ts_ms: u64) {
        let kind = body.kind();
        let (spool, rig, topic) = (self.spool.clone(), self.cfg.rig.clone(), topic.to_string());
        let appended = tokio::task::spawn_blocking(move || {
            spool.append(|seq| {
                let env = Envelope::new(rig, seq, ts_ms, body);
                encode(&env).map(|b| (topic, b)).map_err(|e| e.to_string())
            })
        })
        .await;
        match appended {
            Ok(Ok(seq)) => {
                log::debug!("spooled {kind} seq {seq}");
                self.link.counters.spooled.fetch_add(1, Ordering::Relaxed);
                self.link.wake.notify_one();
            }
            Ok(Err(e)) => log::error!("{kind} record not spooled: {e}"),
            Err(e) => log::error!("spool task failed: {e}"),
        }
    }

    /// The sampling tick: the rig's telemetry, with the agent's own counters.
    pub(super) async fn on_sample_tick(&mut self) {
        let spool = match self.spool.stats() {
            Ok(s) => s,
            Err(e) => {
                // The health tick withholds systemd's ping for it; the sample is still taken.
                log::error!("spool: cannot be read for telemetry: {e}");
                Default::default()
            }
        };
        let counters = &self.link.counters;
        let agent = AgentCounters {
            spool_records: spool.records,
            spool_bytes: spool.bytes,
            spool_dropped: spool.dropped,
            published: counters.published.load(Ordering::Relaxed),
            reconnects: counters.reconnects.load(Ordering::Relaxed),
            input_errors: self.input_errors
                + counters.inbound_dropped.load(Ordering::Relaxed)
                + self.fleet.rejected,
        };
        let mut tele = self.sampler.sample(agent);
        tele.miner = self.miner.miner().map(|m| m.telemetry());
        let ts = hashward_common::now_ms();
        if let Some(svc) = &self.infer {
            svc.submit(Sample::Rig(Box::new(tele.clone())), ts);
        }
        let topic = self.topics.tele.clone();
        self.spool_body_at(&topic, Body::Tele(tele), ts).await;
    }

    /// A tuning snapshot the miner shares with the hub (`telemetry_enabled`), under the rig's
    /// random telemetry id (`crate::telem`), read each time so a `telemetry forget` run beside
    /// the agent takes effect from the next snapshot.
    pub(super) async fn on_tuning_snapshot(&mut self, snap: TuningSnapshot) {
        let telemetry_id = match crate::telem::load_or_create(&self.cfg.data_dir) {
            Ok(id) => id,
            Err(e) => {
                log::error!("tune: snapshot not shared: {e}");
                return;
            }
        };
        log::info!(
            "tune: sharing snapshot {} threads x batch {} ({:.0} H/s) with the hub",
            snap.threads,
            snap.batch_size,
            snap.avg_hashrate_hs
        );
        let topic = self.topics.perf.clone();
        let body = Body::Telem(hashward_protocol::TelemSnapshot {
            telemetry_id,
            snapshot: snap,
        });
        self.spool_body(&topic, body).await;
    }

    /// One ASIC reading from the poller: scored by the models and published.
    pub(super) async fn on_asic_reading(&mut self, t: AsicTelemetry) {
        let Ok(asic) = RigId::new(t.miner_id.as_str()) else {
            log::warn!(
                "asic: ASIC id {:?} cannot be a topic level; reading dropped",
                t.miner_id
            );
            return;
        };
        let topic = Topic::Asic {
            site: self.cfg.site.clone(),
            rig: self.cfg.rig.clone(),
            miner: asic.to_string(),
        }
        .to_string();
        let ts = hashward_common::now_ms();
        if let Some(svc) = &self.infer {
            svc.submit(Sample::Asic(Box::new(t.clone())), ts);
        }
        self.spool_body_at(&topic, Body::Asic(t), ts).await;
    }
}
