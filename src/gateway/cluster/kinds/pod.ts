import type { PodIdentity } from '../../../enrich/k8s/objects.js';
import type { Attributes } from '../../../model/index.js';
import { arrayAt, boolAt, countAt, intAt, isJsonObject, type Json, objectAt, stringAt, type StringTable } from './json-fields.js';
import * as M from './metrics.js';
import { parseQuantity } from './quantity.js';
import { clusterMeta, ConditionSets, conditionRows, type ClusterObject, type ConvertContext, type KindSpec, type MetricRow, type PointSink, single, stateSet } from './kind.js';

/**
 * Pods (core/v1), of every node. Kept: where it runs, its phase and reason, its conditions, each
 * container's spec resources and status, and the claims it mounts — enough for the metrics, the
 * pod's resource attributes (its metadata is a `PodIdentity`, what src/enrich/k8s/ computes attributes
 * from) and the graph's edges (owner, node, claims, labels for service selectors). Not kept: the
 * spec beyond that, volumes, env, managedFields, status timestamps.
 */

export type ContainerStateName = 'waiting' | 'running' | 'terminated' | '';

/** CPU in cores, memory in bytes; undefined where the spec or the status does not set it. */
export interface ContainerResources {
  readonly cpuRequest: number | undefined;
  readonly cpuLimit: number | undefined;
  readonly memoryRequest: number | undefined;
  readonly memoryLimit: number | undefined;
}

export interface ContainerObject {
  readonly name: string;
  readonly image: string;
  readonly ready: boolean;
  readonly restarts: number;
  readonly state: ContainerStateName;
  /** Why it waits or terminated (CrashLoopBackOff, ImagePullBackOff, OOMKilled, Completed, …). */
  readonly reason: string;
  /** `lastState.terminated`: the previous run's reason and exit code. */
  readonly lastReason: string;
  readonly lastExitCode: number | undefined;
  /** From the spec (what semconv calls desired). */
  readonly desired: ContainerResources;
  /** From the status (`resources`, set by kubelets that resize in place); undefined when absent. */
  readonly current: ContainerResources | undefined;
}

export interface PodObject extends ClusterObject, PodIdentity {
  readonly phase: string;
  /** `status.reason` (Evicted, NodeLost, …); empty for most pods. */
  readonly reason: string;
  /** condition type → `True` / `False` / `Unknown`. */
  readonly conditions: Readonly<Record<string, string>>;
  readonly containers: readonly ContainerObject[];
  /** Names of the PersistentVolumeClaims its volumes use (same namespace). */
  readonly claims: readonly string[];
}

/** Most containers kept per pod (a pod spec allows far fewer in practice). */
const MAX_CONTAINERS = 64;
const MAX_CONDITIONS = 32;
const NO_CLAIMS: readonly string[] = Object.freeze([]);
const NO_CONDITIONS: Readonly<Record<string, string>> = Object.freeze({});
const NO_RESOURCES: ContainerResources = Object.freeze({ cpuRequest: undefined, cpuLimit: undefined, memoryRequest: undefined, memoryLimit: undefined });

function resourcesOf(requirements: Json, strings: StringTable): ContainerResources {
  const req = objectAt(requirements, 'requests');
  const lim = objectAt(requirements, 'limits');
  const cpuRequest = parseQuantity(req['cpu']);
  const cpuLimit = parseQuantity(lim['cpu']);
  const memoryRequest = parseQuantity(req['memory']);
  const memoryLimit = parseQuantity(lim['memory']);
  if (cpuRequest === undefined && cpuLimit === undefined && memoryRequest === undefined && memoryLimit === undefined) return NO_RESOURCES;
  // The pods of one template ask for the same: one object for all of them.
  return strings.share(`res\u0000${cpuRequest}\u0000${cpuLimit}\u0000${memoryRequest}\u0000${memoryLimit}`, () => Object.freeze({ cpuRequest, cpuLimit, memoryRequest, memoryLimit }));
}

