import { defineMetric, type MetricDescriptor } from '../../model/index.js';

/**
 * Container and pod metric descriptors. OpenTelemetry semantic-convention names (container.*,
 * k8s.pod.*, development status) where they exist; the rest start with `sextant.` as on the
 * host. docs/metrics.md says where each value comes from.
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

/** The same measures for a container and for a pod, under two prefixes. */
function family(p: 'container' | 'k8s.pod', x: 'sextant.container' | 'sextant.k8s.pod', who: string) {
  return {
    cpuTime: metric(`${p}.cpu.time`, 's', 'counter', 'double', `CPU time the ${who} used, by mode.`),
    cpuUsage: metric(`${p}.cpu.usage`, '{cpu}', 'gauge', 'double', `CPUs the ${who} used on average since the last reading.`),
    memoryUsage: metric(`${p}.memory.usage`, 'By', 'updown', 'int', `Memory charged to the ${who}'s cgroup (page cache included).`),
    memoryWorkingSet: metric(`${p}.memory.working_set`, 'By', 'updown', 'int', `Memory usage less inactive file cache: what the kernel could not reclaim easily (what kubelet evicts on).`),
    memoryAvailable: metric(`${p}.memory.available`, 'By', 'updown', 'int', `Memory limit less working set; absent without a limit.`),
    memoryRss: metric(`${p}.memory.rss`, 'By', 'updown', 'int', `Anonymous memory (not file backed) of the ${who}.`),
    pagingFaults: metric(p === 'container' ? 'container.paging.faults' : 'k8s.pod.memory.paging.faults', '{fault}', 'counter', 'int', `Page faults in the ${who}, by type (major, minor).`),
    uptime: metric(`${p}.uptime`, 's', 'gauge', 'double', `Seconds since the ${who} started.`),
    networkIo: metric(`${p}.network.io`, 'By', 'counter', 'int', `Bytes over the ${who}'s network namespace interfaces, by direction.`),
    networkErrors: metric(p === 'k8s.pod' ? 'k8s.pod.network.errors' : 'sextant.container.network.errors', '{error}', 'counter', 'int', `Receive and transmit errors on the ${who}'s interfaces.`),
    networkPackets: metric(`${x}.network.packet.count`, '{packet}', 'counter', 'int', `Packets over the ${who}'s interfaces, by direction.`),
    networkDropped: metric(`${x}.network.packet.dropped`, '{packet}', 'counter', 'int', `Packets dropped on the ${who}'s interfaces, by direction.`),
    memoryCache: metric(`${x}.memory.cache`, 'By', 'updown', 'int', `Page cache charged to the ${who}.`),
    memoryLimit: metric(`${x}.memory.limit`, 'By', 'updown', 'int', `The ${who}'s memory limit; absent when unlimited.`),
    oomKills: metric(`${x}.memory.oom_kills`, '{kill}', 'counter', 'int', `Processes of the ${who} the OOM killer killed.`),
  };
}

export const CONTAINER = {
  ...family('container', 'sextant.container', 'container'),
  diskIo: metric('container.disk.io', 'By', 'counter', 'int', 'Bytes the container read and wrote on block devices, by device and direction.'),
  diskOperations: metric('sextant.container.disk.operations', '{operation}', 'counter', 'int', 'Block I/O operations of the container, by device and direction.'),
  cpuLimit: metric('sextant.container.cpu.limit', '{cpu}', 'updown', 'double', 'CPUs the container may use (CFS quota ÷ period); absent when unlimited.'),
  cpuPeriods: metric('sextant.container.cpu.throttling.periods', '{period}', 'counter', 'int', 'CFS enforcement periods in which the container was runnable.'),
  cpuThrottledPeriods: metric('sextant.container.cpu.throttling.throttled_periods', '{period}', 'counter', 'int', 'Periods in which the container used up its quota and was throttled.'),
  cpuThrottledTime: metric('sextant.container.cpu.throttling.throttled_time', 's', 'counter', 'double', 'Time the container was throttled.'),
  pidsUsage: metric('sextant.container.pids.usage', '{process}', 'updown', 'int', 'Processes and threads in the container (pids.current).'),
  pidsLimit: metric('sextant.container.pids.limit', '{process}', 'updown', 'int', 'Most processes and threads the container may have; absent when unlimited.'),
  pressureStallTime: metric('sextant.container.pressure.stall.time', 's', 'counter', 'double', 'Time tasks of the container stalled on a resource (PSI total), by resource and some/full.'),
};

export const POD = family('k8s.pod', 'sextant.k8s.pod', 'pod');
