#!/usr/bin/env bash
# Produces the figures in BENCHMARKS.md in one run: every kernel this CPU supports on one
# thread, scaling from one to two threads, and the references measured in the same run
# (openssl's single-stream SHA-256 speed) or quoted (cpuminer-opt on this machine).
#   benches/run-benchmarks.sh [seconds-per-measurement]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p hashward-agent
bin="$target/release/hashward-agent"

# Single-stream SHA-256 limit: bytes/s / 64 bytes per block / 1.9 blocks per double hash
# (sha256d of a header is 3 compressions, 2 with the midstate; 1.9 as the issue defines it).
ossl_kbs=$(openssl speed -seconds "$secs" -bytes 16384 -evp sha256 2>/dev/null | awk '/^sha256/ {print $NF}' | tr -d k)
echo "openssl sha256 16 KiB: ${ossl_kbs} kB/s" >&2

results=()
while IFS=$'\t' read -r algo kernel lanes; do
    echo "measuring $algo $kernel" >&2
    results+=("$("$bin" bench --algo "$algo" --kernel "$kernel" --threads 1 --seconds "$secs" --json)")
done < <("$bin" kernels)
for algo in sha256d scrypt; do
    echo "measuring $algo scaling" >&2
    results+=("$("$bin" bench --algo "$algo" --threads 1 --seconds "$secs" --json | sed 's/^{/{"scaling":1,/')")
    results+=("$("$bin" bench --algo "$algo" --threads 2 --seconds "$secs" --json | sed 's/^{/{"scaling":1,/')")
done

printf '%s\n' "${results[@]}" | OSSL_KBS="$ossl_kbs" python3 -c '
import json, os, sys
ossl = float(os.environ["OSSL_KBS"]) * 1000 / 64 / 1.9
# cpuminer-opt per core on this machine, as given in the project brief.
cpuminer = {"avx512": 28.5e6, "shani": 13.6e6, "avx2": 7.2e6, "scrypt": 22.4e3}
rows = [json.loads(l) for l in sys.stdin if l.strip()]
print(f"openssl single-stream sha256d limit: {ossl/1e6:.2f} MH/s\n")
print("| algo | kernel | threads | hashrate | vs cpuminer-opt | vs openssl limit |")
print("|---|---|---|---|---|---|")
for r in rows:
    if r.get("scaling"):
        continue
    k, h = r["impl"], r["hashrate_hs"]
    ref = cpuminer["scrypt"] if r["algo"] == "scrypt" else next((v for n, v in cpuminer.items() if n in k), None)
    unit, div = ("MH/s", 1e6) if r["algo"] == "sha256d" else ("kH/s", 1e3)
    vs_cm = f"{h/ref:.2f}x" if ref else "-"
    vs_os = f"{h/ossl:.2f}x" if r["algo"] == "sha256d" else "-"
    print(f"| {r[\"algo\"]} | {k} | 1 | {h/div:.2f} {unit} | {vs_cm} | {vs_os} |")
print()
print("| algo | kernel | 1 thread | 2 threads | scaling |")
print("|---|---|---|---|---|")
sc = [r for r in rows if r.get("scaling")]
for one, two in zip(sc[0::2], sc[1::2]):
    print(f"| {one[\"algo\"]} | {one[\"impl\"]} | {one[\"hashrate_hs\"]:.4g} H/s | {two[\"hashrate_hs\"]:.4g} H/s | {two[\"hashrate_hs\"]/one[\"hashrate_hs\"]:.2f}x |")
'
