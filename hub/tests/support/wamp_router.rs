//! A fake Prohashing WAMP router on 127.0.0.1: WebSocket with subprotocol `wamp.2.json`,
//! realm `mining`, WAMP-CRA for auth id `web` (checked with its own HMAC, not the hub's code),
//! the three calls answered with recorded-shape payloads, and events published on demand to
//! whoever subscribed. It can be stopped (every connection dropped) and started again on the
//! same port. Written from the WAMP spec with raw JSON arrays: it shares no code with the client.

#![allow(dead_code)]

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

pub const API_KEY: &str = "0123456789abcdef";

/// Counters the tests read.
#[derive(Debug, Default)]
pub struct Seen {
    pub logins_ok: AtomicU64,
    pub logins_refused: AtomicU64,
    pub calls: AtomicU64,
    pub subscriptions: AtomicU64,
    pub pings: AtomicU64,
    pub goodbyes: AtomicU64,
    /// Calls that came with a wrong API key.
    pub bad_keys: AtomicU64,
}

pub struct Router {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    publish: broadcast::Sender<(String, Value)>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The recorded miner list the call answers with (a test can change it).
    pub miners: Arc<Mutex<Value>>,
    /// What `f_all_profitability_updates` answers (the recorded 2019 map unless a test changes it).
    pub profitability: Arc<Mutex<Value>>,
    /// While true the router reads nothing and answers nothing (a hung process: the TCP
    /// connections stay open).
    pub frozen: Arc<std::sync::atomic::AtomicBool>,
    salted: bool,
}

/// A text frame sent as is to every session (garbage, for the tests).
pub const RAW: &str = "\u{0}raw";

pub fn recorded_profitability() -> Value {
    // prohashing-http's documented /profitability answer (2019-01-15), two algorithms.
    json!({
        "1": {"algorithm_name": "Scrypt", "usd": 0.0025041009705167, "btc": 6.8628068694276e-7,
              "max_usd": 0.0052676028280028, "max_btc": 1.4445957481592e-6,
              "percentile_usd": 0.0023765266674273, "percentile_btc": 6.5173886514719e-7,
              "data_timestamp": 1547510680.4959, "server_timestamp": 1547510683.3438, "server_id": 4},
        "2": {"algorithm_name": "SHA-256", "usd": 1.3292067065643e-7, "btc": 3.6428598623226e-11,
              "max_usd": 2.0160622968307e-7, "max_btc": 5.5308075026561e-11,
              "percentile_usd": 1.3077709035238e-7, "percentile_btc": 3.5864319816693e-11,
              "data_timestamp": 1547510680.4959, "server_timestamp": 1547510683.3438, "server_id": 4}
    })
}

/// The recorded map with today's data time (so a retention pruner keeps it).
pub fn fresh_profitability() -> Value {
    let mut v = recorded_profitability();
    let now_s = hashward_common::clock::now_ms() as f64 / 1000.0;
    if let Some(m) = v.as_object_mut() {
        for q in m.values_mut() {
            q["data_timestamp"] = json!(now_s);
        }
    }
    v
}

pub fn recorded_miners() -> Value {
    json!([
        {"uuid": "6b1e0c1a-1", "miner_name": "acct.s9a", "coin_name": "bitcoin", "algorithm_name": "SHA-256",
         "hashrate": 13.1e12, "difficulty": 65536, "difficulty_is_static": false, "share_count": 1804},
        {"uuid": "6b1e0c1a-2", "miner_name": "acct.l3", "coin_name": "litecoin", "algorithm_name": "Scrypt",
         "hashrate": 5.0e8, "difficulty": 512, "difficulty_is_static": true, "share_count": 77}
    ])
}

