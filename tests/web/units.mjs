// units.mjs — the dashboard's pure functions, without a browser: the
// Pareto front, canonical genomes, what a person may paste as a genome, and
// the coverage category of a layer (including "predicted", which fmasd does
// not report yet).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paretoFront } from '../../web/src/front.js';
import { canonical, genomeKey, parseGenome } from '../../web/src/genome.js';
import { layerStatus } from '../../web/src/views/coverage.js';

test('paretoFront keeps the non-dominated points, cheapest first', () => {
  const p = (cost, value, id) => ({ cost, value, id });
  const pts = [p(3, 0.5, 'a'), p(1, 0.2, 'b'), p(2, 0.6, 'c'), p(2, 0.4, 'd'), p(4, 0.6, 'e'), p(5, 0.9, 'f'),
    p(NaN, 1, 'nan'), p(0.5, Infinity, 'inf')];
  assert.deepEqual(paretoFront(pts).map((x) => x.id), ['b', 'c', 'f']);
  assert.deepEqual(paretoFront(pts, 'min').map((x) => x.id), ['b']);
  assert.deepEqual(paretoFront([]), []);
  // Exact duplicates keep one point.
  assert.equal(paretoFront([p(1, 1, 'x'), p(1, 1, 'y')]).length, 1);
});

test('paretoFront agrees with a brute-force dominance check', () => {
  let s = 1;
  const random = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const pts = Array.from({ length: 500 }, (_, i) => ({ cost: Math.round(random() * 100), value: Math.round(random() * 100), i }));
  const dominated = (a) => pts.some((b) => b.cost <= a.cost && b.value >= a.value && (b.cost < a.cost || b.value > a.value));
  const brute = new Set(pts.filter((a) => !dominated(a)).map((a) => `${a.cost},${a.value}`));
  const front = paretoFront(pts.slice());
  assert.deepEqual(new Set(front.map((a) => `${a.cost},${a.value}`)), brute);
  assert.equal(front.length, brute.size);
});

test('canonical zeroes the genes gated by a keep gene at 0', () => {
  const space = { genes: [{ name: 'k' }, { name: 'e', gated_by: 'k' }, { name: 'w' }] };
  assert.deepEqual(canonical(space, [0, 3, 2]), [0, 0, 2]);
  assert.deepEqual(canonical(space, [1, 3, 2]), [1, 3, 2]);
  assert.equal(genomeKey([1, 3, 2]), '1,3,2');
});

test('parseGenome takes a JSON array or object, or bare indices', () => {
  assert.deepEqual(parseGenome('[1, 2]'), [1, 2]);
  assert.deepEqual(parseGenome(' 1, 2 ,3 '), [1, 2, 3]);
  assert.deepEqual(parseGenome('{"a": 2}'), { a: 2 });
  assert.throws(() => parseGenome('  '), /empty/);
  assert.throws(() => parseGenome('[1,'), /not JSON/);
});

test('layerStatus: profiled, missing, and predicted when the API says so', () => {
  assert.equal(layerStatus({ present: true }), 'profiled');
  assert.equal(layerStatus({ present: false }), 'missing');
  assert.equal(layerStatus({ present: false, predicted: true }), 'predicted');
  assert.equal(layerStatus({ present: false, status: 'predicted' }), 'predicted');
  assert.equal(layerStatus({ status: 'missing', present: true }), 'missing');
  assert.equal(layerStatus({}), 'missing');
});
