// sizeup's page: reads the form, asks the JSON API (the same commands as the
// CLI), and draws the answers. No framework, nothing loaded from elsewhere.
"use strict";

const $ = (s) => document.querySelector(s);
const form = $("#inputs");
const FIELDS = ["model", "gpu", "tp", "weights", "kv_dtype", "workload", "prompt", "output",
  "context", "concurrency", "train_gpus", "seq_len", "tokens", "zero", "recompute"];
const SVG = "http://www.w3.org/2000/svg";
let config = null; // a pasted config.json's text
let pending = null; // the AbortController of the requests in flight
let timer = null;
let generation = 0; // the latest update's number: an older one's end changes nothing

// ---- formatting (binary byte units, as the CLI's default) ----
const grouped = (x) => Math.round(x).toLocaleString("en-US");
function bytes(b) {
  if (b == null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (Math.abs(b) >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return (i === 0 ? b.toFixed(0) : b.toFixed(b >= 100 ? 0 : b >= 10 ? 1 : 2)) + " " + units[i];
}
function count(n) {
  if (n == null) return "–";
  for (const [d, s] of [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]]) {
    if (Math.abs(n) >= d) return (n / d).toFixed(n / d >= 100 ? 0 : n / d >= 10 ? 1 : 2) + s;
  }
  return String(n);
}
function seconds(s) {
  if (s == null) return "–";
  if (s < 1e-3) return (s * 1e6).toFixed(0) + " µs";
  if (s < 1) return (s * 1e3).toFixed(s < 0.01 ? 2 : 1) + " ms";
  if (s < 120) return s.toFixed(2) + " s";
  if (s < 7200) return (s / 60).toFixed(1) + " min";
  if (s < 172800) return (s / 3600).toFixed(1) + " h";
  const days = s / 86400;
  return (days >= 1000 ? grouped(days) : days.toFixed(1)) + " days";
}
function num(x, d = 3) {
  if (x == null) return "–";
  return Math.abs(x) >= 1000 ? grouped(x) : String(Number(Number(x).toPrecision(d)));
}
// token counts as the CLI reads them: 32k = 32768
function tokens(n) {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return n / (1 << 20) + "m";
  if (n >= 1024 && n % 1024 === 0) return n / 1024 + "k";
  return count(n);
}
const usd = (x) => (x == null ? "–" : "$" + (x >= 100 ? grouped(x) : x.toFixed(x >= 1 ? 2 : 4)));
const pct = (x) => (x == null ? "–" : (x * 100).toFixed(1) + "%");
const words = (s) => String(s).replace(/_/g, " ");

// ---- DOM helpers ----
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}
// a figure as shown, carrying the API's value unrounded (for tests and for copying)
function fig(testid, value, text) {
  return el("span", { "data-testid": testid, "data-value": String(value) }, text);
}
function body(id) { return $("#" + id + " .body"); }
function show(id, ...nodes) { body(id).replaceChildren(...nodes); }
function table(rows) {
  return el("table", {}, el("tbody", {}, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))));
}
function showError(id, err) {
  const box = el("div", { class: "error" }, el("strong", {}, err.error || String(err)));
  for (const c of err.causes || []) box.append(el("div", {}, "caused by: " + c));
  for (const h of err.hints || []) box.append(el("div", { class: "hint" }, "hint: " + h));
  show(id, box);
}
function bars(items, total) {
  // one horizontal bar per item, as a share of `total`
  const list = el("div", { class: "bars" });
  for (const [label, value, text] of items) {
    const fill = el("span", { class: "fill" });
    fill.style.width = Math.max(0.5, (100 * value) / Math.max(total, 1)) + "%";
    list.append(el("div", { class: "bar" }, el("span", { class: "label" }, label), el("span", { class: "track" }, fill), el("span", { class: "value" }, text)));
  }
  return list;
}

