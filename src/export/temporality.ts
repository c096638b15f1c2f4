import { type Attributes, type MetricPoint, attributesKey, nowUnixNano } from '../model/index.js';

/**
 * Turns cumulative readings of monotonic sums into deltas, for endpoints that want delta
 * temporality (Dynatrace). Gauges and non-monotonic sums pass through unchanged: OTel's delta
 * preference keeps up-down counters cumulative.
 *
 * Per series (resource key + metric name + attribute set) it keeps the last cumulative value,
 * its time and the counter's start time. For each new reading:
 * - first sighting: the counter started at `startTimeUnixNano` from 0. If that is after this
 *   converter was created (`since`), nobody can have reported any of it, so the whole value is
 *   emitted as a delta over [start, time]. Otherwise part of it may already have been counted
 *   (by a previous agent run) and the reading only becomes the baseline: nothing is emitted.
 * - steady: value − previous over [previous time, time].
 * - reset (the value went down, or the start time changed): the counter restarted from 0 at
 *   its new start time, so the current value is the delta over [new start, time]; over
 *   [previous time, time] when the source gives no new start after the previous reading (so
 *   intervals never overlap). A delta is never negative.
 * - a reading not newer than the last one (a duplicate, or out of order) emits nothing.
 *
 * `snapshot`/`restore` carry the last-seen values across restarts as plain JSON, and `forget`
 * drops series not seen lately so churning containers do not grow memory without bound.
 */

interface SeriesState {
  value: number;
  time: bigint;
  start: bigint;
}

/** What `snapshot` returns: plain JSON (bigints as decimal strings). */
export interface DeltaSnapshot {
  readonly version: 1;
  readonly series: readonly (readonly [key: string, value: number, timeUnixNano: string, startTimeUnixNano: string])[];
}

const SEP = '\u001d';

export class DeltaConverter {
  readonly #series = new Map<string, SeriesState>();
  /** Series keys of frozen (shared) attribute objects, so sorting their keys happens once. */
  readonly #attrKeys = new WeakMap<Attributes, string>();
  readonly #since: bigint;

  /** `since`: when counting began; counters started after it are reported from their start. */
  constructor(options: { since?: bigint } = {}) {
    this.#since = options.since ?? nowUnixNano();
  }

  get size(): number {
    return this.#series.size;
  }

  convert(points: readonly MetricPoint[]): MetricPoint[] {
    const out: MetricPoint[] = [];
    for (let i = 0; i < points.length; i++) {
      const p = points[i] as MetricPoint;
      const d = p.descriptor;
      if (d.kind !== 'sum' || !d.monotonic) {
        out.push(p);
        continue;
      }
      const key = p.resource.key + SEP + d.name + SEP + this.#attributesKey(p.attributes);
      const prev = this.#series.get(key);
      if (prev === undefined) {
        this.#series.set(key, { value: p.value, time: p.timeUnixNano, start: p.startTimeUnixNano });
        if (p.startTimeUnixNano > this.#since && p.startTimeUnixNano < p.timeUnixNano) {
          out.push(withDelta(p, p.startTimeUnixNano, p.value));
        }
        continue;
      }
      if (p.timeUnixNano <= prev.time) continue;
      // A counter restarted when it went backwards, or when its start moved to after our last
      // reading (it began again since). A start that moved but still lies before the last reading
      // is the same counter re-dated — an agent restart dating a device from boot instead of from
      // when it was first seen, or btime read a second off — and a reset there would re-send
      // everything counted since boot as one delta.
      const s0 = p.startTimeUnixNano;
      const restarted = p.value < prev.value || (s0 !== prev.start && s0 !== 0n && prev.start !== 0n && s0 >= prev.time);
      if (restarted) {
        // From the new start when the source reports one inside (previous time, time); else
        // from the previous reading, so reported intervals never overlap.
        const s = p.startTimeUnixNano;
        const start = s !== prev.start && s >= prev.time && s < p.timeUnixNano ? s : prev.time;
        out.push(withDelta(p, start, p.value));
      } else {
        out.push(withDelta(p, prev.time, d.valueType === 'int' ? p.value - prev.value : subtractDoubles(p.value, prev.value)));
      }
      prev.value = p.value;
      prev.time = p.timeUnixNano;
      prev.start = p.startTimeUnixNano;
    }
    return out;
  }

  snapshot(): DeltaSnapshot {
    const series: [string, number, string, string][] = [];
    for (const [key, s] of this.#series) series.push([key, s.value, s.time.toString(), s.start.toString()]);
    return { version: 1, series };
  }

  /**
   * Loads what `snapshot` returned (read back from the state directory). Entries that are not
   * well-formed are skipped and a snapshot of another shape is ignored: a damaged state file
   * costs one interval of baselines, never a wrong delta.
   */
  restore(s: object): void {
    const snap = s as Partial<DeltaSnapshot>;
    if (snap === null || typeof snap !== 'object' || snap.version !== 1 || !Array.isArray(snap.series)) return;
    for (const entry of snap.series as unknown[]) {
      if (!Array.isArray(entry) || entry.length !== 4) continue;
      const [key, value, time, start] = entry as unknown[];
      if (typeof key !== 'string' || typeof value !== 'number' || !Number.isFinite(value)) continue;
      const t = parseBigInt(time);
      const st = parseBigInt(start);
      if (t === undefined || st === undefined) continue;
      this.#series.set(key, { value, time: t, start: st });
    }
  }

  /** Drops series whose last reading is older than `olderThanUnixNano`; returns how many. */
  forget(olderThanUnixNano: bigint): number {
    let n = 0;
    for (const [key, s] of this.#series) {
      if (s.time < olderThanUnixNano) {
        this.#series.delete(key);
        n++;
      }
    }
    return n;
  }

  #attributesKey(attrs: Attributes): string {
    if (!Object.isFrozen(attrs)) return attributesKey(attrs);
    let k = this.#attrKeys.get(attrs);
    if (k === undefined) {
      k = attributesKey(attrs);
      this.#attrKeys.set(attrs, k);
    }
    return k;
  }
}

function withDelta(p: MetricPoint, start: bigint, value: number): MetricPoint {
  return {
    descriptor: p.descriptor,
    resource: p.resource,
    scope: p.scope,
    attributes: p.attributes,
    startTimeUnixNano: start,
    timeUnixNano: p.timeUnixNano,
    value,
  };
}

function parseBigInt(v: unknown): bigint | undefined {
  if (typeof v !== 'string' || !/^\d{1,20}$/.test(v)) return undefined;
  return BigInt(v);
}

/**
 * `a − b` for cumulative doubles, rounded to the precision the operands carry: CPU seconds of
 * 202.6 − 202.41 give 0.18999999999999773 in binary floating point, and users read 0.19. We keep
 * 15 significant digits of the larger operand (what a double holds exactly) and divide by an
 * exact power of ten so the result is the double nearest the decimal.
 */
export function subtractDoubles(a: number, b: number): number {
  const diff = a - b;
  const magnitude = Math.max(Math.abs(a), Math.abs(b));
  if (magnitude === 0 || !Number.isFinite(diff)) return diff;
  const decimals = 14 - Math.floor(Math.log10(magnitude));
  if (decimals <= 0 || decimals > 22) return diff;
  const scale = 10 ** decimals;
  return Math.round(diff * scale) / scale;
}
