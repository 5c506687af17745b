//! Home Assistant MQTT discovery payloads (retained on
//! `<prefix>/<component>/<node_id>/<object_id>/config`): one device per rig and one per ASIC
//! (`via_device` its rig), sensors with `device_class`, `state_class`, `unit_of_measurement` and
//! `unique_id`, availability from the rig's JSON summary (`online`), origin info; and the
//! controls: pause/resume buttons per rig, a power-target number per ASIC, whose command topics
//! (under [`HA_PREFIX`]) the hub turns into signed commands.
//!
//! Pure. Must never put free text in a topic or an id: node and object ids are built from the
//! validated rig, site and miner ids with anything outside `[a-zA-Z0-9_-]` replaced.

use hashward_protocol::topic::JSON_PREFIX;
use serde_json::{json, Value};

/// The power targets the agent accepts (`agent/src/asic/control.rs`); Home Assistant's number
/// entity is bounded to them so an out-of-range value is refused in its UI already.
pub const POWER_TARGET_MIN_W: u32 = 100;
pub const POWER_TARGET_MAX_W: u32 = 20_000;

/// Where Home Assistant publishes its controls' commands for the hub to sign.
pub const HA_PREFIX: &str = "hashward/ha";

/// One retained discovery message.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    pub topic: String,
    pub payload: Value,
}

/// Topic-safe id: letters, digits, `_` and `-` only.
pub fn safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn rig_node(site: &str, rig: &str) -> String {
    format!("hashward_{}_{}", safe(site), safe(rig))
}

pub fn asic_node(site: &str, rig: &str, asic: &str) -> String {
    format!("{}_{}", rig_node(site, rig), safe(asic))
}

/// An id as a topic level: `.` encoded as in the agents' topics (`RigId::topic_level`), since
/// NATS's MQTT listener refuses dotted topics.
fn level(id: &str) -> String {
    id.replace('.', hashward_protocol::ids::DOT_IN_TOPIC)
}

pub fn rig_summary_topic(site: &str, rig: &str) -> String {
    format!("{JSON_PREFIX}/{}/{}/summary", level(site), level(rig))
}

/// The retained per-ASIC JSON state the hub publishes for Home Assistant.
pub fn asic_state_topic(site: &str, rig: &str, asic: &str) -> String {
    format!("{JSON_PREFIX}/{}/{}/asic/{}", level(site), level(rig), safe(asic))
}

pub fn pause_topic(site: &str, rig: &str) -> String {
    format!("{HA_PREFIX}/{}/{}/pause", level(site), level(rig))
}

pub fn resume_topic(site: &str, rig: &str) -> String {
    format!("{HA_PREFIX}/{}/{}/resume", level(site), level(rig))
}

pub fn power_target_topic(site: &str, rig: &str, asic: &str) -> String {
    format!(
        "{HA_PREFIX}/{}/{}/asic/{}/power_target",
        level(site),
        level(rig),
        level(asic)
    )
}

fn origin() -> Value {
    json!({"name": "hashward", "sw_version": env!("CARGO_PKG_VERSION")})
}

fn rig_availability(site: &str, rig: &str) -> Value {
    json!({
        "topic": rig_summary_topic(site, rig),
        "value_template": "{{ 'online' if value_json.online else 'offline' }}",
    })
}

/// What a rig's discovery needs to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct RigInfo {
    pub site: String,
    pub rig: String,
    pub agent_version: String,
    pub asics: Vec<AsicInfo>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AsicInfo {
    pub id: String,
    pub model: Option<String>,
}

struct Sensor {
    object: &'static str,
    name: &'static str,
    field: &'static str,
    device_class: Option<&'static str>,
    unit: Option<&'static str>,
    state_class: &'static str,
    precision: u8,
}

const RIG_SENSORS: [Sensor; 5] = [
    Sensor {
        object: "hashrate",
        name: "CPU hashrate",
        field: "hashrate_hs",
        device_class: None,
        unit: Some("H/s"),
        state_class: "measurement",
        precision: 0,
    },
    Sensor {
        object: "max_temp",
        name: "Hottest sensor",
        field: "max_temp_c",
        device_class: Some("temperature"),
        unit: Some("°C"),
        state_class: "measurement",
        precision: 1,
    },
    Sensor {
        object: "cpu_usage",
        name: "CPU usage",
        field: "cpu_usage_pct",
        device_class: None,
        unit: Some("%"),
        state_class: "measurement",
        precision: 1,
    },
    Sensor {
        object: "anomaly",
        name: "Anomaly score",
        field: "anomaly_score",
        device_class: None,
        unit: None,
        state_class: "measurement",
        precision: 3,
    },
    Sensor {
        object: "records_missing",
        name: "Records missing",
        field: "missing",
        device_class: None,
        unit: None,
        state_class: "total",
        precision: 0,
    },
];

