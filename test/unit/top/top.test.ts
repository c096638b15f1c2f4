import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTopArgs } from '../../../src/cli/top.js';
import { main } from '../../../src/cli/main.js';
import { Registry } from '../../../src/self/registry.js';
import { LATENCY_BUCKETS } from '../../../src/self/registry.js';
import { parsePrometheusText } from '../../../src/top/prom-text.js';
import { renderView } from '../../../src/top/render.js';
import { readStatus, resolveTarget } from '../../../src/top/scrape.js';
import { runTop } from '../../../src/top/top.js';
import { buildView, type Scrape } from '../../../src/top/view.js';

/** An agent-shaped registry whose numbers the test moves between scrapes. */
function agentRegistry() {
  const r = new Registry();
  const records = r.counter('sextant_source_records_total', '');
  const bytes = r.counter('sextant_source_bytes_total', '');
  const dropped = r.counter('sextant_pipeline_dropped_total', '');
  const requests = r.counter('sextant_export_requests_total', '');
  const retries = r.counter('sextant_export_retries_total', '');
  const exported = r.counter('sextant_export_records_total', '');
  const latency = r.histogram('sextant_export_latency_seconds', '', LATENCY_BUCKETS);
  const cpu = r.gauge('process_cpu_seconds_total', '');
  r.gauge('process_resident_memory_bytes', '').set(100 * 1024 * 1024);
  r.gauge('sextant_memory_rss_bytes', '').set(100 * 1024 * 1024);
  r.gauge('sextant_memory_rss_anon_bytes', '').set(30 * 1024 * 1024);
  r.gauge('sextant_memory_working_set_bytes', '').set(40 * 1024 * 1024);
  r.gauge('sextant_memory_limit_bytes', '').set(512 * 1024 * 1024);
  r.gauge('sextant_spool_bytes', '').set(64 * 1024 * 1024);
  r.gauge('sextant_spool_capacity_bytes', '').set(256 * 1024 * 1024);
  r.gauge('sextant_spool_batches', '').set(32);
  r.gauge('sextant_export_in_flight', '').set(1);
  for (const signal of ['metrics', 'logs']) {
    r.gauge('sextant_pipeline_queue_items', '').set(signal === 'logs' ? 500 : 0, { signal });
    r.gauge('sextant_pipeline_queue_capacity_items', '').set(1000, { signal });
    r.gauge('sextant_pipeline_queue_bytes', '').set(0, { signal });
    r.gauge('sextant_pipeline_queue_capacity_bytes', '').set(1 << 20, { signal });
    requests.inc({ signal, result: 'success' }, 0);
    dropped.inc({ signal, reason: 'queue_full' }, 0);
  }
  return { r, records, bytes, dropped, requests, retries, exported, latency, cpu };
}

const scrapeOf = (r: Registry, atMs: number, status: Scrape['status'] = null): Scrape => ({ atMs, metrics: parsePrometheusText(r.render()), status });

