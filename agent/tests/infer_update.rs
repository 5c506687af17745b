//! Model updates end to end: a hub on a real socket, signed announcements, downloads, sha256,
//! test-load, atomic swap with the previous file kept, and refusals that keep the old model.

#[path = "infer_common/mod.rs"]
mod common;

use common::*;
use ed25519_dalek::SigningKey;
use hashward_agent::infer::update::{ModelOutcome, Updater, UpdaterConfig};
use hashward_agent::infer::ModelType;
use hashward_agent::infer::{Registry, UpdateError};
use hashward_hub::models::build_announcement;
use hashward_protocol::models::ModelAnnouncement;
use hashward_protocol::signed::{PayloadKind, Scope, SignedContent, SignedMessage};
use std::path::Path;
use std::time::Duration;

const NEW_RIG: &str = "sentinel_rig_v1.0.1_20261201_120000";

struct Setup {
    hub_dir: tempfile::TempDir,
    agent_dir: tempfile::TempDir,
    hub: Hub,
    key: SigningKey,
    updater: Updater,
    old_rig: String,
}

fn setup() -> Setup {
    let hub_dir = tempfile::tempdir().unwrap();
    let agent_dir = tempfile::tempdir().unwrap();
    for m in ["sentinel_rig", "sentinel_asic", "efficiency_asic"] {
        copy_model(m, hub_dir.path());
        copy_model(m, agent_dir.path());
    }
    let (registry, errors) = Registry::load_dir(agent_dir.path());
    assert!(errors.is_empty());
    let old_rig = registry.info(ModelType::SentinelRig).unwrap().version;
    let hub = Hub::start(hub_dir.path());
    let key = SigningKey::from_bytes(&[42; 32]);
    let updater = Updater::new(
        UpdaterConfig {
            models_dir: agent_dir.path().to_path_buf(),
            hub_url: hub.url.clone(),
            hub_key: key.verifying_key(),
            timeout: Duration::from_secs(10),
        },
        registry,
    );
    Setup {
        hub_dir,
        agent_dir,
        hub,
        key,
        updater,
        old_rig,
    }
}

fn announce(dir: &Path, key: &SigningKey, version: u64) -> Vec<u8> {
    let msg = build_announcement(dir, key, version, 1).expect("announce");
    postcard::to_stdvec(&msg).unwrap()
}

fn signed(
    key: &SigningKey,
    version: u64,
    ann: &ModelAnnouncement,
    kind: PayloadKind,
    scope: Scope,
) -> Vec<u8> {
    let msg = SignedMessage::sign(
        SignedContent {
            kind,
            scope,
            version,
            issued_ms: 1,
            expires_ms: None,
            payload: ann.to_payload().unwrap(),
        },
        key,
    )
    .unwrap();
    postcard::to_stdvec(&msg).unwrap()
}

fn outcome(report: &hashward_agent::infer::update::UpdateReport, mt: &str) -> ModelOutcome {
    report
        .models
        .iter()
        .find(|m| m.model_type == mt)
        .expect("in report")
        .outcome
        .clone()
}

fn agent_file(s: &Setup, name: &str) -> Vec<u8> {
    std::fs::read(s.agent_dir.path().join("sentinel_rig").join(name)).unwrap()
}

fn assert_old_still_serves(s: &Setup) {
    assert_eq!(
        s.updater.registry().info(ModelType::SentinelRig).unwrap().version,
        s.old_rig
    );
    assert_eq!(agent_file(s, "model.onnx"), read_model_bytes("sentinel_rig"));
    let (reg, errors) = Registry::load_dir(s.agent_dir.path());
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(reg.info(ModelType::SentinelRig).unwrap().version, s.old_rig);
}

/// [`setup`], with sentinel_rig version `NEW_RIG` (and its metadata) in the hub's models dir.
fn setup_with_new_rig_on_the_hub() -> Setup {
    let s = setup();
    write_model(
        s.hub_dir.path(),
        "sentinel_rig",
        &bumped("sentinel_rig", NEW_RIG),
        true,
    );
    s
}

