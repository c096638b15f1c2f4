import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_DOCUMENT } from '../../../../src/gateway/api/openapi.js';
import type { Gateway } from '../../../../src/gateway/gateway.js';
import { entityId } from '../../../../src/gateway/store/entities.js';
import { createResource } from '../../../../src/model/index.js';
import { encodeRef, post, removeDir, secret, start, TOKEN, tmpDataDir } from '../helpers.js';
import { until } from '../../../helpers/wait.js';
import { containerResource, logRecord, logsBody, metric, metricsBody, podResource, point } from '../store/store-helpers.js';
import { apiData, apiGet } from './api-helpers.js';

/**
 * The query API of a real gateway with its real store, fed through the real OTLP ingest path:
 * read tokens, the OpenAPI document (valid, and every answer checked against it), every
 * endpoint, and bad input everywhere — each refusal a 400 naming the parameter, no client text
 * ever reaching DuckDB as SQL.
 */

const READ = 'read-token-0123456789';
const auth = `Api-Token ${READ}`;
const MIN = 60_000;

let dir: string;
let gw: Gateway;
let base: string;
/** Data times end at the start of this minute (the store dates "now" by the wall clock). */
const NOW = Math.floor(Date.now() / MIN) * MIN;
const START = NOW - 10 * MIN;

const podA = podResource('uid-a', 'web-a', 'shop', 'web');
const podB = podResource('uid-b', 'web-b', 'shop', 'web');
const podC = podResource('uid-c', 'db-0', 'data', 'db');
const ctrA = containerResource('ca11', 'app', 'uid-a', 'web-a', 'shop', 'web');
const ids = {
  podA: entityId('pod', 'uid-a'),
  podB: entityId('pod', 'uid-b'),
  podC: entityId('pod', 'uid-c'),
  ctrA: entityId('container', 'uid-a/app'),
  web: entityId('workload', 'c1/shop/Deployment/web'),
  shop: entityId('namespace', 'c1/shop'),
  host: entityId('host', 'node-1'),
};

async function ingest(): Promise<void> {
  const cpu = metric('k8s.pod.cpu.usage', 'gauge', '{cpu}');
  const mem = metric('k8s.pod.memory.working_set', 'gauge', 'By');
  const ctrCpu = metric('container.cpu.time', 'sum', 's');
  const points = [];
  for (let i = 0; i <= 60; i++) {
    const t = START + i * 10_000;
    points.push(point(cpu, podA, t, 0.5), point(cpu, podB, t, 0.25), point(cpu, podC, t, 1 + (i % 2)));
    points.push(point(mem, podA, t, 100e6), point(mem, podB, t, 50e6), point(mem, podC, t, 1e9));
    // 2 CPU-seconds per 10 s: a rate of 0.2 cores.
    points.push(point(ctrCpu, ctrA, t, i * 2, { state: 'user' }));
  }
  expect((await post(`${base}/v1/metrics`, metricsBody(points, 'cumulative'))).status).toBe(200);
  const records = [];
  for (let i = 0; i < 30; i++) {
    const sev = i % 10 === 9 ? 17 : i % 5 === 4 ? 13 : 9;
    records.push(logRecord(ctrA, BigInt(START + i * 1000) * 1_000_000n, `line ${i} ${sev === 17 ? 'payment failed' : 'ok'}`, sev));
  }
  records.push(logRecord(ctrA, BigInt(START + 5_000) * 1_000_000n, 'container app started', 9, 'container.start'));
  records.push(logRecord(podC, BigInt(START + 6_000) * 1_000_000n, 'container db exited with code 1', 13, 'container.exit', { 'process.exit.code': 1 }));
  expect((await post(`${base}/v1/logs`, logsBody(records))).status).toBe(200);
  const span = (traceId: string, spanId: string, parent: string, name: string, startMs: number, durMs: number, code = 1): unknown => ({
    traceId: Buffer.from(traceId, 'hex'),
    spanId: Buffer.from(spanId, 'hex'),
    parentSpanId: parent === '' ? undefined : Buffer.from(parent, 'hex'),
    name,
    kind: 2,
    startTimeUnixNano: String(BigInt(startMs) * 1_000_000n),
    endTimeUnixNano: String(BigInt(startMs + durMs) * 1_000_000n),
    status: { code },
  });
  const traces = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }, { key: 'k8s.pod.uid', value: { stringValue: 'uid-a' } }] },
        scopeSpans: [
          {
            spans: [
              span('11'.repeat(16), 'a1'.repeat(8), '', 'POST /pay', START + 1000, 900, 2),
              span('11'.repeat(16), 'a2'.repeat(8), 'a1'.repeat(8), 'SELECT', START + 1100, 300),
              span('22'.repeat(16), 'b1'.repeat(8), '', 'GET /cart', START + 2000, 20),
            ],
          },
        ],
      },
    ],
  };
  expect((await post(`${base}/v1/traces`, encodeRef('traces', traces))).status).toBe(200);
  // Accepted means durable; queries see it once the store has committed its batch.
  await until('nothing pending in the store', async () => (await apiData<{ pendingBytes: number }>(base, '/api/v1/status', auth)).pendingBytes === 0);
}

