#!/usr/bin/env bash
# Produces the figures in BENCHMARKS.md in one run: every kernel this CPU supports on one
# thread, scaling from one to two threads, and the reference measured in the same run
# (openssl's single-stream SHA-256 speed); cpuminer-opt's figures are quoted from the brief.
#   benches/run-benchmarks.sh [seconds-per-measurement] [repetitions]   (default 10, 3)
# Each figure is measured `repetitions` times, interleaved, and reported as median and range:
# on a shared VM single runs swing by 10% or more.
# Raw results: $CARGO_TARGET_DIR/bench-results.jsonl; the tables: benches/report.py FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
reps="${2:-3}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p hashward-agent
bin="$target/release/hashward-agent"
out="$target/bench-results.jsonl"
: > "$out"

kbs=$(openssl speed -seconds "$secs" -bytes 16384 -evp sha256 2>/dev/null | awk '/^sha256/ {print $NF}' | tr -d k)
echo "{\"reference\":\"openssl\",\"bytes_per_s\":$(python3 -c "print(float('$kbs') * 1000)")}" >> "$out"

for rep in $(seq "$reps"); do
    "$bin" kernels | while IFS=$'\t' read -r algo kernel _lanes; do
        echo "[$rep/$reps] $algo $kernel" >&2
        "$bin" bench --algo "$algo" --kernel "$kernel" --threads 1 --seconds "$secs" --json >> "$out"
    done
    for algo in sha256d scrypt; do
        for threads in 1 2; do
            echo "[$rep/$reps] $algo on $threads thread(s)" >&2
            "$bin" bench --algo "$algo" --threads "$threads" --seconds "$secs" --json \
                | sed 's/^{/{"scaling":true,/' >> "$out"
        done
    done
done
python3 benches/report.py "$out"
