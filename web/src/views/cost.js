// cost.js — the cost of one genome: POST /v1/spaces/{id}/expand gives its
// layers, MACs and params; POST /v1/estimate?detail=layers their latency on
// each chosen device; POST /v1/spaces/{id}/estimate (no device) the
// surrogate's prediction. A bar chart shows the cost of every layer.
import { api, enc } from '../api.js';
import { h, fill, fmtInt, fmtSi, fmtFix, fmtMs, keyText, $ } from '../dom.js';
import { problemBox, reportError } from '../errors.js';
import { parseGenome, randomGenome } from '../genome.js';
import { chart } from '../plots.js';

let ctx = null; // {state, form parts, plot, last answer}

/** Build the form for state.space (called whenever the space changes). */
export function setupCost(state) {
  const body = $('#cost .body');
  ctx?.plot?.destroy();
  const space = state.space;
  if (!space) {
    fill(body);
    ctx = null;
    return;
  }
  const text = h('textarea', { id: 'genome', spellcheck: false, rows: 2, 'aria-label': 'genome',
    placeholder: 'a genome: [3, 1, 0, …] (choice indices), {"gene": value, …}, or 3,1,0,…' });
  text.value = JSON.stringify(space.genomes?.max || space.genes.map((g) => g.choices.length - 1));
  const devices = h('span', { class: 'device-picks' }, state.devices.map((d) => h('label', {},
    h('input', { type: 'checkbox', value: d.name, checked: true }), ` ${d.name} `)));
  const fillWith = (g) => () => { text.value = JSON.stringify(g()); };
  const form = h('form', { class: 'costform', id: 'cost-form' },
    h('div', {},
      text,
      h('div', { class: 'controls' },
        h('span', { class: 'muted' }, 'pick:'),
        h('button', { type: 'button', onclick: fillWith(() => space.genomes?.max || space.genes.map((g) => g.choices.length - 1)) }, 'largest'),
        h('button', { type: 'button', onclick: fillWith(() => space.genomes?.min || space.genes.map(() => 0)) }, 'smallest'),
        h('button', { type: 'button', onclick: fillWith(() => randomGenome(space)) }, 'random'),
        space.builder ? h('span', {}, h('span', { class: 'muted' }, 'devices:'), ' ', devices) : null)),
    h('button', { type: 'submit', id: 'cost-submit' }, 'estimate'));
  const out = h('div', { id: 'cost-out' });
  fill(body,
    h('p', { class: 'note' }, `${space.gene_count} genes: ${space.genes.slice(0, 6).map((g) => g.name).join(', ')}${space.gene_count > 6 ? ', …' : ''}. `
      + 'Paste a genome or pick one, here or from the Pareto front below.'),
    form, out);
  ctx = { state, text, devices, out, plot: null, answer: null, barsOf: null };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    estimate();
  });
}

/** Put a genome in the form and estimate it. */
export function costGenome(genome) {
  if (!ctx) return;
  ctx.text.value = JSON.stringify(genome);
  $('#cost').scrollIntoView({ behavior: 'instant', block: 'start' });
  estimate();
}

async function estimate() {
  const { state, text, out } = ctx;
  const space = state.space;
  let genome;
  try {
    genome = parseGenome(text.value);
  } catch (e) {
    fill(out, h('div', { class: 'problem', role: 'alert' }, e.message));
    return;
  }
  const devices = [...ctx.devices.querySelectorAll('input:checked')].map((i) => i.value);
  fill(out, h('span', { class: 'progress' }, 'estimating…'));
  out.dataset.state = 'busy';
  try {
    const sid = enc(space.id);
    const predictions = api('POST', `/v1/spaces/${sid}/estimate`, { devices: [], genomes: [genome] });
    predictions.catch(() => {}); // awaited below; the expand error is the one shown
    let expand = null;
    let est = null;
    if (space.builder) {
      expand = await api('POST', `/v1/spaces/${sid}/expand`, { genome });
      est = await api('POST', '/v1/estimate?detail=layers&strict=true',
        { devices, networks: [{ name: space.id, layers: expand.layers }] });
    }
    const pred = await predictions;
    renderAnswer(space, expand, est?.results[0] ?? null, est?.lut_versions ?? {}, pred.results[0]);
    out.dataset.state = 'done';
  } catch (e) {
    fill(out, problemBox(e));
    out.dataset.state = 'error';
    reportError(e);
  }
}

