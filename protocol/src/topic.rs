//! The MQTT topic map, prefix `hashward/v1`, with builders and a strict parser.
//!
//! agent -> hub: `{site}/{rig}/state|tele|perf|alert|ack|score|advice|depin` and `{site}/{rig}/asic/{miner}`.
//! hub -> agent: `{site}/{rig}/cfg`, `{site}/cfg`, `fleet/cfg`, `{site}/{rig}/cmd`, `fleet/hints`,
//! `fleet/models`. Dashboards read JSON under [`JSON_PREFIX`]. A topic that does not parse is
//! rejected, never guessed at. `fleet` is reserved and cannot be a site id.
//!
//! Ids are written as topic levels with `.` encoded (`RigId::topic_level`, for NATS's MQTT
//! listener, which refuses dots); the parser reads both the encoded and the raw form, so agents
//! that publish raw dotted ids to mosquitto keep working.

use crate::ids::{IdError, RigId, SiteId};

pub const TOPIC_PREFIX: &str = "hashward/v1";
pub const JSON_PREFIX: &str = "hashward/json";
/// The levels under `{site}/{rig}/` an agent publishes to (MQTT filter syntax for the ASIC
/// miners): what a broker ACL must let a rig write. Every uplink [`Topic`] is one of these.
pub const UPLINK_LEAVES: [&str; 9] = [
    "state", "tele", "perf", "alert", "ack", "score", "advice", "asic/+", "depin",
];

/// Shared-subscription group hubs join when several split a clustered broker's load.
pub const HUB_SHARE_GROUP: &str = "hashward-hub";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    State { site: SiteId, rig: RigId },
    Tele { site: SiteId, rig: RigId },
    Asic { site: SiteId, rig: RigId, miner: String },
    Perf { site: SiteId, rig: RigId },
    Alert { site: SiteId, rig: RigId },
    Ack { site: SiteId, rig: RigId },
    Score { site: SiteId, rig: RigId },
    Advice { site: SiteId, rig: RigId },
    Depin { site: SiteId, rig: RigId },
    RigCfg { site: SiteId, rig: RigId },
    RigCmd { site: SiteId, rig: RigId },
    SiteCfg { site: SiteId },
    FleetCfg,
    FleetHints,
    FleetModels,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("topic {0:?} is not under {TOPIC_PREFIX}/")]
    Prefix(String),
    #[error("topic {0:?} does not match the hashward topic map")]
    Unknown(String),
    #[error("topic {topic:?}: {source}")]
    Id { topic: String, source: IdError },
}

impl Topic {
    /// Whether this topic carries agent -> hub envelopes (as opposed to hub -> agent traffic).
    pub fn is_uplink(&self) -> bool {
        matches!(
            self,
            Topic::State { .. }
                | Topic::Tele { .. }
                | Topic::Asic { .. }
                | Topic::Perf { .. }
                | Topic::Alert { .. }
                | Topic::Ack { .. }
                | Topic::Score { .. }
                | Topic::Advice { .. }
                | Topic::Depin { .. }
        )
    }

    /// The site and rig of an agent's own topic.
    pub fn rig(&self) -> Option<(&SiteId, &RigId)> {
        match self {
            Topic::State { site, rig }
            | Topic::Tele { site, rig }
            | Topic::Asic { site, rig, .. }
            | Topic::Perf { site, rig }
            | Topic::Alert { site, rig }
            | Topic::Ack { site, rig }
            | Topic::Score { site, rig }
            | Topic::Advice { site, rig }
            | Topic::Depin { site, rig }
            | Topic::RigCfg { site, rig }
            | Topic::RigCmd { site, rig } => Some((site, rig)),
            _ => None,
        }
    }

