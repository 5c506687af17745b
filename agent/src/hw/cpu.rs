//! CPU identity and topology: model name from /proc/cpuinfo, logical CPUs, physical cores,
//! packages and SMT siblings from /sys/devices/system/cpu, NUMA nodes from
//! /sys/devices/system/node — all under a configurable root.
//! Must never invent counts: a file it cannot read becomes a recorded problem, and fallbacks
//! (no topology dir, no node dir) are flagged as such (`from_sysfs: false`).
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{indexed_entries, read_optional, read_trimmed, HwError};

/// A NUMA node and its logical CPUs (empty for memory-only nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumaNode {
    pub id: u32,
    pub cpus: Vec<u32>,
}

/// Where the CPU model name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    /// x86 (and some others): the `model name` line.
    ModelName,
    /// ARM: `CPU implementer` + `CPU part` mapped to a core name (e.g. 0xd08 -> cortex-a72).
    ArmPart,
    /// ARM: the SoC from the `Hardware` line (e.g. BCM2835).
    Hardware,
    /// ARM: the board from the `Model` line.
    BoardModel,
    /// Nothing usable in /proc/cpuinfo.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuModel {
    /// The text the name was derived from, as the kernel printed it.
    pub raw: String,
    /// Normalised name (see [`normalise_cpu_model`]), e.g. "amd ryzen 9 5900x", "cortex-a72".
    pub name: String,
    pub source: ModelSource,
    /// Board name from the `Model` line on SBCs, e.g. "Raspberry Pi 4 Model B Rev 1.4".
    pub board: Option<String>,
}

/// One physical core: a distinct (physical_package_id, core_id) and its logical CPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Core {
    pub package: i64,
    pub core_id: i64,
    pub cpus: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuTopology {
    /// Online logical CPUs (from `cpu/online`, else the `processor` lines of cpuinfo).
    pub logical: Vec<u32>,
    /// Physical cores, sorted by (package, core_id).
    pub cores: Vec<Core>,
    /// SMT sibling groups from `topology/thread_siblings_list`, restricted to online CPUs.
    pub smt_siblings: Vec<Vec<u32>>,
    /// Distinct physical_package_id values.
    pub packages: usize,
    /// False when no `cpuN/topology` was readable and every CPU was counted as its own core.
    pub from_sysfs: bool,
}

