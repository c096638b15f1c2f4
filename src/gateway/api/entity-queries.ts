import { ENTITY_TYPES, isEntityType, type EntityType } from '../store/entities.js';
import type { EntityEntry } from '../store/index.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import { ApiError, badParameter } from './envelope.js';
import type { Params } from './params.js';
import { entityRef, iso, run, type EntityRef, type QueryContext } from './query-context.js';

/**
 * Entities: a page of one type with their latest key metrics, and one entity with its
 * attributes, parents and children. The graph comes from the store's catalog (memory); the
 * metrics from the last five minutes of points.
 */

interface KeyMetric {
  readonly metric: string;
  /** Only series with this point attribute … */
  readonly include?: readonly [string, string];
  /** … or all but those with this one. */
  readonly exclude?: readonly [string, string];
}

interface KeyMetrics {
  readonly cpu?: KeyMetric;
  readonly memory?: KeyMetric;
  /** Summed over the pods below (workloads, namespaces, clusters). */
  readonly fromPods?: boolean;
}

const POD: KeyMetrics = { cpu: { metric: 'k8s.pod.cpu.usage' }, memory: { metric: 'k8s.pod.memory.working_set' } };
const PROCESS: KeyMetrics = { cpu: { metric: 'process.cpu.utilization' }, memory: { metric: 'process.memory.usage' } };

/** What "CPU" and "memory" are for each type: cores and working set where the agent reports them. */
const KEY_METRICS: Readonly<Record<EntityType, KeyMetrics>> = {
  cluster: { ...POD, fromPods: true },
  host: { cpu: { metric: 'system.cpu.utilization', exclude: ['state', 'idle'] }, memory: { metric: 'system.memory.usage', include: ['state', 'used'] } },
  namespace: { ...POD, fromPods: true },
  workload: { ...POD, fromPods: true },
  pod: POD,
  container: { cpu: { metric: 'container.cpu.usage' }, memory: { metric: 'container.memory.working_set' } },
  process_group: PROCESS,
  process: PROCESS,
  service: {},
};

/** "Latest" is the newest point within this long before now. */
const LATEST_LOOKBACK_MS = 5 * 60_000;
const MAX_CHILDREN = 1_000;

interface Latest {
  value: number;
  unit: string;
  timeMs: number;
}

type KeyValues = { cpu: Latest | null; memory: Latest | null };

function parents(ctx: QueryContext, e: EntityEntry): EntityRef[] {
  const out: EntityRef[] = [];
  for (const id of e.parents) {
    const p = ctx.catalog.entity(id);
    if (p !== undefined) out.push(entityRef(p));
  }
  return out.sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
}

function entityJson(ctx: QueryContext, e: EntityEntry, key: KeyValues | undefined): Record<string, unknown> {
  const latest = (l: Latest | null | undefined): unknown => (l === null || l === undefined ? null : { value: l.value, unit: l.unit, time: iso(l.timeMs) });
  return {
    id: e.id,
    type: e.type,
    name: e.name,
    namespace: e.namespace ?? null,
    attributes: JSON.parse(e.attributesJson) as unknown,
    firstSeen: iso(e.firstSeenMs),
    lastSeen: iso(e.lastSeenMs),
    parents: parents(ctx, e),
    metrics: { cpu: latest(key?.cpu), memory: latest(key?.memory) },
  };
}

