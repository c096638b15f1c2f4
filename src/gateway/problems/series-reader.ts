import type { Catalog, EntityEntry, QueryParam, Row } from '../store/index.js';
import { RULE_EVENTS, type EventRow } from './event-rules.js';
import type { ErrorCounts, StepSeries } from './metric-rules.js';
import type { LogLine } from './signal.js';

/**
 * What problem detection reads of the store, through the query API's read connections (never
 * the writer's: ingest does not wait for it). Every read is bounded: a time range, a step grid
 * (one row per series and step, whatever the agents' interval), a row limit.
 */

/** What the reader needs of the store (the gateway's `TelemetryStore` fits). */
export interface ReadableStore {
  query(sql: string, params: readonly QueryParam[], timeoutMs: number): Promise<Row[]>;
}

/** Most events read per evaluation. */
const MAX_EVENTS = 20_000;
/** Most (series, step) rows read per metric read. */
const MAX_STEP_ROWS = 500_000;
const ERROR_SEVERITY = 17;

function n(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
}

function parseJson(text: unknown): Record<string, unknown> {
  if (typeof text !== 'string' || text === '') return {};
  try {
    const o = JSON.parse(text) as unknown;
    return o !== null && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The step grid from `fromMs` to `toMs` (exclusive). */
export function grid(fromMs: number, toMs: number, step: number): number[] {
  const out: number[] = [];
  for (let t = fromMs; t < toMs; t += step) out.push(t);
  return out;
}

/** The entity errors of a resource are counted under: its workload, else its pod, else its own. */
export function errorGroup(catalog: Catalog, e: EntityEntry): EntityEntry {
  let pod: EntityEntry | undefined = e.type === 'pod' ? e : undefined;
  const seen = new Set<string>();
  const stack = [...e.parents];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const p = catalog.entity(id);
    if (p === undefined) continue;
    if (p.type === 'workload') return p;
    if (p.type === 'pod') pod ??= p;
    if (p.type === 'container' || p.type === 'pod') stack.push(...p.parents);
  }
  return pod ?? e;
}

export class SeriesReader {
  readonly #store: ReadableStore;
  readonly #catalog: Catalog;
  readonly #timeoutMs: number;

  readonly #truncated: ((rows: number) => void) | undefined;

  /** `truncated` hears of a read cut at its row limit (the oldest steps of some series are missing then). */
  constructor(store: ReadableStore, catalog: Catalog, timeoutMs: number, truncated?: (rows: number) => void) {
    this.#store = store;
    this.#catalog = catalog;
    this.#timeoutMs = timeoutMs;
    this.#truncated = truncated;
  }

  /** The events the rules read since `fromMs`, oldest first, each with its resource's entity. */
  async events(fromMs: number, toMs: number): Promise<EventRow[]> {
    const rows = await this.#store.query(
      `SELECT time_ns // 1000000 AS time_ms, resource_id, name, severity, body, attributes
       FROM events
       WHERE time_ns >= CAST($1 AS BIGINT) AND time_ns < CAST($2 AS BIGINT) AND name IN (SELECT unnest($3::VARCHAR[]))
       ORDER BY time_ns, seq
       LIMIT ${MAX_EVENTS}`,
      [BigInt(Math.floor(fromMs)) * 1_000_000n, BigInt(Math.floor(toMs)) * 1_000_000n, [...RULE_EVENTS]],
      this.#timeoutMs,
    );
    const out: EventRow[] = [];
    for (const r of rows) {
      const e = this.#catalog.entityOfResource(n(r['resource_id']));
      if (e === undefined) continue;
      out.push({ timeMs: n(r['time_ms']), entityId: e.id, name: String(r['name']), severity: n(r['severity']), body: String(r['body'] ?? ''), attributes: parseJson(r['attributes']) });
    }
    return out;
  }

  /**
   * The named metrics in steps over [fromMs, toMs): per series (resource, metric, point
   * attributes) the mean, the last value and the sum of each step, and whether the metric is a
   * delta sum (its points are increases). Series of resources with no entity
   * are left out.
   */
  async steps(metrics: readonly string[], fromMs: number, toMs: number, step: number, only: Readonly<Record<string, Readonly<Record<string, string>>>> = {}): Promise<StepSeries[]> {
    const ids: number[] = [];
    // Metrics read only with some point attributes (CPU stalls of six kinds: one is wanted):
    // their ids, and the attribute sets allowed for them.
    const narrowed: number[] = [];
    const allowed = new Set<number>();
    const byId = new Map<number, { name: string; unit: string; delta: boolean }>();
    for (const name of metrics) {
      const want = only[name];
      if (want !== undefined) for (const a of this.#catalog.attributeSetsMatching(Object.entries(want))) allowed.add(a);
      for (const m of this.#catalog.metricsNamed(name)) {
        ids.push(m.id);
        if (want !== undefined) narrowed.push(m.id);
        byId.set(m.id, { name: m.name, unit: m.unit, delta: m.temporality === 1 });
      }
    }
    if (ids.length === 0) return [];
    const t = grid(fromMs, toMs, step);
    const rows = await this.#store.query(
      `SELECT resource_id, metric_id, attrs_id, CAST((time_ms - CAST($1 AS BIGINT)) // CAST($3 AS BIGINT) AS INTEGER) AS b,
              avg(value) AS avg, arg_max(value, time_ms) AS last, sum(value) AS total
       FROM points
       WHERE time_ms >= CAST($1 AS BIGINT) AND time_ms < CAST($2 AS BIGINT) AND metric_id IN (SELECT unnest($4::INTEGER[]))
         AND (metric_id NOT IN (SELECT unnest($5::INTEGER[])) OR attrs_id IN (SELECT unnest($6::INTEGER[])))
       GROUP BY ALL
       LIMIT ${MAX_STEP_ROWS}`,
      // -1 (no id) keeps the lists non-empty: DuckDB cannot type an empty list parameter.
      [fromMs, toMs, step, ids, [...narrowed, -1], [...allowed, -1]],
      this.#timeoutMs,
    );
    if (rows.length >= MAX_STEP_ROWS) this.#truncated?.(MAX_STEP_ROWS);
    const series = new Map<string, { entityId: string; resourceId: number; metric: string; unit: string; delta: boolean; attrs: Record<string, unknown>; avg: (number | undefined)[]; last: (number | undefined)[]; sum: (number | undefined)[] }>();
    const attrCache = new Map<number, Record<string, unknown>>();
    for (const r of rows) {
      const rid = n(r['resource_id']);
      const mid = n(r['metric_id']);
      const aid = n(r['attrs_id']);
      const b = n(r['b']);
      if (!(b >= 0 && b < t.length)) continue;
      const key = `${rid}/${mid}/${aid}`;
      let s = series.get(key);
      if (s === undefined) {
        const e = this.#catalog.entityOfResource(rid);
        const m = byId.get(mid);
        if (e === undefined || m === undefined) continue;
        let attrs = attrCache.get(aid);
        if (attrs === undefined) attrCache.set(aid, (attrs = parseJson(this.#catalog.attributesOfSet(aid))));
        const empty = (): (number | undefined)[] => new Array<number | undefined>(t.length).fill(undefined);
        s = { entityId: e.id, resourceId: rid, metric: m.name, unit: m.unit, delta: m.delta, attrs, avg: empty(), last: empty(), sum: empty() };
        series.set(key, s);
      }
      const avg = n(r['avg']);
      const last = n(r['last']);
      s.avg[b] = Number.isFinite(avg) ? avg : undefined;
      s.last[b] = Number.isFinite(last) ? last : undefined;
      const total = n(r['total']);
      s.sum[b] = Number.isFinite(total) ? total : undefined;
    }
    return [...series.values()].map((s) => ({ ...s, t }));
  }

  /** ERROR-or-worse log lines per step and group (workload, else pod, else the resource's entity). */
  async errorCounts(fromMs: number, toMs: number, step: number): Promise<ErrorCounts[]> {
    const t = grid(fromMs, toMs, step);
    const rows = await this.#store.query(
      `SELECT resource_id, CAST((time_ns // 1000000 - CAST($3 AS BIGINT)) // CAST($4 AS BIGINT) AS INTEGER) AS b,
              count(*) AS total, count(*) FILTER (WHERE severity >= ${ERROR_SEVERITY}) AS errors
       FROM logs
       WHERE time_ns >= CAST($1 AS BIGINT) AND time_ns < CAST($2 AS BIGINT)
       GROUP BY ALL
       LIMIT ${MAX_STEP_ROWS}`,
      [BigInt(Math.floor(fromMs)) * 1_000_000n, BigInt(Math.floor(toMs)) * 1_000_000n, fromMs, step],
      this.#timeoutMs,
    );
    const groups = new Map<string, { errors: number[]; first: number }>();
    for (const r of rows) {
      const b = n(r['b']);
      if (!(b >= 0 && b < t.length)) continue;
      const e = this.#catalog.entityOfResource(n(r['resource_id']));
      if (e === undefined) continue;
      const g = errorGroup(this.#catalog, e);
      let acc = groups.get(g.id);
      if (acc === undefined) groups.set(g.id, (acc = { errors: new Array<number>(t.length).fill(0), first: b }));
      acc.errors[b]! += n(r['errors']);
      acc.first = Math.min(acc.first, b);
    }
    const out: ErrorCounts[] = [];
    for (const [entityId, g] of groups) out.push({ entityId, t, errors: g.errors.map((v, i) => (i < g.first ? undefined : v)) });
    return out;
  }

  /** The latest few ERROR-or-worse lines under an entity since `fromMs`. */
  async errorLines(entityId: string, fromMs: number, limit: number): Promise<LogLine[]> {
    const resources = this.#catalog.resourcesUnder(entityId);
    if (resources.length === 0) return [];
    const rows = await this.#store.query(
      `SELECT time_ns // 1000000 AS time_ms, severity, body FROM logs
       WHERE time_ns >= CAST($1 AS BIGINT) AND severity >= ${ERROR_SEVERITY} AND resource_id IN (SELECT unnest($2::INTEGER[]))
       ORDER BY time_ns DESC LIMIT ${Math.max(1, Math.min(20, Math.floor(limit)))}`,
      [BigInt(Math.floor(fromMs)) * 1_000_000n, resources.slice(0, 1000)],
      this.#timeoutMs,
    );
    return rows.map((r) => ({ time: new Date(n(r['time_ms'])).toISOString(), severity: n(r['severity']), body: String(r['body'] ?? '').slice(0, 500) })).reverse();
  }
}
