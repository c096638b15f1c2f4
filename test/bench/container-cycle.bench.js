// Cost of the container source's collection cycle (target: < 0.2 ms CPU per container
// per cycle), with 0 and with 50 running Docker containers, and the marginal cost per container.
//
// Sextant: the container source as the agent builds it (the container folder's create: Docker + CRI
// clients, metadata cache, cgroup walk, one cgroup read per container, network per namespace),
// into a sink that counts and discards. CPU from process.cpuUsage (every thread of this process).
//
// Baseline, same run, same containers: the Docker Engine stats API, one `stats?stream=false&one-shot=true`
// request per container per cycle — how `docker stats` and the OpenTelemetry Collector's
// docker_stats receiver read container metrics. Its cost is this process's CPU for the requests
// plus dockerd's CPU (utime+stime from /proc/<pid>/stat) over the same cycles.
//
// Needs a real dockerd (test/runtimes/setup.sh); without one it prints why and measures nothing.
// Run: npx tsc -p tsconfig.json && node_modules/.bin/node test/bench/run.js container-cycle
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { createResource } from '../../dist/model/index.js';
import { silentLogger } from '../../dist/self/logger.js';
import { Registry } from '../../dist/self/registry.js';
import { create as createContainerSource } from '../../dist/sources/container/index.js';

const SOCK = process.env.DOCKER_SOCK ?? '/var/run/docker.sock';
const CRI_SOCK = process.env.CRI_SOCK ?? '/tmp/sextant-runtimes/containerd/containerd.sock';
const IMAGE = process.env.BUSYBOX_IMAGE ?? 'docker.io/sextant-test/busybox:latest';
const LABEL = process.env.TEST_LABEL ?? 'io.sextant.test';
const N = 50;
const WARMUP = 5;
const CYCLES = 40;
const BASELINE_CONCURRENCY = 8;
/** The stats API takes seconds of wall time per cycle (it samples over an interval): fewer cycles. */
const BASELINE_CYCLES = 5;
const TICKS = 100; // USER_HZ

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (x) => (x === undefined || Number.isNaN(x) ? 'n/a' : x < 10 ? x.toFixed(3) : x.toFixed(1));

