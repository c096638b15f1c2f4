// Whole-host file reads per collection cycle, µs per cycle: one full set of the every-cycle files
// (/proc/stat, meminfo, vmstat, diskstats, net/dev, loadavg, pressure/{cpu,memory,io}) read and
// parsed by the native addon and by the pure-JS fallback, in the same run. Measured because the
// STYLE guide says so: for files this small the crossing into C may not pay.
// Run: npx tsc -p tsconfig.json && node_modules/.bin/node test/bench/host-files.bench.js
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as N from '../../dist/native/index.js';
import { silentLogger } from '../../dist/self/logger.js';

const FILES = [
  [N.HOST_STAT, '/proc/stat'],
  [N.HOST_MEMINFO, '/proc/meminfo'],
  [N.HOST_VMSTAT, '/proc/vmstat'],
  [N.HOST_DISKSTATS, '/proc/diskstats'],
  [N.HOST_NET_DEV, '/proc/net/dev'],
  [N.HOST_LOADAVG, '/proc/loadavg'],
  [N.HOST_PRESSURE, '/proc/pressure/cpu'],
  [N.HOST_PRESSURE, '/proc/pressure/memory'],
  [N.HOST_PRESSURE, '/proc/pressure/io'],
].filter(([, f]) => existsSync(f));
const ROUNDS = 5;
const ROUND_MS = 300;

function cycle(reader, outs) {
  for (let i = 0; i < FILES.length; i++) {
    const [kind, file] = FILES[i];
    let need = reader.readHostFile(kind, file, outs[i]);
    if (need > outs[i].length) {
      outs[i] = new Float64Array(need * 2);
      need = reader.readHostFile(kind, file, outs[i]);
    }
    if (kind === N.HOST_DISKSTATS || kind === N.HOST_NET_DEV) reader.hostNames(kind);
  }
}

function usPerCycle(reader) {
  const outs = FILES.map(() => new Float64Array(1024));
  for (let i = 0; i < 50; i++) cycle(reader, outs); // warm up: JIT, dentry cache
  let cycles = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(ROUND_MS) * 1_000_000n;
  let now = t0;
  while (now < end) {
    cycle(reader, outs);
    cycles++;
    now = process.hrtime.bigint();
  }
  return Number(now - t0) / 1000 / cycles;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run() {
  const js = new N.JsProcReader();
  const native = N.loadProcReader({ native: true, logger: silentLogger() });
  const readers = [['fallback (JS)', js]];
  if (native.implementation === 'native') readers.push(['native addon', native]);
  const us = new Map(readers.map(([name]) => [name, []]));
  // Alternate the readers round by round so drift on a shared machine hits both alike.
  for (let r = 0; r < ROUNDS; r++) for (const [name, reader] of readers) us.get(name).push(usPerCycle(reader));
  const base = median(us.get('fallback (JS)'));
  return readers.map(([name]) => {
    const m = median(us.get(name));
    return { reader: name, files: FILES.length, 'µs/cycle (median)': Number(m.toFixed(1)), 'vs fallback': Number((m / base).toFixed(2)) };
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.table(await run());
