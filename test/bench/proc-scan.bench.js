// Process scan cost, µs per process, on this machine's /proc with 500 extra processes: the C floor
// (test/bench/c-floor/floor.c: opendir + openat + read of every <pid>/stat and nothing else), the
// native addon, the pure-JS fallback, and systeminformation.processes(), all in the same run.
// Targets: native ≤ 1.3× floor, fallback ≤ 2× floor, systeminformation ≥ 50× native.
// Run: npx tsc -p tsconfig.json && node_modules/.bin/node test/bench/proc-scan.bench.js
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import si from 'systeminformation';
import { createProcessTable, loadProcReader } from '../../dist/native/index.js';
import { silentLogger } from '../../dist/self/logger.js';

const PROC = '/proc';
const EXTRA = 500;
const ROUNDS = 5;
const ROUND_MS = 300;
const SI_RUNS = 3;
const SI_CACHE_MS = 600;
const here = path.dirname(fileURLToPath(import.meta.url));

/** One shell forks the sleepers, in its own process group so one kill ends them all. */
function startSleepers(n) {
  const sh = spawn('/bin/sh', ['-c', `i=0; while [ $i -lt ${n} ]; do sleep 60 & i=$((i+1)); done; wait`], { stdio: 'ignore', detached: true });
  const stop = () => {
    try {
      process.kill(-sh.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', stop);
  return stop;
}

function scanUs(reader, table) {
  // Warm up (JIT, dentry cache), then as many full scans as fit in ROUND_MS.
  for (let i = 0; i < 3; i++) reader.scanProcesses(PROC, table);
  let scans = 0;
  let processes = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(ROUND_MS) * 1_000_000n;
  let now = t0;
  while (now < end) {
    processes += reader.scanProcesses(PROC, table);
    scans++;
    now = process.hrtime.bigint();
  }
  return { us: Number(now - t0) / 1000 / processes, perScan: processes / scans };
}

function compileFloor(dir) {
  const exe = path.join(dir, 'floor');
  const r = spawnSync('cc', ['-O2', '-o', exe, path.join(here, 'c-floor', 'floor.c')], { encoding: 'utf8' });
  return r.status === 0 ? exe : undefined;
}

function floorUs(exe, perScan) {
  const iterations = Math.max(10, Math.round((ROUND_MS * 1000) / (perScan * 5)));
  const [ns, count] = execFileSync(exe, [PROC, String(iterations)], { encoding: 'utf8' }).trim().split(' ').map(Number);
  return { us: ns / 1000, perScan: count };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const fmt = (x) => (x === undefined ? 'n/a' : x < 10 ? x.toFixed(2) : x.toFixed(1));

export async function run() {
  const logger = silentLogger();
  const nativeReader = loadProcReader({ native: true, logger });
  const jsReader = loadProcReader({ native: false, logger });
  let table = createProcessTable(4096);
  const before = jsReader.scanProcesses(PROC, table);
  const stop = startSleepers(EXTRA);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sextant-floor-'));
  try {
    // Wait for the sleepers to exist.
    for (let i = 0; i < 200 && jsReader.scanProcesses(PROC, table) < before + EXTRA; i++) await new Promise((r) => setTimeout(r, 25));
    const total = jsReader.scanProcesses(PROC, table);
    if (total > table.capacity) table = createProcessTable(total * 2);

    const floorExe = compileFloor(tmp);
    const samples = { floor: [], native: [], js: [] };
    // Interleaved rounds, median of each: a noisy neighbour hurts all three alike.
    for (let r = 0; r < ROUNDS; r++) {
      if (floorExe) samples.floor.push(floorUs(floorExe, total).us);
      if (nativeReader.implementation === 'native') samples.native.push(scanUs(nativeReader, table).us);
      samples.js.push(scanUs(jsReader, table).us);
    }
    const siRuns = [];
    let siCount = 0;
    // systeminformation returns its cached answer for 500 ms after a call: wait that out, so every
    // timed call does the work (the first, untimed, call loads what it loads lazily).
    await si.processes();
    for (let i = 0; i < SI_RUNS; i++) {
      await new Promise((r) => setTimeout(r, SI_CACHE_MS));
      const t0 = process.hrtime.bigint();
      const res = await si.processes();
      siRuns.push(Number(process.hrtime.bigint() - t0) / 1000 / res.list.length);
      siCount = res.list.length;
    }

    const floor = samples.floor.length ? median(samples.floor) : undefined;
    const nat = samples.native.length ? median(samples.native) : undefined;
    const fb = median(samples.js);
    const sis = median(siRuns);
    const ratio = (a, b) => (a !== undefined && b !== undefined ? a / b : undefined);
    const verdict = (x, ok) => (x === undefined ? 'n/a' : ok(x) ? 'ok' : 'MISSED');
    const nf = ratio(nat, floor);
    const ff = ratio(fb, floor);
    const sn = ratio(sis, nat ?? fb);
    return [
      { reader: 'C floor (openat+read only)', 'µs/process': fmt(floor), processes: total, ratio: '1 (baseline)', target: '', verdict: '' },
      { reader: 'native addon', 'µs/process': fmt(nat), processes: total, ratio: `${fmt(nf)}× floor`, target: '≤ 1.3× floor', verdict: verdict(nf, (x) => x <= 1.3) },
      { reader: 'JS fallback', 'µs/process': fmt(fb), processes: total, ratio: `${fmt(ff)}× floor`, target: '≤ 2× floor', verdict: verdict(ff, (x) => x <= 2) },
      {
        reader: 'systeminformation.processes()',
        'µs/process': fmt(sis),
        processes: siCount,
        ratio: `${fmt(sn)}× ${nat !== undefined ? 'native' : 'fallback'}`,
        target: '≥ 50× native',
        verdict: verdict(sn, (x) => x >= 50),
      },
    ];
  } finally {
    stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await run());
}
