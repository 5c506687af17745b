//! A test Stratum v1 pool server (sha256d) for integration tests.
//!
//! What it is for: speaking real Stratum v1 over TCP (optionally TLS) on 127.0.0.1 —
//! `mining.configure` (BIP310 version rolling), `mining.subscribe`, `mining.authorize`,
//! `mining.notify` with random coinbase parts and non-empty merkle branches,
//! `mining.set_difficulty` changes, `clean_jobs` — and verifying every submitted share with its
//! own header construction and its own double SHA-256, answering with the Stratum error codes
//! (21 stale/unknown job, 22 duplicate, 23 low difficulty, 24 unauthorized, 25 not
//! subscribed, 20 other). Tests can make it issue jobs, change difficulty, disconnect clients,
//! send raw lines, forget jobs, or die.
//! What it must never do: share code with the client under test (it is an independent
//! implementation), listen anywhere but loopback, or run unbounded (it stops with its
//! `TestPool` or when killed).

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Options of a test pool.
#[derive(Clone)]
pub struct PoolOptions {
    /// A share is valid with probability ~ 2^-share_bits per hash (difficulty 2^(share_bits-32)).
    pub share_bits: u32,
    pub extranonce2_size: usize,
    /// Mask granted to clients that ask for version rolling; `None` refuses configure.
    pub version_mask: Option<u32>,
    /// Issue a new job this often (None: only when told).
    pub job_interval: Option<Duration>,
    /// Every n-th automatic job has clean_jobs = true (0: never).
    pub clean_every: u32,
    /// share_bits values cycled through, one step every `diff_every` automatic jobs
    /// (each change is a set_difficulty followed by a new job).
    pub diff_cycle: Vec<u32>,
    pub diff_every: u32,
    /// Shares for a cleaned job that arrive within this time after the clean notify was sent
    /// are in-flight races, not client bugs; they are still verified and accepted.
    pub stale_grace: Duration,
    /// Workers whose authorization is refused.
    pub refuse_users: Vec<String>,
    /// Serve TLS with this config.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            share_bits: 6,
            extranonce2_size: 4,
            version_mask: Some(0x1fff_e000),
            job_interval: None,
            clean_every: 0,
            diff_cycle: Vec::new(),
            diff_every: 1,
            stale_grace: Duration::from_millis(250),
            refuse_users: Vec::new(),
            tls: None,
        }
    }
}

/// What the pool saw.
#[derive(Debug, Clone, Default)]
pub struct PoolCounters {
    pub connections_total: u64,
    pub connections_open: u64,
    pub configure_requests: u64,
    pub subscribes: u64,
    pub authorized: u64,
    pub accepted: u64,
    /// Rejections by Stratum error code.
    pub rejected: HashMap<i64, u64>,
    /// Shares for a job that was cleaned more than `stale_grace` before they arrived: the
    /// client should have dropped them.
    pub cleaned_job_submissions: u64,
    /// Shares for cleaned jobs that arrived within the grace period (in-flight race).
    pub grace_submissions: u64,
    /// Accepted shares that used rolled version bits.
    pub rolled_accepted: u64,
    pub jobs_issued: u64,
    pub invalid_lines: u64,
}

impl PoolCounters {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
    pub fn rejected_code(&self, code: i64) -> u64 {
        self.rejected.get(&code).copied().unwrap_or(0)
    }
}

struct JobRec {
    coinb1: Vec<u8>,
    coinb2: Vec<u8>,
    branch: Vec<[u8; 32]>,
    /// Previous block hash in header byte order.
    prev_internal: [u8; 32],
    version: u32,
    nbits: u32,
    ntime: u32,
    share_bits: u32,
    cleaned_at: Option<Instant>,
}

enum Out {
    Line(String),
    /// Switch the connection to a new extranonce1 and tell the client (mining.set_extranonce).
    SetExtranonce(Vec<u8>),
    Close,
}

struct Conn {
    tx: mpsc::UnboundedSender<Out>,
    ready: bool,
    task: Option<JoinHandle<()>>,
}

struct State {
    opts: PoolOptions,
    jobs: HashMap<String, JobRec>,
    job_order: Vec<String>,
    next_job: u64,
    auto_jobs: u64,
    share_bits: u32,
    diff_index: usize,
    conns: HashMap<u64, Conn>,
    next_conn: u64,
    counters: PoolCounters,
}

type Shared = Arc<Mutex<State>>;

fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn dsha(data: &[u8]) -> [u8; 32] {
    let once = Sha256::digest(data);
    let twice = Sha256::digest(once);
    let mut out = [0u8; 32];
    out.copy_from_slice(&twice);
    out
}

