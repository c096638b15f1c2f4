// `npm run eval -- <name>`: runs an evaluation of test/eval/ on the built code (dist/) at full
// length (SEXTANT_EVAL_FULL=1) and prints each run's result line; `npm run eval` runs them all.
// The same files run shortened under CI=true with the other tests (vitest picks up *.test.ts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const filter = process.argv[2] ?? '';
const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'sextant-eval-')), 'results.ndjson');
console.log(`sextant eval ${filter}: node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load ${os.loadavg()[0].toFixed(2)}, ${new Date().toISOString()}`);
const r = spawnSync(process.execPath, [path.join(repo, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'test/vitest.config.ts', `test/eval/${filter}`], {
  cwd: repo,
  stdio: 'inherit',
  env: { ...process.env, CI: 'true', SEXTANT_EVAL_FULL: '1', SEXTANT_EVAL_OUT: out },
});
if (existsSync(out)) {
  console.log('\n## results');
  for (const line of readFileSync(out, 'utf8').split('\n')) if (line) console.log(line);
}
process.exitCode = r.status ?? 1;
