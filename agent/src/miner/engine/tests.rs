use super::*;
use crate::miner::bench::BenchJob;
use crate::miner::hash::scrypt::scrypt_1024_1_1_256;
use crate::miner::work::Target;
use tokio::sync::mpsc::unbounded_channel;

fn cfg(threads: u32) -> EngineConfig {
    EngineConfig {
        algo: Algo::Scrypt,
        kernel: None,
        threads,
        batch: 16,
        cpus: vec![],
        priority: Priority::Normal,
    }
}

fn wait_for(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A job whose target accepts about one hash in 16, over a fixed header.
struct EasyJob {
    header: [u8; 80],
    en2: AtomicU64,
}

impl JobSource for EasyJob {
    fn next_work(&self) -> WorkUnit {
        let en2 = self.en2.fetch_add(1, Ordering::Relaxed);
        let mut header = self.header;
        header[..8].copy_from_slice(&en2.to_le_bytes());
        let mut target = [0xff; 32];
        target[31] = 0x0f;
        WorkUnit {
            work: Work {
                header,
                target: Target(target),
            },
            extranonce2: en2,
            ntime: 7,
        }
    }
}

#[test]
fn counts_hashes_and_resizes_without_losing_count() {
    let (tx, _rx) = unbounded_channel();
    let e: Engine<BenchJob> = Engine::start(cfg(2), tx).expect("engine");
    e.set_job(Arc::new(BenchJob::default()));
    assert!(wait_for(|| e.total_hashes() > 100));
    e.set_threads(1).expect("shrink");
    let after_shrink = e.total_hashes();
    e.set_threads(3).expect("grow");
    assert_eq!(e.threads(), 3);
    assert!(wait_for(|| e.total_hashes() > after_shrink + 100));
    assert!(e.total_hashes() >= after_shrink, "the total never goes backwards");
    assert!(e.set_threads(0).is_err());
    e.set_batch(17);
    assert_eq!(e.batch(), 17, "batch is in SIMD blocks");
    e.set_batch(0);
    assert_eq!(e.batch(), 1, "at least one block per call");
}

#[test]
fn found_nonces_are_real_and_carry_their_job() {
    let (tx, mut rx) = unbounded_channel();
    let e: Engine<EasyJob> = Engine::start(cfg(2), tx).expect("engine");
    let job = Arc::new(EasyJob {
        header: [3; 80],
        en2: AtomicU64::new(0),
    });
    let generation = e.set_job(job.clone());
    let mut checked = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while checked < 20 && Instant::now() < deadline {
        let Ok(f) = rx.try_recv() else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        assert_eq!(f.generation, generation);
        assert_eq!(f.ntime, 7);
        let mut header = job.header;
        header[..8].copy_from_slice(&f.extranonce2.to_le_bytes());
        header[76..80].copy_from_slice(&f.nonce.to_le_bytes());
        let hash = scrypt_1024_1_1_256(&header);
        assert!(hash[31] <= 0x0f, "nonce {} does not meet the target", f.nonce);
        checked += 1;
    }
    assert_eq!(checked, 20, "too few shares found");
}

#[test]
fn a_new_job_replaces_the_old_one_and_pause_stops_hashing() {
    let (tx, mut rx) = unbounded_channel();
    let e: Engine<EasyJob> = Engine::start(cfg(2), tx).expect("engine");
    let old = e.set_job(Arc::new(EasyJob {
        header: [1; 80],
        en2: AtomicU64::new(0),
    }));
    assert!(wait_for(|| rx.try_recv().is_ok()));
    let new = e.set_job(Arc::new(EasyJob {
        header: [2; 80],
        en2: AtomicU64::new(0),
    }));
    assert!(new > old);
    // Within a few batches only the new generation is produced.
    std::thread::sleep(Duration::from_millis(200));
    while rx.try_recv().is_ok() {}
    let mut seen = 0;
    assert!(wait_for(|| {
        while let Ok(f) = rx.try_recv() {
            assert_eq!(f.generation, new, "share from a replaced job");
            seen += 1;
        }
        seen >= 5
    }));

    e.set_paused(true);
    std::thread::sleep(Duration::from_millis(200));
    let paused_at = e.total_hashes();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(e.total_hashes(), paused_at, "hashing while paused");
    assert!(e.stats().paused);
    e.set_paused(false);
    assert!(wait_for(|| e.total_hashes() > paused_at));
}

#[test]
fn hashrate_windows_fill_from_samples() {
    let (tx, _rx) = unbounded_channel();
    let e: Engine<BenchJob> = Engine::start(cfg(1), tx).expect("engine");
    e.set_job(Arc::new(BenchJob::default()));
    e.sample();
    std::thread::sleep(Duration::from_millis(500));
    e.sample();
    let s = e.stats();
    assert!(s.hashrate_10s.0 > 0.0);
    assert_eq!(s.per_thread_10s.len(), 1);
    assert_eq!(s.kernel, e.kernel());
}

#[test]
fn threads_follow_a_new_placement() {
    let (tx, _rx) = unbounded_channel();
    let e: Engine<BenchJob> = Engine::start(cfg(2), tx).expect("engine");
    e.set_job(Arc::new(BenchJob::default()));
    assert!(e.is_hashing());
    e.set_cpus(vec![0]);
    assert_eq!(e.cpus(), vec![0]);
    // Every thread re-pins itself within a batch; read the affinity from procfs.
    let pinned = || {
        std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
            .filter(|s| s.contains("Name:\thash-"))
            .filter(|s| {
                s.lines()
                    .any(|l| l.starts_with("Cpus_allowed_list:") && l.ends_with("\t0"))
            })
            .count()
    };
    assert!(wait_for(|| pinned() == 2), "both threads pinned to cpu 0");
    e.set_cpus(Vec::new());
    assert!(wait_for(|| pinned() == 0), "threads unpinned again");
    e.set_paused(true);
    assert!(!e.is_hashing());
}

/// A job whose work cannot be produced: the hashing thread that asks for it panics.
struct PanickingJob;

impl JobSource for PanickingJob {
    fn next_work(&self) -> WorkUnit {
        panic!("no work for this job");
    }
}

#[test]
fn a_panicking_thread_is_counted_when_joined() {
    let (tx, _rx) = unbounded_channel();
    let e: Engine<PanickingJob> = Engine::start(cfg(2), tx).expect("engine");
    assert_eq!(e.stats().thread_panics, 0);
    e.set_job(Arc::new(PanickingJob));
    assert!(wait_for(|| e.workers().iter().all(|w| w.handle.is_finished())));
    e.set_threads(1).expect("shrink");
    assert_eq!(e.stats().thread_panics, 1);
}

#[test]
fn panic_messages_are_read_from_either_payload() {
    let literal: Box<dyn std::any::Any + Send> = Box::new("literal");
    let formatted: Box<dyn std::any::Any + Send> = Box::new(format!("thread {}", 3));
    let other: Box<dyn std::any::Any + Send> = Box::new(7_u8);
    assert_eq!(panic_message(literal.as_ref()), "literal");
    assert_eq!(panic_message(formatted.as_ref()), "thread 3");
    assert_eq!(panic_message(other.as_ref()), "(no message)");
}
