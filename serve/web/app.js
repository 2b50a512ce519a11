// The page of `ochre serve`: the pipeline's graph laid out left to right (sub-components
// first), coloured by status and kept live through the server's event stream; the plan;
// the runs of the journal; and, for a clicked component, its fields, outputs, last jobs
// and versions. Plain JavaScript, no library, so it loads offline and fast.
'use strict';

const STATUSES = ['applied', 'create', 'update', 'replace', 'delete', 'running', 'failed', 'pending', 'skipped',
  'interrupted', 'deleted'];
const NODE_W = 190, NODE_H = 36, GAP_X = 70, GAP_Y = 10, PAD = 16;

const ui = {
  info: null,
  graph: -1,        // graph version shown
  status: -1,       // status version shown
  nodes: [],
  statuses: {},
  selected: null,
  zoom: 1,
  size: { w: 0, h: 0 },
  tab: 'graph',
};

const $ = (id) => document.getElementById(id);

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) =>
    ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function clip(text, max) {
  text = String(text);
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

function value(v) {
  return typeof v === 'string' ? v : JSON.stringify(v, null, 1);
}

async function getJSON(url, options) {
  const res = await fetch(url, Object.assign({ cache: 'no-store' }, options));
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || res.status + ' ' + res.statusText);
  return body;
}

function showMessage(text, kind) {
  const m = $('message');
  m.hidden = !text;
  m.textContent = text || '';
  m.className = kind || '';
}

// ---- layout: layers by longest path from the nodes without deps, then a few
// barycenter sweeps to untangle the edges between neighbouring layers.
function layout(nodes) {
  const n = nodes.length;
  const index = new Map(nodes.map((node, i) => [node.key, i]));
  const deps = nodes.map((node) => node.deps.map((d) => index.get(d)).filter((d) => d !== undefined));
  const users = nodes.map(() => []);
  deps.forEach((ds, i) => ds.forEach((d) => users[d].push(i)));

  const layer = new Array(n).fill(0);
  const waiting = deps.map((ds) => ds.length);
  const queue = [];
  for (let i = 0; i < n; i++) if (!waiting[i]) queue.push(i);
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q];
    for (const u of users[i]) {
      layer[u] = Math.max(layer[u], layer[i] + 1);
      if (--waiting[u] === 0) queue.push(u);
    }
  }
  const layers = [];
  for (let i = 0; i < n; i++) (layers[layer[i]] = layers[layer[i]] || []).push(i);
  for (let l = 0; l < layers.length; l++) layers[l] = layers[l] || [];

  const pos = new Float64Array(n);  // place within its layer, 0..1
  const place = (l) => layers[l].forEach((i, k) => { pos[i] = (k + 0.5) / layers[l].length; });
  layers.forEach((_, l) => place(l));
  const sweep = (l, neighbours) => {
    const key = new Map();
    for (const i of layers[l]) {
      const ns = neighbours[i];
      key.set(i, ns.length ? ns.reduce((s, j) => s + pos[j], 0) / ns.length : pos[i]);
    }
    layers[l].sort((a, b) => key.get(a) - key.get(b));
    place(l);
  };
  for (let round = 0; round < 3; round++) {
    for (let l = 1; l < layers.length; l++) sweep(l, deps);
    for (let l = layers.length - 2; l >= 0; l--) sweep(l, users);
  }

  // Each node as close as it can be to the middle of its deps, below the one above it.
  const x = new Float64Array(n), y = new Float64Array(n);
  let height = 0;
  layers.forEach((ls, l) => {
    let next = PAD;
    for (const i of ls) {
      const ds = deps[i];
      const want = ds.length ? ds.reduce((s, d) => s + y[d], 0) / ds.length : next;
      x[i] = PAD + l * (NODE_W + GAP_X);
      y[i] = Math.max(want, next);
      next = y[i] + NODE_H + GAP_Y;
    }
    height = Math.max(height, next - GAP_Y + PAD);
  });
  return {
    x, y, deps,
    width: PAD * 2 + Math.max(1, layers.length) * (NODE_W + GAP_X) - GAP_X,
    height: Math.max(height, PAD * 2 + NODE_H),
  };
}