/** A Docker Engine API call over the unix socket; resolves to the parsed JSON body (or text). */
function api(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: SOCK, method, path, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode >= 400) reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 200)}`));
        else resolve(text.length > 0 && text[0] === '{' || text[0] === '[' ? JSON.parse(text) : text);
      });
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

function dockerdPid() {
  for (const d of readdirSync('/proc')) {
    if (d.charCodeAt(0) < 48 || d.charCodeAt(0) > 57) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'dockerd') return Number(d);
    } catch {
      // gone
    }
  }
  return undefined;
}

/** utime+stime of a process in µs. */
function processCpuUs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) / TICKS) * 1e6;
}

function countingSink() {
  return { points: 0, events: 0, offerMetric() { this.points++; return true; }, offerLog() { return true; }, offerEvent() { this.events++; return true; }, onLogsDrain() {} };
}

async function startContainers(n, prefix) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const c = await api('POST', `/containers/create?name=${prefix}-${i}`, {
      Image: IMAGE,
      Cmd: ['sleep', '3600'],
      Labels: { [LABEL]: '1' },
      HostConfig: { NetworkMode: 'none', Memory: 64 * 1024 * 1024 },
    });
    await api('POST', `/containers/${c.Id}/start`);
    ids.push(c.Id);
  }
  return ids;
}

async function removeContainers(ids) {
  for (const id of ids) await api('DELETE', `/containers/${id}?force=true&v=true`).catch(() => undefined);
}

async function measureSextant(source, registry) {
  const sink = countingSink();
  for (let i = 0; i < WARMUP; i++) await source.collect(sink);
  sink.points = 0;
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  for (let i = 0; i < CYCLES; i++) await source.collect(sink);
  const d = process.cpuUsage(t0);
  return {
    cpuMs: (d.user + d.system) / 1000 / CYCLES,
    wallMs: (performance.now() - w0) / CYCLES,
    containers: registry.gauge('sextant_containers', '').get(),
    points: sink.points / CYCLES,
  };
}

/** One stats request per running container per cycle, BASELINE_CONCURRENCY at a time. */
async function measureStatsApi(dockerd) {
  const list = await api('GET', '/containers/json');
  const ids = list.map((c) => c.Id);
  const cycle = async () => {
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++];
        await api('GET', `/containers/${id}/stats?stream=false&one-shot=true`).catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: BASELINE_CONCURRENCY }, worker));
  };
  await cycle();
  const t0 = process.cpuUsage();
  const dd0 = processCpuUs(dockerd);
  const w0 = performance.now();
  for (let i = 0; i < BASELINE_CYCLES; i++) await cycle();
  const d = process.cpuUsage(t0);
  const client = (d.user + d.system) / 1000 / BASELINE_CYCLES;
  const daemon = (processCpuUs(dockerd) - dd0) / 1000 / BASELINE_CYCLES;
  return { cpuMs: client + daemon, clientMs: client, daemonMs: daemon, wallMs: (performance.now() - w0) / BASELINE_CYCLES, containers: ids.length };
}

export async function run() {
  try {
    await api('GET', '/_ping');
  } catch (err) {
    console.log(`container-cycle skipped: no Docker engine at ${SOCK} (${err.message}); run test/runtimes/setup.sh`);
    return [];
  }
  const dockerd = dockerdPid();
  const registry = new Registry();
  const { source } = await createContainerSource(
    { enabled: true, dockerSockets: [SOCK], criSockets: [CRI_SOCK], callTimeout: 5000, resyncInterval: 60_000 },
    { hostRoot: '/', nodeName: 'bench', resource: createResource({ 'host.name': 'bench' }), registry, logger: silentLogger(), version: 'bench', sink: countingSink() },
  );
  const rows = [];
  const prefix = `sx-bench-${process.pid}`;
  let ids = [];
  try {
    const idle = await measureSextant(source, registry);
    const idleBase = dockerd ? await measureStatsApi(dockerd) : undefined;
    ids = await startContainers(N, prefix);
    // Steady state: the engine's 50 start events have been inspected (a one-off per container
    // start, ~1 ms of CPU each over the Engine API) before the cycles are timed.
    await sleep(3000);
    const busy = await measureSextant(source, registry);
    const busyBase = dockerd ? await measureStatsApi(dockerd) : undefined;
    const added = busy.containers - idle.containers;
    const marginal = (busy.cpuMs - idle.cpuMs) / added;
    const baseMarginal = busyBase && idleBase ? (busyBase.cpuMs - idleBase.cpuMs) / (busyBase.containers - idleBase.containers) : undefined;
    rows.push(
      { case: `sextant cycle, ${idle.containers} containers`, 'cpu ms/cycle': fmt(idle.cpuMs), 'wall ms/cycle': fmt(idle.wallMs), points: Math.round(idle.points) },
      { case: `sextant cycle, ${busy.containers} containers`, 'cpu ms/cycle': fmt(busy.cpuMs), 'wall ms/cycle': fmt(busy.wallMs), points: Math.round(busy.points) },
      { case: 'sextant marginal per container', 'cpu ms/cycle': fmt(marginal), target: '< 0.2', met: marginal < 0.2 ? 'yes' : 'NO' },
    );
    if (busyBase && idleBase) {
      rows.push(
        { case: `docker stats API, ${busyBase.containers} containers (client + dockerd)`, 'cpu ms/cycle': fmt(busyBase.cpuMs), 'wall ms/cycle': fmt(busyBase.wallMs), client: fmt(busyBase.clientMs), dockerd: fmt(busyBase.daemonMs) },
        { case: 'docker stats API marginal per container', 'cpu ms/cycle': fmt(baseMarginal) },
        { case: 'ratio sextant / docker stats API (per container)', 'cpu ms/cycle': fmt(marginal / baseMarginal) },
      );
    } else {
      rows.push({ case: 'docker stats API baseline', 'cpu ms/cycle': 'n/a (no dockerd process visible)' });
    }
  } finally {
    await removeContainers(ids);
    await source.stop();
  }
  return rows;
}
