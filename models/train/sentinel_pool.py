"""Train the hub's pool-level Sentinel (`sentinel_pool`, seed 000 §6) on simulated pool episodes
and export it, with a model card and parity vectors, to `models/sentinel_pool/`.

    python sentinel_pool.py           # from models/train, with requirements.txt installed (~30 s)

What it sees: one row per pool update, the eight pool-level features of
`hub/src/sentinel/features.rs` (POOL_FEATURES, same order, same definitions):

  hashrate_ratio          pool-measured hashrate of our joined workers / what their miners report
  min_worker_log_ratio    ln of the lowest single worker's pool/reported ratio, clamped to 0.01..3
                          (the log spreads "pool lags a restart" (0.2..0.95) from "pool sees nothing")
  invalid_rate            invalid (rejected) shares / all shares since the last update, pool-wide
  stale_rate              stale shares / all shares since the last update, pool-wide
  surging_fraction        share of workers (>= 20 shares this update) with an invalid rate > 5 %
  payout_ratio            payout received / payout the accepted work implies (1 = none this update)
  site_alerting_fraction  the highest share of a site's rigs with an active alert (sites >= 3 rigs)
  hashrate_change         pool-measured total now / its EMA (alpha 0.3) over the previous updates

The simulator (documented per scenario, all seeded): a pool with 3..40 workers spread over 1..4
sites, an update every 5 minutes, 24 updates an episode, the threat (if any) starting at a random
update. Pool-measured hashrate is the miner's times share noise (CV 3..20 % per pool); shares are
Poisson; baseline invalid 0..2 %, stale 0..3 %; payouts (60 % of pools) every 3..12 updates with
5 % luck/fee noise; each rig has an unrelated alert active with probability 0..3 %. Quiet fleets
also have benign events the model must not flag: rig restarts (the pool lags the miner for two
updates: ratio 0.2..0.6 then 0.6..0.95), one rig with a bad overclock (its invalid rate 5..30 %),
a rig taken offline for maintenance (both sides drop).

Threats (label from the update where they start):
  hijack  1..30 % of workers (at least one) mine for someone else: their pool hashrate falls to
          0..50 % at the first update, 0..3 % after, while the miners report full speed
          -> hashrate_hijacking
  shares  40..100 % of the pool's workers see 8..50 % invalid shares at once -> share_manipulation
  payout  a payout arrives at 10..80 % of what the accepted work implies (only that update shows it)
          -> suspicious_payout
  site    50..100 % of one site's rigs (a site of >= 3 rigs) alert and lose 50..100 % of their
          hashrate on both sides (power, cooling, network) -> `unknown` (a site problem)
`ddos_attack` is not modelled: no pool feed gives the hub connection counts.

The ensemble, in the seed's spirit (majority vote of three detectors, mean score):
  mlp    a supervised MLP (tanh 8-32-16-5, softmax over quiet + the four threats);
         its anomaly score is 1 - p(quiet); it also names the threat
  knn    1-nearest-neighbour squared distance to 512 quiet prototypes (k = 1: tract has no TopK
         we rely on), mapped to d / (d + t_knn) with t_knn the 99.5th percentile on quiet data
  maha   Mahalanobis distance to the quiet distribution (an elliptic envelope; isolation forest
         and LOF are tree and neighbourhood methods tract cannot run), m / (m + t_maha) likewise
Each detector's score is 0.5 at its threshold; a detector votes when its score > 0.5; the
ensemble is an anomaly when >= 2 of 3 vote; `score` is the mean of the three. The threat is the
MLP's likeliest threat class when the MLP voted, else `unknown`. Severity follows the seed on the
score (> 0.9 critical, > 0.7 high, > 0.5 medium, else low); a `low` anomaly is logged (the seed's
action), medium and up raise an alert: the figures below count alerts, and the card also gives
every anomaly (`ensemble_all_anomalies` in metadata.json).

The exported graph: raw features [N, 8] -> `score` [N, 1], `detectors` [N, 3] (mlp, knn, maha),
`classes` [N, 5] (quiet, hijack, shares, payout, site); only ops tract implements. Must never be
retrained by CI; the committed files are what the hub serves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

SEED = 20261203
OPSET = 13
IR_VERSION = 8
HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
MODEL_TYPE = "sentinel_pool"
GITHUB_URL = "https://example.invalid/hashward"
TRAINED_AT = dt.datetime(2026, 12, 2, 13, 0, 0, tzinfo=dt.timezone.utc)

# Must match hub/src/sentinel/features.rs POOL_FEATURES, in order.
FEATURES = [
    ("hashrate_ratio", "pool-measured hashrate of the joined workers / what their miners report"),
    ("min_worker_log_ratio", "ln of the lowest single worker's pool-measured / reported hashrate (clamped to 0.01..3)"),
    ("invalid_rate", "invalid shares / all shares since the last update, across the pool's workers"),
    ("stale_rate", "stale shares / all shares since the last update, across the pool's workers"),
    ("surging_fraction", "share of workers (>= 20 shares this update) with an invalid rate above 5 %"),
    ("payout_ratio", "payout received / payout the accepted work implies (1 when no payout this update)"),
    ("site_alerting_fraction", "highest share of one site's rigs with an active alert (sites of >= 3 rigs)"),
    ("hashrate_change", "pool-measured total now / its EMA (alpha 0.3) over the previous updates"),
]
NEUTRAL = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]
CLASSES = ["quiet", "hijack", "shares", "payout", "site"]
THREATS = [None, "hashrate_hijacking", "share_manipulation", "suspicious_payout", "unknown"]
KINDS = ["quiet", "hijack", "shares", "payout", "site"]
UPDATES = 24
SURGE_RATE = 0.05
SURGE_MIN_SHARES = 20
SITE_MIN_RIGS = 3
EMA_ALPHA = 0.3
RATIO_CAP = 3.0
RATIO_FLOOR = 0.01
PROTOTYPES = 512
QUANTILE = 99.5
# The seed's severities on the ensemble score; `low` is logged, medium and up raise an alert.
ALERT_SCORE = 0.5


def episode(rng: np.random.Generator, kind: str):
    """One pool's 24 updates: feature rows, labels (class index per row) and the onset."""
    n = int(rng.integers(3, 41))
    n_sites = int(rng.integers(1, 5))
    site_of = rng.integers(0, n_sites, n)
    h = 10 ** rng.uniform(12, 14, n)
    cv = rng.uniform(0.03, 0.20)
    lam = rng.uniform(20, 300, n)
    p_inv = rng.uniform(0.0, 0.02)
    p_st = rng.uniform(0.0, 0.03)
    has_payout = rng.random() < 0.6
    every = int(rng.integers(3, 13))
    alert_p = rng.uniform(0.0, 0.03)
    restart_p = rng.uniform(0.0, 0.01)
    onset = int(rng.integers(4, UPDATES - 3))
    cls = KINDS.index(kind)

    # Benign events of every episode.
    overclock = int(rng.integers(0, n)) if rng.random() < 0.2 else -1
    oc_rate = rng.uniform(0.05, 0.30)
    maint = int(rng.integers(0, n)) if rng.random() < 0.2 else -1
    maint_at = int(rng.integers(1, UPDATES))

    hijacked = np.zeros(n, bool)
    if kind == "hijack":
        k = max(1, int(round(n * rng.uniform(0.01, 0.30))))
        hijacked[rng.choice(n, k, replace=False)] = True
    surging = np.zeros(n, bool)
    surge_rate = rng.uniform(0.08, 0.5, n)
    if kind == "shares":
        k = max(2, int(np.ceil(n * rng.uniform(0.4, 1.0))))
        surging[rng.choice(n, min(k, n), replace=False)] = True
    hit = np.zeros(n, bool)
    if kind == "site":
        s = int(rng.integers(0, n_sites))
        members = np.flatnonzero(site_of == s)
        if len(members) < SITE_MIN_RIGS:
            extra = rng.choice(np.flatnonzero(site_of != s), SITE_MIN_RIGS - len(members), replace=False)
            site_of[extra] = s
            members = np.flatnonzero(site_of == s)
        k = max(2, int(np.ceil(len(members) * rng.uniform(0.5, 1.0))))
        hit[rng.choice(members, min(k, len(members)), replace=False)] = True
    site_drop = rng.uniform(0.0, 0.5, n)
    if kind == "payout":
        has_payout = True
    short = rng.uniform(0.1, 0.8)

    lag = np.zeros(n, int)  # updates left in a restart's pool lag
    ema = None
    work = 0.0
    rows, labels = [], []
    for t in range(UPDATES):
        active = kind != "quiet" and t >= onset
        reported = h * (1 + 0.01 * rng.standard_normal(n))
        pool = reported * np.maximum(0.0, 1 + cv * rng.standard_normal(n))
        # Restarts: the miner is back at full speed, the pool's window still holds the gap.
        new = (rng.random(n) < restart_p) & (lag == 0)
        lag[new] = 2
        pool = np.where(lag == 2, reported * rng.uniform(0.2, 0.6, n), pool)
        pool = np.where(lag == 1, reported * rng.uniform(0.6, 0.95, n), pool)
        lag = np.maximum(lag - 1, 0)
        # Maintenance: the rig is off on both sides (it reports nothing: not joined).
        joined = np.ones(n, bool)
        if maint >= 0 and maint_at <= t < maint_at + 3:
            joined[maint] = False
            pool[maint] = 0.0
        if active and kind == "hijack":
            first = t == onset
            pool = np.where(hijacked, reported * (rng.uniform(0, 0.5, n) if first else rng.uniform(0, 0.03, n)),
                            pool)
        alerting = rng.random(n) < alert_p
        if active and kind == "site":
            factor = np.where(hit, site_drop, 1.0)
            reported = reported * factor
            pool = pool * factor
            alerting = alerting | hit
        # Shares since the last update, in proportion to what the pool measured.
        rel = pool / h
        total = rng.poisson(lam * np.clip(rel, 0, 3))
        inv_p = np.full(n, p_inv)
        if overclock >= 0:
            inv_p[overclock] = oc_rate
        if active and kind == "shares":
            inv_p = np.where(surging, surge_rate, inv_p)
        inv = rng.binomial(total, np.clip(inv_p, 0, 1))
        st = rng.binomial(total - inv, p_st)
        acc = total - inv - st
        work += float((acc * h / lam).sum())

        # Features, exactly as hub/src/sentinel/features.rs computes them.
        rep_j = reported[joined]
        pool_j = pool[joined]
        rep_sum = rep_j.sum()
        hr_ratio = min(pool_j.sum() / rep_sum, RATIO_CAP) if rep_sum > 0 else 1.0
        ok = rep_j > 0
        min_ratio = float(np.log(np.clip(np.min(pool_j[ok] / rep_j[ok]), RATIO_FLOOR, RATIO_CAP))) if ok.any() else 0.0
        all_sh = total.sum()
        inv_rate = inv.sum() / all_sh if all_sh > 0 else 0.0
        st_rate = st.sum() / all_sh if all_sh > 0 else 0.0
        counted = total >= SURGE_MIN_SHARES
        surging_frac = (float(((inv / np.maximum(total, 1)) > SURGE_RATE)[counted].sum() / counted.sum())
                        if counted.any() else 0.0)
        payout_ratio = 1.0
        if has_payout and t > 0 and (t % every == 0 or (kind == "payout" and t == onset)):
            luck = float(np.exp(0.05 * rng.standard_normal()))
            got = work * luck * (short if (kind == "payout" and t == onset) else 1.0)
            payout_ratio = min(got / work, RATIO_CAP) if work > 0 else 1.0
            work = 0.0
        site_frac = 0.0
        for s in range(n_sites):
            m = site_of == s
            if m.sum() >= SITE_MIN_RIGS:
                site_frac = max(site_frac, float(alerting[m].sum() / m.sum()))
        ptotal = pool.sum()
        change = min(ptotal / ema, RATIO_CAP) if ema and ema > 0 else 1.0
        ema = ptotal if ema is None else EMA_ALPHA * ptotal + (1 - EMA_ALPHA) * ema
        rows.append([hr_ratio, min_ratio, inv_rate, st_rate, surging_frac, payout_ratio, site_frac, change])
        if kind == "payout":
            labels.append(cls if t == onset else 0)
        else:
            labels.append(cls if active else 0)
    return np.array(rows, np.float32), np.array(labels), onset


