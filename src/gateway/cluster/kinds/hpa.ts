import { countAt, type Json, objectAt, stringAt } from './json-fields.js';
import * as M from './metrics.js';
import { clusterMeta, type ClusterObject, type ConvertContext, KEEP_NONE, type KindSpec, single } from './kind.js';

/** HorizontalPodAutoscalers (autoscaling/v2): replica bounds, current and desired, and what they scale. */

export interface HpaObject extends ClusterObject {
  readonly current: number;
  readonly desired: number;
  readonly min: number;
  readonly max: number | undefined;
  readonly target: { readonly apiVersion: string; readonly kind: string; readonly name: string };
}

export function convertHpa(raw: unknown, ctx: ConvertContext): HpaObject | undefined {
  const meta = clusterMeta(raw, 'HorizontalPodAutoscaler', KEEP_NONE, ctx);
  if (meta === undefined || meta.namespace.length === 0) return undefined;
  const o = raw as Json;
  const spec = objectAt(o, 'spec');
  const status = objectAt(o, 'status');
  const ref = objectAt(spec, 'scaleTargetRef');
  const s = ctx.strings;
  return {
    ...meta,
    current: countAt(status, 'currentReplicas') ?? 0,
    desired: countAt(status, 'desiredReplicas') ?? 0,
    // minReplicas defaults to 1.
    min: countAt(spec, 'minReplicas') ?? 1,
    max: countAt(spec, 'maxReplicas'),
    target: { apiVersion: s.intern(stringAt(ref, 'apiVersion')), kind: s.intern(stringAt(ref, 'kind')), name: s.intern(stringAt(ref, 'name')) },
  };
}

export const hpaKind: KindSpec<HpaObject> = {
  kind: 'HorizontalPodAutoscaler',
  apiVersion: 'autoscaling/v2',
  resource: 'horizontalpodautoscalers',
  path: '/apis/autoscaling/v2/horizontalpodautoscalers',
  convert: convertHpa,
  metrics: [single(M.HPA_CURRENT, (h) => h.current), single(M.HPA_DESIRED, (h) => h.desired), single(M.HPA_MIN, (h) => h.min), single(M.HPA_MAX, (h) => h.max)],
};
