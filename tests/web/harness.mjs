// harness.mjs — what the dashboard tests share: the real fmasd on a free
// loopback port with a temporary data directory, a small REST client, the
// headless Chromium driven by playwright-core, and the skip rule: a missing
// prerequisite prints one "SKIP: ..." line and exits with SKIP_CODE (CTest's
// SKIP_RETURN_CODE), never a silent pass.
//
// Environment: FMASD (the binary; else $FMAS_BUILD/fmasd, else
// <root>/build/fmasd), FMAS_ROOT, CHROMIUM (default /usr/bin/chromium),
// FMAS_WEB_ARTIFACTS (screenshots and timings; default
// <build>/tests/web/artifacts).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const SKIP_CODE = 77;
export const ROOT = resolve(process.env.FMAS_ROOT || join(dirname(fileURLToPath(import.meta.url)), '../..'));
const BUILD = resolve(process.env.FMAS_BUILD || join(ROOT, 'build'));
export const FMASD = resolve(process.env.FMASD || join(BUILD, 'fmasd'));
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = resolve(process.env.FMAS_WEB_ARTIFACTS || join(BUILD, 'tests/web/artifacts'));

export function skip(why) {
  console.log(`SKIP: ${why}`);
  process.exit(SKIP_CODE);
}

export function fail(why) {
  console.error(`FAIL: ${why}`);
  process.exit(1);
}

/** A fmasd process: start(args) resolves once /v1/health answers. */
export class Fmasd {
  constructor(args = []) {
    this.args = args;
    this.dir = mkdtempSync(join(tmpdir(), 'fmas-web-'));
    this.log = '';
  }

  async start() {
    if (!existsSync(FMASD)) fail(`no fmasd at ${FMASD} (build it, or set FMASD)`);
    const portFile = join(this.dir, 'port');
    this.proc = spawn(FMASD, ['--listen', '127.0.0.1:0', '--port-file', portFile,
      '--data-dir', join(this.dir, 'data'), ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d) => { this.log = (this.log + d).slice(-20000); };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
    this.exited = new Promise((res) => this.proc.on('exit', (code, sig) => res({ code, sig })));
    const t0 = Date.now();
    while (Date.now() - t0 < 30000) {
      if (this.proc.exitCode !== null) fail(`fmasd exited at start:\n${this.log}`);
      const text = existsSync(portFile) ? readFileSync(portFile, 'utf8').trim() : '';
      if (text) {
        this.base = `http://127.0.0.1:${Number(text)}`;
        try {
          const r = await fetch(`${this.base}/v1/health`);
          if (r.ok) return this;
        } catch { /* not yet */ }
      }
      await sleep(50);
    }
    fail(`fmasd did not answer /v1/health within 30 s:\n${this.log}`);
    return this;
  }

  /** SIGTERM; resolves to a problem text, or null when it exited 0. */
  async stop() {
    if (!this.proc) return null;
    this.proc.kill('SIGTERM');
    let timer;
    const timeout = new Promise((res) => { timer = setTimeout(() => res('timeout'), 10000); });
    const r = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    this.proc = null;
    rmSync(this.dir, { recursive: true, force: true });
    if (r === 'timeout') return `fmasd did not exit within 10 s of SIGTERM:\n${this.log}`;
    if (r.code !== 0) return `fmasd exited with ${r.code ?? r.sig} after SIGTERM:\n${this.log}`;
    return null;
  }

  /** One JSON request; throws on a status other than expect. */
  async api(method, path, body, expect = [200, 201, 204]) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const r = await fetch(this.base + path, init);
    const text = await r.text();
    const want = Array.isArray(expect) ? expect : [expect];
    if (!want.includes(r.status)) throw new Error(`${method} ${path} → ${r.status}: ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : null;
  }
}

export const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

/** playwright-core's chromium, from web/node_modules; skips when it is not there. */
export async function playwright() {
  let path;
  try {
    path = createRequire(join(ROOT, 'web/package.json')).resolve('playwright-core');
  } catch {
    skip('playwright-core is not installed in web/node_modules (run `npm ci` in web/; tests/run does)');
  }
  return (await import(pathToFileURL(path).href)).default;
}

/** A fresh headless Chromium (own profile, no network beyond loopback use). */
export async function launch(pw) {
  if (!existsSync(CHROMIUM)) skip(`no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/deps.sh does)`);
  const profile = mkdtempSync(join(tmpdir(), 'fmas-chromium-'));
  const context = await pw.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function artifactsDir() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return ARTIFACTS;
}

/** A small seeded generator (mulberry32), so the data are the same every run. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
