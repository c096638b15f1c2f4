import { type Json, objectAt } from './json-fields.js';
import * as M from './metrics.js';
import { parseQuantity } from './quantity.js';
import { clusterMeta, ConditionSets, conditionRows, type ClusterObject, type ConvertContext, KEEP_NONE, type KindSpec, single } from './kind.js';
import { conditionsOf } from './pod.js';

/** Nodes (core/v1): conditions, allocatable and capacity. CPU in cores, memory and storage in bytes. */

export interface NodeResources {
  readonly cpu: number | undefined;
  readonly memory: number | undefined;
  readonly ephemeralStorage: number | undefined;
  readonly pods: number | undefined;
}

export interface NodeObject extends ClusterObject {
  /** condition type (Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable) → `True` / `False` / `Unknown`. */
  readonly conditions: Readonly<Record<string, string>>;
  readonly allocatable: NodeResources;
  readonly capacity: NodeResources;
  readonly unschedulable: boolean;
}

function resources(list: Json): NodeResources {
  return {
    cpu: parseQuantity(list['cpu']),
    memory: parseQuantity(list['memory']),
    ephemeralStorage: parseQuantity(list['ephemeral-storage']),
    pods: parseQuantity(list['pods']),
  };
}

export function convertNode(raw: unknown, ctx: ConvertContext): NodeObject | undefined {
  const meta = clusterMeta(raw, 'Node', KEEP_NONE, ctx);
  if (meta === undefined) return undefined;
  const o = raw as Json;
  const status = objectAt(o, 'status');
  return {
    ...meta,
    // Nodes are cluster-scoped; a namespace in one is not the API's shape, and not kept.
    namespace: '',
    conditions: conditionsOf(status, ctx.strings),
    allocatable: resources(objectAt(status, 'allocatable')),
    capacity: resources(objectAt(status, 'capacity')),
    unschedulable: objectAt(o, 'spec')['unschedulable'] === true,
  };
}

const nodeConditionSets = new ConditionSets('k8s.node.condition.type', 'k8s.node.condition.status');

export const nodeKind: KindSpec<NodeObject> = {
  kind: 'Node',
  apiVersion: 'v1',
  resource: 'nodes',
  path: '/api/v1/nodes',
  convert: convertNode,
  metrics: [
    conditionRows(M.NODE_CONDITION, nodeConditionSets, (n) => n.conditions),
    single(M.NODE_CPU_ALLOCATABLE, (n) => n.allocatable.cpu),
    single(M.NODE_MEMORY_ALLOCATABLE, (n) => n.allocatable.memory),
    single(M.NODE_EPHEMERAL_ALLOCATABLE, (n) => n.allocatable.ephemeralStorage),
    single(M.NODE_PODS_ALLOCATABLE, (n) => n.allocatable.pods),
    single(M.NODE_CPU_CAPACITY, (n) => n.capacity.cpu),
    single(M.NODE_MEMORY_CAPACITY, (n) => n.capacity.memory),
    single(M.NODE_EPHEMERAL_CAPACITY, (n) => n.capacity.ephemeralStorage),
    single(M.NODE_PODS_CAPACITY, (n) => n.capacity.pods),
  ],
};
