import type { AgentStatus, FileLag } from '../self/agent-status.js';
import { bucketQuantile, type ParsedMetrics, select, sum, valueOf } from './prom-text.js';

/**
 * What `sextant top` shows, computed from one scrape (totals, gauges) and, when there is one,
 * the scrape before it (rates, latency over the interval). Pure: no I/O, no clock.
 */

export interface Scrape {
  /** Monotonic milliseconds when the scrape completed. */
  readonly atMs: number;
  readonly metrics: ParsedMetrics;
  /** `/status` of the agent; null when it has none (an older agent) or it failed. */
  readonly status: AgentStatus | null;
}

export interface SourceRow {
  readonly source: string;
  readonly records: number;
  readonly bytes: number;
  readonly recordsPerSec: number | undefined;
  readonly bytesPerSec: number | undefined;
}

export interface RingRow {
  readonly signal: string;
  readonly items: number;
  readonly capacityItems: number;
  readonly bytes: number;
  readonly capacityBytes: number;
  /** The fuller of items and bytes, 0–1. */
  readonly fill: number;
}

export interface DropRow {
  readonly reason: string;
  readonly total: number;
  readonly perSec: number | undefined;
}

export interface ExportRow {
  readonly signal: string;
  readonly requestsPerSec: number | undefined;
  readonly recordsPerSec: number | undefined;
  /** Seconds; over the interval when it saw requests, else since the agent started. */
  readonly p50: number | undefined;
  readonly p99: number | undefined;
  readonly latencyWindow: 'interval' | 'total';
  readonly retries: number;
  readonly retriesPerSec: number | undefined;
  readonly failed: number;
}

export interface TopView {
  readonly intervalSec: number | undefined;
  /** Agent CPU, percent of one core, over the interval. */
  readonly cpuPercent: number | undefined;
  readonly rssBytes: number | undefined;
  /** Anonymous RSS: what the agent allocated (sextant_memory_rss_anon_bytes). */
  readonly rssAnonBytes: number | undefined;
  /** The cgroup's working set (what kubelet evicts on); undefined where the agent has no cgroup. */
  readonly workingSetBytes: number | undefined;
  /** The cgroup memory limit, when there is one. */
  readonly memoryLimitBytes: number | undefined;
  readonly inFlight: number | undefined;
  /** The disk spool: bytes on disk, its bound, batches waiting; undefined when it is off. */
  readonly spool: { readonly bytes: number; readonly capacity: number; readonly batches: number } | undefined;
  readonly sources: readonly SourceRow[];
  readonly rings: readonly RingRow[];
  readonly drops: readonly DropRow[];
  readonly exports: readonly ExportRow[];
  /** Furthest behind first; null when the agent has no /status or no log source. */
  readonly lag: readonly FileLag[] | null;
  readonly badLines: number;
}

/** Labels of `name` present in either scrape, in first-seen order. */
function labelValues(m: ParsedMetrics, name: string, label: string): string[] {
  const out: string[] = [];
  for (const s of select(m, name)) {
    const v = s.labels[label];
    if (v !== undefined && !out.includes(v)) out.push(v);
  }
  return out;
}

/** A per-second rate, or undefined without an earlier scrape or across a counter reset. */
function rate(cur: number, prev: number | undefined, seconds: number | undefined): number | undefined {
  if (prev === undefined || seconds === undefined || seconds <= 0) return undefined;
  const d = cur - prev;
  return d < 0 ? undefined : d / seconds;
}

function histogramBuckets(m: ParsedMetrics, name: string, match: Readonly<Record<string, string>>): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of select(m, `${name}_bucket`, match)) {
    const le = s.labels['le'];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    if (Number.isNaN(bound)) continue;
    out.set(bound, (out.get(bound) ?? 0) + s.value);
  }
  return out;
}

