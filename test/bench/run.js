// `npm run bench`: runs every benchmark in this folder in one process on the built code (dist/)
// and prints each one's table. Every benchmark measures its baseline in the same run and
// prints the ratio against it, so the figures compare like with like on whatever machine this is.
// Run one: `npm run bench -- encode` (a substring of the file name).
import os from 'node:os';
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js') && (!filter || f.includes(filter)))
  .sort();

console.log(`sextant bench: node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load ${os.loadavg()[0].toFixed(2)}, ${new Date().toISOString()}`);
let failed = false;
for (const f of files) {
  console.log(`\n## ${f}`);
  try {
    const mod = await import(pathToFileURL(path.join(here, f)).href);
    const rows = await mod.run();
    console.table(rows);
  } catch (err) {
    failed = true;
    console.error(`${f} failed: ${err instanceof Error ? err.stack : err}`);
  }
}
process.exitCode = failed ? 1 : 0;
