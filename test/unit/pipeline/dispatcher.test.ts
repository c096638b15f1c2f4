import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LogRecord } from '../../../src/model/log.js';
import type { MetricPoint } from '../../../src/model/metric.js';
import type { Codec } from '../../../src/pipeline/dispatcher.js';
import { createPipeline, DEFAULT_PIPELINE_CONFIG, type Pipeline, type PipelineConfig } from '../../../src/pipeline/pipeline.js';
import { Registry } from '../../../src/self/registry.js';
import { silentLogger } from '../../../src/self/logger.js';
import {
  AckRecorder,
  BAD,
  event,
  FakeTransport,
  log,
  metric,
  OK,
  settleMicrotasks,
  TOO_LARGE,
  textCodec,
  UNAVAILABLE,
} from './helpers.js';
import { until } from '../../helpers/wait.js';

type Batches = { [K in keyof PipelineConfig['batches']]?: Partial<PipelineConfig['batches'][K]> };

function config(batches: Batches = {}, maxInFlight = 2): PipelineConfig {
  const d = DEFAULT_PIPELINE_CONFIG;
  return {
    queues: d.queues,
    batches: {
      metrics: { ...d.batches.metrics, ...batches.metrics },
      logs: { ...d.batches.logs, ...batches.logs },
      events: { ...d.batches.events, ...batches.events },
    },
    maxInFlight,
  };
}

function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

interface Setup {
  pipeline: Pipeline;
  transport: FakeTransport;
  registry: Registry;
  counter(name: string, labels: Record<string, string>): number;
}

let current: Pipeline | undefined;
afterEach(() => {
  current?.stop();
  current = undefined;
  vi.useRealTimers();
});

function setup(
  cfg: PipelineConfig,
  opts: { codecs?: Partial<{ metrics: Codec<MetricPoint>; logs: Codec<LogRecord>; events: Codec<LogRecord> }>; logger?: ReturnType<typeof silentLogger>; dropLogIntervalMs?: number; now?: () => number } = {},
): Setup {
  const transport = new FakeTransport();
  const registry = new Registry();
  const pipeline = createPipeline(cfg, {
    transport,
    codecs: { metrics: textCodec, logs: textCodec, events: textCodec, ...opts.codecs },
    registry,
    logger: opts.logger ?? silentLogger(),
    exportTimeoutMs: 5000,
    dropLogIntervalMs: opts.dropLogIntervalMs,
    now: opts.now,
  });
  current = pipeline;
  const counter = (name: string, labels: Record<string, string>): number => registry.counter(name, '').get(labels);
  return { pipeline, transport, registry, counter };
}

const IMMEDIATE = { lingerMs: 0 };

