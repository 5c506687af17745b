// The dashboard's entry: hash routes (#/, #/rig/ID, #/rig/ID/asic/ID, #/market, #/allocation,
// #/scores), a poll every 5 s that re-renders the page shown, and an error panel that also
// records console errors, so nothing fails silently.
import * as pages from "./pages.js";

const errors = document.getElementById("errors");
function report(msg) {
  errors.hidden = false;
  errors.textContent += `${msg}\n`;
}
window.addEventListener("error", (e) => report(`error: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => report(`unhandled: ${e.reason}`));
const consoleError = console.error.bind(console);
console.error = (...a) => { report(a.join(" ")); consoleError(...a); };

// GET a hub route: {status, body}; 404 is an answer (the data is not there yet), not an error.
async function api(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  if (r.status === 404) return { status: 404, body: null };
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return { status: r.status, body: await r.json() };
}

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "rig" && parts[1] && parts[2] === "asic" && parts[3]) return () => pages.asic(api, parts[1], parts[3]);
  if (parts[0] === "rig" && parts[1]) return () => pages.rig(api, parts[1]);
  if (parts[0] === "market") return () => pages.market(api);
  if (parts[0] === "allocation") return () => pages.allocation(api);
  if (parts[0] === "scores") return () => pages.scores(api);
  return () => pages.fleet(api);
}

const main = document.getElementById("main");
let rendering = false;
async function render() {
  if (rendering) return;
  rendering = true;
  try {
    main.innerHTML = await route()();
    document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.ready = "1";
  } catch (e) {
    report(`render: ${e.message}`);
  } finally {
    rendering = false;
  }
}

// Actions: the operator token is asked once per tab and sent as a bearer header, never shown.
document.addEventListener("click", async (ev) => {
  const b = ev.target.closest("button[data-action]");
  if (!b) return;
  if (b.dataset.action === "forget" && !confirm(`Forget ${b.dataset.rig}? It leaves the dashboards until it reports again.`)) return;
  let token = sessionStorage.getItem("hashward-token");
  if (!token) {
    token = prompt("Operator token");
    if (!token) return;
    sessionStorage.setItem("hashward-token", token);
  }
  const r = await fetch(`/actions/rigs/${encodeURIComponent(b.dataset.rig)}/${encodeURIComponent(b.dataset.action)}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) sessionStorage.removeItem("hashward-token");
  if (r.ok && body.forgotten) {
    location.hash = "#/";
    return;
  }
  pages.setActionResult(r.ok ? `${body.command} sent (nonce ${body.nonce}); the rig acknowledges it under Commands` : `refused: ${body.error ?? r.status}`);
  render();
});

window.addEventListener("hashchange", () => { document.body.dataset.ready = ""; render(); });
render();
setInterval(render, 5000);