function renderGraph(graph) {
  ui.nodes = graph.nodes;
  const svg = $('graph');
  const L = layout(graph.nodes);
  const edges = [];
  const nodes = [];
  graph.nodes.forEach((node, i) => {
    for (const d of L.deps[i]) {
      const x1 = L.x[d] + NODE_W, y1 = L.y[d] + NODE_H / 2, x2 = L.x[i], y2 = L.y[i] + NODE_H / 2;
      const mx = (x1 + x2) / 2;
      edges.push(`<path class="edge" marker-end="url(#arrow)" d="M${x1},${y1}C${mx},${y1} ${mx},${y2} ${x2},${y2}"/>`);
    }
    const status = graph.statuses ? graph.statuses[node.key] : node.status;
    nodes.push(
      `<g class="node${node.key === ui.selected ? ' selected' : ''}" data-key="${esc(node.key)}" ` +
      `data-status="${esc(status)}" data-action="${esc(node.action)}" ` +
      `transform="translate(${L.x[i]},${L.y[i]})"><title>${esc(node.key)}</title>` +
      `<rect width="${NODE_W}" height="${NODE_H}" rx="6"/>` +
      `<text class="type" x="8" y="14">${esc(clip(node.type, 24))}</text>` +
      `<text class="mark" x="${NODE_W - 8}" y="14" text-anchor="end">${esc(status)}</text>` +
      `<text x="8" y="29">${esc(clip(node.identifier, 29))}</text></g>`);
  });
  ui.size = { w: L.width, h: L.height };
  svg.setAttribute('viewBox', `0 0 ${L.width} ${L.height}`);
  // Each edge points from a sub-component to what uses it, an arrowhead at its end.
  svg.innerHTML = `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" ` +
    `markerHeight="7" orient="auto"><path class="arrowhead" d="M0,0L10,5L0,10z"/></marker></defs>` +
    `<g class="edges">${edges.join('')}</g><g class="nodes">${nodes.join('')}</g>`;
  svg.dataset.nodes = String(graph.nodes.length);
  applySearch();
  applyZoom();
}

// The search box: components whose key holds the text (any case) are highlighted, the
// others dimmed; the first match is scrolled into view.
function applySearch() {
  const q = ($('search').value || '').trim().toLowerCase();
  let matches = 0, first = null;
  for (const g of $('graph').querySelectorAll('g.node')) {
    const hit = q !== '' && g.dataset.key.toLowerCase().includes(q);
    g.classList.toggle('match', hit);
    g.classList.toggle('dim', q !== '' && !hit);
    if (hit && !matches++) first = g;
  }
  $('matches').textContent = q ? `${matches} match${matches === 1 ? '' : 'es'}` : '';
  if (first && first.scrollIntoView) first.scrollIntoView({ block: 'nearest', inline: 'nearest' });
}

// A time from the state (UTC, "YYYY-MM-DD HH:MM:SS[.fff]") in local time, with how long
// ago it was; the stored text stays in the title.
function when(text) {
  const w = localTime(text);
  if (!w) return text ? esc(text) : '…';
  return `<time datetime="${esc(w.iso)}" title="${esc(text)} UTC">${esc(w.local)} <span class="muted">(${w.ago})</span></time>`;
}

// The same as plain text: "12/03/2025, 14:02:11 (5 min ago)".
function whenText(text) {
  const w = localTime(text);
  return w ? `${w.local} (${w.ago})` : String(text || '…');
}

function localTime(text) {
  if (!text) return null;
  const t = new Date(/[zZ]$|[+-]\d\d:?\d\d$/.test(text) ? text : String(text).replace(' ', 'T') + 'Z');
  if (isNaN(t)) return null;
  const s = Math.round((Date.now() - t.getTime()) / 1000);
  const ago = s < 5 ? 'just now' : s < 60 ? `${s} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago`
    : s < 86400 ? `${Math.floor(s / 3600)} h ago` : `${Math.floor(s / 86400)} d ago`;
  return { iso: t.toISOString(), local: t.toLocaleString(), ago };
}

function applyZoom() {
  const svg = $('graph');
  svg.setAttribute('width', Math.max(1, ui.size.w * ui.zoom));
  svg.setAttribute('height', Math.max(1, ui.size.h * ui.zoom));
}

