// devices.js — every device and its table: entries, LUT version and hash,
// measured or modeled; a device's first rows on demand.
import { api, enc } from '../api.js';
import { h, fill, fmtInt, fmtFix, keyText, $ } from '../dom.js';
import { problemBox } from '../errors.js';

const PREVIEW_ROWS = 25;

export function renderDevices(state) {
  const body = $('#devices .body');
  if (!state.devices.length) {
    fill(body, h('p', { class: 'note' }, 'No device yet: PUT /v1/devices/{name}, then upload its table.'));
    return;
  }
  const rows = [];
  for (const d of state.devices) {
    const preview = h('tr', { class: 'preview', hidden: true }, h('td', { colspan: 8 }));
    const toggle = h('button', {
      class: 'linkish', type: 'button', title: `the first ${PREVIEW_ROWS} rows of the table`,
      onclick: () => showRows(d, preview, toggle),
    }, 'rows');
    rows.push(h('tr', { dataset: { device: d.name } },
      h('td', {}, h('strong', {}, d.name), h('div', { class: 'muted', title: d.description }, shorten(d.description, 70))),
      h('td', {}, d.kind || '–'),
      h('td', {}, d.unit === 'cycles' ? `cycles @ ${d.clock_mhz} MHz` : d.unit),
      h('td', {}, h('span', { class: `tag ${d.measured ? 'measured' : 'modeled'}`, dataset: { k: 'source' } },
        d.measured ? 'measured' : 'modeled')),
      h('td', { class: 'num', dataset: { k: 'entries', v: d.entries } }, fmtInt(d.entries)),
      h('td', { class: 'num', dataset: { k: 'lut_version', v: d.lut_version } }, String(d.lut_version)),
      h('td', { class: 'mono', title: d.lut_hash || '' }, d.lut_hash ? d.lut_hash.slice(0, 8) : '–'),
      h('td', {}, toggle)));
    rows.push(preview);
  }
  fill(body, h('table', { class: 'devices' },
    h('thead', {}, h('tr', {}, ['device', 'kind', 'unit', 'source', 'entries', 'LUT version', 'hash', ''].map((t, i) =>
      h('th', { class: i === 4 || i === 5 ? 'num' : '' }, t)))),
    h('tbody', {}, rows)));
}

function shorten(text, n) {
  return text && text.length > n ? `${text.slice(0, n - 1)}…` : text || '';
}

async function showRows(device, tr, toggle) {
  if (!tr.hidden) {
    tr.hidden = true;
    toggle.textContent = 'rows';
    return;
  }
  tr.hidden = false;
  toggle.textContent = 'hide';
  const cell = tr.firstChild;
  fill(cell, h('span', { class: 'progress' }, 'loading…'));
  try {
    const page = await api('GET', `/v1/devices/${enc(device.name)}/lut?limit=${PREVIEW_ROWS}`);
    const unit = device.unit === 'cycles' ? 'cycles' : 'µs';
    fill(cell, h('table', { class: 'lut' },
      h('thead', {}, h('tr', {}, h('th', {}, 'layer key'), h('th', { class: 'num' }, `mean (${unit})`),
        h('th', { class: 'num' }, 'std'), h('th', { class: 'num' }, 'count'), h('th', { class: 'num' }, 'MACs'))),
      h('tbody', {}, page.entries.map((e) => h('tr', {},
        h('td', { class: 'mono' }, keyText(e.key)),
        h('td', { class: 'num' }, fmtFix(e.latency.mean, 2)),
        h('td', { class: 'num' }, fmtFix(e.latency.std, 2)),
        h('td', { class: 'num' }, fmtInt(e.latency.count)),
        h('td', { class: 'num' }, fmtInt(e.macs ?? e.computed_macs)))))),
    page.next_cursor ? h('p', { class: 'note' }, `first ${PREVIEW_ROWS} of ${fmtInt(device.entries)} rows (LUT version ${page.lut_version})`) : null);
  } catch (e) {
    fill(cell, problemBox(e));
  }
}