export function buildView(cur: Scrape, prev: Scrape | undefined): TopView {
  const m = cur.metrics;
  const p = prev?.metrics;
  const seconds = prev === undefined ? undefined : (cur.atMs - prev.atMs) / 1000;
  const prevSum = (name: string, match: Readonly<Record<string, string>> = {}): number | undefined => (p === undefined ? undefined : sum(p, name, match));

  const cpuNow = valueOf(m, 'process_cpu_seconds_total');
  const cpuBefore = p === undefined ? undefined : valueOf(p, 'process_cpu_seconds_total');
  const cpuRate = cpuNow === undefined ? undefined : rate(cpuNow, cpuBefore, seconds);

  const sources: SourceRow[] = [];
  for (const source of labelValues(m, 'sextant_source_records_total', 'source')) {
    const records = sum(m, 'sextant_source_records_total', { source });
    const bytes = sum(m, 'sextant_source_bytes_total', { source });
    sources.push({
      source,
      records,
      bytes,
      recordsPerSec: rate(records, prevSum('sextant_source_records_total', { source }), seconds),
      bytesPerSec: rate(bytes, prevSum('sextant_source_bytes_total', { source }), seconds),
    });
  }

  const rings: RingRow[] = [];
  for (const signal of labelValues(m, 'sextant_pipeline_queue_capacity_items', 'signal')) {
    const items = sum(m, 'sextant_pipeline_queue_items', { signal });
    const capacityItems = sum(m, 'sextant_pipeline_queue_capacity_items', { signal });
    const bytes = sum(m, 'sextant_pipeline_queue_bytes', { signal });
    const capacityBytes = sum(m, 'sextant_pipeline_queue_capacity_bytes', { signal });
    const fill = Math.max(capacityItems > 0 ? items / capacityItems : 0, capacityBytes > 0 ? bytes / capacityBytes : 0);
    rings.push({ signal, items, capacityItems, bytes, capacityBytes, fill });
  }

  const drops: DropRow[] = [];
  for (const reason of labelValues(m, 'sextant_pipeline_dropped_total', 'reason')) {
    const total = sum(m, 'sextant_pipeline_dropped_total', { reason });
    drops.push({ reason, total, perSec: rate(total, prevSum('sextant_pipeline_dropped_total', { reason }), seconds) });
  }

  const exports: ExportRow[] = [];
  for (const signal of labelValues(m, 'sextant_export_requests_total', 'signal')) {
    const requests = sum(m, 'sextant_export_requests_total', { signal });
    const records = sum(m, 'sextant_export_records_total', { signal });
    const retries = sum(m, 'sextant_export_retries_total', { signal });
    const failed = requests - sum(m, 'sextant_export_requests_total', { signal, result: 'success' });
    const now = histogramBuckets(m, 'sextant_export_latency_seconds', { signal });
    let window: 'interval' | 'total' = 'total';
    let buckets = [...now];
    if (p !== undefined) {
      const before = histogramBuckets(p, 'sextant_export_latency_seconds', { signal });
      const delta = [...now].map(([le, c]) => [le, c - (before.get(le) ?? 0)] as [number, number]);
      const seen = delta.find(([le]) => le === Infinity)?.[1] ?? 0;
      if (seen > 0 && delta.every(([, c]) => c >= 0)) {
        buckets = delta;
        window = 'interval';
      }
    }
    exports.push({
      signal,
      requestsPerSec: rate(requests, prevSum('sextant_export_requests_total', { signal }), seconds),
      recordsPerSec: rate(records, prevSum('sextant_export_records_total', { signal }), seconds),
      p50: bucketQuantile(0.5, buckets),
      p99: bucketQuantile(0.99, buckets),
      latencyWindow: window,
      retries,
      retriesPerSec: rate(retries, prevSum('sextant_export_retries_total', { signal }), seconds),
      failed,
    });
  }

  return {
    intervalSec: seconds,
    cpuPercent: cpuRate === undefined ? undefined : cpuRate * 100,
    rssBytes: valueOf(m, 'sextant_memory_rss_bytes') ?? valueOf(m, 'process_resident_memory_bytes'),
    rssAnonBytes: valueOf(m, 'sextant_memory_rss_anon_bytes'),
    workingSetBytes: valueOf(m, 'sextant_memory_working_set_bytes'),
    memoryLimitBytes: valueOf(m, 'sextant_memory_limit_bytes'),
    inFlight: select(m, 'sextant_export_in_flight').length === 0 ? undefined : sum(m, 'sextant_export_in_flight'),
    spool:
      select(m, 'sextant_spool_capacity_bytes').length === 0
        ? undefined
        : { bytes: sum(m, 'sextant_spool_bytes'), capacity: sum(m, 'sextant_spool_capacity_bytes'), batches: sum(m, 'sextant_spool_batches') },
    sources,
    rings,
    drops,
    exports,
    lag: cur.status?.logs?.lag ?? null,
    badLines: m.badLines,
  };
}
