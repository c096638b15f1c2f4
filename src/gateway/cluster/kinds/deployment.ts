import { countAt, type Json, objectAt } from './json-fields.js';
import * as M from './metrics.js';
import { clusterMeta, type ClusterObject, type ConvertContext, KEEP_NONE, type KindSpec, single } from './kind.js';

/** Deployments (apps/v1): desired replicas and what the controller reports of them. */

export interface DeploymentObject extends ClusterObject {
  readonly desired: number;
  readonly ready: number;
  readonly available: number;
  readonly updated: number;
}

export function convertDeployment(raw: unknown, ctx: ConvertContext): DeploymentObject | undefined {
  const meta = clusterMeta(raw, 'Deployment', KEEP_NONE, ctx);
  if (meta === undefined || meta.namespace.length === 0) return undefined;
  const o = raw as Json;
  const status = objectAt(o, 'status');
  return {
    ...meta,
    // spec.replicas defaults to 1 (the API server fills it in; a missing one means the default).
    desired: countAt(objectAt(o, 'spec'), 'replicas') ?? 1,
    // The controller omits zero counts from the status.
    ready: countAt(status, 'readyReplicas') ?? 0,
    available: countAt(status, 'availableReplicas') ?? 0,
    updated: countAt(status, 'updatedReplicas') ?? 0,
  };
}

export const deploymentKind: KindSpec<DeploymentObject> = {
  kind: 'Deployment',
  apiVersion: 'apps/v1',
  resource: 'deployments',
  path: '/apis/apps/v1/deployments',
  convert: convertDeployment,
  metrics: [
    single(M.DEPLOYMENT_DESIRED, (d) => d.desired),
    single(M.DEPLOYMENT_AVAILABLE, (d) => d.available),
    single(M.DEPLOYMENT_READY, (d) => d.ready),
    single(M.DEPLOYMENT_UPDATED, (d) => d.updated),
  ],
};
