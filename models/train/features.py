"""Reference feature extraction: the Python twin of the agent's `src/infer/features.rs`.

The agent computes these from `RigTelemetry` / `AsicTelemetry` with a short per-subject window.
This file must compute bit-for-bit the same thing (f64 arithmetic in the same order, rounded to
f32 at the end); the golden vectors written at export prove it, through a Rust test.

Missing readings: a feature whose *current* input is missing is `None`, and the model's neutral
value (the training mean, stored in the ONNX file) is used instead, so a missing sensor neither
raises nor hides an alarm by itself. A feature that needs history and has none yet is 0 ("no
change"). Counters that went backwards (miner restart) count as no change.
"""

from __future__ import annotations

import math
import re

import numpy as np

# Longest window any model may ask for; the agent keeps this many samples per subject.
MAX_WINDOW = 32
# A pool identity (URL + user) becomes the established one after this many consecutive samples.
# Until then every sample on it is flagged: a hijacked pool or wallet keeps alerting for an hour
# of ASIC samples (20 min of rig samples) instead of one window, and a legitimate change is
# accepted on its own.
POOL_ADOPT_SAMPLES = 120
# A reject ratio needs this many shares in the history to mean anything.
MIN_SHARES = 20

# (name, unit, threat type, what it measures, minimum scale, alarm direction). The minimum scale
# floors the standardisation so that a feature that never moves in normal data (pool changes)
# still has a physically meaningful unit of surprise instead of a division by zero. The direction
# says which side of the reconstruction is harmful ("up": higher than the network expects, e.g.
# temperature; "down": lower, e.g. hashrate; "both"): only that side counts towards the score, so
# a cool chip or a fast fan never raises an alarm, and never names a threat.
ASIC_FEATURES = [
    ("chip_temp_max_c", "C", "overheat", "hottest chip temperature", 1.0, "up"),
    ("chip_temp_rise_c", "C", "overheat", "hottest chip minus ambient (or inlet water)", 1.0, "up"),
    ("chip_temp_slope_c", "C/sample", "overheat", "hottest chip change per sample over the window", 0.3, "up"),
    ("chip_temp_over_80_c", "C", "overheat",
     "degrees the hottest chip is above 80 C (past the fan controller's range)", 1.0, "up"),
    ("fan_speed_pct_mean", "%", "overheat", "mean fan duty: cooling headroom used", 2.0, "up"),
    ("fan_min_ratio", "ratio", "fan_failure", "slowest fan rpm / fastest fan rpm", 0.02, "down"),
    ("board_min_ratio", "ratio", "board_loss", "weakest hashboard hashrate / strongest", 0.02, "down"),
    ("hashrate_vs_expected", "ratio-1", "hashrate_drop",
     "total hashrate / efficiency_asic expectation (else nominal) - 1", 0.01, "down"),
    ("hashrate_vs_window", "ratio-1", "hashrate_drop", "total hashrate / mean of the window before - 1", 0.01, "down"),
    ("power_vs_expected", "ratio-1", "power_anomaly", "wall power / efficiency_asic expectation - 1", 0.01, "both"),
    ("power_cv", "ratio", "power_anomaly", "coefficient of variation of wall power over the window", 0.002, "up"),
    ("voltage_vs_window", "ratio-1", "power_anomaly", "chain voltage / window maximum - 1", 0.003, "down"),
    ("reject_ratio", "ratio", "rejection_surge",
     "rejected / (accepted + rejected) shares over the kept history (32 samples)", 0.005, "up"),
    ("pool_changed", "0/1", "pool_change",
     "pool URL or user differs from the established one (a new one is adopted after 120 samples)", 0.05, "up"),
]

