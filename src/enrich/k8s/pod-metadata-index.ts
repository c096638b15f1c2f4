import { type Attributes, attributesKey } from '../../model/index.js';
import type { NamespaceMeta, PodMeta } from './objects.js';
import type { CompiledRules } from './pod-attributes.js';
import type { ReflectorHandler } from './reflector.js';
import type { Workload } from './workload.js';

/** A pod's attributes from the API, frozen, with the version they were last changed at. */
export interface PodMetadata {
  readonly attributes: Attributes;
  readonly version: number;
}

/**
 * What sources read: a synchronous lookup by pod uid (from the runtime or the cgroup path) or by
 * namespace/name. `version` moves, and listeners are told, only when some pod's attribute set
 * actually changed (not on every status update of a pod), so a source that caches resources
 * rebuilds them when the version it built from is behind, and not otherwise.
 */
export interface PodMetadataLookup {
  readonly version: number;
  byUid(uid: string): PodMetadata | undefined;
  byName(namespace: string, name: string): PodMetadata | undefined;
  onChange(listener: () => void): void;
}

/** How a pod's workload is found (WorkloadResolver; a plain function in tests). */
export interface WorkloadSource {
  resolve(pod: PodMeta): Workload;
}

class Entry implements PodMetadata {
  attributes: Attributes;
  key: string;
  version: number;
  /** When the API said it was deleted (ms); 0 while it lives. */
  deletedAt = 0;
  constructor(
    public pod: PodMeta,
    attributes: Attributes,
    key: string,
    version: number,
  ) {
    this.attributes = attributes;
    this.key = key;
    this.version = version;
  }
}

export interface PodMetadataIndexOptions {
  readonly rules: CompiledRules;
  readonly workloads: WorkloadSource;
  /** This node's name: pods of other nodes are ignored, and it fills k8s.node.name. */
  readonly nodeName: string | undefined;
  /**
   * How long a deleted pod's metadata is kept: its last log lines are read after the API has
   * deleted it, and they still belong to its workload and cost center.
   */
  readonly deletedGraceMs?: number;
  readonly now?: () => number;
}

export class PodMetadataIndex implements PodMetadataLookup {
  readonly #o: PodMetadataIndexOptions;
  readonly #pods = new Map<string, Entry>();
  readonly #byName = new Map<string, string>();
  readonly #namespaces = new Map<string, NamespaceMeta>();
  readonly #listeners: Array<() => void> = [];
  readonly #graceMs: number;
  readonly #now: () => number;
  #clusterUid: string | undefined;
  #version = 0;
  #changed = false;

  constructor(options: PodMetadataIndexOptions) {
    this.#o = options;
    this.#graceMs = options.deletedGraceMs ?? 5 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  get version(): number {
    return this.#version;
  }

  /** Live pods known. */
  get pods(): number {
    let n = 0;
    for (const e of this.#pods.values()) if (e.deletedAt === 0) n++;
    return n;
  }

  get namespaces(): number {
    return this.#namespaces.size;
  }

  get clusterUid(): string | undefined {
    return this.#clusterUid;
  }

  byUid(uid: string): PodMetadata | undefined {
    return this.#pods.get(uid);
  }

  byName(namespace: string, name: string): PodMetadata | undefined {
    const uid = this.#byName.get(`${namespace}/${name}`);
    return uid === undefined ? undefined : this.#pods.get(uid);
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** The reflector's handler for this node's pods. */
  readonly podHandler: ReflectorHandler<PodMeta> = {
    replace: (items) => {
      const seen = new Set<string>();
      for (const p of items) {
        if (!this.#onThisNode(p)) continue;
        seen.add(p.uid);
        this.#put(p);
      }
      for (const [uid, e] of this.#pods) if (!seen.has(uid)) this.#markDeleted(e);
      this.#sweep();
      this.#notify();
    },
    upsert: (p) => {
      if (this.#onThisNode(p)) this.#put(p);
      else {
        // Moved off this node in our view (not something the API does; a field selector bug).
        const e = this.#pods.get(p.uid);
        if (e !== undefined) this.#markDeleted(e);
      }
      this.#sweep();
      this.#notify();
    },
    remove: (p) => {
      const e = this.#pods.get(p.uid);
      if (e !== undefined) this.#markDeleted(e);
      this.#sweep();
    },
  };

  /** The reflector's handler for namespaces. */
  readonly namespaceHandler: ReflectorHandler<NamespaceMeta> = {
    replace: (items) => {
      this.#namespaces.clear();
      for (const ns of items) this.#namespaces.set(ns.name, ns);
      this.#clusterUid = this.#namespaces.get('kube-system')?.uid ?? this.#clusterUid;
      this.#recomputeAll();
      this.#notify();
    },
    upsert: (ns) => {
      this.#namespaces.set(ns.name, ns);
      if (ns.name === 'kube-system' && ns.uid !== this.#clusterUid) {
        this.#clusterUid = ns.uid;
        this.#recomputeAll();
      } else this.#recomputeNamespace(ns.name);
      this.#notify();
    },
    remove: (ns) => {
      this.#namespaces.delete(ns.name);
      this.#recomputeNamespace(ns.name);
      this.#notify();
    },
  };

  /** Owner lookups finished (or may be retried): every pod is resolved again. */
  workloadsSettled(): void {
    this.#recomputeAll();
    this.#notify();
  }

  #onThisNode(p: PodMeta): boolean {
    const node = this.#o.nodeName;
    return node === undefined || p.nodeName.length === 0 || p.nodeName === node;
  }

  #put(p: PodMeta): void {
    const e = this.#pods.get(p.uid);
    if (e === undefined) {
      const attrs = this.#compute(p);
      const key = attributesKey(attrs);
      this.#pods.set(p.uid, new Entry(p, attrs, key, this.#bump()));
      this.#byName.set(`${p.namespace}/${p.name}`, p.uid);
      return;
    }
    e.pod = p;
    e.deletedAt = 0;
    this.#byName.set(`${p.namespace}/${p.name}`, p.uid);
    this.#recompute(e);
  }

  #recompute(e: Entry): void {
    const attrs = this.#compute(e.pod);
    const key = attributesKey(attrs);
    if (key === e.key) return;
    e.attributes = attrs;
    e.key = key;
    e.version = this.#bump();
  }

  #recomputeAll(): void {
    for (const e of this.#pods.values()) this.#recompute(e);
  }

  #recomputeNamespace(name: string): void {
    for (const e of this.#pods.values()) if (e.pod.namespace === name) this.#recompute(e);
  }

  #compute(p: PodMeta): Attributes {
    const ns = this.#namespaces.get(p.namespace);
    return Object.freeze(this.#o.rules.podAttributes(p, ns, this.#o.workloads.resolve(p), this.#clusterUid, this.#o.nodeName));
  }

  #bump(): number {
    this.#changed = true;
    return ++this.#version;
  }

  #markDeleted(e: Entry): void {
    if (e.deletedAt === 0) e.deletedAt = this.#now();
  }

  /** Lets go of pods deleted longer ago than the grace period (no version change: nothing new to add). */
  #sweep(): void {
    const before = this.#now() - this.#graceMs;
    for (const [uid, e] of this.#pods) {
      if (e.deletedAt === 0 || e.deletedAt > before) continue;
      this.#pods.delete(uid);
      const k = `${e.pod.namespace}/${e.pod.name}`;
      if (this.#byName.get(k) === uid) this.#byName.delete(k);
    }
  }

  #notify(): void {
    if (!this.#changed) return;
    this.#changed = false;
    for (const l of this.#listeners) l();
  }
}
