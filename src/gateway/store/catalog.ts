import { ByteMap } from '../../io/byte-map.js';
import { ColumnBatch } from './column-batch.js';
import { containerKey, deriveEntities, type DerivedEntity, type EntityType } from './entities.js';
import { attributesJson, canonicalJson, int64Number, stableHash, type AttrJson, type KeyValueLike } from './otlp-values.js';

/**
 * The store's dimensions in memory: resources, entities and their links, metric descriptors and
 * point attribute sets, each with the small integer or hash id the fact rows carry. Read from
 * the tables at open; afterwards the single writer is the only one who adds to them, so the map
 * is the truth and lookups never touch DuckDB.
 *
 * Changes are made during a batch and are provisional until the batch commits: `commit()` keeps
 * them, `rollback()` forgets every entry the batch added, so the maps never name a row that is
 * not in the tables.
 */

export interface ResourceEntry {
  readonly id: number;
  readonly hash: string;
  /** The resource's own entity (most specific), if its attributes name one. */
  readonly entityId: string | undefined;
  /** Every entity and link the attributes name, touched whenever the resource is seen. */
  readonly entityIds: readonly string[];
  readonly linkKeys: readonly string[];
  lastSeenMs: number;
  writtenSeenMs: number;
}

export interface EntityEntry {
  readonly id: string;
  readonly type: EntityType;
  readonly key: string;
  name: string;
  namespace: string | undefined;
  attributesJson: string;
  readonly source: string;
  readonly firstSeenMs: number;
  lastSeenMs: number;
  writtenSeenMs: number;
  readonly parents: Set<string>;
  readonly children: Set<string>;
  /** Resources whose own entity this is. */
  readonly resources: Set<number>;
}

interface LinkEntry {
  readonly child: string;
  readonly parent: string;
  lastSeenMs: number;
  writtenSeenMs: number;
}

export interface MetricEntry {
  readonly id: number;
  readonly name: string;
  readonly unit: string;
  readonly type: string;
  /** 0 none (gauges), 1 delta, 2 cumulative. */
  readonly temporality: number;
  readonly monotonic: boolean;
}

/** A point attribute set; id 0 is the empty set. */
interface AttrSetEntry {
  readonly id: number;
  readonly json: string;
}

/** An object of the cluster monitor's graph, named by the attributes its records would carry. */
export interface GraphObject {
  readonly attributes: { readonly [key: string]: AttrJson };
  /** Owners and placements (a ReplicaSet's Deployment, a pod's node), named the same way. */
  readonly parents?: readonly { readonly [key: string]: AttrJson }[];
}

/** What a batch adds to the dimension tables, ready for the appenders. */
export interface DimensionRows {
  readonly resources: ColumnBatch;
  readonly entities: ColumnBatch;
  readonly links: ColumnBatch;
  readonly metrics: ColumnBatch;
  readonly attributeSets: ColumnBatch;
}

/** Last-seen times (and changed descriptions) to write for rows that already exist. */
export interface DimensionUpdates {
  readonly resources: { readonly ids: number[]; readonly ms: number[] };
  readonly entities: { readonly ids: string[]; readonly names: string[]; readonly namespaces: (string | null)[]; readonly attributes: string[]; readonly ms: number[] };
  readonly links: { readonly children: string[]; readonly parents: string[]; readonly ms: number[] };
}

interface Undo {
  readonly resources: string[];
  readonly entities: string[];
  readonly links: string[];
  readonly metrics: string[];
  readonly attrSets: string[];
  readonly attrAliases: string[];
  /** Entries whose last-seen write or description was scheduled: their state before. */
  readonly restore: (() => void)[];
}

const EMPTY_ATTRS = '{}';
/** Entries a lookup cache keeps before it starts again (bounds memory against a flood of one-off keys). */
const MAX_ALIASES = 100_000;

function emptyUndo(): Undo {
  return { resources: [], entities: [], links: [], metrics: [], attrSets: [], attrAliases: [], restore: [] };
}

function linkKey(child: string, parent: string): string {
  return `${child}>${parent}`;
}

/**
 * The order-sensitive lookup key of a small attribute list: cheaper to build than canonical JSON
 * and enough to find a set seen before in the same order (nearly always: one sender, one order).
 * Undefined for values other than strings, numbers and booleans: those take the canonical path.
 */
