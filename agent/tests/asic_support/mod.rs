//! Fake miners for the tests and the poll200 benchmark: a Vnish web API, a cgminer/bmminer TCP
//! API and a stock Antminer cgi API with HTTP Digest, speaking the real wire formats (replies
//! are the fixtures in `tests/fixtures/`, built from real firmware captures and field names).
//!
//! Each fake has knobs for the failure modes miners show: slow replies, hangs, 401s and token
//! expiry, truncated or malformed JSON, missing boards, wrong units. Test-only: never shipped.

#![allow(dead_code)]

pub mod fixtures;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a fake misbehaves on its data endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Accept the request, never answer.
    Hang,
    /// Cut the JSON in half.
    Truncated,
    /// Not JSON at all.
    Garbage,
    /// HTTP 500 / cgminer STATUS E.
    ServerError,
}

#[derive(Debug, Clone, Default)]
pub struct Knobs {
    pub fault: Fault,
    pub delay: Duration,
}

pub struct HttpReq {
    pub method: String,
    pub path: String,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

pub struct HttpResp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
    pub hang: bool,
}

impl HttpResp {
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        HttpResp {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            delay: Duration::ZERO,
            hang: false,
        }
    }
    pub fn status(status: u16) -> Self {
        HttpResp {
            status,
            headers: vec![],
            body: Vec::new(),
            delay: Duration::ZERO,
            hang: false,
        }
    }
}

type Handler = Arc<dyn Fn(HttpReq) -> HttpResp + Send + Sync>;

/// Serves `handler` over HTTP/1.1 with keep-alive on an ephemeral loopback port.
pub async fn serve_http(handler: Handler) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let h = handler.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let h = h.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let r = h(HttpReq {
                            method: parts.method.to_string(),
                            path: parts.uri.path().to_string(),
                            headers: parts.headers,
                            body,
                        });
                        if r.hang {
                            std::future::pending::<()>().await;
                        }
                        if !r.delay.is_zero() {
                            tokio::time::sleep(r.delay).await;
                        }
                        let mut resp = hyper::Response::builder().status(r.status);
                        for (k, v) in &r.headers {
                            resp = resp.header(k.as_str(), v.as_str());
                        }
                        Ok::<_, Infallible>(resp.body(Full::new(Bytes::from(r.body))).expect("response"))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

fn apply_fault(knobs: &Knobs, body: String) -> HttpResp {
    let mut r = match knobs.fault {
        Fault::None | Fault::Hang => HttpResp::json(body),
        Fault::Truncated => HttpResp::json(body[..body.len() / 2].to_string()),
        Fault::Garbage => HttpResp::json("<html><body>502 Bad Gateway</body></html>"),
        Fault::ServerError => HttpResp::status(500),
    };
    r.hang = knobs.fault == Fault::Hang;
    r.delay = knobs.delay;
    r
}

// ---------------------------------------------------------------------------------------------
// Vnish
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct VnishState {
    pub password: String,
    pub api_key: Option<String>,
    /// Current valid token; `rotate_token` invalidates it (as a reboot does).
    pub token: String,
    pub token_serial: u32,
    pub summary: Value,
    pub info: Value,
    pub settings: Value,
    pub presets: Value,
    pub status: Value,
    pub knobs: Knobs,
    /// (method, path, authorization or x-api-key header)
    pub calls: Vec<(String, String, Option<String>)>,
    pub unlocks: u32,
    /// Serve summaries without `chains` (then `/chains` has them).
    pub chains_separately: bool,
    pub paused: bool,
}

pub struct FakeVnish {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<VnishState>>,
}

