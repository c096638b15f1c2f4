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
