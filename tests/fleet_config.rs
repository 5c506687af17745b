//! Fleet control end to end against a real mosquitto: signed config pushes to the fleet, a site
//! and a rig merge in that order on every agent, a rig that was offline applies the retained
//! pushes when it comes back, every rejected push is acked with its reason while the previous
//! config stays in force, commands are acked and cannot be replayed, and an agent killed while
//! committing a push comes back with the old or the new config, never a mix.

mod support;

use ed25519_dalek::SigningKey;
use hashward_agent::config::Config;
use hashward_protocol::signed::{PayloadKind, SignedContent, SignedMessage};
use hashward_protocol::Command;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::*;

struct Fleet {
    _mosquitto: Mosquitto,
    hub: Proc,
    mqtt: u16,
    http: u16,
    keys: PathBuf,
    public: String,
    dir: PathBuf,
}

fn fleet(dir: &Path) -> Option<Fleet> {
    let bin = mosquitto_binary()?;
    let (mqtt, http) = (free_port(), free_port());
    let mut m = Mosquitto::new(bin, dir, mqtt, "");
    m.start();
    let keys = dir.join("keys");
    let (ok, out, err) = cli(&["hub", "keygen", "--dir", keys.to_str().expect("utf8")]);
    assert!(ok, "keygen: {err}");
    let public = out
        .lines()
        .find_map(|l| l.strip_prefix("hub_public_key = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("public key line")
        .to_string();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let hub = hub_with(
        dir,
        http,
        Some(mqtt),
        0,
        &["--models-dir", models.to_str().expect("utf8")],
    );
    wait_for_http(http);
    Some(Fleet {
        _mosquitto: m,
        hub,
        mqtt,
        http,
        keys,
        public,
        dir: dir.to_path_buf(),
    })
}

impl Fleet {
    fn agent_spec(&self, site: &str, rig: &str, extra: &str) -> AgentSpec {
        let spec = agent_spec(&self.dir, site, rig, self.mqtt, 500);
        let mut text = std::fs::read_to_string(&spec.config).expect("config");
        text.push_str(&format!(
            "{extra}\n[fleet]\nhub_public_key = \"{}\"\n",
            self.public
        ));
        std::fs::write(&spec.config, text).expect("write config");
        spec
    }

    fn push(&self, scope: &str, patch: &str) -> u64 {
        let file = self.dir.join(format!("patch-{}.toml", rand::random::<u32>()));
        std::fs::write(&file, patch).expect("patch");
        let broker = format!("mqtt://127.0.0.1:{}", self.mqtt);
        let key = self.keys.join("hub.key");
        let (ok, out, err) = cli(&[
            "hub",
            "push-config",
            "--scope",
            scope,
            "--file",
            file.to_str().expect("utf8"),
            "--key",
            key.to_str().expect("utf8"),
            "--broker",
            &broker,
        ]);
        assert!(ok, "push-config {scope}: {err}");
        let v: Value = serde_json::from_str(out.trim()).expect("push-config JSON");
        v["version"].as_u64().expect("version")
    }

    fn key(&self) -> SigningKey {
        hashward_hub::keys::load(&self.keys.join("hub.key")).expect("key")
    }

    /// (status, applied version, reason) of `scope` for `rig` in the hub's rollout view.
    fn status(&self, rig: &str, scope: &str) -> Option<(String, Option<u64>, Option<String>)> {
        let v = get_json(&format!("http://127.0.0.1:{}/fleet/config", self.http))?;
        let r = v["rigs"].as_array()?.iter().find(|r| r["rig"] == rig)?;
        let s = r["scopes"].as_array()?.iter().find(|s| s["scope"] == scope)?;
        Some((
            s["status"].as_str()?.to_string(),
            s["applied_version"].as_u64(),
            s["reason"].as_str().map(str::to_string),
        ))
    }

    fn wait_status(
        &self,
        rig: &str,
        scope: &str,
        status: &str,
        secs: u64,
    ) -> (String, Option<u64>, Option<String>) {
        let mut last = None;
        let ok = wait_until(Duration::from_secs(secs), || {
            last = self.status(rig, scope);
            last.as_ref().is_some_and(|(s, _, _)| s == status)
        });
        assert!(
            ok,
            "{rig} {scope}: wanted {status}, last {last:?}; rollout {:?}",
            get_json(&format!("http://127.0.0.1:{}/fleet/config", self.http))
        );
        last.expect("status")
    }

    /// Publishes raw bytes on a topic, as a hub (or an attacker with broker access) would.
    fn publish_raw(&self, topic: &str, payload: Vec<u8>, retain: bool) {
        let mut opts = MqttOptions::new(format!("test-{}", rand::random::<u32>()), "127.0.0.1", self.mqtt);
        opts.set_keep_alive(Duration::from_secs(5));
        let (client, mut conn) = Client::new(opts, 10);
        client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .expect("publish");
        for ev in conn.iter() {
            if let Ok(Event::Incoming(Packet::PubAck(_))) = ev {
                break;
            }
            assert!(ev.is_ok(), "publish to {topic}: {ev:?}");
        }
        let _ = client.disconnect();
    }
}

fn in_force(spec: &AgentSpec) -> Option<Config> {
    Config::load(&spec.dir.join("data/config-in-force.toml")).ok()
}

fn soft_limit(spec: &AgentSpec) -> Option<f32> {
    in_force(spec).map(|c| c.tune.thermal_soft_limit_c)
}

fn signed(
    scope: &str,
    kind: PayloadKind,
    version: u64,
    expires: Option<u64>,
    payload: Vec<u8>,
    key: &SigningKey,
) -> Vec<u8> {
    let now = hashward_common::now_ms();
    let msg = SignedMessage::sign(
        SignedContent {
            kind,
            scope: scope.parse().expect("scope"),
            version,
            issued_ms: now,
            expires_ms: expires,
            payload,
        },
        key,
    )
    .expect("sign");
    postcard::to_stdvec(&msg).expect("encode")
}

#[test]
fn pushes_merge_fleet_site_rig_and_reach_a_rig_that_was_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(mut f) = fleet(dir.path()) else { return };
    let specs = [
        f.agent_spec("north", "n1", ""),
        f.agent_spec("north", "n2", ""),
        f.agent_spec("south", "s1", ""),
    ];
    let late = f.agent_spec("south", "s2", "");
    let mut procs: Vec<Proc> = specs.iter().map(agent).collect();
    for s in &specs {
        assert!(
            wait_until(Duration::from_secs(30), || in_force(s).is_some()),
            "{} did not start",
            s.rig
        );
    }

    let v_fleet = f.push(
        "fleet",
        "[miner]\nthermal_soft_limit_c = 75\nmax_batch_size = 16\n",
    );
    for s in &specs {
        let (_, applied, _) = f.wait_status(&s.rig, "fleet", "applied", 30);
        assert_eq!(applied, Some(v_fleet));
    }
    let v_site = f.push("site:north", "[miner]\nthermal_soft_limit_c = 70\n");
    let v_rig = f.push(
        "rig:south/s1",
        "[miner]\nthermal_soft_limit_c = 65\n[telemetry]\ninterval_ms = 700\n",
    );
    for rig in ["n1", "n2"] {
        assert_eq!(f.wait_status(rig, "site:north", "applied", 30).1, Some(v_site));
    }
    assert_eq!(f.wait_status("s1", "rig:south/s1", "applied", 30).1, Some(v_rig));

    let cfg: Vec<Config> = specs
        .iter()
        .map(|s| in_force(s).expect("config in force"))
        .collect();
    assert_eq!(
        cfg.iter()
            .map(|c| c.tune.thermal_soft_limit_c)
            .collect::<Vec<_>>(),
        vec![70.0, 70.0, 65.0],
        "site overrides fleet for north only, rig overrides both for s1"
    );
    assert!(
        cfg.iter().all(|c| c.tune.max_batch_size == 16),
        "fleet value kept where not overridden"
    );
    assert_eq!(
        cfg.iter().map(|c| c.telemetry.interval_ms).collect::<Vec<_>>(),
        vec![500, 500, 700]
    );
    assert!(agent_log(&specs[2]).contains("telemetry interval 500 ms -> 700 ms"));

    // The rig that was offline gets the retained pushes of its scopes when it comes online.
    assert_eq!(
        f.status("s2", "fleet"),
        None,
        "s2 is unknown to the hub before it connects"
    );
    let mut p = agent(&late);
    assert_eq!(f.wait_status("s2", "fleet", "applied", 30).1, Some(v_fleet));
    assert!(wait_until(Duration::from_secs(10), || soft_limit(&late) == Some(75.0)));
    assert_eq!(
        f.status("s2", "site:north"),
        None,
        "another site's push does not apply to s2"
    );

    let (ok, out, err) = cli(&[
        "hub",
        "rollout-status",
        "--hub",
        &format!("http://127.0.0.1:{}", f.http),
    ]);
    assert!(ok, "{err}");
    for needle in ["site:north", "rig:south/s1", "north/n1", "south/s2", "applied"] {
        assert!(out.contains(needle), "rollout-status lacks {needle}:\n{out}");
    }

    p.stop(Duration::from_secs(10));
    for p in &mut procs {
        p.stop(Duration::from_secs(10));
    }
    f.hub.stop(Duration::from_secs(10));
}

#[test]
fn rejected_pushes_are_acked_with_the_reason_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(mut f) = fleet(dir.path()) else { return };
    let spec = f.agent_spec("s", "r1", "");
    let mut a = agent(&spec);
    let v1 = f.push("fleet", "[miner]\nthermal_soft_limit_c = 75\n");
    f.wait_status("r1", "fleet", "applied", 30);
    assert_eq!(soft_limit(&spec), Some(75.0));
    let key = f.key();
    let other = SigningKey::from_bytes(&[7; 32]);
    let good = |v: u64, patch: &str| {
        signed(
            "fleet",
            PayloadKind::Config,
            v,
            None,
            patch.as_bytes().to_vec(),
            &key,
        )
    };
    let fleet_topic = hashward_protocol::Topic::FleetCfg.to_string();
    let rig_topic = "hashward/v1/s/r1/cfg";

    let mut tampered = good(v1 + 10, "[miner]\nthermal_soft_limit_c = 60\n");
    let n = tampered.len();
    tampered[n - 80] ^= 0x01; // inside the patch text, covered by the signature
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "wrong key",
            &fleet_topic,
            signed(
                "fleet",
                PayloadKind::Config,
                v1 + 1,
                None,
                b"[miner]\nthermal_soft_limit_c = 60\n".to_vec(),
                &other,
            ),
            "bad signature",
        ),
        ("tampered byte", &fleet_topic, tampered, "signature"),
        (
            "older version",
            &fleet_topic,
            good(v1 - 1, "[miner]\nthermal_soft_limit_c = 60\n"),
            "replay",
        ),
        (
            "another rig's push",
            rig_topic,
            signed(
                "rig:s/r2",
                PayloadKind::Config,
                v1 + 3,
                None,
                b"[miner]\nthermal_soft_limit_c = 60\n".to_vec(),
                &key,
            ),
            "signed for scope rig:s/r2",
        ),
        (
            "hard limit above the safe maximum",
            &fleet_topic,
            good(v1 + 4, "[miner]\nthermal_hard_limit_c = 130\n"),
            "thermal",
        ),
        (
            "malformed pool URL",
            &fleet_topic,
            good(
                v1 + 5,
                "[[miner.pools]]\nurl = \"stratum+tcp//pool\"\nuser = \"w.1\"\n",
            ),
            "miner.pools[0].url",
        ),
        (
            "not a config",
            &fleet_topic,
            good(v1 + 6, "this is not a config at all ]]"),
            "not a config",
        ),
        (
            "not signed at all",
            &fleet_topic,
            b"[miner]\nthermal_soft_limit_c = 60\n".to_vec(),
            "not a signed",
        ),
    ];
    for (what, topic, payload, reason) in cases {
        let before = get_json(&format!("http://127.0.0.1:{}/rigs/r1", f.http)).expect("rig");
        let acks_before = before["seq"]["received"].as_u64().unwrap_or(0);
        f.publish_raw(topic, payload, true);
        let scope = if topic == rig_topic { "rig:s/r1" } else { "fleet" };
        // The rejection reaches the hub as an ack with its reason.
        let ok = wait_until(Duration::from_secs(20), || {
            agent_log(&spec)
                .lines()
                .any(|l| l.contains("rejected") && l.contains(reason))
        });
        assert!(
            ok,
            "{what}: no rejection mentioning {reason:?} in the agent log:\n{}",
            agent_log(&spec)
        );
        let acked = wait_until(Duration::from_secs(20), || {
            get_json(&format!("http://127.0.0.1:{}/rigs/r1", f.http)).is_some_and(|r| {
                r["seq"]["received"].as_u64().unwrap_or(0) > acks_before
                    && r["config"][scope]["rejected"][1]
                        .as_str()
                        .is_some_and(|s| s.contains(reason))
            })
        });
        assert!(
            acked,
            "{what}: hub has no rejected ack with {reason:?}: {:?}",
            get_json(&format!("http://127.0.0.1:{}/rigs/r1", f.http))
        );
        assert_eq!(
            soft_limit(&spec),
            Some(75.0),
            "{what}: the previous config must stay in force"
        );
        assert_eq!(f.status("r1", "fleet").map(|s| s.1), Some(Some(v1)), "{what}");
    }
    a.stop(Duration::from_secs(10));
    f.hub.stop(Duration::from_secs(10));
}

