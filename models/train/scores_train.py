"""Train the hub's score models (`alert_scorer`, `cluster_scorer`) on labelled simulated incidents
and export them, with seed 003 metadata, a model card and parity vectors, to `models/<type>/`.

    python scores_train.py            # from models/train, with requirements.txt installed

The hub runs these in its daily batch (hub/src/scores/). Unlike the agent's sentinels they are
supervised: every simulated alert comes from a scenario whose ground truth is known.

Scenarios of one simulated alert (label 1 = an incident someone must act on):
  fault        one rig's hardware fails (overheat, fan, board): high agent score, repeats,
               little history, alone at its site                                        -> 1
  site_event   power or cooling at a site: many rigs of the site alert within the hour  -> 1
  pool_outage  a pool rejects or drops: many rigs on that pool alert within the hour    -> 1
  config_push  a retune was just pushed: hashrate or power moves as intended            -> 0
  flaky        a rig whose sensor is chronically noisy: many past alerts, all scored low -> 0
  transient    a single spike that clears by itself                                      -> 0
3 % of labels are flipped (operators mislabel too). The rule baseline is the agent's own
severity (alert when high or critical) and, for AUC, the agent's score itself.

Clusters (groups of alerts with the same site, pool or hardware class in one hour, see
hub/src/scores/cluster.rs) are simulated the same way: a real site, pool or class incident -> 1;
a coincidence of unrelated alerts or a config rollout -> 0.

The exported graph: raw features -> (x - mean) / scale -> MLP (tanh) -> Sigmoid -> `score`
[N, 1]; only ops tract implements. Must never be retrained by CI; the committed files are what
the hub serves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.metrics import log_loss, precision_score, recall_score, roc_auc_score
from sklearn.neural_network import MLPClassifier

SEED = 20261202
OPSET = 13
IR_VERSION = 8
HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
GITHUB_URL = "https://example.invalid/hashward"  # the workspace's `repository`
TRAINED_AT = dt.datetime(2026, 12, 2, 9, 0, 0, tzinfo=dt.timezone.utc)
WINDOW_DAYS = 30

# Must match hub/src/scores/features.rs ALERT_FEATURES, in order.
ALERT_FEATURES = [
    ("agent_score", "alert_level", "the agent sentinel's anomaly score [0, 1]"),
    ("severity_level", "alert_level", "agent severity: 0 low, 1 medium, 2 high, 3 critical"),
    ("threat_hardware", "alert_level", "1 for overheat, fan failure, board loss, power anomaly"),
    ("threat_pool", "alert_level", "1 for rejection surge or pool change"),
    ("is_asic", "alert_level", "1 when the subject is an ASIC, 0 for the rig itself"),
    ("repeats_24h", "temporal", "earlier alerts of the same rig and subject in the last 24 h"),
    ("rig_alerts_7d", "address_level", "alerts of the rig in the 7 previous batches"),
    ("rig_score_mean_7d", "address_level", "mean hub score of the rig's alerts in the 7 previous batches"),
    ("site_rigs_alerting", "cluster", "other rigs of the same site alerting within 30 min"),
    ("pool_rigs_alerting", "cluster", "other rigs on the same pool alerting within 30 min"),
    ("class_rigs_alerting", "cluster", "other rigs of the same hardware class alerting within 30 min"),
    ("hours_since_config_push", "temporal", "hours since the last config push to the rig (720 = none/capped)"),
]
# Must match hub/src/scores/features.rs CLUSTER_FEATURES, in order.
CLUSTER_FEATURES = [
    ("kind_site", "cluster", "1 when grouped by site"),
    ("kind_pool", "cluster", "1 when grouped by pool"),
    ("kind_class", "cluster", "1 when grouped by hardware class"),
    ("alerts", "statistical", "alerts in the cluster"),
    ("rigs", "statistical", "distinct rigs in the cluster"),
    ("score_max", "statistical", "highest hub alert score"),
    ("score_mean", "statistical", "mean hub alert score"),
    ("score_noisy_or", "statistical", "1 - prod(1 - score) over the alerts"),
    ("span_minutes", "temporal", "minutes from first to last alert"),
    ("hardware_share", "alert_level", "share of alerts with a hardware threat"),
]
PUSH_CAP_H = 720.0


def sim_alerts(rng: np.random.Generator, n: int):
    kinds = ["fault", "site_event", "pool_outage", "config_push", "flaky", "transient"]
    probs = [0.16, 0.08, 0.07, 0.13, 0.20, 0.36]
    scen = rng.choice(len(kinds), size=n, p=probs)
    x = np.zeros((n, len(ALERT_FEATURES)), dtype=np.float64)
    y = np.zeros(n, dtype=np.int64)
    for i, s in enumerate(scen):
        k = kinds[s]
        hw = pool = 0.0
        site = poolc = klass = 0.0
        hist = rng.poisson(0.8)
        hist_mean = rng.uniform(0.1, 0.6) if hist else 0.0
        push_h = min(PUSH_CAP_H, rng.exponential(200.0))
        is_asic = float(rng.random() < 0.7)
        if k == "fault":
            score = rng.uniform(0.6, 1.0)
            hw = 1.0
            rep = rng.poisson(3.0)
            site, poolc, klass = rng.poisson(0.3, 3)
            label = 1
        elif k == "site_event":
            score = rng.uniform(0.5, 0.95)
            hw = 1.0
            rep = rng.poisson(1.0)
            site = rng.integers(3, 25)
            klass = rng.integers(0, int(site) + 1)
            poolc = rng.integers(0, int(site) + 1)
            label = 1
        elif k == "pool_outage":
            score = rng.uniform(0.5, 0.9)
            pool = 1.0
            rep = rng.poisson(1.0)
            poolc = rng.integers(3, 30)
            site = rng.integers(0, 4)
            klass = rng.integers(0, int(poolc) + 1)
            label = 1
        elif k == "config_push":
            score = rng.uniform(0.5, 1.0)
            hw = float(rng.random() < 0.4)
            rep = rng.poisson(1.0)
            push_h = rng.uniform(0.0, 2.0)
            site = rng.integers(0, 10)
            klass = rng.integers(0, int(site) + 1)
            poolc = rng.integers(0, 3)
            label = 0
        elif k == "flaky":
            score = rng.uniform(0.5, 0.95)
            hw = float(rng.random() < 0.8)
            rep = rng.poisson(4.0)
            hist = rng.integers(8, 60)
            hist_mean = rng.uniform(0.05, 0.3)
            site, poolc, klass = rng.poisson(0.3, 3)
            label = 0
        else:  # transient
            score = rng.uniform(0.5, 0.85)
            hw = float(rng.random() < 0.5)
            pool = float(not hw and rng.random() < 0.5)
            rep = 0
            site, poolc, klass = rng.poisson(0.4, 3)
            label = 0
        sev = 3 if score > 0.9 else 2 if score > 0.7 else 1 if score > 0.5 else 0
        x[i] = [score, sev, hw, pool, is_asic, rep, hist, hist_mean, site, poolc, klass, push_h]
        y[i] = label
    flip = rng.random(n) < 0.03
    y[flip] = 1 - y[flip]
    return x.astype(np.float32), y, scen


def sim_clusters(rng: np.random.Generator, n: int):
    x = np.zeros((n, len(CLUSTER_FEATURES)), dtype=np.float64)
    y = np.zeros(n, dtype=np.int64)
    for i in range(n):
        r = rng.random()
        kind = rng.integers(0, 3)
        if r < 0.35:  # a real site / pool / class incident
            rigs = rng.integers(3, 30)
            mean = rng.uniform(0.5, 0.9)
            span = rng.uniform(2, 45)
            share = rng.uniform(0.6, 1.0) if kind != 1 else rng.uniform(0.0, 0.3)
            label = 1
        elif r < 0.55:  # a config rollout: many rigs, all scored low by the alert scorer
            rigs = rng.integers(3, 40)
            mean = rng.uniform(0.05, 0.35)
            span = rng.uniform(1, 30)
            share = rng.uniform(0.0, 0.6)
            label = 0
        else:  # unrelated alerts that happen to share a key
            rigs = rng.integers(1, 5)
            mean = rng.uniform(0.1, 0.6)
            span = rng.uniform(20, 60)
            share = rng.uniform(0.0, 1.0)
            label = 0
        alerts = rigs + rng.poisson(rigs * 0.5)
        scores = np.clip(rng.normal(mean, 0.1, alerts), 0.0, 1.0)
        noisy_or = 1.0 - np.prod(1.0 - scores)
        onehot = [float(kind == 0), float(kind == 1), float(kind == 2)]
        x[i] = onehot + [alerts, rigs, scores.max(), scores.mean(), noisy_or, span, share]
        y[i] = label
    flip = rng.random(n) < 0.03
    y[flip] = 1 - y[flip]
    return x.astype(np.float32), y


def forward32(mlp, mean, scale, x):
    """The numpy float32 twin of the exported graph."""
    h = (x.astype(np.float32) - mean) / scale
    for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_, strict=True)):
        h = h @ w.astype(np.float32) + b.astype(np.float32)
        if i < len(mlp.coefs_) - 1:
            h = np.tanh(h)
    return (1.0 / (1.0 + np.exp(-h))).astype(np.float32)


def export_onnx(mlp, mean, scale, names, props) -> bytes:
    c = lambda name, arr: numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)  # noqa: E731
    inits = [c("mean", mean.reshape(1, -1)), c("scale", scale.reshape(1, -1))]
    nodes = [helper.make_node("Sub", ["features", "mean"], ["centred"]),
             helper.make_node("Div", ["centred", "scale"], ["h0"])]
    cur = "h0"
    for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_, strict=True)):
        inits += [c(f"w{i}", w), c(f"b{i}", b.reshape(1, -1))]
        nodes += [helper.make_node("MatMul", [cur, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"])]
        cur = f"a{i}"
        if i < len(mlp.coefs_) - 1:
            nodes.append(helper.make_node("Tanh", [cur], [f"t{i}"]))
            cur = f"t{i}"
    nodes.append(helper.make_node("Sigmoid", [cur], ["score"]))
    graph = helper.make_graph(
        nodes, props["hashward.model_type"],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, len(names)])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="hashward-train", producer_version="1")
    model.ir_version = IR_VERSION
    for k, v in props.items():
        e = model.metadata_props.add()
        e.key, e.value = k, v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString(deterministic=True)


def commit_hash() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=HERE,
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def fit(model_type, feats, x_tr, y_tr, x_va, y_va, x_te, y_te, hidden, baseline):
    t0 = time.monotonic()
    mean = x_tr.mean(axis=0).astype(np.float32)
    scale = np.maximum(x_tr.std(axis=0), 1e-6).astype(np.float32)
    hp = dict(hidden_layer_sizes=list(hidden), activation="tanh", solver="adam", alpha=1e-4,
              learning_rate_init=0.003, batch_size=256, max_iter=300, early_stopping=True,
              validation_fraction=0.1, n_iter_no_change=20, random_state=SEED)
    mlp = MLPClassifier(**{**hp, "hidden_layer_sizes": tuple(hidden)})
    mlp.fit((x_tr - mean) / scale, y_tr)
    p = lambda x: forward32(mlp, mean, scale, x)[:, 0]  # noqa: E731
    p_tr, p_va, p_te = p(x_tr), p(x_va), p(x_te)
    perf = {
        "train_auc": round(float(roc_auc_score(y_tr, p_tr)), 4),
        "val_auc": round(float(roc_auc_score(y_va, p_va)), 4),
        "train_logloss": round(float(log_loss(y_tr, p_tr)), 4),
        "val_logloss": round(float(log_loss(y_va, p_va)), 4),
        "train_samples": int(len(y_tr)),
        "val_samples": int(len(y_va)),
        "test_samples": int(len(y_te)),
        "test_auc": round(float(roc_auc_score(y_te, p_te)), 4),
        "test_precision_at_0_5": round(float(precision_score(y_te, p_te > 0.5)), 4),
        "test_recall_at_0_5": round(float(recall_score(y_te, p_te > 0.5)), 4),
    }
    b_score, b_pred, b_name = baseline(x_te)
    perf["baseline"] = {
        "rule": b_name,
        "test_auc": round(float(roc_auc_score(y_te, b_score)), 4),
        "test_precision": round(float(precision_score(y_te, b_pred)), 4),
        "test_recall": round(float(recall_score(y_te, b_pred)), 4),
    }

    # Permutation importance: the validation AUC lost when one feature's column is shuffled.
    xv, yv = x_va[:4000], y_va[:4000]
    base_auc = roc_auc_score(yv, p(xv))
    prng = np.random.default_rng(SEED)
    drops = []
    for j in range(len(feats)):
        lost = []
        for _ in range(5):
            xs = xv.copy()
            xs[:, j] = prng.permutation(xs[:, j])
            lost.append(base_auc - roc_auc_score(yv, p(xs)))
        drops.append(float(np.mean(lost)))
    raw = np.maximum(np.array(drops), 0.0)
    norm = raw / raw.sum() if raw.sum() > 0 else raw
    order = np.argsort(-norm)
    importance = [{"feature": feats[j][0], "importance": round(float(norm[j]), 4), "rank": r + 1}
                  for r, j in enumerate(order)]
    minutes = (time.monotonic() - t0) / 60.0
    return mlp, mean, scale, hp, perf, importance, minutes


def write(model_type, feats, mlp, mean, scale, hp, perf, importance, minutes, y_all, x_golden,
          summary, algorithm):
    version = f"{model_type}_v1.0.0_{TRAINED_AT:%Y%m%d_%H%M%S}"
    names = [f[0] for f in feats]
    golden_out = forward32(mlp, mean, scale, x_golden)[:, 0]
    selftest = [{"input": [float(v) for v in x_golden[i]], "score": float(golden_out[i])}
                for i in range(3)]
    props = {"hashward.model_type": model_type, "hashward.version": version,
             "hashward.kind": "scorer", "hashward.features": names,
             "hashward.outputs": ["score"], "hashward.selftest": selftest}
    onnx_bytes = export_onnx(mlp, mean, scale, names, props)
    folder = os.path.join(MODELS, model_type)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(onnx_bytes)
    with open(os.path.join(folder, "golden.jsonl"), "w") as f:
        for i in range(len(x_golden)):
            f.write(json.dumps({"features": [float(v) for v in x_golden[i]],
                                "score": float(golden_out[i])}) + "\n")
    end = TRAINED_AT.date()
    start = end - dt.timedelta(days=WINDOW_DAYS - 1)
    n_pos = int(y_all.sum())
    meta = {
        "model_type": model_type,
        "model_version": version,
        "trained_at": TRAINED_AT.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "training_duration_minutes": round(minutes, 2),
        "algorithm": algorithm,
        "hyperparameters": hp,
        "training_data": {
            "source": "simulated: models/train/scores_train.py (labelled incident scenarios)",
            "simulated": True,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "window_days": WINDOW_DAYS,
            "num_samples": int(len(y_all)),
            "num_positive": n_pos,
            "num_negative": int(len(y_all) - n_pos),
            "positive_rate": round(n_pos / len(y_all), 4),
            "num_features": len(names),
            "feature_names": names,
        },
        "performance": perf,
        "feature_importance": importance,
        "feature_importance_top10": [{"feature": e["feature"], "importance": e["importance"]}
                                     for e in importance[:10]],
        "features": [{"name": n, "group": g, "description": d} for n, g, d in feats],
        "training_summary": summary,
        "model_size_mb": round(len(onnx_bytes) / 1e6, 4),
        "model_size_bytes": len(onnx_bytes),
        "sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        "model_path": f"models/{model_type}/model.onnx",
        "download_url": f"/models/download/{model_type}",
        "github_url": GITHUB_URL,
        "commit_hash": commit_hash(),
    }
    with open(os.path.join(folder, "metadata.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    with open(os.path.join(folder, "MODEL_CARD.md"), "w") as f:
        f.write(card(meta))
    print(f"{model_type}: {json.dumps(perf)}")


def card(m) -> str:
    p, b = m["performance"], m["performance"]["baseline"]
    top = "\n".join(f"| {e['rank']} | `{e['feature']}` | {e['importance']:.4f} |"
                    for e in m["feature_importance"])
    return f"""# {m['model_type']} ({m['model_version']})

