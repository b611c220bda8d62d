// coverage.js — for a space and a device, every layer key the space can use
// and whether the device's table has it: profiled (a row), predicted (a
// model's estimate, when fmasd reports one per layer) or missing.
import { api, enc } from '../api.js';
import { h, fill, fmtInt, fmtSi, keyText, $ } from '../dom.js';
import { problemBox } from '../errors.js';

const CATEGORIES = ['profiled', 'predicted', 'missing'];
const MISSING_LISTED = 100;

/** profiled | predicted | missing of one layer of GET /v1/spaces/{id}/layers?device= */
export function layerStatus(layer) {
  if (CATEGORIES.includes(layer.status)) return layer.status;
  if (layer.present === true) return 'profiled';
  if (layer.predicted === true || layer.predicted) return 'predicted';
  return 'missing';
}

export async function loadCoverage(state, signal) {
  const body = $('#coverage .body');
  const sub = $('#coverage .h2-sub');
  const space = state.space;
  if (!space) return;
  if (!space.builder) {
    fill(sub, `${space.id}`);
    fill(body, h('p', { class: 'note' }, 'A categorical space names genes only: it has no layers to profile.'));
    return;
  }
  if (!state.device) {
    fill(sub, space.id);
    fill(body, h('p', { class: 'note' }, 'No device to compare with: add a device and its table.'));
    return;
  }
  fill(sub, `${space.id} on ${state.device}`);
  let ans;
  try {
    ans = await api('GET', `/v1/spaces/${enc(space.id)}/layers?device=${enc(state.device)}`, undefined, { signal });
  } catch (e) {
    if (e.name === 'AbortError') return;
    fill(body, problemBox(e));
    throw e;
  }
  renderCoverage(body, ans);
}

function renderCoverage(body, ans) {
  const counts = { profiled: 0, predicted: 0, missing: 0 };
  const byOp = new Map();
  for (const l of ans.layers) {
    const s = layerStatus(l);
    counts[s]++;
    if (!byOp.has(l.key.op)) byOp.set(l.key.op, []);
    byOp.get(l.key.op).push({ ...l, s });
  }
  const shown = CATEGORIES.filter((c) => c !== 'predicted' || counts.predicted > 0);
  const total = ans.count;
  const pct = (n) => (total ? (100 * n) / total : 0);
  const figure = (label, value, k, v) => h('div', { class: 'figure' },
    h('div', { class: 'label' }, label), h('div', { class: 'value', dataset: { k, v: String(v) } }, value));
  const coverage = ans.coverage ?? (total ? counts.profiled / total : 0);
  fill(body,
    h('div', { class: 'figures' },
      figure('layer keys', fmtInt(total), 'count', total),
      shown.map((c) => figure(c, fmtInt(counts[c]), c, counts[c])),
      figure('coverage', `${(100 * coverage).toFixed(1)} %`, 'coverage', coverage),
      figure('LUT version', String(ans.lut_version), 'lut_version', ans.lut_version)),
    h('div', { class: 'bar', title: shown.map((c) => `${c} ${counts[c]}`).join(', ') },
      shown.filter((c) => c !== 'missing').map((c) => h('span', { class: c, style: { width: `${pct(counts[c])}%` } }))),
    h('div', { class: 'legend-row' }, shown.map((c) => h('span', {}, h('span', { class: `swatch ${c}` }), c))),
    h('div', { class: 'covmap' }, [...byOp].map(([op, layers]) => [
      h('div', { class: 'op' }, `${op} (${layers.length})`),
      h('div', { class: 'cells' }, layers.map((l) => h('span', {
        class: `cell ${l.s}`, dataset: { s: l.s },
        title: `${l.s}: ${keyText(l.key)} · ${fmtSi(l.macs)} MACs`,
      }))),
    ])),
    missingList(ans.layers.filter((l) => layerStatus(l) === 'missing')));
}

function missingList(missing) {
  if (!missing.length) return h('p', { class: 'note' }, 'Every layer key of the space is in the table.');
  return h('details', {},
    h('summary', {}, `missing keys (${fmtInt(missing.length)}${missing.length > MISSING_LISTED ? `, first ${MISSING_LISTED} listed` : ''})`),
    h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'layer key'), h('th', { class: 'num' }, 'MACs'), h('th', { class: 'num' }, 'params'))),
      h('tbody', {}, missing.slice(0, MISSING_LISTED).map((l) => h('tr', {},
        h('td', { class: 'mono' }, keyText(l.key)),
        h('td', { class: 'num' }, fmtInt(l.macs)),
        h('td', { class: 'num' }, fmtInt(l.params))))))));
}