fn expected_signature(secret: &str, challenge: &str, salt: Option<&str>) -> String {
    let key = match salt {
        None => secret.as_bytes().to_vec(),
        Some(salt) => {
            let mut k = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(secret.as_bytes(), salt.as_bytes(), 1000, &mut k);
            base64::engine::general_purpose::STANDARD.encode(k).into_bytes()
        }
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("hmac key");
    mac.update(challenge.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl Router {
    /// Listens on `addr` (port 0 for any).
    pub async fn start(addr: SocketAddr, salted: bool) -> Router {
        let (publish, _) = broadcast::channel(64);
        let mut r = Router {
            addr,
            seen: Arc::new(Seen::default()),
            publish,
            task: None,
            miners: Arc::new(Mutex::new(recorded_miners())),
            profitability: Arc::new(Mutex::new(recorded_profitability())),
            frozen: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            salted,
        };
        r.restart().await;
        r
    }

    /// Drops the listener and every connection, as a dead router would.
    pub fn kill(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        // The port was just freed; a bind may need a moment (bounded).
        let mut listener = None;
        for _ in 0..100 {
            match TcpListener::bind(self.addr).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
        let listener = listener.expect("rebind the router port");
        self.addr = listener.local_addr().expect("addr");
        let seen = self.seen.clone();
        let publish = self.publish.clone();
        let miners = self.miners.clone();
        let profit = self.profitability.clone();
        let frozen = self.frozen.clone();
        let salted = self.salted;
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (seen, events, miners, profit, frozen) = (
                    seen.clone(),
                    publish.subscribe(),
                    miners.clone(),
                    profit.clone(),
                    frozen.clone(),
                );
                conns.spawn(async move {
                    let _ = serve(tcp, seen, events, (miners, profit), frozen, salted).await;
                });
            }
        }));
    }

    /// Sends `text` as one frame to every logged-in session, whatever it is.
    pub fn send_raw(&self, text: &str) {
        let _ = self
            .publish
            .send((RAW.to_string(), Value::String(text.to_string())));
    }

    /// Publishes `args` on `topic` to every session subscribed to it.
    pub fn publish(&self, topic: &str, args: Value) {
        let _ = self.publish.send((topic.to_string(), args));
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.kill();
    }
}

