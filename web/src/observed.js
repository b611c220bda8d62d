// observed.js — the observed genomes of one (space, metric, fidelity):
// repeats averaged per canonical genome, with their costs on one device and
// the surrogate's predictions, both from POST /v1/spaces/{id}/estimate in
// chunks. Costs are kept while the device's LUT version stays the same;
// predictions while the model version stays the same, so a refresh during a
// search only asks for what is new. The parity plot shows the most recently
// observed PARITY_MAX genomes, so a refit asks for at most that many
// predictions again.
import { api, chunked, enc } from './api.js';
import { canonical, genomeKey } from './genome.js';

const CHUNK = 1000;
const PARALLEL = 2;
export const PARITY_MAX = 2000;

export class Observed {
  constructor(space, metric, fidelity, device) {
    this.space = space;
    this.metric = metric;
    this.fidelity = fidelity;
    this.device = space.builder ? device : null;
    this.groups = new Map(); // key -> {genome, sum, n, mean, first, costs, pred}
    this.n = 0;
    this.lutVersion = null;
    this.modelVersion = null;
  }

  /** Take the space's observations (GET .../observations, all of them). */
  setObservations(all) {
    let n = 0;
    for (const g of this.groups.values()) {
      g.sum = 0;
      g.n = 0;
    }
    for (const o of all) {
      if (o.metric !== this.metric || o.fidelity !== this.fidelity) continue;
      n++;
      const genome = canonical(this.space, o.genome);
      const key = genomeKey(genome);
      let g = this.groups.get(key);
      if (!g) {
        g = { key, genome, sum: 0, n: 0, mean: NaN, first: o.id, costs: null, pred: null };
        this.groups.set(key, g);
      }
      g.sum += o.value;
      g.n++;
    }
    for (const [key, g] of this.groups) {
      if (!g.n) this.groups.delete(key);
      else g.mean = g.sum / g.n;
    }
    this.n = n;
  }

  /**
   * Ask for costs (builder space with a device: latency on it; MACs and
   * params always) and predictions of the genomes that lack them.
   * lutVersion / modelVersion: the current ones (null when unknown/none);
   * onProgress(done, total) after every chunk (total grows when the
   * predictions of the parity sample are asked for after the costs).
   */
  async complete(lutVersion, modelVersion, signal, onProgress) {
    if (lutVersion !== this.lutVersion) {
      for (const g of this.groups.values()) g.costs = null;
      this.lutVersion = lutVersion;
    }
    if (modelVersion !== this.modelVersion) {
      for (const g of this.groups.values()) g.pred = null;
      this.modelVersion = modelVersion;
    }
    const needCosts = this.space.builder ? this.list.filter((g) => !g.costs) : [];
    let total = needCosts.length;
    let done = 0;
    const sid = enc(this.space.id);
    const q = `?fidelity=${enc(this.fidelity)}`;
    const run = (groups, devices) => chunked(groups, CHUNK, PARALLEL,
      (part) => api('POST', `/v1/spaces/${sid}/estimate${q}`,
        { devices, genomes: part.map((g) => g.genome) }, { signal }),
      (ans, start) => {
        ans.results.forEach((r, i) => this.take(groups[start + i], r));
        done += ans.results.length;
        onProgress?.(done, total);
      });
    // Costs come with the predictions of the current model.
    await run(needCosts, this.device ? [this.device] : []);
    if (modelVersion === null) return;
    const needPred = this.paritySample().filter((g) => !g.pred);
    total += needPred.length;
    await run(needPred, []);
  }

  /** The most recently observed PARITY_MAX genomes. */
  paritySample() {
    const all = this.list;
    if (all.length <= PARITY_MAX) return all;
    return all.sort((a, b) => b.first - a.first).slice(0, PARITY_MAX);
  }

  take(g, r) {
    if (this.space.builder) {
      const lat = this.device ? r.latency?.[this.device] : null;
      g.costs = {
        macs: r.macs, params: r.params,
        ms: lat ? lat.ms : null, complete: lat ? lat.complete : null,
      };
    }
    const p = r.predicted?.[this.metric];
    g.pred = p && p.fidelity === this.fidelity ? { mean: p.mean, std: p.std, version: p.model_version } : (g.pred || null);
  }

  get list() {
    return [...this.groups.values()];
  }
}
