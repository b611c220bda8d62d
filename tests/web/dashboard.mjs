// dashboard.mjs — the dashboard in a real browser (headless Chromium driven
// by playwright-core) against a real fmasd with seeded data: each view shows
// the numbers the REST API gives, the cost form works end to end, the front
// follows new observations without a reload, API errors are shown, and the
// page loads within a second and stays usable with 10,000 observations.
// Screenshots and timings are written to FMAS_WEB_ARTIFACTS.
// Skips (exit 77, one SKIP line) without Chromium, playwright-core or an
// embedded dashboard.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { artifactsDir, Fmasd, launch, playwright, skip, sleep } from './harness.mjs';
import {
  CPU, FIDELITY, MCU, METRIC, expected, fitted, seedDevice, seedObservations, seedSpace,
} from './seed.mjs';

const SMALL = 'dash-mb';
const BIG = 'dash-big';

const pw = await playwright();
const server = new Fmasd(['--min-observations', '10', '--refit-delay-ms', '100']);
const timings = {};
let browser;
let page;
let small;           // the space object of SMALL
let dir;
const requests = [];
const consoleErrors = [];

before(async () => {
  await server.start();
  const root = await fetch(`${server.base}/`);
  await root.arrayBuffer();
  if (root.status !== 200) {
    await server.stop();
    skip(`fmasd answers GET / with ${root.status}: it was built without web/dist (npm ci && npm run build in web/)`);
  }
  browser = await launch(pw);
  dir = artifactsDir();
  small = await seedSpace(server, SMALL, 'DeepLabV3+ MobileNetV2 at 128, seeded by tests/web');
  await seedDevice(server, SMALL);
  await seedObservations(server, small, 40, 2, 7);
  await fitted(server, SMALL, 42);
  page = await browser.context.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
});

after(async () => {
  writeFileSync(join(dir || artifactsDir(), 'timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
  for (const [k, v] of Object.entries(timings)) console.log(`# timing ${k}: ${v} ms`);
  await browser?.close();
  const problem = await server.stop();
  assert.equal(problem, null, problem);
});

/** Load the page afresh at #hash and wait until every view is drawn;
 * firstPoints: also when the Pareto plot first had points (ms since the
 * navigation started, like ready). */
async function open(hash, { firstPoints = false } = {}) {
  await page.goto('about:blank');
  const t0 = Date.now();
  await page.goto(`${server.base}/#${hash}`);
  let points = null;
  if (firstPoints) {
    await page.waitForFunction(() => Number(document.querySelector('#pareto-plot')?.dataset.points) > 0, null, { timeout: 120000, polling: 20 });
    points = Math.round(await page.evaluate(() => performance.now()));
  }
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120000 });
  return { wall: Date.now() - t0, ready: Number(await page.getAttribute('body', 'data-ready-ms')), points };
}

async function shot(name, selector) {
  const path = join(dir, `${name}.png`);
  if (selector) await page.locator(selector).screenshot({ path });
  else await page.screenshot({ path, fullPage: true });
}

/** {text, v} of the figure data-k=k inside section. */
async function figure(section, k) {
  const el = page.locator(`${section} [data-k="${k}"]`).first();
  return { text: (await el.textContent()).trim(), v: await el.getAttribute('data-v') };
}

async function refreshes() {
  return Number((await page.getAttribute('#status', 'data-refreshes')) || 0);
}

async function waitRefreshAfter(n, timeout = 60000) {
  await page.waitForFunction((k) => Number(document.querySelector('#status').dataset.refreshes || 0) > k, n, { timeout });
}

