import { type Attributes, attributesKey } from '../../model/index.js';
import type { NamespaceMeta, PodContainerStatus, PodMeta } from './objects.js';
import type { CompiledRules } from './pod-attributes.js';
import type { ReflectorHandler } from './reflector.js';
import type { Workload } from './workload.js';

/** A pod's attributes from the API, frozen, with the version they were last changed at. */
export interface PodMetadata {
  readonly attributes: Attributes;
  readonly version: number;
  /** The pod's containers as its status reports them (name, runtime id, restarts). */
  readonly containers: readonly PodContainerStatus[];
  /** A host-network pod shares the node's address: its IP identifies no pod. */
  readonly hostNetwork: boolean;
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
  /**
   * The live, non-host-network pod of this node with that IP (the receiver's sender), or
   * undefined. `isPodAddress` is also true for host-network pods' addresses: a pod of this node
   * sent it, though which one the address cannot say.
   */
  byIp(ip: string): PodMetadata | undefined;
  isPodAddress(ip: string): boolean;
  /** The live pod one of whose containers has this runtime id (from its status). */
  byContainerId(id: string): PodMetadata | undefined;
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
  get containers(): readonly PodContainerStatus[] {
    return this.pod.containers;
  }
  get hostNetwork(): boolean {
    return this.pod.hostNetwork;
  }
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
  /** Pod IP → uid of the live pod holding it (host-network pods in #hostIps instead). */
  readonly #byIp = new Map<string, string>();
  /** Addresses of live host-network pods (the node's own), with how many pods share each. */
  readonly #hostIps = new Map<string, number>();
  /** Runtime container id → uid of the live pod it belongs to. */
  readonly #byContainer = new Map<string, string>();
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

  byIp(ip: string): PodMetadata | undefined {
    const uid = this.#byIp.get(ip);
    return uid === undefined ? undefined : this.#pods.get(uid);
  }

  byContainerId(id: string): PodMetadata | undefined {
    const uid = this.#byContainer.get(id);
    return uid === undefined ? undefined : this.#pods.get(uid);
  }

  isPodAddress(ip: string): boolean {
    return this.#byIp.has(ip) || this.#hostIps.has(ip);
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
    // IPs arrive with status updates that change no attribute: index them on every put.
    if (e !== undefined && e.deletedAt === 0) this.#unindexIps(e.pod);
    this.#indexIps(p);
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
    // A deleted pod's address may go to the next pod at once: it stops naming this one now.
    if (e.deletedAt === 0) this.#unindexIps(e.pod);
    if (e.deletedAt === 0) e.deletedAt = this.#now();
  }

  #indexIps(p: PodMeta): void {
    for (const c of p.containers) if (c.id.length > 0) this.#byContainer.set(c.id, p.uid);
    for (const ip of p.ips) {
      if (p.hostNetwork) this.#hostIps.set(ip, (this.#hostIps.get(ip) ?? 0) + 1);
      else this.#byIp.set(ip, p.uid);
    }
  }

  #unindexIps(p: PodMeta): void {
    for (const c of p.containers) if (this.#byContainer.get(c.id) === p.uid) this.#byContainer.delete(c.id);
    for (const ip of p.ips) {
      if (p.hostNetwork) {
        const n = (this.#hostIps.get(ip) ?? 1) - 1;
        if (n <= 0) this.#hostIps.delete(ip);
        else this.#hostIps.set(ip, n);
      } else if (this.#byIp.get(ip) === p.uid) this.#byIp.delete(ip);
    }
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
