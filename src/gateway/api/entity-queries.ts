import { ENTITY_TYPES, isEntityType, type EntityType } from '../store/entities.js';
import type { EntityEntry, Row } from '../store/index.js';
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
  host: { cpu: { metric: 'system.cpu.utilization', exclude: ['cpu.mode', 'idle'] }, memory: { metric: 'system.memory.usage', include: ['system.memory.state', 'used'] } },
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

function entityJson(ctx: QueryContext, e: EntityEntry, key: KeyValues | undefined, extra?: EntityExtras): Record<string, unknown> {
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
    bounds: extra?.bounds ?? EMPTY_BOUNDS,
    health: extra?.health ?? OK_HEALTH,
  };
}

/**
 * Requests and limits of the containers at or below an entity, summed (a pod's are its
 * containers'), as the cluster monitor reports them from the pod spec; where it does not (no
 * Kubernetes API), the limits the agent read from the container's cgroup. A host's are the
 * node's allocatable CPU and memory. Null where nothing reports one.
 */
interface Bounds {
  cpuRequest: number | null;
  cpuLimit: number | null;
  memoryRequest: number | null;
  memoryLimit: number | null;
}
const EMPTY_BOUNDS: Bounds = Object.freeze({ cpuRequest: null, cpuLimit: null, memoryRequest: null, memoryLimit: null });

/** Each bound's metrics, the preferred first. */
const BOUND_METRICS: Readonly<Record<keyof Bounds, readonly string[]>> = {
  cpuRequest: ['k8s.container.cpu.request.current', 'k8s.container.cpu.request.desired'],
  cpuLimit: ['k8s.container.cpu.limit.current', 'k8s.container.cpu.limit.desired', 'sextant.container.cpu.limit'],
  memoryRequest: ['k8s.container.memory.request.current', 'k8s.container.memory.request.desired'],
  memoryLimit: ['k8s.container.memory.limit.current', 'k8s.container.memory.limit.desired', 'sextant.container.memory.limit'],
};
const HOST_BOUND_METRICS: Readonly<Record<keyof Bounds, readonly string[]>> = {
  cpuRequest: [],
  cpuLimit: ['k8s.node.cpu.allocatable'],
  memoryRequest: [],
  memoryLimit: ['k8s.node.memory.allocatable'],
};

/**
 * Health: the worst of what happened at or below an entity in the last hour — events of
 * severity WARN (restarts, exits with a code, Kubernetes warnings) make it a warning, ERROR or
 * worse (OOM kills, failed containers) critical — containers reported not ready now, and open
 * problems (src/gateway/problems/) touching the entity or one below it: critical.
 */
interface Health {
  level: 'ok' | 'warning' | 'critical';
  reasons: { reason: string; count: number }[];
}
const OK_HEALTH: Health = Object.freeze({ level: 'ok', reasons: [] });
const HEALTH_WINDOW_MS = 3_600_000;
/** CFS periods, and those throttled: above this share of the latest periods, a warning. */
const THROTTLED = 'sextant.container.cpu.throttling.throttled_periods';
const PERIODS = 'sextant.container.cpu.throttling.periods';
const THROTTLED_WARN = 0.25;
const WARN = 13;
const ERROR = 17;

interface EntityExtras {
  bounds: Bounds;
  health: Health;
}

/** The resources at or below each entity (a resource counts toward the first entity naming it). */
function resourcesBelow(ctx: QueryContext, entities: readonly EntityEntry[], onlyType?: EntityType): Map<number, string> {
  const owner = new Map<number, string>();
  for (const e of entities) {
    if (onlyType === undefined || e.type === onlyType) for (const r of e.resources) if (!owner.has(r)) owner.set(r, e.id);
    for (const d of ctx.catalog.descendants(e.id)) {
      const child = ctx.catalog.entity(d);
      if (child === undefined || (onlyType !== undefined && child.type !== onlyType)) continue;
      for (const r of child.resources) if (!owner.has(r)) owner.set(r, e.id);
    }
  }
  return owner;
}