function quickAttrKey(kvs: readonly KeyValueLike[]): string | undefined {
  let key = '';
  for (const kv of kvs) {
    const v = kv.value;
    if (v === null || v === undefined) return undefined;
    let text: string;
    if (Object.hasOwn(v, 'stringValue')) text = `s${v.stringValue ?? ''}`;
    else if (Object.hasOwn(v, 'intValue')) {
      const n = int64Number(v.intValue);
      // Past 2^53 two values could read alike: those take the exact path.
      if (!Number.isSafeInteger(n)) return undefined;
      text = `i${n}`;
    } else if (Object.hasOwn(v, 'doubleValue')) text = `d${v.doubleValue ?? 0}`;
    else if (Object.hasOwn(v, 'boolValue')) text = `b${v.boolValue === true ? 1 : 0}`;
    else return undefined;
    key += `${kv.key ?? ''}\u0001${text}\u0002`;
  }
  return key;
}

export class Catalog {
  readonly #resources = new Map<string, ResourceEntry>();
  readonly #resourcesById = new Map<number, ResourceEntry>();
  readonly #entities = new Map<string, EntityEntry>();
  readonly #links = new Map<string, LinkEntry>();
  readonly #metrics = new Map<string, MetricEntry>();
  readonly #metricsByName = new Map<string, MetricEntry[]>();
  readonly #attrSets = new Map<string, AttrSetEntry>();
  readonly #attrSetsById = new Map<number, AttrSetEntry>();
  /** quickAttrKey → set, so most points never build canonical JSON. */
  readonly #attrAliases = new Map<string, AttrSetEntry>();
  /**
   * quickAttrKey of a resource's attribute list → the resource: a resource seen before is found
   * without sorting, serialising and hashing its attributes (measured: ~10 µs a resource, and an
   * agent's request carries one resource per container). A cache: cleared whenever an entry
   * could name a resource that is gone.
   */
  readonly #resourceAliases = new Map<string, ResourceEntry>();
  /**
   * The encoded `Resource` message (its bytes) → the resource, for the log scanner, which then
   * decodes no attributes at all for a resource seen before. Cleared with #resourceAliases.
   */
  readonly #resourceEncodings = new ByteMap<ResourceEntry>(MAX_ALIASES);
  /** Log record attribute lists → their JSON text (most records of a stream share one). */
  readonly #attrTexts = new Map<string, string>();
  readonly #resolutionMs: number;
  /** Container id → the key of its container entity (pod uid/name), learnt from records with both. */
  readonly #containerKeys = new Map<string, string>();
  readonly #containerKeyOf = (id: string): string | undefined => this.#containerKeys.get(id);
  #nextResourceId = 1;
  #nextMetricId = 1;
  #nextAttrsId = 1;
  #undo: Undo = emptyUndo();
  #rows: DimensionRows;
  #updates: DimensionUpdates;

  constructor(lastSeenResolutionMs: number) {
    this.#resolutionMs = lastSeenResolutionMs;
    this.#rows = Catalog.#emptyRows();
    this.#updates = Catalog.#emptyUpdates();
    const empty: AttrSetEntry = { id: 0, json: EMPTY_ATTRS };
    this.#attrSets.set(EMPTY_ATTRS, empty);
    this.#attrSetsById.set(0, empty);
    this.#attrAliases.set('', empty);
  }

