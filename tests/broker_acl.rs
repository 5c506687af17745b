//! `hashward hub broker-acl` against a real mosquitto: the generated ACL and password files
//! confine each rig to its own uplink topics and to reading its own, its site's and the fleet's
//! config/command topics. A denied QoS 1 publish is acknowledged and dropped by mosquitto 2, so
//! refusal is shown by the hub user's subscription NOT receiving it while it does receive an
//! allowed message sent after it on the same connection.

mod support;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::*;
use tokio::sync::mpsc;

const RIGS: &str = "# test fleet\ns1/rig-a pw-a\ns1/rig-b pw-b\n\ns2/rig-c pw-c\n";

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

/// Connects as `user`; Err with the broker's answer when the connection is refused.
async fn connect(port: u16, id: &str, user: Option<(&str, &str)>) -> Result<Peer, String> {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(5)).set_clean_session(true);
    if let Some((u, p)) = user {
        o.set_credentials(u, p);
    }
    let (client, mut events) = AsyncClient::new(o, 64);
    let connected = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(a))) => {
                    return match a.code {
                        rumqttc::ConnectReturnCode::Success => Ok(()),
                        code => Err(format!("{code:?}")),
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .map_err(|_| "no CONNACK within 5 s".to_string())?;
    connected?;
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
            }
        }
    });
    Ok(Peer { client, rx, task })
}

impl Peer {
    async fn subscribe(&self, filter: &str) {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .expect("queue subscribe");
    }

    async fn publish(&self, topic: &str, payload: &str, retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.as_bytes().to_vec())
            .await
            .expect("queue publish");
    }

    /// Everything received until `marker` arrives (payload), or panics after 10 s.
    async fn until(&mut self, marker: &str) -> Vec<(String, String)> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((t, p))) => {
                    let p = String::from_utf8_lossy(&p).into_owned();
                    let done = p == marker;
                    got.push((t, p));
                    if done {
                        // Anything a broken ACL let through would have been queued before
                        // the marker; a short grace catches reordering anyway.
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        while let Ok((t, p)) = self.rx.try_recv() {
                            got.push((t, String::from_utf8_lossy(&p).into_owned()));
                        }
                        return got;
                    }
                }
                _ => panic!("{marker:?} not received within 10 s; got {got:?}"),
            }
        }
    }
}

fn payloads(got: &[(String, String)]) -> Vec<&str> {
    got.iter().map(|(_, p)| p.as_str()).collect()
}

