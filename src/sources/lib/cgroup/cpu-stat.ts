import { anyFound, at, readKeyed } from './keyed-file.js';

/**
 * `cpu.stat`. v2 (cgroup-v2.rst): usage_usec, user_usec, system_usec always; nr_periods,
 * nr_throttled, throttled_usec when the cpu controller is enabled for the cgroup (so not in the
 * unified tree of a hybrid host, where cpu is a v1 controller). v1 (sched-bwc.rst): nr_periods,
 * nr_throttled, throttled_time in nanoseconds. One parser for both; the caller knows which it read.
 */
export interface CpuStat {
  readonly usageUsec: number | undefined;
  readonly userUsec: number | undefined;
  readonly systemUsec: number | undefined;
  readonly nrPeriods: number | undefined;
  readonly nrThrottled: number | undefined;
  /** v2, microseconds. */
  readonly throttledUsec: number | undefined;
  /** v1, nanoseconds. */
  readonly throttledTimeNs: number | undefined;
  readonly malformed: number;
}

const CPU_STAT_KEYS = ['usage_usec', 'user_usec', 'system_usec', 'nr_periods', 'nr_throttled', 'throttled_usec', 'throttled_time'];
const cpuStat = new Float64Array(CPU_STAT_KEYS.length);

/** Undefined when the text holds none of the keys (empty, junk, another file). */
export function parseCpuStat(text: string): CpuStat | undefined {
  const malformed = readKeyed(text, CPU_STAT_KEYS, cpuStat);
  if (!anyFound(cpuStat)) return undefined;
  return {
    usageUsec: at(cpuStat, 0),
    userUsec: at(cpuStat, 1),
    systemUsec: at(cpuStat, 2),
    nrPeriods: at(cpuStat, 3),
    nrThrottled: at(cpuStat, 4),
    throttledUsec: at(cpuStat, 5),
    throttledTimeNs: at(cpuStat, 6),
    malformed,
  };
}

/**
 * v1 `cpuacct.stat`: `user` and `system` in USER_HZ ticks (the kernel reports clock_t, 100 per
 * second on every Linux architecture's user ABI). Total usage in ns is `cpuacct.usage` (parseValue).
 */
export interface CpuacctStat {
  readonly userTicks: number | undefined;
  readonly systemTicks: number | undefined;
  readonly malformed: number;
}

/** clock_t ticks per second as /proc and cgroup v1 report them (USER_HZ). */
export const USER_HZ = 100;

const CPUACCT_KEYS = ['user', 'system'];
const cpuacct = new Float64Array(CPUACCT_KEYS.length);

export function parseCpuacctStat(text: string): CpuacctStat | undefined {
  const malformed = readKeyed(text, CPUACCT_KEYS, cpuacct);
  if (!anyFound(cpuacct)) return undefined;
  return { userTicks: at(cpuacct, 0), systemTicks: at(cpuacct, 1), malformed };
}
