import type { LogRecord, MetricPoint } from '../../src/model/index.js';
import type { RecordSink } from '../../src/sources/types.js';

/** A RecordSink that keeps everything offered, with lookups for assertions. */
export class ArraySink implements RecordSink {
  metrics: MetricPoint[] = [];
  logs: LogRecord[] = [];
  events: LogRecord[] = [];

  offerMetric(p: MetricPoint): boolean {
    this.metrics.push(p);
    return true;
  }
  offerLog(r: LogRecord): boolean {
    this.logs.push(r);
    return true;
  }
  offerEvent(e: LogRecord): boolean {
    this.events.push(e);
    return true;
  }
  onLogsDrain(): void {}

  clear(): void {
    this.metrics = [];
    this.logs = [];
    this.events = [];
  }

  named(name: string): MetricPoint[] {
    return this.metrics.filter((p) => p.descriptor.name === name);
  }

  /** The first point of `name` whose point attributes include `attrs`. */
  point(name: string, attrs: Record<string, unknown>): MetricPoint | undefined {
    return this.named(name).find((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));
  }

  /** Points of `name` whose resource has `attr` = `value` (and point attributes ⊇ `attrs`). */
  find(name: string, attr: string, value: unknown, attrs: Record<string, unknown> = {}): MetricPoint[] {
    return this.named(name).filter((p) => p.resource.attributes[attr] === value && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));
  }

  one(name: string, attr: string, value: unknown, attrs: Record<string, unknown> = {}): MetricPoint {
    const found = this.find(name, attr, value, attrs);
    if (found.length !== 1) throw new Error(`${found.length} points of ${name} with ${attr}=${String(value)} ${JSON.stringify(attrs)}`);
    return found[0]!;
  }

  /** The per-process resources (those with process.pid) that have points. */
  pids(): number[] {
    const s = new Set<number>();
    for (const p of this.metrics) {
      const pid = p.resource.attributes['process.pid'];
      if (typeof pid === 'number') s.add(pid);
    }
    return [...s].sort((a, b) => a - b);
  }
}
