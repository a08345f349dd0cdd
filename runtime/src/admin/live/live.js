// The live view of Weir's admin API: draws every pipeline's graph from left
// to right, keeps its counters current from the server-sent events of
// /events, and shows a clicked node's details and a tap on its output, or a
// clicked edge's schema. Every text from the server is set as textContent.
"use strict";

const NODE_W = 230, NODE_H = 112, GAP_X = 60, GAP_Y = 22;
const SVG = "http://www.w3.org/2000/svg";
const TAP_ROWS_SHOWN = 10;

const drawn = new Map();   // pipeline name -> {shape, nodes: Map(name -> elements)}
let last = null;           // the last event: {time_ms, pipelines}
let rates = new Map();     // "pipeline/node" -> {in, out} rows/s
let selected = null;       // {pipeline, node} or {pipeline, from, to}
let tapStop = null;        // aborts the running tap

function make(tag, attrs = {}, parent = null, text = null) {
  const svg = ["svg", "g", "rect", "text", "path", "title"].includes(tag);
  const element = svg ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
  if (text !== null) element.textContent = text;
  if (parent) parent.appendChild(element);
  return element;
}

// A plugin's file name without its folder and `.wasm`, cut to fit a box.
function pluginName(node) {
  if (!node.plugin) return "native";
  // First-party plugins' files are `weir_plugin_<name>.wasm`.
  const name = node.plugin.path.split("/").pop().replace(/\.wasm$/, "").replace(/^weir_plugin_/, "");
  return name.length > 20 ? name.slice(0, 19) + "…" : name;
}

function count(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(1) + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return String(Math.round(n));
}

// Layered layout of a graph with no cycles: a node's column is one more than
// its furthest input's; in a column, nodes are ordered by the mean row of
// their inputs (graph order breaks ties), and short columns are centred.
function layout(nodes) {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const column = new Map();
  const columnOf = (node) => {
    if (!column.has(node.name)) {
      const inputs = node.inputs.map((name) => columnOf(byName.get(name)));
      column.set(node.name, inputs.length ? 1 + Math.max(...inputs) : 0);
    }
    return column.get(node.name);
  };
  nodes.forEach(columnOf);
  const columns = [];
  nodes.forEach((n) => (columns[column.get(n.name)] ||= []).push(n));
  const row = new Map();
  const meanRow = (n) => n.inputs.reduce((sum, i) => sum + row.get(i), 0) / n.inputs.length;
  columns.forEach((nodesIn, c) => {
    if (c > 0) nodesIn.sort((a, b) => meanRow(a) - meanRow(b));
    nodesIn.forEach((n, r) => row.set(n.name, r));
  });
  const tallest = Math.max(...columns.map((c) => c.length));
  const at = new Map();
  columns.forEach((nodesIn, c) => nodesIn.forEach((n, r) => at.set(n.name, {
    x: 10 + c * (NODE_W + GAP_X),
    y: 10 + (r + (tallest - nodesIn.length) / 2) * (NODE_H + GAP_Y),
  })));
  return {at, width: 20 + columns.length * (NODE_W + GAP_X) - GAP_X, height: 20 + tallest * (NODE_H + GAP_Y) - GAP_Y};
}