/// Big-endian 256-bit target 0xFFFF * 2^(240 - share_bits).
fn target_be(share_bits: u32) -> [u8; 32] {
    let mut t = [0u8; 32];
    let shift = 240 - share_bits;
    for i in 0..16u32 {
        let bit = shift + i;
        t[31 - (bit / 8) as usize] |= 1 << (bit % 8);
    }
    t
}

fn difficulty(share_bits: u32) -> f64 {
    2f64.powi(share_bits as i32 - 32)
}

fn now_secs() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

fn notify_line(id: &str, j: &JobRec, clean: bool) -> String {
    // Stratum sends the previous hash with every 4-byte word byte-swapped.
    let mut prev_stratum = [0u8; 32];
    for w in 0..8 {
        for b in 0..4 {
            prev_stratum[w * 4 + b] = j.prev_internal[w * 4 + 3 - b];
        }
    }
    let branch: Vec<String> = j.branch.iter().map(hex::encode).collect();
    let v = json!({
        "id": null,
        "method": "mining.notify",
        "params": [
            id,
            hex::encode(prev_stratum),
            hex::encode(&j.coinb1),
            hex::encode(&j.coinb2),
            branch,
            format!("{:08x}", j.version),
            format!("{:08x}", j.nbits),
            format!("{:08x}", j.ntime),
            clean,
        ]
    });
    format!("{v}\n")
}

fn set_difficulty_line(share_bits: u32) -> String {
    format!(
        "{}\n",
        json!({"id": null, "method": "mining.set_difficulty", "params": [difficulty(share_bits)]})
    )
}

impl State {
    fn make_job(&mut self) -> String {
        let mut rng = rand::thread_rng();
        let id = format!("{:x}", 0x1000 + self.next_job);
        self.next_job += 1;
        let c1: usize = rng.gen_range(30..80);
        let c2: usize = rng.gen_range(20..100);
        let nb: usize = rng.gen_range(1..=5);
        let rec = JobRec {
            coinb1: (0..c1).map(|_| rng.gen()).collect(),
            coinb2: (0..c2).map(|_| rng.gen()).collect(),
            branch: (0..nb).map(|_| rng.gen()).collect(),
            prev_internal: rng.gen(),
            version: 0x2000_0000,
            nbits: 0x1d00_ffff,
            ntime: now_secs(),
            share_bits: self.share_bits,
            cleaned_at: None,
        };
        self.jobs.insert(id.clone(), rec);
        self.job_order.push(id.clone());
        if self.job_order.len() > 64 {
            let old = self.job_order.remove(0);
            self.jobs.remove(&old);
        }
        self.counters.jobs_issued += 1;
        id
    }

    /// Issue a new job to every ready connection, preceded by set_difficulty if asked.
    fn issue(&mut self, clean: bool, send_difficulty: bool) -> String {
        if clean {
            let now = Instant::now();
            for j in self.jobs.values_mut() {
                j.cleaned_at.get_or_insert(now);
            }
        }
        let id = self.make_job();
        let mut text = String::new();
        if send_difficulty {
            text.push_str(&set_difficulty_line(self.share_bits));
        }
        if let Some(j) = self.jobs.get(&id) {
            text.push_str(&notify_line(&id, j, clean));
        }
        for c in self.conns.values() {
            if c.ready {
                let _ = c.tx.send(Out::Line(text.clone()));
            }
        }
        id
    }

    fn reject(&mut self, code: i64) {
        *self.counters.rejected.entry(code).or_insert(0) += 1;
    }
}

/// A running test pool.
pub struct TestPool {
    addr: SocketAddr,
    state: Shared,
    listener: JoinHandle<()>,
    jobs: Option<JoinHandle<()>>,
}

impl TestPool {
    pub async fn start(opts: PoolOptions) -> TestPool {
        Self::start_on("127.0.0.1:0".parse().expect("loopback"), opts).await
    }

