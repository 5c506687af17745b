#!/usr/bin/env python3
"""Generates the intraday profitability series for the allocation backtest (BENCHMARKS.md,
"Allocation backtests" (a)): `timestamp_utc,target,usd_per_th_day`, one row per target per step.

Each target's value is a seeded log random walk with a slow drift, regime changes (a level that
jumps by 15-35 % and stays) and one-step spikes (x1.3-2.5 for a single step, then back), the
three things that make a profit switcher churn. Deterministic for a given --seed.

Must never read anything but its arguments: the series is synthetic on purpose (no licence, no
look-ahead question), and the same seed always prints the same file.

Usage: python3 benches/alloc-intraday.py --seed 17 --days 30 --step-min 15 > intraday.csv
"""

import argparse
import datetime as dt
import math
import random


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--step-min", type=int, default=15)
    ap.add_argument("--start", default="2026-01-01T00:00:00Z")
    ap.add_argument(
        "--targets",
        default="btc-pool:0.060,bch-pool:0.058,bsv-pool:0.055",
        help="name:start_usd_per_th_day,...",
    )
    ap.add_argument("--noise", type=float, default=0.004, help="per-step log sd")
    ap.add_argument("--spike-prob", type=float, default=0.02, help="per target per step")
    ap.add_argument("--regime-per-day", type=float, default=0.4, help="per target")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    start = dt.datetime.strptime(a.start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    targets = []
    for item in a.targets.split(","):
        name, v = item.split(":")
        targets.append([name, math.log(float(v)), rng.gauss(0.0, 0.002)])  # name, level, drift/day
    steps = a.days * 24 * 60 // a.step_min
    per_day = 24 * 60 / a.step_min
    print("timestamp_utc,target,usd_per_th_day")
    for i in range(steps):
        t = start + dt.timedelta(minutes=a.step_min * i)
        stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        for tg in targets:
            name, level, drift = tg
            level += drift / per_day + rng.gauss(0.0, a.noise)
            if rng.random() < a.regime_per_day / per_day:
                level += math.log(1.0 + rng.uniform(0.15, 0.35)) * rng.choice((-1.0, 1.0))
            # Mean reversion towards the start band keeps the targets competing for 30 days.
            level += 0.002 * (math.log(0.058) - level)
            tg[1] = level
            value = math.exp(level)
            if rng.random() < a.spike_prob:
                value *= rng.uniform(1.3, 2.5)
            print(f"{stamp},{name},{value:.6f}")


if __name__ == "__main__":
    main()
