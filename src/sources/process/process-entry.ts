import type { Resource } from '../../model/index.js';
import type { ProcessDetails, ProcessTable } from '../../native/types.js';
import type { ProcessGroup } from './process-group.js';

/**
 * What the source remembers of one process, keyed by its identity (pid, starttime): the details
 * read when it was first seen (refreshed on a slower cadence), its Resource (built once), the
 * last readings of its counters, and its membership of a group. Mutable fields updated in place
 * every cycle: no object is made per process per cycle.
 */
export class ProcessEntry {
  readonly pid: number;
  readonly startTicks: number;
  readonly startUnixNano: bigint;
  /** First seen after the first scan, so it started since the previous one. */
  readonly newborn: boolean;
  ppid: number;
  details: ProcessDetails;
  resource: Resource;
  /** No exe and no cmdline, child of kthreadd (pid 2). */
  kernel: boolean;
  groupKey: string;
  group: ProcessGroup | undefined;

  // Last readings (ticks, faults, pages, bytes); counters never step back (see update).
  utime = 0;
  stime = 0;
  minor = 0;
  major = 0;
  rssPages = 0;
  vsizeBytes = 0;
  threads = 0;
  /** From details; -1 while unreadable. */
  ioRead = -1;
  ioWrite = -1;
  fds = -1;

  // Baselines of the counters in the current group (see ProcessGroup). NaN: io not yet known.
  baseUser = 0;
  baseSystem = 0;
  baseMinor = 0;
  baseMajor = 0;
  baseRead = Number.NaN;
  baseWrite = Number.NaN;

  /** CPU ticks used this cycle; hasDelta is false on the first scan, where there is no before. */
  deltaUser = 0;
  deltaSystem = 0;
  hasDelta = false;

  seenCycle = 0;
  nextRefreshCycle = 0;
  /** Last cycle whose per-process series included this process (top-N deduplication). */
  emittedCycle = 0;

  constructor(
    pid: number,
    startTicks: number,
    startUnixNano: bigint,
    newborn: boolean,
    ppid: number,
    details: ProcessDetails,
    resource: Resource,
    kernel: boolean,
    groupKey: string,
  ) {
    this.pid = pid;
    this.startTicks = startTicks;
    this.startUnixNano = startUnixNano;
    this.newborn = newborn;
    this.ppid = ppid;
    this.details = details;
    this.resource = resource;
    this.kernel = kernel;
    this.groupKey = groupKey;
    this.group = undefined;
    this.setIo(details);
  }

  /** Takes io and fd counts from freshly read details; unreadable keeps the last known io. */
  setIo(d: ProcessDetails): void {
    if (d.io !== undefined) {
      this.ioRead = Math.max(this.ioRead, d.io.readBytes);
      this.ioWrite = Math.max(this.ioWrite, d.io.writeBytes);
    }
    this.fds = d.openFds ?? -1;
  }

  /**
   * Takes this cycle's row. The kernel's counters of one process only grow; a smaller reading
   * (never seen, but a reader bug must not make a counter go backwards) keeps the last value.
   */
  update(t: ProcessTable, row: number, cycle: number, seenBefore: boolean): void {
    const utime = Math.max(this.utime, t.utimeTicks[row]!);
    const stime = Math.max(this.stime, t.stimeTicks[row]!);
    // Before: the previous scan's reading, or nothing for a process started since (0), or
    // unknown on the first scan.
    this.hasDelta = seenBefore || this.newborn;
    this.deltaUser = this.hasDelta ? utime - (seenBefore ? this.utime : 0) : 0;
    this.deltaSystem = this.hasDelta ? stime - (seenBefore ? this.stime : 0) : 0;
    this.utime = utime;
    this.stime = stime;
    this.minor = Math.max(this.minor, t.minorFaults[row]!);
    this.major = Math.max(this.major, t.majorFaults[row]!);
    this.ppid = t.ppid[row]!;
    this.rssPages = t.rssPages[row]!;
    this.vsizeBytes = t.vsizeBytes[row]!;
    this.threads = t.threads[row]!;
    this.seenCycle = cycle;
  }

  /** Joins `group`: from zero when born since the previous scan, else from what it has now. */
  join(group: ProcessGroup, fromZero: boolean): void {
    this.group = group;
    this.baseUser = fromZero ? 0 : this.utime;
    this.baseSystem = fromZero ? 0 : this.stime;
    this.baseMinor = fromZero ? 0 : this.minor;
    this.baseMajor = fromZero ? 0 : this.major;
    this.baseRead = this.ioRead < 0 ? Number.NaN : fromZero ? 0 : this.ioRead;
    this.baseWrite = this.ioWrite < 0 ? Number.NaN : fromZero ? 0 : this.ioWrite;
  }

  /** Leaves its group (exit, pid reuse, regrouping), leaving its contribution behind. */
  leave(): void {
    const g = this.group;
    if (g === undefined) return;
    g.accUser += this.utime - this.baseUser;
    g.accSystem += this.stime - this.baseSystem;
    g.accMinor += this.minor - this.baseMinor;
    g.accMajor += this.major - this.baseMajor;
    if (this.ioRead >= 0 && !Number.isNaN(this.baseRead)) {
      g.accRead += this.ioRead - this.baseRead;
      g.accWrite += this.ioWrite - this.baseWrite;
    }
    this.group = undefined;
  }

  /** Adds this cycle's readings to its group's sums. */
  addTo(g: ProcessGroup): void {
    g.members++;
    g.user += this.utime - this.baseUser;
    g.system += this.stime - this.baseSystem;
    g.minor += this.minor - this.baseMinor;
    g.major += this.major - this.baseMajor;
    g.rssPages += this.rssPages;
    g.vsizeBytes += this.vsizeBytes;
    g.threads += this.threads;
    if (this.fds >= 0) {
      g.fds += this.fds;
      g.fdsKnown++;
    }
    if (this.ioRead >= 0) {
      // io became readable after the process joined (a later refresh): count from there.
      if (Number.isNaN(this.baseRead)) {
        this.baseRead = this.ioRead;
        this.baseWrite = this.ioWrite;
      }
      g.ioSeen = true;
      g.read += this.ioRead - this.baseRead;
      g.write += this.ioWrite - this.baseWrite;
    }
  }
}
