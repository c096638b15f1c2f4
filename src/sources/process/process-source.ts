import os from 'node:os';
import path from 'node:path';
import type { Attributes, MetricDescriptor, Resource, Scope } from '../../model/index.js';
import { EMPTY_ATTRIBUTES, createScope, nowUnixNano } from '../../model/index.js';
import type { ProcessDetails, ProcessTable, ProcReader } from '../../native/types.js';
import type { Logger } from '../../self/logger.js';
import type { BoundCounter, Gauge, Registry } from '../../self/registry.js';
import type { RecordSink, Source } from '../types.js';
import { type ProcessSourceConfig, processSourceConfig } from './config.js';
import { containerIdFromCgroup } from './container-id.js';
import { GroupTable } from './group-table.js';
import * as M from './metrics.js';
import { ProcessEntry } from './process-entry.js';
import type { ProcessGroup } from './process-group.js';
import { processResource, rebaseResource } from './process-resource.js';
import { ProcessScanner } from './scanner.js';
import { TopN } from './top-n.js';
import { UserNames } from './users.js';
import { countStates, PROCESS_STATES, STATE_ATTRIBUTES } from './process-states.js';

export interface ProcessSourceDeps {
  readonly reader: ProcReader;
  /** Where the host's filesystem is mounted; `<hostRoot>/proc` and `<hostRoot>/etc/passwd`. */
  readonly hostRoot: string;
  /** The host's resource; process and group resources add to its attributes. */
  readonly resource: Resource;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly version: string;
  /** USER_HZ. */
  readonly clockTicks: number;
  /** Bytes per page, for rss. */
  readonly pageSize: number;
  /** The host's boot time (btime); a process started at boot + starttime / USER_HZ. */
  readonly bootTimeUnixNano: () => bigint;
  /** Logical CPUs, the denominator of utilization; os.cpus().length when not given. */
  readonly cpuCount?: number;
  /** Clock of the cycle's timestamps; injectable for tests. */
  readonly now?: () => bigint;
}

const KTHREADD_PID = 2;

/**
 * Every process on the node, at a bounded number of series per cycle. Per cycle: one
 * `scanProcesses` of `/proc/<pid>/stat`; details (cmdline, exe, owner, cgroup, io, fds) only
 * for identities not seen before and on a slower cadence; every process added into its group;
 * per-process series only for the top N by CPU and by memory. A new cmdline alone (a process
 * title) does not rebuild a process's resource.
 *
 * Groups. Key: executable name (comm), with the container id (`exe+container`, the default) or
 * the owner (`exe+user`). Kernel threads (children of kthreadd with no cmdline) are one `kernel`
 * group rather than one group per name: their names carry CPU numbers and work-queue names
 * (`kworker/3:1-events`) that would fill the cap. Zombies stay in their group (counted, with no
 * memory). At most `maxGroups` named groups; processes of further keys are summed in `other`.
 * Group counters count from the group's start and never go backwards (see ProcessGroup).
 *
 * Limits of what /proc says: io and fd counts are as fresh as the last details refresh, and
 * need CAP_SYS_PTRACE for other users' processes (absent otherwise, counted once per cycle).
 * A process's resource keeps the parent pid of when it was first seen.
 */
export class ProcessSource implements Source {
  readonly name = 'process';
  readonly #config: ProcessSourceConfig;
  readonly #reader: ProcReader;
  readonly #procDir: string;
  #host: Resource;
  readonly #stateCounts = new Int32Array(PROCESS_STATES.length);
  readonly #scope: Scope;
  readonly #logger: Logger;
  readonly #clockTicks: number;
  readonly #pageSize: number;
  readonly #cpuCount: number;
  readonly #bootTime: () => bigint;
  readonly #now: () => bigint;
  readonly #scanner: ProcessScanner;
  readonly #users: UserNames;
  readonly #groups: GroupTable;
  readonly #cache = new Map<number, ProcessEntry>();
  readonly #topCpu: TopN;
  readonly #topMem: TopN;
  readonly #cmdlineReadBytes: number;
  /** Row → entry of this cycle (undefined for a row skipped), reused across cycles. */
  #rows: (ProcessEntry | undefined)[] = [];

