import { ENTITY_TYPES, isEntityType, type EntityType } from '../store/entities.js';
import type { Catalog, EntityEntry, QueryParam, Row } from '../store/index.js';
import { ApiError, badParameter } from './envelope.js';
import type { Params } from './params.js';

/**
 * What the query API needs of the store. The gateway's `TelemetryStore` fits; the API owns the
 * interface, so it depends on no more than this (and never loads DuckDB itself).
 */
export interface ApiStore {
  readonly state: 'ready' | 'unavailable' | 'closed';
  readonly problem: { readonly message: string; readonly recovery: string; readonly problem: string } | undefined;
  readonly catalog: Catalog | undefined;
  /** Raw points before this (Unix ms) exist only as 1-minute rollups. */
  readonly rollupWatermarkMs: number;
  readonly file: string;
  /** Request bytes accepted and not yet committed (queries do not see them yet). */
  readonly pendingBytes: number;
  now(): number;
  query(sql: string, params: readonly QueryParam[], timeoutMs: number): Promise<Row[]>;
}

/** One request's view: the open store, its catalog, the clock and the bounds. */
export interface QueryContext {
  readonly store: ApiStore;
  readonly catalog: Catalog;
  readonly nowMs: number;
  readonly timeoutMs: number;
  readonly maxRows: number;
  /** The request's query string (for cursor fingerprints). */
  readonly query: URLSearchParams;
  /** The endpoint's path pattern, e.g. /api/v1/logs. */
  readonly endpoint: string;
}

/** Runs a statement within the request's deadline. */
export function run(ctx: QueryContext, sql: string, params: readonly QueryParam[]): Promise<Row[]> {
  return ctx.store.query(sql, params, ctx.timeoutMs);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** RFC 3339 with nanoseconds, from a decimal nanosecond count. */
export function isoNano(ns: string | number): string {
  const n = BigInt(ns);
  const ms = Number(n / 1_000_000n);
  const rest = (n % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${rest}Z`;
}

export interface EntityRef {
  readonly id: string;
  readonly type: EntityType;
  readonly name: string;
}

export function entityRef(e: EntityEntry): EntityRef {
  return { id: e.id, type: e.type, name: e.name };
}

/** The entity a resource belongs to, as a reference (null when none). */
export function resourceEntity(ctx: QueryContext, resourceId: number): EntityRef | null {
  const e = ctx.catalog.entityOfResource(resourceId);
  return e === undefined ? null : entityRef(e);
}

/** The entities a request names (`entity`, or `workload` with `namespace`), each with the resources under it. */
export interface Selection {
  readonly groups: readonly { readonly entity: EntityEntry; readonly resources: readonly number[] }[];
}

/** Most entities one request may name, and most a type filter may select. */
export const MAX_NAMED_ENTITIES = 100;
export const MAX_SELECTED_ENTITIES = 2_000;

/**
 * Entities from `entity=<id>` (repeatable), or `workload=<name>` (in `namespace` when given), or
 * — where `byType` — `type=<type>` with `namespace` and `parent`. Undefined when none is given.
 */
export function selectEntities(ctx: QueryContext, p: Params, byType: boolean): Selection | undefined {
  const ids = p.entityIds('entity', MAX_NAMED_ENTITIES);
  const workload = p.text('workload');
  const namespace = p.text('namespace');
  const type = byType ? p.text('type') : undefined;
  const parent = byType ? p.entityIds('parent', 1)[0] : undefined;
  const given = [ids.length > 0, workload !== undefined, type !== undefined].filter(Boolean).length;
  if (given > 1) throw badParameter(ids.length > 0 ? 'entity' : 'workload', byType ? 'give one of entity, workload or type' : 'give entity or workload, not both');
  const cat = ctx.catalog;
  let entities: EntityEntry[];
  if (ids.length > 0) {
    entities = ids.map((id) => {
      const e = cat.entity(id);
      if (e === undefined) throw new ApiError('not_found', `parameter "entity": no entity ${id}`, { parameter: 'entity' });
      return e;
    });
  } else if (workload !== undefined) {
    entities = cat.entitiesOfType('workload').filter((e) => e.name === workload && (namespace === undefined || e.namespace === namespace));
  } else if (type !== undefined) {
    if (!isEntityType(type)) throw badParameter('type', `must be one of ${ENTITY_TYPES.join(', ')}`);
    if (parent !== undefined && cat.entity(parent) === undefined) throw new ApiError('not_found', `parameter "parent": no entity ${parent}`, { parameter: 'parent' });
    entities = cat.entitiesOfType(type).filter((e) => (namespace === undefined || e.namespace === namespace) && (parent === undefined || e.parents.has(parent)));
    if (entities.length > MAX_SELECTED_ENTITIES) throw badParameter('type', `selects ${entities.length} entities, more than ${MAX_SELECTED_ENTITIES}; narrow it with namespace or parent`);
  } else {
    if (namespace !== undefined) {
      entities = cat.entitiesOfType('namespace').filter((e) => e.name === namespace);
    } else {
      return undefined;
    }
  }
  return { groups: entities.map((entity) => ({ entity, resources: cat.resourcesUnder(entity.id) })) };
}

/**
 * Collects statement parameters as a query is put together from constant fragments: `p(v)`
 * adds a value and returns its placeholder ($1, $2 …). Only the code's own fragments become
 * SQL text; every value from a request is a parameter.
 */
export class Statement {
  readonly params: QueryParam[] = [];

  p(value: QueryParam): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}
