import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { createPipeline, DEFAULT_PIPELINE_CONFIG, type PipelineConfig } from '../../../src/pipeline/pipeline.js';
import { Registry } from '../../../src/self/registry.js';
import { silentLogger } from '../../../src/self/logger.js';
import { event, FakeTransport, log, metric, OK, settleMicrotasks, textCodec } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function make(config: PipelineConfig = DEFAULT_PIPELINE_CONFIG) {
  const transport = new FakeTransport();
  const registry = new Registry();
  const pipeline = createPipeline(config, {
    transport,
    codecs: { metrics: textCodec, logs: textCodec, events: textCodec },
    registry,
    logger: silentLogger(),
    exportTimeoutMs: 1000,
  });
  return { transport, registry, pipeline };
}

describe('createPipeline', () => {
  it('the defaults stay inside the Dynatrace OTLP request limits', () => {
    const b = DEFAULT_PIPELINE_CONFIG.batches;
    expect(b.metrics.maxItems).toBeLessThanOrEqual(15_000);
    expect(b.metrics.maxRequestBytes).toBeLessThanOrEqual(4_000_000);
    expect(b.metrics.maxBytes).toBeLessThan(b.metrics.maxRequestBytes);
    expect(b.logs.maxRequestBytes).toBeLessThanOrEqual(2_000_000);
    expect(b.events.maxRequestBytes).toBeLessThanOrEqual(2_000_000);
    expect(b.logs.maxBytes).toBeLessThan(b.logs.maxRequestBytes);
    expect(DEFAULT_PIPELINE_CONFIG.maxInFlight).toBe(2);
  });

  it('validates the config, naming the key', () => {
    const bad = (patch: (c: { -readonly [K in keyof PipelineConfig]: any }) => void, key: string): void => {
      const c = structuredClone(DEFAULT_PIPELINE_CONFIG) as any;
      patch(c);
      expect(() => make(c)).toThrow(ConfigError);
      expect(() => make(c)).toThrow(key);
    };
    // The key named is the one the user sets (agent/run.ts pipelineConfigFrom), not the option's name.
    bad((c) => (c.maxInFlight = 0), 'export.maxInFlight');
    bad((c) => (c.queues.logs.maxItems = 1.5), 'pipeline.logs.maxItems');
    bad((c) => (c.queues.events.maxBytes = -1), 'pipeline.events.maxBytes');
    bad((c) => (c.batches.metrics.lingerMs = Number.NaN), 'batch.metrics.linger');
    bad((c) => (c.batches.logs.maxRequestBytes = 0), 'batch.logs.maxBytes');
    bad((c) => (c.queues.sharedMetricsEventsBytes = 'x'), 'pipeline.metrics.maxBytes');
  });

  it('registers its self-metrics with bounded labels', async () => {
    const { pipeline, registry, transport } = make({
      ...DEFAULT_PIPELINE_CONFIG,
      batches: { ...DEFAULT_PIPELINE_CONFIG.batches, logs: { ...DEFAULT_PIPELINE_CONFIG.batches.logs, lingerMs: 0 } },
    });
    transport.auto = () => OK;
    pipeline.start();
    pipeline.offerLog(log('hello'));
    pipeline.offerMetric(metric(1));
    await pipeline.flush(1000);
    const text = registry.render();
    for (const name of [
      'sextant_pipeline_queue_items{signal="logs"} 0',
      'sextant_pipeline_queue_bytes{signal="metrics"} 0',
      'sextant_pipeline_queue_capacity_items{signal="metrics"} 50000',
      `sextant_pipeline_queue_capacity_bytes{signal="events"} ${2 * 1024 * 1024}`,
      'sextant_pipeline_offered_total{signal="logs"} 1',
      'sextant_pipeline_dropped_total{reason="queue_full",signal="metrics"} 0',
      'sextant_export_records_total{signal="logs"} 1',
      'sextant_export_requests_total{result="success",signal="metrics"} 1',
      'sextant_export_retries_total{signal="events"} 0',
      'sextant_export_in_flight 0',
      'sextant_export_latency_seconds_count{signal="logs"} 1',
      'sextant_export_bytes_total{signal="logs"} 5',
    ]) {
      expect(text).toContain(name);
    }
  });

  it('onLogsDrain tells a refused producer when to resume, and can be unsubscribed', async () => {
    const cfg: PipelineConfig = {
      ...DEFAULT_PIPELINE_CONFIG,
      queues: { ...DEFAULT_PIPELINE_CONFIG.queues, logs: { maxItems: 4, maxBytes: 1e6 } },
      batches: { ...DEFAULT_PIPELINE_CONFIG.batches, logs: { ...DEFAULT_PIPELINE_CONFIG.batches.logs, maxItems: 3, lingerMs: 0 } },
      maxInFlight: 1,
    };
    const { pipeline, transport } = make(cfg);
    let drains = 0;
    const off = pipeline.onLogsDrain(() => drains++);
    let i = 0;
    while (pipeline.offerLog(log(`l${i}`))) i++;
    expect(i).toBe(4);
    pipeline.start();
    await settleMicrotasks();
    expect(transport.sent.length).toBe(1); // took 3 of 4: below half, drain
    expect(drains).toBe(1);
    off();
    while (pipeline.offerLog(log(`l${i}`))) i++;
    transport.answerNext(OK);
    await settleMicrotasks();
    expect(drains).toBe(1);
  });

  it('stays within its bounds when 1,000,000 metrics meet a stalled endpoint', async () => {
    const { pipeline, transport } = make();
    pipeline.start();
    const q = DEFAULT_PIPELINE_CONFIG.queues.metrics;
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let maxItems = 0;
    let maxBytes = 0;
    const N = 1_000_000;
    for (let i = 0; i < N; i++) {
      if (!pipeline.offerMetric(metric(i))) throw new Error('metrics never refuse');
      if ((i & 1023) === 0) {
        const s = pipeline.stats().signals.metrics;
        maxItems = Math.max(maxItems, s.items);
        maxBytes = Math.max(maxBytes, s.bytes);
        if ((i & 65535) === 0) await settleMicrotasks(); // let the dispatcher take what it may
      }
    }
    await settleMicrotasks();
    const s = pipeline.stats();
    const m = s.signals.metrics;
    maxItems = Math.max(maxItems, m.items);
    expect(maxItems).toBeLessThanOrEqual(q.maxItems);
    expect(maxBytes).toBeLessThanOrEqual(q.maxBytes);
    expect(m.items).toBe(q.maxItems);
    // Two batches went out and hang; everything else is either queued or counted as dropped.
    expect(transport.pending.size).toBe(2);
    const inFlight = transport.sent.reduce((n, r) => n + r.ids.length, 0);
    expect(inFlight).toBe(2 * DEFAULT_PIPELINE_CONFIG.batches.metrics.maxItems);
    expect(m.offered).toBe(N);
    expect(m.dropped).toBe(N - m.items - inFlight);
    gc();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    // 50,000 queued + 20,000 in flight points of ~200 bytes each, with generous slack.
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    pipeline.stop();
    expect(pipeline.stats().signals.metrics.items).toBe(0);
  }, 20_000);

  it('events keep flowing into a stalled pipeline full of metrics', async () => {
    const { pipeline } = make();
    const padding = 'user'.padEnd(400, '-'); // ~460 bytes a point: 50,000 of them overfill 16 MiB
    for (let i = 0; i < 100_000; i++) pipeline.offerMetric(metric(i, { cpu: String(i % 64), state: padding }));
    const before = pipeline.stats();
    expect(before.signals.metrics.dropped).toBeGreaterThan(0);
    expect(before.sharedBytesUsed).toBeGreaterThan(DEFAULT_PIPELINE_CONFIG.queues.sharedMetricsEventsBytes - 500);
    expect(before.sharedBytesUsed).toBeLessThanOrEqual(DEFAULT_PIPELINE_CONFIG.queues.sharedMetricsEventsBytes);
    for (let i = 0; i < 1000; i++) expect(pipeline.offerEvent(event(`event ${i} `.padEnd(400, '.')))).toBe(true);
    const after = pipeline.stats();
    expect(after.signals.events.items).toBe(1000);
    expect(after.signals.events.dropped).toBe(0);
    expect(after.signals.metrics.items).toBeLessThan(before.signals.metrics.items);
    expect(after.sharedBytesUsed).toBeLessThanOrEqual(DEFAULT_PIPELINE_CONFIG.queues.sharedMetricsEventsBytes);
    pipeline.stop();
  });
});
