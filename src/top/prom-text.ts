/**
 * A tolerant reader of the Prometheus text exposition format (0.0.4), enough for `sextant top`:
 * `name{label="value",…} value [timestamp]` lines, `#` comments skipped. A line it cannot read
 * is counted in `badLines` and skipped — a scrape from a newer or broken agent shows what it can
 * and never throws.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedMetrics {
  /** Samples by metric name (histogram series under their `_bucket`/`_sum`/`_count` names). */
  readonly byName: ReadonlyMap<string, readonly Sample[]>;
  readonly badLines: number;
}

/** Longest line looked at; a longer one is counted bad rather than scanned. */
const MAX_LINE = 64 * 1024;
/** Most samples kept; the rest of a runaway page is counted bad. */
const MAX_SAMPLES = 200_000;

const NAME_START = /[A-Za-z_:]/;
const NAME_CHAR = /[A-Za-z0-9_:]/;

export function parsePrometheusText(text: string): ParsedMetrics {
  const byName = new Map<string, Sample[]>();
  let bad = 0;
  let kept = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const raw = text.slice(start, end);
    start = end + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    if (line.length > MAX_LINE || kept >= MAX_SAMPLES) {
      bad++;
      continue;
    }
    const s = parseSampleLine(line);
    if (s === undefined) {
      bad++;
      continue;
    }
    let list = byName.get(s.name);
    if (list === undefined) byName.set(s.name, (list = []));
    list.push(s);
    kept++;
  }
  return { byName, badLines: bad };
}

/** One sample line, or undefined when it is not one. */
export function parseSampleLine(line: string): Sample | undefined {
  let i = 0;
  const n = line.length;
  while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
  const nameStart = i;
  if (i >= n || !NAME_START.test(line[i]!)) return undefined;
  i++;
  while (i < n && NAME_CHAR.test(line[i]!)) i++;
  const name = line.slice(nameStart, i);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (i < n && (line[i] === ' ' || line[i] === ',')) i++;
      if (i >= n) return undefined;
      if (line[i] === '}') {
        i++;
        break;
      }
      const ks = i;
      if (!NAME_START.test(line[i]!)) return undefined;
      while (i < n && NAME_CHAR.test(line[i]!)) i++;
      const key = line.slice(ks, i);
      while (i < n && line[i] === ' ') i++;
      if (line[i] !== '=') return undefined;
      i++;
      while (i < n && line[i] === ' ') i++;
      if (line[i] !== '"') return undefined;
      i++;
      let value = '';
      let closed = false;
      while (i < n) {
        const c = line[i]!;
        if (c === '\\') {
          const next = line[i + 1];
          if (next === undefined) return undefined;
          value += next === 'n' ? '\n' : next;
          i += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        value += c;
        i++;
      }
      if (!closed) return undefined;
      // A repeated label is malformed exposition.
      if (Object.prototype.hasOwnProperty.call(labels, key)) return undefined;
      labels[key] = value;
    }
  }
  if (i >= n || (line[i] !== ' ' && line[i] !== '\t')) return undefined;
  const rest = line.slice(i).trim().split(/[ \t]+/);
  if (rest.length < 1 || rest.length > 2) return undefined;
  const value = parseValue(rest[0]!);
  if (value === undefined) return undefined;
  if (rest.length === 2 && !/^-?\d+$/.test(rest[1]!)) return undefined;
  return { name, labels, value };
}

function parseValue(s: string): number | undefined {
  switch (s) {
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case 'NaN':
      return NaN;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/** Samples of `name` whose labels include every pair of `match`. */
export function select(parsed: ParsedMetrics, name: string, match: Readonly<Record<string, string>> = {}): readonly Sample[] {
  const list = parsed.byName.get(name);
  if (list === undefined) return [];
  const keys = Object.keys(match);
  if (keys.length === 0) return list;
  return list.filter((s) => keys.every((k) => s.labels[k] === match[k]));
}

/** Sum of the samples of `name` matching `match` (0 when there are none). */
export function sum(parsed: ParsedMetrics, name: string, match: Readonly<Record<string, string>> = {}): number {
  let total = 0;
  for (const s of select(parsed, name, match)) if (Number.isFinite(s.value)) total += s.value;
  return total;
}

/** The value of one sample, or undefined when absent. */
export function valueOf(parsed: ParsedMetrics, name: string, match: Readonly<Record<string, string>> = {}): number | undefined {
  const s = select(parsed, name, match)[0];
  return s?.value;
}

/**
 * The q-quantile from cumulative histogram buckets `[upperBound, count]` (any order), linear
 * within the bucket as Prometheus' histogram_quantile does; undefined with no observations.
 * A quantile that falls in the +Inf bucket is the highest finite bound.
 */
export function bucketQuantile(q: number, buckets: readonly (readonly [number, number])[]): number | undefined {
  const sorted = buckets.filter(([le, c]) => !Number.isNaN(le) && Number.isFinite(c)).sort((a, b) => a[0] - b[0]);
  if (sorted.length === 0) return undefined;
  const total = sorted[sorted.length - 1]![1];
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [le, c] of sorted) {
    if (c >= rank) {
      if (le === Infinity) return prevBound;
      if (c === prevCount) return le;
      return prevBound + ((le - prevBound) * (rank - prevCount)) / (c - prevCount);
    }
    prevBound = le === Infinity ? prevBound : le;
    prevCount = c;
  }
  return prevBound;
}
