//! What the on-device models concluded about a sample: its score and alert are published, a
//! critical threat trips the circuit breaker (the rig's miner, or one ASIC), and power advice
//! is spooled as a record for the hub.
//!
//! Must never pause a machine without a record that remembers to resume it.

use super::breakers::send_mining;
use super::Agent;
use crate::asic::control::MiningAction;
use crate::infer::worker::Outcome;
use crate::infer::{Directive, Subject};
use hashward_protocol::Body;
use std::time::{Duration, Instant};

impl Agent {
    pub(super) async fn on_inference(&mut self, o: Outcome) {
        let score = o.assessment.to_score(o.sample_ts_ms);
        let topic = self.topics.score.clone();
        self.spool_body(&topic, Body::Score(score)).await;
        if let Some(alert) = o.alert {
            log::warn!(
                "inference: {} ({:?}, {:?})",
                alert.message,
                alert.severity,
                alert.threat_type
            );
            let topic = self.topics.alert.clone();
            self.spool_body(&topic, Body::Alert(alert)).await;
        }
        if let Some(Directive::PauseMining {
            subject,
            threat,
            duration_s,
        }) = o.assessment.directive
        {
            match subject {
                Subject::Rig => {
                    if self.miner.is_running()
                        && self
                            .miner
                            .hold_by_breaker(Instant::now() + Duration::from_secs(duration_s))
                    {
                        log::error!("inference: critical {threat:?}: mining paused for {duration_s} s (circuit breaker)");
                    }
                }
                Subject::Asic(id) => match self.breakers.trip(&id, hashward_common::now_ms() + duration_s * 1000) {
                    Ok(true) => {
                        log::error!("inference: critical {threat:?} on ASIC {id}: pausing it for {duration_s} s (circuit breaker)");
                        send_mining(&self.cfg.asic, &id, MiningAction::Pause, &self.breaker_done);
                    }
                    Ok(false) => {}
                    // Not paused: nothing would remember to resume it.
                    Err(e) => log::error!(
                        "inference: critical {threat:?} on ASIC {id}, not paused: recording the pause failed: {e}"
                    ),
                },
            }
        }
        if let Some(advice) = o.advice {
            if let Some(s) = &advice.suggestion {
                log::info!(
                    "inference: ASIC {}: {:.0} W at {:.0} MHz would be {:.1} % more efficient ({:?} risk)",
                    advice.asic_id,
                    s.target.expected_w,
                    s.target.frequency_mhz,
                    s.improvement_pct,
                    s.risk_level
                );
            }
            let topic = self.topics.advice.clone();
            self.spool_body(&topic, Body::Advice(advice)).await;
        }
    }
}
