import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Attributes, MetricDescriptor, MetricPoint, Resource, Scope } from '../../model/index.js';
import { createScope, nowUnixNano } from '../../model/index.js';
import type { Logger } from '../../self/logger.js';
import type { BoundCounter, Registry } from '../../self/registry.js';
import { readCapped } from '../read-capped.js';
import type { RecordSink, Source } from '../types.js';
import { parseLoadavg } from './loadavg.js';
import { memoryStates, parseMeminfo } from './meminfo.js';
import * as M from './metrics.js';
import { CPU_MODES, parseProcStat } from './proc-stat.js';

export interface HostSourceConfig {
  /** Where the host's filesystem is mounted; /proc is read under it. */
  readonly hostRoot: string;
}

export interface HostSourceDeps {
  readonly resource: Resource;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly version: string;
  /** USER_HZ; read once from `getconf CLK_TCK` when not given. */
  readonly clockTicks?: number;
}

/** /proc/stat on a 1,024-CPU machine is ~150 KiB; 1 MiB leaves room and bounds a hostile file. */
const SCRATCH_BYTES = 1 << 20;

const FILES = ['stat', 'meminfo', 'loadavg'] as const;
type HostFile = (typeof FILES)[number];

function clockTicksPerSecond(): number {
  try {
    const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim());
    if (Number.isSafeInteger(v) && v > 0) return v;
  } catch {
    // getconf missing (distroless image): every Linux architecture we ship for uses 100.
  }
  return 100;
}

const MEMORY_STATES = ['used', 'free', 'buffers', 'cached'] as const;

/**
 * The minimal host source of M1.1: CPU time by mode and logical CPU, memory by state, load
 * averages. Attribute objects are built once and reused every cycle, so the encoder's caches
 * keyed by object identity hit and nothing is allocated per point but the point itself.
 */
export class HostSource implements Source {
  readonly name = 'host';
  readonly #procDir: string;
  readonly #resource: Resource;
  readonly #scope: Scope;
  readonly #logger: Logger;
  readonly #ticks: number;
  readonly #scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  readonly #cpuAttrs: Attributes[][] = [];
  readonly #memAttrs: Record<string, Attributes> = {};
  readonly #errors: Record<HostFile, BoundCounter>;
  readonly #malformed: Record<HostFile, BoundCounter>;
  readonly #failing = new Set<HostFile>();
  #bootTimeNs = 0n;

  constructor(config: HostSourceConfig, deps: HostSourceDeps) {
    this.#procDir = path.join(config.hostRoot, 'proc');
    this.#resource = deps.resource;
    this.#scope = createScope('sextant/host', deps.version);
    this.#logger = deps.logger;
    this.#ticks = deps.clockTicks ?? clockTicksPerSecond();
    for (const s of MEMORY_STATES) this.#memAttrs[s] = Object.freeze({ 'system.memory.state': s });
    const readErrors = deps.registry.counter('sextant_source_read_errors_total', 'Files a source could not read, by source and file.');
    const parseErrors = deps.registry.counter('sextant_source_malformed_total', 'Lines or files a source could not parse, by source and file.');
    this.#errors = {} as Record<HostFile, BoundCounter>;
    this.#malformed = {} as Record<HostFile, BoundCounter>;
    for (const f of FILES) {
      this.#errors[f] = readErrors.bind({ source: 'host', file: f });
      this.#malformed[f] = parseErrors.bind({ source: 'host', file: f });
    }
  }

  async collect(sink: RecordSink): Promise<void> {
    const now = nowUnixNano();
    const stat = await this.#read('stat');
    if (stat !== undefined) this.#emitCpu(sink, stat, now);
    const meminfo = await this.#read('meminfo');
    if (meminfo !== undefined) this.#emitMemory(sink, meminfo, now);
    const loadavg = await this.#read('loadavg');
    if (loadavg !== undefined) this.#emitLoad(sink, loadavg, now);
  }

