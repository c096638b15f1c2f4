import type { ConfigOf } from '../../config-kinds/section.js';
import { boolean, duration, integer, list, pattern } from '../../config-kinds/values.js';
import { ConfigError } from '../../errors.js';
import { DEFAULT_EXCLUDE_FS_TYPES, DEFAULT_EXCLUDE_MOUNT_POINTS } from './mount-filter.js';

/**
 * The host source's settings. Regexes are strings here (as they come from YAML/env) and are
 * compiled once by `compileHostConfig`, which names the offending key when one is invalid.
 */
export interface HostSourceConfig {
  /** Where the host's filesystem is mounted; /proc, /sys and /etc are read under it. */
  readonly hostRoot: string;
  readonly disk: {
    /** Only devices whose name matches (empty: all). */
    readonly include: string;
    /** Devices whose name matches get no series. */
    readonly exclude: string;
    /** Report partitions too (their I/O is already in their disk's). */
    readonly partitions: boolean;
  };
  readonly filesystem: {
    readonly excludeFsTypes: readonly string[];
    /** Regex on the mount point. */
    readonly excludeMountPoints: string;
    /** Deadline of one statfs(2); past it the mount counts as hung. */
    readonly statfsTimeoutMs: number;
    /**
     * Hung statfs calls (each holds a libuv threadpool thread, of 4 by default) past which no
     * statfs is issued on filesystems without a block device (NFS, CIFS, FUSE …).
     */
    readonly maxHungStatfs: number;
  };
  readonly network: {
    readonly include: string;
    /** Interfaces whose name matches get no series. Default: per-pod/per-container veths and tunnels. */
    readonly exclude: string;
    /**
     * Count TCP sockets by state: over netlink (NETLINK_SOCK_DIAG) when the native reader is
     * loaded and the agent is in the namespace reported on, else from /proc/net/tcp{,6}, whose
     * reading costs ~10 ms of kernel time per cycle whatever the socket count.
     */
    readonly tcpConnections: boolean;
  };
  /** Emit `cpu.logical_number` per CPU (semconv opt-in); false sums CPUs per mode. */
  readonly perCpu: boolean;
}

export const DEFAULT_HOST_CONFIG: HostSourceConfig = Object.freeze({
  hostRoot: '/',
  disk: Object.freeze({ include: '', exclude: '^(loop|ram)\\d+$', partitions: false }),
  filesystem: Object.freeze({
    excludeFsTypes: DEFAULT_EXCLUDE_FS_TYPES,
    excludeMountPoints: DEFAULT_EXCLUDE_MOUNT_POINTS,
    statfsTimeoutMs: 2000,
    maxHungStatfs: 2,
  }),
  network: Object.freeze({
    include: '',
    exclude: '^(veth|cali|lxc|tap|flannel|cilium_|vxlan|genev_sys_|kube-ipvs|nodelocaldns)',
    // On: netlink counting costs ~0.3 ms a cycle (BENCHMARKS.md, tcp-count.bench.js).
    tcpConnections: true,
  }),
  perCpu: true,
});

/**
 * The `host:` section of the configuration (`src/config/schema.ts` places it): every key a user
 * can set for this source, with `DEFAULT_HOST_CONFIG`'s defaults.
 */
export const HOST_KEYS = {
  enabled: boolean({ description: 'Collect host metrics (CPU, memory, disks, filesystems, network). Default from mode.', default: true }),
  perCpu: boolean({ description: 'Report CPU time per logical CPU (false: summed over CPUs, per mode).', default: DEFAULT_HOST_CONFIG.perCpu }),
  disk: {
    include: pattern({ description: 'Only disks whose name matches (empty: all).', default: DEFAULT_HOST_CONFIG.disk.include }),
    exclude: pattern({ description: 'Skip disks whose name matches.', default: DEFAULT_HOST_CONFIG.disk.exclude }),
    partitions: boolean({ description: 'Also report partitions of whole disks.', default: DEFAULT_HOST_CONFIG.disk.partitions }),
  },
  filesystem: {
    excludeFsTypes: list({ description: 'Filesystem types not reported (pseudo and container filesystems).', default: DEFAULT_HOST_CONFIG.filesystem.excludeFsTypes }),
    excludeMountPoints: pattern({ description: 'Mount points not reported.', default: DEFAULT_HOST_CONFIG.filesystem.excludeMountPoints }),
    statfsTimeout: duration({
      description: 'Deadline of one statfs; a mount that misses it (a hung NFS server) is skipped until its call returns.',
      default: `${DEFAULT_HOST_CONFIG.filesystem.statfsTimeoutMs}ms`,
      min: '1ms',
      max: '1m',
    }),
    maxHungStatfs: integer({
      description: 'statfs calls allowed to hang at once before only block-device filesystems are checked.',
      default: DEFAULT_HOST_CONFIG.filesystem.maxHungStatfs,
      min: 0,
      max: { value: 64 },
    }),
  },
  network: {
    include: pattern({ description: 'Only interfaces whose name matches (empty: all).', default: DEFAULT_HOST_CONFIG.network.include }),
    exclude: pattern({ description: 'Skip interfaces whose name matches (per-pod virtual interfaces by default).', default: DEFAULT_HOST_CONFIG.network.exclude }),
    tcpConnections: boolean({
      description: 'Count TCP connections by state: over netlink when the native addon is loaded and the agent shares the network namespace it reports on (a fraction of a millisecond), else from /proc/net/tcp{,6} (about 10 ms of kernel time per cycle, whatever the number of sockets).',
      default: DEFAULT_HOST_CONFIG.network.tcpConnections,
    }),
  },
};