    pub fn parse(topic: &str) -> Result<Topic, TopicError> {
        let rest = topic
            .strip_prefix(TOPIC_PREFIX)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| TopicError::Prefix(topic.to_string()))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let unknown = || TopicError::Unknown(topic.to_string());
        let id_err = |source| TopicError::Id {
            topic: topic.to_string(),
            source,
        };
        match parts.as_slice() {
            ["fleet", "cfg"] => Ok(Topic::FleetCfg),
            ["fleet", "hints"] => Ok(Topic::FleetHints),
            ["fleet", "models"] => Ok(Topic::FleetModels),
            ["fleet", ..] => Err(unknown()),
            [site, "cfg"] => Ok(Topic::SiteCfg {
                site: SiteId::from_topic_level(site).map_err(id_err)?,
            }),
            [site, rig, leaf @ ..] => {
                let site = SiteId::from_topic_level(site).map_err(id_err)?;
                let rig = RigId::from_topic_level(rig).map_err(id_err)?;
                match leaf {
                    ["state"] => Ok(Topic::State { site, rig }),
                    ["tele"] => Ok(Topic::Tele { site, rig }),
                    ["perf"] => Ok(Topic::Perf { site, rig }),
                    ["alert"] => Ok(Topic::Alert { site, rig }),
                    ["ack"] => Ok(Topic::Ack { site, rig }),
                    ["score"] => Ok(Topic::Score { site, rig }),
                    ["advice"] => Ok(Topic::Advice { site, rig }),
                    ["depin"] => Ok(Topic::Depin { site, rig }),
                    ["cfg"] => Ok(Topic::RigCfg { site, rig }),
                    ["cmd"] => Ok(Topic::RigCmd { site, rig }),
                    ["asic", miner] if !miner.is_empty() => {
                        // Miner ids follow the same rules as rig ids.
                        let miner = RigId::from_topic_level(miner).map_err(id_err)?;
                        Ok(Topic::Asic {
                            site,
                            rig,
                            miner: miner.to_string(),
                        })
                    }
                    _ => Err(unknown()),
                }
            }
            _ => Err(unknown()),
        }
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = TOPIC_PREFIX;
        // Ids as topic levels (dots encoded, see `RigId::topic_level`).
        let (site, rig, leaf) = match self {
            Topic::State { site, rig } => (site, rig, "state"),
            Topic::Tele { site, rig } => (site, rig, "tele"),
            Topic::Perf { site, rig } => (site, rig, "perf"),
            Topic::Alert { site, rig } => (site, rig, "alert"),
            Topic::Ack { site, rig } => (site, rig, "ack"),
            Topic::Score { site, rig } => (site, rig, "score"),
            Topic::Advice { site, rig } => (site, rig, "advice"),
            Topic::Depin { site, rig } => (site, rig, "depin"),
            Topic::RigCfg { site, rig } => (site, rig, "cfg"),
            Topic::RigCmd { site, rig } => (site, rig, "cmd"),
            Topic::Asic { site, rig, miner } => {
                let miner = miner.replace('.', crate::ids::DOT_IN_TOPIC);
                let (s, r) = (site.topic_level(), rig.topic_level());
                return write!(f, "{p}/{s}/{r}/asic/{miner}");
            }
            Topic::SiteCfg { site } => return write!(f, "{p}/{}/cfg", site.topic_level()),
            Topic::FleetCfg => return write!(f, "{p}/fleet/cfg"),
            Topic::FleetHints => return write!(f, "{p}/fleet/hints"),
            Topic::FleetModels => return write!(f, "{p}/fleet/models"),
        };
        write!(f, "{p}/{}/{}/{leaf}", site.topic_level(), rig.topic_level())
    }
}

/// The filter a hub subscribes to for all agent -> hub traffic: plain, or as a shared
/// subscription in `share_group`. Plain is the safe default for a single hub: mosquitto 2.0
/// does not restore shared subscriptions from its persistence file, so whatever agents publish
/// after a broker restart and before the hub resubscribes would be acknowledged and dropped.
pub fn hub_uplink_filter(share_group: Option<&str>) -> String {
    match share_group {
        Some(g) => format!("$share/{g}/{TOPIC_PREFIX}/+/+/#"),
        None => format!("{TOPIC_PREFIX}/+/+/#"),
    }
}

/// Retained JSON summary of one rig for MQTT dashboards.
pub fn json_rig_summary(site: &SiteId, rig: &RigId) -> String {
    format!(
        "{JSON_PREFIX}/{}/{}/summary",
        site.topic_level(),
        rig.topic_level()
    )
}

