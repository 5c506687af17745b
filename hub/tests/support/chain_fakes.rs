//! Fake chain services on 127.0.0.1 speaking the real wire formats: a bitcoind JSON-RPC 1.0
//! endpoint (HTTP Basic auth checked, 401 with an empty body otherwise, RPC errors as HTTP 500
//! with `{"result":null,"error":{code,message}}`) and a mempool.space-style explorer. Each can
//! be switched to misbehave: garbage bodies, a changed schema, answering too slowly, or down.

#![allow(dead_code)]

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const RPC_USER: &str = "hashward";
pub const RPC_PASSWORD: &str = "rpc-s3cret";
pub const TIP: u64 = 870_000;

/// How the fake behaves now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Ok = 0,
    Garbage = 1,
    ChangedSchema = 2,
    Slow = 3,
}

#[derive(Default)]
pub struct Control {
    mode: AtomicU8,
    pub requests: AtomicU64,
    pub unauthorized: AtomicU64,
    pub tip: AtomicU64,
}

impl Control {
    pub fn set(&self, m: Mode) {
        self.mode.store(m as u8, Ordering::SeqCst);
    }
    fn mode(&self) -> Mode {
        match self.mode.load(Ordering::SeqCst) {
            1 => Mode::Garbage,
            2 => Mode::ChangedSchema,
            3 => Mode::Slow,
            _ => Mode::Ok,
        }
    }
}

pub struct Fake {
    pub addr: SocketAddr,
    pub control: Arc<Control>,
    task: tokio::task::JoinHandle<()>,
}

impl Fake {
    pub fn kill(&self) {
        self.task.abort();
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(app: Router, addr: SocketAddr) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let mut listener = None;
    for _ in 0..100 {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                listener = Some(l);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let listener = listener.expect("bind fake");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}

async fn misbehave(c: &Control) -> Option<Response> {
    match c.mode() {
        Mode::Garbage => Some((StatusCode::OK, "<html>502 Bad Gateway</html>").into_response()),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            None
        }
        _ => None,
    }
}

// ---- bitcoind ----

async fn rpc(State(c): State<Arc<Control>>, headers: HeaderMap, body: String) -> Response {
    c.requests.fetch_add(1, Ordering::Relaxed);
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{RPC_USER}:{RPC_PASSWORD}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
        c.unauthorized.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::UNAUTHORIZED, "").into_response();
    }
    if let Some(r) = misbehave(&c).await {
        return r;
    }
    let Ok(req) = serde_json::from_str::<Value>(&body) else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"result": null, "error": {"code": -32700, "message": "Parse error"}, "id": null})
                .to_string(),
        )
            .into_response();
    };
    let id = req["id"].clone();
    let tip = c.tip.load(Ordering::Relaxed).max(TIP);
    let changed = c.mode() == Mode::ChangedSchema;
    let result = match req["method"].as_str() {
        Some("getblockchaininfo") if changed => {
            json!({"chain": "main", "height": tip, "bestblockhash": "00aa", "difficulty": 9.0e13})
        }
        Some("getblockchaininfo") => {
            json!({"chain": "main", "blocks": tip, "headers": tip, "bestblockhash": format!("{tip:064x}"), "difficulty": 9.0e13, "mediantime": 1_799_999_000u64, "verificationprogress": 0.9999, "initialblockdownload": false})
        }
        Some("getmininginfo") => {
            json!({"blocks": tip, "difficulty": 9.0e13, "networkhashps": 6.5e20, "pooledtx": 1200, "chain": "main", "warnings": ""})
        }
        Some("getblockheader") => {
            // Hashes are the height in hex (see getblockhash); blocks 600 s apart up to now.
            let h = req["params"][0]
                .as_str()
                .and_then(|x| u64::from_str_radix(x, 16).ok())
                .filter(|h| *h <= tip)
                .unwrap_or(tip);
            let time = hashward_common::clock::now_s() - (tip - h) * 600;
            json!({"hash": req["params"][0], "confirmations": tip - h + 1, "height": h, "version": 536870912, "time": time, "mediantime": 1_799_999_000u64, "nonce": 1, "bits": "17034219", "difficulty": 9.0e13, "nTx": 3000})
        }
        Some("getblockhash") => match req["params"][0].as_u64() {
            Some(h) if h <= tip => json!(format!("{h:064x}")),
            _ => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"result": null, "error": {"code": -8, "message": "Block height out of range"}, "id": id})
                        .to_string(),
                )
                    .into_response();
            }
        },
        Some("getblockstats") => {
            let h = req["params"][0].as_u64().unwrap_or(0);
            json!({"height": h, "totalfee": 10_000_000 + (h % 2) * 20_000_000})
        }
        _ => {
            return (
                StatusCode::NOT_FOUND,
                json!({"result": null, "error": {"code": -32601, "message": "Method not found"}, "id": id})
                    .to_string(),
            )
                .into_response();
        }
    };
    json!({"result": result, "error": null, "id": id})
        .to_string()
        .into_response()
}

