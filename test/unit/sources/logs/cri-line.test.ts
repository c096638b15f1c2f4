import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRfc3339Nano } from '../../../../src/io/rfc3339.js';
import { CriLine, parseCriLine } from '../../../../src/sources/logs/cri-line.js';

const TS = '2026-11-25T10:05:31.346397416Z';
const TS_NS = 1_795_601_131_346_397_416n;

function parse(text: string | Buffer): CriLine {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  return parseCriLine(buf, 0, buf.length, new CriLine());
}

function content(r: CriLine): Buffer {
  return r.content.subarray(r.contentStart, r.contentEnd);
}

describe('parseCriLine', () => {
  it('reads what containerd writes', () => {
    const r = parse(`${TS} stdout F {"level":"info","msg":"hello"}`);
    expect(r.kind).toBe('ok');
    expect(r.reason).toBe('');
    expect(r.stream).toBe('stdout');
    expect(r.partial).toBe(false);
    expect(r.timeUnixNano).toBe(TS_NS);
    expect(content(r).toString()).toBe('{"level":"info","msg":"hello"}');

    const p = parse(`2026-11-25T10:05:31.5+01:00 stderr P part one `);
    expect(p.kind).toBe('ok');
    expect(p.stream).toBe('stderr');
    expect(p.partial).toBe(true);
    expect(p.timeUnixNano).toBe(TS_NS - 3_600_000_000_000n + 153_602_584n);
    expect(content(p).toString()).toBe('part one ');
  });

  it('reads a line in the middle of a larger buffer', () => {
    const buf = Buffer.from(`junk\n${TS} stdout F abc\nmore`);
    const start = 5;
    const end = buf.indexOf(0x0a, start);
    const r = parseCriLine(buf, start, end, new CriLine());
    expect(r.kind).toBe('ok');
    expect(buf.toString('utf8', r.contentStart, r.contentEnd)).toBe('abc');
  });

  it('takes empty contents, with or without the separating space', () => {
    for (const line of [`${TS} stdout F `, `${TS} stdout F`]) {
      const r = parse(line);
      expect(r.kind).toBe('ok');
      expect(r.contentEnd - r.contentStart).toBe(0);
    }
  });

  it('accepts extra `:` tags after P/F', () => {
    const r = parse(`${TS} stdout P:x:y hi`);
    expect(r.kind).toBe('ok');
    expect(r.partial).toBe(true);
    expect(content(r).toString()).toBe('hi');
  });

  it('keeps content bytes as they are: spaces, NUL, invalid UTF-8, CR', () => {
    const body = Buffer.from([0x20, 0x00, 0xff, 0xfe, 0x41, 0x0d, 0x20]);
    const r = parse(Buffer.concat([Buffer.from(`${TS} stderr F `), body]));
    expect(r.kind).toBe('ok');
    expect(content(r).equals(body)).toBe(true);
  });

  it.each([
    ['', 'timestamp'],
    ['hello world', 'timestamp'],
    [' stdout F x', 'timestamp'],
    ['2026-13-25T10:05:31Z stdout F x', 'timestamp'],
    ['2026-11-25T10:05:31 stdout F x', 'timestamp'],
    [`${TS}`, 'timestamp'],
    [`${'9'.repeat(100)} stdout F x`, 'timestamp'],
    [`${TS} stdin F x`, 'stream'],
    [`${TS} stdoutF x`, 'stream'],
    [`${TS} STDOUT F x`, 'stream'],
    [`${TS} stdout`, 'stream'],
    [`${TS} stdout `, 'tag'],
    [`${TS} stdout X x`, 'tag'],
    [`${TS} stdout FX x`, 'tag'],
    [`${TS} stdout F:${'x'.repeat(100)} y`, 'tag'],
  ])('%j is malformed (%s), with the whole line as content', (line, reason) => {
    const r = parse(line);
    expect(r.kind).toBe('malformed');
    expect(r.reason).toBe(reason);
    expect(r.partial).toBe(false);
    expect(r.timeUnixNano).toBe(0n);
    expect(content(r).toString()).toBe(line);
  });

  it('does not scan a 5 MB line without spaces', () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 0x41);
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) parseCriLine(big, 0, big.length, new CriLine());
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(parse(big).kind).toBe('malformed');
  });

  it('reads a 5 MB content whole', () => {
    const body = Buffer.alloc(5 * 1024 * 1024, 0x62);
    const r = parse(Buffer.concat([Buffer.from(`${TS} stdout F `), body]));
    expect(r.kind).toBe('ok');
    expect(r.contentEnd - r.contentStart).toBe(body.length);
  });

  it('property: random bytes never throw and stay within bounds', () => {
    const out = new CriLine();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(20), fc.nat(20), (bytes, a, b) => {
        const buf = Buffer.from(bytes);
        const start = Math.min(a, buf.length);
        const end = Math.max(start, buf.length - b);
        const r = parseCriLine(buf, start, end, out);
        expect(r.contentStart).toBeGreaterThanOrEqual(start);
        expect(r.contentEnd).toBeLessThanOrEqual(end);
        expect(r.contentStart).toBeLessThanOrEqual(r.contentEnd);
        if (r.kind === 'malformed') {
          expect([r.contentStart, r.contentEnd]).toEqual([start, end]);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('property: random prefixes before a valid line are random bytes too', () => {
    // Random text in the header positions: never a throw, either ok or malformed with the line.
    const out = new CriLine();
    const word = fc.string({ maxLength: 12 });
    fc.assert(
      fc.property(word, word, word, fc.string({ maxLength: 40 }), (ts, stream, tag, rest) => {
        const line = Buffer.from(`${ts} ${stream} ${tag} ${rest}`);
        const r = parseCriLine(line, 0, line.length, out);
        if (r.kind === 'ok') {
          expect(['stdout', 'stderr']).toContain(stream);
        } else {
          expect(r.content.subarray(r.contentStart, r.contentEnd).equals(line)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('property: the per-second timestamp cache agrees with parseRfc3339Nano', () => {
    const out = new CriLine();
    const second = fc.constantFrom('2026-11-25T10:05:31', '2026-11-25T10:05:32', '2024-02-29T23:59:59', '2026-11-25T10:05:3x');
    const rest = fc.oneof(
      fc.stringMatching(/^\.[0-9]{1,9}Z$/),
      fc.constantFrom('Z', '.Z', '.1234567890Z', '.12a4Z', '.5+01:00', '.5z', '.123456789-05:30', '.1'),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(second, rest), { minLength: 1, maxLength: 20 }), (stamps) => {
        for (const [sec, tail] of stamps) {
          const ts = `${sec}${tail}`;
          const r = parse(`${ts} stdout F x`);
          const r2 = parseCriLine(Buffer.from(`${ts} stdout F x`), 0, ts.length + 11, out);
          const want = parseRfc3339Nano(ts);
          expect(r.kind).toBe(want === undefined ? 'malformed' : 'ok');
          expect(r2.kind).toBe(r.kind);
          if (want !== undefined) expect(r2.timeUnixNano).toBe(want);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('property: every well-formed line yields its content intact', () => {
    const out = new CriLine();
    const date = fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true });
    fc.assert(
      fc.property(
        date,
        fc.integer({ min: 0, max: 999_999 }),
        fc.constantFrom('stdout', 'stderr'),
        fc.constantFrom('P', 'F'),
        fc.uint8Array({ maxLength: 500 }).filter((b) => !b.includes(0x0a)),
        (d, extraNs, stream, tag, body) => {
          const iso = d.toISOString().replace('Z', `${String(extraNs).padStart(6, '0')}Z`);
          const head = Buffer.from(`${iso} ${stream} ${tag} `);
          const line = Buffer.concat([Buffer.from('xyz'), head, body]);
          const r = parseCriLine(line, 3, line.length, out);
          expect(r.kind).toBe('ok');
          expect(r.stream).toBe(stream);
          expect(r.partial).toBe(tag === 'P');
          expect(r.timeUnixNano).toBe(BigInt(d.getTime()) * 1_000_000n + BigInt(extraNs));
          expect(Buffer.compare(r.content.subarray(r.contentStart, r.contentEnd), body)).toBe(0);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
