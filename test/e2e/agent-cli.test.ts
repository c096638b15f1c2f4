import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { storedRequests } from './helpers/gateway-store.js';
import { BIN, SextantProcess } from './helpers/sextant-process.js';

/**
 * The `sextant` command as users run it: real processes, real loopback HTTP, real files.
 * `npm test` builds dist/ first; the bin refuses to run without it.
 */

const procs: SextantProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
});

async function workdir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'sextant-e2e-'));
  dirs.push(d);
  return d;
}

function start(args: string[], cwd: string, env: Record<string, string>): SextantProcess {
  const p = new SextantProcess(args, { cwd, env });
  procs.push(p);
  return p;
}

function metricNamesStored(dataDir: string): Set<string> {
  const names = new Set<string>();
  for (const req of storedRequests(dataDir, 'metrics') as { resourceMetrics: { scopeMetrics: { metrics: { name: string }[] }[] }[] }[]) {
    for (const rm of req.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) names.add(m.name);
  }
  return names;
}

const QUIET = { SEXTANT_LISTEN: '127.0.0.1:0', SEXTANT_GATEWAY_LISTEN: '127.0.0.1:0' };

describe('sextant agent --local (the quick start)', () => {
  it('collects, exports to the in-process gateway, prints summaries, serves self endpoints, and flushes on SIGTERM', async () => {
    const cwd = await workdir();
    // The evidence is read from the NDJSON files (off by default since the embedded store).
    const agent = start(['agent', '--local'], cwd, { ...QUIET, SEXTANT_INTERVAL: '500ms', SEXTANT_SUMMARY_INTERVAL: '1s', SEXTANT_GATEWAY_NDJSON: 'true' });
    const started = await agent.waitForLog('agent started');
    const self = String(started['self']);
    // The line that names the explorer, and the page it names: open from this machine, no token.
    const explorer = agent.logs().find((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('explorer: open http://127.0.0.1:'));
    expect(explorer, agent.stderr).toBeDefined();
    const page = await fetch(String(explorer!['explorer']));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<div id="app">');
    const session = (await (await fetch(new URL('/ui/session', String(explorer!['explorer'])))).json()) as { data: { mode: string } };
    expect(session.data.mode).toBe('open');

    await agent.waitFor(() => agent.stdout.split('\n').filter((l) => l.startsWith('sextant: collected')).length >= 2 || undefined, 15_000, 'two summary lines');
    const summary = agent.stdout.split('\n').find((l) => l.startsWith('sextant: collected'))!;
    expect(summary).toMatch(/collected [\d,]+ metrics, [\d,]+ logs, [\d,]+ events \| exported [\d,]+ .* \| dropped \d+/);

    expect((await fetch(`${self}/healthz`)).status).toBe(200);
    const ready = await fetch(`${self}/readyz`);
    expect(ready.status, await ready.text()).toBe(200);
    const metrics = await (await fetch(`${self}/metrics`)).text();
    expect(metrics).toMatch(/^sextant_export_records_total\{signal="metrics"\} [1-9]/m);
    expect(metrics).toMatch(/^sextant_pipeline_queue_capacity_items\{signal="logs"\} \d+/m);
    expect(metrics).toMatch(/^sextant_export_latency_seconds_bucket\{signal="metrics",le="0.1"\} \d+/m);
    expect(metrics).toMatch(/^sextant_gateway_requests_total\{/m);
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+/m);

    agent.kill('SIGTERM');
    const { code } = await agent.exited;
    expect(code).toBe(0);
    const stopped = agent.logs().find((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('stopped: '));
    expect(stopped?.['msg'], agent.stderr.slice(-4000)).toBe('stopped: everything queued was exported');

    const names = metricNamesStored(path.join(cwd, 'data'));
    for (const n of [
      'system.cpu.time',
      'system.memory.usage',
      'system.memory.limit',
      'system.cpu.load_average.1m',
      'system.network.io',
      'system.filesystem.usage',
      'system.uptime',
      'process.cpu.time',
      'process.memory.usage',
      'sextant.process_group.count',
    ]) {
      expect(names).toContain(n);
    }
    // One line says which /proc reader runs; CI must prove the addon builds and loads.
    const reader = agent.logs().filter((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('proc reader:'));
    expect(reader).toHaveLength(1);
    if (process.env.CI === 'true') expect(reader[0]!['msg']).toBe('proc reader: native addon');
    // last-seen counters kept for the next start's deltas
    expect((await stat(path.join(cwd, 'data/state/counters.json'))).size).toBeGreaterThan(0);
  }, 60_000);
});

describe('sextant gateway + sextant agent --once', () => {
  const TOKEN = 'dt0c01.E2ETOKEN.abcdefghijklmnopqrstuvwxyz0123456789';

  async function gateway(cwd: string): Promise<{ gw: SextantProcess; url: string }> {
    const gw = start(['gateway'], cwd, { ...QUIET, SEXTANT_GATEWAY_TOKENS: TOKEN, SEXTANT_GATEWAY_DATA_DIR: path.join(cwd, 'gw'), SEXTANT_GATEWAY_NDJSON: 'true' });
    const listening = await gw.waitForLog('gateway started');
    return { gw, url: String(listening['url']) };
  }

  it('ships one cycle with the token and exits 0; nothing prints the token', async () => {
    const cwd = await workdir();
    const { gw, url } = await gateway(cwd);
    const agent = start(['agent', '--once'], cwd, { ...QUIET, SEXTANT_ENDPOINT: url, SEXTANT_API_TOKEN: TOKEN, SEXTANT_STATE_DIR: path.join(cwd, 'state') });
    const { code } = await agent.exited;
    expect(code, agent.stderr).toBe(0);
    gw.kill('SIGTERM');
    expect((await gw.exited).code).toBe(0);
    const names = metricNamesStored(path.join(cwd, 'gw'));
    expect(names).toContain('system.memory.usage');
    for (const out of [agent.stdout, agent.stderr, gw.stdout, gw.stderr]) expect(out).not.toContain('E2ETOKEN');
  }, 60_000);

  it('exits 1 when the gateway refuses the token (403), without printing it', async () => {
    const cwd = await workdir();
    const { url } = await gateway(cwd);
    const agent = start(['agent', '--once'], cwd, { ...QUIET, SEXTANT_ENDPOINT: url, SEXTANT_API_TOKEN: 'wrong-token-XYZ', SEXTANT_STATE_DIR: path.join(cwd, 'state') });
    const { code } = await agent.exited;
    expect(code).toBe(1);
    expect(agent.stderr).toMatch(/403/);
    expect(agent.stderr).not.toContain('wrong-token-XYZ');
  }, 60_000);

  it('gives up at the shutdown deadline when the endpoint is down, exits 1', async () => {
    const cwd = await workdir();
    const t0 = Date.now();
    const agent = start(['agent', '--once'], cwd, { ...QUIET, SEXTANT_ENDPOINT: 'http://127.0.0.1:9', SEXTANT_SHUTDOWN_TIMEOUT: '1s', SEXTANT_STATE_DIR: path.join(cwd, 'state') });
    const { code } = await agent.exited;
    expect(code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(agent.logs().some((l) => l['msg'] === 'stopped: flush deadline passed with records still pending')).toBe(true);
  }, 30_000);

  it('on SIGTERM with the endpoint down and no disk spool, flushes until the deadline and exits 0', async () => {
    const cwd = await workdir();
    const agent = start(['agent'], cwd, { ...QUIET, SEXTANT_ENDPOINT: 'http://127.0.0.1:9', SEXTANT_INTERVAL: '200ms', SEXTANT_SHUTDOWN_TIMEOUT: '1500ms', SEXTANT_STATE_DIR: path.join(cwd, 'state'), SEXTANT_BUFFER_DISK_MAX_BYTES: '0' });
    await agent.waitForLog('agent started');
    await new Promise((r) => setTimeout(r, 800));
    const t0 = Date.now();
    agent.kill('SIGTERM');
    const { code } = await agent.exited;
    expect(code).toBe(0);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1_000);
    expect(took).toBeLessThan(6_000);
  }, 30_000);

  it('on SIGTERM with the endpoint down, writes what it holds to the disk spool and exits 0 before the deadline', async () => {
    const cwd = await workdir();
    const state = path.join(cwd, 'state');
    const agent = start(['agent'], cwd, { ...QUIET, SEXTANT_ENDPOINT: 'http://127.0.0.1:9', SEXTANT_INTERVAL: '200ms', SEXTANT_SHUTDOWN_TIMEOUT: '5s', SEXTANT_STATE_DIR: state, SEXTANT_LOG_LEVEL: 'info' });
    const self = String((await agent.waitForLog('agent started'))['self']);
    // Records collected and an export tried (and refused) before the stop.
    for (let i = 0; i < 100; i++) {
      const text = await (await fetch(`${self}/metrics`)).text();
      if (/^sextant_export_retries_total\{signal="metrics"\} [1-9]/m.test(text)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const t0 = Date.now();
    agent.kill('SIGTERM');
    const { code } = await agent.exited;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(4_000);
    // Nothing given up: the batches wait on disk for the next start.
    expect(agent.logs().some((l) => l['msg'] === 'stopped: everything queued was exported or is in the disk spool')).toBe(true);
    const segments = (await readdir(path.join(state, 'spool'))).filter((f) => f.endsWith('.spool'));
    expect(segments.length).toBeGreaterThan(0);
  }, 30_000);

  it('mode host ships host and process metrics only; the agent log names its sources', async () => {
    const cwd = await workdir();
    const { gw, url } = await gateway(cwd);
    const agent = start(['agent', '--once'], cwd, { ...QUIET, SEXTANT_LOG_LEVEL: 'info', SEXTANT_MODE: 'host', SEXTANT_ENDPOINT: url, SEXTANT_API_TOKEN: TOKEN, SEXTANT_STATE_DIR: path.join(cwd, 'state') });
    const { code } = await agent.exited;
    expect(code, agent.stderr).toBe(0);
    gw.kill('SIGTERM');
    await gw.exited;
    const started = agent.logs().find((l) => l['msg'] === 'agent started');
    expect(started?.['sources']).toEqual(['host', 'process']);
    const names = [...metricNamesStored(path.join(cwd, 'gw'))];
    expect(names).toContain('system.memory.usage');
    expect(names.some((n) => n.startsWith('process.'))).toBe(true);
    expect(names.filter((n) => n.startsWith('container.') || n.startsWith('k8s.'))).toEqual([]);
  }, 60_000);

  it('mode application runs the OTLP receiver alone (no exit 2): takes a request, ships it, stops with 0', async () => {
    const cwd = await workdir();
    const { gw, url } = await gateway(cwd);
    const agent = start(['agent'], cwd, {
      ...QUIET,
      SEXTANT_LOG_LEVEL: 'info',
      SEXTANT_MODE: 'application',
      SEXTANT_ENDPOINT: url,
      SEXTANT_API_TOKEN: TOKEN,
      SEXTANT_STATE_DIR: path.join(cwd, 'state'),
      SEXTANT_RECEIVER_HTTP_LISTEN: '127.0.0.1:0',
      SEXTANT_RECEIVER_GRPC_LISTEN: '127.0.0.1:0',
    });
    const listening = await agent.waitForLog('OTLP receiver listening', 20_000);
    const started = await agent.waitForLog('agent started', 20_000);
    expect(started['sources']).toEqual(['receiver']);
    // Ready before any application sent anything: the agent asked the endpoint itself.
    const readyBy = Date.now() + 20_000;
    while ((await fetch(`${started['self'] as string}/readyz`)).status !== 200) {
      expect(Date.now(), 'readyz 200 within 20 s').toBeLessThan(readyBy);
      await new Promise((r) => setTimeout(r, 100));
    }
    const body = JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cli-test' } }] }, scopeSpans: [{ spans: [{ traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'from-an-app', kind: 2, startTimeUnixNano: '1', endTimeUnixNano: '2' }] }] }] });
    const r = await fetch(`http://${listening['http'] as string}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(r.status).toBe(200);
    const dataDir = path.join(cwd, 'gw');
    await agent.waitFor(() => (existsSync(path.join(dataDir, 'traces')) ? true : undefined), 20_000, 'stored traces');
    agent.child.kill('SIGTERM');
    const { code } = await agent.exited;
    expect(code, agent.stderr).toBe(0);
    gw.kill('SIGTERM');
    await gw.exited;
  }, 60_000);

  it('refuses to start without an endpoint: exit 2 naming the key', async () => {
    const cwd = await workdir();
    const agent = start(['agent'], cwd, QUIET);
    const { code } = await agent.exited;
    expect(code).toBe(2);
    expect(agent.stderr.trim().split('\n')).toHaveLength(1);
    expect(agent.stderr).toMatch(/endpoint/);
  }, 30_000);
});

describe('sextant agent with a bad value: exit 2, one line naming the key the user set', () => {
  // The first three are refused by the loader; kubernetes.enabled only once the agent starts
  // its sources and finds no API server. Every key is spelled as the user sets it.
  const CASES: readonly { key: string; env: (cwd: string) => Record<string, string> }[] = [
    { key: 'logs.checkpointInterval', env: () => ({ SEXTANT_LOGS_CHECKPOINT_INTERVAL: '10ms' }) },
    { key: 'export.retryMaxBackoff', env: () => ({ SEXTANT_EXPORT_RETRY_MAX_BACKOFF: '0' }) },
    { key: 'tls.caFile', env: (cwd) => ({ SEXTANT_TLS_CA_FILE: path.join(cwd, 'absent-ca.pem') }) },
    { key: 'kubernetes.enabled', env: () => ({ SEXTANT_KUBERNETES_ENABLED: 'true', SEXTANT_CONTAINERS_ENABLED: 'false' }) },
  ];

  it.each(CASES)('$key', async ({ key, env }) => {
    const cwd = await workdir();
    const agent = start(['agent'], cwd, {
      ...QUIET,
      SEXTANT_LOG_LEVEL: 'warn',
      SEXTANT_ENDPOINT: 'http://127.0.0.1:9',
      SEXTANT_STATE_DIR: path.join(cwd, 'state'),
      ...env(cwd),
    });
    const { code } = await agent.exited;
    expect(code, agent.stderr).toBe(2);
    expect(agent.stderr.trim().split('\n'), agent.stderr).toHaveLength(1);
    expect(agent.stderr.startsWith(`sextant: config error: ${key}: `), agent.stderr).toBe(true);
  }, 30_000);
});
