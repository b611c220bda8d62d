// pareto.js — every observed genome as a point of its metric against a cost
// (latency on the chosen device, MACs or params), and the measured Pareto
// front through them; the front's members can be sent to the cost form.
import { h, fill, fmtInt, fmtFix, fmtMs, fmtSi, $ } from '../dom.js';
import { chart } from '../plots.js';
import { paretoFront } from '../front.js';

let plot = null;
let plotKey = '';
let rowsNow = []; // what the hovered index of the plot refers to

export function clearPareto(message) {
  plot?.destroy();
  plot = null;
  plotKey = '';
  fill($('#pareto .h2-sub'));
  fill($('#pareto .body'), message ? h('p', { class: 'note' }, message) : null);
}

function costOf(g, x) {
  if (!g.costs) return null;
  if (x === 'latency') return g.costs.ms;
  return g.costs[x];
}

/** The points, front and incomplete ones of observed for cost x. */
export function frontOf(observed, x, goal) {
  const points = [];
  const lowerBounds = [];
  for (const g of observed.list) {
    const c = costOf(g, x);
    if (c === null || c === undefined) continue;
    const p = { cost: c, value: g.mean, g };
    if (x === 'latency' && g.costs.complete === false) lowerBounds.push(p);
    else points.push(p);
  }
  return { points, lowerBounds, front: paretoFront(points, goal) };
}

export function renderPareto(state, observed, { onCost, onControls }) {
  const body = $('#pareto .body');
  fill($('#pareto .h2-sub'), `${state.metric} @ ${state.fidelity}`);
  if (!state.space.builder) {
    clearPareto('A categorical space has no costs: the front needs a builder space.');
    return;
  }
  const x = state.xcost === 'latency' && !observed.device ? 'macs' : state.xcost;
  const { points, lowerBounds, front } = frontOf(observed, x, state.goal);
  const xLabel = x === 'latency' ? `latency on ${observed.device} (ms)` : x === 'macs' ? 'MACs' : 'params';
  const xSel = h('select', { id: 'pareto-x', onchange: () => onControls({ xcost: xSel.value }) },
    observed.device ? h('option', { value: 'latency' }, `latency on ${observed.device}`) : null,
    h('option', { value: 'macs' }, 'MACs'), h('option', { value: 'params' }, 'params'));
  xSel.value = x;
  const goalSel = h('select', { id: 'pareto-goal', onchange: () => onControls({ goal: goalSel.value }) },
    h('option', { value: 'max' }, `higher ${state.metric} is better`),
    h('option', { value: 'min' }, `lower ${state.metric} is better`));
  goalSel.value = state.goal;
  const figure = (label, value, k, v) => h('div', { class: 'figure' },
    h('div', { class: 'label' }, label), h('div', { class: 'value', dataset: { k, v: String(v) } }, value));
  const costed = points.length + lowerBounds.length;
  let el = $('#pareto-plot');
  const key = `${state.space.id}|${state.metric}|${state.fidelity}|${observed.device}|${x}|${state.goal}`;
  if (!el || key !== plotKey) {
    plot?.destroy();
    plot = null;
    el = h('div', { id: 'pareto-plot', class: 'plot' });
  }
  fill(body,
    h('div', { class: 'controls' }, 'x:', xSel, goalSel),
    h('div', { class: 'figures' },
      figure('observations', fmtInt(observed.n), 'n', observed.n),
      figure('distinct genomes', fmtInt(observed.groups.size), 'distinct', observed.groups.size),
      figure('costed', fmtInt(costed), 'costed', costed),
      figure('on the front', fmtInt(front.length), 'front', front.length),
      x === 'latency' ? figure('incomplete latency', fmtInt(lowerBounds.length), 'incomplete', lowerBounds.length) : null),
    el,
    lowerBounds.length ? h('p', { class: 'note' }, 'Hollow points: latency known only in part (rows missing from the table), a lower bound; they are not on the front.') : null,
    frontTable(front, x, state, onCost, lowerBounds.length));
  drawFront(el, key, { points, lowerBounds, front, x, xLabel, state });
}

function drawFront(el, key, { points, lowerBounds, front, x, xLabel, state }) {
  const onFront = new Set(front);
  const rows = [];
  for (const p of points) rows.push([p.cost, onFront.has(p) ? null : p.value, onFront.has(p) ? p.value : null, null, p]);
  for (const p of lowerBounds) rows.push([p.cost, null, null, p.value, p]);
  rows.sort((a, b) => a[0] - b[0]);
  rowsNow = rows;
  const data = [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])];
  if (!plot) {
    plotKey = key;
    plot = chart(el, {
      height: 320, xLabel, yLabel: state.metric,
      series: [
        { label: 'observed', color: '#5a6b8c', fill: 'rgba(90,107,140,0.45)', size: 4 },
        { label: 'Pareto front', color: '#e07b00', line: true, points: true, size: 7 },
        { label: 'latency lower bound', color: '#aa6688', fill: '#fff', size: 5 },
      ],
      describe: (i) => {
        const p = rowsNow[i]?.[4];
        if (!p) return '';
        const c = x === 'latency' ? fmtMs(p.cost) : fmtSi(p.cost);
        return `${state.metric} ${fmtFix(p.value, 4)} (${p.g.n}×) · ${c} · [${p.g.genome.join(',')}]`;
      },
    });
  }
  plot.set(data);
  el.dataset.front = String(front.length);
}

function frontTable(front, x, state, onCost, lowerBounds) {
  if (!front.length && lowerBounds) {
    return h('p', { class: 'note' }, `No observed genome has a complete latency on ${state.device}: its table lacks layers they use (see the coverage). Choose MACs or another device.`);
  }
  if (!front.length) return h('p', { class: 'note' }, 'No costed observation yet.');
  const cost = (p) => (x === 'latency' ? fmtMs(p.cost) : fmtInt(p.cost));
  return h('details', { open: front.length <= 12 },
    h('summary', {}, `the front (${front.length} genomes, cheapest first)`),
    h('div', { class: 'scroll' }, h('table', { id: 'front-table' },
      h('thead', {}, h('tr', {}, h('th', { class: 'num' }, x === 'latency' ? 'latency' : x),
        h('th', { class: 'num' }, state.metric), h('th', { class: 'num' }, 'repeats'), h('th', {}, 'genome'), h('th', {}, ''))),
      h('tbody', {}, front.map((p) => h('tr', { dataset: { key: p.g.key } },
        h('td', { class: 'num', dataset: { v: p.cost } }, cost(p)),
        h('td', { class: 'num', dataset: { v: p.value } }, fmtFix(p.value, 4)),
        h('td', { class: 'num' }, String(p.g.n)),
        h('td', { class: 'mono', title: JSON.stringify(p.g.genome) }, `[${p.g.genome.join(',')}]`),
        h('td', {}, h('button', { class: 'linkish', type: 'button', onclick: () => onCost(p.g.genome) }, 'cost it'))))))));
}
