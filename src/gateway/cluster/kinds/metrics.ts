import { defineMetric, type MetricDescriptor } from '../../../model/index.js';

/**
 * Every metric the cluster monitor reports. Names are OpenTelemetry semantic conventions (1.44,
 * Kubernetes metrics, status development) where semconv has one, the OpenTelemetry Collector
 * `k8s_cluster` receiver's where only it has one, and `sextant.`-prefixed where neither does
 * (docs/metrics.md says which is which). Semconv's UpDownCounters are non-monotonic sums; they
 * describe state, so they are sent cumulative whatever the temporality of the agents.
 */

function updown(name: string, unit: string, description: string, valueType: 'int' | 'double' = 'int'): MetricDescriptor {
  return defineMetric({ name, unit, description, kind: 'sum', monotonic: false, valueType });
}

function gauge(name: string, unit: string, description: string, valueType: 'int' | 'double' = 'int'): MetricDescriptor {
  return defineMetric({ name, unit, description, kind: 'gauge', monotonic: false, valueType });
}

// Pods
export const POD_PHASE = updown('k8s.pod.status.phase', '{pod}', 'Number of K8s Pods in a given phase (all phases reported, the current one is 1).');
export const POD_REASON = updown('k8s.pod.status.reason', '{pod}', 'Number of K8s Pods in a state for a given reason (Evicted, NodeLost, …).');
export const POD_CONDITION = updown('sextant.k8s.pod.condition.status', '{pod}', 'The status of each condition of a K8s Pod (every type × true/false/unknown pair; the current one is 1).');

// Containers (the resource is the container)
export const CONTAINER_READY = updown('k8s.container.ready', '{container}', 'Whether the container is ready (its readiness probe passes): 1 or 0.');
export const CONTAINER_RESTARTS = updown('k8s.container.restart.count', '{restart}', 'How many times the container has restarted (as the kubelet counts it; resets when the pod is recreated).');
export const CONTAINER_STATE = updown('k8s.container.status.state', '{container}', 'The state of the container (terminated, running, waiting; the current one is 1).');
export const CONTAINER_REASON = updown('k8s.container.status.reason', '{container}', 'Why the container is waiting or terminated (CrashLoopBackOff, ImagePullBackOff, OOMKilled, …; the current one is 1).');
export const CONTAINER_LAST_EXIT_CODE = gauge(
  'sextant.k8s.container.last_terminated.exit_code',
  '1',
  'Exit code of the container’s previous run (lastState.terminated), with its reason as k8s.container.status.last_terminated_reason.',
);
export const CONTAINER_CPU_REQUEST = updown('k8s.container.cpu.request.desired', '{cpu}', 'CPU requested by the container spec.', 'double');
export const CONTAINER_CPU_LIMIT = updown('k8s.container.cpu.limit.desired', '{cpu}', 'CPU limit of the container spec.', 'double');
export const CONTAINER_MEMORY_REQUEST = updown('k8s.container.memory.request.desired', 'By', 'Memory requested by the container spec.');
export const CONTAINER_MEMORY_LIMIT = updown('k8s.container.memory.limit.desired', 'By', 'Memory limit of the container spec.');
export const CONTAINER_CPU_REQUEST_CURRENT = updown('k8s.container.cpu.request.current', '{cpu}', 'CPU request applied to the running container (status.containerStatuses[].resources).', 'double');
export const CONTAINER_CPU_LIMIT_CURRENT = updown('k8s.container.cpu.limit.current', '{cpu}', 'CPU limit applied to the running container.', 'double');
export const CONTAINER_MEMORY_REQUEST_CURRENT = updown('k8s.container.memory.request.current', 'By', 'Memory request applied to the running container.');
export const CONTAINER_MEMORY_LIMIT_CURRENT = updown('k8s.container.memory.limit.current', 'By', 'Memory limit applied to the running container.');

// Nodes
export const NODE_CONDITION = updown('k8s.node.condition.status', '{node}', 'The status of each condition of a K8s Node (every type × true/false/unknown pair; the current one is 1).');
export const NODE_CPU_ALLOCATABLE = updown('k8s.node.cpu.allocatable', '{cpu}', 'CPU allocatable on the node.', 'double');
export const NODE_MEMORY_ALLOCATABLE = updown('k8s.node.memory.allocatable', 'By', 'Memory allocatable on the node.');
export const NODE_EPHEMERAL_ALLOCATABLE = updown('k8s.node.ephemeral_storage.allocatable', 'By', 'Ephemeral storage allocatable on the node.');
export const NODE_PODS_ALLOCATABLE = updown('k8s.node.pod.allocatable', '{pod}', 'Pods allocatable on the node.');
export const NODE_CPU_CAPACITY = updown('sextant.k8s.node.cpu.capacity', '{cpu}', 'CPU capacity of the node (status.capacity).', 'double');
export const NODE_MEMORY_CAPACITY = updown('sextant.k8s.node.memory.capacity', 'By', 'Memory capacity of the node.');
export const NODE_EPHEMERAL_CAPACITY = updown('sextant.k8s.node.ephemeral_storage.capacity', 'By', 'Ephemeral storage capacity of the node.');
export const NODE_PODS_CAPACITY = updown('sextant.k8s.node.pod.capacity', '{pod}', 'Pod capacity of the node.');

