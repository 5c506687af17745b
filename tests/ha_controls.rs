//! Home Assistant end to end against a real mosquitto with the ACL and password files
//! `hashward hub broker-acl --ha-user` generates: the hub (HA on, signing key configured)
//! publishes discovery for a rig and its ASIC (fake Vnish), HA's user reads it and the JSON
//! state; its pause button and power-target number become signed commands the agent verifies
//! and acknowledges; HA's birth message brings the discovery again. Another user's message on a
//! Home Assistant command topic, and HA's own unsigned message on a rig's command topic, are
//! refused by the broker.
//!
//! Skips with a notice without mosquitto, unless HASHWARD_REQUIRE_MOSQUITTO=1.

#[path = "../agent/tests/asic_support/mod.rs"]
mod asic_support;
mod support;

use asic_support::{fixtures, FakeVnish};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::*;
use tokio::sync::mpsc;

/// One MQTT client whose received publishes arrive on `rx`.
struct Peer {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn connect(port: u16, id: &str, user: &str, password: &str) -> Peer {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(5))
        .set_clean_session(true)
        .set_credentials(user, password)
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = AsyncClient::new(o, 256);
    let connected = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(a))) => {
                    return a.code == rumqttc::ConnectReturnCode::Success
                }
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    })
    .await;
    assert_eq!(connected, Ok(true), "{user} could not connect");
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
            }
        }
    });
    Peer { client, rx, task }
}

impl Peer {
    async fn subscribe(&self, filter: &str) {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
    }

    async fn publish(&self, topic: &str, payload: &[u8], retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.to_vec())
            .await
            .expect("publish");
    }

    /// Collects publishes until `done` holds for what was collected, or panics after `secs`.
    async fn collect(
        &mut self,
        secs: u64,
        got: &mut BTreeMap<String, Vec<u8>>,
        done: impl Fn(&BTreeMap<String, Vec<u8>>) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while !done(got) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((t, p))) => {
                    got.insert(t, p);
                }
                _ => panic!(
                    "not received within {secs} s; got {:?}",
                    got.keys().collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Everything received until a message with payload `marker` (plus a short grace for
    /// reordering across connections).
    async fn until(&mut self, marker: &str) -> Vec<(String, String)> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((t, p))) => {
                    let p = String::from_utf8_lossy(&p).into_owned();
                    let done = p == marker;
                    got.push((t, p));
                    if done {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        while let Ok((t, p)) = self.rx.try_recv() {
                            got.push((t, String::from_utf8_lossy(&p).into_owned()));
                        }
                        return got;
                    }
                }
                _ => panic!("{marker:?} not received within 15 s; got {got:?}"),
            }
        }
    }
}

fn start_mosquitto(bin: &Path, dir: &Path) -> (Proc, u16) {
    let port = free_port();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "user root\nlistener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nacl_file {}\n\
             persistence false\nlog_type error\nlog_type warning\nlog_type notice\n",
            dir.join("passwd").display(),
            dir.join("acl").display()
        ),
    )
    .expect("conf");
    let log = std::fs::File::create(dir.join("mosquitto.log")).expect("log");
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(log.try_clone().expect("clone"))
        .stderr(log)
        .spawn()
        .expect("spawn mosquitto");
    let p = Proc {
        child,
        name: "mosquitto".into(),
    };
    assert!(
        wait_until(Duration::from_secs(10), || port_open(port)),
        "mosquitto did not listen"
    );
    (p, port)
}

const TOKEN: &str = "operator-token-0123456789";

