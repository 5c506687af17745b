"""Turns the JSON lines of benches/run-benchmarks.sh into the tables of BENCHMARKS.md.

Ratios: against cpuminer-opt's per-core figures on this machine (from the project brief) and
against the single-stream SHA-256 limit measured with openssl in the same run.
"""
import json
import statistics
import sys

# cpuminer-opt per core on this machine, as given in the project brief.
CPUMINER = {"avx512": 28.5e6, "shani": 13.6e6, "avx2": 7.2e6}
CPUMINER_SCRYPT = 22.4e3


def summarise(rows):
    """Groups repeated measurements: (algo, kernel, threads, scaling) -> sorted hashrates."""
    groups = {}
    for r in rows:
        if "impl" not in r:
            continue
        key = (r["algo"], r["impl"], r["threads"], bool(r.get("scaling")))
        groups.setdefault(key, []).append(r["hashrate_hs"])
    return {k: sorted(v) for k, v in groups.items()}


def fmt(values, div):
    med = statistics.median(values) / div
    if len(values) == 1:
        return f"{med:.2f}"
    return f"{med:.2f} ({values[0] / div:.2f}-{values[-1] / div:.2f})"


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    ref = next(r for r in rows if r.get("reference") == "openssl")
    limit = ref["bytes_per_s"] / 64 / 1.9
    groups = summarise(rows)
    print(f"openssl sha256 (16 KiB blocks): {ref['bytes_per_s'] / 1e9:.3f} GB/s, "
          f"single-stream sha256d limit = bytes/s / 64 / 1.9 = {limit / 1e6:.2f} MH/s\n")
    print("Median of the repetitions, range in brackets.\n")
    print("| algo | kernel | threads | hashrate | vs cpuminer-opt | vs openssl limit |")
    print("|---|---|---|---|---|---|")
    for (algo, kernel, threads, scaling), values in groups.items():
        if scaling:
            continue
        h = statistics.median(values)
        if algo == "scrypt":
            cm, unit, div = CPUMINER_SCRYPT, "kH/s", 1e3
        else:
            cm = next((v for name, v in CPUMINER.items() if name in kernel), None)
            unit, div = "MH/s", 1e6
        vs_cm = f"{h / cm:.2f}x" if cm else "-"
        vs_os = f"{h / limit:.2f}x" if algo == "sha256d" else "-"
        print(f"| {algo} | {kernel} | {threads} | {fmt(values, div)} {unit} | {vs_cm} | {vs_os} |")
    print()
    print("| algo | kernel | 1 thread | 2 threads | 2 / 1 (median) |")
    print("|---|---|---|---|---|")
    for (algo, kernel, threads, scaling), one in groups.items():
        if not scaling or threads != 1:
            continue
        two = groups.get((algo, kernel, 2, True))
        if not two:
            continue
        div = 1e6 if algo == "sha256d" else 1e3
        unit = "MH/s" if algo == "sha256d" else "kH/s"
        ratio = statistics.median(two) / statistics.median(one)
        print(f"| {algo} | {kernel} | {fmt(one, div)} {unit} | {fmt(two, div)} {unit} | {ratio:.2f}x |")


if __name__ == "__main__":
    main(sys.argv[1])
