import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../../../src/gateway/store/catalog.js';
import { entityId } from '../../../../src/gateway/store/entities.js';
import type { TelemetryStore } from '../../../../src/gateway/store/telemetry-store.js';
import { createResource } from '../../../../src/model/index.js';
import { encodeRef, removeDir, tmpDataDir, tracesRequest } from '../helpers.js';
import { containerResource, HOST_ATTRS, logRecord, logsBody, metric, metricsBody, openStore, podResource, point, TestClock, committedQuery } from './store-helpers.js';

/**
 * The embedded store on a real DuckDB file: what a request becomes in the tables, how resources
 * and entities are kept once, and that a reopened store carries on where it stopped.
 */

const T0 = Date.UTC(2026, 10, 25, 8, 0, 0);

const dirs: string[] = [];
const stores: TelemetryStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function fresh(clock = new TestClock(T0), options: Parameters<typeof openStore>[1] = {}): Promise<{ store: TelemetryStore; dir: string; clock: TestClock }> {
  const dir = await tmpDataDir();
  dirs.push(dir);
  const store = await openStore(dir, { clock, ...options });
  stores.push(store);
  expect(store.state).toBe('ready');
  return { store, dir, clock };
}

const count = async (s: TelemetryStore, sql: string, params: (string | number)[] = []): Promise<number> => {
  await s.flush();
  return Number((await s.query(sql, params, 5_000))[0]!['n']);
};

