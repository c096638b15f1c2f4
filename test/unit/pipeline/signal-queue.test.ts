import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../src/model/log.js';
import type { MetricPoint } from '../../../src/model/metric.js';
import { logRecordSize, metricPointSize } from '../../../src/model/size.js';
import { createPipelineMetrics } from '../../../src/pipeline/self-metrics.js';
import { SharedBudget, SignalQueue } from '../../../src/pipeline/signal-queue.js';
import { Registry } from '../../../src/self/registry.js';
import { AckRecorder, event, log, metric } from './helpers.js';

function setup() {
  const registry = new Registry();
  const m = createPipelineMetrics(registry);
  const dropped = registry.counter('sextant_pipeline_dropped_total', '');
  const offered = registry.counter('sextant_pipeline_offered_total', '');
  const count = (signal: string, reason: string): number => dropped.get({ signal, reason });
  return { m, count, offered };
}

describe('SignalQueue: logs refuse and drain', () => {
  it('refuses when full, then emits one drain once below half of both bounds', () => {
    const { m, count } = setup();
    const q = new SignalQueue<LogRecord>({ signal: 'logs', maxItems: 10, maxBytes: 1e6, sizeOf: logRecordSize, tallies: m.signals.logs });
    let drains = 0;
    q.on('drain', () => drains++);
    for (let i = 0; i < 10; i++) expect(q.offer(log(`l${i}`))).toBe(true);
    expect(q.offer(log('x'))).toBe(false);
    expect(q.offer(log('x'))).toBe(false);
    expect(q.needDrain).toBe(true);
    expect(q.length).toBe(10);
    const out: LogRecord[] = [];
    q.take(out, 4, Infinity); // 6 left: above the low watermark of 5
    expect(drains).toBe(0);
    q.take(out, 1, Infinity); // 5 left: at the watermark
    expect(drains).toBe(1);
    q.take(out, 5, Infinity);
    expect(drains).toBe(1); // not again without a new refusal
    expect(out.map((r) => r.body)).toEqual(['l0', 'l1', 'l2', 'l3', 'l4', 'l5', 'l6', 'l7', 'l8', 'l9']);
    expect(count('logs', 'queue_full')).toBe(0); // refused is not dropped
  });

  it('the drain watermark is on bytes too', () => {
    const q = new SignalQueue<LogRecord>({ signal: 'logs', maxItems: 1000, maxBytes: 1000, sizeOf: logRecordSize });
    let drains = 0;
    q.on('drain', () => drains++);
    const body = 'x'.repeat(152); // 200 bytes each with the 48 overhead
    for (let i = 0; i < 5; i++) expect(q.offer(log(body))).toBe(true);
    expect(q.bytes).toBe(1000);
    expect(q.offer(log(body))).toBe(false);
    q.take([], 2, Infinity); // 600 bytes left, over 500
    expect(drains).toBe(0);
    q.take([], 1, Infinity); // 400
    expect(drains).toBe(1);
  });

  it('a listener may offer again from inside drain', () => {
    const q = new SignalQueue<LogRecord>({ signal: 'logs', maxItems: 2, maxBytes: 1e6, sizeOf: logRecordSize });
    q.offer(log('a'));
    q.offer(log('b'));
    expect(q.offer(log('c'))).toBe(false);
    q.on('drain', () => expect(q.offer(log('c'))).toBe(true));
    const out: LogRecord[] = [];
    q.take(out, 1, Infinity);
    expect(q.length).toBe(2);
    q.take(out, 5, Infinity);
    expect(out.map((r) => r.body)).toEqual(['a', 'b', 'c']);
  });

  it('a record bigger than the whole byte bound is dropped, counted, acked false and never blocks', () => {
    const { m, count } = setup();
    const acks = new AckRecorder();
    const q = new SignalQueue<LogRecord>({ signal: 'logs', maxItems: 10, maxBytes: 100, sizeOf: logRecordSize, tallies: m.signals.logs });
    expect(q.offer(log('x'.repeat(53), acks, 7))).toBe(true); // 101 bytes
    expect(q.length).toBe(0);
    expect(q.needDrain).toBe(false);
    expect(count('logs', 'too_large')).toBe(1);
    expect(acks.calls).toEqual([[7, false]]);
    expect(q.offer(log('x'.repeat(52)))).toBe(true); // exactly 100 fits
    expect(q.length).toBe(1);
  });
});

