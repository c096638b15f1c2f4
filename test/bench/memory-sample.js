// The three memory figures of a process the benches start (issue 14): RSS (VmRSS: every resident
// page, the node executable's shared ones included), RssAnon (what it allocated) and the working
// set of a memory cgroup of its own (usage minus inactive_file: what kubelet evicts on). The
// cgroup is made under the bench's own (cgroup v1, root); where it cannot be, the working set is
// reported as n/a. Not a benchmark itself (no `.bench.js`): imported by cycle and logs.
import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { findMemoryCgroup, workingSet } from '../../dist/self/cgroup-memory.js';

/** A field of /proc/<pid>/status in kB, NaN once the process is gone. */
export function statusKb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

let made = 0;

/**
 * A memory cgroup for one process: `prefix` starts a command inside it (a shell joins it and
 * execs, same pid), `workingSet()` reads it. Undefined where one cannot be made.
 */
export function ownCgroup(name) {
  const own = findMemoryCgroup();
  if (own === undefined || own.version !== 1) return undefined;
  const dir = path.join(own.dir, `${name}-${process.pid}-${made++}`);
  try {
    mkdirSync(dir);
  } catch {
    return undefined;
  }
  return {
    dir,
    prefix: ['/bin/sh', '-c', `echo $$ > ${JSON.stringify(path.join(dir, 'cgroup.procs'))} && exec "$@"`, 'sh'],
    workingSet: () => workingSet({ version: 1, dir, mount: dir }),
    remove() {
      try {
        rmdirSync(dir);
      } catch {
        // still in use or gone
      }
    },
  };
}

/** Samples RSS and RssAnon (kB) and the cgroup's working set (bytes) every `ms`; peaks and medians at stop(). */
export function memorySampler(pid, cgroup, ms = 100) {
  const rss = [];
  const anon = [];
  const ws = [];
  const sample = () => {
    const r = statusKb(pid, 'VmRSS');
    const a = statusKb(pid, 'RssAnon');
    if (!Number.isNaN(r)) rss.push(r * 1024);
    if (!Number.isNaN(a)) anon.push(a * 1024);
    const w = cgroup?.workingSet();
    if (w !== undefined) ws.push(w);
  };
  const timer = setInterval(sample, ms);
  const summary = (xs) => (xs.length === 0 ? { peak: NaN, median: NaN, min: NaN } : { peak: Math.max(...xs), median: [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)], min: Math.min(...xs) });
  return {
    sample,
    stop() {
      clearInterval(timer);
      return { rss: summary(rss), anon: summary(anon), ws: summary(ws) };
    },
  };
}

export const MB = 1024 * 1024;
export const mb = (bytes) => (Number.isNaN(bytes) ? 'n/a' : (bytes / MB).toFixed(1));
