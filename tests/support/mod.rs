//! Shared harness of the end-to-end tests: free ports, the `hashward` binary as agent / hub
//! processes, a real mosquitto, HTTP reads of the hub, and the agents' spools as ground truth.
#![allow(dead_code)]

/// Fixture-tree copies, shared with the agent's own integration tests.
#[path = "../../agent/tests/support/fixture.rs"]
pub mod fixture;

/// A real NATS cluster (JetStream + MQTT listeners) for the NATS end-to-end tests.
pub mod nats;

use serde_json::Value;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port for a server the test starts later. Not `bind(0)`: that hands out ports from
/// the ephemeral range, where the kernel also picks the source ports of outgoing connections
/// (agents, publishers, HTTP reads of this very test), and may hand the same number to a test
/// running in parallel once the probe socket is closed; either can take the port before the
/// server binds it. These come from below the ephemeral range (Linux: 32768-60999), each at most
/// once per test process, starting at an offset drawn from the pid so concurrent processes differ.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id().wrapping_mul(2_654_435_761)) % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {LOW}..{}", LOW + SPAN)
}

pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

pub fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

/// A child process killed when dropped, so a failing test leaves nothing running.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status();
    }

    /// SIGTERM and wait up to `timeout` for the exit.
    pub fn stop(&mut self, timeout: Duration) {
        self.signal("TERM");
        let ok = wait_until(timeout, || matches!(self.child.try_wait(), Ok(Some(_))));
        assert!(ok, "{} did not exit within {timeout:?} of SIGTERM", self.name);
    }

    pub fn kill9(&mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(name: &str, args: &[&str], log: &Path) -> Proc {
    spawn_env(name, args, log, &[])
}

fn spawn_env(name: &str, args: &[&str], log: &Path, env: &[(&str, &str)]) -> Proc {
    // Tests never reach the internet: the hub's collectors stay off, unless a test that points
    // them at loopback fakes says otherwise in `env` (applied after, so it wins).
    spawn_cmd(
        name,
        args,
        log,
        &[&[("HASHWARD_NO_COLLECTORS", "1")], env].concat(),
    )
}

fn spawn_cmd(name: &str, args: &[&str], log: &Path, env: &[(&str, &str)]) -> Proc {
    let out = std::fs::File::create(log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_hashward"))
        .args(args)
        .env("RUST_LOG", "info,rumqttd=off,tracing::span=off")
        .envs(env.iter().copied())
        .stdout(out.try_clone().expect("clone"))
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn hashward");
    Proc {
        child,
        name: name.to_string(),
    }
}

/// A hub process. `broker` = Some(port) for an external broker, None for its embedded one on
/// `mqtt_port`.
pub fn hub(dir: &Path, http: u16, broker: Option<u16>, mqtt_port: u16) -> Proc {
    hub_with(dir, http, broker, mqtt_port, &[])
}

/// A hub process with extra `serve` arguments.
pub fn hub_with(dir: &Path, http: u16, broker: Option<u16>, mqtt_port: u16, extra: &[&str]) -> Proc {
    hub_env(dir, http, broker, mqtt_port, extra, &[])
}

/// A hub process with extra `serve` arguments and environment variables.
pub fn hub_env(
    dir: &Path,
    http: u16,
    broker: Option<u16>,
    mqtt_port: u16,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Proc {
    let data = dir.join("hub");
    let http = format!("127.0.0.1:{http}");
    let mut args = vec![
        "hub",
        "serve",
        "--http",
        &http,
        "--data-dir",
        data.to_str().expect("utf8"),
        "--summary-interval-ms",
        "500",
    ];
    let url;
    let listen;
    match broker {
        Some(p) => {
            url = format!("mqtt://127.0.0.1:{p}");
            args.extend(["--broker", &url]);
        }
        None => {
            listen = format!("127.0.0.1:{mqtt_port}");
            args.extend(["--mqtt-listen", &listen]);
        }
    }
    args.extend(extra);
    spawn_env("hub", &args, &dir.join("hub.log"), env)
}

/// A hub process run with `config` (a hub.toml) and with its collectors as that file says:
/// unlike [`hub`], `HASHWARD_NO_COLLECTORS` is not set, so the file must disable every source
/// that would reach the internet and point the others at loopback fakes.
pub fn hub_with_config(dir: &Path, http: u16, broker: u16, config: &Path, extra: &[&str]) -> Proc {
    let data = dir.join("hub");
    let http = format!("127.0.0.1:{http}");
    let url = format!("mqtt://127.0.0.1:{broker}");
    let mut args = vec![
        "hub",
        "serve",
        "--config",
        config.to_str().expect("utf8"),
        "--http",
        &http,
        "--data-dir",
        data.to_str().expect("utf8"),
        "--summary-interval-ms",
        "500",
        "--broker",
        &url,
    ];
    args.extend(extra);
    spawn_cmd("hub", &args, &dir.join("hub.log"), &[])
}

pub struct AgentSpec {
    pub dir: PathBuf,
    pub rig: String,
    pub config: PathBuf,
}

pub fn agent_spec(root: &Path, site: &str, rig: &str, broker_port: u16, interval_ms: u64) -> AgentSpec {
    let dir = root.join(rig);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let config = dir.join("agent.toml");
    let text = format!(
        "site = \"{site}\"\nrig = \"{rig}\"\ndata_dir = \"{}\"\n[broker]\nurl = \"mqtt://127.0.0.1:{broker_port}\"\n\
         keep_alive_s = 5\nbackoff_min_ms = 100\nbackoff_max_ms = 2000\n[telemetry]\ninterval_ms = {interval_ms}\n",
        dir.join("data").display()
    );
    std::fs::write(&config, text).expect("write config");
    AgentSpec {
        dir,
        rig: rig.to_string(),
        config,
    }
}

pub fn agent(spec: &AgentSpec) -> Proc {
    agent_env(spec, &[])
}

/// An agent process with extra environment variables.
pub fn agent_env(spec: &AgentSpec, env: &[(&str, &str)]) -> Proc {
    let log = spec.dir.join(format!("agent-{}.log", now_ns()));
    spawn_env(
        &format!("agent {}", spec.rig),
        &["agent", "run", "--config", spec.config.to_str().expect("utf8")],
        &log,
        env,
    )
}

/// Everything the agent of `spec` has logged so far, over all its runs.
pub fn agent_log(spec: &AgentSpec) -> String {
    let mut text = String::new();
    for e in std::fs::read_dir(&spec.dir).expect("dir").flatten() {
        if e.file_name().to_string_lossy().starts_with("agent-") {
            text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    text
}

/// Runs `hashward ARGS` to completion: (success, stdout, stderr).
pub fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hashward"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run hashward");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// The spool's own account of what the agent produced (only while the agent is stopped).
pub fn spool_stats(spec: &AgentSpec) -> hashward_agent::link::SpoolStats {
    let spool =
        hashward_agent::link::Spool::open(&spec.dir.join("data/spool.redb"), 64 << 20).expect("open spool");
    spool.stats().expect("spool stats")
}

pub fn get_json(url: &str) -> Option<Value> {
    let mut resp = ureq::get(url).call().ok()?;
    resp.body_mut().read_json::<Value>().ok()
}

pub fn get_text(url: &str) -> Option<String> {
    let mut resp = ureq::get(url).call().ok()?;
    resp.body_mut().read_to_string().ok()
}

/// The value of an unlabelled metric on the hub's `/metrics`.
pub fn metric(http: u16, name: &str) -> Option<u64> {
    let text = get_text(&format!("http://127.0.0.1:{http}/metrics"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The hub's records of `rig` from `/rigs/{rig}/{what}` (`telemetry?limit=..`, `scores`,
/// `alerts`, `asics`), oldest first; empty when the hub does not answer.
pub fn hub_records(http: u16, rig: &str, what: &str) -> Vec<Value> {
    get_json(&format!("http://127.0.0.1:{http}/rigs/{rig}/{what}"))
        .and_then(|v| v["records"].as_array().cloned())
        .unwrap_or_default()
}

/// Every telemetry seq the hub holds for `rig`, in time order.
pub fn hub_seqs(http: u16, rig: &str) -> Vec<u64> {
    hub_records(http, rig, "telemetry?limit=100000")
        .iter()
        .filter_map(|r| r["seq"].as_u64())
        .collect()
}

pub fn wait_for_http(http: u16) {
    assert!(
        wait_until(Duration::from_secs(20), || get_json(&format!(
            "http://127.0.0.1:{http}/health"
        ))
        .is_some()),
        "hub HTTP on {http} did not come up"
    );
}

/// Waits until the hub's HTTP answers and its ingest holds an acknowledged subscription. A
/// test that publishes to the broker itself (not through an agent, which spools and resends)
/// must wait for this: before the subscription, a broker with no session for the hub drops
/// what it is sent, and the test would count records that never had a chance.
pub fn wait_for_ingest(http: u16) {
    wait_for_http(http);
    assert!(
        wait_until(Duration::from_secs(20), || get_json(&format!(
            "http://127.0.0.1:{http}/health"
        ))
        .is_some_and(|h| h["ingest_subscribed"] == true)),
        "hub on {http} did not subscribe to the agents' topics"
    );
}

/// Finds mosquitto; without it the caller skips, unless HASHWARD_REQUIRE_MOSQUITTO=1.
pub fn mosquitto_binary() -> Option<PathBuf> {
    let found = [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("HASHWARD_REQUIRE_MOSQUITTO").as_deref() != Ok("1"),
            "mosquitto is required (HASHWARD_REQUIRE_MOSQUITTO=1) but not installed"
        );
        eprintln!("NOTICE: mosquitto not installed; skipping this test (apt-get install mosquitto)");
    }
    found
}

pub struct Mosquitto {
    pub port: u16,
    bin: PathBuf,
    conf: PathBuf,
    log: PathBuf,
    pub proc: Option<Proc>,
}

impl Mosquitto {
    /// Configures a mosquitto on `port` with persistence under `dir` (and `extra` config lines).
    pub fn new(bin: PathBuf, dir: &Path, port: u16, extra: &str) -> Mosquitto {
        let pdir = dir.join("mosquitto");
        std::fs::create_dir_all(&pdir).expect("mkdir");
        let conf = pdir.join("mosquitto.conf");
        let mut f = std::fs::File::create(&conf).expect("conf");
        write!(
            f,
            "user root\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n\
             max_queued_messages 100000\nlog_type error\nlog_type warning\nlog_type notice\n{extra}\n",
            pdir.display()
        )
        .expect("write conf");
        Mosquitto {
            port,
            bin,
            conf,
            log: pdir.join("mosquitto.log"),
            proc: None,
        }
    }

    pub fn start(&mut self) {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.conf)
            .stdout(out.try_clone().expect("clone"))
            .stderr(out)
            .spawn()
            .expect("spawn mosquitto");
        self.proc = Some(Proc {
            child,
            name: "mosquitto".into(),
        });
        let port = self.port;
        assert!(
            wait_until(Duration::from_secs(10), || port_open(port)),
            "mosquitto did not listen on {port}"
        );
    }

    /// Graceful stop: mosquitto writes its persistence file on SIGTERM.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop(Duration::from_secs(10));
        }
    }
}
