// The ZKPoT election dashboard: draws the feed's state (GET /api/state, then one
// server-sent event per new block on /api/stream). Every string from the chain (endpoints,
// reasons, URIs) is untrusted: the page only ever sets it as text, never as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#2563eb", "#d97706", "#9333ea", "#0891b2", "#db2777", "#65a30d", "#7c3aed",
  "#ea580c", "#0d9488", "#4b5563"];
const MIN_LINE = "#dc2626";
const ACCEPTED = "#16a34a";
const REJECTED = "#dc2626";
const GLOBAL = "#111827";

let labels = {};
let colours = {};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k === "style") node.style.cssText = v; else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function short(addr) { return addr ? addr.slice(0, 6) + "…" + addr.slice(-4) : "–"; }
function name(addr) { return labels[addr] || short(addr); }
function colour(addr) { return colours[addr] || "#6b7280"; }

// One colour per worker, stable while the set of workers is.
function assignColours(state) {
  const seen = new Set(state.workers.map((w) => w.account));
  for (const t of state.tasks) for (const r of t.rounds) for (const [w] of r.accepted.concat(r.ranking)) seen.add(w);
  colours = {};
  [...seen].sort((a, b) => name(a).localeCompare(name(b))).forEach((a, i) => { colours[a] = PALETTE[i % PALETTE.length]; });
}

