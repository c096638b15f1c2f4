import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The agent's own memory cgroup: its limit (what the launcher sizes V8's heap from) and its
 * working set (usage minus `inactive_file`: what kubelet evicts on and `kubectl top` shows).
 * cgroup v2 (`memory.max`, `memory.current`, `memory.stat` inactive_file) and v1
 * (`memory.limit_in_bytes` / `hierarchical_memory_limit`, `memory.usage_in_bytes`, `memory.stat`
 * total_inactive_file), found through /proc/self/cgroup and /proc/self/mountinfo. bin/sextant
 * reads the same files for the limit (in sh); test/unit/self/v8-limits.test.ts holds the two to
 * the same answers.
 *
 * On a host the cgroup is whatever the agent was started in (a systemd service's own, or a
 * login session shared with other processes): its working set is the agent's alone only in the
 * first case. Reads are synchronous: a few small kernel files, at start and per scrape.
 */

/** v1 reports "no limit" as PAGE_COUNTER_MAX pages; anything this large is no limit. */
const UNLIMITED = 2 ** 60;

export interface MemoryCgroup {
  readonly version: 1 | 2;
  /** The cgroup's directory. */
  readonly dir: string;
  /** For v2: the hierarchy's mount point (limits are looked for up to it). */
  readonly mount: string;
}

/** Where to read from; `root` prefixes every absolute path (tests point it at a fixture tree). */
export interface CgroupFiles {
  readonly root?: string | undefined;
}

function read(root: string, file: string): string | undefined {
  try {
    return readFileSync(root + file, 'utf8');
  } catch {
    return undefined;
  }
}

function exists(root: string, file: string): boolean {
  return read(root, file) !== undefined;
}

interface Mount {
  readonly root: string;
  readonly point: string;
  readonly fstype: string;
  readonly superOptions: string;
}

function mounts(root: string): Mount[] {
  const text = read(root, '/proc/self/mountinfo');
  if (text === undefined) return [];
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left.length < 5 || right.length < 3) continue;
    out.push({ root: unescape(left[3]!), point: unescape(left[4]!), fstype: right[0]!, superOptions: right[2]! });
  }
  return out;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** `dir` under `m` for the cgroup path `p` (mount root stripped; a container's own root as is). */
function under(m: Mount, p: string): string {
  const rel = m.root === '/' ? p : p === m.root || p.startsWith(`${m.root}/`) ? p.slice(m.root.length) : p;
  return path.posix.join(m.point, rel);
}

/** The agent's memory cgroup, or undefined when none can be read (no cgroup fs mounted). */
export function findMemoryCgroup(files: CgroupFiles = {}): MemoryCgroup | undefined {
  const root = files.root ?? '';
  const self = read(root, '/proc/self/cgroup');
  if (self === undefined) return undefined;
  let v2Path: string | undefined;
  let v1Path: string | undefined;
  for (const line of self.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const p = line.slice(second + 1);
    if (line.slice(0, first) === '0' && controllers === '') v2Path = p;
    else if (controllers.split(',').includes('memory')) v1Path = p;
  }
  const ms = mounts(root);
  if (v2Path !== undefined) {
    for (const m of ms) {
      if (m.fstype !== 'cgroup2') continue;
      // A container without its own cgroup namespace sees the host's path under its own root.
      for (const dir of [under(m, v2Path), m.point]) {
        if (exists(root, `${dir}/memory.current`)) return { version: 2, dir, mount: m.point };
      }
    }
  }
  if (v1Path !== undefined) {
    for (const m of ms) {
      if (m.fstype !== 'cgroup' || !m.superOptions.split(',').includes('memory')) continue;
      for (const dir of [under(m, v1Path), m.point]) {
        if (exists(root, `${dir}/memory.usage_in_bytes`)) return { version: 1, dir, mount: m.point };
      }
    }
  }
  return undefined;
}

function number(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === 'max') return Number.POSITIVE_INFINITY;
  const n = Number(t);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function statField(text: string | undefined, key: string): number | undefined {
  if (text === undefined) return undefined;
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0 && line.slice(0, sp) === key) return number(line.slice(sp + 1));
  }
  return undefined;
}

/**
 * The memory limit that applies to the agent in bytes: the lowest `memory.max` from its cgroup up
 * to the hierarchy's root (v2), `hierarchical_memory_limit` (v1, which already includes the
 * ancestors); undefined when there is none.
 */
export function memoryLimit(cg: MemoryCgroup, files: CgroupFiles = {}): number | undefined {
  const root = files.root ?? '';
  let limit = Number.POSITIVE_INFINITY;
  if (cg.version === 2) {
    for (let dir = cg.dir; ; dir = path.posix.dirname(dir)) {
      const v = number(read(root, `${dir}/memory.max`));
      if (v !== undefined) limit = Math.min(limit, v);
      if (dir === cg.mount || dir === '/' || !dir.startsWith(cg.mount)) break;
    }
  } else {
    const hier = statField(read(root, `${cg.dir}/memory.stat`), 'hierarchical_memory_limit');
    const own = number(read(root, `${cg.dir}/memory.limit_in_bytes`));
    for (const v of [hier, own]) if (v !== undefined) limit = Math.min(limit, v);
  }
  return limit >= UNLIMITED ? undefined : limit;
}

/** Usage minus inactive file pages, in bytes (kubelet's container_memory_working_set_bytes); undefined if unreadable. */
export function workingSet(cg: MemoryCgroup, files: CgroupFiles = {}): number | undefined {
  const root = files.root ?? '';
  const v2 = cg.version === 2;
  const usage = number(read(root, `${cg.dir}/${v2 ? 'memory.current' : 'memory.usage_in_bytes'}`));
  if (usage === undefined || !Number.isFinite(usage)) return undefined;
  const inactive = statField(read(root, `${cg.dir}/memory.stat`), v2 ? 'inactive_file' : 'total_inactive_file') ?? 0;
  return Math.max(0, usage - inactive);
}
