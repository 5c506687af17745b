//! The mining engine: hashing on dedicated OS threads (never tokio tasks), at a chosen
//! scheduling priority and optionally pinned to CPUs. Thread count and batch size change while
//! it runs without losing the job; pause and resume; per-thread counters that cost one relaxed
//! atomic add per batch; hashrate over 10 s / 60 s / 15 min.
//!
//! The engine mines whatever [`JobSource`] it was given last. A new job bumps a generation
//! counter, and every thread drops its current work within one batch. Hits are sent with the
//! generation they were found on, so the caller can drop shares for a job that was cleaned.
//!
//! Must never: block a hashing thread on I/O, report a hash that was not done, or keep mining
//! a job after a newer one was set.

pub mod meter;
pub mod os;

use crate::miner::hash::{self, Algo, KernelError};
use crate::miner::work::Work;
use hashward_protocol::Hashrate;
use meter::Meter;
pub use os::Priority;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// One unit of work and what identifies it for a share.
pub struct WorkUnit {
    pub work: Work,
    pub extranonce2: u64,
    pub ntime: u32,
}

/// Where threads get work from: a pool job hands out a fresh extranonce2 per call; the
/// benchmark hands out random headers.
pub trait JobSource: Send + Sync + 'static {
    fn next_work(&self) -> WorkUnit;
}

/// A nonce whose hash met the target.
pub struct Found<J> {
    pub job: Arc<J>,
    pub generation: u64,
    pub extranonce2: u64,
    pub ntime: u32,
    pub nonce: u32,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub algo: Algo,
    /// Kernel by name; `None` picks the fastest this CPU supports.
    pub kernel: Option<String>,
    pub threads: u32,
    /// SIMD blocks per kernel call (the tuner's `batch`): each block is the kernel's lane count
    /// of nonces, so the same figure means the same amount of work per call on every kernel.
    pub batch: u32,
    /// CPUs to pin threads to, thread i on `cpus[i % len]`; empty = no pinning.
    pub cpus: Vec<usize>,
    pub priority: Priority,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("starting a hashing thread: {0}")]
    Spawn(std::io::Error),
    #[error("{0} threads requested; allowed 1..={1}")]
    Threads(u32, u32),
}

/// Most threads accepted, whatever the host: a guard against a config typo, not a tuning bound.
pub const MAX_THREADS: u32 = 1024;

/// The default batch in SIMD blocks per call: enough work to amortise the call (a few
/// atomics), little enough that a new job or a pause is picked up within tens of microseconds.
/// Inside the default tuning bounds (1..=32, docs/ARCHITECTURE.md#thresholds-tuner), so the tuner
/// starts from a point it may keep.
pub fn default_batch(algo: Algo) -> u32 {
    match algo {
        Algo::Sha256d => 32,
        Algo::Scrypt => 2,
    }
}

#[repr(align(64))]
#[derive(Default)]
struct Counter(AtomicU64);

struct Current<J> {
    job: Arc<J>,
    generation: u64,
}

struct Shared<J> {
    current: RwLock<Option<Current<J>>>,
    generation: AtomicU64,
    /// Nonces per kernel call (blocks x lanes).
    batch: AtomicU32,
    paused: AtomicBool,
    /// Where thread i runs: `cpus[i % len]`, empty = anywhere. Threads re-pin themselves when
    /// `placement_gen` moves, so a NUMA plan change needs no restart.
    placement: RwLock<Vec<usize>>,
    placement_gen: AtomicU64,
    found: UnboundedSender<Found<J>>,
}

