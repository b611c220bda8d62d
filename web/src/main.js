// main.js — the dashboard: what is selected (space, device, metric,
// fidelity; kept in the URL's #fragment), loading each view from the REST
// API, and the live refresh that follows a running search.
import { api, enc } from './api.js';
import { h, fill, fmtInt, $ } from './dom.js';
import { reportError, guarded, problemBox } from './errors.js';
import { Observed } from './observed.js';
import { renderDevices } from './views/devices.js';
import { loadCoverage } from './views/coverage.js';
import { setupCost, costGenome } from './views/cost.js';
import { renderSurrogate, clearSurrogate } from './views/surrogate.js';
import { renderPareto, clearPareto } from './views/pareto.js';

const POLL_MS = 2000;
const RENDER_EVERY_MS = 300;

const state = {
  devices: [], spaces: [], space: null, device: null, metric: null, fidelity: null,
  pairs: [], xcost: 'latency', goal: 'max', live: true,
};
let observed = null;
let sur = null;
let spaceAbort = null;
let analysisAbort = null;
let analysisRuns = 0;
let busy = false;
let quietUntil = 0; // a big space's refresh is not repeated sooner than 3× its duration

const wanted = Object.fromEntries(new URLSearchParams(location.hash.slice(1)));

function writeHash() {
  const p = new URLSearchParams();
  const put = (k, v) => v && p.set(k, v);
  put('space', state.space?.id || wanted.space);
  put('device', state.device);
  put('metric', state.metric);
  put('fidelity', state.fidelity);
  if (state.xcost !== 'latency') put('x', state.xcost);
  if (state.goal !== 'max') put('goal', state.goal);
  history.replaceState(null, '', `#${p}`);
}

function setStatus(text) {
  $('#status').textContent = text;
}

function options(select, values, current, label = (v) => v) {
  fill(select, values.map((v) => h('option', { value: v }, label(v))));
  if (current !== null && current !== undefined) select.value = current;
  select.disabled = values.length === 0;
}

function fillPickers() {
  options($('#pick-space'), state.spaces.map((s) => s.id), state.space?.id ?? wanted.space);
  options($('#pick-device'), state.devices.map((d) => d.name), state.device);
  const metrics = [...new Set(state.pairs.map((p) => p.metric))];
  options($('#pick-metric'), metrics, state.metric);
  const fids = state.pairs.filter((p) => p.metric === state.metric);
  options($('#pick-fidelity'), fids.map((p) => p.fidelity), state.fidelity,
    (f) => `${f} (${fids.find((p) => p.fidelity === f).n})`);
}

async function loadDevices() {
  const ans = await api('GET', '/v1/devices');
  const before = JSON.stringify(state.devices);
  state.devices = ans.devices;
  if (!state.devices.some((d) => d.name === state.device)) {
    const w = state.devices.find((d) => d.name === wanted.device);
    state.device = (w || state.devices.find((d) => d.entries > 0) || state.devices[0])?.name ?? null;
  }
  const changed = before !== JSON.stringify(state.devices);
  if (changed) renderDevices(state);
  return changed;
}

function lutVersion() {
  return state.devices.find((d) => d.name === state.device)?.lut_version ?? null;
}

/** Every view of one space, from scratch. */
async function loadSpace(id) {
  spaceAbort?.abort();
  analysisAbort?.abort();
  spaceAbort = new AbortController();
  const { signal } = spaceAbort;
  state.space = null;
  state.pairs = [];
  observed = null;
  sur = null;
  setStatus(`loading ${id}…`);
  try {
    state.space = await api('GET', `/v1/spaces/${enc(id)}`, undefined, { signal });
  } catch (e) {
    if (e.name === 'AbortError') return;
    reportError(e);
    for (const v of ['#coverage', '#cost', '#surrogate', '#pareto']) fill($(`${v} .body`), problemBox(e));
    setStatus('');
    return;
  }
  fillPickers();
  writeHash();
  setupCost(state);
  await Promise.all([
    guarded(loadCoverage)(state, signal),
    guarded(loadAnalysis)(),
  ]);
}

/** Pick the metric and fidelity: the wanted or current one if observed, else the most observed. */
function choosePair() {
  const has = (m, f) => state.pairs.some((p) => p.metric === m && (f === undefined || p.fidelity === f));
  if (!has(state.metric)) state.metric = has(wanted.metric) ? wanted.metric : state.pairs[0]?.metric ?? null;
  if (!has(state.metric, state.fidelity)) {
    const f = has(state.metric, wanted.fidelity) ? wanted.fidelity : null;
    state.fidelity = f ?? state.pairs.find((p) => p.metric === state.metric)?.fidelity ?? null;
  }
}