#[test]
fn a_new_version_is_downloaded_verified_swapped_and_reported() {
    let s = setup();
    let new = bumped("sentinel_rig", NEW_RIG);
    write_model(s.hub_dir.path(), "sentinel_rig", &new, true);
    let report = s
        .updater
        .handle(&announce(s.hub_dir.path(), &s.key, 1))
        .expect("accepted");
    assert_eq!(
        outcome(&report, "sentinel_rig"),
        ModelOutcome::Installed {
            from: Some(s.old_rig.clone()),
            to: NEW_RIG.into()
        }
    );
    assert!(matches!(
        outcome(&report, "sentinel_asic"),
        ModelOutcome::AlreadyActive(_)
    ));
    assert_eq!(report.active[&ModelType::SentinelRig], NEW_RIG);
    assert_eq!(
        s.updater.registry().info(ModelType::SentinelRig).unwrap().version,
        NEW_RIG
    );
    // Swapped on disk, previous kept, and a restart serves the new one.
    assert_eq!(agent_file(&s, "model.onnx"), new);
    assert_eq!(
        agent_file(&s, "model.onnx.prev"),
        read_model_bytes("sentinel_rig")
    );
    let (reg, errors) = Registry::load_dir(s.agent_dir.path());
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(reg.info(ModelType::SentinelRig).unwrap().version, NEW_RIG);
    // The same retained message again changes nothing; an older version is a replay.
    let again = s
        .updater
        .handle(&announce(s.hub_dir.path(), &s.key, 1))
        .expect("redelivery");
    assert!(matches!(
        outcome(&again, "sentinel_rig"),
        ModelOutcome::AlreadyActive(_)
    ));
    let err = s
        .updater
        .handle(&announce(s.hub_dir.path(), &s.key, 0))
        .unwrap_err();
    assert!(matches!(err, UpdateError::Replay { .. }), "{err}");
    drop(s.hub);
}

#[test]
fn a_bad_signature_or_unsigned_announcement_is_refused() {
    let s = setup_with_new_rig_on_the_hub();
    let other = SigningKey::from_bytes(&[1; 32]);
    let err = s
        .updater
        .handle(&announce(s.hub_dir.path(), &other, 1))
        .unwrap_err();
    assert!(matches!(err, UpdateError::BadSignature(_)), "{err}");
    let err = s.updater.handle(b"{\"models\": []}").unwrap_err();
    assert!(matches!(err, UpdateError::NotSigned(_)), "{err}");
    // A valid message with its signature stripped.
    let mut msg = build_announcement(s.hub_dir.path(), &s.key, 1, 1).unwrap();
    msg.signature.clear();
    let err = s.updater.handle(&postcard::to_stdvec(&msg).unwrap()).unwrap_err();
    assert!(matches!(err, UpdateError::BadSignature(_)), "{err}");
    // A tampered payload under a genuine signature.
    let mut msg = build_announcement(s.hub_dir.path(), &s.key, 1, 1).unwrap();
    let last = msg.content.payload.len() - 2;
    msg.content.payload[last] ^= 1;
    assert!(s.updater.handle(&postcard::to_stdvec(&msg).unwrap()).is_err());
    assert_old_still_serves(&s);
}

#[test]
fn a_signed_message_of_another_kind_or_scope_is_refused() {
    let s = setup();
    let ann = hashward_hub::models::announcement(s.hub_dir.path()).unwrap();
    let err = s
        .updater
        .handle(&signed(&s.key, 1, &ann, PayloadKind::Config, Scope::Fleet))
        .unwrap_err();
    assert!(matches!(err, UpdateError::WrongKind(_)), "{err}");
    let scope: Scope = "site:north".parse().unwrap();
    let err = s
        .updater
        .handle(&signed(&s.key, 1, &ann, PayloadKind::ModelAnnouncement, scope))
        .unwrap_err();
    assert!(matches!(err, UpdateError::WrongScope(_)), "{err}");
}

