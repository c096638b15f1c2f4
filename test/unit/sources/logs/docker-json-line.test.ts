import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DOCKER_PARTIAL_BYTES, DockerJsonLine, DockerJsonLineParser } from '../../../../src/sources/logs/docker-json-line.js';

const TS = '2026-11-25T10:05:31.346397416Z';
const TS_NS = 1_795_601_131_346_397_416n;

function parseWith(parser: DockerJsonLineParser, text: string | Buffer): DockerJsonLine {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  return parser.parse(buf, 0, buf.length, new DockerJsonLine());
}

function content(r: DockerJsonLine): Buffer {
  return Buffer.from(r.content.subarray(r.contentStart, r.contentEnd));
}

/** A line as Docker writes it: JSON.stringify keeps the field order. */
function dockerLine(log: string, stream = 'stdout', time = TS): string {
  return JSON.stringify({ log, stream, time });
}

describe('DockerJsonLineParser', () => {
  it('reads the usual shape on the fast path', () => {
    const p = new DockerJsonLineParser();
    const r = parseWith(p, `{"log":"hello world\\n","stream":"stderr","time":"${TS}"}`);
    expect(r.kind).toBe('ok');
    expect(r.stream).toBe('stderr');
    expect(r.partial).toBe(false);
    expect(r.timeUnixNano).toBe(TS_NS);
    expect(content(r).toString()).toBe('hello world'); // Docker's line-ending \n is not content
    expect(p.slowPathLines).toBe(0);
  });

  it('references the line itself when there is nothing to unescape', () => {
    const p = new DockerJsonLineParser();
    const buf = Buffer.from(`{"log":"plain","stream":"stdout","time":"${TS}"}`);
    const r = p.parse(buf, 0, buf.length, new DockerJsonLine());
    expect(r.content).toBe(buf);
  });

  it('unescapes every JSON escape, surrogate pairs included', () => {
    const p = new DockerJsonLineParser();
    const log = 'q"b\\s/\b\f\n\r\t é € 😀 \u0000 \u001f end';
    const r = parseWith(p, dockerLine(log));
    expect(r.kind).toBe('ok');
    expect(content(r).toString()).toBe(log);
    // Escaped forms of the same, as Go's encoder may write them.
    const r2 = parseWith(p, `{"log":"\\u00e9\\u20ac\\ud83d\\ude00\\u003c\\/","stream":"stdout","time":"${TS}"}`);
    expect(content(r2).toString()).toBe('é€😀</');
    expect(p.slowPathLines).toBe(0);
  });

  it('turns invalid escapes and lone surrogates into U+FFFD', () => {
    const p = new DockerJsonLineParser();
    const cases: [string, string][] = [
      ['a\\qb', 'a\uFFFDb'],
      ['\\ud83dx', '\uFFFDx'],
      ['\\ude00x', '\uFFFDx'],
      ['\\ud83d\\u0041', '\uFFFDA'],
      ['\\u12G4', '\uFFFD12G4'],
      ['\\u12', '\uFFFD12'],
    ];
    for (const [raw, want] of cases) {
      const r = parseWith(p, `{"log":"${raw}","stream":"stdout","time":"${TS}"}`);
      expect(r.kind, raw).toBe('ok');
      expect(content(r).toString(), raw).toBe(want);
    }
  });

  it('marks a 16 KiB log without a newline partial, counting unescaped UTF-8 bytes', () => {
    const p = new DockerJsonLineParser();
    const ascii = 'a'.repeat(DOCKER_PARTIAL_BYTES);
    expect(parseWith(p, dockerLine(ascii)).partial).toBe(true);
    expect(parseWith(p, dockerLine(`${'a'.repeat(DOCKER_PARTIAL_BYTES - 1)}\n`)).partial).toBe(false);
    expect(parseWith(p, dockerLine('a'.repeat(DOCKER_PARTIAL_BYTES - 1))).partial).toBe(false);
    expect(parseWith(p, dockerLine('a'.repeat(DOCKER_PARTIAL_BYTES + 1))).partial).toBe(false);
    // 16384 bytes made of escapes and multi-byte characters: the escaped text is longer.
    const mixed = `${'"'.repeat(4000)}${'é'.repeat(4000)}${'€'.repeat(128)}${'\t'.repeat(4000)}`;
    expect(Buffer.byteLength(mixed)).toBe(DOCKER_PARTIAL_BYTES);
    const r = parseWith(p, dockerLine(mixed));
    expect(r.partial).toBe(true);
    expect(content(r).toString()).toBe(mixed);
  });

  it('falls back to JSON.parse for other shapes', () => {
    const p = new DockerJsonLineParser();
    const lines = [
      `{"log":"x\\n","stream":"stdout","attrs":{"tag":"a"},"time":"${TS}"}`,
      `{"time":"${TS}","stream":"stdout","log":"x\\n"}`,
      `{ "log": "x\\n", "stream": "stdout", "time": "${TS}" }`,
    ];
    for (const line of lines) {
      const r = parseWith(p, line);
      expect(r.kind, line).toBe('ok');
      expect(content(r).toString()).toBe('x');
      expect(r.timeUnixNano).toBe(TS_NS);
    }
    expect(p.slowPathLines).toBe(3);
    // The slow path detects partials the same way.
    const big = 'b'.repeat(DOCKER_PARTIAL_BYTES);
    expect(parseWith(p, JSON.stringify({ time: TS, stream: 'stdout', log: big })).partial).toBe(true);
  });

  it('tolerates a CR before the line end', () => {
    const r = parseWith(new DockerJsonLineParser(), `${dockerLine('x')}\r`);
    expect(r.kind).toBe('ok');
    expect(content(r).toString()).toBe('x');
  });

  it.each([
    ['', 'json'],
    ['not json', 'json'],
    ['[1,2]', 'json'],
    ['null', 'json'],
    ['{"log":"abc', 'json'],
    [`{"log":"a\\qb","stream":"stdout","time":"${TS}","x":1 }`, 'json'],
    [`{"log":5,"stream":"stdout","time":"${TS}"}`, 'field'],
    [`{"log":"x","stream":"stdin","time":"${TS}"}`, 'field'],
    [`{"log":"x","time":"${TS}"}`, 'field'],
    ['{"log":"x","stream":"stdout","time":"yesterday"}', 'field'],
    ['{"log":"x","stream":"stdout"}', 'field'],
  ])('%j is malformed (%s), with the whole line as content', (line, reason) => {
    const r = parseWith(new DockerJsonLineParser(), line);
    expect(r.kind).toBe('malformed');
    expect(r.reason).toBe(reason);
    expect(r.partial).toBe(false);
    expect(r.timeUnixNano).toBe(0n);
    expect(content(r).toString()).toBe(line);
  });

  it('reads a 5 MB log, escaped, and gives back the big scratch buffer afterwards', () => {
    const p = new DockerJsonLineParser();
    const log = 'ab"\n'.repeat(5 * 1024 * 256);
    const r = parseWith(p, dockerLine(log));
    expect(r.kind).toBe('ok');
    // Its final \n ends the line and is not content.
    expect(r.contentEnd - r.contentStart).toBe(log.length - 1);
    expect(content(r).toString() === log.slice(0, -1)).toBe(true);
    const small = parseWith(p, dockerLine('a\\b'));
    expect(small.content.length).toBeLessThan(1024 * 1024);
    expect(content(small).toString()).toBe('a\\b');
  });

  it('property: random bytes and random JSON never throw', () => {
    const p = new DockerJsonLineParser();
    const out = new DockerJsonLine();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const buf = Buffer.from(bytes);
        const r = p.parse(buf, 0, buf.length, out);
        if (r.kind === 'malformed') expect(r.content.subarray(r.contentStart, r.contentEnd).equals(buf)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.json(), (text) => {
        const buf = Buffer.from(text);
        p.parse(buf, 0, buf.length, out);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: corrupting a valid line never throws; malformed keeps the raw line', () => {
    const p = new DockerJsonLineParser();
    const out = new DockerJsonLine();
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.nat(), fc.integer({ min: 0, max: 255 }), (log, at, byte) => {
        const buf = Buffer.from(dockerLine(log));
        buf[at % buf.length] = byte;
        const r = p.parse(buf, 0, buf.length, out);
        if (r.kind === 'malformed') expect(r.content.subarray(r.contentStart, r.contentEnd).equals(buf)).toBe(true);
        else expect(r.contentEnd).toBeGreaterThanOrEqual(r.contentStart);
      }),
      { numRuns: 3000 },
    );
  });

  it('property: every well-formed line yields its log intact (Unicode, NUL, controls)', () => {
    const p = new DockerJsonLineParser();
    const out = new DockerJsonLine();
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom('stdout', 'stderr'), (log, stream) => {
        const line = Buffer.from(dockerLine(log, stream));
        const r = p.parse(line, 0, line.length, out);
        expect(r.kind).toBe('ok');
        expect(r.stream).toBe(stream);
        expect(r.timeUnixNano).toBe(TS_NS);
        // Lone surrogates are not valid Unicode: both sides encode them as U+FFFD. One trailing
        // \n ends a complete line and is not content.
        const want = Buffer.from(log);
        const expected = !r.partial && want.length > 0 && want[want.length - 1] === 0x0a ? want.subarray(0, -1) : want;
        expect(Buffer.compare(r.content.subarray(r.contentStart, r.contentEnd), expected)).toBe(0);
      }),
      { numRuns: 3000 },
    );
    expect(p.slowPathLines).toBe(0);
  });

  it('property: invalid UTF-8 inside the log passes through as bytes', () => {
    const p = new DockerJsonLineParser();
    const out = new DockerJsonLine();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (raw) => {
        const bytes = Buffer.from(raw.filter((b) => b !== 0x22 && b !== 0x5c && b !== 0x0a));
        const line = Buffer.concat([Buffer.from('{"log":"'), bytes, Buffer.from(`","stream":"stdout","time":"${TS}"}`)]);
        const r = p.parse(line, 0, line.length, out);
        expect(r.kind).toBe('ok');
        expect(Buffer.compare(r.content.subarray(r.contentStart, r.contentEnd), bytes)).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });
});
