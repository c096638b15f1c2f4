import { describe, expect, it } from 'vitest';
import { SummaryLine } from '../../../src/agent/summary.js';
import { Registry } from '../../../src/self/registry.js';

/** The exported part of a line: total, rate and the span the rate covers. */
function exportedPart(line: string): { total: number; rate: number; over: string } {
  const m = /\| exported ([\d,]+) \(([\d,]+)\/s over ([\d.]+ s)\) \|/.exec(line);
  if (m === null) throw new Error(`no exported part in: ${line}`);
  return { total: Number(m[1]!.replace(/,/g, '')), rate: Number(m[2]!.replace(/,/g, '')), over: m[3]! };
}

/**
 * The agent's timing: metrics leave in one burst of `burst` records 50 ms after each collection
 * (every `collectMs`, the first at the start), and a line is rendered every `printMs`. Returns
 * the exported part of each line up to `untilMs`.
 */
function run(o: { collectMs: number; printMs: number; untilMs: number; burst: number; jitterMs?: (line: number) => number }): ReturnType<typeof exportedPart>[] {
  const registry = new Registry();
  const exported = registry.counter('sextant_export_records_total', '');
  const t0 = 1_000_000;
  const summary = new SummaryLine(registry, { collectionIntervalMs: o.collectMs, printIntervalMs: o.printMs }, t0);
  const lines: ReturnType<typeof exportedPart>[] = [];
  let nextBurst = t0 + 50;
  let at = t0;
  for (let i = 1; at - t0 < o.untilMs; i++) {
    // setInterval re-arms from when its callback ran: each gap is the interval plus a little.
    at += o.printMs + (o.jitterMs?.(i) ?? 0);
    for (; nextBurst <= at; nextBurst += o.collectMs) exported.inc({ signal: 'metrics' }, o.burst);
    lines.push(exportedPart(summary.render(at)));
  }
  return lines;
}

describe('SummaryLine', () => {
  it('with the defaults (a line every 5 s, a collection every 10 s) no line between two exports reads 0/s', () => {
    const lines = run({ collectMs: 10_000, printMs: 5000, untilMs: 60_000, burst: 540, jitterMs: (i) => i % 3 });
    // The first line covers the 5 s since the start: the first cycle's burst over 5 s.
    expect(lines[0]).toEqual({ total: 540, rate: 108, over: '5 s' });
    // From then on every line covers one collection interval, which holds exactly one burst.
    for (const l of lines.slice(1)) expect({ rate: l.rate, over: l.over }).toEqual({ rate: 54, over: '10 s' });
    expect(lines.at(-1)!.total).toBe(540 * 6); // the bursts at 0, 10, …, 50 s
  });

  it('a line at most once per collection interval covers the time since the previous line', () => {
    const lines = run({ collectMs: 10_000, printMs: 30_000, untilMs: 90_000, burst: 100 });
    expect(lines.map((l) => l.over)).toEqual(['30 s', '30 s', '30 s']);
    expect(lines.map((l) => l.rate)).toEqual([10, 10, 10]);
  });

  it('when lines do not divide the interval, the rate covers the shortest run of lines at least one interval long', () => {
    const lines = run({ collectMs: 10_000, printMs: 3000, untilMs: 60_000, burst: 120 });
    expect(lines.slice(0, 3).map((l) => l.over)).toEqual(['3 s', '6 s', '9 s']);
    for (const l of lines.slice(3)) {
      expect(l.over).toBe('12 s');
      expect(l.rate).toBeGreaterThan(0);
    }
  });

  it('reads 0/s once nothing has been exported for a whole interval', () => {
    const registry = new Registry();
    const exported = registry.counter('sextant_export_records_total', '');
    const summary = new SummaryLine(registry, { collectionIntervalMs: 10_000, printIntervalMs: 5000 }, 0);
    exported.inc({ signal: 'logs' }, 50);
    expect(exportedPart(summary.render(5000))).toEqual({ total: 50, rate: 10, over: '5 s' });
    expect(exportedPart(summary.render(10_000))).toEqual({ total: 50, rate: 5, over: '10 s' });
    expect(exportedPart(summary.render(15_000))).toEqual({ total: 50, rate: 0, over: '10 s' });
  });
});
