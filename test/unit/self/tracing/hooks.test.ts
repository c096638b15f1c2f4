import { describe, expect, it } from 'vitest';
import { CollectionScheduler } from '../../../../src/agent/scheduler.js';
import { RetryingTransport } from '../../../../src/export/retrying-transport.js';
import type { ExportResult, OtlpSignal, SendOptions, Transport } from '../../../../src/export/types.js';
import { createResource, createScope, defineMetric, type LogRecord, type MetricPoint } from '../../../../src/model/index.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { SourceTally } from '../../../../src/pipeline/source-tally.js';
import type { CycleSpan, CycleTracer, SourceSpan } from '../../../../src/self/tracing/hooks.js';
import type { ExportObserver, ExportSpan } from '../../../../src/export/types.js';
import type { RecordSink, Source } from '../../../../src/sources/types.js';
import { ArraySink } from '../../../helpers/array-sink.js';

/** Records every hook call as a line, in order. */
class RecordingTracer implements CycleTracer, ExportObserver {
  readonly calls: string[] = [];
  startCycle(cycle: number): CycleSpan {
    this.calls.push(`cycle ${cycle}`);
    const calls = this.calls;
    return {
      startSource(source: string): SourceSpan {
        calls.push(`start ${source}`);
        return {
          end: (o) => calls.push(`end ${source} records=${o.records} bytes>0=${o.bytes > 0} error=${o.error?.message ?? ''} skipped=${o.skipped === true}`),
        };
      },
      end: () => calls.push(`cycle end ${cycle}`),
    };
  }
  start(signal: OtlpSignal, bytes: number): ExportSpan {
    this.calls.push(`export ${signal} ${bytes}`);
    const calls = this.calls;
    return {
      retry: (r, attempt, delay) => calls.push(`retry ${r.status} attempt=${attempt} delay=${delay}`),
      end: (r, attempts) => calls.push(`end ${r.kind} ${r.status} attempts=${attempts}`),
    };
  }
}

const resource = createResource({ 'host.name': 'h' });
const scope = createScope('test', '0');
const GAUGE = defineMetric({ name: 'test.gauge', unit: '1', description: '', kind: 'gauge', monotonic: false, valueType: 'int' });
const point = (v: number): MetricPoint => ({ descriptor: GAUGE, resource, scope, attributes: { a: 'b' }, startTimeUnixNano: 0n, timeUnixNano: 1n, value: v });
const log = (body: string): LogRecord => ({ resource, scope, timeUnixNano: 0n, observedTimeUnixNano: 0n, severityNumber: 9, severityText: 'INFO', body, attributes: {}, eventName: '' });

class PointSource implements Source {
  constructor(
    readonly name: string,
    readonly n: number,
    readonly fail = false,
  ) {}
  async collect(sink: RecordSink): Promise<void> {
    for (let i = 0; i < this.n; i++) sink.offerMetric(point(i));
    if (this.fail) throw new Error('no /proc');
  }
  async stop(): Promise<void> {}
}

