// Log tailing throughput and memory. Targets (issue 14, host mode): ≥ 300,000 lines per
// CPU-second of the agent process with compression off; under the 1M-line backlog peak RSS
// ≤ 110 MB and RssAnon ≤ 56 MB, at ≤ 1.25× the CPU of the same agent with V8's default flags
// (measured in the same run: SEXTANT_MEMORY_SEMI_SPACE=0). Each agent runs in a memory cgroup of
// its own where one can be made, so its working set is its alone (memory-sample.js).
//
// 1. One CRI file of 1,000,000 lines of 205 bytes (a JSON application log per line, 10% stderr)
//    at <tmp>/var/log/pods/bench_bench-0_<uid>/app/0.log, written before the agent starts.
//    A real `sextant agent` (SEXTANT_LOGS_READ_FROM=beginning) reads it from the start, parses,
//    encodes OTLP logs and posts them to a real `sextant gateway` on loopback. The agent's CPU
//    (utime+stime from /proc/<pid>/stat, every thread) is counted from the moment its /metrics
//    answers until sextant_export_records_total{signal="logs"} reaches the line count; VmRSS is
//    sampled every 100 ms and VmHWM read at the end. Once with compression off, once with gzip.
//    SEXTANT_INTERVAL=1m, so the host and process sources collect once at start and not again
//    during the run; containers are off. The gateway (which decodes and stores what it gets) is
//    a separate process: its CPU is reported on its own line and is not the agent's.
// 2. Baseline, in this process: reading the same file with fs.createReadStream and counting
//    newlines, the least any tailer written in Node can do; the ratio is agent lines/CPU-s over
//    baseline lines/CPU-s.
// 3. 10 files appended to concurrently at 1,000 lines/s each (by a timer in this process) for
//    TAIL_SECONDS: the agent's CPU % and RSS while keeping up.
// Fluent Bit (the reference: ~112,000 lines/CPU-s, 46 MB, measured on another machine of this
// kind) is not installed here; its figures are printed for comparison, not measured.
// Run: npx tsc -p tsconfig.json && node_modules/.bin/node test/bench/run.js logs
// Smaller runs: SEXTANT_BENCH_LOG_LINES=100000 SEXTANT_BENCH_LOG_TAIL_S=10.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { memorySampler, mb, ownCgroup } from './memory-sample.js';
import { cpuSeconds, freePort } from './proc-stat.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const NODE = path.join(root, 'node_modules/.bin/node');
const CLI = path.join(root, 'dist/cli/sextant.js');

const LINES = Number(process.env.SEXTANT_BENCH_LOG_LINES ?? 1_000_000);
const TAIL_SECONDS = Number(process.env.SEXTANT_BENCH_LOG_TAIL_S ?? 60);
/**
 * The agents of workload 1: as shipped (compression off, then gzip), with V8's default flags
 * (the CPU baseline of the 1.25× target) and without the disk spool (what the spool costs when
 * the endpoint is slower than the agent, as the gateway here is). SEXTANT_BENCH_LOG_VARIANTS
 * picks some (`default-none,v8-defaults`).
 */
