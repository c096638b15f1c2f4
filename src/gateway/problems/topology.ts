import type { EntityType } from '../store/entities.js';

/**
 * The topology problems walk: container → pod → workload → namespace, pod → node (host),
 * process group → container (the store's entity links, which the agents' resources and the
 * cluster monitor's objects both feed), plus pod → node from the cluster monitor's graph where
 * it runs, and service → service from spans (peers).
 */

export interface EntityInfo {
  readonly id: string;
  readonly type: EntityType;
  readonly name: string;
  readonly parents: ReadonlySet<string>;
}

/** Entities by id (the store's catalog fits). */
export interface EntityLookup {
  entity(id: string): EntityInfo | undefined;
}

/** Longest chain of parents followed (real chains are 4 or 5). */
const MAX_DEPTH = 12;

export class Topology {
  readonly #lookup: EntityLookup;
  readonly #extraParents: ReadonlyMap<string, ReadonlySet<string>>;
  readonly #peers: ReadonlyMap<string, ReadonlySet<string>>;
  readonly #ancestors = new Map<string, Set<string>>();

  /**
   * `extraParents`: child → parents the lookup does not hold (pod → node from the cluster
   * graph); `peers`: entities that call each other (services, both directions).
   */
  constructor(lookup: EntityLookup, extraParents: ReadonlyMap<string, ReadonlySet<string>> = new Map(), peers: ReadonlyMap<string, ReadonlySet<string>> = new Map()) {
    this.#lookup = lookup;
    this.#extraParents = extraParents;
    this.#peers = peers;
  }

  entity(id: string): EntityInfo | undefined {
    return this.#lookup.entity(id);
  }

  parents(id: string): string[] {
    const own = this.#lookup.entity(id)?.parents ?? new Set<string>();
    const extra = this.#extraParents.get(id);
    return extra === undefined ? [...own] : [...new Set([...own, ...extra])];
  }

  /** Every entity above `id` (bounded depth; loops end the walk). */
  ancestors(id: string): ReadonlySet<string> {
    const cached = this.#ancestors.get(id);
    if (cached !== undefined) return cached;
    const out = new Set<string>();
    let level = [id];
    for (let d = 0; d < MAX_DEPTH && level.length > 0; d++) {
      const next: string[] = [];
      for (const x of level) {
        for (const p of this.parents(x)) {
          if (p === id || out.has(p)) continue;
          out.add(p);
          next.push(p);
        }
      }
      level = next;
    }
    this.#ancestors.set(id, out);
    return out;
  }

  /** The nearest ancestor of a type (the pod of a container, the host of a pod). */
  ancestorOfType(id: string, type: EntityType): string | undefined {
    if (this.entity(id)?.type === type) return id;
    for (const a of this.ancestors(id)) if (this.entity(a)?.type === type) return a;
    return undefined;
  }

  /**
   * Whether signals on `a` and `b` belong to one problem: one above the other, the same pod or
   * workload, calling services, or — when both are about a shared resource (`contention`:
   * CPU, memory, node pressure) — the same node. A node is above everything on it, so a
   * signal of the node itself joins what runs there only when it concerns the whole node
   * (`nodeWide`: NotReady, pressure, a reboot) — a full /tmp does not explain an OOM kill.
   */
  related(a: string, b: string, contention: boolean, nodeWide: { readonly a: boolean; readonly b: boolean } = { a: true, b: true }): boolean {
    if (a === b) return true;
    const aa = this.ancestors(a);
    const ab = this.ancestors(b);
    if (aa.has(b)) return contention || nodeWide.b || this.entity(b)?.type !== 'host';
    if (ab.has(a)) return contention || nodeWide.a || this.entity(a)?.type !== 'host';
    if (this.#peers.get(a)?.has(b) === true || this.#peers.get(b)?.has(a) === true) return true;
    for (const x of aa) {
      if (!ab.has(x)) continue;
      const t = this.entity(x)?.type;
      if (t === 'pod' || t === 'workload') return true;
      if (t === 'host' && contention) return true;
    }
    return false;
  }
}
