//! A tiny portable sha256d brute-force "engine" for integration tests.
//!
//! What it is for: standing in for the hashward miner engine — it consumes `PoolEvent`s,
//! mines the latest job on one thread with a plain SHA-256d loop (rate-limited), and submits
//! shares through the client handle, optionally rolling version bits.
//! What it must never do: use the client's own hash check (it has its own), or run after
//! `stop()` / drop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hashward_agent::miner::stratum::{
    ClientConfig, MiningJob, PoolConfig, PoolEvent, Share, ShareOutcome, StratumHandle, Target, DIFF1_SHA256D,
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

pub fn dsha(data: &[u8]) -> [u8; 32] {
    let once = Sha256::digest(data);
    Sha256::digest(once).into()
}

/// LE(hash) <= target, written independently of the client.
pub fn meets(hash: &[u8; 32], target: &Target) -> bool {
    let mut h = *hash;
    let mut t = target.0;
    h.reverse();
    t.reverse();
    h <= t
}

/// Scan nonces of one extranonce2 for a share; returns the share and its hash.
pub fn find_share(job: &MiningJob, version_bits: Option<u32>, want_valid: bool) -> Option<Share> {
    let en2 = job.next_extranonce2();
    let work = match version_bits {
        Some(b) => job.work_for_rolled(en2, job.ntime, b),
        None => job.work_for(en2, job.ntime),
    };
    let mut header = work.header;
    for nonce in 0u32..1_000_000 {
        header[76..80].copy_from_slice(&nonce.to_le_bytes());
        if meets(&dsha(&header), &work.target) == want_valid {
            return Some(job.share(en2, job.ntime, nonce, version_bits));
        }
    }
    None
}

pub fn test_config(urls: &[String]) -> ClientConfig {
    let pools = urls
        .iter()
        .enumerate()
        .map(|(i, u)| PoolConfig {
            url: u.clone(),
            user: format!("tester.{i}"),
            password: "x".into(),
        })
        .collect();
    let mut cfg = ClientConfig::new(pools, DIFF1_SHA256D);
    cfg.connect_timeout = Duration::from_secs(2);
    cfg.handshake_timeout = Duration::from_secs(3);
    cfg.backoff.min = Duration::from_millis(50);
    cfg.backoff.max = Duration::from_millis(400);
    cfg.submit_timeout = Duration::from_secs(5);
    cfg
}

/// Everything the client told the engine, in order.
#[derive(Default)]
pub struct Recorded {
    pub events: Vec<PoolEvent>,
}

impl Recorded {
    pub fn connected_pools(&self) -> Vec<usize> {
        self.events
            .iter()
            .filter_map(|e| match e {
                PoolEvent::Connected { pool, .. } => Some(*pool),
                _ => None,
            })
            .collect()
    }
    pub fn disconnects(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, PoolEvent::Disconnected { .. }))
            .count()
    }
    pub fn outcomes(&self) -> Vec<ShareOutcome> {
        self.events
            .iter()
            .filter_map(|e| match e {
                PoolEvent::ShareResult(r) => Some(r.outcome.clone()),
                _ => None,
            })
            .collect()
    }
    pub fn jobs(&self) -> Vec<Arc<MiningJob>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                PoolEvent::NewJob(j) => Some(j.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Pumps events into `Recorded` and keeps the latest job for the mining thread.
pub struct Harness {
    pub handle: StratumHandle,
    pub recorded: Arc<Mutex<Recorded>>,
    pub latest: Arc<Mutex<Option<Arc<MiningJob>>>>,
    pump: tokio::task::JoinHandle<()>,
    client: tokio::task::JoinHandle<()>,
}

impl Harness {
    pub fn start(cfg: ClientConfig) -> Harness {
        let c = hashward_agent::miner::stratum::spawn(cfg).expect("valid config");
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let latest: Arc<Mutex<Option<Arc<MiningJob>>>> = Arc::new(Mutex::new(None));
        let (r, l) = (recorded.clone(), latest.clone());
        let mut events: mpsc::UnboundedReceiver<PoolEvent> = c.events;
        let pump = tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                match &ev {
                    PoolEvent::NewJob(j) => *l.lock().expect("lock") = Some(j.clone()),
                    PoolEvent::Disconnected { .. } => *l.lock().expect("lock") = None,
                    _ => {}
                }
                r.lock().expect("lock").events.push(ev);
            }
        });
        Harness {
            handle: c.handle,
            recorded,
            latest,
            pump,
            client: c.task,
        }
    }

    pub fn latest_job(&self) -> Option<Arc<MiningJob>> {
        self.latest.lock().expect("lock").clone()
    }

    pub fn with<R>(&self, f: impl FnOnce(&Recorded) -> R) -> R {
        f(&self.recorded.lock().expect("lock"))
    }

    /// Wait until `pred` holds on the recorded events, or panic.
    pub async fn wait_until(&self, what: &str, timeout: Duration, pred: impl Fn(&Recorded) -> bool) {
        let until = Instant::now() + timeout;
        loop {
            if self.with(&pred) {
                return;
            }
            if Instant::now() > until {
                let stats = self.handle.stats();
                panic!("timed out waiting for {what}; stats {stats:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Wait for a job satisfying `pred` and return it.
    pub async fn wait_job(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&MiningJob) -> bool,
    ) -> Arc<MiningJob> {
        self.wait_until(what, timeout, |r| r.jobs().iter().any(|j| pred(j)))
            .await;
        self.with(|r| r.jobs().into_iter().rev().find(|j| pred(j)))
            .expect("job present")
    }

    pub async fn stop(self) {
        self.handle.shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client).await;
        self.pump.abort();
    }
}

/// A mining thread: mines the latest job, submits shares, rate-limited.
pub struct Miner {
    stop: Arc<AtomicBool>,
    pub found: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Miner {
    pub fn start(h: &Harness, roll_version: bool) -> Miner {
        let stop = Arc::new(AtomicBool::new(false));
        let found = Arc::new(AtomicU64::new(0));
        let (s, f, latest, handle) = (stop.clone(), found.clone(), h.latest.clone(), h.handle.clone());
        let thread = std::thread::spawn(move || {
            let mut roll = 0u32;
            while !s.load(Ordering::Relaxed) {
                let job = latest.lock().expect("lock").clone();
                let Some(job) = job else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let bits = match (roll_version, job.version_mask) {
                    (true, Some(mask)) => {
                        roll = roll.wrapping_add(0x2000);
                        Some(roll & mask)
                    }
                    _ => None,
                };
                if let Some(share) = find_share(&job, bits, true) {
                    if handle.submit(share).is_err() {
                        return;
                    }
                    f.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(8));
            }
        });
        Miner {
            stop,
            found,
            thread: Some(thread),
        }
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Miner {
    fn drop(&mut self) {
        self.stop();
    }
}
