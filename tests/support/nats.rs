//! A real NATS cluster for the end-to-end tests: `nats-server` processes on loopback, each with
//! JetStream (its own store dir, a `server_name`), a cluster route to the others, an MQTT
//! listener (for agents and the hub's publishing) and the monitoring port (for readiness).
//! Without nats-server the caller skips, unless HASHWARD_REQUIRE_NATS=1 (CI).
//!
//! Must never leave a server running: each node is a [`Proc`], killed when dropped.
#![allow(dead_code)]

use super::{free_port, port_open, wait_until, Proc};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Finds nats-server; without it the caller skips, unless HASHWARD_REQUIRE_NATS=1.
pub fn nats_binary() -> Option<PathBuf> {
    let found = [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("HASHWARD_REQUIRE_NATS").as_deref() != Ok("1"),
            "nats-server is required (HASHWARD_REQUIRE_NATS=1) but not installed"
        );
        eprintln!("NOTICE: nats-server not installed; skipping this test (apt-get install nats-server)");
    }
    found
}

pub struct NatsNode {
    pub name: String,
    pub client_port: u16,
    pub mqtt_port: u16,
    pub monitor_port: u16,
    conf: PathBuf,
    log: PathBuf,
    pub proc: Option<Proc>,
}

pub struct NatsCluster {
    bin: PathBuf,
    pub nodes: Vec<NatsNode>,
}

impl NatsCluster {
    /// Configures and starts `n` nodes under `dir`, and waits until JetStream is ready on all.
    pub fn start(bin: PathBuf, dir: &Path, n: usize) -> NatsCluster {
        let ports: Vec<(u16, u16, u16, u16)> = (0..n)
            .map(|_| (free_port(), free_port(), free_port(), free_port()))
            .collect();
        let routes: Vec<String> = ports
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{}", p.1))
            .collect();
        let nodes = ports
            .iter()
            .enumerate()
            .map(|(i, &(client, cluster, mqtt, monitor))| {
                let name = format!("nats-{}", i + 1);
                let ndir = dir.join(&name);
                std::fs::create_dir_all(&ndir).expect("mkdir");
                let conf = ndir.join("nats.conf");
                let text = format!(
                    "server_name: {name}\nlisten: 127.0.0.1:{client}\nhttp: 127.0.0.1:{monitor}\n\
                     jetstream {{\n  store_dir: \"{store}\"\n  max_file_store: 1G\n  max_memory_store: 64M\n}}\n\
                     cluster {{\n  name: hashward-test\n  listen: 127.0.0.1:{cluster}\n  routes: [\n    {routes}\n  ]\n}}\n\
                     mqtt {{\n  listen: 127.0.0.1:{mqtt}\n}}\n",
                    store = ndir.join("js").display(),
                    routes = routes.join("\n    "),
                );
                std::fs::write(&conf, text).expect("write nats.conf");
                NatsNode {
                    name,
                    client_port: client,
                    mqtt_port: mqtt,
                    monitor_port: monitor,
                    conf,
                    log: ndir.join("nats.log"),
                    proc: None,
                }
            })
            .collect();
        let mut c = NatsCluster { bin, nodes };
        for i in 0..n {
            c.start_node(i);
        }
        for i in 0..n {
            c.wait_ready(i);
        }
        c
    }

    pub fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("log");
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&node.conf)
            .stdout(out.try_clone().expect("clone"))
            .stderr(out)
            .spawn()
            .expect("spawn nats-server");
        node.proc = Some(Proc {
            child,
            name: node.name.clone(),
        });
    }

    /// Waits until node `i` listens for clients and MQTT and its JetStream answers healthy
    /// (the meta group has a leader).
    pub fn wait_ready(&self, i: usize) {
        let node = &self.nodes[i];
        let ok = wait_until(Duration::from_secs(60), || {
            port_open(node.client_port)
                && port_open(node.mqtt_port)
                && ureq::get(&format!("http://127.0.0.1:{}/healthz", node.monitor_port))
                    .call()
                    .is_ok()
        });
        assert!(ok, "{} not ready; log:\n{}", node.name, self.log(i));
        // /healthz answers before the MQTT layer has its JetStream streams (made with replicas
        // across the cluster, seconds later under load): until then MQTT connects time out.
        let ok = wait_until(Duration::from_secs(60), || mqtt_accepts(node.mqtt_port));
        assert!(
            ok,
            "{} does not take MQTT publishes; log:\n{}",
            node.name,
            self.log(i)
        );
    }

    pub fn kill9(&mut self, i: usize) {
        if let Some(mut p) = self.nodes[i].proc.take() {
            p.kill9();
        }
    }

    pub fn restart(&mut self, i: usize) {
        self.start_node(i);
        self.wait_ready(i);
    }

    /// Every node's client URL, comma-separated (the hub's `broker`).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default()
    }
}

/// True once an MQTT client connects to `port` and gets a QoS 1 publish acknowledged.
fn mqtt_accepts(port: u16) -> bool {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new(format!("ready-{port}"), "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut conn) = Client::new(opts, 4);
    if client
        .publish("hashward-test/ready", QoS::AtLeastOnce, false, "x")
        .is_err()
    {
        return false;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        match conn.recv_timeout(Duration::from_millis(500)) {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => {
                let _ = client.disconnect();
                return true;
            }
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(_)) => return false,
        }
    }
    false
}

/// Writes a hub config for the cluster in `dir` (client id `id`, publishing through node
/// `mqtt_node`, its fleet store in `store` when given, else its own redb) and returns its path.
pub fn hub_config(
    dir: &Path,
    cluster: &NatsCluster,
    id: &str,
    mqtt_node: usize,
    lease_ttl_ms: u64,
    store: Option<&str>,
) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    let path = dir.join("hub.toml");
    let store = store.map(|s| format!("store = \"{s}\"\n")).unwrap_or_default();
    let text = format!(
        "broker = \"{}\"\nclient_id = \"{id}\"\n{store}[nats]\nmqtt = \"mqtt://127.0.0.1:{}\"\nreplicas = 3\nlease_ttl_ms = {lease_ttl_ms}\n",
        cluster.urls(),
        cluster.nodes[mqtt_node].mqtt_port
    );
    std::fs::write(&path, text).expect("write hub.toml");
    path
}
