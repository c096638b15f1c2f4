import { countAt, type Json, objectAt } from './json-fields.js';
import * as M from './metrics.js';
import { clusterMeta, type ClusterObject, type ConvertContext, KEEP_NONE, type KindSpec, single } from './kind.js';

/** DaemonSets (apps/v1): nodes that should run the daemon pod, do, should not, and are ready. */

export interface DaemonSetObject extends ClusterObject {
  readonly desiredScheduled: number;
  readonly currentScheduled: number;
  readonly misscheduled: number;
  readonly ready: number;
}

export function convertDaemonSet(raw: unknown, ctx: ConvertContext): DaemonSetObject | undefined {
  const meta = clusterMeta(raw, 'DaemonSet', KEEP_NONE, ctx);
  if (meta === undefined || meta.namespace.length === 0) return undefined;
  const status = objectAt(raw as Json, 'status');
  return {
    ...meta,
    desiredScheduled: countAt(status, 'desiredNumberScheduled') ?? 0,
    currentScheduled: countAt(status, 'currentNumberScheduled') ?? 0,
    misscheduled: countAt(status, 'numberMisscheduled') ?? 0,
    ready: countAt(status, 'numberReady') ?? 0,
  };
}

export const daemonSetKind: KindSpec<DaemonSetObject> = {
  kind: 'DaemonSet',
  apiVersion: 'apps/v1',
  resource: 'daemonsets',
  path: '/apis/apps/v1/daemonsets',
  convert: convertDaemonSet,
  metrics: [
    single(M.DAEMONSET_DESIRED, (d) => d.desiredScheduled),
    single(M.DAEMONSET_CURRENT, (d) => d.currentScheduled),
    single(M.DAEMONSET_MISSCHEDULED, (d) => d.misscheduled),
    single(M.DAEMONSET_READY, (d) => d.ready),
  ],
};