fn generate(dir: &Path) -> std::process::Output {
    std::fs::write(dir.join("rigs.txt"), RIGS).expect("rigs file");
    Command::new(env!("CARGO_BIN_EXE_hashward"))
        .args(["hub", "broker-acl", "--rigs"])
        .arg(dir.join("rigs.txt"))
        .arg("--acl-file")
        .arg(dir.join("acl"))
        .arg("--password-file")
        .arg(dir.join("passwd"))
        .args(["--dashboard-user", "dash"])
        .env("HASHWARD_HUB_MQTT_PASSWORD", "hub-pw")
        .env("HASHWARD_DASHBOARD_MQTT_PASSWORD", "dash-pw")
        .output()
        .expect("run broker-acl")
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
    let up = wait_until(Duration::from_secs(10), || port_open(port));
    let log = std::fs::read_to_string(dir.join("mosquitto.log")).unwrap_or_default();
    assert!(up, "mosquitto did not listen on {port}:\n{log}");
    (p, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_enforces_the_generated_acl() {
    let Some(bin) = mosquitto_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = generate(dir.path());
    assert!(
        out.status.success(),
        "broker-acl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passwd = std::fs::read_to_string(dir.path().join("passwd")).expect("passwd");
    assert!(
        !passwd.contains("pw-a") && !passwd.contains("hub-pw"),
        "no clear text"
    );
    let (_broker, port) = start_mosquitto(&bin, dir.path());

    // Wrong password and anonymous clients are refused outright.
    assert!(connect(port, "x1", Some(("rig-a", "wrong"))).await.is_err());
    assert!(connect(port, "x2", None).await.is_err());

    let mut hub = connect(port, "hub", Some(("hashward-hub", "hub-pw")))
        .await
        .expect("hub connects");
    hub.subscribe("hashward/v1/#").await;
    hub.subscribe("hashward/json/#").await;
    let rig_a = connect(port, "rig-a", Some(("rig-a", "pw-a")))
        .await
        .expect("rig-a connects");
    tokio::time::sleep(Duration::from_millis(300)).await; // subscriptions in place

    // rig-a: forged traffic first, then its own telemetry as the marker.
    let p = "hashward/v1";
    rig_a
        .publish(&format!("{p}/s1/rig-b/tele"), "forged-other-rig", false)
        .await;
    rig_a
        .publish(&format!("{p}/s2/rig-c/state"), "forged-other-site", true)
        .await;
    rig_a
        .publish(&format!("{p}/s2/rig-a/tele"), "own-rig-wrong-site", false)
        .await;
    rig_a
        .publish(&format!("{p}/fleet/cfg"), "forged-fleet-cfg", true)
        .await;
    rig_a
        .publish(&format!("{p}/s1/cfg"), "forged-site-cfg", true)
        .await;
    rig_a
        .publish(&format!("{p}/s1/rig-a/cfg"), "forged-own-cfg", true)
        .await;
    rig_a
        .publish(&format!("{p}/s1/rig-b/cmd"), "forged-cmd", false)
        .await;
    rig_a
        .publish("hashward/json/fleet/summary", "forged-dashboard", true)
        .await;
    rig_a
        .publish(&format!("{p}/s1/rig-a/asic/s19-1"), "own-asic", false)
        .await;
    rig_a
        .publish(&format!("{p}/s1/rig-a/tele"), "own-tele", false)
        .await;
    let got = hub.until("own-tele").await;
    assert_eq!(payloads(&got), ["own-asic", "own-tele"], "hub saw {got:?}");

    // The hub pushes config; rig-a reads its own, its site's and the fleet's, nothing else.
    hub.publish(&format!("{p}/fleet/cfg"), "fleet-cfg", true).await;
    hub.publish(&format!("{p}/s1/cfg"), "site-s1-cfg", true).await;
    hub.publish(&format!("{p}/s2/cfg"), "site-s2-cfg", true).await;
    hub.publish(&format!("{p}/s1/rig-b/cfg"), "rig-b-cfg", true).await;
    hub.publish(&format!("{p}/s1/rig-a/cfg"), "rig-a-cfg", true).await;
    hub.publish("hashward/json/fleet/summary", "summary", true).await;
    let got = hub.until("summary").await;
    assert_eq!(
        payloads(&got),
        [
            "fleet-cfg",
            "site-s1-cfg",
            "site-s2-cfg",
            "rig-b-cfg",
            "rig-a-cfg",
            "summary"
        ],
        "the hub may write every config scope and the dashboard tree"
    );
    let mut reader = connect(port, "rig-a-2", Some(("rig-a", "pw-a")))
        .await
        .expect("rig-a again");
    for f in [
        "fleet/cfg",
        "s1/cfg",
        "s1/rig-a/cfg",
        "s1/rig-a/cmd",
        "s2/cfg",
        "s1/rig-b/cfg",
        "s1/rig-b/tele",
        "+/+/state",
    ] {
        reader.subscribe(&format!("{p}/{f}")).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    hub.publish(&format!("{p}/s1/rig-b/tele"), "hub-cannot-forge-uplink", false)
        .await;
    let rig_b = connect(port, "rig-b", Some(("rig-b", "pw-b")))
        .await
        .expect("rig-b connects");
    rig_b
        .publish(&format!("{p}/s1/rig-b/tele"), "rig-b-tele", false)
        .await;
    let got = hub.until("rig-b-tele").await;
    assert_eq!(
        payloads(&got),
        ["rig-b-tele"],
        "the hub cannot write uplink: {got:?}"
    );
    // Published after rig-b's telemetry was fanned out, so it arrives after any copy of it.
    hub.publish(&format!("{p}/s1/rig-a/cmd"), "cmd-for-a", false)
        .await;
    let got = reader.until("cmd-for-a").await;
    let mut seen = payloads(&got);
    seen.sort_unstable();
    assert_eq!(
        seen,
        ["cmd-for-a", "fleet-cfg", "rig-a-cfg", "site-s1-cfg"],
        "rig-a read {got:?}"
    );

    // The dashboard user reads summaries and writes nothing.
    let mut dash = connect(port, "dash", Some(("dash", "dash-pw")))
        .await
        .expect("dashboard");
    dash.subscribe("hashward/json/#").await;
    dash.publish(&format!("{p}/fleet/cfg"), "dash-fleet-cfg", true)
        .await;
    dash.publish("hashward/json/fleet/summary", "dash-summary", true)
        .await;
    let got = dash.until("summary").await;
    assert_eq!(
        payloads(&got),
        ["summary"],
        "retained summary, not its own: {got:?}"
    );
    rig_a
        .publish(&format!("{p}/s1/rig-a/tele"), "own-tele-2", false)
        .await;
    let got = hub.until("own-tele-2").await;
    // The hub also sees its own command to rig-a from above; nothing the dashboard wrote.
    assert_eq!(
        payloads(&got),
        ["cmd-for-a", "own-tele-2"],
        "dashboard writes dropped: {got:?}"
    );
}

#[test]
fn bad_rigs_files_fail_naming_the_line_and_write_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rigs.txt"), "s1/rig-a pw\ns2/rig-a pw2\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_hashward"))
        .args(["hub", "broker-acl", "--rigs"])
        .arg(dir.path().join("rigs.txt"))
        .arg("--acl-file")
        .arg(dir.path().join("acl"))
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("line 2") && err.contains("rig-a") && err.contains("line 1"),
        "{err}"
    );
    assert!(!dir.path().join("acl").exists());
    // A password file without the hub's password: refused before anything is written.
    std::fs::write(dir.path().join("rigs.txt"), "s1/rig-a pw\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_hashward"))
        .args(["hub", "broker-acl", "--rigs"])
        .arg(dir.path().join("rigs.txt"))
        .arg("--acl-file")
        .arg(dir.path().join("acl"))
        .arg("--password-file")
        .arg(dir.path().join("passwd"))
        .env_remove("HASHWARD_HUB_MQTT_PASSWORD")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("HASHWARD_HUB_MQTT_PASSWORD"),
        "{err}"
    );
    assert!(!dir.path().join("acl").exists() && !dir.path().join("passwd").exists());
}