const VARIANTS = [
  { key: 'default-none', what: 'agent as shipped, compression off', compression: 'none', env: {} },
  { key: 'default-gzip', what: 'agent as shipped, gzip', compression: 'gzip', env: {} },
  { key: 'v8-defaults', what: "agent with V8's default flags (memory.semiSpace=0), compression off", compression: 'none', env: { SEXTANT_MEMORY_SEMI_SPACE: '0' } },
  { key: 'no-spool', what: 'agent without the disk spool (buffer.disk.maxBytes=0), compression off', compression: 'none', env: { SEXTANT_BUFFER_DISK_MAX_BYTES: '0' } },
].filter((v) => {
  const pick = (process.env.SEXTANT_BENCH_LOG_VARIANTS ?? '').split(',').filter(Boolean);
  return pick.length === 0 || pick.includes(v.key);
});
const TAIL_FILES = 10;
const TAIL_RATE = 1000;
const LINE_BYTES = 205;
const DEADLINE_MS = 120_000;
const TARGET_LINES_PER_CPU_S = 300_000;
const TARGET_RSS_MB = 110;
const TARGET_ANON_MB = 56;
const TARGET_CPU_RATIO = 1.25;
const FLUENT_BIT = { linesPerCpuS: 112_000, rssMb: 46 };
/** Extra node flags for the agent, e.g. SEXTANT_BENCH_AGENT_FLAGS=--cpu-prof. */
const AGENT_FLAGS = (process.env.SEXTANT_BENCH_AGENT_FLAGS ?? '').split(' ').filter(Boolean);
/** Extra environment for the agent, e.g. SEXTANT_BENCH_AGENT_ENV='SEXTANT_PIPELINE_LOGS_MAX_ITEMS=4000 MALLOC_ARENA_MAX=2'. */
const AGENT_ENV = Object.fromEntries(
  (process.env.SEXTANT_BENCH_AGENT_ENV ?? '')
    .split(' ')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (x) => (x === undefined || Number.isNaN(x) ? 'n/a' : x >= 1000 ? Math.round(x).toLocaleString('en-US') : x < 10 ? x.toFixed(2) : x.toFixed(1));
const MB = 1024 * 1024;

// ---------------------------------------------------------------- workload

/** Fixed-width pieces, so every line is LINE_BYTES long without measuring each one. */
function timestamp(i) {
  // 1,000 lines per second of log time from 12:00:00 on; nanoseconds vary so none repeat.
  const s = 43_200 + Math.floor(i / 1000);
  const hh = String(Math.floor(s / 3600)).padStart(2, '0');
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  const ns = String((i % 1000) * 1_000_000 + ((i * 7919) % 1_000_000)).padStart(9, '0');
  return `2025-11-25T${hh}:${mm}:${ss}.${ns}Z`;
}

const PATHS = ['orders', 'users', 'carts', 'items', 'payments', 'search', 'health', 'sessions'];

function jsonBody(i, err, pad) {
  const ts = timestamp(i);
  const id = ((i * 2654435761) >>> 0).toString(16).padStart(8, '0') + (i >>> 0).toString(16).padStart(8, '0');
  const p = PATHS[i % PATHS.length].padEnd(8, '_');
  const ms = String((i * 37) % 1000).padStart(3, '0');
  const level = err ? 'error' : 'info ';
  const status = err ? 503 : 200;
  return `{"time":"${ts}","level":"${level}","msg":"GET /api/v1/${p}/${String(i % 1_000_000).padStart(6, '0')} done${pad}","request_id":"${id}","status":${status},"duration_ms":${ms}}`;
}

/** One CRI line of exactly LINE_BYTES bytes (newline included); every tenth is stderr. */
function criLine(i, pad) {
  const err = i % 10 === 9;
  return `${timestamp(i)} ${err ? 'stderr' : 'stdout'} F ${jsonBody(i, err, pad)}\n`;
}

const PAD = (() => {
  const bare = criLine(0, '');
  if (bare.length > LINE_BYTES) throw new Error(`bench line is ${bare.length} bytes, over ${LINE_BYTES}`);
  return '.'.repeat(LINE_BYTES - bare.length);
})();

/** Writes `lines` lines to a new file in chunks of 10,000; returns its size. */
function writeLogFile(file, lines) {
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < lines; i += 10_000) {
      let chunk = '';
      for (let j = i; j < Math.min(lines, i + 10_000); j++) chunk += criLine(j, PAD);
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
  return statSync(file).size;
}

/** Node reading the file and counting newlines: CPU seconds of this process and the count. */
async function baselineRead(file) {
  // Once to warm the page cache and the code, once measured.
  let lines = 0;
  for (let pass = 0; pass < 2; pass++) {
    lines = 0;
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    for await (const buf of createReadStream(file, { highWaterMark: 256 * 1024 })) {
      for (let k = buf.indexOf(10); k !== -1; k = buf.indexOf(10, k + 1)) lines++;
    }
    const c = process.cpuUsage(c0);
    if (pass === 1) return { lines, cpuS: (c.user + c.system) / 1e6, wallS: (performance.now() - w0) / 1000 };
  }
  throw new Error('unreachable');
}

// ---------------------------------------------------------------- processes

function statusKb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

function alive(child) {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
async function stopChild(child, graceMs = 5000) {
  if (!child || !alive(child)) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (alive(child)) child.kill('SIGKILL');
  }, graceMs);
  await gone;
  clearTimeout(timer);
}

