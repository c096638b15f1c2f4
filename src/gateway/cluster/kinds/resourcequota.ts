import type { Attributes, MetricDescriptor } from '../../../model/index.js';
import { type Json, objectAt } from './json-fields.js';
import {
  QUOTA_CPU_LIMIT,
  QUOTA_CPU_REQUEST,
  QUOTA_EPHEMERAL_LIMIT,
  QUOTA_EPHEMERAL_REQUEST,
  QUOTA_HUGEPAGES,
  QUOTA_MEMORY_LIMIT,
  QUOTA_MEMORY_REQUEST,
  QUOTA_OBJECTS,
  QUOTA_OTHER,
  QUOTA_PVC_COUNT,
  QUOTA_STORAGE_REQUEST,
} from './metrics.js';
import { parseQuantity } from './quantity.js';
import { clusterMeta, type ClusterObject, type ConvertContext, KEEP_NONE, type KindSpec, type PointSink } from './kind.js';

/**
 * ResourceQuotas (core/v1): `status.hard` and `status.used`, each resource name mapped to its
 * semconv family (1.44: `k8s.resourcequota.<resource>.<request|limit>.<hard|used>`), with the
 * storage class, huge page size or object kind as the attribute semconv gives it. A resource name
 * semconv does not cover (an extended resource, `requests.nvidia.com/gpu`) goes to the
 * OpenTelemetry Collector k8s_cluster receiver's generic `k8s.resource_quota.hard_limit` /
 * `.used` with the name in `resource`, as that receiver reports every quota.
 */

export interface ResourceQuotaObject extends ClusterObject {
  /** resource name → amount (cores for CPU, bytes for memory and storage, counts otherwise). */
  readonly hard: Readonly<Record<string, number>>;
  readonly used: Readonly<Record<string, number>>;
}

const MAX_RESOURCES = 128;

function amounts(list: Json, ctx: ConvertContext): Readonly<Record<string, number>> {
  const out: Record<string, number> = {};
  let n = 0;
  for (const k in list) {
    const v = parseQuantity(list[k]);
    if (v === undefined || ++n > MAX_RESOURCES) continue;
    out[ctx.strings.intern(k)] = v;
  }
  return Object.freeze(out);
}

export function convertResourceQuota(raw: unknown, ctx: ConvertContext): ResourceQuotaObject | undefined {
  const meta = clusterMeta(raw, 'ResourceQuota', KEEP_NONE, ctx);
  if (meta === undefined || meta.namespace.length === 0) return undefined;
  const status = objectAt(raw as Json, 'status');
  return { ...meta, hard: amounts(objectAt(status, 'hard'), ctx), used: amounts(objectAt(status, 'used'), ctx) };
}

/** Object kinds a quota counts by their bare name (`pods`); everything else is written `count/<resource>[.<group>]`. */
const COUNTED = new Set(['pods', 'services', 'services.loadbalancers', 'services.nodeports', 'secrets', 'configmaps', 'replicationcontrollers', 'resourcequotas']);

const STORAGE_CLASS_SUFFIX = '.storageclass.storage.k8s.io/';

interface Family {
  readonly metrics: readonly [MetricDescriptor, MetricDescriptor];
  readonly attributes: Attributes;
}

const EMPTY: Attributes = Object.freeze({});
const families = new Map<string, Family>();

/** The family of one resource name; the answers are cached (a cluster's quotas use a handful of names). */
export function quotaFamily(resource: string): Family {
  let f = families.get(resource);
  if (f !== undefined) return f;
  f = classify(resource);
  if (families.size < 1024) families.set(resource, f);
  return f;
}

function classify(r: string): Family {
  const fixed = (metrics: readonly [MetricDescriptor, MetricDescriptor]): Family => ({ metrics, attributes: EMPTY });
  switch (r) {
    case 'cpu':
    case 'requests.cpu':
      return fixed(QUOTA_CPU_REQUEST);
    case 'limits.cpu':
      return fixed(QUOTA_CPU_LIMIT);
    case 'memory':
    case 'requests.memory':
      return fixed(QUOTA_MEMORY_REQUEST);
    case 'limits.memory':
      return fixed(QUOTA_MEMORY_LIMIT);
    case 'requests.storage':
      return fixed(QUOTA_STORAGE_REQUEST);
    case 'persistentvolumeclaims':
      return fixed(QUOTA_PVC_COUNT);
    case 'ephemeral-storage':
    case 'requests.ephemeral-storage':
      return fixed(QUOTA_EPHEMERAL_REQUEST);
    case 'limits.ephemeral-storage':
      return fixed(QUOTA_EPHEMERAL_LIMIT);
  }
  const sc = r.indexOf(STORAGE_CLASS_SUFFIX);
  if (sc > 0) {
    const rest = r.slice(sc + STORAGE_CLASS_SUFFIX.length);
    const attributes = Object.freeze({ 'k8s.storageclass.name': r.slice(0, sc) });
    if (rest === 'requests.storage') return { metrics: QUOTA_STORAGE_REQUEST, attributes };
    if (rest === 'persistentvolumeclaims') return { metrics: QUOTA_PVC_COUNT, attributes };
  }
  const huge = /^(?:requests\.)?hugepages-(.+)$/.exec(r);
  if (huge !== null) return { metrics: QUOTA_HUGEPAGES, attributes: Object.freeze({ 'k8s.hugepage.size': huge[1]! }) };
  if (r.startsWith('count/') || COUNTED.has(r)) return { metrics: QUOTA_OBJECTS, attributes: Object.freeze({ 'k8s.resourcequota.resource_name': r }) };
  return { metrics: QUOTA_OTHER, attributes: Object.freeze({ resource: r }) };
}

function writeSide(amounts: Readonly<Record<string, number>>, side: 0 | 1, sink: PointSink): void {
  for (const r in amounts) {
    const f = quotaFamily(r);
    sink.point(f.metrics[side], f.attributes, amounts[r]!);
  }
}

export const resourceQuotaKind: KindSpec<ResourceQuotaObject> = {
  kind: 'ResourceQuota',
  apiVersion: 'v1',
  resource: 'resourcequotas',
  path: '/api/v1/resourcequotas',
  convert: convertResourceQuota,
  metrics: [
    { metric: QUOTA_OTHER[0], write: (q, sink) => writeSide(q.hard, 0, sink) },
    { metric: QUOTA_OTHER[1], write: (q, sink) => writeSide(q.used, 1, sink) },
  ],
};
