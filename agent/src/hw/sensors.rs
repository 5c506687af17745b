//! Thermal sensors: enumerates hwmon chips (/sys/class/hwmon) and thermal zones
//! (/sys/class/thermal) under a configurable root, picks the one that means "CPU package"
//! with a stated reason, and re-reads it on demand.
//! Must never estimate a temperature (e.g. from CPU usage) or fall back to a default value:
//! no sensor is `SensorError::NoSensor`, a sensor that stops reading is an error.
use std::io;
use std::path::{Path, PathBuf};

use super::{indexed_entries, read_optional, read_trimmed, HwError};

/// Plausible range for a real CPU reading; anything outside is a broken sensor.
pub const MIN_CELSIUS: f32 = -40.0;
pub const MAX_CELSIUS: f32 = 150.0;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SensorError {
    /// No CPU temperature sensor exists (typical of VMs). Not a guess, not a default.
    #[error("no CPU temperature sensor found")]
    NoSensor,
    /// The sensor's file is gone.
    #[error("sensor {} disappeared", path.display())]
    Missing { path: PathBuf },
    /// The file exists but reading failed (some drivers return EIO/ENODATA when the chip is off).
    #[error("cannot read sensor {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// The contents are not an integer number of millidegrees.
    #[error("sensor {} reads {content:?}", path.display())]
    Unparsable { path: PathBuf, content: String },
    /// A number outside -40..=150 °C.
    #[error("sensor {} reads an absurd {celsius} °C (outside {MIN_CELSIUS}..{MAX_CELSIUS})", path.display())]
    OutOfRange { path: PathBuf, celsius: f32 },
}

/// Serialised as `{"kind": "hwmon", ...}` / `{"kind": "thermal_zone", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SensorSource {
    /// `/sys/class/hwmon/hwmonN`; `chip` is its `name` file.
    Hwmon { dir: String, chip: String },
    /// `/sys/class/thermal/thermal_zoneN`; `kind` is its `type` file.
    ThermalZone {
        zone: String,
        #[serde(rename = "zone_type")]
        kind: String,
    },
}