#[test]
fn a_wrong_sha256_keeps_the_previous_model() {
    let s = setup();
    let new = bumped("sentinel_rig", NEW_RIG);
    write_model(s.hub_dir.path(), "sentinel_rig", &new, true);
    let mut ann = hashward_hub::models::announcement(s.hub_dir.path()).unwrap();
    for m in ann.models.iter_mut().filter(|m| m.model_type == "sentinel_rig") {
        m.sha256 = "ab".repeat(32);
    }
    let report = s
        .updater
        .handle(&signed(
            &s.key,
            1,
            &ann,
            PayloadKind::ModelAnnouncement,
            Scope::Fleet,
        ))
        .expect("announcement itself is fine");
    match outcome(&report, "sentinel_rig") {
        ModelOutcome::Refused(why) => assert!(why.contains("sha256"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(report.active[&ModelType::SentinelRig], s.old_rig);
    assert_old_still_serves(&s);
}

#[test]
fn a_corrupt_model_that_fails_test_load_keeps_the_previous_model() {
    let s = setup();
    // Version bumped and weights damaged: sha256 and metadata are consistent, only the
    // self-test can tell.
    let mut p = decode(&bumped("sentinel_rig", NEW_RIG));
    shift_initializer(&mut p, "mean", 0.5);
    write_model(s.hub_dir.path(), "sentinel_rig", &encode(&p), true);
    let report = s.updater.handle(&announce(s.hub_dir.path(), &s.key, 1)).unwrap();
    match outcome(&report, "sentinel_rig") {
        ModelOutcome::Refused(why) => assert!(why.contains("self-test"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_old_still_serves(&s);
    assert!(!s.agent_dir.path().join("sentinel_rig/model.onnx.prev").exists());
}

#[test]
fn a_model_with_another_feature_list_keeps_the_previous_model() {
    let s = setup();
    let mut p = decode(&bumped("sentinel_rig", NEW_RIG));
    let mut names: Vec<String> = serde_json::from_str(&prop(&p, "hashward.features")).unwrap();
    names[3] = "gpu_hashrate_vs_15m".into();
    set_prop(
        &mut p,
        "hashward.features",
        &serde_json::to_string(&names).unwrap(),
    );
    let meta = write_model(s.hub_dir.path(), "sentinel_rig", &encode(&p), true);
    // Keep the hub's metadata in step with the file's new list, so only the agent can object.
    let mut meta = meta;
    meta["features"][3]["name"] = "gpu_hashrate_vs_15m".into();
    std::fs::write(
        s.hub_dir.path().join("sentinel_rig/metadata.json"),
        serde_json::to_vec(&meta).unwrap(),
    )
    .unwrap();
    let report = s.updater.handle(&announce(s.hub_dir.path(), &s.key, 1)).unwrap();
    match outcome(&report, "sentinel_rig") {
        ModelOutcome::Refused(why) => assert!(why.contains("gpu_hashrate_vs_15m"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_old_still_serves(&s);
}

#[test]
fn an_unreachable_hub_refuses_the_model_and_a_redelivery_retries() {
    let s = setup_with_new_rig_on_the_hub();
    let payload = announce(s.hub_dir.path(), &s.key, 3);
    let hub_dir = s.hub_dir.path().to_path_buf();
    let Setup {
        hub,
        agent_dir,
        key: _,
        updater,
        old_rig,
        hub_dir: _keep,
        ..
    } = s;
    drop(hub); // the hub goes away before the agent downloads
    let report = updater.handle(&payload).unwrap();
    assert!(matches!(
        outcome(&report, "sentinel_rig"),
        ModelOutcome::Refused(_)
    ));
    assert_eq!(
        updater.registry().info(ModelType::SentinelRig).unwrap().version,
        old_rig
    );
    // The hub is back (same files) on another port: a redelivery of the same message retries.
    let hub = Hub::start(&hub_dir);
    let updater = Updater::new(
        UpdaterConfig {
            models_dir: agent_dir.path().to_path_buf(),
            hub_url: hub.url.clone(),
            hub_key: SigningKey::from_bytes(&[42; 32]).verifying_key(),
            timeout: Duration::from_secs(10),
        },
        updater.registry().clone(),
    );
    let report = updater.handle(&payload).expect("same version, same message");
    assert!(matches!(
        outcome(&report, "sentinel_rig"),
        ModelOutcome::Installed { .. }
    ));
}

#[test]
fn unknown_model_types_are_skipped() {
    let s = setup();
    let mut ann = hashward_hub::models::announcement(s.hub_dir.path()).unwrap();
    let mut extra = ann.models[0].clone();
    extra.model_type = "earnings_forecast".into();
    ann.models.push(extra);
    let report = s
        .updater
        .handle(&signed(
            &s.key,
            1,
            &ann,
            PayloadKind::ModelAnnouncement,
            Scope::Fleet,
        ))
        .unwrap();
    assert_eq!(outcome(&report, "earnings_forecast"), ModelOutcome::Skipped);
}