// ---- inputs and the shareable URL ----
function values() {
  const v = {};
  for (const n of FIELDS) {
    const e = form.elements[n];
    if (e && String(e.value).trim() !== "") v[n] = String(e.value).trim();
  }
  return v;
}
function fromUrl() {
  const q = new URLSearchParams(location.search);
  for (const n of FIELDS) if (q.has(n) && form.elements[n]) form.elements[n].value = q.get(n);
}
function toUrl(v) {
  const url = location.pathname + "?" + new URLSearchParams(v).toString();
  history.replaceState(null, "", url);
  $("#share").href = url;
}
function pick(v, names) {
  const out = {};
  for (const n of names) if (v[n] != null) out[n] = v[n];
  return out;
}
function withModel(v, fields) {
  const b = { ...fields };
  if (config) { b.config = config; if (v.model) b.model = "config.json"; } else b.model = v.model || "";
  return b;
}

async function api(path, fields, signal) {
  const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(fields), signal });
  let json;
  try { json = await res.json(); } catch (e) { throw { error: res.status + " " + res.statusText }; }
  if (!res.ok) throw json;
  return json;
}

// ---- the panels ----
function drawParams(r) {
  const b = r.breakdown;
  const groups = Object.entries(b).filter(([, n]) => n > 0).map(([k, n]) => [words(k), n, count(n) + " · " + pct(n / r.params_total)]);
  const m = r.model;
  show("params",
    el("p", { class: "big" }, fig("params-total", r.params_total, count(r.params_total)),
      el("small", {}, ...(r.params_active !== r.params_total ? [" total · ", fig("params-active", r.params_active, count(r.params_active)), " active per token"] : [" parameters"]))),
    el("p", { class: "note", "data-testid": "params-model", "data-value": m.name }, `${m.name}: ${m.model_type}, ${m.layers} layers, h ${m.hidden_size}, ${m.attention} ${m.heads}/${m.kv_heads}×${m.head_dim}, context ${tokens(m.max_context)}`),
    bars(groups, r.params_total),
    el("p", { class: "note" }, `the lesson's rough 12·h² estimate: ${count(r.rough.rough_total)} (${((r.rough.rough_total / r.rough.exact_total - 1) * 100).toFixed(1)}%)`));
}

const MEMORY = [["weights_bytes", "weights"], ["kv_cache_bytes", "KV cache"], ["activation_workspace_bytes", "activations"],
  ["runtime_bytes", "runtime"], ["comm_buffer_bytes", "comm buffers"], ["engine_reserve_bytes", "engine reserve"],
  ["unusable_bytes", "not usable (driver, OS)"], ["free_bytes", "free"]];
function drawMemory(r) {
  const e = r.estimate, m = e.memory;
  const total = Math.max(m.total_bytes, m.total_bytes + m.shortfall_bytes);
  const stack = el("div", { class: "stack" });
  const legend = el("ul", { class: "legend" });
  MEMORY.forEach(([k, label], i) => {
    if (!m[k]) return;
    const part = el("span", { class: "c" + i, title: label + " " + bytes(m[k]) });
    part.style.width = (100 * m[k]) / total + "%";
    stack.append(part);
    legend.append(el("li", {}, el("span", { class: "swatch c" + i }), label + " ", fig("memory-" + k, m[k], bytes(m[k]))));
  });
  if (m.shortfall_bytes > 0) legend.append(el("li", { class: "bad" }, `short by ${bytes(m.shortfall_bytes)}`));
  const nodes = [el("p", {}, `${e.gpu} × ${e.gpus} (tp ${e.tp}), `, fig("memory-total_bytes", m.total_bytes, bytes(m.total_bytes)), ` each, ${e.weights} weights, ${e.kv_dtype} KV: `,
    el("strong", { class: e.fits ? "good" : "bad" }, e.fits ? "fits" : "does not fit")), stack, legend];
  const a = e.fit_advice;
  if (a) {
    const tips = [];
    if (a.min_tp) tips.push(`tensor parallel ${a.min_tp}`);
    if (a.formats && a.formats.length) tips.push(`weights ${a.formats.join(" or ")}`);
    if (a.max_batch) tips.push(`at most ${a.max_batch} requests`);
    if (a.max_context) tips.push(`context at most ${tokens(a.max_context)}`);
    if (tips.length) nodes.push(el("p", { class: "note" }, "it would fit with " + tips.join("; ")));
  }
  show("memory", ...nodes);
}

