/**
 * `/proc/stat`: per-CPU time by mode (in USER_HZ ticks) and the boot time.
 * Kernel format (proc(5)): `cpu  user nice system idle iowait irq softirq steal guest guest_nice`
 * for the total, then one `cpuN` line per logical CPU, then `btime <unix seconds>`,
 * `processes` (forks since boot), `procs_running` and `procs_blocked` (tasks — threads, not
 * processes — runnable now and in uninterruptible sleep now) among others.
 */

/** The modes we export, in the column order of /proc/stat; guest time is already inside user/nice. */
export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'interrupt', 'softirq', 'steal'] as const;
export type CpuMode = (typeof CPU_MODES)[number];

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

const COUNT_LINES = ['processes ', 'procs_running ', 'procs_blocked '] as const;

const CPU_LINE = /^cpu(\d+)\s+(.*)$/;

export function parseProcStat(text: string): ProcStat {
  const cpus: CpuTimes[] = [];
  let bootTimeSec: number | undefined;
  let malformed = 0;
  const counts: (number | undefined)[] = [undefined, undefined, undefined];
  for (const line of text.split('\n')) {
    if (line.startsWith('cpu')) {
      const m = CPU_LINE.exec(line);
      if (!m) continue; // the aggregate `cpu ` line: we export per logical CPU only
      const fields = m[2]!.trim().split(/\s+/);
      // Kernels before 2.6.11 had 7 columns; anything shorter than user..softirq is not a CPU line.
      if (fields.length < 4) {
        malformed++;
        continue;
      }
      const ticks: number[] = [];
      let ok = true;
      for (let i = 0; i < CPU_MODES.length; i++) {
        const raw = fields[i];
        const v = raw === undefined ? 0 : Number(raw);
        if (!Number.isSafeInteger(v) || v < 0) {
          ok = false;
          break;
        }
        ticks.push(v);
      }
      if (ok) cpus.push({ cpu: Number(m[1]), ticks });
      else malformed++;
    } else if (line.startsWith('btime ')) {
      const v = Number(line.slice(6).trim());
      if (Number.isSafeInteger(v) && v > 0) bootTimeSec = v;
      else malformed++;
    } else if (line.startsWith('p')) {
      for (let k = 0; k < COUNT_LINES.length; k++) {
        if (!line.startsWith(COUNT_LINES[k]!)) continue;
        const raw = line.slice(COUNT_LINES[k]!.length).trim();
        const v = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
        if (Number.isSafeInteger(v)) counts[k] = v;
        else malformed++;
      }
    }
  }
  return { cpus, bootTimeSec, processesCreated: counts[0], procsRunning: counts[1], procsBlocked: counts[2], malformed };
}
