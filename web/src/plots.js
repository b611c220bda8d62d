// plots.js — the dashboard's charts on uPlot: a scatter (x sorted, one
// series of points per group, an optional line through one series, optional
// vertical error bars and the y = x diagonal) and a bar chart. Both report
// the hovered index to a describe() callback shown under the chart.
import uPlot from 'uplot';
import { h } from './dom.js';

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

/** Axis ticks: 250M rather than 250,000,000. */
function ticks(u, splits) {
  return splits.map((v) => (v === null || v === undefined ? '' : Math.abs(v) >= 1e4 ? compact.format(v) : String(+v.toFixed(6))));
}

function sizeOf(el, height) {
  return { width: Math.max(320, el.clientWidth || 600), height };
}

/** Keep a chart as wide as its container. */
function followWidth(el, u, height) {
  const ro = new ResizeObserver(() => {
    const { width } = sizeOf(el, height);
    if (Math.abs(width - u.width) > 2) u.setSize({ width, height });
  });
  ro.observe(el);
  return ro;
}

/**
 * A chart in el. cfg: {height, xLabel, yLabel, series: [{label, color,
 * points: true, line: false, dash, size, fill, errorColor}], diagonal: bool,
 * square: () => [lo, hi] (the same range on both axes), describe: (idx) => text,
 * bars: bool}.
 * Returns {set(data, errorBars), destroy()}; data is uPlot's [xs, ys1, ys2, ...]
 * (xs ascending); errorBars[s - 1] = [lo[], hi[]] or null for series s.
 */
export function chart(el, cfg) {
  const height = cfg.height || 320;
  const info = h('div', { class: 'plot-info' }, '\u00a0');
  const box = h('div', { class: 'plot-box' });
  el.replaceChildren(box, info);
  el.dataset.xlabel = cfg.xLabel; // the axes are drawn on the canvas
  el.dataset.ylabel = cfg.yLabel;
  let errors = null;
  const series = [{ label: cfg.xLabel }];
  for (const s of cfg.series) {
    const o = { label: s.label, stroke: s.color, width: s.line ? 1.5 : 0, spanGaps: true };
    if (cfg.bars) {
      o.fill = s.color;
      o.paths = uPlot.paths.bars({ size: [0.8, 24], gap: 1 });
      o.points = { show: false };
    } else if (s.line) {
      o.points = { show: !!s.points, size: s.size || 6, space: 0, fill: s.color, stroke: s.color };
      if (s.dash) o.dash = s.dash;
    } else {
      o.paths = () => null;
      o.points = { show: true, size: s.size || 5, space: 0, fill: s.fill || s.color, stroke: s.color, width: 1 };
    }
    series.push(o);
  }
  const opts = {
    ...sizeOf(box, height),
    series,
    scales: { x: { time: false } },
    axes: [{ label: cfg.xLabel, size: 40, values: ticks }, { label: cfg.yLabel, size: 64, values: ticks }],
    legend: { show: true, live: false },
    cursor: { points: { size: 8 } },
    hooks: {
      setCursor: [(u) => {
        const idx = u.cursor.idx;
        info.textContent = idx == null ? '\u00a0' : (cfg.describe?.(idx) || '\u00a0');
      }],
      draw: [(u) => {
        if (cfg.diagonal) drawDiagonal(u);
        if (errors) drawErrors(u, errors, cfg.series);
      }],
    },
  };
  if (cfg.square) opts.scales = { x: { time: false, range: cfg.square }, y: { range: cfg.square } };
  let u = null;
  let ro = null;
  return {
    set(data, errorBars = null) {
      errors = errorBars;
      if (!u) {
        u = new uPlot(opts, data, box);
        ro = followWidth(box, u, height);
      } else {
        u.setData(data);
      }
      el.dataset.points = String(countPoints(data));
    },
    destroy() {
      ro?.disconnect();
      u?.destroy();
      u = null;
    },
    get uplot() {
      return u;
    },
  };
}

function countPoints(data) {
  let n = 0;
  for (let s = 1; s < data.length; s++) for (const v of data[s]) if (v !== null && v !== undefined) n++;
  return n;
}

function drawDiagonal(u) {
  const [lo, hi] = [Math.max(u.scales.x.min, u.scales.y.min), Math.min(u.scales.x.max, u.scales.y.max)];
  if (!(hi > lo)) return;
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = '#888';
  ctx.setLineDash([4, 4]);
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(u.valToPos(lo, 'x', true), u.valToPos(lo, 'y', true));
  ctx.lineTo(u.valToPos(hi, 'x', true), u.valToPos(hi, 'y', true));
  ctx.stroke();
  ctx.restore();
}

/** errors[s - 1] = [lo[], hi[]] for series s (null: none). */
function drawErrors(u, errors, seriesCfg) {
  const xs = u.data[0];
  const ctx = u.ctx;
  ctx.save();
  ctx.lineWidth = 1;
  errors.forEach((bars, k) => {
    if (!bars) return;
    const [lo, hi] = bars;
    ctx.strokeStyle = seriesCfg[k].errorColor || seriesCfg[k].color;
    ctx.beginPath();
    for (let i = 0; i < xs.length; i++) {
      if (lo[i] == null || hi[i] == null) continue;
      const x = u.valToPos(xs[i], 'x', true);
      ctx.moveTo(x, u.valToPos(lo[i], 'y', true));
      ctx.lineTo(x, u.valToPos(hi[i], 'y', true));
    }
    ctx.stroke();
  });
  ctx.restore();
}