// Namespaces
export const NAMESPACE_PHASE = updown('k8s.namespace.phase', '{namespace}', 'Number of K8s namespaces in a given phase (active, terminating; the current one is 1).');

// Workloads
export const DEPLOYMENT_DESIRED = updown('k8s.deployment.pod.desired', '{pod}', 'Desired replica pods of the deployment (spec.replicas).');
export const DEPLOYMENT_AVAILABLE = updown('k8s.deployment.pod.available', '{pod}', 'Available replica pods of the deployment (status.availableReplicas).');
export const DEPLOYMENT_READY = updown('sextant.k8s.deployment.pod.ready', '{pod}', 'Ready replica pods of the deployment (status.readyReplicas).');
export const DEPLOYMENT_UPDATED = updown('sextant.k8s.deployment.pod.updated', '{pod}', 'Replica pods of the deployment with the current template (status.updatedReplicas).');
export const REPLICASET_DESIRED = updown('k8s.replicaset.pod.desired', '{pod}', 'Desired replica pods of the replicaset (spec.replicas).');
export const REPLICASET_AVAILABLE = updown('k8s.replicaset.pod.available', '{pod}', 'Available replica pods of the replicaset (status.availableReplicas).');
export const REPLICASET_READY = updown('sextant.k8s.replicaset.pod.ready', '{pod}', 'Ready replica pods of the replicaset (status.readyReplicas).');
export const STATEFULSET_DESIRED = updown('k8s.statefulset.pod.desired', '{pod}', 'Desired replica pods of the statefulset (spec.replicas).');
export const STATEFULSET_READY = updown('k8s.statefulset.pod.ready', '{pod}', 'Ready replica pods of the statefulset (status.readyReplicas).');
export const STATEFULSET_CURRENT = updown('k8s.statefulset.pod.current', '{pod}', 'Replica pods of the statefulset at its current revision (status.currentReplicas).');
export const STATEFULSET_UPDATED = updown('k8s.statefulset.pod.updated', '{pod}', 'Replica pods of the statefulset at its update revision (status.updatedReplicas).');
export const DAEMONSET_CURRENT = updown('k8s.daemonset.node.current_scheduled', '{node}', 'Nodes running the daemon pod that should (status.currentNumberScheduled).');
export const DAEMONSET_DESIRED = updown('k8s.daemonset.node.desired_scheduled', '{node}', 'Nodes that should run the daemon pod (status.desiredNumberScheduled).');
export const DAEMONSET_MISSCHEDULED = updown('k8s.daemonset.node.misscheduled', '{node}', 'Nodes running the daemon pod that should not (status.numberMisscheduled).');
export const DAEMONSET_READY = updown('k8s.daemonset.node.ready', '{node}', 'Nodes whose daemon pod is ready (status.numberReady).');
export const JOB_ACTIVE = updown('k8s.job.pod.active', '{pod}', 'Pending or running pods of the job (status.active).');
export const JOB_FAILED = updown('k8s.job.pod.failed', '{pod}', 'Pods of the job that failed (status.failed).');
export const JOB_SUCCESSFUL = updown('k8s.job.pod.successful', '{pod}', 'Pods of the job that succeeded (status.succeeded).');
export const JOB_DESIRED_SUCCESSFUL = updown('k8s.job.pod.desired_successful', '{pod}', 'Successful pods the job needs to complete (spec.completions).');
export const JOB_MAX_PARALLEL = updown('k8s.job.pod.max_parallel', '{pod}', 'Most pods the job runs at once (spec.parallelism).');
export const CRONJOB_ACTIVE = updown('k8s.cronjob.job.active', '{job}', 'Jobs of the cronjob running now (status.active).');

