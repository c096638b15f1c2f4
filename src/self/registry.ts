/**
 * The agent's own metrics, rendered as Prometheus text on `/metrics`. Deliberately tiny:
 * counters and gauges keyed by a fixed label set, histograms with fixed buckets, gauges that
 * read a callback at scrape time. Label values are bounded by construction (signal names,
 * reasons, status classes); never put a path, pod or token in a label.
 */

type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels | undefined): string {
  if (!labels) return '';
  const keys = Object.keys(labels).sort();
  let out = '';
  for (const k of keys) {
    const v = String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    out += `${out ? ',' : ''}${k}="${v}"`;
  }
  return out;
}

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  render(): string;
}

export class Counter implements Family {
  readonly type = 'counter' as const;
  readonly #values = new Map<string, number>();
  readonly #readers = new Map<string, () => number>();
  constructor(readonly name: string, readonly help: string) {}

  /**
   * Read `fn` at scrape time, for a total something else keeps (the kernel's CPU time of this
   * process): the value must never go down, as for any counter.
   */
  collect(fn: () => number, labels?: Labels): void {
    this.#readers.set(labelKey(labels), fn);
  }

  inc(labels?: Labels, by = 1): void {
    const k = labelKey(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }

  /** A handle with the label text computed once, for hot paths that count often. */
  bind(labels?: Labels): BoundCounter {
    const k = labelKey(labels);
    if (!this.#values.has(k)) this.#values.set(k, 0);
    return new BoundCounter(this.#values, k);
  }

  get(labels?: Labels): number {
    const k = labelKey(labels);
    const r = this.#readers.get(k);
    return r ? r() : (this.#values.get(k) ?? 0);
  }

  /** Sum over every series whose labels include `match` (all series without it). */
  sum(match?: Labels): number {
    const want = match ? Object.entries(match).map(([k, v]) => `${k}="${v}"`) : [];
    const matches = (k: string): boolean => want.every((w) => k.split(',').includes(w));
    let total = 0;
    for (const [k, v] of this.#values) if (matches(k)) total += v;
    for (const [k, fn] of this.#readers) if (matches(k)) total += fn();
    return total;
  }

  render(): string {
    let out = '';
    for (const [k, v] of this.#values) out += `${this.name}${k ? `{${k}}` : ''} ${v}\n`;
    for (const [k, fn] of this.#readers) out += `${this.name}${k ? `{${k}}` : ''} ${fn()}\n`;
    return out;
  }
}

export class BoundCounter {
  readonly #values: Map<string, number>;
  readonly #key: string;
  constructor(values: Map<string, number>, key: string) {
    this.#values = values;
    this.#key = key;
  }
  inc(by = 1): void {
    this.#values.set(this.#key, (this.#values.get(this.#key) ?? 0) + by);
  }
  get value(): number {
    return this.#values.get(this.#key) ?? 0;
  }
}

export class Gauge implements Family {
  readonly type = 'gauge' as const;
  readonly #values = new Map<string, number>();
  readonly #readers = new Map<string, () => number>();
  constructor(readonly name: string, readonly help: string) {}

  set(value: number, labels?: Labels): void {
    this.#values.set(labelKey(labels), value);
  }

  /** Read `fn` at scrape time (ring fill, in-flight requests): nothing to keep in sync. */
  collect(fn: () => number, labels?: Labels): void {
    this.#readers.set(labelKey(labels), fn);
  }

  get(labels?: Labels): number {
    const k = labelKey(labels);
    const r = this.#readers.get(k);
    return r ? r() : (this.#values.get(k) ?? 0);
  }

  render(): string {
    let out = '';
    for (const [k, v] of this.#values) out += `${this.name}${k ? `{${k}}` : ''} ${v}\n`;
    for (const [k, fn] of this.#readers) out += `${this.name}${k ? `{${k}}` : ''} ${fn()}\n`;
    return out;
  }
}

interface HistogramSeries {
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class Histogram implements Family {
  readonly type = 'histogram' as const;
  readonly #series = new Map<string, HistogramSeries>();
  readonly buckets: readonly number[];
  constructor(readonly name: string, readonly help: string, buckets: readonly number[]) {
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(value: number, labels?: Labels): void {
    const k = labelKey(labels);
    let s = this.#series.get(k);
    if (!s) {
      s = { counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** Estimated quantile (linear within the bucket), for the one-line summary and `sextant top`. */
  quantile(q: number, labels?: Labels): number {
    const s = this.#series.get(labelKey(labels));
    if (!s || s.count === 0) return 0;
    const rank = q * s.count;
    let prevBound = 0;
    let prevCount = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      const c = s.counts[i]!;
      if (c >= rank) {
        const bound = this.buckets[i]!;
        return c === prevCount ? bound : prevBound + ((bound - prevBound) * (rank - prevCount)) / (c - prevCount);
      }
      prevBound = this.buckets[i]!;
      prevCount = c;
    }
    return this.buckets[this.buckets.length - 1] ?? 0;
  }

  render(): string {
    let out = '';
    for (const [k, s] of this.#series) {
      const sep = k ? ',' : '';
      for (let i = 0; i < this.buckets.length; i++) {
        out += `${this.name}_bucket{${k}${sep}le="${this.buckets[i]}"} ${s.counts[i]}\n`;
      }
      out += `${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}\n`;
      out += `${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}\n`;
      out += `${this.name}_count${k ? `{${k}}` : ''} ${s.count}\n`;
    }
    return out;
  }
}

/** One per process; every component registers its families here at construction. */
export class Registry {
  readonly #families = new Map<string, Family>();

  counter(name: string, help: string): Counter {
    return this.#get(name, () => new Counter(name, help), 'counter');
  }

  gauge(name: string, help: string): Gauge {
    return this.#get(name, () => new Gauge(name, help), 'gauge');
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#get(name, () => new Histogram(name, help, buckets), 'histogram');
  }

  #get<F extends Family>(name: string, make: () => F, type: Family['type']): F {
    const existing = this.#families.get(name);
    if (existing) {
      if (existing.type !== type) throw new Error(`metric ${name} registered as ${existing.type}, asked for ${type}`);
      return existing as F;
    }
    const f = make();
    this.#families.set(name, f);
    return f;
  }

  render(): string {
    let out = '';
    for (const f of this.#families.values()) {
      out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n${f.render()}`;
    }
    return out;
  }
}

/** Seconds; export latency lives between a loopback millisecond and a slow WAN retry. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