def simulate(rng, n_episodes):
    xs, ys, kinds, onsets = [], [], [], []
    # Half the episodes are quiet fleets: false positives are what an operator pays for.
    weights = np.array([0.5, 0.125, 0.125, 0.125, 0.125])
    for _ in range(n_episodes):
        kind = KINDS[int(rng.choice(5, p=weights))]
        x, y, onset = episode(rng, kind)
        xs.append(x)
        ys.append(y)
        kinds.append(kind)
        onsets.append(onset)
    return np.stack(xs), np.stack(ys), kinds, np.array(onsets)


class Ensemble:
    def fit(self, x, y, rng):
        self.mean = x.mean(axis=0).astype(np.float32)
        self.scale = np.maximum(x.std(axis=0), 1e-6).astype(np.float32)
        z = (x - self.mean) / self.scale
        self.hp = dict(hidden_layer_sizes=[32, 16], activation="tanh", solver="adam", alpha=1e-4,
                       learning_rate_init=0.003, batch_size=256, max_iter=200, early_stopping=True,
                       validation_fraction=0.1, n_iter_no_change=15, random_state=SEED)
        self.mlp = MLPClassifier(**{**self.hp, "hidden_layer_sizes": (32, 16)})
        self.mlp.fit(z, y)
        quiet = z[y == 0]
        self.protos = quiet[rng.choice(len(quiet), PROTOTYPES, replace=False)].astype(np.float32)
        self.mu = quiet.mean(axis=0).astype(np.float32)
        cov = np.cov(quiet, rowvar=False) + 1e-3 * np.eye(z.shape[1])
        self.chol = np.linalg.cholesky(np.linalg.inv(cov)).astype(np.float32)
        self.t_knn = np.float32(1.0)
        self.t_maha = np.float32(1.0)

    def calibrate(self, x_quiet):
        """Sets each unsupervised detector's threshold to the 99.5th percentile on quiet rows."""
        _, raw_knn, raw_maha = self.raw(x_quiet)
        self.t_knn = np.float32(max(np.percentile(raw_knn, QUANTILE), 1e-3))
        self.t_maha = np.float32(max(np.percentile(raw_maha, QUANTILE), 1e-3))

    def raw(self, x):
        """float32 twin of the graph up to the detectors' raw values."""
        z = (x.astype(np.float32) - self.mean) / self.scale
        h = z
        for i, (w, b) in enumerate(zip(self.mlp.coefs_, self.mlp.intercepts_, strict=True)):
            h = h @ w.astype(np.float32) + b.astype(np.float32)
            if i < len(self.mlp.coefs_) - 1:
                h = np.tanh(h)
        e = np.exp(h - h.max(axis=1, keepdims=True))
        probs = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        zz = (z * z) @ np.ones((z.shape[1], 1), np.float32)
        pp = ((self.protos * self.protos) @ np.ones((z.shape[1], 1), np.float32)).T
        d = np.maximum(zz - 2 * (z @ self.protos.T) + pp, 0).min(axis=1)
        u = (z - self.mu) @ self.chol
        m = ((u * u) @ np.ones((z.shape[1], 1), np.float32))[:, 0]
        return probs, d.astype(np.float32), m.astype(np.float32)

    def forward(self, x):
        probs, d, m = self.raw(x)
        s_mlp = 1 - probs[:, 0]
        s_knn = d / (d + self.t_knn)
        s_maha = m / (m + self.t_maha)
        det = np.stack([s_mlp, s_knn, s_maha], axis=1).astype(np.float32)
        return det.mean(axis=1, keepdims=True).astype(np.float32), det, probs

    def decide(self, x, alerts_only=True):
        """(alarm, class) per row, as hub/src/sentinel/detect.rs decides: an anomaly when >= 2 of 3
        detectors vote; its threat is the MLP's likeliest threat class when the MLP voted, else
        `unknown` (class 4: something no scenario explains); an alert when also score > 0.5."""
        score, det, probs = self.forward(x)
        anomaly = (det > 0.5).sum(axis=1) >= 2
        threat = np.where(det[:, 0] > 0.5, 1 + probs[:, 1:].argmax(axis=1), 4)
        if alerts_only:
            anomaly = anomaly & (score[:, 0] > ALERT_SCORE)
        return anomaly, np.where(anomaly, threat, 0)

    def export(self, props) -> bytes:
        c = lambda name, arr: numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)  # noqa: E731
        f = len(self.mean)
        inits = [c("mean", self.mean.reshape(1, -1)), c("scale", self.scale.reshape(1, -1)),
                 c("ones_f", np.ones((f, 1))), c("protos_t", self.protos.T),
                 c("protos_sq", (self.protos * self.protos).sum(axis=1).reshape(1, -1)),
                 c("two", [2.0]), c("one", [1.0]), c("mu", self.mu.reshape(1, -1)), c("chol", self.chol),
                 c("t_knn", [self.t_knn]), c("t_maha", [self.t_maha]),
                 c("pick_quiet", np.eye(len(CLASSES))[:, :1])]
        N = helper.make_node
        nodes = [N("Sub", ["features", "mean"], ["centred"]), N("Div", ["centred", "scale"], ["z"])]
        cur = "z"
        for i, (w, b) in enumerate(zip(self.mlp.coefs_, self.mlp.intercepts_, strict=True)):
            inits += [c(f"w{i}", w), c(f"b{i}", b.reshape(1, -1))]
            nodes += [N("MatMul", [cur, f"w{i}"], [f"m{i}"]), N("Add", [f"m{i}", f"b{i}"], [f"a{i}"])]
            cur = f"a{i}"
            if i < len(self.mlp.coefs_) - 1:
                nodes.append(N("Tanh", [cur], [f"t{i}"]))
                cur = f"t{i}"
        nodes += [
            N("Softmax", [cur], ["classes"], axis=-1),
            N("MatMul", ["classes", "pick_quiet"], ["p_quiet"]),
            N("Sub", ["one", "p_quiet"], ["s_mlp"]),
            # knn: |z|^2 - 2 z.p + |p|^2, nearest prototype
            N("Mul", ["z", "z"], ["z_sq"]),
            N("MatMul", ["z_sq", "ones_f"], ["zz"]),
            N("MatMul", ["z", "protos_t"], ["zp"]),
            N("Mul", ["zp", "two"], ["zp2"]),
            N("Sub", ["zz", "zp2"], ["d0"]),
            N("Add", ["d0", "protos_sq"], ["d1"]),
            N("Relu", ["d1"], ["d2"]),
            N("ReduceMin", ["d2"], ["d_knn"], axes=[1], keepdims=1),
            N("Add", ["d_knn", "t_knn"], ["d_knn_t"]),
            N("Div", ["d_knn", "d_knn_t"], ["s_knn"]),
            # mahalanobis
            N("Sub", ["z", "mu"], ["zc"]),
            N("MatMul", ["zc", "chol"], ["u"]),
            N("Mul", ["u", "u"], ["u_sq"]),
            N("MatMul", ["u_sq", "ones_f"], ["m_maha"]),
            N("Add", ["m_maha", "t_maha"], ["m_maha_t"]),
            N("Div", ["m_maha", "m_maha_t"], ["s_maha"]),
            N("Concat", ["s_mlp", "s_knn", "s_maha"], ["detectors"], axis=1),
            N("ReduceMean", ["detectors"], ["score"], axes=[1], keepdims=1),
        ]
        graph = helper.make_graph(
            nodes, MODEL_TYPE,
            [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, f])],
            [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 1]),
             helper.make_tensor_value_info("detectors", TensorProto.FLOAT, [None, 3]),
             helper.make_tensor_value_info("classes", TensorProto.FLOAT, [None, len(CLASSES)])],
            inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="hashward-train", producer_version="1")
        model.ir_version = IR_VERSION
        for k, v in props.items():
            e = model.metadata_props.add()
            e.key, e.value = k, v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
        onnx.checker.check_model(model, full_check=True)
        return model.SerializeToString(deterministic=True)


