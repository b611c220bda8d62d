// http.mjs — GET / and HEAD / of fmasd without a browser: the embedded
// dashboard is one self-contained HTML document with a strong ETag, 304 on
// revalidation, no reference to another host, and other methods are 405.
// Skips (exit 77) when fmasd was built without web/dist.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Fmasd, skip } from './harness.mjs';

const server = new Fmasd(['--no-bundled']);
let first;

before(async () => {
  await server.start();
  first = await fetch(`${server.base}/`);
  if (first.status === 503) {
    const problem = await first.json();
    await server.stop();
    skip(`GET / answers 503: ${problem.detail}`);
  }
});

after(async () => {
  const problem = await server.stop();
  assert.equal(problem, null, problem);
});

test('GET / is the dashboard as text/html with a strong ETag', async () => {
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.match(first.headers.get('etag'), /^"[0-9a-f]{32}"$/);
  assert.equal(first.headers.get('cache-control'), 'no-cache');
  assert.equal(first.headers.get('x-content-type-options'), 'nosniff');
  const html = await first.text();
  assert.equal(Number(first.headers.get('content-length')), Buffer.byteLength(html));
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<title>fmas dashboard<\/title>/);
});

test('the page is self-contained: no script, style or connection outside its origin', async () => {
  const html = await (await fetch(`${server.base}/`)).text();
  assert.doesNotMatch(html, /<script[^>]*\bsrc=/i, 'no external script');
  assert.doesNotMatch(html, /<link[^>]*rel="stylesheet"/i, 'no external style sheet');
  assert.doesNotMatch(html, /\b(src|href)="(https?:)?\/\//i, 'no reference to another host');
  const csp = html.match(/<meta http-equiv="Content-Security-Policy" content="([^"]+)">/);
  assert.ok(csp, 'a Content-Security-Policy');
  assert.match(csp[1], /default-src 'none'/);
  assert.match(csp[1], /connect-src 'self'/);
  assert.match(csp[1], /script-src 'sha256-[A-Za-z0-9+/=]+'/);
});

test('If-None-Match with the ETag answers 304 without a body', async () => {
  const etag = first.headers.get('etag');
  for (const inm of [etag, `"other", ${etag}`, `W/${etag}`, '*']) {
    const r = await fetch(`${server.base}/`, { headers: { 'If-None-Match': inm } });
    assert.equal(r.status, 304, inm);
    assert.equal(r.headers.get('etag'), etag);
    assert.equal((await r.arrayBuffer()).byteLength, 0);
  }
  const r = await fetch(`${server.base}/`, { headers: { 'If-None-Match': '"0123"' } });
  assert.equal(r.status, 200);
  await r.arrayBuffer();
});

test('HEAD / has the headers of GET / and no body', async () => {
  const r = await fetch(`${server.base}/`, { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(r.headers.get('etag'), first.headers.get('etag'));
  assert.equal((await r.arrayBuffer()).byteLength, 0);
});

test('other methods on / are 405 problems listing GET and HEAD', async () => {
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const r = await fetch(`${server.base}/`, { method });
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
    const p = await r.json();
    assert.equal(p.status, 405);
    assert.equal(p.type, 'https://fmas.dev/problems/method-not-allowed');
  }
});

test('paths under / other than / itself stay 404 problems', async () => {
  for (const path of ['/index.html', '/assets/app.js', '/favicon.ico']) {
    const r = await fetch(`${server.base}${path}`);
    assert.equal(r.status, 404, path);
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
    await r.arrayBuffer();
  }
});