    /// Start on a given loopback address (e.g. to restart a killed pool on its old port).
    pub async fn start_on(addr: SocketAddr, opts: PoolOptions) -> TestPool {
        let listener = TcpListener::bind(addr).await.expect("bind test pool");
        let addr = listener.local_addr().expect("local addr");
        let share_bits = opts.diff_cycle.first().copied().unwrap_or(opts.share_bits);
        let job_interval = opts.job_interval;
        let state = Arc::new(Mutex::new(State {
            opts,
            jobs: HashMap::new(),
            job_order: Vec::new(),
            next_job: 0,
            auto_jobs: 0,
            share_bits,
            diff_index: 0,
            conns: HashMap::new(),
            next_conn: 0,
            counters: PoolCounters::default(),
        }));
        lock(&state).issue(true, false);
        let st = state.clone();
        let listener = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let _ = tcp.set_nodelay(true);
                let tls = lock(&st).opts.tls.clone();
                let st2 = st.clone();
                let (tx, rx) = mpsc::unbounded_channel();
                let id = {
                    let mut s = lock(&st);
                    let id = s.next_conn;
                    s.next_conn += 1;
                    s.counters.connections_total += 1;
                    s.counters.connections_open += 1;
                    s.conns.insert(
                        id,
                        Conn {
                            tx,
                            ready: false,
                            task: None,
                        },
                    );
                    id
                };
                let task = tokio::spawn(async move {
                    match tls {
                        Some(cfg) => {
                            let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
                            if let Ok(Ok(stream)) =
                                tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await
                            {
                                serve(stream, id, st2.clone(), rx).await;
                            }
                        }
                        None => serve(tcp, id, st2.clone(), rx).await,
                    }
                    let mut s = lock(&st2);
                    if s.conns.remove(&id).is_some() {
                        s.counters.connections_open -= 1;
                    }
                });
                if let Some(c) = lock(&st).conns.get_mut(&id) {
                    c.task = Some(task);
                }
            }
        });
        let jobs = job_interval.map(|every| {
            let st = state.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let mut s = lock(&st);
                    s.auto_jobs += 1;
                    let n = s.auto_jobs;
                    let clean = s.opts.clean_every > 0 && n.is_multiple_of(u64::from(s.opts.clean_every));
                    let mut send_diff = false;
                    if !s.opts.diff_cycle.is_empty() && n.is_multiple_of(u64::from(s.opts.diff_every.max(1)))
                    {
                        s.diff_index = (s.diff_index + 1) % s.opts.diff_cycle.len();
                        let bits = s.opts.diff_cycle[s.diff_index];
                        send_diff = bits != s.share_bits;
                        s.share_bits = bits;
                    }
                    s.issue(clean, send_diff);
                }
            })
        });
        TestPool {
            addr,
            state,
            listener,
            jobs,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("stratum+tcp://{}", self.addr)
    }

    pub fn counters(&self) -> PoolCounters {
        lock(&self.state).counters.clone()
    }

    /// Issue a new job to all clients; returns its id.
    pub fn new_job(&self, clean: bool) -> String {
        lock(&self.state).issue(clean, false)
    }

    /// Change the share difficulty (set_difficulty followed by a new, non-clean job).
    pub fn set_share_bits(&self, bits: u32) -> String {
        let mut s = lock(&self.state);
        s.share_bits = bits;
        s.issue(false, true)
    }

    /// Send a raw line (a newline is added) to every ready client.
    pub fn send_raw(&self, line: &str) {
        let s = lock(&self.state);
        for c in s.conns.values() {
            if c.ready {
                let _ = c.tx.send(Out::Line(format!("{line}\n")));
            }
        }
    }

    /// Give every ready client a new extranonce1 (`mining.set_extranonce`); shares are then
    /// checked against the new one.
    pub fn set_extranonce(&self, extranonce1: &[u8]) {
        let s = lock(&self.state);
        for c in s.conns.values() {
            if c.ready {
                let _ = c.tx.send(Out::SetExtranonce(extranonce1.to_vec()));
            }
        }
    }

    /// Forget every job without telling clients (their shares then get error 21).
    pub fn forget_jobs(&self) {
        let mut s = lock(&self.state);
        s.jobs.clear();
        s.job_order.clear();
    }

    /// Close every client connection (the pool keeps listening).
    pub fn disconnect_all(&self) {
        let s = lock(&self.state);
        for c in s.conns.values() {
            let _ = c.tx.send(Out::Close);
        }
    }

    /// Stop listening and drop every connection at once.
    pub fn kill(&self) {
        self.listener.abort();
        if let Some(j) = &self.jobs {
            j.abort();
        }
        let mut s = lock(&self.state);
        for (_, c) in s.conns.drain() {
            if let Some(t) = c.task {
                t.abort();
            }
        }
        s.counters.connections_open = 0;
    }

    /// Wait until `pred` holds for the counters, or panic after `timeout`.
    pub async fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&PoolCounters) -> bool) {
        let until = Instant::now() + timeout;
        loop {
            let c = self.counters();
            if pred(&c) {
                return;
            }
            assert!(Instant::now() < until, "timed out waiting for {what}: {c:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestPool {
    fn drop(&mut self) {
        self.kill();
    }
}

fn reply(tx: &mpsc::UnboundedSender<Out>, id: &Value, result: Value, error: Option<(i64, &str)>) {
    let error = error.map_or(Value::Null, |(c, m)| json!([c, m, null]));
    let _ = tx.send(Out::Line(format!(
        "{}\n",
        json!({"id": id, "result": result, "error": error})
    )));
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    conn: u64,
    st: Shared,
    mut rx: mpsc::UnboundedReceiver<Out>,
) {
    let (rd, mut wr) = tokio::io::split(stream);
    let mut lines = BufReader::new(rd).lines();
    let Some(tx) = lock(&st).conns.get(&conn).map(|c| c.tx.clone()) else {
        return;
    };
    let mut en1 = (0x0100_0000u32 + conn as u32).to_be_bytes().to_vec();
    let mut subscribed = false;
    let mut workers: HashSet<String> = HashSet::new();
    let mut mask: Option<u32> = None;
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Ok(Some(line)) = line else { return };
                let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                    lock(&st).counters.invalid_lines += 1;
                    continue;
                };
                let id = msg.get("id").cloned().unwrap_or(Value::Null);
                let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
                let params = msg.get("params").and_then(Value::as_array).cloned().unwrap_or_default();
                match method {
                    "mining.configure" => {
                        let mut s = lock(&st);
                        s.counters.configure_requests += 1;
                        let asked = params.first().and_then(Value::as_array)
                            .is_some_and(|a| a.iter().any(|x| x == "version-rolling"));
                        match (asked, s.opts.version_mask) {
                            (true, Some(m)) => {
                                let req = params.get(1)
                                    .and_then(|o| o.get("version-rolling.mask"))
                                    .and_then(Value::as_str)
                                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                                    .unwrap_or(u32::MAX);
                                mask = Some(m & req);
                                reply(&tx, &id, json!({"version-rolling": true, "version-rolling.mask": format!("{:08x}", m & req)}), None);
                            }
                            _ => reply(&tx, &id, json!({"version-rolling": false}), None),
                        }
                    }
                    "mining.subscribe" => {
                        subscribed = true;
                        let mut s = lock(&st);
                        s.counters.subscribes += 1;
                        let size = s.opts.extranonce2_size;
                        reply(&tx, &id, json!([[["mining.notify", "ae68"], ["mining.set_difficulty", "b4b6"]], hex::encode(&en1), size]), None);
                    }
                    "mining.authorize" => {
                        let user = params.first().and_then(Value::as_str).unwrap_or("").to_string();
                        let mut s = lock(&st);
                        if s.opts.refuse_users.contains(&user) {
                            reply(&tx, &id, Value::Bool(false), Some((24, "Unauthorized worker")));
                            continue;
                        }
                        workers.insert(user);
                        s.counters.authorized += 1;
                        reply(&tx, &id, Value::Bool(true), None);
                        if subscribed {
                            let first_ready = s.conns.get(&conn).is_some_and(|c| !c.ready);
                            if first_ready {
                                let mut text = set_difficulty_line(s.share_bits);
                                if let Some(last) = s.job_order.last() {
                                    if let Some(j) = s.jobs.get(last) {
                                        text.push_str(&notify_line(last, j, true));
                                    }
                                }
                                let _ = tx.send(Out::Line(text));
                                if let Some(c) = s.conns.get_mut(&conn) {
                                    c.ready = true;
                                }
                            }
                        }
                    }
                    "mining.extranonce.subscribe" => reply(&tx, &id, Value::Bool(true), None),
                    "mining.submit" => {
                        let mut s = lock(&st);
                        let (result, err) = check_submit(&mut s, &params, subscribed, &workers, mask, &en1, &mut seen);
                        match err {
                            None => {
                                s.counters.accepted += 1;
                                reply(&tx, &id, result, None);
                            }
                            Some((code, msg)) => {
                                s.reject(code);
                                reply(&tx, &id, Value::Null, Some((code, msg)));
                            }
                        }
                    }
                    _ => {
                        lock(&st).counters.invalid_lines += 1;
                        reply(&tx, &id, Value::Null, Some((20, "Unknown method")));
                    }
                }
            }
            out = rx.recv() => match out {
                Some(Out::Line(text)) => {
                    if wr.write_all(text.as_bytes()).await.is_err() || wr.flush().await.is_err() {
                        return;
                    }
                }
                Some(Out::SetExtranonce(new)) => {
                    let size = lock(&st).opts.extranonce2_size;
                    let line = format!(
                        "{}\n",
                        json!({"id": null, "method": "mining.set_extranonce", "params": [hex::encode(&new), size]})
                    );
                    en1 = new;
                    if wr.write_all(line.as_bytes()).await.is_err() || wr.flush().await.is_err() {
                        return;
                    }
                }
                Some(Out::Close) | None => {
                    let _ = wr.shutdown().await;
                    return;
                }
            },
        }
    }
}