function drawServing(r) {
  const e = r.estimate, s = e.schedule;
  show("serving", table([
    ["load", `${e.load.requests} ${e.load.kind === "batch" ? "requests in a static batch" : "requests in flight"}; prompt ${e.prompt}, output ${e.output}, context ${e.context}`],
    ["time to first token", el("span", {}, fig("serving-ttft", s.time_to_first_token_seconds, seconds(s.time_to_first_token_seconds)), ` (prefill ${words(e.prefill.bound)}-bound)`)],
    ["time per output token", el("span", {}, fig("serving-tpot", s.time_per_output_token_seconds, seconds(s.time_per_output_token_seconds)), ` (decode ${words(e.decode.bound)}-bound)`)],
    ["output tokens/s (all)", fig("serving-output-tokens-per-sec", e.output_tokens_per_sec_total, num(e.output_tokens_per_sec_total))],
    ["most requests at this context", fig("serving-max-batch", e.max_batch_at_context, e.max_batch_at_context)],
    ["decode turns compute-bound at batch", num(e.ridge_batch_effective)],
    ["$ per million output tokens", usd(e.cost.usd_per_million_output_tokens)],
    ["$ per million input tokens", usd(e.cost.usd_per_million_input_tokens)],
  ]));
  for (const w of e.warnings || []) body("serving").append(el("p", { class: "note" }, "warning: " + words(w.kind)));
}

/** A training verdict's class and words: tight is inside the fit margin below the capacity. */
const VERDICT = {
  fits: ["good", "fits"],
  tight: ["warn", "tight: may run out of memory"],
  does_not_fit: ["bad", "does not fit"],
};

function drawTraining(r) {
  const e = r.estimate, m = e.memory, t = e.time;
  const items = [["weights", m.weights_bytes], ["gradients", m.gradients_bytes], ["optimizer", m.optimizer_states_bytes],
    ["activations", m.activations_bytes], ["logits and loss", m.logits_and_loss_bytes], ["comm buffers", m.communication_buffers_bytes],
    ["framework", m.framework_overhead_bytes]].filter(([, b]) => b > 0).map(([k, b]) => [k, b, bytes(b)]);
  show("training",
    el("p", {}, `${e.accelerator}: memory per GPU `, fig("training-memory-total", m.total_bytes, bytes(m.total_bytes)), ` of ${bytes(m.capacity_bytes)}: `,
      el("strong", { class: VERDICT[e.verdict][0] }, VERDICT[e.verdict][1])),
    bars(items, Math.max(m.capacity_bytes, m.total_bytes)),
    table([
      ["tokens", count(e.tokens) + ` (${num(e.tokens_per_parameter)} per parameter)`],
      ["step time", fig("training-step-seconds", t.step_seconds, seconds(t.step_seconds))],
      ["MFU", pct(t.mfu)],
      ["tokens/s", num(t.tokens_per_second)],
      ["wall time", seconds(t.total_seconds)],
      ["GPU-hours", num(t.gpu_hours)],
      ["cost", usd(t.cost_usd)],
    ]));
}

function drawCard(r) {
  const c = r.card, b = c.bottleneck;
  const list = el("ol", { class: "decisions" });
  for (const d of c.decisions || []) {
    const gain = d.error ? d.error : d.unbounded ? "unbounded" : "×" + num(d.gain);
    list.append(el("li", {}, el("strong", {}, d.name), ` (${d.change}): ${gain}`, d.caveat ? el("div", { class: "note" }, d.caveat) : ""));
  }
  show("card",
    el("p", {}, `${words(c.workload)}: the bottleneck is `, el("strong", {}, words(b.kind)),
      b.figure ? `, ${b.figure.name} ${num(b.figure.value)} ${b.figure.unit}` : ""),
    decisionBlock(c.decision),
    el("h3", {}, "what would change it most"), list);
}