#[test]
fn an_agent_killed_while_committing_a_push_keeps_old_or_new_never_a_mix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(mut f) = fleet(dir.path()) else { return };
    let spec = f.agent_spec("s", "k1", "");
    let mut a = agent(&spec);
    let v1 = f.push(
        "fleet",
        "[miner]\nthermal_soft_limit_c = 75\nmax_batch_size = 16\n",
    );
    f.wait_status("k1", "fleet", "applied", 30);
    a.stop(Duration::from_secs(10));

    // Stalled between writing the new state and committing it, then SIGKILLed.
    let mut a = agent_env(&spec, &[(hashward_agent::fleet::state::FAULT_STALL_ENV, "60000")]);
    let v2 = f.push(
        "fleet",
        "[miner]\nthermal_soft_limit_c = 60\nmax_batch_size = 8\n",
    );
    assert!(
        wait_until(Duration::from_secs(30), || agent_log(&spec)
            .contains("fault injection")),
        "{}",
        agent_log(&spec)
    );
    a.kill9();
    let saved = std::fs::read_to_string(spec.dir.join("data/fleet-config.json")).expect("state");
    assert!(
        saved.contains(&v1.to_string()) && !saved.contains(&v2.to_string()),
        "{saved}"
    );

    // Back up: the old config is in force until the retained push arrives again and is applied.
    let mut a = agent(&spec);
    let (_, applied, _) = f.wait_status("k1", "fleet", "applied", 30);
    assert_eq!(applied, Some(v2));
    let c = in_force(&spec).expect("config");
    assert_eq!((c.tune.thermal_soft_limit_c, c.tune.max_batch_size), (60.0, 8));
    let log = agent_log(&spec);
    assert!(
        log.contains(&format!("config from fleet version {v1} in force")),
        "{log}"
    );

    // Killed right after the commit instead: comes back with the new config and acks it again.
    a.kill9();
    let mut a = agent(&spec);
    assert!(wait_until(Duration::from_secs(30), || {
        agent_log(&spec)
            .matches(&format!("fleet version {v2} already in force"))
            .count()
            >= 1
    }));
    let c = in_force(&spec).expect("config");
    assert_eq!((c.tune.thermal_soft_limit_c, c.tune.max_batch_size), (60.0, 8));
    a.stop(Duration::from_secs(10));
    f.hub.stop(Duration::from_secs(10));
}

