"""Train, evaluate and export hashward's on-device models from simulated telemetry.

    cd models/train && python train.py            # writes ../<model_type>/{model.onnx, metadata.json,
                                                  #   MODEL_CARD.md, golden.jsonl} and report.json

Deterministic: a fixed seed drives the simulator and the training, BLAS runs single-threaded, the
training timestamp is a constant (override with --trained-at or SOURCE_DATE_EPOCH), and the ONNX
files are serialised deterministically, so a rerun with the pinned requirements reproduces the
committed files byte for byte. CI does not retrain.

Models:
  efficiency_asic  MLP regressor: (model family, frequency, voltage, temperatures, fan duty)
                   -> expected hashrate (TH/s) and wall power (W) of a healthy miner.
  sentinel_asic    MLP autoencoder over 13 windowed ASIC features (two of them are the gaps to
                   efficiency_asic's expectation); score = calibrated reconstruction error.
  sentinel_rig     the same over 8 windowed CPU-rig features.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import skl2onnx  # noqa: E402
import sklearn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402

import baseline  # noqa: E402
import cards  # noqa: E402
import features as F  # noqa: E402
import onnx_build as OB  # noqa: E402
import sim  # noqa: E402

SEMVER = "1.0.0"
DEFAULT_TRAINED_AT = "2026-11-22T08:00:00Z"
SEED = 20261122
WINDOW = 5
# Score calibration: 0.5 (the medium threshold) at the 99.5th percentile of normal validation
# error; 0.9 (critical) at CRIT_RATIO times that error.
NORMAL_QUANTILE = 0.995
CRIT_RATIO = 20.0
# A feature's reconstruction error counts in units of at least one standard deviation of the
# feature: the network reproduces some inputs almost exactly, and without this floor the small
# reconstruction shifts an anomaly in one input causes in those would name the wrong threat.
REF_ERR_FLOOR = 1.0
REF_QUANTILE = 0.99
ALERT_SCORE = 0.5

HERE = Path(__file__).resolve().parent


def round_floats(x, nd=6):
    if isinstance(x, float):
        return float(round(x, nd)) if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: round_floats(v, nd) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [round_floats(v, nd) for v in x]
    return x


# --------------------------------------------------------------------------------------------
# efficiency_asic
# --------------------------------------------------------------------------------------------


class Efficiency:
    def __init__(self, mlp, mean, scale, y_mean, y_scale):
        self.mlp, self.mean, self.scale, self.y_mean, self.y_scale = mlp, mean, scale, y_mean, y_scale

    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        return OB.efficiency_forward32(self.mlp, self.mean, self.scale, self.y_mean, self.y_scale, rows)

    def expected(self, t: dict):
        """(hashrate H/s, power W) for a telemetry sample, as the agent derives it."""
        # the agent reads the neutral values from the ONNX file, i.e. rounded to f32
        row = F.efficiency_input(t, [float(np.float32(x)) for x in self.mean])
        if row is None:
            nominal = t["hashrate"]["nominal"]
            return (float(nominal) if nominal is not None and nominal > 0 else None, None)
        y = self.predict_rows(np.array([row], dtype=np.float64))[0]
        return (float(y[0]) * 1e12, float(y[1]))


def onehot_rows(fams, xs):
    n = len(F.EFFICIENCY_FAMILIES)
    oh = np.zeros((len(fams), n))
    for i, k in enumerate(fams):
        oh[i, F.EFFICIENCY_FAMILIES.index(k)] = 1.0
    return np.hstack([oh, xs])


def train_efficiency(seed: int):
    fams, xs, ys = sim.efficiency_rows(np.random.default_rng(seed + 1), 24000)
    tfams, txs, tys = sim.efficiency_rows(np.random.default_rng(seed + 2), 6000)
    X, Xt = onehot_rows(fams, xs), onehot_rows(tfams, txs)
    mean = X.mean(axis=0)
    scale = np.maximum(X.std(axis=0), 1e-3)
    y_mean, y_scale = ys.mean(axis=0), ys.std(axis=0)
    hp = dict(hidden_layer_sizes=(32, 32), activation="tanh", solver="adam", alpha=1e-5,
              learning_rate_init=2e-3, batch_size=256, max_iter=300, tol=1e-7, n_iter_no_change=20,
              random_state=seed)
    mlp = MLPRegressor(**hp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit((X - mean) / scale, (ys - y_mean) / y_scale)
    eff = Efficiency(mlp, mean, scale, y_mean, y_scale)
    pred = eff.predict_rows(Xt).astype(np.float64)
    ape = np.abs(pred - tys) / tys
    perf = {
        "test_samples": int(len(tys)),
        "train_samples": int(len(ys)),
        "test_mape_hashrate": float(ape[:, 0].mean()),
        "test_mape_power": float(ape[:, 1].mean()),
        "test_p95_ape_hashrate": float(np.quantile(ape[:, 0], 0.95)),
        "test_p95_ape_power": float(np.quantile(ape[:, 1], 0.95)),
        "per_family": {},
    }
    for k in F.EFFICIENCY_FAMILIES:
        sel = np.array([f == k for f in tfams])
        perf["per_family"][k] = {"mape_hashrate": float(ape[sel, 0].mean()),
                                 "mape_power": float(ape[sel, 1].mean()), "samples": int(sel.sum())}
    hp_out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in hp.items()}
    return eff, perf, hp_out, len(ys)


# --------------------------------------------------------------------------------------------
# sentinels
# --------------------------------------------------------------------------------------------


def episode_features(ep: sim.Episode, kind: str, eff: Efficiency | None):
    """Raw feature rows (None = missing) for every sample of an episode, fresh window state."""
    state = F.WindowState()
    rows, extras = [], []
    for t in ep.samples:
        if kind == "asic":
            pc = state.push(F.asic_snapshot(t))
            exp = eff.expected(t)
            rows.append(F.asic_features(t, state.window(WINDOW), WINDOW, state.history(), exp, pc))
            extras.append(exp)
        else:
            pc = state.push(F.rig_snapshot(t))
            rows.append(F.rig_features(t, state.window(WINDOW), WINDOW, state.history(), pc))
            extras.append(None)
    return rows, extras


def fill(rows, neutral):
    return np.array([[neutral[j] if v is None else v for j, v in enumerate(r)] for r in rows],
                    dtype=np.float64)


class Sentinel:
    def __init__(self, kind, mlp, mean, scale, directions, ref_err, thr_log, slope, neutral):
        self.kind, self.mlp, self.mean, self.scale, self.directions = kind, mlp, mean, scale, directions
        self.ref_err, self.thr_log, self.slope, self.neutral = ref_err, thr_log, slope, neutral
        self.selftest: list[dict] = []

    def score(self, X):
        return OB.sentinel_forward32(self.mlp, self.mean, self.scale, self.directions, self.ref_err, self.thr_log,
                                     self.slope, X)

    def threat(self, contrib_row):
        cat = F.ASIC_FEATURES if self.kind == "asic" else F.RIG_FEATURES
        return cat[int(np.argmax(contrib_row))][2]


def f32s(xs) -> list[float]:
    return [float(np.float32(x)) for x in xs]


def sentinel_selftest(sen: "Sentinel", X: np.ndarray) -> list[dict]:
    """Known answers the agent checks at load: the neutral input, a typical sample and the two
    most anomalous ones. A file whose weights were damaged (NaNs that Relu would swallow, say)
    or a runtime that computes differently fails them instead of serving wrong scores."""
    scores, _ = sen.score(X)
    order = np.argsort(scores, kind="stable")
    picks = [np.asarray(sen.neutral), X[order[len(order) // 2]], X[order[-1]], X[order[-2]]]
    cases = []
    for x in picks:
        x32 = np.array([f32s(x)], dtype=np.float64)
        s, c = sen.score(x32)
        cases.append({"input": f32s(x32[0]), "output": f32s([s[0], *c[0]])})
    return cases


def efficiency_selftest(eff: "Efficiency", X: np.ndarray) -> list[dict]:
    cases = []
    for x in [eff.mean, X[0], X[1], X[2]]:
        x32 = np.array([f32s(x)], dtype=np.float64)
        cases.append({"input": f32s(x32[0]), "output": f32s(eff.predict_rows(x32)[0])})
    return cases


def recon_err(mlp, Xs, directions):
    r = OB.mlp_forward32(mlp, Xs.astype(np.float32))
    return OB.harmful_error(Xs.astype(np.float32), r, directions).astype(np.float64)


def train_sentinel(kind: str, seed: int, eff: Efficiency | None):
    cat = F.ASIC_FEATURES if kind == "asic" else F.RIG_FEATURES
    n_feat = len(cat)
    train_eps = sim.make_episodes(kind, seed + 10, n_normal=160, n_per_fault=0, start_idx=0)
    val_eps = sim.make_episodes(kind, seed + 20, n_normal=60, n_per_fault=0, start_idx=10000)
    test_eps = sim.make_episodes(kind, seed + 30, n_normal=60, n_per_fault=20, start_idx=20000)

    def rows_of(eps):
        out = []
        for ep in eps:
            out.append(episode_features(ep, kind, eff))
        return out

    train_rows = [r for rows, _ in rows_of(train_eps) for r in rows]
    raw = np.array([[np.nan if v is None else v for v in r] for r in train_rows], dtype=np.float64)
    neutral = np.nanmean(raw, axis=0)
    neutral = np.where(np.isnan(neutral), 0.0, neutral)
    X = fill(train_rows, neutral)
    mean = X.mean(axis=0)
    floors = np.array([c[4] for c in cat])
    scale = np.maximum(X.std(axis=0), floors)
    Xs = (X - mean) / scale
    hidden = (16, 6, 16) if n_feat > 10 else (12, 4, 12)
    hp = dict(hidden_layer_sizes=hidden, activation="tanh", solver="adam", alpha=1e-4,
              learning_rate_init=2e-3, batch_size=256, max_iter=200, tol=1e-6, n_iter_no_change=15,
              random_state=seed)
    mlp = MLPRegressor(**hp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(Xs, Xs)
    # each feature's error is measured against its own normal extreme, so a feature the network
    # cannot predict from the others (temperature across sites) does not drown the ones it can
    directions = [c[5] for c in cat]
    ref_err = np.maximum(np.quantile(recon_err(mlp, Xs, directions), REF_QUANTILE, axis=0), REF_ERR_FLOOR)

    val_rows = [r for rows, _ in rows_of(val_eps) for r in rows]
    Xv = fill(val_rows, neutral)
    ev = (recon_err(mlp, ((Xv - mean) / scale), directions) / ref_err).max(axis=1)
    thr = float(np.quantile(ev, NORMAL_QUANTILE))
    thr_log = math.log(thr)
    slope = math.log(9.0) / math.log(CRIT_RATIO)
    sen = Sentinel(kind, mlp, mean, scale, directions, ref_err, thr_log, slope, neutral)

    test_feats = rows_of(test_eps)
    evaluation = evaluate(sen, test_eps, test_feats, kind)
    X_test = np.vstack([fill(rows, neutral) for rows, _ in test_feats])
    sen.selftest = sentinel_selftest(sen, X_test)
    hp_out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in hp.items()}
    hp_out.update({"window_samples": WINDOW, "normal_quantile": NORMAL_QUANTILE, "critical_error_ratio": CRIT_RATIO,
                   "ref_err_floor": REF_ERR_FLOOR,
                   "ref_err_quantile": REF_QUANTILE})
    data = {"train_samples": int(len(X)), "val_samples": int(len(Xv)),
            "train_episodes": len(train_eps), "val_episodes": len(val_eps), "test_episodes": len(test_eps)}
    return sen, evaluation, hp_out, data, test_eps


def evaluate(sen: Sentinel, eps, feats, kind):
    """Per-sample precision / recall of the model (score > 0.5) and the fixed-threshold rules on
    the same held-out episodes, per-fault recall, threat-type accuracy and detection delays."""
    tp = fp = fn = tn = 0
    btp = bfp = bfn = btn = 0
    per_fault = {}
    for ep, (rows, _) in zip(eps, feats, strict=True):
        X = fill(rows, sen.neutral)
        scores, contrib = sen.score(X)
        state = F.WindowState()
        rule = []
        for t in ep.samples:
            snap = F.asic_snapshot(t) if kind == "asic" else F.rig_snapshot(t)
            state.push(snap)
            rule.append(baseline.asic_rule(t, state.history()) if kind == "asic"
                        else baseline.rig_rule(t, state.history()))
        pf = per_fault.setdefault(ep.fault or "normal", {
            "episodes": 0, "positives": 0, "model_tp": 0, "rule_tp": 0, "model_fp": 0, "rule_fp": 0,
            "negatives": 0, "threat_ok": 0, "model_delays": [], "rule_delays": []})
        pf["episodes"] += 1
        first_m = first_r = None
        for i, lab in enumerate(ep.labels):
            m = bool(scores[i] > ALERT_SCORE)
            r = bool(rule[i])
            if lab:
                pf["positives"] += 1
                tp += m
                fn += not m
                btp += r
                bfn += not r
                pf["model_tp"] += m
                pf["rule_tp"] += r
                if m and sen.threat(contrib[i]) == sim.expected_threat(kind, ep.fault):
                    pf["threat_ok"] += 1
                if m and first_m is None:
                    first_m = i - ep.onset
                if r and first_r is None:
                    first_r = i - ep.onset
            else:
                pf["negatives"] += 1
                fp += m
                tn += not m
                bfp += r
                btn += not r
                pf["model_fp"] += m
                pf["rule_fp"] += r
        if ep.fault:
            pf["model_delays"].append(first_m)
            pf["rule_delays"].append(first_r)

    def pr(tp_, fp_, fn_):
        p = tp_ / (tp_ + fp_) if tp_ + fp_ else 0.0
        r = tp_ / (tp_ + fn_) if tp_ + fn_ else 0.0
        return p, r

    mp, mr = pr(tp, fp, fn)
    bp, br = pr(btp, bfp, bfn)
    out = {
        "model": {"precision": mp, "recall": mr, "tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "rule_baseline": {"precision": bp, "recall": br, "tp": btp, "fp": bfp, "fn": bfn, "tn": btn},
        "per_fault": {},
    }
    for name, pf in per_fault.items():
        d = {"episodes": pf["episodes"], "positives": pf["positives"], "negatives": pf["negatives"],
             "model_fp": pf["model_fp"], "rule_fp": pf["rule_fp"]}
        if name != "normal":
            md = [x for x in pf["model_delays"] if x is not None]
            rd = [x for x in pf["rule_delays"] if x is not None]
            d.update({
                "model_recall": pf["model_tp"] / pf["positives"] if pf["positives"] else 0.0,
                "rule_recall": pf["rule_tp"] / pf["positives"] if pf["positives"] else 0.0,
                "threat_type_accuracy": pf["threat_ok"] / pf["model_tp"] if pf["model_tp"] else 0.0,
                "expected_threat": sim.expected_threat(kind, name),
                "model_detected_episodes": len(md),
                "rule_detected_episodes": len(rd),
                "model_within_2_samples": sum(1 for x in md if x <= 1),
                "rule_within_2_samples": sum(1 for x in rd if x <= 1),
                "model_median_delay": float(np.median(md)) if md else None,
                "rule_median_delay": float(np.median(rd)) if rd else None,
            })
        out["per_fault"][name] = d
    return out


# --------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------


def version_of(model_type: str, trained_at: dt.datetime) -> str:
    return f"{model_type}_v{SEMVER}_{trained_at.strftime('%Y%m%d_%H%M%S')}"


def write_model(out_dir: Path, model_type: str, onnx_bytes: bytes, metadata: dict):
    d = out_dir / model_type
    d.mkdir(parents=True, exist_ok=True)
    (d / "model.onnx").write_bytes(onnx_bytes)
    metadata["model_size_bytes"] = len(onnx_bytes)
    metadata["model_size_mb"] = round(len(onnx_bytes) / 1e6, 4)
    metadata["sha256"] = hashlib.sha256(onnx_bytes).hexdigest()
    metadata["model_path"] = f"{model_type}/model.onnx"
    metadata["download_url"] = f"/models/download/{model_type}"
    (d / "metadata.json").write_text(json.dumps(round_floats(metadata), indent=2) + "\n")


def write_golden(path: Path, lines: list[dict]):
    with path.open("w") as f:
        for line in lines:
            f.write(json.dumps(round_floats(line, 9), separators=(",", ":")) + "\n")


def degrade_asic(t: dict, variant: int) -> dict:
    """Telemetry with readings missing, to pin the missing-value rules in the golden vectors."""
    t = json.loads(json.dumps(t))
    if variant == 0:
        t["temperature"]["max_chip"] = None
        t["temperature"]["avg_chip"] = None
        t["temperature"]["ambient"] = None
        t["power"]["consumption"] = None
    elif variant == 1:
        t["model"] = "Antminer L7"
        t["fans"] = []
        t["pool"] = None
        t["power"]["voltage_v"] = None
        t["config"]["frequency_mhz"] = None
    return t


def asic_golden(sen: Sentinel, eff: Efficiency, eps) -> list[dict]:
    lines = []
    chosen = []
    for fault in [None] + sim.ASIC_FAULTS:
        ep = next(e for e in eps if e.fault == fault)
        start = 0 if fault is None else max(0, ep.onset - 8)
        chosen.append((ep.samples[start:start + 20], fault))
    base = next(e for e in eps if e.fault is None)
    chosen.append(([degrade_asic(t, 0) for t in base.samples[:8]], "degraded_missing_temps_power"))
    chosen.append(([degrade_asic(t, 1) for t in base.samples[8:16]], "degraded_unknown_model"))
    for k, (samples, label) in enumerate(chosen):
        state = F.WindowState()
        for i, t in enumerate(samples):
            pc = state.push(F.asic_snapshot(t))
            exp = eff.expected(t)
            raw = F.asic_features(t, state.window(WINDOW), WINDOW, state.history(), exp, pc)
            X = fill([raw], sen.neutral)
            score, contrib = sen.score(X)
            lines.append({"stream": k, "index": i, "label": label, "telemetry": t,
                          "expected": [exp[0], exp[1]], "features": raw,
                          "model_input": [float(np.float32(v)) for v in X[0]],
                          "score": float(score[0]), "threat_type": sen.threat(contrib[0])})
    return lines


def rig_golden(sen: Sentinel, eps) -> list[dict]:
    lines = []
    chosen = []
    for fault in [None] + sim.RIG_FAULTS:
        ep = next(e for e in eps if e.fault == fault)
        start = 0 if fault is None else max(0, ep.onset - 8)
        chosen.append((ep.samples[start:start + 20], fault))
    base = next(e for e in eps if e.fault is None)
    odd = [json.loads(json.dumps(t)) for t in base.samples[:10]]
    for i in (3, 4):
        odd[i]["miner"]["paused"] = True
    odd[6]["miner"] = None
    odd[8]["temperatures"] = []
    chosen.append((odd, "degraded_paused_no_miner_no_temps"))
    for k, (samples, label) in enumerate(chosen):
        state = F.WindowState()
        for i, t in enumerate(samples):
            pc = state.push(F.rig_snapshot(t))
            raw = F.rig_features(t, state.window(WINDOW), WINDOW, state.history(), pc)
            X = fill([raw], sen.neutral)
            score, contrib = sen.score(X)
            lines.append({"stream": k, "index": i, "label": label, "telemetry": t, "features": raw,
                          "model_input": [float(np.float32(v)) for v in X[0]],
                          "score": float(score[0]), "threat_type": sen.threat(contrib[0])})
    return lines


def efficiency_golden(eff: Efficiency, eps) -> list[dict]:
    lines = []
    for ep in eps[:40]:
        t = ep.samples[len(ep.samples) // 2]
        row = F.efficiency_input(t, [float(np.float32(x)) for x in eff.mean])
        if row is None:
            continue
        y = eff.predict_rows(np.array([row]))[0]
        lines.append({"telemetry": t, "features": row, "expected": [float(y[0]), float(y[1])]})
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE.parent), help="models directory (default: ..)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--trained-at", default=None,
                    help=f"UTC timestamp recorded as trained_at (default: SOURCE_DATE_EPOCH or {DEFAULT_TRAINED_AT})")
    args = ap.parse_args()
    if args.trained_at:
        trained_at = dt.datetime.fromisoformat(args.trained_at.replace("Z", "+00:00"))
    elif os.environ.get("SOURCE_DATE_EPOCH"):
        trained_at = dt.datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), dt.timezone.utc)
    else:
        trained_at = dt.datetime.fromisoformat(DEFAULT_TRAINED_AT.replace("Z", "+00:00"))
    trained_iso = trained_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = Path(args.out)
    report = {"seed": args.seed, "trained_at": trained_iso,
              "versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__,
                           "onnx": OB.onnx.__version__, "skl2onnx": skl2onnx.__version__}}

    # ---- efficiency_asic
    print("training efficiency_asic ...", flush=True)
    eff, eff_perf, eff_hp, eff_n = train_efficiency(args.seed)
    v_eff = version_of("efficiency_asic", trained_at)
    eff_names = [f[0] for f in F.EFFICIENCY_FEATURES]
    fam_table = {k: {kk: sim.FAMILIES[k][kk] for kk in ("display", "boards", "chips", "fans", "f_nom", "v_nom",
                                                          "ths_nom", "watts_nom")} for k in F.EFFICIENCY_FAMILIES}
    st_rows = sim.efficiency_rows(np.random.default_rng(args.seed + 3), 3)
    props = {"hashward.model_type": "efficiency_asic", "hashward.version": v_eff,
             "hashward.kind": "efficiency", "hashward.features": eff_names, "hashward.window": "1",
             "hashward.neutral": [float(np.float32(x)) for x in eff.mean],
             "hashward.outputs": ["hashrate_ths", "power_w"], "hashward.families": fam_table,
             "hashward.selftest": efficiency_selftest(eff, onehot_rows(*st_rows[:2]))}
    eff_bytes = OB.efficiency_onnx(eff.mlp, eff.mean, eff.scale, eff.y_mean, eff.y_scale, props)
    eff_meta = {
        "model_type": "efficiency_asic", "model_version": v_eff, "trained_at": trained_iso,
        "algorithm": "MLP regressor (scikit-learn MLPRegressor, tanh), standardised inputs and targets",
        "hyperparameters": eff_hp | {"random_state": args.seed},
        "training_data": {"source": "simulated: models/train/sim.py efficiency_rows (physics grid)",
                          "simulated": True, "seed": args.seed + 1, "num_samples": eff_n,
                          "num_features": len(eff_names), "feature_names": eff_names,
                          "families": fam_table},
        "features": [{"name": n, "unit": u, "description": d, "mean": float(eff.mean[i]),
                      "scale": float(eff.scale[i]), "neutral": float(eff.mean[i])}
                     for i, (n, u, d) in enumerate(F.EFFICIENCY_FEATURES)],
        "scaling": "x_scaled = (x - mean) / scale, inside the ONNX graph; targets unscaled inside too",
        "inputs": {"features": ["N", len(eff_names)]},
        "outputs": {"expected": {"shape": ["N", 2], "columns": ["hashrate_ths", "power_w"]}},
        "performance": eff_perf,
    }
    write_model(out, "efficiency_asic", eff_bytes, eff_meta)
    report["efficiency_asic"] = eff_perf

    # ---- sentinels
    for kind in ("asic", "rig"):
        mt = f"sentinel_{kind}"
        print(f"training {mt} ...", flush=True)
        sen, ev, hp, data, test_eps = train_sentinel(kind, args.seed + (100 if kind == "rig" else 0),
                                                     eff if kind == "asic" else None)
        cat = F.ASIC_FEATURES if kind == "asic" else F.RIG_FEATURES
        names = [c[0] for c in cat]
        ver = version_of(mt, trained_at)
        props = {"hashward.model_type": mt, "hashward.version": ver, "hashward.kind": "sentinel",
                 "hashward.features": names, "hashward.window": str(WINDOW),
                 "hashward.neutral": [float(np.float32(x)) for x in sen.neutral],
                 "hashward.outputs": ["score", "contrib"], "hashward.selftest": sen.selftest}
        onnx_bytes = OB.sentinel_onnx(sen.mlp, sen.mean, sen.scale, sen.directions, sen.ref_err, sen.thr_log,
                                      sen.slope, props)
        meta = {
            "model_type": mt, "model_version": ver, "trained_at": trained_iso,
            "algorithm": "MLP autoencoder (scikit-learn MLPRegressor, tanh "
                         + "-".join(str(x) for x in [len(names), *hp["hidden_layer_sizes"], len(names)])
                         + "), anomaly score = calibrated largest normalised one-sided reconstruction error",
            "hyperparameters": hp | {"random_state": args.seed + (100 if kind == "rig" else 0)},
            "training_data": {"source": f"simulated: models/train/sim.py ({kind} episodes, normal operation only)",
                              "simulated": True, "unsupervised": True, "num_samples": data["train_samples"],
                              "num_positive": 0, "num_negative": data["train_samples"], "positive_rate": 0.0,
                              "num_features": len(names), "feature_names": names,
                              "window_samples": WINDOW,
                              "sample_interval_s": sim.ASIC_INTERVAL_S if kind == "asic" else sim.RIG_INTERVAL_S,
                              "validation_samples": data["val_samples"],
                              "test_episodes": data["test_episodes"]},
            "features": [{"name": c[0], "unit": c[1], "threat_type": c[2], "description": c[3], "alarm_direction": c[5],
                          "mean": float(sen.mean[i]), "scale": float(sen.scale[i]),
                          "neutral": float(sen.neutral[i]), "ref_err": float(sen.ref_err[i])}
                         for i, c in enumerate(cat)],
            "scaling": "x_scaled = (x - mean) / scale, inside the ONNX graph; missing inputs take `neutral`",
            "score": {"formula": "score = sigmoid(slope * (ln(max_i(contrib_i) + 1e-12) - threshold_log)); "
                                 "contrib_i = harm_i^2 / ref_err_i, harm_i = the part of (x_scaled_i - recon_i) on "
                                 "the feature's alarm_direction side "
                                 "(up: positive part, down: negative part, both: abs)",
                      "threshold_log": sen.thr_log, "threshold_error": math.exp(sen.thr_log), "slope": sen.slope,
                      "calibration": f"ref_err_i = {REF_QUANTILE} quantile of feature i's normal squared error; "
                                     f"0.5 at the {NORMAL_QUANTILE} quantile of normal validation max error, "
                                     f"0.9 at {CRIT_RATIO}x that error",
                      "severity": "seed 000: > 0.9 critical, > 0.7 high, > 0.5 medium, else low"},
            "inputs": {"features": ["N", len(names)]},
            "outputs": {"score": {"shape": ["N", 1]}, "contrib": {"shape": ["N", len(names)],
                                                                  "meaning": "per-feature share of the error; "
                                                                             "argmax names the threat"}},
            "performance": {
                "test_precision": ev["model"]["precision"], "test_recall": ev["model"]["recall"],
                "baseline_precision": ev["rule_baseline"]["precision"],
                "baseline_recall": ev["rule_baseline"]["recall"],
                "alert_threshold": ALERT_SCORE, "evaluation": ev,
            },
        }
        if kind == "asic":
            meta["depends_on"] = {"efficiency_asic": "hashrate_vs_expected and power_vs_expected use its "
                                                     "prediction (nominal hashrate when it cannot predict)"}
        write_model(out, mt, onnx_bytes, meta)
        golden = asic_golden(sen, eff, test_eps) if kind == "asic" else rig_golden(sen, test_eps)
        write_golden(out / mt / "golden.jsonl", golden)
        if kind == "asic":
            write_golden(out / "efficiency_asic" / "golden.jsonl", efficiency_golden(eff, test_eps))
        report[mt] = ev
        print(json.dumps(round_floats({"model": ev["model"], "rule": ev["rule_baseline"]}, 4)), flush=True)

    report_path = HERE / "report.json" if out.resolve() == HERE.parent else out / "report.json"
    report_path.write_text(json.dumps(round_floats(report), indent=2) + "\n")
    cards.main(out)
    print("done", flush=True)


if __name__ == "__main__":
    main()