beforeAll(async () => {
  dir = await tmpDataDir();
  ({ gw } = await start(dir, { ndjson: false, api: { readTokens: [secret(READ)], readOpenOnLoopback: false, queryTimeoutMs: 5_000, queryMaxRows: 1_000 } }));
  base = gw.url;
  await ingest();
});

afterAll(async () => {
  await gw.close();
  await removeDir(dir);
});

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document, served without a token', async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)) as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    const res = await fetch(`${base}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(OPENAPI_DOCUMENT);
  });
});

describe('read tokens', () => {
  it('401 without a token, 403 with the ingest token, 200 with a read token (Api-Token or Bearer)', async () => {
    const none = await apiGet(base, '/api/v1/entities?type=pod', undefined);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Api-Token');
    expect(none.body['errorType']).toBe('unauthorized');
    const ingestToken = await apiGet(base, '/api/v1/entities?type=pod', `Api-Token ${TOKEN}`);
    expect(ingestToken.status).toBe(403);
    expect(JSON.stringify(ingestToken.body)).not.toContain(TOKEN);
    expect((await apiGet(base, '/api/v1/entities?type=pod', auth)).status).toBe(200);
    expect((await apiGet(base, '/api/v1/entities?type=pod', `Bearer ${READ}`)).status).toBe(200);
  });

  it('a read token does not ingest', async () => {
    const r = await post(`${base}/v1/logs`, logsBody([logRecord(createResource({ 'service.name': 'x' }), 1n, 'x')]), { authorization: auth });
    expect(r.status).toBe(403);
  });

  it('loopback needs no token only where configured (npm start); with no read tokens the API answers 401', async () => {
    const d1 = await tmpDataDir();
    const d2 = await tmpDataDir();
    const { gw: open } = await start(d1, { api: { readTokens: [], readOpenOnLoopback: true, queryTimeoutMs: 5_000, queryMaxRows: 100 } });
    const { gw: closed } = await start(d2, { api: { readTokens: [], readOpenOnLoopback: false, queryTimeoutMs: 5_000, queryMaxRows: 100 } });
    try {
      expect((await apiGet(open.url, '/api/v1/status', undefined)).status).toBe(200);
      expect((await apiGet(closed.url, '/api/v1/status', undefined)).status).toBe(401);
      expect((await apiGet(closed.url, '/api/v1/status', `Api-Token ${TOKEN}`)).status).toBe(401);
    } finally {
      await open.close();
      await closed.close();
      await removeDir(d1);
      await removeDir(d2);
    }
  });
});

interface EntityJson {
  id: string;
  type: string;
  name: string;
  namespace: string | null;
  parents: { id: string; type: string; name: string }[];
  children?: { id: string; type: string; name: string }[];
  metrics: { cpu: { value: number; unit: string } | null; memory: { value: number } | null };
}

