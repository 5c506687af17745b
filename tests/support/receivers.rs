//! Real servers on loopback for the notification tests: a small HTTP/1.1 server that records
//! every request and answers like the service it stands for (a webhook endpoint, the Telegram
//! Bot API's `sendMessage`, an ntfy server), and a real SMTP server (Python's aiosmtpd, with
//! STARTTLS and AUTH) that writes every message it accepts to a JSON-lines file.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the fake answers: (status, JSON body) for a request.
pub type Answer = Box<dyn Fn(&Request) -> (u16, String) + Send + Sync>;

pub struct FakeHttp {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
    /// When non-zero, every answer has this status (a receiver refusing or failing).
    pub force_status: Arc<AtomicU16>,
    stop: Arc<AtomicBool>,
}

impl FakeHttp {
    pub fn start(answer: Answer) -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let force_status = Arc::new(AtomicU16::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, f, s) = (requests.clone(), force_status.clone(), stop.clone());
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (r, f, answer) = (r.clone(), f.clone(), answer.clone());
                std::thread::spawn(move || serve(conn, &r, &f, &answer));
            }
        });
        FakeHttp {
            port,
            requests,
            force_status,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }

    /// A webhook endpoint: 200 with an empty JSON object.
    pub fn webhook() -> FakeHttp {
        FakeHttp::start(Box::new(|_| (200, "{}".into())))
    }

    /// The Bot API's `sendMessage` for `token`: a known token and a body with `chat_id` and
    /// `text` get `{"ok": true, "result": <message>}`; an unknown token 401, a bad body 400,
    /// as Telegram answers.
    pub fn telegram(token: &'static str) -> FakeHttp {
        FakeHttp::start(Box::new(move |req| {
            if req.method != "POST" || req.path != format!("/bot{token}/sendMessage") {
                return (
                    401,
                    json!({"ok": false, "error_code": 401, "description": "Unauthorized"}).to_string(),
                );
            }
            let body = req.json();
            match (body.get("chat_id"), body["text"].as_str()) {
                (Some(chat), Some(text)) if !text.is_empty() => (
                    200,
                    json!({"ok": true, "result": {"message_id": 1, "chat": {"id": chat}, "date": 0, "text": text}})
                        .to_string(),
                ),
                _ => (
                    400,
                    json!({"ok": false, "error_code": 400, "description": "Bad Request: message text is empty"})
                        .to_string(),
                ),
            }
        }))
    }

    /// An ntfy server: `POST /{topic}` with the message as the body answers the message event.
    pub fn ntfy() -> FakeHttp {
        FakeHttp::start(Box::new(|req| {
            let topic = req.path.trim_start_matches('/');
            if req.method != "POST" || topic.is_empty() || topic.contains('/') {
                return (
                    404,
                    json!({"code": 40401, "http": 404, "error": "page not found"}).to_string(),
                );
            }
            (
                200,
                json!({"id": "x1", "time": 0, "event": "message", "topic": topic, "message": req.text(),
                       "title": req.header("title")})
                .to_string(),
            )
        }))
    }
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(conn: TcpStream, log: &Mutex<Vec<Request>>, force: &AtomicU16, answer: &Answer) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        if reader.read_exact(&mut body).is_err() {
            return;
        }
    } else if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size).unwrap_or(0) == 0 {
                return;
            }
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            if reader.read_exact(&mut chunk).is_err() {
                return;
            }
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let req = Request {
        method,
        path,
        headers,
        body,
    };
    let (mut status, text) = answer(&req);
    let forced = force.load(Ordering::SeqCst);
    if forced != 0 {
        status = forced;
    }
    log.lock().expect("lock").push(req);
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

/// HMAC-SHA256 (RFC 2104) written out here, so the hub's signature is checked independently.
pub fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(msg).finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

const SMTPD: &str = r#"
import asyncio, json, signal, ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

port, cert, key, out, user, password = sys.argv[1:7]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a") as f:
            f.write(json.dumps({
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "data": envelope.content.decode("utf8", "replace"),
                "tls": session.ssl is not None,
                "login": session.authenticated,
            }) + "\n")
        return "250 Message accepted for delivery"

def auth(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok)

ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
c = Controller(Handler(), hostname="127.0.0.1", port=int(port), tls_context=ctx,
               require_starttls=True, auth_required=True, auth_require_tls=True,
               authenticator=auth)
c.start()
print("listening", flush=True)
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: done.set())
done.wait()
c.stop()
"#;

/// Whether Python's aiosmtpd is importable; without it the caller skips, unless
/// HASHWARD_REQUIRE_AIOSMTPD=1.
pub fn aiosmtpd_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("HASHWARD_REQUIRE_AIOSMTPD").as_deref() != Ok("1"),
            "aiosmtpd is required (HASHWARD_REQUIRE_AIOSMTPD=1) but python3 cannot import it"
        );
        eprintln!("NOTICE: python3 with aiosmtpd not available; skipping this test (pip install aiosmtpd)");
    }
    ok
}

/// A real SMTP server (aiosmtpd) on `port`: STARTTLS required with `cert`/`key`, AUTH
/// required (`user`/`password`); messages appended to `mailbox` as JSON lines.
pub struct Smtpd {
    child: Child,
    pub mailbox: PathBuf,
}

impl Smtpd {
    pub fn start(dir: &Path, port: u16, cert: &Path, key: &Path, user: &str, password: &str) -> Smtpd {
        let script = dir.join("smtpd.py");
        std::fs::write(&script, SMTPD).expect("script");
        let mailbox = dir.join("mailbox.jsonl");
        let log = std::fs::File::create(dir.join(format!("smtpd-{port}.log"))).expect("log");
        let child = Command::new("python3")
            .arg(&script)
            .args([
                &port.to_string(),
                cert.to_str().expect("utf8"),
                key.to_str().expect("utf8"),
            ])
            .arg(&mailbox)
            .args([user, password])
            .stdout(log.try_clone().expect("clone"))
            .stderr(log)
            .spawn()
            .expect("python3");
        let up = super::wait_until(Duration::from_secs(20), || super::port_open(port));
        assert!(up, "aiosmtpd did not listen on {port}");
        Smtpd { child, mailbox }
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.mailbox)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
