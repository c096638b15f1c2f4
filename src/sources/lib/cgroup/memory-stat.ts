import { anyFound, at, readKeyed } from './keyed-file.js';

/**
 * `memory.stat`, bytes (page counts already multiplied by the kernel). v2 names its lines
 * `anon`, `file`, … for the cgroup and its descendants. v1 has the cgroup's own lines (`rss`,
 * `cache`, …) and `total_*` ones that include descendants; kubelet and cAdvisor use
 * `total_inactive_file` on v1 and `inactive_file` on v2 for the working set. One parser for
 * both; a field the file does not have is undefined.
 */
export interface MemoryStat {
  // v2
  readonly anon: number | undefined;
  readonly file: number | undefined;
  readonly kernel: number | undefined;
  readonly sock: number | undefined;
  readonly slab: number | undefined;
  readonly fileMapped: number | undefined;
  readonly fileDirty: number | undefined;
  readonly fileWriteback: number | undefined;
  // both
  readonly shmem: number | undefined;
  readonly activeAnon: number | undefined;
  readonly inactiveAnon: number | undefined;
  readonly activeFile: number | undefined;
  readonly inactiveFile: number | undefined;
  readonly unevictable: number | undefined;
  readonly pgfault: number | undefined;
  readonly pgmajfault: number | undefined;
  // v1
  readonly rss: number | undefined;
  readonly rssHuge: number | undefined;
  readonly cache: number | undefined;
  readonly mappedFile: number | undefined;
  readonly swap: number | undefined;
  readonly totalRss: number | undefined;
  readonly totalCache: number | undefined;
  readonly totalSwap: number | undefined;
  readonly totalActiveFile: number | undefined;
  readonly totalInactiveFile: number | undefined;
  readonly totalPgfault: number | undefined;
  readonly totalPgmajfault: number | undefined;
  /** v1: the nearest limit up the hierarchy (the huge value when there is none). */
  readonly hierarchicalMemoryLimit: number | undefined;
  readonly malformed: number;
}

const KEYS = [
  'anon', 'file', 'kernel', 'sock', 'slab', 'file_mapped', 'file_dirty', 'file_writeback',
  'shmem', 'active_anon', 'inactive_anon', 'active_file', 'inactive_file', 'unevictable', 'pgfault', 'pgmajfault',
  'rss', 'rss_huge', 'cache', 'mapped_file', 'swap', 'total_rss', 'total_cache', 'total_swap',
  'total_active_file', 'total_inactive_file', 'total_pgfault', 'total_pgmajfault', 'hierarchical_memory_limit',
];
const values = new Float64Array(KEYS.length);

/** Undefined when the text holds none of the keys. */
export function parseMemoryStat(text: string): MemoryStat | undefined {
  const malformed = readKeyed(text, KEYS, values);
  if (!anyFound(values)) return undefined;
  const v = values;
  return {
    anon: at(v, 0), file: at(v, 1), kernel: at(v, 2), sock: at(v, 3), slab: at(v, 4),
    fileMapped: at(v, 5), fileDirty: at(v, 6), fileWriteback: at(v, 7),
    shmem: at(v, 8), activeAnon: at(v, 9), inactiveAnon: at(v, 10), activeFile: at(v, 11),
    inactiveFile: at(v, 12), unevictable: at(v, 13), pgfault: at(v, 14), pgmajfault: at(v, 15),
    rss: at(v, 16), rssHuge: at(v, 17), cache: at(v, 18), mappedFile: at(v, 19), swap: at(v, 20),
    totalRss: at(v, 21), totalCache: at(v, 22), totalSwap: at(v, 23), totalActiveFile: at(v, 24),
    totalInactiveFile: at(v, 25), totalPgfault: at(v, 26), totalPgmajfault: at(v, 27),
    hierarchicalMemoryLimit: at(v, 28),
    malformed,
  };
}
