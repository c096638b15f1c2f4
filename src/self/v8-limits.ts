import type { MemoryConfig } from './memory-config.js';

/**
 * V8's heap limits from the agent's memory limit, as Go's GOMEMLIMIT sizes Go's heap from
 * the container's:
 *   --max-semi-space-size  always small (memory.semiSpace, 2 MiB): V8's 16 MiB default young
 *                          generation costs 10–28 MB idle and more under a log backlog; 2 MiB
 *                          rather than 1 holds the records a backlog has in flight (a batch
 *                          being cut and encoded) until they die young, instead of promoting
 *                          them to the old space that only a full collection empties;
 *   --max-old-space-size   from the limit (memory.oldSpace, or half the limit less 16 MiB within
 *                          32 MiB–2 GiB), never without the semi-space cap: an old-space cap alone
 *                          measured 6× the CPU (V8 then runs full collections to stay under it
 *                          while the young generation keeps promoting garbage into it).
 * bin/sextant computes the same from the cgroup in sh before exec'ing Node; the agent computes it
 * again from its configuration at start (`relaunchArgv`) and, when the flags it runs with differ
 * from what the configuration asks (a YAML setting, or started without the launcher: the image's
 * capability launcher, the systemd unit), replaces itself once with the right ones.
 */

const MiB = 1024 * 1024;

/**
 * glibc's malloc, set for a small steady process (only where the environment does not set them):
 * one arena instead of eight per core (every V8 and libuv thread that allocates gets one, and
 * keeps what it freed), and blocks from 64 KiB up mapped on their own so they go back to the
 * system when freed. Measured on the logs bench: peak RssAnon 102 → 79 MB, idle 45 → 34 MB,
 * CPU within the noise (with two arenas). One rather than two: the second arena, shared by the
 * threads (V8's compile and GC workers, libuv's pool), held ~1.7 MB resident in an idle agent of
 * which ~1 MB was free (`malloc_trim(0)` gave it back), and the idle agent's RssAnon is ~1 MB
 * lower with one, the logs bench's CPU and peak unchanged (BENCHMARKS.md M2.3). musl and other
 * allocators ignore them.
 */
export const MALLOC_ENV: Readonly<Record<string, string>> = Object.freeze({ MALLOC_ARENA_MAX: '1', MALLOC_MMAP_THRESHOLD_: '65536' });

/** The MALLOC_ENV settings `env` lacks. */
export function missingMallocEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(MALLOC_ENV)) if (env[k] === undefined) out[k] = v;
  return out;
}

const OLD_SPACE_MIN_MIB = 32;
const OLD_SPACE_MAX_MIB = 2048;
/** Kept off the old space for the young generation, code and malloc. */
const OLD_SPACE_RESERVE_MIB = 16;

export interface V8Limits {
  /** MiB; undefined leaves V8's default. */
  readonly semiSpaceMiB: number | undefined;
  readonly oldSpaceMiB: number | undefined;
  /** --heap-growing-percent; undefined leaves V8's heuristics. */
  readonly heapGrowingPercent?: number | undefined;
}

/** The old-space cap (MiB) for a memory limit (bytes): half, less a reserve, within 32 MiB–2 GiB. */
export function derivedOldSpaceMiB(limitBytes: number): number {
  const half = Math.floor(limitBytes / MiB / 2) - OLD_SPACE_RESERVE_MIB;
  return Math.min(OLD_SPACE_MAX_MIB, Math.max(OLD_SPACE_MIN_MIB, half));
}

/** What the configuration asks for, given the cgroup's limit (undefined: none). */
export function v8LimitsFor(memory: MemoryConfig, cgroupLimit: number | undefined): V8Limits {
  if (memory.semiSpace === 0) return { semiSpaceMiB: undefined, oldSpaceMiB: undefined };
  const limit = memory.limit > 0 ? memory.limit : cgroupLimit;
  let old: number | undefined;
  if (memory.oldSpace > 0) old = Math.max(16, Math.floor(memory.oldSpace / MiB));
  else if (limit !== undefined) old = derivedOldSpaceMiB(limit);
  const growth = memory.heapGrowth;
  return growth > 0 ? { semiSpaceMiB: memory.semiSpace, oldSpaceMiB: old, heapGrowingPercent: growth } : { semiSpaceMiB: memory.semiSpace, oldSpaceMiB: old };
}

