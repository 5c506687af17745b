//! Integration tests: `discover` over fixture trees shaped like real machines, and a sensor
//! that breaks after discovery.
//! Must never read the live host's /sys or /proc, nor write anywhere but a unique temp dir.
mod support;

use std::path::{Path, PathBuf};
use support::fixture::copy_tree;

use hashward_agent::hw::{
    discover, read_package_temp, Hardware, ModelSource, PowerState, SensorError, SensorRole, SupplyKind,
};
use hashward_agent::tune::numa::{plan, NumaNode};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hw")
        .join(name)
}

fn nodes(hw: &Hardware) -> Vec<(u32, String)> {
    hw.summary()
        .numa_nodes
        .into_iter()
        .map(|n| (n.id, n.cpus))
        .collect()
}

fn package(hw: &Hardware) -> (&str, f32) {
    let p = hw.thermal.package.as_ref().expect("a package sensor");
    (p.reason.as_str(), p.celsius)
}

#[test]
fn dual_xeon() {
    let hw = discover(&fixture("dual-xeon"));
    assert!(hw.problems.is_empty(), "{:?}", hw.problems);
    assert_eq!(hw.model.name, "intel xeon e5-2667 v4");
    assert_eq!(hw.model.source, ModelSource::ModelName);
    assert_eq!(hw.topology.logical_count(), 32);
    assert_eq!(hw.topology.physical_count(), 16);
    assert_eq!(hw.topology.packages, 2);
    assert_eq!(hw.topology.threads_per_core(), 2);
    assert!(hw.topology.smt_siblings.contains(&vec![3, 19]));
    assert_eq!(
        nodes(&hw),
        vec![(0, "0-7,16-23".to_string()), (1, "8-15,24-31".to_string())]
    );
    assert!(hw.numa.from_sysfs);
    // Both packages are read; the package temperature is the hotter one.
    assert_eq!(
        package(&hw),
        ("hwmon coretemp 'Package id 0', 'Package id 1' (max over 2)", 52.0)
    );
    let p = hw.thermal.package.as_ref().unwrap();
    assert_eq!(p.sensor.inputs.len(), 2);
    assert_eq!(p.sensor.role, SensorRole::Package);
    assert_eq!(hw.thermal.sensors.len(), 2 * 9);
    assert_eq!(hw.power.state, PowerState::Unknown);
    assert!(hw.power.state.treat_as_ac());

    // The plan over the discovered topology: physical cores first, split over the sockets.
    let plan16 = plan(hw.numa_nodes(), &hw.topology.smt_siblings, 16);
    assert_eq!(plan16.layout(), "node0:8,node1:8");
    assert_eq!(plan16.cpus(), (0..16).collect::<Vec<_>>());
    assert_eq!(
        plan(hw.numa_nodes(), &hw.topology.smt_siblings, 64).layout(),
        "node0:16,node1:16"
    );
}

#[test]
fn rpi4() {
    let hw = discover(&fixture("rpi4"));
    assert!(hw.problems.is_empty(), "{:?}", hw.problems);
    assert_eq!(hw.model.name, "cortex-a72");
    assert_eq!(hw.model.source, ModelSource::ArmPart);
    assert_eq!(hw.model.board.as_deref(), Some("Raspberry Pi 4 Model B Rev 1.4"));
    assert_eq!(hw.topology.logical_count(), 4);
    assert_eq!(hw.topology.physical_count(), 4);
    assert_eq!(hw.topology.packages, 1);
    assert_eq!(hw.topology.threads_per_core(), 1);
    assert_eq!(nodes(&hw), vec![(0, "0-3".to_string())]);
    assert!(!hw.numa.from_sysfs, "no node dir: the kernel has no NUMA");
    assert_eq!(package(&hw), ("hwmon cpu_thermal 'temp1'", 48.686));
    assert_eq!(
        hw.thermal.sensors.len(),
        2,
        "hwmon cpu_thermal + zone cpu-thermal"
    );
    assert_eq!(hw.power.state, PowerState::Unknown);
    assert!(hw.power.supplies.is_empty());
}

#[test]
fn ryzen_desktop() {
    let hw = discover(&fixture("ryzen-desktop"));
    assert!(hw.problems.is_empty(), "{:?}", hw.problems);
    assert_eq!(hw.model.name, "amd ryzen 9 5900x");
    assert_eq!(hw.topology.logical_count(), 24);
    assert_eq!(hw.topology.physical_count(), 12);
    assert_eq!(hw.topology.packages, 1);
    assert!(hw.topology.smt_siblings.contains(&vec![6, 18]));
    assert_eq!(nodes(&hw), vec![(0, "0-23".to_string())]);
    // Tctl over Tccd1/Tccd2, and neither the nvme nor the bogus 16.8 °C acpitz.
    assert_eq!(package(&hw), ("hwmon k10temp 'Tctl'", 61.25));
    let labels: Vec<&str> = hw
        .thermal
        .sensors
        .iter()
        .map(|s| s.sensor.label.as_str())
        .collect();
    for l in ["Composite", "Tctl", "Tccd1", "Tccd2", "acpitz"] {
        assert!(labels.contains(&l), "{l} in {labels:?}");
    }
    // The mouse battery is discharging but is a peripheral's: not "on battery".
    assert_eq!(hw.power.supplies.len(), 1);
    assert!(hw.power.supplies[0].device_scope);
    assert_eq!(hw.power.state, PowerState::Unknown);
}

