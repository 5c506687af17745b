//! The hub's /models routes over a real socket, in the shapes given in
//! docs/ARCHITECTURE.md#thresholds-hub.

#[path = "infer_common/mod.rs"]
mod common;

use common::*;
use serde_json::Value;
use sha2::Digest;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn get(url: &str) -> (u16, Option<String>, Vec<u8>) {
    let mut r = agent().get(url).call().expect("request");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = r.body_mut().read_to_vec().expect("body");
    (status, ct, body)
}

fn hub_with_repo_models() -> (tempfile::TempDir, Hub) {
    let dir = tempfile::tempdir().unwrap();
    for m in ["sentinel_rig", "sentinel_asic", "efficiency_asic"] {
        copy_model(m, dir.path());
    }
    let hub = Hub::start(dir.path());
    (dir, hub)
}

#[test]
fn metadata_lists_every_model_as_on_disk() {
    let (_dir, hub) = hub_with_repo_models();
    let (status, ct, body) = get(&format!("{}/models/metadata", hub.url));
    assert_eq!(status, 200);
    assert!(ct.unwrap().starts_with("application/json"));
    let v: Value = serde_json::from_slice(&body).unwrap();
    let models = v["models"].as_array().expect("models list");
    let mut types: Vec<&str> = models.iter().map(|m| m["model_type"].as_str().unwrap()).collect();
    types.sort();
    assert_eq!(types, ["efficiency_asic", "sentinel_asic", "sentinel_rig"]);
    for m in models {
        let t = m["model_type"].as_str().unwrap();
        assert_eq!(m, &read_metadata(t), "{t}");
    }
}

#[test]
fn one_model_metadata_and_download_agree() {
    let (_dir, hub) = hub_with_repo_models();
    let (status, _, body) = get(&format!("{}/models/metadata/sentinel_asic", hub.url));
    assert_eq!(status, 200);
    let meta: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(meta, read_metadata("sentinel_asic"));
    let mut r = agent()
        .get(&format!("{}/models/download/sentinel_asic", hub.url))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers().get("content-type").unwrap().to_str().unwrap(),
        "application/octet-stream"
    );
    let disp = r
        .headers()
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(disp.contains(meta["model_version"].as_str().unwrap()), "{disp}");
    let bytes = r.body_mut().read_to_vec().unwrap();
    assert_eq!(bytes, read_model_bytes("sentinel_asic"));
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&bytes)),
        meta["sha256"].as_str().unwrap()
    );
}

#[test]
fn unknown_and_hostile_names_are_404_with_a_detail() {
    let (_dir, hub) = hub_with_repo_models();
    for path in [
        "/models/metadata/alert_scorer",
        "/models/download/alert_scorer",
        "/models/download/..%2Fsentinel_rig",
        "/models/metadata/Sentinel_Rig",
    ] {
        let (status, _, body) = get(&format!("{}{path}", hub.url));
        assert_eq!(status, 404, "{path}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["detail"].is_string(), "{path}: {v}");
    }
}

#[test]
fn a_file_that_does_not_match_its_metadata_is_not_served() {
    let (dir, hub) = hub_with_repo_models();
    let mut bytes = read_model_bytes("sentinel_rig");
    bytes[100] ^= 1;
    std::fs::write(dir.path().join("sentinel_rig/model.onnx"), &bytes).unwrap();
    let (status, _, body) = get(&format!("{}/models/download/sentinel_rig", hub.url));
    assert_eq!(status, 500);
    assert!(String::from_utf8_lossy(&body).contains("sha256"));
    // The listing leaves it out and still serves the others.
    let (_, _, body) = get(&format!("{}/models/metadata", hub.url));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["models"].as_array().unwrap().len(), 2);
}

#[test]
fn the_announcement_is_signed_and_describes_the_served_files() {
    use hashward_hub::models::build_announcement;
    use hashward_protocol::models::ModelAnnouncement;
    use hashward_protocol::signed::{PayloadKind, Scope};
    let (dir, _hub) = hub_with_repo_models();
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let msg = build_announcement(dir.path(), &key, 5, 1_700_000_000_000).unwrap();
    let content = msg.verify(&key.verifying_key()).expect("verifies");
    assert_eq!(content.kind, PayloadKind::ModelAnnouncement);
    assert_eq!(content.scope, Scope::Fleet);
    assert_eq!(content.version, 5);
    let ann = ModelAnnouncement::from_payload(&content.payload).unwrap();
    assert_eq!(ann.models.len(), 3);
    for m in &ann.models {
        let meta = read_metadata(&m.model_type);
        assert_eq!(m.sha256, meta["sha256"].as_str().unwrap());
        assert_eq!(m.model_version, meta["model_version"].as_str().unwrap());
        assert_eq!(m.size_bytes, meta["model_size_bytes"].as_u64().unwrap());
        assert_eq!(m.download_url, meta["download_url"].as_str().unwrap());
    }
    let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    assert!(msg.verify(&other.verifying_key()).is_err());
}