Generated by `models/train/scores_train.py`; do not edit by hand.

**What it predicts**: {m['training_summary']['predicts']}

**Runs on**: the hub, in the daily score batch (`hub/src/scores/`), through tract; served at
`/models/metadata/{m['model_type']}` and `/models/download/{m['model_type']}`.

**Algorithm**: {m['algorithm']}.

**Data**: {m['training_data']['num_samples']} **simulated** labelled samples
(positive rate {m['training_data']['positive_rate']}), scenarios documented in
`scores_train.py`; 3 % of labels flipped. Split 60/20/20 into train / validation / held-out test.
No real fleet incident was ever used: these figures say the model learns the simulator's
scenarios, not that it is right about a real fleet.

## Held-out test ({p['test_samples']} samples)

| | AUC | precision | recall |
|---|---|---|---|
| {m['model_type']} (score > 0.5) | {p['test_auc']} | {p['test_precision_at_0_5']} | {p['test_recall_at_0_5']} |
| rule baseline: {b['rule']} | {b['test_auc']} | {b['test_precision']} | {b['test_recall']} |

Train AUC {p['train_auc']}, validation AUC {p['val_auc']}, validation log-loss {p['val_logloss']}.

## Feature importance (permutation, validation AUC drop, normalised)

| rank | feature | importance |
|---|---|---|
{top}

