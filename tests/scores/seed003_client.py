#!/usr/bin/env python3
"""Seed 003 validator-style client (stdlib only): walks every endpoint of the hub's score API,
checks each field's type and range, and checks the seed's errors.

    python3 seed003_client.py BASE_URL '{"networks": [...], "dates": {...}, ...}'

Run by tests/score_api.rs. Prints one line per check group and exits non-zero on the first
failure, naming the URL and the field.
"""

import gzip
import json
import re
import sys
import urllib.error
import urllib.request

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MODEL_TYPES = ["alert_scorer", "alert_ranker", "cluster_scorer"]


class Fail(Exception):
    pass


def get(base, path, headers=None):
    req = urllib.request.Request(base + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def get_json(base, path, status=200):
    code, _, body = get(base, path)
    if code != status:
        raise Fail(f"GET {path}: status {code}, expected {status}: {body[:300]!r}")
    try:
        return json.loads(body)
    except ValueError as e:
        raise Fail(f"GET {path}: not JSON: {e}")


def need(cond, where, what):
    if not cond:
        raise Fail(f"{where}: {what}")


def typed(obj, key, types, where):
    need(isinstance(obj, dict) and key in obj, where, f"missing field {key!r}")
    v = obj[key]
    if bool in types or not isinstance(v, bool):
        need(isinstance(v, types), where, f"{key}={v!r} is not {types}")
    else:
        raise Fail(f"{where}: {key}={v!r} is a bool, expected {types}")
    return v


def date_field(obj, key, where):
    v = typed(obj, key, (str,), where)
    need(DATE.match(v), where, f"{key}={v!r} is not YYYY-MM-DD")
    return v


def stamp_field(obj, key, where):
    v = typed(obj, key, (str,), where)
    need(STAMP.match(v), where, f"{key}={v!r} is not an RFC 3339 UTC timestamp")
    return v


def unit(obj, key, where):
    v = typed(obj, key, (int, float), where)
    need(0.0 <= v <= 1.0, where, f"{key}={v} outside [0, 1]")
    return v


def nonneg(obj, key, types, where):
    v = typed(obj, key, types, where)
    need(v >= 0, where, f"{key}={v} is negative")
    return v


def check_health_version(base, networks):
    h = get_json(base, "/health")
    typed(h, "status", (str,), "/health")
    need(h["status"] == "healthy", "/health", f"status {h['status']!r}")
    stamp_field(h, "timestamp", "/health")
    typed(h, "version", (str,), "/health")
    need(typed(h, "database_connected", (bool,), "/health") is True, "/health", "database not connected")
    v = get_json(base, "/version")
    typed(v, "api_version", (str,), "/version")
    models = typed(v, "models", (dict,), "/version")
    for mt in MODEL_TYPES:
        need(isinstance(models.get(mt), str) and models[mt].startswith(("alert_scorer_v", "cluster_scorer_v")),
             "/version", f"models.{mt}={models.get(mt)!r}")
    need(typed(v, "network", (str,), "/version") == networks[0], "/version", "network is not the default")
    typed(v, "github_url", (str,), "/version")
    need(re.match(r"^[0-9a-f]{7,40}$|^unknown$", typed(v, "commit_hash", (str,), "/version")), "/version",
         "commit_hash")
    return models
    

def check_networks(base, cfg, models):
    n = get_json(base, "/networks")
    nets = typed(n, "networks", (list,), "/networks")
    need([x["network"] for x in nets] == cfg["networks"], "/networks", f"networks {nets}")
    need(typed(n, "total_networks", (int,), "/networks") == len(cfg["networks"]), "/networks", "total")
    kind = "single-network" if len(cfg["networks"]) == 1 else "multi-network"
    need(typed(n, "miner_type", (str,), "/networks") == kind, "/networks", f"miner_type {n['miner_type']}")
    for x in nets:
        w = f"/networks[{x['network']}]"
        need(typed(x, "status", (str,), w) == "active", w, "status")
        need(date_field(x, "latest_processing_date", w) == cfg["dates"][x["network"]][0], w, "latest date")
        mv = typed(x, "model_versions", (dict,), w)
        need(all(isinstance(mv.get(mt), str) for mt in MODEL_TYPES), w, f"model_versions {mv}")
        need(typed(x, "total_alerts_scored", (int,), w) == cfg["total_alerts"][x["network"]], w,
             f"total_alerts_scored {x['total_alerts_scored']} != {cfg['total_alerts'][x['network']]}")
        date_field(x, "last_training_date", w)
    for net in cfg["networks"]:
        w = f"/networks/{net}"
        d = get_json(base, w)
        need(d["network"] == net and d["status"] == "active", w, "network/status")
        dates = typed(d, "available_dates", (list,), w)
        need(dates == cfg["dates"][net], w, f"available_dates {dates} != {cfg['dates'][net]}")
        need(typed(d, "total_dates", (int,), w) == len(dates), w, "total_dates")
        need(date_field(d, "latest_processing_date", w) == dates[0], w, "latest")
        mv = typed(d, "model_versions", (dict,), w)
        for mt in MODEL_TYPES:
            e = typed(mv, mt, (dict,), w)
            typed(e, "version", (str,), w + "." + mt)
            stamp_field(e, "trained_at", w + "." + mt)
        unit(typed(mv["alert_scorer"], "performance", (dict,), w), "val_auc", w)
        st = typed(d, "statistics", (dict,), w)
        need(typed(st, "total_alerts_scored", (int,), w) == cfg["total_alerts"][net], w, "statistics total")
        nonneg(st, "total_clusters_scored", (int,), w)
        nonneg(st, "avg_alerts_per_day", (int, float), w)
        need(date_field(st, "first_date", w) == dates[-1] and date_field(st, "last_date", w) == dates[0], w,
             "first/last date")
        date_field(d, "last_training_date", w)
        need(date_field(d, "next_training_date", w) > d["last_training_date"], w, "next training")


def check_models(base):
    m = get_json(base, "/models/metadata")
    typed(m, "github_url", (str,), "/models/metadata")
    typed(m, "commit_hash", (str,), "/models/metadata")
    by_type = {x.get("model_type"): x for x in typed(m, "models", (list,), "/models/metadata")}
    for mt in ["alert_scorer", "cluster_scorer"]:
        need(mt in by_type, "/models/metadata", f"no {mt}")
        x = by_type[mt]
        w = f"/models/metadata[{mt}]"
        typed(x, "model_version", (str,), w)
        stamp_field(x, "trained_at", w)
        nonneg(x, "training_duration_minutes", (int, float), w)
        typed(x, "algorithm", (str,), w)
        typed(x, "hyperparameters", (dict,), w)
        td = typed(x, "training_data", (dict,), w)
        for k in ["start_date", "end_date"]:
            date_field(td, k, w)
        for k in ["window_days", "num_samples", "num_positive", "num_negative", "num_features"]:
            nonneg(td, k, (int,), w)
        need(td["num_positive"] + td["num_negative"] == td["num_samples"], w, "sample counts")
        unit(td, "positive_rate", w)
        perf = typed(x, "performance", (dict,), w)
        for k in ["train_auc", "val_auc"]:
            unit(perf, k, w)
        for k in ["train_logloss", "val_logloss"]:
            nonneg(perf, k, (int, float), w)
        top = typed(x, "feature_importance_top10", (list,), w)
        need(0 < len(top) <= 10, w, "top10 length")
        for f in top:
            typed(f, "feature", (str,), w)
            unit(f, "importance", w)
        nonneg(x, "model_size_mb", (int, float), w)
        need(x["download_url"] == f"/models/download/{mt}", w, "download_url")
        one = get_json(base, f"/models/metadata/{mt}")
        w = f"/models/metadata/{mt}"
        need(one["model_version"] == x["model_version"], w, "version differs from the list")
        need(len(typed(one["training_data"], "feature_names", (list,), w)) == one["training_data"]["num_features"],
             w, "feature_names")
        for k in ["train_samples", "val_samples"]:
            nonneg(one["performance"], k, (int,), w)
        fi = typed(one, "feature_importance", (list,), w)
        need([f["rank"] for f in fi] == list(range(1, len(fi) + 1)), w, "ranks")
        need(all(fi[i]["importance"] >= fi[i + 1]["importance"] for i in range(len(fi) - 1)), w, "order")
        typed(one, "model_path", (str,), w)
        typed(one, "github_url", (str,), w)
        typed(one, "commit_hash", (str,), w)
        code, headers, body = get(base, f"/models/download/{mt}")
        need(code == 200, f"/models/download/{mt}", f"status {code}")
        h = {k.lower(): v for k, v in headers.items()}
        need(h.get("content-type") == "application/octet-stream", f"/models/download/{mt}", "content-type")
        need(f'filename="{x["model_version"]}' in h.get("content-disposition", ""), f"/models/download/{mt}",
             "content-disposition")
        need(len(body) == x["model_size_bytes"], f"/models/download/{mt}", "size")
    trained = by_type["alert_scorer"]["trained_at"][:10]
    s = get_json(base, f"/training/data-summary/{trained}")
    w = "/training/data-summary"
    need(s["training_date"] == trained, w, "training_date")
    dw = typed(s, "data_window", (dict,), w)
    date_field(dw, "start_date", w)
    date_field(dw, "end_date", w)
    nonneg(dw, "window_days", (int,), w)
    nonneg(dw, "num_processing_dates", (int,), w)
    sm = typed(s, "samples", (dict,), w)
    need(sm["positive"] + sm["negative"] == sm["total"], w, "samples")
    unit(sm, "positive_rate", w)
    fe = typed(s, "features", (dict,), w)
    groups = typed(fe, "feature_groups", (dict,), w)
    need(sum(groups.values()) == fe["total_features"], w, "feature groups add up")
    for k in ["alert_level", "address_level", "temporal", "statistical", "cluster", "network", "label"]:
        nonneg(groups, k, (int,), w)
    for k in ["alerts_table", "features_table", "clusters_table", "money_flows_table", "labels_table"]:
        typed(s["data_sources"], k, (str,), w)
    ld = typed(s, "label_distribution", (dict,), w)
    need(sum(ld.values()) == sm["total"], w, "label distribution adds up")
    return trained


def check_lists(base, cfg):
    for net in cfg["networks"]:
        dates = get_json(base, f"/dates/available?network={net}")
        need(dates["dates"] == cfg["dates"][net], "/dates/available", f"{dates}")
        need(dates["total_count"] == len(cfg["dates"][net]), "/dates/available", "total_count")
        latest = get_json(base, f"/dates/latest?network={net}")
        need(latest["latest_date"] == cfg["dates"][net][0], "/dates/latest", "latest_date")
        stamp_field(latest, "processed_at", "/dates/latest")
        for date in cfg["dates"][net] + ["latest"]:
            want_date = cfg["dates"][net][0] if date == "latest" else date
            expected = cfg["alerts_per_date"][net][want_date]
            forms = [f"/{net}/{date}", f"/{date}?network={net}"]
            if net == cfg["networks"][0]:
                forms.append(f"/{date}")
            bodies = []
            for form in forms:
                p = f"/scores/alerts{form}"
                a = get_json(base, p)
                need(a["processing_date"] == want_date, p, "processing_date")
                need(a["model_version"].startswith("alert_scorer_v"), p, "model_version")
                need(typed(a, "total_alerts", (int,), p) == expected, p, f"total_alerts {a['total_alerts']} != {expected}")
                need(len(a["scores"]) == expected, p, "scores length")
                ids = [s["alert_id"] for s in a["scores"]]
                need(ids == sorted(ids) and len(set(ids)) == len(ids), p, "scores ordered by unique alert_id")
                for s in a["scores"]:
                    typed(s, "alert_id", (str,), p)
                    unit(s, "score", p)
                    nonneg(s, "latency_ms", (int, float), p)
                md = typed(a, "metadata", (dict,), p)
                stamp_field(md, "processed_at", p)
                nonneg(md, "total_latency_ms", (int,), p)
                nonneg(md, "avg_latency_ms", (int, float), p)
                bodies.append(a)
            need(all(b == bodies[0] for b in bodies), f"/scores/alerts {date}", "forms disagree")
            p = f"/rankings/alerts/{net}/{date}"
            r = get_json(base, p)
            need(r["model_version"].startswith("alert_scorer_v"), p, "ranker version")
            need(r["total_alerts"] == expected, p, "total")
            ranks = r["rankings"]
            need([x["rank"] for x in ranks] == list(range(1, expected + 1)), p, "ranks 1..n")
            need(all(ranks[i]["score"] >= ranks[i + 1]["score"] for i in range(len(ranks) - 1)), p, "score order")
            by_id = {s["alert_id"]: s["score"] for s in bodies[0]["scores"]}
            need({x["alert_id"]: x["score"] for x in ranks} == by_id, p, "rankings and scores disagree")
            stamp_field(r["metadata"], "processed_at", p)
            p = f"/scores/clusters/{net}/{date}"
            c = get_json(base, p)
            need(c["model_version"].startswith("cluster_scorer_v"), p, "cluster version")
            need(typed(c, "total_clusters", (int,), p) == len(c["scores"]), p, "total_clusters")
            for s in c["scores"]:
                need(re.match(r"^(site|pool|class)/.+/\d{2}h$", typed(s, "cluster_id", (str,), p)), p, "cluster_id")
                unit(s, "score", p)
                nonneg(s, "latency_ms", (int, float), p)
            stamp_field(c["metadata"], "processed_at", p)
            nonneg(c["metadata"], "total_latency_ms", (int,), p)
        # Pagination: pages of 3 concatenate to the whole list.
        d = cfg["dates"][net][0]
        whole = get_json(base, f"/rankings/alerts/{net}/{d}")["rankings"]
        pages = []
        for off in range(0, len(whole), 3):
            page = get_json(base, f"/rankings/alerts/{net}/{d}?limit=3&offset={off}")
            need(page["total_alerts"] == len(whole), "pagination", "total counts the whole batch")
            pages += page["rankings"]
        need(pages == whole, "pagination", "pages differ from the whole list")
        a = get_json(base, f"/scores/alerts/{net}/{d}?limit=2&offset=1")["scores"]
        need(a == get_json(base, f"/scores/alerts/{net}/{d}")["scores"][1:3], "pagination", "scores offset")
    # Several networks: each has its own, disjoint, alerts.
    if len(cfg["networks"]) > 1:
        sets = [set(s["alert_id"] for s in get_json(base, f"/scores/alerts/{n}/latest")["scores"])
                for n in cfg["networks"]]
        need(not set.intersection(*sets), "networks", "an alert is scored in two networks")


def check_errors(base, cfg):
    def detail(path, status, text=None):
        d = get_json(base, path, status)
        need(set(d) == {"detail"}, path, f"body {d}")
        if text is not None:
            need(d["detail"] == text, path, f"detail {d['detail']!r}, expected {text!r}")
        return d["detail"]

    net = cfg["networks"][0]
    for bad in ["2025-13-01", "2025-02-30", "30-10-2025", "2025-1-5", "yesterday"]:
        for p in [f"/scores/alerts/{bad}", f"/rankings/alerts/{bad}", f"/scores/clusters/{bad}",
                  f"/scores/alerts/{net}/{bad}", f"/training/data-summary/{bad}"]:
            d = detail(p, 422)
            need(d == [{"loc": ["path", "processing_date"], "msg": "Invalid date format. Use YYYY-MM-DD",
                        "type": "value_error"}], p, f"422 detail {d}")
    for date in [cfg["future_date"], cfg["failed_date"], cfg["empty_date"]]:
        for p in [f"/scores/alerts/{date}", f"/rankings/alerts/{net}/{date}", f"/scores/clusters/{date}",
                  f"/scores/alerts/{date}?network={net}"]:
            detail(p, 404, f"No scores found for processing_date: {date}")
    for p in ["/networks/ethereum", "/scores/alerts/ethereum/latest", "/scores/alerts/latest?network=ethereum",
              "/dates/latest?network=ethereum", f"/rankings/alerts/ethereum/{cfg['dates'][net][0]}"]:
        detail(p, 404, "Network not found: ethereum")
    for p in ["/models/metadata/alert_ranker", "/models/metadata/xgboost", "/models/download/nope",
              "/models/metadata/..%2F..%2Fetc"]:
        detail(p, 404)
    detail("/training/data-summary/2001-01-01", 404, "No training run found for processing_date: 2001-01-01")
    for q in ["limit=-1", "limit=abc", "limit=100001", "offset=x"]:
        d = get_json(base, f"/scores/alerts/latest?{q}", 422)["detail"]
        need(d[0]["loc"][0] == "query" and d[0]["type"] == "value_error", q, f"{d}")


def check_transport(base):
    code, headers, body = get(base, "/scores/alerts/latest",
                              {"Origin": "https://validator.example", "Accept-Encoding": "gzip"})
    h = {k.lower(): v for k, v in headers.items()}
    need(code == 200, "transport", f"status {code}")
    need(h.get("access-control-allow-origin") == "*", "CORS", f"headers {h}")
    need(h.get("content-encoding") == "gzip", "gzip", f"headers {h}")
    json.loads(gzip.decompress(body))
    code, headers, _ = get(base, "/health", {"Origin": "https://validator.example"})
    need({k.lower(): v for k, v in headers.items()}.get("access-control-allow-origin") == "*", "CORS", "/health")


def main():
    base, cfg = sys.argv[1], json.loads(sys.argv[2])
    try:
        models = check_health_version(base, cfg["networks"])
        print("health/version ok", models)
        check_networks(base, cfg, models)
        print("networks ok")
        trained = check_models(base)
        print("models and training summary ok, trained", trained)
        check_lists(base, cfg)
        print("dates, scores, rankings, clusters, pagination ok")
        check_errors(base, cfg)
        print("errors ok")
        check_transport(base)
        print("CORS and gzip ok")
    except Fail as e:
        print(f"FAIL {e}", file=sys.stderr)
        return 1
    print("ALL OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
