//! TLS to a real mosquitto (`mqtts://`): a CA and a server certificate are made here with rcgen;
//! the hub and an agent trusting that CA (`--ca-file` / `[broker] ca_file`) connect and the
//! agent's telemetry lands in the hub; an agent given another CA refuses the broker and says why
//! in its log, and none of its telemetry arrives.

mod support;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::*;

/// A CA (certificate PEM, issuer for signing).
fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("CA cert");
    (cert.pem(), Issuer::new(params, key))
}

/// The broker's certificate for 127.0.0.1 / localhost: (cert PEM, key PEM).
fn server_cert(issuer: &Issuer<'static, KeyPair>) -> (String, String) {
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, issuer).expect("server cert");
    (cert.pem(), key.serialize_pem())
}

fn agent_with(root: &Path, rig: &str, port: u16, ca_file: &Path) -> AgentSpec {
    let dir = root.join(rig);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "site = \"tls\"\nrig = \"{rig}\"\ndata_dir = \"{}\"\n[broker]\nurl = \"mqtts://127.0.0.1:{port}\"\n\
             ca_file = \"{}\"\nkeep_alive_s = 5\nbackoff_min_ms = 100\nbackoff_max_ms = 1000\n\
             [telemetry]\ninterval_ms = 200\n",
            dir.join("data").display(),
            ca_file.display()
        ),
    )
    .expect("agent config");
    AgentSpec {
        dir,
        rig: rig.to_string(),
        config,
    }
}

fn agent_log(spec: &AgentSpec) -> String {
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir(&spec.dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("agent-") && name.ends_with(".log") {
                text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
    }
    text
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn agent_and_hub_over_tls_with_the_fleet_ca_and_not_with_another() {
    let Some(bin) = mosquitto_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (ca_pem, issuer) = ca("hashward fleet CA");
    let (cert_pem, key_pem) = server_cert(&issuer);
    let (other_ca_pem, _) = ca("some other CA");
    let ca_file = write(root, "ca.pem", &ca_pem);
    let other_ca = write(root, "other-ca.pem", &other_ca_pem);
    let cert = write(root, "server.pem", &cert_pem);
    let key = write(root, "server.key", &key_pem);

    let port = free_port();
    let mut broker = Mosquitto::new(
        bin,
        root,
        port,
        &format!("certfile {}\nkeyfile {}\n", cert.display(), key.display()),
    );
    broker.start();

    let http = free_port();
    let data = root.join("hub");
    let url = format!("mqtts://127.0.0.1:{port}");
    let hub_log = root.join("hub.log");
    let log = std::fs::File::create(&hub_log).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_hashward"))
        .env("HASHWARD_NO_COLLECTORS", "1")
        .args(["hub", "serve", "--broker", &url, "--ca-file"])
        .arg(&ca_file)
        .args(["--http", &format!("127.0.0.1:{http}"), "--data-dir"])
        .arg(&data)
        .args(["--summary-interval-ms", "500"])
        .env("RUST_LOG", "info")
        .stdout(log.try_clone().expect("clone"))
        .stderr(log)
        .spawn()
        .expect("spawn hub");
    let _hub = Proc {
        child,
        name: "hub".into(),
    };
    wait_for_http(http);

    let good = agent_with(root, "rig-tls", port, &ca_file);
    let _good = agent(&good);
    let delivered = wait_until(Duration::from_secs(30), || hub_seqs(http, "rig-tls").len() >= 3);
    assert!(
        delivered,
        "no telemetry over TLS; agent log:\n{}\nhub log:\n{}",
        agent_log(&good),
        std::fs::read_to_string(&hub_log).unwrap_or_default()
    );

    let bad = agent_with(root, "rig-wrong-ca", port, &other_ca);
    let _bad = agent(&bad);
    let refused = wait_until(Duration::from_secs(20), || {
        let log = agent_log(&bad);
        log.contains("TLS to mqtts://127.0.0.1") && log.contains("other-ca.pem")
    });
    let log = agent_log(&bad);
    assert!(refused, "the wrong-CA agent did not explain its refusal:\n{log}");
    assert!(
        log.contains("invalid peer certificate") || log.contains("UnknownIssuer"),
        "the reason is the certificate:\n{log}"
    );
    assert!(!log.contains("connected to mqtts://"), "never connected:\n{log}");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        hub_seqs(http, "rig-wrong-ca").is_empty(),
        "nothing from the untrusting agent"
    );
    assert!(hub_seqs(http, "rig-tls").len() >= 3);
}

#[test]
fn ca_file_needs_a_tls_broker_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = write(dir.path(), "ca.pem", "x");
    let out = Command::new(env!("CARGO_BIN_EXE_hashward"))
        .args(["hub", "serve", "--broker", "mqtt://127.0.0.1:1", "--ca-file"])
        .arg(&ca)
        .args(["--data-dir"])
        .arg(dir.path().join("hub"))
        .output()
        .expect("run hub");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("--ca-file needs a TLS broker URL"),
        "{err}"
    );
    // A CA file that holds no certificate stops `serve` at once, naming the file.
    let out = Command::new(env!("CARGO_BIN_EXE_hashward"))
        .args(["hub", "serve", "--broker", "mqtts://127.0.0.1:1", "--ca-file"])
        .arg(&ca)
        .args(["--http", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("hub"))
        .output()
        .expect("run hub");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("ca.pem"), "{err}");
}