  #cycle = 0;
  #scans = 0;
  #prevScanTime = 0n;
  #points = 0;
  // This cycle's tallies, added to the registry once per cycle rather than once per process.
  #cycleReads = 0;
  #cycleVanished = 0;
  #cycleReused = 0;
  #scanFailing = false;
  #unreadableLogged = false;
  #usersLogged = false;

  readonly #seriesGauge: Gauge;
  readonly #groupsGauge: Gauge;
  readonly #processesGauge: Gauge;
  readonly #scanErrors: BoundCounter;
  readonly #vanished: BoundCounter;
  readonly #detailReads: BoundCounter;
  readonly #pidReused: BoundCounter;
  readonly #truncated: BoundCounter;
  readonly #ioUnreadable: BoundCounter;
  readonly #fdUnreadable: BoundCounter;

  constructor(config: ProcessSourceConfig, deps: ProcessSourceDeps) {
    this.#config = processSourceConfig(config);
    this.#reader = deps.reader;
    this.#procDir = path.join(deps.hostRoot, 'proc');
    this.#host = deps.resource;
    this.#scope = createScope('sextant/process', deps.version);
    this.#logger = deps.logger;
    this.#clockTicks = deps.clockTicks;
    this.#pageSize = deps.pageSize;
    this.#cpuCount = deps.cpuCount ?? Math.max(1, os.cpus().length);
    this.#bootTime = deps.bootTimeUnixNano;
    this.#now = deps.now ?? nowUnixNano;
    this.#scanner = new ProcessScanner(deps.reader, this.#procDir);
    this.#users = new UserNames(deps.hostRoot);
    this.#groups = new GroupTable(deps.resource, this.#config.maxGroups);
    this.#topCpu = new TopN(this.#config.topByCpu);
    this.#topMem = new TopN(this.#config.topByMemory);
    this.#cmdlineReadBytes = Math.max(1, this.#config.maxCmdlineBytes);

    const r = deps.registry;
    this.#seriesGauge = r.gauge('sextant_process_series', 'Metric points (one per series) the process source emitted last cycle.');
    this.#groupsGauge = r.gauge('sextant_process_groups', 'Process groups exported last cycle, kernel and other included.');
    this.#processesGauge = r.gauge('sextant_process_processes', 'Processes the last scan found.');
    this.#scanErrors = r
      .counter('sextant_source_read_errors_total', 'Files a source could not read, by source and file.')
      .bind({ source: 'process', file: 'proc' });
    this.#vanished = r.counter('sextant_process_vanished_total', 'Processes gone between the scan and the read of their details.').bind();
    this.#detailReads = r.counter('sextant_process_detail_reads_total', 'Reads of cmdline/exe/status/cgroup/io/fd of one process.').bind();
    this.#pidReused = r.counter('sextant_process_pid_reused_total', 'Pids found with a new start time: a new process under an old pid.').bind();
    this.#truncated = r.counter('sextant_process_scan_truncated_total', 'Processes left out of a scan because they kept appearing faster than the table grew.').bind();
    const unreadable = r.counter('sextant_process_unreadable_total', 'Detail reads whose io or fd count was not readable (needs CAP_SYS_PTRACE), by field.');
    this.#ioUnreadable = unreadable.bind({ field: 'io' });
    this.#fdUnreadable = unreadable.bind({ field: 'fd' });
  }

  get trackedProcesses(): number {
    return this.#cache.size;
  }

  get groupCount(): number {
    return this.#groups.size;
  }