describe('buildView', () => {
  it('rates from two scrapes, fill, drops by reason, latency over the interval, CPU %', () => {
    const a = agentRegistry();
    a.records.inc({ source: 'host' }, 100);
    a.bytes.inc({ source: 'host' }, 10_000);
    a.cpu.set(1);
    a.latency.observe(2, { signal: 'logs' });
    const first = scrapeOf(a.r, 0);
    a.records.inc({ source: 'host' }, 50);
    a.bytes.inc({ source: 'host' }, 5_000);
    a.dropped.inc({ signal: 'logs', reason: 'queue_full' }, 4);
    a.dropped.inc({ signal: 'metrics', reason: 'queue_full' }, 6);
    a.requests.inc({ signal: 'logs', result: 'success' }, 10);
    a.requests.inc({ signal: 'logs', result: 'failure' }, 1);
    a.retries.inc({ signal: 'logs' }, 3);
    for (let i = 0; i < 10; i++) a.latency.observe(0.004, { signal: 'logs' });
    a.cpu.set(1.25);
    const second = scrapeOf(a.r, 2000, { version: 1, logs: { lag: [{ path: '/var/log/pods/a/0.log', size: 5000, committed: 1000 }] } });
    const v = buildView(second, first);
    expect(v.intervalSec).toBe(2);
    expect(v.sources).toEqual([{ source: 'host', records: 150, bytes: 15_000, recordsPerSec: 25, bytesPerSec: 2500 }]);
    expect(v.rings.find((x) => x.signal === 'logs')!.fill).toBe(0.5);
    expect(v.drops).toEqual([{ reason: 'queue_full', total: 10, perSec: 5 }]);
    const logs = v.exports.find((e) => e.signal === 'logs')!;
    expect(logs.requestsPerSec).toBe(5.5);
    expect(logs.retries).toBe(3);
    expect(logs.failed).toBe(1);
    expect(logs.latencyWindow).toBe('interval');
    // The 2 s observation before the interval does not count: all ten are in (0.0025, 0.005].
    expect(logs.p99!).toBeLessThanOrEqual(0.005);
    expect(v.cpuPercent).toBeCloseTo(12.5);
    expect(v.rssBytes).toBe(100 * 1024 * 1024);
    expect(v.rssAnonBytes).toBe(30 * 1024 * 1024);
    expect(v.workingSetBytes).toBe(40 * 1024 * 1024);
    expect(v.spool).toEqual({ bytes: 64 * 1024 * 1024, capacity: 256 * 1024 * 1024, batches: 32 });
    expect(v.inFlight).toBe(1);
    expect(v.lag).toHaveLength(1);

    const text = renderView(v, { target: 'http://x', width: 120 }).join('\n');
    for (const h of ['SOURCES', 'RINGS', 'DROPS', 'EXPORT', 'CHECKPOINT LAG']) expect(text).toContain(h);
    expect(text).toContain('3.9 KiB'); // 4000 bytes behind
    expect(text).toContain('12.5%');
    expect(text).toContain('MEMORY rss 100.0 MiB   anon 30.0 MiB   working set 40.0 MiB of 512.0 MiB');
    expect(text).toContain('SPOOL  64.0 MiB of 256.0 MiB (25.0%)   32 batches waiting');
  });

  it('no rates on the first scrape or across a counter reset (agent restarted)', () => {
    const a = agentRegistry();
    a.records.inc({ source: 'host' }, 100);
    const first = scrapeOf(a.r, 0);
    expect(buildView(first, undefined).sources[0]!.recordsPerSec).toBeUndefined();
    const b = agentRegistry();
    b.records.inc({ source: 'host' }, 5);
    expect(buildView(scrapeOf(b.r, 1000), first).sources[0]!.recordsPerSec).toBeUndefined();
  });

  it('renders an empty or garbage scrape without throwing, every line within the width', () => {
    const garbage: Scrape = { atMs: 0, metrics: parsePrometheusText('\u0000\uffff{{{ 1\nx{a="1"} NaN\n'), status: null };
    const lines = renderView(buildView(garbage, undefined), { target: 'http://x', width: 40 });
    expect(lines.every((l) => l.length <= 40)).toBe(true);
    expect(lines.join('\n')).toContain('unreadable lines');
  });
});