/** The `host:` section as loaded: what `create` (index.ts) takes. */
export type HostConfig = ConfigOf<typeof HOST_KEYS>;

/** The loaded section in the shape `HostSource` takes (the host root is the agent's, not the section's). */
export function hostSourceOptions(config: HostConfig, hostRoot: string): HostSourceOptions {
  const fs = config.filesystem;
  return {
    hostRoot,
    perCpu: config.perCpu,
    disk: { ...config.disk },
    filesystem: { excludeFsTypes: fs.excludeFsTypes, excludeMountPoints: fs.excludeMountPoints, statfsTimeoutMs: fs.statfsTimeout, maxHungStatfs: fs.maxHungStatfs },
    network: { ...config.network },
  };
}

/** Partial settings as a caller may give them; unset keys take `DEFAULT_HOST_CONFIG`'s. */
export interface HostSourceOptions {
  readonly hostRoot: string;
  readonly disk?: Partial<HostSourceConfig['disk']>;
  readonly filesystem?: Partial<HostSourceConfig['filesystem']>;
  readonly network?: Partial<HostSourceConfig['network']>;
  readonly perCpu?: boolean;
}

export interface CompiledHostConfig {
  readonly hostRoot: string;
  readonly diskInclude: RegExp | undefined;
  readonly diskExclude: RegExp | undefined;
  readonly diskPartitions: boolean;
  readonly excludeFsTypes: ReadonlySet<string>;
  readonly excludeMountPoints: RegExp | undefined;
  readonly statfsTimeoutMs: number;
  readonly maxHungStatfs: number;
  readonly netInclude: RegExp | undefined;
  readonly netExclude: RegExp | undefined;
  readonly tcpConnections: boolean;
  readonly perCpu: boolean;
}

export function resolveHostConfig(options: HostSourceOptions): HostSourceConfig {
  const d = DEFAULT_HOST_CONFIG;
  return {
    hostRoot: options.hostRoot,
    disk: { ...d.disk, ...options.disk },
    filesystem: { ...d.filesystem, ...options.filesystem },
    network: { ...d.network, ...options.network },
    perCpu: options.perCpu ?? d.perCpu,
  };
}

export function compileHostConfig(options: HostSourceOptions): CompiledHostConfig {
  const c = resolveHostConfig(options);
  const timeout = c.filesystem.statfsTimeoutMs;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 60_000) {
    throw new ConfigError('host.filesystem.statfsTimeout', `must be an integer from 1 to 60000, got ${String(timeout)}`);
  }
  const maxHung = c.filesystem.maxHungStatfs;
  if (!Number.isInteger(maxHung) || maxHung < 0 || maxHung > 64) {
    throw new ConfigError('host.filesystem.maxHungStatfs', `must be an integer from 0 to 64, got ${String(maxHung)}`);
  }
  return {
    hostRoot: c.hostRoot,
    diskInclude: regex('host.disk.include', c.disk.include),
    diskExclude: regex('host.disk.exclude', c.disk.exclude),
    diskPartitions: c.disk.partitions,
    excludeFsTypes: new Set(c.filesystem.excludeFsTypes),
    excludeMountPoints: regex('host.filesystem.excludeMountPoints', c.filesystem.excludeMountPoints),
    statfsTimeoutMs: timeout,
    maxHungStatfs: maxHung,
    netInclude: regex('host.network.include', c.network.include),
    netExclude: regex('host.network.exclude', c.network.exclude),
    tcpConnections: c.network.tcpConnections,
    perCpu: c.perCpu,
  };
}

function regex(key: string, source: string): RegExp | undefined {
  if (source === '') return undefined;
  try {
    return new RegExp(source);
  } catch (err) {
    throw new ConfigError(key, `not a valid regular expression: ${(err as Error).message}`, { cause: err });
  }
}
