/**
 * The interface of the /proc reader, implemented twice with identical results: by the Node-API
 * addon in `native/` and by the pure-TypeScript fallback. Per-process numbers come back in flat,
 * preallocated typed arrays (one column per field, one row per process), never an object per
 * process; the strings of a process (cmdline, exe, cgroup) are read only when the caller asks,
 * which it does when a (pid, starttime) is new or on a slower cadence.
 */

import type { HostFileKind } from './host-layout.js';

/**
 * Slots of `countTcpStates`'s output: out[s] for kernel TCP state s (include/net/tcp_states.h:
 * 1 ESTABLISHED … 10 LISTEN, 11 CLOSING, 12 NEW_SYN_RECV); out[0] for any other state.
 */
export const TCP_COUNT_SLOTS = 13;
/** `countTcpStates`'s answer when the reader cannot count over netlink: -EOPNOTSUPP. */
export const TCP_COUNT_UNSUPPORTED = -95;

/** Column-major table filled by `scanProcesses`; allocate once with `createProcessTable`. */
export interface ProcessTable {
  /** Rows filled by the last scan (≤ capacity). */
  count: number;
  readonly capacity: number;
  readonly pid: Int32Array;
  readonly ppid: Int32Array;
  /** ASCII code of the state letter from /proc/<pid>/stat (R, S, D, Z, T, t, X, I …). */
  readonly state: Uint8Array;
  /** Field 22 `starttime`: clock ticks after boot. With pid, the identity of a process. */
  readonly startTicks: Float64Array;
  readonly utimeTicks: Float64Array;
  readonly stimeTicks: Float64Array;
  readonly minorFaults: Float64Array;
  readonly majorFaults: Float64Array;
  readonly threads: Int32Array;
  readonly vsizeBytes: Float64Array;
  /** Field 24 `rss`, in pages (multiply by the page size). */
  readonly rssPages: Float64Array;
}

export function createProcessTable(capacity: number): ProcessTable {
  return {
    count: 0,
    capacity,
    pid: new Int32Array(capacity),
    ppid: new Int32Array(capacity),
    state: new Uint8Array(capacity),
    startTicks: new Float64Array(capacity),
    utimeTicks: new Float64Array(capacity),
    stimeTicks: new Float64Array(capacity),
    minorFaults: new Float64Array(capacity),
    majorFaults: new Float64Array(capacity),
    threads: new Int32Array(capacity),
    vsizeBytes: new Float64Array(capacity),
    rssPages: new Float64Array(capacity),
  };
}

/** The slower-changing facts of one process. A field is undefined when it cannot be read. */
export interface ProcessDetails {
  /** From /proc/<pid>/stat, between the first `(` and the LAST `)`. */
  readonly comm: string;
  /** NUL-separated arguments joined with spaces, capped; undefined for kernel threads (empty). */
  readonly cmdline: string | undefined;
  /** True when cmdline was cut at the cap. */
  readonly cmdlineTruncated: boolean;
  /** readlink of exe; undefined for kernel threads and without permission (EACCES). */
  readonly exe: string | undefined;
  /** Real uid from the `Uid:` line of status. */
  readonly uid: number | undefined;
  /** The process's cgroup path: the cgroup v2 line (`0::/…`), else the first v1 line's path. */
  readonly cgroup: string | undefined;
  /** Bytes from /proc/<pid>/io (needs CAP_SYS_PTRACE for other users' processes). */
  readonly io: { readonly readBytes: number; readonly writeBytes: number } | undefined;
  /** Entries in /proc/<pid>/fd (same permission rule as io). */
  readonly openFds: number | undefined;
}

export interface ProcReader {
  readonly implementation: 'native' | 'js';
  /** Stat files the last scan skipped because they did not parse (counted, never thrown). */
  readonly malformed: number;
  /**
   * Reads `<procDir>/<pid>/stat` (and nothing else) of every numeric entry of procDir into
   * `table`. Returns how many processes exist; when that is more than `table.capacity` only
   * `capacity` rows were filled and the caller grows the table and scans again. A process that
   * vanishes mid-scan is skipped, not an error.
   */
  scanProcesses(procDir: string, table: ProcessTable): number;
  /** Undefined when the process is gone. `maxCmdlineBytes` caps the cmdline read. */
  readProcessDetails(procDir: string, pid: number, maxCmdlineBytes: number): ProcessDetails | undefined;

  /** The errno name (ENOENT, EACCES, EFBIG for a file over HOST_FILE_CAP …) of the last failed `readHostFile`. */
  readonly hostError: string;
  /**
   * Reads one whole-host /proc file (`kind`: HOST_* of host-layout.ts) and parses it into `out`
   * in that file's layout, allocating nothing. Returns the slots the whole result needs — when
   * more than `out.length`, the rows past the end were not stored: grow `out` and read again —
   * or -1 when the file cannot be read (the errno name is then in `hostError`). Malformed lines
   * are counted in out[HOST_MALFORMED], never thrown.
   */
  readHostFile(kind: HostFileKind, path: string, out: Float64Array): number;
  /**
   * The row names (disks, interfaces) of the last `readHostFile` of `kind`, in row order. The
   * same array until the set changes, which out[HOST_NAMES_GEN] announces: ask only then.
   */
  hostNames(kind: HostFileKind): readonly string[];

  /**
   * Counts the TCP sockets of the CALLER'S network namespace by state over NETLINK_SOCK_DIAG
   * (IPv4 and IPv6 dumps) into out[0..TCP_COUNT_SLOTS), which it zeroes first. Returns 0, or a
   * negative errno when the kernel refused or the reply was bad — TCP_COUNT_UNSUPPORTED from the
   * pure-JS reader, which has no netlink — and then the caller reads /proc/net/tcp{,6} instead.
   */
  countTcpStates(out: Float64Array): number;
}
