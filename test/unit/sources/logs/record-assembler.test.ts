import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CriLine, parseCriLine } from '../../../../src/sources/logs/cri-line.js';
import { DOCKER_PARTIAL_BYTES, DockerJsonLine, DockerJsonLineParser } from '../../../../src/sources/logs/docker-json-line.js';
import { DEFAULT_MAX_RECORD_BYTES, RecordAssembler } from '../../../../src/sources/logs/record-assembler.js';

const TS = '2026-11-25T10:05:31.346397416Z';
const TS_NS = 1_795_601_131_346_397_416n;
const OBSERVED = 42n;

interface Out {
  body: string;
  stream: string | undefined;
  time: bigint;
  truncated: boolean;
  malformed: boolean;
  start: number;
  end: number;
  checkpoint: number;
  bytes: number;
}

/** Reads a whole file the way the tailer will: lines split on \n, parsed, assembled. */
function run(file: Buffer, asm: RecordAssembler, format: 'cri' | 'docker' = 'cri', flush = false): Out[] {
  const cri = new CriLine();
  const docker = new DockerJsonLine();
  const parser = new DockerJsonLineParser();
  const out: Out[] = [];
  let start = 0;
  const take = (r: ReturnType<RecordAssembler['add']>): void => {
    if (r === null) return;
    out.push({
      body: r.body,
      stream: r.stream,
      time: r.timeUnixNano,
      truncated: r.truncated,
      malformed: r.malformed,
      start: r.startOffset,
      end: r.endOffset,
      checkpoint: r.checkpointOffset,
      bytes: r.byteLength,
    });
  };
  while (start < file.length) {
    let nl = file.indexOf(0x0a, start);
    if (nl < 0) nl = file.length;
    const piece = format === 'cri' ? parseCriLine(file, start, nl, cri) : parser.parse(file, start, nl, docker);
    take(asm.add(piece, start, Math.min(nl + 1, file.length), OBSERVED));
    start = nl + 1;
  }
  if (flush) for (let r = asm.flush(); r !== null; r = asm.flush()) take(r);
  return out;
}

function criFile(lines: string[]): Buffer {
  return Buffer.from(lines.map((l) => `${l}\n`).join(''));
}

