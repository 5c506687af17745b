//! Signed operator commands, already verified by the fleet handler: what each does to the
//! running agent and the outcome its ack carries.
//!
//! Must never ack `Applied` for something that did not happen, never send a power target to a
//! machine that is not in `[asic]` or outside the allowed range, and never put more than
//! [`DIAG_MAX_BYTES`] into a diagnostics report (it travels in one MQTT message).

use super::miner_service::MinerCommand;
use super::Agent;
use crate::asic::client::AsicClient;
use crate::asic::config::AsicSection;
use crate::asic::control::{self as asic_control, PowerTargetApplied};
use hashward_protocol::{AckOutcome, Command};
use std::time::Duration;

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
            Command::SetPowerTarget { asic, watts } => {
                if let Err(why) = check_power_target(&self.cfg.asic, &asic, watts) {
                    return AckOutcome::Rejected(why);
                }
                match set_power_target(&self.cfg.asic, &asic, watts).await {
                    Ok(applied) => {
                        log::info!(
                            "asic: {asic}: power target {watts} W by operator command: preset {} ({} W){}",
                            applied.preset,
                            applied.watts,
                            if applied.changed { "" } else { ", already in force" }
                        );
                        // The hub sees the new preset in the next telemetry, not a minute later.
                        if let Some(h) = self.asic.handle() {
                            h.repoll_now();
                        }
                        AckOutcome::Report(power_target_report(&asic, watts, &applied).to_string())
                    }
                    Err(e) => {
                        log::error!("asic: {asic}: power target {watts} W failed: {e}");
                        AckOutcome::Rejected(format!("ASIC {asic}: power target {watts} W: {e}"))
                    }
                }
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

/// Why a power target for `asic` is refused before anything is sent: the ASIC must be one this
/// rig is configured to control, and the watts inside what any ASIC can run at.
pub(super) fn check_power_target(section: &AsicSection, asic: &str, watts: u32) -> Result<(), String> {
    if !section.enabled {
        return Err("ASICs are disabled in [asic] on this rig".into());
    }
    if !section.miners.iter().any(|m| m.id == asic) {
        return Err(format!("no ASIC {asic:?} in [asic] on this rig"));
    }
    asic_control::check_target(f64::from(watts)).map_err(|e| e.to_string())
}

/// Connects to the configured ASIC `asic` and sets its power target. The firmware calls are
/// each bound by the request timeout; the whole by a few of them, so a firmware that answers
/// slowly cannot hold the agent's loop.
async fn set_power_target(
    section: &AsicSection,
    asic: &str,
    watts: u32,
) -> Result<PowerTargetApplied, String> {
    let creds = section.load_credentials().map_err(|e| e.to_string())?;
    let spec = section
        .asic_specs(&creds)
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|s| s.id == asic)
        .ok_or_else(|| format!("no ASIC {asic:?} in [asic] on this rig"))?;
    let timeout = Duration::from_millis(section.request_timeout_ms);
    let work = async {
        let mut client = AsicClient::connect(&spec, timeout)
            .await
            .map_err(|e| e.to_string())?;
        asic_control::set_power_target(&mut client, f64::from(watts))
            .await
            .map_err(|e| e.to_string())
    };
    // Detection plus presets, settings, the change and the read-back.
    tokio::time::timeout(timeout * POWER_TARGET_CALLS, work)
        .await
        .map_err(|_| {
            format!(
                "no answer within {} ms",
                (timeout * POWER_TARGET_CALLS).as_millis()
            )
        })?
}

/// Firmware requests a power target takes at most (detection included).
const POWER_TARGET_CALLS: u32 = 8;

/// The ack's report of an applied power target: structured, units in the names.
fn power_target_report(asic: &str, watts: u32, applied: &PowerTargetApplied) -> serde_json::Value {
    serde_json::json!({
        "asic_id": asic,
        "requested_w": watts,
        "preset": applied.preset,
        "preset_w": applied.watts,
        "changed": applied.changed,
    })
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

    fn section(enabled: bool, ids: &[&str]) -> AsicSection {
        let miners: String = ids
            .iter()
            .map(|id| format!("[[miners]]\nid = \"{id}\"\nip = \"10.0.0.5\"\n"))
            .collect();
        toml::from_str(&format!("enabled = {enabled}\n{miners}")).expect("section")
    }

    #[test]
    fn a_power_target_needs_a_configured_asic_and_sane_watts() {
        let s = section(true, &["s19-a", "s19-b"]);
        assert_eq!(check_power_target(&s, "s19-b", 3250), Ok(()));
        assert_eq!(check_power_target(&s, "s19-a", 100), Ok(()));
        assert_eq!(check_power_target(&s, "s19-a", 20_000), Ok(()));
        assert_eq!(
            check_power_target(&s, "l7", 3250),
            Err("no ASIC \"l7\" in [asic] on this rig".into())
        );
        let low = check_power_target(&s, "s19-a", 99).expect_err("below the range");
        assert!(low.contains("99"), "{low}");
        assert!(check_power_target(&s, "s19-a", 0).is_err());
        assert!(check_power_target(&s, "s19-a", 20_001).is_err());
        assert_eq!(
            check_power_target(&section(false, &["s19-a"]), "s19-a", 3250),
            Err("ASICs are disabled in [asic] on this rig".into())
        );
    }

    #[test]
    fn an_applied_power_target_reports_fields_with_units() {
        let applied = PowerTargetApplied {
            preset: "3100".into(),
            watts: 3100.0,
            changed: true,
        };
        let r = power_target_report("s19-a", 3250, &applied);
        assert_eq!(r["asic_id"], "s19-a");
        assert_eq!(r["requested_w"], 3250);
        assert_eq!(r["preset"], "3100");
        assert_eq!(r["preset_w"], 3100.0);
        assert_eq!(r["changed"], true);
    }

    #[test]
    fn reports_are_cut_on_a_character_boundary() {
        assert_eq!(truncate_report("short".into(), 10), "short");
        assert_eq!(truncate_report("abcdef".into(), 4), "abcd");
        // "é" is two bytes: a cut at 2 would split it.
        assert_eq!(truncate_report("aéb".into(), 2), "a");
        assert_eq!(truncate_report("aéb".into(), 3), "aé");
    }
}
