/**
 * Memory and paging: /proc/meminfo's memory by state, limit and available memory, and swap
 * usage; /proc/vmstat's paging operations and page faults (counters since boot).
 */
import { type Attributes, EMPTY_ATTRIBUTES } from '../../model/index.js';
import * as L from '../../native/host-layout.js';
import type { RecordSink } from '../types.js';
import type { BootTime } from './boot-time.js';
import type { HostFiles } from './host-files.js';
import { memoryStatesOf, swapStatesOf } from './meminfo.js';
import * as M from './metrics.js';
import type { PointFactory } from './point-factory.js';
import { SeriesStarts } from './series-start.js';

const MEMORY_STATES = ['used', 'free', 'buffers', 'cached'] as const;

export interface MemoryCollectorOptions {
  readonly points: PointFactory;
  readonly boot: BootTime;
  /** Where a file that read but does not hold what it should is counted. */
  readonly files: HostFiles;
}

export class MemoryCollector {
  readonly #points: PointFactory;
  readonly #boot: BootTime;
  readonly #files: HostFiles;
  readonly #memAttrs: Record<string, Attributes> = {};
  readonly #swapAttrs = { used: Object.freeze({ 'system.paging.state': 'used' }), free: Object.freeze({ 'system.paging.state': 'free' }) };
  readonly #pagingAttrs = {
    majorIn: Object.freeze({ 'system.paging.fault.type': 'major', 'system.paging.direction': 'in' }),
    majorOut: Object.freeze({ 'system.paging.fault.type': 'major', 'system.paging.direction': 'out' }),
    minorIn: Object.freeze({ 'system.paging.fault.type': 'minor', 'system.paging.direction': 'in' }),
    minorOut: Object.freeze({ 'system.paging.fault.type': 'minor', 'system.paging.direction': 'out' }),
    major: Object.freeze({ 'system.paging.fault.type': 'major' }),
    minor: Object.freeze({ 'system.paging.fault.type': 'minor' }),
  };
  readonly #vmstatValues = new Float64Array(6);
  readonly #vmstatStarts = new SeriesStarts();

  constructor(options: MemoryCollectorOptions) {
    this.#points = options.points;
    this.#boot = options.boot;
    this.#files = options.files;
    for (const s of MEMORY_STATES) this.#memAttrs[s] = Object.freeze({ 'system.memory.state': s });
  }

  /** One read of /proc/meminfo in the reader's layout (host-layout.ts). */
  collectMeminfo(sink: RecordSink, v: Float64Array, now: bigint): void {
    const mem = memoryStatesOf(v);
    if (!mem) {
      this.#files.countMalformed('meminfo');
      return;
    }
    const points = this.#points;
    for (const s of MEMORY_STATES) {
      sink.offerMetric(points.point(M.MEMORY_USAGE, this.#memAttrs[s]!, 0n, now, mem[s]));
      sink.offerMetric(points.point(M.MEMORY_UTILIZATION, this.#memAttrs[s]!, 0n, now, mem[s] / mem.total));
    }
    sink.offerMetric(points.point(M.MEMORY_LIMIT, EMPTY_ATTRIBUTES, 0n, now, mem.total));
    if (mem.available !== undefined) sink.offerMetric(points.point(M.MEMORY_AVAILABLE, EMPTY_ATTRIBUTES, 0n, now, mem.available));
    const swap = swapStatesOf(v);
    if (swap === undefined) return;
    const a = this.#swapAttrs;
    sink.offerMetric(points.point(M.PAGING_USAGE, a.used, 0n, now, swap.used));
    sink.offerMetric(points.point(M.PAGING_USAGE, a.free, 0n, now, swap.free));
    // No swap configured: usage says 0/0; a utilization of 0/0 would be NaN.
    if (swap.total > 0) {
      sink.offerMetric(points.point(M.PAGING_UTILIZATION, a.used, 0n, now, swap.used / swap.total));
      sink.offerMetric(points.point(M.PAGING_UTILIZATION, a.free, 0n, now, swap.free / swap.total));
    }
  }

  /** One read of /proc/vmstat in the reader's layout. */
  collectVmstat(sink: RecordSink, v: Float64Array, now: bigint): void {
    // VMSTAT_KEYS order: pgpgin, pgpgout, pswpin, pswpout, pgfault, pgmajfault.
    const at = L.VMSTAT_START;
    const pgpgin = v[at]!;
    const pgpgout = v[at + 1]!;
    const pswpin = v[at + 2]!;
    const pswpout = v[at + 3]!;
    const pgfault = v[at + 4]!;
    const pgmajfault = v[at + 5]!;
    if (Number.isNaN(pswpin + pswpout + pgpgin + pgpgout + pgfault + pgmajfault)) {
      this.#files.countMalformed('vmstat');
      return;
    }
    const minorFaults = Math.max(0, pgfault - pgmajfault);
    const values = this.#vmstatValues;
    values[0] = pswpin;
    values[1] = pswpout;
    values[2] = pgpgin;
    values[3] = pgpgout;
    values[4] = pgmajfault;
    values[5] = minorFaults;
    this.#vmstatStarts.beginCycle(now);
    const start = this.#vmstatStarts.observe('vmstat', values, this.#boot.startNs);
    const a = this.#pagingAttrs;
    const points = this.#points;
    sink.offerMetric(points.point(M.PAGING_OPERATIONS, a.majorIn, start, now, pswpin));
    sink.offerMetric(points.point(M.PAGING_OPERATIONS, a.majorOut, start, now, pswpout));
    sink.offerMetric(points.point(M.PAGING_OPERATIONS, a.minorIn, start, now, pgpgin));
    sink.offerMetric(points.point(M.PAGING_OPERATIONS, a.minorOut, start, now, pgpgout));
    sink.offerMetric(points.point(M.PAGING_FAULTS, a.major, start, now, pgmajfault));
    sink.offerMetric(points.point(M.PAGING_FAULTS, a.minor, start, now, minorFaults));
  }
}
