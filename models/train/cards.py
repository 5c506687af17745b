"""Writes each model's MODEL_CARD.md from its metadata.json (figures are never typed by hand).

    python cards.py          # called by train.py at the end; safe to rerun on its own
"""

from __future__ import annotations

import json
from pathlib import Path

MODELS = Path(__file__).resolve().parent.parent

SIM_NOTE = (
    "**Trained and evaluated on simulated data only.** No real fleet telemetry existed when this "
    "model was made; `models/train/sim.py` generated it from physical relations (hashrate ~ "
    "frequency x chips, power ~ V^2 f, temperature ~ power / airflow + ambient, fan control) with "
    "labelled fault episodes. The figures below say how well the model separates *the simulator's* "
    "faults from *the simulator's* normal operation; expect lower figures on real hardware until it "
    "is retrained on fleet data."
)

FAULT_TEXT = {
    "fan_failure": "fan failure",
    "board_loss": "hashboard loss",
    "thermal_runaway": "thermal runaway (HVAC failure)",
    "dust": "dust build-up (slow airflow loss)",
    "rejection_surge": "share-rejection surge",
    "pool_change": "pool / wallet changed (hijack)",
    "psu_sag": "PSU sag (voltage sag + ripple)",
    "cpu_contention": "foreign CPU load (hashrate drop)",
}


DIRECTION = {"up": "higher than expected", "down": "lower than expected", "both": "either way"}


def pct(x):
    return "n/a" if x is None else f"{100 * x:.1f} %"


def delay(x):
    return "never" if x is None else f"{x:g}"


def sentinel_card(meta: dict) -> str:
    perf = meta["performance"]
    ev = perf["evaluation"]
    m, r = ev["model"], ev["rule_baseline"]
    kind = "an ASIC miner" if meta["model_type"] == "sentinel_asic" else "a CPU-mining host (rig)"
    interval = meta["training_data"]["sample_interval_s"]
    rows = []
    for name, pf in ev["per_fault"].items():
        if name == "normal":
            continue
        rows.append(
            f"| {FAULT_TEXT.get(name, name)} | {pf['episodes']} | {pct(pf['model_recall'])} | {pct(pf['rule_recall'])} "
            f"| {pf['model_within_2_samples']}/{pf['episodes']} | {pf['rule_within_2_samples']}/{pf['episodes']} "
            f"| {delay(pf['model_median_delay'])} | {delay(pf['rule_median_delay'])} "
            f"| {pct(pf['threat_type_accuracy'])} ({pf['expected_threat']}) |"
        )
    normal = ev["per_fault"].get("normal", {})
    feats = "\n".join(
        f"| {i + 1} | `{f['name']}` | {f['unit']} | {f['threat_type']} | {DIRECTION[f['alarm_direction']]} | "
        f"{f['description']} | {f['mean']:.4g} | {f['scale']:.4g} |"
        for i, f in enumerate(meta["features"])
    )
    return f"""# Model card: `{meta['model_type']}`

Version `{meta['model_version']}`, trained {meta['trained_at']}, {meta['model_size_bytes']} bytes,
sha256 `{meta['sha256']}`.

{SIM_NOTE}

## What it predicts

An anomaly score in [0, 1] for each telemetry sample of {kind}, from the sample and a short
window of the ones before it ({meta['training_data']['window_samples']} samples, one every
{interval} s by default). The agent maps the score to seed 000's severities (> 0.9 critical,
> 0.7 high, > 0.5 medium, else low), names the threat after the feature with the largest
normalised reconstruction error (table below), alerts from medium up, and pauses mining by
itself only on a **critical overheat**.

Algorithm: {meta['algorithm']}. It is trained on normal operation only (unsupervised), so it flags
*departures from normal*, including faults it never saw. Score: {meta['score']['formula']}.
Calibration: {meta['score']['calibration']}.

## Inputs

Raw values in this order (standardisation is inside the ONNX graph; a missing reading takes the
neutral value, the training mean):

| # | feature | unit | threat when it drives the score | alarm when | meaning | mean | scale |
|---|---|---|---|---|---|---|---|
{feats}

## How well (held-out simulated episodes)

{meta['training_data']['test_episodes']} held-out episodes from miners the model never saw
(different simulator seed): {normal.get('episodes', 0)} normal ones and the fault episodes below. Per sample, a sample
is positive from the fault's onset to the end of its episode (dust: once airflow loss passes
20 %). Model alert = score > {perf['alert_threshold']} (medium or worse). Baseline = the fixed-threshold
rules in `models/train/baseline.py`, on the same samples.

| | precision | recall | true pos. | false pos. | false neg. |
|---|---|---|---|---|---|
| **{meta['model_type']}** | **{pct(m['precision'])}** | **{pct(m['recall'])}** | {m['tp']} | {m['fp']} | {m['fn']} |
| fixed-threshold rules | {pct(r['precision'])} | {pct(r['recall'])} | {r['tp']} | {r['fp']} | {r['fn']} |

False alarms on the {normal.get('negatives', 0)} samples of the normal episodes: model {normal.get('model_fp', 0)},
rules {normal.get('rule_fp', 0)}.

Per fault (delay = samples from onset to the first alert; "within 2" = alert on the onset sample or
the next):

| fault | episodes | model recall | rule recall | model within 2 | rule within 2 \
| model median delay | rule median delay | threat named right |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

## Known limits

- Simulated data only (see above). Thresholds, fan curves and share rates of real firmware differ.
- Slow faults (dust) are only caught once they push fans or temperatures out of the normal
  range; progressive ones (thermal runaway) are caught a few samples after onset, not at onset.
- The share-reject feature needs at least 20 shares in the 32-sample history, so it reacts in
  tens of samples, slower than a 2 % reject rule, and misses short surges on low-share rigs.
- A legitimate pool change (including failover to a configured backup pool) alerts as a pool
  change until the new pool has been seen for 120 consecutive samples.
- Threat names follow the feature with the largest normalised error; a fault that shows first in
  another feature is named after it (PSU sag partly as hashrate drop). A CPU rig has no fan
  sensor in its telemetry: a stopped CPU fan is reported as overheat, which is what it causes.
- Slopes are per sample: a sampling interval far from {interval} s changes their meaning.
- A miner restart, preset change or legitimate retune can raise a low or medium score for a few
  samples.
"""