/// What a reading measures, as far as the driver and label say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorRole {
    /// The whole CPU package (coretemp "Package id N", k10temp "Tctl", x86_pkg_temp).
    Package,
    /// An AMD die/CCD reading (k10temp "Tdie", "TccdN").
    Die,
    /// One core (coretemp "Core N").
    Core,
    /// The SoC of a single-board computer (cpu_thermal, soc_thermal): CPU and package are one.
    Soc,
    /// A board/ACPI zone (acpitz): near the CPU at best.
    Board,
    /// Anything else (nvme, GPU, chipset, wifi...).
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sensor {
    pub source: SensorSource,
    /// `tempN_label` for hwmon (or "tempN" without a label), the zone type for thermal zones.
    pub label: String,
    pub role: SensorRole,
    /// Files holding millidegrees. Several for a multi-package reading, which is their maximum.
    pub inputs: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SensorReading {
    pub sensor: Sensor,
    pub celsius: Result<f32, SensorError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PackageSensor {
    /// Pass to [`read_package_temp`] to re-read.
    pub sensor: Sensor,
    /// Why this one, e.g. "hwmon coretemp 'Package id 0'".
    pub reason: String,
    /// Reading at discovery time.
    pub celsius: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Thermal {
    /// Every temperature input found, CPU or not, with its reading at discovery time.
    pub sensors: Vec<SensorReading>,
    /// The CPU package sensor, or why there is none.
    pub package: Result<PackageSensor, SensorError>,
}

fn read_celsius(path: &Path) -> Result<f32, SensorError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(SensorError::Missing {
                path: path.to_path_buf(),
            })
        }
        Err(e) => {
            return Err(SensorError::Io {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        }
    };
    let trimmed = text.trim();
    let milli = trimmed.parse::<i64>().map_err(|_| SensorError::Unparsable {
        path: path.to_path_buf(),
        content: trimmed.chars().take(64).collect(),
    })?;
    let celsius = milli as f32 / 1000.0;
    if !(MIN_CELSIUS..=MAX_CELSIUS).contains(&celsius) {
        return Err(SensorError::OutOfRange {
            path: path.to_path_buf(),
            celsius,
        });
    }
    Ok(celsius)
}

/// Re-reads a sensor now. For a multi-package sensor, the hottest package; any input failing
/// fails the whole reading, so the caller notices a sensor that stopped working.
pub fn read_package_temp(sensor: &Sensor) -> Result<f32, SensorError> {
    let mut max: Option<f32> = None;
    for input in &sensor.inputs {
        let c = read_celsius(input)?;
        max = Some(max.map_or(c, |m: f32| m.max(c)));
    }
    max.ok_or(SensorError::NoSensor)
}

fn hwmon_role(chip: &str, label: &str) -> SensorRole {
    match chip {
        "coretemp" if label.starts_with("Package id") || label.starts_with("Physical id") => {
            SensorRole::Package
        }
        "coretemp" if label.starts_with("Core") => SensorRole::Core,
        "k10temp" | "zenpower" if label == "Tctl" => SensorRole::Package,
        "k10temp" | "zenpower" if label == "Tdie" || label.starts_with("Tccd") => SensorRole::Die,
        "cpu_thermal" | "soc_thermal" | "cpu-thermal" | "soc-thermal" => SensorRole::Soc,
        _ => SensorRole::Other,
    }
}

fn zone_role(kind: &str) -> SensorRole {
    let k = kind.to_ascii_lowercase();
    if k == "x86_pkg_temp" {
        SensorRole::Package
    } else if k.starts_with("cpu") || k.starts_with("soc") {
        SensorRole::Soc
    } else if k == "acpitz" {
        SensorRole::Board
    } else {
        SensorRole::Other
    }
}

fn enumerate(root: &Path) -> Vec<Sensor> {
    let mut out = Vec::new();
    for (_, dir) in indexed_entries(&root.join("sys/class/hwmon"), "hwmon") {
        let dir_name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let chip = read_optional(&dir.join("name"))
            .ok()
            .flatten()
            .unwrap_or_default();
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut inputs: Vec<(u32, PathBuf)> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name();
                let n = name
                    .to_str()?
                    .strip_prefix("temp")?
                    .strip_suffix("_input")?
                    .parse::<u32>()
                    .ok()?;
                Some((n, e.path()))
            })
            .collect();
        inputs.sort_by_key(|(n, _)| *n);
        for (n, input) in inputs {
            let label = read_optional(&dir.join(format!("temp{n}_label")))
                .ok()
                .flatten()
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| format!("temp{n}"));
            out.push(Sensor {
                role: hwmon_role(&chip, &label),
                source: SensorSource::Hwmon {
                    dir: dir_name.clone(),
                    chip: chip.clone(),
                },
                label,
                inputs: vec![input],
            });
        }
    }
    for (_, dir) in indexed_entries(&root.join("sys/class/thermal"), "thermal_zone") {
        let zone = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kind: String = read_trimmed(&dir.join("type")).unwrap_or_else(|_: HwError| String::new());
        out.push(Sensor {
            role: zone_role(&kind),
            source: SensorSource::ThermalZone {
                zone,
                kind: kind.clone(),
            },
            label: kind,
            inputs: vec![dir.join("temp")],
        });
    }
    out
}

fn chip_of(s: &Sensor) -> &str {
    match &s.source {
        SensorSource::Hwmon { chip, .. } => chip,
        SensorSource::ThermalZone { kind, .. } => kind,
    }
}

fn is_hwmon(s: &Sensor) -> bool {
    matches!(s.source, SensorSource::Hwmon { .. })
}

/// One rule of the preference order: which readable sensors it selects, and how to say so.
struct Rule {
    what: &'static str,
    select: fn(&[&SensorReading]) -> Vec<Sensor>,
}

