import type { MetricEntry } from '../store/index.js';
import { ApiError, badParameter } from './envelope.js';
import type { Params } from './params.js';
import { entityRef, run, selectEntities, Statement, type QueryContext } from './query-context.js';
import { timeRange } from './params.js';

/**
 * Metric series over a range at a step, aggregated in two stages:
 *
 * 1. per entity and step: the entity's series of a metric (its own resources and those below
 *    it, every attribute set unless `attr` narrows them) are summed, each series first reduced
 *    over the step: a gauge to its mean (`agg=max`: its maximum), a sum (delta or cumulative,
 *    resets counted from zero) to its increase, or with `agg=rate` its increase per second;
 * 2. with `by=none`, across entities: avg, max, sum, rate (the sum of the rates) or p95.
 *
 * Points older than the rollup watermark are read from the 1-minute rollups, newer ones raw.
 */

export const AGGREGATIONS = ['avg', 'max', 'sum', 'rate', 'p95'] as const;
type Aggregation = (typeof AGGREGATIONS)[number];

const MAX_METRICS = 20;
const MAX_BUCKETS = 11_000;
const MAX_RANGE_MS = 31 * 86_400_000;
/** Points one answer may carry (series × steps). */
const MAX_POINTS = 500_000;

interface SeriesQuery {
  readonly resourceIds: readonly number[];
  readonly groups: readonly string[];
  readonly metricIds: readonly number[];
  readonly attrIds: readonly number[] | null;
  readonly fromMs: number;
  readonly toMs: number;
  readonly stepMs: number;
  readonly watermarkMs: number;
  readonly agg: Aggregation;
  readonly byNone: boolean;
  readonly limit: number;
}

/** The statement for a series query: constant fragments, every value a parameter. */
function seriesStatement(q: SeriesQuery): Statement & { sql: string } {
  const st = new Statement();
  const resources = st.p(q.resourceIds);
  const groups = st.p(q.groups);
  const metrics = st.p(q.metricIds);
  const attrs = q.attrIds === null ? undefined : st.p(q.attrIds);
  const rawFrom = st.p(Math.max(q.fromMs, q.watermarkMs));
  const to = st.p(q.toMs);
  const rollFrom = st.p(q.fromMs);
  const rollTo = st.p(Math.min(q.toMs, q.watermarkMs));
  const origin = st.p(q.fromMs);
  const step = st.p(q.stepMs);
  const agg = st.p(q.agg);
  const attrFilter = (alias: string): string => (attrs === undefined ? '' : `AND ${alias}.attrs_id IN (SELECT unnest(${attrs}::INTEGER[]))`);
  const sql = `
WITH sel AS (SELECT unnest(${resources}::INTEGER[]) AS resource_id, unnest(${groups}::VARCHAR[]) AS grp),
raw AS (
  SELECT p.metric_id, p.resource_id, p.attrs_id, p.time_ms AS t, p.value, m.temporality,
         lag(p.value) OVER (PARTITION BY p.metric_id, p.resource_id, p.attrs_id ORDER BY p.time_ms) AS prev
  FROM points p JOIN metrics m ON m.metric_id = p.metric_id
  WHERE p.metric_id IN (SELECT unnest(${metrics}::INTEGER[]))
    AND p.resource_id IN (SELECT resource_id FROM sel) ${attrFilter('p')}
    AND p.time_ms >= CAST(${rawFrom} AS BIGINT) - 60000 AND p.time_ms < CAST(${to} AS BIGINT)
),
samples AS (
  SELECT metric_id, resource_id, attrs_id, t, value AS s_sum, 1 AS s_n, value AS s_max,
    CASE temporality WHEN 1 THEN value WHEN 2 THEN CASE WHEN prev IS NULL THEN NULL WHEN value >= prev THEN value - prev ELSE value END END AS s_inc
  FROM raw WHERE t >= CAST(${rawFrom} AS BIGINT)
  UNION ALL
  SELECT r.metric_id, r.resource_id, r.attrs_id, r.minute_ms, r.sum, r.samples, r.max, r.increase
  FROM rollups r
  WHERE r.metric_id IN (SELECT unnest(${metrics}::INTEGER[]))
    AND r.resource_id IN (SELECT resource_id FROM sel) ${attrFilter('r')}
    AND r.minute_ms >= CAST(${rollFrom} AS BIGINT) AND r.minute_ms < CAST(${rollTo} AS BIGINT)
),
per_series AS (
  SELECT s.metric_id, s.resource_id, s.attrs_id,
    CAST(${origin} AS BIGINT) + ((s.t - CAST(${origin} AS BIGINT)) // CAST(${step} AS BIGINT)) * CAST(${step} AS BIGINT) AS bucket,
    CASE WHEN any_value(m.temporality) > 0
      THEN CASE WHEN ${agg} = 'rate' THEN sum(s.s_inc) / (CAST(${step} AS DOUBLE) / 1000) ELSE sum(s.s_inc) END
      ELSE CASE WHEN ${agg} = 'max' THEN max(s.s_max) ELSE sum(s.s_sum) / sum(s.s_n) END
    END AS v
  FROM samples s JOIN metrics m ON m.metric_id = s.metric_id
  GROUP BY s.metric_id, s.resource_id, s.attrs_id, bucket
),
per_group AS (
  SELECT ps.metric_id, sel.grp, ps.bucket, sum(ps.v) AS v
  FROM per_series ps JOIN sel ON sel.resource_id = ps.resource_id
  GROUP BY ps.metric_id, sel.grp, ps.bucket
)
${
  q.byNone
    ? `SELECT metric_id, '' AS grp, bucket,
         CASE ${agg} WHEN 'avg' THEN avg(v) WHEN 'max' THEN max(v) WHEN 'p95' THEN quantile_cont(v, 0.95) ELSE sum(v) END AS v
       FROM per_group WHERE v IS NOT NULL GROUP BY metric_id, bucket ORDER BY metric_id, bucket`
    : `SELECT metric_id, grp, bucket, v FROM per_group WHERE v IS NOT NULL ORDER BY metric_id, grp, bucket`
}
LIMIT CAST(${st.p(q.limit)} AS BIGINT)`;
  return Object.assign(st, { sql });
}