def efficiency_card(meta: dict) -> str:
    p = meta["performance"]
    fam_rows = "\n".join(
        f"| {k} | {v['samples']} | {pct(v['mape_hashrate'])} | {pct(v['mape_power'])} |"
        for k, v in p["per_family"].items()
    )
    fams = meta["training_data"]["families"]
    stock = "\n".join(
        f"| {k} | {v['display']} | {v['boards']} x {v['chips']} | {v['f_nom']:g} MHz | {v['v_nom']:g} V | "
        f"{v['ths_nom']:g} TH/s | {v['watts_nom']:g} W |"
        for k, v in fams.items()
    )
    feats = "\n".join(
        f"| {i + 1} | `{f['name']}` | {f['unit']} | {f['description']} | {f['mean']:.4g} | {f['scale']:.4g} |"
        for i, f in enumerate(meta["features"])
    )
    return f"""# Model card: `efficiency_asic`

Version `{meta['model_version']}`, trained {meta['trained_at']}, {meta['model_size_bytes']} bytes,
sha256 `{meta['sha256']}`.

{SIM_NOTE}

## What it predicts

The hashrate (TH/s) and wall power (W) a *healthy* ASIC miner of a known model family should
deliver at its current frequency, chain voltage, chip and ambient temperatures and fan duty.
The agent uses the gap between this expectation and the actual figures as two `sentinel_asic`
features (`hashrate_vs_expected`, `power_vs_expected`), and sweeps it over frequency presets for
the power-target advice (seed 000 section 7: suggestions with expected gain and risk level).

Algorithm: {meta['algorithm']}.

## Inputs

| # | feature | unit | meaning | mean | scale |
|---|---|---|---|---|---|
{feats}

Known families (stock figures, as simulated):

| key | model | boards x chips | stock frequency | stock chain voltage | stock hashrate | stock power |
|---|---|---|---|---|---|---|
{stock}

## How well (held-out simulated settings)

{p['test_samples']} held-out rows (settings 70-130 % of stock frequency, voltage -10..+5 % around the
stock curve, chips 35-100 C, ambient 5-45 C), each with a fresh silicon-lottery draw, so the
error includes unit-to-unit spread (about 1.5 % hashrate, 2 % power) and measurement noise
(1 % / 0.5 %):

| | mean abs. error | 95th percentile abs. error |
|---|---|---|
| hashrate | {pct(p['test_mape_hashrate'])} | {pct(p['test_p95_ape_hashrate'])} |
| power | {pct(p['test_mape_power'])} | {pct(p['test_p95_ape_power'])} |

| family | rows | hashrate error | power error |
|---|---|---|---|
{fam_rows}

## Known limits

- Simulated data only. Four families; any other model gets no prediction (the sentinel then
  uses the miner's nominal hashrate and no power expectation).
- It takes the *measured* chain voltage as input, so a PSU sag lowers the expectation with it;
  the sentinel catches sag through its voltage and power-ripple features instead.
- Outside 70-130 % of stock frequency it extrapolates; the advice never goes there.
- The advice assumes the stock V/f curve (as a ratio to the miner's current point) and that
  cooling stays as it is; treat its risk level as a guide, not a guarantee.
"""


def main(models: Path = MODELS):
    for name in ("sentinel_rig", "sentinel_asic", "efficiency_asic"):
        meta = json.loads((models / name / "metadata.json").read_text())
        card = efficiency_card(meta) if name == "efficiency_asic" else sentinel_card(meta)
        (models / name / "MODEL_CARD.md").write_text(card)


if __name__ == "__main__":
    main()
