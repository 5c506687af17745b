//! A model whose contract, metadata or known answers do not check out is refused with a clear
//! error, and a refused replacement never empties a slot.

#[path = "infer_common/mod.rs"]
mod common;

use common::*;
use hashward_agent::infer::contract::{load_model, MetadataCheck};
use hashward_agent::infer::registry::load_model_dir;
use hashward_agent::infer::ModelType;
use hashward_agent::infer::{LoadError, Registry};

fn load(mt: ModelType, bytes: &[u8]) -> Result<String, LoadError> {
    load_model(mt, bytes, None).map(|m| m.info().version.clone())
}

fn altered(model: &str, f: impl FnOnce(&mut tract_onnx::pb::ModelProto)) -> Vec<u8> {
    let mut p = decode(&read_model_bytes(model));
    f(&mut p);
    encode(&p)
}

#[test]
fn the_repository_models_load_with_their_metadata() {
    for mt in ModelType::ALL {
        let meta = MetadataCheck::parse(mt, &serde_json::to_vec(&read_metadata(mt.as_str())).unwrap())
            .expect("metadata parses");
        let m = load_model(mt, &read_model_bytes(mt.as_str()), Some(&meta)).expect("loads");
        assert_eq!(m.info().version, meta.model_version);
        assert_eq!(m.info().sha256, meta.sha256);
    }
}

#[test]
fn a_feature_the_agent_does_not_compute_is_refused() {
    let bytes = altered("sentinel_rig", |p| {
        let mut names: Vec<String> = serde_json::from_str(&prop(p, "hashward.features")).unwrap();
        names[0] = "gpu_memory_temp_c".into();
        set_prop(p, "hashward.features", &serde_json::to_string(&names).unwrap());
    });
    let err = load(ModelType::SentinelRig, &bytes).unwrap_err();
    assert!(matches!(err, LoadError::Contract { .. }), "{err}");
    assert!(err.to_string().contains("gpu_memory_temp_c"), "{err}");
}

#[test]
fn a_feature_list_of_another_length_is_refused() {
    let bytes = altered("sentinel_asic", |p| {
        let mut names: Vec<String> = serde_json::from_str(&prop(p, "hashward.features")).unwrap();
        names.pop();
        set_prop(p, "hashward.features", &serde_json::to_string(&names).unwrap());
    });
    assert!(load(ModelType::SentinelAsic, &bytes).is_err());
}

#[test]
fn a_reordered_feature_list_disagreeing_with_metadata_is_refused() {
    let bytes = altered("sentinel_rig", |p| {
        let mut names: Vec<String> = serde_json::from_str(&prop(p, "hashward.features")).unwrap();
        names.swap(0, 1);
        set_prop(p, "hashward.features", &serde_json::to_string(&names).unwrap());
    });
    let mut meta = read_metadata("sentinel_rig");
    // Consistent hash, so only the feature order differs.
    use sha2::Digest;
    meta["sha256"] = hex::encode(sha2::Sha256::digest(&bytes)).into();
    meta["model_size_bytes"] = bytes.len().into();
    let meta = MetadataCheck::parse(ModelType::SentinelRig, &serde_json::to_vec(&meta).unwrap()).unwrap();
    let err = load_model(ModelType::SentinelRig, &bytes, Some(&meta)).unwrap_err();
    assert!(matches!(err, LoadError::MetadataMismatch { .. }), "{err}");
}

#[test]
fn metadata_with_another_sha256_is_refused() {
    let mut meta = read_metadata("sentinel_rig");
    meta["sha256"] = "00".repeat(32).into();
    let meta = MetadataCheck::parse(ModelType::SentinelRig, &serde_json::to_vec(&meta).unwrap()).unwrap();
    let err = load_model(
        ModelType::SentinelRig,
        &read_model_bytes("sentinel_rig"),
        Some(&meta),
    )
    .unwrap_err();
    assert!(matches!(err, LoadError::MetadataMismatch { .. }), "{err}");
}

#[test]
fn a_damaged_file_is_refused_by_its_hash_before_it_is_parsed() {
    let meta = read_metadata("sentinel_rig");
    let meta = MetadataCheck::parse(ModelType::SentinelRig, &serde_json::to_vec(&meta).unwrap()).unwrap();
    let mut bytes = read_model_bytes("sentinel_rig");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let err = load_model(ModelType::SentinelRig, &bytes, Some(&meta)).unwrap_err();
    // Not a parse error: the release agent aborts on panic, so tract never sees damaged bytes.
    assert!(
        matches!(&err, LoadError::MetadataMismatch { reason, .. } if reason.starts_with("sha256")),
        "{err}"
    );
}

#[test]
fn metadata_naming_another_threat_is_refused() {
    let mut meta = read_metadata("sentinel_asic");
    meta["features"][5]["threat_type"] = "overheat".into();
    let meta = MetadataCheck::parse(ModelType::SentinelAsic, &serde_json::to_vec(&meta).unwrap()).unwrap();
    let err = load_model(
        ModelType::SentinelAsic,
        &read_model_bytes("sentinel_asic"),
        Some(&meta),
    )
    .unwrap_err();
    assert!(matches!(err, LoadError::MetadataMismatch { .. }), "{err}");
}

