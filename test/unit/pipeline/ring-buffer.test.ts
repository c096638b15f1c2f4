import { describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RingBuffer } from '../../../src/pipeline/ring-buffer.js';

// A real collector, not a guess: prove the ring drops its references.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('RingBuffer', () => {
  it('rounds capacity up to a power of two and keeps maxItems as the bound', () => {
    expect(new RingBuffer(1, 10).capacity).toBe(1);
    expect(new RingBuffer(5, 10).capacity).toBe(8);
    expect(new RingBuffer(8, 10).capacity).toBe(8);
    expect(new RingBuffer(50_000, 10).capacity).toBe(65_536);
    const r = new RingBuffer<number>(5, 1000);
    for (let i = 0; i < 5; i++) expect(r.push(i, 1)).toBe(true);
    expect(r.push(5, 1)).toBe(false);
    expect(r.length).toBe(5);
  });

  it('rejects bad bounds', () => {
    expect(() => new RingBuffer(0, 10)).toThrow(RangeError);
    expect(() => new RingBuffer(1.5, 10)).toThrow(RangeError);
    expect(() => new RingBuffer(2 ** 31, 10)).toThrow(RangeError);
    expect(() => new RingBuffer(4, 0)).toThrow(RangeError);
    expect(() => new RingBuffer(4, Number.NaN)).toThrow(RangeError);
    expect(() => new RingBuffer(4, Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('is FIFO across wraparound', () => {
    const r = new RingBuffer<number>(4, 1000);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      while (r.push(next, 1)) next++;
      expect(r.length).toBe(4);
      expect(r.shift()).toBe(expected++);
      expect(r.shift()).toBe(expected++);
      expect(r.shift()).toBe(expected++);
    }
    while (r.length > 0) expect(r.shift()).toBe(expected++);
    expect(expected).toBe(next);
    expect(r.shift()).toBeUndefined();
    expect(r.peek()).toBeUndefined();
    expect(r.peekBytes()).toBe(0);
  });

  it('bounds bytes: refuses what would exceed maxBytes, frees bytes on shift', () => {
    const r = new RingBuffer<string>(100, 100);
    expect(r.push('a', 60)).toBe(true);
    expect(r.push('b', 41)).toBe(false);
    expect(r.push('b', 40)).toBe(true);
    expect(r.bytes).toBe(100);
    expect(r.push('c', 0)).toBe(true); // zero-size items bounded by count only
    expect(r.push('d', 1)).toBe(false);
    expect(r.peekBytes()).toBe(60);
    expect(r.shift()).toBe('a');
    expect(r.bytes).toBe(40);
    expect(r.push('e', 101)).toBe(false);
    expect(r.push('e', 60)).toBe(true);
    expect(r.length).toBe(3);
  });

  it('never holds a reference to a shifted or cleared item', async () => {
    const r = new RingBuffer<object>(4, 1000);
    let obj: object | undefined = { big: new Array(1000).fill(1) };
    const ref = new WeakRef(obj);
    r.push(obj, 1);
    r.push({}, 1);
    obj = undefined;
    r.shift();
    const cleared = new WeakRef(r.peek()!);
    r.clear();
    expect(r.length).toBe(0);
    expect(r.bytes).toBe(0);
    // WeakRefs only clear once the job that made them has ended.
    await new Promise((res) => setImmediate(res));
    gc();
    expect(ref.deref()).toBeUndefined();
    expect(cleared.deref()).toBeUndefined();
    expect(r.push(r, 1)).toBe(true); // the ring itself still works (and holds what it holds)
  });

  it('clear resets and the ring is reusable', () => {
    const r = new RingBuffer<number>(3, 10);
    r.push(1, 3);
    r.push(2, 3);
    r.shift();
    r.push(3, 3);
    r.clear();
    expect(r.length).toBe(0);
    expect(r.bytes).toBe(0);
    expect(r.push(7, 10)).toBe(true);
    expect(r.peek()).toBe(7);
    expect(r.shift()).toBe(7);
  });

  it('matches an array model under random operations', () => {
    // Seeded LCG so a failure reproduces.
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (const [maxItems, maxBytes] of [
      [1, 5],
      [3, 20],
      [7, 50],
      [16, 1000],
      [100, 300],
    ] as const) {
      const r = new RingBuffer<number>(maxItems, maxBytes);
      const model: { v: number; b: number }[] = [];
      let modelBytes = 0;
      for (let op = 0; op < 20_000; op++) {
        const k = rand(10);
        if (k < 5) {
          const b = rand(12);
          const fits = model.length < maxItems && modelBytes + b <= maxBytes;
          expect(r.push(op, b)).toBe(fits);
          if (fits) {
            model.push({ v: op, b });
            modelBytes += b;
          }
        } else if (k < 9) {
          const m = model.shift();
          expect(r.peekBytes()).toBe(m?.b ?? 0);
          expect(r.shift()).toBe(m?.v);
          if (m) modelBytes -= m.b;
        } else if (rand(50) === 0) {
          r.clear();
          model.length = 0;
          modelBytes = 0;
        } else {
          expect(r.peek()).toBe(model[0]?.v);
        }
        expect(r.length).toBe(model.length);
        expect(r.bytes).toBe(modelBytes);
        expect(r.length).toBeLessThanOrEqual(maxItems);
        expect(r.bytes).toBeLessThanOrEqual(maxBytes);
      }
    }
  });

  it('allocates slots as items arrive: doubles when all are taken, up to capacity, keeping order and stamps', () => {
    const r = new RingBuffer<number>(5000, 1e9);
    expect(r.capacity).toBe(8192);
    expect(r.slots).toBe(1024);
    // Wrapped before it grows: the head is mid-array when the slots run out.
    for (let i = 0; i < 1000; i++) r.push(-1, 1);
    for (let i = 0; i < 1000; i++) r.shift();
    for (let i = 0; i < 1024; i++) expect(r.push(i, 1, i * 10)).toBe(true);
    expect(r.slots).toBe(1024);
    expect(r.push(1024, 1, 10240)).toBe(true);
    expect(r.slots).toBe(2048);
    for (let i = 1025; i < 5000; i++) expect(r.push(i, 1, i * 10)).toBe(true);
    expect(r.push(5000, 1)).toBe(false);
    expect(r.slots).toBe(8192);
    for (let i = 0; i < 5000; i++) {
      expect(r.peekStamp()).toBe(i * 10);
      expect(r.shift()).toBe(i);
    }
    expect(r.peekStamp()).toBe(0);
    expect(r.length).toBe(0);
    // A small bound never allocates more than it.
    expect(new RingBuffer(5, 10).slots).toBe(8);
  });
});