describe('entities', () => {
  it('lists pods with their latest CPU and memory, filtered and paged', async () => {
    const all = await apiData<{ total: number; items: EntityJson[]; nextCursor: string | null }>(base, '/api/v1/entities?type=pod', auth);
    expect(all.total).toBe(3);
    expect(all.items.map((e) => e.name)).toEqual(['db-0', 'web-a', 'web-b']);
    const a = all.items.find((e) => e.name === 'web-a')!;
    expect(a.metrics.cpu).toMatchObject({ value: 0.5, unit: '{cpu}' });
    expect(a.metrics.memory!.value).toBe(100e6);
    expect(a.parents.map((p) => p.type).sort()).toEqual(['host', 'workload']);
    const shop = await apiData<{ items: EntityJson[] }>(base, '/api/v1/entities?type=pod&namespace=shop&q=WEB', auth);
    expect(shop.items.map((e) => e.name)).toEqual(['web-a', 'web-b']);
    const page1 = await apiData<{ items: EntityJson[]; nextCursor: string }>(base, '/api/v1/entities?type=pod&limit=2', auth);
    expect(page1.items).toHaveLength(2);
    const page2 = await apiData<{ items: EntityJson[]; nextCursor: string | null }>(base, `/api/v1/entities?type=pod&limit=2&cursor=${page1.nextCursor}`, auth);
    expect(page2.items.map((e) => e.name)).toEqual(['web-b']);
    expect(page2.nextCursor).toBeNull();
    // A workload sums its pods.
    const web = await apiData<{ items: EntityJson[] }>(base, '/api/v1/entities?type=workload&namespace=shop', auth);
    expect(web.items[0]!.metrics.cpu!.value).toBeCloseTo(0.75);
    const children = await apiData<{ items: EntityJson[] }>(base, `/api/v1/entities?type=pod&parent=${ids.web}`, auth);
    expect(children.items.map((e) => e.name)).toEqual(['web-a', 'web-b']);
  });

  it('one entity: attributes, parents and children', async () => {
    const pod = await apiData<EntityJson & { attributes: Record<string, unknown>; childrenTotal: number }>(base, `/api/v1/entities/${ids.podA}`, auth);
    expect(pod.attributes['k8s.pod.uid']).toBe('uid-a');
    expect(pod.children!.map((c) => [c.type, c.name])).toEqual([
      ['container', 'app'],
      ['service', 'checkout'],
    ]);
    expect(pod.parents.map((p) => p.id).sort()).toEqual([ids.host, ids.web].sort());
    expect((await apiGet(base, `/api/v1/entities/${'0'.repeat(16)}`, auth)).status).toBe(404);
  });
});

interface SeriesJson {
  series: { metric: string; entity: { id: string } | null; t: number[]; v: number[] }[];
  step: number;
}

describe('series', () => {
  const range = `from=${(START / 1000).toFixed(0)}&to=${((START + 10 * MIN) / 1000).toFixed(0)}`;

  it('avg of a gauge per entity at a step; max; p95 and sum across entities', async () => {
    const s = await apiData<SeriesJson>(base, `/api/v1/series?metric=k8s.pod.cpu.usage&type=pod&${range}&step=1m`, auth);
    expect(s.series).toHaveLength(3);
    const c = s.series.find((x) => x.entity?.id === ids.podC)!;
    expect(c.t).toHaveLength(10);
    expect(c.t[1]! - c.t[0]!).toBe(MIN);
    for (const v of c.v) expect(v).toBeCloseTo(1.5, 5);
    const max = await apiData<SeriesJson>(base, `/api/v1/series?metric=k8s.pod.cpu.usage&entity=${ids.podC}&${range}&step=1m&agg=max`, auth);
    expect(max.series[0]!.v.every((v) => v === 2)).toBe(true);
    const sum = await apiData<SeriesJson>(base, `/api/v1/series?metric=k8s.pod.cpu.usage&type=pod&${range}&step=1m&agg=sum&by=none`, auth);
    expect(sum.series).toHaveLength(1);
    expect(sum.series[0]!.entity).toBeNull();
    expect(sum.series[0]!.v[0]).toBeCloseTo(0.5 + 0.25 + 1.5);
    const p95 = await apiData<SeriesJson>(base, `/api/v1/series?metric=k8s.pod.cpu.usage&namespace=shop&type=pod&${range}&step=5m&agg=p95&by=none`, auth);
    expect(p95.series[0]!.v[0]).toBeCloseTo(0.25 + 0.95 * 0.25);
  });

  it('rate of a cumulative sum, for the pod above its container (attribute filter too)', async () => {
    const s = await apiData<SeriesJson>(base, `/api/v1/series?metric=container.cpu.time&entity=${ids.podA}&${range}&step=1m&agg=rate`, auth);
    expect(s.series).toHaveLength(1);
    expect(s.series[0]!.entity!.id).toBe(ids.podA);
    // The first minute lacks the point before its first one; the others are whole.
    for (const v of s.series[0]!.v.slice(1)) expect(v).toBeCloseTo(0.2, 5);
    const total = await apiData<SeriesJson>(base, `/api/v1/series?metric=container.cpu.time&entity=${ids.ctrA}&${range}&step=1m&agg=sum&attr=state=user`, auth);
    expect(total.series[0]!.v[2]).toBeCloseTo(12);
    const none = await apiData<SeriesJson>(base, `/api/v1/series?metric=container.cpu.time&entity=${ids.ctrA}&${range}&attr=state=system`, auth);
    expect(none.series).toEqual([]);
  });

  it('lists metric names, all or those an entity reported', async () => {
    const all = await apiData<{ items: { name: string }[] }>(base, '/api/v1/metrics', auth);
    expect(all.items.map((m) => m.name).sort()).toEqual(['container.cpu.time', 'k8s.pod.cpu.usage', 'k8s.pod.memory.working_set']);
    const ctr = await apiData<{ items: { name: string; temporality: string }[] }>(base, `/api/v1/metrics?entity=${ids.ctrA}`, auth);
    expect(ctr.items).toEqual([{ name: 'container.cpu.time', unit: 's', type: 'sum', temporality: 'cumulative', monotonic: true }]);
  });
});

