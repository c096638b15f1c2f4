// Whole collection cycle vs node_exporter, and the agent's idle memory (targets: Sextant cycle
// CPU ≤ node_exporter CPU per scrape on the same machine; issue 14, host mode, agent alone: idle
// RSS ≤ 85 MB, RssAnon ≤ 32 MB, working set ≤ 45 MB).
//
// 1. Sextant: the host and process sources built as the agent builds them (src/agent/run.ts
//    createSources, default config), into a sink that discards records; CPU time per cycle from
//    process.cpuUsage (user+system, every thread of this process: libuv pool and GC included),
//    native addon vs JS fallback, TCP connection counting on (default: netlink) vs off, with 0 and 500
//    extra processes.
// 2. node_exporter (Debian's prometheus-node-exporter, not installed by this bench): started on
//    127.0.0.1, scraped back to back over loopback the way Prometheus scrapes (Accept-Encoding:
//    gzip); its CPU per scrape from /proc/<pid>/stat utime+stime, minus its idle CPU over the
//    same wall time. Default collectors, and the collectors closest to what Sextant collects.
// 3. A real `sextant agent` (interval 1s, exporting to a stub endpoint here that answers 200), in a
//    memory cgroup of its own where one can be made: RSS, RssAnon and the cgroup's working set
//    every second for 20 s, and its CPU per cycle including encoding and export. In `host` mode
//    (host and process sources: the targets) and `fullstack` (containers and logs too, no runtime
//    socket connected), each as shipped and with V8's default flags and malloc
//    (SEXTANT_MEMORY_SEMI_SPACE=0, MALLOC_ARENA_MAX=8): what the launcher's settings save.
// Run: npx tsc -p tsconfig.json && node_modules/.bin/node test/bench/cycle.bench.js
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { request } from 'undici';
import { memorySampler, mb, ownCgroup } from './memory-sample.js';
import { CLOCK_TICKS, cpuTicks, freePort } from './proc-stat.js';
import { loadConfig } from '../../dist/config/index.js';
import { createSources } from '../../dist/agent/run.js';
import { silentLogger } from '../../dist/self/logger.js';
import { Registry } from '../../dist/self/registry.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

