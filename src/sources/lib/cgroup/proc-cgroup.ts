/**
 * `/proc/<pid>/cgroup` (cgroups(7)): one line per hierarchy the process is in,
 *   hierarchy-ID:controller-list:cgroup-path
 *   0::/system.slice/workload.scope                       v2 (the unified hierarchy), always ID 0
 *   4:memory:/docker/<id>                                 v1, one controller
 *   1:cpu,cpuacct:/docker/<id>                            v1, controllers mounted together
 *   9:name=systemd:/docker/<id>                           v1 named hierarchy, no controller
 * A hybrid host lists both kinds. The path may itself hold `:`, so only the first two split.
 * Paths are relative to the reader's cgroup namespace: a reader in its own namespace sees
 * `/../..`-prefixed paths for processes outside it (resolving those is the caller's business;
 * cgroup-mounts.ts refuses them).
 */
export interface ProcCgroup {
  /** The v2 (`0::`) path, if the process is in the unified hierarchy. */
  readonly unified: string | undefined;
  /** v1: controller (or `name=<name>` for a named hierarchy) → path. */
  readonly v1: ReadonlyMap<string, string>;
  /** Lines that were not `ID:controllers:/path`. */
  readonly malformed: number;
}

/** More lines than this is not a file the kernel wrote (there are ~16 v1 controllers). */
const MAX_LINES = 64;
const MAX_PATH = 4096;

export function parseProcCgroup(text: string): ProcCgroup {
  let unified: string | undefined;
  const v1 = new Map<string, string>();
  let malformed = 0;
  let lines = 0;
  let i = 0;
  while (i < text.length) {
    let nl = text.indexOf('\n', i);
    if (nl === -1) nl = text.length;
    if (nl > i) {
      if (++lines > MAX_LINES) {
        malformed++;
        break;
      }
      const r = parseLine(text, i, nl, v1);
      if (r === false) malformed++;
      else if (r !== true) unified = r;
    }
    i = nl + 1;
  }
  return { unified, v1, malformed };
}

/** False for a malformed line, true for a v1 line (recorded in `v1`), the path for the v2 line. */
function parseLine(text: string, s: number, e: number, v1: Map<string, string>): boolean | string {
  const c1 = text.indexOf(':', s);
  if (c1 === -1 || c1 >= e || c1 === s || c1 - s > 10) return false;
  for (let i = s; i < c1; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  const c2 = text.indexOf(':', c1 + 1);
  if (c2 === -1 || c2 >= e) return false;
  // The path starts with `/` and is no longer than PATH_MAX; a `\r` or NUL is not the kernel's.
  if (c2 + 1 >= e || text.charCodeAt(c2 + 1) !== 47 || e - c2 - 1 > MAX_PATH) return false;
  const path = text.slice(c2 + 1, e);
  if (path.includes('\0') || path.includes('\r')) return false;
  const hierarchy = Number(text.slice(s, c1));
  if (hierarchy === 0) {
    if (c2 !== c1 + 1) return false; // v2 has no controller list
    return path;
  }
  if (c2 === c1 + 1) return false; // a v1 hierarchy always names its controllers (or `name=`)
  let i = c1 + 1;
  while (i < c2) {
    let comma = text.indexOf(',', i);
    if (comma === -1 || comma > c2) comma = c2;
    if (comma === i) return false;
    v1.set(text.slice(i, comma), path);
    i = comma + 1;
  }
  return true;
}

/** The path of a v1 controller, or the unified path where the controller is not on v1. */
export function controllerPath(cgroup: ProcCgroup, controller: string): string | undefined {
  return cgroup.v1.get(controller) ?? cgroup.unified;
}