function renderAnswer(space, expand, result, lutVersions, pred) {
  const { out, state } = ctx;
  const devs = result ? Object.keys(result.latency) : [];
  const figure = (label, value, k, v) => h('div', { class: 'figure' },
    h('div', { class: 'label' }, label), h('div', { class: 'value', dataset: { k, v: String(v) } }, value));
  const predicted = pred.predicted
    ? Object.entries(pred.predicted).map(([m, p]) => (p
      ? figure(`predicted ${m}`, `${fmtFix(p.mean, 4)} ± ${fmtFix(p.std, 4)}`, `predicted-${m}`, p.mean)
      : figure(`predicted ${m}`, '–', `predicted-${m}`, '')))
    : [];
  const parts = [h('div', { class: 'figures' },
    expand ? figure('layers', fmtInt(expand.layer_count), 'layers', expand.layer_count) : null,
    expand ? figure('MACs', fmtInt(expand.macs), 'macs', expand.macs) : null,
    expand ? figure('params', fmtInt(expand.params), 'params', expand.params) : null,
    predicted)];
  if (!space.builder) parts.push(h('p', { class: 'note' }, 'A categorical space has no layers: only predictions.'));
  if (devs.length) {
    parts.push(h('table', { class: 'latency' },
      h('thead', {}, h('tr', {}, ['device', 'latency', 'total', 'hits', 'missing', 'complete', 'LUT version']
        .map((t, i) => h('th', { class: i && i !== 5 ? 'num' : '' }, t)))),
      h('tbody', {}, devs.map((d) => {
        const l = result.latency[d];
        return h('tr', { dataset: { device: d } },
          h('td', {}, d),
          h('td', { class: 'num', dataset: { k: 'ms', v: l.ms } }, fmtMs(l.ms)),
          h('td', { class: 'num' }, `${fmtFix(l.total, 1)} ${l.unit}`),
          h('td', { class: 'num' }, `${l.hits} / ${l.layers}`),
          h('td', { class: 'num', dataset: { k: 'missing', v: l.missing } }, fmtInt(l.missing)),
          h('td', {}, l.complete ? 'yes' : 'no (a lower bound)'),
          h('td', { class: 'num' }, String(lutVersions[d] ?? '–')));
      }))));
  }
  if (expand) parts.push(layerChart(result, devs, state));
  fill(out, parts);
  if (expand) drawBars(result, ctx.barsOf.value);
}

function layerChart(result, devs, state) {
  const pick = h('select', { id: 'bars-of', onchange: () => drawBars(result, pick.value) },
    devs.map((d) => h('option', { value: d }, `latency on ${d} (ms)`)),
    h('option', { value: ':macs' }, 'MACs'),
    h('option', { value: ':params' }, 'params'));
  if (state.device && devs.includes(state.device)) pick.value = state.device;
  ctx.barsOf = pick;
  const el = h('div', { id: 'cost-bars', class: 'plot' });
  ctx.plot?.destroy();
  ctx.plot = null;
  ctx.barsEl = el;
  return h('div', {}, h('div', { class: 'controls' }, 'per layer:', pick), el,
    h('details', {}, h('summary', {}, `every layer (${result.layers.length})`), layerTable(result, devs)));
}

/** ms per unit of a device's latency figures. */
function msFactor(state, device) {
  const d = state.devices.find((x) => x.name === device);
  if (!d) return null;
  return d.unit === 'cycles' ? 1 / (d.clock_mhz * 1000) : 1 / 1000;
}

function drawBars(result, of) {
  const { state } = ctx;
  const layers = result.layers;
  const xs = layers.map((l) => l.index);
  let ys;
  let label;
  if (of === ':macs' || of === ':params') {
    const f = of.slice(1);
    ys = layers.map((l) => l[f]);
    label = f === 'macs' ? 'MACs' : 'params';
  } else {
    const k = msFactor(state, of) ?? 1;
    ys = layers.map((l) => (l.latency[of] === null || l.latency[of] === undefined ? null : l.latency[of] * k));
    label = `ms on ${of}`;
  }
  ctx.plot?.destroy();
  const el = ctx.barsEl;
  el.dataset.of = of;
  el.dataset.bars = String(ys.filter((y) => y !== null).length);
  el.dataset.missing = String(ys.filter((y) => y === null).length);
  ctx.plot = chart(el, {
    height: 240, bars: true, xLabel: 'layer', yLabel: label,
    series: [{ label, color: of.startsWith(':') ? '#5a6b8c' : '#e07b00' }],
    describe: (i) => {
      const l = layers[i];
      const y = ys[i];
      const v = y === null ? 'missing from the table' : (of.startsWith(':') ? fmtInt(y) : fmtMs(y));
      return `#${l.index} ${l.name || ''} · ${keyText(l.key)} · ${v}`;
    },
  });
  ctx.plot.set([xs, ys]);
}

function layerTable(result, devs) {
  return h('div', { class: 'scroll' }, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'name'), h('th', {}, 'layer key'),
      h('th', { class: 'num' }, 'MACs'), h('th', { class: 'num' }, 'params'),
      devs.map((d) => h('th', { class: 'num' }, d)))),
    h('tbody', {}, result.layers.map((l) => h('tr', {},
      h('td', {}, String(l.index)), h('td', { class: 'mono' }, l.name || ''), h('td', { class: 'mono' }, keyText(l.key)),
      h('td', { class: 'num' }, fmtSi(l.macs)), h('td', { class: 'num' }, fmtInt(l.params)),
      devs.map((d) => h('td', { class: 'num' }, l.latency[d] === null ? 'missing' : fmtFix(l.latency[d], 1))))))));
}