describe('the embedded store', () => {
  it("keeps a pod's thousands of points on one resource row, with delta and cumulative sums both stored", async () => {
    const { store } = await fresh();
    const pod = podResource('uid-1', 'web-1');
    const cpu = metric('k8s.pod.cpu.time', 'sum', 's');
    const mem = metric('k8s.pod.memory.working_set', 'gauge', 'By');
    for (let batch = 0; batch < 20; batch++) {
      const points = [];
      for (let i = 0; i < 100; i++) {
        const t = T0 + (batch * 100 + i) * 10_000;
        points.push(point(cpu, pod, t, (batch * 100 + i) * 0.5, { state: i % 2 === 0 ? 'user' : 'system' }), point(mem, pod, t, 1e6 + i));
      }
      await store.write('metrics', 'protobuf', metricsBody(points, batch % 2 === 0 ? 'cumulative' : 'delta'));
    }
    expect(await count(store, 'SELECT count(*) AS n FROM points')).toBe(4_000);
    expect(await count(store, 'SELECT count(*) AS n FROM resources')).toBe(1);
    expect(await count(store, 'SELECT count(DISTINCT resource_id) AS n FROM points')).toBe(1);
    // Two temporalities of one sum are two descriptors: rates and totals can both be asked for.
    const temporalities = await committedQuery(store, "SELECT temporality FROM metrics WHERE name = 'k8s.pod.cpu.time' ORDER BY temporality", [], 5_000);
    expect(temporalities.map((r) => r['temporality'])).toEqual([1, 2]);
    // Attribute sets are kept once too: {} (id 0, not stored), {state:user}, {state:system}.
    expect(await count(store, 'SELECT count(*) AS n FROM attribute_sets')).toBe(2);
    const start = await committedQuery(store, "SELECT DISTINCT start_ms FROM points JOIN metrics USING (metric_id) WHERE name = 'k8s.pod.cpu.time'", [], 5_000);
    expect(start.map((r) => r['start_ms'])).toEqual([1_000]);
  });

  it('derives the entity tree from resource attributes, with first and last seen', async () => {
    const { store, clock } = await fresh();
    const c = containerResource('c0ffee', 'app', 'uid-1', 'web-1');
    const g = createResource({ ...HOST_ATTRS, 'sextant.process_group.key': 'nginx|c0ffee', 'process.executable.name': 'nginx', 'container.id': 'c0ffee' });
    const host = createResource(HOST_ATTRS);
    const m = metric('x.gauge', 'gauge');
    await store.write('metrics', 'protobuf', metricsBody([point(m, c, T0, 1), point(m, g, T0, 2), point(m, host, T0, 3)]));
    clock.advance(120_000);
    await store.write('metrics', 'protobuf', metricsBody([point(m, c, T0 + 120_000, 1)]));
    const cat = store.catalog!;
    const ids = {
      cluster: entityId('cluster', 'c1'),
      host: entityId('host', 'node-1'),
      ns: entityId('namespace', 'c1/shop'),
      workload: entityId('workload', 'c1/shop/Deployment/web'),
      pod: entityId('pod', 'uid-1'),
      container: entityId('container', 'uid-1/app'),
      group: entityId('process_group', 'node-1/nginx|c0ffee'),
    };
    expect([...cat.entity(ids.container)!.parents]).toEqual([ids.pod]);
    expect([...cat.entity(ids.pod)!.parents].sort()).toEqual([ids.host, ids.workload].sort());
    expect([...cat.entity(ids.workload)!.parents]).toEqual([ids.ns]);
    expect([...cat.entity(ids.ns)!.parents]).toEqual([ids.cluster]);
    expect([...cat.entity(ids.group)!.parents]).toEqual([ids.container]);
    expect(cat.entity(ids.container)!.name).toBe('app');
    // The process group's resource says only container.id; the name from the container's own survives.
    const rows = await committedQuery(store, 'SELECT entity_id, type, name, first_seen_ms, last_seen_ms FROM entities ORDER BY type', [], 5_000);
    const byId = new Map(rows.map((r) => [r['entity_id'], r]));
    expect(byId.get(ids.container)!['name']).toBe('app');
    expect(byId.get(ids.container)!['first_seen_ms']).toBe(T0);
    expect(byId.get(ids.container)!['last_seen_ms']).toBe(T0 + 120_000);
    expect(byId.get(ids.host)!['last_seen_ms']).toBe(T0 + 120_000);
    expect(await count(store, 'SELECT count(*) AS n FROM entity_links')).toBe(7);
    // Descendants reach the process group in the container.
    expect(cat.descendants(ids.workload)).toEqual(new Set([ids.pod, ids.container, ids.group]));
  });

  it("an entity's namespace survives an update batch that starts with an entity without one (a host)", async () => {
    // DuckDB's node API types a list parameter by its first value: a list whose first value is
    // NULL was bound as all NULLs, and every workload, pod and container touched in the same batch
    // after a host lost its namespace (the API's workload=&namespace= then found nothing).
    const { store, clock, dir } = await fresh();
    const c = containerResource('c0ffee', 'app', 'uid-1', 'web-1');
    const host = createResource(HOST_ATTRS);
    const m = metric('x.gauge', 'gauge');
    await store.write('metrics', 'protobuf', metricsBody([point(m, host, T0, 1), point(m, c, T0, 2)]));
    clock.advance(120_000);
    await store.write('metrics', 'protobuf', metricsBody([point(m, host, T0 + 120_000, 1), point(m, c, T0 + 120_000, 2)]));
    const rows = await committedQuery(store, "SELECT type, namespace, last_seen_ms FROM entities WHERE type IN ('host', 'workload', 'pod', 'container') ORDER BY type", [], 5_000);
    expect(rows.map((r) => [r['type'], r['namespace'], r['last_seen_ms']])).toEqual([
      ['container', 'shop', T0 + 120_000],
      ['host', null, T0 + 120_000],
      ['pod', 'shop', T0 + 120_000],
      ['workload', 'shop', T0 + 120_000],
    ]);
    await store.close();
    stores.splice(stores.indexOf(store), 1);
    const again = await openStore(dir, { clock });
    stores.push(again);
    expect(again.catalog!.entity(entityId('workload', 'c1/shop/Deployment/web'))!.namespace).toBe('shop');
  });

  it('splits log records and events, keeps their order within a nanosecond, and their trace context', async () => {
    const { store } = await fresh();
    const c = containerResource('c1', 'app', 'uid-1', 'web-1');
    const t = BigInt(T0) * 1_000_000n;
    await store.write('logs', 'protobuf', logsBody([logRecord(c, t, 'first'), logRecord(c, t, 'second', 13), logRecord(c, t + 1n, 'container app started', 9, 'container.start', { 'process.exit.code': 0 })]));
    const logs = await committedQuery(store, 'SELECT body, severity, time_ns, seq FROM logs ORDER BY time_ns, seq', [], 5_000);
    expect(logs.map((r) => r['body'])).toEqual(['first', 'second']);
    expect(logs[0]!['time_ns']).toBe(logs[1]!['time_ns']);
    const events = await committedQuery(store, 'SELECT name, attributes FROM events', [], 5_000);
    expect(events).toEqual([{ name: 'container.start', attributes: '{"process.exit.code":0}' }]);
    await store.write('traces', 'protobuf', encodeRef('traces', tracesRequest(['GET /', 'SELECT'])));
    const spans = await committedQuery(store, 'SELECT trace_id, service, duration_ns FROM spans ORDER BY span_id', [], 5_000);
    expect(spans).toEqual([
      { trace_id: '5b8efff798038103d269b633813fc60c', service: 'svc', duration_ns: 1_000_000_000 },
      { trace_id: '5b8efff798038103d269b633813fc60c', service: 'svc', duration_ns: 1_000_000_000 },
    ]);
  });

  it('takes OTLP/JSON bodies as well as protobuf', async () => {
    const { store } = await fresh();
    const body = JSON.stringify({
      resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json-svc' } }] }, scopeLogs: [{ logRecords: [{ timeUnixNano: '1764057600000000001', severityNumber: 17, body: { stringValue: 'from json' } }] }] }],
    });
    await store.write('logs', 'json', Buffer.from(body));
    expect(await committedQuery(store, 'SELECT body, severity, time_ns FROM logs', [], 5_000)).toEqual([{ body: 'from json', severity: 17, time_ns: '1764057600000000001' }]);
  });

  it('reopens where it stopped: catalog, ids and sequence numbers continue', async () => {
    const { store, dir, clock } = await fresh();
    const c = containerResource('c1', 'app', 'uid-1', 'web-1');
    const t = BigInt(T0) * 1_000_000n;
    await store.write('logs', 'protobuf', logsBody([logRecord(c, t, 'a'), logRecord(c, t, 'b')]));
    await store.close();
    stores.splice(stores.indexOf(store), 1);
    const again = await openStore(dir, { clock });
    stores.push(again);
    await again.write('logs', 'protobuf', logsBody([logRecord(c, t, 'c'), logRecord(createResource({ 'service.name': 'other' }), t, 'd')]));
    const rows = await committedQuery(again, 'SELECT body, seq, resource_id FROM logs ORDER BY seq', [], 5_000);
    expect(rows.map((r) => [r['body'], r['seq'], r['resource_id']])).toEqual([
      ['a', 1, 1],
      ['b', 2, 1],
      ['c', 3, 1],
      ['d', 4, 2],
    ]);
    expect(await count(again, 'SELECT count(*) AS n FROM entities')).toBe(again.catalog!.sizes.entities);
  });

  it('records the cluster monitor’s object graph as entities and links', async () => {
    const { store } = await fresh();
    await store.recordObjects([
      { attributes: { 'k8s.cluster.name': 'c1', 'k8s.namespace.name': 'shop', 'k8s.replicaset.name': 'web-7f9' }, parents: [{ 'k8s.cluster.name': 'c1', 'k8s.namespace.name': 'shop', 'k8s.deployment.name': 'web' }] },
      { attributes: { 'k8s.node.name': 'node-9', 'k8s.cluster.name': 'c1' } },
    ]);
    const rs = entityId('workload', 'c1/shop/ReplicaSet/web-7f9');
    const deploy = entityId('workload', 'c1/shop/Deployment/web');
    expect(store.catalog!.entity(rs)!.parents.has(deploy)).toBe(true);
    const rows = await committedQuery(store, "SELECT type, name, source FROM entities WHERE source = 'cluster' ORDER BY type, name", [], 5_000);
    expect(rows).toEqual([
      { type: 'cluster', name: 'c1', source: 'cluster' },
      { type: 'host', name: 'node-9', source: 'cluster' },
      { type: 'namespace', name: 'shop', source: 'cluster' },
      { type: 'workload', name: 'web', source: 'cluster' },
      { type: 'workload', name: 'web-7f9', source: 'cluster' },
    ]);
  });

  it('stops accepting while its queue is over the limit, and accepts again once it drains', async () => {
    const { store } = await fresh(new TestClock(T0), { tuning: { maxPendingBytes: 1 } });
    const body = logsBody([logRecord(createResource({ 'service.name': 's' }), 1n, 'x')]);
    expect(store.accepting).toBe(true);
    const first = store.write('logs', 'protobuf', body);
    expect(store.accepting).toBe(false);
    await first;
    await store.flush();
    expect(store.accepting).toBe(true);
  });

  it('a request it cannot read costs its own rows, not its batch’s', async () => {
    const { store } = await fresh();
    // Checked at the door in the gateway; here one slips through between two good ones.
    const good = (body: string) => logsBody([logRecord(createResource({ 'service.name': body }), 1n, body)]);
    await Promise.all([store.write('logs', 'protobuf', good('a')), store.write('logs', 'protobuf', Buffer.from([0x0a, 0xff])), store.write('logs', 'protobuf', good('b'))]);
    expect(await count(store, 'SELECT count(*) AS n FROM logs')).toBe(2);
    expect(await count(store, 'SELECT count(*) AS n FROM resources')).toBe(2);
  });

  it('a batch that cannot commit leaves the catalog as it was (no id names a row that is not there)', () => {
    const cat = new Catalog(60_000);
    const kv = (k: string, v: string) => ({ key: k, value: { stringValue: v } });
    cat.resource([kv('service.name', 'kept')], T0);
    cat.metric('m', '1', 'gauge', 0, false, '');
    cat.commit();
    const before = cat.sizes;
    cat.resource([kv('k8s.pod.uid', 'u9'), kv('k8s.pod.name', 'p9'), kv('k8s.namespace.name', 'ns'), kv('host.name', 'h')], T0 + 1);
    cat.metric('m2', '1', 'gauge', 0, false, '');
    cat.attributeSet([kv('state', 'user')]);
    expect(cat.sizes.resources).toBe(2);
    cat.rollback();
    expect(cat.sizes).toEqual(before);
    expect(cat.metricsNamed('m2')).toEqual([]);
    expect(cat.rows.resources.rows).toBe(0);
    // The same resource again is new again, with the next id.
    expect(cat.resource([kv('k8s.pod.uid', 'u9')], T0 + 2)).toBe(3);
  });
});