## Known limits

- Simulated scenarios only; the context features (site, pool, class co-alerting, config pushes)
  are what separates the classes by construction.
- Retrain weekly offline from `hashward-hub export alerts` once operators label real alerts.
"""


def main() -> int:
    rng = np.random.default_rng(SEED)
    x, y, _ = sim_alerts(rng, 40000)
    n = len(y)
    a, b = int(n * 0.6), int(n * 0.8)

    def sev_baseline(xt):
        return xt[:, 0], (xt[:, 1] >= 2).astype(int), "agent severity high or critical (AUC: agent score)"

    mlp, mean, scale, hp, perf, imp, minutes = fit(
        "alert_scorer", ALERT_FEATURES, x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], (16, 8), sev_baseline)
    sev = x[:, 1]
    summary = {
        "predicts": "the probability in [0, 1] that an agent alert is an incident someone must act on",
        "label_distribution": {"critical_risk": int((sev == 3).sum()), "high_risk": int((sev == 2).sum()),
                               "medium_risk": int((sev == 1).sum()), "low_risk": int((sev == 0).sum())},
        "feature_groups": group_counts(ALERT_FEATURES),
        "num_processing_dates": WINDOW_DAYS,
    }
    write("alert_scorer", ALERT_FEATURES, mlp, mean, scale, hp, perf, imp, minutes, y, x[b:b + 32],
          summary, "MLP classifier (scikit-learn MLPClassifier, tanh 12-16-8-1, sigmoid output)")

    xc, yc = sim_clusters(rng, 12000)
    n = len(yc)
    a, b = int(n * 0.6), int(n * 0.8)

    def max_baseline(xt):
        return xt[:, 5], (xt[:, 5] > 0.7).astype(int), "highest alert score above 0.7"

    mlp, mean, scale, hp, perf, imp, minutes = fit(
        "cluster_scorer", CLUSTER_FEATURES, xc[:a], yc[:a], xc[a:b], yc[a:b], xc[b:], yc[b:], (12,),
        max_baseline)
    summary = {
        "predicts": "the probability in [0, 1] that a cluster of related alerts is one incident",
        "label_distribution": {"critical_risk": 0, "high_risk": int(yc.sum()), "medium_risk": 0,
                               "low_risk": int(len(yc) - yc.sum())},
        "feature_groups": group_counts(CLUSTER_FEATURES),
        "num_processing_dates": WINDOW_DAYS,
    }
    write("cluster_scorer", CLUSTER_FEATURES, mlp, mean, scale, hp, perf, imp, minutes, yc, xc[b:b + 32],
          summary, "MLP classifier (scikit-learn MLPClassifier, tanh 10-12-1, sigmoid output)")
    return 0


def group_counts(feats):
    groups = {g: 0 for g in ("alert_level", "address_level", "temporal", "statistical", "cluster",
                             "network", "label")}
    for _, g, _ in feats:
        groups[g] += 1
    return groups


if __name__ == "__main__":
    sys.exit(main())