/// AMD: per k10temp/zenpower chip (one per socket), Tctl, else Tdie, else Tccd1.
fn amd_pick(ok: &[&SensorReading]) -> Vec<Sensor> {
    let mut dirs: Vec<&SensorSource> = Vec::new();
    for r in ok {
        if matches!(chip_of(&r.sensor), "k10temp" | "zenpower") && !dirs.contains(&&r.sensor.source) {
            dirs.push(&r.sensor.source);
        }
    }
    let mut picked = Vec::new();
    for src in dirs {
        for want in ["Tctl", "Tdie", "Tccd1"] {
            if let Some(r) = ok
                .iter()
                .find(|r| &r.sensor.source == src && r.sensor.label == want)
            {
                picked.push(r.sensor.clone());
                break;
            }
        }
    }
    picked
}

fn filter(ok: &[&SensorReading], f: impl Fn(&Sensor) -> bool) -> Vec<Sensor> {
    ok.iter().map(|r| &r.sensor).filter(|s| f(s)).cloned().collect()
}

const RULES: &[Rule] = &[
    Rule {
        what: "package",
        select: |ok| {
            filter(ok, |s| {
                is_hwmon(s) && chip_of(s) == "coretemp" && s.role == SensorRole::Package
            })
        },
    },
    Rule {
        what: "package",
        select: amd_pick,
    },
    Rule {
        what: "package",
        select: |ok| filter(ok, |s| !is_hwmon(s) && s.role == SensorRole::Package),
    },
    Rule {
        what: "SoC",
        select: |ok| filter(ok, |s| is_hwmon(s) && s.role == SensorRole::Soc),
    },
    Rule {
        what: "SoC",
        select: |ok| filter(ok, |s| !is_hwmon(s) && s.role == SensorRole::Soc),
    },
    Rule {
        what: "per-core fallback, no package sensor",
        select: |ok| filter(ok, |s| s.role == SensorRole::Core),
    },
    Rule {
        what: "ACPI board zone, no CPU sensor; approximate",
        select: |ok| filter(ok, |s| s.role == SensorRole::Board),
    },
];

fn describe(sensors: &[Sensor], what: &str) -> String {
    let Some(first) = sensors.first() else {
        return String::new();
    };
    let place = match &first.source {
        SensorSource::Hwmon { chip, .. } => format!("hwmon {chip}"),
        SensorSource::ThermalZone { .. } => "thermal_zone".to_string(),
    };
    let labels: Vec<String> = sensors.iter().map(|s| format!("'{}'", s.label)).collect();
    let mut reason = format!("{place} {}", labels.join(", "));
    if sensors.len() > 1 {
        reason.push_str(&format!(" (max over {})", sensors.len()));
    }
    if what != "package" && what != "SoC" {
        reason.push_str(&format!(" [{what}]"));
    }
    reason
}

/// Chooses the CPU package sensor among readable sensors. Pure, for tests.
pub fn pick_package(readings: &[SensorReading]) -> Result<PackageSensor, SensorError> {
    let ok: Vec<&SensorReading> = readings.iter().filter(|r| r.celsius.is_ok()).collect();
    for rule in RULES {
        let chosen = (rule.select)(&ok);
        let Some(first) = chosen.first() else {
            continue;
        };
        let reason = describe(&chosen, rule.what);
        let sensor = Sensor {
            source: first.source.clone(),
            label: chosen
                .iter()
                .map(|s| s.label.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            role: first.role,
            inputs: chosen.iter().flat_map(|s| s.inputs.iter().cloned()).collect(),
        };
        let celsius = read_package_temp(&sensor)?;
        return Ok(PackageSensor {
            sensor,
            reason,
            celsius,
        });
    }
    // Candidates that exist but do not read are reported as such, not as "no sensor".
    let broken = readings.iter().find_map(|r| match (&r.celsius, r.sensor.role) {
        (Err(e), role) if role != SensorRole::Other => Some(e.clone()),
        _ => None,
    });
    Err(broken.unwrap_or(SensorError::NoSensor))
}

/// Enumerates every temperature sensor under `root` and picks the CPU package one.
pub fn read_thermal(root: &Path) -> Thermal {
    let sensors: Vec<SensorReading> = enumerate(root)
        .into_iter()
        .map(|sensor| SensorReading {
            celsius: read_package_temp(&sensor),
            sensor,
        })
        .collect();
    let package = pick_package(&sensors);
    Thermal { sensors, package }
}
