//! The agent binary as a test process: killed when dropped, output in a log file, and a broker
//! port where nothing listens (telemetry then stays in the spool, as on a rig without a link).

use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Agent(pub Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nobody listens on.
pub fn dead_broker_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Writes `agent.toml` in `dir` (site, rig, data dir, an unreachable broker, then `extra`).
pub fn write_config(dir: &Path, rig: &str, extra: &str) -> std::path::PathBuf {
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "site = \"t\"\nrig = \"{rig}\"\ndata_dir = \"{}\"\n[broker]\nurl = \"mqtt://127.0.0.1:{}\"\n{extra}",
            dir.join("data").display(),
            dead_broker_port()
        ),
    )
    .expect("config");
    config
}

/// `hashward-agent run --config CONFIG ARGS...` with its output in `log`.
pub fn run(config: &Path, args: &[&str], log: &Path) -> Agent {
    let out = std::fs::File::create(log).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_hashward-agent"))
        .args(["run", "--config", config.to_str().expect("utf8")])
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(out.try_clone().expect("clone"))
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn agent");
    Agent(child)
}
