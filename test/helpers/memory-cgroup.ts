import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findMemoryCgroup, workingSet } from '../../src/self/cgroup-memory.js';

/**
 * A memory cgroup of the agent's own under the test's (cgroup v1, where a child cgroup can hold
 * processes beside its parent's), so its working set — usage minus inactive file pages, what
 * kubelet evicts on — is the agent's alone. Undefined where that cannot be made (not root, v2
 * with processes in the parent, no memory controller): callers then report RSS and RssAnon only.
 */
export class AgentMemoryCgroup {
  readonly dir: string;
  #peak = 0;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static create(name: string): AgentMemoryCgroup | undefined {
    const own = findMemoryCgroup();
    if (own === undefined || own.version !== 1) return undefined;
    const dir = path.join(own.dir, `${name}-${process.pid}-${Date.now()}`);
    try {
      mkdirSync(dir);
      return new AgentMemoryCgroup(dir);
    } catch {
      return undefined;
    }
  }

  /**
   * A command prefix that starts the command inside the cgroup: a shell joins it and execs the
   * command (same pid), so everything the command allocates is charged here from its first page.
   */
  prefix(): string[] {
    return ['/bin/sh', '-c', `echo $$ > ${JSON.stringify(path.join(this.dir, 'cgroup.procs'))} && exec "$@"`, 'sh'];
  }

  /** Moves a running process into the cgroup (what it allocated before stays charged where it was). */
  add(pid: number): void {
    writeFileSync(path.join(this.dir, 'cgroup.procs'), String(pid));
  }

  /** The working set now, in bytes; the highest seen is kept. */
  sample(): number {
    const ws = workingSet({ version: 1, dir: this.dir, mount: this.dir }) ?? 0;
    this.#peak = Math.max(this.#peak, ws);
    return ws;
  }

  get peak(): number {
    return this.#peak;
  }

  /** total_* counters of memory.stat (rss, cache, active_file, inactive_file …), for reports. */
  stat(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const line of readFileSync(path.join(this.dir, 'memory.stat'), 'utf8').split('\n')) {
      const [k, v] = line.split(' ');
      if (k !== undefined && v !== undefined && k.startsWith('total_')) out[k.slice(6)] = Number(v);
    }
    return out;
  }

  /** Removes the cgroup once its processes have exited. */
  remove(): void {
    try {
      rmdirSync(this.dir);
    } catch {
      // still in use, or gone: the kernel removes nothing by itself, but a test must not fail on it
    }
  }
}