  async stop(): Promise<void> {}

  /** Reads one file; a failure is counted every time and logged once until it recovers. */
  async #read(file: HostFile): Promise<string | undefined> {
    try {
      const text = await readCapped(path.join(this.#procDir, file), this.#scratch);
      if (this.#failing.delete(file)) this.#logger.info({ file }, 'host file readable again');
      return text;
    } catch (err) {
      this.#errors[file].inc();
      if (!this.#failing.has(file)) {
        this.#failing.add(file);
        this.#logger.warn({ file, err: (err as Error).message }, 'cannot read host file; its metrics are skipped until it reads again');
      }
      return undefined;
    }
  }

  #point(descriptor: MetricDescriptor, attributes: Attributes, start: bigint, time: bigint, value: number): MetricPoint {
    return { descriptor, resource: this.#resource, scope: this.#scope, attributes, startTimeUnixNano: start, timeUnixNano: time, value };
  }

  #emitCpu(sink: RecordSink, text: string, now: bigint): void {
    const stat = parseProcStat(text);
    if (stat.malformed > 0) this.#malformed.stat.inc(stat.malformed);
    if (stat.bootTimeSec !== undefined) this.#bootTimeNs = BigInt(stat.bootTimeSec) * 1_000_000_000n;
    // Counters since boot: the series start is the boot time, so a reboot starts a new series.
    const start = this.#bootTimeNs;
    for (const { cpu, ticks } of stat.cpus) {
      const attrs = this.#cpuAttributes(cpu);
      for (let m = 0; m < CPU_MODES.length; m++) {
        sink.offerMetric(this.#point(M.CPU_TIME, attrs[m]!, start, now, ticks[m]! / this.#ticks));
      }
    }
    if (stat.cpus.length > 0) sink.offerMetric(this.#point(M.CPU_LOGICAL_COUNT, EMPTY, 0n, now, stat.cpus.length));
  }

  #cpuAttributes(cpu: number): Attributes[] {
    let attrs = this.#cpuAttrs[cpu];
    if (!attrs) {
      attrs = CPU_MODES.map((mode) => Object.freeze({ 'cpu.mode': mode, 'cpu.logical_number': cpu }));
      this.#cpuAttrs[cpu] = attrs;
    }
    return attrs;
  }

  #emitMemory(sink: RecordSink, text: string, now: bigint): void {
    const info = parseMeminfo(text);
    if (info.malformed > 0) this.#malformed.meminfo.inc(info.malformed);
    const mem = memoryStates(info);
    if (!mem) {
      this.#malformed.meminfo.inc();
      return;
    }
    for (const s of MEMORY_STATES) {
      sink.offerMetric(this.#point(M.MEMORY_USAGE, this.#memAttrs[s]!, 0n, now, mem[s]));
      sink.offerMetric(this.#point(M.MEMORY_UTILIZATION, this.#memAttrs[s]!, 0n, now, mem[s] / mem.total));
    }
    sink.offerMetric(this.#point(M.MEMORY_LIMIT, EMPTY, 0n, now, mem.total));
    if (mem.available !== undefined) sink.offerMetric(this.#point(M.MEMORY_AVAILABLE, EMPTY, 0n, now, mem.available));
  }

  #emitLoad(sink: RecordSink, text: string, now: bigint): void {
    const load = parseLoadavg(text);
    if (!load) {
      this.#malformed.loadavg.inc();
      return;
    }
    sink.offerMetric(this.#point(M.LOAD_1M, EMPTY, 0n, now, load.m1));
    sink.offerMetric(this.#point(M.LOAD_5M, EMPTY, 0n, now, load.m5));
    sink.offerMetric(this.#point(M.LOAD_15M, EMPTY, 0n, now, load.m15));
  }
}

const EMPTY: Attributes = Object.freeze({});

export function create(config: HostSourceConfig, deps: HostSourceDeps): HostSource {
  return new HostSource(config, deps);
}
