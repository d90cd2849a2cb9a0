#include "admin/status_page.h"

#include "admin/sha256.h"

namespace corefork {
namespace {

// The page is assembled from three parts so that the script and the style
// can be hashed exactly as the browser sees them (CSP 'sha256-...').
constexpr std::string_view kStyle = R"css(
:root{--fg:#1d2330;--mute:#667085;--line:#e4e7ec;--ok:#12805c;--warn:#b54708;
--bad:#b42318;--bg:#f8f9fb;--card:#fff;--cpu:#2e6fd8;--rss:#7a3fd1}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;gap:16px;align-items:baseline;
padding:14px 20px;background:var(--card);border-bottom:1px solid var(--line)}
header h1{font-size:18px;margin:0}
main{padding:12px 20px;display:grid;gap:14px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;
padding:10px 14px;overflow-x:auto}
h2{font-size:14px;margin:0 0 8px;text-transform:uppercase;letter-spacing:.04em;
color:var(--mute)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);
white-space:nowrap;vertical-align:middle}
th{font-weight:600;color:var(--mute);font-size:12px}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;
border:1px solid currentColor}
.ready,.ok,.succeeded{color:var(--ok)}.starting,.stopping,.running{color:var(--warn)}
.backoff,.bad,.failed,.timeout{color:var(--bad)}
.mute{color:var(--mute)}
#banner{display:none;padding:8px 20px;background:#fef3f2;color:var(--bad);
border-bottom:1px solid #fecdca}
#banner.on{display:block}
.chart{display:inline-flex;gap:6px;align-items:center}
.chart svg{background:#fafbfc;border:1px solid var(--line);border-radius:3px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0}
dt{color:var(--mute)}dd{margin:0}
)css";

constexpr std::string_view kScript = R"js(
"use strict";
const POLL_MS = 2000, HISTORY_MS = 10000, WINDOW_S = 900;
let polls = 0, history = null, lastHistory = 0;
const $ = (id) => document.getElementById(id);

function text(el, s) { el.textContent = s == null ? "" : String(s); return el; }
function cell(row, s, cls) {
  const td = row.insertCell(); text(td, s); if (cls) td.className = cls;
  return td;
}
function bytes(n) {
  if (n == null) return "-";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
function dur(s) {
  if (s == null) return "-";
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + "s";
  const m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
  if (d) return d + "d " + (h % 24) + "h";
  if (h) return h + "h " + (m % 60) + "m";
  return m + "m " + Math.floor(s % 60) + "s";
}
function pct(x) { return x == null ? "-" : x.toFixed(1) + "%"; }

// A sparkline over the last 15 minutes. Only numbers go into the markup
// (setting innerHTML in an HTML document puts <svg> in the SVG namespace
// without naming it).
function spark(t, values, now, color, floor) {
  const W = 120, H = 26, P = 2;
  let max = floor;
  for (const v of values) if (v != null && v > max) max = v;
  const x = (ti) => (P + (W - 2 * P) * (1 - (now - ti) / WINDOW_S)).toFixed(1);
  const y = (v) => (H - P - (H - 2 * P) * (v / max)).toFixed(1);
  let runs = [], run = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] == null || now - t[i] > WINDOW_S) {
      if (run.length) runs.push(run); run = []; continue;
    }
    run.push(x(t[i]) + "," + y(values[i]));
  }
  if (run.length) runs.push(run);
  let g = "";
  for (const r of runs) {
    g += r.length === 1
      ? '<circle r="1.8" fill="' + color + '" cx="' + r[0].replace(",", '" cy="') + '"/>'
      : '<polyline fill="none" stroke-width="1.5" stroke="' + color +
        '" points="' + r.join(" ") + '"/>';
  }
  return '<svg width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + " " +
    H + '" data-points="' + values.filter((v) => v != null).length + '">' +
    g + "</svg>";
}

