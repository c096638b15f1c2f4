/**
 * Pressure stall information: /proc/pressure/{cpu,memory,io}'s stalled time since boot and
 * its share of the last 10, 60 and 300 seconds, for the `some` and `full` lines each file has.
 */
import type { Attributes } from '../../model/index.js';
import * as L from '../../native/host-layout.js';
import type { RecordSink } from '../types.js';
import type { BootTime } from './boot-time.js';
import * as M from './metrics.js';
import type { PointFactory } from './point-factory.js';
import { type PressureLine, pressureLine } from './pressure.js';
import { SeriesStarts } from './series-start.js';

/** The files under /proc/pressure, in the order they are read. */
export const PSI_RESOURCES = ['cpu', 'memory', 'io'] as const;
export type PsiResource = (typeof PSI_RESOURCES)[number];
const PSI_WINDOWS = ['10', '60', '300'] as const;

interface PsiAttrs {
  readonly some: Attributes;
  readonly full: Attributes;
  /** One per window of PSI_WINDOWS. */
  readonly someRatio: Attributes[];
  readonly fullRatio: Attributes[];
}

export interface PressureCollectorOptions {
  readonly points: PointFactory;
  readonly boot: BootTime;
}

export class PressureCollector {
  readonly #points: PointFactory;
  readonly #boot: BootTime;
  readonly #attrs = {} as Record<PsiResource, PsiAttrs>;
  /** One per file: each is read (or missing) on its own. */
  readonly #starts: Record<PsiResource, SeriesStarts> = { cpu: new SeriesStarts(), memory: new SeriesStarts(), io: new SeriesStarts() };
  readonly #totals = new Float64Array(2);

  constructor(options: PressureCollectorOptions) {
    this.#points = options.points;
    this.#boot = options.boot;
    for (const r of PSI_RESOURCES) {
      const ratios = (scope: string): Attributes[] =>
        PSI_WINDOWS.map((w) => Object.freeze({ 'sextant.pressure.resource': r, 'sextant.pressure.scope': scope, 'sextant.pressure.window': `${w}s` }));
      this.#attrs[r] = {
        some: Object.freeze({ 'sextant.pressure.resource': r, 'sextant.pressure.scope': 'some' }),
        full: Object.freeze({ 'sextant.pressure.resource': r, 'sextant.pressure.scope': 'full' }),
        someRatio: ratios('some'),
        fullRatio: ratios('full'),
      };
    }
  }

  /** One read of /proc/pressure/`resource` in the reader's layout (host-layout.ts). */
  collect(sink: RecordSink, resource: PsiResource, v: Float64Array, now: bigint): void {
    const p = { some: pressureLine(v, L.PSI_SOME), full: pressureLine(v, L.PSI_FULL) };
    if (p.some === undefined && p.full === undefined) return;
    const a = this.#attrs[resource];
    const totals = this.#totals;
    totals[0] = p.some?.totalUs ?? 0;
    totals[1] = p.full?.totalUs ?? 0;
    const starts = this.#starts[resource];
    starts.beginCycle(now);
    const start = starts.observe(resource, totals, this.#boot.startNs);
    if (p.some !== undefined) this.#emitLine(sink, a.some, a.someRatio, p.some, start, now);
    if (p.full !== undefined) this.#emitLine(sink, a.full, a.fullRatio, p.full, start, now);
  }

  #emitLine(sink: RecordSink, total: Attributes, ratio: Attributes[], line: PressureLine, start: bigint, now: bigint): void {
    const points = this.#points;
    sink.offerMetric(points.point(M.PRESSURE_STALL_TIME, total, start, now, line.totalUs / 1e6));
    sink.offerMetric(points.point(M.PRESSURE_STALL_RATIO, ratio[0]!, 0n, now, line.avg10 / 100));
    sink.offerMetric(points.point(M.PRESSURE_STALL_RATIO, ratio[1]!, 0n, now, line.avg60 / 100));
    sink.offerMetric(points.point(M.PRESSURE_STALL_RATIO, ratio[2]!, 0n, now, line.avg300 / 100));
  }
}
