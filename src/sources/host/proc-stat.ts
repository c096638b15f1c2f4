import { HOST_MALFORMED, HOST_ROWS, HOST_STAT, STAT_BTIME, STAT_PROCESSES, STAT_PROCS_BLOCKED, STAT_PROCS_RUNNING, STAT_ROW_SIZE, STAT_ROW_START } from '../../native/host-layout.js';
import { parseHostText } from '../../native/host-parse.js';

/**
 * `/proc/stat`: per-CPU time by mode (in USER_HZ ticks) and the boot time.
 * Kernel format (proc(5)): `cpu  user nice system idle iowait irq softirq steal guest guest_nice`
 * for the total, then one `cpuN` line per logical CPU, then `btime <unix seconds>`,
 * `processes` (forks since boot), `procs_running` and `procs_blocked` (tasks — threads, not
 * processes — runnable now and in uninterruptible sleep now) among others.
 */

/** The modes we export, in the column order of /proc/stat; guest time is already inside user/nice. */
export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'interrupt', 'softirq', 'steal'] as const;

export interface CpuTimes {
  /** Logical CPU number, as in `cpuN`. */
  readonly cpu: number;
  /** Ticks per mode, in CPU_MODES order. */
  readonly ticks: readonly number[];
}

export interface ProcStat {
  readonly cpus: readonly CpuTimes[];
  /** Boot time, Unix seconds; undefined if the line is missing or malformed. */
  readonly bootTimeSec: number | undefined;
  /** Forks since boot (`processes`). */
  readonly processesCreated: number | undefined;
  /** Tasks runnable now (`procs_running`). */
  readonly procsRunning: number | undefined;
  /** Tasks in uninterruptible sleep now, usually waiting for I/O (`procs_blocked`). */
  readonly procsBlocked: number | undefined;
  /** Lines that looked like ours but did not parse. */
  readonly malformed: number;
}

/**
 * The string form of `ProcReader.readHostFile(HOST_STAT)` (one parser: src/native/host-parse.ts,
 * mirrored in C), for tests and one-off reads. Lines `cpuN` with fewer than 4 columns, a column
 * that is not an integer ≤ 2^53 − 1, and bad `btime`/`processes`/`procs_*` values are malformed.
 */
export function parseProcStat(text: string): ProcStat {
  const { values: v } = parseHostText(HOST_STAT, text);
  const cpus: CpuTimes[] = [];
  for (let r = 0; r < v[HOST_ROWS]!; r++) {
    const at = STAT_ROW_START + r * STAT_ROW_SIZE;
    cpus.push({ cpu: v[at]!, ticks: Array.from(v.subarray(at + 1, at + 1 + CPU_MODES.length)) });
  }
  return {
    cpus,
    bootTimeSec: defined(v[STAT_BTIME]!),
    processesCreated: defined(v[STAT_PROCESSES]!),
    procsRunning: defined(v[STAT_PROCS_RUNNING]!),
    procsBlocked: defined(v[STAT_PROCS_BLOCKED]!),
    malformed: v[HOST_MALFORMED]!,
  };
}

/** NaN (absent or malformed in the layout) as undefined. */
export function defined(v: number): number | undefined {
  return Number.isNaN(v) ? undefined : v;
}
