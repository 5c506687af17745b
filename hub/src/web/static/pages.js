// One function per page: each fetches what it shows from the hub's API and returns HTML. Every
// number is a `num` (tagged with the route and JSON pointer it came from); a section whose route
// answers 404 says plainly that its data is not there yet.
import { esc, num, tile, section, empty, table, badge, generic, lineChart, hashrate, watts, celsius, fixed, plain, ago, time } from "./ui.js";

const DAY = 24 * 3600 * 1000;

// The outcome of the last action, kept across the 5 s re-renders.
let actionResult = "";
export function setActionResult(text) { actionResult = text; }
const enc = encodeURIComponent;
const ptr = (...p) => "/" + p.map((x) => String(x).replace(/~/g, "~0").replace(/\//g, "~1")).join("/");
const rigLink = (rig) => `<a href="#/rig/${enc(rig)}">${esc(rig)}</a>`;
const asicLink = (rig, id) => `<a href="#/rig/${enc(rig)}/asic/${enc(id)}">${esc(id)}</a>`;

// A section fed by a route other parts of the hub serve (collectors, economics, alerts, scores):
// its data as served, or why there is none. Its failure is shown in the section, never breaks
// the page.
async function pending(title, path, missing) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  if (r.status === 404) return section(title, empty(missing));
  const body = await r.json().catch(() => null);
  if (!r.ok) return section(title, empty(`${path} answered HTTP ${r.status}: ${body?.error ?? body?.detail ?? "no detail"}`));
  return section(title, generic(body));
}

export async function fleet(api) {
  const S = "/fleet/overview";
  const o = (await api(S)).body;
  const tiles = [
    tile("Rigs online", `${num(S, "/rigs_online", o.rigs_online)} / ${num(S, "/rigs_total", o.rigs_total)}`),
    tile("ASICs online", `${num(S, "/asics_online", o.asics_online)} / ${num(S, "/asics_total", o.asics_total)}`),
    ...o.hashrate_by_algo.map((a, i) =>
      tile(a.source === "asic" ? `ASIC hashrate (${a.workers})` : `${a.algo} CPU hashrate (${a.workers})`, num(S, ptr("hashrate_by_algo", i, "hashrate_hs"), a.hashrate_hs, hashrate))),
    tile("ASIC power", num(S, "/power_w", o.power_w, watts)),
    tile("Efficiency J/TH", num(S, "/j_per_th", o.j_per_th, fixed(2))),
    tile("Alerts, 24 h", num(S, "/alerts_24h", o.alerts_24h)),
  ];
  if (!o.hashrate_by_algo.length) tiles.push(tile("Hashrate", "—"));
  const rows = o.rigs.map((r, i) => [
    rigLink(r.rig),
    esc(r.site),
    badge(r.online),
    esc(r.cpu_algo ?? "—"),
    num(S, ptr("rigs", i, "cpu_hashrate_hs"), r.cpu_hashrate_hs, hashrate),
    num(S, ptr("rigs", i, "max_temp_c"), r.max_temp_c, celsius),
    `${num(S, ptr("rigs", i, "asics_online"), r.asics_online)} / ${num(S, ptr("rigs", i, "asics_total"), r.asics_total)}`,
    num(S, ptr("rigs", i, "asic_hashrate_hs"), r.asic_hashrate_hs, hashrate),
    num(S, ptr("rigs", i, "power_w"), r.power_w, watts),
    num(S, ptr("rigs", i, "anomaly_score"), r.anomaly_score, fixed(3)) + (r.anomaly_subject ? ` <span class="muted">${esc(r.anomaly_subject)}</span>` : ""),
    num(S, ptr("rigs", i, "alerts_24h"), r.alerts_24h),
    esc(ago(r.last_seen_ms)),
  ]);
  const econ = await pending("Revenue, cost and profit per day", "/fleet/economics", "no economics yet (economics not configured)");
  const open = await pending("Open alerts", "/alerts", "no alert lifecycle yet (notifications not configured); raised alerts are on each rig's page");
  const models = await api("/models/metadata");
  return `<h1>Fleet</h1><div class="tiles">${tiles.join("")}</div>
${econ}
${open}
${section("Rigs", table(["rig", "site", "state", "CPU algo", "CPU hashrate", "max temp", "ASICs", "ASIC hashrate", "power", "worst anomaly", "alerts 24 h", "last seen"], rows) || empty("no rig has reported yet"))}
${section("Models", models.status === 404 ? empty("model registry not served (hub started without --models-dir)") : generic(models.body))}`;
}

export async function rig(api, id) {
  const R = `/rigs/${enc(id)}`;
  const r = await api(R);
  if (r.status === 404) return `<h1>Rig ${esc(id)}</h1>${empty("no such rig at this hub")}`;
  const e = r.body;
  const O = "/fleet/overview";
  const o = (await api(O)).body;
  const i = o.rigs.findIndex((x) => x.rig === id);
  const row = o.rigs[i];
  const C = `/charts/rigs/${enc(id)}?hours=24`;
  const c = (await api(C)).body;
  const since = Date.now() - DAY;
  const A = `${R}/alerts?from=${since}`;
  const alerts = (await api(A)).body.records;
  const V = `${R}/advice?from=${Date.now() - 3600 * 1000}`;
  const advice = (await api(V)).body.records;
  const F = "/fleet/config";
  const rollout = (await api(F)).body;
  const ser = (n) => c.series.find((s) => s.name === n);
  const m = e.last_telemetry?.miner;
  const tiles = [
    tile("State", `${badge(e.online)} <span class="muted">${esc(ago(e.last_seen_ms))}</span>`),
    tile(`CPU hashrate${m ? ` (${m.algo})` : ""}`, num(O, ptr("rigs", i, "cpu_hashrate_hs"), row?.cpu_hashrate_hs, hashrate)),
    tile("Max temperature", num(O, ptr("rigs", i, "max_temp_c"), row?.max_temp_c, celsius)),
    tile("ASICs online", `${num(O, ptr("rigs", i, "asics_online"), row?.asics_online)} / ${num(O, ptr("rigs", i, "asics_total"), row?.asics_total)}`),
    tile("ASIC hashrate", num(O, ptr("rigs", i, "asic_hashrate_hs"), row?.asic_hashrate_hs, hashrate)),
    tile("ASIC power", num(O, ptr("rigs", i, "power_w"), row?.power_w, watts)),
    tile("Alerts, 24 h", num(O, ptr("rigs", i, "alerts_24h"), row?.alerts_24h)),
  ];
  const charts = `<div class="charts">
${lineChart("Hashrate, CPU miner", c.ts_ms, [{ ...ser("cpu_hashrate_hs"), label: "CPU (60 s)" }], hashrate)}
${lineChart("Hashrate, ASICs", c.ts_ms, [{ ...ser("asic_hashrate_hs"), label: "ASICs, sum" }], hashrate)}
${lineChart("Temperatures", c.ts_ms, [{ ...ser("max_temp_c"), label: "host, hottest sensor" }, { ...ser("asic_chip_max_c"), label: "ASIC chips, hottest" }], celsius)}
${lineChart("Power, ASICs", c.ts_ms, [{ ...ser("asic_power_w"), label: "ASICs, sum" }], watts)}
</div>`;
  const tuning = m
    ? table(["algo", "kernel", "threads", "batch", "paused", "hashrate 10 s", "hashrate 15 min"], [[
      esc(m.algo), esc(m.kernel), num(R, "/last_telemetry/miner/threads", m.threads), num(R, "/last_telemetry/miner/batch", m.batch),
      esc(m.paused ? "yes" : "no"), num(R, "/last_telemetry/miner/hashrate_10s", m.hashrate_10s, hashrate), num(R, "/last_telemetry/miner/hashrate_15m", m.hashrate_15m, hashrate)]]) +
      (m.constraints.length ? `<ul class="plain">${m.constraints.map((x) => `<li>${esc(x)}</li>`).join("")}</ul>` : empty("no constraint in force"))
    : empty("this rig does not run the CPU miner");
  const asics = row?.asics ?? [];
  const asicRows = asics.map((a, j) => [
    asicLink(id, a.miner_id), esc(a.model ?? "—"), badge(a.online),
    num(O, ptr("rigs", i, "asics", j, "hashrate_hs"), a.hashrate_hs, hashrate),
    num(O, ptr("rigs", i, "asics", j, "power_w"), a.power_w, watts),
    num(O, ptr("rigs", i, "asics", j, "chip_max_c"), a.chip_max_c, celsius),
    num(O, ptr("rigs", i, "asics", j, "anomaly_score"), a.anomaly_score, fixed(3)),
  ]);
  const scoreRows = Object.entries(e.anomaly ?? {}).map(([subj, s]) => [
    esc(subj), num(R, ptr("anomaly", subj, "score"), s.score, fixed(3)), esc(s.threat_type), esc(s.severity), esc(s.model_version), esc(time(s.sample_ts_ms)),
  ]);
  const alertRows = alerts.slice(-20).reverse().map((a) => [
    esc(time(a.ts_ms)), esc(a.alert.subject), esc(a.alert.threat_type), esc(a.alert.severity), esc(a.alert.score.toFixed(3)), esc(a.alert.action.action), esc(a.alert.message),
  ]);
  const latestAdvice = new Map();
  advice.forEach((a) => latestAdvice.set(a.advice.asic_id, a));
  const adviceRows = [...latestAdvice.values()].map((a) => [
    esc(a.advice.asic_id), esc(a.advice.current.expected_w.toFixed(0) + " W"), esc(a.advice.current.j_per_th.toFixed(2)),
    a.advice.suggestion ? esc(`${a.advice.suggestion.target.expected_w.toFixed(0)} W, ${a.advice.suggestion.target.j_per_th.toFixed(2)} J/TH (${a.advice.suggestion.improvement_pct.toFixed(1)} % better, ${a.advice.suggestion.risk_level} risk)`) : "keep the current point",
  ]);
  const act = (await api("/actions")).body;
  const actions = act?.enabled
    ? `<p><button data-action="pause" data-rig="${esc(id)}">Pause mining</button> <button data-action="resume" data-rig="${esc(id)}">Resume mining</button> <button data-action="forget" data-rig="${esc(id)}">Forget this rig</button> <span class="muted">${esc(actionResult)}</span></p>`
    : empty("read-only: actions need [web] operator_token and [commands] signing_key in the hub config");
  const mine = rollout.rigs.find((x) => x.rig === id);
  const cfgRows = (mine?.scopes ?? []).map((s) => [esc(s.scope), esc(s.version), esc(s.status), esc(s.applied_version ?? "—"), esc(s.reason ?? "")]);
  const cmdRows = (e.commands ?? []).slice().reverse().map((c) => [esc(time(c.ts_ms)), esc(c.nonce), esc(typeof c.outcome === "string" ? c.outcome : JSON.stringify(c.outcome))]);
  return `<h1>Rig ${esc(id)} <span class="muted">${esc(e.site)}</span></h1>
<div class="tiles">${tiles.join("")}</div>
${section("Last 24 hours", charts)}
${section("Tuning decisions and constraints", tuning)}
${section("ASICs", table(["ASIC", "model", "state", "hashrate", "power", "chip max", "anomaly"], asicRows) || empty("this rig polls no ASIC (or none reported in the last 5 minutes)"))}
${section("Anomaly scores (latest per subject)", table(["subject", "score", "threat", "severity", "model", "sample"], scoreRows) || empty("no score yet (inference off or no sample assessed)"))}
${section("Alerts, last 24 hours", table(["when", "subject", "threat", "severity", "score", "action", "message"], alertRows) || empty("no alert in the last 24 hours"))}
${section("Power advice (last hour)", table(["ASIC", "now", "J/TH now", "suggested"], adviceRows) || empty("no advice in the last hour"))}
${section("Config in force and rollout", table(["scope", "pushed version", "status", "applied", "why"], cfgRows) || empty("no config pushed to this rig"))}
${section("Commands (latest acks)", table(["when", "nonce", "outcome"], cmdRows) || empty("no command acknowledged yet"))}
${section("Actions", actions)}`;
}

export async function asic(api, rigId, id) {
  const O = "/fleet/overview";
  const o = (await api(O)).body;
  const i = o.rigs.findIndex((x) => x.rig === rigId);
  const j = i < 0 ? -1 : o.rigs[i].asics.findIndex((a) => a.miner_id === id);
  const head = `<h1>ASIC ${esc(id)} <span class="muted">on ${rigLink(rigId)}</span></h1>`;
  if (j < 0) return `${head}${empty("no reading from this ASIC in the last 5 minutes")}`;
  const a = o.rigs[i].asics[j];
  const P = (k) => ptr("rigs", i, "asics", j, k);
  const L = `/rigs/${enc(rigId)}/asics?from=${a.ts_ms}&to=${a.ts_ms}`;
  const latest = ((await api(L)).body.records.filter((r) => r.asic.miner_id === id).pop() ?? {}).asic;
  const C = `/charts/rigs/${enc(rigId)}/asics/${enc(id)}?hours=24`;
  const c = (await api(C)).body;
  const ser = (n) => c.series.find((s) => s.name === n);
  const tiles = [
    tile("State", `${badge(a.online)} <span class="muted">${esc(a.mining_status)}</span>`),
    tile("Hashrate", num(O, P("hashrate_hs"), a.hashrate_hs, hashrate)),
    tile("Power", num(O, P("power_w"), a.power_w, watts)),
    tile("Efficiency J/TH", num(O, P("efficiency_j_th"), a.efficiency_j_th, fixed(2))),
    tile("Chip max", num(O, P("chip_max_c"), a.chip_max_c, celsius)),
    tile("Power limit", num(O, P("power_limit_w"), a.power_limit_w, watts)),
    tile("Shares accepted / rejected", `${num(O, P("shares_accepted"), a.shares_accepted)} / ${num(O, P("shares_rejected"), a.shares_rejected)}`),
    tile("Anomaly score", num(O, P("anomaly_score"), a.anomaly_score, fixed(3))),
  ];
  const boards = (latest?.hashrate?.per_hashboard ?? []).map((b, k) => [
    esc(b.board_id), num(L, ptr("records", 0, "asic", "hashrate", "per_hashboard", k, "hashrate"), b.hashrate, hashrate), esc(b.frequency_mhz ?? "—"), esc(b.chips ?? "—"), esc(b.status),
  ]);
  const fans = (latest?.fans ?? []).map((f) => [esc(f.fan_id), esc(f.rpm ?? "—"), esc(f.speed_percent ?? "—"), esc(f.status)]);
  const problems = [...(latest?.status?.errors ?? []).map((x) => `${x.code}: ${x.message}`), ...(latest?.invalid ?? [])];
  const V = `/rigs/${enc(rigId)}/advice?from=${Date.now() - 3600 * 1000}`;
  const advice = (await api(V)).body.records.filter((r) => r.advice.asic_id === id).pop()?.advice;
  const adviceHtml = advice
    ? table(["now", "J/TH now", "suggested"], [[esc(`${advice.current.expected_w.toFixed(0)} W, ${advice.current.frequency_mhz.toFixed(0)} MHz`), esc(advice.current.j_per_th.toFixed(2)),
      advice.suggestion ? esc(`${advice.suggestion.target.expected_w.toFixed(0)} W, ${advice.suggestion.target.j_per_th.toFixed(2)} J/TH (${advice.suggestion.improvement_pct.toFixed(1)} % better, ${advice.suggestion.risk_level} risk)`) : "keep the current point"]])
    : empty("no advice for this ASIC in the last hour");
  return `${head}<p class="muted">${esc(a.model ?? "model unknown")} · ${esc(a.api)} API · reading ${esc(ago(a.ts_ms))}</p>
<div class="tiles">${tiles.join("")}</div>
${section("Last 24 hours", `<div class="charts">
${lineChart("Hashrate", c.ts_ms, [{ ...ser("hashrate_hs"), label: "reported" }], hashrate)}
${lineChart("Chip temperature, hottest", c.ts_ms, [{ ...ser("chip_max_c"), label: "hottest chip" }], celsius)}
${lineChart("Power", c.ts_ms, [{ ...ser("power_w"), label: "reported" }], watts)}</div>`)}
${section("Hashboards", table(["board", "hashrate", "MHz", "chips", "status"], boards) || empty("the ASIC reports no per-board figures"))}
${section("Fans", table(["fan", "rpm", "%", "status"], fans) || empty("the ASIC reports no fans"))}
${section("Power advice", adviceHtml)}
${section("Errors and impossible readings", problems.length ? `<ul class="plain">${problems.map((p) => `<li>${esc(p)}</li>`).join("")}</ul>` : empty("none"))}`;
}

export async function market() {
  const nets = [];
  for (const coin of ["bitcoin", "litecoin", "dogecoin"]) {
    nets.push(await pending(`Network: ${coin}`, `/network/${coin}`, "no network data yet (collectors not configured)"));
  }
  return `<h1>Market and network</h1>
${await pending("Prices", "/market", "no market data yet (collectors not configured)")}
${nets.join("")}
${await pending("Pools", "/pools", "no pool data yet (collectors not configured)")}`;
}

export async function allocation() {
  return `<h1>Allocation</h1>
${await pending("Current, proposed and history", "/allocation", "no allocation yet (the allocator is not built or not configured)")}`;
}

export async function scores() {
  return `<h1>Scores by date</h1>
${await pending("Latest batch", "/dates/latest", "no scores by date yet (the score API is not built or not configured)")}
${await pending("Dates available", "/dates/available", "no dates yet")}`;
}