describe('readStatus / resolveTarget / parseTopArgs', () => {
  it('fits the live screen to the terminal: the head stays, the tail is cut and counted', () => {
    const a = agentRegistry();
    const lag = Array.from({ length: 10 }, (_, i) => ({ path: `/var/log/pods/p${i}/0.log`, size: 100, committed: 100 }));
    const view = buildView(scrapeOf(a.r, 0, { version: 1, logs: { lag } }), undefined);
    const whole = renderView(view, { target: 'http://127.0.0.1:9464', width: 120 });
    const fitted = renderView(view, { target: 'http://127.0.0.1:9464', width: 120, height: 20 });
    expect(whole.length).toBeGreaterThan(20);
    expect(fitted).toHaveLength(20);
    expect(fitted.slice(0, 19)).toEqual(whole.slice(0, 19));
    expect(fitted[19]).toBe(`… ${whole.length - 19} more lines below: a taller terminal shows them`);
    expect(renderView(view, { target: 'http://127.0.0.1:9464', width: 120, height: whole.length })).toEqual(whole);
  });

  it('readStatus keeps well-formed entries only', () => {
    expect(readStatus('not json')).toBeNull();
    expect(readStatus('[1]')).toEqual({ version: 1, logs: null });
    expect(readStatus('{"logs":{"lag":[{"path":"/a","size":2,"committed":1},{"path":3},null]}}')).toEqual({ version: 1, logs: { lag: [{ path: '/a', size: 2, committed: 1 }] } });
  });

  it('resolveTarget: flag, then SEXTANT_LISTEN, then the default; 0.0.0.0 is reached on loopback', () => {
    expect(resolveTarget('http://10.0.0.1:9000/metrics', undefined).href).toBe('http://10.0.0.1:9000/');
    expect(resolveTarget(undefined, '0.0.0.0:9465').href).toBe('http://127.0.0.1:9465/');
    expect(resolveTarget(undefined, '[::]:9465').href).toBe('http://[::1]:9465/');
    expect(resolveTarget(undefined, undefined).href).toBe('http://127.0.0.1:9464/');
    expect(() => resolveTarget('ftp://x', undefined)).toThrow(/http/);
  });

  it('parseTopArgs', () => {
    expect(parseTopArgs(['--target', 'h:1', '--interval=2s'])).toEqual({ target: 'h:1', intervalMs: 2000 });
    expect(() => parseTopArgs(['--interval', '5ms'])).toThrow(/interval/);
    expect(() => parseTopArgs(['--target'])).toThrow(/needs a value/);
    expect(() => parseTopArgs(['--bogus'])).toThrow(/unknown flag/);
  });
});

describe('runTop (not on a terminal)', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function serve(handler: http.RequestListener): Promise<URL> {
    server = http.createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  function io() {
    const out = { text: '', err: '' };
    return {
      out,
      io: {
        stdout: { write: (s: string) => (out.text += s), isTTY: false },
        stderr: { write: (s: string) => (out.err += s) },
        stdin: { isTTY: false, on() {}, off() {}, resume() {}, pause() {} },
      },
    };
  }

  it('prints one table with rates from two scrapes of a real HTTP /metrics and exits 0', async () => {
    const a = agentRegistry();
    let n = 0;
    const target = await serve((req, res) => {
      if (req.url === '/metrics') {
        a.records.inc({ source: 'host' }, 100 * ++n);
        res.end(a.r.render() + 'garbage line here\n');
      } else if (req.url === '/status') res.end('{"version":1,"logs":{"lag":[]}}');
      else res.writeHead(404).end();
    });
    const t = io();
    const code = await runTop({ target, intervalMs: 200, timeoutMs: 2000 }, t.io);
    expect(code).toBe(0);
    expect(t.out.text).toContain('SOURCES');
    expect(t.out.text).toMatch(/host\s+\d+\.\d/);
    expect(t.out.text).toContain('(no files tailed)');
    expect(t.out.text).toContain('1 unreadable lines');
  });

  it('exits 1 with a clear message when the target is unreachable or not an agent', async () => {
    const t = io();
    expect(await runTop({ target: new URL('http://127.0.0.1:1'), intervalMs: 200, timeoutMs: 1000 }, t.io)).toBe(1);
    expect(t.out.err).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
    const target = await serve((_req, res) => res.writeHead(404).end());
    const t2 = io();
    expect(await runTop({ target, intervalMs: 200, timeoutMs: 1000 }, t2.io)).toBe(1);
    expect(t2.out.err).toMatch(/answered HTTP 404/);
  });

  it('through the CLI: a bad --target is a usage error (2)', async () => {
    let err = '';
    const code = await main(['top', '--target', 'ftp://nowhere'], { stdout: { write: () => true }, stderr: { write: (s: string) => (err += s) }, env: {} });
    expect(code).toBe(2);
    expect(err).toContain('http');
  });
});
