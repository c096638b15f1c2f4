import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { increases, judge, median, slope, type BaselineOptions } from '../../../../src/gateway/problems/baseline.js';

/**
 * The robust baseline on synthetic series: steps and spikes, slow drifts, missing data, counter
 * resets, a gateway restart mid-window (a gap in the data), and garbage values.
 */

const O: BaselineOptions = { violations: 3, steps: 5, deviations: 5, minHistorySteps: 12, floor: 0.1 };
/** A noisy flat series around `level` (deterministic). */
const flat = (n: number, level: number, noise = 0.02): number[] => Array.from({ length: n }, (_, i) => level + noise * Math.sin(i * 1.7));

describe('judge', () => {
  it('learns before it judges: fewer steps than minHistorySteps give no verdict', () => {
    expect(judge([...flat(5, 1), 9, 9, 9, 9, 9], O)).toEqual({ verdict: 'learning', history: 5 });
  });

  it('a step up is an anomaly once k of the latest n steps pass the threshold, dated at the first', () => {
    const v = judge([...flat(60, 0.2), 0.2, 0.2, 1.5, 1.6, 1.5], O);
    expect(v.verdict).toBe('anomaly');
    if (v.verdict === 'learning') throw new Error('unreachable');
    expect(v.violations).toBe(3);
    expect(v.onsetIndex).toBe(62);
    expect(v.median).toBeCloseTo(0.2, 1);
  });

  it('one spike is not an anomaly (k-of-n), two are not either with k = 3', () => {
    expect(judge([...flat(60, 0.2), 0.2, 5, 0.2, 0.2, 0.2], O).verdict).toBe('normal');
    expect(judge([...flat(60, 0.2), 5, 0.2, 5, 0.2, 0.2], O).verdict).toBe('normal');
  });

  it('a slow drift within the noise is normal; the same drift past the floor in the latest steps is an anomaly', () => {
    const drift = Array.from({ length: 60 }, (_, i) => 0.2 + i * 0.001);
    expect(judge([...drift, 0.27, 0.27, 0.28, 0.28, 0.28], O).verdict).toBe('normal');
    expect(judge([...drift, 0.6, 0.6, 0.7, 0.7, 0.7], O).verdict).toBe('anomaly');
  });

  it('a flat series (MAD 0) is judged by the floor, not by every wobble', () => {
    const zeros = new Array<number>(60).fill(0);
    expect(judge([...zeros, 0.05, 0.05, 0.05, 0.05, 0.05], O).verdict).toBe('normal');
    expect(judge([...zeros, 0.5, 0.5, 0.5, 0.05, 0.05], O).verdict).toBe('anomaly');
  });

  it('missing steps never violate and do not count as history; a gateway restart mid-window (a gap) changes nothing', () => {
    const withGap: (number | undefined)[] = [...flat(30, 0.2), ...new Array<undefined>(20).fill(undefined), ...flat(30, 0.2), 1.5, 1.5, 1.5, undefined, undefined];
    const v = judge(withGap, O);
    expect(v.verdict).toBe('anomaly');
    // The same data without the gap gives the same verdict and baseline.
    const noGap = judge([...flat(30, 0.2), ...flat(30, 0.2), 1.5, 1.5, 1.5, undefined, undefined], O);
    if (v.verdict === 'learning' || noGap.verdict === 'learning') throw new Error('unreachable');
    expect(v.median).toBeCloseTo(noGap.median, 6);
    // All missing: still learning.
    expect(judge(new Array<undefined>(80).fill(undefined), O).verdict).toBe('learning');
  });

  it('judges the latest n steps with data: readings jittering across a step boundary leave gaps, not misses', () => {
    // Every other step empty (an agent interval as long as the step): the latest 5 with data.
    const jitter = [...flat(60, 0.2), 1.5, undefined, 1.5, undefined, 1.5, undefined];
    expect(judge(jitter, O).verdict).toBe('anomaly');
    // A series that stopped long ago is not judged on its old steps.
    expect(judge([...flat(60, 0.2), 1.5, 1.5, 1.5, ...new Array<undefined>(10).fill(undefined)], O).verdict).toBe('normal');
  });

  it('NaN, Infinity and null are steps without data, never violations', () => {
    const v = judge([...flat(60, 0.2), NaN, Infinity, null, -Infinity, 0.2], O);
    expect(v.verdict).toBe('normal');
  });

  it('a huge series is judged in linear-ish time', () => {
    const big = flat(200_000, 3, 0.5);
    const t = performance.now();
    expect(judge(big, O).verdict).toBe('normal');
    expect(performance.now() - t).toBeLessThan(2_000);
  });

  it('never throws and never calls an all-below-median window an anomaly (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double(), fc.constant(undefined)), { maxLength: 300 }), (values) => {
        const v = judge(values, O);
        if (v.verdict === 'anomaly') expect(v.violations).toBeGreaterThanOrEqual(O.violations);
      }),
    );
  });
});

describe('increases (counters)', () => {
  it('is the step-to-step difference; a reset (a restarted container) counts from zero', () => {
    expect(increases([10, 15, 25, 3, 8])).toEqual([undefined, 5, 10, 3, 5]);
  });

  it('across steps without data the increase is spread over the steps it covers', () => {
    expect(increases([10, undefined, 30, 40])).toEqual([undefined, undefined, 10, 10]);
    expect(increases([undefined, 5, undefined, undefined, 2])).toEqual([undefined, undefined, undefined, undefined, 2 / 3]);
  });
});

describe('slope', () => {
  it('is the least-squares rate per ms; undefined with fewer than three points', () => {
    expect(slope([0, 1000, 2000, 3000], [0.5, 0.6, 0.7, 0.8])).toBeCloseTo(0.0001, 8);
    expect(slope([0, 1000], [1, 2])).toBeUndefined();
    expect(slope([0, 1000, 2000, 3000], [0.5, undefined, NaN, 0.8])).toBeUndefined();
  });

  it('median of an even and an odd count', () => {
    expect(median([1, 2, 3, 4])).toBe(2.5);
    expect(median([1, 2, 3])).toBe(2);
  });
});
