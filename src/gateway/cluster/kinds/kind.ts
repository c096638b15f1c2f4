import { type KeyFilter, objectMeta, type ObjectMeta, type OwnerRef } from '../../../enrich/k8s/objects.js';
import type { Attributes, MetricDescriptor } from '../../../model/index.js';
import type { Json, StringTable } from './json-fields.js';

/**
 * What every kind module (`kinds/<kind>.ts`) declares: where the API lists and watches the kind,
 * how one object of it is cut down to the fields Sextant keeps, and the table of metric families
 * computed from that kept object alone — no state between intervals, as kube-state-metrics'
 * stores do it (internal/store/<kind>.go).
 */

/** An object as the graph keeps it: its metadata (only what is used) and its kind. */
export interface ClusterObject extends ObjectMeta {
  readonly kind: string;
}

/** What a converter needs besides the object. */
export interface ConvertContext {
  /** Shares repeated strings (namespaces, node names, images, label values) between objects. */
  readonly strings: StringTable;
  /** Which pod annotations are kept (what the attribute rules read); pods keep every label for service selectors. */
  readonly podFilter: KeyFilter;
  readonly namespaceFilter: KeyFilter;
}

/** Where one metric point goes: written by the tables, collected by the interval. */
export interface PointSink {
  point(metric: MetricDescriptor, attributes: Attributes, value: number): void;
}

/** One metric family of a kind: writes its points for one object. */
export interface MetricRow<T> {
  readonly metric: MetricDescriptor;
  write(object: T, sink: PointSink): void;
}

export type MetricTable<T> = readonly MetricRow<T>[];

export interface KindSpec<T extends ClusterObject> {
  /** `Deployment` */
  readonly kind: string;
  /** `apps/v1` */
  readonly apiVersion: string;
  /** `deployments`: the plural the API and RBAC use, and the `resource` label of self-metrics. */
  readonly resource: string;
  /** `/apis/apps/v1/deployments`: the cluster-wide list and watch. */
  readonly path: string;
  /** The kept object, or undefined for anything not in the API's shape. */
  convert(raw: unknown, ctx: ConvertContext): T | undefined;
  readonly metrics: MetricTable<T>;
}

const EMPTY: Attributes = Object.freeze({});

/** A family with one point per object and no attributes; skipped while `value` is undefined. */
export function single<T>(metric: MetricDescriptor, value: (o: T) => number | undefined): MetricRow<T> {
  return {
    metric,
    write(o, sink) {
      const v = value(o);
      if (v !== undefined) sink.point(metric, EMPTY, v);
    },
  };
}

/**
 * A state family (semconv's "all possible values are reported, only the current one is
 * non-zero"): one point per known value of `key`, 1 for the object's current value. A current
 * value outside the known ones gets its own point, so nothing is hidden.
 */
export function stateSet<T>(metric: MetricDescriptor, key: string, values: readonly string[], current: (o: T) => string): MetricRow<T> {
  const sets = values.map((v) => Object.freeze({ [key]: v }) as Attributes);
  return {
    metric,
    write(o, sink) {
      const now = current(o);
      let known = false;
      for (let i = 0; i < values.length; i++) {
        const hit = values[i] === now;
        if (hit) known = true;
        sink.point(metric, sets[i]!, hit ? 1 : 0);
      }
      if (!known && now.length > 0) sink.point(metric, { [key]: now }, 1);
    },
  };
}

/** Frozen attribute sets for a condition type × its three statuses, made once per type seen. */
export class ConditionSets {
  readonly #typeKey: string;
  readonly #statusKey: string;
  readonly #sets = new Map<string, readonly [Attributes, Attributes, Attributes]>();

  constructor(typeKey: string, statusKey: string) {
    this.#typeKey = typeKey;
    this.#statusKey = statusKey;
  }

  /** `[true, false, unknown]` sets of one condition type. */
  of(type: string): readonly [Attributes, Attributes, Attributes] {
    let s = this.#sets.get(type);
    if (s === undefined) {
      const t = this.#typeKey;
      const st = this.#statusKey;
      s = [Object.freeze({ [t]: type, [st]: 'true' }), Object.freeze({ [t]: type, [st]: 'false' }), Object.freeze({ [t]: type, [st]: 'unknown' })];
      // Condition types are few (Ready, MemoryPressure, …); a flood of made-up ones is not kept.
      if (this.#sets.size < 256) this.#sets.set(type, s);
    }
    return s;
  }
}

/**
 * Conditions (`status.conditions[]` of pods and nodes) semconv's way: every (type, status) pair
 * of each condition the object has, 1 for its current status.
 */
export function conditionRows<T>(metric: MetricDescriptor, sets: ConditionSets, conditions: (o: T) => Readonly<Record<string, string>>): MetricRow<T> {
  return {
    metric,
    write(o, sink) {
      const c = conditions(o);
      for (const type in c) {
        const status = c[type];
        const [t, f, u] = sets.of(type);
        sink.point(metric, t, status === 'True' ? 1 : 0);
        sink.point(metric, f, status === 'False' ? 1 : 0);
        sink.point(metric, u, status === 'True' || status === 'False' ? 0 : 1);
      }
    },
  };
}

/** Labels and annotations a non-pod object keeps: none (its metrics and attributes do not read them). */
export const KEEP_NONE: KeyFilter = Object.freeze({ label: () => false, annotation: () => false });

/**
 * The object's metadata with the kind, its namespace and controller shared through the string
 * table; undefined without a uid and a name, or when the object says it is of another kind
 * (list items carry no kind; watch events and GETs do).
 */
export function clusterMeta(raw: unknown, kind: string, filter: KeyFilter, ctx: ConvertContext): ClusterObject | undefined {
  const declared = (raw as Json | null)?.['kind'];
  if (declared !== undefined && declared !== kind) return undefined;
  const m = objectMeta(raw, filter);
  if (m === undefined) return undefined;
  const s = ctx.strings;
  let labels = m.labels;
  if (Object.keys(labels).length > 0) {
    const shared: Record<string, string> = {};
    for (const k in labels) shared[k] = s.intern(labels[k]!);
    labels = Object.freeze(shared);
  }
  return {
    kind,
    uid: m.uid,
    name: m.name,
    namespace: s.intern(m.namespace),
    resourceVersion: m.resourceVersion,
    labels,
    annotations: m.annotations,
    controller: m.controller === undefined ? undefined : internRef(m.controller, s),
  };
}

function internRef(r: OwnerRef, s: StringTable): OwnerRef {
  // One reference object for all the objects one owner has (a ReplicaSet's pods).
  return s.share(`ref\u0000${r.uid}\u0000${r.kind}\u0000${r.name}\u0000${r.apiVersion}`, () => Object.freeze({ apiVersion: s.intern(r.apiVersion), kind: s.intern(r.kind), name: s.intern(r.name), uid: s.intern(r.uid) }));
}
