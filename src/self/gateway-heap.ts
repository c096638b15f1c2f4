/**
 * The gateway's V8 old-space floor (`--initial-old-space-size`, `gateway.heapFloor`).
 *
 * Why: a gateway storing logs keeps ~25 MB live in V8's heap, and V8 sets the next full
 * collection's limit from that, ~60 MB. With a 32 MiB young generation promoting into it, V8's
 * heuristics take the ~40 MB of room left for "near the limit" and start incremental marking
 * again right after every full collection: on the log ingest bench, 50 full collections in 8 s,
 * V8's worker threads 1.9 of 8.3 CPU-seconds. With a floor, V8 keeps the limit above it, and
 * full collections come from external memory (request bodies) instead: 15 in the same run, the
 * workers 0.8 CPU-s, ~70,000 → 88,000–94,000 log records per CPU-second (BENCHMARKS.md M2.5).
 * Peak RSS moved within the noise (the external-memory collections bound the heap): it is a
 * floor for the limit, not memory taken.
 *
 * The flag is not allowed in NODE_OPTIONS, so the gateway restarts itself once with it
 * (src/cli/relaunch.ts), as the agent does for its limits.
 */

const MiB = 1024 * 1024;
/** The floor without a memory limit, and the most the automatic one takes. */
export const HEAP_FLOOR_MAX_MIB = 256;
const HEAP_FLOOR_MIN_MIB = 32;

/**
 * The floor in MiB: what `gateway.heapFloor` sets, else a quarter of the container's memory
 * limit within 32–256 MiB (a 512 MiB pod: 128, which measured within a few percent of 256), else
 * 256 MiB.
 */
export function gatewayHeapFloorMiB(configuredBytes: number, cgroupLimit: number | undefined): number {
  if (configuredBytes > 0) return Math.max(1, Math.floor(configuredBytes / MiB));
  if (cgroupLimit === undefined) return HEAP_FLOOR_MAX_MIB;
  return Math.min(HEAP_FLOOR_MAX_MIB, Math.max(HEAP_FLOOR_MIN_MIB, Math.floor(cgroupLimit / MiB / 4)));
}

const FLOOR = /^--initial[-_]old[-_]space[-_]size=(\d+)$/;

/** The floor Node's own flags set (the last one wins, as in V8), undefined without one. */
export function heapFloorIn(execArgv: readonly string[]): number | undefined {
  let floor: number | undefined;
  for (const a of execArgv) {
    const m = FLOOR.exec(a);
    if (m !== null) floor = Number(m[1]);
  }
  return floor;
}

/**
 * Node's flags to restart with, or undefined when the running ones will do. A floor already
 * given (by whoever started Node) is kept unless `gateway.heapFloor` was set (`explicit`).
 */
export function heapFloorArgv(execArgv: readonly string[], wantMiB: number, explicit: boolean): string[] | undefined {
  const have = heapFloorIn(execArgv);
  if (have === wantMiB || (have !== undefined && !explicit)) return undefined;
  return [`--initial-old-space-size=${wantMiB}`, ...execArgv.filter((a) => !FLOOR.test(a))];
}