impl FakeVnish {
    pub async fn start(summary: &str, info: &str) -> FakeVnish {
        let state = VnishState {
            password: "admin".into(),
            api_key: None,
            token: "tok-1".into(),
            token_serial: 1,
            summary: serde_json::from_str(summary).expect("summary fixture"),
            info: serde_json::from_str(info).expect("info fixture"),
            settings: serde_json::from_str(fixtures::VNISH_SETTINGS).expect("settings"),
            presets: serde_json::from_str(fixtures::VNISH_PRESETS).expect("presets"),
            status: serde_json::from_str(fixtures::VNISH_STATUS).expect("status"),
            knobs: Knobs::default(),
            calls: Vec::new(),
            unlocks: 0,
            chains_separately: false,
            paused: false,
        };
        let state = Arc::new(Mutex::new(state));
        let s = state.clone();
        let addr = serve_http(Arc::new(move |req| vnish_handle(&s, req))).await;
        FakeVnish { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut VnishState) -> R) -> R {
        f(&mut self.state.lock().expect("lock"))
    }

    /// Invalidates the current token, as a miner reboot does.
    pub fn rotate_token(&self) {
        self.with(|s| {
            s.token_serial += 1;
            s.token = format!("tok-{}", s.token_serial);
        });
    }
}