/** Observations, the surrogate with its held-out predictions, costs; then the two views. */
async function loadAnalysis() {
  analysisAbort?.abort();
  analysisAbort = new AbortController();
  const { signal } = analysisAbort;
  const run = ++analysisRuns;
  const t0 = performance.now();
  const space = state.space;
  const sid = enc(space.id);
  const all = (await api('GET', `/v1/spaces/${sid}/observations`, undefined, { signal })).observations;
  const counts = new Map();
  for (const o of all) {
    const k = `${o.metric}\u0000${o.fidelity}`;
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  state.pairs = [...counts].map(([k, n]) => {
    const [metric, fidelity] = k.split('\u0000');
    return { metric, fidelity, n };
  }).sort((a, b) => b.n - a.n || a.metric.localeCompare(b.metric));
  choosePair();
  fillPickers();
  writeHash();
  if (!state.metric) {
    sur = null;
    const msg = `No observation in ${space.id} yet: a search posts them to POST /v1/spaces/${space.id}/observations.`;
    clearSurrogate(msg);
    clearPareto(msg);
    setStatus(`${space.id}: no observations · ${new Date().toLocaleTimeString()}`);
    return;
  }
  const fresh = !observed || observed.space !== space || observed.metric !== state.metric
    || observed.fidelity !== state.fidelity || observed.device !== (space.builder ? state.device : null);
  if (fresh) observed = new Observed(space, state.metric, state.fidelity, state.device);
  observed.setObservations(all);
  const q = `?metric=${enc(state.metric)}&fidelity=${enc(state.fidelity)}`;
  sur = await api('GET', `/v1/spaces/${sid}/surrogate${q}&heldout=true`, undefined, { signal });
  const draw = () => {
    renderSurrogate(state, sur);
    renderPareto(state, observed, { onCost: costGenome, onControls });
  };
  let last = performance.now();
  await observed.complete(lutVersion(), signal, (done, total) => {
    setStatus(`costs: ${fmtInt(done)} / ${fmtInt(total)} genomes…`);
    if (performance.now() - last > RENDER_EVERY_MS) {
      draw();
      last = performance.now();
    }
  });
  if (run !== analysisRuns) return;
  draw();
  const t1 = performance.now();
  quietUntil = t1 + 3 * (t1 - t0);
  const status = $('#status');
  status.dataset.refreshes = String(Number(status.dataset.refreshes || 0) + 1);
  setStatus(`${fmtInt(observed.n)} observations · updated ${new Date().toLocaleTimeString()}`);
}

function onControls(change) {
  Object.assign(state, change);
  writeHash();
  if (observed) renderPareto(state, observed, { onCost: costGenome, onControls });
}

/** While live: follow new observations, refits and table uploads. */
async function poll() {
  if (!state.live || !state.space || busy || document.hidden || performance.now() < quietUntil) return;
  busy = true;
  try {
    const lut = lutVersion();
    const devicesChanged = await loadDevices();
    if (devicesChanged) {
      fillPickers();
      if (lutVersion() !== lut) await guarded(loadCoverage)(state, spaceAbort?.signal);
    }
    let stale = devicesChanged && lutVersion() !== lut;
    if (state.metric) {
      const q = `?metric=${enc(state.metric)}&fidelity=${enc(state.fidelity)}`;
      const now = await api('GET', `/v1/spaces/${enc(state.space.id)}/surrogate${q}`);
      stale ||= !sur || now.n !== sur.n || now.version !== sur.version || now.status !== sur.status;
    } else {
      const ans = await api('GET', `/v1/spaces/${enc(state.space.id)}/observations`);
      stale ||= ans.observations.length > 0;
    }
    if (stale) await loadAnalysis();
  } catch (e) {
    reportError(e);
  } finally {
    busy = false;
  }
}

function wire() {
  $('#pick-space').addEventListener('change', (e) => {
    wanted.space = e.target.value;
    state.metric = null;
    state.fidelity = null;
    busyWhile(loadSpace(e.target.value));
  });
  $('#pick-device').addEventListener('change', (e) => {
    state.device = e.target.value;
    writeHash();
    busyWhile(Promise.all([guarded(loadCoverage)(state, spaceAbort?.signal), guarded(loadAnalysis)()]));
  });
  $('#pick-metric').addEventListener('change', (e) => {
    state.metric = e.target.value;
    state.fidelity = null;
    busyWhile(guarded(loadAnalysis)());
  });
  $('#pick-fidelity').addEventListener('change', (e) => {
    state.fidelity = e.target.value;
    busyWhile(guarded(loadAnalysis)());
  });
  $('#live').addEventListener('change', (e) => {
    state.live = e.target.checked;
  });
  $('#refresh').addEventListener('click', () => busyWhile((async () => {
    await guarded(loadDevices)();
    if (state.space) await loadSpace(state.space.id);
  })()));
}

async function busyWhile(promise) {
  busy = true;
  try {
    await promise;
  } finally {
    busy = false;
  }
}

async function boot() {
  state.xcost = ['macs', 'params'].includes(wanted.x) ? wanted.x : 'latency';
  state.goal = wanted.goal === 'min' ? 'min' : 'max';
  wire();
  busy = true;
  const [health, devs, spaces] = await Promise.allSettled([
    api('GET', '/v1/health'), loadDevices(), api('GET', '/v1/spaces')]);
  for (const r of [health, devs, spaces]) if (r.status === 'rejected') reportError(r.reason);
  if (health.status === 'fulfilled') $('#version').textContent = `fmasd ${health.value.version}`;
  renderDevices(state);
  state.spaces = spaces.status === 'fulfilled' ? spaces.value.spaces : [];
  const first = state.spaces.find((s) => !s.builtin) || state.spaces[0];
  const id = wanted.space || first?.id;
  fillPickers();
  if (id) await loadSpace(id);
  else fill($('#coverage .body'), h('p', { class: 'note' }, 'No space.'));
  busy = false;
  performance.mark('fmas-ready');
  document.body.dataset.ready = 'true';
  document.body.dataset.readyMs = String(Math.round(performance.now()));
  setInterval(poll, POLL_MS);
}

boot().catch(reportError);
