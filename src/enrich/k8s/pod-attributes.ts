import type { AttrValue } from '../../model/index.js';
import { KeyMatcher } from './key-matcher.js';
import type { KeyFilter, NamespaceMeta, PodIdentity } from './objects.js';
import type { Workload } from './workload.js';

/**
 * The attributes the Kubernetes API adds to a pod's records (its containers', its logs', its
 * events'): the workload, the cluster, selected labels and annotations, and Dynatrace metadata —
 * cost allocation (`dt.cost.costcenter`, `dt.cost.product`) included.
 *
 * Dynatrace metadata follows the Dynatrace Operator's enrichment: an annotation
 * `metadata.dynatrace.com/<key>` on the pod becomes attribute `<key>`; the same annotation on the
 * pod's namespace applies to the pod unless the pod has its own (pod over namespace); configured
 * rules (a label `team` → `dt.cost.costcenter`) come between the two, as the Operator's
 * namespace rules do. The identity attributes computed here always win over an annotation that
 * names the same key.
 */

export const DT_METADATA_PREFIX = 'metadata.dynatrace.com/';
export const COST_CENTER = 'dt.cost.costcenter';
export const COST_PRODUCT = 'dt.cost.product';

/** Where a cost rule reads its value. */
export interface SourceRef {
  readonly scope: 'pod' | 'namespace';
  readonly kind: 'label' | 'annotation';
  readonly key: string;
}

export interface EnrichmentRules {
  /** `k8s.cluster.name`; empty: not set. */
  readonly clusterName: string;
  readonly podLabels: readonly string[];
  readonly podAnnotations: readonly string[];
  readonly namespaceLabels: readonly string[];
  readonly namespaceAnnotations: readonly string[];
  /** Tried in order; the first that has a value gives `dt.cost.costcenter`. */
  readonly costCenterFrom: readonly SourceRef[];
  readonly productFrom: readonly SourceRef[];
}

/** Most attributes taken from metadata.dynatrace.com annotations per pod (a bound on resource size). */
const MAX_DT_KEYS = 32;
/** An attribute key taken from an annotation: what OTel and Dynatrace accept, bounded. */
const ATTRIBUTE_KEY = /^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$/;
/** Longest attribute value taken from a label or an annotation. */
const MAX_VALUE = 1024;

function cap(v: string): string {
  return v.length > MAX_VALUE ? v.slice(0, MAX_VALUE) : v;
}

/** The rules compiled once: matchers for the allow-lists and the key filters for the converters. */
export class CompiledRules {
  readonly clusterName: string;
  readonly #podLabels: KeyMatcher;
  readonly #podAnnotations: KeyMatcher;
  readonly #nsLabels: KeyMatcher;
  readonly #nsAnnotations: KeyMatcher;
  readonly #costCenter: readonly SourceRef[];
  readonly #product: readonly SourceRef[];
  /** Which keys the pod converter keeps: only what some rule reads. */
  readonly podFilter: KeyFilter;
  readonly namespaceFilter: KeyFilter;

  constructor(rules: EnrichmentRules) {
    this.clusterName = rules.clusterName;
    this.#podLabels = new KeyMatcher(rules.podLabels);
    this.#podAnnotations = new KeyMatcher(rules.podAnnotations);
    this.#nsLabels = new KeyMatcher(rules.namespaceLabels);
    this.#nsAnnotations = new KeyMatcher(rules.namespaceAnnotations);
    this.#costCenter = rules.costCenterFrom;
    this.#product = rules.productFrom;
    const wanted = (scope: SourceRef['scope'], kind: SourceRef['kind']): ReadonlySet<string> =>
      new Set([...rules.costCenterFrom, ...rules.productFrom].filter((r) => r.scope === scope && r.kind === kind).map((r) => r.key));
    const podLabelKeys = wanted('pod', 'label');
    const podAnnotationKeys = wanted('pod', 'annotation');
    const nsLabelKeys = wanted('namespace', 'label');
    const nsAnnotationKeys = wanted('namespace', 'annotation');
    const podLabels = this.#podLabels;
    const podAnnotations = this.#podAnnotations;
    const nsLabels = this.#nsLabels;
    const nsAnnotations = this.#nsAnnotations;
    this.podFilter = {
      // pod-template-hash: names the Deployment when its ReplicaSet cannot be read (workload.ts).
      label: (k) => k === 'pod-template-hash' || podLabelKeys.has(k) || podLabels.matches(k),
      annotation: (k) => k.startsWith(DT_METADATA_PREFIX) || podAnnotationKeys.has(k) || podAnnotations.matches(k),
    };
    this.namespaceFilter = {
      label: (k) => nsLabelKeys.has(k) || nsLabels.matches(k),
      annotation: (k) => k.startsWith(DT_METADATA_PREFIX) || nsAnnotationKeys.has(k) || nsAnnotations.matches(k),
    };
  }