struct Worker {
    stop: Arc<AtomicBool>,
    counter: Arc<Counter>,
    handle: JoinHandle<()>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EngineStats {
    pub kernel: &'static str,
    pub threads: u32,
    pub batch: u32,
    pub paused: bool,
    pub total_hashes: u64,
    pub hashrate_10s: Hashrate,
    pub hashrate_60s: Hashrate,
    pub hashrate_15m: Hashrate,
    /// Per thread, over 10 s.
    pub per_thread_10s: Vec<Hashrate>,
    /// Hashing threads that ended in a panic since start.
    pub thread_panics: u64,
}

struct Meters {
    origin: Instant,
    total: Meter,
    per_thread: Vec<Meter>,
    /// Hashes of threads that were stopped, so the total never goes backwards.
    retired: u64,
}

pub struct Engine<J: JobSource> {
    cfg: EngineConfig,
    kernel: &'static str,
    lanes: u32,
    shared: Arc<Shared<J>>,
    /// Resized by `set_threads` while the engine is shared (thermal and power control).
    workers: Mutex<Vec<Worker>>,
    meters: Mutex<Meters>,
    /// Hashing threads that ended in a panic (seen when they are joined).
    thread_panics: AtomicU64,
}

impl<J: JobSource> Engine<J> {
    pub fn start(mut cfg: EngineConfig, found: UnboundedSender<Found<J>>) -> Result<Engine<J>, EngineError> {
        let probe = hash::select(cfg.algo, cfg.kernel.as_deref())?;
        let (kernel, lanes) = (probe.name(), probe.lanes().max(1));
        cfg.kernel = Some(kernel.to_string());
        let shared = Arc::new(Shared {
            current: RwLock::new(None),
            generation: AtomicU64::new(0),
            batch: AtomicU32::new(batch_nonces(cfg.batch, lanes)),
            paused: AtomicBool::new(false),
            placement: RwLock::new(cfg.cpus.clone()),
            placement_gen: AtomicU64::new(0),
            found,
        });
        let engine = Engine {
            cfg: cfg.clone(),
            kernel,
            lanes,
            shared,
            workers: Mutex::new(Vec::new()),
            meters: Mutex::new(Meters {
                origin: Instant::now(),
                total: Meter::default(),
                per_thread: Vec::new(),
                retired: 0,
            }),
            thread_panics: AtomicU64::new(0),
        };
        engine.set_threads(cfg.threads)?;
        log::info!(
            "miner: {} with {} thread(s), batch {}, priority {:?}{}",
            kernel,
            cfg.threads,
            engine.batch(),
            cfg.priority,
            if cfg.cpus.is_empty() {
                String::new()
            } else {
                format!(", pinned to {:?}", cfg.cpus)
            }
        );
        Ok(engine)
    }

    pub fn kernel(&self) -> &'static str {
        self.kernel
    }

    /// SIMD blocks per kernel call.
    pub fn batch(&self) -> u32 {
        self.shared.batch.load(Ordering::Relaxed) / self.lanes
    }

    /// Nonces each kernel call covers (one SIMD block is this many nonces).
    pub fn lanes(&self) -> u32 {
        self.lanes
    }