const near = (a, b, what) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} != ${b}`);
const fix = (x, d) => x.toFixed(d);
const int = (x) => new Intl.NumberFormat('en-US').format(x);

test('the page loads (timed, not asserted: see bench/web_bench.sh), talking only to its own API', async (t) => {
  const hash = `space=${SMALL}&device=${MCU}&metric=${METRIC}&fidelity=${FIDELITY}`;
  const loads = [];
  for (let i = 0; i < 3; i++) loads.push(await open(hash));
  timings.load_first = loads[0].ready;
  timings.load_best = Math.min(...loads.map((l) => l.ready));
  t.diagnostic(`ready after ${loads.map((l) => l.ready).join(', ')} ms (navigation start → every view drawn)`);
  for (const url of requests) {
    if (url === 'about:blank') continue;
    const u = new URL(url);
    assert.equal(u.origin, server.base, `a request to another origin: ${url}`);
    assert.ok(u.pathname === '/' || u.pathname.startsWith('/v1/'), `a request outside the API: ${url}`);
  }
  assert.deepEqual(consoleErrors, [], 'console errors (CSP violations included)');
  assert.equal(await page.locator('#errors li').count(), 0);
  await shot('page-small');
});

test('devices: every device with its entries, LUT version and source', async () => {
  const { devices } = await server.api('GET', '/v1/devices');
  // the two bundled tables (example-cpu, gap8-model) and the seeded device
  assert.deepEqual(devices.map((d) => d.name).sort(), [CPU, 'gap8-model', MCU].sort());
  for (const d of devices) {
    const row = page.locator(`#devices tr[data-device="${d.name}"]`);
    assert.equal(await row.locator('[data-k="entries"]').getAttribute('data-v'), String(d.entries));
    assert.equal((await row.locator('[data-k="entries"]').textContent()).trim(), int(d.entries));
    assert.equal(await row.locator('[data-k="lut_version"]').getAttribute('data-v'), String(d.lut_version));
    assert.equal((await row.locator('[data-k="source"]').textContent()).trim(), d.measured ? 'measured' : 'modeled');
  }
  const row = page.locator(`#devices tr[data-device="${MCU}"]`);
  await row.locator('button', { hasText: 'rows' }).click();
  const preview = page.locator('#devices tr.preview:not([hidden]) table.lut tbody tr');
  await preview.first().waitFor();
  assert.equal(await preview.count(), 25);
  await shot('devices', '#devices');
});

test('coverage: profiled and missing layer keys of the space on the device', async () => {
  const ans = await server.api('GET', `/v1/spaces/${SMALL}/layers?device=${MCU}`);
  assert.ok(ans.missing > 0 && ans.present > 0);
  assert.equal((await figure('#coverage', 'count')).v, String(ans.count));
  assert.equal((await figure('#coverage', 'profiled')).v, String(ans.present));
  assert.equal((await figure('#coverage', 'missing')).v, String(ans.missing));
  assert.equal((await figure('#coverage', 'coverage')).text, `${fix(100 * ans.coverage, 1)} %`);
  assert.equal(await page.locator('#coverage .cell').count(), ans.count);
  assert.equal(await page.locator('#coverage .cell.profiled').count(), ans.present);
  assert.equal(await page.locator('#coverage .cell.missing').count(), ans.missing);
  assert.equal(await page.locator('#coverage [data-k="predicted"]').count(), 0, 'no predicted category until the API reports one');
  await shot('coverage', '#coverage');
});

test('coverage: a predicted category appears when the API reports predicted layers', async () => {
  const url = `**/v1/spaces/${SMALL}/layers?device=${MCU}`;
  let predicted = 0;
  await page.route(url, async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    body.layers.forEach((l, i) => {
      if (!l.present && i % 2 === 0) {
        l.status = 'predicted';
        predicted++;
      }
    });
    await route.fulfill({ response: res, json: body });
  });
  try {
    await open(`space=${SMALL}&device=${MCU}`);
    assert.ok(predicted > 0);
    assert.equal((await figure('#coverage', 'predicted')).v, String(predicted));
    assert.equal(await page.locator('#coverage .cell.predicted').count(), predicted);
    await shot('coverage-predicted', '#coverage');
  } finally {
    await page.unroute(url);
  }
});

