// build.mjs — builds dist/index.html: the page of src/index.html with the
// bundle of src/main.js (uPlot included) and the CSS inlined, so that fmasd
// serves the whole dashboard as one self-contained document (no CDN, no
// other request than the REST API). A Content-Security-Policy allows exactly
// that inline script and style, and connections to the page's own origin.
//   npm run build            (node build.mjs [--outdir DIR])
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const argOut = process.argv.indexOf('--outdir');
const outdir = argOut > 0 ? process.argv[argOut + 1] : join(here, 'dist');

const bundle = await esbuild.build({
  entryPoints: [join(here, 'src/main.js')],
  bundle: true,
  format: 'iife',
  minify: true,
  target: ['es2022'],
  legalComments: 'inline',
  write: false,
  logLevel: 'warning',
});
const script = bundle.outputFiles[0].text.trimEnd();
const css = [
  readFileSync(join(here, 'node_modules/uplot/dist/uPlot.min.css'), 'utf8'),
  readFileSync(join(here, 'src/style.css'), 'utf8'),
].join('\n');
for (const [what, text, bad] of [['script', script, /<\/script|<!--/i], ['style', css, /<\/style/i]]) {
  if (bad.test(text)) throw new Error(`the ${what} holds text that would end its element early`);
}
const sha = (text) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
const csp = [
  "default-src 'none'",
  `script-src ${sha(script)}`,
  `style-src ${sha(css)}`,
  "img-src data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');
const template = readFileSync(join(here, 'src/index.html'), 'utf8');
const page = template
  .replace('<!--CSP-->', () => `<meta http-equiv="Content-Security-Policy" content="${csp}">`)
  .replace('/*STYLE*/', () => css)
  .replace('/*SCRIPT*/', () => script);
mkdirSync(outdir, { recursive: true });
writeFileSync(join(outdir, 'index.html'), page);
console.log(`web: ${join(outdir, 'index.html')} (${page.length} bytes)`);
