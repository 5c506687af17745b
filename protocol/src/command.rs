//! What the hub may ask of one rig, and which config keys it may push.
//!
//! Commands travel as the payload of a [`crate::signed::SignedMessage`] of kind `Command`
//! (postcard, one variant), never retained, with an expiry and a nonce. The pushable key list is
//! shared by the hub (refuses to sign a patch the agents would refuse) and the agent (enforces
//! it): identity, broker, storage and the pinned hub key can only be changed on the rig itself.

use serde::{Deserialize, Serialize};

/// Longest a signed command may stay valid, from issue to expiry.
pub const MAX_COMMAND_TTL_MS: u64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Stop the CPU miner and start it again from the current config.
    RestartMiner,
    /// Stop hashing until `ResumeMining` (the pool connection stays up).
    PauseMining,
    ResumeMining,
    /// Forget the current tuning search and start a new one now.
    Retune,
    /// Poll every ASIC on the rig now instead of on schedule.
    RepollAsics,
    /// Reply with recent log lines and the agent's state.
    Diagnostics,
}

impl Command {
    pub const ALL: [Command; 6] = [
        Command::RestartMiner,
        Command::PauseMining,
        Command::ResumeMining,
        Command::Retune,
        Command::RepollAsics,
        Command::Diagnostics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Command::RestartMiner => "restart-miner",
            Command::PauseMining => "pause",
            Command::ResumeMining => "resume",
            Command::Retune => "retune",
            Command::RepollAsics => "repoll-asics",
            Command::Diagnostics => "diagnostics",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown command {0:?} (one of: restart-miner, pause, resume, retune, repoll-asics, diagnostics)")]
pub struct UnknownCommand(pub String);

impl std::str::FromStr for Command {
    type Err = UnknownCommand;
    fn from_str(s: &str) -> Result<Command, UnknownCommand> {
        Command::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownCommand(s.to_string()))
    }
}

/// Whether `section.key` of the agent config may be set by a signed push. Top-level keys
/// (`site`, `rig`, `data_dir`) and the `broker`, `spool` and `fleet` sections may not: a push
/// that could move a rig to another broker or unpin the hub's key would outlive the hub's
/// authority over it. Pools and wallets, tuning bounds, thermal and power limits, intervals are
/// pushable.
pub fn is_pushable(section: &str, key: &str) -> bool {
    match section {
        "telemetry" => key == "interval_ms",
        // hardware_root is where sensors are read: a test hook, not fleet policy.
        "miner" => key != "hardware_root",
        "watchdog" => true,
        // Credentials stay in the rig's 0600 file.
        "asic" => key != "credentials_file",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Command::ALL {
            assert_eq!(c.name().parse::<Command>(), Ok(c));
        }
        assert!("reboot".parse::<Command>().is_err());
    }

    #[test]
    fn identity_and_transport_are_not_pushable() {
        assert!(is_pushable("miner", "pools"));
        assert!(is_pushable("miner", "thermal_hard_limit_c"));
        assert!(is_pushable("telemetry", "interval_ms"));
        assert!(!is_pushable("broker", "url"));
        assert!(!is_pushable("fleet", "hub_public_key"));
        assert!(!is_pushable("spool", "max_bytes"));
        assert!(!is_pushable("miner", "hardware_root"));
        assert!(!is_pushable("asic", "credentials_file"));
    }
}
