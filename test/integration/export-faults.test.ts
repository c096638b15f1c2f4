import v8 from 'node:v8';
import vm from 'node:vm';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpTransport, LogsEncoder, MetricsEncoder, RetryingTransport } from '../../src/export/index.js';
import { DEFAULT_GATEWAY_CONFIG, startGateway, type Gateway } from '../../src/gateway/index.js';
import { createResource, createScope, defineMetric, nowUnixNano, type MetricPoint } from '../../src/model/index.js';
import { createPipeline, DEFAULT_PIPELINE_CONFIG, type Pipeline, type PipelineConfig } from '../../src/pipeline/index.js';
import { silentLogger } from '../../src/self/logger.js';
import { Registry } from '../../src/self/registry.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { lineNumber, NumberedLogs, storedLogBodies } from './helpers/numbered-logs.js';
import { until } from '../helpers/wait.js';

/**
 * The agent's export path end to end over loopback — real pipeline, real HTTP transport with
 * retries, a real fault-injecting proxy, the real gateway storing what it accepts — under the
 * faults an endpoint shows: down, 503 with Retry-After, runs of 429/502/504, slow answers, reset
 * connections, 400 and 413 rejections, and an outage long enough to fill the queues. The
 * invariant checked everywhere: every record the pipeline acknowledged
 * is in the gateway's store.
 */

const TOKEN = 'itest-token-0123456789';
const secret = (v: string) => ({ reveal: () => v });

interface Rig {
  dataDir: string;
  gateway: Gateway;
  proxy: FaultProxy;
  registry: Registry;
  pipeline: Pipeline;
  close(): Promise<void>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  await Promise.all(rigs.splice(0).map((r) => r.close()));
});

