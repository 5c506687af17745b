//! Signed operator commands, already verified by the fleet handler: what each does to the
//! running agent and the outcome its ack carries.
//!
//! Must never ack `Applied` for something that did not happen, and never put more than
//! [`DIAG_MAX_BYTES`] into a diagnostics report (it travels in one MQTT message).

use super::miner_service::MinerCommand;
use super::Agent;
use hashward_protocol::{AckOutcome, Command};

const DIAG_LOG_LINES: usize = 100;
pub(super) const DIAG_MAX_BYTES: usize = 32 * 1024;

impl Agent {
    /// Runs a verified command; the ack's outcome.
    pub(super) async fn run_command(&mut self, cmd: Command) -> AckOutcome {
        let no_miner = || AckOutcome::Rejected("no CPU miner runs on this rig".into());
        match cmd {
            Command::RestartMiner => {
                if !self.cfg.miner.is_enabled() {
                    return no_miner();
                }
                match self.miner.restart(&self.cfg.miner, &self.cfg.tune).await {
                    Ok(()) => AckOutcome::Applied,
                    Err(e) => AckOutcome::Rejected(format!("miner did not restart: {e}")),
                }
            }
            Command::PauseMining | Command::ResumeMining => {
                if !self.miner.is_running() {
                    return no_miner();
                }
                match self.miner.hold_by_operator(cmd == Command::PauseMining) {
                    Ok(()) => {
                        if self.miner.holds.breaker.is_some() {
                            log::warn!("miner: the operator's pause is lifted, but the circuit breaker holds the miner until it releases");
                        }
                        AckOutcome::Applied
                    }
                    Err(e) => {
                        AckOutcome::Rejected(format!("could not record the pause in the data dir: {e}"))
                    }
                }
            }
            Command::Retune => {
                if self.miner.send(MinerCommand::Retune) {
                    AckOutcome::Applied
                } else {
                    no_miner()
                }
            }
            Command::RepollAsics => match self.asic.handle() {
                Some(h) => {
                    let n = h.repoll_now();
                    log::info!("asic: re-polling {n} ASIC(s) now by operator command");
                    AckOutcome::Applied
                }
                None => AckOutcome::Rejected("no ASIC poller runs on this rig".into()),
            },
            Command::Diagnostics => {
                AckOutcome::Report(truncate_report(self.diagnostics().to_string(), DIAG_MAX_BYTES))
            }
        }
    }

    /// What an operator needs to see of this agent without logging in.
    fn diagnostics(&self) -> serde_json::Value {
        let cfg = &self.cfg;
        serde_json::json!({
            "agent_version": env!("CARGO_PKG_VERSION"),
            "site": cfg.site,
            "rig": cfg.rig,
            "config_versions": self.fleet.versions(),
            "config_in_force": std::fs::read_to_string(cfg.data_dir.join(super::reconfigure::CONFIG_IN_FORCE_FILE)).ok(),
            "pools": cfg.miner.pools.iter().map(|p| &p.url).collect::<Vec<_>>(),
            "miner": self.miner.miner().map(|m| m.telemetry()),
            "asic": self.asic.handle().map(|h| serde_json::json!({
                "counters": h.counters(),
                "miners": h.asics().iter().map(|m| serde_json::json!({
                    "id": m.id, "reachable": m.reachable, "last_error": m.last_error,
                    "quarantine": m.quarantine, "interval_ms": m.interval_ms,
                })).collect::<Vec<_>>(),
            })),
            "spool": match self.spool.stats() {
                Ok(s) => serde_json::json!({"records": s.records, "bytes": s.bytes, "dropped": s.dropped}),
                Err(e) => serde_json::json!({"error": e.to_string()}),
            },
            "log": crate::logring::recent(DIAG_LOG_LINES)
                .unwrap_or_else(|| vec!["(log capture is not enabled in this process)".into()]),
        })
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub(super) fn truncate_report(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_cut_on_a_character_boundary() {
        assert_eq!(truncate_report("short".into(), 10), "short");
        assert_eq!(truncate_report("abcdef".into(), 4), "abcd");
        // "é" is two bytes: a cut at 2 would split it.
        assert_eq!(truncate_report("aéb".into(), 2), "a");
        assert_eq!(truncate_report("aéb".into(), 3), "aé");
    }
}
