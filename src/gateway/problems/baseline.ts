/**
 * Robust baselines: the median and the median absolute deviation (MAD) of a series' steps
 * before the latest ones, judged k-of-n. Median and MAD ignore the few wild steps a mean and a
 * standard deviation would chase; k-of-n ignores one odd step; a floor keeps a flat series
 * (MAD 0) from calling every wobble an anomaly. Pure functions of the steps: the verdict after
 * a gateway restart is the verdict before it, since the history is the store's.
 */

/** 1.4826 × MAD estimates the standard deviation of normally distributed data. */
const MAD_SCALE = 1.4826;

export interface BaselineOptions {
  /** k: violating steps among the latest n that make an anomaly. */
  readonly violations: number;
  /** n: the latest steps judged (the rest is the baseline). */
  readonly steps: number;
  /** Robust standard deviations above the median a step must exceed. */
  readonly deviations: number;
  /** Least steps with data in the baseline before any verdict. */
  readonly minHistorySteps: number;
  /** A step must also exceed the median by at least this much (the series' unit). */
  readonly floor: number;
}

export type Verdict =
  | { readonly verdict: 'learning'; readonly history: number }
  | {
      readonly verdict: 'normal' | 'anomaly';
      readonly median: number;
      readonly mad: number;
      readonly threshold: number;
      /** Violating steps among the latest n. */
      readonly violations: number;
      /** Index (into the input) of the first violating step of the latest n; -1 when none. */
      readonly onsetIndex: number;
      /** Index of the last violating step; -1 when none. */
      readonly lastIndex: number;
    };

export function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function finite(v: number | undefined | null): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Judges the latest `steps` values of a series (oldest first; undefined, null, NaN or ±Infinity
 * is a step without data) against the baseline of the values before them. A step without data
 * never violates.
 */
export function judge(values: readonly (number | undefined | null)[], o: BaselineOptions): Verdict {
  const recent = latestWithData(values, o.steps);
  const split = recent.length > 0 ? recent[0]! : Math.max(0, values.length - o.steps);
  const history: number[] = [];
  for (let i = 0; i < split; i++) {
    const v = values[i];
    if (finite(v)) history.push(v);
  }
  if (history.length < Math.max(1, o.minHistorySteps)) return { verdict: 'learning', history: history.length };
  history.sort((a, b) => a - b);
  const med = median(history);
  const dev = history.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
  const mad = median(dev);
  const threshold = med + Math.max(o.deviations * MAD_SCALE * mad, o.floor);
  let violations = 0;
  let onsetIndex = -1;
  let lastIndex = -1;
  for (const i of recent) {
    const v = values[i];
    if (finite(v) && v > threshold) {
      violations++;
      if (onsetIndex < 0) onsetIndex = i;
      lastIndex = i;
    }
  }
  return { verdict: violations >= o.violations ? 'anomaly' : 'normal', median: med, mad, threshold, violations, onsetIndex, lastIndex };
}

/**
 * Indices of the latest `n` steps with data, oldest first, looking back at most 2n steps: a
 * reading that fell into the next step (an agent's interval as long as the step, jittering)
 * leaves a step empty without shrinking what is judged, while a series that stopped is not
 * judged on its old steps for long.
 */
export function latestWithData(values: readonly (number | undefined | null | boolean)[], n: number): number[] {
  const out: number[] = [];
  for (let i = values.length - 1; i >= Math.max(0, values.length - 2 * n) && out.length < n; i--) {
    const v = values[i];
    if (typeof v === 'boolean' || finite(v as number | undefined | null)) out.push(i);
  }
  return out.reverse();
}

/**
 * The increase of a cumulative counter per step from each step's last value: a value below
 * the one before is a reset (a restarted container, a new start time), counted from zero.
 * Across steps without data the increase is spread evenly and given to the step that has the
 * value (the steps between stay without data). The first value has no increase (undefined).
 */
export function increases(lastValues: readonly (number | undefined)[]): (number | undefined)[] {
  const out: (number | undefined)[] = new Array<number | undefined>(lastValues.length).fill(undefined);
  let prevIndex = -1;
  for (let i = 0; i < lastValues.length; i++) {
    const cur = lastValues[i];
    if (!finite(cur)) continue;
    if (prevIndex >= 0) {
      const prev = lastValues[prevIndex]!;
      out[i] = (cur >= prev ? cur - prev : cur) / (i - prevIndex);
    }
    prevIndex = i;
  }
  return out;
}

/**
 * Least-squares slope of (t, v) per ms, over the finite points; undefined with fewer than 3.
 */
export function slope(t: readonly number[], v: readonly (number | undefined)[]): number | undefined {
  let n = 0;
  let st = 0;
  let sv = 0;
  for (let i = 0; i < t.length; i++) {
    const y = v[i];
    if (!finite(y) || !finite(t[i])) continue;
    n++;
    st += t[i]!;
    sv += y;
  }
  if (n < 3) return undefined;
  const mt = st / n;
  const mv = sv / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < t.length; i++) {
    const y = v[i];
    if (!finite(y) || !finite(t[i])) continue;
    num += (t[i]! - mt) * (y - mv);
    den += (t[i]! - mt) ** 2;
  }
  return den === 0 ? undefined : num / den;
}