#[test]
fn laptop_on_battery() {
    let hw = discover(&fixture("laptop-battery"));
    assert!(hw.problems.is_empty(), "{:?}", hw.problems);
    assert_eq!(hw.model.name, "intel core i7-8565u");
    assert_eq!(hw.topology.logical_count(), 8);
    assert_eq!(hw.topology.physical_count(), 4);
    assert_eq!(hw.topology.packages, 1);
    assert_eq!(nodes(&hw), vec![(0, "0-7".to_string())]);
    assert_eq!(package(&hw), ("hwmon coretemp 'Package id 0'", 67.0));
    assert_eq!(hw.power.state, PowerState::Battery { percent: Some(57) });
    assert!(!hw.power.state.treat_as_ac());
    let kinds: Vec<&SupplyKind> = hw.power.supplies.iter().map(|s| &s.kind).collect();
    assert_eq!(
        kinds,
        vec![&SupplyKind::Mains, &SupplyKind::Battery, &SupplyKind::Usb]
    );
    let s = hw.summary();
    let json = serde_json::to_string(&s).expect("json");
    assert!(
        json.contains("\"power\":{\"source\":\"battery\",\"charge_percent\":57}"),
        "{json}"
    );
    assert!(json.contains("\"cpu_model\":\"intel core i7-8565u\""), "{json}");
    assert!(json.contains("\"package_temp_c\":67.0"), "{json}");
    assert!(
        json.contains("\"numa_nodes\":[{\"id\":0,\"cpus\":\"0-7\"}]"),
        "{json}"
    );
}

#[test]
fn vm_has_no_sensor_and_unknown_power() {
    let hw = discover(&fixture("vm"));
    assert!(hw.problems.is_empty(), "{:?}", hw.problems);
    assert_eq!(hw.model.name, "intel xeon (cascadelake)");
    assert_eq!(hw.topology.logical_count(), 2);
    assert_eq!(hw.topology.physical_count(), 2);
    assert_eq!(nodes(&hw), vec![(0, "0-1".to_string())]);
    assert!(hw.thermal.sensors.is_empty());
    assert_eq!(hw.thermal.package, Err(SensorError::NoSensor));
    assert_eq!(hw.power.state, PowerState::Unknown);
    let s = hw.summary();
    assert_eq!(s.package_temp_c, None);
    assert!(serde_json::to_string(&s)
        .expect("json")
        .contains("\"package_temp_c\":null"));
}