fn hex_u32(v: Option<&Value>) -> Option<u32> {
    let s = v?.as_str()?;
    if s.len() != 8 {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Verify one `mining.submit` with the pool's own header construction.
fn check_submit(
    s: &mut State,
    params: &[Value],
    subscribed: bool,
    workers: &HashSet<String>,
    mask: Option<u32>,
    en1: &[u8],
    seen: &mut HashSet<String>,
) -> (Value, Option<(i64, &'static str)>) {
    if !subscribed {
        return (Value::Null, Some((25, "Not subscribed")));
    }
    let worker = params.first().and_then(Value::as_str).unwrap_or("");
    if !workers.contains(worker) {
        return (Value::Null, Some((24, "Unauthorized worker")));
    }
    let (Some(job_id), Some(en2_hex), Some(ntime), Some(nonce)) = (
        params.get(1).and_then(Value::as_str),
        params.get(2).and_then(Value::as_str),
        hex_u32(params.get(3)),
        hex_u32(params.get(4)),
    ) else {
        return (Value::Null, Some((20, "Malformed submit")));
    };
    let grace = s.opts.stale_grace;
    let en2_size = s.opts.extranonce2_size;
    let Some(job) = s.jobs.get(job_id) else {
        return (Value::Null, Some((21, "Job not found")));
    };
    let mut in_grace = false;
    if let Some(at) = job.cleaned_at {
        if at.elapsed() > grace {
            s.counters.cleaned_job_submissions += 1;
            return (Value::Null, Some((21, "Stale job (cleaned)")));
        }
        in_grace = true;
    }
    let Ok(en2) = hex::decode(en2_hex) else {
        return (Value::Null, Some((20, "Bad extranonce2")));
    };
    if en2.len() != en2_size {
        return (Value::Null, Some((20, "Wrong extranonce2 size")));
    }
    let mut version = job.version;
    let mut rolled = false;
    if let Some(v) = params.get(5) {
        let Some(bits) = hex_u32(Some(v)) else {
            return (Value::Null, Some((20, "Bad version bits")));
        };
        let Some(m) = mask else {
            return (Value::Null, Some((20, "Version rolling not negotiated")));
        };
        if bits & !m != 0 {
            return (Value::Null, Some((20, "Version bits outside mask")));
        }
        version = (job.version & !m) | bits;
        rolled = bits != 0;
    }
    let key = format!("{job_id}/{en2_hex}/{ntime:08x}/{nonce:08x}/{version:08x}");
    if seen.contains(&key) {
        return (Value::Null, Some((22, "Duplicate share")));
    }
    // Independent header construction.
    let mut coinbase = job.coinb1.clone();
    coinbase.extend_from_slice(en1);
    coinbase.extend_from_slice(&en2);
    coinbase.extend_from_slice(&job.coinb2);
    let mut root = dsha(&coinbase);
    for node in &job.branch {
        let mut cat = root.to_vec();
        cat.extend_from_slice(node);
        root = dsha(&cat);
    }
    let mut header = Vec::with_capacity(80);
    header.extend_from_slice(&version.to_le_bytes());
    header.extend_from_slice(&job.prev_internal);
    header.extend_from_slice(&root);
    header.extend_from_slice(&ntime.to_le_bytes());
    header.extend_from_slice(&job.nbits.to_le_bytes());
    header.extend_from_slice(&nonce.to_le_bytes());
    let mut hash_be = dsha(&header);
    hash_be.reverse();
    if hash_be > target_be(job.share_bits) {
        return (Value::Null, Some((23, "Low difficulty share")));
    }
    seen.insert(key);
    if in_grace {
        s.counters.grace_submissions += 1;
    }
    if rolled {
        s.counters.rolled_accepted += 1;
    }
    (Value::Bool(true), None)
}

#[cfg(test)]
mod self_tests {
    use super::*;

    #[test]
    fn pool_target_is_0xffff_shifted() {
        // share_bits 32 is difficulty 1: 0x00000000ffff0000...
        let t = target_be(32);
        assert_eq!(
            hex::encode(t),
            "00000000ffff0000000000000000000000000000000000000000000000000000"
        );
        assert_eq!(difficulty(32), 1.0);
        assert_eq!(difficulty(6), 1.0 / 67_108_864.0);
    }
}