pub async fn bitcoind(addr: SocketAddr) -> Fake {
    let control = Arc::new(Control::default());
    bitcoind_with(addr, control).await
}

pub async fn bitcoind_with(addr: SocketAddr, control: Arc<Control>) -> Fake {
    let app = Router::new().route("/", post(rpc)).with_state(control.clone());
    let (addr, task) = serve(app, addr).await;
    Fake { addr, control, task }
}

// ---- explorer ----

async fn tip_height(State(c): State<Arc<Control>>) -> Response {
    c.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(r) = misbehave(&c).await {
        return r;
    }
    c.tip.load(Ordering::Relaxed).max(TIP).to_string().into_response()
}

async fn difficulty_adjustment(State(c): State<Arc<Control>>) -> Response {
    c.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(r) = misbehave(&c).await {
        return r;
    }
    let tip = c.tip.load(Ordering::Relaxed).max(TIP);
    let remaining = 2016 - tip % 2016;
    if c.mode() == Mode::ChangedSchema {
        return json!({"progress": 54.7, "remaining_blocks": remaining})
            .to_string()
            .into_response();
    }
    json!({"progressPercent": 54.76, "difficultyChange": 1.21, "estimatedRetargetDate": 1_800_500_000_000u64,
        "remainingBlocks": remaining, "remainingTime": 547_200_000u64, "previousRetarget": -0.35,
        "previousTime": 1_799_000_000u64, "nextRetargetHeight": tip + remaining, "timeAvg": 598_000,
        "adjustedTimeAvg": 598_000, "timeOffset": 0, "expectedBlocks": 1103.2})
    .to_string()
    .into_response()
}

async fn hashrate(State(c): State<Arc<Control>>) -> Response {
    c.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(r) = misbehave(&c).await {
        return r;
    }
    json!({"hashrates": [{"timestamp": 1_799_900_000u64, "avgHashrate": 6.3e20}],
        "difficulty": [{"time": 1_799_000_000u64, "height": 868_896, "difficulty": 9.0e13, "adjustment": 0.99}],
        "currentHashrate": 6.4e20, "currentDifficulty": 9.0e13})
    .to_string()
    .into_response()
}

async fn blocks(State(c): State<Arc<Control>>) -> Response {
    c.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(r) = misbehave(&c).await {
        return r;
    }
    let tip = c.tip.load(Ordering::Relaxed).max(TIP);
    let now = hashward_common::clock::now_s();
    let list: Vec<Value> = (0..10)
        .map(|i| json!({"id": format!("{:064x}", tip - i), "height": tip - i, "timestamp": now - i * 600,
            "tx_count": 3000, "difficulty": 9.0e13, "extras": {"totalFees": 25_000_000, "reward": 337_500_000}}))
        .collect();
    Value::Array(list).to_string().into_response()
}

pub async fn explorer(addr: SocketAddr) -> Fake {
    let control = Arc::new(Control::default());
    explorer_with(addr, control).await
}

pub async fn explorer_with(addr: SocketAddr, control: Arc<Control>) -> Fake {
    let app = Router::new()
        .route("/api/blocks/tip/height", get(tip_height))
        .route("/api/v1/difficulty-adjustment", get(difficulty_adjustment))
        .route("/api/v1/mining/hashrate/3d", get(hashrate))
        .route("/api/v1/blocks", get(blocks))
        .with_state(control.clone());
    let (addr, task) = serve(app, addr).await;
    Fake { addr, control, task }
}