RIG_FEATURES = [
    ("cpu_temp_max_c", "C", "overheat", "hottest host temperature sensor", 1.0, "up"),
    ("cpu_temp_slope_c", "C/sample", "overheat",
     "hottest sensor change per sample over the window (fast rise at steady load = cooling lost)", 0.3, "up"),
    ("cpu_temp_over_85_c", "C", "overheat", "degrees the hottest sensor is above 85 C (throttling range)", 1.0, "up"),
    ("hashrate_10s_vs_15m", "ratio-1", "hashrate_drop", "miner 10 s hashrate / 15 min hashrate - 1", 0.01, "down"),
    ("hashrate_60s_vs_window", "ratio-1", "hashrate_drop",
     "miner 60 s hashrate / mean of the window before - 1", 0.01, "down"),
    ("load_per_thread", "ratio", "hashrate_drop", "1 min load average / miner threads (foreign load)", 0.02, "up"),
    ("cpu_usage_frac", "ratio", "hashrate_drop", "host CPU usage / 100", 0.005, "down"),
    ("reject_ratio", "ratio", "rejection_surge",
     "rejected / (accepted + rejected) shares over the kept history (32 samples)", 0.005, "up"),
    ("pool_changed", "0/1", "pool_change",
     "pool URL or user differs from the established one (a new one is adopted after 120 samples)", 0.05, "up"),
]

EFFICIENCY_FAMILIES = ["antminer_s19j_pro", "antminer_s19_xp", "antminer_s21", "whatsminer_m50s"]
EFFICIENCY_FEATURES = [(f"is_{k}", "0/1", f"miner model is {k}") for k in EFFICIENCY_FAMILIES] + [
    ("frequency_mhz", "MHz", "chip frequency (config, else mean of boards)"),
    ("voltage_v", "V", "chain voltage (power, else mean of boards)"),
    ("chip_temp_avg_c", "C", "average chip temperature"),
    ("ambient_c", "C", "ambient (or inlet water) temperature"),
    ("fan_speed_pct_mean", "%", "mean fan duty"),
]


def f32(x) -> float:
    """A Celsius / f32 protocol field as the Rust side sees it after deserialising."""
    return float(np.float32(x))


