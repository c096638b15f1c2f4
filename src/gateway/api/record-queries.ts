import type { Row } from '../store/index.js';
import { SEVERITY_NAMES } from '../store/otlp-values.js';
import { decodeCursor, encodeCursor, queryFingerprint, type Position } from './cursor.js';
import { ApiError, badParameter } from './envelope.js';
import { timeRange, type Params } from './params.js';
import { isoNano, resourceEntity, run, selectEntities, Statement, type QueryContext } from './query-context.js';

/**
 * Log records, events and traces: newest first, paged by an exact cursor (time, sequence),
 * bounded by range and rows. Text search is a case-insensitive substring of the body, passed
 * as a parameter (never pattern syntax).
 */

const DAY = 86_400_000;
const MAX_RANGE_MS = 31 * DAY;

function resourcesOf(ctx: QueryContext, p: Params): number[] | null {
  const sel = selectEntities(ctx, p, false);
  if (sel === undefined) return null;
  return sel.groups.flatMap((g) => g.resources);
}

/** Rows before a cursor's position, newest first. */
function pageAfter(st: Statement, after: Position): string {
  const t = st.p(BigInt(after.time));
  return `(time_ns < CAST(${t} AS BIGINT) OR (time_ns = CAST(${t} AS BIGINT) AND seq < CAST(${st.p(after.seq)} AS BIGINT)))`;
}

/** A paged query's `limit` (100 by default), and its `cursor`, checked against the query it was made for. */
function paging(ctx: QueryContext, p: Params): { limit: number; fingerprint: string; after: Position | undefined } {
  const limit = p.int('limit', 1, ctx.maxRows, Math.min(100, ctx.maxRows));
  const fingerprint = queryFingerprint(ctx.endpoint, ctx.query);
  return { limit, fingerprint, after: decodeCursor(p.one('cursor'), fingerprint) };
}

/** The conditions every paged record query starts with: the time range, then the resources if any were selected. */
function rangeWhere(st: Statement, fromMs: number, toMs: number, resources: number[] | null): string[] {
  const where = [`time_ns >= CAST(${st.p(BigInt(fromMs) * 1_000_000n)} AS BIGINT)`, `time_ns < CAST(${st.p(BigInt(toMs) * 1_000_000n)} AS BIGINT)`];
  if (resources !== null) where.push(`resource_id IN (SELECT unnest(${st.p(resources)}::INTEGER[]))`);
  return where;
}

/**
 * One page of rows fetched with LIMIT limit + 1: the extra row only says that more follow, and
 * the cursor points after the last row answered.
 */
function newestPage(rows: Row[], limit: number, fingerprint: string, item: (r: Row) => unknown): { items: unknown[]; nextCursor: string | null } {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page[page.length - 1];
  return {
    items: page.map(item),
    nextCursor: more && last !== undefined ? encodeCursor({ time: String(last['time_ns']), seq: last['seq'] as number }, fingerprint) : null,
  };
}

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string' || text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return {};
  }
}

/** One log row as the API answers it (GET /api/v1/logs and its live stream). */
export function logItem(ctx: QueryContext, r: Row): Record<string, unknown> {
  return {
    time: isoNano(r['time_ns'] as string | number),
    timeUnixNano: String(r['time_ns']),
    severity: r['severity'],
    severityText: r['severity_text'] ?? SEVERITY_NAMES[r['severity'] as number] ?? '',
    body: r['body'],
    attributes: parseJson(r['attributes']),
    traceId: r['trace_id'] === '' ? null : (r['trace_id'] ?? null),
    spanId: r['span_id'] === '' ? null : (r['span_id'] ?? null),
    scope: r['scope'],
    entity: resourceEntity(ctx, r['resource_id'] as number),
  };
}

/** GET /api/v1/logs */
export async function logs(ctx: QueryContext, p: Params): Promise<unknown> {
  const resources = resourcesOf(ctx, p);
  const { fromMs, toMs } = timeRange(p, ctx.nowMs, 3_600_000, MAX_RANGE_MS);
  const minSeverity = p.severity('severity');
  const q = p.text('q')?.toLowerCase() ?? null;
  const { limit, fingerprint, after } = paging(ctx, p);
  if (resources !== null && resources.length === 0) return { items: [], nextCursor: null };
  const st = new Statement();
  const where = rangeWhere(st, fromMs, toMs, resources);
  if (minSeverity > 0) where.push(`severity >= CAST(${st.p(minSeverity)} AS INTEGER)`);
  if (q !== null) where.push(`contains(lower(body), ${st.p(q)}::VARCHAR)`);
  if (after !== undefined) where.push(pageAfter(st, after));
  const rows = await run(
    ctx,
    `SELECT time_ns, seq, resource_id, severity, severity_text, body, attributes, trace_id, span_id, scope
     FROM logs WHERE ${where.join(' AND ')}
     ORDER BY time_ns DESC, seq DESC LIMIT CAST(${st.p(limit + 1)} AS BIGINT)`,
    st.params,
  );
  return newestPage(rows, limit, fingerprint, (r) => logItem(ctx, r));
}

