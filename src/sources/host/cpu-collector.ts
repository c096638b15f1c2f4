/**
 * CPU and load: /proc/stat's time per CPU and mode (or summed per mode), the utilization
 * between two reads and the logical CPU count; the two whole-system lines /proc/stat also
 * holds (boot time, processes created); and /proc/loadavg's load averages.
 */
import { type Attributes, EMPTY_ATTRIBUTES } from '../../model/index.js';
import * as L from '../../native/host-layout.js';
import type { RecordSink } from '../types.js';
import type { BootTime } from './boot-time.js';
import { cpuUtilization } from './cpu-utilization.js';
import * as M from './metrics.js';
import type { PointFactory } from './point-factory.js';
import { CPU_MODES, defined } from './proc-stat.js';
import { SeriesStarts } from './series-start.js';

export interface CpuCollectorOptions {
  readonly points: PointFactory;
  readonly boot: BootTime;
  /** Series per logical CPU (`cpu.logical_number`) rather than summed per mode. */
  readonly perCpu: boolean;
  /** USER_HZ (clock ticks per second of /proc/stat). */
  readonly clockTicks: number;
}

export class CpuCollector {
  readonly #points: PointFactory;
  readonly #boot: BootTime;
  readonly #perCpu: boolean;
  readonly #ticks: number;
  readonly #attrs: Attributes[][] = [];
  readonly #totalAttrs: Attributes[] = CPU_MODES.map((mode) => Object.freeze({ 'cpu.mode': mode }));
  readonly #prev = new Map<number, Float64Array>();
  readonly #util = new Float64Array(CPU_MODES.length);
  readonly #starts = new SeriesStarts();
  readonly #sum = new Float64Array(CPU_MODES.length);
  readonly #cur = new Float64Array(CPU_MODES.length);
  #sumPrev: Float64Array | undefined;
  readonly #createdStarts = new SeriesStarts();
  readonly #one = new Float64Array(1);

  constructor(options: CpuCollectorOptions) {
    this.#points = options.points;
    this.#boot = options.boot;
    this.#perCpu = options.perCpu;
    this.#ticks = options.clockTicks;
  }

  /** One read of /proc/stat in the reader's layout (host-layout.ts); pins the boot time first. */
  collectStat(sink: RecordSink, v: Float64Array, now: bigint): void {
    this.#boot.pin(defined(v[L.STAT_BTIME]!));
    const boot = this.#boot.startNs;
    const points = this.#points;
    const perCpu = this.#perCpu;
    const cpus = v[L.HOST_ROWS]!;
    if (cpus > 0) this.#starts.beginCycle(now);
    const sum = this.#sum;
    sum.fill(0);
    for (let r = 0; r < cpus; r++) {
      const row = L.STAT_ROW_START + r * L.STAT_ROW_SIZE;
      const cpu = v[row]!;
      let prev = this.#prev.get(cpu);
      const cur = this.#cur;
      for (let m = 0; m < CPU_MODES.length; m++) cur[m] = v[row + 1 + m]!;
      if (perCpu) {
        const start = this.#starts.observe(`cpu${cpu}`, cur, boot);
        const attrs = this.#attributes(cpu);
        for (let m = 0; m < CPU_MODES.length; m++) sink.offerMetric(points.point(M.CPU_TIME, attrs[m]!, start, now, cur[m]! / this.#ticks));
        if (prev !== undefined && cpuUtilization(prev, cur, this.#util)) {
          for (let m = 0; m < CPU_MODES.length; m++) sink.offerMetric(points.point(M.CPU_UTILIZATION, attrs[m]!, 0n, now, this.#util[m]!));
        }
        if (prev === undefined) this.#prev.set(cpu, (prev = new Float64Array(CPU_MODES.length)));
        prev.set(cur);
      } else {
        for (let m = 0; m < CPU_MODES.length; m++) sum[m]! += cur[m]!;
      }
    }
    if (!perCpu && cpus > 0) {
      const start = this.#starts.observe('cpu', sum, boot);
      const attrs = this.#totalAttrs;
      for (let m = 0; m < CPU_MODES.length; m++) sink.offerMetric(points.point(M.CPU_TIME, attrs[m]!, start, now, sum[m]! / this.#ticks));
      if (this.#sumPrev !== undefined && cpuUtilization(this.#sumPrev, sum, this.#util)) {
        for (let m = 0; m < CPU_MODES.length; m++) sink.offerMetric(points.point(M.CPU_UTILIZATION, attrs[m]!, 0n, now, this.#util[m]!));
      }
      (this.#sumPrev ??= new Float64Array(CPU_MODES.length)).set(sum);
    }
    if (cpus > 0) {
      sink.offerMetric(points.point(M.CPU_LOGICAL_COUNT, EMPTY_ATTRIBUTES, 0n, now, cpus));
      this.#starts.sweep();
    }
    const bootSec = this.#boot.sec;
    if (bootSec !== undefined) sink.offerMetric(points.point(M.BOOT_TIME, EMPTY_ATTRIBUTES, 0n, now, bootSec));
    // Process counts by state come from the process source, which reads every process's state.
    const created = v[L.STAT_PROCESSES]!;
    if (!Number.isNaN(created)) {
      this.#createdStarts.beginCycle(now);
      this.#one[0] = created;
      const start = this.#createdStarts.observe('processes', this.#one, boot);
      sink.offerMetric(points.point(M.PROCESS_CREATED, EMPTY_ATTRIBUTES, start, now, created));
    }
  }

  /** One read of /proc/loadavg in the reader's layout. */
  collectLoad(sink: RecordSink, v: Float64Array, now: bigint): void {
    // Not parsed: out[HOST_MALFORMED] was 1 and is counted by HostFiles.readHost.
    if (v[L.HOST_ROWS] !== 1) return;
    const points = this.#points;
    sink.offerMetric(points.point(M.LOAD_1M, EMPTY_ATTRIBUTES, 0n, now, v[L.LOAD_START]!));
    sink.offerMetric(points.point(M.LOAD_5M, EMPTY_ATTRIBUTES, 0n, now, v[L.LOAD_START + 1]!));
    sink.offerMetric(points.point(M.LOAD_15M, EMPTY_ATTRIBUTES, 0n, now, v[L.LOAD_START + 2]!));
  }

  #attributes(cpu: number): Attributes[] {
    let attrs = this.#attrs[cpu];
    if (!attrs) {
      attrs = CPU_MODES.map((mode) => Object.freeze({ 'cpu.mode': mode, 'cpu.logical_number': cpu }));
      this.#attrs[cpu] = attrs;
    }
    return attrs;
  }
}