/** Bounds and health of a page of entities of one type: two statements for the whole page. */
async function extrasOf(ctx: QueryContext, type: EntityType, entities: readonly EntityEntry[]): Promise<Map<string, EntityExtras>> {
  const out = new Map<string, EntityExtras>();
  for (const e of entities) out.set(e.id, { bounds: { ...EMPTY_BOUNDS }, health: { level: 'ok', reasons: [] } });
  if (entities.length === 0) return out;
  const cat = ctx.catalog;
  const all = resourcesBelow(ctx, entities);
  // Bounds, and readiness, from the latest points of the containers below (the node for a host).
  const spec = type === 'host' ? HOST_BOUND_METRICS : BOUND_METRICS;
  const metricOf = new Map<number, string>();
  for (const names of Object.values(spec)) for (const n of names) for (const m of cat.metricsNamed(n)) metricOf.set(m.id, n);
  for (const m of cat.metricsNamed('k8s.container.ready')) metricOf.set(m.id, 'k8s.container.ready');
  for (const n of [THROTTLED, PERIODS]) for (const m of cat.metricsNamed(n)) metricOf.set(m.id, n);
  const holders = type === 'host' ? new Map([...all].filter(([r]) => cat.entityOfResource(r)?.type === 'host')) : resourcesBelow(ctx, entities, 'container');
  /** Page entity → bound (or throttling metric) → value. */
  const sums = new Map<string, Map<string, number>>();
  const perHolder = new Map<string, Map<string, number>>();
  const holderOwner = new Map<string, string>();
  const notReady = new Map<string, number>();
  if (metricOf.size > 0 && holders.size > 0) {
    const rows = await latestPoints(ctx, [...metricOf.keys()], [...holders.keys()]);
    for (const row of rows) {
      const id = holders.get(row['resource_id'] as number);
      const name = metricOf.get(row['metric_id'] as number);
      if (id === undefined || name === undefined) continue;
      const v = row['value'] as number;
      if (name === 'k8s.container.ready') {
        if (v === 0) notReady.set(id, (notReady.get(id) ?? 0) + 1);
        continue;
      }
      // Per container first (its resources from the agent and from the cluster monitor meet
      // there): the preferred source is chosen per container, then containers are summed.
      const holder = cat.entityOfResource(row['resource_id'] as number)?.id ?? String(row['resource_id']);
      holderOwner.set(holder, id);
      let m = perHolder.get(holder);
      if (m === undefined) perHolder.set(holder, (m = new Map()));
      m.set(name, (m.get(name) ?? 0) + v);
    }
  }
  for (const [holder, m] of perHolder) {
    const id = holderOwner.get(holder)!;
    let sum = sums.get(id);
    if (sum === undefined) sums.set(id, (sum = new Map()));
    for (const k of Object.keys(spec) as (keyof Bounds)[]) {
      const name = spec[k].find((n) => m.has(n));
      if (name !== undefined) sum.set(k, (sum.get(k) ?? 0) + m.get(name)!);
    }
    for (const n of [THROTTLED, PERIODS]) if (m.has(n)) sum.set(n, (sum.get(n) ?? 0) + m.get(n)!);
  }
  // Events of the last hour at or below each entity, by name and worst severity.
  const events = await run(
    ctx,
    `SELECT resource_id, name, max(severity) AS severity, count(*) AS n
     FROM events
     WHERE time_ns >= CAST($1 AS BIGINT) AND severity >= CAST($2 AS INTEGER)
       AND resource_id IN (SELECT unnest($3::INTEGER[]))
     GROUP BY resource_id, name`,
    [BigInt(ctx.nowMs - HEALTH_WINDOW_MS) * 1_000_000n, WARN, [...all.keys()]],
  );
  for (const [id, x] of out) {
    const m = sums.get(id);
    if (m !== undefined) {
      for (const k of Object.keys(spec) as (keyof Bounds)[]) if (m.has(k)) x.bounds[k] = m.get(k)!;
    }
    const periods = m?.get(PERIODS) ?? 0;
    const throttled = m?.get(THROTTLED) ?? 0;
    if (periods > 0 && throttled / periods > THROTTLED_WARN) {
      x.health.level = 'warning';
      x.health.reasons.push({ reason: `CPU throttled ${Math.round((throttled / periods) * 100)}%`, count: 1 });
    }
    const nr = notReady.get(id);
    if (nr !== undefined) {
      x.health.level = 'warning';
      x.health.reasons.push({ reason: 'container not ready', count: nr });
    }
  }
  const byReason = new Map<string, Map<string, number>>();
  for (const row of events) {
    const id = all.get(row['resource_id'] as number);
    if (id === undefined) continue;
    const x = out.get(id)!;
    const sev = row['severity'] as number;
    const level = sev >= ERROR ? 'critical' : 'warning';
    if (level === 'critical' || x.health.level === 'ok') x.health.level = level;
    let r = byReason.get(id);
    if (r === undefined) byReason.set(id, (r = new Map()));
    const name = row['name'] as string;
    r.set(name, (r.get(name) ?? 0) + Number(row['n']));
  }
  for (const [id, r] of byReason) for (const [reason, count] of r) out.get(id)!.health.reasons.push({ reason, count });
  await addOpenProblems(ctx, entities, out);
  for (const x of out.values()) x.health.reasons.sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  return out;
}

/**
 * Open problems make the entities they touch critical, and every entity above those: the
 * problems table lists each problem's affected entities, its root cause and the entities below
 * them, so an entity is touched when it or one of its descendants is listed. Open problems are
 * few (one per cause), so they are read whole.
 */
