import { countAt, type Json, objectAt } from './json-fields.js';
import * as M from './metrics.js';
import { clusterMeta, type ClusterObject, type ConvertContext, KEEP_NONE, type KindSpec, single } from './kind.js';

/** StatefulSets (apps/v1): desired, ready, current-revision and updated-revision replicas. */

export interface StatefulSetObject extends ClusterObject {
  readonly desired: number;
  readonly ready: number;
  readonly current: number;
  readonly updated: number;
}

export function convertStatefulSet(raw: unknown, ctx: ConvertContext): StatefulSetObject | undefined {
  const meta = clusterMeta(raw, 'StatefulSet', KEEP_NONE, ctx);
  if (meta === undefined || meta.namespace.length === 0) return undefined;
  const o = raw as Json;
  const status = objectAt(o, 'status');
  return {
    ...meta,
    desired: countAt(objectAt(o, 'spec'), 'replicas') ?? 1,
    ready: countAt(status, 'readyReplicas') ?? 0,
    current: countAt(status, 'currentReplicas') ?? 0,
    updated: countAt(status, 'updatedReplicas') ?? 0,
  };
}

export const statefulSetKind: KindSpec<StatefulSetObject> = {
  kind: 'StatefulSet',
  apiVersion: 'apps/v1',
  resource: 'statefulsets',
  path: '/apis/apps/v1/statefulsets',
  convert: convertStatefulSet,
  metrics: [
    single(M.STATEFULSET_DESIRED, (s) => s.desired),
    single(M.STATEFULSET_READY, (s) => s.ready),
    single(M.STATEFULSET_CURRENT, (s) => s.current),
    single(M.STATEFULSET_UPDATED, (s) => s.updated),
  ],
};
