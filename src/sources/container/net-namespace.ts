import { readlinkSync } from 'node:fs';
import type { SyncCgroupFileReader } from '../lib/cgroup/cgroup-file-sync.js';
import type { PidCounts } from '../lib/cgroup/cgroup-procs.js';
import { parseNetDev, type NetDev } from '../lib/net-dev.js';

/**
 * A container's network, seen through one of its processes: `/proc/<pid>/ns/net` names the
 * network namespace (the containers of a pod share one, so the caller reads it once per pod),
 * and `/proc/<pid>/net/dev` is that namespace's interface table, the same format as the host's.
 * `hostRoot` must show the host's /proc (hostPID for a containerised agent), and the pid must be
 * a host pid as `cgroup.procs` read from the host gives it.
 */

/**
 * The inode of the process's network namespace (`net:[4026531992]` → 4026531992), the key two
 * processes share exactly when they share the namespace. Undefined when the process is gone
 * (counted in `counts.gone`) or the link cannot be read (no ptrace right over it: `failed`).
 * A blocking readlink (~3 µs): procfs answers from memory.
 */
export function netNamespaceId(hostRoot: string, pid: number, counts?: PidCounts): number | undefined {
  if (!validPid(pid)) return undefined;
  let link: string;
  try {
    link = readlinkSync(procDir(hostRoot, pid) + '/ns/net');
  } catch (err) {
    if (counts !== undefined) {
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      if (code === 'ENOENT' || code === 'ESRCH') counts.gone++;
      else counts.failed++;
    }
    return undefined;
  }
  return parseNamespaceLink(link, 'net');
}

/** `<type>:[<inode>]` → the inode; undefined for anything else. */
export function parseNamespaceLink(link: string, type: string): number | undefined {
  const open = type.length + 1;
  if (link.length <= open + 2 || link.length > open + 22 || !link.startsWith(type) || link.charCodeAt(type.length) !== 58 /* : */) return undefined;
  if (link.charCodeAt(open) !== 91 /* [ */ || link.charCodeAt(link.length - 1) !== 93 /* ] */) return undefined;
  let v = 0;
  for (let i = open + 1; i < link.length - 1; i++) {
    const c = link.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    v = v * 10 + c;
  }
  return v <= Number.MAX_SAFE_INTEGER ? v : undefined;
}

/**
 * The interfaces of the process's network namespace with their 16 counters (all of them, `lo`
 * included: which to report is the caller's choice). Read through `files` (blocking: procfs),
 * which counts a vanished process as gone; undefined then.
 */
export function readNetDev(hostRoot: string, pid: number, files: SyncCgroupFileReader): NetDev | undefined {
  if (!validPid(pid)) return undefined;
  const text = files.readSync(procDir(hostRoot, pid) + '/net/dev');
  return text === undefined ? undefined : parseNetDev(text);
}

function validPid(pid: number): boolean {
  return Number.isSafeInteger(pid) && pid > 0;
}

function procDir(hostRoot: string, pid: number): string {
  const root = hostRoot.endsWith('/') ? hostRoot.slice(0, -1) : hostRoot;
  return `${root}/proc/${pid}`;
}