/// Our `$7$` lines are byte-identical to mosquitto_passwd's for the same salt and iterations.
#[test]
fn password_hashes_match_mosquitto_passwd() {
    let Some(bin) = mosquitto_binary() else { return };
    let tool = bin.with_file_name("mosquitto_passwd");
    let tool = if tool.exists() {
        tool
    } else {
        std::path::PathBuf::from("/usr/bin/mosquitto_passwd")
    };
    if !tool.exists() {
        eprintln!("NOTICE: mosquitto_passwd not found; skipping the cross-check");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pw");
    let ok = Command::new(&tool)
        .args(["-c", "-b"])
        .arg(&file)
        .args(["rig-a", "s3cret pass"])
        .status()
        .expect("run mosquitto_passwd");
    assert!(ok.success());
    let line = std::fs::read_to_string(&file).expect("read");
    let line = line.trim();
    // rig-a:$7$ITER$SALT$HASH
    let fields: Vec<&str> = line.split('$').collect();
    assert_eq!(fields.len(), 5, "{line}");
    let iterations: u32 = fields[2].parse().expect("iterations");
    use base64::Engine as _;
    let salt = base64::engine::general_purpose::STANDARD
        .decode(fields[3])
        .expect("salt");
    assert_eq!(
        hashward_hub::cmd::broker_acl::password_line("rig-a", "s3cret pass", &salt, iterations),
        line
    );
}