interface SeriesOut {
  metric: string;
  unit: string;
  type: string;
  entity: ReturnType<typeof entityRef> | null;
  t: number[];
  v: number[];
}

/** GET /api/v1/series */
export async function series(ctx: QueryContext, p: Params): Promise<unknown> {
  const names = p.many('metric', MAX_METRICS);
  if (names.length === 0) throw badParameter('metric', 'is required (one or more metric names)');
  const metrics: MetricEntry[] = [];
  for (const name of names) {
    const found = ctx.catalog.metricsNamed(name);
    if (found.length === 0) throw badParameter('metric', `unknown metric "${name.slice(0, 100)}"; GET /api/v1/metrics lists the names`);
    metrics.push(...found);
  }
  const agg = p.choice<Aggregation>('agg', AGGREGATIONS, 'avg');
  const by = p.choice('by', ['entity', 'none'] as const, 'entity');
  if (agg === 'p95' && by !== 'none') throw badParameter('agg', 'p95 is taken across entities: use it with by=none');
  const { fromMs, toMs } = timeRange(p, ctx.nowMs, 3_600_000, MAX_RANGE_MS);
  const defaultStep = Math.max(10_000, Math.ceil((toMs - fromMs) / 360 / 1000) * 1000);
  const step = p.duration('step', 1_000, MAX_RANGE_MS, defaultStep)!;
  if ((toMs - fromMs) / step > MAX_BUCKETS) throw badParameter('step', `gives ${Math.ceil((toMs - fromMs) / step)} steps over the range, more than ${MAX_BUCKETS}; choose a larger step`);
  const attrFilters = p.attributes('attr', 10);
  const selection = selectEntities(ctx, p, true);
  if (selection === undefined) throw badParameter('entity', 'name what to chart: entity=<id>, workload=<name> or type=<type> (with namespace or parent)');
  const seriesCount = metrics.length * (by === 'none' ? 1 : selection.groups.length);
  if (seriesCount * ((toMs - fromMs) / step) > MAX_POINTS) {
    throw badParameter('step', `${seriesCount} series at this step would return more than ${MAX_POINTS} points; choose a larger step, fewer metrics or fewer entities`);
  }

  const resourceIds: number[] = [];
  const groups: string[] = [];
  for (const g of selection.groups) {
    for (const r of g.resources) {
      resourceIds.push(r);
      groups.push(g.entity.id);
    }
  }
  const attrIds = attrFilters.length > 0 ? ctx.catalog.attributeSetsMatching(attrFilters) : null;
  const wm = ctx.store.rollupWatermarkMs;
  const out: SeriesOut[] = [];
  if (resourceIds.length > 0 && (attrIds === null || attrIds.length > 0)) {
    const st = seriesStatement({
      resourceIds,
      groups,
      metricIds: metrics.map((m) => m.id),
      attrIds,
      fromMs,
      toMs,
      stepMs: step,
      watermarkMs: ctx.store.rollupWatermarkMs,
      agg,
      byNone: by === 'none',
      limit: MAX_POINTS + 1,
    });
    const rows = await run(ctx, st.sql, st.params);
    if (rows.length > MAX_POINTS) throw badParameter('step', `more than ${MAX_POINTS} points; choose a larger step or fewer entities`);
    const byId = new Map(metrics.map((m) => [m.id, m]));
    let cur: SeriesOut | undefined;
    let curKey = '';
    for (const row of rows) {
      const metric = byId.get(row['metric_id'] as number)!;
      const grp = row['grp'] as string;
      // Descriptors of one name (a unit changed) are one series.
      const key = `${metric.name}\u0000${grp}`;
      if (cur === undefined || key !== curKey) {
        const entity = grp === '' ? undefined : ctx.catalog.entity(grp);
        cur = out.find((s) => s.metric === metric.name && (s.entity?.id ?? '') === grp);
        if (cur === undefined) {
          cur = { metric: metric.name, unit: metric.unit, type: metric.type, entity: entity === undefined ? null : entityRef(entity), t: [], v: [] };
          out.push(cur);
        }
        curKey = key;
      }
      cur.t.push(row['bucket'] as number);
      cur.v.push(row['v'] as number);
    }
  }
  return { from: fromMs, to: toMs, step, agg, by, rollupsBefore: wm, series: out };
}

