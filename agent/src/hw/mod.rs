//! Hardware discovery entry point: `discover(root)` reads CPU identity and topology, NUMA
//! nodes, thermal sensors and power supplies under a configurable filesystem root ("/" on a
//! live host, a fixture tree in tests). `live` re-reads the package sensor and power each control
//! tick; `report` is what `inspect` prints. Used by sampling, `inspect` and the tuner; imports
//! none of them.
//! Must never panic on file contents, never invent readings (no temperature from CPU usage, no
//! "always AC", no single-node NUMA guess when sysfs says otherwise) and never write anything.
pub mod cpu;
pub mod live;
pub mod power;
pub mod report;
pub mod sensors;

use std::io;
use std::path::{Path, PathBuf};

pub use cpu::{CpuModel, CpuTopology, ModelSource, NumaInfo, NumaNode};
pub use power::{Power, PowerState, PowerSupply, SupplyKind};
pub use sensors::{
    read_package_temp, PackageSensor, Sensor, SensorError, SensorReading, SensorRole, SensorSource, Thermal,
};

/// A problem met while reading hardware information.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HwError {
    /// The file does not exist.
    #[error("{} does not exist", path.display())]
    Missing { path: PathBuf },
    /// The file exists but could not be read.
    #[error("cannot read {}: {message}", path.display())]
    Io {
        path: PathBuf,
        kind: io::ErrorKind,
        message: String,
    },
    /// The file was read but its contents are not what the kernel ABI promises.
    #[error("unexpected contents in {}: {content:?}", path.display())]
    Parse { path: PathBuf, content: String },
}

/// Reads a small sysfs/procfs file and trims surrounding whitespace.
pub(crate) fn read_trimmed(path: &Path) -> Result<String, HwError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s.trim().to_string()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(HwError::Missing {
            path: path.to_path_buf(),
        }),
        Err(e) => Err(HwError::Io {
            path: path.to_path_buf(),
            kind: e.kind(),
            message: e.to_string(),
        }),
    }
}

/// Reads a file that may legitimately be absent: `Ok(None)` when missing.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, HwError> {
    match read_trimmed(path) {
        Ok(s) => Ok(Some(s)),
        Err(HwError::Missing { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Entries of `dir` named `<prefix><number>`, sorted by number. A missing directory is empty.
pub(crate) fn indexed_entries(dir: &Path, prefix: &str) -> Vec<(u32, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(u32, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name();
            let n = name.to_str()?.strip_prefix(prefix)?.parse::<u32>().ok()?;
            Some((n, e.path()))
        })
        .collect();
    out.sort_by_key(|(n, _)| *n);
    out
}

/// Everything discovered about the host.
#[derive(Debug, Clone)]
pub struct Hardware {
    pub model: CpuModel,
    pub topology: CpuTopology,
    pub numa: NumaInfo,
    pub thermal: Thermal,
    pub power: Power,
    /// Files that could not be read or parsed; discovery carries on without them.
    pub problems: Vec<HwError>,
}

/// Discovers the hardware under `root` ("/" for the live host).
pub fn discover(root: &Path) -> Hardware {
    let mut problems = Vec::new();
    let model = cpu::read_model(root, &mut problems);
    let topology = cpu::read_topology(root, &mut problems);
    let numa = cpu::read_numa(root, &topology.logical, &mut problems);
    let thermal = sensors::read_thermal(root);
    let power = power::read_power(root, &mut problems);
    Hardware {
        model,
        topology,
        numa,
        thermal,
        power,
        problems,
    }
}

/// Discovers the live host's hardware.
pub fn discover_host() -> Hardware {
    discover(Path::new("/"))
}

/// Flat, serialisable view of [`Hardware`] for `inspect`, logs and telemetry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HardwareSummary {
    pub cpu_model: String,
    pub logical_cpus: usize,
    pub physical_cores: usize,
    pub packages: usize,
    pub numa_nodes: Vec<NodeCpus>,
    pub numa_from_sysfs: bool,
    /// Why the package sensor was chosen, or why there is none.
    pub package_sensor: String,
    pub package_temp_c: Option<f32>,
    pub power: report::PowerReport,
}

/// A NUMA node and its CPUs in cpulist syntax, e.g. `{"id": 0, "cpus": "0-7,16-23"}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeCpus {
    pub id: u32,
    pub cpus: String,
}

impl Hardware {
    /// The NUMA nodes as plain values for [`crate::tune::numa::plan`].
    pub fn numa_nodes(&self) -> &[NumaNode] {
        &self.numa.nodes
    }

    pub fn summary(&self) -> HardwareSummary {
        let (package_sensor, package_temp_c) = match &self.thermal.package {
            Ok(p) => (p.reason.clone(), Some(p.celsius)),
            Err(e) => (e.to_string(), None),
        };
        HardwareSummary {
            cpu_model: self.model.name.clone(),
            logical_cpus: self.topology.logical_count(),
            physical_cores: self.topology.physical_count(),
            packages: self.topology.packages,
            numa_nodes: self
                .numa
                .nodes
                .iter()
                .map(|n| NodeCpus {
                    id: n.id,
                    cpus: cpu::format_cpulist(&n.cpus),
                })
                .collect(),
            numa_from_sysfs: self.numa.from_sysfs,
            package_sensor,
            package_temp_c,
            power: self.power.state.into(),
        }
    }
}