/** The environment without any SEXTANT_* of the caller's, so only what the bench sets applies. */
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SEXTANT_')) env[k] = v;
  return { ...env, ...extra };
}

function startProcess(args, env, nodeFlags = [], cwd = root, prefix = []) {
  const argv = [...prefix, NODE, ...nodeFlags, CLI, ...args];
  const child = spawn(argv[0], argv.slice(1), { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: cleanEnv(env) });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 16_000) stderr = stderr.slice(-8000);
  });
  return { child, stderrTail: () => stderr.trim().split('\n').slice(-15).join('\n') };
}

async function httpGet(port, pathName) {
  const res = await fetch(`http://127.0.0.1:${port}${pathName}`, { signal: AbortSignal.timeout(2000) });
  return { status: res.status, text: await res.text() };
}

/** Waits until `port` answers HTTP at all (any status). */
async function waitHttp(proc, port, what) {
  for (let i = 0; i < 300; i++) {
    if (!alive(proc.child)) throw new Error(`${what} exited with ${proc.child.exitCode ?? proc.child.signalCode}: ${proc.stderrTail()}`);
    try {
      await httpGet(port, '/healthz');
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`${what} did not answer on ${port} within 15 s: ${proc.stderrTail()}`);
}

async function startGateway(tmp) {
  const port = await freePort();
  const selfPort = await freePort();
  const proc = startProcess(['gateway'], {
    SEXTANT_GATEWAY_LISTEN: `127.0.0.1:${port}`,
    SEXTANT_GATEWAY_DATA_DIR: path.join(tmp, 'gw'),
    // Bounded disk: about 900 MB of JSON would otherwise pile up over the two runs.
    SEXTANT_GATEWAY_STORE_MAX_TOTAL_BYTES: '256MiB',
    // As before the embedded store: this bench measures the agent, and its gateway wrote NDJSON.
    SEXTANT_GATEWAY_NDJSON: 'true',
    SEXTANT_GATEWAY_STORE_ENABLED: 'false',
    SEXTANT_LOG_LEVEL: 'warn',
    // Its own /metrics, away from the default 9464 another process may hold.
    SEXTANT_LISTEN: `127.0.0.1:${selfPort}`,
  });
  await waitHttp(proc, selfPort, 'gateway');
  return { ...proc, port, selfPort };
}

/** Sums the samples of one counter whose labels include `signal="<signal>"` (or any, without one). */
function metricSum(text, name, signal) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    if (signal !== undefined && !rest.includes(`signal="${signal}"`)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function startAgent(tmp, stateName, gatewayPort, selfPort, compression, nodeFlags, readFrom = 'beginning', extraEnv = {}, prefix = []) {
  return startProcess(
    ['agent'],
    {
      SEXTANT_ENDPOINT: `http://127.0.0.1:${gatewayPort}`,
      SEXTANT_HOST_ROOT: tmp,
      SEXTANT_STATE_DIR: path.join(tmp, stateName),
      SEXTANT_LOGS_READ_FROM: readFrom,
      SEXTANT_CONTAINERS_ENABLED: 'false',
      SEXTANT_COMPRESSION: compression,
      SEXTANT_INTERVAL: '1m',
      SEXTANT_LOG_LEVEL: 'warn',
      SEXTANT_LISTEN: `127.0.0.1:${selfPort}`,
      SEXTANT_SUMMARY_INTERVAL: '0',
      ...extraEnv,
      ...AGENT_ENV,
    },
    nodeFlags,
    tmp,
    prefix,
  );
}

/** Samples VmRSS every 100 ms until stopped; returns the peak and the samples. */
function rssSampler(pid) {
  const samples = [];
  const timer = setInterval(() => {
    const kb = statusKb(pid, 'VmRSS');
    if (!Number.isNaN(kb)) samples.push(kb);
  }, 100);
  return {
    samples,
    stop() {
      clearInterval(timer);
      return samples.length ? Math.max(...samples) : NaN;
    },
  };
}

// ---------------------------------------------------------------- workload 1: one big file

async function measureBigFile(tmp, hostRoot, gateway, variant, fileBytes) {
  const { compression } = variant;
  const selfPort = await freePort();
  const gwCpu0 = cpuSeconds(gateway.child.pid);
  const gwMetrics0 = await httpGet(gateway.selfPort, '/metrics').then((r) => r.text).catch(() => '');
  const w0 = performance.now();
  const cgroup = ownCgroup('sextant-bench-logs');
  const agent = startAgent(hostRoot, `state-${variant.key}`, gateway.port, selfPort, compression, AGENT_FLAGS, 'beginning', variant.env, cgroup?.prefix ?? []);
  const pid = agent.child.pid;
  const mem = memorySampler(pid, cgroup);
  try {
    await waitHttp(agent, selfPort, 'agent');
    const readyS = (performance.now() - w0) / 1000;
    const cpuReady = cpuSeconds(pid);
    const atReady = metricSum((await httpGet(selfPort, '/metrics')).text, 'sextant_export_records_total', 'logs');
    const tReady = performance.now();
    let exported = atReady;
    let text = '';
    let maxHeap = 0;
    while (exported < LINES && performance.now() - tReady < DEADLINE_MS) {
      if (!alive(agent.child)) break;
      await sleep(200);
      try {
        text = (await httpGet(selfPort, '/metrics')).text;
        exported = metricSum(text, 'sextant_export_records_total', 'logs');
        maxHeap = Math.max(maxHeap, metricSum(text, 'process_heap_bytes'));
      } catch {
        // a slow answer under load: ask again
      }
    }
    const cpuDone = cpuSeconds(pid);
    const wallS = (performance.now() - tReady) / 1000;
    const memory = mem.stop();
    const peakKb = memory.rss.peak / 1024;
    const hwmKb = statusKb(pid, 'VmHWM');
    const gwCpu = cpuSeconds(gateway.child.pid) - gwCpu0;
    const gwText = await httpGet(gateway.selfPort, '/metrics').then((r) => r.text).catch(() => '');
    const gwDelta = (name) => metricSum(gwText, name, 'logs') - metricSum(gwMetrics0, name, 'logs');
    const gwRecords = gwDelta('sextant_gateway_received_records_total');
    const gwWireBytes = gwDelta('sextant_gateway_received_bytes_total');
    // Answers other than 200 during this run (a retry on the agent's side has one of these, or a timeout, behind it).
    const refusals = (text) => {
      const m = new Map();
      for (const l of text.split('\n')) {
        if ((l.startsWith('sextant_gateway_requests_total{') && !l.includes('"200"')) || l.startsWith('sextant_gateway_rejected_total{')) {
          const sp = l.lastIndexOf(' ');
          m.set(l.slice('sextant_gateway_'.length, sp), Number(l.slice(sp + 1)));
        }
      }
      return m;
    };
    const before = refusals(gwMetrics0);
    const gwRefused = [...refusals(gwText)]
      .map(([k, v]) => [k, v - (before.get(k) ?? 0)])
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ');
    const result = {
      compression,
      variant,
      memory,
      ok: exported >= LINES,
      exported,
      atReady,
      readyS,
      cpuS: cpuDone - cpuReady,
      cpuTotalS: cpuDone,
      wallS,
      peakKb,
      hwmKb,
      maxHeap,
      fileBytes,
      requests: metricSum(text, 'sextant_export_requests_total', 'logs'),
      wireBytes: metricSum(text, 'sextant_export_bytes_total', 'logs'),
      dropped: metricSum(text, 'sextant_pipeline_dropped_total', 'logs'),
      retries: metricSum(text, 'sextant_export_retries_total', 'logs'),
      offered: metricSum(text, 'sextant_logs_records_total'),
      gwCpu,
      gwRecords,
      gwWireBytes,
      gwRefused,
      stderr: '',
    };
    if (!result.ok) {
      result.stderr = agent.stderrTail();
      console.log(`agent (${compression}) exported ${exported} of ${LINES} log records in ${fmt(wallS)} s (alive: ${alive(agent.child)}); stderr tail:\n${result.stderr || '(empty)'}`);
    }
    return result;
  } finally {
    mem.stop();
    await stopChild(agent.child);
    cgroup?.remove();
  }
}

// ---------------------------------------------------------------- workload 2: 10 growing files

async function measureTailing(tmp, hostRoot, gateway) {
  const selfPort = await freePort();
  // readFrom end: a file left over from workload 1 is not read again; the new files are read
  // from their start whatever this says.
  const cgroup = ownCgroup('sextant-bench-tail');
  const agent = startAgent(hostRoot, 'state-tail', gateway.port, selfPort, 'gzip', [], 'end', {}, cgroup?.prefix ?? []);
  const pid = agent.child.pid;
  const fds = [];
  let timer;
  try {
    await waitHttp(agent, selfPort, 'agent');
    for (let f = 0; f < TAIL_FILES; f++) {
      const file = path.join(hostRoot, 'var/log/pods', `bench_tail-${f}_${randomUUID()}`, 'app', '0.log');
      mkdirSync(path.dirname(file), { recursive: true });
      fds.push(openSync(file, 'a'));
    }
    // Let the agent find the new files (directory watches, or its rescan) before counting.
    await sleep(1500);
    const base = metricSum((await httpGet(selfPort, '/metrics')).text, 'sextant_export_records_total', 'logs');
    // The agent idle with the log source on and nothing to read: the floor under every RSS here.
    const idleKb = statusKb(pid, 'VmRSS');
    const rss = rssSampler(pid);
    const mem = memorySampler(pid, cgroup);
    let written = 0;
    const perTick = TAIL_RATE / 10;
    timer = setInterval(() => {
      for (const fd of fds) {
        let chunk = '';
        for (let k = 0; k < perTick; k++) chunk += criLine(written + k, PAD);
        writeSync(fd, chunk);
      }
      written += perTick;
    }, 100);
    const c0 = cpuSeconds(pid);
    const w0 = performance.now();
    // RSS and V8 heap every 10 s (one /metrics request each: negligible CPU), to tell growth from a plateau.
    const trajectory = [];
    const step = Math.min(10, TAIL_SECONDS);
    for (let t = step; t <= TAIL_SECONDS; t += step) {
      await sleep(w0 + t * 1000 - performance.now());
      const heap = await httpGet(selfPort, '/metrics').then((r) => metricSum(r.text, 'process_heap_bytes')).catch(() => NaN);
      trajectory.push(`${t}s ${fmt(statusKb(pid, 'VmRSS') / 1024)}/${fmt(heap / MB)}`);
    }
    const cpuS = cpuSeconds(pid) - c0;
    const wallS = (performance.now() - w0) / 1000;
    clearInterval(timer);
    timer = undefined;
    // What was written is exported within a few batch intervals; wait for it so the lag is known.
    const expected = written * TAIL_FILES;
    let exported = 0;
    const tEnd = performance.now();
    for (let i = 0; i < 50; i++) {
      exported = metricSum((await httpGet(selfPort, '/metrics')).text, 'sextant_export_records_total', 'logs') - base;
      if (exported >= expected) break;
      await sleep(200);
    }
    const catchUpS = (performance.now() - tEnd) / 1000;
    const peakKb = rss.stop();
    const memory = mem.stop();
    const samples = rss.samples;
    const medianKb = [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)];
    return { cpuS, wallS, trajectory, idleKb, peakKb, medianKb, memory, hwmKb: statusKb(pid, 'VmHWM'), expected, exported, catchUpS, stderr: exported >= expected ? '' : agent.stderrTail() };
  } finally {
    if (timer) clearInterval(timer);
    for (const fd of fds) closeSync(fd);
    await stopChild(agent.child);
    cgroup?.remove();
  }
}

// ---------------------------------------------------------------- run

export async function run() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sextant-logs-bench-'));
  const hostRoot = path.join(tmp, 'host');
  const file = path.join(hostRoot, 'var/log/pods', `bench_bench-0_${randomUUID()}`, 'app', '0.log');
  let gateway;
  const rows = [];
  try {
    const g0 = performance.now();
    const fileBytes = writeLogFile(file, LINES);
    console.log(`wrote ${LINES.toLocaleString('en-US')} lines, ${(fileBytes / MB).toFixed(1)} MiB (${fileBytes / LINES} B/line) in ${((performance.now() - g0) / 1000).toFixed(1)} s`);
    console.log(`Fluent Bit is not installed here: its figures (~${FLUENT_BIT.linesPerCpuS.toLocaleString('en-US')} lines/CPU-s, ${FLUENT_BIT.rssMb} MB RSS) are the issue's, from another machine of this kind, not measured in this run.`);
    console.log('agent runs with SEXTANT_INTERVAL=1m: host/process metrics are collected once at start and not again within a run; containers off.');
    if (AGENT_FLAGS.length) console.log(`agent node flags: ${AGENT_FLAGS.join(' ')}`);

    const base = await baselineRead(file);
    if (base.lines !== LINES) throw new Error(`baseline counted ${base.lines} lines, wrote ${LINES}`);
    const baseRate = base.lines / base.cpuS;

    gateway = await startGateway(tmp);
    const runs = [];
    for (const variant of VARIANTS) runs.push(await measureBigFile(tmp, hostRoot, gateway, variant, fileBytes));
    rmSync(path.join(hostRoot, 'var/log/pods'), { recursive: true, force: true });
    const tail = TAIL_SECONDS > 0 ? await measureTailing(tmp, hostRoot, gateway) : undefined;

    rows.push({
      what: 'baseline: node createReadStream + count \\n (this process)',
      'lines/CPU-s': fmt(baseRate),
      'MB/CPU-s': fmt(fileBytes / MB / base.cpuS),
      'CPU s': fmt(base.cpuS),
      'wall s': fmt(base.wallS),
      'peak RSS MB': '',
      'peak RssAnon MB': '',
      'peak WS MB': '',
      ratio: 'baseline',
      detail: `${LINES.toLocaleString('en-US')} lines, ${(fileBytes / MB).toFixed(0)} MiB, page cache warm`,
    });
    for (const r of runs) {
      const rate = r.exported / r.cpuS;
      const m = r.memory;
      rows.push({
        what: `${r.variant.what}${r.ok ? '' : ' (INCOMPLETE)'}`,
        'lines/CPU-s': fmt(rate),
        'MB/CPU-s': fmt(((r.exported / LINES) * r.fileBytes) / MB / r.cpuS),
        'CPU s': fmt(r.cpuS),
        'wall s': fmt(r.wallS),
        'peak RSS MB': mb(Math.max(m.rss.peak, r.hwmKb * 1024)),
        'peak RssAnon MB': mb(m.anon.peak),
        'peak WS MB': mb(m.ws.peak),
        ratio: `${(rate / baseRate).toFixed(3)}× baseline`,
        detail:
          `${r.exported.toLocaleString('en-US')} exported (${r.atReady} at ready ${fmt(r.readyS)} s); CPU incl. start-up ${fmt(r.cpuTotalS)} s; V8 heap used ≤ ${fmt(r.maxHeap / MB)} MiB (200 ms polls); ` +
          // The peak RSS above is the larger of these: VmHWM also catches what lasts less than a sample.
          `peak RSS of the 100 ms samples ${mb(m.rss.peak)} MB, VmHWM ${fmt(r.hwmKb / 1024)} MB; ` +
          `${r.requests} requests, ${fmt(r.wireBytes / MB)} MiB of OTLP before compression, ${fmt(r.gwWireBytes / MB)} MiB on the wire, ${r.retries} retries, ${r.dropped} dropped`,
      });
      rows.push({
        what: `  gateway during that run`,
        'lines/CPU-s': fmt(r.gwRecords / r.gwCpu),
        'MB/CPU-s': '',
        'CPU s': fmt(r.gwCpu),
        'wall s': '',
        'peak RSS MB': '',
        'peak RssAnon MB': '',
        'peak WS MB': '',
        ratio: '',
        detail: `${r.gwRecords.toLocaleString('en-US')} records received; decodes and stores NDJSON (not the agent's cost); non-200 answers: ${r.gwRefused || 'none'}`,
      });
    }
    const target = (what, value, ratio, met, detail) =>
      rows.push({ what, 'lines/CPU-s': '', 'MB/CPU-s': '', 'CPU s': '', 'wall s': '', 'peak RSS MB': '', 'peak RssAnon MB': '', 'peak WS MB': '', ratio, detail: `met: ${met ? 'yes' : 'NO'}; ${value}${detail ? `; ${detail}` : ''}` });
    const shipped = runs.find((r) => r.variant.key === 'default-none');
    const v8 = runs.find((r) => r.variant.key === 'v8-defaults');
    if (shipped !== undefined) {
      const rate = shipped.ok ? shipped.exported / shipped.cpuS : NaN;
      target('target: ≥ 300,000 lines/CPU-s, compression off', `${fmt(rate)} lines/CPU-s`, `${(rate / TARGET_LINES_PER_CPU_S).toFixed(2)}× target`, rate >= TARGET_LINES_PER_CPU_S, "Fluent Bit ~112,000 (issue 5's figure, not measured here)");
      const rss = Math.max(shipped.memory.rss.peak, shipped.hwmKb * 1024) / MB;
      target('target: backlog peak RSS ≤ 110 MB', `${fmt(rss)} MB`, `${(rss / TARGET_RSS_MB).toFixed(2)}× target`, rss <= TARGET_RSS_MB, 'max of 100 ms VmRSS samples and VmHWM');
      const anon = shipped.memory.anon.peak / MB;
      target('target: backlog peak RssAnon ≤ 56 MB', `${fmt(anon)} MB`, `${(anon / TARGET_ANON_MB).toFixed(2)}× target`, anon <= TARGET_ANON_MB, `working set peak ${mb(shipped.memory.ws.peak)} MB`);
      if (v8 !== undefined) {
        const ratio = shipped.cpuS / v8.cpuS;
        target('target: ≤ 1.25× the CPU of V8 default flags', `${fmt(shipped.cpuS)} s vs ${fmt(v8.cpuS)} s`, `${ratio.toFixed(2)}×`, ratio <= TARGET_CPU_RATIO, `V8 defaults peaked at RSS ${mb(Math.max(v8.memory.rss.peak, v8.hwmKb * 1024))} MB, RssAnon ${mb(v8.memory.anon.peak)} MB`);
      }
    }
    if (tail) {
      rows.push({
        what: `agent, ${TAIL_FILES} files × ${TAIL_RATE} lines/s, ${TAIL_SECONDS} s, gzip`,
        'lines/CPU-s': fmt(tail.exported / tail.cpuS),
        'MB/CPU-s': '',
        'CPU s': fmt(tail.cpuS),
        'wall s': fmt(tail.wallS),
        'peak RSS MB': fmt(tail.peakKb / 1024),
        'peak RssAnon MB': mb(tail.memory.anon.peak),
        'peak WS MB': mb(tail.memory.ws.peak),
        ratio: `CPU ${fmt((tail.cpuS / tail.wallS) * 100)}% of one core`,
        detail:
          `RSS idle before writing ${fmt(tail.idleKb / 1024)} MB, median ${fmt(tail.medianKb / 1024)} MB, VmHWM ${fmt(tail.hwmKb / 1024)} MB (since start); RSS MB/heap MiB ${tail.trajectory.join(', ')}; ` +
          `${tail.exported.toLocaleString('en-US')} of ${tail.expected.toLocaleString('en-US')} exported, last ${fmt(tail.catchUpS)} s after the writers stopped` +
          (tail.exported >= tail.expected ? '' : ` (INCOMPLETE; stderr: ${tail.stderr.slice(-300)})`),
      });
    }
    return rows;
  } finally {
    await stopChild(gateway?.child);
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await run());
}
