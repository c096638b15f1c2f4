import type { Resource, Scope } from '../../model/index.js';

/**
 * Assigns each record of a batch to a (resource, scope) group, so a resource is encoded once
 * per batch however many records carry it. Resources match by object identity first and by
 * `key` second (an equal resource rebuilt by a source still lands in the same group); scopes
 * match by identity. Groups keep first-seen order, records keep their order within a group.
 * One instance per encoder, reused across batches: no per-record allocation.
 */
export class ResourceScopeGroups {
  readonly #byIdentity = new Map<Resource, number>();
  readonly #byKey = new Map<string, number>();
  /** Representative resource of each resource group. */
  resources: Resource[] = [];
  resourceCount = 0;
  /** First and last scope group of each resource group (linked through `scopeNext`). */
  resourceFirstScope = new Int32Array(64);
  #resourceLastScope = new Int32Array(64);

  scopes: Scope[] = [];
  scopeCount = 0;
  scopeNext = new Int32Array(64);
  scopeResource = new Int32Array(64);

  #lastResource: Resource | undefined;
  #lastScope: Scope | undefined;
  #lastGroup = -1;

  reset(): void {
    this.#byIdentity.clear();
    this.#byKey.clear();
    this.resources.length = 0;
    this.scopes.length = 0;
    this.resourceCount = 0;
    this.scopeCount = 0;
    this.#lastResource = undefined;
    this.#lastScope = undefined;
    this.#lastGroup = -1;
  }

  /** The scope group of a record with this resource and scope. */
  groupOf(resource: Resource, scope: Scope): number {
    // Records arrive in runs from one source; skipping the map lookups for a run is the common case.
    if (resource === this.#lastResource && scope === this.#lastScope) return this.#lastGroup;
    let r = this.#byIdentity.get(resource);
    if (r === undefined) {
      r = this.#byKey.get(resource.key);
      if (r === undefined) r = this.#addResource(resource);
      this.#byIdentity.set(resource, r);
    }
    let g = this.resourceFirstScope[r] as number;
    while (g !== -1 && this.scopes[g] !== scope) g = this.scopeNext[g] as number;
    if (g === -1) g = this.#addScope(r, scope);
    this.#lastResource = resource;
    this.#lastScope = scope;
    this.#lastGroup = g;
    return g;
  }

  #addResource(resource: Resource): number {
    const r = this.resourceCount++;
    if (r === this.resourceFirstScope.length) {
      this.resourceFirstScope = grow(this.resourceFirstScope);
      this.#resourceLastScope = grow(this.#resourceLastScope);
    }
    this.resources.push(resource);
    this.resourceFirstScope[r] = -1;
    this.#resourceLastScope[r] = -1;
    this.#byKey.set(resource.key, r);
    return r;
  }

  #addScope(r: number, scope: Scope): number {
    const g = this.scopeCount++;
    if (g === this.scopeNext.length) {
      this.scopeNext = grow(this.scopeNext);
      this.scopeResource = grow(this.scopeResource);
    }
    this.scopes.push(scope);
    this.scopeNext[g] = -1;
    this.scopeResource[g] = r;
    const last = this.#resourceLastScope[r] as number;
    if (last === -1) this.resourceFirstScope[r] = g;
    else this.scopeNext[last] = g;
    this.#resourceLastScope[r] = g;
    return g;
  }
}

export function grow(a: Int32Array, min = 0): Int32Array<ArrayBuffer> {
  let size = a.length * 2;
  while (size < min) size *= 2;
  const next = new Int32Array(size);
  next.set(a);
  return next;
}

export function growFloat(a: Float64Array, min = 0): Float64Array<ArrayBuffer> {
  let size = a.length * 2;
  while (size < min) size *= 2;
  const next = new Float64Array(size);
  next.set(a);
  return next;
}

/**
 * Stable counting sort of record indexes by group: `fill[k]` holds the first output slot of
 * group `k` (and is advanced in place); `order` receives, slot by slot, the index of the record
 * that goes there. Records keep their batch order within a group.
 */
export function placeByGroup(groupOf: Int32Array, n: number, fill: Int32Array, order: Int32Array): void {
  for (let i = 0; i < n; i++) {
    const g = groupOf[i] as number;
    const p = fill[g] as number;
    fill[g] = p + 1;
    order[p] = i;
  }
}