/// Retained JSON summary of the whole fleet for MQTT dashboards.
pub fn json_fleet_summary() -> String {
    format!("{JSON_PREFIX}/fleet/summary")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (SiteId, RigId) {
        (SiteId::new("s1").expect("id"), RigId::new("r1").expect("id"))
    }

    /// One of every topic.
    fn all_topics() -> Vec<Topic> {
        let (site, rig) = ids();
        vec![
            Topic::State {
                site: site.clone(),
                rig: rig.clone(),
            },
            Topic::Tele {
                site: site.clone(),
                rig: rig.clone(),
            },
            Topic::Asic {
                site: site.clone(),
                rig: rig.clone(),
                miner: "s19-a".into(),
            },
            Topic::Perf {
                site: site.clone(),
                rig: rig.clone(),
            },
            Topic::Alert {
                site: site.clone(),
                rig: rig.clone(),
            },
            Topic::Ack {
                site: site.clone(),
                rig: rig.clone(),
            },
            Topic::Score {
                site: site.clone(),
                rig: rig.clone(),
            },
            Topic::Advice {
                site: site.clone(),
                rig: rig.clone(),
            },
            Topic::Depin {
                site: site.clone(),
                rig: rig.clone(),
            },
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
        ]
    }

    #[test]
    fn every_topic_round_trips() {
        for t in all_topics() {
            assert_eq!(Topic::parse(&t.to_string()), Ok(t.clone()), "{t}");
        }
    }

    #[test]
    fn every_uplink_topic_is_in_the_acl_leaves() {
        let (site, rig) = ids();
        let prefix = format!("{TOPIC_PREFIX}/{site}/{rig}/");
        let uplinks: Vec<String> = all_topics()
            .iter()
            .filter(|t| t.is_uplink())
            .map(Topic::to_string)
            .collect();
        assert_eq!(uplinks.len(), UPLINK_LEAVES.len());
        for s in uplinks {
            let leaf = s.strip_prefix(&prefix).expect("prefix");
            let leaf = if leaf.starts_with("asic/") { "asic/+" } else { leaf };
            assert!(UPLINK_LEAVES.contains(&leaf), "{s} not in UPLINK_LEAVES");
        }
    }

    #[test]
    fn dotted_ids_are_written_encoded_and_read_in_both_forms() {
        let (site, rig) = (
            SiteId::new("farm.eu").expect("id"),
            RigId::new("r.1").expect("id"),
        );
        let t = Topic::Tele {
            site: site.clone(),
            rig: rig.clone(),
        };
        assert_eq!(t.to_string(), "hashward/v1/farm%2Eeu/r%2E1/tele");
        assert_eq!(Topic::parse("hashward/v1/farm.eu/r.1/tele"), Ok(t.clone()));
        assert_eq!(Topic::parse(&t.to_string()), Ok(t));
        let asic = Topic::Asic {
            site,
            rig,
            miner: "s19.a".into(),
        };
        assert_eq!(asic.to_string(), "hashward/v1/farm%2Eeu/r%2E1/asic/s19%2Ea");
        assert_eq!(Topic::parse(&asic.to_string()), Ok(asic));
        assert!(Topic::parse("hashward/v1/s/r%2F1/tele").is_err());
    }

    #[test]
    fn rejects_what_is_not_in_the_map() {
        for bad in [
            "other/v1/s/r/tele",
            "hashward/v1/s/r/tele/extra",
            "hashward/v1/s/r/asic/",
            "hashward/v1/s/r/unknown",
            "hashward/v1/fleet/r/tele",
            "hashward/v1/s",
            "hashward/v1/s+/r/tele",
        ] {
            assert!(Topic::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uplink_filter_plain_or_shared() {
        assert_eq!(hub_uplink_filter(None), "hashward/v1/+/+/#");
        assert_eq!(
            hub_uplink_filter(Some(HUB_SHARE_GROUP)),
            "$share/hashward-hub/hashward/v1/+/+/#"
        );
    }
}
