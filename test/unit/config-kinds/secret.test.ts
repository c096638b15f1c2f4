import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config-kinds/secret.js';

const TOKEN = 'dt0c01.ABCDEFGHIJKLMNOPQRSTUVWX.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOPQRSTUV';

describe('Secret', () => {
  const s = new Secret(TOKEN, 'env SEXTANT_API_TOKEN');

  it('reveals its value only through reveal()', () => {
    expect(s.reveal()).toBe(TOKEN);
    expect(s.source).toBe('env SEXTANT_API_TOKEN');
  });

  it('prints [redacted] through every accidental path', () => {
    const printed = [
      String(s),
      `${s}`,
      'x' + s,
      s.toString(),
      JSON.stringify(s),
      JSON.stringify({ apiToken: s, nested: { list: [s] } }),
      inspect(s),
      inspect({ deep: { deeper: { s } } }, { depth: 10 }),
      inspect(s, { showHidden: true }),
      String(new Error(`failed with ${s}`)),
      Object.keys(s).join(','),
    ];
    for (const p of printed) expect(p).not.toContain(TOKEN);
    expect(JSON.stringify(s)).toBe('"[redacted]"');
    expect(inspect(s)).toBe('[redacted]');
  });

  it('has no enumerable property holding the value', () => {
    expect(Object.values(s)).not.toContain(TOKEN);
    expect({ ...s }).not.toHaveProperty('value');
  });

  it('compares against a presented token', () => {
    expect(s.equals(TOKEN)).toBe(true);
    expect(s.equals(TOKEN.slice(0, -1))).toBe(false);
    expect(s.equals(TOKEN + 'x')).toBe(false);
    expect(s.equals('')).toBe(false);
    expect(new Secret('a', 'x').equals('b')).toBe(false);
  });
});