describe('Dispatcher', () => {
  it('keeps at most maxInFlight requests in flight', async () => {
    const { pipeline, transport, registry } = setup(config({ logs: { maxItems: 1, ...IMMEDIATE } }, 2));
    pipeline.start();
    for (let i = 0; i < 10; i++) expect(pipeline.offerLog(log(`l${i}`))).toBe(true);
    await settleMicrotasks();
    expect(transport.pending.size).toBe(2);
    expect(registry.gauge('sextant_export_in_flight', '').get()).toBe(2);
    for (let i = 0; i < 8; i++) {
      transport.answerNext(OK);
      await settleMicrotasks();
      expect(transport.pending.size).toBe(2);
    }
    transport.answerNext(OK);
    transport.answerNext(OK);
    await settleMicrotasks();
    expect(transport.sent.map((r) => r.ids[0])).toEqual(['l0', 'l1', 'l2', 'l3', 'l4', 'l5', 'l6', 'l7', 'l8', 'l9']);
    expect(transport.maxConcurrent).toBe(2);
    expect(pipeline.stats().signals.logs.exported).toBe(10);
  });

  it('takes events before metrics and logs, and serves metrics and logs in turn', async () => {
    const { pipeline, transport } = setup(
      config({ logs: { maxItems: 1, ...IMMEDIATE }, metrics: { maxItems: 1, ...IMMEDIATE }, events: { maxItems: 1, ...IMMEDIATE } }, 1),
    );
    for (let i = 0; i < 3; i++) pipeline.offerLog(log(`log${i}`));
    for (let i = 0; i < 3; i++) pipeline.offerMetric(metric(i));
    pipeline.offerEvent(event('ev0'));
    pipeline.offerEvent(event('ev1'));
    pipeline.start();
    transport.auto = () => OK;
    await until('8 requests', () => transport.sent.length === 8, 2000);
    expect(transport.sent.map((r) => `${r.path}:${r.ids[0]}`)).toEqual([
      'logs:ev0',
      'logs:ev1',
      'metrics:0',
      'logs:log0',
      'metrics:1',
      'logs:log1',
      'metrics:2',
      'logs:log2',
    ]);
  });

  it('an event arriving while metrics wait goes out next', async () => {
    const { pipeline, transport } = setup(config({ metrics: { maxItems: 1, ...IMMEDIATE }, events: { ...IMMEDIATE } }, 1));
    pipeline.start();
    for (let i = 0; i < 5; i++) pipeline.offerMetric(metric(i));
    await settleMicrotasks();
    expect(transport.sent.length).toBe(1);
    pipeline.offerEvent(event('urgent'));
    transport.answerNext(OK);
    await settleMicrotasks();
    expect(transport.sent[1]!.ids).toEqual(['urgent']);
  });

  it('takes no new batch while one is being retried', async () => {
    const { pipeline, transport, counter } = setup(config({ logs: { maxItems: 1, ...IMMEDIATE } }, 2));
    pipeline.start();
    for (let i = 0; i < 6; i++) pipeline.offerLog(log(`l${i}`));
    await settleMicrotasks();
    expect(transport.pending.size).toBe(2);
    const [first, second] = transport.sent;
    pipeline.noteRetry('logs', first!.options);
    expect(counter('sextant_export_retries_total', { signal: 'logs' })).toBe(1);
    expect(pipeline.stats().retrying).toBe(1);
    second!.resolve(OK);
    await settleMicrotasks();
    // A slot is free, but the endpoint is struggling: nothing new goes out.
    expect(transport.sent.length).toBe(2);
    expect(transport.pending.size).toBe(1);
    first!.resolve(OK);
    await settleMicrotasks();
    expect(pipeline.stats().retrying).toBe(0);
    expect(transport.sent.length).toBe(4);
  });

  it('a retry hook without the request options holds back every batch on that path', async () => {
    const { pipeline, transport } = setup(config({ logs: { maxItems: 1, ...IMMEDIATE }, metrics: { maxItems: 1, ...IMMEDIATE } }, 2));
    pipeline.start();
    pipeline.offerLog(log('a'));
    pipeline.offerMetric(metric(1));
    pipeline.offerLog(log('b'));
    await settleMicrotasks();
    expect(transport.sent.map((r) => r.path).sort()).toEqual(['logs', 'metrics']);
    pipeline.noteRetry('logs');
    transport.sent.find((r) => r.path === 'metrics')!.resolve(OK);
    await settleMicrotasks();
    expect(transport.sent.length).toBe(2);
    transport.sent.find((r) => r.path === 'logs')!.resolve(OK);
    await settleMicrotasks();
    expect(transport.sent.length).toBe(3);
  });

  it('splits a batch answered 413 in halves, recursively, and drops a single record that is still too large', async () => {
    const { pipeline, transport, counter } = setup(config({ logs: { maxItems: 8, ...IMMEDIATE } }, 2));
    const acks = new AckRecorder();
    // The endpoint takes at most 2 records, and never the one called "huge".
    transport.auto = (req) => (req.ids.length > 2 || req.ids.includes('huge') ? TOO_LARGE : OK);
    const bodies = ['a', 'b', 'c', 'huge', 'e', 'f', 'g', 'h'];
    bodies.forEach((b, i) => pipeline.offerLog(log(b, acks, i)));
    pipeline.start();
    const res = await pipeline.flush(2000);
    expect(res).toEqual({ flushed: true, pending: 0 });
    const accepted = transport.sent.filter((r) => r.ids.length <= 2 && !r.ids.includes('huge')).flatMap((r) => r.ids);
    expect(accepted.sort()).toEqual(['a', 'b', 'e', 'f', 'g', 'h', 'c'].sort());
    // 413s: all 8; [a b c huge]; [c huge]; [huge] (dropped); [e f g h]. The rest are accepted.
    expect(counter('sextant_export_requests_total', { signal: 'logs', result: 'too_large' })).toBe(5);
    expect(counter('sextant_export_requests_total', { signal: 'logs', result: 'success' })).toBe(4);
    expect(counter('sextant_pipeline_dropped_total', { signal: 'logs', reason: 'too_large' })).toBe(1);
    expect(counter('sextant_export_records_total', { signal: 'logs' })).toBe(7);
    const byToken = acks.byToken();
    expect(byToken.size).toBe(8);
    for (const [token, calls] of byToken) expect(calls).toEqual([token !== 3]);
  });

  it('runs prepare once per batch even when the batch is split', async () => {
    let prepared = 0;
    let encoded = 0;
    const codec: Codec<LogRecord> = {
      prepare(records) {
        prepared++;
        return records;
      },
      encode(records) {
        encoded++;
        return textCodec.encode(records);
      },
    };
    const { pipeline, transport } = setup(config({ logs: { maxItems: 4, ...IMMEDIATE } }), { codecs: { logs: codec } });
    transport.auto = (req) => (req.ids.length > 1 ? TOO_LARGE : OK);
    for (let i = 0; i < 4; i++) pipeline.offerLog(log(`l${i}`));
    pipeline.start();
    await pipeline.flush(2000);
    expect(prepared).toBe(1);
    expect(encoded).toBe(7); // 4, 2, 2, 1 × 4 → 1 + 2 + 4
  });

  it('splits before sending when the real encoding exceeds maxRequestBytes', async () => {
    const { pipeline, transport, counter } = setup(config({ logs: { maxItems: 100, maxRequestBytes: 25, ...IMMEDIATE } }));
    transport.auto = () => OK;
    const acks = new AckRecorder();
    for (let i = 0; i < 10; i++) pipeline.offerLog(log(`record-${i}`, acks, i)); // 8 bytes each + newlines
    pipeline.offerLog(log('x'.repeat(30), acks, 10)); // alone it is still over 25
    pipeline.start();
    await pipeline.flush(2000);
    for (const r of transport.sent) expect(r.body.byteLength).toBeLessThanOrEqual(25);
    expect(transport.sent.flatMap((r) => r.ids).length).toBe(10);
    expect(counter('sextant_export_requests_total', { signal: 'logs', result: 'too_large' })).toBe(0);
    expect(counter('sextant_pipeline_dropped_total', { signal: 'logs', reason: 'too_large' })).toBe(1);
    expect(acks.byToken().get(10)).toEqual([false]);
    expect(acks.calls.length).toBe(11);
  });

  it('drops a rejected batch, counts it, and logs one line per burst', async () => {
    const { logger, lines } = captureLogger();
    const { pipeline, transport, counter } = setup(config({ logs: { maxItems: 2, ...IMMEDIATE } }, 2), { logger, dropLogIntervalMs: 300 });
    transport.auto = () => BAD;
    pipeline.start();
    for (let i = 0; i < 20; i++) pipeline.offerLog(log(`l${i}`));
    await pipeline.flush(2000);
    expect(counter('sextant_pipeline_dropped_total', { signal: 'logs', reason: 'rejected' })).toBe(20);
    expect(counter('sextant_export_requests_total', { signal: 'logs', result: 'failure' })).toBe(10);
    // The first drop is reported at once, the rest of the burst in one summary line later.
    const drops = () => lines.filter((l) => l.msg === 'export dropped records');
    expect(drops().length).toBe(1);
    expect(drops()[0]).toMatchObject({ signal: 'logs', count: 2, reasons: { rejected: 2 }, status: 400, detail: 'bad request' });
    await until('the summary line', () => drops().length === 2, 2000);
    expect(drops()[1]).toMatchObject({ signal: 'logs', count: 18, reasons: { rejected: 18 }, status: 400 });
    await new Promise((r) => setTimeout(r, 400));
    expect(drops().length).toBe(2);
    expect(lines.length).toBe(2);
  });

  it('a final retryable result drops the batch as retries_exhausted', async () => {
    const { pipeline, transport, counter } = setup(config({ metrics: { ...IMMEDIATE } }));
    transport.auto = () => UNAVAILABLE;
    pipeline.start();
    pipeline.offerMetric(metric(1));
    pipeline.offerMetric(metric(2));
    await pipeline.flush(2000);
    expect(counter('sextant_pipeline_dropped_total', { signal: 'metrics', reason: 'retries_exhausted' })).toBe(2);
    expect(counter('sextant_export_requests_total', { signal: 'metrics', result: 'retryable' })).toBe(1);
  });

  it('counts the rejected part of a partial success and acks the whole batch true', async () => {
    const { pipeline, transport, counter } = setup(config({ logs: { ...IMMEDIATE } }));
    transport.auto = () => ({ kind: 'success', status: 200, rejected: 3, message: 'some were invalid' });
    const acks = new AckRecorder();
    for (let i = 0; i < 10; i++) pipeline.offerLog(log(`l${i}`, acks, i));
    pipeline.start();
    await pipeline.flush(2000);
    expect(counter('sextant_export_records_total', { signal: 'logs' })).toBe(7);
    expect(counter('sextant_pipeline_dropped_total', { signal: 'logs', reason: 'rejected' })).toBe(3);
    expect(acks.calls.length).toBe(10);
    expect(acks.calls.every(([, ok]) => ok)).toBe(true);
  });

  it('a codec returning null settles the batch as delivered without a request', async () => {
    const { pipeline, transport } = setup(config({ metrics: { ...IMMEDIATE } }), { codecs: { metrics: { encode: () => null } } });
    pipeline.start();
    pipeline.offerMetric(metric(1));
    expect(await pipeline.flush(1000)).toEqual({ flushed: true, pending: 0 });
    expect(transport.sent.length).toBe(0);
  });

  it('a codec that throws drops the batch and the loop goes on', async () => {
    let calls = 0;
    const codec: Codec<LogRecord> = {
      encode(records) {
        if (calls++ === 0) throw new Error('boom');
        return textCodec.encode(records);
      },
    };
    const acks = new AckRecorder();
    const { pipeline, transport, counter } = setup(config({ logs: { maxItems: 1, ...IMMEDIATE } }), { codecs: { logs: codec } });
    transport.auto = () => OK;
    pipeline.start();
    pipeline.offerLog(log('a', acks, 1));
    pipeline.offerLog(log('b', acks, 2));
    await pipeline.flush(1000);
    expect(acks.calls).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(counter('sextant_pipeline_dropped_total', { signal: 'logs', reason: 'rejected' })).toBe(1);
  });

  it('settles every acked record exactly once across outcomes', async () => {
    const { pipeline, transport } = setup(config({ logs: { maxItems: 5, ...IMMEDIATE }, events: { maxItems: 5, ...IMMEDIATE } }, 2));
    const acks = new AckRecorder();
    let n = 0;
    transport.auto = () => {
      const k = n++ % 4;
      return k === 0 ? OK : k === 1 ? BAD : k === 2 ? TOO_LARGE : { kind: 'success', status: 200, rejected: 1, message: '' };
    };
    pipeline.start();
    let token = 0;
    for (let i = 0; i < 200; i++) {
      pipeline.offerLog(log(`l${i}`, acks, token++));
      if (i % 10 === 0) pipeline.offerEvent(event(`e${i}`, acks, token++));
      if (i % 37 === 0) await settleMicrotasks(3);
    }
    await pipeline.flush(5000);
    const byToken = acks.byToken();
    expect(byToken.size).toBe(token);
    for (const calls of byToken.values()) expect(calls.length).toBe(1);
  });

  it('flush sends everything queued regardless of linger', async () => {
    const { pipeline, transport } = setup(config({ logs: { lingerMs: 60_000 }, metrics: { lingerMs: 60_000 } }));
    transport.auto = () => OK;
    pipeline.start();
    for (let i = 0; i < 5; i++) pipeline.offerLog(log(`l${i}`));
    for (let i = 0; i < 5; i++) pipeline.offerMetric(metric(i));
    await settleMicrotasks();
    expect(transport.sent.length).toBe(0);
    const res = await pipeline.flush(1000);
    expect(res).toEqual({ flushed: true, pending: 0 });
    expect(transport.sent.length).toBe(2);
    expect(pipeline.stats().signals.metrics.exported).toBe(5);
  });

  it('flush works on a pipeline that was never started', async () => {
    const { pipeline, transport } = setup(config({ logs: { maxItems: 2 } }));
    transport.auto = () => OK;
    for (let i = 0; i < 5; i++) pipeline.offerLog(log(`l${i}`));
    expect(await pipeline.flush(1000)).toEqual({ flushed: true, pending: 0 });
    expect(transport.sent.length).toBe(3);
  });

  it('flush past its deadline aborts in-flight requests and settles the rest false', async () => {
    const { pipeline, transport, counter } = setup(config({ logs: { maxItems: 3, ...IMMEDIATE } }, 2));
    const acks = new AckRecorder();
    pipeline.start();
    for (let i = 0; i < 10; i++) pipeline.offerLog(log(`l${i}`, acks, i));
    await settleMicrotasks();
    expect(transport.pending.size).toBe(2);
    const t0 = Date.now();
    const res = await pipeline.flush(100);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(res).toEqual({ flushed: false, pending: 10 });
    expect(transport.sent.every((r) => r.options.signal?.aborted)).toBe(true);
    expect(acks.calls.length).toBe(10);
    expect(acks.calls.every(([, ok]) => !ok)).toBe(true);
    expect(counter('sextant_pipeline_dropped_total', { signal: 'logs', reason: 'shutdown' })).toBe(10);
    await settleMicrotasks();
    // The aborted requests came back: nothing settles twice, nothing is in flight.
    expect(acks.calls.length).toBe(10);
    expect(pipeline.stats().inFlight).toBe(0);
  });

  it('flush resolves even when the transport ignores the abort', async () => {
    const { pipeline, transport } = setup(config({ logs: { ...IMMEDIATE } }));
    transport.send = () => new Promise(() => {}); // never settles
    const acks = new AckRecorder();
    pipeline.start();
    pipeline.offerLog(log('a', acks, 1));
    const res = await pipeline.flush(50);
    expect(res).toEqual({ flushed: false, pending: 1 });
    expect(acks.calls).toEqual([[1, false]]);
  });

  it('arms one linger timer only while records wait', async () => {
    vi.useFakeTimers();
    const { pipeline, transport } = setup(config({ logs: { lingerMs: 1000 } }), { now: () => Date.now() });
    transport.auto = () => OK;
    pipeline.start();
    await settleMicrotasks();
    expect(vi.getTimerCount()).toBe(0);
    pipeline.offerLog(log('a'));
    pipeline.offerLog(log('b'));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(990);
    expect(transport.sent.length).toBe(0);
    await vi.advanceTimersByTimeAsync(20);
    expect(transport.sent.length).toBe(1);
    expect(transport.sent[0]!.ids).toEqual(['a', 'b']);
    await settleMicrotasks();
    expect(vi.getTimerCount()).toBe(0);
    // Idle: advancing time does nothing at all.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transport.sent.length).toBe(1);
  });

  it('a stalled endpoint leaves no timer spinning', async () => {
    vi.useFakeTimers();
    const { pipeline, transport } = setup(config({ logs: { maxItems: 2, lingerMs: 50 }, metrics: { maxItems: 2, lingerMs: 50 } }, 2), {
      now: () => Date.now(),
    });
    pipeline.start();
    for (let i = 0; i < 4; i++) pipeline.offerLog(log(`l${i}`));
    await vi.advanceTimersByTimeAsync(100);
    expect(transport.pending.size).toBe(2);
    for (let round = 0; round < 20; round++) {
      pipeline.offerMetric(metric(round));
      pipeline.offerLog(log(`late${round}`));
      await vi.advanceTimersByTimeAsync(100);
      expect(vi.getTimerCount()).toBe(0);
    }
    expect(transport.sent.length).toBe(2);
    transport.answerNext(OK);
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.sent.length).toBe(3);
  });

  it('a full batch goes out without waiting for the linger', async () => {
    const { pipeline, transport } = setup(config({ logs: { maxItems: 3, lingerMs: 60_000 } }));
    transport.auto = () => OK;
    pipeline.start();
    for (let i = 0; i < 7; i++) pipeline.offerLog(log(`l${i}`));
    await until('2 requests', () => transport.sent.length === 2, 2000);
    expect(transport.sent.map((r) => r.ids.length)).toEqual([3, 3]);
    expect(pipeline.stats().signals.logs.items).toBe(1);
  });

  it('stop aborts, drops and settles; offers afterwards queue but send nothing', async () => {
    const { pipeline, transport } = setup(config({ logs: { maxItems: 1, ...IMMEDIATE } }, 1));
    const acks = new AckRecorder();
    pipeline.start();
    for (let i = 0; i < 3; i++) pipeline.offerLog(log(`l${i}`, acks, i));
    await settleMicrotasks();
    pipeline.stop();
    expect(acks.calls.map(([t, ok]) => `${t}:${ok}`).sort()).toEqual(['0:false', '1:false', '2:false']);
    await settleMicrotasks();
    pipeline.offerLog(log('late'));
    await settleMicrotasks();
    expect(transport.sent.length).toBe(1);
  });
});