function chartCell(row, slot, key, color, floor, label) {
  const td = row.insertCell(); td.className = key;
  const wrap = document.createElement("span"); wrap.className = "chart";
  const h = history && history.slots.find((s) => s.id === slot);
  if (h) {
    const box = document.createElement("span");
    box.innerHTML = spark(h.t, h[key], history.now, color, floor);
    wrap.appendChild(box);
  }
  wrap.appendChild(text(document.createElement("span"), label));
  td.appendChild(wrap);
}

function renderWorkers(st) {
  const body = $("workers").tBodies[0]; body.replaceChildren();
  for (const w of st.slots) {
    const r = body.insertRow(); r.className = "worker";
    r.dataset.slot = w.id; r.dataset.state = w.state;
    cell(r, w.id, "num");
    cell(r, w.pid == null ? "-" : w.pid, "num pid");
    const s = cell(r, ""); const p = document.createElement("span");
    p.className = "pill " + w.state; text(p, w.state); s.appendChild(p);
    s.className = "state";
    cell(r, w.restarts, "num restarts");
    cell(r, w.pid == null ? "-" : dur(w.uptime_seconds), "num uptime");
    chartCell(r, w.id, "cpu_percent", "#2e6fd8", 5, pct(w.cpu_percent));
    chartCell(r, w.id, "rss_bytes", "#7a3fd1", 1, bytes(w.rss_bytes));
    cell(r, w.last_exit || "-", "last-exit");
    cell(r, w.status_text || "", "mute");
  }
}

function renderExits(st) {
  const body = $("exits").tBodies[0]; body.replaceChildren();
  const exits = st.recent_exits || [];
  $("exits-none").hidden = exits.length > 0;
  for (const e of exits) {
    const r = body.insertRow(); r.className = "exit";
    cell(r, e.slot, "num"); cell(r, e.pid, "num");
    cell(r, e.reason, "reason bad");
    cell(r, dur(e.ago_seconds) + " ago", "num");
    cell(r, dur(e.lived_seconds), "num");
    cell(r, e.at, "mute");
  }
}

function renderJobs(st) {
  const body = $("jobs").tBodies[0]; body.replaceChildren();
  const jobs = st.jobs || [];
  $("jobs-none").hidden = jobs.length > 0;
  text($("jobs-none"), st.jobs == null ? "job list unavailable" : "no jobs");
  if (st.jobs == null) $("jobs-none").hidden = false;
  for (const j of jobs) {
    const r = body.insertRow(); r.className = "job"; r.dataset.job = j.name;
    cell(r, j.name, "name"); cell(r, (j.triggers || []).join(", "), "mute");
    cell(r, j.running, "num"); cell(r, j.queued, "num");
    const p = j.pool;
    cell(r, p ? p.processes + "/" + p.size + ", " + p.busy + " busy" : "-",
         "pool");
    cell(r, j.last_result || "-", "last-result " + (j.last_result || ""));
    cell(r, j.last_finished_at || "-", "last-finished");
    cell(r, j.next_run_at || "-", "mute");
  }
}

function renderSizing(st) {
  const c = st.cgroup || {}, z = st.sizing || {};
  const rows = [
    ["workers", st.desired_workers + " desired, " + st.actual_workers +
      " running, " + st.ready_workers + " ready (min " + st.min_ready_workers + ")"],
    ["sizing", z.reason], ["cpus used", z.cpus_used],
    ["cpu quota", c.cpu_quota_cores == null ? "none" : c.cpu_quota_cores + " cores"],
    ["cpuset", c.cpuset_cpus == null ? "-" : c.cpuset_cpus],
    ["host cpus", c.host_cpus],
    ["memory limit", c.memory_limit_bytes == null ? "none" : bytes(c.memory_limit_bytes)],
    ["cgroup", c.version]];
  const dl = $("sizing"); dl.replaceChildren();
  for (const [k, v] of rows) {
    dl.appendChild(text(document.createElement("dt"), k));
    dl.appendChild(text(document.createElement("dd"), v == null ? "-" : v));
  }
}