// The handshake callback's error type is tungstenite's, not ours.
#[allow(clippy::result_large_err)]
async fn serve(
    tcp: tokio::net::TcpStream,
    seen: Arc<Seen>,
    mut events: broadcast::Receiver<(String, Value)>,
    (miners, profit): (Arc<Mutex<Value>>, Arc<Mutex<Value>>),
    frozen: Arc<std::sync::atomic::AtomicBool>,
    salted: bool,
) -> Result<(), String> {
    let hung = || async {
        while frozen.load(Ordering::Relaxed) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    hung().await;
    let ws = tokio_tungstenite::accept_hdr_async(tcp, |req: &Request, mut resp: Response| {
        let asks = req
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(asks.contains("wamp.2.json"), "client asked for {asks:?}");
        resp.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("wamp.2.json"));
        Ok(resp)
    })
    .await
    .map_err(|e| e.to_string())?;
    let (mut tx, mut rx) = ws.split();
    let mut challenge = String::new();
    let mut authed = false;
    let mut subs: HashMap<String, u64> = HashMap::new();
    let mut next_id = 1000u64;
    loop {
        hung().await;
        tokio::select! {
            frame = rx.next() => {
                let Some(Ok(frame)) = frame else { return Ok(()) };
                let text = match frame {
                    Message::Text(t) => t.to_string(),
                    Message::Ping(_) => { seen.pings.fetch_add(1, Ordering::Relaxed); continue }
                    Message::Close(_) => return Ok(()),
                    _ => continue,
                };
                let msg: Vec<Value> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                let reply: Option<Value> = match msg.first().and_then(Value::as_u64) {
                    Some(1) => {
                        assert_eq!(msg[1], "mining", "realm");
                        assert_eq!(msg[2]["authid"], "web");
                        assert!(msg[2]["authmethods"].as_array().is_some_and(|a| a.contains(&json!("wampcra"))));
                        challenge = json!({"authid": "web", "authrole": "web", "authmethod": "wampcra",
                            "authprovider": "static", "session": 4242, "nonce": format!("n{next_id}"),
                            "timestamp": "2026-12-02T08:00:00.000Z"}).to_string();
                        next_id += 1;
                        let mut extra = json!({"challenge": challenge});
                        if salted {
                            extra["salt"] = json!("pepper");
                            extra["iterations"] = json!(1000);
                            extra["keylen"] = json!(32);
                        }
                        Some(json!([4, "wampcra", extra]))
                    }
                    Some(5) => {
                        let expected = expected_signature("web", &challenge, salted.then_some("pepper"));
                        if msg[1].as_str() == Some(expected.as_str()) {
                            authed = true;
                            seen.logins_ok.fetch_add(1, Ordering::Relaxed);
                            Some(json!([2, 4242, {"authid": "web", "authrole": "web", "authmethod": "wampcra", "roles": {"broker": {}, "dealer": {}}}]))
                        } else {
                            seen.logins_refused.fetch_add(1, Ordering::Relaxed);
                            let abort = json!([3, {"message": "signature is invalid"}, "wamp.error.not_authorized"]);
                            tx.send(Message::text(abort.to_string())).await.map_err(|e| e.to_string())?;
                            return Ok(());
                        }
                    }
                    Some(48) if authed => {
                        seen.calls.fetch_add(1, Ordering::Relaxed);
                        let req = msg[1].clone();
                        let key_ok = msg.get(4).and_then(|a| a.get(0)).and_then(Value::as_str) == Some(API_KEY);
                        match msg[3].as_str() {
                            Some("f_all_profitability_updates") => {
                                let p = profit.lock().expect("profitability").clone();
                                Some(json!([50, req, {}, [p]]))
                            }
                            Some("f_all_miner_updates") if key_ok => {
                                let m = miners.lock().expect("miners").clone();
                                Some(json!([50, req, {}, [m]]))
                            }
                            Some("f_all_balance_updates") if key_ok => Some(json!([50, req, {}, [{"bitcoin": 0.00123, "dogecoin": 52.5}]])),
                            Some(_) if !key_ok => {
                                seen.bad_keys.fetch_add(1, Ordering::Relaxed);
                                Some(json!([8, 48, req, {}, "wamp.error.not_authorized"]))
                            }
                            _ => Some(json!([8, 48, req, {}, "wamp.error.no_such_procedure"])),
                        }
                    }
                    Some(32) if authed => {
                        seen.subscriptions.fetch_add(1, Ordering::Relaxed);
                        let topic = msg[3].as_str().unwrap_or_default().to_string();
                        next_id += 1;
                        subs.insert(topic, next_id);
                        Some(json!([33, msg[1], next_id]))
                    }
                    Some(6) => {
                        seen.goodbyes.fetch_add(1, Ordering::Relaxed);
                        let bye = json!([6, {}, "wamp.close.goodbye_and_out"]);
                        let _ = tx.send(Message::text(bye.to_string())).await;
                        return Ok(());
                    }
                    other => {
                        let abort = json!([3, {}, format!("wamp.error.protocol_violation: {other:?}")]);
                        let _ = tx.send(Message::text(abort.to_string())).await;
                        return Ok(());
                    }
                };
                if let Some(r) = reply {
                    tx.send(Message::text(r.to_string())).await.map_err(|e| e.to_string())?;
                }
            }
            ev = events.recv() => {
                let Ok((topic, args)) = ev else { continue };
                if topic == RAW && authed {
                    let text = args.as_str().unwrap_or_default().to_string();
                    tx.send(Message::text(text)).await.map_err(|e| e.to_string())?;
                } else if let Some(id) = subs.get(&topic) {
                    next_id += 1;
                    let e = json!([36, id, next_id, {}, args]);
                    tx.send(Message::text(e.to_string())).await.map_err(|e| e.to_string())?;
                }
            }
        }
    }
}

/// Prohashing's HTTP fallback (`/profitability`, the prohashing-http shape), counting requests.
pub async fn http_fallback() -> (SocketAddr, Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    use axum::routing::get;
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/api/v1/profitability",
        get(move || {
            let h = h.clone();
            async move {
                h.fetch_add(1, Ordering::Relaxed);
                recorded_profitability().to_string()
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, hits, task)
}
