import type { Resource } from '../../model/index.js';

/**
 * One process group: the processes that share a key (executable name, and the container or the
 * owner when configured). Its counters must never go backwards although members come and go,
 * so each member joins with a baseline, adds `current − baseline` while it lives, and leaves
 * that contribution behind in the group's accumulator when it exits or moves to another
 * group. A member born after the previous scan joins with baseline 0 (all of its CPU falls
 * after the group's start); any other member joins with its current value as baseline. The
 * group's counter is then exactly what its members consumed since the group's start time.
 *
 * Counters are kept in the kernel's units (ticks, faults, bytes): sums of integers stay exact
 * in a double up to 2^53.
 */
export class ProcessGroup {
  readonly key: string;
  resource: Resource;
  readonly startUnixNano: bigint;

  // What members that left contributed (ticks, faults, bytes).
  accUser = 0;
  accSystem = 0;
  accMinor = 0;
  accMajor = 0;
  accRead = 0;
  accWrite = 0;

  // This cycle's sums over the live members: counters as current − baseline, gauges as is.
  members = 0;
  user = 0;
  system = 0;
  minor = 0;
  major = 0;
  read = 0;
  write = 0;
  rssPages = 0;
  vsizeBytes = 0;
  threads = 0;
  fds = 0;
  /** Members whose fd count could be read this cycle. */
  fdsKnown = 0;
  /** Sticky: once a member's io was readable the disk series exists (and stays monotonic). */
  ioSeen = false;

  /** CPU totals (ticks) at the previous cycle, for utilization; NaN when there is none. */
  prevUserTotal: number;
  prevSystemTotal: number;
  /** Cycles in a row the group had no member; an idle group is dropped after a few. */
  idleCycles = 0;

  constructor(key: string, resource: Resource, startUnixNano: bigint, hasPrevious: boolean) {
    this.key = key;
    this.resource = resource;
    this.startUnixNano = startUnixNano;
    // Created after the first scan: it held nothing at its start (the previous scan), so the
    // first utilization is measured from zero.
    this.prevUserTotal = hasPrevious ? 0 : Number.NaN;
    this.prevSystemTotal = hasPrevious ? 0 : Number.NaN;
  }

  beginCycle(): void {
    this.members = 0;
    this.user = 0;
    this.system = 0;
    this.minor = 0;
    this.major = 0;
    this.read = 0;
    this.write = 0;
    this.rssPages = 0;
    this.vsizeBytes = 0;
    this.threads = 0;
    this.fds = 0;
    this.fdsKnown = 0;
  }

  get userTotal(): number {
    return this.accUser + this.user;
  }
  get systemTotal(): number {
    return this.accSystem + this.system;
  }
  get minorTotal(): number {
    return this.accMinor + this.minor;
  }
  get majorTotal(): number {
    return this.accMajor + this.major;
  }
  get readTotal(): number {
    return this.accRead + this.read;
  }
  get writeTotal(): number {
    return this.accWrite + this.write;
  }
}
