import { open, readdir, statfs as fsStatfs } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import type { Attributes, MetricDescriptor, MetricPoint, Resource, Scope } from '../../model/index.js';
import { createScope, nowUnixNano } from '../../model/index.js';
import type { Logger } from '../../self/logger.js';
import type { BoundCounter, Registry } from '../../self/registry.js';
import { JsProcReader } from '../../native/fallback.js';
import * as L from '../../native/host-layout.js';
import { TCP_COUNT_UNSUPPORTED, type ProcReader } from '../../native/types.js';
import { readCapped } from '../../io/read-capped.js';
import type { RecordSink, Source } from '../types.js';
import { type CompiledHostConfig, type HostSourceOptions, compileHostConfig } from './config.js';
import { cpuUtilization } from './cpu-utilization.js';
import { DiskFilter } from './disk-filter.js';
import * as D from './diskstats.js';
import { parseFileNr } from './file-nr.js';
import { memoryStatesOf, swapStatesOf } from './meminfo.js';
import * as M from './metrics.js';
import { selectMounts } from './mount-filter.js';
import { type Mount, parseMountinfo } from '../lib/mountinfo.js';
import * as N from '../lib/net-dev.js';
import { TCP_STATES, TCP_STATE_SLOTS, countTcpStates } from './net-tcp.js';
import { type TcpCounter, chooseTcpCounter, namespaceId } from './tcp-counter.js';
import { type PressureLine, pressureLine } from './pressure.js';
import { CPU_MODES, defined } from './proc-stat.js';
import { type RebootCheck, detectReboot } from './reboot.js';
import { SeriesStarts } from './series-start.js';
import { type StatfsFn, StatfsGuard } from './statfs-guard.js';
import { parseUptime } from './uptime.js';

export interface HostSourceDeps {
  readonly resource: Resource;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly version: string;
  /** USER_HZ (clock ticks per second of /proc/stat). */
  readonly clockTicks: number;
  /** statfs(2); Node's by default. Tests inject one that never resolves. */
  readonly statfs?: StatfsFn;
  /**
   * Reads and parses the every-cycle files (stat, meminfo, vmstat, diskstats, net/dev, loadavg,
   * pressure): the agent passes the one `loadProcReader` chose (native or JS); the pure-JS reader
   * when absent.
   */
  readonly reader?: ProcReader;
}

/** /proc/stat on a 1,024-CPU machine is ~150 KiB; 1 MiB leaves room and bounds a hostile file. */
const SCRATCH_BYTES = 1 << 20;
/** /proc/net/tcp is read in chunks of whole lines: it can be tens of MiB on a busy host. */
const TCP_CHUNK_BYTES = 256 << 10;
/** Past this many bytes of one tcp file the rest is not read (counted as truncated). */
const TCP_MAX_BYTES = 64 << 20;

/** Files the source reads; the label of their error counters. */
const FILES = [
  'stat', 'meminfo', 'loadavg', 'vmstat', 'diskstats', 'net/dev', 'net/tcp', 'net/tcp6', 'uptime',
  'sys/fs/file-nr', 'pressure/cpu', 'pressure/memory', 'pressure/io', 'mountinfo', 'statfs',
] as const;
type HostFile = (typeof FILES)[number];

/** Files some kernels lack (no IPv6, no PSI): absent means skip, with one debug line. */
const OPTIONAL = new Set<HostFile>(['net/tcp6', 'pressure/cpu', 'pressure/memory', 'pressure/io', 'sys/fs/file-nr']);

const PSI_RESOURCES = ['cpu', 'memory', 'io'] as const;
const PSI_WINDOWS = ['10', '60', '300'] as const;

const MEMORY_STATES = ['used', 'free', 'buffers', 'cached'] as const;
const EMPTY: Attributes = Object.freeze({});
const NS_PER_S = 1_000_000_000n;

interface DiskAttrs {
  readonly read: Attributes;
  readonly write: Attributes;
  readonly device: Attributes;
}

interface NetAttrs {
  readonly receive: Attributes;
  readonly transmit: Attributes;
}

interface FsAttrs {
  readonly used: Attributes;
  readonly free: Attributes;
  readonly reserved: Attributes;
  readonly base: Attributes;
  readonly inodesUsed: Attributes;
  readonly inodesFree: Attributes;
}

interface SelectedMount {
  readonly mount: Mount;
  /** Where statfs looks: the mount point under the host root. */
  readonly statPath: string;
  readonly attrs: FsAttrs;
}

function freeze<T extends Attributes>(a: T): T {
  return Object.freeze(a);
}

/**
 * The whole-host source (issue M1.2): CPU, memory, paging, disks, filesystems, network, TCP
 * connection states, load, uptime, processes, file handles and pressure stall information,
 * read from `<hostRoot>/proc` (and statfs on the host's mounts), named after the OpenTelemetry
 * semantic conventions. docs/metrics.md lists every metric, its source field and conversion.
 *
 * Attribute objects are built once per device/state and reused every cycle, so the encoder's
 * and DeltaConverter's caches keyed by object identity hit. Cumulative series carry their start
 * time: boot time for kernel counters; a later time when a device's counters restart
 * (`SeriesStarts`).
 */
