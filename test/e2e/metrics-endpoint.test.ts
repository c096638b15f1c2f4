import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheusText, sum } from '../../src/top/prom-text.js';
import { isDocumented, readMetricsDoc } from '../helpers/metrics-doc.js';
import { promtoolCheck, promtoolOrSkip } from '../helpers/promtool.js';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import { freePort, storedRequests } from './helpers/gateway-store.js';
import { until } from '../helpers/wait.js';
import { BIN, SextantProcess } from './helpers/sextant-process.js';

/**
 * A real agent shipping to a real gateway, then what a user sees of both: their `/metrics`
 * pages must pass `promtool check metrics`, and every name in those pages and in the records
 * the gateway stored must be in docs/metrics.md (test/unit/docs-metrics.test.ts checks the
 * other way, against the source).
 *
 * The agent runs on a host root of links to this machine's /proc, /sys and /etc (so the host,
 * process and container sources see the real machine), with log files of its own (kubelet's CRI
 * layout, Docker's json-file layout, a plain file), a 1 KiB record cap (so one line comes out
 * truncated) and a stored boot id from "another boot" (so the reboot event is sent). With the
 * real dockerd (test/runtimes; required under CI=true) a container runs for two container cycles
 * and is killed, so container metrics and its start and exit events are among what is checked.
 */

const promtool = promtoolOrSkip();
const rt = await runtimesOrSkip('docker');

const LOG_TIME = '2025-01-02T03:04:05.000000000Z';
const POD_DIR = 'var/log/pods/shop_web-7d9f8b6c5d-x2x9z_0f9a3c1e-5b7d-4e2a-9c1f-2d3e4f5a6b7c/nginx';
const DOCKER_ID = 'c0ffee'.padEnd(64, '0');

interface Attr {
  readonly key: string;
}

interface Run {
  readonly agentMetrics: string;
  readonly gatewayMetrics: string;
  readonly metricNames: Set<string>;
  /** Attribute key → where it was seen (resource, point, record). */
  readonly attributes: Map<string, string>;
  readonly events: Set<string>;
}

let tmp: string;
let run: Run | undefined;
const procs: SextantProcess[] = [];
const cleanup: (() => Promise<unknown>)[] = [];

function link(target: string, at: string): void {
  mkdirSync(path.dirname(at), { recursive: true });
  symlinkSync(target, at);
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

function note(attributes: Map<string, string>, list: readonly Attr[] | undefined, where: string): void {
  for (const a of list ?? []) if (!attributes.has(a.key)) attributes.set(a.key, where);
}

/** Names in what the gateway stored: metric names, attribute keys by where they sat, event names. */
function storedNames(dataDir: string): Omit<Run, 'agentMetrics' | 'gatewayMetrics'> {
  const metricNames = new Set<string>();
  const attributes = new Map<string, string>();
  const events = new Set<string>();
  type Points = { dataPoints?: { attributes?: Attr[] }[] };
  type StoredMetrics = { resourceMetrics?: { resource?: { attributes?: Attr[] }; scopeMetrics?: { metrics?: ({ name: string } & Record<string, Points | string>)[] }[] }[] };
  for (const req of storedRequests(dataDir, 'metrics') as StoredMetrics[]) {
    for (const rm of req.resourceMetrics ?? []) {
      note(attributes, rm.resource?.attributes, 'metric resource');
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          metricNames.add(m.name);
          for (const shape of ['gauge', 'sum', 'histogram']) {
            const data = m[shape];
            if (typeof data === 'object') for (const p of data.dataPoints ?? []) note(attributes, p.attributes, `point of ${m.name}`);
          }
        }
      }
    }
  }
  type StoredLogs = { resourceLogs?: { resource?: { attributes?: Attr[] }; scopeLogs?: { logRecords?: { attributes?: Attr[]; eventName?: string; event_name?: string }[] }[] }[] };
  for (const req of storedRequests(dataDir, 'logs') as StoredLogs[]) {
    for (const rl of req.resourceLogs ?? []) {
      note(attributes, rl.resource?.attributes, 'log resource');
      for (const sl of rl.scopeLogs ?? []) {
        for (const r of sl.logRecords ?? []) {
          const event = r.eventName ?? r.event_name ?? '';
          if (event !== '') events.add(event);
          note(attributes, r.attributes, event === '' ? 'log record' : `event ${event}`);
        }
      }
    }
  }
  return { metricNames, attributes, events };
}

