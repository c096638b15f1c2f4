import { type Json, objectAt, stringAt } from './json-fields.js';
import * as M from './metrics.js';
import { parseQuantity } from './quantity.js';
import { clusterMeta, type ClusterObject, type ConvertContext, KEEP_NONE, type KindSpec, single, stateSet } from './kind.js';

/** PersistentVolumeClaims (core/v1): phase, requested and provisioned storage. */

export interface PvcObject extends ClusterObject {
  /** `Pending`, `Bound`, `Lost`. */
  readonly phase: string;
  readonly requested: number | undefined;
  readonly capacity: number | undefined;
  readonly storageClass: string;
  readonly volumeName: string;
}

export function convertPvc(raw: unknown, ctx: ConvertContext): PvcObject | undefined {
  const meta = clusterMeta(raw, 'PersistentVolumeClaim', KEEP_NONE, ctx);
  if (meta === undefined || meta.namespace.length === 0) return undefined;
  const o = raw as Json;
  const spec = objectAt(o, 'spec');
  const status = objectAt(o, 'status');
  const s = ctx.strings;
  return {
    ...meta,
    phase: s.intern(stringAt(status, 'phase')),
    requested: parseQuantity(objectAt(objectAt(spec, 'resources'), 'requests')['storage']),
    capacity: parseQuantity(objectAt(status, 'capacity')['storage']),
    storageClass: s.intern(stringAt(spec, 'storageClassName')),
    volumeName: stringAt(spec, 'volumeName'),
  };
}

export const pvcKind: KindSpec<PvcObject> = {
  kind: 'PersistentVolumeClaim',
  apiVersion: 'v1',
  resource: 'persistentvolumeclaims',
  path: '/api/v1/persistentvolumeclaims',
  convert: convertPvc,
  metrics: [
    stateSet(M.PVC_PHASE, 'k8s.persistentvolumeclaim.status.phase', ['Bound', 'Lost', 'Pending'], (p) => p.phase),
    single(M.PVC_REQUEST, (p) => p.requested),
    single(M.PVC_CAPACITY, (p) => p.capacity),
  ],
};