const EXTRA = 500;
const WARMUP_CYCLES = 3;
const CYCLES = 20;
const SCRAPES = 100;
const WARMUP_SCRAPES = 3;
const RSS_SAMPLES = 20;
const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
/** node_exporter collectors for what Sextant's host + process sources read each cycle. */
const CLOSEST = ['cpu', 'stat', 'meminfo', 'vmstat', 'loadavg', 'diskstats', 'filesystem', 'netdev', 'tcpstat', 'filefd', 'pressure', 'processes'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => (x === undefined || Number.isNaN(x) ? 'n/a' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const MB = 1024 * 1024;

function countProcesses() {
  let n = 0;
  for (const d of readdirSync('/proc')) if (d.charCodeAt(0) >= 48 && d.charCodeAt(0) <= 57) n++;
  return n;
}

/** One shell forks the sleepers, in its own process group so one kill ends them all. */
async function startSleepers(n) {
  const before = countProcesses();
  const sh = spawn('/bin/sh', ['-c', `i=0; while [ $i -lt ${n} ]; do sleep 120 & i=$((i+1)); done; wait`], { stdio: 'ignore', detached: true });
  const kill = () => {
    try {
      process.kill(-sh.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', kill);
  for (let i = 0; i < 400 && countProcesses() < before + n; i++) await sleep(25);
  // Stopping waits until they are reaped, so later measurements see the host as it was.
  return async () => {
    kill();
    for (let i = 0; i < 200 && countProcesses() > before + n / 10; i++) await sleep(50);
  };
}

// ---------------------------------------------------------------- Sextant's cycle

/** Counts what the sources offer and keeps nothing. */
function discardingSink() {
  return {
    points: 0,
    offerMetric() {
      this.points++;
      return true;
    },
    offerLog() {
      return true;
    },
    offerEvent() {
      return true;
    },
    onLogsDrain() {},
  };
}

/** The agent's own createSources, with a fresh registry, the default config and the variant's switches. */
async function buildSources(config, { native, tcpConnections }, stateDir) {
  // Host and process sources only: the node_exporter comparison is about the same collectors on
  // both sides (containers have their own bench, container-cycle.bench.js).
  const variant = {
    ...config,
    native,
    stateDir,
    host: { ...config.host, network: { ...config.host.network, tcpConnections } },
    containers: { ...config.containers, enabled: false },
    // Logs stream between cycles (no collect): not part of a collection cycle.
    logs: { ...config.logs, enabled: false },
  };
  const { sources, reader } = await createSources(variant, discardingSink(), { registry: new Registry(), logger: silentLogger(), version: 'bench' });
  return { sources, implementation: reader.implementation };
}

async function cycle(sources, sink) {
  for (const s of sources) await s.collect(sink);
}

/** Mean CPU µs per cycle over CYCLES back-to-back cycles (after warm-up), and the median. */
async function measureCycle(config, variant, stateDir) {
  const { sources, implementation } = await buildSources(config, variant, stateDir);
  const sink = discardingSink();
  for (let i = 0; i < WARMUP_CYCLES; i++) await cycle(sources, sink);
  await sleep(100);
  sink.points = 0;
  const perCycle = [];
  const start = process.cpuUsage();
  let prev = start;
  for (let i = 0; i < CYCLES; i++) {
    await cycle(sources, sink);
    const now = process.cpuUsage();
    perCycle.push(now.user - prev.user + now.system - prev.system);
    prev = now;
  }
  const d = process.cpuUsage(start);
  for (const s of sources) await s.stop();
  return {
    implementation,
    meanUs: (d.user + d.system) / CYCLES,
    userUs: d.user / CYCLES,
    systemUs: d.system / CYCLES,
    medianUs: median(perCycle),
    points: sink.points / CYCLES,
  };
}

// ---------------------------------------------------------------- node_exporter

/** Resolves once the child has exited (by status or by signal), even if it already has. */
function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', r));
}

async function scrape(url, encoding) {
  const res = await request(url, { headers: { 'accept-encoding': encoding } });
  const body = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) throw new Error(`node_exporter answered ${res.statusCode}`);
  return body.length;
}

async function startNodeExporter(args) {
  const port = await freePort();
  const child = spawn(NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${port}`, ...args], { stdio: ['ignore', 'ignore', 'ignore'] });
  const url = `http://127.0.0.1:${port}/metrics`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`node_exporter exited with ${child.exitCode ?? child.signalCode}`);
    try {
      await scrape(url, 'identity');
      return { child, url };
    } catch {
      await sleep(25);
    }
  }
  child.kill('SIGKILL');
  throw new Error('node_exporter did not answer within 5 s');
}

/** CPU ms per scrape: gross, its idle CPU over the same wall time, and the difference. */
async function measureNodeExporter(args, encoding) {
  const { child, url } = await startNodeExporter(args);
  try {
    let bytes = 0;
    for (let i = 0; i < WARMUP_SCRAPES; i++) await scrape(url, encoding);
    await sleep(200);
    const t0 = cpuTicks(child.pid);
    const w0 = performance.now();
    for (let i = 0; i < SCRAPES; i++) bytes = await scrape(url, encoding);
    const wall = performance.now() - w0;
    const t1 = cpuTicks(child.pid);
    // Let the GC that the scrapes caused finish before the idle window starts.
    await sleep(300);
    const i0 = cpuTicks(child.pid);
    await sleep(wall);
    const i1 = cpuTicks(child.pid);
    const tickMs = 1000 / CLOCK_TICKS;
    const grossMs = ((t1 - t0) * tickMs) / SCRAPES;
    const idleMs = ((i1 - i0) * tickMs) / SCRAPES;
    return { grossMs, idleMs, netMs: grossMs - idleMs, wallMs: wall / SCRAPES, bytes, ticks: t1 - t0, tickMs };
  } finally {
    child.kill('SIGTERM');
    await exited(child);
  }
}

function nodeExporterVariants() {
  const help = execFileSync(NODE_EXPORTER, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const closest = CLOSEST.filter((c) => help.includes(`--collector.${c} `) || help.includes(`--[no-]collector.${c} `));
  const closestArgs = ['--collector.disable-defaults', ...closest.map((c) => `--collector.${c}`)];
  console.log(`node_exporter "closest" collectors: ${closest.join(', ')}`);
  return [
    { name: 'default collectors', args: [], encoding: 'gzip' },
    { name: 'closest collectors', args: closestArgs, encoding: 'gzip' },
    { name: 'closest collectors', args: closestArgs, encoding: 'identity' },
  ];
}

// ---------------------------------------------------------------- the real agent

/** A stand-in OTLP endpoint: 200 with an empty protobuf body to everything. */
function startStubEndpoint() {
  let requests = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
      res.end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ url: `http://127.0.0.1:${server.address().port}`, requests: () => requests, close: () => new Promise((r) => server.close(r)) });
    });
  });
}