/** Families a Prometheus page declares (`# TYPE name type`). */
function families(page: string): string[] {
  return [...page.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!);
}

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
  tmp = mkdtempSync(path.join(os.tmpdir(), 'sextant-metrics-endpoint-'));
  const host = path.join(tmp, 'host');
  for (const d of ['proc', 'sys', 'etc']) link(`/${d}`, path.join(host, d));
  // Docker's socket where the agent looks for it under its host root.
  if (rt.available) link(rt.dockerSock, path.join(host, 'var/run/docker.sock'));
  // One log file of each kind, read from its beginning: a kubelet CRI file (a JSON line, an
  // error on stderr, a line over the record cap), a Docker json-file, a plain file.
  const podLog = path.join(host, POD_DIR, '0.log');
  mkdirSync(path.dirname(podLog), { recursive: true });
  writeFileSync(podLog, `${LOG_TIME} stdout F {"level":"info","msg":"ready"}\n${LOG_TIME} stderr F ERROR upstream gone\n${LOG_TIME} stdout F ${'x'.repeat(2048)}\n`);
  const dockerLog = path.join(host, 'var/lib/docker/containers', DOCKER_ID, `${DOCKER_ID}-json.log`);
  mkdirSync(path.dirname(dockerLog), { recursive: true });
  writeFileSync(dockerLog, `${JSON.stringify({ log: 'listening on :8080\n', stream: 'stdout', time: LOG_TIME })}\n`);
  mkdirSync(path.join(host, 'var/log/app'), { recursive: true });
  writeFileSync(path.join(host, 'var/log/app/app.log'), 'WARN disk almost full\n');
  const state = path.join(tmp, 'state');
  mkdirSync(state);
  // A boot id the agent "saw last time": not this boot's, so it reports a reboot.
  writeFileSync(path.join(state, 'boot-id'), '00000000-0000-4000-8000-000000000000\n');

  const gwPort = await freePort();
  const gwSelfPort = await freePort();
  const gwData = path.join(tmp, 'gw');
  const gateway = new SextantProcess(['gateway'], {
    cwd: tmp,
    // NDJSON beside the embedded store: every stored name is read back from the files.
    env: { SEXTANT_GATEWAY_LISTEN: `127.0.0.1:${gwPort}`, SEXTANT_GATEWAY_DATA_DIR: gwData, SEXTANT_LISTEN: `127.0.0.1:${gwSelfPort}`, SEXTANT_GATEWAY_NDJSON: 'true' },
  });
  procs.push(gateway);
  await gateway.waitForLog('gateway started');

  const agent = new SextantProcess(['agent'], {
    cwd: tmp,
    env: {
      SEXTANT_ENDPOINT: `http://127.0.0.1:${gwPort}`,
      SEXTANT_HOST_ROOT: host,
      SEXTANT_STATE_DIR: state,
      SEXTANT_LISTEN: '127.0.0.1:0',
      SEXTANT_INTERVAL: '500ms',
      SEXTANT_LOGS_READ_FROM: 'beginning',
      SEXTANT_LOGS_MAX_RECORD_BYTES: '1KiB',
      SEXTANT_LOGS_GLOBS: '/var/log/app/*.log',
      SEXTANT_BATCH_LOGS_LINGER: '100ms',
      SEXTANT_BATCH_EVENTS_LINGER: '100ms',
    },
  });
  procs.push(agent);
  const self = String((await agent.waitForLog('agent started', 30_000))['self']);
  const containerCycles = async (): Promise<number> => sum(parsePrometheusText(await scrape(self)), 'sextant_collect_duration_seconds_count', { source: 'container' });
  if (rt.available) {
    await agent.waitFor(() => agent.logs().find((l) => l['msg'] === 'container runtime connected' && l['runtime'] === 'docker'), 20_000, 'docker connected');
    const docker = new Docker({ socketPath: rt.dockerSock });
    const c = await docker.createContainer({
      name: `sx-metrics-endpoint-${process.pid}`,
      Image: rt.busyboxImage,
      Cmd: ['sleep', '60'],
      Labels: { [rt.testLabel]: '1' },
      HostConfig: { NetworkMode: 'none', Memory: 64 * 1024 * 1024 },
    });
    cleanup.push(() => c.remove({ force: true }));
    await c.start();
    // Two whole container cycles while it runs (so it is measured), then it is killed (an exit event).
    const started = await containerCycles();
    await until('two container cycles while the container runs', async () => (await containerCycles()) >= started + 2, { timeoutMs: 20_000, detail: () => agent.stderr });
    await c.kill();
  }

  // Two collections of every source, the five log records and the reboot event accepted.
  let page = '';
  await until(
    'two cycles of every source, the log records and the events exported',
    async () => {
      if (agent.child.exitCode !== null) throw new Error(`the agent exited\n${agent.stderr}`);
      page = await scrape(self);
      const m = parsePrometheusText(page);
      const cycles = Math.min(...['host', 'process', 'container'].map((source) => sum(m, 'sextant_collect_duration_seconds_count', { source })));
      return (
        cycles >= 2 &&
        sum(m, 'sextant_export_records_total', { signal: 'metrics' }) > 0 &&
        sum(m, 'sextant_export_records_total', { signal: 'logs' }) >= 5 &&
        // The reboot, and with Docker the container's start and exit.
        sum(m, 'sextant_export_records_total', { signal: 'events' }) >= (rt.available ? 3 : 1)
      );
    },
    { timeoutMs: 30_000, detail: () => `${page}\n${agent.stderr}` },
  );
  const agentMetrics = await scrape(self);
  const gatewayMetrics = await scrape(`http://127.0.0.1:${gwSelfPort}`);

  agent.kill('SIGTERM');
  expect((await agent.exited).code, agent.stderr).toBe(0);
  gateway.kill('SIGTERM');
  expect((await gateway.exited).code, gateway.stderr).toBe(0);
  run = { agentMetrics, gatewayMetrics, ...storedNames(gwData) };
}, 90_000);

