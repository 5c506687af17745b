//! Helpers of the notification end-to-end test: the envelopes agents publish (birth, last
//! will, alerts, scores), a QoS 1 publisher, the SMTP server's certificates, the hub config
//! snippets, and reads of the hub's alert API.
#![allow(dead_code)]

use super::receivers::Request;
use super::support::*;
use hashward_protocol::{
    encode, Alert, Body, Envelope, RecommendedAction, RigId, RigState, Score, Severity, ThreatType,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const SMTP_USER: &str = "alerts@lab.test";
pub const SMTP_PASSWORD: &str = "smtp-secret-password";

pub fn alert(rig: &str, seq: u64, celsius: u32) -> Vec<u8> {
    let body = Body::Alert(Alert {
        subject: "rig".into(),
        score: 0.97,
        threat_type: ThreatType::Overheat,
        severity: Severity::Critical,
        action: RecommendedAction {
            action: "alert".into(),
            description: "Check cooling".into(),
            auto_execute: false,
        },
        model_version: "sentinel_rig_v1.0.0_20261122_080000".into(),
        message: format!("CPU package at {celsius} C and rising"),
    });
    encode(&Envelope::new(
        RigId::new(rig).expect("id"),
        seq,
        hashward_common::now_ms(),
        body,
    ))
    .expect("encode")
}

/// The birth message an agent publishes when it connects.
pub fn birth(rig: &str) -> Vec<u8> {
    state(rig, true)
}

/// A birth message, or (offline) the last will the broker publishes for a rig that dropped.
pub fn state(rig: &str, online: bool) -> Vec<u8> {
    let body = Body::State(RigState {
        online,
        boot: 1,
        agent_version: "0.1.0".into(),
        hardware: None,
        capabilities: vec![],
    });
    encode(&Envelope::new(
        RigId::new(rig).expect("id"),
        0,
        hashward_common::now_ms(),
        body,
    ))
    .expect("encode")
}

pub fn low_score(rig: &str, seq: u64) -> Vec<u8> {
    let now = hashward_common::now_ms();
    let body = Body::Score(Score {
        subject: "rig".into(),
        score: 0.05,
        threat_type: ThreatType::Overheat,
        severity: Severity::Low,
        model_version: "sentinel_rig_v1.0.0_20261122_080000".into(),
        sample_ts_ms: now,
    });
    encode(&Envelope::new(RigId::new(rig).expect("id"), seq, now, body)).expect("encode")
}

/// Publishes at QoS 1 and waits for the broker's acks.
pub fn publish(port: u16, msgs: &[(String, Vec<u8>)]) {
    let mut opts = MqttOptions::new(
        format!("notify-test-{}", rand::random::<u32>()),
        "127.0.0.1",
        port,
    );
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut conn) = Client::new(opts, msgs.len() + 10);
    for (topic, payload) in msgs {
        client
            .publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone())
            .expect("queue");
    }
    let mut acked = 0;
    for ev in conn.iter() {
        match ev {
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                acked += 1;
                if acked == msgs.len() {
                    break;
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => panic!("publisher: {e} after {acked} acks"),
        }
    }
    let _ = client.disconnect();
}

pub fn topic(site: &str, rig: &str, leaf: &str) -> String {
    format!("hashward/v1/{site}/{rig}/{leaf}")
}

/// A test CA and the SMTP server's certificate for 127.0.0.1 signed by it: (CA PEM path,
/// server cert PEM path, server key PEM path).
pub fn smtp_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "notify test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().expect("CA key");
    let ca_cert = ca.self_signed(&ca_key).expect("CA cert");
    let issuer = Issuer::new(ca, ca_key);
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, "smtp.lab.test");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    let (a, c, k) = (
        dir.join("smtp-ca.pem"),
        dir.join("smtp-cert.pem"),
        dir.join("smtp-key.pem"),
    );
    std::fs::write(&a, ca_cert.pem()).expect("ca");
    std::fs::write(&c, cert.pem()).expect("cert");
    std::fs::write(&k, key.serialize_pem()).expect("key");
    (a, c, k)
}

pub fn email_receiver(smtp_port: u16, ca: &Path) -> String {
    format!(
        "[[notify.receivers]]\nname = \"mail\"\ntype = \"email\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {smtp_port}\n\
         security = \"starttls\"\nusername = \"{SMTP_USER}\"\npassword = \"{SMTP_PASSWORD}\"\n\
         from = \"hashward <{SMTP_USER}>\"\nto = [\"oncall@lab.test\"]\nca_file = \"{}\"\n",
        ca.display()
    )
}

pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("hub.toml");
    std::fs::write(&p, text).expect("config");
    p
}

pub fn alerts(http: u16, query: &str) -> Vec<Value> {
    get_json(&format!("http://127.0.0.1:{http}/alerts?{query}"))
        .and_then(|v| v["alerts"].as_array().cloned())
        .unwrap_or_default()
}

pub fn post(url: &str, body: Value) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent.post(url).send_json(body).expect("post");
    let status = resp.status().as_u16();
    (
        status,
        resp.body_mut().read_json::<Value>().unwrap_or(Value::Null),
    )
}

/// Firing/resolved/escalation messages a fake received, by the status the hub gave them.
pub fn by_status(reqs: &[Request], status: &str) -> Vec<Value> {
    reqs.iter()
        .map(Request::json)
        .filter(|j| j["status"] == status)
        .collect()
}

pub fn hub_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("hub.log")).unwrap_or_default()
}

pub fn metric_line(http: u16, series: &str) -> Option<u64> {
    let text = get_text(&format!("http://127.0.0.1:{http}/metrics"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}
