"""Telemetry simulator for hashward's on-device models.

Real fleet data does not exist yet, so the models are trained on telemetry generated here from
physical relations, with labelled fault episodes. Every sample is emitted in exactly the JSON shape
serde_json gives the protocol types (`RigTelemetry`, `AsicTelemetry` in hashward-protocol), so the
same lines feed the Python reference features, the golden vectors and the Rust agent.

Physics (per ASIC hashboard b, one sample every 30 s):
  hashrate_b  = H_nom/boards * (f / f_nom) * q_h * (1 - err)              (frequency x chips)
  err         = 0.001 + 4 * max(0, V_req - V) / V_nom + 0.02 * max(0, T - 88)
  V_req       = V_nom * (0.70 + 0.28 f/f_nom) * (1 + 0.002 (T - 70))      (voltage margin)
  power_b     = 0.93 P_nom/boards * (V/V_nom)^2 * (f/f_nom) * q_p * (1 + 0.003 (T - 70))  (~ V^2 f)
  wall power  = sum(power_b) / 0.95 + fans (3 + 30 (pct/100)^3 W each) + 15 W control board
  airflow     = 0.12 + 0.88 * pct/100 * fan_health * (1 - dust)
  T_ss,b      = T_ambient + K * power_b / airflow                          (power / airflow + ambient)
  T_b        += 0.6 * (T_ss,b - T_b)                                       (heat-sink lag)
  fan pct    += 2.5 * (T_max - 72), clipped to [25, 100]                   (fan curve / controller)

CPU rigs (one sample every 10 s) follow the same pattern: package power ~ per-core watts x usage,
temperature = ambient + K * power / cooling with a lag, thermal throttling above 95 C, and hashrate
10 s / 60 s / 15 min averages as exponential averages of the instantaneous rate.

Fault episodes and the threat type the sentinel should name:
  fan_failure      one fan stops (rpm 0); airflow falls                       -> fan_failure
  board_loss       one hashboard stops hashing and cools down                 -> board_loss
  thermal_runaway  ambient climbs (HVAC failure); chips pass 90 C              -> overheat
  dust             airflow decays slowly: fans ramp, temperature and J/TH creep -> overheat
  rejection_surge  the pool rejects 5-30 % of shares                          -> rejection_surge
  pool_change      pool URL / wallet changed behind the operator's back       -> pool_change
  psu_sag          chain voltage sags 4-10 % with ripple; errors rise         -> power_anomaly
  cpu_contention   (rigs) a foreign process steals the CPU                     -> hashrate_drop

A sample is labelled positive from the fault's onset to the end of the episode; dust episodes are
labelled from the point the airflow loss passes 20 % (before that there is nothing an operator
could act on, and it is not counted against either detector).

Everything is driven by numpy Generators seeded by the caller: same seed, same samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

ASIC_INTERVAL_S = 30
RIG_INTERVAL_S = 10

# Stock figures of the families the efficiency model knows. Keys are the normalised model names
# (lower case, non-alphanumerics as '_') the agent matches against `AsicTelemetry.model`.
FAMILIES = {
    "antminer_s19j_pro": dict(display="Antminer S19j Pro", boards=3, chips=126, fans=4,
                              f_nom=525.0, v_nom=13.6, ths_nom=104.0, watts_nom=3068.0),
    "antminer_s19_xp": dict(display="Antminer S19 XP", boards=3, chips=110, fans=4,
                            f_nom=560.0, v_nom=13.0, ths_nom=140.0, watts_nom=3010.0),
    "antminer_s21": dict(display="Antminer S21", boards=3, chips=108, fans=4,
                         f_nom=490.0, v_nom=12.8, ths_nom=200.0, watts_nom=3500.0),
    "whatsminer_m50s": dict(display="Whatsminer M50S", boards=3, chips=156, fans=2,
                            f_nom=600.0, v_nom=14.2, ths_nom=126.0, watts_nom=3276.0),
}
FAMILY_KEYS = list(FAMILIES)

# Frequency presets as a fraction of stock, and how often miners run them.
PRESET_SCALES = [0.80, 0.90, 1.00, 1.10, 1.20]
PRESET_WEIGHTS = [0.15, 0.25, 0.35, 0.15, 0.10]

ASIC_FAULTS = ["fan_failure", "board_loss", "thermal_runaway", "dust", "rejection_surge",
               "pool_change", "psu_sag"]
RIG_FAULTS = ["fan_failure", "thermal_runaway", "dust", "rejection_surge", "pool_change",
              "cpu_contention"]

# The threat type each fault should be reported as (protocol `ThreatType`, snake_case). A CPU
# rig reports no fan sensor: a stopped CPU fan can only be seen as heat, so there it is overheat.
FAULT_THREAT = {
    "fan_failure": "fan_failure",
    "board_loss": "board_loss",
    "thermal_runaway": "overheat",
    "dust": "overheat",
    "rejection_surge": "rejection_surge",
    "pool_change": "pool_change",
    "psu_sag": "power_anomaly",
    "cpu_contention": "hashrate_drop",
}


def expected_threat(kind: str, fault: str) -> str:
    if kind == "rig" and fault == "fan_failure":
        return "overheat"
    return FAULT_THREAT[fault]


def preset_voltage(fam: dict, scale: float) -> float:
    """The chain voltage a preset sets: the stock V/f curve, with a 2 % margin over V_req."""
    return fam["v_nom"] * (0.72 + 0.28 * scale)


def r2(x: float) -> float:
    """Two decimals, as firmware reports; keeps f32 fields exactly representable enough."""
    return float(round(float(x), 2))


@dataclass
class Episode:
    """One stream of samples from one device. `labels[i]` is True when sample i is anomalous."""

    kind: str  # "asic" or "rig"
    subject: str
    fault: str | None
    onset: int | None  # index of the first faulty sample
    samples: list = field(default_factory=list)
    labels: list = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# ASIC miners
# --------------------------------------------------------------------------------------------


class AsicSim:
    def __init__(self, rng: np.random.Generator, miner_id: str, family: str | None = None):
        self.rng = rng
        self.miner_id = miner_id
        self.family = family or FAMILY_KEYS[int(rng.integers(len(FAMILY_KEYS)))]
        fam = FAMILIES[self.family]
        self.fam = fam
        self.q_h = float(rng.normal(1.0, 0.015))
        self.q_p = float(rng.normal(1.0, 0.02))
        self.scale = float(rng.choice(PRESET_SCALES, p=PRESET_WEIGHTS))
        self.v_set = preset_voltage(fam, self.scale)
        self.ambient_base = float(rng.uniform(12.0, 36.0))
        self.phase = float(rng.uniform(0, 2 * math.pi))
        # K so that a stock miner at 25 C ambient and 60 % fans sits near 68 C
        pb_nom = 0.93 * fam["watts_nom"] / fam["boards"]
        self.k_th = 43.0 * 0.648 / pb_nom * float(rng.normal(1.0, 0.05))
        self.fan_pct = 60.0
        self.temps = [self.ambient_base + 40.0] * fam["boards"]
        self.dust = float(rng.uniform(0.0, 0.08))
        self.failed_fan: int | None = None
        self.dead_board: int | None = None
        self.ambient_extra = 0.0
        self.reject_p = float(rng.uniform(0.001, 0.01))
        self.sag = 0.0
        self.sag_ripple = 0.0
        pool_k = int(rng.integers(1, 6))
        self.pool = (f"stratum+tcp://pool{pool_k}.example.net:3333",
                     f"bc1qwallet{int(rng.integers(1000, 9999))}.{miner_id}")
        # pool difficulty so that 5-20 shares arrive per sample
        hs = fam["ths_nom"] * 1e12
        lam = float(rng.uniform(5, 20))
        self.diff = hs * ASIC_INTERVAL_S / (lam * 2**32)
        self.accepted = int(rng.integers(0, 100000))
        self.rejected = int(self.accepted * self.reject_p)
        self.stale = int(self.accepted * 0.002)
        self.uptime = int(rng.integers(3600, 30 * 86400))
        self.t = int(rng.integers(0, 2880))
        self.avg_hs = None
        self.api = "vnish" if self.family.startswith("antminer") else "cgminer"
        self.ip = f"10.{int(rng.integers(0, 255))}.{int(rng.integers(0, 255))}.{int(rng.integers(2, 254))}"

    def change_preset(self):
        self.scale = float(self.rng.choice(PRESET_SCALES, p=PRESET_WEIGHTS))
        self.v_set = preset_voltage(self.fam, self.scale)

    def physics(self, scale, v, temps, ambient):
        """Per-board hashrate (H/s) and power (W) of a healthy machine; used for the truth too."""
        fam = self.fam
        hs, pw = [], []
        for t in temps:
            v_req = fam["v_nom"] * (0.70 + 0.28 * scale) * (1 + 0.002 * (t - 70))
            err = 0.001 + 4 * max(0.0, v_req - v) / fam["v_nom"] + 0.02 * max(0.0, t - 88)
            err = min(err, 0.6)
            hs.append(fam["ths_nom"] * 1e12 / fam["boards"] * scale * self.q_h * (1 - err))
            pw.append(0.93 * fam["watts_nom"] / fam["boards"] * (v / fam["v_nom"]) ** 2 * scale
                      * self.q_p * (1 + 0.003 * (t - 70)))
        return hs, pw

    def step(self) -> dict:
        rng, fam = self.rng, self.fam
        self.t += 1
        self.uptime += ASIC_INTERVAL_S
        ambient = (self.ambient_base + 4 * math.sin(2 * math.pi * self.t / 2880 + self.phase)
                   + self.ambient_extra + float(rng.normal(0, 0.2)))
        v = self.v_set * (1 - self.sag) * (1 + float(rng.normal(0, self.sag_ripple))) \
            * (1 + float(rng.normal(0, 0.001)))
        board_hs, board_pw = self.physics(self.scale, v, self.temps, ambient)
        n_fans = fam["fans"]
        working = n_fans - (1 if self.failed_fan is not None else 0)
        fan_health = (working / n_fans) ** 1.5
        airflow = 0.12 + 0.88 * self.fan_pct / 100 * fan_health * (1 - self.dust)
        for b in range(fam["boards"]):
            if b == self.dead_board:
                board_hs[b] = 0.0
                board_pw[b] = 0.0
                t_ss = ambient + 3.0
            else:
                board_hs[b] *= 1 + float(rng.normal(0, 0.01))
                t_ss = ambient + self.k_th * board_pw[b] / airflow
            self.temps[b] += 0.6 * (t_ss - self.temps[b]) + float(rng.normal(0, 0.3))
        t_max = max(self.temps)
        self.fan_pct = float(np.clip(self.fan_pct + 2.5 * (t_max - 72.0), 25.0, 100.0))
        fans_w = sum(3 + 30 * (self.fan_pct / 100) ** 3 for _ in range(working))
        wall = sum(board_pw) / 0.95 + fans_w + 15.0
        wall *= 1 + float(rng.normal(0, 0.005))
        total = sum(board_hs)
        self.avg_hs = total if self.avg_hs is None else self.avg_hs + 0.1 * (total - self.avg_hs)
        # shares: Poisson arrivals at the pool difficulty, each rejected / stale with a probability
        lam = total * ASIC_INTERVAL_S / (self.diff * 2**32)
        n = int(rng.poisson(max(lam, 0.0)))
        rej = int(rng.binomial(n, min(self.reject_p, 1.0)))
        st = int(rng.binomial(n - rej, 0.002))
        self.accepted += n - rej - st
        self.rejected += rej
        self.stale += st
        nominal = fam["ths_nom"] * 1e12 * self.scale
        boards, btemps = [], []
        for b in range(fam["boards"]):
            dead = b == self.dead_board
            boards.append({
                "board_id": b + 1,
                "hashrate": float(round(board_hs[b])),
                "ideal": float(round(nominal / fam["boards"])),
                "frequency_mhz": r2(fam["f_nom"] * self.scale),
                "voltage_v": r2(v),
                "chips": fam["chips"],
                "status": "failed" if dead else "ok",
            })
            chip_max = self.temps[b]
            btemps.append({
                "board_id": b + 1,
                "pcb_min": r2(chip_max - 16),
                "pcb_max": r2(chip_max - 11),
                "chip_min": r2(chip_max - 7),
                "chip_max": r2(chip_max),
            })
        fans = []
        for i in range(n_fans):
            failed = self.failed_fan == i
            rpm = 0 if failed else int(round(self.fan_pct / 100 * 6000 * (1 + float(rng.normal(0, 0.01)))))
            fans.append({"fan_id": i + 1, "rpm": rpm, "speed_percent": r2(self.fan_pct),
                         "status": "failed" if failed else "ok"})
        sample = {
            "miner_id": self.miner_id,
            "ip_address": self.ip,
            "api": self.api,
            "reachable": True,
            "model": fam["display"],
            "firmware_version": "vnish 1.2.6" if self.api == "vnish" else "20240101.16.REL",
            "hashrate": {
                "total": float(round(total)),
                "average": float(round(self.avg_hs)),
                "nominal": float(round(nominal)),
                "per_hashboard": boards,
            },
            "temperature": {
                "ambient": r2(ambient),
                "avg_chip": r2(sum(self.temps) / len(self.temps) - 3.0),
                "max_chip": r2(t_max),
                "inlet_water": None,
                "outlet_water": None,
                "per_hashboard": btemps,
            },
            "power": {
                "consumption": r2(wall),
                "efficiency_j_th": r2(wall / (total / 1e12)) if total > 0 else None,
                "voltage_v": r2(v),
            },
            "fans": fans,
            "pool": {"url": self.pool[0], "user": self.pool[1], "status": "alive"},
            "shares": {"accepted": self.accepted, "rejected": self.rejected, "stale": self.stale,
                       "last_share_ts_ms": None},
            "status": {"mining_status": "mining", "uptime_s": self.uptime, "errors": []},
            "config": {"frequency_mhz": r2(fam["f_nom"] * self.scale),
                       "overclock_profile": f"{int(round(self.scale * 100))}%", "power_limit": None},
            "invalid": [],
        }
        return sample

    def begin_fault(self, fault: str):
        rng = self.rng
        if fault == "fan_failure":
            self.failed_fan = int(rng.integers(self.fam["fans"]))
        elif fault == "board_loss":
            self.dead_board = int(rng.integers(self.fam["boards"]))
        elif fault == "rejection_surge":
            self.reject_p = float(rng.uniform(0.05, 0.30))
        elif fault == "pool_change":
            self.pool = (f"stratum+tcp://{['mine', 'pool', 'hash'][int(rng.integers(3))]}"
                         f"{int(rng.integers(10, 99))}.attacker.example:{int(rng.integers(3000, 9999))}",
                         f"bc1qthief{int(rng.integers(1000, 9999))}.x")
        elif fault == "psu_sag":
            self.sag = float(rng.uniform(0.04, 0.10))
            self.sag_ripple = float(rng.uniform(0.008, 0.02))

    def fault_tick(self, fault: str, k: int, length: int):
        """Progressive faults advance each sample; k is the sample index since onset."""
        if fault == "thermal_runaway":
            # HVAC failure: the room heats and hot exhaust recirculates into the intake
            self.ambient_extra = min(35.0, self.ambient_extra + 2.0)
            self.dust = min(0.6, self.dust + 0.04)
        elif fault == "dust":
            self.dust = min(0.75, self.dust + 0.7 / max(length, 1))


def asic_episode(rng, idx: int, fault: str | None, pre: int, during: int, warmup: int = 20,
                 preset_change_p: float = 0.004) -> Episode:
    sim = AsicSim(rng, f"asic-{idx:05d}")
    ep = Episode("asic", sim.miner_id, fault, None)
    for _ in range(warmup):
        sim.step()
    total = pre + during if fault else pre
    dust_labelled = False
    for i in range(total):
        faulty = fault is not None and i >= pre
        if fault is not None and i == pre:
            ep.onset = pre
            sim.begin_fault(fault)
        if faulty:
            sim.fault_tick(fault, i - pre, during)
        elif rng.random() < preset_change_p:
            sim.change_preset()  # operators retune; that is normal and must not alert
        ep.samples.append(sim.step())
        if fault == "dust" and faulty:
            dust_labelled = dust_labelled or sim.dust >= 0.2
            ep.labels.append(dust_labelled)
        else:
            ep.labels.append(faulty)
    if fault == "dust":
        ep.onset = next((i for i, lab in enumerate(ep.labels) if lab), pre)
    return ep


# --------------------------------------------------------------------------------------------
# CPU rigs
# --------------------------------------------------------------------------------------------


class RigSim:
    def __init__(self, rng: np.random.Generator, rig_id: str):
        self.rng = rng
        self.rig_id = rig_id
        self.cores = int(rng.choice([4, 8, 12, 16, 32, 64]))
        self.threads = self.cores if rng.random() < 0.7 else max(1, self.cores - 1)
        self.per_thread = float(rng.uniform(5e6, 3e7))
        self.ambient_base = float(rng.uniform(16.0, 32.0))
        self.watts_core = float(rng.uniform(4.0, 12.0))
        self.idle_w = float(rng.uniform(4.0, 10.0))
        # cooling sized for the CPU: a healthy cooler keeps full load near 55-80 C
        target_rise = float(rng.uniform(30.0, 48.0))
        self.k_th = target_rise / (self.idle_w + self.watts_core * self.threads)
        self.cooling = 1.0
        self.ambient_extra = 0.0
        self.temp = self.ambient_base + target_rise
        self.contention = 0.0
        self.background = float(rng.uniform(0.0, 0.6))
        self.reject_p = float(rng.uniform(0.0, 0.01))
        self.pool = (f"stratum+tcp://pool{int(rng.integers(1, 6))}.example.net:3333",
                     f"wallet{int(rng.integers(1000, 9999))}.{rig_id}")
        hs = self.per_thread * self.threads
        lam = float(rng.uniform(1.0, 6.0))
        self.diff = hs * RIG_INTERVAL_S / (lam * 2**32)
        self.accepted = int(rng.integers(0, 20000))
        self.rejected = int(self.accepted * self.reject_p)
        self.stale = 0
        self.h10 = self.h60 = self.h15 = hs
        self.load1 = self.load5 = self.load15 = float(self.threads + self.background)
        self.uptime = int(rng.integers(3600, 30 * 86400))
        self.mem_total = int(rng.choice([8, 16, 32, 64, 128])) * 2**30
        self.mem_used = int(self.mem_total * float(rng.uniform(0.1, 0.5)))
        self.label = "Package id 0" if rng.random() < 0.6 else "Tctl"
        self.kernel = ["sha256d-avx2x8", "sha256d-shani", "sha256d-avx512x16"][int(rng.integers(3))]
        self.t = int(rng.integers(0, 8640))
        self.phase = float(rng.uniform(0, 2 * math.pi))

    def step(self) -> dict:
        rng = self.rng
        self.t += 1
        self.uptime += RIG_INTERVAL_S
        ambient = (self.ambient_base + 3 * math.sin(2 * math.pi * self.t / 8640 + self.phase)
                   + self.ambient_extra + float(rng.normal(0, 0.15)))
        usage = float(np.clip(rng.normal(97.5, 0.8), 90, 100))
        # thermal throttling from 92 C; PROCHOT holds the package at about 100 C
        throttle = float(np.clip(1 - (self.temp - 92.0) / 8.0, 0.2, 1.0))
        power = self.idle_w + self.watts_core * self.threads * usage / 100 * throttle
        t_ss = ambient + self.k_th * power / self.cooling
        self.temp += 0.35 * (t_ss - self.temp) + float(rng.normal(0, 0.4))
        self.temp = min(self.temp, 100.0 + float(rng.normal(0, 0.3)))
        share = 1.0 - self.contention
        inst = self.per_thread * self.threads * throttle * share
        h10 = inst * (1 + float(rng.normal(0, 0.03)))
        self.h10 = h10
        self.h60 += (1 - math.exp(-10 / 60)) * (h10 - self.h60)
        self.h15 += (1 - math.exp(-10 / 900)) * (h10 - self.h15)
        run_q = self.threads + self.background + self.contention * self.threads * 1.5
        self.load1 += (1 - math.exp(-10 / 60)) * (run_q - self.load1)
        self.load5 += (1 - math.exp(-10 / 300)) * (run_q - self.load5)
        self.load15 += (1 - math.exp(-10 / 900)) * (run_q - self.load15)
        lam = inst * RIG_INTERVAL_S / (self.diff * 2**32)
        n = int(rng.poisson(max(lam, 0.0)))
        rej = int(rng.binomial(n, min(self.reject_p, 1.0)))
        self.accepted += n - rej
        self.rejected += rej
        self.mem_used = int(np.clip(self.mem_used + rng.normal(0, 2**20), 0, self.mem_total))
        temps = [{"label": self.label, "celsius": r2(self.temp)}]
        if self.label == "Package id 0":
            temps.append({"label": "Core 0", "celsius": r2(self.temp - 2.0)})
        return {
            "uptime_s": self.uptime,
            "load_1m": r2(self.load1),
            "load_5m": r2(self.load5),
            "load_15m": r2(self.load15),
            "cpu_usage_pct": r2(usage),
            "memory_used_bytes": self.mem_used,
            "memory_total_bytes": self.mem_total,
            "temperatures": temps,
            "miner": {
                "algo": "sha256d",
                "kernel": self.kernel,
                "threads": self.threads,
                "batch": 4096,
                "paused": False,
                "hashrate_10s": float(round(self.h10)),
                "hashrate_60s": float(round(self.h60)),
                "hashrate_15m": float(round(self.h15)),
                "pool": {"url": self.pool[0], "user": self.pool[1], "connected": True,
                         "difficulty": float(self.diff), "accepted": self.accepted,
                         "rejected": self.rejected, "stale_dropped": self.stale,
                         "last_share_ts_ms": None, "latency_ms": 40},
                "constraints": [],
            },
            "agent": {"spool_records": 0, "spool_bytes": 0, "spool_dropped": 0, "published": 0,
                      "reconnects": 0, "input_errors": 0},
        }

    def begin_fault(self, fault: str):
        rng = self.rng
        if fault == "fan_failure":
            self.cooling = float(rng.uniform(0.3, 0.45))
        elif fault == "rejection_surge":
            self.reject_p = float(rng.uniform(0.05, 0.30))
        elif fault == "pool_change":
            self.pool = (f"stratum+tcp://x{int(rng.integers(10, 99))}.attacker.example:"
                         f"{int(rng.integers(3000, 9999))}", f"thief{int(rng.integers(1000, 9999))}.x")
        elif fault == "cpu_contention":
            self.contention = float(rng.uniform(0.25, 0.6))

    def fault_tick(self, fault: str, k: int, length: int):
        if fault == "thermal_runaway":
            self.ambient_extra = min(35.0, self.ambient_extra + 0.6)
        elif fault == "dust":
            self.cooling = max(0.45, self.cooling - 0.55 / max(length, 1))


def rig_episode(rng, idx: int, fault: str | None, pre: int, during: int, warmup: int = 60) -> Episode:
    sim = RigSim(rng, f"rig-{idx:05d}")
    ep = Episode("rig", "rig", fault, None)
    for _ in range(warmup):
        sim.step()
    total = pre + during if fault else pre
    dust_labelled = False
    for i in range(total):
        faulty = fault is not None and i >= pre
        if fault is not None and i == pre:
            ep.onset = pre
            sim.begin_fault(fault)
        if faulty:
            sim.fault_tick(fault, i - pre, during)
        ep.samples.append(sim.step())
        if fault == "dust" and faulty:
            dust_labelled = dust_labelled or sim.cooling <= 0.8
            ep.labels.append(dust_labelled)
        else:
            ep.labels.append(faulty)
    if fault == "dust":
        ep.onset = next((i for i, lab in enumerate(ep.labels) if lab), pre)
    return ep


def efficiency_rows(rng: np.random.Generator, n: int):
    """Rows for the efficiency model: a wide grid of settings and conditions per family.

    Returns (family_keys, X, Y) with X = [frequency_mhz, voltage_v, chip_temp_avg_c, ambient_c,
    fan_speed_pct] and Y = [hashrate_ths, power_w] of a healthy miner, measured with the same
    noise as the telemetry (1 % hashrate, 0.5 % power) and a fresh silicon-lottery draw per row,
    so the model learns the family's expectation, not one unit.
    """
    fams, xs, ys = [], [], []
    for _ in range(n):
        key = FAMILY_KEYS[int(rng.integers(len(FAMILY_KEYS)))]
        sim = AsicSim(rng, "grid", key)
        fam = sim.fam
        scale = float(rng.uniform(0.7, 1.3))
        v = preset_voltage(fam, scale) * float(rng.uniform(0.90, 1.05))
        t_avg = float(rng.uniform(35.0, 100.0))
        ambient = float(rng.uniform(5.0, 45.0))
        fan = float(rng.uniform(25.0, 100.0))
        hs, pw = sim.physics(scale, v, [t_avg + 3.0] * fam["boards"], ambient)
        ths = sum(hs) / 1e12 * (1 + float(rng.normal(0, 0.01)))
        watts = (sum(pw) / 0.95 + fam["fans"] * (3 + 30 * (fan / 100) ** 3) + 15.0) \
            * (1 + float(rng.normal(0, 0.005)))
        fams.append(key)
        xs.append([r2(fam["f_nom"] * scale), r2(v), r2(t_avg), r2(ambient), r2(fan)])
        ys.append([ths, watts])
    return fams, np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64)


def fault_length(kind: str, fault: str, rng) -> int:
    if fault == "dust":
        return int(rng.integers(100, 160))
    return int(rng.integers(20, 50))


def make_episodes(kind: str, seed: int, n_normal: int, n_per_fault: int, normal_len: int = 200,
                  start_idx: int = 0) -> list[Episode]:
    """Normal-only episodes plus `n_per_fault` episodes of every fault of this kind."""
    rng = np.random.default_rng(seed)
    faults = ASIC_FAULTS if kind == "asic" else RIG_FAULTS
    make = asic_episode if kind == "asic" else rig_episode
    eps, idx = [], start_idx
    for _ in range(n_normal):
        eps.append(make(rng, idx, None, normal_len, 0))
        idx += 1
    for fault in faults:
        for _ in range(n_per_fault):
            pre = int(rng.integers(30, 60))
            eps.append(make(rng, idx, fault, pre, fault_length(kind, fault, rng)))
            idx += 1
    return eps
