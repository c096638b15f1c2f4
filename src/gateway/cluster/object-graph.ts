import type { OwnerRef } from '../../enrich/k8s/objects.js';
import type { ReflectorHandler } from '../../enrich/k8s/reflector.js';
import { PENDING, resolveWorkload, type OwnerAnswer, type Workload } from '../../enrich/k8s/workload.js';
import type { ClusterObject } from './kinds/kind.js';
import type { NamespaceObject } from './kinds/namespace.js';
import type { NodeObject } from './kinds/node.js';
import type { PodObject } from './kinds/pod.js';
import type { PvcObject } from './kinds/pvc.js';
import type { ServiceObject } from './kinds/service.js';

/**
 * The cluster as the monitor last heard it from the API: every watched object, cut down to the
 * fields Sextant uses (kinds/), and the edges between them — ownership (container → pod →
 * ReplicaSet → Deployment, pod → Job → CronJob, …, by controller reference), pod → node, pod →
 * PersistentVolumeClaim, Service → pods by label selector. The cluster metrics read it each
 * interval; the store, the explorer and problem detection (milestone 2) read it through
 * `ClusterGraph`.
 *
 * Built for size (the target is ≤ 2 KB retained per pod with 5,000 pods, BENCHMARKS.md): one map
 * per kind by uid, a name index for the kinds that are looked up by name (not pods: nothing refers
 * to a pod by name), and three sets of objects (pods by node, pods by namespace, objects by their
 * controller's uid). Service → pods
 * is evaluated when asked, over the pods of the service's namespace, rather than stored.
 *
 * Bad data is counted, never thrown: an owner reference to an object that is not there, a chain
 * of owners that loops, an owner of a kind that is not watched (`problems()`).
 */

/** What the store, the explorer and problem detection read. Every answer is from memory, synchronous. */
export interface ClusterGraph {
  /** Moves on every change; a reader that caches derived data compares it. */
  readonly version: number;
  /** kube-system's uid: `k8s.cluster.uid`. */
  readonly clusterUid: string | undefined;
  /** Whether the kind has been listed at least once since monitoring started. */
  synced(kind: string): boolean;
  count(kind: string): number;
  objects<T extends ClusterObject = ClusterObject>(kind: string): IterableIterator<T>;
  get<T extends ClusterObject = ClusterObject>(kind: string, uid: string): T | undefined;
  /** By namespace and name (namespace '' for nodes and namespaces); pods are found by scanning their namespace. */
  find<T extends ClusterObject = ClusterObject>(kind: string, namespace: string, name: string): T | undefined;
  namespace(name: string): NamespaceObject | undefined;
  /** The object's controller, when it is watched and present. */
  owner(o: ClusterObject): ClusterObject | undefined;
  /** The controllers above `o`, nearest first, up to the root; a loop ends the walk (and is counted). */
  owners(o: ClusterObject): ClusterObject[];
  /** Objects whose controller is `uid`. */
  children(uid: string): ClusterObject[];
  podsOnNode(nodeName: string): PodObject[];
  podsInNamespace(namespace: string): PodObject[];
  nodeOf(pod: PodObject): NodeObject | undefined;
  claimsOf(pod: PodObject): PvcObject[];
  podsOf(service: ServiceObject): PodObject[];
  servicesOf(pod: PodObject): ServiceObject[];
  /** The pod's workload as the agents name it (src/enrich/k8s/workload.ts), from the watched ReplicaSets and Jobs. */
  workloadOf(pod: PodObject): Workload;
}

export interface GraphProblems {
  /** Controller references to an object of a watched kind that is not there (its kind is synced). */
  readonly ownerMissing: number;
  /** Objects whose chain of controllers loops back on itself. */
  readonly ownerCycle: number;
  /** Controller references to a kind that is not watched (an operator's custom resource). */
  readonly ownerUnknownKind: number;
}

/** Longest chain of owners followed; real chains are 2 or 3 links. */
const MAX_OWNER_DEPTH = 16;