async function addOpenProblems(ctx: QueryContext, entities: readonly EntityEntry[], out: Map<string, EntityExtras>): Promise<void> {
  const rows = await run(ctx, "SELECT entities, doc FROM problems WHERE status = 'open' ORDER BY opened_ms", []);
  if (rows.length === 0) return;
  const open = rows.map((r) => ({ ids: new Set(String(r['entities']).trim().split(' ')), title: titleOf(r['doc']) }));
  for (const e of entities) {
    const x = out.get(e.id)!;
    const below = [e.id, ...ctx.catalog.descendants(e.id)];
    for (const p of open) {
      if (!below.some((id) => p.ids.has(id))) continue;
      x.health.level = 'critical';
      x.health.reasons.push({ reason: `problem: ${p.title}`, count: 1 });
    }
  }
}

function titleOf(doc: unknown): string {
  try {
    const title = (JSON.parse(String(doc)) as { title?: unknown }).title;
    return typeof title === 'string' ? title : 'open problem';
  } catch {
    return 'open problem';
  }
}

/**
 * The latest point of each series (resource, metric, attribute set) of these metrics at these
 * resources within LATEST_LOOKBACK_MS: `value`, and `time_ms`, when it was taken.
 */
function latestPoints(ctx: QueryContext, metricIds: number[], resourceIds: number[]): Promise<Row[]> {
  return run(
    ctx,
    `SELECT resource_id, metric_id, attrs_id, arg_max(value, time_ms) AS value, max(time_ms) AS time_ms
     FROM points
     WHERE time_ms >= CAST($1 AS BIGINT) AND time_ms <= CAST($2 AS BIGINT)
       AND metric_id IN (SELECT unnest($3::INTEGER[]))
       AND resource_id IN (SELECT unnest($4::INTEGER[]))
     GROUP BY resource_id, metric_id, attrs_id`,
    [ctx.nowMs - LATEST_LOOKBACK_MS, ctx.nowMs, metricIds, resourceIds],
  );
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
  const rows = await latestPoints(ctx, [...kinds.keys()], [...owner.keys()]);
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

/**
 * `q`: a substring of the name, or `key=value` for a label or attribute: the key exactly, or a
 * Kubernetes label (`app=web` matches `k8s.pod.label.app`), the value exactly (case aside).
 */
function matchesSearch(e: EntityEntry, search: string): boolean {
  if (e.name.toLowerCase().includes(search)) return true;
  const eq = search.indexOf('=');
  if (eq <= 0) return false;
  const key = search.slice(0, eq).trim();
  const value = search.slice(eq + 1).trim();
  const attrs = JSON.parse(e.attributesJson) as Record<string, unknown>;
  for (const [k, v] of Object.entries(attrs)) {
    const lk = k.toLowerCase();
    if ((lk === key || lk.endsWith(`.label.${key}`) || lk.endsWith(`.labels.${key}`)) && String(v).toLowerCase() === value) return true;
  }
  return false;
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
    .filter((e) => (namespace === undefined || e.namespace === namespace) && (parent === undefined || e.parents.has(parent)) && (search === undefined || matchesSearch(e, search)))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const page = all.slice(offset, offset + limit);
  const [metrics, extras] = await Promise.all([keyMetrics(ctx, typeText, page), extrasOf(ctx, typeText, page)]);
  const next = offset + page.length < all.length ? encodeCursor({ time: '0', seq: offset + page.length }, fingerprint) : null;
  return { total: all.length, items: page.map((e) => entityJson(ctx, e, metrics.get(e.id), extras.get(e.id))), nextCursor: next };
}

/** GET /api/v1/entities/{id}: one entity, its parents and children. */
export async function getEntity(ctx: QueryContext, id: string, p: Params): Promise<unknown> {
  void p;
  if (!/^[0-9a-f]{16}$/.test(id)) throw badParameter('id', 'an entity id is 16 lowercase hex digits');
  const e = ctx.catalog.entity(id);
  if (e === undefined) throw new ApiError('not_found', `parameter "id": no entity ${id}`, { parameter: 'id' });
  const [metrics, extras] = await Promise.all([keyMetrics(ctx, e.type, [e]), extrasOf(ctx, e.type, [e])]);
  const children: EntityRef[] = [];
  for (const c of e.children) {
    const child = ctx.catalog.entity(c);
    if (child !== undefined) children.push(entityRef(child));
  }
  children.sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return {
    ...entityJson(ctx, e, metrics.get(e.id), extras.get(e.id)),
    children: children.slice(0, MAX_CHILDREN),
    childrenTotal: children.length,
    resources: e.resources.size,
  };
}
