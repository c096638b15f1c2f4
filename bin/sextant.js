#!/usr/bin/env node
// Launcher for the `sextant` command. The code is TypeScript compiled to dist/ by
// `npm run build` (which `npm ci` runs through the `prepare` script).
import { existsSync } from 'node:fs';

const major = Number(process.versions.node.split('.')[0]);
const entry = new URL('../dist/cli/main.js', import.meta.url);

if (major < 22) {
  process.stderr.write(`sextant: needs Node.js 22.12 or later, this is ${process.version} (npm start and npx use the project's Node 24)\n`);
  process.exitCode = 1;
} else if (!existsSync(entry)) {
  process.stderr.write('sextant: dist/ is missing; run `npm run build` first\n');
  process.exitCode = 1;
} else {
  // `sextant check | head` closes stdout early; that is not a crash.
  process.stdout.on('error', (err) => {
    if (err.code !== 'EPIPE') throw err;
  });
  const { main } = await import(entry.href);
  process.exitCode = await main(process.argv.slice(2));
}