// The card's decision: each target met or not with its figure, and the cheapest
// change (alone or combined) that meets them all, as `sizeup card` prints it.
function decisionBlock(d) {
  if (!d) return "";
  const figure = (k) => k.target === "concurrency" ? num(k.figure) : seconds(k.figure);
  const limit = (k) => k.target === "concurrency" ? `≥ ${num(k.limit)}` : `≤ ${seconds(k.limit)}`;
  const checks = el("ul", { class: "checks", "data-testid": "decision-checks" });
  for (const k of d.checks || []) {
    checks.append(el("li", {}, `${words(k.target)} ${limit(k)}: ${figure(k)} `,
      el("strong", { class: k.met ? "good" : "bad" }, k.met ? "met" : "not met")));
  }
  const change = (x) => x
    ? `${x.changes.map((c) => `${words(c.what)} ${c.from} → ${c.to}`).join(", ")} (${usd(x.usd_per_hour)}/h)`
    : "none found";
  return el("div", { class: "decision", "data-testid": "decision" },
    el("h3", {}, d.meets_every_target ? "decision: every target is met" : "decision: a target is missed"),
    checks,
    d.meets_every_target ? "" : el("p", {}, el("strong", {}, "cheapest change: "), change(d.cheapest)),
    d.meets_every_target || !d.cheapest_alone ? "" : el("p", {}, el("strong", {}, "cheapest single change: "), change(d.cheapest_alone)));
}

function drawKv(r, budget) {
  const pts = r.points.filter((p) => p.serve).map((p) => [p.serve.context, p.serve.kv_per_request_bytes]);
  if (!pts.length) { show("kv", el("p", {}, "no point could be estimated")); return; }
  // as wide as the panel up to 640 units, so that on a phone the labels are not shrunk
  const W = Math.round(Math.min(640, Math.max(300, body("kv").clientWidth))), H = 260, L = 70, R = 24, T = 12, B = 40;
  const xs = pts.map((p) => Math.log2(p[0]));
  const ymax = Math.max(...pts.map((p) => p[1]), budget || 0) * 1.05;
  const x = (v) => L + ((Math.log2(v) - xs[0]) / Math.max(xs[xs.length - 1] - xs[0], 1)) * (W - L - R);
  const y = (v) => T + (1 - v / ymax) * (H - T - B);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "KV cache per request against context" });
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    s.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    s.append(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, bytes(v)));
  }
  pts.forEach(([c], i) => {
    if (pts.length > 8 && i % 2) return;
    s.append(svg("text", { x: x(c), y: H - B + 16, "text-anchor": "middle" }, tokens(c)));
  });
  s.append(svg("text", { x: (L + W) / 2, y: H - 4, "text-anchor": "middle" }, "context (tokens)"));
  if (budget && budget < ymax) {
    s.append(svg("line", { x1: L, x2: W - R, y1: y(budget), y2: y(budget), class: "budget" }));
    s.append(svg("text", { x: W - R, y: y(budget) - 4, "text-anchor": "end", class: "budget-label" }, "room for KV on one GPU " + bytes(budget)));
  }
  s.append(svg("polyline", { points: pts.map(([c, b]) => `${x(c)},${y(b)}`).join(" "), class: "curve" }));
  for (const [c, b] of pts) {
    const dot = svg("circle", { cx: x(c), cy: y(b), r: 3 });
    dot.append(svg("title", {}, `${tokens(c)} tokens: ${bytes(b)}`));
    s.append(dot);
  }
  show("kv", s, el("p", { class: "note" }, `${r.model.name}, ${r.settings.kv_dtype} cache; recurrent state (if any) included`));
}