    /// The CPUs threads are pinned to (thread i on `cpus[i % len]`); empty = not pinned.
    pub fn cpus(&self) -> Vec<usize> {
        self.shared
            .placement
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Moves the threads onto `cpus` (empty = let the OS schedule them); running threads re-pin
    /// themselves within one batch.
    pub fn set_cpus(&self, cpus: Vec<usize>) {
        let mut placement = self.shared.placement.write().unwrap_or_else(|p| p.into_inner());
        if *placement != cpus {
            *placement = cpus;
            self.shared.placement_gen.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Whether the threads are hashing now: a job is set and mining is not paused. A hashrate
    /// measured while this was false says nothing about the configuration.
    pub fn is_hashing(&self) -> bool {
        !self.shared.paused.load(Ordering::Relaxed)
            && self
                .shared
                .current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .is_some()
    }

    pub fn threads(&self) -> u32 {
        self.workers().len() as u32
    }

    fn workers(&self) -> std::sync::MutexGuard<'_, Vec<Worker>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Mines `job` from now on; threads leave the previous job within one batch.
    pub fn set_job(&self, job: Arc<J>) -> u64 {
        let mut cur = self.shared.current.write().unwrap_or_else(|p| p.into_inner());
        let generation = self.shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
        *cur = Some(Current { job, generation });
        generation
    }

    /// Stops mining any job (e.g. the pool is gone) until the next `set_job`.
    pub fn clear_job(&self) {
        let mut cur = self.shared.current.write().unwrap_or_else(|p| p.into_inner());
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        *cur = None;
    }

    /// The generation of the job being mined; a share found on an older one is stale.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    pub fn set_paused(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::Relaxed);
    }

    /// Sets the SIMD blocks per kernel call (at least 1).
    pub fn set_batch(&self, blocks: u32) {
        self.shared
            .batch
            .store(batch_nonces(blocks, self.lanes), Ordering::Relaxed);
    }

    /// Grows or shrinks the thread pool; the job is kept.
    pub fn set_threads(&self, n: u32) -> Result<(), EngineError> {
        if n == 0 || n > MAX_THREADS {
            return Err(EngineError::Threads(n, MAX_THREADS));
        }
        let mut workers = self.workers();
        while workers.len() > n as usize {
            if let Some(w) = workers.pop() {
                w.stop.store(true, Ordering::Relaxed);
                let counted = w.counter.0.load(Ordering::Relaxed);
                self.join(workers.len(), w.handle);
                let mut m = self.meters.lock().unwrap_or_else(|p| p.into_inner());
                m.retired += counted;
                m.per_thread.truncate(workers.len());
            }
        }
        while workers.len() < n as usize {
            let index = workers.len();
            let mut scanner = hash::select(self.cfg.algo, Some(self.kernel))?;
            let stop = Arc::new(AtomicBool::new(false));
            let counter = Arc::new(Counter::default());
            let (shared, stop2, counter2) = (self.shared.clone(), stop.clone(), counter.clone());
            let priority = self.cfg.priority;
            let handle = std::thread::Builder::new()
                .name(format!("hash-{index}"))
                .spawn(move || {
                    if let Err(e) = os::set_priority(priority) {
                        log::warn!("hash-{index}: {e}");
                    }
                    work_loop(&shared, index, scanner.as_mut(), &stop2, &counter2);
                })
                .map_err(EngineError::Spawn)?;
            workers.push(Worker {
                stop,
                counter,
                handle,
            });
            self.meters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .per_thread
                .push(Meter::default());
        }
        Ok(())
    }

    /// Total hashes done since start, including threads that were stopped since.
    pub fn total_hashes(&self) -> u64 {
        let workers = self.workers();
        let m = self.meters.lock().unwrap_or_else(|p| p.into_inner());
        m.retired
            + workers
                .iter()
                .map(|w| w.counter.0.load(Ordering::Relaxed))
                .sum::<u64>()
    }

    /// Takes a sample for the hashrate windows; call about once a second.
    pub fn sample(&self) {
        let counts: Vec<u64> = self
            .workers()
            .iter()
            .map(|w| w.counter.0.load(Ordering::Relaxed))
            .collect();
        let mut m = self.meters.lock().unwrap_or_else(|p| p.into_inner());
        let t = m.origin.elapsed().as_secs_f64();
        let total = m.retired + counts.iter().sum::<u64>();
        m.total.push(t, total);
        for (meter, c) in m.per_thread.iter_mut().zip(counts) {
            meter.push(t, c);
        }
    }

    pub fn stats(&self) -> EngineStats {
        let total_hashes = self.total_hashes();
        let m = self.meters.lock().unwrap_or_else(|p| p.into_inner());
        let rate = |meter: &Meter, w: f64| meter.rate(w).unwrap_or(Hashrate::ZERO);
        EngineStats {
            kernel: self.kernel,
            threads: self.threads(),
            batch: self.batch(),
            paused: self.shared.paused.load(Ordering::Relaxed),
            total_hashes,
            hashrate_10s: rate(&m.total, 10.0),
            hashrate_60s: rate(&m.total, 60.0),
            hashrate_15m: rate(&m.total, 900.0),
            per_thread_10s: m.per_thread.iter().map(|p| rate(p, 10.0)).collect(),
            thread_panics: self.thread_panics.load(Ordering::Relaxed),
        }
    }

    /// Waits for a stopped hashing thread; a panic in it is logged and counted, not discarded.
    fn join(&self, index: usize, handle: JoinHandle<()>) {
        if let Err(payload) = handle.join() {
            self.thread_panics.fetch_add(1, Ordering::Relaxed);
            log::error!(
                "miner: hashing thread hash-{index} panicked: {}",
                panic_message(payload.as_ref())
            );
        }
    }
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

impl<J: JobSource> Drop for Engine<J> {
    fn drop(&mut self) {
        let mut workers = self.workers();
        for w in workers.iter() {
            w.stop.store(true, Ordering::Relaxed);
        }
        for (index, w) in workers.drain(..).enumerate() {
            self.join(index, w.handle);
        }
    }
}

fn batch_nonces(blocks: u32, lanes: u32) -> u32 {
    blocks.max(1).saturating_mul(lanes.max(1))
}

/// Pins the calling hashing thread where the current placement says (or unpins it).
fn place(shared_placement: &RwLock<Vec<usize>>, index: usize) {
    let cpu = {
        let cpus = shared_placement.read().unwrap_or_else(|p| p.into_inner());
        (!cpus.is_empty()).then(|| cpus[index % cpus.len()])
    };
    let result = match cpu {
        Some(cpu) => os::pin_to_cpu(cpu),
        None => os::unpin(),
    };
    if let Err(e) = result {
        log::warn!("hash-{index}: {e}");
    }
}

fn work_loop<J: JobSource>(
    shared: &Shared<J>,
    index: usize,
    scanner: &mut dyn crate::miner::work::Scanner,
    stop: &AtomicBool,
    counter: &Counter,
) {
    let idle = Duration::from_millis(20);
    let mut hits = Vec::new();
    let mut placed = shared.placement_gen.load(Ordering::Acquire);
    if !shared
        .placement
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .is_empty()
    {
        place(&shared.placement, index);
    }
    while !stop.load(Ordering::Relaxed) {
        let gen = shared.placement_gen.load(Ordering::Acquire);
        if gen != placed {
            placed = gen;
            place(&shared.placement, index);
        }
        if shared.paused.load(Ordering::Relaxed) {
            std::thread::sleep(idle);
            continue;
        }
        let current = {
            let cur = shared.current.read().unwrap_or_else(|p| p.into_inner());
            cur.as_ref().map(|c| (c.job.clone(), c.generation))
        };
        let Some((job, generation)) = current else {
            std::thread::sleep(idle);
            continue;
        };
        let unit = job.next_work();
        scanner.set_work(&unit.work);
        // The range ends one short of 2^32 so `start + count` never overflows in a kernel.
        let mut nonce: u64 = 0;
        while nonce < u64::from(u32::MAX) {
            if stop.load(Ordering::Relaxed)
                || shared.paused.load(Ordering::Relaxed)
                || shared.generation.load(Ordering::Relaxed) != generation
                || shared.placement_gen.load(Ordering::Relaxed) != placed
            {
                break;
            }
            let batch = u64::from(shared.batch.load(Ordering::Relaxed));
            let count = batch.min(u64::from(u32::MAX) - nonce) as u32;
            let done = scanner.scan(nonce as u32, count, &mut hits);
            counter.0.fetch_add(done, Ordering::Relaxed);
            for n in hits.drain(..) {
                let found = Found {
                    job: job.clone(),
                    generation,
                    extranonce2: unit.extranonce2,
                    ntime: unit.ntime,
                    nonce: n,
                };
                if shared.found.send(found).is_err() {
                    return; // nobody listens any more: the engine is being torn down
                }
            }
            nonce += u64::from(count);
        }
    }
}

#[cfg(test)]
mod tests;