interface LogsJson {
  items: { body: string; severity: number; time: string; timeUnixNano: string; entity: { id: string } | null }[];
  nextCursor: string | null;
}

describe('logs and events', () => {
  const range = `from=${(START / 1000 - 60).toFixed(0)}&to=${(NOW / 1000 + 60).toFixed(0)}`;

  it('newest first, paged by cursor without gaps or repeats, by entity or workload', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: LogsJson = await apiData<LogsJson>(base, `/api/v1/logs?workload=web&namespace=shop&${range}&limit=7${cursor === null ? '' : `&cursor=${cursor}`}`, auth);
      seen.push(...page.items.map((i) => i.body));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => `line ${29 - i} ${(29 - i) % 10 === 9 ? 'payment failed' : 'ok'}`));
    const byEntity = await apiData<LogsJson>(base, `/api/v1/logs?entity=${ids.ctrA}&${range}&limit=1`, auth);
    expect(byEntity.items[0]!.entity!.id).toBe(ids.ctrA);
    expect(byEntity.items[0]!.timeUnixNano).toBe(String(BigInt(START + 29_000) * 1_000_000n));
  });

  it('minimum severity and text search', async () => {
    const warn = await apiData<LogsJson>(base, `/api/v1/logs?entity=${ids.podA}&severity=WARN&${range}&limit=100`, auth);
    expect(warn.items.map((i) => i.severity).every((s) => s >= 13)).toBe(true);
    expect(warn.items).toHaveLength(6);
    const found = await apiData<LogsJson>(base, `/api/v1/logs?entity=${ids.podA}&severity=error&q=PAYMENT%20Failed&${range}`, auth);
    expect(found.items.map((i) => i.body)).toEqual(['line 29 payment failed', 'line 19 payment failed', 'line 9 payment failed']);
  });

  it("events of a namespace, of a pod, by name", async () => {
    const ns = await apiData<{ items: { name: string; attributes: Record<string, unknown> }[] }>(base, `/api/v1/events?namespace=data&${range}`, auth);
    expect(ns.items.map((e) => e.name)).toEqual(['container.exit']);
    expect(ns.items[0]!.attributes['process.exit.code']).toBe(1);
    const byName = await apiData<{ items: { name: string }[] }>(base, `/api/v1/events?name=container.start&${range}`, auth);
    expect(byName.items.map((e) => e.name)).toEqual(['container.start']);
  });
});

