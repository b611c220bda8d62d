// surrogate.js — the surrogate of (space, metric, fidelity): its status,
// the model chosen, the cross-validated figures of every candidate, and a
// parity plot of every fitted genome's observed mean against its held-out
// cross-validation prediction (±2σ): the numbers τ and RMSE come from.
import { h, fill, fmtInt, fmtFix, $ } from '../dom.js';
import { chart } from '../plots.js';

let plot = null;

export function clearSurrogate(message) {
  plot?.destroy();
  plot = null;
  fill($('#surrogate .h2-sub'));
  fill($('#surrogate .body'), message ? h('p', { class: 'note' }, message) : null);
}

/** sur: the answer of GET .../surrogate?heldout=true (or null). */
export function renderSurrogate(state, sur) {
  const body = $('#surrogate .body');
  fill($('#surrogate .h2-sub'), `${state.space.id} · ${state.metric} @ ${state.fidelity}`);
  if (!sur) {
    clearSurrogate('No observation of this metric yet.');
    return;
  }
  const cv = sur.cv || {};
  const figure = (label, value, k, v) => h('div', { class: 'figure' },
    h('div', { class: 'label' }, label), h('div', { class: 'value', dataset: { k, v: v === null || v === undefined ? '' : String(v) } }, value));
  const parts = [h('div', { class: 'figures' },
    figure('status', sur.status, 'status', sur.status),
    figure('model', sur.model || '–', 'model', sur.model),
    figure('Kendall τ', fmtFix(cv.kendall_tau, 3), 'kendall_tau', cv.kendall_tau),
    figure('RMSE', fmtFix(cv.rmse, 4), 'rmse', cv.rmse),
    figure('Spearman ρ', fmtFix(cv.spearman_rho, 3), 'spearman_rho', cv.spearman_rho),
    figure('within 2σ', cv.coverage_2sigma == null ? '–' : `${(100 * cv.coverage_2sigma).toFixed(1)} %`, 'coverage_2sigma', cv.coverage_2sigma),
    figure('observations', fmtInt(sur.n), 'n', sur.n),
    figure('distinct genomes', fmtInt(sur.distinct), 'distinct', sur.distinct),
    figure('version', String(sur.version), 'version', sur.version))];
  if (sur.status !== 'fitted') {
    parts.push(h('p', { class: 'note', dataset: { k: 'reason' } }, sur.reason || ''));
  } else {
    parts.push(h('p', { class: 'note' },
      `${cv.folds}-fold cross-validation; fitted ${sur.fitted_at} in ${fmtFix(sur.fit_seconds, 2)} s. `),
    candidates(sur));
  }
  const el = h('div', { id: 'parity', class: 'plot' });
  parts.push(el, h('p', { class: 'note' },
    'Parity: each genome the model was fitted on (mean of its repeats) against its held-out prediction, '
    + 'made by the model fitted on the other cross-validation folds, with ±2σ bars; the dashed line is y = x. '
    + 'These are the predictions τ, RMSE and the 2σ coverage are computed from.'));
  plot?.destroy();
  fill(body, parts);
  plot = null;
  drawParity(el, state, sur.heldout || []);
}

function candidates(sur) {
  return h('table', { class: 'candidates' },
    h('thead', {}, h('tr', {}, ['candidate', 'τ', 'ρ', 'RMSE', '1σ', '2σ'].map((t, i) => h('th', { class: i ? 'num' : '' }, t)))),
    h('tbody', {}, sur.candidates.map((c) => h('tr', { dataset: { model: c.model } },
      h('td', {}, c.model === sur.model ? h('strong', {}, `${c.model} (chosen)`) : c.model),
      h('td', { class: 'num' }, fmtFix(c.cv.kendall_tau, 3)),
      h('td', { class: 'num' }, fmtFix(c.cv.spearman_rho, 3)),
      h('td', { class: 'num' }, fmtFix(c.cv.rmse, 4)),
      h('td', { class: 'num' }, fmtFix(c.cv.coverage_1sigma, 2)),
      h('td', { class: 'num' }, fmtFix(c.cv.coverage_2sigma, 2))))));
}

function drawParity(el, state, heldout) {
  const pts = heldout.filter((r) => r.mean !== null && r.std !== null)
    .map((r) => ({ genome: r.genome, n: r.count, mean: r.observed, pred: { mean: r.mean, std: r.std } }))
    .sort((a, b) => a.mean - b.mean);
  el.dataset.ready = 'false';
  if (!pts.length) {
    fill(el, h('p', { class: 'note' }, 'No held-out predictions yet (the model needs more observations).'));
    el.dataset.points = '0';
    el.dataset.ready = 'true';
    return;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of pts) {
    lo = Math.min(lo, p.mean, p.pred.mean - 2 * p.pred.std);
    hi = Math.max(hi, p.mean, p.pred.mean + 2 * p.pred.std);
  }
  const pad = (hi - lo) * 0.04 || 0.01;
  plot = chart(el, {
    height: 300, xLabel: `observed ${state.metric}`, yLabel: `predicted ${state.metric}`,
    square: () => [lo - pad, hi + pad], diagonal: true,
    series: [{ label: 'genomes', color: '#3b7dd8', errorColor: `rgba(59,125,216,${pts.length > 500 ? 0.12 : 0.35})`, size: 4 }],
    describe: (i) => {
      const p = pts[i];
      return `observed ${fmtFix(p.mean, 4)} (${p.n}×) · predicted ${fmtFix(p.pred.mean, 4)} ± ${fmtFix(2 * p.pred.std, 4)} · [${p.genome.join(',')}]`;
    },
  });
  plot.set([pts.map((p) => p.mean), pts.map((p) => p.pred.mean)],
    [[pts.map((p) => p.pred.mean - 2 * p.pred.std), pts.map((p) => p.pred.mean + 2 * p.pred.std)]]);
  const inside = pts.filter((p) => Math.abs(p.mean - p.pred.mean) <= 2 * p.pred.std).length;
  el.dataset.within2 = String(inside);
  el.dataset.ready = 'true';
}