def rule_baseline(x):
    """The seed's fixed thresholds: hashrate down 30 %, invalid above 10 %, payout under 80 % of
    expected; plus half of a site's rigs alerting. Returns (is_anomaly, class)."""
    hij = x[:, 0] < 0.7
    sh = x[:, 2] > 0.1
    pay = x[:, 5] < 0.8
    site = x[:, 6] > 0.5
    cls = np.where(hij, 1, np.where(sh, 2, np.where(pay, 3, np.where(site, 4, 0))))
    return cls > 0, cls


def evaluate(decide, x, y, kinds, onsets):
    """Row-level precision / recall / FPR, and episode-level detection within two updates."""
    flat_x = x.reshape(-1, x.shape[-1])
    anomaly, cls = decide(flat_x)
    anomaly = anomaly.reshape(y.shape)
    cls = cls.reshape(y.shape)
    pos = y > 0
    tp = int((anomaly & pos).sum())
    fp = int((anomaly & ~pos).sum())
    fn = int((~anomaly & pos).sum())
    tn = int((~anomaly & ~pos).sum())
    out = {
        "rows": int(y.size),
        "precision": round(tp / max(tp + fp, 1), 4),
        "recall": round(tp / max(tp + fn, 1), 4),
        "false_positive_rate": round(fp / max(fp + tn, 1), 5),
        "right_threat_when_detected": round(float((cls[anomaly & pos] == y[anomaly & pos]).mean())
                                            if (anomaly & pos).any() else 0.0, 4),
    }
    per_kind = {}
    for k in KINDS:
        idx = [i for i, kk in enumerate(kinds) if kk == k]
        if k == "quiet":
            alarms = sum(bool(anomaly[i].any()) for i in idx)
            per_kind[k] = {"episodes": len(idx), "episodes_with_any_alarm": alarms,
                           "quiet_episode_alarm_rate": round(alarms / max(len(idx), 1), 4)}
            continue
        hit = 0
        for i in idx:
            o = onsets[i]
            window = slice(o, o + 2)
            if ((cls[i, window] == KINDS.index(k)) & anomaly[i, window]).any():
                hit += 1
        per_kind[k] = {"episodes": len(idx), "right_threat_within_two_updates": hit,
                       "rate": round(hit / max(len(idx), 1), 4)}
    out["episodes"] = per_kind
    return out