describe('traces', () => {
  const range = `from=${(START / 1000 - 60).toFixed(0)}&to=${(NOW / 1000 + 60).toFixed(0)}`;
  it('lists traces by service and duration; returns the spans of one', async () => {
    const all = await apiData<{ items: { traceId: string; rootName: string; durationMs: number; errors: number; spans: number }[] }>(base, `/api/v1/traces?service=checkout&${range}`, auth);
    expect(all.items.map((t) => [t.rootName, t.spans, t.errors])).toEqual([
      ['GET /cart', 1, 0],
      ['POST /pay', 2, 1],
    ]);
    const slow = await apiData<{ items: { rootName: string }[] }>(base, `/api/v1/traces?minDuration=500ms&${range}`, auth);
    expect(slow.items.map((t) => t.rootName)).toEqual(['POST /pay']);
    const spans = await apiData<{ spans: { name: string; parentSpanId: string | null; entity: { id: string } | null }[] }>(base, `/api/v1/traces/${'11'.repeat(16)}`, auth);
    expect(spans.spans.map((s) => [s.name, s.parentSpanId])).toEqual([
      ['POST /pay', null],
      ['SELECT', 'a1'.repeat(8)],
    ]);
    expect(spans.spans[0]!.entity!.id).toBe(entityId('service', '/checkout'));
  });
});

