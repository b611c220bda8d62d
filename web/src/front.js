// front.js — the measured Pareto front of observed genomes: a point is on
// the front when no other point has a cost at most its cost and a metric at
// least as good (strictly better in one of them).

/**
 * points: [{cost, value, ...}] (cost finite). goal 'max' or 'min' for value.
 * Returns the front sorted by cost ascending (one point per non-dominated
 * (cost, value) pair; exact duplicates keep the first).
 */
export function paretoFront(points, goal = 'max') {
  const sign = goal === 'min' ? -1 : 1;
  const sorted = points
    .filter((p) => Number.isFinite(p.cost) && Number.isFinite(p.value))
    .sort((a, b) => a.cost - b.cost || sign * (b.value - a.value));
  const front = [];
  let best = -Infinity;
  for (const p of sorted) {
    if (sign * p.value > best) {
      front.push(p);
      best = sign * p.value;
    }
  }
  return front;
}