afterAll(async () => {
  for (const p of procs.splice(0)) {
    p.kill('SIGKILL');
    await p.exited;
  }
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe(`promtool check metrics on real /metrics pages${promtool.reason}`, () => {
  it.skipIf(!promtool.available)("accepts the agent's page after a collection, without a lint warning", () => {
    expect(promtoolCheck(run!.agentMetrics)).toEqual({ status: 0, output: '' });
  });

  it.skipIf(!promtool.available)("accepts the gateway's page after it stored requests, without a lint warning", () => {
    expect(run!.gatewayMetrics).toMatch(/^sextant_gateway_stored_records_total\{signal="metrics"\} [1-9]/m);
    expect(promtoolCheck(run!.gatewayMetrics)).toEqual({ status: 0, output: '' });
  });
});

describe('what a real agent and gateway show is in docs/metrics.md', () => {
  const doc = readMetricsDoc();

  it('every family on both /metrics pages is documented', () => {
    const pages = [...families(run!.agentMetrics), ...families(run!.gatewayMetrics)];
    expect(pages).toContain('process_cpu_seconds_total');
    expect(pages).toContain('sextant_gateway_requests_total');
    expect(pages.filter((f) => !doc.selfMetrics.has(f))).toEqual([]);
  });

  it('sextant top reads both pages whole', () => {
    for (const page of [run!.agentMetrics, run!.gatewayMetrics]) expect(parsePrometheusText(page).badLines).toBe(0);
    expect(sum(parsePrometheusText(run!.agentMetrics), 'process_cpu_seconds_total')).toBeGreaterThan(0);
  });

  it('every metric the gateway stored is documented', () => {
    expect(run!.metricNames).toContain('system.cpu.time');
    expect(run!.metricNames).toContain('process.cpu.time');
    if (rt.available) expect(run!.metricNames).toContain('container.memory.working_set');
    expect([...run!.metricNames].filter((n) => !doc.metrics.has(n))).toEqual([]);
  });

  it('every attribute key on the stored resources, points, log records and events is documented', () => {
    const seen = run!.attributes;
    // What this run set up to see, so the check below covers it.
    for (const key of ['host.name', 'process.pid', 'cpu.mode', 'log.file.path', 'log.iostream', 'sextant.log.truncated', 'k8s.pod.uid', 'k8s.container.restart_count', 'container.id', 'container.runtime.name', 'sextant.host.boot_id']) {
      expect([...seen.keys()]).toContain(key);
    }
    const undocumented = [...seen].filter(([k]) => !isDocumented(k, doc.attributes)).map(([k, where]) => `${k} (${where})`);
    expect(undocumented).toEqual([]);
  });

  it('every event name stored is documented', () => {
    expect(run!.events).toContain('sextant.host.reboot');
    if (rt.available) expect([...run!.events]).toEqual(expect.arrayContaining(['container.start', 'container.exit']));
    expect([...run!.events].filter((e) => !doc.events.has(e))).toEqual([]);
  });
});
