import { defineMetric } from '../../model/index.js';

/**
 * Process metric descriptors. Names follow the OpenTelemetry semantic conventions for OS
 * process metrics as of semconv 1.45 (`process.unix.file_descriptor.count` replaced
 * `process.open_file_descriptor.count`; `system.paging.fault.type` replaced
 * `system.paging.type`). The same descriptors serve a single process and a process group: a
 * group's series carry the group's resource and add up its members.
 */

export const CPU_TIME = defineMetric({
  name: 'process.cpu.time',
  unit: 's',
  description: 'CPU seconds by mode (utime/stime of /proc/<pid>/stat over USER_HZ).',
  kind: 'sum',
  monotonic: true,
  valueType: 'double',
});

export const CPU_UTILIZATION = defineMetric({
  name: 'process.cpu.utilization',
  unit: '1',
  description: 'CPU time since the last cycle over the elapsed time and the number of logical CPUs.',
  kind: 'gauge',
  monotonic: false,
  valueType: 'double',
});

export const MEMORY_USAGE = defineMetric({
  name: 'process.memory.usage',
  unit: 'By',
  description: 'Resident set size (rss pages of /proc/<pid>/stat times the page size).',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

export const MEMORY_VIRTUAL = defineMetric({
  name: 'process.memory.virtual',
  unit: 'By',
  description: 'Virtual memory size (vsize of /proc/<pid>/stat).',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

export const THREAD_COUNT = defineMetric({
  name: 'process.thread.count',
  unit: '{thread}',
  description: 'Threads (num_threads of /proc/<pid>/stat).',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

export const FD_COUNT = defineMetric({
  name: 'process.unix.file_descriptor.count',
  unit: '{file_descriptor}',
  description: 'Entries of /proc/<pid>/fd, where readable; as of the last details refresh.',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

export const DISK_IO = defineMetric({
  name: 'process.disk.io',
  unit: 'By',
  description: 'Bytes read from and written to storage (read_bytes/write_bytes of /proc/<pid>/io), where readable; as of the last details refresh.',
  kind: 'sum',
  monotonic: true,
  valueType: 'int',
});

export const PAGING_FAULTS = defineMetric({
  name: 'process.paging.faults',
  unit: '{fault}',
  description: 'Page faults by type (minflt/majflt of /proc/<pid>/stat).',
  kind: 'sum',
  monotonic: true,
  valueType: 'int',
});

export const UPTIME = defineMetric({
  name: 'process.uptime',
  unit: 's',
  description: 'Seconds since the process started (boot time plus starttime over USER_HZ).',
  kind: 'gauge',
  monotonic: false,
  valueType: 'double',
});

export const GROUP_COUNT = defineMetric({
  name: 'sextant.process_group.count',
  unit: '{process}',
  description: 'Processes in the group this cycle.',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

export const PROCESS_COUNT = defineMetric({
  name: 'system.process.count',
  unit: '{process}',
  description: 'Processes on the host by state (the state letter of /proc/<pid>/stat).',
  kind: 'sum',
  monotonic: false,
  valueType: 'int',
});

/** Point attributes, frozen once and shared by every point. */
export const USER = Object.freeze({ 'cpu.mode': 'user' });
export const SYSTEM = Object.freeze({ 'cpu.mode': 'system' });
export const READ = Object.freeze({ 'disk.io.direction': 'read' });
export const WRITE = Object.freeze({ 'disk.io.direction': 'write' });
export const MINOR = Object.freeze({ 'system.paging.fault.type': 'minor' });
export const MAJOR = Object.freeze({ 'system.paging.fault.type': 'major' });
