// errors.js — how API errors are shown: a problem box (status, title,
// detail and every error item with its pointer) inline where the request was
// made, and the same text in the page's error list, deduplicated so that a
// failing poll does not flood it.
import { h, $ } from './dom.js';

/** A box describing an ApiError (or any Error). */
export function problemBox(err) {
  const p = err.problem;
  const head = err.status
    ? `${err.status} ${p?.title || ''}`.trim()
    : 'fmasd did not answer';
  return h('div', { class: 'problem', role: 'alert', dataset: { status: String(err.status ?? '') } },
    h('div', { class: 'problem-head' }, h('strong', {}, head), ' ',
      h('code', {}, `${err.method || ''} ${err.path || ''}`.trim())),
    p?.detail ? h('div', { class: 'problem-detail' }, p.detail) : (!p ? h('div', { class: 'problem-detail' }, err.message) : null),
    err.reasons?.length
      ? h('ul', { class: 'problem-errors' },
        err.reasons.map((r) => h('li', {}, r.where ? h('code', {}, r.where) : null, r.where ? ': ' : '', r.reason)))
      : null);
}

const seen = new Map();

/** Add err to the page's error list (once per distinct message, counted). */
export function reportError(err) {
  if (err?.name === 'AbortError') return;
  console.warn(err);
  const list = $('#errors');
  const key = err.message;
  const known = seen.get(key);
  if (known && known.isConnected) {
    known.dataset.count = String(Number(known.dataset.count) + 1);
    known.querySelector('.problem-count').textContent = `×${known.dataset.count}`;
    return;
  }
  const item = h('li', { class: 'error-item', dataset: { count: '1' } },
    problemBox(err),
    h('span', { class: 'problem-count' }, ''),
    h('button', { class: 'dismiss', title: 'dismiss', onclick: () => { item.remove(); sync(); } }, '×'));
  seen.set(key, item);
  list.append(item);
  sync();
}

function sync() {
  const list = $('#errors');
  list.hidden = list.children.length === 0;
}

/** Wrap an async view action: errors are reported, the promise never rejects. */
export function guarded(fn) {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (e) {
      reportError(e);
      return undefined;
    }
  };
}