// ---- one update: every panel from the current inputs ----
// body[data-state]: "pending" while an input waits for its update, "busy" while
// the panels are asked for, "ready" once every panel of the latest update is drawn
function setState(state) {
  document.body.dataset.state = state;
  document.body.classList.toggle("busy", state !== "ready");
}
async function update() {
  const mine = ++generation;
  const v = values();
  toUrl(v);
  if (pending) pending.abort();
  pending = new AbortController();
  const signal = pending.signal;
  setState("busy");
  const serving = pick(v, ["gpu", "tp", "weights", "kv_dtype"]);
  const workload = pick(v, ["prompt", "output", "context", "concurrency"]);
  const trainFlags = pick(v, ["seq_len", "tokens", "zero", "recompute"]);
  const training = { gpu: v.gpu, gpus: v.train_gpus, ...trainFlags };
  const cardFields = { workload: v.workload, ...serving, ...workload, ...trainFlags };
  if (v.train_gpus) cardFields.train_gpus = v.train_gpus;
  const run = (id, path, fields, draw) =>
    api(path, withModel(v, fields), signal).then((r) => { draw(r); return r; })
      .catch((e) => { if (e && e.name === "AbortError") throw e; showError(id, e); return null; });
  const params = run("params", "/api/params", {}, drawParams);
  const card = run("card", "/api/card", cardFields, drawCard);
  const train = run("training", "/api/train", training, drawTraining);
  // serving panels use the card's figures for the workload (its defaults fill the gaps)
  const servingDone = Promise.all([params, card]).then(([p, c]) => {
    const i = c && c.card.inference;
    const s = { ...serving };
    if (i) Object.assign(s, { prompt: i.prompt_tokens, output: i.output_tokens, context: i.context_tokens, concurrency: i.requests_in_flight });
    else Object.assign(s, workload);
    const rest = [run("serving", "/api/infer", s, (r) => { drawServing(r); drawMemory(r); })
      .then((r) => { if (!r) showError("memory", { error: "see Serving" }); })];
    if (p) {
      const end = Math.min(p.model.max_context, 1 << 20);
      const start = Math.min(1024, end);
      const sweep = { ...s, vary: `context=${start}..${end}*2` };
      delete sweep.context;
      rest.push(api("/api/sweep", withModel(v, sweep), signal)
        .then((r) => { const first = r.points.find((q) => q.serve); drawKv(r, first && first.serve.kv_budget_bytes); })
        .catch((e) => { if (!(e && e.name === "AbortError")) showError("kv", e); }));
    } else showError("kv", { error: "see Parameters" });
    return Promise.allSettled(rest);
  }).catch(() => {});
  Promise.allSettled([params, card, train, servingDone]).then(() => { if (mine === generation) setState("ready"); });
}
function later() { clearTimeout(timer); setState("pending"); timer = setTimeout(update, 350); }

// ---- start ----
async function start() {
  fromUrl();
  form.addEventListener("input", (e) => { if (e.target.id !== "config" && e.target.id !== "config-file") later(); });
  form.addEventListener("change", (e) => { if (e.target.tagName === "SELECT") later(); });
  form.addEventListener("submit", (e) => { e.preventDefault(); update(); });
  $("#config").addEventListener("input", (e) => { config = e.target.value.trim() || null; later(); });
  $("#config-file").addEventListener("change", (e) => {
    const f = e.target.files[0];
    if (!f) return;
    setState("pending");
    f.text().then((t) => { $("#config").value = t; config = t.trim() || null; $("#config-box").open = true; update(); });
  });
  $("#config-clear").addEventListener("click", () => { $("#config").value = ""; $("#config-file").value = ""; config = null; update(); });
  try {
    const [models, gpus] = await Promise.all([
      fetch("/api/models").then((r) => r.json()),
      fetch("/api/gpus").then((r) => r.json()),
    ]);
    $("#models").replaceChildren(...models.models.map((m) => el("option", { value: m.name }, `${m.family} · ${count(m.params_total)}`)));
    const chosen = new URLSearchParams(location.search).get("gpu") || form.elements.gpu.value;
    const norm = (t) => t.toLowerCase().replace(/[-_ ]/g, "");
    const found = gpus.accelerators.find((g) => [g.name, ...g.aliases].some((n) => norm(n) === norm(chosen)));
    $("#gpu").replaceChildren(...gpus.accelerators.map((g) => el("option", { value: g.name }, g.name)));
    // a name the catalog lacks stays, for the API to answer with its suggestions
    if (!found) $("#gpu").prepend(el("option", { value: chosen }, chosen));
    form.elements.gpu.value = found ? found.name : chosen;
  } catch (e) { /* the lists only help: the inputs still work */ }
  update();
}
start();