function fitZoom() {
  const wrap = $('graph-wrap');
  if (!ui.size.w || !ui.size.h) return;
  ui.zoom = Math.min(1.5, wrap.clientWidth / ui.size.w, wrap.clientHeight / ui.size.h);
  applyZoom();
}

function applyStatuses(statuses) {
  ui.statuses = statuses;
  for (const g of $('graph').querySelectorAll('g.node')) {
    const s = statuses[g.dataset.key];
    if (s && g.dataset.status !== s) {
      g.dataset.status = s;
      g.querySelector('.mark').textContent = s;
    }
  }
  const counts = {};
  for (const key in statuses) counts[statuses[key]] = (counts[statuses[key]] || 0) + 1;
  const total = Object.keys(statuses).length;
  $('counts').textContent = `${total} component${total === 1 ? '' : 's'}` +
    (total ? ': ' + STATUSES.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`).join(', ') : '');
}

function describeRun(status) {
  const r = status.run;
  if (status.apply && status.apply.running) return 'applying from this page…';
  if (!r) return 'no runs yet';
  if (!r.ended) return `run ${r.run} (${r.command}) under way: ${r.ended_jobs}/${r.jobs} jobs ended` +
    (r.running.length ? `, running ${r.running.slice(0, 3).join(', ')}${r.running.length > 3 ? '…' : ''}` : '');
  return `last run ${r.run}: ${r.outcome}${r.summary ? ' (' + r.summary + ')' : ''}, ended ${whenText(r.ended)}`;
}

function applyStatus(status) {
  ui.status = status.status;
  applyStatuses(status.statuses);
  $('run-status').textContent = describeRun(status);
  const apply = $('apply');
  apply.hidden = !status.apply.allowed;
  apply.disabled = status.apply.running || (status.run && !status.run.ended);
  if (status.plan_error) showMessage('The pipeline no longer plans (the last good plan is shown):\n' + status.plan_error);
  else if (status.apply.error) showMessage('Apply failed: ' + status.apply.error);
  else if (status.apply.running) showMessage('Applying the pipeline…', 'info');
  else if (status.apply.summary) showMessage('Applied from this page: ' + status.apply.summary, 'info');
  else showMessage('');
}

// ---- the plan and the runs
function renderPlan(plan) {
  const el = $('plan');
  if (!plan.jobs.length) {
    el.innerHTML = `<p class="empty">No changes needed – doing nothing!</p>`;
    return;
  }
  const rows = plan.jobs.map((j) => {
    const kind = j.replace ? 'replace' : j.action;
    const changes = (j.changes || []).map((c) => esc(c.field) + (c.breaking ? ' (breaking)' : '')).join(', ');
    return `<tr><td>${j.index}</td><td><span class="badge s-${esc(kind)}">${esc(j.event || j.action)}</span></td>` +
      `<td><a class="key" data-key="${esc(j.key)}">${esc(j.key)}</a></td><td class="mono">${esc(j.uuid)}</td>` +
      `<td>${esc(j.reason)}</td><td>${changes}</td><td>${(j.deps || []).join(', ')}</td></tr>`;
  });
  el.innerHTML = `<p>${plan.jobs.length} job${plan.jobs.length === 1 ? '' : 's'} planned.</p>` +
    `<table><tr><th>#</th><th>event</th><th>component</th><th>uuid</th><th>reason</th><th>changed fields</th><th>after</th></tr>` +
    rows.join('') + `</table>`;
}

function renderRuns(data) {
  const el = $('runs');
  if (!data.runs.length) {
    el.innerHTML = `<p class="empty">No runs yet.</p>`;
    return;
  }
  el.innerHTML = data.runs.map((r) => {
    const jobs = r.jobs.map((j) =>
      `<tr><td>${j.seq}</td><td><a class="key" data-key="${esc(j.key)}">${esc(j.key)}</a></td><td>${esc(j.action)}</td>` +
      `<td><span class="badge s-${esc(badgeOf(j.outcome))}">${esc(j.outcome)}</span></td>` +
      `<td>${j.started ? when(j.started) : ''}</td><td>${j.ended ? when(j.ended) : ''}</td>` +
      `<td>${esc((j.error || '').split('\n')[0])}</td></tr>`).join('');
    return `<details class="run" data-run="${r.run}"><summary><b>run ${r.run}</b> ${esc(r.command)} · ` +
      `<span class="badge s-${esc(badgeOf(r.outcome))}">${esc(r.outcome)}</span> ${esc(r.summary)} · ` +
      `${when(r.started)} → ${when(r.ended)} · ${r.jobs.length} job${r.jobs.length === 1 ? '' : 's'} · ` +
      `${esc(r.user)}@${esc(r.host)} pid ${r.pid}</summary>` +
      `<table><tr><th>#</th><th>component</th><th>action</th><th>outcome</th><th>started</th><th>ended</th><th>error</th></tr>` +
      jobs + `</table></details>`;
  }).join('');
}

function badgeOf(outcome) {
  return { done: 'applied', running: 'running', failed: 'failed', interrupted: 'interrupted', skipped: 'skipped',
           pending: 'pending' }[outcome] || 'deleted';
}

// ---- one component
async function select(key) {
  ui.selected = key;
  for (const g of $('graph').querySelectorAll('g.node.selected')) g.classList.remove('selected');
  const g = [...$('graph').querySelectorAll('g.node')].find((n) => n.dataset.key === key);
  if (g) g.classList.add('selected');
  $('panel').hidden = false;
  try {
    renderPanel(await getJSON('/api/component?key=' + encodeURIComponent(key)));
  } catch (e) {
    $('panel-body').innerHTML = `<h2>${esc(key)}</h2><p class="empty">${esc(e.message)}</p>`;
  }
}

function fieldsTable(fields) {
  const names = Object.keys(fields || {});
  if (!names.length) return `<p class="empty">none</p>`;
  return `<table>${names.map((f) => `<tr><th>${esc(f)}</th><td class="mono">${esc(value(fields[f]))}</td></tr>`).join('')}</table>`;
}

function renderPanel(c) {
  const p = c.planned, s = c.stored;
  const parts = [`<h2>${esc(c.key)}</h2>`, `<span class="badge s-${esc(c.status || 'deleted')}" id="panel-status">${esc(c.status || 'not in the pipeline')}</span>`];
  if (s) parts.push(`<div class="mono">uuid ${esc(s.uuid)}<br>hash ${esc(s.hash)}</div>`);
  parts.push(`<h3>Plan</h3>`);
  if (p && p.action !== 'none') {
    parts.push(`<p><b>${esc(p.action)}</b>: ${esc(p.reason)}</p>`);
    if (p.changes && p.changes.length)
      parts.push(`<table>${p.changes.map((ch) => `<tr><th>${esc(ch.field)}${ch.breaking ? ' (breaking)' : ''}</th>` +
        `<td class="mono">${ch.via ? 'sub-component ' + esc(ch.via) + ' changed' : esc(value(ch.before)) + ' → ' + esc(value(ch.after))}</td></tr>`).join('')}</table>`);
  } else {
    parts.push(`<p class="empty">${p ? 'no change' : 'not in the pipeline'}</p>`);
  }
  if (s && s.error) parts.push(`<h3>Last error</h3><pre>${esc(s.error)}</pre>`);
  parts.push(`<h3>Fields</h3>` + fieldsTable(s ? s.fields : p && p.inputs));
  parts.push(`<h3>Outputs</h3>` + (s && Object.keys(s.outputs || {}).length ? `<pre>${esc(JSON.stringify(s.outputs, null, 2))}</pre>` : `<p class="empty">none</p>`));
  parts.push(`<h3>Last jobs</h3>`);
  parts.push(c.jobs.length ? c.jobs.map((j) =>
    `<div class="job"><b>run ${j.run}</b> ${esc(j.action)} <span class="badge s-${esc(badgeOf(j.outcome))}">${esc(j.outcome)}</span>` +
    ` <span class="muted">${when(j.started)} → ${when(j.ended)}</span>` +
    (j.error ? `<pre>${esc(j.error)}</pre>` : '') +
    (j.output ? `<pre class="output">${esc(j.output)}</pre>` : `<div class="empty">no output</div>`) + `</div>`).join('')
    : `<p class="empty">none</p>`);
  parts.push(`<h3>History</h3>`);
  parts.push(c.history.length
    ? `<table id="history"><tr><th>at</th><th>run</th><th>action</th><th>uuid</th><th>hash</th></tr>` +
      c.history.map((v) => `<tr class="version"><td>${when(v.at)}</td><td>${v.run}</td><td>${esc(v.action)}</td>` +
        `<td class="mono">${esc(v.uuid)}</td><td class="mono" title="${esc(v.hash)}">${esc(v.hash.slice(0, 16))}…</td></tr>`).join('') + `</table>`
    : `<p class="empty" id="history">no stored versions yet</p>`);
  $('panel-body').innerHTML = parts.join('');
}

// ---- live updates
let busy = false, again = false;

async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  try {
    const status = await getJSON('/api/status');
    if (status.graph !== ui.graph) {
      const graph = await getJSON('/api/graph');
      ui.graph = graph.graph;
      renderGraph(graph);
      if (ui.tab === 'plan' || !ui.planLoaded) loadPlan();
    }
    applyStatus(status);
    if (ui.tab === 'runs') loadRuns();
    if (ui.selected && !$('panel').hidden) select(ui.selected);
    document.body.dataset.status = String(ui.status);
  } catch (e) {
    showMessage('Cannot reach ochre serve: ' + e.message);
  } finally {
    busy = false;
    if (again) { again = false; refresh(); }
  }
}

