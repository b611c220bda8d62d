// dom.js — building DOM nodes without innerHTML (names and descriptions come
// from the API and are shown as text, never parsed as markup), and the
// number formats every view shares.

/** h('td', {class: 'num', dataset: {v: 3}}, 'text', node, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'style') Object.assign(el.style, v); // CSSOM: allowed by the page's CSP
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replace the children of el. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 1234567 -> "1,234,567"; null -> "–" */
export function fmtInt(x) {
  return x === null || x === undefined ? '–' : intFmt.format(x);
}

/** A figure with a fixed number of decimals; null -> "–". */
export function fmtFix(x, digits = 3) {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

/** Milliseconds with three decimals. */
export function fmtMs(x) {
  return x === null || x === undefined ? '–' : `${x.toFixed(3)} ms`;
}

/** 1.23e9 -> "1.23 G" (MACs, params). */
export function fmtSi(x) {
  if (x === null || x === undefined) return '–';
  const units = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [f, u] of units) if (Math.abs(x) >= f) return `${(x / f).toFixed(2)} ${u}`;
  return String(x);
}

/** A compact text of a canonical layer key: conv2d 32→64 k3 s2 g32 56×56. */
export function keyText(k) {
  const parts = [k.op];
  if (k.cin !== undefined || k.cout !== undefined) parts.push(`${k.cin ?? '?'}→${k.cout ?? '?'}`);
  if (k.k !== undefined && k.k !== 1) parts.push(`k${k.k}`);
  if (k.stride !== undefined && k.stride !== 1) parts.push(`s${k.stride}`);
  if (k.dilation !== undefined && k.dilation !== 1) parts.push(`d${k.dilation}`);
  if (k.groups !== undefined && k.groups !== 1) parts.push(`g${k.groups}`);
  if (k.h !== undefined) parts.push(`${k.h}×${k.w}`);
  if (k.out_h !== undefined) parts.push(`→${k.out_h}×${k.out_w}`);
  if (k.dtype && k.dtype !== 'fp32') parts.push(k.dtype);
  return parts.join(' ');
}