describe('RecordAssembler', () => {
  it('emits one-piece records as they come, with checkpoint offsets', () => {
    const file = criFile([`${TS} stdout F one`, `${TS} stderr F two`]);
    const recs = run(file, new RecordAssembler());
    expect(recs.map((r) => [r.body, r.stream, r.time, r.start, r.end, r.checkpoint])).toEqual([
      ['one', 'stdout', TS_NS, 0, 44, 44],
      ['two', 'stderr', TS_NS, 44, 88, 88],
    ]);
  });

  it('joins P pieces until F, per stream, holding checkpoints at the pending start', () => {
    const file = criFile([
      `${TS} stdout P hel`, //  0..44
      `${TS} stderr F err`, // 44..88
      `${TS} stdout P lo `, // 88..132
      `${TS} stdout F world`, // 132..178
    ]);
    const asm = new RecordAssembler();
    const recs = run(file, asm);
    expect(recs.map((r) => [r.body, r.stream, r.start, r.end, r.checkpoint])).toEqual([
      ['err', 'stderr', 44, 88, 0],
      ['hello world', 'stdout', 0, 178, 178],
    ]);
    expect(asm.pendingOffset()).toBe(-1);
    expect(asm.checkpointOffset()).toBe(178);
  });

  it('says where the earliest pending line starts', () => {
    const asm = new RecordAssembler();
    run(criFile([`${TS} stdout F a`, `${TS} stderr P b`, `${TS} stdout P c`]), asm);
    expect(asm.pendingOffset()).toBe(42);
    expect(asm.checkpointOffset()).toBe(42);
    expect(asm.consumedOffset).toBe(126);
    const r = asm.flush();
    expect([r?.body, r?.stream, r?.checkpointOffset]).toEqual(['b', 'stderr', 84]);
    const r2 = asm.flush();
    expect([r2?.body, r2?.stream, r2?.checkpointOffset]).toEqual(['c', 'stdout', 126]);
    expect(asm.flush()).toBeNull();
  });

  it('delivers a malformed line raw, at the observed time, leaving pending pieces alone', () => {
    const asm = new RecordAssembler();
    const recs = run(criFile([`${TS} stdout P a`, 'garbage \u0000 line', `${TS} stdout F b`]), asm);
    expect(recs.map((r) => [r.body, r.stream, r.time, r.malformed, r.checkpoint])).toEqual([
      ['garbage \u0000 line', undefined, OBSERVED, true, 0],
      ['ab', 'stdout', TS_NS, false, 99],
    ]);
    expect(asm.malformedLines).toBe(1);
  });

  it('decodes once per record: characters split across pieces come out whole', () => {
    const euro = Buffer.from('€');
    const file = Buffer.concat([
      Buffer.from(`${TS} stdout P x`),
      euro.subarray(0, 1),
      Buffer.from(`\n${TS} stdout P `),
      euro.subarray(1, 2),
      Buffer.from(`\n${TS} stdout F `),
      euro.subarray(2),
      Buffer.from('y\n'),
    ]);
    expect(run(file, new RecordAssembler()).map((r) => r.body)).toEqual(['x€y']);
  });

  it('replaces invalid UTF-8 with U+FFFD and keeps NUL', () => {
    const file = Buffer.concat([Buffer.from(`${TS} stdout F a`), Buffer.from([0xff, 0x00, 0xc3]), Buffer.from('b\n')]);
    expect(run(file, new RecordAssembler())[0]?.body).toBe('a\uFFFD\u0000\uFFFDb');
  });

  it('truncates exactly at the max, emits at once, and drops the rest of the record', () => {
    const asm = new RecordAssembler({ maxRecordBytes: 10 });
    const recs = run(
      criFile([
        `${TS} stdout P 123456`, // 0..47
        `${TS} stdout P 7890AB`, // 47..94: crosses 10, emitted here, truncated
        `${TS} stdout P CDEF`, // 94..139: dropped
        `${TS} stdout F GH`, // 139..182: dropped, ends the record
        `${TS} stdout F next`, // 182..227
      ]),
      asm,
    );
    expect(recs.map((r) => [r.body, r.truncated, r.start, r.end])).toEqual([
      ['1234567890', true, 0, 94],
      ['next', false, 182, 227],
    ]);
    expect(asm.truncatedRecords).toBe(1);
    expect(asm.droppedPieces).toBe(3);
    expect(asm.droppedBytes).toBe(2 + 4 + 2);
    expect(asm.pendingOffset()).toBe(-1);
  });

  it('a record of exactly the max is not truncated; one byte more is', () => {
    const asm = new RecordAssembler({ maxRecordBytes: 8 });
    const recs = run(criFile([`${TS} stdout P 1234`, `${TS} stdout F 5678`, `${TS} stdout F 123456789`]), asm);
    expect(recs.map((r) => [r.body, r.truncated])).toEqual([
      ['12345678', false],
      ['12345678', true],
    ]);
  });

  it('cuts at a character boundary, never over the max', () => {
    const asm = new RecordAssembler({ maxRecordBytes: 8 });
    const recs = run(criFile([`${TS} stdout F abcdef€`, `${TS} stdout P abcdef`, `${TS} stdout F €`]), asm);
    expect(recs.map((r) => [r.body, r.bytes, r.truncated])).toEqual([
      ['abcdef', 6, true],
      ['abcdef', 6, true],
    ]);
  });

  it('truncates a malformed 5 MB line and still delivers it', () => {
    const asm = new RecordAssembler();
    const big = Buffer.alloc(5 * 1024 * 1024, 0x61);
    const recs = run(Buffer.concat([big, Buffer.from('\n')]), asm);
    expect(recs).toHaveLength(1);
    expect(recs[0]?.malformed).toBe(true);
    expect(recs[0]?.truncated).toBe(true);
    expect(recs[0]?.body.length).toBe(DEFAULT_MAX_RECORD_BYTES);
  });

  it('merges 5 MB of CRI pieces into one truncated record without holding them', () => {
    const asm = new RecordAssembler();
    const piece = `${TS} stdout P ${'x'.repeat(16 * 1024)}\n`;
    const file = Buffer.from(piece.repeat(320) + `${TS} stdout F end\n`);
    const recs = run(file, asm);
    expect(recs).toHaveLength(1);
    expect(recs[0]?.bytes).toBe(DEFAULT_MAX_RECORD_BYTES);
    expect(recs[0]?.truncated).toBe(true);
    expect(asm.droppedBytes).toBe(320 * 16 * 1024 + 3 - DEFAULT_MAX_RECORD_BYTES);
  });

  it('merges Docker 16 KiB partials', () => {
    const a = 'a'.repeat(DOCKER_PARTIAL_BYTES);
    const b = 'é'.repeat(DOCKER_PARTIAL_BYTES / 2);
    const lines = [
      JSON.stringify({ log: a, stream: 'stdout', time: TS }),
      JSON.stringify({ log: 'other\n', stream: 'stderr', time: TS }),
      JSON.stringify({ log: b, stream: 'stdout', time: TS }),
      JSON.stringify({ log: 'end\n', stream: 'stdout', time: TS }),
      'not json',
    ];
    const recs = run(Buffer.from(lines.join('\n') + '\n'), new RecordAssembler(), 'docker');
    expect(recs.map((r) => [r.body.length, r.stream, r.malformed])).toEqual([
      [5, 'stderr', false], // Docker's line-ending \n is not content
      [a.length + b.length + 3, 'stdout', false],
      [8, undefined, true],
    ]);
    expect(recs[1]?.body).toBe(`${a}${b}end`);
  });

  it('rejects a bad maxRecordBytes', () => {
    expect(() => new RecordAssembler({ maxRecordBytes: 0 })).toThrow(RangeError);
    expect(() => new RecordAssembler({ maxRecordBytes: 1.5 })).toThrow(RangeError);
  });

  it('reset forgets pending pieces', () => {
    const asm = new RecordAssembler();
    run(criFile([`${TS} stdout P a`]), asm);
    asm.reset(0);
    expect(asm.pendingOffset()).toBe(-1);
    expect(asm.flush()).toBeNull();
  });

  it('property: random splits of records into P pieces reproduce every record intact', () => {
    const record = fc.record({
      stream: fc.constantFrom('stdout', 'stderr'),
      body: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b.filter((x) => x !== 0x0a))),
      cuts: fc.array(fc.nat(), { maxLength: 5 }),
    });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 12 }), (records) => {
        // Each record is cut into pieces and the pieces of all records interleaved per stream
        // order: a record's pieces stay contiguous on its own stream.
        const lines: Buffer[] = [];
        const want: { stream: string; body: Buffer }[] = [];
        for (const r of records) {
          const cuts = [...new Set(r.cuts.map((c) => (r.body.length === 0 ? 0 : c % r.body.length)))].sort((x, y) => x - y);
          let at = 0;
          for (const c of cuts) {
            lines.push(Buffer.concat([Buffer.from(`${TS} ${r.stream} P `), r.body.subarray(at, c)]));
            at = c;
          }
          lines.push(Buffer.concat([Buffer.from(`${TS} ${r.stream} F `), r.body.subarray(at)]));
          want.push({ stream: r.stream, body: r.body });
        }
        const file = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
        const asm = new RecordAssembler();
        const got = run(file, asm);
        expect(got.map((g) => [g.stream, g.body])).toEqual(want.map((w) => [w.stream, w.body.toString('utf8')]));
        expect(got.every((g) => !g.truncated && !g.malformed && g.time === TS_NS)).toBe(true);
        // Checkpoints never decrease and end at the file's end.
        for (let i = 1; i < got.length; i++) expect(got[i]!.checkpoint).toBeGreaterThanOrEqual(got[i - 1]!.checkpoint);
        expect(asm.checkpointOffset()).toBe(file.length);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: interleaved streams — checkpoints never pass a pending line', () => {
    const piece = fc.record({ stream: fc.constantFrom('stdout', 'stderr'), tag: fc.constantFrom('P', 'F'), text: fc.string({ unit: 'grapheme-ascii', maxLength: 20 }) });
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const file = criFile(pieces.map((p) => `${TS} ${p.stream} ${p.tag} ${p.text.replace(/\n/g, ' ')}`));
        const asm = new RecordAssembler();
        const recs = run(file, asm, 'cri', true);
        // Every record's bytes lie at or after any checkpoint given before it was emitted.
        let last = 0;
        for (const r of recs) {
          expect(r.start).toBeGreaterThanOrEqual(0);
          expect(r.checkpoint).toBeGreaterThanOrEqual(last);
          last = r.checkpoint;
        }
        for (let i = 0; i < recs.length; i++) {
          for (let j = i + 1; j < recs.length; j++) expect(recs[j]!.start).toBeGreaterThanOrEqual(recs[i]!.checkpoint);
        }
        // All content arrives: per stream, concatenated bodies equal concatenated texts.
        for (const s of ['stdout', 'stderr']) {
          const sent = pieces.filter((p) => p.stream === s).map((p) => p.text.replace(/\n/g, ' ')).join('');
          expect(recs.filter((r) => r.stream === s).map((r) => r.body).join('')).toBe(sent);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('property: random bytes through parser and assembler: no throw, no byte lost below the max', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 4, max: 64 }), (bytes, max) => {
        const asm = new RecordAssembler({ maxRecordBytes: max });
        const recs = run(Buffer.from(bytes), asm, 'cri', true);
        for (const r of recs) {
          expect(r.bytes).toBeLessThanOrEqual(max);
        }
        expect(asm.pendingOffset()).toBe(-1);
      }),
      { numRuns: 1500 },
    );
  });

  it('property: truncation happens exactly at the max for ASCII records', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 200 }), fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 8 }), (max, sizes) => {
        const lines = sizes.map((n, i) => `${TS} stdout ${i === sizes.length - 1 ? 'F' : 'P'} ${'z'.repeat(n)}`);
        lines.push(`${TS} stdout F ok`);
        const asm = new RecordAssembler({ maxRecordBytes: max });
        const recs = run(criFile(lines), asm);
        const total = sizes.reduce((a, b) => a + b, 0);
        expect(recs).toHaveLength(2);
        expect(recs[0]!.body).toBe('z'.repeat(Math.min(total, max)));
        expect(recs[0]!.truncated).toBe(total > max);
        expect(recs[1]!.body).toBe('ok');
        expect(asm.droppedBytes).toBe(Math.max(0, total - max));
      }),
      { numRuns: 1000 },
    );
  });
  it('handOver: what a file ends in the middle of continues in the next file, per stream, carrying the old file\'s ack; a record being discarded stays discarded', () => {
    const old = new RecordAssembler({ maxRecordBytes: 8 });
    const first = run(criFile([`${TS} stdout F one`, `${TS} stdout P hel`, `${TS} stderr P 0123456789`]), old);
    expect(first.map((r) => [r.body, r.truncated])).toEqual([
      ['one', false],
      ['01234567', true], // cut at the bound: the rest of stderr's record is dropped, in whichever file it comes
    ]);
    const next = new RecordAssembler({ maxRecordBytes: 8 });
    const carried = { target: { settle: () => undefined }, token: 7 };
    let asked = 0;
    expect(
      old.handOver(next, () => {
        asked++;
        return carried;
      }),
    ).toBe(true);
    expect(asked).toBe(1); // one record moved: stdout's
    expect(old.flush()).toBeNull(); // nothing left behind to come out alone
    const file = criFile([`${TS} stderr F 89`, `${TS} stdout F lo`, `${TS} stdout F new`]);
    const cri = new CriLine();
    expect(next.add(parseCriLine(file, 0, 42, cri), 0, 43, OBSERVED)).toBeNull(); // stderr's last piece, dropped in the new file
    expect(next.droppedPieces).toBe(1);
    const hello = next.add(parseCriLine(file, 43, 85, cri), 43, 86, OBSERVED)!;
    // It starts at the new file's offset 0: that file's checkpoint waited for it.
    expect([hello.body, hello.stream, hello.startOffset, hello.checkpointOffset, hello.carried]).toEqual(['hello', 'stdout', 0, 86, carried]);
    const later = next.add(parseCriLine(file, 86, 129, cri), 86, 130, OBSERVED)!;
    expect([later.body, later.carried]).toEqual(['new', undefined]);
  });
});