function draw(pipeline) {
  const section = make("section", {class: "pipeline", "data-pipeline": pipeline.name});
  const title = make("h2", {}, section, pipeline.name + " ");
  make("small", {}, title, "tenant " + pipeline.tenant);
  const {at, width, height} = layout(pipeline.nodes);
  const svg = make("svg", {width, height, viewBox: `0 0 ${width} ${height}`}, section);
  const schemas = new Map(pipeline.nodes.map((n) => [n.name, n.output_schema]));
  for (const node of pipeline.nodes) {
    for (const input of node.inputs) {
      const from = at.get(input), to = at.get(node.name);
      const [x1, y1, x2, y2] = [from.x + NODE_W, from.y + NODE_H / 2, to.x, to.y + NODE_H / 2];
      const mid = (x1 + x2) / 2;
      const edge = make("path", {class: "edge", "data-from": input, "data-to": node.name,
        d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`}, svg);
      make("title", {}, edge, `${input} → ${node.name}\n${schemas.get(input) || "(no schema)"}`);
      edge.addEventListener("click", () => select({pipeline: pipeline.name, from: input, to: node.name}));
    }
  }
  const elements = new Map();
  for (const node of pipeline.nodes) {
    const {x, y} = at.get(node.name);
    const g = make("g", {class: `node ${node.kind}`, "data-node": node.name, transform: `translate(${x},${y})`}, svg);
    make("rect", {class: "box", width: NODE_W, height: NODE_H}, g);
    make("text", {class: "name", x: 10, y: 18}, g, node.name);
    const what = make("text", {class: "what", x: 10, y: 34}, g, "");
    const rows = make("text", {class: "rates", x: 10, y: 52}, g, "");
    make("rect", {class: "queue", x: 10, y: 60, width: NODE_W - 20, height: 6}, g);
    const fill = make("rect", {class: "queue-fill", x: 10, y: 60, width: 0, height: 6}, g);
    const queueTitle = make("title", {}, fill, "");
    const totals = make("text", {class: "faults", x: 10, y: 84}, g, "");
    const faults = make("text", {class: "faults", x: 10, y: 100}, g, "");
    g.addEventListener("click", () => select({pipeline: pipeline.name, node: node.name}));
    elements.set(node.name, {g, what, rows, fill, queueTitle, totals, faults});
  }
  return {section, elements};
}

// The graph's shape: redrawn only when it changes.
function shapeOf(pipeline) {
  return JSON.stringify(pipeline.nodes.map((n) => [n.name, n.kind, n.inputs, n.output_schema]));
}

function update(event) {
  const main = document.getElementById("pipelines");
  const seen = new Set();
  const elapsed = last ? (event.time_ms - last.time_ms) / 1000 : 0;
  const before = new Map();
  if (last) for (const p of last.pipelines) for (const n of p.nodes) before.set(`${p.name}/${n.name}`, n.counters);
  for (const pipeline of event.pipelines) {
    seen.add(pipeline.name);
    const shape = shapeOf(pipeline);
    let view = drawn.get(pipeline.name);
    if (!view || view.shape !== shape) {
      const {section, elements} = draw(pipeline);
      if (view) view.section.replaceWith(section); else main.appendChild(section);
      view = {shape, section, elements};
      drawn.set(pipeline.name, view);
    }
    for (const node of pipeline.nodes) {
      const key = `${pipeline.name}/${node.name}`;
      const c = node.counters, e = view.elements.get(node.name), old = before.get(key);
      if (old && elapsed > 0) {
        rates.set(key, {in: (c.rows_in - old.rows_in) / elapsed, out: (c.rows_out - old.rows_out) / elapsed});
      }
      const rate = rates.get(key) || {in: 0, out: 0};
      e.g.dataset.rowsIn = c.rows_in;
      e.g.dataset.rowsOut = c.rows_out;
      e.rows.textContent = `in ${count(rate.in)}/s · out ${count(rate.out)}/s`;
      const digest = node.plugin ? " · " + node.plugin.digest.replace("sha256:", "").slice(0, 8) : "";
      e.what.textContent = `${node.kind} · ${pluginName(node)}${digest}`;
      const {waiting, capacity} = node.queue;
      const share = capacity ? Math.min(1, waiting / capacity) : 0;
      e.fill.setAttribute("width", share * (NODE_W - 20));
      e.fill.classList.toggle("full", share >= 0.9);
      e.queueTitle.textContent = `input queue: ${waiting} of ${capacity} batches waiting`;
      e.totals.textContent = `${count(c.rows_out)} rows out · ${count(c.dead_letters)} dead letters`;
      e.faults.textContent = `restarts ${c.restarts} · reloads ${c.reloads}`;
      e.g.classList.toggle("troubled", c.dead_letters > 0 || c.restarts > 0);
      e.g.classList.toggle("selected", !!selected && selected.pipeline === pipeline.name && selected.node === node.name);
    }
  }
  for (const [name, view] of drawn) {
    if (!seen.has(name)) { view.section.remove(); drawn.delete(name); }
  }
  last = event;
  showDetails();
}

function findNode(pipelineName, nodeName) {
  const pipeline = last && last.pipelines.find((p) => p.name === pipelineName);
  return pipeline && pipeline.nodes.find((n) => n.name === nodeName);
}

function select(what) {
  selected = what;
  document.getElementById("details").hidden = false;
  document.body.classList.add("with-details");
  document.querySelectorAll("path.edge.selected").forEach((e) => e.classList.remove("selected"));
  if (what.from) {
    const edge = document.querySelector(`section[data-pipeline="${CSS.escape(what.pipeline)}"] path.edge[data-from="${CSS.escape(what.from)}"][data-to="${CSS.escape(what.to)}"]`);
    if (edge) edge.classList.add("selected");
  }
  startTap();
  if (last) update(last);
}

function schemaList(line, parent) {
  const list = make("ul", {class: "schema"}, parent);
  // `name: type, ...`: split at the commas between fields only.
  for (const field of (line || "").split(/, (?=[^,:()<>]+: )/)) if (field) make("li", {}, list, field);
}

function showDetails() {
  if (!selected) return;
  const title = document.getElementById("details-title");
  const body = document.getElementById("details-body");
  body.replaceChildren();
  if (selected.from) {
    title.textContent = `${selected.from} → ${selected.to}`;
    make("h3", {}, body, "Schema on this edge");
    schemaList(findNode(selected.pipeline, selected.from)?.output_schema, body);
    return;
  }
  const node = findNode(selected.pipeline, selected.node);
  title.textContent = `${selected.pipeline} / ${selected.node}`;
  if (!node) { make("p", {class: "muted"}, body, "This node is not running now."); return; }
  make("h3", {}, body, "Node");
  const facts = make("table", {}, body);
  const row = (name, value, number = false) => {
    const tr = make("tr", {}, facts);
    make("th", {}, tr, name);
    make("td", number ? {class: "number"} : {}, tr, String(value));
  };
  row("kind", node.kind);
  if (node.plugin) { row("plugin", node.plugin.path); row("digest", node.plugin.digest); }
  if (node.inputs.length) row("inputs", node.inputs.join(", "));
  const rate = rates.get(`${selected.pipeline}/${selected.node}`) || {in: 0, out: 0};
  row("rows/s in", rate.in.toFixed(1), true);
  row("rows/s out", rate.out.toFixed(1), true);
  for (const [key, value] of Object.entries(node.counters)) row(key.replaceAll("_", " "), value, true);
  row("input queue", `${node.queue.waiting} / ${node.queue.capacity}`, true);
  if (node.memory_bytes !== null) row("memory bytes", node.memory_bytes, true);
  if (node.lag_bytes !== null) row("lag bytes", node.lag_bytes, true);
  make("h3", {}, body, "Output schema");
  schemaList(node.output_schema, body);
  make("h3", {}, body, "Last dead letters");
  if (!node.recent_dead_letters.length) make("p", {class: "muted"}, body, "none");
  for (const letter of node.recent_dead_letters) make("pre", {class: "letter"}, body, letter);
}

async function startTap() {
  if (tapStop) tapStop.abort();
  const section = document.getElementById("tap-section");
  const status = document.getElementById("tap-status");
  const table = document.getElementById("tap");
  table.replaceChildren();
  section.hidden = !selected.node;
  if (!selected.node) return;
  const stop = new AbortController();
  tapStop = stop;
  const rows = [];
  status.textContent = "(waiting for rows…)";
  const url = `/pipelines/${encodeURIComponent(selected.pipeline)}/nodes/${encodeURIComponent(selected.node)}/tap?rows_per_second=5`;
  try {
    const response = await fetch(url, {signal: stop.signal});
    if (!response.ok) { status.textContent = `(${response.status}: ${(await response.json()).error})`; return; }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      pending += decoder.decode(value, {stream: true});
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) if (line) rows.push(JSON.parse(line));
      rows.splice(0, Math.max(0, rows.length - TAP_ROWS_SHOWN));
      status.textContent = `(last ${rows.length} rows sampled, newest last)`;
      showTap(rows, table);
    }
    status.textContent = `(ended: the run is over; last ${rows.length} rows)`;
  } catch (error) {
    if (!stop.signal.aborted) status.textContent = `(stopped: ${error})`;
  }
}

function showTap(rows, parent) {
  const columns = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  const table = make("table");
  const head = make("tr", {}, make("thead", {}, table));
  for (const column of columns) make("th", {}, head, column);
  const body = make("tbody", {}, table);
  for (const row of rows) {
    const tr = make("tr", {}, body);
    for (const column of columns) {
      const value = row[column];
      make("td", {}, tr, value === undefined || value === null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value));
    }
  }
  parent.replaceChildren(table);
}

document.getElementById("close").addEventListener("click", () => {
  selected = null;
  if (tapStop) tapStop.abort();
  document.getElementById("details").hidden = true;
  document.body.classList.remove("with-details");
  if (last) update(last);
});

const status = document.getElementById("status");
const events = new EventSource("/events");
events.addEventListener("pipelines", (message) => {
  const event = JSON.parse(message.data);
  status.textContent = `live · ${event.pipelines.length} pipeline(s) · ${new Date(event.time_ms).toLocaleTimeString()}`;
  status.classList.remove("down");
  update(event);
});
events.addEventListener("error", () => {
  status.textContent = "disconnected: retrying…";
  status.classList.add("down");
});