describe('queries', () => {
  it('a slow query is cancelled at its deadline while ingest goes on committing; the connection serves the next query', async () => {
    const { store } = await fresh();
    const order: string[] = [];
    const slow = store.query('SELECT count(*) AS n FROM range(100000000000) t(i) WHERE i % 7 = 3', [], 1_500).then(
      () => order.push('slow finished'),
      (err: Error) => order.push(`slow: ${err.name}`),
    );
    await store.write('logs', 'protobuf', logsBody([logRecord(createResource({ 'service.name': 's' }), 1n, 'while a query runs')]));
    order.push('write committed');
    await slow;
    expect(order).toEqual(['write committed', 'slow: QueryTimeoutError']);
    expect(await committedQuery(store, 'SELECT count(*) AS n FROM logs', [], 1_000)).toEqual([{ n: 1 }]);
  });

  it('a list parameter starting with NULL keeps its other values', async () => {
    const { store } = await fresh();
    const rows = await store.query('SELECT unnest($1::VARCHAR[]) AS v, unnest($2::DOUBLE[]) AS d', [[null, 'b', 'c'], [null, 2, 3]], 5_000);
    expect(rows.map((r) => [r['v'], r['d']])).toEqual([
      [null, null],
      ['b', 2],
      ['c', 3],
    ]);
  });

  it('client values reach DuckDB only as parameters', async () => {
    const { store } = await fresh();
    const evil = "x'); DROP TABLE logs; --";
    expect(await committedQuery(store, 'SELECT $1 AS v, length($1) AS n', [evil], 1_000)).toEqual([{ v: evil, n: evil.length }]);
    expect(await committedQuery(store, 'SELECT count(*) AS n FROM logs', [], 1_000)).toEqual([{ n: 0 }]);
    // And the settings SQL could reach are locked: no file access, no limit lifted.
    await expect(store.query("SELECT * FROM read_csv('/etc/passwd')", [], 1_000)).rejects.toThrow(/disabled|Permission/i);
    await expect(store.query("SET memory_limit = '100GB'", [], 1_000)).rejects.toThrow(/configuration has been locked|Cannot change/i);
  });
});
