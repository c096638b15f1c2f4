import { countAt, type Json, objectAt } from './json-fields.js';
import * as M from './metrics.js';
import { clusterMeta, type ClusterObject, type ConvertContext, KEEP_NONE, type KindSpec, single } from './kind.js';

/** ReplicaSets (apps/v1): the middle link pod → ReplicaSet → Deployment, and their replica counts. */

export interface ReplicaSetObject extends ClusterObject {
  readonly desired: number;
  readonly ready: number;
  readonly available: number;
}

export function convertReplicaSet(raw: unknown, ctx: ConvertContext): ReplicaSetObject | undefined {
  const meta = clusterMeta(raw, 'ReplicaSet', KEEP_NONE, ctx);
  if (meta === undefined || meta.namespace.length === 0) return undefined;
  const o = raw as Json;
  const status = objectAt(o, 'status');
  return {
    ...meta,
    desired: countAt(objectAt(o, 'spec'), 'replicas') ?? 1,
    ready: countAt(status, 'readyReplicas') ?? 0,
    available: countAt(status, 'availableReplicas') ?? 0,
  };
}

export const replicaSetKind: KindSpec<ReplicaSetObject> = {
  kind: 'ReplicaSet',
  apiVersion: 'apps/v1',
  resource: 'replicasets',
  path: '/apis/apps/v1/replicasets',
  convert: convertReplicaSet,
  metrics: [
    single(M.REPLICASET_DESIRED, (r) => r.desired),
    single(M.REPLICASET_AVAILABLE, (r) => r.available),
    single(M.REPLICASET_READY, (r) => r.ready),
  ],
};