/** The latest CPU and memory of each entity (all of one type). */
async function keyMetrics(ctx: QueryContext, type: EntityType, entities: readonly EntityEntry[]): Promise<Map<string, KeyValues>> {
  const out = new Map<string, KeyValues>();
  for (const e of entities) out.set(e.id, { cpu: null, memory: null });
  const spec = KEY_METRICS[type];
  const cat = ctx.catalog;
  // Which metric ids count as what, and which attribute sets they may have.
  const kinds = new Map<number, { kind: 'cpu' | 'memory'; unit: string; allow: Set<number> | undefined; deny: Set<number> | undefined }>();
  for (const kind of ['cpu', 'memory'] as const) {
    const k = spec[kind];
    if (k === undefined) continue;
    const allow = k.include !== undefined ? new Set(cat.attributeSetsMatching([k.include])) : undefined;
    const deny = k.exclude !== undefined ? new Set(cat.attributeSetsMatching([k.exclude])) : undefined;
    for (const m of cat.metricsNamed(k.metric)) kinds.set(m.id, { kind, unit: m.unit, allow, deny });
  }
  if (kinds.size === 0 || entities.length === 0) return out;
  // The resources whose series count toward each entity.
  const owner = new Map<number, string>();
  for (const e of entities) {
    if (spec.fromPods === true) {
      for (const d of cat.descendants(e.id)) {
        const child = cat.entity(d);
        if (child?.type === 'pod') for (const r of child.resources) if (!owner.has(r)) owner.set(r, e.id);
      }
    } else {
      for (const r of e.resources) owner.set(r, e.id);
    }
  }
  if (owner.size === 0) return out;
  const rows = await run(
    ctx,
    `SELECT resource_id, metric_id, attrs_id, arg_max(value, time_ms) AS value, max(time_ms) AS time_ms
     FROM points
     WHERE time_ms >= CAST($1 AS BIGINT) AND time_ms <= CAST($2 AS BIGINT)
       AND metric_id IN (SELECT unnest($3::INTEGER[]))
       AND resource_id IN (SELECT unnest($4::INTEGER[]))
     GROUP BY resource_id, metric_id, attrs_id`,
    [ctx.nowMs - LATEST_LOOKBACK_MS, ctx.nowMs, [...kinds.keys()], [...owner.keys()]],
  );
  for (const row of rows) {
    const k = kinds.get(row['metric_id'] as number);
    const id = owner.get(row['resource_id'] as number);
    if (k === undefined || id === undefined) continue;
    const attrs = row['attrs_id'] as number;
    if ((k.allow !== undefined && !k.allow.has(attrs)) || (k.deny !== undefined && k.deny.has(attrs))) continue;
    const values = out.get(id)!;
    const cur = values[k.kind];
    const t = row['time_ms'] as number;
    const v = row['value'] as number;
    if (cur === null) values[k.kind] = { value: v, unit: k.unit, timeMs: t };
    else {
      cur.value += v;
      cur.timeMs = Math.max(cur.timeMs, t);
    }
  }
  return out;
}

/** GET /api/v1/entities: entities of a type, filtered and paged by name, with their latest key metrics. */
export async function listEntities(ctx: QueryContext, p: Params): Promise<unknown> {
  const typeText = p.one('type');
  if (typeText === undefined) throw badParameter('type', `is required: one of ${ENTITY_TYPES.join(', ')}`);
  if (!isEntityType(typeText)) throw badParameter('type', `must be one of ${ENTITY_TYPES.join(', ')}`);
  const namespace = p.text('namespace');
  const search = p.text('q')?.toLowerCase();
  const parent = p.entityIds('parent', 1)[0];
  const limit = p.int('limit', 1, ctx.maxRows, Math.min(100, ctx.maxRows));
  const fingerprint = queryFingerprint(ctx.endpoint, ctx.query);
  const offset = decodeCursor(p.one('cursor'), fingerprint)?.seq ?? 0;
  if (parent !== undefined && ctx.catalog.entity(parent) === undefined) throw new ApiError('not_found', `parameter "parent": no entity ${parent}`, { parameter: 'parent' });

  const all = ctx.catalog
    .entitiesOfType(typeText)
    .filter((e) => (namespace === undefined || e.namespace === namespace) && (parent === undefined || e.parents.has(parent)) && (search === undefined || e.name.toLowerCase().includes(search)))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const page = all.slice(offset, offset + limit);
  const metrics = await keyMetrics(ctx, typeText, page);
  const next = offset + page.length < all.length ? encodeCursor({ time: '0', seq: offset + page.length }, fingerprint) : null;
  return { total: all.length, items: page.map((e) => entityJson(ctx, e, metrics.get(e.id))), nextCursor: next };
}

/** GET /api/v1/entities/{id}: one entity, its parents and children. */
export async function getEntity(ctx: QueryContext, id: string, p: Params): Promise<unknown> {
  void p;
  if (!/^[0-9a-f]{16}$/.test(id)) throw badParameter('id', 'an entity id is 16 lowercase hex digits');
  const e = ctx.catalog.entity(id);
  if (e === undefined) throw new ApiError('not_found', `parameter "id": no entity ${id}`, { parameter: 'id' });
  const metrics = await keyMetrics(ctx, e.type, [e]);
  const children: EntityRef[] = [];
  for (const c of e.children) {
    const child = ctx.catalog.entity(c);
    if (child !== undefined) children.push(entityRef(child));
  }
  children.sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return {
    ...entityJson(ctx, e, metrics.get(e.id)),
    children: children.slice(0, MAX_CHILDREN),
    childrenTotal: children.length,
    resources: e.resources.size,
  };
}
