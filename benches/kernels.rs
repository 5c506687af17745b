//! One criterion benchmark per hash kernel this CPU supports: single-thread `scan` throughput
//! on a random header with an impossible target (so no hit handling is measured).
//! `cargo bench --bench kernels`; the figures that go into BENCHMARKS.md come from
//! `benches/run-benchmarks.sh`, which also measures the references in the same run.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hashward_agent::miner::hash::{self, Algo};
use hashward_agent::miner::work::{Target, Work};
use std::time::Duration;

fn kernels(c: &mut Criterion) {
    for algo in [Algo::Sha256d, Algo::Scrypt] {
        let kernels = match hash::available(algo) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("skipping {algo}: {e}");
                continue;
            }
        };
        let mut group = c.benchmark_group(algo.to_string());
        group.measurement_time(Duration::from_secs(5)).sample_size(20);
        for mut k in kernels {
            let nonces: u32 = match algo {
                Algo::Sha256d => 1 << 16,
                Algo::Scrypt => 256,
            };
            let mut header = [0u8; 80];
            for (i, b) in header.iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(151).wrapping_add(7);
            }
            k.set_work(&Work {
                header,
                target: Target([0; 32]),
            });
            group.throughput(Throughput::Elements(u64::from(nonces)));
            let mut hits = Vec::new();
            let mut start = 0u32;
            group.bench_function(k.name(), |b| {
                b.iter(|| {
                    let done = k.scan(start, nonces, &mut hits);
                    start = start.wrapping_add(nonces) % (u32::MAX - nonces);
                    done
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