/** Memory (RSS, RssAnon, working set) and CPU ms per 1 s cycle of `sextant agent` with `env`. */
async function measureAgent(variant, endpoint, stateDir) {
  const node = path.join(root, 'node_modules/.bin/node');
  const cgroup = ownCgroup('sextant-bench-cycle');
  const argv = [...(cgroup?.prefix ?? []), node, path.join(root, 'dist/cli/sextant.js'), 'agent'];
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SEXTANT_') || k.startsWith('MALLOC_')) delete env[k];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...env,
      SEXTANT_ENDPOINT: endpoint.url,
      SEXTANT_INTERVAL: '1s',
      SEXTANT_STATE_DIR: path.join(stateDir, variant.name.replace(/\W+/g, '-')),
      SEXTANT_LISTEN: '127.0.0.1:0',
      SEXTANT_LOG_LEVEL: 'warn',
      // No container runtime: the idle figure is the agent's, not a runtime client's.
      SEXTANT_CONTAINERS_DOCKER_SOCKETS: '/nonexistent/docker.sock',
      SEXTANT_CONTAINERS_CRI_SOCKETS: '/nonexistent/containerd.sock',
      SEXTANT_LOGS_READ_FROM: 'end',
      ...variant.env,
    },
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    if (stderr.length < 4000) stderr += d;
  });
  try {
    // Steady state: from the second export request on (start-up and the first cycle behind it).
    const first = endpoint.requests();
    for (let i = 0; i < 300 && endpoint.requests() < first + 2; i++) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`agent exited with ${child.exitCode ?? child.signalCode}: ${stderr.trim().slice(0, 500)}`);
      await sleep(50);
    }
    if (endpoint.requests() < first + 2) throw new Error(`agent exported nothing in 15 s: ${stderr.trim().slice(0, 500)}`);
    const t0 = cpuTicks(child.pid);
    const w0 = performance.now();
    const mem = memorySampler(child.pid, cgroup, 1000);
    for (let i = 0; i < RSS_SAMPLES; i++) {
      await sleep(1000);
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`agent exited with ${child.exitCode ?? child.signalCode}: ${stderr.trim().slice(0, 500)}`);
    }
    const memory = mem.stop();
    const cycles = (performance.now() - w0) / 1000;
    const cpuMs = ((cpuTicks(child.pid) - t0) * 1000) / CLOCK_TICKS / cycles;
    return { memory, cpuMs, cgroup: cgroup !== undefined };
  } finally {
    child.kill('SIGTERM');
    await exited(child);
    cgroup?.remove();
  }
}

// ---------------------------------------------------------------- run