// A chart frame: rounds along x, a linear y from 0 to yMax; returns the helpers to draw.
function frame(rounds, yMax, yLabel, { width = 440, height = 230 } = {}) {
  const m = { l: 42, r: 12, t: 10, b: 34 };
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  const w = width - m.l - m.r, h = height - m.t - m.b;
  const n = Math.max(rounds.length, 1);
  const x = (i) => m.l + (w * (i + 0.5)) / n;
  const y = (v) => m.t + h - (h * v) / (yMax || 1);
  root.append(svg("line", { x1: m.l, y1: m.t + h, x2: m.l + w, y2: m.t + h, stroke: "#9ca3af" }));
  root.append(svg("line", { x1: m.l, y1: m.t, x2: m.l, y2: m.t + h, stroke: "#9ca3af" }));
  const ticks = 4;
  for (let i = 0; i <= ticks; i++) {
    const v = Math.round((yMax * i) / ticks);
    root.append(svg("line", { x1: m.l - 4, y1: y(v), x2: m.l + w, y2: y(v), stroke: "#f3f4f6" }));
    root.append(svg("text", { x: m.l - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#6b7280" }, v));
  }
  rounds.forEach((r, i) => root.append(svg("text", { x: x(i), y: m.t + h + 16, "text-anchor": "middle", "font-size": 11, fill: "#374151" }, r)));
  root.append(svg("text", { x: m.l + w / 2, y: height - 4, "text-anchor": "middle", "font-size": 11, fill: "#6b7280" }, "round"));
  root.append(svg("text", { x: 11, y: m.t + h / 2, "text-anchor": "middle", "font-size": 11, fill: "#6b7280", transform: `rotate(-90 11 ${m.t + h / 2})` }, yLabel));
  return { root, x, y, m, w, h };
}

// A note in the middle of an empty plot.
function empty(f, text) {
  f.root.append(svg("text", { x: f.m.l + f.w / 2, y: f.m.t + f.h / 2, "text-anchor": "middle", "font-size": 12, fill: "#9ca3af" }, text));
}

function scoresChart(task) {
  const rounds = task.rounds.filter((r) => r.accepted.length || r.ranking.length);
  const scores = rounds.flatMap((r) => (r.accepted.length ? r.accepted : r.ranking).map(([, s]) => s));
  const yMax = task.samples || Math.max(task.min_score, ...scores, 1) + 2;
  const f = frame(rounds.map((r) => r.round), yMax, "proven score");
  // The minimum a proof must show to count.
  f.root.append(svg("line", { x1: f.m.l, x2: f.m.l + f.w, y1: f.y(task.min_score), y2: f.y(task.min_score), stroke: MIN_LINE, "stroke-width": 2.5, "stroke-dasharray": "7 4", class: "min-line" }));
  f.root.append(svg("text", { x: f.m.l + f.w - 2, y: f.y(task.min_score) - 5, "text-anchor": "end", "font-size": 11, fill: MIN_LINE }, `minimum ${task.min_score}`));
  rounds.forEach((r, i) => {
    const points = r.accepted.length ? r.accepted : r.ranking;
    const spread = Math.min(16, (0.8 * f.w) / Math.max(rounds.length, 1) / (points.length + 1));
    points.forEach(([who, s], j) => {
      const cx = f.x(i) + (j - (points.length - 1) / 2) * spread;
      if (who === r.leader) f.root.append(svg("circle", { cx, cy: f.y(s), r: 9, fill: "none", stroke: GLOBAL, "stroke-width": 2 }));
      const dot = svg("circle", { cx, cy: f.y(s), r: 6, fill: colour(who), class: "score-dot" });
      dot.append(svg("title", {}, `${name(who)}: ${s}`));
      f.root.append(dot);
    });
    if (r.global && r.global.score !== null && r.global.score !== undefined) {
      const gy = f.y(r.global.score), gx = f.x(i) + (points.length / 2 + 1) * spread;
      const d = svg("path", { d: `M${gx} ${gy - 7}L${gx + 7} ${gy}L${gx} ${gy + 7}L${gx - 7} ${gy}Z`, fill: GLOBAL });
      d.append(svg("title", {}, `global model: ${r.global.score}`));
      f.root.append(d);
    }
  });
  if (!rounds.length) empty(f, "no proof verified yet");
  const legend = el("div", { class: "legend" },
    Object.keys(colours).map((a) => el("span", { style: `--c:${colour(a)}` }, name(a))),
    el("span", { style: `--c:${GLOBAL}` }, "global model (◆)"), el("span", { style: "--c:transparent" }, "○ leader"));
  return el("div", { class: "chart", id: `scores-${task.id}` }, el("h3", {}, "Proven scores per round"), f.root, legend);
}

function proofsChart(task) {
  const rounds = task.rounds.filter((r) => r.accepted.length || r.rejected.length);
  const yMax = Math.max(1, ...rounds.map((r) => r.accepted.length + r.rejected.length));
  const f = frame(rounds.map((r) => r.round), yMax, "proofs");
  const bw = Math.min(36, f.w / Math.max(rounds.length, 1) / 2);
  rounds.forEach((r, i) => {
    const a = r.accepted.length, b = r.rejected.length;
    f.root.append(svg("rect", { x: f.x(i) - bw / 2, y: f.y(a), width: bw, height: f.y(0) - f.y(a), fill: ACCEPTED, class: "bar-accepted" }));
    if (b) f.root.append(svg("rect", { x: f.x(i) - bw / 2, y: f.y(a + b), width: bw, height: f.y(a) - f.y(a + b), fill: REJECTED, class: "bar-rejected" }));
  });
  if (!rounds.length) empty(f, "no proof revealed yet");
  const legend = el("div", { class: "legend" }, el("span", { style: `--c:${ACCEPTED}` }, "accepted"), el("span", { style: `--c:${REJECTED}` }, "rejected"));
  return el("div", { class: "chart", id: `proofs-${task.id}` }, el("h3", {}, "Proofs verified on chain"), f.root, legend);
}

function accuracyChart(task) {
  const rounds = task.rounds.filter((r) => r.global && r.global.score !== null && r.global.score !== undefined);
  const f = frame(rounds.map((r) => r.round), 100, "accuracy (%)");
  const pts = rounds.map((r, i) => [f.x(i), f.y((100 * r.global.score) / r.global.samples)]);
  if (pts.length > 1) f.root.append(svg("polyline", { points: pts.map((p) => p.join(",")).join(" "), fill: "none", stroke: GLOBAL, "stroke-width": 2 }));
  pts.forEach(([cx, cy], i) => {
    const dot = svg("circle", { cx, cy, r: 4.5, fill: GLOBAL });
    dot.append(svg("title", {}, `${rounds[i].global.score}/${rounds[i].global.samples}`));
    f.root.append(dot);
  });
  if (!rounds.length) empty(f, "no global model scored yet");
  const note = task.bundle
    ? `on the task's ${task.samples} fixed test samples, quantized as in the circuit`
    : "unknown here: start the dashboard with this task's bundle (--task-dir)";
  return el("div", { class: "chart", id: `accuracy-${task.id}` }, el("h3", {}, "Global model accuracy"), f.root, el("div", { class: "legend muted" }, note));
}

function electionsTable(task) {
  const body = el("tbody");
  for (const r of [...task.rounds].reverse()) {
    const scores = (r.ranking.length ? r.ranking : r.accepted).map(([w, s]) =>
      el("span", { class: w === r.leader ? "leader" : "" }, `${name(w)} ${s}`, " "));
    const rejected = r.rejected.map((x) => el("div", { class: "rejected" }, `${name(x.who)}: ${x.reason}`));
    let aggregate = "–";
    if (r.aggregate) {
      aggregate = `${r.aggregate.included.length} included` + (r.left_out.length ? `, ${r.left_out.length} left out` : "");
    }
    const g = r.global;
    const globalText = !g ? "–" : g.score !== null && g.score !== undefined ? `${g.score}/${g.samples}` : `not scored: ${g.error}`;
    body.append(el("tr", { "data-round": r.round },
      el("td", { class: "num" }, r.round),
      el("td", { class: "leader" }, r.leader ? name(r.leader) : "–"),
      el("td", {}, scores.length ? scores : "–"),
      el("td", {}, rejected.length ? rejected : "–"),
      el("td", {}, r.authors.length ? r.authors.map(name).join(", ") : "–"),
      el("td", {}, aggregate),
      el("td", {}, r.published ? `by ${name(r.published.by)}` : "–"),
      el("td", {}, globalText)));
  }
  return el("table", { class: "elections", id: `elections-${task.id}` },
    el("thead", {}, el("tr", {}, ["round", "leader", "proven scores", "rejected (why)", "next authors", "aggregate", "published", "global model"].map((h) => el("th", {}, h)))),
    body);
}

function taskSection(task) {
  const r = task.round;
  const title = el("div", { class: "round-title", id: `round-${task.id}` });
  if (r) {
    title.append(`Round ${r.index} · `, el("span", { class: "phase" }, r.phase));
    if (r.blocks_left !== null && r.blocks_left !== undefined) title.append(el("span", { class: "muted", style: "font-size:16px;font-weight:500" }, ` ${r.blocks_left} blocks left`));
  } else {
    title.append("No round yet");
  }
  const counts = r ? el("div", { class: "counts" },
    el("span", {}, el("b", {}, r.commits), " committed"),
    el("span", {}, el("b", {}, r.reveals), " revealed"),
    el("span", {}, el("b", {}, r.contributions), " accepted")) : "";
  const head = el("h2", {}, `Task ${task.id}`, task.bundle ? ` · ${task.bundle}` : "", " ", el("span", { class: "badge" }, task.status));
  const meta = el("div", { class: "muted" }, `minimum score ${task.min_score}` + (task.samples ? ` of ${task.samples}` : "") +
    ` · VKA ${task.vka_bytes} B · verification ${(task.verify_weight_ref_time / 1e9).toFixed(1)} ms of weight`);
  return el("section", { class: "task", id: `task-${task.id}` }, head, meta, title, counts,
    el("div", { class: "charts" }, scoresChart(task), proofsChart(task), accuracyChart(task)),
    el("h3", { style: "margin-top:12px" }, "Elections"), electionsTable(task));
}

function render(state) {
  labels = state.labels || {};
  assignColours(state);
  document.getElementById("chain").textContent = state.chain.url;
  const err = document.getElementById("error");
  err.hidden = !state.error;
  err.textContent = state.error ? `The chain did not answer: ${state.error}` : "";
  if (state.block) {
    document.getElementById("live-text").textContent = `block #${state.block.number}`;
    document.body.dataset.block = state.block.number;
  }
  const tasks = document.getElementById("tasks");
  tasks.replaceChildren(...(state.tasks.length ? state.tasks.map(taskSection) : [el("p", { class: "muted" }, "No task registered.")]));
  const tbody = document.querySelector("#workers tbody");
  const workers = [...state.workers].sort((a, b) => name(a.account).localeCompare(name(b.account)));
  tbody.replaceChildren(...workers.map((w) => el("tr", {},
    el("td", {}, el("span", { style: `color:${colour(w.account)};font-weight:700` }, "● "), labels[w.account] || ""),
    el("td", {}, el("code", {}, w.account)),
    el("td", { class: "num" }, w.deposit.toLocaleString("en")),
    el("td", { class: "num" }, w.open_rounds),
    el("td", { class: "num" + (w.invalid_proofs ? " rejected" : "") }, w.invalid_proofs),
    el("td", {}, w.endpoint || "–", w.leaving ? " (leaving)" : ""))));
}

function setLive(cls, text) {
  const live = document.getElementById("live");
  live.className = `live ${cls}`;
  if (text) document.getElementById("live-text").textContent = text;
}

function connect() {
  const source = new EventSource("/api/stream");
  source.addEventListener("state", (e) => {
    const state = JSON.parse(e.data);
    render(state);
    setLive(state.error ? "stale" : "ok");
  });
  source.onerror = () => setLive("stale", "reconnecting…");
}

fetch("/api/state").then((r) => r.json()).then((s) => { if (s.block) render(s); }).finally(connect);