describe('SignalQueue: metrics drop the oldest', () => {
  it('drops the oldest to make room and counts queue_full', () => {
    const { m, count, offered } = setup();
    const q = new SignalQueue<MetricPoint>({ signal: 'metrics', maxItems: 4, maxBytes: 1e6, sizeOf: metricPointSize, tallies: m.signals.metrics });
    for (let i = 0; i < 10; i++) expect(q.offer(metric(i))).toBe(true);
    expect(q.length).toBe(4);
    expect(count('metrics', 'queue_full')).toBe(6);
    expect(offered.get({ signal: 'metrics' })).toBe(10);
    const out: MetricPoint[] = [];
    q.take(out, 10, Infinity);
    expect(out.map((p) => p.value)).toEqual([6, 7, 8, 9]);
  });

  it('drops as many as the byte bound needs', () => {
    const { m, count } = setup();
    const q = new SignalQueue<MetricPoint>({ signal: 'metrics', maxItems: 100, maxBytes: 48 * 3, sizeOf: metricPointSize, tallies: m.signals.metrics });
    for (let i = 0; i < 3; i++) q.offer(metric(i));
    const big = metric(99, { k: 'v'.repeat(87) }); // 48 + 1 + 8 + 87 = 144: needs the whole queue
    expect(metricPointSize(big)).toBe(144);
    q.offer(big);
    expect(q.length).toBe(1);
    expect(count('metrics', 'queue_full')).toBe(3);
    expect(q.bytes).toBe(144);
  });
});