/** GET /api/v1/metrics: metric names (with units and kinds); with `entity`, those it reported in the last hour. */
export async function listMetrics(ctx: QueryContext, p: Params): Promise<unknown> {
  const selection = selectEntities(ctx, p, false);
  const all = ctx.catalog.metricNames().flatMap((n) => ctx.catalog.metricsNamed(n));
  let ids: Set<number> | undefined;
  if (selection !== undefined) {
    const resources = selection.groups.flatMap((g) => g.resources);
    if (resources.length === 0) ids = new Set();
    else {
      const rows = await run(
        ctx,
        `SELECT DISTINCT metric_id FROM points WHERE time_ms >= CAST($1 AS BIGINT) AND resource_id IN (SELECT unnest($2::INTEGER[])) LIMIT 10000`,
        [ctx.nowMs - 3_600_000, resources],
      );
      ids = new Set(rows.map((r) => r['metric_id'] as number));
    }
  }
  const items = all
    .filter((m) => ids === undefined || ids.has(m.id))
    .map((m) => ({ name: m.name, unit: m.unit, type: m.type, temporality: m.temporality === 1 ? 'delta' : m.temporality === 2 ? 'cumulative' : null, monotonic: m.monotonic }));
  if (items.length > ctx.maxRows) throw new ApiError('bad_data', `more than ${ctx.maxRows} metrics; name an entity`, { parameter: 'entity' });
  return { items };
}
