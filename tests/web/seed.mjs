// seed.mjs — the data the dashboard tests look at, made through the REST
// API: a partly profiled device, a builder space with observations enough for
// a fitted surrogate, and a space with 10,000 observations. Accuracies are a
// smooth synthetic function of the genome (bigger networks score higher)
// plus seeded noise, so the front has many members and a run is repeatable.
import { rng } from './harness.mjs';

export const MBV2 = 'deeplabv3plus-mobilenetv2';
export const METRIC = 'miou';
export const FIDELITY = 'val-subset-500';
export const MCU = 'test-mcu';
export const CPU = 'example-cpu'; // bundled: every layer of the built-in spaces at 128

/** The canonical genome (a gene gated by a keep gene at 0 is 0). */
export function canonical(space, genome) {
  const index = Object.fromEntries(space.genes.map((g, i) => [g.name, i]));
  return genome.map((v, i) => {
    const gate = space.genes[i].gated_by;
    return gate && genome[index[gate]] === 0 ? 0 : v;
  });
}

export function fraction(space, genome) {
  const g = canonical(space, genome);
  return g.reduce((s, v, i) => s + v / Math.max(1, space.genes[i].choices.length - 1), 0) / g.length;
}

/** n distinct canonical genomes drawn with the generator. */
export function genomes(space, n, random) {
  const seen = new Set();
  const out = [];
  while (out.length < n) {
    const g = canonical(space, space.genes.map((x) => Math.floor(random() * x.choices.length)));
    const k = g.join(',');
    if (!seen.has(k)) {
      seen.add(k);
      out.push(g);
    }
  }
  return out;
}

export function accuracy(space, genome, random) {
  return 0.45 + 0.3 * fraction(space, genome) + 0.01 * (random() + random() + random() - 1.5);
}

/** A device whose table has two layer keys of every three of the space. */
export async function seedDevice(srv, spaceId) {
  await srv.api('PUT', `/v1/devices/${MCU}`, {
    unit: 'cycles', clock_mhz: 175, kind: 'mcu', measured: true,
    description: 'seeded by tests/web: two thirds of the layers of dash-mb',
  });
  const { layers } = await srv.api('GET', `/v1/spaces/${spaceId}/layers`);
  const rows = layers.filter((_, i) => i % 3 !== 0).map((l) => ({
    key: l.key, latency: { mean: 2000 + l.macs / 8, std: 5, count: 10 },
  }));
  await srv.api('POST', `/v1/devices/${MCU}/lut`, rows, 200);
  return rows.length;
}

export async function seedSpace(srv, id, description) {
  return srv.api('POST', '/v1/spaces', { id, description, builder: MBV2, params: { input_size: 128 } }, 201);
}

/** n distinct genomes observed once, `repeats` of them twice. */
export async function seedObservations(srv, space, n, repeats, seed) {
  const random = rng(seed);
  const gs = genomes(space, n, random);
  const obs = gs.map((g) => ({ genome: g, metric: METRIC, fidelity: FIDELITY, value: accuracy(space, g, random),
    meta: { evaluator: 'tests/web' } }));
  for (let i = 0; i < repeats; i++) {
    obs.push({ genome: gs[i], metric: METRIC, fidelity: FIDELITY, value: accuracy(space, gs[i], random) });
  }
  await srv.api('POST', `/v1/spaces/${space.id}/observations`, { observations: obs }, 201);
  return gs;
}

/** Wait until the surrogate has been fitted on every observation. */
export async function fitted(srv, spaceId, n, timeoutMs = 300000, metric = METRIC, fidelity = FIDELITY) {
  const t0 = Date.now();
  for (;;) {
    const s = await srv.api('GET', `/v1/spaces/${spaceId}/surrogate?metric=${metric}&fidelity=${fidelity}`);
    if (s.status === 'fitted' && s.n === n) return s;
    if (Date.now() - t0 > timeoutMs) throw new Error(`no fitted surrogate within ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * What the page should show for (space, device), computed here from the
 * API: mean of each canonical genome's observations, its costs, and the
 * front (higher metric better) over complete latencies or MACs.
 */
export async function expected(srv, space, device) {
  const { observations } = await srv.api('GET', `/v1/spaces/${space.id}/observations?metric=${METRIC}&fidelity=${FIDELITY}`);
  const groups = new Map();
  for (const o of observations) {
    const g = canonical(space, o.genome);
    const k = g.join(',');
    const e = groups.get(k) || { key: k, genome: g, sum: 0, n: 0 };
    e.sum += o.value;
    e.n++;
    groups.set(k, e);
  }
  const list = [...groups.values()];
  for (let i = 0; i < list.length; i += 5000) {
    const part = list.slice(i, i + 5000);
    const ans = await srv.api('POST', `/v1/spaces/${space.id}/estimate?fidelity=${FIDELITY}&predict=false&strict=true`,
      { devices: [device], genomes: part.map((e) => e.genome) });
    ans.results.forEach((r, j) => {
      const e = part[j];
      e.mean = e.sum / e.n;
      e.macs = r.macs;
      e.ms = r.latency[device].ms;
      e.complete = r.latency[device].complete;
    });
  }
  const front = (cost) => {
    const pts = list.filter((e) => cost(e) !== null).sort((a, b) => cost(a) - cost(b) || b.mean - a.mean);
    let best = -Infinity;
    return pts.filter((e) => (e.mean > best ? ((best = e.mean), true) : false));
  };
  return {
    n: observations.length,
    groups: list,
    latencyFront: front((e) => (e.complete ? e.ms : null)),
    macsFront: front((e) => e.macs),
    incomplete: list.filter((e) => !e.complete).length,
  };
}