export function conditionsOf(status: Json, strings: StringTable): Readonly<Record<string, string>> {
  const list = arrayAt(status, 'conditions');
  if (list.length === 0) return NO_CONDITIONS;
  let key = 'cond';
  const pairs: string[] = [];
  for (const c of list) {
    if (!isJsonObject(c)) continue;
    const type = stringAt(c, 'type');
    if (type.length === 0 || pairs.length >= MAX_CONDITIONS * 2) continue;
    const status = stringAt(c, 'status');
    pairs.push(type, status);
    key += `\u0000${type}\u0000${status}`;
  }
  // Most pods (and nodes) are in one of a few condition states: one object for each.
  return strings.share(key, () => {
    const out: Record<string, string> = {};
    for (let i = 0; i < pairs.length; i += 2) out[strings.intern(pairs[i]!)] = strings.intern(pairs[i + 1]!);
    return Object.freeze(out);
  });
}

function containerOf(spec: Json, status: Json | undefined, strings: StringTable): ContainerObject {
  const name = strings.intern(stringAt(spec, 'name'));
  let state: ContainerStateName = '';
  let reason = '';
  let lastReason = '';
  let lastExitCode: number | undefined;
  let current: ContainerResources | undefined;
  if (status !== undefined) {
    const st = objectAt(status, 'state');
    if (isJsonObject(st['waiting'])) {
      state = 'waiting';
      reason = stringAt(st['waiting'], 'reason');
    } else if (isJsonObject(st['terminated'])) {
      state = 'terminated';
      reason = stringAt(st['terminated'], 'reason');
    } else if (isJsonObject(st['running'])) state = 'running';
    const last = objectAt(objectAt(status, 'lastState'), 'terminated');
    lastReason = stringAt(last, 'reason');
    lastExitCode = intAt(last, 'exitCode');
    if (isJsonObject(status['resources'])) current = resourcesOf(status['resources'], strings);
  }
  // Not kept: the runtime's container id. It changes with every restart, and the agents' records
  // carry it; the pod's uid and the container's name join the two.
  return {
    name,
    // The spec's reference is what the user wrote (the status' may be resolved to a digest).
    image: strings.intern(stringAt(spec, 'image')),
    ready: status === undefined ? false : (boolAt(status, 'ready') ?? false),
    restarts: status === undefined ? 0 : (countAt(status, 'restartCount') ?? 0),
    state,
    reason: strings.intern(reason),
    lastReason: strings.intern(lastReason),
    lastExitCode,
    desired: resourcesOf(objectAt(spec, 'resources'), strings),
    current,
  };
}

export function convertPod(raw: unknown, ctx: ConvertContext): PodObject | undefined {
  const meta = clusterMeta(raw, 'Pod', { label: () => true, annotation: ctx.podFilter.annotation }, ctx);
  if (meta === undefined || meta.namespace.length === 0) return undefined;
  const o = raw as Json;
  const spec = objectAt(o, 'spec');
  const status = objectAt(o, 'status');
  const s = ctx.strings;

  const statuses = new Map<string, Json>();
  for (const cs of arrayAt(status, 'containerStatuses')) if (isJsonObject(cs)) statuses.set(stringAt(cs, 'name'), cs);
  const containers: ContainerObject[] = [];
  for (const c of arrayAt(spec, 'containers')) {
    if (!isJsonObject(c) || stringAt(c, 'name').length === 0) continue;
    if (containers.length >= MAX_CONTAINERS) break;
    containers.push(containerOf(c, statuses.get(stringAt(c, 'name')), s));
  }

  let claims: string[] | undefined;
  for (const v of arrayAt(spec, 'volumes')) {
    if (!isJsonObject(v)) continue;
    const claim = stringAt(objectAt(v, 'persistentVolumeClaim'), 'claimName');
    if (claim.length > 0) (claims ??= []).push(s.intern(claim));
  }

  return {
    ...meta,
    nodeName: s.intern(stringAt(spec, 'nodeName')),
    phase: s.intern(stringAt(status, 'phase')),
    reason: s.intern(stringAt(status, 'reason')),
    conditions: conditionsOf(status, s),
    containers: Object.freeze(containers),
    claims: claims === undefined ? NO_CLAIMS : Object.freeze(claims),
  };
}