#[test]
fn commands_are_acked_once_and_replays_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(mut f) = fleet(dir.path()) else { return };
    let hw = Path::new(env!("CARGO_MANIFEST_DIR")).join("agent/tests/data/hw/vm");
    let spec = f.agent_spec(
        "s",
        "c1",
        &format!(
            "[miner]\nenabled = true\nmining_threads = 1\nauto_tune_enabled = false\nhardware_root = \"{}\"",
            hw.display()
        ),
    );
    let mut a = agent(&spec);
    assert!(wait_until(Duration::from_secs(30), || {
        get_json(&format!("http://127.0.0.1:{}/rigs/c1", f.http)).is_some_and(|r| {
            r["last_telemetry"]["miner"]["hashrate_10s"]
                .as_f64()
                .unwrap_or(0.0)
                > 0.0
        })
    }));
    let key = f.key();
    let topic = "hashward/v1/s/c1/cmd";
    let now = hashward_common::now_ms();
    let cmd = |nonce: u64, c: Command| {
        signed(
            "rig:s/c1",
            PayloadKind::Command,
            nonce,
            Some(now + 60_000),
            postcard::to_stdvec(&c).expect("cmd"),
            &key,
        )
    };
    let ack_of = |nonce: u64| -> Option<Value> {
        let r = get_json(&format!("http://127.0.0.1:{}/rigs/c1", f.http))?;
        r["commands"]
            .as_array()?
            .iter()
            .find(|c| c["nonce"] == nonce)
            .map(|c| c["outcome"].clone())
    };
    let wait_ack = |nonce: u64| -> Value {
        let mut v = None;
        assert!(
            wait_until(Duration::from_secs(20), || {
                v = ack_of(nonce);
                v.is_some()
            }),
            "no ack for nonce {nonce}"
        );
        v.expect("ack")
    };
    let paused = |want: bool| {
        wait_until(Duration::from_secs(20), || {
            get_json(&format!("http://127.0.0.1:{}/rigs/c1", f.http))
                .is_some_and(|r| r["last_telemetry"]["miner"]["paused"].as_bool() == Some(want))
        })
    };

    let pause = cmd(11, Command::PauseMining);
    f.publish_raw(topic, pause.clone(), false);
    assert_eq!(wait_ack(11), Value::String("applied".into()));
    assert!(paused(true), "miner not paused by the command");

    // The pause outlives the agent: restarted, it comes back held, not mining.
    let rig_json = || get_json(&format!("http://127.0.0.1:{}/rigs/c1", f.http)).unwrap_or_default();
    let boot = rig_json()["boot"].as_u64().unwrap_or(0);
    a.stop(Duration::from_secs(10));
    let restarted_ms = hashward_common::now_ms();
    a = agent(&spec);
    let mut r = Value::Null;
    assert!(
        wait_until(Duration::from_secs(30), || {
            r = rig_json();
            r["boot"].as_u64() > Some(boot) && r["last_telemetry_ms"].as_u64() > Some(restarted_ms + 2_000)
        }),
        "no telemetry from the restarted agent"
    );
    assert_eq!(
        r["last_telemetry"]["miner"]["paused"], true,
        "mining after a restart despite the pause: {r}"
    );
    assert!(agent_log(&spec).contains("an operator's pause is in force"));

    // The same signed command again: refused, the miner stays as it is.
    f.publish_raw(topic, cmd(12, Command::ResumeMining), false);
    assert_eq!(wait_ack(12), Value::String("applied".into()));
    assert!(paused(false));
    f.publish_raw(topic, pause, false);
    assert!(wait_until(Duration::from_secs(20), || agent_log(&spec)
        .contains("nonce 11 was already used")));
    std::thread::sleep(Duration::from_secs(2));
    assert!(paused(false), "a replayed pause must not pause");

    // Expired, and via the CLI: diagnostics with recent log lines.
    f.publish_raw(
        topic,
        signed(
            "rig:s/c1",
            PayloadKind::Command,
            13,
            Some(now - 1),
            postcard::to_stdvec(&Command::Retune).expect("cmd"),
            &key,
        ),
        false,
    );
    assert!(wait_ack(13)["rejected"]
        .as_str()
        .is_some_and(|r| r.contains("expired")));
    let broker = format!("mqtt://127.0.0.1:{}", f.mqtt);
    let (ok, out, err) = cli(&[
        "hub",
        "command",
        "--rig",
        "s/c1",
        "--cmd",
        "diagnostics",
        "--key",
        f.keys.join("hub.key").to_str().expect("utf8"),
        "--broker",
        &broker,
    ]);
    assert!(ok, "{err}");
    let nonce = serde_json::from_str::<Value>(out.trim()).expect("json")["nonce"]
        .as_u64()
        .expect("nonce");
    let report = wait_ack(nonce);
    let report: Value =
        serde_json::from_str(report["report"].as_str().expect("report")).expect("report JSON");
    assert!(
        report["log"].as_array().is_some_and(|l| l
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.contains("command resume")))),
        "{report}"
    );
    assert_eq!(report["rig"], "c1");
    a.stop(Duration::from_secs(10));
    f.hub.stop(Duration::from_secs(10));
}

