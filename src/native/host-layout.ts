/*
 * Where `ProcReader.readHostFile` puts each number of a whole-host /proc file in the caller's
 * Float64Array. Both readers (native/sextant_host.c and src/native/host-parse.ts) write exactly
 * this layout; the host source reads it. A value the file did not have (or had malformed) is NaN.
 *
 * Every kind starts with the same three slots:
 *   [HOST_MALFORMED]  lines that looked like ours but did not parse
 *   [HOST_ROWS]       rows (CPUs, disks, interfaces; 1 for loadavg when it parsed)
 *   [HOST_NAMES_GEN]  for diskstats and net/dev: changes when the row names change, so the caller
 *                     asks `hostNames(kind)` for a new array only then
 * then the kind's fixed slots, then its rows (row r at `<KIND>_ROW_START + r × <KIND>_ROW_SIZE`).
 *
 * KEEP IN STEP with the `#define`s at the top of native/sextant_host.c: the numbers must match.
 */

/** The file kinds, as the small integers both readers switch on. */
export const HOST_STAT = 0;
export const HOST_MEMINFO = 1;
export const HOST_VMSTAT = 2;
export const HOST_DISKSTATS = 3;
export const HOST_NET_DEV = 4;
export const HOST_LOADAVG = 5;
/** /proc/pressure/cpu, memory or io: one format. */
export const HOST_PRESSURE = 6;
export type HostFileKind = 0 | 1 | 2 | 3 | 4 | 5 | 6;
export const HOST_KINDS = 7;

export const HOST_MALFORMED = 0;
export const HOST_ROWS = 1;
export const HOST_NAMES_GEN = 2;

/** The smallest `out` a caller may pass: every fixed slot of every kind fits. */
export const HOST_MIN_OUT = 16;
/** Files larger than this are refused (error EFBIG): /proc/stat of 1,024 CPUs is ~150 KiB. */
export const HOST_FILE_CAP = 1 << 20;

// /proc/stat: fixed slots, then one row per `cpuN` line: N, then the 8 modes of CPU_MODES.
export const STAT_BTIME = 3;
export const STAT_PROCESSES = 4;
export const STAT_PROCS_RUNNING = 5;
export const STAT_PROCS_BLOCKED = 6;
export const STAT_ROW_START = 7;
export const STAT_ROW_SIZE = 9;
export const STAT_MODES = 8;

// /proc/meminfo: the keys the host source uses, in bytes (`kB` values × 1024).
export const MEMINFO_KEYS = ['MemTotal', 'MemFree', 'MemAvailable', 'Buffers', 'Cached', 'SReclaimable', 'SwapTotal', 'SwapFree'] as const;
export const MEMINFO_START = 3;
export const MEMINFO_SIZE = MEMINFO_START + MEMINFO_KEYS.length;

// /proc/vmstat: the paging counters.
export const VMSTAT_KEYS = ['pgpgin', 'pgpgout', 'pswpin', 'pswpout', 'pgfault', 'pgmajfault'] as const;
export const VMSTAT_START = 3;
export const VMSTAT_SIZE = VMSTAT_START + VMSTAT_KEYS.length;

// /proc/diskstats: rows of major, minor, then the 11 classic fields (DISK_* of diskstats.ts).
export const DISK_ROW_START = 3;
export const DISK_ROW_SIZE = 13;

// /proc/net/dev: rows of the 16 counters (NET_* of net-dev.ts).
export const NET_ROW_START = 3;
export const NET_ROW_SIZE = 16;

// /proc/loadavg: 1, 5 and 15 minute averages.
export const LOAD_START = 3;
export const LOAD_SIZE = 6;

// /proc/pressure/*: `some` avg10, avg60, avg300 (percent), total (µs); then the same for `full`.
export const PSI_SOME = 3;
export const PSI_FULL = 7;
export const PSI_SIZE = 11;
