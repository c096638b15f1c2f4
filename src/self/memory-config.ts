import type { ConfigOf } from '../config-kinds/section.js';
import { bytes, integer } from '../config-kinds/values.js';

/**
 * The `memory:` section (`src/config/schema.ts` places it): V8's heap limits, which bin/sextant
 * derives from the container's memory limit (docs: README "Memory"; src/self/v8-limits.ts). The
 * launcher reads only the cgroup; when these keys are set (file, env or flag) the agent restarts
 * itself once at start with the flags they ask for.
 */
export const MEMORY_KEYS = {
  limit: bytes({
    description: "The agent's memory budget the V8 limits are derived from. 0: the container's or service's cgroup limit (memory.max, memory.limit_in_bytes); none on a host without one.",
    default: 0,
    min: 32 * 1024 * 1024,
    max: { value: 2 ** 44 },
    zero: 'from the cgroup',
  }),
  semiSpace: integer({
    description:
      "V8's young-generation semi-space in MiB (--max-semi-space-size). Small saves 10–28 MB idle against V8's default (16 MiB); 2 rather than 1 lets the records of a log backlog die young instead of being promoted to the old space, for up to ~2.5 MB idle (BENCHMARKS.md); 0 leaves V8's default and then sets no old-space cap either (a cap alone measured 6x the CPU).",
    default: 2,
    min: 0,
    max: { value: 256 },
  }),
  heapGrowth: integer({
    description:
      "How far V8 lets its old space grow past what the last full collection kept, in percent (--heap-growing-percent). 0: V8's own heuristics (up to 4× what a collection kept). Lower keeps the peak lower for more full collections (CPU); BENCHMARKS.md has the trade-off. Only with memory.semiSpace.",
    default: 0,
    min: 0,
    max: { value: 1000 },
  }),
  oldSpace: bytes({
    description: "V8's old-generation cap (--max-old-space-size). 0: half the memory limit less 16 MiB, within 32 MiB and 2 GiB; none without a limit.",
    default: 0,
    min: 16 * 1024 * 1024,
    max: { value: 2 ** 40 },
    zero: 'from the limit',
  }),
};

/** The `memory:` section as loaded (bytes). */
export type MemoryConfig = ConfigOf<typeof MEMORY_KEYS>;