/** GET /api/v1/events */
export async function events(ctx: QueryContext, p: Params): Promise<unknown> {
  const resources = resourcesOf(ctx, p);
  const { fromMs, toMs } = timeRange(p, ctx.nowMs, 24 * 3_600_000, MAX_RANGE_MS);
  const names = p.many('name', 20);
  const minSeverity = p.severity('severity');
  const { limit, fingerprint, after } = paging(ctx, p);
  if (resources !== null && resources.length === 0) return { items: [], nextCursor: null };
  const st = new Statement();
  const where = rangeWhere(st, fromMs, toMs, resources);
  if (names.length > 0) where.push(`name IN (SELECT unnest(${st.p(names)}::VARCHAR[]))`);
  if (minSeverity > 0) where.push(`severity >= CAST(${st.p(minSeverity)} AS INTEGER)`);
  if (after !== undefined) where.push(pageAfter(st, after));
  const rows = await run(
    ctx,
    `SELECT time_ns, seq, resource_id, name, severity, body, attributes
     FROM events WHERE ${where.join(' AND ')}
     ORDER BY time_ns DESC, seq DESC LIMIT CAST(${st.p(limit + 1)} AS BIGINT)`,
    st.params,
  );
  return newestPage(rows, limit, fingerprint, (r) => ({
    time: isoNano(r['time_ns'] as string | number),
    timeUnixNano: String(r['time_ns']),
    name: r['name'],
    severity: r['severity'],
    body: r['body'],
    attributes: parseJson(r['attributes']),
    entity: resourceEntity(ctx, r['resource_id'] as number),
  }));
}

/** GET /api/v1/traces: traces that started in the range, by service and duration, newest first. */
export async function traces(ctx: QueryContext, p: Params): Promise<unknown> {
  const { fromMs, toMs } = timeRange(p, ctx.nowMs, 3_600_000, MAX_RANGE_MS);
  const service = p.text('service') ?? null;
  const minMs = p.duration('minDuration', 0, DAY, undefined);
  const maxMs = p.duration('maxDuration', 0, DAY, undefined);
  if (minMs !== undefined && maxMs !== undefined && minMs > maxMs) throw badParameter('minDuration', 'is larger than maxDuration');
  const limit = p.int('limit', 1, ctx.maxRows, Math.min(100, ctx.maxRows));
  const st = new Statement();
  const from = st.p(BigInt(fromMs) * 1_000_000n);
  const to = st.p(BigInt(toMs) * 1_000_000n);
  const inRange = `start_ns >= CAST(${from} AS BIGINT) AND start_ns < CAST(${to} AS BIGINT)`;
  const byService = service === null ? '' : ` AND trace_id IN (SELECT trace_id FROM spans WHERE service = ${st.p(service)}::VARCHAR AND ${inRange})`;
  const having: string[] = [];
  if (minMs !== undefined) having.push(`duration_ns >= CAST(${st.p(BigInt(minMs) * 1_000_000n)} AS BIGINT)`);
  if (maxMs !== undefined) having.push(`duration_ns <= CAST(${st.p(BigInt(maxMs) * 1_000_000n)} AS BIGINT)`);
  const rows = await run(
    ctx,
    `WITH t AS (
       SELECT trace_id, min(start_ns) AS start_ns, max(end_ns) - min(start_ns) AS duration_ns, count(*) AS spans,
              coalesce(arg_min(name, start_ns) FILTER (WHERE parent_span_id = ''), arg_min(name, start_ns)) AS root,
              coalesce(arg_min(service, start_ns) FILTER (WHERE parent_span_id = ''), arg_min(service, start_ns)) AS service,
              count(*) FILTER (WHERE status_code = 2) AS errors
       FROM spans WHERE ${inRange}${byService}
       GROUP BY trace_id)
     SELECT * FROM t ${having.length > 0 ? `WHERE ${having.join(' AND ')}` : ''}
     ORDER BY start_ns DESC, trace_id LIMIT CAST(${st.p(limit)} AS BIGINT)`,
    st.params,
  );
  return {
    items: rows.map((r) => ({
      traceId: r['trace_id'],
      start: isoNano(r['start_ns'] as string | number),
      durationMs: Number(r['duration_ns']) / 1e6,
      spans: r['spans'],
      errors: r['errors'],
      rootName: r['root'],
      service: r['service'],
    })),
  };
}

const MAX_SPANS = 10_000;

/** GET /api/v1/traces/{traceId}: the spans of one trace, in start order. */
export async function trace(ctx: QueryContext, traceId: string, p: Params): Promise<unknown> {
  void p;
  if (!/^[0-9a-f]{32}$/.test(traceId)) throw badParameter('traceId', 'a trace id is 32 lowercase hex digits');
  const rows = await run(
    ctx,
    `SELECT span_id, parent_span_id, name, kind, start_ns, end_ns, duration_ns, status_code, status_message, resource_id, service, attributes, events
     FROM spans WHERE trace_id = $1 ORDER BY start_ns, span_id LIMIT CAST($2 AS BIGINT)`,
    [traceId, Math.min(MAX_SPANS, ctx.maxRows)],
  );
  if (rows.length === 0) throw new ApiError('not_found', `parameter "traceId": no spans of trace ${traceId}`, { parameter: 'traceId' });
  return {
    traceId,
    spans: rows.map((r) => ({
      spanId: r['span_id'],
      parentSpanId: r['parent_span_id'] === '' ? null : r['parent_span_id'],
      name: r['name'],
      kind: r['kind'],
      start: isoNano(r['start_ns'] as string | number),
      durationMs: Number(r['duration_ns']) / 1e6,
      status: { code: r['status_code'], message: r['status_message'] },
      service: r['service'],
      attributes: parseJson(r['attributes']),
      events: parseJson(r['events']),
      entity: resourceEntity(ctx, r['resource_id'] as number),
    })),
  };
}