  /** Every attribute the API adds for this pod. */
  podAttributes(pod: PodIdentity, ns: NamespaceMeta | undefined, workload: Workload, clusterUid: string | undefined, nodeName: string | undefined): Record<string, AttrValue> {
    const a: Record<string, AttrValue> = {};
    // Lowest first: namespace metadata, then rules, then the pod's own metadata.
    if (ns !== undefined) dynatraceMetadata(a, ns.annotations);
    this.#rule(a, COST_CENTER, this.#costCenter, pod, ns);
    this.#rule(a, COST_PRODUCT, this.#product, pod, ns);
    dynatraceMetadata(a, pod.annotations);

    for (const k in pod.labels) if (this.#podLabels.matches(k)) a[`k8s.pod.label.${k}`] = cap(pod.labels[k]!);
    for (const k in pod.annotations) if (this.#podAnnotations.matches(k)) a[`k8s.pod.annotation.${k}`] = cap(pod.annotations[k]!);
    if (ns !== undefined) {
      for (const k in ns.labels) if (this.#nsLabels.matches(k)) a[`k8s.namespace.label.${k}`] = cap(ns.labels[k]!);
      for (const k in ns.annotations) if (this.#nsAnnotations.matches(k)) a[`k8s.namespace.annotation.${k}`] = cap(ns.annotations[k]!);
    }

    // Identity last: what the API says the pod is wins over any annotation naming these keys.
    a['k8s.pod.uid'] = pod.uid;
    a['k8s.pod.name'] = pod.name;
    a['k8s.namespace.name'] = pod.namespace;
    const node = pod.nodeName.length > 0 ? pod.nodeName : nodeName;
    if (node !== undefined && node.length > 0) a['k8s.node.name'] = node;
    if (this.clusterName.length > 0) a['k8s.cluster.name'] = this.clusterName;
    if (clusterUid !== undefined) a['k8s.cluster.uid'] = clusterUid;
    for (const k in workload.attributes) a[k] = workload.attributes[k]!;
    a['k8s.workload.kind'] = workload.kind;
    a['k8s.workload.name'] = workload.name;
    return a;
  }

  /**
   * The attributes of an object that is not a pod (a workload, a quota, a claim) in namespace
   * `ns`: what the namespace gives its pods — Dynatrace metadata, cost rules that read the
   * namespace, allow-listed namespace labels and annotations — and the cluster. Identity
   * attributes of the object itself are the caller's.
   */
  namespaceAttributes(namespace: string, ns: NamespaceMeta | undefined, clusterUid: string | undefined): Record<string, AttrValue> {
    const a: Record<string, AttrValue> = {};
    if (ns !== undefined) {
      dynatraceMetadata(a, ns.annotations);
      this.#rule(a, COST_CENTER, this.#costCenter, undefined, ns);
      this.#rule(a, COST_PRODUCT, this.#product, undefined, ns);
      for (const k in ns.labels) if (this.#nsLabels.matches(k)) a[`k8s.namespace.label.${k}`] = cap(ns.labels[k]!);
      for (const k in ns.annotations) if (this.#nsAnnotations.matches(k)) a[`k8s.namespace.annotation.${k}`] = cap(ns.annotations[k]!);
    }
    if (namespace.length > 0) a['k8s.namespace.name'] = namespace;
    if (this.clusterName.length > 0) a['k8s.cluster.name'] = this.clusterName;
    if (clusterUid !== undefined) a['k8s.cluster.uid'] = clusterUid;
    return a;
  }

  #rule(a: Record<string, AttrValue>, target: string, sources: readonly SourceRef[], pod: PodIdentity | undefined, ns: NamespaceMeta | undefined): void {
    for (const s of sources) {
      const meta = s.scope === 'pod' ? pod : ns;
      if (meta === undefined) continue;
      const v = s.kind === 'label' ? meta.labels[s.key] : meta.annotations[s.key];
      if (v !== undefined && v.length > 0) {
        a[target] = cap(v);
        return;
      }
    }
  }
}

/** `metadata.dynatrace.com/<key>: value` → `<key>: value`, for keys that are attribute names. */
function dynatraceMetadata(a: Record<string, AttrValue>, annotations: Readonly<Record<string, string>>): void {
  let n = 0;
  for (const k in annotations) {
    if (!k.startsWith(DT_METADATA_PREFIX)) continue;
    const key = k.slice(DT_METADATA_PREFIX.length);
    if (!ATTRIBUTE_KEY.test(key)) continue;
    if (++n > MAX_DT_KEYS) return;
    a[key] = cap(annotations[k]!);
  }
}
