import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../src/model/log.js';
import { logRecordSize } from '../../../src/model/size.js';
import { Batcher } from '../../../src/pipeline/batcher.js';
import { SignalQueue } from '../../../src/pipeline/signal-queue.js';
import { log } from './helpers.js';

function make(limits: { maxItems: number; maxBytes: number; lingerMs: number }) {
  const clock = { t: 0 };
  const queue = new SignalQueue<LogRecord>({ signal: 'logs', maxItems: 1000, maxBytes: 1e6, sizeOf: logRecordSize, now: () => clock.t });
  return { clock, queue, batcher: new Batcher(queue, limits) };
}

describe('Batcher', () => {
  it('cuts at max items', () => {
    const { queue, batcher } = make({ maxItems: 3, maxBytes: 1e6, lingerMs: 1000 });
    queue.offer(log('a'));
    queue.offer(log('b'));
    expect(batcher.full()).toBe(false);
    expect(batcher.ready(0)).toBe(false);
    queue.offer(log('c'));
    queue.offer(log('d'));
    expect(batcher.full()).toBe(true);
    expect(batcher.ready(0)).toBe(true);
    expect(batcher.msUntilReady(0)).toBe(0);
    expect(batcher.cut().map((r) => r.body)).toEqual(['a', 'b', 'c']);
    expect(batcher.ready(0)).toBe(false);
    expect(batcher.cut().map((r) => r.body)).toEqual(['d']);
    expect(batcher.cut()).toEqual([]);
  });

  it('cuts at max bytes (estimated)', () => {
    const { queue, batcher } = make({ maxItems: 100, maxBytes: 250, lingerMs: 1000 });
    for (let i = 0; i < 4; i++) queue.offer(log('x'.repeat(52))); // 100 bytes each
    expect(batcher.full()).toBe(true);
    const b = batcher.cut();
    expect(b.length).toBe(2);
    expect(queue.bytes).toBe(200);
    expect(batcher.full()).toBe(false);
  });

  it("cuts at the oldest record's linger", () => {
    const { clock, queue, batcher } = make({ maxItems: 100, maxBytes: 1e6, lingerMs: 50 });
    expect(batcher.msUntilReady(0)).toBe(Number.POSITIVE_INFINITY);
    clock.t = 10;
    queue.offer(log('a'));
    clock.t = 40;
    queue.offer(log('b'));
    expect(batcher.ready(40)).toBe(false);
    expect(batcher.msUntilReady(40)).toBe(20);
    expect(batcher.ready(59)).toBe(false);
    expect(batcher.ready(60)).toBe(true);
    expect(batcher.cut().length).toBe(2);
    clock.t = 70;
    queue.offer(log('c'));
    expect(batcher.msUntilReady(70)).toBe(50);
  });

  it('what is left after a cut keeps its stamp: it waits no longer than its own linger', () => {
    const { clock, queue, batcher } = make({ maxItems: 2, maxBytes: 1e6, lingerMs: 100 });
    clock.t = 0;
    queue.offer(log('a'));
    queue.offer(log('b'));
    clock.t = 30;
    queue.offer(log('c'));
    batcher.cut();
    expect(batcher.msUntilReady(50)).toBeLessThanOrEqual(80);
    expect(batcher.msUntilReady(50)).toBeGreaterThanOrEqual(50);
  });

  it('a zero linger is ready as soon as anything waits', () => {
    const { queue, batcher } = make({ maxItems: 100, maxBytes: 1e6, lingerMs: 0 });
    expect(batcher.ready(0)).toBe(false);
    queue.offer(log('a'));
    expect(batcher.ready(0)).toBe(true);
  });

  it('rejects bad limits', () => {
    const { queue } = make({ maxItems: 1, maxBytes: 1, lingerMs: 0 });
    expect(() => new Batcher(queue, { maxItems: 0, maxBytes: 1, lingerMs: 0 })).toThrow(RangeError);
    expect(() => new Batcher(queue, { maxItems: 1, maxBytes: 0, lingerMs: 0 })).toThrow(RangeError);
    expect(() => new Batcher(queue, { maxItems: 1, maxBytes: 1, lingerMs: -1 })).toThrow(RangeError);
    expect(() => new Batcher(queue, { maxItems: 1, maxBytes: 1, lingerMs: Number.NaN })).toThrow(RangeError);
  });
});
