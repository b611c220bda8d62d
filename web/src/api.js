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

// A fmasd started with --token-file wants "Authorization: Bearer" on writes
// (and on reads too with --read-token). The dashboard asks for the token
// once, on the first 401 or 403, and keeps it for the tab's session only.
const TOKEN_KEY = 'fmas-token';

function storedToken() {
  try {
    return globalThis.sessionStorage?.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

/** Ask for a token after a refusal; true when one was given. */
function askToken(status) {
  if (typeof globalThis.prompt !== 'function') return false;
  const why = status === 401 ? 'This fmasd wants a bearer token.'
    : 'This fmasd did not accept the token.';
  const token = (globalThis.prompt(`${why} Token (kept for this tab only):`) || '').trim();
  if (!token) return false;
  try {
    globalThis.sessionStorage?.setItem(TOKEN_KEY, token);
  } catch {
    return false;
  }
  return true;
}

/**
 * One request. body (an object) is sent as JSON. Resolves to the parsed JSON
 * answer (null for 204); rejects with ApiError for any status >= 400 or when
 * fmasd does not answer, and with the AbortError of signal.
 */
export async function api(method, path, body, { signal, retried = false } = {}) {
  const headers = { Accept: 'application/json' };
  const token = storedToken();
  if (token) headers.Authorization = `Bearer ${token}`;
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
  if ((res.status === 401 || res.status === 403) && !retried && askToken(res.status)) {
    return api(method, path, body, { signal, retried: true });
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