const ASIC_SENSORS: [Sensor; 6] = [
    Sensor {
        object: "hashrate",
        name: "Hashrate",
        field: "hashrate_ths",
        device_class: None,
        unit: Some("TH/s"),
        state_class: "measurement",
        precision: 2,
    },
    Sensor {
        object: "power",
        name: "Power",
        field: "power_w",
        device_class: Some("power"),
        unit: Some("W"),
        state_class: "measurement",
        precision: 0,
    },
    Sensor {
        object: "chip_temp",
        name: "Chip temperature",
        field: "chip_max_c",
        device_class: Some("temperature"),
        unit: Some("°C"),
        state_class: "measurement",
        precision: 1,
    },
    Sensor {
        object: "efficiency",
        name: "Efficiency",
        field: "efficiency_j_th",
        device_class: None,
        unit: Some("J/TH"),
        state_class: "measurement",
        precision: 2,
    },
    Sensor {
        object: "anomaly",
        name: "Anomaly score",
        field: "anomaly_score",
        device_class: None,
        unit: None,
        state_class: "measurement",
        precision: 3,
    },
    Sensor {
        object: "shares_rejected",
        name: "Shares rejected",
        field: "shares_rejected",
        device_class: None,
        unit: None,
        state_class: "total_increasing",
        precision: 0,
    },
];

fn sensor(
    prefix: &str,
    node: &str,
    device: &Value,
    availability: Value,
    state_topic: &str,
    s: &Sensor,
) -> Discovery {
    let mut p = json!({
        "name": s.name,
        "unique_id": format!("{node}_{}", s.object),
        "state_topic": state_topic,
        "value_template": format!("{{{{ value_json.{} }}}}", s.field),
        "state_class": s.state_class,
        "suggested_display_precision": s.precision,
        "device": device,
        "origin": origin(),
        "availability": availability,
        "availability_mode": "all",
    });
    if let Some(dc) = s.device_class {
        p["device_class"] = json!(dc);
    }
    if let Some(u) = s.unit {
        p["unit_of_measurement"] = json!(u);
    }
    Discovery {
        topic: format!("{prefix}/sensor/{node}/{}/config", s.object),
        payload: p,
    }
}

/// Every discovery message of one rig and its ASICs. `controls`: whether the hub can sign
/// commands (without the key, no button or number is offered).
pub fn rig_discovery(prefix: &str, r: &RigInfo, controls: bool) -> Vec<Discovery> {
    let node = rig_node(&r.site, &r.rig);
    let device = json!({
        "identifiers": [node],
        "name": format!("{} ({})", r.rig, r.site),
        "manufacturer": "hashward",
        "model": "hashward-agent",
        "sw_version": r.agent_version,
    });
    let summary = rig_summary_topic(&r.site, &r.rig);
    let avail = || json!([rig_availability(&r.site, &r.rig)]);
    let mut out: Vec<Discovery> = RIG_SENSORS
        .iter()
        .map(|s| sensor(prefix, &node, &device, avail(), &summary, s))
        .collect();
    if controls {
        for (object, name, topic) in [
            ("pause", "Pause mining", pause_topic(&r.site, &r.rig)),
            ("resume", "Resume mining", resume_topic(&r.site, &r.rig)),
        ] {
            out.push(Discovery {
                topic: format!("{prefix}/button/{node}/{object}/config"),
                payload: json!({
                    "name": name,
                    "unique_id": format!("{node}_{object}"),
                    "command_topic": topic,
                    "payload_press": "PRESS",
                    "device": device,
                    "origin": origin(),
                    "availability": avail(),
                }),
            });
        }
    }
    for a in &r.asics {
        let anode = asic_node(&r.site, &r.rig, &a.id);
        let adevice = json!({
            "identifiers": [anode],
            "name": format!("{} on {}", a.id, r.rig),
            "manufacturer": "hashward",
            "model": a.model.clone().unwrap_or_else(|| "ASIC".into()),
            "via_device": node,
        });
        let state = asic_state_topic(&r.site, &r.rig, &a.id);
        let aavail = || {
            json!([rig_availability(&r.site, &r.rig), {
                "topic": state,
                "value_template": "{{ 'online' if value_json.online else 'offline' }}",
            }])
        };
        for s in &ASIC_SENSORS {
            out.push(sensor(prefix, &anode, &adevice, aavail(), &state, s));
        }
        if controls {
            out.push(Discovery {
                topic: format!("{prefix}/number/{anode}/power_target/config"),
                payload: json!({
                    "name": "Power target",
                    "unique_id": format!("{anode}_power_target"),
                    "command_topic": power_target_topic(&r.site, &r.rig, &a.id),
                    "state_topic": state,
                    "value_template": "{{ value_json.power_limit_w }}",
                    "device_class": "power",
                    "unit_of_measurement": "W",
                    "min": POWER_TARGET_MIN_W,
                    "max": POWER_TARGET_MAX_W,
                    "step": 50,
                    "mode": "box",
                    "device": adevice,
                    "origin": origin(),
                    "availability": aavail(),
                    "availability_mode": "all",
                }),
            });
        }
    }
    out
}

