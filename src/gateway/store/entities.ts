import { stableHash, type AttrJson } from './otlp-values.js';

/**
 * What a resource's attributes say it belongs to: the entities they name (cluster, host,
 * namespace, workload, pod, container, process group, process, service), how those nest, and
 * which one is the resource's own (the most specific). Derived from the OpenTelemetry semantic
 * conventions the agent and the cluster monitor emit, so a pod's series from the node and its
 * state from the Kubernetes API land on the same pod.
 */

export const ENTITY_TYPES = ['cluster', 'host', 'namespace', 'workload', 'pod', 'container', 'process_group', 'process', 'service'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

export interface DerivedEntity {
  /** 16 hex digits: a stable hash of type and key, the id the query API uses. */
  readonly id: string;
  readonly type: EntityType;
  /** What identifies it within its type (a pod's uid, a container's id, "cluster/ns/Kind/name"). */
  readonly key: string;
  readonly name: string;
  readonly namespace: string | undefined;
  /** The attributes that describe it (its own part of the resource). */
  readonly attributes: { readonly [key: string]: AttrJson };
}

export interface DerivedEntities {
  /** The most specific entity named; undefined when the attributes name none. */
  readonly primary: DerivedEntity | undefined;
  /** Every entity named, the primary first. */
  readonly entities: readonly DerivedEntity[];
  /** [child id, parent id] */
  readonly links: readonly (readonly [string, string])[];
}

/** Workload names by the semantic-convention attribute that carries them (k8s.workload.* first). */
const WORKLOAD_ATTRS: readonly (readonly [string, string])[] = [
  ['k8s.deployment.name', 'Deployment'],
  ['k8s.statefulset.name', 'StatefulSet'],
  ['k8s.daemonset.name', 'DaemonSet'],
  ['k8s.cronjob.name', 'CronJob'],
  ['k8s.job.name', 'Job'],
  ['k8s.replicaset.name', 'ReplicaSet'],
];

/** Attributes an entity of each type keeps, by exact key or prefix (ending in "."). */
const OWN_ATTRS: Readonly<Record<EntityType, readonly string[]>> = {
  cluster: ['k8s.cluster.'],
  host: ['host.', 'os.', 'k8s.node.', 'sextant.host.'],
  namespace: ['k8s.namespace.', 'k8s.cluster.name'],
  workload: ['k8s.workload.', 'k8s.deployment.', 'k8s.statefulset.', 'k8s.daemonset.', 'k8s.cronjob.', 'k8s.job.', 'k8s.replicaset.', 'k8s.namespace.name'],
  pod: ['k8s.pod.', 'k8s.namespace.name', 'k8s.node.name', 'k8s.workload.', 'dt.cost.'],
  container: ['container.', 'k8s.container.'],
  process_group: ['sextant.process_group.', 'process.executable.name', 'process.owner', 'container.id'],
  process: ['process.'],
  service: ['service.', 'telemetry.sdk.'],
};

function str(v: AttrJson | undefined): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

function ownAttributes(type: EntityType, attrs: { readonly [key: string]: AttrJson }): { [key: string]: AttrJson } {
  const out: { [key: string]: AttrJson } = {};
  const claims = OWN_ATTRS[type];
  for (const k of Object.keys(attrs)) {
    for (const c of claims) {
      if (c.endsWith('.') ? k.startsWith(c) : k === c) {
        out[k] = attrs[k]!;
        break;
      }
    }
  }
  return out;
}

/** The entity id for a type and key: what the query API calls it. */
export function entityId(type: EntityType, key: string): string {
  return stableHash(`${type}\u0000${key}`);
}

function entity(type: EntityType, key: string, name: string, namespace: string | undefined, attrs: { readonly [key: string]: AttrJson }): DerivedEntity {
  return { id: entityId(type, key), type, key, name, namespace, attributes: ownAttributes(type, attrs) };
}

/**
 * A container's key: in a pod, the pod's uid and the container's name (as Kubernetes names it:
 * the same entity across restarts, and found from log files, whose paths carry no container
 * id); elsewhere its id. `containerKeyOf` maps an id to the key learnt from records that carry
 * both (a process group names its container by id alone).
 */
export function containerKey(attrs: { readonly [key: string]: AttrJson }, containerKeyOf?: (id: string) => string | undefined): string | undefined {
  const podUid = str(attrs['k8s.pod.uid']);
  const name = str(attrs['k8s.container.name']);
  if (podUid !== undefined && name !== undefined) return `${podUid}/${name}`;
  const id = str(attrs['container.id']);
  return id === undefined ? undefined : (containerKeyOf?.(id) ?? id);
}

/** The entities a resource's attributes name, their links and the resource's own entity. */
export function deriveEntities(attrs: { readonly [key: string]: AttrJson }, containerKeyOf?: (id: string) => string | undefined): DerivedEntities {
  const clusterName = str(attrs['k8s.cluster.name']);
  const clusterKey = str(attrs['k8s.cluster.uid']) ?? clusterName;
  const cluster = clusterKey !== undefined ? entity('cluster', clusterKey, clusterName ?? clusterKey, undefined, attrs) : undefined;

  const nodeName = str(attrs['k8s.node.name']);
  const hostName = str(attrs['host.name']);
  // The agent's host records carry host.name, its pod records host.name and k8s.node.name, the
  // cluster monitor's only k8s.node.name: keyed by the host name where there is one, so all
  // three meet on one host as long as the node is named after the host (kubelet's default).
  const hostKey = hostName ?? nodeName;
  const host = hostKey !== undefined ? entity('host', hostKey, nodeName ?? hostKey, undefined, attrs) : undefined;

  const ns = str(attrs['k8s.namespace.name']);
  const scope = clusterKey ?? '';
  const namespace = ns !== undefined ? entity('namespace', `${scope}/${ns}`, ns, ns, attrs) : undefined;

  let workloadKind = str(attrs['k8s.workload.kind']);
  let workloadName = str(attrs['k8s.workload.name']);
  if (workloadName === undefined) {
    for (const [key, kind] of WORKLOAD_ATTRS) {
      const n = str(attrs[key]);
      if (n !== undefined) {
        workloadName = n;
        workloadKind = kind;
        break;
      }
    }
  }
  const workload =
    workloadName !== undefined && ns !== undefined ? entity('workload', `${scope}/${ns}/${workloadKind ?? ''}/${workloadName}`, workloadName, ns, attrs) : undefined;

  const podUid = str(attrs['k8s.pod.uid']);
  const podName = str(attrs['k8s.pod.name']);
  const podKey = podUid ?? (podName !== undefined && ns !== undefined ? `${scope}/${ns}/${podName}` : undefined);
  const pod = podKey !== undefined ? entity('pod', podKey, podName ?? podKey, ns, attrs) : undefined;

  const containerId = str(attrs['container.id']);
  const containerName = str(attrs['k8s.container.name']) ?? str(attrs['container.name']);
  const cKey = containerKey(attrs, containerKeyOf);
  const container = cKey !== undefined ? entity('container', cKey, containerName ?? (containerId ?? cKey).slice(0, 12), ns, attrs) : undefined;

  const groupKey = str(attrs['sextant.process_group.key']);
  const exe = str(attrs['process.executable.name']);
  const processGroup = groupKey !== undefined ? entity('process_group', `${hostKey ?? ''}/${groupKey}`, exe ?? groupKey, ns, attrs) : undefined;

  const pid = str(attrs['process.pid']);
  const process = pid !== undefined && groupKey === undefined ? entity('process', `${hostKey ?? ''}/${pid}/${exe ?? ''}`, exe !== undefined ? `${exe} (${pid})` : pid, ns, attrs) : undefined;

  const serviceName = str(attrs['service.name']);
  const serviceNs = str(attrs['service.namespace']);
  const service = serviceName !== undefined ? entity('service', `${serviceNs ?? ''}/${serviceName}`, serviceName, ns, attrs) : undefined;

  const links: [string, string][] = [];
  const link = (child: DerivedEntity | undefined, parent: DerivedEntity | undefined): void => {
    if (child !== undefined && parent !== undefined) links.push([child.id, parent.id]);
  };
  link(host, cluster);
  link(namespace, cluster);
  link(workload, namespace);
  link(pod, workload ?? namespace);
  link(pod, host);
  // A process group, process or service names its container by id alone: where that container
  // runs (its pod, or the host) is for the container's own records to say.
  const containerOnlyNamed = processGroup !== undefined || process !== undefined || service !== undefined;
  link(container, pod ?? (containerOnlyNamed ? undefined : host));
  link(processGroup, container ?? host);
  link(process, container ?? host);
  link(service, container ?? pod ?? host);

  const order = [process, processGroup, service, container, pod, workload, namespace, host, cluster];
  const entities = order.filter((e): e is DerivedEntity => e !== undefined);
  return { primary: entities[0], entities, links };
}

export function isEntityType(v: string): v is EntityType {
  return (ENTITY_TYPES as readonly string[]).includes(v);
}
