//! What the hub may ask of one rig, and which config keys it may push.
//!
//! Commands travel as the payload of a [`crate::signed::SignedMessage`] of kind `Command`
//! (postcard, one variant), never retained, with an expiry and a nonce. The pushable key list is
//! shared by the hub (refuses to sign a patch the agents would refuse) and the agent (enforces
//! it): identity, broker, storage and the pinned hub key can only be changed on the rig itself.

use crate::ids::{IdError, RigId};
use serde::{Deserialize, Serialize};

/// Longest a signed command may stay valid, from issue to expiry.
pub const MAX_COMMAND_TTL_MS: u64 = 3_600_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Run the ASIC `asic` (its id in the rig's `[asic]` section) at the highest tuned power
    /// preset at or below `watts` (schema 3).
    SetPowerTarget {
        asic: String,
        watts: u32,
    },
}

impl Command {
    /// Every command's name, as the hub's command line takes it.
    pub const NAMES: [&'static str; 7] = [
        "restart-miner",
        "pause",
        "resume",
        "retune",
        "repoll-asics",
        "diagnostics",
        "set-power-target",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Command::RestartMiner => "restart-miner",
            Command::PauseMining => "pause",
            Command::ResumeMining => "resume",
            Command::Retune => "retune",
            Command::RepollAsics => "repoll-asics",
            Command::Diagnostics => "diagnostics",
            Command::SetPowerTarget { .. } => "set-power-target",
        }
    }

    /// Builds the command `name` from the arguments an operator gave: `set-power-target` needs
    /// both `asic` and `watts`, every other command takes neither. An argument a command does
    /// not take is refused rather than ignored, so an operator never believes it was sent.
    pub fn from_parts(name: &str, asic: Option<&str>, watts: Option<u32>) -> Result<Command, CommandError> {
        let simple = match name {
            "restart-miner" => Command::RestartMiner,
            "pause" => Command::PauseMining,
            "resume" => Command::ResumeMining,
            "retune" => Command::Retune,
            "repoll-asics" => Command::RepollAsics,
            "diagnostics" => Command::Diagnostics,
            "set-power-target" => {
                let asic = asic.ok_or(CommandError::Missing {
                    command: "set-power-target",
                    argument: "asic",
                })?;
                let watts = watts.ok_or(CommandError::Missing {
                    command: "set-power-target",
                    argument: "watts",
                })?;
                // ASIC ids are topic levels on the rig, with the rules of rig ids.
                RigId::new(asic).map_err(|e| CommandError::AsicId(asic.to_string(), e))?;
                if watts == 0 {
                    return Err(CommandError::ZeroWatts);
                }
                return Ok(Command::SetPowerTarget {
                    asic: asic.to_string(),
                    watts,
                });
            }
            other => return Err(CommandError::Unknown(other.to_string())),
        };
        let command = simple.name();
        if asic.is_some() {
            return Err(CommandError::Unexpected {
                command,
                argument: "asic",
            });
        }
        if watts.is_some() {
            return Err(CommandError::Unexpected {
                command,
                argument: "watts",
            });
        }
        Ok(simple)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command {0:?} (one of: restart-miner, pause, resume, retune, repoll-asics, diagnostics, set-power-target)")]
    Unknown(String),
    #[error("{command} needs --{argument}")]
    Missing {
        command: &'static str,
        argument: &'static str,
    },
    #[error("{command} takes no --{argument}")]
    Unexpected {
        command: &'static str,
        argument: &'static str,
    },
    #[error("ASIC id {0:?}: {1}")]
    AsicId(String, IdError),
    #[error("set-power-target needs watts above 0")]
    ZeroWatts,
}

/// Parses a command that takes no arguments; `set-power-target` needs [`Command::from_parts`].
impl std::str::FromStr for Command {
    type Err = CommandError;
    fn from_str(s: &str) -> Result<Command, CommandError> {
        Command::from_parts(s, None, None)
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
        for name in Command::NAMES {
            let (asic, watts) = if name == "set-power-target" {
                (Some("s19-a"), Some(3000))
            } else {
                (None, None)
            };
            let c = Command::from_parts(name, asic, watts).expect(name);
            assert_eq!(c.name(), name);
        }
        assert_eq!("pause".parse::<Command>(), Ok(Command::PauseMining));
        assert_eq!(
            "reboot".parse::<Command>(),
            Err(CommandError::Unknown("reboot".into()))
        );
    }

    #[test]
    fn set_power_target_needs_its_arguments_and_others_refuse_them() {
        assert_eq!(
            Command::from_parts("set-power-target", Some("s19-a"), Some(3250)),
            Ok(Command::SetPowerTarget {
                asic: "s19-a".into(),
                watts: 3250
            })
        );
        assert_eq!(
            "set-power-target".parse::<Command>(),
            Err(CommandError::Missing {
                command: "set-power-target",
                argument: "asic"
            })
        );
        assert_eq!(
            Command::from_parts("set-power-target", Some("s19-a"), None),
            Err(CommandError::Missing {
                command: "set-power-target",
                argument: "watts"
            })
        );
        assert_eq!(
            Command::from_parts("set-power-target", Some("s19-a"), Some(0)),
            Err(CommandError::ZeroWatts)
        );
        assert!(matches!(
            Command::from_parts("set-power-target", Some("a/b"), Some(3000)),
            Err(CommandError::AsicId(..))
        ));
        assert_eq!(
            Command::from_parts("retune", None, Some(3000)),
            Err(CommandError::Unexpected {
                command: "retune",
                argument: "watts"
            })
        );
        assert_eq!(
            Command::from_parts("pause", Some("s19-a"), None),
            Err(CommandError::Unexpected {
                command: "pause",
                argument: "asic"
            })
        );
    }

    #[test]
    fn released_commands_keep_their_bytes() {
        // postcard is positional: the variant index is the first byte and must never move.
        let released = [
            Command::RestartMiner,
            Command::PauseMining,
            Command::ResumeMining,
            Command::Retune,
            Command::RepollAsics,
            Command::Diagnostics,
        ];
        for (i, c) in released.iter().enumerate() {
            assert_eq!(postcard::to_stdvec(c).expect("encode"), vec![i as u8]);
        }
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
