//! Power source: reads /sys/class/power_supply/* (type, online, status, capacity, scope) under a
//! configurable root and decides AC, battery or unknown.
//! Must never claim AC or battery without a supply saying so: no supplies is `Unknown`
//! (desktops, servers, VMs), which the caller may treat as AC — that choice is the caller's.
use std::fmt;
use std::path::Path;

use super::{read_optional, HwError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupplyKind {
    Battery,
    Mains,
    /// USB, USB_C, USB_PD... : external power when online.
    Usb,
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerSupply {
    /// Directory name, e.g. "BAT0", "AC", "hidpp_battery_0".
    pub name: String,
    pub kind: SupplyKind,
    /// `online` for mains/USB supplies.
    pub online: Option<bool>,
    /// `status` for batteries: Charging, Discharging, Full, Not charging, Unknown.
    pub status: Option<String>,
    /// `capacity` in percent for batteries.
    pub capacity: Option<u8>,
    /// `scope` is "Device": a peripheral's battery (wireless mouse), not the system's.
    pub device_scope: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    Ac,
    /// Running on battery; `percent` is None when no battery reports a capacity.
    Battery {
        percent: Option<u8>,
    },
    /// No system power supply is described (desktops, servers, VMs) or the ones present are
    /// inconclusive. Callers treat this as AC.
    Unknown,
}

impl PowerState {
    /// The caller's policy: only a battery that is really discharging limits the miner.
    pub fn treat_as_ac(&self) -> bool {
        !matches!(self, PowerState::Battery { .. })
    }
}

impl fmt::Display for PowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PowerState::Ac => write!(f, "ac"),
            PowerState::Battery { percent: Some(p) } => write!(f, "battery {p}%"),
            PowerState::Battery { percent: None } => write!(f, "battery"),
            PowerState::Unknown => write!(f, "unknown"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Power {
    pub supplies: Vec<PowerSupply>,
    pub state: PowerState,
}

/// Decides the state from the supplies. Pure, for tests.
/// Battery = a system battery is discharging and no mains/USB supply is online.
pub fn power_state(supplies: &[PowerSupply]) -> PowerState {
    let external_online = supplies
        .iter()
        .any(|s| matches!(s.kind, SupplyKind::Mains | SupplyKind::Usb) && s.online == Some(true));
    let batteries: Vec<&PowerSupply> = supplies
        .iter()
        .filter(|s| s.kind == SupplyKind::Battery && !s.device_scope)
        .collect();
    let discharging = batteries
        .iter()
        .any(|b| b.status.as_deref() == Some("Discharging"));
    if discharging && !external_online {
        let caps: Vec<u32> = batteries
            .iter()
            .filter_map(|b| b.capacity.map(u32::from))
            .collect();
        let percent = if caps.is_empty() {
            None
        } else {
            // Mean over batteries (ThinkPads have two); capacity is already clamped to 100.
            u8::try_from(caps.iter().sum::<u32>() / caps.len() as u32).ok()
        };
        return PowerState::Battery { percent };
    }
    let charging = batteries
        .iter()
        .any(|b| matches!(b.status.as_deref(), Some("Charging" | "Full" | "Not charging")));
    if external_online || charging {
        PowerState::Ac
    } else {
        PowerState::Unknown
    }
}

fn optional(path: &Path, problems: &mut Vec<HwError>) -> Option<String> {
    match read_optional(path) {
        Ok(v) => v,
        Err(e) => {
            problems.push(e);
            None
        }
    }
}

pub fn read_power(root: &Path, problems: &mut Vec<HwError>) -> Power {
    let base = root.join("sys/class/power_supply");
    let mut dirs: Vec<_> = match std::fs::read_dir(&base) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    };
    dirs.sort();
    let mut supplies = Vec::new();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(kind_text) = optional(&dir.join("type"), problems) else {
            continue;
        };
        let kind = match kind_text.as_str() {
            "Battery" => SupplyKind::Battery,
            "Mains" => SupplyKind::Mains,
            t if t.starts_with("USB") => SupplyKind::Usb,
            t => SupplyKind::Other(t.to_string()),
        };
        let online = match optional(&dir.join("online"), problems).as_deref() {
            Some("0") => Some(false),
            Some(v) if v.parse::<u32>().is_ok() => Some(true),
            Some(v) => {
                problems.push(HwError::Parse {
                    path: dir.join("online"),
                    content: v.to_string(),
                });
                None
            }
            None => None,
        };
        let capacity = optional(&dir.join("capacity"), problems).and_then(|v| {
            let parsed = v.parse::<u8>().ok().map(|c| c.min(100));
            if parsed.is_none() {
                problems.push(HwError::Parse {
                    path: dir.join("capacity"),
                    content: v,
                });
            }
            parsed
        });
        let status = optional(&dir.join("status"), problems);
        let device_scope = optional(&dir.join("scope"), problems).as_deref() == Some("Device");
        supplies.push(PowerSupply {
            name,
            kind,
            online,
            status,
            capacity,
            device_scope,
        });
    }
    let state = power_state(&supplies);
    Power { supplies, state }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bat(status: &str, cap: u8) -> PowerSupply {
        PowerSupply {
            name: "BAT0".into(),
            kind: SupplyKind::Battery,
            online: None,
            status: Some(status.into()),
            capacity: Some(cap),
            device_scope: false,
        }
    }
    fn mains(on: bool) -> PowerSupply {
        PowerSupply {
            name: "AC".into(),
            kind: SupplyKind::Mains,
            online: Some(on),
            status: None,
            capacity: None,
            device_scope: false,
        }
    }

    #[test]
    fn states() {
        assert_eq!(power_state(&[]), PowerState::Unknown);
        assert!(PowerState::Unknown.treat_as_ac());
        assert_eq!(
            power_state(&[bat("Discharging", 57), mains(false)]),
            PowerState::Battery { percent: Some(57) }
        );
        assert_eq!(
            power_state(&[bat("Discharging", 57), mains(true)]),
            PowerState::Ac
        );
        assert_eq!(power_state(&[bat("Charging", 57), mains(false)]), PowerState::Ac);
        assert_eq!(power_state(&[bat("Full", 100)]), PowerState::Ac);
        assert_eq!(power_state(&[mains(true)]), PowerState::Ac);
        assert_eq!(
            power_state(&[bat("Unknown", 80), mains(false)]),
            PowerState::Unknown
        );
        let mut mouse = bat("Discharging", 20);
        mouse.device_scope = true;
        assert_eq!(power_state(&[mouse]), PowerState::Unknown);
        let mut b1 = bat("Discharging", 40);
        b1.name = "BAT1".into();
        assert_eq!(
            power_state(&[bat("Discharging", 60), b1]),
            PowerState::Battery { percent: Some(50) }
        );
    }
}
