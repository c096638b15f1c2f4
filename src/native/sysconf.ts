import { execFileSync } from 'node:child_process';

/*
 * Kernel constants the /proc numbers are expressed in, read once per process with getconf (Node
 * has no sysconf binding, and both readers need them, so they do not come from the addon).
 */

let ticks: number | undefined;
let page: number | undefined;

function getconf(name: string, fallback: number): number {
  try {
    const v = Number(execFileSync('getconf', [name], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    if (Number.isSafeInteger(v) && v > 0) return v;
  } catch {
    // getconf missing (distroless image): fall back to the value of every architecture we ship for.
  }
  return fallback;
}

/** USER_HZ: the unit of the tick fields of /proc/stat and /proc/<pid>/stat. 100 when unknown. */
export function clockTicks(): number {
  return (ticks ??= getconf('CLK_TCK', 100));
}

/** The page size, the unit of `rss` in /proc/<pid>/stat (16 or 64 KiB on some arm64 kernels). */
export function pageSize(): number {
  return (page ??= getconf('PAGESIZE', 4096));
}
