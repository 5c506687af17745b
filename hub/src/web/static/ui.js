// Rendering helpers: escaping, number formatting, the tagged number element the browser test
// reads back, tables, and the SVG line chart. No network here, no state.

export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

const SI = ["", "k", "M", "G", "T", "P", "E"];
export function si(v, unit, digits = 2) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  let i = 0;
  let x = Number(v);
  while (Math.abs(x) >= 1000 && i < SI.length - 1) { x /= 1000; i += 1; }
  return `${x.toFixed(digits)} ${SI[i]}${unit}`;
}
export const hashrate = (v) => si(v, "H/s");
export const watts = (v) => si(v, "W");
export const celsius = (v) => (v === null || v === undefined ? "—" : `${Number(v).toFixed(1)} °C`);
export const fixed = (d) => (v) => (v === null || v === undefined ? "—" : Number(v).toFixed(d));
export const plain = (v) => (v === null || v === undefined ? "—" : String(v));
export function ago(ms) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
export const time = (ms) => (ms ? new Date(ms).toLocaleString() : "—");

// A value as served by `src` at JSON pointer `ptr`, shown formatted: the browser test compares
// data-v with the API's value at the same pointer.
export function num(src, ptr, value, fmt = plain) {
  const v = value === undefined ? null : value;
  return `<span class="num" data-src="${esc(src)}" data-k="${esc(ptr)}" data-v="${esc(JSON.stringify(v))}">${esc(fmt(v))}</span>`;
}

export function tile(label, html) {
  return `<div class="tile"><div class="label">${esc(label)}</div><div class="value">${html}</div></div>`;
}

export function section(title, body) {
  return `<section><h2>${esc(title)}</h2>${body}</section>`;
}

export const empty = (text) => `<p class="empty">${esc(text)}</p>`;

// rows: array of arrays of HTML cells (already escaped by the caller).
export function table(head, rows) {
  if (!rows.length) return "";
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

export function badge(ok, yes = "online", no = "offline") {
  return ok ? `<span class="ok">${esc(yes)}</span>` : `<span class="bad">${esc(no)}</span>`;
}

// Any JSON value as nested tables: for sections whose API lands later than this page.
export function generic(v) {
  if (v === null || typeof v !== "object") return esc(JSON.stringify(v));
  if (Array.isArray(v)) {
    if (!v.length) return empty("(none)");
    if (typeof v[0] === "object" && v[0] !== null && !Array.isArray(v[0])) {
      const keys = [...new Set(v.flatMap((o) => Object.keys(o ?? {})))];
      return table(keys, v.map((o) => keys.map((k) => generic(o?.[k]))));
    }
    return v.map(generic).join(", ");
  }
  return table(["field", "value"], Object.entries(v).map(([k, x]) => [esc(k), generic(x)]));
}

const COLORS = ["#1f5fbf", "#c62828", "#1a7f37", "#b26a00", "#6a3fb5"];

// A line chart of `series` ([{name, values}]) over `ts` (ms), nulls as gaps, as an SVG string.
export function lineChart(title, ts, series, fmt) {
  const W = 600, H = 220, L = 110, R = 12, T = 14, B = 30;
  const all = series.flatMap((s) => s.values.filter((v) => v !== null));
  const head = `<div class="chart"><h3 class="muted">${esc(title)}</h3>`;
  if (!all.length || ts.length < 2) return `${head}${empty("no data in this window")}</div>`;
  let lo = Math.min(...all), hi = Math.max(...all);
  if (lo > 0 && lo < hi * 0.5) lo = 0;
  if (hi === lo) { hi += Math.abs(hi) * 0.05 || 1; lo -= Math.abs(lo) * 0.05 || 1; }
  const t0 = ts[0], t1 = ts[ts.length - 1];
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const paths = series.map((s, i) => {
    const color = COLORS[i % COLORS.length];
    let d = "", pen = false, dots = "";
    s.values.forEach((v, j) => {
      if (v === null) { pen = false; return; }
      d += `${pen ? "L" : "M"}${x(ts[j]).toFixed(1)},${y(v).toFixed(1)}`;
      // A bucket with no neighbour draws no line: a dot shows it.
      const alone = (s.values[j - 1] ?? null) === null && (s.values[j + 1] ?? null) === null;
      if (alone) dots += `<circle cx="${x(ts[j]).toFixed(1)}" cy="${y(v).toFixed(1)}" r="4" fill="${color}"/>`;
      pen = true;
    });
    return `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>${dots}`;
  });
  const hm = (t) => new Date(t).toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
  const svg = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#ccd"/><line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#ccd"/>
<text x="${L - 4}" y="${T + 12}" font-size="17" text-anchor="end" fill="#667">${esc(fmt(hi))}</text>
<text x="${L - 4}" y="${H - B}" font-size="17" text-anchor="end" fill="#667">${esc(fmt(lo))}</text>
<text x="${L}" y="${H - 4}" font-size="17" fill="#667">${hm(t0)}</text>
<text x="${W - R}" y="${H - 4}" font-size="17" text-anchor="end" fill="#667">${hm(t1)}</text>
${paths.join("")}</svg>`;
  const legend = series.map((s, i) => `<span style="color:${COLORS[i % COLORS.length]}">■ ${esc(s.label ?? s.name)}</span>`).join("");
  return `${head}${svg}<div class="legend">${legend}</div></div>`;
}