/// The empty retained payloads that remove a rig's (and its ASICs') entities.
pub fn removal(prefix: &str, r: &RigInfo) -> Vec<String> {
    rig_discovery(prefix, r, true)
        .into_iter()
        .map(|d| d.topic)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn rigs() -> Vec<RigInfo> {
        vec![
            RigInfo {
                site: "farm".into(),
                rig: "rig-a".into(),
                agent_version: "0.1.0".into(),
                asics: vec![
                    AsicInfo {
                        id: "s19-1".into(),
                        model: Some("Antminer S19".into()),
                    },
                    AsicInfo {
                        id: "s19.2".into(),
                        model: None,
                    },
                ],
            },
            RigInfo {
                site: "farm".into(),
                rig: "rig.b".into(),
                agent_version: "0.1.0".into(),
                asics: vec![],
            },
        ]
    }

    fn id_ok(s: &str) -> bool {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    /// Units Home Assistant accepts per sensor device class (developers.home-assistant.io,
    /// "Available device classes"), for the classes used here.
    fn units_for(device_class: &str) -> &'static [&'static str] {
        match device_class {
            "temperature" => &["°C", "°F", "K"],
            "power" => &["mW", "W", "kW", "MW", "GW", "TW", "BTU/h"],
            _ => &[],
        }
    }

    /// Every payload checked against the documented schema of its component.
    #[test]
    fn payloads_follow_home_assistants_discovery_schema() {
        let all: Vec<Discovery> = rigs()
            .iter()
            .flat_map(|r| rig_discovery("homeassistant", r, true))
            .collect();
        let mut unique = HashSet::new();
        let mut devices: HashMap<String, Value> = HashMap::new();
        let mut components = HashSet::new();
        for d in &all {
            let parts: Vec<&str> = d.topic.split('/').collect();
            assert_eq!(parts.len(), 5, "{}", d.topic);
            assert_eq!((parts[0], parts[4]), ("homeassistant", "config"), "{}", d.topic);
            assert!(id_ok(parts[2]) && id_ok(parts[3]), "node/object id: {}", d.topic);
            let (component, p) = (parts[1], &d.payload);
            components.insert(component);
            let uid = p["unique_id"].as_str().expect("unique_id");
            assert!(unique.insert(uid.to_string()), "duplicate unique_id {uid}");
            assert!(p["name"].is_string(), "{}", d.topic);
            assert_eq!(p["origin"]["name"], "hashward");
            let dev = &p["device"];
            let ident = dev["identifiers"][0].as_str().expect("device identifiers");
            assert!(dev["name"].is_string() && dev["manufacturer"].is_string() && dev["model"].is_string());
            devices.insert(ident.to_string(), dev.clone());
            for a in p["availability"].as_array().expect("availability list") {
                assert!(a["topic"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("hashward/json/")));
                assert!(a["value_template"]
                    .as_str()
                    .is_some_and(|t| t.contains("value_json.online")));
            }
            match component {
                "sensor" => {
                    assert!(p["state_topic"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("hashward/json/")));
                    assert!(p["value_template"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("{{ value_json.")));
                    let sc = p["state_class"].as_str().expect("state_class");
                    assert!(["measurement", "total", "total_increasing"].contains(&sc), "{sc}");
                    if let Some(dc) = p["device_class"].as_str() {
                        let unit = p["unit_of_measurement"]
                            .as_str()
                            .expect("a device class needs a unit");
                        assert!(units_for(dc).contains(&unit), "{dc} in {unit}");
                    }
                }
                "button" => {
                    assert!(p["command_topic"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("hashward/ha/")));
                    assert_eq!(p["payload_press"], "PRESS");
                    assert!(p.get("state_topic").is_none());
                }
                "number" => {
                    assert!(p["command_topic"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("hashward/ha/")));
                    let (min, max, step) = (
                        p["min"].as_f64().expect("min"),
                        p["max"].as_f64().expect("max"),
                        p["step"].as_f64().expect("step"),
                    );
                    assert!(min < max && step > 0.0);
                    assert_eq!(p["device_class"], "power");
                    assert_eq!(p["unit_of_measurement"], "W");
                    assert!(["box", "slider", "auto"].contains(&p["mode"].as_str().expect("mode")));
                }
                other => panic!("unexpected component {other}"),
            }
        }
        assert_eq!(components, HashSet::from(["sensor", "button", "number"]));
        // One device per rig and per ASIC; every ASIC is via a rig device that exists.
        assert_eq!(devices.len(), 2 + 2);
        for (id, dev) in &devices {
            if let Some(via) = dev["via_device"].as_str() {
                assert!(
                    devices.contains_key(via) && devices[via]["via_device"].is_null(),
                    "{id} via {via}"
                );
            }
        }
        assert_eq!(
            devices.values().filter(|d| d["via_device"].is_string()).count(),
            2
        );
        // A '.' in an id never reaches a topic level.
        assert!(all.iter().any(|d| d.topic.contains("hashward_farm_rig_b")));
    }

    #[test]
    fn without_the_signing_key_there_are_no_controls_and_removal_covers_all() {
        let r = &rigs()[0];
        let sensors = rig_discovery("ha", r, false);
        assert!(sensors.iter().all(|d| d.topic.starts_with("ha/sensor/")));
        let gone = removal("ha", r);
        assert_eq!(gone.len(), rig_discovery("ha", r, true).len());
        assert!(gone.iter().any(|t| t.starts_with("ha/number/")));
    }
}