test('surrogate: status, model, τ, RMSE and the held-out parity plot of every fitted genome', async () => {
  await open(`space=${SMALL}&device=${MCU}&metric=${METRIC}&fidelity=${FIDELITY}`);
  const s = await server.api('GET', `/v1/spaces/${SMALL}/surrogate?metric=${METRIC}&fidelity=${FIDELITY}`);
  assert.equal(s.status, 'fitted');
  assert.equal((await figure('#surrogate', 'status')).text, 'fitted');
  assert.equal((await figure('#surrogate', 'model')).text, s.model);
  assert.equal((await figure('#surrogate', 'kendall_tau')).text, fix(s.cv.kendall_tau, 3));
  assert.equal((await figure('#surrogate', 'rmse')).text, fix(s.cv.rmse, 4));
  assert.equal((await figure('#surrogate', 'spearman_rho')).text, fix(s.cv.spearman_rho, 3));
  assert.equal((await figure('#surrogate', 'n')).v, String(s.n));
  assert.equal((await figure('#surrogate', 'distinct')).v, String(s.distinct));
  assert.equal((await figure('#surrogate', 'version')).v, String(s.version));
  assert.equal(await page.locator('#surrogate table.candidates tbody tr').count(), s.candidates.length);
  // The parity plot draws the held-out predictions behind τ and RMSE, so
  // its share within 2σ is the reported coverage.
  const { heldout } = await server.api('GET', `/v1/spaces/${SMALL}/surrogate?metric=${METRIC}&fidelity=${FIDELITY}&heldout=true`);
  assert.equal(heldout.length, s.distinct);
  assert.equal(await page.getAttribute('#parity', 'data-points'), String(heldout.length));
  const within = heldout.filter((r) => Math.abs(r.observed - r.mean) <= 2 * r.std).length;
  assert.equal(await page.getAttribute('#parity', 'data-within2'), String(within));
  assert.equal(within, Math.round(s.cv.coverage_2sigma * s.distinct));
  await shot('surrogate', '#surrogate');
});