export class HostSource implements Source {
  readonly name = 'host';
  readonly #config: CompiledHostConfig;
  readonly #procDir: string;
  /** The host's network namespace: /proc/1/net under a host root, else /proc/net. */
  readonly #netDir: string;
  /** The nsfs file of #netDir's namespace, compared with our own to allow netlink TCP counting. */
  readonly #netNsFile: string;
  readonly #sysBlockDir: string;
  #resource: Resource;
  readonly #scope: Scope;
  readonly #logger: Logger;
  readonly #ticks: number;
  readonly #scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  readonly #errors = {} as Record<HostFile, BoundCounter>;
  readonly #malformed = {} as Record<HostFile, BoundCounter>;
  readonly #failing = new Set<HostFile>();
  readonly #absent = new Set<HostFile>();
  readonly #statfs: StatfsGuard;
  readonly #statfsSkipped: BoundCounter;
  readonly #reader: ProcReader;
  /** One output array per file kind (host-layout.ts), grown when a host has more rows. */
  readonly #out: Float64Array[] = Array.from({ length: L.HOST_KINDS }, () => new Float64Array(256));
  /** Per kind with names: the generation of `#rowNames` (NaN: never asked). */
  readonly #namesGen = new Float64Array(L.HOST_KINDS).fill(NaN);
  readonly #rowNames: (readonly string[])[] = Array.from({ length: L.HOST_KINDS }, () => []);

  /** Boot time, pinned at the first read: btime jitters by a second as the clock is adjusted. */
  #bootTimeSec: number | undefined;
  #bootStartNs = 0n;

  // CPU
  readonly #cpuAttrs: Attributes[][] = [];
  readonly #cpuTotalAttrs: Attributes[] = CPU_MODES.map((mode) => freeze({ 'cpu.mode': mode }));
  readonly #cpuPrev = new Map<number, Float64Array>();
  readonly #cpuUtil = new Float64Array(CPU_MODES.length);
  readonly #cpuStarts = new SeriesStarts();
  readonly #cpuSum = new Float64Array(CPU_MODES.length);
  readonly #cpuCur = new Float64Array(CPU_MODES.length);
  #cpuSumPrev: Float64Array | undefined;