impl CpuTopology {
    pub fn logical_count(&self) -> usize {
        self.logical.len()
    }
    pub fn physical_count(&self) -> usize {
        self.cores.len()
    }
    /// Logical CPUs per physical core (1 without SMT), taken as the largest group.
    pub fn threads_per_core(&self) -> usize {
        self.cores.iter().map(|c| c.cpus.len()).max().unwrap_or(1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumaInfo {
    /// Nodes sorted by id. Memory-only nodes appear with an empty CPU list.
    pub nodes: Vec<NumaNode>,
    /// False when the kernel exposes no node directory (no NUMA support): one node holding
    /// every online CPU is reported, which is what such a kernel means.
    pub from_sysfs: bool,
}

/// Normalises a CPU brand string (docs/ARCHITECTURE.md#thresholds-telemetry): lower case,
/// without trademarks, the word "processor"/"cpu", core counts and the clock, so that one model
/// has one name and nothing host-specific remains.
/// `Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz` -> `intel xeon gold 6130`.
/// One definition for the agent and the hub, which keys telemetry by the hash of this name.
pub fn normalise_cpu_model(brand: &str) -> String {
    hashward_protocol::normalise_cpu_model(brand)
}

/// Core name for an ARM Ltd (implementer 0x41) `CPU part`.
pub fn arm_core_name(part: u32) -> Option<&'static str> {
    Some(match part {
        0xb76 => "arm1176",
        0xc07 => "cortex-a7",
        0xc08 => "cortex-a8",
        0xc09 => "cortex-a9",
        0xc0f => "cortex-a15",
        0xd03 => "cortex-a53",
        0xd04 => "cortex-a35",
        0xd05 => "cortex-a55",
        0xd07 => "cortex-a57",
        0xd08 => "cortex-a72",
        0xd09 => "cortex-a73",
        0xd0a => "cortex-a75",
        0xd0b => "cortex-a76",
        0xd0c => "neoverse-n1",
        0xd0d => "cortex-a77",
        0xd40 => "neoverse-v1",
        0xd41 => "cortex-a78",
        0xd46 => "cortex-a510",
        0xd47 => "cortex-a710",
        0xd49 => "neoverse-n2",
        0xd4f => "neoverse-v2",
        _ => return None,
    })
}

fn parse_hex(s: &str) -> Option<u32> {
    u32::from_str_radix(s.trim().trim_start_matches("0x").trim_start_matches("0X"), 16).ok()
}

/// Derives the model from the text of /proc/cpuinfo. Pure, for tests.
pub fn model_from_cpuinfo(cpuinfo: &str) -> CpuModel {
    let mut model_name = None;
    let mut hardware = None;
    let mut board = None;
    let mut implementer = None;
    // Distinct ARM parts in order of appearance (big.LITTLE has two).
    let mut parts: Vec<u32> = Vec::new();
    for line in cpuinfo.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if v.is_empty() {
            continue;
        }
        match k {
            "model name" if model_name.is_none() => model_name = Some(v.to_string()),
            "Hardware" if hardware.is_none() => hardware = Some(v.to_string()),
            "Model" if board.is_none() => board = Some(v.to_string()),
            "CPU implementer" if implementer.is_none() => implementer = parse_hex(v),
            "CPU part" => {
                if let Some(p) = parse_hex(v) {
                    if !parts.contains(&p) {
                        parts.push(p);
                    }
                }
            }
            _ => {}
        }
    }
    let arm_names: Option<Vec<&str>> = if implementer == Some(0x41) && !parts.is_empty() {
        parts.iter().map(|p| arm_core_name(*p)).collect()
    } else {
        None
    };
    // On ARM the part is preferred: 32-bit kernels print a useless "ARMv7 Processor rev 3 (v7l)".
    let (raw, source) = if let Some(names) = arm_names {
        (names.join("+"), ModelSource::ArmPart)
    } else if let Some(m) = model_name {
        (m, ModelSource::ModelName)
    } else if let Some(h) = hardware {
        (h, ModelSource::Hardware)
    } else if let Some(b) = board.clone() {
        (b, ModelSource::BoardModel)
    } else {
        (String::new(), ModelSource::Unknown)
    };
    CpuModel {
        name: normalise_cpu_model(&raw),
        raw,
        source,
        board,
    }
}

pub(crate) fn read_model(root: &Path, problems: &mut Vec<HwError>) -> CpuModel {
    match read_trimmed(&root.join("proc/cpuinfo")) {
        Ok(text) => model_from_cpuinfo(&text),
        Err(e) => {
            problems.push(e);
            model_from_cpuinfo("")
        }
    }
}

/// Parses the kernel cpulist syntax ("0-3,8-11", "0", "" for none) into sorted, distinct ids.
pub fn parse_cpulist(s: &str) -> Option<Vec<u32>> {
    let mut out = BTreeSet::new();
    for part in s.trim().split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?);
                if a > b || b - a > 65_536 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => {
                out.insert(part.parse::<u32>().ok()?);
            }
        }
    }
    Some(out.into_iter().collect())
}

