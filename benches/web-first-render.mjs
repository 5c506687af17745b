// First render of the dashboard in headless Chromium, driven over the DevTools protocol:
// navigation start to `data-ready` (every fetch done, page drawn) for the fleet, a rig and an
// ASIC page, against a reference in the same run: loading the hub's /health JSON in the same
// browser. Median of N cold loads (cache disabled). Needs node >= 20 (--experimental-websocket).
// Usage: node --experimental-websocket benches/web-first-render.mjs HUB_URL CHROMIUM [N]
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [hub, chromium, n = "7"] = process.argv.slice(2);
const port = 9300 + Math.floor(Math.random() * 500);
const profile = mkdtempSync(join(tmpdir(), "hw-bench-"));
const browser = spawn(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", `--user-data-dir=${profile}`,
  `--remote-debugging-port=${port}`, "--window-size=1280,2000", "about:blank"], { stdio: "ignore" });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function targets() {
  for (let i = 0; i < 100; i++) {
    try { return await (await fetch(`http://127.0.0.1:${port}/json/list`)).json(); } catch { await sleep(100); }
  }
  throw new Error("chromium did not open its DevTools port");
}
const page = (await targets()).find((t) => t.type === "page");
const ws = new WebSocket(page.webSocketDebuggerUrl);
await new Promise((r) => ws.addEventListener("open", r));
let id = 0;
const pending = new Map();
ws.addEventListener("message", (e) => {
  const m = JSON.parse(e.data);
  if (m.id && pending.has(m.id)) { pending.get(m.id)(m.result); pending.delete(m.id); }
});
const send = (method, params = {}) => new Promise((r) => { id += 1; pending.set(id, r); ws.send(JSON.stringify({ id, method, params })); });
const evaluate = async (expr) => (await send("Runtime.evaluate", { expression: expr, returnByValue: true }))?.result?.value;

await send("Network.enable");
await send("Network.setCacheDisabled", { cacheDisabled: true });
async function load(url, doneExpr) {
  await send("Page.navigate", { url: "about:blank" });
  await sleep(50);
  const t0 = performance.now();
  await send("Page.navigate", { url });
  for (let i = 0; i < 2000; i++) {
    if (await evaluate(doneExpr)) return performance.now() - t0;
    await sleep(5);
  }
  throw new Error(`${url} did not render`);
}
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ov = await (await fetch(`${hub}/fleet/overview`)).json();
const rig = ov.rigs.find((r) => r.asics.length) ?? ov.rigs[0];
const pages = [["reference: /health", `${hub}/health`, "document.readyState === 'complete' && location.pathname === '/health'"],
  ["fleet", `${hub}/#/`, "document.body?.dataset.ready === '1'"],
  ["rig", `${hub}/#/rig/${rig.rig}`, "document.body?.dataset.ready === '1'"]];
if (rig.asics.length) pages.push(["asic", `${hub}/#/rig/${rig.rig}/asic/${rig.asics[0].miner_id}`, "document.body?.dataset.ready === '1'"]);
const results = {};
for (const [name, url, done] of pages) {
  const runs = [];
  for (let i = 0; i < Number(n); i++) runs.push(await load(url, done));
  results[name] = median(runs);
}
const ref = results["reference: /health"];
for (const [name, ms] of Object.entries(results)) {
  console.log(`${name.padEnd(20)} ${ms.toFixed(1).padStart(7)} ms  ${(ms / ref).toFixed(1).padStart(5)}x reference`);
}
ws.close();
browser.kill();
process.exit(0);
