// observed.js — the observed genomes of one (space, metric, fidelity):
// repeats averaged per canonical genome, with their costs on one device from
// POST /v1/spaces/{id}/estimate?predict=false in chunks. Costs are kept while
// the device's LUT version stays the same, so a refresh during a search only
// asks for what is new. (The parity plot needs no predictions from here: it
// draws the held-out predictions of GET .../surrogate?heldout=true.)
import { api, chunked, enc } from './api.js';
import { canonical, genomeKey } from './genome.js';

const CHUNK = 1000;
const PARALLEL = 2;

export class Observed {
  constructor(space, metric, fidelity, device) {
    this.space = space;
    this.metric = metric;
    this.fidelity = fidelity;
    this.device = space.builder ? device : null;
    this.groups = new Map(); // key -> {genome, sum, n, mean, first, costs}
    this.n = 0;
    this.lutVersion = null;
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
        g = { key, genome, sum: 0, n: 0, mean: NaN, first: o.id, costs: null };
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
   * Ask for the costs (builder space: MACs, params, and the latency on the
   * device when there is one) of the genomes that lack them; a categorical
   * space has none. lutVersion: the device's current one (null when
   * unknown); onProgress(done, total) after every chunk.
   */
  async complete(lutVersion, signal, onProgress) {
    if (lutVersion !== this.lutVersion) {
      for (const g of this.groups.values()) g.costs = null;
      this.lutVersion = lutVersion;
    }
    const need = this.space.builder ? this.list.filter((g) => !g.costs) : [];
    const total = need.length;
    let done = 0;
    // strict: the rows found only, so a partly known latency stays a lower
    // bound (docs/latency.md).
    const q = `?fidelity=${enc(this.fidelity)}&predict=false&strict=true`;
    await chunked(need, CHUNK, PARALLEL,
      (part) => api('POST', `/v1/spaces/${enc(this.space.id)}/estimate${q}`,
        { devices: this.device ? [this.device] : [], genomes: part.map((g) => g.genome) }, { signal }),
      (ans, start) => {
        ans.results.forEach((r, i) => this.take(need[start + i], r));
        done += ans.results.length;
        onProgress?.(done, total);
      });
  }

  take(g, r) {
    if (this.space.builder) {
      const lat = this.device ? r.latency?.[this.device] : null;
      g.costs = {
        macs: r.macs, params: r.params,
        ms: lat ? lat.ms : null, complete: lat ? lat.complete : null,
      };
    }
  }

  get list() {
    return [...this.groups.values()];
  }
}
