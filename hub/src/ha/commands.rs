//! Home Assistant's commands, as it publishes them on the topics discovery gave it:
//! `hashward/ha/{site}/{rig}/pause|resume` (payload `PRESS`) and
//! `hashward/ha/{site}/{rig}/asic/{asic}/power_target` (payload: watts, as HA's number sends it).
//!
//! Pure. Must never guess: an unknown topic, a bad id, a payload that is not the expected one or
//! a power target out of range is an error naming what was wrong.

use super::discovery::{HA_PREFIX, POWER_TARGET_MAX_W, POWER_TARGET_MIN_W};
use hashward_protocol::{Command, RigId, SiteId};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HaCommandError {
    #[error("topic {0:?} is not a hashward Home Assistant command topic")]
    Topic(String),
    #[error("topic {topic:?}: {why}")]
    Id { topic: String, why: String },
    #[error("topic {topic:?}: payload {payload:?} {why}")]
    Payload {
        topic: String,
        payload: String,
        why: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct HaCommand {
    pub site: SiteId,
    pub rig: RigId,
    pub command: Command,
}

pub fn parse(topic: &str, payload: &[u8]) -> Result<HaCommand, HaCommandError> {
    let rest = topic
        .strip_prefix(HA_PREFIX)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| HaCommandError::Topic(topic.to_string()))?;
    let parts: Vec<&str> = rest.split('/').collect();
    let id_err = |why: String| HaCommandError::Id {
        topic: topic.to_string(),
        why,
    };
    let text = String::from_utf8_lossy(payload).trim().to_string();
    let bad = |why: &str| HaCommandError::Payload {
        topic: topic.to_string(),
        payload: text.chars().take(40).collect(),
        why: why.to_string(),
    };
    let (site, rig) = match parts.as_slice() {
        [site, rig, ..] => (
            SiteId::from_topic_level(site).map_err(|e| id_err(format!("site: {e}")))?,
            RigId::from_topic_level(rig).map_err(|e| id_err(format!("rig: {e}")))?,
        ),
        _ => return Err(HaCommandError::Topic(topic.to_string())),
    };
    let command = match parts.as_slice() {
        [_, _, "pause"] | [_, _, "resume"] => {
            if text != "PRESS" {
                return Err(bad("is not PRESS"));
            }
            if parts[2] == "pause" {
                Command::PauseMining
            } else {
                Command::ResumeMining
            }
        }
        [_, _, "asic", asic, "power_target"] => {
            let w: f64 = text.parse().map_err(|_| bad("is not a number of watts"))?;
            if !w.is_finite() || w < f64::from(POWER_TARGET_MIN_W) || w > f64::from(POWER_TARGET_MAX_W) {
                return Err(bad(&format!(
                    "is outside {POWER_TARGET_MIN_W}..={POWER_TARGET_MAX_W} W"
                )));
            }
            // ASIC ids are ids: a `.` arrives encoded (discovery::power_target_topic).
            let asic = RigId::from_topic_level(asic).map_err(|e| id_err(format!("asic: {e}")))?;
            Command::from_parts("set-power-target", Some(asic.as_str()), Some(w.round() as u32))
                .map_err(|e| id_err(e.to_string()))?
        }
        _ => return Err(HaCommandError::Topic(topic.to_string())),
    };
    Ok(HaCommand { site, rig, command })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_and_the_power_target_become_commands() {
        let c = parse("hashward/ha/farm/rig-a/pause", b"PRESS").expect("pause");
        assert_eq!(
            (c.site.as_str(), c.rig.as_str(), c.command),
            ("farm", "rig-a", Command::PauseMining)
        );
        assert_eq!(
            parse("hashward/ha/farm/rig-a/resume", b"PRESS")
                .expect("resume")
                .command,
            Command::ResumeMining
        );
        assert_eq!(
            parse("hashward/ha/farm/rig-a/asic/s19-1/power_target", b"3000.0")
                .expect("number")
                .command,
            Command::SetPowerTarget {
                asic: "s19-1".into(),
                watts: 3000
            }
        );
    }

    #[test]
    fn anything_else_is_refused_naming_why() {
        for (topic, payload, want) in [
            ("hashward/ha/farm/rig-a/pause", "yes", "is not PRESS"),
            (
                "hashward/ha/farm/rig-a/asic/s19-1/power_target",
                "lots",
                "not a number",
            ),
            (
                "hashward/ha/farm/rig-a/asic/s19-1/power_target",
                "50",
                "outside 100..=20000",
            ),
            ("hashward/ha/farm/rig-a/asic/s19-1/power_target", "NaN", "outside"),
            ("hashward/ha/farm/rig-a/reboot", "PRESS", "not a hashward"),
            ("hashward/ha/farm/r!g/pause", "PRESS", "rig"),
            ("hashward/v1/farm/rig-a/cmd", "PRESS", "not a hashward"),
        ] {
            let e = parse(topic, payload.as_bytes()).expect_err(topic).to_string();
            assert!(e.contains(want), "{topic} {payload}: {e}");
        }
    }
}
