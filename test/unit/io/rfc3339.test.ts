import { describe, expect, it } from 'vitest';
import { parseRfc3339Nano } from '../../../src/io/rfc3339.js';

/** The reference value through Date (milliseconds) plus the sub-millisecond digits. */
function reference(text: string, subMs: bigint): bigint {
  return BigInt(Date.parse(text)) * 1_000_000n + subMs;
}

describe('parseRfc3339Nano', () => {
  it('reads what Docker and CRI write, exact to the nanosecond', () => {
    expect(parseRfc3339Nano('2026-11-25T10:16:51.123456789Z')).toBe(reference('2026-11-25T10:16:51.123Z', 456_789n));
    expect(parseRfc3339Nano('2026-11-25T10:05:31.346397416Z')).toBe(1_795_601_131_346_397_416n);
    expect(parseRfc3339Nano('1970-01-01T00:00:00Z')).toBe(0n);
    expect(parseRfc3339Nano('1970-01-01T00:00:00.000000001Z')).toBe(1n);
    expect(parseRfc3339Nano('2262-04-11T23:47:16.854775807Z')).toBe(9_223_372_036_854_775_807n);
  });

  it('scales 1 to 9 fraction digits', () => {
    expect(parseRfc3339Nano('2026-11-25T10:22:50.13885476Z')).toBe(reference('2026-11-25T10:22:50.138Z', 854_760n));
    expect(parseRfc3339Nano('2026-11-25T10:22:50.1Z')).toBe(reference('2026-11-25T10:22:50.100Z', 0n));
    expect(parseRfc3339Nano('2026-11-25T10:22:50.000000010Z')).toBe(reference('2026-11-25T10:22:50Z', 10n));
  });

  it('applies offsets', () => {
    const utc = parseRfc3339Nano('2026-11-25T10:16:51.5Z');
    expect(parseRfc3339Nano('2026-11-25T11:16:51.5+01:00')).toBe(utc);
    expect(parseRfc3339Nano('2026-11-25T04:46:51.5-05:30')).toBe(utc);
    expect(parseRfc3339Nano('2026-11-26T00:16:51.5+14:00')).toBe(utc);
    expect(parseRfc3339Nano('2026-11-25t10:16:51.5z')).toBe(utc);
  });

  it('agrees with Date over many dates, leap days included', () => {
    // A deterministic walk over 1900..2400 in steps that hit every month and many days.
    for (let ms = Date.UTC(1900, 0, 1); ms < Date.UTC(2400, 0, 1); ms += 86_400_000 * 37 + 3_723_004) {
      const iso = new Date(ms).toISOString(); // 2026-11-25T10:16:51.123Z
      expect(parseRfc3339Nano(iso)).toBe(BigInt(ms) * 1_000_000n);
    }
    expect(parseRfc3339Nano('2024-02-29T00:00:00Z')).toBe(BigInt(Date.UTC(2024, 1, 29)) * 1_000_000n);
    expect(parseRfc3339Nano('2000-02-29T00:00:00Z')).toBe(BigInt(Date.UTC(2000, 1, 29)) * 1_000_000n);
  });

  it('gives Docker zero time as a value before 1970 (callers map it to unset)', () => {
    const zero = parseRfc3339Nano('0001-01-01T00:00:00Z');
    expect(zero).toBe(-62_135_596_800n * 1_000_000_000n);
  });

  it('reads a slice of a longer string, as a CRI log line holds it', () => {
    const line = '2026-11-25T10:05:31.346397416Z stdout F hello';
    expect(parseRfc3339Nano(line, 0, line.indexOf(' '))).toBe(1_795_601_131_346_397_416n);
    const padded = `xx${line}`;
    expect(parseRfc3339Nano(padded, 2, padded.indexOf(' '))).toBe(1_795_601_131_346_397_416n);
    // Without bounds the whole line is not a timestamp.
    expect(parseRfc3339Nano(line)).toBeUndefined();
    expect(parseRfc3339Nano(line, 0, 5)).toBeUndefined();
    expect(parseRfc3339Nano(line, -1, 30)).toBeUndefined();
    expect(parseRfc3339Nano(line, 0, 1000)).toBeUndefined();
  });

  it.each([
    '',
    'Z',
    '2026-11-25',
    '2026-11-25T10:16:51',
    '2026-11-25T10:16:51.Z',
    '2026-11-25T10:16:51.1234567890Z',
    '2026-11-25T10:16:51.123+0100',
    '2026-11-25T10:16:51.123+01',
    '2026-11-25T10:16:51.123+24:00',
    '2026-11-25T10:16:51.123+01:60',
    '2026-11-25T10:16:51.123Zjunk',
    '2026-11-25 10:16:51Z',
    '2026/11/25T10:16:51Z',
    '2026-13-25T10:16:51Z',
    '2026-00-25T10:16:51Z',
    '2026-11-00T10:16:51Z',
    '2026-11-31T10:16:51Z',
    '2026-02-29T10:16:51Z',
    '1900-02-29T10:16:51Z',
    '2026-02-30T10:16:51Z',
    '2026-11-25T24:00:00Z',
    '2026-11-25T10:60:00Z',
    '2026-11-25T10:16:60Z',
    '2026-11-25T1a:16:51Z',
    '+026-11-25T10:16:51Z',
    '2026-11-25T10:16:51.12a4Z',
    '２０２６-11-25T10:16:51Z',
    '2026-11-25T10:16:51\u0000Z',
  ])('rejects %j', (text) => {
    expect(parseRfc3339Nano(text)).toBeUndefined();
  });

  it('never throws on random bytes', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const base = '2026-11-25T10:16:51.123456789+01:00';
    for (let n = 0; n < 20_000; n++) {
      const chars = base.split('');
      const edits = 1 + (rand() % 3);
      for (let e = 0; e < edits; e++) chars[rand() % chars.length] = String.fromCharCode(rand() % 128);
      const text = rand() % 5 === 0 ? chars.join('').slice(0, rand() % base.length) : chars.join('');
      const got = parseRfc3339Nano(text);
      if (got !== undefined) {
        // Whatever it accepts must be a real instant that Date agrees with to the millisecond.
        expect(typeof got).toBe('bigint');
        const ms = Date.parse(text);
        expect(Number.isNaN(ms) ? 'nan' : BigInt(ms)).toBe(got / 1_000_000n - (got % 1_000_000n < 0n ? 1n : 0n));
      }
    }
  });
});
