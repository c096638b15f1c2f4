import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NdjsonLines } from '../../../src/io/ndjson-lines.js';

function split(chunks: Array<Buffer | string>, max = 1024): { lines: string[]; s: NdjsonLines } {
  const s = new NdjsonLines(max);
  const lines: string[] = [];
  for (const c of chunks) s.push(typeof c === 'string' ? Buffer.from(c) : c, (l) => lines.push(l));
  s.end();
  return { lines, s };
}

describe('watch line splitter', () => {
  it('gives whole lines whatever the chunking, including one byte at a time', () => {
    const text = '{"type":"ADDED"}\n{"type":"BOOKMARK","é":"ü"}\n{"type":"DELETED"}\n';
    const whole = split([text]).lines;
    expect(whole).toEqual(['{"type":"ADDED"}', '{"type":"BOOKMARK","é":"ü"}', '{"type":"DELETED"}']);
    const bytes = Buffer.from(text);
    const single = split([...bytes].map((b) => Buffer.from([b]))).lines;
    expect(single).toEqual(whole);
    // A multi-byte character cut between chunks is still decoded whole.
    const cut = bytes.indexOf(0xc3);
    expect(split([bytes.subarray(0, cut + 1), bytes.subarray(cut + 1)]).lines).toEqual(whole);
  });

  it('skips empty lines and CR-only lines and ends CRLF lines cleanly', () => {
    const { lines, s } = split(['\n\r\n{"a":1}\r\n']);
    expect(lines).toEqual(['{"a":1}\r']);
    expect(s.drops).toEqual({ oversized: 0, invalid_utf8: 0, truncated: 0 });
  });

  it('drops an oversized line up to its newline, across chunks, and goes on', () => {
    const big = 'x'.repeat(3000);
    const { lines, s } = split([`{"ok":1}\n${big.slice(0, 1000)}`, big.slice(1000), `${big}\n{"ok":2}\n`], 1024);
    expect(lines).toEqual(['{"ok":1}', '{"ok":2}']);
    expect(s.drops.oversized).toBe(1);
  });

  it('drops a line that is not UTF-8 (counted) and keeps the next', () => {
    const bad = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}\n{"ok":true}\n')]);
    const { lines, s } = split([bad]);
    expect(lines).toEqual(['{"ok":true}']);
    expect(s.drops.invalid_utf8).toBe(1);
  });

  it('counts an event cut off by the end of the stream as truncated', () => {
    const { lines, s } = split(['{"type":"ADDED"}\n{"type":"MODI']);
    expect(lines).toEqual(['{"type":"ADDED"}']);
    expect(s.drops.truncated).toBe(1);
    expect(s.takeDrops().truncated).toBe(1);
    expect(s.drops.truncated).toBe(0);
  });

  it('never throws on random bytes, and holds at most one line', () => {
    const s = new NdjsonLines(4096);
    let n = 0;
    for (let i = 0; i < 200; i++) s.push(randomBytes(1 + (i % 700)), () => n++);
    s.end();
    const d = s.drops;
    expect(n + d.invalid_utf8 + d.oversized + d.truncated).toBeGreaterThan(0);
  });

  it('copies a partial line, so the caller may reuse its chunk buffer', () => {
    const s = new NdjsonLines(1024);
    const lines: string[] = [];
    const buf = Buffer.from('{"a":');
    s.push(buf, (l) => lines.push(l));
    buf.fill(0x20);
    s.push(Buffer.from('1}\n'), (l) => lines.push(l));
    expect(lines).toEqual(['{"a":1}']);
  });
});