export async function run() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sextant-cycle-'));
  const { config } = loadConfig({ env: {}, argv: [], cwd: tmp });
  const haveNe = existsSync(NODE_EXPORTER);
  if (!haveNe) console.log(`node_exporter baseline skipped: ${NODE_EXPORTER} is missing (apt-get install -y prometheus-node-exporter)`);
  const variants = haveNe ? nodeExporterVariants() : [];
  const sextantVariants = [
    { native: true, tcpConnections: true },
    { native: true, tcpConnections: false },
    { native: false, tcpConnections: true },
    { native: false, tcpConnections: false },
  ];

  const phases = [];
  let stopSleepers = async () => {};
  try {
    for (const extra of [0, EXTRA]) {
      if (extra > 0) stopSleepers = await startSleepers(extra);
      const procs = countProcesses();
      const cycles = [];
      for (const v of sextantVariants) cycles.push({ ...v, ...(await measureCycle(config, v, tmp)) });
      const ne = [];
      for (const v of variants) ne.push({ ...v, ...(await measureNodeExporter(v.args, v.encoding)) });
      phases.push({ extra, procs, cycles, ne });
      await stopSleepers();
      stopSleepers = async () => {};
    }
  } finally {
    await stopSleepers();
  }

  const endpoint = await startStubEndpoint();
  const agents = [];
  const V8_DEFAULTS = { SEXTANT_MEMORY_SEMI_SPACE: '0', MALLOC_ARENA_MAX: '8', MALLOC_MMAP_THRESHOLD_: String(32 * 1024 * 1024) };
  const agentVariants = [
    { name: 'host mode, as shipped', env: { SEXTANT_MODE: 'host' }, target: true },
    { name: "host mode, V8's and malloc's defaults", env: { SEXTANT_MODE: 'host', ...V8_DEFAULTS } },
    { name: 'fullstack, as shipped', env: {} },
    { name: "fullstack, V8's and malloc's defaults", env: V8_DEFAULTS },
  ];
  try {
    for (const variant of agentVariants) agents.push({ variant, procs: countProcesses(), ...(await measureAgent(variant, endpoint, tmp)) });
  } finally {
    await endpoint.close();
    rmSync(tmp, { recursive: true, force: true });
  }

  const rows = [];
  for (const p of phases) {
    const neDefault = p.ne[0];
    const neClosest = p.ne[1];
    for (const c of p.cycles) {
      const r1 = neDefault ? (c.meanUs / 1000) / neDefault.netMs : undefined;
      const r2 = neClosest ? (c.meanUs / 1000) / neClosest.netMs : undefined;
      rows.push({
        what: `sextant cycle, ${c.implementation}, tcp ${c.tcpConnections ? 'on' : 'off'}`,
        processes: p.procs,
        'CPU ms/op': fmt(c.meanUs / 1000),
        detail: `user ${fmt(c.userUs / 1000)} + sys ${fmt(c.systemUs / 1000)}; median ${fmt(c.medianUs / 1000)}; ${Math.round(c.points)} points`,
        ratio: neDefault ? `${fmt(r1)}× NE default, ${fmt(r2)}× NE closest` : 'n/a',
        target: '≤ 1× NE',
        verdict: r1 === undefined ? 'n/a' : r1 <= 1 && r2 <= 1 ? 'ok' : r1 <= 1 ? 'ok vs default only' : r2 <= 1 ? 'ok vs closest only' : 'MISSED',
      });
    }
    for (const n of p.ne) {
      rows.push({
        what: `node_exporter ${n.name} (${n.encoding})`,
        processes: p.procs,
        'CPU ms/op': fmt(n.netMs),
        detail: `gross ${fmt(n.grossMs)} − idle ${fmt(n.idleMs)} (${n.ticks} ticks of ${fmt(n.tickMs)} ms / ${SCRAPES}); ${fmt(n.wallMs)} ms wall; ${n.bytes} B`,
        ratio: 'baseline',
        target: '',
        verdict: '',
      });
    }
  }
  for (const a of agents) {
    const m = a.memory;
    const verdict = (v, limit) => (Number.isNaN(v) ? 'n/a' : v / MB <= limit ? 'ok' : 'MISSED');
    rows.push({
      what: `agent idle, ${a.variant.name}, interval 1s`,
      processes: a.procs,
      'CPU ms/op': fmt(a.cpuMs),
      detail: `median RSS ${mb(m.rss.median)} MB, RssAnon ${mb(m.anon.median)} MB, working set ${a.cgroup ? `${mb(m.ws.median)} MB` : 'n/a (no cgroup of its own)'}; max ${mb(m.rss.peak)} / ${mb(m.anon.peak)} / ${mb(m.ws.peak)}; CPU per cycle incl. encode+export`,
      ratio: a.variant.target ? `RSS ${verdict(m.rss.median, 85)}, anon ${verdict(m.anon.median, 32)}, WS ${verdict(m.ws.median, 45)}` : '',
      target: a.variant.target ? 'RSS ≤ 85, RssAnon ≤ 32, WS ≤ 45 MB' : '',
      verdict: a.variant.target ? ([verdict(m.rss.median, 85), verdict(m.anon.median, 32), verdict(m.ws.median, 45)].every((x) => x === 'ok') ? 'ok' : 'MISSED') : '',
    });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await run());
}
