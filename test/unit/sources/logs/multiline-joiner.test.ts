import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type JoinedEntry, MultilineJoiner } from '../../../../src/sources/logs/multiline-joiner.js';

const START = /^\d{4}-\d{2}-\d{2} /;
let offset = 0;
function rec(body: string, stream: 'stdout' | 'stderr' = 'stdout') {
  const start = offset;
  offset += Buffer.byteLength(body) + 1;
  return { body, timeUnixNano: BigInt(start + 1), stream, startOffset: start, checkpointOffset: offset, truncated: false };
}

describe('MultilineJoiner', () => {
  it('joins a stack trace to the line that starts it; the next start gives it out', () => {
    offset = 0;
    const j = new MultilineJoiner(START, 1024 * 1024);
    const out: JoinedEntry[] = [];
    for (const b of ['2026-11-25 ERROR boom', 'java.lang.IllegalStateException: x', '\tat a.b(C.java:1)', '\tat d.e(F.java:2)', '2026-11-25 INFO next']) {
      const e = j.add(rec(b));
      if (e) out.push(e);
    }
    expect(out.map((e) => e.body)).toEqual(['2026-11-25 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.b(C.java:1)\n\tat d.e(F.java:2)']);
    const rest = j.flushOne();
    expect(rest?.body).toBe('2026-11-25 INFO next');
    expect(j.flushOne()).toBeUndefined();
  });

  it('streams are joined apart; holdBack is the first line of what is still held', () => {
    offset = 0;
    const j = new MultilineJoiner(START, 1024);
    j.add(rec('2026-11-25 out start'));
    const errStart = offset;
    j.add(rec('2026-11-25 err start', 'stderr'));
    j.add(rec('  err more', 'stderr'));
    j.add(rec('  out more'));
    expect(j.holdBack()).toBe(0);
    const first = j.flushOne()!;
    expect(first.body).toBe('2026-11-25 out start\n  out more');
    expect(j.holdBack()).toBe(errStart);
    expect(j.flushOne()!.body).toBe('2026-11-25 err start\n  err more');
    expect(j.holdBack()).toBe(-1);
  });

  it('an entry never grows past maxBytes: it is given out cut, and the continuation starts anew', () => {
    offset = 0;
    const j = new MultilineJoiner(START, 40);
    j.add(rec('2026-11-25 start'));
    const cut = j.add(rec('x'.repeat(30)));
    expect(cut?.truncated).toBe(true);
    expect(Buffer.byteLength(cut!.body)).toBeLessThanOrEqual(40);
    expect(j.cut).toBe(1);
    expect(j.flushOne()!.body).toBe('x'.repeat(30));
  });

  it('property: no body is lost or reordered, whatever the records', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant('2026-11-25 s'), fc.string({ maxLength: 20 })), { maxLength: 60 }), (bodies) => {
        offset = 0;
        const j = new MultilineJoiner(START, 1024 * 1024);
        const out: string[] = [];
        for (const b of bodies) {
          const e = j.add(rec(b));
          if (e) out.push(e.body);
        }
        for (let e = j.flushOne(); e; e = j.flushOne()) out.push(e.body);
        expect(out.join('\n')).toBe(bodies.join('\n'));
      }),
    );
  });
});
