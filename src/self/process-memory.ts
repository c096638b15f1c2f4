import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { type CgroupFiles, findMemoryCgroup, memoryLimit, type MemoryCgroup, workingSet } from './cgroup-memory.js';
import type { Registry } from './registry.js';

/**
 * The agent's memory in three figures, always together (docs/metrics.md, `sextant top`,
 * BENCHMARKS.md):
 *   RSS          VmRSS: every resident page, including the node executable's own code and data
 *                (30–50 MB of file-backed, shared, reclaimable page cache — not the agent's doing);
 *   RssAnon      the anonymous part: what the process allocated (V8's heap, malloc, stacks) and
 *                cannot give back without freeing it;
 *   working set  the cgroup's usage minus its inactive file pages: what kubelet evicts on and
 *                `kubectl top` shows. The agent's alone in a container or a systemd service.
 */

export interface MemorySample {
  readonly rss: number;
  readonly rssAnon: number;
  readonly rssFile: number;
  /** VmHWM: the highest RSS since start. */
  readonly peakRss: number;
  /** Undefined when the cgroup cannot be read. */
  readonly workingSet: number | undefined;
}

function kb(status: string, field: string): number {
  const at = status.indexOf(`\n${field}:`);
  if (at < 0) return 0;
  const m = /^\s*(\d+)/.exec(status.slice(at + field.length + 2, at + field.length + 40));
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** RSS, RssAnon, RssFile and VmHWM of a process from its `/proc/<pid>/status` text. */
export function parseStatusMemory(status: string): Omit<MemorySample, 'workingSet'> {
  const text = `\n${status}`;
  return { rss: kb(text, 'VmRSS'), rssAnon: kb(text, 'RssAnon'), rssFile: kb(text, 'RssFile'), peakRss: kb(text, 'VmHWM') };
}

/** Reads the process's memory; the cgroup is found once. */
export class ProcessMemory {
  readonly cgroup: MemoryCgroup | undefined;
  readonly #files: CgroupFiles;
  #sample: MemorySample | undefined;
  #sampledAt = -Infinity;

  constructor(files: CgroupFiles = {}) {
    this.#files = files;
    this.cgroup = findMemoryCgroup(files);
  }

  /** The container's (or service's) memory limit, undefined without one. */
  limit(): number | undefined {
    return this.cgroup === undefined ? undefined : memoryLimit(this.cgroup, this.#files);
  }

  /** One reading, shared by every gauge of one scrape (kept 100 ms). */
  sample(): MemorySample {
    const now = performance.now();
    if (this.#sample !== undefined && now - this.#sampledAt < 100) return this.#sample;
    let status = '';
    try {
      status = readFileSync(`${this.#files.root ?? ''}/proc/self/status`, 'latin1');
    } catch {
      // Not Linux: RSS from Node, the rest unknown.
    }
    const s = status === '' ? { rss: process.memoryUsage.rss(), rssAnon: 0, rssFile: 0, peakRss: 0 } : parseStatusMemory(status);
    this.#sample = { ...s, workingSet: this.cgroup === undefined ? undefined : workingSet(this.cgroup, this.#files) };
    this.#sampledAt = now;
    return this.#sample;
  }
}

/** Registers `sextant_memory_*` on `registry` (docs/metrics.md, "The agent's own memory"). */
export function registerMemoryMetrics(registry: Registry, memory: ProcessMemory = new ProcessMemory()): ProcessMemory {
  registry.gauge('sextant_memory_rss_bytes', 'Resident set size (VmRSS), including the node executable\'s shared, reclaimable pages.').collect(() => memory.sample().rss);
  registry.gauge('sextant_memory_rss_anon_bytes', 'Anonymous resident memory (RssAnon): what the agent allocated and cannot give back.').collect(() => memory.sample().rssAnon);
  registry.gauge('sextant_memory_rss_file_bytes', 'File-backed resident memory (RssFile): mostly the node executable, shared and reclaimable.').collect(() => memory.sample().rssFile);
  registry.gauge('sextant_memory_peak_rss_bytes', 'Highest RSS since start (VmHWM).').collect(() => memory.sample().peakRss);
  if (memory.cgroup !== undefined) {
    registry
      .gauge('sextant_memory_working_set_bytes', "The agent's cgroup usage minus inactive file pages: what kubelet evicts on and kubectl top shows.")
      .collect(() => memory.sample().workingSet ?? 0);
    const limit = memory.limit();
    if (limit !== undefined) registry.gauge('sextant_memory_limit_bytes', "The agent's cgroup memory limit (memory.max / memory.limit_in_bytes).").set(limit);
  }
  registry.gauge('sextant_memory_heap_used_bytes', 'V8 heap in use.').collect(() => process.memoryUsage().heapUsed);
  registry.gauge('sextant_memory_heap_limit_bytes', "V8's heap size limit (set by the launcher from the memory limit).").set(getHeapStatistics().heap_size_limit);
  return memory;
}
