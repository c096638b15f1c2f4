import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ByteMap } from '../../../src/io/byte-map.js';

describe('ByteMap', () => {
  it('finds a key by its bytes wherever they lie, and only those bytes', () => {
    const m = new ByteMap<number>(100);
    const a = randomBytes(600);
    m.set(a, 0, 600, 1);
    const elsewhere = Buffer.concat([randomBytes(17), a, randomBytes(5)]);
    expect(m.get(elsewhere, 17, 617)).toBe(1);
    // One byte changed where the sampled hash does not look: the comparison still tells them apart.
    for (const at of [1, 2, 300, 599]) {
      const b = Buffer.from(a);
      b[at] = b[at]! ^ 0xff;
      expect(m.get(b, 0, 600), `byte ${at}`).toBeUndefined();
    }
    expect(m.get(a, 0, 599)).toBeUndefined();
    expect(m.get(new Uint8Array(0), 0, 0)).toBeUndefined();
    m.set(new Uint8Array(0), 0, 0, 2);
    expect(m.get(Buffer.alloc(3), 1, 1)).toBe(2);
  });

  it('keeps its own copy of a key, replaces a value, and starts again past its bound', () => {
    const m = new ByteMap<string>(3);
    const k = Buffer.from('resource-one');
    m.set(k, 0, k.length, 'x');
    k.fill(0);
    expect(m.get(Buffer.from('resource-one'), 0, 12)).toBe('x');
    m.set(Buffer.from('resource-one'), 0, 12, 'y');
    expect(m.get(Buffer.from('resource-one'), 0, 12)).toBe('y');
    expect(m.size).toBe(1);
    m.set(Buffer.from('b'), 0, 1, 'b');
    m.set(Buffer.from('c'), 0, 1, 'c');
    expect(m.size).toBe(3);
    m.set(Buffer.from('d'), 0, 1, 'd');
    expect(m.size).toBe(1);
    expect(m.get(Buffer.from('b'), 0, 1)).toBeUndefined();
    expect(m.get(Buffer.from('d'), 0, 1)).toBe('d');
  });

  it('tells apart keys that collide on the sampled hash', () => {
    // Long keys differing only between the sampled bytes: same hash, different keys.
    const m = new ByteMap<number>(100);
    const base = Buffer.alloc(4096, 0x61);
    const keys = [1, 2, 3].map((i) => {
      const k = Buffer.from(base);
      k[100 + i] = 0x62; // between samples (every 65th byte)
      return k;
    });
    keys.forEach((k, i) => m.set(k, 0, k.length, i));
    keys.forEach((k, i) => expect(m.get(k, 0, k.length)).toBe(i));
    expect(m.get(base, 0, base.length)).toBeUndefined();
  });
});
