import type { NamespaceMeta } from '../../../enrich/k8s/objects.js';
import { type Json, objectAt, stringAt } from './json-fields.js';
import * as M from './metrics.js';
import { clusterMeta, type ClusterObject, type ConvertContext, type KindSpec, stateSet } from './kind.js';

/**
 * Namespaces (core/v1): the phase, and the labels and annotations the attribute rules read
 * (cost allocation, allow-lists). kube-system's uid is the cluster's (k8s.cluster.uid).
 */

export interface NamespaceObject extends ClusterObject, NamespaceMeta {
  /** `Active` or `Terminating`. */
  readonly phase: string;
}

export function convertNamespace(raw: unknown, ctx: ConvertContext): NamespaceObject | undefined {
  const meta = clusterMeta(raw, 'Namespace', ctx.namespaceFilter, ctx);
  if (meta === undefined) return undefined;
  return { ...meta, namespace: '', phase: ctx.strings.intern(stringAt(objectAt(raw as Json, 'status'), 'phase')) };
}

export const namespaceKind: KindSpec<NamespaceObject> = {
  kind: 'Namespace',
  apiVersion: 'v1',
  resource: 'namespaces',
  path: '/api/v1/namespaces',
  convert: convertNamespace,
  // semconv's values are lower case; the API's phase is `Active` / `Terminating`.
  metrics: [stateSet(M.NAMESPACE_PHASE, 'k8s.namespace.phase', ['active', 'terminating'], (n) => n.phase.toLowerCase())],
};