def clamp(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def normalise_model(name: str | None) -> str | None:
    """`Antminer S19j Pro` -> `antminer_s19j_pro`: lower case, runs of non-alphanumerics -> `_`."""
    if name is None:
        return None
    key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return key or None


def pool_id(url: str | None, user: str | None) -> str:
    if url is None:
        return ""
    return f"{url}\n{user}"


def mean(xs):
    s = 0.0
    for x in xs:
        s += x
    return s / len(xs)


# --------------------------------------------------------------------------------------------
# ASIC
# --------------------------------------------------------------------------------------------


def asic_chip_temp_max(t: dict):
    tm = t["temperature"]
    if tm["max_chip"] is not None:
        return f32(tm["max_chip"])
    vals = [f32(b["chip_max"]) for b in tm["per_hashboard"] if b["chip_max"] is not None]
    return max(vals) if vals else None


def asic_ambient(t: dict):
    tm = t["temperature"]
    if tm["ambient"] is not None:
        return f32(tm["ambient"])
    if tm["inlet_water"] is not None:
        return f32(tm["inlet_water"])
    return None


def asic_voltage(t: dict):
    if t["power"]["voltage_v"] is not None:
        return f32(t["power"]["voltage_v"])
    vals = [f32(b["voltage_v"]) for b in t["hashrate"]["per_hashboard"] if b["voltage_v"] is not None]
    return mean(vals) if vals else None


def asic_frequency(t: dict):
    if t["config"]["frequency_mhz"] is not None:
        return f32(t["config"]["frequency_mhz"])
    vals = [f32(b["frequency_mhz"]) for b in t["hashrate"]["per_hashboard"] if b["frequency_mhz"] is not None]
    return mean(vals) if vals else None


def asic_chip_temp_avg(t: dict):
    tm = t["temperature"]
    if tm["avg_chip"] is not None:
        return f32(tm["avg_chip"])
    vals = [(f32(b["chip_min"]) + f32(b["chip_max"])) / 2.0 for b in tm["per_hashboard"]
            if b["chip_min"] is not None and b["chip_max"] is not None]
    return mean(vals) if vals else None


def asic_fan_pct_mean(t: dict):
    vals = [f32(f["speed_percent"]) for f in t["fans"] if f["speed_percent"] is not None]
    return mean(vals) if vals else None


def efficiency_input(t: dict, neutral: list[float]):
    """The efficiency model's input row, or None when the miner cannot be predicted.

    Needs a known model family, a frequency, a voltage and a chip temperature; ambient and fan duty
    fall back to the model's neutral values (their effect is small next to the settings).
    """
    key = normalise_model(t["model"])
    if key not in EFFICIENCY_FAMILIES:
        return None
    f, v, tc = asic_frequency(t), asic_voltage(t), asic_chip_temp_avg(t)
    if f is None or v is None or tc is None:
        return None
    amb = asic_ambient(t)
    fan = asic_fan_pct_mean(t)
    n = len(EFFICIENCY_FAMILIES)
    row = [1.0 if key == k else 0.0 for k in EFFICIENCY_FAMILIES]
    row += [f, v, tc, amb if amb is not None else neutral[n + 3], fan if fan is not None else neutral[n + 4]]
    return row


def asic_snapshot(t: dict) -> dict:
    pool = t["pool"]
    return {
        "tmax": asic_chip_temp_max(t),
        "hs": float(t["hashrate"]["total"]),
        "power": f32(t["power"]["consumption"]) if t["power"]["consumption"] is not None else None,
        "volt": asic_voltage(t),
        "acc": int(t["shares"]["accepted"]),
        "rej": int(t["shares"]["rejected"]),
        "pool": pool_id(pool["url"], pool["user"]) if pool else "",
    }


def slope(window: list[dict], key: str, w: int) -> float:
    """Change per sample from the oldest reading in the window to now, over the full window
    length `w`: a partial window (just after start, or with gaps) gives a damped slope instead
    of a noisy one-step difference."""
    cur = window[-1][key]
    if cur is None or w < 2:
        return 0.0
    last = len(window) - 1
    for j in range(last):
        old = window[j][key]
        if old is not None:
            return (cur - old) / float(w - 1)
    return 0.0


def reject_ratio(window: list[dict]) -> float:
    """Rejected share of the shares counted across the history; 0 with fewer than MIN_SHARES
    shares (too little evidence) or when a counter went backwards (restart)."""
    if len(window) < 2:
        return 0.0
    old, cur = window[0], window[-1]
    if old["acc"] is None or cur["acc"] is None:
        return 0.0
    da = cur["acc"] - old["acc"]
    dr = cur["rej"] - old["rej"]
    if da < 0 or dr < 0 or da + dr < MIN_SHARES:
        return 0.0
    return dr / float(da + dr)


def asic_features(t: dict, window: list[dict], w: int, history: list[dict], expected, pool_changed: float) -> list:
    """`window` holds the snapshots of the model's window (length `w` once full), oldest first,
    the current one last;
    `history` all kept snapshots (up to MAX_WINDOW), for the share counters.
    `expected` is (hashrate H/s or None, power W or None); `pool_changed` comes from the state."""
    cur = window[-1]
    tmax = cur["tmax"]
    amb = asic_ambient(t)
    out = [None] * len(ASIC_FEATURES)
    out[0] = tmax
    out[1] = tmax - amb if tmax is not None and amb is not None else None
    out[2] = slope(window, "tmax", w)
    out[3] = max(0.0, tmax - 80.0) if tmax is not None else None
    out[4] = asic_fan_pct_mean(t)
    rpms = [float(f["rpm"]) for f in t["fans"] if f["rpm"] is not None]
    if len(rpms) < 2 or max(rpms) <= 0.0:
        out[5] = 1.0
    else:
        out[5] = min(rpms) / max(rpms)
    hs = [float(b["hashrate"]) for b in t["hashrate"]["per_hashboard"]]
    if len(hs) < 2 or max(hs) <= 0.0:
        out[6] = 1.0
    else:
        out[6] = clamp(min(hs) / max(hs), 0.0, 1.0)
    exp_hs, exp_pw = expected
    out[7] = clamp(cur["hs"] / exp_hs - 1.0, -1.0, 1.0) if exp_hs is not None and exp_hs > 0.0 else None
    prev = window[:-1]
    if prev:
        m = mean([s["hs"] for s in prev])
        out[8] = clamp(cur["hs"] / m - 1.0, -1.0, 1.0) if m > 0.0 else 0.0
    else:
        out[8] = 0.0
    if cur["power"] is not None and exp_pw is not None and exp_pw > 0.0:
        out[9] = clamp(cur["power"] / exp_pw - 1.0, -1.0, 1.0)
    else:
        out[9] = None
    pw = [s["power"] for s in window if s["power"] is not None]
    if len(pw) >= 2:
        m = mean(pw)
        if m > 0.0:
            var = mean([(p - m) * (p - m) for p in pw])
            out[10] = math.sqrt(var) / m
        else:
            out[10] = 0.0
    else:
        out[10] = 0.0
    if cur["volt"] is None:
        out[11] = None
    else:
        vmax = max(s["volt"] for s in window if s["volt"] is not None)
        out[11] = clamp(cur["volt"] / vmax - 1.0, -1.0, 0.0) if vmax > 0.0 else 0.0
    out[12] = reject_ratio(history)
    out[13] = pool_changed
    return out


# --------------------------------------------------------------------------------------------
# CPU rig
# --------------------------------------------------------------------------------------------


def rig_active_miner(t: dict):
    m = t["miner"]
    if m is None or m["paused"]:
        return None
    return m


def rig_snapshot(t: dict) -> dict:
    temps = [f32(r["celsius"]) for r in t["temperatures"]]
    m = rig_active_miner(t)
    pool = m["pool"] if m is not None else None
    return {
        "tmax": max(temps) if temps else None,
        "h60": float(m["hashrate_60s"]) if m is not None else None,
        "acc": int(pool["accepted"]) if pool else None,
        "rej": int(pool["rejected"]) if pool else None,
        "pool": pool_id(pool["url"], pool["user"]) if pool else "",
        "active": m is not None,
    }


def rig_features(t: dict, window: list[dict], w: int, history: list[dict], pool_changed: float) -> list:
    cur = window[-1]
    out = [None] * len(RIG_FEATURES)
    out[0] = cur["tmax"]
    out[1] = slope(window, "tmax", w)
    out[2] = max(0.0, cur["tmax"] - 85.0) if cur["tmax"] is not None else None
    m = rig_active_miner(t)
    if m is None:
        # No miner or paused by the agent: the miner features say nothing; temperatures still do.
        return out
    h10, h15 = float(m["hashrate_10s"]), float(m["hashrate_15m"])
    out[3] = clamp(h10 / h15 - 1.0, -1.0, 1.0) if h15 > 0.0 else 0.0
    prev = [s["h60"] for s in window[:-1] if s["active"] and s["h60"] is not None]
    if prev:
        mm = mean(prev)
        out[4] = clamp(cur["h60"] / mm - 1.0, -1.0, 1.0) if mm > 0.0 else 0.0
    else:
        out[4] = 0.0
    out[5] = clamp(f32(t["load_1m"]) / float(m["threads"]), 0.0, 8.0) if m["threads"] > 0 else None
    out[6] = clamp(f32(t["cpu_usage_pct"]) / 100.0, 0.0, 1.0)
    active = [s for s in history if s["active"]]
    out[7] = reject_ratio(active)
    out[8] = pool_changed
    return out


class WindowState:
    """Per-subject history, as the agent keeps it (bounded at MAX_WINDOW), and the pool tracker."""

    def __init__(self):
        self.snaps: list[dict] = []
        self.established: str | None = None
        self.candidate: str | None = None
        self.run = 0

    def push(self, snap: dict) -> float:
        """Adds a sample; returns `pool_changed` for it (samples with no active miner: 0)."""
        self.snaps.append(snap)
        if len(self.snaps) > MAX_WINDOW:
            self.snaps.pop(0)
        if not snap.get("active", True):
            return 0.0
        pool = snap["pool"]
        if self.established is None:
            self.established = pool
        if pool == self.established:
            self.candidate, self.run = None, 0
            return 0.0
        if pool == self.candidate:
            self.run += 1
        else:
            self.candidate, self.run = pool, 1
        if self.run >= POOL_ADOPT_SAMPLES:
            self.established, self.candidate, self.run = pool, None, 0
            return 0.0
        return 1.0

    def window(self, w: int) -> list[dict]:
        return self.snaps[-w:]

    def history(self) -> list[dict]:
        return self.snaps
