// genome.js — genomes on the page: the canonical form (genes gated off by a
// keep gene at 0 do not change the network, as fmasd counts distinct
// genomes), a key for maps, and parsing what a person pastes.

const gates = new WeakMap(); // space -> [[gene index, keep gene index], ...]

/** The canonical index genome: a gated gene is 0 when its keep gene is 0. */
export function canonical(space, genome) {
  let pairs = gates.get(space);
  if (!pairs) {
    const index = new Map(space.genes.map((g, i) => [g.name, i]));
    pairs = space.genes.flatMap((g, i) => (g.gated_by ? [[i, index.get(g.gated_by)]] : []));
    gates.set(space, pairs);
  }
  const out = genome.slice();
  for (const [i, keep] of pairs) if (out[keep] === 0) out[i] = 0;
  return out;
}

export const genomeKey = (g) => g.join(',');

/** Text a person typed: a JSON array or object, or bare comma-separated
 * indices. Throws a SyntaxError naming what is wrong; the API checks ranges. */
export function parseGenome(text) {
  const t = text.trim();
  if (!t) throw new SyntaxError('the genome is empty');
  const src = t.startsWith('[') || t.startsWith('{') ? t : `[${t}]`;
  try {
    return JSON.parse(src);
  } catch (e) {
    throw new SyntaxError(`the genome is not JSON: ${e.message}`);
  }
}

/** A random genome (indices) of the space. */
export function randomGenome(space) {
  return space.genes.map((g) => Math.floor(Math.random() * g.choices.length));
}