const NAME_INDEXED = new Set(['Namespace', 'Node', 'ReplicaSet', 'Job', 'Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'PersistentVolumeClaim', 'Service', 'HorizontalPodAutoscaler', 'ResourceQuota']);
const MIDDLE_KINDS = new Set(['ReplicaSet', 'Job']);

export class ObjectGraph implements ClusterGraph {
  readonly #objects = new Map<string, Map<string, ClusterObject>>();
  readonly #names = new Map<string, Map<string, string>>();
  // Sets of the objects themselves: an index entry costs a pointer, no string of its own.
  readonly #children = new Map<string, Set<ClusterObject>>();
  readonly #podsByNode = new Map<string, Set<ClusterObject>>();
  readonly #podsByNamespace = new Map<string, Set<ClusterObject>>();
  readonly #synced = new Set<string>();
  readonly #watched: ReadonlySet<string>;
  #version = 0;
  #clusterUid: string | undefined;

  constructor(kinds: readonly string[]) {
    this.#watched = new Set(kinds);
    for (const k of kinds) {
      this.#objects.set(k, new Map());
      if (NAME_INDEXED.has(k)) this.#names.set(k, new Map());
    }
  }

  get version(): number {
    return this.#version;
  }

  get clusterUid(): string | undefined {
    return this.#clusterUid;
  }

  synced(kind: string): boolean {
    return this.#synced.has(kind);
  }

  count(kind: string): number {
    return this.#objects.get(kind)?.size ?? 0;
  }

  /** Objects of every kind. */
  get size(): number {
    let n = 0;
    for (const m of this.#objects.values()) n += m.size;
    return n;
  }

  objects<T extends ClusterObject = ClusterObject>(kind: string): IterableIterator<T> {
    return ((this.#objects.get(kind) ?? new Map<string, T>()) as Map<string, T>).values();
  }

  get<T extends ClusterObject = ClusterObject>(kind: string, uid: string): T | undefined {
    return this.#objects.get(kind)?.get(uid) as T | undefined;
  }

  find<T extends ClusterObject = ClusterObject>(kind: string, namespace: string, name: string): T | undefined {
    const names = this.#names.get(kind);
    if (names !== undefined) {
      const uid = names.get(`${namespace}/${name}`);
      return uid === undefined ? undefined : this.get<T>(kind, uid);
    }
    if (kind === 'Pod') return this.podsInNamespace(namespace).find((p) => p.name === name) as T | undefined;
    for (const o of this.objects<T>(kind)) if (o.namespace === namespace && o.name === name) return o;
    return undefined;
  }

  namespace(name: string): NamespaceObject | undefined {
    return this.find<NamespaceObject>('Namespace', '', name);
  }

  owner(o: ClusterObject): ClusterObject | undefined {
    return this.#resolve(o.namespace, o.controller);
  }

  owners(o: ClusterObject): ClusterObject[] {
    const out: ClusterObject[] = [];
    const seen = new Set<string>([o.uid]);
    let at: ClusterObject | undefined = o;
    while (out.length < MAX_OWNER_DEPTH) {
      const up: ClusterObject | undefined = this.owner(at);
      if (up === undefined || seen.has(up.uid)) break;
      seen.add(up.uid);
      out.push(up);
      at = up;
    }
    return out;
  }

  children(uid: string): ClusterObject[] {
    const set = this.#children.get(uid);
    return set === undefined ? [] : [...set];
  }

  podsOnNode(nodeName: string): PodObject[] {
    return this.#pods(this.#podsByNode.get(nodeName));
  }

  podsInNamespace(namespace: string): PodObject[] {
    return this.#pods(this.#podsByNamespace.get(namespace));
  }

  nodeOf(pod: PodObject): NodeObject | undefined {
    return pod.nodeName.length === 0 ? undefined : this.find<NodeObject>('Node', '', pod.nodeName);
  }

  claimsOf(pod: PodObject): PvcObject[] {
    const out: PvcObject[] = [];
    for (const c of pod.claims) {
      const pvc = this.find<PvcObject>('PersistentVolumeClaim', pod.namespace, c);
      if (pvc !== undefined) out.push(pvc);
    }
    return out;
  }

  podsOf(service: ServiceObject): PodObject[] {
    const sel = service.selector;
    if (sel === undefined) return [];
    return this.podsInNamespace(service.namespace).filter((p) => selects(sel, p.labels));
  }

  servicesOf(pod: PodObject): ServiceObject[] {
    const out: ServiceObject[] = [];
    for (const s of this.objects<ServiceObject>('Service')) {
      if (s.namespace === pod.namespace && s.selector !== undefined && selects(s.selector, pod.labels)) out.push(s);
    }
    return out;
  }

  workloadOf(pod: PodObject): Workload {
    return resolveWorkload(pod, this.#middleOwner);
  }

  /** The reflector's handler for one kind: a full list replaces what was known of it. */
  handler<T extends ClusterObject>(kind: string): ReflectorHandler<T> {
    const map = this.#objects.get(kind);
    if (map === undefined) throw new RangeError(`kind ${kind} is not in this graph`);
    return {
      replace: (items) => {
        const keep = new Set<string>();
        for (const o of items) {
          keep.add(o.uid);
          this.#put(map, o);
        }
        for (const [uid, o] of map) if (!keep.has(uid)) this.#delete(map, o);
        this.#synced.add(kind);
        this.#version++;
      },
      upsert: (o) => {
        this.#put(map, o);
        this.#version++;
      },
      remove: (o) => {
        const have = map.get(o.uid);
        if (have !== undefined) this.#delete(map, have);
        this.#version++;
      },
    };
  }

  /** Forgets everything (monitoring stopped: this replica lost the lease). */
  clear(): void {
    for (const m of this.#objects.values()) m.clear();
    for (const m of this.#names.values()) m.clear();
    this.#children.clear();
    this.#podsByNode.clear();
    this.#podsByNamespace.clear();
    this.#synced.clear();
    this.#clusterUid = undefined;
    this.#version++;
  }

  /** The bad references in the graph now; counted each interval, never thrown. */
  problems(): GraphProblems {
    let ownerMissing = 0;
    let ownerCycle = 0;
    let ownerUnknownKind = 0;
    for (const [kind, map] of this.#objects) {
      for (const o of map.values()) {
        const c = o.controller;
        if (c === undefined) continue;
        if (!this.#watched.has(c.kind)) {
          // A ReplicationController's pods are resolved without it; an operator's kind is its own root.
          ownerUnknownKind++;
          continue;
        }
        if (this.#resolve(o.namespace, c) === undefined) {
          if (this.#synced.has(c.kind)) ownerMissing++;
          continue;
        }
        if (kind !== 'Pod' && this.#loops(o)) ownerCycle++;
      }
    }
    // A pod in a loop of its owners is counted through the owners themselves.
    return { ownerMissing, ownerCycle, ownerUnknownKind };
  }

  #loops(o: ClusterObject): boolean {
    const seen = new Set<string>([o.uid]);
    let at: ClusterObject | undefined = o;
    for (let i = 0; i < MAX_OWNER_DEPTH; i++) {
      at = this.owner(at!);
      if (at === undefined) return false;
      if (seen.has(at.uid)) return true;
      seen.add(at.uid);
    }
    return true;
  }

  readonly #middleOwner = (namespace: string, ref: OwnerRef): OwnerAnswer => {
    if (!MIDDLE_KINDS.has(ref.kind)) return PENDING;
    const middle = this.#resolve(namespace, ref);
    return middle === undefined ? PENDING : { state: 'known', owner: middle.controller };
  };

  #resolve(namespace: string, ref: OwnerRef | undefined): ClusterObject | undefined {
    if (ref === undefined) return undefined;
    const map = this.#objects.get(ref.kind);
    if (map === undefined) return undefined;
    if (ref.uid.length > 0) {
      const o = map.get(ref.uid);
      // Same name, other uid: a deleted-and-recreated owner is not this one.
      return o;
    }
    return this.find(ref.kind, namespace, ref.name);
  }

  #pods(set: Set<ClusterObject> | undefined): PodObject[] {
    return set === undefined ? [] : ([...set] as PodObject[]);
  }

  #put(map: Map<string, ClusterObject>, o: ClusterObject): void {
    const old = map.get(o.uid);
    if (old !== undefined) this.#unindex(old);
    map.set(o.uid, o);
    this.#index(o);
  }

  #delete(map: Map<string, ClusterObject>, o: ClusterObject): void {
    map.delete(o.uid);
    this.#unindex(o);
  }

  #index(o: ClusterObject): void {
    this.#names.get(o.kind)?.set(`${o.namespace}/${o.name}`, o.uid);
    if (o.controller !== undefined && o.controller.uid.length > 0) addTo(this.#children, o.controller.uid, o);
    if (o.kind === 'Pod') {
      const p = o as PodObject;
      if (p.nodeName.length > 0) addTo(this.#podsByNode, p.nodeName, p);
      addTo(this.#podsByNamespace, p.namespace, p);
    } else if (o.kind === 'Namespace' && o.name === 'kube-system') this.#clusterUid = o.uid;
  }

  #unindex(o: ClusterObject): void {
    const names = this.#names.get(o.kind);
    const nk = `${o.namespace}/${o.name}`;
    if (names !== undefined && names.get(nk) === o.uid) names.delete(nk);
    if (o.controller !== undefined && o.controller.uid.length > 0) removeFrom(this.#children, o.controller.uid, o);
    if (o.kind === 'Pod') {
      const p = o as PodObject;
      if (p.nodeName.length > 0) removeFrom(this.#podsByNode, p.nodeName, p);
      removeFrom(this.#podsByNamespace, p.namespace, p);
    }
  }
}

function addTo(index: Map<string, Set<ClusterObject>>, key: string, value: ClusterObject): void {
  let set = index.get(key);
  if (set === undefined) {
    set = new Set();
    index.set(key, set);
  }
  set.add(value);
}

function removeFrom(index: Map<string, Set<ClusterObject>>, key: string, value: ClusterObject): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}

/** Equality-based selection, as a Service's `spec.selector` means it: every key present with that value. */
export function selects(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const k in selector) if (labels[k] !== selector[k]) return false;
  return true;
}