function render(st) {
  text($("version"), "corefork " + st.version);
  text($("uptime"), "up " + dur(st.uptime_seconds));
  const ready = $("ready");
  text(ready, st.draining ? "draining" : st.ready ? "ready" : "not ready");
  ready.className = "pill " + (st.ready && !st.draining ? "ok" : "bad");
  $("reloading").hidden = !st.reloading;
  renderWorkers(st); renderExits(st); renderJobs(st); renderSizing(st);
  polls++;
  document.body.dataset.polls = polls;
  text($("updated"), "updated " + new Date().toLocaleTimeString());
}

async function get(path) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 5000);
  try {
    const res = await fetch(path, {cache: "no-store", signal: ctl.signal});
    if (!res.ok) throw new Error(path + ": HTTP " + res.status);
    return await res.json();
  } finally { clearTimeout(timer); }
}

async function poll() {
  try {
    if (Date.now() - lastHistory >= HISTORY_MS) {
      history = await get("status/history").catch(() => history);
      lastHistory = Date.now();
    }
    render(await get("status"));
    $("banner").className = "";
  } catch (e) {
    text($("banner"), "cannot reach corefork: " + e.message);
    $("banner").className = "on";
  }
  setTimeout(poll, POLL_MS);
}
poll();
)js";

constexpr std::string_view kHead = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>corefork status</title>
<style>)html";

constexpr std::string_view kBody = R"html(</style></head>
<body data-polls="0">
<header><h1 id="version">corefork</h1><span id="ready" class="pill">loading</span>
<span id="reloading" class="pill starting" hidden>reloading</span><span id="uptime" class="mute"></span>
<span id="updated" class="mute">waiting for /status</span></header>
<div id="banner"></div>
<main>
<section><h2>Workers</h2><table id="workers"><thead><tr><th>slot</th><th>pid</th>
<th>state</th><th>restarts</th><th>uptime</th><th>CPU (15 min)</th>
<th>RSS (15 min)</th><th>last exit</th><th>status</th></tr></thead>
<tbody></tbody></table></section>
<section><h2>Recent exits</h2><p id="exits-none" class="mute">none</p>
<table id="exits"><thead><tr><th>slot</th><th>pid</th><th>reason</th>
<th>when</th><th>lived</th><th>at</th></tr></thead><tbody></tbody></table>
</section>
<section><h2>Jobs</h2><p id="jobs-none" class="mute">no jobs</p>
<table id="jobs"><thead><tr><th>job</th><th>triggers</th><th>running</th>
<th>queued</th><th>pool</th><th>last result</th><th>last finished</th><th>next run</th>
</tr></thead><tbody></tbody></table></section>
<section><h2>Sizing and limits</h2><dl id="sizing"></dl></section>
</main>
<script>)html";

constexpr std::string_view kTail = "</script></body></html>\n";

}  // namespace

std::string_view StatusPageHtml() {
  static const std::string page = [] {
    std::string s;
    s.reserve(kHead.size() + kStyle.size() + kBody.size() + kScript.size() +
              kTail.size());
    s.append(kHead).append(kStyle).append(kBody).append(kScript).append(kTail);
    return s;
  }();
  return page;
}

const std::string& StatusPageCsp() {
  static const std::string csp =
      "default-src 'none'; script-src '" + CspHash(kScript) + "'; style-src '" +
      CspHash(kStyle) +
      "'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
      "frame-ancestors 'none'";
  return csp;
}

HttpResponse StatusPageResponse() {
  HttpResponse res{
      200, std::string(StatusPageHtml()), {}, "text/html; charset=utf-8"};
  res.headers.emplace_back("Content-Security-Policy", StatusPageCsp());
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("Referrer-Policy", "no-referrer");
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

}  // namespace corefork
