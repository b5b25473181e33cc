// http/debug_dashboard.cpp: the dashboard page of goro/http/debug.hpp.
//
// One self-contained page: style and script inline, nothing loaded from
// elsewhere (the machines it runs on may be offline), charts drawn by hand
// on <canvas>. The script polls metrics.json every second (the next poll
// starts once the last one ended, so a slow server is never asked twice at
// once), keeps the last 120 values of each gauge it plots, and redraws.
// Which metrics go in which chart is decided by name and unit, so metrics
// added later show up in the table below the charts without a change here.
// After each draw a chart's canvas carries data-drawn (the points or
// non-empty buckets it drew) and #status carries data-polls (successful
// polls): what a headless browser test reads back.
#include <goro/http/debug.hpp>

namespace goro::http::debug {

namespace {

constexpr std::string_view kDashboard = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>goro runtime</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 16px; background: #f7f7f7; color: #222; }
h1 { font-size: 20px; margin: 0 0 6px; }
h2 { font-size: 14px; margin: 0 0 4px; }
nav a { margin-right: 14px; }
#status { color: #555; margin: 6px 0 12px; }
#status.error { color: #b00; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(320px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 10px; min-width: 0; }
canvas { width: 100%; height: 220px; display: block; }
.legend { font-size: 12px; color: #444; min-height: 16px; }
.legend span { margin-right: 12px; display: inline-block; }
table { border-collapse: collapse; font: 12px ui-monospace, monospace; margin-top: 6px; }
td { padding: 1px 10px 1px 0; border-bottom: 1px solid #e6e6e6; }
td.v { text-align: right; }
</style>
</head>
<body>
<h1>goro runtime</h1>
<nav>
<a href="goroutines?debug=1">goroutines (grouped)</a>
<a href="goroutines?debug=2">goroutines (full dump)</a>
<a href="pprof/goroutine">pprof/goroutine</a>
<a href="metrics">metrics (Prometheus)</a>
<a href="metrics.json">metrics.json</a>
</nav>
<div id="status" data-polls="0">loading metrics.json&hellip;</div>
<div class="grid">
<div class="card"><h2>Goroutines</h2><canvas id="goroutines" data-drawn="0"></canvas><div class="legend" id="goroutines-legend"></div></div>
<div class="card"><h2>Stack bytes</h2><canvas id="stacks" data-drawn="0"></canvas><div class="legend" id="stacks-legend"></div></div>
<div class="card"><h2 id="highwater-title">Stack high-water mark per goroutine</h2><canvas id="highwater" data-drawn="0"></canvas><div class="legend" id="highwater-legend"></div></div>
<div class="card"><h2 id="latency-title">Scheduling latency (runnable to running), since start</h2><canvas id="latency" data-drawn="0"></canvas><div class="legend" id="latency-legend"></div></div>
</div>
<h2 style="margin-top:14px">All metrics</h2>
<table id="table"></table>
<script>
'use strict';
const HISTORY = 120;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];
const history = new Map();  // metric name -> [[time_ms, value], ...]
let polls = 0;

// The smallest of 1, 2, 5 times a power of ten at or above v: a round
// top for an axis.
function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const k of [1, 2, 5, 10]) if (k * p >= v) return k * p;
  return 10 * p;
}

// "/sched/goroutines/waiting:goroutines" -> "sched/goroutines/waiting".
function label(m) { return m.name.replace(/^\//, '').replace(/:[^:]*$/, ''); }

function num(v) { return v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v); }

function fmt(v, unit) {
  if (!isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  if (unit === 'bytes') {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(1) : String(Math.round(v))) + ' ' + units[i];
  }
  if (unit === 'seconds') {
    const a = Math.abs(v);
    if (a === 0) return '0';
    if (a < 1e-6) return (v * 1e9).toFixed(0) + ' ns';
    if (a < 1e-3) return (v * 1e6).toFixed(a < 1e-5 ? 1 : 0) + ' \u00b5s';
    if (a < 1) return (v * 1e3).toFixed(1) + ' ms';
    return v.toFixed(2) + ' s';
  }
  return Math.abs(v) >= 1e7 ? v.toExponential(2) : String(Math.round(v * 100) / 100);
}

// A canvas sized for the device's pixels, cleared; returns its context.
function surface(canvas) {
  const r = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 600, h = canvas.clientHeight || 220;
  canvas.width = Math.round(w * r);
  canvas.height = Math.round(h * r);
  const g = canvas.getContext('2d');
  g.setTransform(r, 0, 0, r, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = '11px sans-serif';
  return { g, w, h };
}

function legend(id, entries) {
  const el = document.getElementById(id);
  el.textContent = '';
  for (const [color, text] of entries) {
    const s = document.createElement('span');
    s.innerHTML = '<b style="color:' + color + '">\u25a0</b> ';
    s.appendChild(document.createTextNode(text));
    el.appendChild(s);
  }
}

function yAxis(g, w, h, box, max, unit) {
  g.strokeStyle = '#eee';
  g.fillStyle = '#666';
  g.textAlign = 'right';
  for (let i = 0; i <= 4; i++) {
    const y = box.t + (h - box.t - box.b) * i / 4;
    g.beginPath(); g.moveTo(box.l, y); g.lineTo(w - box.r, y); g.stroke();
    g.fillText(fmt(max * (4 - i) / 4, unit), box.l - 4, y + 4);
  }
}

// Gauges over time, one line each.
function drawLines(id, metrics) {
  const canvas = document.getElementById(id);
  const { g, w, h } = surface(canvas);
  const box = { l: 70, r: 8, t: 8, b: 18 };
  const unit = metrics.length ? metrics[0].unit : '';
  let max = 0, t0 = Infinity, t1 = -Infinity, points = 0;
  for (const m of metrics) {
    for (const [t, v] of history.get(m.name) || []) {
      max = Math.max(max, v); t0 = Math.min(t0, t); t1 = Math.max(t1, t); points++;
    }
  }
  if (max <= 0) max = 1;
  if (!(t1 > t0)) { t0 = (t1 > -Infinity ? t1 : 0) - 1000; }
  max = niceCeil(max * 1.05);
  yAxis(g, w, h, box, max, unit);
  g.textAlign = 'left';
  g.fillText('last ' + ((t1 - t0) / 1000).toFixed(1) + ' s', box.l, h - 4);
  const entries = [];
  metrics.forEach((m, k) => {
    const color = COLORS[k % COLORS.length];
    const pts = history.get(m.name) || [];
    g.strokeStyle = color; g.fillStyle = color; g.lineWidth = 2;
    g.beginPath();
    pts.forEach(([t, v], i) => {
      const x = box.l + (w - box.l - box.r) * (t - t0) / (t1 - t0);
      const y = box.t + (h - box.t - box.b) * (1 - v / max);
      if (i) g.lineTo(x, y); else g.moveTo(x, y);
      if (pts.length === 1) g.fillRect(x - 2, y - 2, 4, 4);
    });
    g.stroke();
    const last = pts.length ? pts[pts.length - 1][1] : 0;
    entries.push([color, label(m) + ' = ' + fmt(last, m.unit)]);
  });
  legend(id + '-legend', entries);
  canvas.dataset.drawn = String(points);
}

// A histogram's non-empty range of buckets as bars.
function drawHistogram(id, m) {
  const canvas = document.getElementById(id);
  const { g, w, h } = surface(canvas);
  const box = { l: 70, r: 8, t: 8, b: 30 };
  if (!m) { g.fillText('no such metric', box.l, 20); canvas.dataset.drawn = '0'; return; }
  const counts = m.counts, bounds = m.buckets.map(num);
  let lo = counts.findIndex(c => c > 0), hi = -1, total = 0, max = 0;
  counts.forEach((c, i) => { if (c > 0) hi = i; total += c; max = Math.max(max, c); });
  if (lo < 0) {
    g.fillStyle = '#666';
    g.fillText('no samples yet', box.l, 20);
    canvas.dataset.drawn = '0';
    legend(id + '-legend', []);
    return;
  }
  max = niceCeil(max * 1.05);
  yAxis(g, w, h, box, max, '');
  const n = hi - lo + 1, bw = (w - box.l - box.r) / n;
  let bars = 0;
  g.fillStyle = COLORS[0];
  for (let i = lo; i <= hi; i++) {
    const bh = (h - box.t - box.b) * counts[i] / max;
    g.fillRect(box.l + (i - lo) * bw + 1, h - box.b - bh, Math.max(1, bw - 2), bh);
    if (counts[i] > 0) bars++;
  }
  g.fillStyle = '#666';
  const labels = Math.min(n + 1, 6);
  for (let k = 0; k < labels; k++) {
    const i = lo + Math.round(k * n / (labels - 1 || 1));
    const x = box.l + (i - lo) * bw;
    g.textAlign = k === 0 ? 'left' : k === labels - 1 ? 'right' : 'center';
    g.fillText(fmt(bounds[Math.min(i, bounds.length - 1)], m.unit), x, h - box.b + 14);
  }
  legend(id + '-legend', [[COLORS[0], total + ' samples of ' + label(m)]]);
  canvas.dataset.drawn = String(bars);
  canvas.dataset.total = String(total);
}

function table(metrics) {
  const t = document.getElementById('table');
  t.textContent = '';
  for (const m of metrics) {
    const row = t.insertRow();
    row.insertCell().textContent = m.name;
    row.insertCell().textContent = m.kind;
    const v = row.insertCell();
    v.className = 'v';
    v.textContent = m.kind === 'histogram' ? m.counts.reduce((a, b) => a + b, 0) + ' samples' : fmt(num(m.value), m.unit);
  }
}

function update(data) {
  const metrics = data.metrics;
  for (const m of metrics) {
    if (m.kind !== 'gauge') continue;
    const pts = history.get(m.name) || [];
    pts.push([data.time_ms, num(m.value)]);
    if (pts.length > HISTORY) pts.shift();
    history.set(m.name, pts);
  }
  const gauges = metrics.filter(m => m.kind === 'gauge');
  drawLines('goroutines', gauges.filter(m => m.unit === 'goroutines' && m.name.startsWith('/sched/goroutines')));
  // Reserved stack bytes are address space, not memory, and would flatten
  // the others: they are in the table.
  drawLines('stacks', gauges.filter(m => m.unit === 'bytes' && /stack/.test(m.name) && !/reserved|retain/.test(m.name)));
  const histograms = metrics.filter(m => m.kind === 'histogram');
  drawHistogram('highwater', histograms.find(m => m.unit === 'bytes' && /stack/.test(m.name)));
  drawHistogram('latency', histograms.find(m => m.name === '/sched/latencies:seconds'));
  table(metrics);
  polls++;
  const status = document.getElementById('status');
  status.className = '';
  status.dataset.polls = String(polls);
  status.textContent = 'updated ' + new Date(data.time_ms).toLocaleTimeString() + ', ' + metrics.length + ' metrics, polling every second';
}

function poll() {
  fetch('metrics.json', { cache: 'no-store' })
    .then(r => { if (!r.ok) throw new Error('metrics.json: HTTP ' + r.status); return r.json(); })
    .then(update)
    .catch(e => {
      const status = document.getElementById('status');
      status.className = 'error';
      status.textContent = String(e);
    })
    .finally(() => setTimeout(poll, 1000));
}
poll();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view dashboard_html() {
  return kDashboard;
}

}  // namespace goro::http::debug