export const POD_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const;
export const POD_REASONS = ['Evicted', 'NodeAffinity', 'NodeLost', 'Shutdown', 'UnexpectedAdmissionError'] as const;
export const CONTAINER_STATES = ['terminated', 'running', 'waiting'] as const;
export const CONTAINER_REASONS = ['ContainerCreating', 'CrashLoopBackOff', 'CreateContainerConfigError', 'ErrImagePull', 'ImagePullBackOff', 'OOMKilled', 'Completed', 'Error', 'ContainerCannotRun'] as const;

const podConditionSets = new ConditionSets('sextant.k8s.pod.condition.type', 'sextant.k8s.pod.condition.status');

/** Pod-level families (the resource is the pod). */
export const podMetrics: readonly MetricRow<PodObject>[] = [
  stateSet(M.POD_PHASE, 'k8s.pod.status.phase', POD_PHASES, (p) => p.phase),
  stateSet(M.POD_REASON, 'k8s.pod.status.reason', POD_REASONS, (p) => p.reason),
  conditionRows(M.POD_CONDITION, podConditionSets, (p) => p.conditions),
];

const lastReasonSets = new Map<string, Attributes>();

function lastReasonAttributes(reason: string): Attributes {
  let a = lastReasonSets.get(reason);
  if (a === undefined) {
    a = Object.freeze({ 'k8s.container.status.last_terminated_reason': reason });
    if (lastReasonSets.size < 256) lastReasonSets.set(reason, a);
  }
  return a;
}

/** Container-level families (the resource is the container). */
export const containerMetrics: readonly MetricRow<ContainerObject>[] = [
  single<ContainerObject>(M.CONTAINER_READY, (c) => (c.ready ? 1 : 0)),
  single<ContainerObject>(M.CONTAINER_RESTARTS, (c) => c.restarts),
  stateSet(M.CONTAINER_STATE, 'k8s.container.status.state', CONTAINER_STATES, (c: ContainerObject) => c.state),
  stateSet(M.CONTAINER_REASON, 'k8s.container.status.reason', CONTAINER_REASONS, (c: ContainerObject) => c.reason),
  {
    metric: M.CONTAINER_LAST_EXIT_CODE,
    write(c: ContainerObject, sink: PointSink) {
      if (c.lastExitCode !== undefined) sink.point(M.CONTAINER_LAST_EXIT_CODE, lastReasonAttributes(c.lastReason), c.lastExitCode);
    },
  },
  single<ContainerObject>(M.CONTAINER_CPU_REQUEST, (c) => c.desired.cpuRequest),
  single<ContainerObject>(M.CONTAINER_CPU_LIMIT, (c) => c.desired.cpuLimit),
  single<ContainerObject>(M.CONTAINER_MEMORY_REQUEST, (c) => c.desired.memoryRequest),
  single<ContainerObject>(M.CONTAINER_MEMORY_LIMIT, (c) => c.desired.memoryLimit),
  single<ContainerObject>(M.CONTAINER_CPU_REQUEST_CURRENT, (c) => c.current?.cpuRequest),
  single<ContainerObject>(M.CONTAINER_CPU_LIMIT_CURRENT, (c) => c.current?.cpuLimit),
  single<ContainerObject>(M.CONTAINER_MEMORY_REQUEST_CURRENT, (c) => c.current?.memoryRequest),
  single<ContainerObject>(M.CONTAINER_MEMORY_LIMIT_CURRENT, (c) => c.current?.memoryLimit),
];

export const podKind: KindSpec<PodObject> = {
  kind: 'Pod',
  apiVersion: 'v1',
  resource: 'pods',
  path: '/api/v1/pods',
  convert: convertPod,
  metrics: podMetrics,
};
