import { createScope, nowUnixNano, type Resource } from '../../model/index.js';
import { JsProcReader } from '../../native/fallback.js';
import * as L from '../../native/host-layout.js';
import type { ProcReader } from '../../native/types.js';
import type { Logger } from '../../self/logger.js';
import type { Registry } from '../../self/registry.js';
import type { RecordSink, Source } from '../types.js';
import { BootTime } from './boot-time.js';
import { type CompiledHostConfig, type HostSourceOptions, compileHostConfig } from './config.js';
import { CpuCollector } from './cpu-collector.js';
import { DiskCollector } from './disk-collector.js';
import { FilesystemCollector } from './filesystem-collector.js';
import { HostFiles } from './host-files.js';
import { MemoryCollector } from './memory-collector.js';
import { NetworkCollector } from './network-collector.js';
import { PointFactory } from './point-factory.js';
import { PSI_RESOURCES, PressureCollector } from './pressure-collector.js';
import { defined } from './proc-stat.js';
import { type RebootCheck, detectReboot } from './reboot.js';
import type { StatfsFn } from './statfs-guard.js';
import { SystemCollector } from './system-collector.js';
import { TcpCollector } from './tcp-collector.js';

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

/**
 * The whole-host source: CPU, memory, paging, disks, filesystems, network, TCP connection
 * states, load, uptime, processes, file handles and pressure stall information, read from
 * `<hostRoot>/proc` (and statfs on the host's mounts), named after the OpenTelemetry semantic
 * conventions. docs/metrics.md lists every metric, its source field and conversion.
 *
 * This class is the cycle: it reads each kernel file once (host-files.ts) and hands what it
 * read to the collector of that file, in a fixed order. Each collector builds its attribute
 * objects once per device/state and reuses them every cycle, so the encoder's and
 * DeltaConverter's caches keyed by object identity hit. Cumulative series carry their start
 * time: boot time for kernel counters (boot-time.ts); a later time when a device's counters
 * restart (series-start.ts).
 */
export class HostSource implements Source {
  readonly name = 'host';
  readonly #config: CompiledHostConfig;
  readonly #logger: Logger;
  readonly #files: HostFiles;
  readonly #points: PointFactory;
  readonly #boot = new BootTime();
  readonly #cpu: CpuCollector;
  readonly #memory: MemoryCollector;
  readonly #disks: DiskCollector;
  readonly #network: NetworkCollector;
  readonly #tcp: TcpCollector;
  readonly #system: SystemCollector;
  readonly #pressure: PressureCollector;
  readonly #filesystems: FilesystemCollector;

  constructor(options: HostSourceOptions, deps: HostSourceDeps) {
    const config = (this.#config = compileHostConfig(options));
    const { registry, logger } = deps;
    const reader = deps.reader ?? new JsProcReader();
    const points = (this.#points = new PointFactory(deps.resource, createScope('sextant/host', deps.version)));
    const boot = this.#boot;
    this.#logger = logger;
    const files = (this.#files = new HostFiles({ hostRoot: config.hostRoot, reader, registry, logger }));
    this.#cpu = new CpuCollector({ points, boot, perCpu: config.perCpu, clockTicks: deps.clockTicks });
    this.#memory = new MemoryCollector({ points, boot, files });
    this.#disks = new DiskCollector({
      points,
      boot,
      files,
      filter: { include: config.diskInclude, exclude: config.diskExclude, partitions: config.diskPartitions },
    });
    this.#network = new NetworkCollector({ points, boot, files, include: config.netInclude, exclude: config.netExclude });
    this.#tcp = new TcpCollector({ points, files, reader, logger });
    this.#system = new SystemCollector({ points, files });
    this.#pressure = new PressureCollector({ points, boot });
    this.#filesystems = new FilesystemCollector({
      points,
      files,
      registry,
      logger,
      hostRoot: config.hostRoot,
      filter: { excludeFsTypes: config.excludeFsTypes, excludeMountPoints: config.excludeMountPoints },
      statfs: deps.statfs,
      statfsTimeoutMs: config.statfsTimeoutMs,
      maxHungStatfs: config.maxHungStatfs,
    });
  }

  /** The host resource grew (inventory arrived, SIGHUP): later records carry the new one. */
  setResource(resource: Resource): void {
    this.#points.setResource(resource);
  }

  /**
   * Boot time (`btime` of /proc/stat, pinned at first read), Unix nanoseconds; 0n before the
   * first read. The process source dates each process's start from it.
   */
  get bootTimeUnixNano(): bigint {
    return this.#boot.startNs;
  }

  /** Mount points whose statfs has outlived its deadline and not returned yet. */
  get hungMounts(): number {
    return this.#filesystems.hungMounts;
  }

  /**
   * Reboot detection, called once by the agent at start: compares the kernel's boot id with
   * the one in `stateDir` and offers one `sextant.host.reboot` event when it changed.
   */
  async detectReboot(stateDir: string, sink: RecordSink): Promise<RebootCheck> {
    if (this.#boot.sec === undefined) {
      const stat = this.#files.readHost('stat', L.HOST_STAT);
      if (stat !== undefined) this.#boot.pin(defined(stat[L.STAT_BTIME]!));
    }
    const points = this.#points;
    return detectReboot(
      { hostRoot: this.#config.hostRoot, stateDir, resource: points.resource, scope: points.scope, logger: this.#logger, bootTimeSec: this.#boot.sec },
      sink,
    );
  }

  /** One cycle: each file read once, in this order, and handed to its collector. */
  async collect(sink: RecordSink): Promise<void> {
    const now = nowUnixNano();
    const files = this.#files;
    const stat = files.readHost('stat', L.HOST_STAT);
    if (stat !== undefined) this.#cpu.collectStat(sink, stat, now);
    const meminfo = files.readHost('meminfo', L.HOST_MEMINFO);
    if (meminfo !== undefined) this.#memory.collectMeminfo(sink, meminfo, now);
    const loadavg = files.readHost('loadavg', L.HOST_LOADAVG);
    if (loadavg !== undefined) this.#cpu.collectLoad(sink, loadavg, now);
    const vmstat = files.readHost('vmstat', L.HOST_VMSTAT);
    if (vmstat !== undefined) this.#memory.collectVmstat(sink, vmstat, now);
    const diskstats = files.readHost('diskstats', L.HOST_DISKSTATS);
    if (diskstats !== undefined) await this.#disks.collect(sink, diskstats, now);
    const netdev = files.readHost('net/dev', L.HOST_NET_DEV);
    if (netdev !== undefined) this.#network.collect(sink, netdev, now);
    if (this.#config.tcpConnections) await this.#tcp.collect(sink, now);
    const uptime = await files.read('uptime');
    if (uptime !== undefined) this.#system.collectUptime(sink, uptime, now);
    const fileNr = await files.read('sys/fs/file-nr');
    if (fileNr !== undefined) this.#system.collectFileNr(sink, fileNr, now);
    for (const r of PSI_RESOURCES) {
      const psi = files.readHost(`pressure/${r}`, L.HOST_PRESSURE);
      if (psi !== undefined) this.#pressure.collect(sink, r, psi, now);
    }
    await this.#filesystems.collect(sink, now);
  }

  async stop(): Promise<void> {}
}