describe('bad input', () => {
  const cases: [string, string][] = [
    ['/api/v1/entities', 'type'],
    ['/api/v1/entities?type=pods', 'type'],
    ['/api/v1/entities?type=pod&limit=0', 'limit'],
    ['/api/v1/entities?type=pod&limit=1000001', 'limit'],
    ['/api/v1/entities?type=pod&limit=ten', 'limit'],
    ['/api/v1/entities?type=pod&parent=xyz', 'parent'],
    ['/api/v1/entities?type=pod&cursor=%%%', 'cursor'],
    ['/api/v1/entities?type=pod&typo=1', 'typo'],
    ['/api/v1/entities?type=pod&type=host', 'type'],
    ['/api/v1/series?type=pod', 'metric'],
    ['/api/v1/series?metric=no.such.metric&type=pod', 'metric'],
    ['/api/v1/series?metric=k8s.pod.cpu.usage', 'entity'],
    ['/api/v1/series?metric=k8s.pod.cpu.usage&type=pod&from=yesterday', 'from'],
    ['/api/v1/series?metric=k8s.pod.cpu.usage&type=pod&from=now&to=now-1h', 'from'],
    ['/api/v1/series?metric=k8s.pod.cpu.usage&type=pod&from=now-90d', 'from'],
    ['/api/v1/series?metric=k8s.pod.cpu.usage&type=pod&to=2026-13-45T99:00:00Z', 'to'],
    ['/api/v1/series?metric=k8s.pod.cpu.usage&type=pod&from=now-7d&step=1s', 'step'],
    ['/api/v1/series?metric=k8s.pod.cpu.usage&type=pod&step=fast', 'step'],
    ['/api/v1/series?metric=k8s.pod.cpu.usage&type=pod&agg=median', 'agg'],
    ['/api/v1/series?metric=k8s.pod.cpu.usage&type=pod&agg=p95', 'agg'],
    ['/api/v1/series?metric=k8s.pod.cpu.usage&type=pod&by=node', 'by'],
    ['/api/v1/series?metric=k8s.pod.cpu.usage&type=pod&attr=novalue', 'attr'],
    ['/api/v1/series?metric=k8s.pod.cpu.usage&entity=ZZZZ', 'entity'],
    ['/api/v1/series?metric=k8s.pod.cpu.usage&entity=0123456789abcdef&type=pod', 'entity'],
    ['/api/v1/logs?severity=LOUD', 'severity'],
    ['/api/v1/logs?severity=99', 'severity'],
    ['/api/v1/logs?cursor=eyJ0IjoiMSJ9', 'cursor'],
    ['/api/v1/logs?cursor=' + Buffer.from(JSON.stringify({ t: "1' OR 1=1 --", s: 1, f: 'x' })).toString('base64url'), 'cursor'],
    [`/api/v1/logs?q=${'x'.repeat(300)}`, 'q'],
    ['/api/v1/logs?q=a%00b', 'q'],
    ['/api/v1/logs?limit=-1', 'limit'],
    ['/api/v1/logs?from=now-1h&from=now-2h', 'from'],
    ['/api/v1/events?name=' + Array.from({ length: 21 }, (_, i) => `n${i}`).join(','), 'name'],
    ['/api/v1/traces?minDuration=2s&maxDuration=1s', 'minDuration'],
    ['/api/v1/traces?minDuration=forever', 'minDuration'],
    ['/api/v1/traces/not-a-trace-id', 'traceId'],
    ['/api/v1/entities/NOT-AN-ID', 'id'],
    ['/api/v1/status?verbose=1', 'verbose'],
  ];
  it.each(cases)('%s → 400 naming "%s"', async (url, parameter) => {
    const r = await apiGet(base, url, auth);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body).toMatchObject({ status: 'error', errorType: 'bad_data', parameter });
    expect(String(r.body['error'])).toContain(`"${parameter}"`);
  });

  it('an unknown entity is 404 naming the parameter; a cursor of another query is refused', async () => {
    const r = await apiGet(base, '/api/v1/logs?entity=0123456789abcdef', auth);
    expect(r.status).toBe(404);
    expect(r.body['parameter']).toBe('entity');
    const page = await apiData<LogsJson>(base, '/api/v1/logs?from=now-1h&limit=1', auth);
    const other = await apiGet(base, `/api/v1/logs?from=now-2h&limit=1&cursor=${page.nextCursor!}`, auth);
    expect(other.status).toBe(400);
    expect(String(other.body['error'])).toContain('another query');
  });

  it('other methods, paths and prefixes', async () => {
    const postApi = await apiGet(base, '/api/v1/entities?type=pod', auth, 'POST');
    expect(postApi.status).toBe(405);
    expect(postApi.headers['allow']).toBe('GET');
    expect((await apiGet(base, '/api/v1/nothing', auth)).status).toBe(404);
    expect((await apiGet(base, '/api/v1', auth)).status).toBe(404);
  });

  it('injection attempts are data, never SQL: nothing matches, nothing breaks, the tables stay whole', async () => {
    const before = await apiData<{ entities: number; resources: number }>(base, '/api/v1/status', auth);
    const logsBefore = (await apiData<LogsJson>(base, '/api/v1/logs?from=now-1h&limit=1000', auth)).items.length;
    const attempts = [
      `/api/v1/logs?q=${encodeURIComponent("'; DROP TABLE logs; --")}`,
      `/api/v1/logs?q=${encodeURIComponent("%' OR '1'='1")}`,
      `/api/v1/logs?workload=${encodeURIComponent("web' OR 1=1 --")}`,
      `/api/v1/logs?namespace=${encodeURIComponent('shop"; DELETE FROM logs; --')}`,
      `/api/v1/entities?type=pod&q=${encodeURIComponent("' UNION SELECT * FROM resources --")}`,
      `/api/v1/entities?type=pod&namespace=${encodeURIComponent("x' OR namespace IS NOT NULL --")}`,
      `/api/v1/events?name=${encodeURIComponent("x') OR ('1'='1")}`,
      `/api/v1/traces?service=${encodeURIComponent("checkout' OR '1'='1")}`,
      `/api/v1/series?metric=k8s.pod.cpu.usage&type=pod&attr=${encodeURIComponent("state') OR 1=1 --=x")}`,
    ];
    for (const a of attempts) {
      const r = await apiGet(base, a, auth);
      expect(r.status, `${a}: ${JSON.stringify(r.body)}`).toBe(200);
      const data = r.body['data'] as { items?: unknown[]; series?: unknown[] };
      expect((data.items ?? data.series ?? []).length, a).toBe(0);
    }
    for (const a of [`/api/v1/series?metric=${encodeURIComponent("x' OR '1'='1")}&type=pod`, `/api/v1/entities/${encodeURIComponent("' OR 1=1 --")}`]) {
      expect((await apiGet(base, a, auth)).status, a).toBe(400);
    }
    expect(await apiData(base, '/api/v1/status', auth)).toEqual(before);
    expect((await apiData<LogsJson>(base, '/api/v1/logs?from=now-1h&limit=1000', auth)).items.length).toBe(logsBefore);
  });
});