describe('SignalQueue: events before metrics', () => {
  function pair(sharedBytes: number, eventItems = 100, eventBytes = 1e6) {
    const { m, count } = setup();
    const budget = new SharedBudget(sharedBytes);
    const metrics = new SignalQueue<MetricPoint>({ signal: 'metrics', maxItems: 1000, maxBytes: 1e6, sizeOf: metricPointSize, budget, tallies: m.signals.metrics });
    const events = new SignalQueue<LogRecord>({
      signal: 'events',
      maxItems: eventItems,
      maxBytes: eventBytes,
      sizeOf: logRecordSize,
      budget,
      evictFrom: metrics as SignalQueue<unknown>,
      tallies: m.signals.events,
    });
    return { metrics, events, budget, count };
  }

  it('an event that finds no room evicts the oldest metrics first', () => {
    const { metrics, events, budget, count } = pair(48 * 10);
    for (let i = 0; i < 10; i++) metrics.offer(metric(i));
    expect(budget.used).toBe(480);
    const e = event('x'.repeat(52) /* 48 + 52 + 9 = 109 bytes */);
    expect(events.offer(e)).toBe(true);
    expect(events.length).toBe(1);
    expect(metrics.length).toBe(7); // 3 × 48 = 144 >= 109
    expect(count('metrics', 'evicted_for_events')).toBe(3);
    expect(count('events', 'queue_full')).toBe(0);
    const out: MetricPoint[] = [];
    metrics.take(out, 100, Infinity);
    expect(out[0]!.value).toBe(3);
    expect(budget.used).toBe(109);
  });

  it('drops the oldest event only when no metric is left', () => {
    const acks = new AckRecorder();
    const { metrics, events, count } = pair(300);
    metrics.offer(metric(1));
    for (let i = 0; i < 4; i++) expect(events.offer(event(`e${i}`, acks, i))).toBe(true); // 48+2+9 = 59 each
    // 48 + 4 × 59 = 284; a 5th event (59) would make 343: the metric goes, leaving 236 + 59 = 295.
    expect(events.offer(event('e4', acks, 4))).toBe(true);
    expect(metrics.length).toBe(0);
    expect(count('metrics', 'evicted_for_events')).toBe(1);
    expect(count('events', 'queue_full')).toBe(0);
    expect(events.offer(event('e5', acks, 5))).toBe(true); // 6 × 59 = 354 > 300: drop e0
    expect(count('events', 'queue_full')).toBe(1);
    expect(acks.calls).toEqual([[0, false]]);
    const out: LogRecord[] = [];
    events.take(out, 100, Infinity);
    expect(out.map((r) => r.body)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
  });

  it('metrics lose to events holding the budget: the new point is dropped', () => {
    const { metrics, events, count } = pair(200);
    for (let i = 0; i < 3; i++) events.offer(event(`e${i}`)); // 177 bytes
    expect(metrics.offer(metric(1))).toBe(true); // 48 more would be 225 > 200
    expect(metrics.length).toBe(0);
    expect(events.length).toBe(3);
    expect(count('metrics', 'queue_full')).toBe(1);
  });

  it("the events' own item bound drops the oldest event even with metrics present", () => {
    const { metrics, events, count } = pair(1e6, 2);
    metrics.offer(metric(1));
    events.offer(event('a'));
    events.offer(event('b'));
    events.offer(event('c'));
    expect(metrics.length).toBe(1);
    expect(count('events', 'queue_full')).toBe(1);
    const out: LogRecord[] = [];
    events.take(out, 10, Infinity);
    expect(out.map((r) => r.body)).toEqual(['b', 'c']);
  });

  it('an event larger than the shared budget is too_large', () => {
    const { events, count } = pair(100);
    expect(events.offer(event('x'.repeat(100)))).toBe(true);
    expect(events.length).toBe(0);
    expect(count('events', 'too_large')).toBe(1);
  });
});

describe('SignalQueue: take and bookkeeping', () => {
  it('take honours items and bytes but always moves at least one', () => {
    const q = new SignalQueue<MetricPoint>({ signal: 'metrics', maxItems: 100, maxBytes: 1e6, sizeOf: metricPointSize });
    for (let i = 0; i < 10; i++) q.offer(metric(i));
    const out: MetricPoint[] = [];
    expect(q.take(out, 3, Infinity)).toBe(144);
    expect(out.length).toBe(3);
    expect(q.take(out, 100, 100)).toBe(96); // two of 48 fit in 100
    expect(out.length).toBe(5);
    expect(q.take(out, 100, 10)).toBe(48); // one even though it exceeds
    expect(q.length).toBe(4);
  });

  it('stamps each record no later than its offer, reading the clock at least every 32 offers', () => {
    let t = 1000;
    let reads = 0;
    const now = (): number => {
      reads++;
      return t;
    };
    const q = new SignalQueue<MetricPoint>({ signal: 'metrics', maxItems: 1000, maxBytes: 1e6, sizeOf: metricPointSize, now });
    expect(q.oldestAt).toBeNaN();
    const offeredAt: number[] = [];
    for (let i = 0; i < 200; i++) {
      offeredAt.push(t);
      q.offer(metric(i));
      t += 10;
    }
    expect(reads).toBeLessThanOrEqual(Math.ceil(200 / 32) + 1);
    for (let i = 0; i < 200; i++) {
      // Never later than the true time (a batch is cut early, never late), and at most 32 offers stale.
      expect(q.oldestAt).toBeLessThanOrEqual(offeredAt[i]!);
      expect(q.oldestAt).toBeGreaterThanOrEqual(offeredAt[Math.max(0, i - 32)]!);
      q.take([], 1, Infinity);
    }
    expect(q.oldestAt).toBeNaN();
  });

  it('reads the clock exactly when an empty queue gets its first record', () => {
    let t = 1000;
    const q = new SignalQueue<MetricPoint>({ signal: 'metrics', maxItems: 4, maxBytes: 1e6, sizeOf: metricPointSize, now: () => t });
    q.offer(metric(1));
    expect(q.oldestAt).toBe(1000);
    t = 5000;
    q.offer(metric(2));
    q.dropAll('shutdown');
    expect(q.oldestAt).toBeNaN();
    t = 7000;
    q.offer(metric(3));
    expect(q.oldestAt).toBe(7000);
    // Drop-oldest keeps the stamps in step with the records.
    for (let i = 0; i < 4; i++) q.offer(metric(4 + i));
    expect(q.length).toBe(4);
    expect(q.oldestAt).toBe(7000);
  });

  it('dropAll counts and settles acks false', () => {
    const { m, count } = setup();
    const acks = new AckRecorder();
    const q = new SignalQueue<LogRecord>({ signal: 'logs', maxItems: 10, maxBytes: 1e6, sizeOf: logRecordSize, tallies: m.signals.logs });
    q.offer(log('a', acks, 1));
    q.offer(log('b'));
    expect(q.dropAll('shutdown')).toBe(2);
    expect(count('logs', 'shutdown')).toBe(2);
    expect(acks.calls).toEqual([[1, false]]);
    expect(q.bytes).toBe(0);
  });
});