  // Memory and paging
  readonly #memAttrs: Record<string, Attributes> = {};
  readonly #swapAttrs = { used: freeze({ 'system.paging.state': 'used' }), free: freeze({ 'system.paging.state': 'free' }) };
  readonly #pagingAttrs = {
    majorIn: freeze({ 'system.paging.fault.type': 'major', 'system.paging.direction': 'in' }),
    majorOut: freeze({ 'system.paging.fault.type': 'major', 'system.paging.direction': 'out' }),
    minorIn: freeze({ 'system.paging.fault.type': 'minor', 'system.paging.direction': 'in' }),
    minorOut: freeze({ 'system.paging.fault.type': 'minor', 'system.paging.direction': 'out' }),
    major: freeze({ 'system.paging.fault.type': 'major' }),
    minor: freeze({ 'system.paging.fault.type': 'minor' }),
  };
  readonly #vmstatValues = new Float64Array(6);
  readonly #vmstatStarts = new SeriesStarts();

  // Disks
  readonly #diskFilter: DiskFilter;
  #diskAttrs = new Map<string, DiskAttrs>();
  readonly #diskStarts = new SeriesStarts();
  readonly #diskCounters = new Float64Array(D.DISK_FIELDS - 1);
  #wholeDisks: ReadonlySet<string> | undefined;
  #wholeDisksRead = false;

  // Network
  #netAttrs = new Map<string, NetAttrs>();
  readonly #netDecided = new Map<string, boolean>();
  readonly #netStarts = new SeriesStarts();
  readonly #tcpCounts = new Float64Array(TCP_STATE_SLOTS);
  /** Decided at the first count (tcp-counter.ts); 'files' for good after netlink fails once. */
  #tcpCounter: TcpCounter | undefined;
  readonly #tcpAttrs: (Attributes | undefined)[] = TCP_STATES.map((s) =>
    s === undefined ? undefined : freeze({ 'network.connection.state': s, 'network.transport': 'tcp' }),
  );

  // Whole-system counters
  readonly #createdStarts = new SeriesStarts();
  readonly #one = new Float64Array(1);
  readonly #psiAttrs: Record<string, { some: Attributes; full: Attributes; someRatio: Attributes[]; fullRatio: Attributes[] }> = {};
  /** One per file: each is read (or missing) on its own. */
  readonly #psiStarts = { cpu: new SeriesStarts(), memory: new SeriesStarts(), io: new SeriesStarts() };
  readonly #psiTotals = new Float64Array(2);

  // Filesystems
  #mountinfoText = '';
  #mounts: SelectedMount[] = [];
  #mountinfoFile: 'host' | 'self' | undefined;

  constructor(options: HostSourceOptions, deps: HostSourceDeps) {
    this.#config = compileHostConfig(options);
    const root = this.#config.hostRoot;
    const underRoot = path.resolve(root) !== '/';
    this.#procDir = path.join(root, 'proc');
    this.#netDir = underRoot ? path.join(root, 'proc/1/net') : path.join(root, 'proc/net');
    // /proc/net is /proc/self/net: without a host root the files are our own namespace's too.
    this.#netNsFile = underRoot ? path.join(root, 'proc/1/ns/net') : '/proc/self/ns/net';
    this.#sysBlockDir = path.join(root, 'sys/block');
    this.#resource = deps.resource;
    this.#scope = createScope('sextant/host', deps.version);
    this.#logger = deps.logger;
    this.#ticks = deps.clockTicks;
    this.#reader = deps.reader ?? new JsProcReader();
    this.#statfs = new StatfsGuard(deps.statfs ?? defaultStatfs, this.#config.statfsTimeoutMs);
    this.#diskFilter = new DiskFilter({
      include: this.#config.diskInclude,
      exclude: this.#config.diskExclude,
      partitions: this.#config.diskPartitions,
    });
    for (const s of MEMORY_STATES) this.#memAttrs[s] = freeze({ 'system.memory.state': s });
    for (const r of PSI_RESOURCES) {
      const ratios = (scope: string): Attributes[] =>
        PSI_WINDOWS.map((w) => freeze({ 'sextant.pressure.resource': r, 'sextant.pressure.scope': scope, 'sextant.pressure.window': `${w}s` }));
      this.#psiAttrs[r] = {
        some: freeze({ 'sextant.pressure.resource': r, 'sextant.pressure.scope': 'some' }),
        full: freeze({ 'sextant.pressure.resource': r, 'sextant.pressure.scope': 'full' }),
        someRatio: ratios('some'),
        fullRatio: ratios('full'),
      };
    }
    const readErrors = deps.registry.counter('sextant_source_read_errors_total', 'Files a source could not read, by source and file.');
    const parseErrors = deps.registry.counter('sextant_source_malformed_total', 'Lines or files a source could not parse, by source and file.');
    for (const f of FILES) {
      this.#errors[f] = readErrors.bind({ source: 'host', file: f });
      this.#malformed[f] = parseErrors.bind({ source: 'host', file: f });
    }
    this.#statfsSkipped = deps.registry
      .counter('sextant_host_statfs_skipped_total', 'statfs calls not made because an earlier one on the mount (or too many) had not returned.')
      .bind();
  }

  /** The host resource grew (inventory arrived, SIGHUP): later records carry the new one. */
  setResource(resource: Resource): void {
    this.#resource = resource;
  }

  /**
   * Boot time (`btime` of /proc/stat, pinned at first read), Unix nanoseconds; 0n before the
   * first read. The process source dates each process's start from it.
   */
  get bootTimeUnixNano(): bigint {
    return this.#bootTimeSec === undefined ? 0n : BigInt(this.#bootTimeSec) * 1_000_000_000n;
  }

  /** Mount points whose statfs has outlived its deadline and not returned yet. */
  get hungMounts(): number {
    return this.#statfs.pendingCount;
  }

  /**
   * Reboot detection, called once by the agent at start: compares the kernel's boot id with
   * the one in `stateDir` and offers one `sextant.host.reboot` event when it changed.
   */
  async detectReboot(stateDir: string, sink: RecordSink): Promise<RebootCheck> {
    if (this.#bootTimeSec === undefined) {
      const stat = this.#readHost('stat', L.HOST_STAT);
      if (stat !== undefined) this.#pinBootTime(defined(stat[L.STAT_BTIME]!));
    }
    return detectReboot(
      { hostRoot: this.#config.hostRoot, stateDir, resource: this.#resource, scope: this.#scope, logger: this.#logger, bootTimeSec: this.#bootTimeSec },
      sink,
    );
  }

  async collect(sink: RecordSink): Promise<void> {
    const now = nowUnixNano();
    const stat = this.#readHost('stat', L.HOST_STAT);
    if (stat !== undefined) this.#emitStat(sink, stat, now);
    const meminfo = this.#readHost('meminfo', L.HOST_MEMINFO);
    if (meminfo !== undefined) this.#emitMemory(sink, meminfo, now);
    const loadavg = this.#readHost('loadavg', L.HOST_LOADAVG);
    if (loadavg !== undefined) this.#emitLoad(sink, loadavg, now);
    const vmstat = this.#readHost('vmstat', L.HOST_VMSTAT);
    if (vmstat !== undefined) this.#emitVmstat(sink, vmstat, now);
    const diskstats = this.#readHost('diskstats', L.HOST_DISKSTATS);
    if (diskstats !== undefined) await this.#emitDisks(sink, diskstats, now);
    const netdev = this.#readHost('net/dev', L.HOST_NET_DEV);
    if (netdev !== undefined) this.#emitNetwork(sink, netdev, now);
    if (this.#config.tcpConnections) await this.#emitTcp(sink, now);
    const uptime = await this.#read('uptime');
    if (uptime !== undefined) this.#emitUptime(sink, uptime, now);
    const fileNr = await this.#read('sys/fs/file-nr');
    if (fileNr !== undefined) this.#emitFileNr(sink, fileNr, now);
    for (const r of PSI_RESOURCES) {
      const psi = this.#readHost(`pressure/${r}`, L.HOST_PRESSURE);
      if (psi !== undefined) this.#emitPressure(sink, r, psi, now);
    }
    await this.#emitFilesystems(sink, now);
  }

  async stop(): Promise<void> {}

  // ---------------------------------------------------------------- reading

  #path(file: HostFile): string {
    if (file === 'net/dev' || file === 'net/tcp' || file === 'net/tcp6') return path.join(this.#netDir, file.slice(4));
    return path.join(this.#procDir, file);
  }

  /** Reads one file; a failure is counted every time and logged once until it recovers. */
  async #read(file: HostFile, at = this.#path(file)): Promise<string | undefined> {
    try {
      const text = await readCapped(at, this.#scratch);
      if (this.#failing.delete(file)) this.#logger.info({ file }, 'host file readable again');
      this.#absent.delete(file);
      return text;
    } catch (err) {
      this.#readFailed(file, err);
      return undefined;
    }
  }

  /**
   * Reads and parses one every-cycle file through the reader into this kind's output array
   * (host-layout.ts), growing it when the host has more rows than fit. Failures as `#read`.
   */
  #readHost(file: HostFile, kind: L.HostFileKind): Float64Array | undefined {
    const at = this.#path(file);
    let out = this.#out[kind]!;
    let need = this.#reader.readHostFile(kind, at, out);
    // A file that grew between two reads (hot-plugged CPUs) is given a few chances, not a loop.
    for (let tries = 0; need > out.length && tries < 3; tries++) {
      out = this.#out[kind] = new Float64Array(need * 2);
      need = this.#reader.readHostFile(kind, at, out);
    }
    if (need < 0 || need > out.length) {
      const code = need < 0 ? this.#reader.hostError : 'EAGAIN';
      const message = code === 'EFBIG' ? `${at} is larger than ${L.HOST_FILE_CAP} bytes` : `${code}: cannot read ${at}`;
      this.#readFailed(file, { code, message });
      return undefined;
    }
    if (this.#failing.delete(file)) this.#logger.info({ file }, 'host file readable again');
    this.#absent.delete(file);
    const malformed = out[L.HOST_MALFORMED]!;
    if (malformed > 0) this.#malformed[file].inc(malformed);
    return out;
  }

  /** The row names of the last read of `kind`, fetched from the reader only when they changed. */
  #names(kind: L.HostFileKind, out: Float64Array): readonly string[] {
    const gen = out[L.HOST_NAMES_GEN]!;
    if (gen !== this.#namesGen[kind]) {
      this.#rowNames[kind] = this.#reader.hostNames(kind);
      this.#namesGen[kind] = gen;
    }
    return this.#rowNames[kind]!;
  }

  #readFailed(file: HostFile, err: unknown): void {
    if (OPTIONAL.has(file) && (err as NodeJS.ErrnoException).code === 'ENOENT') {
      // Normal on kernels without PSI or IPv6: not an error; say so once.
      if (!this.#absent.has(file)) {
        this.#absent.add(file);
        this.#logger.debug({ file }, 'host file absent on this kernel; its metrics are skipped');
      }
      return;
    }
    this.#errors[file].inc();
    if (!this.#failing.has(file)) {
      this.#failing.add(file);
      this.#logger.warn({ file, err: (err as Error).message }, 'cannot read host file; its metrics are skipped until it reads again');
    }
  }

  #point(descriptor: MetricDescriptor, attributes: Attributes, start: bigint, time: bigint, value: number): MetricPoint {
    return { descriptor, resource: this.#resource, scope: this.#scope, attributes, startTimeUnixNano: start, timeUnixNano: time, value };
  }

  #pinBootTime(btime: number | undefined): void {
    if (btime === undefined) return;
    // Re-pin only on a real change (a suspended VM resumed far off), never on clock jitter.
    if (this.#bootTimeSec === undefined || Math.abs(btime - this.#bootTimeSec) > 60) {
      this.#bootTimeSec = btime;
      this.#bootStartNs = BigInt(btime) * NS_PER_S;
    }
  }

  // ---------------------------------------------------------------- /proc/stat

  #emitStat(sink: RecordSink, v: Float64Array, now: bigint): void {
    this.#pinBootTime(defined(v[L.STAT_BTIME]!));
    const boot = this.#bootStartNs;
    const perCpu = this.#config.perCpu;
    const cpus = v[L.HOST_ROWS]!;
    if (cpus > 0) this.#cpuStarts.beginCycle(now);
    const sum = this.#cpuSum;
    sum.fill(0);
    for (let r = 0; r < cpus; r++) {
      const row = L.STAT_ROW_START + r * L.STAT_ROW_SIZE;
      const cpu = v[row]!;
      let prev = this.#cpuPrev.get(cpu);
      const cur = this.#cpuCur;
      for (let m = 0; m < CPU_MODES.length; m++) cur[m] = v[row + 1 + m]!;
      if (perCpu) {
        const start = this.#cpuStarts.observe(`cpu${cpu}`, cur, boot);
        const attrs = this.#cpuAttributes(cpu);
        for (let m = 0; m < CPU_MODES.length; m++) sink.offerMetric(this.#point(M.CPU_TIME, attrs[m]!, start, now, cur[m]! / this.#ticks));
        if (prev !== undefined && cpuUtilization(prev, cur, this.#cpuUtil)) {
          for (let m = 0; m < CPU_MODES.length; m++) sink.offerMetric(this.#point(M.CPU_UTILIZATION, attrs[m]!, 0n, now, this.#cpuUtil[m]!));
        }
        if (prev === undefined) this.#cpuPrev.set(cpu, (prev = new Float64Array(CPU_MODES.length)));
        prev.set(cur);
      } else {
        for (let m = 0; m < CPU_MODES.length; m++) sum[m]! += cur[m]!;
      }
    }
    if (!perCpu && cpus > 0) {
      const start = this.#cpuStarts.observe('cpu', sum, boot);
      const attrs = this.#cpuTotalAttrs;
      for (let m = 0; m < CPU_MODES.length; m++) sink.offerMetric(this.#point(M.CPU_TIME, attrs[m]!, start, now, sum[m]! / this.#ticks));
      if (this.#cpuSumPrev !== undefined && cpuUtilization(this.#cpuSumPrev, sum, this.#cpuUtil)) {
        for (let m = 0; m < CPU_MODES.length; m++) sink.offerMetric(this.#point(M.CPU_UTILIZATION, attrs[m]!, 0n, now, this.#cpuUtil[m]!));
      }
      (this.#cpuSumPrev ??= new Float64Array(CPU_MODES.length)).set(sum);
    }
    if (cpus > 0) {
      sink.offerMetric(this.#point(M.CPU_LOGICAL_COUNT, EMPTY, 0n, now, cpus));
      this.#cpuStarts.sweep();
    }
    if (this.#bootTimeSec !== undefined) sink.offerMetric(this.#point(M.BOOT_TIME, EMPTY, 0n, now, this.#bootTimeSec));
    // Process counts by state come from the process source, which reads every process's state.
    const created = v[L.STAT_PROCESSES]!;
    if (!Number.isNaN(created)) {
      this.#createdStarts.beginCycle(now);
      this.#one[0] = created;
      const start = this.#createdStarts.observe('processes', this.#one, boot);
      sink.offerMetric(this.#point(M.PROCESS_CREATED, EMPTY, start, now, created));
    }
  }

  #cpuAttributes(cpu: number): Attributes[] {
    let attrs = this.#cpuAttrs[cpu];
    if (!attrs) {
      attrs = CPU_MODES.map((mode) => freeze({ 'cpu.mode': mode, 'cpu.logical_number': cpu }));
      this.#cpuAttrs[cpu] = attrs;
    }
    return attrs;
  }

  // ---------------------------------------------------------------- memory

  #emitMemory(sink: RecordSink, v: Float64Array, now: bigint): void {
    const mem = memoryStatesOf(v);
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
    const swap = swapStatesOf(v);
    if (swap === undefined) return;
    const a = this.#swapAttrs;
    sink.offerMetric(this.#point(M.PAGING_USAGE, a.used, 0n, now, swap.used));
    sink.offerMetric(this.#point(M.PAGING_USAGE, a.free, 0n, now, swap.free));
    // No swap configured: usage says 0/0; a utilization of 0/0 would be NaN.
    if (swap.total > 0) {
      sink.offerMetric(this.#point(M.PAGING_UTILIZATION, a.used, 0n, now, swap.used / swap.total));
      sink.offerMetric(this.#point(M.PAGING_UTILIZATION, a.free, 0n, now, swap.free / swap.total));
    }
  }

  #emitLoad(sink: RecordSink, v: Float64Array, now: bigint): void {
    // Not parsed: out[HOST_MALFORMED] was 1 and is counted by #readHost.
    if (v[L.HOST_ROWS] !== 1) return;
    sink.offerMetric(this.#point(M.LOAD_1M, EMPTY, 0n, now, v[L.LOAD_START]!));
    sink.offerMetric(this.#point(M.LOAD_5M, EMPTY, 0n, now, v[L.LOAD_START + 1]!));
    sink.offerMetric(this.#point(M.LOAD_15M, EMPTY, 0n, now, v[L.LOAD_START + 2]!));
  }

  #emitVmstat(sink: RecordSink, v: Float64Array, now: bigint): void {
    // VMSTAT_KEYS order: pgpgin, pgpgout, pswpin, pswpout, pgfault, pgmajfault.
    const at = L.VMSTAT_START;
    const pgpgin = v[at]!;
    const pgpgout = v[at + 1]!;
    const pswpin = v[at + 2]!;
    const pswpout = v[at + 3]!;
    const pgfault = v[at + 4]!;
    const pgmajfault = v[at + 5]!;
    if (Number.isNaN(pswpin + pswpout + pgpgin + pgpgout + pgfault + pgmajfault)) {
      this.#malformed.vmstat.inc();
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
    const start = this.#vmstatStarts.observe('vmstat', values, this.#bootStartNs);
    const a = this.#pagingAttrs;
    sink.offerMetric(this.#point(M.PAGING_OPERATIONS, a.majorIn, start, now, pswpin));
    sink.offerMetric(this.#point(M.PAGING_OPERATIONS, a.majorOut, start, now, pswpout));
    sink.offerMetric(this.#point(M.PAGING_OPERATIONS, a.minorIn, start, now, pgpgin));
    sink.offerMetric(this.#point(M.PAGING_OPERATIONS, a.minorOut, start, now, pgpgout));
    sink.offerMetric(this.#point(M.PAGING_FAULTS, a.major, start, now, pgmajfault));
    sink.offerMetric(this.#point(M.PAGING_FAULTS, a.minor, start, now, minorFaults));
  }

  // ---------------------------------------------------------------- disks

  async #emitDisks(sink: RecordSink, v: Float64Array, now: bigint): Promise<void> {
    const rows = v[L.HOST_ROWS]!;
    if (rows === 0) return;
    const diskNames = this.#names(L.HOST_DISKSTATS, v);
    if (!this.#config.diskPartitions && (!this.#wholeDisksRead || diskNames.some((d) => this.#diskFilter.isNew(d)))) {
      // Re-list /sys/block only when a device we have not decided on appears.
      this.#wholeDisks = await this.#listWholeDisks();
      this.#wholeDisksRead = true;
    }
    const names = this.#wholeDisks === undefined ? new Set(diskNames) : EMPTY_SET;
    this.#diskStarts.beginCycle(now);
    const next = new Map<string, DiskAttrs>();
    for (let r = 0; r < rows; r++) {
      const name = diskNames[r]!;
      if (!this.#diskFilter.accepts(name, this.#wholeDisks, names)) continue;
      const attrs = this.#diskAttrs.get(name) ?? diskAttributes(name);
      next.set(name, attrs);
      // The 11 fields of the row, after major and minor (DISK_* indexes), read in place.
      const at = L.DISK_ROW_START + r * L.DISK_ROW_SIZE + 2;
      // Field 9 (in flight) is a gauge: it must not count as a counter going backwards.
      const counters = this.#diskCounters;
      for (let k = 0; k < D.DISK_IN_PROGRESS; k++) counters[k] = v[at + k]!;
      for (let k = D.DISK_IO_MS; k < D.DISK_FIELDS; k++) counters[k - 1] = v[at + k]!;
      const s = this.#diskStarts.observe(name, counters, this.#bootStartNs);
      sink.offerMetric(this.#point(M.DISK_IO, attrs.read, s, now, v[at + D.DISK_READ_SECTORS]! * 512));
      sink.offerMetric(this.#point(M.DISK_IO, attrs.write, s, now, v[at + D.DISK_WRITE_SECTORS]! * 512));
      sink.offerMetric(this.#point(M.DISK_OPERATIONS, attrs.read, s, now, v[at + D.DISK_READS]!));
      sink.offerMetric(this.#point(M.DISK_OPERATIONS, attrs.write, s, now, v[at + D.DISK_WRITES]!));
      sink.offerMetric(this.#point(M.DISK_MERGED, attrs.read, s, now, v[at + D.DISK_READS_MERGED]!));
      sink.offerMetric(this.#point(M.DISK_MERGED, attrs.write, s, now, v[at + D.DISK_WRITES_MERGED]!));
      sink.offerMetric(this.#point(M.DISK_OPERATION_TIME, attrs.read, s, now, v[at + D.DISK_READ_MS]! / 1000));
      sink.offerMetric(this.#point(M.DISK_OPERATION_TIME, attrs.write, s, now, v[at + D.DISK_WRITE_MS]! / 1000));
      sink.offerMetric(this.#point(M.DISK_IO_TIME, attrs.device, s, now, v[at + D.DISK_IO_MS]! / 1000));
      sink.offerMetric(this.#point(M.DISK_PENDING, attrs.device, 0n, now, v[at + D.DISK_IN_PROGRESS]!));
    }
    this.#diskAttrs = next;
    this.#diskStarts.sweep();
  }

  async #listWholeDisks(): Promise<ReadonlySet<string> | undefined> {
    try {
      return new Set(await readdir(this.#sysBlockDir));
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------------- network

  #netAccepts(name: string): boolean {
    let ok = this.#netDecided.get(name);
    if (ok === undefined) {
      const { netInclude, netExclude } = this.#config;
      ok = (netInclude === undefined || netInclude.test(name)) && (netExclude === undefined || !netExclude.test(name));
      // Bounded: interface names that churn (veths) are decided again after a clear.
      if (this.#netDecided.size > 4096) this.#netDecided.clear();
      this.#netDecided.set(name, ok);
    }
    return ok;
  }

  #emitNetwork(sink: RecordSink, v: Float64Array, now: bigint): void {
    const rows = v[L.HOST_ROWS]!;
    const nics = this.#names(L.HOST_NET_DEV, v);
    this.#netStarts.beginCycle(now);
    const next = new Map<string, NetAttrs>();
    for (let r = 0; r < rows; r++) {
      const name = nics[r]!;
      if (!this.#netAccepts(name)) continue;
      const attrs = this.#netAttrs.get(name) ?? netAttributes(name);
      next.set(name, attrs);
      const at = L.NET_ROW_START + r * L.NET_ROW_SIZE;
      const s = this.#netStarts.observe(name, v, this.#bootStartNs, at, at + L.NET_ROW_SIZE);
      sink.offerMetric(this.#point(M.NET_IO, attrs.receive, s, now, v[at + N.NET_RX_BYTES]!));
      sink.offerMetric(this.#point(M.NET_IO, attrs.transmit, s, now, v[at + N.NET_TX_BYTES]!));
      sink.offerMetric(this.#point(M.NET_PACKETS, attrs.receive, s, now, v[at + N.NET_RX_PACKETS]!));
      sink.offerMetric(this.#point(M.NET_PACKETS, attrs.transmit, s, now, v[at + N.NET_TX_PACKETS]!));
      sink.offerMetric(this.#point(M.NET_ERRORS, attrs.receive, s, now, v[at + N.NET_RX_ERRS]!));
      sink.offerMetric(this.#point(M.NET_ERRORS, attrs.transmit, s, now, v[at + N.NET_TX_ERRS]!));
      sink.offerMetric(this.#point(M.NET_DROPPED, attrs.receive, s, now, v[at + N.NET_RX_DROP]!));
      sink.offerMetric(this.#point(M.NET_DROPPED, attrs.transmit, s, now, v[at + N.NET_TX_DROP]!));
    }
    this.#netAttrs = next;
    this.#netStarts.sweep();
  }

  async #emitTcp(sink: RecordSink, now: bigint): Promise<void> {
    const counts = this.#tcpCounts;
    if (!this.#countTcpNetlink(counts)) {
      counts.fill(0);
      const v4 = await this.#countTcp('net/tcp');
      const v6 = await this.#countTcp('net/tcp6');
      if (!v4 && !v6) return;
    }
    for (let st = 1; st < TCP_STATES.length; st++) {
      sink.offerMetric(this.#point(M.NET_CONNECTIONS, this.#tcpAttrs[st]!, 0n, now, counts[st]!));
    }
  }

  /**
   * Counts over netlink when the agent is in the namespace reported on (decided once); false
   * when the files must be read. A failure (no tcp_diag, EPERM, the JS reader's "not supported")
   * switches to the files for good, with one log line: netlink would fail the same way again.
   */
  #countTcpNetlink(counts: Float64Array): boolean {
    if (this.#tcpCounter === undefined) {
      const choice = chooseTcpCounter(namespaceId('/proc/self/ns/net'), namespaceId(this.#netNsFile));
      this.#tcpCounter = choice.counter;
      this.#logger.debug({ counter: choice.counter, reason: choice.reason }, 'tcp connection counting');
    }
    if (this.#tcpCounter !== 'netlink') return false;
    const rc = this.#reader.countTcpStates(counts);
    if (rc < 0) {
      this.#tcpCounter = 'files';
      // The pure-JS reader never has netlink: expected, so not worth an info line.
      const level = rc === TCP_COUNT_UNSUPPORTED ? 'debug' : 'info';
      this.#logger[level]({ errno: errnoName(-rc), reader: this.#reader.implementation }, 'tcp connections not counted over netlink; reading /proc/net/tcp{,6} instead');
      return false;
    }
    // The files count NEW_SYN_RECV (12, a request socket) as syn_recv; so does this.
    counts[3]! += counts[12]!;
    return true;
  }

  /** Streams one tcp file through the scratch buffer in chunks of whole lines. */
  async #countTcp(file: 'net/tcp' | 'net/tcp6'): Promise<boolean> {
    let fh;
    try {
      fh = await open(this.#path(file), 'r');
    } catch (err) {
      this.#readFailed(file, err);
      return false;
    }
    const buf = this.#scratch.subarray(0, TCP_CHUNK_BYTES);
    let carry = 0;
    let total = 0;
    let malformed = 0;
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, carry, buf.length - carry, null);
        total += bytesRead;
        const filled = carry + bytesRead;
        const lastNl = buf.lastIndexOf(10, filled - 1);
        if (bytesRead === 0 || total > TCP_MAX_BYTES) {
          // Whatever is left is a final line without a newline (or the cap was hit).
          if (filled > 0) malformed += countTcpStates(buf.toString('latin1', 0, filled), this.#tcpCounts);
          if (total > TCP_MAX_BYTES) this.#malformed[file].inc();
          break;
        }
        if (lastNl === -1) {
          if (filled === buf.length) {
            // One line longer than the chunk: not a tcp file.
            this.#malformed[file].inc();
            return false;
          }
          carry = filled;
          continue;
        }
        malformed += countTcpStates(buf.toString('latin1', 0, lastNl + 1), this.#tcpCounts);
        carry = filled - (lastNl + 1);
        buf.copy(buf, 0, lastNl + 1, filled);
      }
    } catch (err) {
      this.#readFailed(file, err);
      return false;
    } finally {
      await fh.close();
    }
    if (malformed > 0) this.#malformed[file].inc(malformed);
    if (this.#failing.delete(file)) this.#logger.info({ file }, 'host file readable again');
    return true;
  }

  // ---------------------------------------------------------------- uptime, file-nr, PSI

  #emitUptime(sink: RecordSink, text: string, now: bigint): void {
    const u = parseUptime(text);
    if (u === undefined) this.#malformed.uptime.inc();
    else sink.offerMetric(this.#point(M.UPTIME, EMPTY, 0n, now, u.uptimeSec));
  }

  #emitFileNr(sink: RecordSink, text: string, now: bigint): void {
    const f = parseFileNr(text);
    if (f === undefined) {
      this.#malformed['sys/fs/file-nr'].inc();
      return;
    }
    sink.offerMetric(this.#point(M.FILE_DESCRIPTORS_ALLOCATED, EMPTY, 0n, now, f.allocated - f.unused));
    sink.offerMetric(this.#point(M.FILE_DESCRIPTORS_MAX, EMPTY, 0n, now, f.max));
  }

  #emitPressure(sink: RecordSink, resource: (typeof PSI_RESOURCES)[number], v: Float64Array, now: bigint): void {
    const p = { some: pressureLine(v, L.PSI_SOME), full: pressureLine(v, L.PSI_FULL) };
    if (p.some === undefined && p.full === undefined) return;
    const a = this.#psiAttrs[resource]!;
    const totals = this.#psiTotals;
    totals[0] = p.some?.totalUs ?? 0;
    totals[1] = p.full?.totalUs ?? 0;
    const starts = this.#psiStarts[resource];
    starts.beginCycle(now);
    const start = starts.observe(resource, totals, this.#bootStartNs);
    if (p.some !== undefined) this.#emitPressureLine(sink, a.some, a.someRatio, p.some, start, now);
    if (p.full !== undefined) this.#emitPressureLine(sink, a.full, a.fullRatio, p.full, start, now);
  }

  #emitPressureLine(sink: RecordSink, total: Attributes, ratio: Attributes[], line: PressureLine, start: bigint, now: bigint): void {
    sink.offerMetric(this.#point(M.PRESSURE_STALL_TIME, total, start, now, line.totalUs / 1e6));
    sink.offerMetric(this.#point(M.PRESSURE_STALL_RATIO, ratio[0]!, 0n, now, line.avg10 / 100));
    sink.offerMetric(this.#point(M.PRESSURE_STALL_RATIO, ratio[1]!, 0n, now, line.avg60 / 100));
    sink.offerMetric(this.#point(M.PRESSURE_STALL_RATIO, ratio[2]!, 0n, now, line.avg300 / 100));
  }

  // ---------------------------------------------------------------- filesystems

  async #emitFilesystems(sink: RecordSink, now: bigint): Promise<void> {
    await this.#refreshMounts();
    const guard = this.#statfs;
    for (const sel of this.#mounts) {
      // Past the limit of stuck threadpool threads, only filesystems on a block device (whose
      // statfs answers from memory) are asked; network and FUSE mounts wait for the probes.
      if (guard.isHung(sel.statPath) || (sel.mount.major === 0 && guard.pendingCount >= this.#config.maxHungStatfs)) {
        this.#statfsSkipped.inc();
        continue;
      }
      const r = await guard.stat(sel.statPath);
      if (r.status === 'timeout') {
        this.#errors.statfs.inc();
        this.#logger.warn({ mountPoint: sel.mount.mountPoint, timeoutMs: this.#config.statfsTimeoutMs }, 'statfs timed out; mount skipped until the call returns');
        continue;
      }
      if (r.status === 'hung') {
        this.#statfsSkipped.inc();
        continue;
      }
      if (r.status === 'error') {
        // A mount that vanished between mountinfo and statfs, or EACCES: counted, not logged per cycle.
        this.#errors.statfs.inc();
        continue;
      }
      const st = r.stats;
      if (st.blocks === 0) continue; // nothing to report (some FUSE and virtual filesystems)
      const bs = st.bsize;
      const used = (st.blocks - st.bfree) * bs;
      const free = st.bavail * bs;
      const reserved = Math.max(0, st.bfree - st.bavail) * bs;
      const a = sel.attrs;
      sink.offerMetric(this.#point(M.FS_USAGE, a.used, 0n, now, used));
      sink.offerMetric(this.#point(M.FS_USAGE, a.free, 0n, now, free));
      sink.offerMetric(this.#point(M.FS_USAGE, a.reserved, 0n, now, reserved));
      sink.offerMetric(this.#point(M.FS_LIMIT, a.base, 0n, now, st.blocks * bs));
      if (used + free > 0) sink.offerMetric(this.#point(M.FS_UTILIZATION, a.base, 0n, now, used / (used + free)));
      if (st.files > 0) {
        sink.offerMetric(this.#point(M.FS_INODES_USAGE, a.inodesUsed, 0n, now, Math.max(0, st.files - st.ffree)));
        sink.offerMetric(this.#point(M.FS_INODES_USAGE, a.inodesFree, 0n, now, st.ffree));
      }
    }
  }

  /**
   * The host's mounts: `<root>/proc/1/mountinfo` (init's mount namespace — the host's, whatever
   * namespace the agent runs in), else the agent's own `/proc/self/mountinfo`, whose host mounts
   * appear under the host root. Re-selected only when the text changed.
   */
  async #refreshMounts(): Promise<void> {
    const root = path.resolve(this.#config.hostRoot);
    let text = await this.#readQuiet(path.join(this.#procDir, '1/mountinfo'));
    let source: 'host' | 'self' = 'host';
    if (text === undefined) {
      source = 'self';
      text = await this.#read('mountinfo', path.join(this.#procDir, 'self/mountinfo'));
      if (text === undefined) return;
    } else if (this.#failing.delete('mountinfo')) {
      this.#logger.info('host mountinfo readable again');
    }
    if (text === this.#mountinfoText && source === this.#mountinfoFile) return;
    if (source !== this.#mountinfoFile) this.#logger.debug({ source }, 'filesystem mounts read from this mountinfo');
    this.#mountinfoText = text;
    this.#mountinfoFile = source;
    const parsed = parseMountinfo(text);
    if (parsed.malformed > 0) this.#malformed.mountinfo.inc(parsed.malformed);
    let mounts = parsed.mounts;
    if (source === 'self' && root !== '/') {
      // Our own namespace: keep the host's mounts (under the root) and name them as the host does.
      const strip: Mount[] = [];
      for (const m of mounts) {
        if (m.mountPoint === root) strip.push({ ...m, mountPoint: '/' });
        else if (m.mountPoint.startsWith(root + '/')) strip.push({ ...m, mountPoint: m.mountPoint.slice(root.length) });
      }
      mounts = strip;
    }
    const old = new Map(this.#mounts.map((s) => [fsKey(s.mount), s.attrs]));
    const base = source === 'host' && root !== '/' ? await this.#hostInitRoot(root) : root;
    this.#mounts = selectMounts(mounts, { excludeFsTypes: this.#config.excludeFsTypes, excludeMountPoints: this.#config.excludeMountPoints }).map(
      (mount) => ({
        mount,
        statPath: base === '/' ? mount.mountPoint : mount.mountPoint === '/' ? base : path.join(base, mount.mountPoint),
        attrs: old.get(fsKey(mount)) ?? fsAttributes(mount),
      }),
    );
  }

  /**
   * Where the host's mounts are statfs'd from inside a container. The mount table is init's, but
   * a DaemonSet mounts only some host paths under the root (not `/`, so the agent cannot read
   * every host file through it), and `<root>/` would then be the container's own filesystem,
   * reported as the host's. `<root>/proc/1/root` is init's view of the filesystem (the host's,
   * with hostPID), every mount in that table included; reaching it needs ptrace-read access to
   * init (CAP_SYS_PTRACE, which the process source needs anyway). Without it: the mounts under
   * the root, as before.
   */
  async #hostInitRoot(root: string): Promise<string> {
    const initRoot = path.join(root, 'proc/1/root');
    try {
      await fsStatfs(initRoot);
      return initRoot;
    } catch (err) {
      this.#logger.debug({ err: (err as Error).message }, "init's root is not reachable; filesystems are read under the host root");
      return root;
    }
  }

  /** A read whose failure is not an error (the caller has a fallback). */
  async #readQuiet(file: string): Promise<string | undefined> {
    try {
      return await readCapped(file, this.#scratch);
    } catch {
      return undefined;
    }
  }
}

const EMPTY_SET: ReadonlySet<string> = new Set();

/** `ENOENT` for 2; the number itself when Node does not name it. */
function errnoName(errno: number): string {
  for (const [name, n] of Object.entries(osConstants.errno)) if (n === errno) return name;
  return String(errno);
}

function defaultStatfs(p: string): ReturnType<StatfsFn> {
  return fsStatfs(p);
}

function diskAttributes(name: string): DiskAttrs {
  return {
    read: freeze({ 'system.device': name, 'disk.io.direction': 'read' }),
    write: freeze({ 'system.device': name, 'disk.io.direction': 'write' }),
    device: freeze({ 'system.device': name }),
  };
}

function netAttributes(name: string): NetAttrs {
  return {
    receive: freeze({ 'network.interface.name': name, 'network.io.direction': 'receive' }),
    transmit: freeze({ 'network.interface.name': name, 'network.io.direction': 'transmit' }),
  };
}

function fsKey(m: Mount): string {
  return `${m.source}\u0000${m.mountPoint}\u0000${m.fsType}\u0000${m.readOnly ? 'ro' : 'rw'}`;
}

function fsAttributes(m: Mount): FsAttrs {
  const base = {
    'system.device': m.source,
    'system.filesystem.mountpoint': m.mountPoint,
    'system.filesystem.type': m.fsType,
    'system.filesystem.mode': m.readOnly ? 'ro' : 'rw',
  };
  return {
    base: freeze(base),
    used: freeze({ ...base, 'system.filesystem.state': 'used' }),
    free: freeze({ ...base, 'system.filesystem.state': 'free' }),
    reserved: freeze({ ...base, 'system.filesystem.state': 'reserved' }),
    inodesUsed: freeze({ ...base, 'system.filesystem.state': 'used' }),
    inodesFree: freeze({ ...base, 'system.filesystem.state': 'free' }),
  };
}