#[test]
fn a_model_in_the_wrong_slot_is_refused() {
    let err = load(ModelType::SentinelRig, &read_model_bytes("sentinel_asic")).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::BadProperty {
                key: "hashward.model_type",
                ..
            }
        ),
        "{err}"
    );
    assert!(load(ModelType::EfficiencyAsic, &read_model_bytes("sentinel_rig")).is_err());
}

#[test]
fn windows_outside_what_the_agent_keeps_are_refused() {
    for w in ["0", "33", "-1", "five"] {
        let bytes = altered("sentinel_rig", |p| set_prop(p, "hashward.window", w));
        assert!(load(ModelType::SentinelRig, &bytes).is_err(), "window {w}");
    }
}

#[test]
fn missing_or_bad_contract_properties_are_refused() {
    for key in [
        "hashward.features",
        "hashward.neutral",
        "hashward.selftest",
        "hashward.version",
    ] {
        let bytes = altered("sentinel_rig", |p| remove_prop(p, key));
        let err = load(ModelType::SentinelRig, &bytes).unwrap_err();
        assert!(matches!(err, LoadError::MissingProperty { .. }), "{key}: {err}");
    }
    let bytes = altered("sentinel_rig", |p| set_prop(p, "hashward.neutral", "[1.0, 2.0]"));
    assert!(load(ModelType::SentinelRig, &bytes).is_err());
    let bytes = altered("sentinel_rig", |p| set_prop(p, "hashward.version", "v2"));
    assert!(load(ModelType::SentinelRig, &bytes).is_err());
    let bytes = altered("sentinel_rig", |p| {
        set_prop(p, "hashward.outputs", r#"["score"]"#)
    });
    assert!(load(ModelType::SentinelRig, &bytes).is_err());
}

#[test]
fn damaged_weights_fail_the_self_test() {
    let bytes = altered("sentinel_rig", |p| shift_initializer(p, "mean", 0.5));
    let err = load(ModelType::SentinelRig, &bytes).unwrap_err();
    assert!(matches!(err, LoadError::SelfTest { .. }), "{err}");
    let bytes = altered("efficiency_asic", |p| shift_initializer(p, "y_mean", 3.0));
    let err = load(ModelType::EfficiencyAsic, &bytes).unwrap_err();
    assert!(matches!(err, LoadError::SelfTest { .. }), "{err}");
}

#[test]
fn garbage_and_truncated_files_are_refused_without_panicking() {
    let good = read_model_bytes("sentinel_asic");
    assert!(load(ModelType::SentinelAsic, b"").is_err());
    assert!(load(ModelType::SentinelAsic, b"definitely not onnx \x00\xff\x13").is_err());
    for cut in [1, 10, good.len() / 3, good.len() / 2, good.len() - 7] {
        assert!(
            load(ModelType::SentinelAsic, &good[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    // Flipped bytes across the file: each is refused or, if it still parses, passes its self-test.
    let mut rng_state = 0x9e3779b97f4a7c15u64;
    for _ in 0..40 {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        let mut b = good.clone();
        let i = (rng_state as usize) % b.len();
        b[i] ^= 0x5a;
        let _ = load(ModelType::SentinelAsic, &b);
    }
}

#[test]
fn a_refused_model_in_the_directory_falls_back_to_the_previous_file() {
    let dir = tempfile::tempdir().unwrap();
    copy_model("sentinel_rig", dir.path());
    let folder = dir.path().join("sentinel_rig");
    std::fs::rename(folder.join("model.onnx"), folder.join("model.onnx.prev")).unwrap();
    std::fs::rename(folder.join("metadata.json"), folder.join("metadata.json.prev")).unwrap();
    let good_version = read_metadata("sentinel_rig")["model_version"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(folder.join("model.onnx"), b"corrupted on disk").unwrap();
    let m = load_model_dir(dir.path(), ModelType::SentinelRig).expect("previous file serves");
    assert_eq!(m.info().version, good_version);
    // Without a previous file the error is the current file's.
    std::fs::remove_file(folder.join("model.onnx.prev")).unwrap();
    assert!(load_model_dir(dir.path(), ModelType::SentinelRig).is_err());
}

#[test]
fn a_directory_with_one_bad_model_still_serves_the_others() {
    let dir = tempfile::tempdir().unwrap();
    for m in ["sentinel_rig", "sentinel_asic", "efficiency_asic"] {
        copy_model(m, dir.path());
    }
    std::fs::write(dir.path().join("sentinel_asic/model.onnx"), b"junk").unwrap();
    let (reg, errors) = Registry::load_dir(dir.path());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(reg.sentinel(ModelType::SentinelAsic).is_none());
    assert!(reg.sentinel(ModelType::SentinelRig).is_some());
    assert!(reg.efficiency().is_some());
}