def main() -> int:
    t0 = time.monotonic()
    rng = np.random.default_rng(SEED)
    x, y, kinds, onsets = simulate(rng, 6000)
    n = len(y)
    a, b = int(n * 0.6), int(n * 0.8)
    f = x.shape[-1]
    ens = Ensemble()
    ens.fit(x[:a].reshape(-1, f), y[:a].reshape(-1), rng)
    xv, yv = x[a:b].reshape(-1, f), y[a:b].reshape(-1)
    ens.calibrate(xv[yv == 0])
    minutes = (time.monotonic() - t0) / 60.0
    test = (x[b:], y[b:], kinds[b:], onsets[b:])
    perf = {"ensemble": evaluate(ens.decide, *test), "rule_baseline": evaluate(rule_baseline, *test),
            "ensemble_all_anomalies": evaluate(lambda v: ens.decide(v, alerts_only=False), *test),
            "thresholds": {"t_knn": float(ens.t_knn), "t_maha": float(ens.t_maha), "quantile": QUANTILE}}
    # Per-detector false-positive rates on quiet test rows (what the vote buys).
    xt, yt = x[b:].reshape(-1, f), y[b:].reshape(-1)
    _, det, _ = ens.forward(xt[yt == 0])
    perf["detector_quiet_fpr"] = {k: round(float((det[:, i] > 0.5).mean()), 5)
                                  for i, k in enumerate(["mlp", "knn", "maha"])}

    # Golden rows: a spread of quiet and threat rows from the test split.
    g_rows = np.concatenate([xt[yt == c][:8] for c in range(len(CLASSES))])
    score, det_g, probs_g = ens.forward(g_rows)
    version = f"{MODEL_TYPE}_v1.0.0_{TRAINED_AT:%Y%m%d_%H%M%S}"
    selftest = [{"input": [float(v) for v in g_rows[i]], "score": float(score[i, 0])} for i in (0, 8, 16, 24, 32)]
    props = {"hashward.model_type": MODEL_TYPE, "hashward.version": version, "hashward.kind": "sentinel_pool",
             "hashward.features": [n for n, _ in FEATURES], "hashward.neutral": NEUTRAL,
             "hashward.outputs": ["score", "detectors", "classes"], "hashward.classes": CLASSES,
             "hashward.selftest": selftest}
    onnx_bytes = ens.export(props)
    folder = os.path.join(MODELS, MODEL_TYPE)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "model.onnx"), "wb") as fh:
        fh.write(onnx_bytes)
    with open(os.path.join(folder, "golden.jsonl"), "w") as fh:
        for i in range(len(g_rows)):
            fh.write(json.dumps({"features": [float(v) for v in g_rows[i]], "score": float(score[i, 0]),
                                 "detectors": [float(v) for v in det_g[i]],
                                 "classes": [float(v) for v in probs_g[i]]}) + "\n")
    counts = {k: kinds.count(k) for k in KINDS}
    meta = {
        "model_type": MODEL_TYPE,
        "model_version": version,
        "trained_at": TRAINED_AT.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "training_duration_minutes": round(minutes, 2),
        "algorithm": "ensemble, majority vote of 3: MLP classifier (tanh 8-32-16-5, softmax), "
                     "1-NN distance to 512 quiet prototypes, Mahalanobis distance to the quiet distribution",
        "hyperparameters": {**ens.hp, "prototypes": PROTOTYPES, "threshold_quantile": QUANTILE,
                            "vote": "2 of 3", "t_knn": float(ens.t_knn), "t_maha": float(ens.t_maha)},
        "training_data": {
            "source": "simulated: models/train/sentinel_pool.py (pool episodes, documented inside)",
            "simulated": True,
            "episodes": len(kinds),
            "updates_per_episode": UPDATES,
            "episodes_by_kind": counts,
            "num_samples": int(y.size),
            "feature_names": [n for n, _ in FEATURES],
            "split": "episodes 60 / 20 / 20: train / calibration / held-out test",
        },
        "classes": CLASSES,
        "threat_types": THREATS,
        "features": [{"name": n, "description": d, "neutral": NEUTRAL[i]} for i, (n, d) in enumerate(FEATURES)],
        "performance": perf,
        "model_size_bytes": len(onnx_bytes),
        "sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        "model_path": f"models/{MODEL_TYPE}/model.onnx",
        "github_url": GITHUB_URL,
    }
    with open(os.path.join(folder, "metadata.json"), "w") as fh:
        json.dump(meta, fh, indent=2)
        fh.write("\n")
    with open(os.path.join(folder, "MODEL_CARD.md"), "w") as fh:
        fh.write(card(meta))
    print(json.dumps(perf, indent=1))
    return 0