describe('collection cycle hooks', () => {
  it('a span per cycle, a child per source with what it offered, errors on the child', async () => {
    const tracer = new RecordingTracer();
    const registry = new Registry();
    const sink = new ArraySink();
    const s = new CollectionScheduler([new PointSource('host', 3), new PointSource('broken', 1, true)], sink, 100_000, { registry, logger: silentLogger(), tracer });
    await s.runOnce();
    await s.runOnce();
    expect(tracer.calls.slice(0, 6)).toEqual([
      'cycle 1',
      'start host',
      'start broken',
      'end host records=3 bytes>0=true error= skipped=false',
      'end broken records=1 bytes>0=true error=no /proc skipped=false',
      'cycle end 1',
    ]);
    // Per-cycle figures start again at 0; the counters keep the totals.
    expect(tracer.calls[9]).toBe('end host records=3 bytes>0=true error= skipped=false');
    expect(registry.counter('sextant_source_records_total', '').get({ source: 'host' })).toBe(6);
    expect(registry.counter('sextant_source_bytes_total', '').get({ source: 'host' })).toBeGreaterThan(0);
    expect(sink.metrics.length).toBe(8);
  });

  it('runs unchanged without a tracer', async () => {
    const sink = new ArraySink();
    const s = new CollectionScheduler([new PointSource('host', 2)], sink, 100_000, { registry: new Registry(), logger: silentLogger() });
    await s.runOnce();
    expect(sink.metrics.length).toBe(2);
  });

  it('sinkFor gives a streaming source its counting sink', () => {
    const registry = new Registry();
    const stream: Source = { name: 'logs', start() {}, async stop() {} };
    const s = new CollectionScheduler([stream], new ArraySink(), 100_000, { registry, logger: silentLogger() });
    const sink = s.sinkFor(stream);
    sink.offerLog(log('hello'));
    expect(registry.counter('sextant_source_records_total', '').get({ source: 'logs' })).toBe(1);
  });
});

describe('SourceTally', () => {
  it('counts only what the pipeline took (a refused log is offered again later)', () => {
    const registry = new Registry();
    let accept = false;
    const inner: RecordSink = { offerMetric: () => accept, offerLog: () => accept, offerEvent: () => accept, onLogsDrain() {} };
    const t = new SourceTally(inner, 'logs', registry);
    expect(t.offerLog(log('x'))).toBe(false);
    accept = true;
    expect(t.offerLog(log('x'))).toBe(true);
    expect(t.offerEvent(log('e'))).toBe(true);
    expect(t.offerMetric(point(1))).toBe(true);
    expect(registry.counter('sextant_source_records_total', '').get({ source: 'logs' })).toBe(3);
    expect(t.cycleRecords).toBe(3);
  });
});

/** Answers from a script, one per attempt. */
class ScriptedTransport implements Transport {
  constructor(readonly script: ExportResult[]) {}
  async send(_s: OtlpSignal, _b: Uint8Array, _o: SendOptions): Promise<ExportResult> {
    return this.script.shift() ?? { kind: 'success', status: 200, rejected: 0, message: '' };
  }
  async close(): Promise<void> {}
}

const policy = { initialBackoffMs: 1, maxBackoffMs: 2, multiplier: 2, maxElapsedMs: 0 };
const r503: ExportResult = { kind: 'retryable', status: 503, retryAfterMs: undefined, reason: 'HTTP 503' };

describe('export request hooks', () => {
  it('one span per request: its retries, final status and attempt count', async () => {
    const tracer = new RecordingTracer();
    const t = new RetryingTransport(new ScriptedTransport([r503, r503]), policy, { observer: tracer }, () => 0.5);
    const res = await t.send('logs', new Uint8Array(1234), { timeoutMs: 1000 });
    expect(res.kind).toBe('success');
    expect(tracer.calls).toEqual(['export logs 1234', 'retry 503 attempt=1 delay=1', 'retry 503 attempt=2 delay=1', 'end success 200 attempts=3']);
  });

  it('ends the span on a permanent failure and on giving up', async () => {
    const tracer = new RecordingTracer();
    const fail: ExportResult = { kind: 'failure', status: 400, reason: 'HTTP 400' };
    const t = new RetryingTransport(new ScriptedTransport([fail]), policy, { observer: tracer });
    await t.send('metrics', new Uint8Array(10), { timeoutMs: 1000 });
    expect(tracer.calls).toEqual(['export metrics 10', 'end failure 400 attempts=1']);

    const aborted = new AbortController();
    aborted.abort();
    const tracer2 = new RecordingTracer();
    const t2 = new RetryingTransport(new ScriptedTransport([r503]), policy, { observer: tracer2 });
    await t2.send('metrics', new Uint8Array(10), { timeoutMs: 1000, signal: aborted.signal });
    expect(tracer2.calls).toEqual(['export metrics 10', 'end retryable 503 attempts=1']);
  });
});