/// Formats sorted CPU ids back into cpulist syntax: [0,1,2,3,8] -> "0-3,8".
pub fn format_cpulist(cpus: &[u32]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

fn read_cpulist(path: &Path) -> Result<Vec<u32>, HwError> {
    let text = read_trimmed(path)?;
    parse_cpulist(&text).ok_or(HwError::Parse {
        path: path.to_path_buf(),
        content: text,
    })
}

fn read_i64(path: &Path) -> Result<i64, HwError> {
    let text = read_trimmed(path)?;
    text.parse::<i64>().map_err(|_| HwError::Parse {
        path: path.to_path_buf(),
        content: text,
    })
}

fn logical_cpus(root: &Path, problems: &mut Vec<HwError>) -> Vec<u32> {
    match read_cpulist(&root.join("sys/devices/system/cpu/online")) {
        Ok(cpus) if !cpus.is_empty() => return cpus,
        Ok(_) => {}
        Err(e) => problems.push(e),
    }
    // Fallback: the `processor : N` lines of cpuinfo (x86 and ARM both print them).
    let Ok(Some(text)) = read_optional(&root.join("proc/cpuinfo")) else {
        return Vec::new();
    };
    let mut ids: Vec<u32> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim() == "processor")
        .filter_map(|(_, v)| v.trim().parse().ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

pub(crate) fn read_topology(root: &Path, problems: &mut Vec<HwError>) -> CpuTopology {
    let logical = logical_cpus(root, problems);
    let base = root.join("sys/devices/system/cpu");
    let mut by_core: BTreeMap<(i64, i64), Vec<u32>> = BTreeMap::new();
    let mut siblings: BTreeSet<Vec<u32>> = BTreeSet::new();
    let mut any_topology = false;
    for &cpu in &logical {
        let dir = base.join(format!("cpu{cpu}/topology"));
        if !dir.is_dir() {
            by_core.insert((-1, -1 - i64::from(cpu)), vec![cpu]);
            continue;
        }
        any_topology = true;
        let pkg = read_i64(&dir.join("physical_package_id"));
        let core = read_i64(&dir.join("core_id"));
        let key = match (pkg, core) {
            (Ok(p), Ok(c)) => (p, c),
            (p, c) => {
                problems.extend(p.err());
                problems.extend(c.err());
                // Unknown: counted as a core of its own rather than merged with another.
                (-1, -1 - i64::from(cpu))
            }
        };
        by_core.entry(key).or_default().push(cpu);
        match read_cpulist(&dir.join("thread_siblings_list")) {
            Ok(list) => {
                let group: Vec<u32> = list.into_iter().filter(|c| logical.contains(c)).collect();
                if !group.is_empty() {
                    siblings.insert(group);
                }
            }
            Err(e) => {
                problems.push(e);
                siblings.insert(vec![cpu]);
            }
        }
    }
    let packages = by_core.keys().map(|(p, _)| *p).collect::<BTreeSet<_>>().len();
    let cores = by_core
        .into_iter()
        .map(|((package, core_id), cpus)| Core {
            package,
            core_id,
            cpus,
        })
        .collect::<Vec<_>>();
    let smt_siblings = if any_topology {
        let mut s: Vec<Vec<u32>> = siblings.into_iter().collect();
        s.sort_by_key(|g| g.first().copied());
        s
    } else {
        logical.iter().map(|c| vec![*c]).collect()
    };
    CpuTopology {
        logical,
        cores,
        smt_siblings,
        packages,
        from_sysfs: any_topology,
    }
}

pub(crate) fn read_numa(root: &Path, logical: &[u32], problems: &mut Vec<HwError>) -> NumaInfo {
    let entries = indexed_entries(&root.join("sys/devices/system/node"), "node");
    let mut nodes = Vec::new();
    for (id, dir) in entries {
        match read_cpulist(&dir.join("cpulist")) {
            Ok(cpus) => nodes.push(NumaNode { id, cpus }),
            Err(e) => problems.push(e),
        }
    }
    if nodes.is_empty() {
        return NumaInfo {
            nodes: vec![NumaNode {
                id: 0,
                cpus: logical.to_vec(),
            }],
            from_sysfs: false,
        };
    }
    NumaInfo {
        nodes,
        from_sysfs: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_models_normalise() {
        assert_eq!(
            normalise_cpu_model("Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz"),
            "intel xeon gold 6130"
        );
        assert_eq!(
            normalise_cpu_model("AMD Ryzen 9 5900X 12-Core Processor"),
            "amd ryzen 9 5900x"
        );
        assert_eq!(normalise_cpu_model("Cortex-A72"), "cortex-a72");
        assert_eq!(normalise_cpu_model(""), "");
    }

    #[test]
    fn cpulists_parse_and_format() {
        assert_eq!(parse_cpulist("0-3,8-11").unwrap(), vec![0, 1, 2, 3, 8, 9, 10, 11]);
        assert_eq!(parse_cpulist("5\n").unwrap(), vec![5]);
        assert_eq!(parse_cpulist("").unwrap(), Vec::<u32>::new());
        assert_eq!(parse_cpulist("3,1,1").unwrap(), vec![1, 3]);
        assert!(parse_cpulist("0-x").is_none());
        assert!(parse_cpulist("4-2").is_none());
        assert!(parse_cpulist("garbage").is_none());
        assert_eq!(format_cpulist(&[0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
        assert_eq!(format_cpulist(&[]), "");
    }

    #[test]
    fn arm_parts_map_to_core_names() {
        let rk3588 = "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd05\n\n\
                      processor\t: 4\nCPU implementer\t: 0x41\nCPU part\t: 0xd0b\n";
        let m = model_from_cpuinfo(rk3588);
        assert_eq!(m.name, "cortex-a55+cortex-a76");
        assert_eq!(m.source, ModelSource::ArmPart);
        for (part, name) in [
            (0xd03, "cortex-a53"),
            (0xd07, "cortex-a57"),
            (0xd08, "cortex-a72"),
        ] {
            assert_eq!(arm_core_name(part), Some(name));
        }
        // Unknown part: fall back to the SoC name rather than inventing one.
        let odd = "CPU implementer : 0x41\nCPU part : 0xfff\nHardware : Foo SoC\n";
        let m = model_from_cpuinfo(odd);
        assert_eq!((m.name.as_str(), m.source), ("foo soc", ModelSource::Hardware));
        // ARMv7 kernels print a generic model name; the part wins.
        let v7 = "model name : ARMv7 Processor rev 4 (v7l)\nCPU implementer : 0x41\nCPU part : 0xd03\n";
        assert_eq!(model_from_cpuinfo(v7).name, "cortex-a53");
        assert_eq!(model_from_cpuinfo("").source, ModelSource::Unknown);
    }
}