// Autoscaling, quotas, claims
export const HPA_CURRENT = updown('k8s.hpa.pod.current', '{pod}', 'Current replica pods of the autoscaled workload (status.currentReplicas).');
export const HPA_DESIRED = updown('k8s.hpa.pod.desired', '{pod}', 'Replica pods the autoscaler last asked for (status.desiredReplicas).');
export const HPA_MIN = updown('k8s.hpa.pod.min', '{pod}', 'Lower bound the autoscaler keeps (spec.minReplicas).');
export const HPA_MAX = updown('k8s.hpa.pod.max', '{pod}', 'Upper bound the autoscaler keeps (spec.maxReplicas).');
export const PVC_PHASE = updown('k8s.persistentvolumeclaim.status.phase', '{persistentvolumeclaim}', 'Number of PersistentVolumeClaims in a given phase (Bound, Lost, Pending; the current one is 1).');
export const PVC_REQUEST = updown('k8s.persistentvolumeclaim.storage.request', 'By', 'Storage requested by the claim (spec.resources.requests.storage).');
export const PVC_CAPACITY = updown('k8s.persistentvolumeclaim.storage.capacity', 'By', 'Storage provisioned for the claim (status.capacity.storage; only once bound).');

// Resource quotas: [hard, used] of each resource semconv names (kinds/resourcequota.ts maps a
// quota's resource names onto them).
type Pair = readonly [hard: MetricDescriptor, used: MetricDescriptor];
const HARD = 'the quota in the namespace (status.hard)';
const USED = 'what is in use in the namespace (status.used)';
export const QUOTA_CPU_REQUEST: Pair = [updown('k8s.resourcequota.cpu.request.hard', '{cpu}', `CPU requests: ${HARD}.`, 'double'), updown('k8s.resourcequota.cpu.request.used', '{cpu}', `CPU requests: ${USED}.`, 'double')];
export const QUOTA_CPU_LIMIT: Pair = [updown('k8s.resourcequota.cpu.limit.hard', '{cpu}', `CPU limits: ${HARD}.`, 'double'), updown('k8s.resourcequota.cpu.limit.used', '{cpu}', `CPU limits: ${USED}.`, 'double')];
export const QUOTA_MEMORY_REQUEST: Pair = [updown('k8s.resourcequota.memory.request.hard', 'By', `Memory requests: ${HARD}.`), updown('k8s.resourcequota.memory.request.used', 'By', `Memory requests: ${USED}.`)];
export const QUOTA_MEMORY_LIMIT: Pair = [updown('k8s.resourcequota.memory.limit.hard', 'By', `Memory limits: ${HARD}.`), updown('k8s.resourcequota.memory.limit.used', 'By', `Memory limits: ${USED}.`)];
export const QUOTA_STORAGE_REQUEST: Pair = [updown('k8s.resourcequota.storage.request.hard', 'By', `Storage requests: ${HARD}.`), updown('k8s.resourcequota.storage.request.used', 'By', `Storage requests: ${USED}.`)];
export const QUOTA_PVC_COUNT: Pair = [
  updown('k8s.resourcequota.persistentvolumeclaim_count.hard', '{persistentvolumeclaim}', `PersistentVolumeClaims: ${HARD}.`),
  updown('k8s.resourcequota.persistentvolumeclaim_count.used', '{persistentvolumeclaim}', `PersistentVolumeClaims: ${USED}.`),
];
export const QUOTA_EPHEMERAL_REQUEST: Pair = [
  updown('k8s.resourcequota.ephemeral_storage.request.hard', 'By', `Ephemeral storage requests: ${HARD}.`),
  updown('k8s.resourcequota.ephemeral_storage.request.used', 'By', `Ephemeral storage requests: ${USED}.`),
];
export const QUOTA_EPHEMERAL_LIMIT: Pair = [
  updown('k8s.resourcequota.ephemeral_storage.limit.hard', 'By', `Ephemeral storage limits: ${HARD}.`),
  updown('k8s.resourcequota.ephemeral_storage.limit.used', 'By', `Ephemeral storage limits: ${USED}.`),
];
export const QUOTA_HUGEPAGES: Pair = [updown('k8s.resourcequota.hugepage_count.request.hard', '{hugepage}', `Huge page requests: ${HARD}.`), updown('k8s.resourcequota.hugepage_count.request.used', '{hugepage}', `Huge page requests: ${USED}.`)];
export const QUOTA_OBJECTS: Pair = [updown('k8s.resourcequota.object_count.hard', '{object}', `Objects: ${HARD}.`), updown('k8s.resourcequota.object_count.used', '{object}', `Objects: ${USED}.`)];
/** The k8s_cluster receiver's names, for resource names semconv has no family for (extended resources). */
export const QUOTA_OTHER: Pair = [
  gauge('k8s.resource_quota.hard_limit', '{resource}', 'The quota of a resource semconv has no family for, named in `resource` (status.hard).', 'double'),
  gauge('k8s.resource_quota.used', '{resource}', 'What is in use of a resource semconv has no family for, named in `resource` (status.used).', 'double'),
];
