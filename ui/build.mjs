// Builds the explorer (ui/src) into dist/ui: hashed, minified assets bundled by esbuild, an
// index.html that names them (no inline script or style: the gateway's CSP forbids both), each
// file precompressed with gzip and brotli, and manifest.json (what the gateway serves and the
// sizes the asset budget test checks). Runs as part of `npm run build` (and so of `npm ci`).
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// SEXTANT_UI_OUT: another folder (the asset budget test builds into a temporary one).
const out = process.env.SEXTANT_UI_OUT ?? path.join(root, 'dist', 'ui');

const result = await build({
  entryPoints: [path.join(root, 'ui', 'src', 'main.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  entryNames: 'explorer-[hash]',
  assetNames: '[name]-[hash]',
  outdir: path.join(out, 'assets'),
  write: false,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});

rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'assets'), { recursive: true });

const files = new Map();
for (const f of result.outputFiles) files.set(path.relative(out, f.path), Buffer.from(f.contents));
const script = [...files.keys()].find((f) => f.endsWith('.js'));
const style = [...files.keys()].find((f) => f.endsWith('.css'));
if (script === undefined || style === undefined) throw new Error('ui build: esbuild produced no script or no stylesheet');

// Only the two hashed names (and an empty icon, so the browser asks for no /favicon.ico):
// everything else the page needs comes from the gateway's API.
const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Sextant explorer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/${style}">
<script type="module" src="/ui/${script}"></script>
</head>
<body>
<div id="app"><noscript>The Sextant explorer needs JavaScript.</noscript></div>
</body>
</html>
`;
files.set('index.html', Buffer.from(html, 'utf8'));

const manifest = { files: [] };
for (const [name, body] of files) {
  const gz = gzipSync(body, { level: 9 });
  const br = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } });
  writeFileSync(path.join(out, name), body);
  writeFileSync(path.join(out, `${name}.gz`), gz);
  writeFileSync(path.join(out, `${name}.br`), br);
  manifest.files.push({
    path: name,
    bytes: body.length,
    gzipBytes: gz.length,
    brotliBytes: br.length,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    immutable: name !== 'index.html',
  });
}
manifest.totalGzipBytes = manifest.files.reduce((s, f) => s + f.gzipBytes, 0);
writeFileSync(path.join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
if (process.env.SEXTANT_UI_BUILD_QUIET !== '1') console.log(`ui: ${manifest.files.length} files, ${(manifest.totalGzipBytes / 1024).toFixed(1)} KiB gzipped → ${path.relative(root, out) || out}`);