/// POSTs a dashboard action: (status, JSON body).
fn action(http: u16, path: &str, bearer: Option<&str>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.post(&format!("http://127.0.0.1:{http}{path}"));
    if let Some(t) = bearer {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.send_empty().expect("request");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_json().unwrap_or(Value::Null))
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_assistant_discovers_and_controls_through_signed_commands() {
    let Some(bin) = mosquitto_binary() else { return };
    let vnish = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("rigs.txt"), "farm/rig-a pw-a\nfarm/rig-b pw-b\n").expect("rigs");
    let out = Command::new(env!("CARGO_BIN_EXE_hashward"))
        .args(["hub", "broker-acl", "--rigs"])
        .arg(d.join("rigs.txt"))
        .arg("--acl-file")
        .arg(d.join("acl"))
        .arg("--password-file")
        .arg(d.join("passwd"))
        .args(["--ha-user", "ha"])
        .env("HASHWARD_HUB_MQTT_PASSWORD", "hub-pw")
        .env("HASHWARD_HA_MQTT_PASSWORD", "ha-pw")
        .output()
        .expect("broker-acl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_broker, port) = start_mosquitto(&bin, d);

    let keys = d.join("keys");
    let (ok, out, err) = cli(&["hub", "keygen", "--dir", keys.to_str().expect("utf8")]);
    assert!(ok, "keygen: {err}");
    let public = out
        .lines()
        .find_map(|l| l.strip_prefix("hub_public_key = \"")?.strip_suffix('"'))
        .expect("public key")
        .to_string();
    let config = d.join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "[commands]\nsigning_key = \"{}\"\n[home_assistant]\nenabled = true\n[web]\noperator_token = \"{TOKEN}\"\n",
            keys.join("hub.key").display()
        ),
    )
    .expect("hub config");
    let http = free_port();
    let mut hub = hub_with(
        d,
        http,
        Some(port),
        0,
        &[
            "--config",
            config.to_str().expect("utf8"),
            "--username",
            "hashward-hub",
            "--password",
            "hub-pw",
        ],
    );
    wait_for_http(http);

    let spec = agent_spec(d, "farm", "rig-a", port, 500);
    let creds = d.join("asic-credentials.toml");
    std::fs::write(&creds, "[default]\npassword = \"admin\"\n").expect("creds");
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let text = std::fs::read_to_string(&spec.config).expect("config").replace(
        "keep_alive_s = 5",
        "keep_alive_s = 5\nusername = \"rig-a\"\npassword = \"pw-a\"",
    );
    std::fs::write(
        &spec.config,
        format!(
            "{text}[fleet]\nhub_public_key = \"{public}\"\n\
             [miner]\nenabled = true\nmining_threads = 1\nauto_tune_enabled = false\n\
             [asic]\ncredentials_file = \"{}\"\ntelemetry_interval_s = 1\ntelemetry_max_interval_s = 2\n\
             [[asic.miners]]\nid = \"s19-1\"\nurl = \"{}\"\nkind = \"vnish\"\n",
            creds.display(),
            vnish.url()
        ),
    )
    .expect("agent config");
    let mut agent = agent(&spec);

    // Home Assistant's view: discovery for the rig and its ASIC, and the ASIC's state.
    let mut ha = connect(port, "ha-1", "ha", "ha-pw").await;
    ha.subscribe("homeassistant/#").await;
    ha.subscribe("hashward/json/#").await;
    let number = "homeassistant/number/hashward_farm_rig-a_s19-1/power_target/config";
    let state = "hashward/json/farm/rig-a/asic/s19-1";
    let mut got = BTreeMap::new();
    ha.collect(60, &mut got, |g| {
        g.contains_key(number)
            && g.contains_key("homeassistant/button/hashward_farm_rig-a/pause/config")
            && g.get(state).is_some_and(|s| json(s)["online"] == true)
    })
    .await;
    let configs: Vec<(String, Value)> = got
        .iter()
        .filter(|(t, _)| t.starts_with("homeassistant/") && t.ends_with("/config"))
        .map(|(t, p)| (t.clone(), json(p)))
        .collect();
    let ids: HashSet<&str> = configs
        .iter()
        .filter_map(|(_, p)| p["unique_id"].as_str())
        .collect();
    assert_eq!(ids.len(), configs.len(), "unique ids are unique");
    let n = json(&got[number]);
    assert_eq!(n["device"]["via_device"], "hashward_farm_rig-a");
    assert_eq!(
        n["command_topic"],
        "hashward/ha/farm/rig-a/asic/s19-1/power_target"
    );
    let s = json(&got[state]);
    assert!(
        (s["hashrate_ths"].as_f64().unwrap_or(0.0) - 104.5).abs() < 0.01,
        "{s}"
    );
    let summary = "hashward/json/farm/rig-a/summary";
    ha.collect(30, &mut got, |g| g.contains_key(summary)).await;
    assert_eq!(json(&got[summary])["online"], true, "availability source");

    // The pause button: a signed command the agent verifies, applies and acknowledges.
    let rig = |f: &dyn Fn(&Value) -> bool| {
        wait_until(Duration::from_secs(30), || {
            get_json(&format!("http://127.0.0.1:{http}/rigs/rig-a")).is_some_and(|r| f(&r))
        })
    };
    assert!(
        rig(&|r| r["last_telemetry"]["miner"]["paused"] == false),
        "agent not mining"
    );
    ha.publish("hashward/ha/farm/rig-a/pause", b"PRESS", false).await;
    assert!(
        rig(&|r| r["last_telemetry"]["miner"]["paused"] == true
            && r["commands"]
                .as_array()
                .is_some_and(|c| c.iter().any(|a| a["outcome"] == "applied"))),
        "pause not applied: {}\n{}",
        get_json(&format!("http://127.0.0.1:{http}/rigs/rig-a")).unwrap_or_default(),
        agent_log(&spec)
    );
    assert_eq!(metric(http, "hashward_hub_commands_sent_total"), Some(1));

    // The power-target number: signed, verified, answered (applied or reported, never refused
    // as unsigned or unknown).
    ha.publish("hashward/ha/farm/rig-a/asic/s19-1/power_target", b"3000", false)
        .await;
    assert!(
        rig(&|r| r["commands"].as_array().is_some_and(|c| c.len() >= 2)),
        "no ack of the power target: {}",
        agent_log(&spec)
    );
    let r = get_json(&format!("http://127.0.0.1:{http}/rigs/rig-a")).expect("rig");
    let last = &r["commands"][1]["outcome"];
    let why = last["rejected"].as_str().unwrap_or("");
    assert!(
        !why.contains("signature") && !why.contains("unknown command"),
        "{last}"
    );
    assert_eq!(metric(http, "hashward_hub_commands_sent_total"), Some(2));

    // Refused by the broker: rig-b on a Home Assistant command topic, and HA's unsigned bytes on
    // the rig's command topic. A watcher with the hub's rights sees neither, only the marker.
    let mut watch = connect(port, "hub-watch", "hashward-hub", "hub-pw").await;
    watch.subscribe("hashward/ha/#").await;
    watch.subscribe("hashward/v1/+/+/cmd").await;
    let rig_b = connect(port, "rig-b-1", "rig-b", "pw-b").await;
    tokio::time::sleep(Duration::from_millis(300)).await; // subscriptions in place
    rig_b
        .publish("hashward/ha/farm/rig-a/resume", b"PRESS", false)
        .await;
    ha.publish("hashward/v1/farm/rig-a/cmd", b"unsigned resume", false)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ha.publish("hashward/ha/farm/rig-a/pause", b"marker", false).await;
    let seen = watch.until("marker").await;
    assert_eq!(
        seen,
        vec![("hashward/ha/farm/rig-a/pause".to_string(), "marker".to_string())],
        "the broker let another user's or an unsigned message through"
    );
    // The marker reached the hub, which refused it (not PRESS); nothing else was signed.
    assert!(wait_until(Duration::from_secs(10), || metric(
        http,
        "hashward_hub_commands_refused_total"
    ) == Some(1)));
    assert_eq!(metric(http, "hashward_hub_commands_sent_total"), Some(2));
    assert_eq!(
        get_json(&format!("http://127.0.0.1:{http}/rigs/rig-a")).expect("rig")["last_telemetry"]["miner"]
            ["paused"],
        true,
        "still paused"
    );

    // Home Assistant's birth message brings the discovery again.
    let before = metric(http, "hashward_hub_ha_discovery_published_total").expect("counter");
    ha.publish("homeassistant/status", b"online", false).await;
    assert!(
        wait_until(Duration::from_secs(20), || metric(
            http,
            "hashward_hub_ha_discovery_published_total"
        )
        .is_some_and(|n| n >= before + configs.len() as u64)),
        "discovery not republished after HA's birth"
    );

    // The dashboard's actions: only with the operator token, through the same signed path.
    assert_eq!(
        get_json(&format!("http://127.0.0.1:{http}/actions")).expect("actions")["enabled"],
        true
    );
    let (status, body) = action(http, "/actions/rigs/rig-a/resume", None);
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorised")));
    let (status, body) = action(
        http,
        "/actions/rigs/rig-a/resume",
        Some("operator-token-0123456788"),
    );
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorised")));
    assert!(!body.to_string().contains(TOKEN), "the token is never echoed");
    let (status, body) = action(http, "/actions/rigs/nope/resume", Some(TOKEN));
    assert_eq!((status, body["code"].as_str()), (404, Some("rig_not_found")));
    assert_eq!(
        metric(http, "hashward_hub_commands_sent_total"),
        Some(2),
        "refused actions send nothing"
    );
    assert_eq!(
        metric(http, "hashward_hub_commands_refused_total"),
        Some(4),
        "and are counted"
    );
    let (status, body) = action(http, "/actions/rigs/rig-a/resume", Some(TOKEN));
    assert_eq!(
        (status, body["command"].as_str(), body["rig"].as_str()),
        (202, Some("resume"), Some("rig-a")),
        "{body}"
    );
    assert!(
        rig(&|r| r["last_telemetry"]["miner"]["paused"] == false),
        "resume not applied"
    );
    assert_eq!(metric(http, "hashward_hub_commands_sent_total"), Some(3));
    let hub_log = std::fs::read_to_string(d.join("hub.log")).unwrap_or_default();
    assert!(!hub_log.contains(TOKEN), "the token is never logged");
    for l in hub_log.lines().filter(|l| l.contains("command")) {
        eprintln!("hub: {l}");
    }

    // Retiring the rig: its entities are removed (empty retained payloads) and its series go.
    agent.stop(Duration::from_secs(10));
    assert!(
        rig(&|r| r["online"] == false),
        "the rig's last state is not offline"
    );
    let (status, _) = action(http, "/actions/rigs/rig-a/forget", None);
    assert_eq!(status, 401);
    let (status, body) = action(http, "/actions/rigs/rig-a/forget", Some(TOKEN));
    assert_eq!((status, &body["forgotten"]), (200, &Value::Bool(true)), "{body}");
    let mut removed = BTreeMap::new();
    let button = "homeassistant/button/hashward_farm_rig-a/pause/config";
    ha.collect(30, &mut removed, |g| {
        g.get(number).is_some_and(Vec::is_empty) && g.get(button).is_some_and(Vec::is_empty)
    })
    .await;
    assert!(
        get_json(&format!("http://127.0.0.1:{http}/rigs/rig-a")).is_none(),
        "still listed"
    );
    let text = get_text(&format!("http://127.0.0.1:{http}/metrics")).expect("metrics");
    assert!(
        !text.contains("rig=\"rig-a\""),
        "series of a forgotten rig:\n{text}"
    );
    // A retained empty payload is no message: a new Home Assistant sees no trace of the rig.
    let mut fresh = connect(port, "ha-2", "ha", "ha-pw").await;
    fresh.subscribe("homeassistant/#").await;
    fresh.subscribe("hashward/json/farm/rig-a/asic/#").await;
    let marker = "homeassistant/status";
    fresh.publish(marker, b"offline", false).await;
    let mut seen = BTreeMap::new();
    fresh.collect(10, &mut seen, |g| g.contains_key(marker)).await;
    assert!(
        !seen
            .keys()
            .any(|t| t.contains("hashward_farm_rig-a") || t.contains("/asic/")),
        "retained discovery left behind: {:?}",
        seen.keys().collect::<Vec<_>>()
    );

    hub.stop(Duration::from_secs(10));
}

