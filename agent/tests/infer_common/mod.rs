//! Shared test helpers: where the repository's models are, and the golden vectors.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The repository's `models/` directory, found by walking up from this crate (so the tests
/// work from `scratch/infer/` and from `agent/` alike).
pub fn models_dir() -> PathBuf {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    loop {
        let candidate = dir.join("models");
        if candidate.join("sentinel_rig").join("model.onnx").is_file() {
            return candidate;
        }
        assert!(
            dir.pop(),
            "no models/ directory above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
}

/// Every line of `models/<model>/golden.jsonl`, parsed.
pub fn golden(model: &str) -> Vec<Value> {
    let path = models_dir().join(model).join("golden.jsonl");
    let text = std::fs::read_to_string(&path).expect("read golden.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("golden line is JSON"))
        .collect()
}

/// Copies one model folder (`model.onnx`, `metadata.json`) into `dst/<model>/`.
pub fn copy_model(model: &str, dst: &Path) {
    let from = models_dir().join(model);
    let to = dst.join(model);
    std::fs::create_dir_all(&to).expect("mkdir");
    for f in ["model.onnx", "metadata.json"] {
        std::fs::copy(from.join(f), to.join(f)).expect("copy model file");
    }
}

/// `|a - b| <= tol * max(1, |b|)`: absolute for features and scores, relative for watts and H/s.
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

// ------------------------------------------------------------------------------------------
// Crafting altered model files
// ------------------------------------------------------------------------------------------

use prost::Message;
use tract_onnx::pb::ModelProto;

pub fn read_model_bytes(model: &str) -> Vec<u8> {
    std::fs::read(models_dir().join(model).join("model.onnx")).expect("read model.onnx")
}

pub fn read_metadata(model: &str) -> Value {
    let text = std::fs::read(models_dir().join(model).join("metadata.json")).expect("read");
    serde_json::from_slice(&text).expect("metadata JSON")
}

pub fn decode(bytes: &[u8]) -> ModelProto {
    ModelProto::decode(bytes).expect("decode ONNX")
}

pub fn encode(p: &ModelProto) -> Vec<u8> {
    p.encode_to_vec()
}

pub fn prop(p: &ModelProto, key: &str) -> String {
    p.metadata_props
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.value.clone())
        .unwrap_or_else(|| panic!("no property {key}"))
}

pub fn set_prop(p: &mut ModelProto, key: &str, value: &str) {
    let e = p
        .metadata_props
        .iter_mut()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("no property {key}"));
    e.value = value.to_string();
}

pub fn remove_prop(p: &mut ModelProto, key: &str) {
    p.metadata_props.retain(|e| e.key != key);
}

/// Adds `delta` to every value of initializer `name` (damaged weights the graph still runs).
pub fn shift_initializer(p: &mut ModelProto, name: &str, delta: f32) {
    let g = p.graph.as_mut().expect("graph");
    let t = g
        .initializer
        .iter_mut()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no initializer {name}"));
    if !t.raw_data.is_empty() {
        let vals: Vec<u8> = t
            .raw_data
            .chunks_exact(4)
            .flat_map(|c| {
                let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]) + delta;
                v.to_le_bytes()
            })
            .collect();
        t.raw_data = vals;
    } else {
        for v in t.float_data.iter_mut() {
            *v += delta;
        }
    }
}

/// Writes `dst/<model>/{model.onnx, metadata.json}` for `bytes`, with metadata.json taken from
/// the repository's and made consistent (version, sha256, size) unless `consistent` is false.
pub fn write_model(dst: &Path, model: &str, bytes: &[u8], consistent: bool) -> Value {
    use sha2::Digest;
    let mut meta = read_metadata(model);
    if consistent {
        let p = decode(bytes);
        meta["model_version"] = Value::String(prop(&p, "hashward.version"));
        meta["sha256"] = Value::String(hex::encode(sha2::Sha256::digest(bytes)));
        meta["model_size_bytes"] = serde_json::json!(bytes.len());
    }
    let dir = dst.join(model);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("model.onnx"), bytes).expect("write model");
    std::fs::write(
        dir.join("metadata.json"),
        serde_json::to_vec_pretty(&meta).expect("json"),
    )
    .expect("write metadata");
    meta
}

/// The repository's model with its version bumped to `version` (still valid and loadable).
pub fn bumped(model: &str, version: &str) -> Vec<u8> {
    let mut p = decode(&read_model_bytes(model));
    set_prop(&mut p, "hashward.version", version);
    encode(&p)
}

// ------------------------------------------------------------------------------------------
// A hub on a real loopback socket
// ------------------------------------------------------------------------------------------

/// `hub_models::router(dir)` served on 127.0.0.1 (random port) from its own thread; stops
/// when dropped.
pub struct Hub {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Hub {
    pub fn start(dir: &Path) -> Hub {
        let router = hashward_hub::models::router(dir.to_path_buf());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        let addr = addr_rx.recv().expect("hub started");
        Hub {
            url: format!("http://{addr}"),
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