async function rig(overrides: { pipeline?: Partial<PipelineConfig>; exportTimeoutMs?: number } = {}): Promise<Rig> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sextant-faults-'));
  const gateway = await startGateway(
    // The evidence is read from the NDJSON files (off by default since the embedded store).
    { ...DEFAULT_GATEWAY_CONFIG, listen: '127.0.0.1:0', tokens: [secret(TOKEN)], dataDir, ndjson: true },
    { registry: new Registry(), logger: silentLogger() },
  );
  const proxy = await startFaultProxy(gateway.url);
  const registry = new Registry();
  const logger = silentLogger();
  const http = new HttpTransport({ endpoint: proxy.url, headers: {}, apiToken: secret(TOKEN), compression: 'gzip', userAgent: 'sextant-itest', logger });
  let pipeline: Pipeline | undefined;
  const transport = new RetryingTransport(
    http,
    { initialBackoffMs: 50, maxBackoffMs: 400, multiplier: 2, maxElapsedMs: 0 },
    { onRetry: (signal, _result, _attempt, _delay, sendOptions) => pipeline?.noteRetry(signal, sendOptions) },
  );
  const logsEncoder = new LogsEncoder();
  const metricsEncoder = new MetricsEncoder();
  pipeline = createPipeline(
    { ...DEFAULT_PIPELINE_CONFIG, ...overrides.pipeline },
    {
      transport,
      codecs: {
        metrics: { encode: (p) => metricsEncoder.encode(p, 'cumulative') },
        logs: { encode: (r) => logsEncoder.encode(r) },
        events: { encode: (r) => logsEncoder.encode(r) },
      },
      registry,
      logger,
      exportTimeoutMs: overrides.exportTimeoutMs ?? 5_000,
    },
  );
  pipeline.start();
  const r: Rig = {
    dataDir,
    gateway,
    proxy,
    registry,
    pipeline,
    async close() {
      await pipeline!.flush(100);
      pipeline!.stop();
      await transport.close();
      await proxy.close();
      await gateway.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  rigs.push(r);
  return r;
}

/** Closes the gateway (flushing its store) and returns the line numbers it stored. */
async function stored(r: Rig): Promise<number[]> {
  await r.gateway.close();
  return (await storedLogBodies(r.dataDir)).map(lineNumber);
}

function expectAllAckedStored(logs: NumberedLogs, storedNumbers: number[]): void {
  const have = new Set(storedNumbers);
  const missing = [...logs.acked].filter((n) => !have.has(n));
  expect(missing, `acknowledged but not stored: ${missing.slice(0, 10).join(',')}`).toEqual([]);
  expect(logs.settledTwice).toBe(0);
}

describe('export under faults (real gateway over loopback)', () => {
  it('delivers everything exactly once on a healthy path', async () => {
    const r = await rig();
    const logs = new NumberedLogs(5_000);
    await logs.run(r.pipeline);
    await until('all lines settled', () => logs.settled === logs.count, 20_000);
    expect(logs.acked.size).toBe(logs.count);
    const got = await stored(r);
    expect(got.length).toBe(logs.count);
    expectAllAckedStored(logs, got);
  });

  it('holds everything while the endpoint is down, then delivers it when it comes back', async () => {
    const r = await rig();
    await r.proxy.down();
    const logs = new NumberedLogs(3_000);
    await logs.run(r.pipeline);
    // Held across several retries (50 → 400 ms backoff: about 1.5 s), none acked, none given up.
    await until('5 retries against the closed endpoint', () => r.registry.counter('sextant_export_retries_total', '').sum() >= 5);
    expect(logs.acked.size).toBe(0);
    expect(logs.nacked.size).toBe(0);
    await r.proxy.up();
    await until('all lines settled after the outage', () => logs.settled === logs.count, 20_000);
    expect(logs.acked.size).toBe(logs.count);
    expectAllAckedStored(logs, await stored(r));
  });

  it('honours Retry-After on 503 and delivers afterwards', async () => {
    const r = await rig();
    r.proxy.set({ kind: 'status', status: 503, headers: { 'retry-after': '1' } }, 1);
    const logs = new NumberedLogs(200);
    await logs.run(r.pipeline);
    await until('all lines settled', () => logs.settled === logs.count, 20_000);
    expect(logs.acked.size).toBe(logs.count);
    const [first, second] = r.proxy.seen;
    expect(first!.outcome).toBe(503);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    expectAllAckedStored(logs, await stored(r));
  });

  it('retries 429 and a run of 502/504 with backoff alone (no Retry-After, as Dynatrace answers)', async () => {
    const r = await rig();
    r.proxy.set({ kind: 'status', status: 429 }, 2);
    const logs = new NumberedLogs(300);
    await logs.run(r.pipeline);
    await until('settled after 429s', () => logs.settled === logs.count, 20_000);
    r.proxy.set({ kind: 'status', status: 502 }, 1);
    const more = new NumberedLogs(300);
    await more.run(r.pipeline);
    await until('settled after 502', () => more.settled === more.count, 20_000);
    expect(logs.acked.size + more.acked.size).toBe(600);
    expect(r.proxy.seen.filter((s) => s.outcome === 429)).toHaveLength(2);
  });

  it('times out a slow endpoint, retries, and keeps every acknowledged line (duplicates allowed)', async () => {
    const r = await rig({ exportTimeoutMs: 500 });
    r.proxy.set({ kind: 'slow', delayMs: 1_500 }, 2);
    const logs = new NumberedLogs(500);
    await logs.run(r.pipeline);
    await until('settled after slow responses', () => logs.settled === logs.count, 30_000);
    expect(logs.acked.size).toBe(logs.count);
    expectAllAckedStored(logs, await stored(r));
  });

  it('survives connection resets mid-request', async () => {
    const r = await rig();
    r.proxy.set({ kind: 'reset' }, 3);
    const logs = new NumberedLogs(1_000);
    await logs.run(r.pipeline);
    await until('settled after resets', () => logs.settled === logs.count, 20_000);
    expect(logs.acked.size).toBe(logs.count);
    expect(r.proxy.seen.filter((s) => s.outcome === 'reset').length).toBe(3);
    expectAllAckedStored(logs, await stored(r));
  });

  it('drops a batch the endpoint rejects with 400, counts it, and nacks exactly those lines', async () => {
    const r = await rig();
    r.proxy.set({ kind: 'status', status: 400, body: 'bad request' }, 1);
    const logs = new NumberedLogs(100);
    await logs.run(r.pipeline);
    await until('settled after a 400', () => logs.settled === logs.count, 20_000);
    expect(logs.nacked.size).toBeGreaterThan(0);
    expect(logs.acked.size + logs.nacked.size).toBe(logs.count);
    expect(r.registry.counter('sextant_pipeline_dropped_total', '').get({ signal: 'logs', reason: 'rejected' })).toBe(logs.nacked.size);
    const got = await stored(r);
    expectAllAckedStored(logs, got);
    for (const n of logs.nacked) expect(got).not.toContain(n);
  });

  it('splits a batch in half on 413 until the endpoint takes it', async () => {
    const r = await rig();
    r.proxy.set({ kind: 'status', status: 413 }, 2);
    const logs = new NumberedLogs(1_000);
    await logs.run(r.pipeline);
    await until('settled after 413s', () => logs.settled === logs.count, 20_000);
    expect(logs.acked.size).toBe(logs.count);
    expect(r.registry.counter('sextant_export_requests_total', '').get({ signal: 'logs', result: 'too_large' })).toBe(2);
    expectAllAckedStored(logs, await stored(r));
  });

  it('keeps memory bounded while an outage fills the rings, and pushes back on the producer', async () => {
    const MiB = 1024 * 1024;
    const r = await rig({
      pipeline: {
        queues: { ...DEFAULT_PIPELINE_CONFIG.queues, logs: { maxItems: 20_000, maxBytes: 4 * MiB }, metrics: { maxItems: 10_000, maxBytes: 4 * MiB }, sharedMetricsEventsBytes: 4 * MiB },
      },
    });
    await r.proxy.down();
    // Retained memory is what "bounded" means: garbage not yet collected (the million transient
    // points) is not, and how much of it is around depends on the machine's load. Heap figures
    // are taken right after a full GC (exposed at runtime; vitest's workers start without it).
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage.rss();

    // 50,000 lines of 1 KiB (~50 MiB) offered into a 4 MiB logs ring: the producer must stall.
    const logs = new NumberedLogs(50_000, 1024);
    const producing = logs.run(r.pipeline);
    // 1,000,000 metric points into a 10,000-point ring: the oldest are dropped and counted.
    const resource = createResource({ 'host.name': 'itest' });
    const scope = createScope('sextant/itest', '0');
    const gauge = defineMetric({ name: 'sextant.itest.value', unit: '1', description: '', kind: 'gauge', monotonic: false, valueType: 'double' });
    const attrs = Object.freeze({ k: 'v' });
    let peakHeap = 0;
    let peakRss = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const p: MetricPoint = { descriptor: gauge, resource, scope, attributes: attrs, startTimeUnixNano: 0n, timeUnixNano: nowUnixNano(), value: i };
      r.pipeline.offerMetric(p);
      if (i % 50_000 === 0) {
        await new Promise((res) => setImmediate(res));
        gc();
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
      }
    }
    await new Promise((res) => setTimeout(res, 1_000));
    gc();
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    peakRss = Math.max(peakRss, process.memoryUsage.rss());

    const stats = r.pipeline.stats();
    expect(logs.offered).toBeLessThan(logs.count); // the producer was pushed back
    expect(stats.signals.logs.bytes).toBeLessThanOrEqual(4 * MiB);
    expect(stats.signals.metrics.items).toBeLessThanOrEqual(10_000);
    expect(r.registry.counter('sextant_pipeline_dropped_total', '').get({ signal: 'metrics', reason: 'queue_full' })).toBeGreaterThan(900_000);
    // Two 4 MiB rings plus in-flight batches and their encodings: far below what was offered.
    const heapGrowth = (peakHeap - heapBefore) / MiB;
    const rssGrowth = (peakRss - rssBefore) / MiB;
    console.log(`outage memory: heap +${heapGrowth.toFixed(1)} MiB, rss +${rssGrowth.toFixed(1)} MiB; offered ${logs.offered} of ${logs.count} log lines`);
    expect(heapGrowth).toBeLessThan(24); // retained: two 4 MiB rings plus in-flight batches
    expect(rssGrowth).toBeLessThan(128);

    await r.proxy.up();
    await producing;
    await until('all 50,000 lines settled after the outage', () => logs.settled === logs.count, 120_000);
    expect(logs.acked.size).toBe(logs.count);
  }, 180_000);
});