/// With the embedded broker (no ACL: any local process can publish), Home Assistant gets
/// sensors only and a control message is refused, never signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_controls_behind_the_embedded_broker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let keys = d.join("keys");
    let (ok, _, err) = cli(&["hub", "keygen", "--dir", keys.to_str().expect("utf8")]);
    assert!(ok, "keygen: {err}");
    let config = d.join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "[commands]\nsigning_key = \"{}\"\n[home_assistant]\nenabled = true\n",
            keys.join("hub.key").display()
        ),
    )
    .expect("hub config");
    let (mqtt, http) = (free_port(), free_port());
    let mut hub = hub_with(d, http, None, mqtt, &["--config", config.to_str().expect("utf8")]);
    wait_for_http(http);
    let spec = agent_spec(d, "farm", "rig-a", mqtt, 500);
    let mut agent = agent(&spec);

    // The embedded broker takes any credentials.
    let mut ha = connect(mqtt, "ha-1", "any", "thing").await;
    ha.subscribe("homeassistant/#").await;
    let sensor = "homeassistant/sensor/hashward_farm_rig-a/anomaly/config";
    let mut got = BTreeMap::new();
    ha.collect(60, &mut got, |g| g.contains_key(sensor)).await;
    assert!(
        !got.keys()
            .any(|t| t.starts_with("homeassistant/button/") || t.starts_with("homeassistant/number/")),
        "controls offered behind the embedded broker: {:?}",
        got.keys().collect::<Vec<_>>()
    );
    ha.publish("hashward/ha/farm/rig-a/pause", b"PRESS", false).await;
    assert!(wait_until(Duration::from_secs(10), || metric(
        http,
        "hashward_hub_commands_refused_total"
    ) == Some(1)));
    assert_eq!(metric(http, "hashward_hub_commands_sent_total"), Some(0));

    agent.stop(Duration::from_secs(10));
    hub.stop(Duration::from_secs(10));
}
