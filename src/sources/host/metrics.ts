import { defineMetric } from '../../model/index.js';

/** Host metric descriptors, OpenTelemetry semantic-convention names (system.*). */
export const CPU_TIME = defineMetric({
  name: 'system.cpu.time',
  unit: 's',
  description: 'Seconds each logical CPU spent in each mode.',
  kind: 'sum',
  monotonic: true,
  valueType: 'double',
});

export const CPU_LOGICAL_COUNT = defineMetric({
  name: 'system.cpu.logical.count',
  unit: '{cpu}',
  description: 'Number of logical CPUs the kernel reports.',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

export const MEMORY_USAGE = defineMetric({
  name: 'system.memory.usage',
  unit: 'By',
  description: 'Memory in use by state; the states add up to the total.',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

export const MEMORY_UTILIZATION = defineMetric({
  name: 'system.memory.utilization',
  unit: '1',
  description: 'Fraction of memory in each state.',
  kind: 'gauge',
  monotonic: false,
  valueType: 'double',
});

export const MEMORY_LIMIT = defineMetric({
  name: 'system.memory.limit',
  unit: 'By',
  description: 'Total memory the kernel can use (MemTotal).',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

export const MEMORY_AVAILABLE = defineMetric({
  name: 'system.memory.linux.available',
  unit: 'By',
  description: 'MemAvailable: memory available for new work without swapping.',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

export const LOAD_1M = defineMetric({
  name: 'system.cpu.load_average.1m',
  unit: '{thread}',
  description: 'Load average over 1 minute.',
  kind: 'gauge',
  monotonic: false,
  valueType: 'double',
});

export const LOAD_5M = defineMetric({ ...LOAD_1M, name: 'system.cpu.load_average.5m', description: 'Load average over 5 minutes.' });
export const LOAD_15M = defineMetric({ ...LOAD_1M, name: 'system.cpu.load_average.15m', description: 'Load average over 15 minutes.' });

export const CPU_UTILIZATION = defineMetric({
  name: 'system.cpu.utilization',
  unit: '1',
  description: "Each mode's share of a logical CPU's ticks since the previous cycle.",
  kind: 'gauge',
  monotonic: false,
  valueType: 'double',
});

// Paging and swap.
export const PAGING_USAGE = defineMetric({
  name: 'system.paging.usage',
  unit: 'By',
  description: 'Swap space by state (SwapTotal − SwapFree used, SwapFree free).',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

export const PAGING_UTILIZATION = defineMetric({
  name: 'system.paging.utilization',
  unit: '1',
  description: 'Fraction of swap space in each state.',
  kind: 'gauge',
  monotonic: false,
  valueType: 'double',
});

export const PAGING_OPERATIONS = defineMetric({
  name: 'system.paging.operations',
  unit: '{operation}',
  description: 'Swap pages (major: pswpin/pswpout) and page-cache KiB (minor: pgpgin/pgpgout) moved in and out.',
  kind: 'sum',
  monotonic: true,
  valueType: 'int',
});

export const PAGING_FAULTS = defineMetric({
  name: 'system.paging.faults',
  unit: '{fault}',
  description: 'Page faults: major (needed I/O) and minor.',
  kind: 'sum',
  monotonic: true,
  valueType: 'int',
});

// Disks.
export const DISK_IO = defineMetric({
  name: 'system.disk.io',
  unit: 'By',
  description: 'Bytes read and written (512-byte sectors).',
  kind: 'sum',
  monotonic: true,
  valueType: 'int',
});

export const DISK_OPERATIONS = defineMetric({
  name: 'system.disk.operations',
  unit: '{operation}',
  description: 'Reads and writes completed.',
  kind: 'sum',
  monotonic: true,
  valueType: 'int',
});

export const DISK_IO_TIME = defineMetric({
  name: 'system.disk.io_time',
  unit: 's',
  description: 'Wall time the device had I/O in flight.',
  kind: 'sum',
  monotonic: true,
  valueType: 'double',
});

export const DISK_OPERATION_TIME = defineMetric({
  name: 'system.disk.operation_time',
  unit: 's',
  description: 'Sum of the time each read or write took (parallel requests add up).',
  kind: 'sum',
  monotonic: true,
  valueType: 'double',
});

export const DISK_MERGED = defineMetric({
  name: 'system.disk.merged',
  unit: '{operation}',
  description: 'Adjacent reads and writes merged into one device request.',
  kind: 'sum',
  monotonic: true,
  valueType: 'int',
});

export const DISK_PENDING = defineMetric({
  name: 'system.disk.pending_operations',
  unit: '{operation}',
  description: 'I/Os in flight at the device now.',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

// Filesystems.
export const FS_USAGE = defineMetric({
  name: 'system.filesystem.usage',
  unit: 'By',
  description: 'Filesystem space by state: used, free (available to users), reserved (for root).',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

export const FS_UTILIZATION = defineMetric({
  name: 'system.filesystem.utilization',
  unit: '1',
  description: "Fraction of the space usable by non-root users that is used (df's Use%).",
  kind: 'gauge',
  monotonic: false,
  valueType: 'double',
});

export const FS_LIMIT = defineMetric({
  name: 'system.filesystem.limit',
  unit: 'By',
  description: 'Filesystem size.',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

export const FS_INODES_USAGE = defineMetric({
  name: 'sextant.filesystem.inodes.usage',
  unit: '{inode}',
  description: 'Inodes by state: used, free.',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

// Network.
export const NET_IO = defineMetric({
  name: 'system.network.io',
  unit: 'By',
  description: 'Bytes received and transmitted.',
  kind: 'sum',
  monotonic: true,
  valueType: 'int',
});

export const NET_PACKETS = defineMetric({
  name: 'system.network.packet.count',
  unit: '{packet}',
  description: 'Packets received and transmitted.',
  kind: 'sum',
  monotonic: true,
  valueType: 'int',
});

export const NET_ERRORS = defineMetric({
  name: 'system.network.errors',
  unit: '{error}',
  description: 'Receive and transmit errors.',
  kind: 'sum',
  monotonic: true,
  valueType: 'int',
});

export const NET_DROPPED = defineMetric({
  name: 'system.network.packet.dropped',
  unit: '{packet}',
  description: 'Packets dropped without an error (no buffer, unknown protocol …).',
  kind: 'sum',
  monotonic: true,
  valueType: 'int',
});

export const NET_CONNECTIONS = defineMetric({
  name: 'system.network.connection.count',
  unit: '{connection}',
  description: 'TCP sockets (IPv4 and IPv6) by state.',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

// Whole-system.
export const UPTIME = defineMetric({
  name: 'system.uptime',
  unit: 's',
  description: 'Seconds since boot (CLOCK_BOOTTIME: includes time suspended).',
  kind: 'gauge',
  monotonic: false,
  valueType: 'double',
});

export const BOOT_TIME = defineMetric({
  name: 'sextant.host.boot_time',
  unit: 's',
  description: 'When the host booted, Unix seconds.',
  kind: 'gauge',
  monotonic: false,
  valueType: 'int',
});

export const PROCESS_CREATED = defineMetric({
  name: 'system.process.created',
  unit: '{process}',
  description: 'Processes and threads created (forks and clones) since boot.',
  kind: 'sum',
  monotonic: true,
  valueType: 'int',
});

export const FILE_DESCRIPTORS_ALLOCATED = defineMetric({
  name: 'sextant.host.file_descriptors.allocated',
  unit: '{file_descriptor}',
  description: 'File handles the kernel has allocated (in use), from /proc/sys/fs/file-nr.',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

export const FILE_DESCRIPTORS_MAX = defineMetric({
  name: 'sextant.host.file_descriptors.max',
  unit: '{file_descriptor}',
  description: 'The most file handles the kernel will allocate (fs.file-max).',
  kind: 'sum',
  monotonic: false,
  valueType: 'double',
});

export const PRESSURE_STALL_TIME = defineMetric({
  name: 'sextant.pressure.stall.time',
  unit: 's',
  description: 'Time tasks stalled on a resource since boot (PSI total).',
  kind: 'sum',
  monotonic: true,
  valueType: 'double',
});

export const PRESSURE_STALL_RATIO = defineMetric({
  name: 'sextant.pressure.stall.ratio',
  unit: '1',
  description: 'Fraction of wall time tasks stalled on a resource, averaged over a window (PSI avgN / 100).',
  kind: 'gauge',
  monotonic: false,
  valueType: 'double',
});
