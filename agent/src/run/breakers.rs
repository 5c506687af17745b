//! The inference circuit breaker on ASICs: pauses and resumes sent off the main loop, and what
//! the record of paused machines does with each outcome.
//!
//! Must never forget a machine it paused while its resume has not succeeded: a forgotten pause
//! is a machine that stays off.

use super::Agent;
use crate::asic::client::AsicClient;
use crate::asic::config::AsicSection;
use crate::asic::control::{self as asic_control, MiningAction};
use std::time::Duration;
use tokio::sync::mpsc;

/// How a pause or resume sent for the circuit breaker ended (back to the main loop, which keeps
/// the record in step: a failed resume is retried, a failed pause is forgotten).
pub(super) struct BreakerSent {
    pub id: String,
    pub action: MiningAction,
    pub result: Result<(), String>,
    /// False when `id` is no longer in `[asic]`: nobody here can resume it.
    pub configured: bool,
}

/// A failed resume is tried again after this long.
pub(super) const BREAKER_RETRY_MS: u64 = 60_000;

/// What the breaker record does with one outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RecordStep {
    /// Resumed, or left `[asic]` so nobody here can resume it: off the record.
    Forget,
    /// The resume failed: due again after [`BREAKER_RETRY_MS`].
    RetryResume,
    /// The pause failed: the machine runs, so nothing is to be resumed.
    PauseFailed,
    /// The pause went through: the record already holds it.
    Keep,
}

pub(super) fn record_step(action: MiningAction, ok: bool, configured: bool) -> RecordStep {
    match (action, ok) {
        (MiningAction::Resume, true) => RecordStep::Forget,
        (MiningAction::Resume, false) if !configured => RecordStep::Forget,
        (MiningAction::Resume, false) => RecordStep::RetryResume,
        (_, true) => RecordStep::Keep,
        (_, false) => RecordStep::PauseFailed,
    }
}

/// Pauses or resumes the configured ASIC `id` for the inference circuit breaker, off the main
/// loop; the outcome goes to `done`. Only Vnish firmware can pause; for the others the log says
/// why it did not happen.
pub(super) fn send_mining(
    section: &AsicSection,
    id: &str,
    action: MiningAction,
    done: &mpsc::UnboundedSender<BreakerSent>,
) {
    let spec = section
        .load_credentials()
        .and_then(|c| section.asic_specs(&c))
        .map_err(|e| e.to_string())
        .map(|specs| specs.into_iter().find(|s| s.id == id));
    let timeout = Duration::from_millis(section.request_timeout_ms);
    let (id, done) = (id.to_string(), done.clone());
    tokio::spawn(async move {
        let configured = !matches!(spec, Ok(None));
        let result = async {
            let spec = spec?.ok_or_else(|| format!("no ASIC {id:?} in [asic] any more"))?;
            let mut client = AsicClient::connect(&spec, timeout)
                .await
                .map_err(|e| e.to_string())?;
            asic_control::mining(&mut client, action)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        match &result {
            Ok(()) => log::warn!("inference: ASIC {id}: {} sent (circuit breaker)", action.name()),
            Err(e) => log::error!("inference: ASIC {id}: {} failed: {e}", action.name()),
        }
        // The receiver goes only when the agent stops; the record on disk then still holds it.
        let _ = done.send(BreakerSent {
            id,
            action,
            result,
            configured,
        });
    });
}

impl Agent {
    /// A pause or resume sent for the breaker came back: keep the record in step.
    pub(super) fn on_breaker_sent(&mut self, sent: BreakerSent) {
        let step = match record_step(sent.action, sent.result.is_ok(), sent.configured) {
            RecordStep::Forget => {
                if sent.result.is_err() {
                    log::error!(
                        "inference: ASIC {} left [asic] while paused by the circuit breaker: resume it by hand",
                        sent.id
                    );
                }
                self.breakers.resumed(&sent.id)
            }
            RecordStep::RetryResume => {
                log::error!(
                    "inference: ASIC {} is still paused; trying again in {} s",
                    sent.id,
                    BREAKER_RETRY_MS / 1000
                );
                self.breakers
                    .resume_failed(&sent.id, hashward_common::now_ms() + BREAKER_RETRY_MS)
            }
            RecordStep::PauseFailed => self.breakers.pause_failed(&sent.id),
            RecordStep::Keep => Ok(()),
        };
        if let Err(e) = step {
            log::error!("inference: recording the ASIC circuit breaker in the data dir failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_moves_the_record_as_it_must() {
        use MiningAction::{Pause, Resume};
        assert_eq!(record_step(Resume, true, true), RecordStep::Forget);
        assert_eq!(record_step(Resume, false, true), RecordStep::RetryResume);
        assert_eq!(
            record_step(Resume, false, false),
            RecordStep::Forget,
            "left [asic]: nobody can resume it"
        );
        assert_eq!(record_step(Pause, true, true), RecordStep::Keep);
        assert_eq!(record_step(Pause, false, true), RecordStep::PauseFailed);
        assert_eq!(record_step(Pause, false, false), RecordStep::PauseFailed);
    }
}
