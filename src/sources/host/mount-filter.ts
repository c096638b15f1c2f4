import type { Mount } from '../lib/mountinfo.js';

/**
 * Which mounts get filesystem series. Skipped by default:
 * - pseudo filesystems with no storage behind them (proc, sysfs, cgroup …) and container
 *   plumbing (overlay layers, nsfs bind mounts of namespaces), whose numbers either mean
 *   nothing or repeat the backing filesystem's;
 * - squashfs (snaps, read-only images: always 100 % full by construction);
 * - mount points under /proc, /sys, /dev and the per-container/per-pod trees of Docker,
 *   containerd and kubelet (each pod's secrets are a tmpfs: hundreds of series that say nothing
 *   about the node).
 * tmpfs elsewhere is kept: a full /run or /tmp is a real outage and costs RAM.
 * The same filesystem mounted twice (bind mounts share major:minor) is reported once, at the
 * mount of its root (`/` rather than `/var/lib/docker` bound from it), else the shortest path.
 */
export const DEFAULT_EXCLUDE_FS_TYPES: readonly string[] = [
  'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs',
  'efivarfs', 'fuse.lxcfs', 'fusectl', 'hugetlbfs', 'mqueue', 'nsfs', 'overlay', 'proc', 'pstore',
  'ramfs', 'rpc_pipefs', 'securityfs', 'selinuxfs', 'squashfs', 'sysfs', 'tracefs', 'nfsd',
];

export const DEFAULT_EXCLUDE_MOUNT_POINTS =
  '^/(proc|sys|dev|var/lib/kubelet/pods|var/lib/docker/(overlay2|containers|volumes/[^/]+/_data/.+)|run/containerd|run/docker/netns|run/netns|var/lib/containers/storage|snap)($|/)';

export interface MountFilterOptions {
  readonly excludeFsTypes: ReadonlySet<string>;
  readonly excludeMountPoints: RegExp | undefined;
}

export function selectMounts(mounts: readonly Mount[], options: MountFilterOptions): Mount[] {
  const byDevice = new Map<string, Mount>();
  for (const m of mounts) {
    if (options.excludeFsTypes.has(m.fsType)) continue;
    if (options.excludeMountPoints?.test(m.mountPoint)) continue;
    const key = `${m.major}:${m.minor}`;
    const seen = byDevice.get(key);
    if (seen === undefined || better(m, seen)) byDevice.set(key, m);
  }
  return [...byDevice.values()];
}

function better(a: Mount, b: Mount): boolean {
  if ((a.root === '/') !== (b.root === '/')) return a.root === '/';
  return a.mountPoint.length < b.mountPoint.length;
}
