// Builds the Node.js instrumentation bundle the webhook's init container copies into pods:
// autoinstrumentation.cjs and a node_modules holding exactly the packages it needs —
// @opentelemetry/auto-instrumentations-node and its dependency closure, resolved the way Node
// resolves them from the installed tree (nested copies kept where npm nested them).
//
//   node instrumentation/nodejs/build-bundle.mjs DEST [NODE_MODULES_ROOT]
//
// The image build runs it after `npm prune --omit=dev` (Dockerfile); the tests run it into a
// temporary directory and start applications with it. Offline: it only copies files.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOTS = ['@opentelemetry/auto-instrumentations-node', '@opentelemetry/instrumentation', 'import-in-the-middle'];

/** The directory of package `name` as Node finds it from `fromDir` (walking up node_modules). */
function resolvePackage(name, fromDir, top) {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === top || path.dirname(dir) === dir) return undefined;
    dir = path.dirname(dir);
  }
}

export function buildBundle(dest, packageRoot = path.resolve(here, '..', '..')) {
  const seen = new Set();
  const queue = ROOTS.map((name) => ({ name, from: packageRoot, optional: false }));
  while (queue.length > 0) {
    const { name, from, optional } = queue.shift();
    const dir = resolvePackage(name, from, packageRoot);
    if (dir === undefined) {
      if (optional) continue;
      throw new Error(`instrumentation bundle: ${name} is not installed (from ${path.relative(packageRoot, from) || '.'})`);
    }
    if (seen.has(dir)) continue;
    seen.add(dir);
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys(pkg.dependencies ?? {})) queue.push({ name: dep, from: dir, optional: false });
    for (const dep of Object.keys({ ...pkg.optionalDependencies, ...pkg.peerDependencies })) queue.push({ name: dep, from: dir, optional: true });
  }
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  cpSync(path.join(here, 'autoinstrumentation.cjs'), path.join(dest, 'autoinstrumentation.cjs'));
  for (const dir of [...seen].sort()) {
    const rel = path.relative(packageRoot, dir);
    // A package's own nested node_modules are packages of the closure, copied on their own.
    cpSync(dir, path.join(dest, rel), { recursive: true, filter: (src) => src === dir || !path.relative(dir, src).split(path.sep).includes('node_modules') });
  }
  return { packages: seen.size };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dest = process.argv[2];
  if (!dest) {
    console.error('usage: build-bundle.mjs DEST [PACKAGE_ROOT]');
    process.exit(2);
  }
  const { packages } = buildBundle(path.resolve(dest), process.argv[3] ? path.resolve(process.argv[3]) : undefined);
  console.log(`instrumentation bundle: ${packages} packages in ${dest}`);
}
