// api.js — the one way the dashboard talks to fmasd: the public REST API on
// the page's own origin. Every failure becomes an ApiError carrying the
// problem+json body, so views can show the status, detail and the reasons
// of each error item instead of swallowing them.

export class ApiError extends Error {
  constructor(method, path, status, problem, text) {
    const detail = problem?.detail || problem?.title || text || 'no answer';
    super(status ? `${method} ${path} → ${status}: ${detail}` : `${method} ${path}: ${detail}`);
    this.method = method;
    this.path = path;
    this.status = status;      // 0 when fmasd did not answer
    this.problem = problem;    // the RFC 9457 body, or null
  }

  /** [{where, reason}] of the problem's errors array. */
  get reasons() {
    const items = Array.isArray(this.problem?.errors) ? this.problem.errors : [];
    return items.map((e) => ({
      where: e.pointer !== undefined && e.pointer !== '' ? e.pointer
        : e.parameter !== undefined ? `parameter ${e.parameter}`
        : e.row !== undefined ? `row ${e.row}` : '',
      reason: e.reason || '',
    }));
  }
}

/**
 * One request. body (an object) is sent as JSON. Resolves to the parsed JSON
 * answer (null for 204); rejects with ApiError for any status >= 400 or when
 * fmasd does not answer, and with the AbortError of signal.
 */
export async function api(method, path, body, { signal } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, signal, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(method, path, 0, null, `fmasd did not answer (${e.message})`);
  }
  const text = await res.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) throw new ApiError(method, path, res.status, json, text.slice(0, 300));
  return json;
}

export const enc = encodeURIComponent;

/** Run fn over items in chunks of size, at most `parallel` at a time;
 * onChunk(result, chunkStart) is called as each one lands. */
export async function chunked(items, size, parallel, fn, onChunk) {
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const start = next;
      next += size;
      const result = await fn(items.slice(start, start + size), start);
      onChunk(result, start);
    }
  }
  const workers = [];
  for (let i = 0; i < parallel && i * size < items.length; i++) workers.push(worker());
  await Promise.all(workers);
}