  static #emptyRows(): DimensionRows {
    return {
      resources: new ColumnBatch('resources', ['integer', 'varchar', 'varchar', 'varchar', 'bigint', 'bigint']),
      entities: new ColumnBatch('entities', ['varchar', 'varchar', 'varchar', 'varchar', 'varchar', 'varchar', 'varchar', 'bigint', 'bigint']),
      links: new ColumnBatch('entity_links', ['varchar', 'varchar', 'bigint', 'bigint']),
      metrics: new ColumnBatch('metrics', ['integer', 'varchar', 'varchar', 'varchar', 'utinyint', 'boolean', 'varchar']),
      attributeSets: new ColumnBatch('attribute_sets', ['integer', 'varchar', 'varchar']),
    };
  }

  static #emptyUpdates(): DimensionUpdates {
    return {
      resources: { ids: [], ms: [] },
      entities: { ids: [], names: [], namespaces: [], attributes: [], ms: [] },
      links: { children: [], parents: [], ms: [] },
    };
  }

  // ------------------------------------------------------------------ loading at open

  /** Resources from the table: container ids are learnt from all of them before any is derived. */
  loadResources(rows: readonly { readonly id: number; readonly hash: string; readonly attributes: string; readonly lastSeenMs: number }[]): void {
    const parsed = rows.map((r) => JSON.parse(r.attributes) as { [key: string]: AttrJson });
    for (const a of parsed) this.#learnContainer(a);
    rows.forEach((r, i) => this.#loadResource(r.id, r.hash, parsed[i]!, r.lastSeenMs));
  }

  #learnContainer(attrs: { readonly [key: string]: AttrJson }): void {
    const id = attrs['container.id'];
    if (typeof id !== 'string' || this.#containerKeys.has(id)) return;
    const key = containerKey(attrs);
    if (key !== undefined && key !== id) this.#containerKeys.set(id, key);
  }

  /**
   * Learns which container entity an id belongs to from a request's resources before any of
   * them is resolved, so a process group listed before its container's own series still lands
   * on the container of its pod.
   */
  learnContainers(attributes: readonly KeyValueLike[] | null | undefined): void {
    if (attributes === null || attributes === undefined) return;
    let id: string | undefined;
    let pod = false;
    let name = false;
    for (const kv of attributes) {
      if (kv.key === 'container.id') id = kv.value?.stringValue ?? undefined;
      else if (kv.key === 'k8s.pod.uid') pod = true;
      else if (kv.key === 'k8s.container.name') name = true;
    }
    if (id !== undefined && id !== '' && pod && name && !this.#containerKeys.has(id)) this.#learnContainer(attributesJson(attributes));
  }

  #loadResource(id: number, hash: string, attrs: { [key: string]: AttrJson }, lastSeenMs: number): void {
    const derived = deriveEntities(attrs, this.#containerKeyOf);
    const entry: ResourceEntry = {
      id,
      hash,
      entityId: derived.primary?.id,
      entityIds: derived.entities.map((e) => e.id),
      linkKeys: derived.links.map(([c, p]) => linkKey(c, p)),
      lastSeenMs,
      writtenSeenMs: lastSeenMs,
    };
    this.#resources.set(hash, entry);
    this.#resourcesById.set(id, entry);
    if (id >= this.#nextResourceId) this.#nextResourceId = id + 1;
  }

  loadEntity(id: string, type: EntityType, key: string, name: string, namespace: string | null, attributes: string, source: string, firstSeenMs: number, lastSeenMs: number): void {
    this.#entities.set(id, {
      id,
      type,
      key,
      name,
      namespace: namespace ?? undefined,
      attributesJson: attributes,
      source,
      firstSeenMs,
      lastSeenMs,
      writtenSeenMs: lastSeenMs,
      parents: new Set(),
      children: new Set(),
      resources: new Set(),
    });
  }

  loadLink(child: string, parent: string, lastSeenMs: number): void {
    this.#links.set(linkKey(child, parent), { child, parent, lastSeenMs, writtenSeenMs: lastSeenMs });
    this.#entities.get(child)?.parents.add(parent);
    this.#entities.get(parent)?.children.add(child);
  }

  loadMetric(id: number, name: string, unit: string, type: string, temporality: number, monotonic: boolean): void {
    this.#addMetric({ id, name, unit, type, temporality, monotonic });
    if (id >= this.#nextMetricId) this.#nextMetricId = id + 1;
  }

  loadAttributeSet(id: number, json: string): void {
    const entry = { id, json };
    this.#attrSets.set(json, entry);
    this.#attrSetsById.set(id, entry);
    if (id >= this.#nextAttrsId) this.#nextAttrsId = id + 1;
  }

  /** After loading: ties resources to their entities. */
  finishLoading(): void {
    for (const r of this.#resources.values()) if (r.entityId !== undefined) this.#entities.get(r.entityId)?.resources.add(r.id);
  }

  // ------------------------------------------------------------------ resolving during a batch

  /** The id of a resource (new ones are added with their entities), marked seen at `nowMs`. */
  resource(attributes: readonly KeyValueLike[] | null | undefined, nowMs: number): number {
    const quick = attributes === null || attributes === undefined ? '' : quickAttrKey(attributes);
    if (quick !== undefined) {
      const hit = this.#resourceAliases.get(quick);
      if (hit !== undefined) {
        this.#touchResource(hit, nowMs);
        return hit.id;
      }
    }
    const entry = this.#resolveResource(attributes, nowMs);
    if (quick !== undefined) {
      if (this.#resourceAliases.size >= MAX_ALIASES) this.#resourceAliases.clear();
      this.#resourceAliases.set(quick, entry);
    }
    return entry.id;
  }

  /**
   * The resource whose encoded `Resource` message is `src[start, end)`, marked seen at `nowMs`;
   * undefined when that encoding is not known yet (then `resource` resolves it from its
   * attributes and `rememberEncoding` keeps the answer).
   */
  resourceOfEncoding(src: Uint8Array, start: number, end: number, nowMs: number): number | undefined {
    const hit = this.#resourceEncodings.get(src, start, end);
    if (hit === undefined) return undefined;
    this.#touchResource(hit, nowMs);
    return hit.id;
  }

  /** Remembers that the encoding `src[start, end)` names the resource `id` (just returned by `resource`). */
  rememberEncoding(src: Uint8Array, start: number, end: number, id: number): void {
    const entry = this.#resourcesById.get(id);
    if (entry !== undefined) this.#resourceEncodings.set(src, start, end, entry);
  }

  /** A log record's attributes as JSON text ("{}" for none). */
  attributesText(kvs: readonly KeyValueLike[] | null | undefined): string {
    if (kvs === null || kvs === undefined || kvs.length === 0) return '{}';
    const quick = quickAttrKey(kvs);
    if (quick === undefined) return JSON.stringify(attributesJson(kvs));
    let text = this.#attrTexts.get(quick);
    if (text === undefined) {
      text = JSON.stringify(attributesJson(kvs));
      if (this.#attrTexts.size >= MAX_ALIASES) this.#attrTexts.clear();
      this.#attrTexts.set(quick, text);
    }
    return text;
  }

  #resolveResource(attributes: readonly KeyValueLike[] | null | undefined, nowMs: number): ResourceEntry {
    const attrs = attributesJson(attributes);
    const json = canonicalJson(attrs);
    const hash = stableHash(json);
    let entry = this.#resources.get(hash);
    if (entry === undefined) {
      entry = this.#addResource(hash, json, attrs, nowMs);
    } else {
      this.#touchResource(entry, nowMs);
    }
    return entry;
  }

  #addResource(hash: string, json: string, attrs: { [key: string]: AttrJson }, nowMs: number): ResourceEntry {
    this.#learnContainer(attrs);
    const derived = deriveEntities(attrs, this.#containerKeyOf);
    for (const e of derived.entities) this.#upsertEntity(e, 'otlp', nowMs);
    for (const [c, p] of derived.links) this.#upsertLink(c, p, nowMs);
    const entry: ResourceEntry = {
      id: this.#nextResourceId++,
      hash,
      entityId: derived.primary?.id,
      entityIds: derived.entities.map((e) => e.id),
      linkKeys: derived.links.map(([c, p]) => linkKey(c, p)),
      lastSeenMs: nowMs,
      writtenSeenMs: nowMs,
    };
    this.#resources.set(hash, entry);
    this.#resourcesById.set(entry.id, entry);
    if (entry.entityId !== undefined) this.#entities.get(entry.entityId)?.resources.add(entry.id);
    this.#undo.resources.push(hash);
    this.#rows.resources.add(entry.id, hash, entry.entityId ?? null, json, nowMs, nowMs);
    return entry;
  }

  #touchResource(r: ResourceEntry, nowMs: number): void {
    // Seen within the second: its entities and links were touched then.
    if (nowMs - r.lastSeenMs < 1_000) return;
    r.lastSeenMs = nowMs;
    if (nowMs - r.writtenSeenMs >= this.#resolutionMs) {
      const before = r.writtenSeenMs;
      this.#undo.restore.push(() => (r.writtenSeenMs = before));
      r.writtenSeenMs = nowMs;
      this.#updates.resources.ids.push(r.id);
      this.#updates.resources.ms.push(nowMs);
    }
    for (const id of r.entityIds) {
      const e = this.#entities.get(id);
      if (e !== undefined) this.#touchEntity(e, nowMs, false);
    }
    for (const k of r.linkKeys) {
      const l = this.#links.get(k);
      if (l !== undefined) this.#touchLink(l, nowMs);
    }
  }

  #upsertEntity(d: DerivedEntity, source: string, nowMs: number): void {
    const existing = this.#entities.get(d.id);
    if (existing === undefined) {
      const json = canonicalJson(d.attributes);
      const e: EntityEntry = {
        id: d.id,
        type: d.type,
        key: d.key,
        name: d.name,
        namespace: d.namespace,
        attributesJson: json,
        source,
        firstSeenMs: nowMs,
        lastSeenMs: nowMs,
        writtenSeenMs: nowMs,
        parents: new Set(),
        children: new Set(),
        resources: new Set(),
      };
      this.#entities.set(d.id, e);
      this.#undo.entities.push(d.id);
      this.#rows.entities.add(e.id, e.type, e.key, e.name, e.namespace ?? null, json, source, nowMs, nowMs);
      return;
    }
    // Another resource of the same entity (a container seen from its own series and from a
    // process group's): what each says about it is merged, the newer value winning.
    const merged = canonicalJson({ ...(JSON.parse(existing.attributesJson) as { [key: string]: AttrJson }), ...d.attributes });
    const richerName = d.name !== existing.name && d.name !== d.key && (existing.name === existing.key || existing.name === existing.key.slice(0, 12));
    if (merged !== existing.attributesJson || richerName || (existing.namespace === undefined && d.namespace !== undefined)) {
      const before = { name: existing.name, namespace: existing.namespace, json: existing.attributesJson, written: existing.writtenSeenMs };
      this.#undo.restore.push(() => {
        existing.name = before.name;
        existing.namespace = before.namespace;
        existing.attributesJson = before.json;
        existing.writtenSeenMs = before.written;
      });
      if (richerName) existing.name = d.name;
      existing.namespace ??= d.namespace;
      existing.attributesJson = merged;
      this.#touchEntity(existing, nowMs, true);
    } else {
      this.#touchEntity(existing, nowMs, false);
    }
  }

  #touchEntity(e: EntityEntry, nowMs: number, changed: boolean): void {
    if (nowMs > e.lastSeenMs) e.lastSeenMs = nowMs;
    if (!changed && nowMs - e.writtenSeenMs < this.#resolutionMs) return;
    if (!changed) {
      const before = e.writtenSeenMs;
      this.#undo.restore.push(() => (e.writtenSeenMs = before));
    }
    e.writtenSeenMs = nowMs;
    const u = this.#updates.entities;
    u.ids.push(e.id);
    u.names.push(e.name);
    u.namespaces.push(e.namespace ?? null);
    u.attributes.push(e.attributesJson);
    u.ms.push(e.lastSeenMs);
  }

  #upsertLink(child: string, parent: string, nowMs: number): void {
    if (child === parent) return;
    const key = linkKey(child, parent);
    const existing = this.#links.get(key);
    if (existing !== undefined) {
      this.#touchLink(existing, nowMs);
      return;
    }
    this.#links.set(key, { child, parent, lastSeenMs: nowMs, writtenSeenMs: nowMs });
    this.#entities.get(child)?.parents.add(parent);
    this.#entities.get(parent)?.children.add(child);
    this.#undo.links.push(key);
    this.#rows.links.add(child, parent, nowMs, nowMs);
  }

  #touchLink(l: LinkEntry, nowMs: number): void {
    if (nowMs > l.lastSeenMs) l.lastSeenMs = nowMs;
    if (nowMs - l.writtenSeenMs < this.#resolutionMs) return;
    const before = l.writtenSeenMs;
    this.#undo.restore.push(() => (l.writtenSeenMs = before));
    l.writtenSeenMs = nowMs;
    this.#updates.links.children.push(l.child);
    this.#updates.links.parents.push(l.parent);
    this.#updates.links.ms.push(nowMs);
  }

  /** Objects of the cluster monitor's graph: their entities, their own chain and the links to the parents given. */
  recordObject(o: GraphObject, nowMs: number): void {
    const self = deriveEntities(o.attributes);
    for (const e of self.entities) this.#upsertEntity(e, 'cluster', nowMs);
    for (const [c, p] of self.links) this.#upsertLink(c, p, nowMs);
    if (self.primary === undefined) return;
    for (const parentAttrs of o.parents ?? []) {
      const parent = deriveEntities(parentAttrs);
      if (parent.primary === undefined) continue;
      for (const e of parent.entities) this.#upsertEntity(e, 'cluster', nowMs);
      for (const [c, p] of parent.links) this.#upsertLink(c, p, nowMs);
      this.#upsertLink(self.primary.id, parent.primary.id, nowMs);
    }
  }

  /** The id of a metric descriptor (name, unit, type, temporality, monotonic). */
  metric(name: string, unit: string, type: string, temporality: number, monotonic: boolean, description: string): number {
    const key = `${name}\u0001${unit}\u0001${type}\u0001${temporality}\u0001${monotonic ? 1 : 0}`;
    const found = this.#metrics.get(key);
    if (found !== undefined) return found.id;
    const entry: MetricEntry = { id: this.#nextMetricId++, name, unit, type, temporality, monotonic };
    this.#addMetric(entry);
    this.#undo.metrics.push(key);
    this.#rows.metrics.add(entry.id, name, unit, type, temporality, monotonic, description);
    return entry.id;
  }

  #addMetric(m: MetricEntry): void {
    this.#metrics.set(`${m.name}\u0001${m.unit}\u0001${m.type}\u0001${m.temporality}\u0001${m.monotonic ? 1 : 0}`, m);
    let list = this.#metricsByName.get(m.name);
    if (list === undefined) this.#metricsByName.set(m.name, (list = []));
    list.push(m);
  }

  /** The id of a point's attribute set (0 for none). */
  attributeSet(kvs: readonly KeyValueLike[] | null | undefined): number {
    if (kvs === null || kvs === undefined || kvs.length === 0) return 0;
    const quick = quickAttrKey(kvs);
    if (quick !== undefined) {
      const hit = this.#attrAliases.get(quick);
      if (hit !== undefined) return hit.id;
    }
    const json = canonicalJson(attributesJson(kvs));
    let entry = this.#attrSets.get(json);
    if (entry === undefined) {
      entry = { id: this.#nextAttrsId++, json };
      this.#attrSets.set(json, entry);
      this.#attrSetsById.set(entry.id, entry);
      this.#undo.attrSets.push(json);
      this.#rows.attributeSets.add(entry.id, stableHash(json), json);
    }
    if (quick !== undefined) {
      this.#attrAliases.set(quick, entry);
      this.#undo.attrAliases.push(quick);
    }
    return entry.id;
  }

  // ------------------------------------------------------------------ batch lifecycle

  /** Rows the current batch adds to the dimension tables. */
  get rows(): DimensionRows {
    return this.#rows;
  }

  get updates(): DimensionUpdates {
    return this.#updates;
  }

  /** The batch committed: its additions stay. */
  commit(): void {
    this.#undo = emptyUndo();
    this.#clearBatch();
  }

  /** The batch failed: every entry it added is forgotten and every change undone. */
  rollback(): void {
    const u = this.#undo;
    for (let i = u.restore.length - 1; i >= 0; i--) u.restore[i]!();
    for (const k of u.links) {
      const l = this.#links.get(k);
      this.#links.delete(k);
      if (l !== undefined) {
        this.#entities.get(l.child)?.parents.delete(l.parent);
        this.#entities.get(l.parent)?.children.delete(l.child);
      }
    }
    for (const hash of u.resources) {
      const r = this.#resources.get(hash);
      this.#resources.delete(hash);
      if (r !== undefined) {
        this.#resourcesById.delete(r.id);
        if (r.entityId !== undefined) this.#entities.get(r.entityId)?.resources.delete(r.id);
      }
    }
    for (const id of u.entities) this.#entities.delete(id);
    for (const key of u.metrics) {
      const m = this.#metrics.get(key);
      this.#metrics.delete(key);
      if (m !== undefined) {
        const list = this.#metricsByName.get(m.name)?.filter((x) => x !== m) ?? [];
        if (list.length === 0) this.#metricsByName.delete(m.name);
        else this.#metricsByName.set(m.name, list);
      }
    }
    for (const json of u.attrSets) {
      const a = this.#attrSets.get(json);
      this.#attrSets.delete(json);
      if (a !== undefined) this.#attrSetsById.delete(a.id);
    }
    for (const quick of u.attrAliases) this.#attrAliases.delete(quick);
    if (u.resources.length > 0) {
      this.#resourceAliases.clear();
      this.#resourceEncodings.clear();
    }
    this.#undo = emptyUndo();
    this.#clearBatch();
  }

  #clearBatch(): void {
    for (const b of Object.values(this.#rows)) (b as ColumnBatch).clear();
    this.#updates = Catalog.#emptyUpdates();
  }

  /**
   * Forgets resources, entities and links last seen before `cutoffMs` and returns what to delete
   * (within a batch: a rollback brings them back).
   */
  forgetBefore(cutoffMs: number): { resources: number[]; entities: string[]; links: [string, string][] } {
    const out = { resources: [] as number[], entities: [] as string[], links: [] as [string, string][] };
    const restore = this.#undo.restore;
    this.#resourceAliases.clear();
    this.#resourceEncodings.clear();
    for (const [hash, r] of this.#resources) {
      if (r.lastSeenMs >= cutoffMs) continue;
      this.#resources.delete(hash);
      this.#resourcesById.delete(r.id);
      const owner = r.entityId !== undefined ? this.#entities.get(r.entityId) : undefined;
      owner?.resources.delete(r.id);
      restore.push(() => {
        this.#resources.set(hash, r);
        this.#resourcesById.set(r.id, r);
        owner?.resources.add(r.id);
      });
      out.resources.push(r.id);
    }
    for (const [key, l] of this.#links) {
      if (l.lastSeenMs >= cutoffMs) continue;
      this.#links.delete(key);
      const c = this.#entities.get(l.child);
      const p = this.#entities.get(l.parent);
      c?.parents.delete(l.parent);
      p?.children.delete(l.child);
      restore.push(() => {
        this.#links.set(key, l);
        c?.parents.add(l.parent);
        p?.children.add(l.child);
      });
      out.links.push([l.child, l.parent]);
    }
    for (const [id, e] of this.#entities) {
      if (e.lastSeenMs >= cutoffMs) continue;
      this.#entities.delete(id);
      restore.push(() => this.#entities.set(id, e));
      out.entities.push(id);
    }
    return out;
  }

  // ------------------------------------------------------------------ reading (query API)

  entity(id: string): EntityEntry | undefined {
    return this.#entities.get(id);
  }

  /** The own entity of a resource (undefined when its attributes name none, or it is unknown). */
  entityOfResource(resourceId: number): EntityEntry | undefined {
    const r = this.#resourcesById.get(resourceId);
    return r?.entityId === undefined ? undefined : this.#entities.get(r.entityId);
  }

  /** Every entity below `id` (children, their children …), without `id`; bounded by the graph's size. */
  descendants(id: string): Set<string> {
    const out = new Set<string>();
    const stack = [id];
    while (stack.length > 0) {
      const e = this.#entities.get(stack.pop()!);
      if (e === undefined) continue;
      for (const c of e.children) {
        if (c === id || out.has(c)) continue;
        out.add(c);
        stack.push(c);
      }
    }
    return out;
  }

  /** Resource ids whose own entity is `id` or below it. */
  resourcesUnder(id: string): number[] {
    const out: number[] = [];
    const e = this.#entities.get(id);
    if (e === undefined) return out;
    for (const r of e.resources) out.push(r);
    for (const d of this.descendants(id)) for (const r of this.#entities.get(d)?.resources ?? []) out.push(r);
    return out;
  }

  /** Entities of a type. */
  entitiesOfType(type: EntityType): EntityEntry[] {
    const out: EntityEntry[] = [];
    for (const e of this.#entities.values()) if (e.type === type) out.push(e);
    return out;
  }

  /** A point attribute set's canonical JSON (undefined for an id not known). */
  attributesOfSet(id: number): string | undefined {
    return this.#attrSetsById.get(id)?.json;
  }

  metricsNamed(name: string): readonly MetricEntry[] {
    return this.#metricsByName.get(name) ?? [];
  }

  metricNames(): string[] {
    return [...this.#metricsByName.keys()].sort();
  }

  /** Attribute set ids whose attributes include every `key = value` given (values compared as text). */
  attributeSetsMatching(filters: readonly (readonly [string, string])[]): number[] {
    const out: number[] = [];
    for (const a of this.#attrSets.values()) {
      const attrs = JSON.parse(a.json) as { [key: string]: AttrJson };
      let ok = true;
      for (const [k, v] of filters) {
        const have = attrs[k];
        if (have === undefined || (typeof have === 'string' ? have : JSON.stringify(have)) !== v) {
          ok = false;
          break;
        }
      }
      if (ok) out.push(a.id);
    }
    return out;
  }

  get sizes(): { resources: number; entities: number; links: number; metrics: number; attributeSets: number } {
    return { resources: this.#resources.size, entities: this.#entities.size, links: this.#links.size, metrics: this.#metrics.size, attributeSets: this.#attrSets.size };
  }
}