  async collect(sink: RecordSink): Promise<void> {
    const cycle = ++this.#cycle;
    if (cycle === 1 || cycle % this.#config.usersRefreshCycles === 0) await this.#refreshUsers();
    const now = this.#now();
    let table: ProcessTable;
    try {
      table = this.#scanner.scan();
      if (this.#scanFailing) {
        this.#scanFailing = false;
        this.#logger.info({ dir: this.#procDir }, 'process scan works again');
      }
    } catch (err) {
      this.#scanErrors.inc();
      if (!this.#scanFailing) {
        this.#scanFailing = true;
        this.#logger.warn({ dir: this.#procDir, err: (err as Error).message }, 'cannot scan processes; process metrics are skipped until it works again');
      }
      return;
    }
    if (this.#scanner.truncated > 0) this.#truncated.inc(this.#scanner.truncated);
    const scan = ++this.#scans;
    // A group created now counts from the previous scan: all its members started after it.
    const groupStart = scan === 1 ? now : this.#prevScanTime;
    this.#points = 0;
    // Per-process bookkeeping counts scans, not cycles: a failed scan leaves no gap in "seen
    // at the previous scan".
    this.#processRows(table, scan, groupStart);
    this.#evictGone(scan);
    this.#groups.sweep();
    const elapsedSec = scan === 1 ? 0 : Number(now - this.#prevScanTime) / 1e9;
    this.#emitStates(sink, table, now);
    this.#emitGroups(sink, now, elapsedSec);
    this.#emitTop(sink, table, scan, now, elapsedSec);
    this.#prevScanTime = now;
    this.#seriesGauge.set(this.#points);
    this.#groupsGauge.set(this.#groups.size);
    this.#processesGauge.set(Math.min(table.count, table.capacity));
  }

  /**
   * The host identity changed (the static inventory arrived late, or SIGHUP read a new
   * hostname): every cached process and group resource is rebuilt on the new host resource, so
   * process series keep naming the host exactly as the host source's series do.
   */
  setHostResource(host: Resource): void {
    if (host === this.#host) return;
    for (const e of this.#cache.values()) e.resource = rebaseResource(e.resource, this.#host, host);
    this.#groups.setHost(host);
    this.#host = host;
  }

  async stop(): Promise<void> {}

  async #refreshUsers(): Promise<void> {
    if ((await this.#users.refresh()) || this.#usersLogged) return;
    this.#usersLogged = true;
    this.#logger.info('cannot read <hostRoot>/etc/passwd; process owners are shown as uids');
  }

  #processRows(t: ProcessTable, scan: number, groupStart: bigint): void {
    const cycle = scan;
    const n = Math.min(t.count, t.capacity);
    if (this.#rows.length < n) this.#rows.length = n;
    this.#groups.beginCycle();
    this.#topCpu.reset();
    this.#topMem.reset();
    const refreshEvery = this.#config.detailsRefreshCycles;
    let ioUnreadable = 0;
    let fdUnreadable = 0;
    for (let row = 0; row < n; row++) {
      const pid = t.pid[row]!;
      const startTicks = t.startTicks[row]!;
      let e = this.#cache.get(pid);
      if (e !== undefined && e.startTicks !== startTicks) {
        // Same pid, another start: the old process is gone and this is a new one.
        this.#cycleReused++;
        e.leave();
        this.#cache.delete(pid);
        e = undefined;
      }
      if (e === undefined) {
        const details = this.#readDetails(pid);
        if (details === undefined) {
          this.#rows[row] = undefined;
          continue;
        }
        if (details.io === undefined) ioUnreadable++;
        if (details.openFds === undefined) fdUnreadable++;
        e = this.#newEntry(t, row, details, scan > 1);
        e.update(t, row, cycle, false);
        e.join(this.#groupFor(e, groupStart, scan > 1), e.newborn);
        // Spread the refreshes of processes seen on the same cycle over the next period.
        e.nextRefreshCycle = cycle + refreshEvery + (pid % refreshEvery);
        this.#cache.set(pid, e);
      } else {
        // The same process twice in one scan (a reader that raced a pid's directory): once.
        if (e.seenCycle === cycle) {
          this.#rows[row] = undefined;
          continue;
        }
        const seenBefore = e.seenCycle === cycle - 1;
        if (cycle >= e.nextRefreshCycle) {
          e.nextRefreshCycle = cycle + refreshEvery;
          const details = this.#readDetails(pid);
          if (details !== undefined) {
            if (details.io === undefined) ioUnreadable++;
            if (details.openFds === undefined) fdUnreadable++;
            this.#refresh(e, t, row, details, groupStart, scan > 1);
          }
        }
        e.update(t, row, cycle, seenBefore);
      }
      this.#rows[row] = e;
      e.addTo(e.group!);
      this.#topCpu.offer(row, e.deltaUser + e.deltaSystem);
      this.#topMem.offer(row, e.rssPages);
    }
    // Summed here, counted once per cycle: no log line or counter call per process.
    this.#flushTallies();
    if (ioUnreadable > 0) this.#ioUnreadable.inc(ioUnreadable);
    if (fdUnreadable > 0) this.#fdUnreadable.inc(fdUnreadable);
    if ((ioUnreadable > 0 || fdUnreadable > 0) && !this.#unreadableLogged) {
      this.#unreadableLogged = true;
      this.#logger.info(
        { io: ioUnreadable, fd: fdUnreadable },
        'io or fd counts of some processes are not readable (other users\u2019 processes need CAP_SYS_PTRACE); their disk and fd series are left out',
      );
    }
  }

  #flushTallies(): void {
    if (this.#cycleReads > 0) this.#detailReads.inc(this.#cycleReads);
    if (this.#cycleVanished > 0) this.#vanished.inc(this.#cycleVanished);
    if (this.#cycleReused > 0) this.#pidReused.inc(this.#cycleReused);
    this.#cycleReads = 0;
    this.#cycleVanished = 0;
    this.#cycleReused = 0;
  }

  #readDetails(pid: number): ProcessDetails | undefined {
    this.#cycleReads++;
    // At least one byte even when command lines are not exported: an empty cmdline is what
    // tells a kernel thread from a process.
    const d = this.#reader.readProcessDetails(this.#procDir, pid, this.#cmdlineReadBytes);
    if (d === undefined) this.#cycleVanished++;
    return d;
  }

  #newEntry(t: ProcessTable, row: number, details: ProcessDetails, newborn: boolean): ProcessEntry {
    const pid = t.pid[row]!;
    const ppid = t.ppid[row]!;
    const startTicks = t.startTicks[row]!;
    const kernel = isKernelThread(pid, ppid, details);
    const owner = details.uid === undefined ? undefined : this.#users.name(details.uid);
    const containerId = containerIdFromCgroup(details.cgroup);
    const resource = processResource(this.#host, { pid, ppid, details, owner, containerId, kernel }, this.#config.maxCmdlineBytes);
    const start = this.#bootTime() + (BigInt(Math.trunc(startTicks)) * 1_000_000_000n) / BigInt(this.#clockTicks);
    return new ProcessEntry(pid, startTicks, start, newborn, ppid, details, resource, kernel, this.#groupKey(details, owner, containerId));
  }

  /**
   * New details of a known process: a new resource and group only when the program, owner or
   * cgroup changed (exec, setuid, a move into a container). A changed cmdline alone is a
   * process title (postgres, nginx workers rewrite theirs): the resource keeps the first one,
   * so the process keeps its series.
   */
  #refresh(e: ProcessEntry, t: ProcessTable, row: number, d: ProcessDetails, groupStart: bigint, hasPrevious: boolean): void {
    const old = e.details;
    if (d.comm !== old.comm || d.exe !== old.exe || d.uid !== old.uid || d.cgroup !== old.cgroup) {
      const owner = d.uid === undefined ? undefined : this.#users.name(d.uid);
      const containerId = containerIdFromCgroup(d.cgroup);
      e.kernel = isKernelThread(e.pid, e.ppid, d);
      e.resource = processResource(this.#host, { pid: e.pid, ppid: t.ppid[row]!, details: d, owner, containerId, kernel: e.kernel }, this.#config.maxCmdlineBytes);
      e.groupKey = this.#groupKey(d, owner, containerId);
    }
    e.details = d;
    // Also moves a member of `other` into its own group once the cap has room again.
    const target = this.#groupFor(e, groupStart, hasPrevious);
    if (target !== e.group) {
      // Leave and join before taking the new io: the old group keeps what was counted so
      // far, the new one counts from there.
      e.leave();
      e.join(target, false);
    }
    e.setIo(d);
  }

  #groupKey(d: ProcessDetails, owner: string | undefined, containerId: string | undefined): string {
    // comm never holds NUL, so the separator cannot be forged by a process name.
    switch (this.#config.groupBy) {
      case 'exe':
        return d.comm;
      case 'exe+container':
        return containerId === undefined ? d.comm : `${d.comm}\u0000${containerId}`;
      case 'exe+user':
        return `${d.comm}\u0000${owner ?? ''}`;
    }
  }

  #groupFor(e: ProcessEntry, start: bigint, hasPrevious: boolean): ProcessGroup {
    if (e.kernel) return this.#groups.kernel(start, hasPrevious);
    const by = this.#config.groupBy;
    const containerId = by === 'exe+container' ? e.resource.attributes['container.id'] : undefined;
    const owner = by === 'exe+user' ? e.resource.attributes['process.owner'] : undefined;
    return this.#groups.resolve(
      e.groupKey,
      e.details.comm,
      typeof containerId === 'string' ? containerId : undefined,
      typeof owner === 'string' ? owner : undefined,
      start,
      hasPrevious,
    );
  }

  /** Processes not in this scan have exited: their groups keep what they counted. */
  #evictGone(cycle: number): void {
    for (const [pid, e] of this.#cache) {
      if (e.seenCycle === cycle) continue;
      e.leave();
      this.#cache.delete(pid);
    }
  }

  #emit(sink: RecordSink, d: MetricDescriptor, resource: Resource, attributes: Attributes, start: bigint, now: bigint, value: number): void {
    this.#points++;
    sink.offerMetric({ descriptor: d, resource, scope: this.#scope, attributes, startTimeUnixNano: start, timeUnixNano: now, value });
  }

  /** Every state each cycle, zeros included, so a state that empties reads 0 instead of vanishing. */
  #emitStates(sink: RecordSink, table: ProcessTable, now: bigint): void {
    countStates(table.state, Math.min(table.count, table.capacity), this.#stateCounts);
    for (let i = 0; i < PROCESS_STATES.length; i++) {
      this.#emit(sink, M.PROCESS_COUNT, this.#host, STATE_ATTRIBUTES[i]!, 0n, now, this.#stateCounts[i]!);
    }
  }

  #emitGroups(sink: RecordSink, now: bigint, elapsedSec: number): void {
    const hz = this.#clockTicks;
    const cpuSeconds = elapsedSec * this.#cpuCount;
    for (const g of this.#groups.all) {
      const r = g.resource;
      const s = g.startUnixNano;
      const user = g.userTotal;
      const system = g.systemTotal;
      this.#emit(sink, M.CPU_TIME, r, M.USER, s, now, user / hz);
      this.#emit(sink, M.CPU_TIME, r, M.SYSTEM, s, now, system / hz);
      if (cpuSeconds > 0 && !Number.isNaN(g.prevUserTotal)) {
        this.#emit(sink, M.CPU_UTILIZATION, r, M.USER, 0n, now, (user - g.prevUserTotal) / hz / cpuSeconds);
        this.#emit(sink, M.CPU_UTILIZATION, r, M.SYSTEM, 0n, now, (system - g.prevSystemTotal) / hz / cpuSeconds);
      }
      g.prevUserTotal = user;
      g.prevSystemTotal = system;
      this.#emit(sink, M.GROUP_COUNT, r, EMPTY_ATTRIBUTES, 0n, now, g.members);
      this.#emit(sink, M.MEMORY_USAGE, r, EMPTY_ATTRIBUTES, 0n, now, g.rssPages * this.#pageSize);
      this.#emit(sink, M.MEMORY_VIRTUAL, r, EMPTY_ATTRIBUTES, 0n, now, g.vsizeBytes);
      this.#emit(sink, M.THREAD_COUNT, r, EMPTY_ATTRIBUTES, 0n, now, g.threads);
      if (g.fdsKnown > 0) this.#emit(sink, M.FD_COUNT, r, EMPTY_ATTRIBUTES, 0n, now, g.fds);
      if (g.ioSeen) {
        this.#emit(sink, M.DISK_IO, r, M.READ, s, now, g.readTotal);
        this.#emit(sink, M.DISK_IO, r, M.WRITE, s, now, g.writeTotal);
      }
      this.#emit(sink, M.PAGING_FAULTS, r, M.MINOR, s, now, g.minorTotal);
      this.#emit(sink, M.PAGING_FAULTS, r, M.MAJOR, s, now, g.majorTotal);
    }
  }

  #emitTop(sink: RecordSink, t: ProcessTable, cycle: number, now: bigint, elapsedSec: number): void {
    for (let i = 0; i < this.#topCpu.size; i++) this.#emitProcess(sink, this.#rows[this.#topCpu.row(i)]!, cycle, now, elapsedSec);
    for (let i = 0; i < this.#topMem.size; i++) this.#emitProcess(sink, this.#rows[this.#topMem.row(i)]!, cycle, now, elapsedSec);
    // Drop this cycle's references so exited processes are not kept alive by the row array.
    this.#rows.fill(undefined, 0, Math.min(t.count, t.capacity));
  }

  #emitProcess(sink: RecordSink, e: ProcessEntry, cycle: number, now: bigint, elapsedSec: number): void {
    if (e.emittedCycle === cycle) return;
    e.emittedCycle = cycle;
    const hz = this.#clockTicks;
    const r = e.resource;
    const s = e.startUnixNano;
    this.#emit(sink, M.CPU_TIME, r, M.USER, s, now, e.utime / hz);
    this.#emit(sink, M.CPU_TIME, r, M.SYSTEM, s, now, e.stime / hz);
    if (e.hasDelta && elapsedSec > 0) {
      const cpuSeconds = elapsedSec * this.#cpuCount;
      this.#emit(sink, M.CPU_UTILIZATION, r, M.USER, 0n, now, e.deltaUser / hz / cpuSeconds);
      this.#emit(sink, M.CPU_UTILIZATION, r, M.SYSTEM, 0n, now, e.deltaSystem / hz / cpuSeconds);
    }
    this.#emit(sink, M.MEMORY_USAGE, r, EMPTY_ATTRIBUTES, 0n, now, e.rssPages * this.#pageSize);
    this.#emit(sink, M.MEMORY_VIRTUAL, r, EMPTY_ATTRIBUTES, 0n, now, e.vsizeBytes);
    this.#emit(sink, M.THREAD_COUNT, r, EMPTY_ATTRIBUTES, 0n, now, e.threads);
    if (e.fds >= 0) this.#emit(sink, M.FD_COUNT, r, EMPTY_ATTRIBUTES, 0n, now, e.fds);
    if (e.ioRead >= 0) {
      this.#emit(sink, M.DISK_IO, r, M.READ, s, now, e.ioRead);
      this.#emit(sink, M.DISK_IO, r, M.WRITE, s, now, e.ioWrite);
    }
    this.#emit(sink, M.PAGING_FAULTS, r, M.MINOR, s, now, e.minor);
    this.#emit(sink, M.PAGING_FAULTS, r, M.MAJOR, s, now, e.major);
    const up = Number(now - s) / 1e9;
    if (up >= 0) this.#emit(sink, M.UPTIME, r, EMPTY_ATTRIBUTES, 0n, now, up);
  }
}

/**
 * A kernel thread: a child of kthreadd (or kthreadd itself) with an empty cmdline. The cmdline
 * check keeps a user process that happens to be pid 2 in a pid namespace out.
 */
function isKernelThread(pid: number, ppid: number, d: ProcessDetails): boolean {
  return (pid === KTHREADD_PID || ppid === KTHREADD_PID) && d.cmdline === undefined;
}

export function create(config: ProcessSourceConfig, deps: ProcessSourceDeps): ProcessSource {
  return new ProcessSource(config, deps);
}