test('pareto: observations and the measured front on latency, then on MACs', async () => {
  // On the partly profiled device most latencies are lower bounds.
  let exp = await expected(server, small, MCU);
  assert.equal((await figure('#pareto', 'n')).v, String(exp.n));
  assert.equal((await figure('#pareto', 'distinct')).v, String(exp.groups.length));
  assert.equal((await figure('#pareto', 'incomplete')).v, String(exp.incomplete));
  assert.equal((await figure('#pareto', 'front')).v, String(exp.latencyFront.length));
  // The fully profiled device: choose it in the page.
  const before = await refreshes();
  await page.selectOption('#pick-device', CPU);
  await waitRefreshAfter(before);
  exp = await expected(server, small, CPU);
  assert.equal(await page.getAttribute('#pareto-plot', 'data-xlabel'), `latency on ${CPU} (ms)`);
  assert.equal((await figure('#pareto', 'incomplete')).v, '0');
  assert.equal((await figure('#pareto', 'costed')).v, String(exp.groups.length));
  assert.equal(await page.getAttribute('#pareto-plot', 'data-points'), String(exp.groups.length));
  const keys = async () => page.locator('#front-table tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.key));
  assert.deepEqual(await keys(), exp.latencyFront.map((e) => e.key));
  const firstMs = await page.locator('#front-table tbody tr td').first().getAttribute('data-v');
  near(Number(firstMs), exp.latencyFront[0].ms, 'latency of the cheapest front member');
  await shot('pareto-latency', '#pareto');
  await page.selectOption('#pareto-x', 'macs');
  assert.deepEqual(await keys(), exp.macsFront.map((e) => e.key));
  assert.equal((await figure('#pareto', 'front')).v, String(exp.macsFront.length));
  await shot('pareto-macs', '#pareto');
  assert.match(page.url(), /x=macs/);
  await page.selectOption('#pareto-x', 'latency');
});

test('cost form: a genome from the front, costed end to end', async () => {
  await page.locator('#front-table tbody tr button', { hasText: 'cost it' }).last().click();
  await page.waitForSelector('#cost-out[data-state="done"]');
  const genome = JSON.parse(await page.inputValue('#genome'));
  const expand = await server.api('POST', `/v1/spaces/${SMALL}/expand`, { genome });
  const est = await server.api('POST', `/v1/spaces/${SMALL}/estimate?fidelity=${FIDELITY}&strict=true`, { devices: [CPU, MCU], genomes: [genome] });
  const r = est.results[0];
  assert.equal((await figure('#cost', 'layers')).v, String(expand.layer_count));
  assert.equal((await figure('#cost', 'macs')).v, String(expand.macs));
  assert.equal((await figure('#cost', 'macs')).text, int(expand.macs));
  assert.equal((await figure('#cost', 'params')).v, String(expand.params));
  for (const d of [CPU, MCU]) {
    const row = page.locator(`#cost table.latency tr[data-device="${d}"]`);
    near(Number(await row.locator('[data-k="ms"]').getAttribute('data-v')), r.latency[d].ms, `${d} ms`);
    assert.equal((await row.locator('[data-k="ms"]').textContent()).trim(), `${fix(r.latency[d].ms, 3)} ms`);
    assert.equal(await row.locator('[data-k="missing"]').getAttribute('data-v'), String(r.latency[d].missing));
  }
  near(Number((await figure('#cost', `predicted-${METRIC}`)).v), r.predicted[METRIC].mean, 'predicted mean');
  // The bars: one per layer on the chosen device (the selected one, CPU).
  assert.equal(await page.getAttribute('#cost-bars', 'data-of'), CPU);
  assert.equal(await page.getAttribute('#cost-bars', 'data-bars'), String(expand.layer_count));
  await page.selectOption('#bars-of', MCU);
  assert.equal(await page.getAttribute('#cost-bars', 'data-missing'), String(r.latency[MCU].missing));
  assert.equal(await page.getAttribute('#cost-bars', 'data-bars'), String(expand.layer_count - r.latency[MCU].missing));
  await shot('cost', '#cost');
  // Pick and paste: the largest genome of the space.
  await page.click('#cost button:has-text("largest")');
  assert.deepEqual(JSON.parse(await page.inputValue('#genome')), small.genomes.max);
  await page.fill('#genome', small.genomes.min.join(', '));
  await page.click('#cost-submit');
  await page.waitForSelector('#cost-out[data-state="done"]');
  const min = await server.api('POST', `/v1/spaces/${SMALL}/expand`, { genome: small.genomes.min });
  assert.equal((await figure('#cost', 'macs')).v, String(min.macs));
});

test('cost form: an invalid genome shows the API\'s problem, with the gene at fault', async () => {
  const bad = small.genomes.max.slice();
  bad[0] = 99;
  const problem = await server.api('POST', `/v1/spaces/${SMALL}/expand`, { genome: bad }, 422);
  consoleErrors.length = 0;
  await page.fill('#genome', JSON.stringify(bad));
  await page.click('#cost-submit');
  await page.waitForSelector('#cost-out[data-state="error"]');
  const box = page.locator('#cost-out .problem');
  assert.equal(await box.getAttribute('data-status'), '422');
  const text = await box.textContent();
  assert.ok(text.includes(problem.detail), `${text} lacks ${problem.detail}`);
  for (const e of problem.errors) assert.ok(text.includes(e.reason) && text.includes(e.pointer), text);
  assert.ok((await page.locator('#errors li .problem[data-status="422"]').count()) >= 1, 'listed with the page errors');
  await shot('cost-error', '#cost');
});

test('pareto: the page follows a running search without a reload', async (t) => {
  const n0 = Number((await figure('#pareto', 'n')).v);
  // A new genome cheaper than every observed one and better than all: the whole front.
  const genome = small.genomes.min;
  const t0 = Date.now();
  await server.api('POST', `/v1/spaces/${SMALL}/observations`,
    { observations: [{ genome, metric: METRIC, fidelity: FIDELITY, value: 0.99 }] }, 201);
  await page.waitForFunction((n) => Number(document.querySelector('#pareto [data-k="n"]')?.dataset.v) === n, n0 + 1, { timeout: 60000 });
  timings.live_refresh = Date.now() - t0;
  t.diagnostic(`the new observation showed after ${timings.live_refresh} ms`);
  const keys = await page.locator('#front-table tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.key));
  assert.deepEqual(keys, [genome.join(',')]);
  assert.equal((await figure('#pareto', 'front')).v, '1');
  await shot('pareto-live', '#pareto');
});

test('a categorical space: predictions only, and the views say why the rest is empty', async () => {
  const space = await server.api('POST', '/v1/spaces', { id: 'dash-cat', genes: [0, 1, 2, 3].map((i) => (
    { name: `g${i}`, choices: [1, 2, 3, 4, 5] })) }, 201);
  const obs = [];
  for (let i = 0; i < 30; i++) {
    const genome = [i % 5, (i * 2) % 5, (i * 3) % 5, Math.floor(i / 5) % 5];
    obs.push({ genome, metric: 'pixel_acc', value: 0.5 + 0.05 * genome[0] + 0.01 * genome[3] });
  }
  await server.api('POST', '/v1/spaces/dash-cat/observations', { observations: obs }, 201);
  const s = await fitted(server, 'dash-cat', 30, 120000, 'pixel_acc', 'default');
  await open('space=dash-cat');
  assert.match(await page.locator('#coverage .body').textContent(), /categorical space/);
  assert.match(await page.locator('#pareto .body').textContent(), /categorical space has no costs/);
  assert.equal((await figure('#surrogate', 'model')).text, s.model);
  assert.equal(await page.getAttribute('#parity', 'data-points'), String(s.distinct));
  await page.fill('#genome', '[4, 3, 2, 1]');
  await page.click('#cost-submit');
  await page.waitForSelector('#cost-out[data-state="done"]');
  const est = await server.api('POST', '/v1/spaces/dash-cat/estimate', { devices: [], genomes: [[4, 3, 2, 1]] });
  near(Number((await figure('#cost', 'predicted-pixel_acc')).v), est.results[0].predicted.pixel_acc.mean, 'prediction');
  assert.equal(await page.locator('#cost [data-k="macs"]').count(), 0);
  assert.deepEqual(space.genomes.max, [4, 4, 4, 4]);
  await shot('page-categorical');
});

test('an API error is shown, not swallowed', async () => {
  const problem = await server.api('GET', '/v1/spaces/no-such-space', undefined, 404);
  await open('space=no-such-space');
  const item = page.locator('#errors li .problem[data-status="404"]');
  await item.first().waitFor();
  const text = await item.first().textContent();
  assert.ok(text.includes(problem.detail), text);
  assert.ok(text.includes('/v1/spaces/no-such-space'), text);
  assert.equal(await page.locator('#cost .problem[data-status="404"]').count(), 1, 'the views say why they are empty');
  await shot('api-error');
});

test('10,000 observations: loads, draws every point and stays responsive', async (t) => {
  const big = await seedSpace(server, BIG, 'DeepLabV3+ MobileNetV2 at 128 with 10,000 observations, seeded by tests/web');
  await seedObservations(server, big, 10000, 0, 11);
  await fitted(server, BIG, 10000);
  const load = await open(`space=${BIG}&device=${CPU}&metric=${METRIC}&fidelity=${FIDELITY}`, { firstPoints: true });
  timings.first_points_10k = load.points;
  timings.load_10k = load.ready;
  t.diagnostic(`first points after ${load.points} ms, every view drawn after ${load.ready} ms`);
  const exp = await expected(server, big, CPU);
  assert.equal((await figure('#pareto', 'n')).v, '10000');
  assert.equal(await page.getAttribute('#pareto-plot', 'data-points'), '10000');
  assert.equal((await figure('#pareto', 'front')).v, String(exp.latencyFront.length));
  const bigSur = await server.api('GET', `/v1/spaces/${BIG}/surrogate?metric=${METRIC}&fidelity=${FIDELITY}`);
  assert.equal(await page.getAttribute('#parity', 'data-points'), String(bigSur.distinct), 'every fitted genome, held out');
  // Responsiveness: redraw on MACs, hover a point, open the surrogate figures.
  timings.switch_axis_10k = Math.round(await page.evaluate(() => {
    const sel = document.querySelector('#pareto-x');
    const t0 = performance.now();
    sel.value = 'macs';
    sel.dispatchEvent(new Event('change'));
    return performance.now() - t0;
  }));
  assert.equal((await figure('#pareto', 'front')).v, String(exp.macsFront.length));
  const box = await page.locator('#pareto-plot .u-over').boundingBox();
  const h0 = Date.now();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForFunction(() => /miou/.test(document.querySelector('#pareto .plot-info').textContent));
  timings.hover_10k = Date.now() - h0;
  t.diagnostic(`x axis switch ${timings.switch_axis_10k} ms, hover ${timings.hover_10k} ms`);
  await shot('page-10k');
  assert.deepEqual(consoleErrors.filter((e) => !/status of 4\d\d/.test(e)), []);
});
