//! Benchmark: one agent polling a fleet of simulated miners on loopback.
//!
//! `cargo run --release --example poll200 -- --miners 200 --interval-ms 1000 --seconds 60`
//!
//! The fake miners (Vnish 1.2.6 / 1.2.0, cgminer, stock Antminer with Digest, plus `--hang`
//! miners that accept and never answer) run in a child process, so the CPU time measured with
//! getrusage(RUSAGE_SELF) is the polling agent's alone. The poller runs on a current-thread
//! runtime, as in the agent. Reports per-miner poll counts against the schedule, lateness,
//! unreachable reporting of the hanging miners, and CPU use as a share of one core.

#[path = "../tests/asic_support/mod.rs"]
mod support;

use hashward_agent::asic::client::{AsicKind, AsicSpec, Credentials};
use hashward_agent::asic::poller::{Poller, PollerOptions};
use hashward_agent::asic::schedule::ScheduleConfig;
use hashward_protocol::AsicTelemetry;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Args {
    miners: usize,
    interval_ms: u64,
    seconds: u64,
    hang: usize,
    concurrency: usize,
    serve: bool,
}

fn args() -> Args {
    let mut a = Args {
        miners: 200,
        interval_ms: 60_000,
        seconds: 60,
        hang: 1,
        concurrency: 32,
        serve: false,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let next = |i: usize| {
            v.get(i + 1)
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{} needs a number", v[i]))
        };
        match v[i].as_str() {
            "--miners" => a.miners = next(i) as usize,
            "--interval-ms" => a.interval_ms = next(i),
            "--seconds" => a.seconds = next(i),
            "--hang" => a.hang = next(i) as usize,
            "--concurrency" => a.concurrency = next(i) as usize,
            "--serve" => {
                a.serve = true;
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Child process: start the fake fleet, print "kind url" per miner, then wait for stdin to close.
fn serve(a: &Args) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut keep = Vec::new();
        for i in 0..a.miners {
            let line = if i < a.hang {
                let addr = support::start_black_hole().await;
                format!("vnish http://{addr}")
            } else {
                match i % 10 {
                    0..=4 => {
                        let m = support::FakeVnish::start(
                            support::fixtures::VNISH_126_SUMMARY,
                            support::fixtures::VNISH_126_INFO,
                        )
                        .await;
                        let l = format!("vnish {}", m.url());
                        keep.push(Box::new(m) as Box<dyn std::any::Any + Send>);
                        l
                    }
                    5 | 6 => {
                        let m = support::FakeVnish::start(
                            support::fixtures::VNISH_120_SUMMARY,
                            support::fixtures::VNISH_120_INFO,
                        )
                        .await;
                        let l = format!("vnish {}", m.url());
                        keep.push(Box::new(m));
                        l
                    }
                    7 | 8 => {
                        let m = support::FakeCgminer::start(
                            support::fixtures::CGMINER_S19_SUMMARY,
                            support::fixtures::CGMINER_S19_STATS,
                            support::fixtures::CGMINER_S19_POOLS,
                        )
                        .await;
                        let l = format!("cgminer {}", m.url());
                        keep.push(Box::new(m));
                        l
                    }
                    _ => {
                        let m = support::FakeAntminer::start().await;
                        let l = format!("antminer {}", m.url());
                        keep.push(Box::new(m));
                        l
                    }
                }
            };
            println!("{line}");
        }
        println!("READY");
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await
        .ok();
        drop(keep);
    });
}

fn main() {
    let a = args();
    if a.serve {
        serve(&a);
        return;
    }
    let exe = std::env::current_exe().expect("exe");
    let mut child = Command::new(exe)
        .args([
            "--serve",
            "--miners",
            &a.miners.to_string(),
            "--hang",
            &a.hang.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn fleet");
    let out = child.stdout.take().expect("stdout");
    let mut specs = Vec::new();
    let mut hanging = Vec::new();
    for (i, line) in BufReader::new(out).lines().enumerate() {
        let line = line.expect("line");
        if line == "READY" {
            break;
        }
        let (kind, url) = line.split_once(' ').expect("kind url");
        let kind: AsicKind = kind.parse().expect("kind");
        let id = format!("m{i:03}");
        if i < a.hang {
            hanging.push(id.clone());
        }
        // Vnish web password; the stock Antminers keep their factory root/root.
        let creds = if kind == AsicKind::Vnish {
            Credentials {
                password: Some("admin".into()),
                ..Default::default()
            }
        } else {
            Credentials::default()
        };
        specs.push(AsicSpec::new(&id, url, kind, creds).expect("spec"));
    }
    let interval = Duration::from_millis(a.interval_ms);
    let opts = PollerOptions {
        schedule: ScheduleConfig {
            fast: interval,
            slow: interval,
            ..ScheduleConfig::default()
        },
        max_concurrency: a.concurrency,
        request_timeout: Duration::from_secs(5).min(interval.max(Duration::from_millis(500))),
        poll_timeout: Duration::from_secs(20).min(interval * 2),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let n = specs.len();
    let poller = Poller::new(specs, opts);
    let handle = poller.handle();
    let (by, wall, cpu) = rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<AsicTelemetry>(4096);
        let collect = tokio::spawn(async move {
            let mut by: HashMap<String, (u64, u64)> = HashMap::new(); // (good, unreachable)
            while let Some(t) = rx.recv().await {
                let e = by.entry(t.miner_id).or_default();
                if t.reachable {
                    e.0 += 1
                } else {
                    e.1 += 1
                }
            }
            by
        });
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        poller
            .run(tx, tokio::time::sleep(Duration::from_secs(a.seconds)))
            .await;
        let wall = t0.elapsed();
        let cpu = cpu_time() - cpu0;
        (collect.await.expect("collector"), wall, cpu)
    });
    drop(child.stdin.take());
    let _ = child.wait();

    let c = handle.counters();
    let views = handle.asics();
    let normal: Vec<_> = views.iter().filter(|v| !hanging.contains(&v.id)).collect();
    let polls: Vec<u64> = normal.iter().map(|v| v.polls_ok).collect();
    let expected = a.seconds * 1000 / a.interval_ms.max(1);
    let max_late = normal.iter().map(|v| v.max_lateness_ms).max().unwrap_or(0);
    let unreachable_published = hanging
        .iter()
        .filter(|h| by.get(*h).is_some_and(|e| e.1 > 0))
        .count();
    let pct = 100.0 * cpu.as_secs_f64() / wall.as_secs_f64();
    for v in normal.iter().filter(|v| v.polls_ok == 0).take(3) {
        println!("never answered: {} {:?}: {:?}", v.id, v.api, v.last_error);
    }
    println!("miners                 {n} ({} hanging)", hanging.len());
    println!(
        "interval               {} ms, run {:.1} s, max concurrency {}",
        a.interval_ms,
        wall.as_secs_f64(),
        a.concurrency
    );
    println!("polls ok / failed      {} / {}", c.polls_ok, c.polls_failed);
    println!(
        "per answering miner    min {} max {} polls (schedule: {expected} or {})",
        polls.iter().min().unwrap_or(&0),
        polls.iter().max().unwrap_or(&0),
        expected + 1
    );
    println!(
        "late starts (>250 ms)  {} of {} polls; max lateness of answering miners {max_late} ms",
        c.late_polls, c.polls
    );
    println!(
        "hanging miners         {unreachable_published} of {} published unreachable; timeouts {}",
        hanging.len(),
        c.timeouts
    );
    println!(
        "invalid readings       {} (sensor errors in the 1.2.x fixtures)",
        c.invalid_readings
    );
    println!(
        "agent CPU              {:.3} s user+sys over {:.1} s = {pct:.2}% of one core",
        cpu.as_secs_f64(),
        wall.as_secs_f64()
    );
}