#[test]
fn empty_root_reports_problems_not_guesses() {
    let dir = scratch("empty");
    let hw = discover(&dir);
    assert_eq!(hw.topology.logical_count(), 0);
    assert_eq!(hw.thermal.package, Err(SensorError::NoSensor));
    assert!(!hw.problems.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A unique, empty directory under the system temp dir.
fn scratch(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("hashward-hw-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

#[test]
fn sensor_that_breaks_after_discovery_is_an_error() {
    let dir = scratch("broken");
    copy_tree(&fixture("laptop-battery"), &dir);
    let hw = discover(&dir);
    let sensor = hw.thermal.package.as_ref().expect("package").sensor.clone();
    let input = sensor.inputs[0].clone();
    assert!(input.starts_with(&dir));
    assert_eq!(read_package_temp(&sensor), Ok(67.0));

    std::fs::write(&input, "71500\n").unwrap();
    assert_eq!(read_package_temp(&sensor), Ok(71.5));

    std::fs::write(&input, "garbage\n").unwrap();
    assert!(matches!(
        read_package_temp(&sensor),
        Err(SensorError::Unparsable { .. })
    ));

    std::fs::write(&input, "255000\n").unwrap();
    assert!(matches!(
        read_package_temp(&sensor),
        Err(SensorError::OutOfRange { .. })
    ));
    std::fs::write(&input, "-128000\n").unwrap();
    assert!(matches!(
        read_package_temp(&sensor),
        Err(SensorError::OutOfRange { .. })
    ));

    std::fs::remove_file(&input).unwrap();
    let err = read_package_temp(&sensor).unwrap_err();
    assert!(matches!(err, SensorError::Missing { .. }));
    assert!(err.to_string().contains("disappeared"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_dead_package_of_two_fails_the_reading() {
    let dir = scratch("dual");
    copy_tree(&fixture("dual-xeon"), &dir);
    let hw = discover(&dir);
    let sensor = hw.thermal.package.as_ref().expect("package").sensor.clone();
    std::fs::write(&sensor.inputs[1], "").unwrap();
    assert!(read_package_temp(&sensor).is_err());
    // Rediscovery falls back to the package that still reads.
    let again = discover(&dir);
    assert_eq!(package(&again), ("hwmon coretemp 'Package id 0'", 45.0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn broken_sensor_at_discovery_falls_back_in_order() {
    let dir = scratch("fallback");
    copy_tree(&fixture("ryzen-desktop"), &dir);
    std::fs::write(dir.join("sys/class/hwmon/hwmon2/temp1_input"), "x").unwrap();
    let hw = discover(&dir);
    assert_eq!(package(&hw), ("hwmon k10temp 'Tccd1'", 58.5));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plan_accepts_plain_nodes() {
    let n = vec![NumaNode {
        id: 0,
        cpus: vec![0, 1],
    }];
    assert_eq!(plan(&n, &[], 1).layout(), "node0:1");
}

#[test]
fn preference_order_without_the_best_sensor() {
    // Laptop without coretemp: the x86_pkg_temp zone is the package.
    let dir = scratch("order");
    copy_tree(&fixture("laptop-battery"), &dir);
    let coretemp = dir.join("sys/class/hwmon/hwmon4");
    std::fs::remove_file(coretemp.join("temp1_input")).unwrap();
    let hw = discover(&dir);
    assert_eq!(package(&hw), ("thermal_zone 'x86_pkg_temp'", 67.0));
    // Without that zone either: the hottest core, said to be a fallback.
    std::fs::remove_file(dir.join("sys/class/thermal/thermal_zone3/temp")).unwrap();
    let hw = discover(&dir);
    assert_eq!(
        package(&hw),
        (
            "hwmon coretemp 'Core 0', 'Core 1', 'Core 2', 'Core 3' (max over 4) \
             [per-core fallback, no package sensor]",
            65.0
        )
    );
    // Only board/other sensors left: the ACPI zone, flagged as approximate.
    std::fs::remove_dir_all(&coretemp).unwrap();
    let hw = discover(&dir);
    let (reason, c) = package(&hw);
    assert!(
        reason.contains("acpitz") && reason.contains("approximate"),
        "{reason}"
    );
    assert_eq!(c, 47.0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `hashward-agent inspect --root FIXTURE --json` reports topology, the chosen sensor and the power
/// state of each machine, as an operator would run it.
#[test]
fn inspect_cli_on_every_fixture() {
    let unknown = serde_json::json!({"source": "unknown", "charge_percent": null});
    let battery = serde_json::json!({"source": "battery", "charge_percent": 57});
    let cases = [
        ("dual-xeon", 32, 16, 2, Some(52.0), &unknown, "node0:16,node1:16"),
        ("rpi4", 4, 4, 1, Some(48.686), &unknown, "node0:4"),
        ("ryzen-desktop", 24, 12, 1, Some(61.25), &unknown, "node0:24"),
        ("laptop-battery", 8, 4, 1, Some(67.0), &battery, "node0:8"),
        ("vm", 2, 2, 1, None, &unknown, "node0:2"),
    ];
    for (machine, logical, physical, nodes, temp, power, layout) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hashward-agent"))
            .args(["inspect", "--json", "--root"])
            .arg(fixture(machine))
            .output()
            .expect("run inspect");
        assert!(
            out.status.success(),
            "{machine}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let h = &v["hardware"];
        assert_eq!(h["logical_cpus"], logical, "{machine}: {v}");
        assert_eq!(h["physical_cores"], physical, "{machine}: {v}");
        assert_eq!(
            h["numa_nodes"].as_array().map(|a| a.len()),
            Some(nodes),
            "{machine}"
        );
        match temp {
            Some(t) => assert!(
                (h["package_temp_c"].as_f64().expect("temp") - t).abs() < 0.01,
                "{machine}: {v}"
            ),
            None => assert!(
                h["package_temp_c"].is_null() && h["package_sensor"] == "no CPU temperature sensor found"
            ),
        }
        assert_eq!(&h["power"], power, "{machine}");
        assert_eq!(v["numa_plan"]["layout"], layout, "{machine}");
        // Sensors are tagged fields with the unit in the name, never a Debug string.
        for sensor in v["sensors"].as_array().expect("sensors") {
            let kind = &sensor["sensor"]["kind"];
            assert!(kind == "hwmon" || kind == "thermal_zone", "{machine}: {sensor}");
            assert!(sensor["role"].is_string(), "{machine}: {sensor}");
            assert!(
                sensor["temp_c"].is_number() || sensor["error"].is_string(),
                "{machine}: {sensor}"
            );
        }
    }
}
