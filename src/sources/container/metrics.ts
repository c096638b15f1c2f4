import { defineMetric, type MetricDescriptor } from '../../model/index.js';

/**
 * Container and pod metric descriptors. OpenTelemetry semantic-convention names (container.*,
 * k8s.pod.*, development status) where they exist; the rest start with `sextant.` as on the
 * host. docs/metrics.md says where each value comes from.
 *
 * A container and a pod have mostly the same measures, but every name is written out in full
 * (no `${prefix}.memory.usage`): grepping a name seen in a backend finds the line that makes it.
 */

type Kind = 'counter' | 'updown' | 'gauge';

function metric(name: string, unit: string, kind: Kind, valueType: 'int' | 'double', description: string): MetricDescriptor {
  return defineMetric({
    name,
    unit,
    description,
    kind: kind === 'gauge' ? 'gauge' : 'sum',
    monotonic: kind === 'counter',
    valueType,
  });
}

/** The measures a container and a pod share: the pod's are summed from its containers'. */
export interface SharedMeasures {
  readonly cpuTime: MetricDescriptor;
  readonly cpuUsage: MetricDescriptor;
  readonly memoryUsage: MetricDescriptor;
  readonly memoryWorkingSet: MetricDescriptor;
  readonly memoryAvailable: MetricDescriptor;
  readonly memoryRss: MetricDescriptor;
  readonly pagingFaults: MetricDescriptor;
  readonly uptime: MetricDescriptor;
  readonly networkIo: MetricDescriptor;
  readonly networkErrors: MetricDescriptor;
  readonly networkPackets: MetricDescriptor;
  readonly networkDropped: MetricDescriptor;
  readonly memoryCache: MetricDescriptor;
  readonly oomKills: MetricDescriptor;
}

const WORKING_SET = 'Memory usage less inactive file cache: what the kernel could not reclaim easily (what kubelet evicts on).';
const AVAILABLE = 'Memory limit less working set; absent without a limit.';

export const CONTAINER = {
  cpuTime: metric('container.cpu.time', 's', 'counter', 'double', 'CPU time the container used, by mode.'),
  cpuUsage: metric('container.cpu.usage', '{cpu}', 'gauge', 'double', 'CPUs the container used on average since the last reading.'),
  memoryUsage: metric('container.memory.usage', 'By', 'updown', 'int', "Memory charged to the container's cgroup (page cache included)."),
  memoryWorkingSet: metric('container.memory.working_set', 'By', 'updown', 'int', WORKING_SET),
  memoryAvailable: metric('container.memory.available', 'By', 'updown', 'int', AVAILABLE),
  memoryRss: metric('container.memory.rss', 'By', 'updown', 'int', 'Anonymous memory (not file backed) of the container.'),
  pagingFaults: metric('container.paging.faults', '{fault}', 'counter', 'int', 'Page faults in the container, by type (major, minor).'),
  uptime: metric('container.uptime', 's', 'gauge', 'double', 'Seconds since the container started.'),
  networkIo: metric('container.network.io', 'By', 'counter', 'int', "Bytes over the container's network namespace interfaces, by direction."),
  networkErrors: metric('sextant.container.network.errors', '{error}', 'counter', 'int', "Receive and transmit errors on the container's interfaces."),
  networkPackets: metric('sextant.container.network.packet.count', '{packet}', 'counter', 'int', "Packets over the container's interfaces, by direction."),
  networkDropped: metric('sextant.container.network.packet.dropped', '{packet}', 'counter', 'int', "Packets dropped on the container's interfaces, by direction."),
  memoryCache: metric('sextant.container.memory.cache', 'By', 'updown', 'int', 'Page cache charged to the container.'),
  memoryLimit: metric('sextant.container.memory.limit', 'By', 'updown', 'int', "The container's memory limit; absent when unlimited."),
  oomKills: metric('sextant.container.memory.oom_kills', '{kill}', 'counter', 'int', 'Processes of the container the OOM killer killed.'),
  diskIo: metric('container.disk.io', 'By', 'counter', 'int', 'Bytes the container read and wrote on block devices, by device and direction.'),
  diskOperations: metric('sextant.container.disk.operations', '{operation}', 'counter', 'int', 'Block I/O operations of the container, by device and direction.'),
  cpuLimit: metric('sextant.container.cpu.limit', '{cpu}', 'updown', 'double', 'CPUs the container may use (CFS quota ÷ period); absent when unlimited.'),
  cpuPeriods: metric('sextant.container.cpu.throttling.periods', '{period}', 'counter', 'int', 'CFS enforcement periods in which the container was runnable.'),
  cpuThrottledPeriods: metric('sextant.container.cpu.throttling.throttled_periods', '{period}', 'counter', 'int', 'Periods in which the container used up its quota and was throttled.'),
  cpuThrottledTime: metric('sextant.container.cpu.throttling.throttled_time', 's', 'counter', 'double', 'Time the container was throttled.'),
  pidsUsage: metric('sextant.container.pids.usage', '{process}', 'updown', 'int', 'Processes and threads in the container (pids.current).'),
  pidsLimit: metric('sextant.container.pids.limit', '{process}', 'updown', 'int', 'Most processes and threads the container may have; absent when unlimited.'),
  pressureStallTime: metric('sextant.container.pressure.stall.time', 's', 'counter', 'double', 'Time tasks of the container stalled on a resource (PSI total), by resource and some/full.'),
} satisfies SharedMeasures & Record<string, MetricDescriptor>;

export const POD = {
  cpuTime: metric('k8s.pod.cpu.time', 's', 'counter', 'double', 'CPU time the pod used, by mode.'),
  cpuUsage: metric('k8s.pod.cpu.usage', '{cpu}', 'gauge', 'double', 'CPUs the pod used on average since the last reading.'),
  memoryUsage: metric('k8s.pod.memory.usage', 'By', 'updown', 'int', "Memory charged to the pod's cgroup (page cache included)."),
  memoryWorkingSet: metric('k8s.pod.memory.working_set', 'By', 'updown', 'int', WORKING_SET),
  memoryAvailable: metric('k8s.pod.memory.available', 'By', 'updown', 'int', AVAILABLE),
  memoryRss: metric('k8s.pod.memory.rss', 'By', 'updown', 'int', 'Anonymous memory (not file backed) of the pod.'),
  pagingFaults: metric('k8s.pod.memory.paging.faults', '{fault}', 'counter', 'int', 'Page faults in the pod, by type (major, minor).'),
  uptime: metric('k8s.pod.uptime', 's', 'gauge', 'double', 'Seconds since the pod started.'),
  networkIo: metric('k8s.pod.network.io', 'By', 'counter', 'int', "Bytes over the pod's network namespace interfaces, by direction."),
  networkErrors: metric('k8s.pod.network.errors', '{error}', 'counter', 'int', "Receive and transmit errors on the pod's interfaces."),
  networkPackets: metric('sextant.k8s.pod.network.packet.count', '{packet}', 'counter', 'int', "Packets over the pod's interfaces, by direction."),
  networkDropped: metric('sextant.k8s.pod.network.packet.dropped', '{packet}', 'counter', 'int', "Packets dropped on the pod's interfaces, by direction."),
  memoryCache: metric('sextant.k8s.pod.memory.cache', 'By', 'updown', 'int', 'Page cache charged to the pod.'),
  oomKills: metric('sextant.k8s.pod.memory.oom_kills', '{kill}', 'counter', 'int', 'Processes of the pod the OOM killer killed.'),
} satisfies SharedMeasures;