async function loadPlan() {
  ui.planLoaded = true;
  renderPlan(await getJSON('/api/plan'));
}

async function loadRuns() {
  renderRuns(await getJSON('/api/runs?limit=50'));
}

function connect() {
  const live = $('live');
  const events = new EventSource('/api/events');
  events.addEventListener('status', (e) => {
    const v = JSON.parse(e.data);
    if (v.status !== ui.status || v.graph !== ui.graph) refresh();
  });
  events.onopen = () => { live.textContent = 'live'; live.className = 'live on'; refresh(); };
  events.onerror = () => { live.textContent = 'reconnecting'; live.className = 'live'; };
}

function showTab(name) {
  ui.tab = name;
  for (const b of document.querySelectorAll('.tab-button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const t of document.querySelectorAll('.tab')) t.classList.toggle('active', t.id === 'tab-' + name);
  if (name === 'plan') loadPlan();
  if (name === 'runs') loadRuns();
}

async function start() {
  $('legend').innerHTML = STATUSES.map((s) => `<span class="swatch"><i class="s-${s}"></i>${s}</span>`).join('');
  for (const b of document.querySelectorAll('.tab-button')) b.onclick = () => showTab(b.dataset.tab);
  $('graph').addEventListener('click', (e) => {
    const g = e.target.closest('g.node');
    if (g) select(g.dataset.key);
  });
  document.body.addEventListener('click', (e) => {
    const a = e.target.closest('a.key');
    if (!a) return;
    showTab('graph');
    select(a.dataset.key);
  });
  $('panel-close').onclick = () => {
    $('panel').hidden = true;
    ui.selected = null;
    for (const g of $('graph').querySelectorAll('g.node.selected')) g.classList.remove('selected');
  };
  $('zoom-in').onclick = () => { ui.zoom = Math.min(4, ui.zoom * 1.25); applyZoom(); };
  $('zoom-out').onclick = () => { ui.zoom = Math.max(0.05, ui.zoom / 1.25); applyZoom(); };
  $('zoom-fit').onclick = fitZoom;
  $('search').addEventListener('input', applySearch);
  $('apply').onclick = async () => {
    $('apply').disabled = true;
    try {
      await getJSON('/api/apply', { method: 'POST' });
    } catch (e) {
      showMessage('Apply: ' + e.message);
    }
  };
  try {
    ui.info = await getJSON('/api/info');
    $('pipeline').textContent = (ui.info.pipeline || '(the state alone)') + ' · ' + ui.info.state;
    await refresh();
    document.body.dataset.readyMs = String(Math.round(performance.now()));
    document.body.dataset.ready = '1';
  } catch (e) {
    showMessage('Cannot reach ochre serve: ' + e.message);
  }
  connect();
}

start();