#[test]
fn a_signed_model_announcement_is_checked_and_acked_by_the_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(mut f) = fleet(dir.path()) else { return };
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let meta = get_json(&format!("http://127.0.0.1:{}/models/metadata", f.http))
        .expect("hub serves /models/metadata");
    assert!(meta.to_string().contains("sentinel_rig"), "{meta}");
    let spec = f.agent_spec(
        "s",
        "m1",
        &format!(
            "[inference]\nbundled_models_dir = \"{}\"\nhub_url = \"http://127.0.0.1:{}\"",
            models.display(),
            f.http
        ),
    );
    let mut a = agent(&spec);
    assert!(
        wait_until(Duration::from_secs(60), || agent_log(&spec)
            .contains("sentinel_rig")),
        "{}",
        agent_log(&spec)
    );
    let broker = format!("mqtt://127.0.0.1:{}", f.mqtt);
    let (ok, out, err) = cli(&[
        "hub",
        "announce-models",
        "--models-dir",
        models.to_str().expect("utf8"),
        "--key",
        f.keys.join("hub.key").to_str().expect("utf8"),
        "--broker",
        &broker,
    ]);
    assert!(ok, "{err}");
    let version = serde_json::from_str::<Value>(out.trim()).expect("json")["version"]
        .as_u64()
        .expect("version");
    // The agent verifies the signature and the versions and acks on its ack topic (scope
    // `models`); the same models are already active, so nothing is downloaded.
    let acked = wait_until(Duration::from_secs(60), || {
        get_json(&format!("http://127.0.0.1:{}/rigs/m1", f.http))
            .is_some_and(|r| r["config"]["models"]["applied"].as_u64() == Some(version))
    });
    assert!(
        acked,
        "{:?}\n{}",
        get_json(&format!("http://127.0.0.1:{}/rigs/m1", f.http)),
        agent_log(&spec)
    );
    a.stop(Duration::from_secs(10));
    f.hub.stop(Duration::from_secs(10));
}