def card(m) -> str:
    p = m["performance"]
    e, r, a = p["ensemble"], p["rule_baseline"], p["ensemble_all_anomalies"]

    def eps(d):
        return " | ".join(f"{d['episodes'][k]['rate']}" for k in KINDS[1:])

    feats = "\n".join(f"| `{f['name']}` | {f['description']} | {f['neutral']} |" for f in m["features"])
    return f"""# {m['model_type']} ({m['model_version']})

Generated by `models/train/sentinel_pool.py`; do not edit by hand.

**What it predicts**: per pool update, whether the pool-level picture of our fleet is anomalous
(an ensemble score in [0, 1], majority vote of three detectors) and which threat it looks like:
`hashrate_hijacking`, `share_manipulation`, `suspicious_payout`, or `unknown` (many rigs of one
site in trouble together). `ddos_attack` is never produced: no pool feed gives connection counts.

**Runs on**: the hub (`hub/src/sentinel/`), through tract, on each pool update and on
`POST /api/v1/sentinel/detect`.

**Algorithm**: {m['algorithm']}. Thresholds of the two unsupervised detectors: the
{p['thresholds']['quantile']}th percentile of their raw value on quiet calibration rows.

**Data**: {m['training_data']['episodes']} **simulated** pool episodes of
{m['training_data']['updates_per_episode']} updates ({m['training_data']['episodes_by_kind']}),
split by episode 60 / 20 / 20. No real incident was ever used: these figures say the ensemble
learns the simulator's scenarios, not that it is right about a real fleet.

## Held-out test ({e['rows']} pool updates)

| | precision | recall | false-positive rate (quiet rows) | right threat when detected |
|---|---|---|---|---|
| ensemble (2 of 3 vote) | {e['precision']} | {e['recall']} | {e['false_positive_rate']} | {e['right_threat_when_detected']} |
| rule baseline (seed thresholds) | {r['precision']} | {r['recall']} | {r['false_positive_rate']} | {r['right_threat_when_detected']} |

Episodes whose threat is raised with the right type within two updates of its start
(hijack | shares | payout | site):

| | hijack | shares | payout | site |
|---|---|---|---|---|
| ensemble | {eps(e)} |
| rule baseline | {eps(r)} |

Quiet test episodes (24 updates each) with any alarm: ensemble
{e['episodes']['quiet']['episodes_with_any_alarm']} of {e['episodes']['quiet']['episodes']},
rule baseline {r['episodes']['quiet']['episodes_with_any_alarm']} of {r['episodes']['quiet']['episodes']}.
At the ensemble's row rate a quiet pool polled every 5 minutes (288 updates a day) sees about
{round(e['false_positive_rate'] * 288, 2)} false alerts a day; in the simulator they are mostly
small pools (a handful of workers, or a 3-rig site) where one bad rig or two unrelated alerts
move the pool-wide figures. Every anomaly,
low severity (logged, not alerted) included: precision {a['precision']}, false-positive rate
{a['false_positive_rate']}. Single detectors on quiet test rows, share voting:
{p['detector_quiet_fpr']}.

The rule baseline: hashrate ratio below 0.7 (the seed's "30 % drop"), invalid rate above 0.1,
payout below 80 % of expected, more than half of a site's rigs alerting.

## Features (raw values in, in this order)

| feature | meaning | neutral (missing) |
|---|---|---|
{feats}

## Parity

`golden.jsonl` holds {5 * 8} test rows with the numpy twin's outputs; the hub's test
(`hub/src/sentinel/model.rs`) runs them through tract and requires agreement within 1e-4 on
`score`, `detectors` and `classes`. `hashward.selftest` in the file is checked at load.

## Known limits

- Simulated episodes only; the pool feed the hub has today (Prohashing) reports accepted shares
  only and no payouts, so `invalid_rate`/`stale_rate` come from the miners' own counters and
  `payout_ratio` stays neutral unless a caller of `/api/v1/sentinel/detect` supplies payouts.
- A hijack of one worker in the first update can look like a restart (the pool lags a restarted
  miner); the second update separates them.
"""


if __name__ == "__main__":
    raise SystemExit(main())