fn vnish_handle(state: &Mutex<VnishState>, req: HttpReq) -> HttpResp {
    let mut s = state.lock().expect("lock");
    let auth = req
        .headers
        .get("authorization")
        .or_else(|| req.headers.get("x-api-key"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    s.calls.push((req.method.clone(), req.path.clone(), auth));
    let Some(path) = req.path.strip_prefix("/api/v1") else {
        return HttpResp::status(404);
    };
    if path == "/unlock" && req.method == "POST" {
        s.unlocks += 1;
        let pw = serde_json::from_slice::<Value>(&req.body)
            .ok()
            .and_then(|v| v.get("pw").and_then(Value::as_str).map(str::to_string));
        return if pw.as_deref() == Some(s.password.as_str()) {
            HttpResp::json(serde_json::json!({ "token": s.token }).to_string())
        } else {
            let mut r = HttpResp::json(r#"{"err":"Wrong password"}"#);
            r.status = 401;
            r
        };
    }
    // /info is open (model and firmware are shown on the login page).
    if path == "/info" && req.method == "GET" {
        return HttpResp::json(s.info.to_string());
    }
    let bearer_ok = req.headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {}", s.token));
    let key_ok = s
        .api_key
        .as_deref()
        .is_some_and(|k| req.headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(k));
    if !bearer_ok && !key_ok {
        let mut r = HttpResp::json(r#"{"err":"Unauthorized"}"#);
        r.status = 401;
        return r;
    }
    match (req.method.as_str(), path) {
        ("GET", "/summary") => {
            let mut v = s.summary.clone();
            if s.paused {
                v["miner"]["miner_status"]["miner_state"] = Value::from("stopped");
            }
            if s.chains_separately {
                if let Some(m) = v.get_mut("miner").and_then(Value::as_object_mut) {
                    m.remove("chains");
                }
            }
            apply_fault(&s.knobs, v.to_string())
        }
        ("GET", "/chains") => apply_fault(&s.knobs, s.summary["miner"]["chains"].to_string()),
        ("GET", "/status") => HttpResp::json(s.status.to_string()),
        ("GET", "/settings") => HttpResp::json(s.settings.to_string()),
        ("GET", "/autotune/presets") => HttpResp::json(s.presets.to_string()),
        ("POST", "/settings") => {
            let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
                return HttpResp::status(400);
            };
            // Merge like the firmware: fields not sent are kept.
            if let Some(oc) = body.pointer("/miner/overclock").and_then(Value::as_object) {
                for (k, v) in oc {
                    s.settings["miner"]["overclock"][k] = v.clone();
                }
            }
            HttpResp::json(r#"{"restart_required":false,"reboot_required":false}"#)
        }
        ("POST", "/mining/pause") | ("POST", "/mining/stop") => {
            s.paused = true;
            HttpResp::json(r#"{"success":true}"#)
        }
        ("POST", "/mining/resume") | ("POST", "/mining/start") | ("POST", "/mining/restart") => {
            s.paused = false;
            HttpResp::json(r#"{"success":true}"#)
        }
        _ => HttpResp::status(404),
    }
}

// ---------------------------------------------------------------------------------------------
// cgminer / bmminer
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct CgminerState {
    pub summary: String,
    pub stats: String,
    pub pools: String,
    /// Old builds: a combined command gets an error STATUS.
    pub combined_supported: bool,
    pub knobs: Knobs,
    pub commands: Vec<String>,
    /// Send the reply without the NUL terminator and close.
    pub no_nul: bool,
}

pub struct FakeCgminer {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<CgminerState>>,
}

impl FakeCgminer {
    pub async fn start(summary: &str, stats: &str, pools: &str) -> FakeCgminer {
        let state = Arc::new(Mutex::new(CgminerState {
            summary: summary.into(),
            stats: stats.into(),
            pools: pools.into(),
            combined_supported: true,
            knobs: Knobs::default(),
            commands: Vec::new(),
            no_nul: false,
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let s = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let s = s.clone();
                tokio::spawn(cgminer_conn(stream, s));
            }
        });
        FakeCgminer { addr, state }
    }

    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut CgminerState) -> R) -> R {
        f(&mut self.state.lock().expect("lock"))
    }
}

/// A sub-reply of a combined command is the single reply without its trailing `"id"`. Done on
/// the text so bmminer's malformed `}{` output stays exactly as the firmware sends it.
fn sub_reply(reply: &str) -> String {
    let t = reply.trim();
    t.strip_suffix(",\"id\":1}")
        .map(|x| format!("{x}}}"))
        .unwrap_or_else(|| t.to_string())
}

async fn cgminer_conn(mut stream: TcpStream, state: Arc<Mutex<CgminerState>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    // cgminer reads one JSON request; stop at the closing brace.
    let cmd: Value = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Ok(v) = serde_json::from_slice(&buf) {
            break v;
        }
        if buf.len() > 8192 {
            return;
        }
    };
    let command = cmd
        .get("command")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (reply, knobs, no_nul) = {
        let mut s = state.lock().expect("lock");
        s.commands.push(command.clone());
        let err = |msg: &str| {
            format!(
                r#"{{"STATUS":[{{"STATUS":"E","When":0,"Code":14,"Msg":"{msg}","Description":"bmminer 1.0.0"}}],"id":1}}"#
            )
        };
        let single = |c: &str| -> Option<String> {
            match c {
                "summary" => Some(s.summary.clone()),
                "stats" => Some(s.stats.clone()),
                "pools" => Some(s.pools.clone()),
                "version" => Some(r#"{"STATUS":[{"STATUS":"S","When":0,"Code":22,"Msg":"BMMiner versions","Description":"bmminer 1.0.0"}],"VERSION":[{"BMMiner":"1.0.0","API":"3.1","Miner":"49.0.1.3","CompileTime":"x","Type":"Antminer S19"}],"id":1}"#.to_string()),
                _ => None,
            }
        };
        let reply = if s.knobs.fault == Fault::ServerError {
            err("Access denied")
        } else if command.contains('+') {
            if s.combined_supported {
                let parts: Vec<String> = command
                    .split('+')
                    .map(|c| match single(c) {
                        Some(r) => format!("\"{c}\":[{}]", sub_reply(&r)),
                        None => format!("\"{c}\":[{}]", sub_reply(&err("Invalid command"))),
                    })
                    .collect();
                format!("{{{},\"id\":1}}", parts.join(","))
            } else {
                err("Invalid command")
            }
        } else {
            single(&command).unwrap_or_else(|| err("Invalid command"))
        };
        (reply, s.knobs.clone(), s.no_nul)
    };
    if knobs.fault == Fault::Hang {
        std::future::pending::<()>().await;
    }
    if !knobs.delay.is_zero() {
        tokio::time::sleep(knobs.delay).await;
    }
    let body = match knobs.fault {
        Fault::Truncated => reply[..reply.len() / 2].to_string(),
        Fault::Garbage => "\u{1}\u{2}garbage{{{".to_string(),
        _ => reply,
    };
    let _ = stream.write_all(body.as_bytes()).await;
    if !no_nul {
        let _ = stream.write_all(&[0]).await;
    }
    let _ = stream.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Stock Antminer (HTTP Digest)
// ---------------------------------------------------------------------------------------------

pub const ANTMINER_REALM: &str = "antMiner Configuration";

#[derive(Debug, Clone)]
pub struct AntminerState {
    pub user: String,
    pub password: String,
    pub nonce: String,
    pub stats: Value,
    pub summary: Value,
    pub pools: Value,
    pub knobs: Knobs,
    pub challenges: u32,
    pub authorized: u32,
    pub calls: Vec<String>,
    /// nc values seen per nonce, to check the client increments them.
    pub last_nc: u32,
}

pub struct FakeAntminer {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<AntminerState>>,
}

impl FakeAntminer {
    pub async fn start() -> FakeAntminer {
        let state = Arc::new(Mutex::new(AntminerState {
            user: "root".into(),
            password: "root".into(),
            nonce: "6f1a2b3c4d5e6f708192a3b4c5d6e7f8".into(),
            stats: serde_json::from_str(fixtures::ANTMINER_STATS).expect("stats"),
            summary: serde_json::from_str(fixtures::ANTMINER_SUMMARY).expect("summary"),
            pools: serde_json::from_str(fixtures::ANTMINER_POOLS).expect("pools"),
            knobs: Knobs::default(),
            challenges: 0,
            authorized: 0,
            calls: Vec::new(),
            last_nc: 0,
        }));
        let s = state.clone();
        let addr = serve_http(Arc::new(move |req| antminer_handle(&s, req))).await;
        FakeAntminer { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut AntminerState) -> R) -> R {
        f(&mut self.state.lock().expect("lock"))
    }
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses `Digest k="v", k=v` (test server side, independent of the client's parser).
fn digest_params(h: &str) -> Option<std::collections::HashMap<String, String>> {
    let rest = h.strip_prefix("Digest ")?;
    let mut out = std::collections::HashMap::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut parts = Vec::new();
    for c in rest.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    for p in parts {
        let (k, v) = p.trim().split_once('=')?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Some(out)
}

fn antminer_handle(state: &Mutex<AntminerState>, req: HttpReq) -> HttpResp {
    let mut s = state.lock().expect("lock");
    s.calls.push(req.path.clone());
    let challenge = |s: &mut AntminerState| {
        s.challenges += 1;
        let mut r = HttpResp::status(401);
        r.headers.push((
            "www-authenticate".into(),
            format!(
                "Digest realm=\"{ANTMINER_REALM}\", nonce=\"{}\", qop=\"auth\"",
                s.nonce
            ),
        ));
        r
    };
    let Some(h) = req.headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return challenge(&mut s);
    };
    let Some(p) = digest_params(h) else {
        return challenge(&mut s);
    };
    let g = |k: &str| p.get(k).cloned().unwrap_or_default();
    // RFC 2617 with qop=auth, computed here independently of the client.
    let ha1 = md5_hex(&format!("{}:{ANTMINER_REALM}:{}", s.user, s.password));
    let ha2 = md5_hex(&format!("{}:{}", req.method, req.path));
    let expect = md5_hex(&format!(
        "{ha1}:{}:{}:{}:auth:{ha2}",
        s.nonce,
        g("nc"),
        g("cnonce")
    ));
    let nc = u32::from_str_radix(&g("nc"), 16).unwrap_or(0);
    if g("username") != s.user
        || g("realm") != ANTMINER_REALM
        || g("nonce") != s.nonce
        || g("uri") != req.path
        || g("response") != expect
        || g("qop") != "auth"
    {
        return challenge(&mut s);
    }
    if nc <= s.last_nc {
        // A replayed nonce count is refused, as lighttpd does.
        return challenge(&mut s);
    }
    s.last_nc = nc;
    s.authorized += 1;
    let body = match req.path.as_str() {
        "/cgi-bin/stats.cgi" => s.stats.to_string(),
        "/cgi-bin/summary.cgi" => s.summary.to_string(),
        "/cgi-bin/pools.cgi" => s.pools.to_string(),
        _ => return HttpResp::status(404),
    };
    apply_fault(&s.knobs, body)
}

/// Starts a server that accepts connections and never answers (HTTP or TCP alike).
pub async fn start_black_hole() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            held.push(stream);
        }
    });
    addr
}

/// An address where nothing listens (bound, then closed).
pub async fn dead_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    drop(l);
    a
}
