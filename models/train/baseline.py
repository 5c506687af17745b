"""The fixed-threshold rule baseline the sentinels are measured against.

These are the alarms a fleet dashboard ships with by default; they see the same samples and the
same share-counter history (32 samples) as the model. They are not used at run time.

ASIC: hottest chip >= 85 C, any fan below 1000 rpm, total hashrate below 90 % of the nominal the
      miner reports for its preset, or more than 2 % of the history's shares rejected.
Rig:  hottest sensor >= 85 C, 10 s hashrate below 80 % of the 15 min hashrate, or more than 2 %
      of the history's shares rejected.
"""

from __future__ import annotations

import features as F

TEMP_LIMIT_C = 85.0
FAN_MIN_RPM = 1000
HASHRATE_MIN_FRACTION_OF_NOMINAL = 0.90
RIG_HASHRATE_MIN_FRACTION_OF_15M = 0.80
REJECT_LIMIT = 0.02


def asic_rule(t: dict, window: list[dict]) -> bool:
    tmax = F.asic_chip_temp_max(t)
    if tmax is not None and tmax >= TEMP_LIMIT_C:
        return True
    if any(f["rpm"] is not None and f["rpm"] < FAN_MIN_RPM for f in t["fans"]):
        return True
    nominal = t["hashrate"]["nominal"]
    if nominal and t["hashrate"]["total"] < HASHRATE_MIN_FRACTION_OF_NOMINAL * nominal:
        return True
    return F.reject_ratio(window) > REJECT_LIMIT


def rig_rule(t: dict, window: list[dict]) -> bool:
    temps = [F.f32(r["celsius"]) for r in t["temperatures"]]
    if temps and max(temps) >= TEMP_LIMIT_C:
        return True
    m = F.rig_active_miner(t)
    if m is None:
        return False
    if m["hashrate_15m"] > 0 and m["hashrate_10s"] < RIG_HASHRATE_MIN_FRACTION_OF_15M * m["hashrate_15m"]:
        return True
    active = [s for s in window if s["active"]]
    return F.reject_ratio(active) > REJECT_LIMIT
