//! The live control loop on a copied fixture tree: the agent (benchmark mode, no broker) runs on
//! a laptop on battery and must apply the battery caps; when the package sensor reads above the
//! hard limit it must pause; when the sensor stops reading it must assume hot, never better.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::agent;
use support::fixture::copy_tree;

/// The `tempN_input` whose label is "Package id 0".
fn package_input(root: &Path) -> PathBuf {
    let hwmon = root.join("sys/class/hwmon");
    for dir in std::fs::read_dir(&hwmon).expect("hwmon") {
        let dir = dir.expect("entry").path();
        for f in std::fs::read_dir(&dir).expect("dir") {
            let f = f.expect("entry").path();
            let name = f
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if name.ends_with("_label")
                && std::fs::read_to_string(&f).unwrap_or_default().trim() == "Package id 0"
            {
                return dir.join(name.replace("_label", "_input"));
            }
        }
    }
    panic!("no package sensor in the fixture");
}

fn wait_for_log(log: &Path, needle: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) || Instant::now() > deadline {
            assert!(
                text.contains(needle),
                "no {needle:?} in the agent log within {timeout:?}:\n{text}"
            );
            return text;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn battery_caps_then_critical_pause_then_lost_sensor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hw/laptop-battery"),
        &root,
    );
    let config = agent::write_config(
        dir.path(),
        "laptop",
        &format!(
            "[miner]\nenabled = true\nalgo = \"sha256d\"\nmining_threads = 4\nauto_tune_enabled = false\nhardware_root = \"{}\"\n",
            root.display()
        ),
    );
    let log = dir.path().join("agent.log");
    let _agent = agent::run(&config, &[], &log);

    let text = wait_for_log(
        &log,
        "tune: starting with 2 threads x batch 4",
        Duration::from_secs(20),
    );
    assert!(text.contains("Battery mode: threads=2, batch=4"), "{text}");
    // Logged by the miner service, possibly after the control loop's first line.
    wait_for_log(&log, "benchmark mode", Duration::from_secs(20));

    std::fs::write(package_input(&root), "95000\n").expect("heat up");
    wait_for_log(&log, "tune: mining paused", Duration::from_secs(20));

    std::fs::remove_file(package_input(&root)).expect("sensor gone");
    wait_for_log(&log, "package sensor stopped reading", Duration::from_secs(20));
}
