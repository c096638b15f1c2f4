import { unescapeOctal } from '../mountinfo.js';

/**
 * The host's cgroup layout, from the mount table of its init process
 * (`<hostRoot>/proc/1/mountinfo`, proc(5)):
 *   pure v2   `cgroup2` on /sys/fs/cgroup; every controller's files are in one tree;
 *   v1        one `cgroup` mount per controller (or per group: `cpu,cpuacct`), the controllers
 *             in the superblock options (`rw,cpu,cpuacct`, `rw,name=systemd`);
 *   hybrid    v1 controllers plus a `cgroup2` (usually /sys/fs/cgroup/unified) that holds no
 *             controller but gives the v2 files every cgroup has (cpu.stat usage, PSI).
 * The shared parser (../mountinfo.ts) drops the superblock options this needs, so the few fields
 * are read here (with its unescapeOctal).
 */
export type CgroupMode = 'v1' | 'v2' | 'hybrid';

export interface CgroupMount {
  readonly version: 1 | 2;
  readonly mountPoint: string;
  /** The cgroup the mount shows as its top (`/` on the host; a sub-tree when bind-mounted). */
  readonly root: string;
  /** v1 only: the controllers (and `name=<name>`) of this hierarchy. */
  readonly controllers: readonly string[];
}

export interface CgroupLayout {
  /** Undefined when no cgroup filesystem is mounted at all. */
  readonly mode: CgroupMode | undefined;
  readonly unified: CgroupMount | undefined;
  /** v1 controller (or `name=<name>`) → its hierarchy's mount. */
  readonly v1: ReadonlyMap<string, CgroupMount>;
  readonly malformed: number;
}

/** The v1 controllers a kernel may have; other superblock options (`rw`, `xattr`, `release_agent=`…) are not. */
const V1_CONTROLLERS = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'blkio',
  'perf_event', 'hugetlb', 'pids', 'rdma', 'misc', 'debug',
]);
/** More than this many lines is not a mount table we will walk. */
const MAX_LINES = 100_000;

export function parseCgroupMounts(mountinfo: string): CgroupLayout {
  let unified: CgroupMount | undefined;
  const v1 = new Map<string, CgroupMount>();
  let malformed = 0;
  let lines = 0;
  let i = 0;
  while (i < mountinfo.length) {
    let nl = mountinfo.indexOf('\n', i);
    if (nl === -1) nl = mountinfo.length;
    const line = mountinfo.slice(i, nl);
    i = nl + 1;
    if (line.length === 0) continue;
    if (++lines > MAX_LINES) {
      malformed++;
      break;
    }
    // Most lines are not cgroups; skip them before splitting.
    if (!line.includes(' - cgroup')) continue;
    const mount = parseLine(line);
    if (mount === undefined) {
      malformed++;
      continue;
    }
    if (mount === null) continue;
    if (mount.version === 2) {
      if (unified === undefined || prefer(mount, unified)) unified = mount;
      continue;
    }
    for (const c of mount.controllers) {
      const seen = v1.get(c);
      if (seen === undefined || prefer(mount, seen)) v1.set(c, mount);
    }
  }
  let hasV1Controller = false;
  for (const c of v1.keys()) if (!c.startsWith('name=')) hasV1Controller = true;
  const mode: CgroupMode | undefined = hasV1Controller ? (unified ? 'hybrid' : 'v1') : unified ? 'v2' : v1.size > 0 ? 'v1' : undefined;
  return { mode, unified, v1, malformed };
}

/**
 * A hierarchy mounted twice (bind mounts, a container's view) is read through the mount that
 * shows its whole tree, and of those the one under /sys/fs/cgroup.
 */
function prefer(candidate: CgroupMount, seen: CgroupMount): boolean {
  if ((candidate.root === '/') !== (seen.root === '/')) return candidate.root === '/';
  return candidate.mountPoint.startsWith('/sys/fs/cgroup') && !seen.mountPoint.startsWith('/sys/fs/cgroup');
}

/** undefined: malformed; null: a line that is not a cgroup mount. */
function parseLine(line: string): CgroupMount | undefined | null {
  const f = line.split(' ');
  const dash = f.indexOf('-', 6);
  if (f.length < 10 || dash === -1 || f.length < dash + 4) return undefined;
  const fsType = f[dash + 1]!;
  if (fsType !== 'cgroup' && fsType !== 'cgroup2') return null;
  const root = unescapeOctal(f[3]!);
  const mountPoint = unescapeOctal(f[4]!);
  if (!root.startsWith('/') || !mountPoint.startsWith('/')) return undefined;
  if (fsType === 'cgroup2') return { version: 2, mountPoint, root, controllers: [] };
  const controllers: string[] = [];
  for (const o of f[dash + 3]!.split(',')) {
    if (V1_CONTROLLERS.has(o) || (o.startsWith('name=') && o.length > 5)) controllers.push(o);
  }
  // A v1 mount with neither a controller nor a name is not one the kernel allows.
  return controllers.length === 0 ? undefined : { version: 1, mountPoint, root, controllers };
}

/**
 * The mount holding a controller's files: its v1 hierarchy if it has one, else the unified
 * tree (on a hybrid host that is where a controller not bound to v1 lives, and where the
 * v2-only files — PSI, `cpu.stat`'s usage — are for every cgroup).
 */
export function controllerMount(layout: CgroupLayout, controller: string): CgroupMount | undefined {
  return layout.v1.get(controller) ?? layout.unified;
}

/**
 * The directory of `cgroupPath` (as /proc/<pid>/cgroup or a runtime names it) in `mount`, under
 * the host root. Undefined when the path is outside what the mount shows or climbs out with
 * `..` (a path read from another cgroup namespace), so a hostile path cannot leave the tree.
 */
export function cgroupDir(hostRoot: string, mount: CgroupMount, cgroupPath: string): string | undefined {
  if (!cgroupPath.startsWith('/') || cgroupPath.includes('\0') || hasDotSegment(cgroupPath)) return undefined;
  let rel = cgroupPath;
  if (mount.root !== '/') {
    if (cgroupPath === mount.root) rel = '';
    else if (cgroupPath.startsWith(mount.root + '/')) rel = cgroupPath.slice(mount.root.length);
    else return undefined;
  }
  if (rel === '/') rel = '';
  else if (rel.endsWith('/')) rel = rel.slice(0, -1);
  const root = hostRoot.endsWith('/') ? hostRoot.slice(0, -1) : hostRoot;
  return root + (mount.mountPoint === '/' ? '' : mount.mountPoint) + rel;
}

function hasDotSegment(path: string): boolean {
  return path === '/.' || path === '/..' || path.includes('/./') || path.includes('/../') || path.endsWith('/.') || path.endsWith('/..');
}