export function v8Flags(l: V8Limits): string[] {
  const out: string[] = [];
  if (l.semiSpaceMiB !== undefined) out.push(`--max-semi-space-size=${l.semiSpaceMiB}`);
  if (l.oldSpaceMiB !== undefined) out.push(`--max-old-space-size=${l.oldSpaceMiB}`);
  if (l.heapGrowingPercent !== undefined) out.push(`--heap-growing-percent=${l.heapGrowingPercent}`);
  return out;
}

const SEMI = /^--max[-_]semi[-_]space[-_]size=(\d+)$/;
const OLD = /^--max[-_]old[-_]space[-_]size=(\d+)$/;
const GROWTH = /^--heap[-_]growing[-_]percent=(\d+)$/;

function isLimitFlag(a: string): boolean {
  return SEMI.test(a) || OLD.test(a) || GROWTH.test(a);
}

/** The limits as the flags in `args` set them (the last one wins, as in V8). */
export function limitsIn(args: readonly string[]): { semiSpaceMiB: number | undefined; oldSpaceMiB: number | undefined; heapGrowingPercent?: number } {
  let semi: number | undefined;
  let old: number | undefined;
  let growth: number | undefined;
  for (const a of args) {
    const s = SEMI.exec(a);
    if (s !== null) semi = Number(s[1]);
    const o = OLD.exec(a);
    if (o !== null) old = Number(o[1]);
    const g = GROWTH.exec(a);
    if (g !== null) growth = Number(g[1]);
  }
  return growth === undefined ? { semiSpaceMiB: semi, oldSpaceMiB: old } : { semiSpaceMiB: semi, oldSpaceMiB: old, heapGrowingPercent: growth };
}

export interface Relaunch {
  readonly execArgv: string[];
  /** NODE_OPTIONS without the two flags, when it had them and the configuration overrides them. */
  readonly nodeOptions: string | undefined;
}

/**
 * The Node flags to restart with, or undefined when the running ones will do. With `explicit`
 * (a memory.* key was set) the flags must be exactly what the configuration asks; otherwise
 * flags already given (by bin/sextant, or by whoever started Node) are kept and only missing
 * ones are added.
 */
export function relaunchArgv(execArgv: readonly string[], nodeOptions: string | undefined, want: V8Limits, explicit: boolean): Relaunch | undefined {
  const optionArgs = (nodeOptions ?? '').split(/\s+/).filter(Boolean);
  const have = limitsIn([...optionArgs, ...execArgv]);
  let next: V8Limits;
  if (explicit) {
    if (have.semiSpaceMiB === want.semiSpaceMiB && have.oldSpaceMiB === want.oldSpaceMiB && have.heapGrowingPercent === want.heapGrowingPercent) return undefined;
    next = want;
  } else {
    const semi = have.semiSpaceMiB ?? want.semiSpaceMiB;
    // The old-space cap is added only beside a semi-space cap.
    const old = have.oldSpaceMiB ?? (semi === undefined ? undefined : want.oldSpaceMiB);
    const growth = have.heapGrowingPercent ?? (semi === undefined ? undefined : want.heapGrowingPercent);
    if (semi === have.semiSpaceMiB && old === have.oldSpaceMiB && growth === have.heapGrowingPercent) return undefined;
    next = growth === undefined ? { semiSpaceMiB: semi, oldSpaceMiB: old } : { semiSpaceMiB: semi, oldSpaceMiB: old, heapGrowingPercent: growth };
  }
  const kept = execArgv.filter((a) => !isLimitFlag(a));
  const optionsHadFlags = optionArgs.some(isLimitFlag);
  return {
    execArgv: [...v8Flags(next), ...kept],
    nodeOptions: optionsHadFlags ? optionArgs.filter((a) => !isLimitFlag(a)).join(' ') : undefined,
  };
}
