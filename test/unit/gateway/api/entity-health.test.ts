import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../../src/gateway/gateway.js';
import { DEFAULT_PROBLEMS_CONFIG } from '../../../../src/gateway/problems/config.js';
import { entityId } from '../../../../src/gateway/store/entities.js';
import { until } from '../../../helpers/wait.js';
import { post, removeDir, secret, start, tmpDataDir } from '../helpers.js';
import { containerResource, logRecord, logsBody, metric, metricsBody, point } from '../store/store-helpers.js';
import { apiData } from './api-helpers.js';

/**
 * What the explorer's rows show beside CPU and memory: requests and limits summed from the
 * containers below (the pod spec's where the cluster monitor reports them, else the cgroup's),
 * and health as the worst of the last hour below — an OOM kill is critical, a restart, a
 * container not ready or one throttled in most of its CFS periods a warning — and search by label.
 */

const READ = 'read-token-0123456789';
const auth = `Api-Token ${READ}`;
const ctrA = containerResource('ca11', 'app', 'uid-a', 'web-a', 'shop', 'web');
const ctrA2 = containerResource('ca22', 'sidecar', 'uid-a', 'web-a', 'shop', 'web');
const ctrB = containerResource('cb11', 'app', 'uid-b', 'web-b', 'shop', 'web');
const ctrC = containerResource('cc11', 'db', 'uid-c', 'db-0', 'data', 'db');
const ids = { podA: entityId('pod', 'uid-a'), podB: entityId('pod', 'uid-b'), podC: entityId('pod', 'uid-c'), web: entityId('workload', 'c1/shop/Deployment/web'), ctrA: entityId('container', 'uid-a/app') };

interface Row {
  id: string;
  bounds: { cpuRequest: number | null; cpuLimit: number | null; memoryRequest: number | null; memoryLimit: number | null };
  health: { level: string; reasons: { reason: string; count: number }[] };
}

let dir: string;
let gw: Gateway;

beforeAll(async () => {
  dir = await tmpDataDir();
  ({ gw } = await start(dir, { ndjson: false, api: { readTokens: [secret(READ)], readOpenOnLoopback: false, queryTimeoutMs: 5_000, queryMaxRows: 1_000 } }));
  const now = Date.now();
  const g = (name: string, unit = '1') => metric(name, 'gauge', unit);
  const pts = [
    // Pod A: spec requests/limits on both containers (cluster monitor), and a cgroup limit the spec wins over.
    point(g('k8s.container.cpu.request.current', '{cpu}'), ctrA, now - 5000, 0.25),
    point(g('k8s.container.cpu.request.current', '{cpu}'), ctrA2, now - 5000, 0.05),
    point(g('k8s.container.cpu.limit.current', '{cpu}'), ctrA, now - 5000, 1),
    point(g('k8s.container.memory.limit.current', 'By'), ctrA, now - 5000, 512e6),
    point(g('k8s.container.memory.limit.current', 'By'), ctrA2, now - 5000, 64e6),
    point(g('sextant.container.memory.limit', 'By'), ctrA, now - 5000, 999e9),
    point(g('k8s.container.ready'), ctrA, now - 5000, 1),
    // Pod B: no spec, the cgroup's limit; throttled in 60 of 100 periods; not ready.
    point(g('sextant.container.memory.limit', 'By'), ctrB, now - 5000, 256e6),
    point(metric('sextant.container.cpu.throttling.periods', 'sum', '{period}'), ctrB, now - 5000, 100),
    point(metric('sextant.container.cpu.throttling.throttled_periods', 'sum', '{period}'), ctrB, now - 5000, 60),
    point(g('k8s.container.ready'), ctrB, now - 5000, 0),
  ];
  expect((await post(`${gw.url}/v1/metrics`, metricsBody(pts, 'delta'))).status).toBe(200);
  const t = BigInt(now - 60_000) * 1_000_000n;
  expect(
    (
      await post(
        `${gw.url}/v1/logs`,
        logsBody([
          logRecord(ctrA, t, 'container app was OOM-killed', 17, 'container.oom'),
          logRecord(ctrA, t + 1n, 'container app restarted', 13, 'container.restart'),
          logRecord(ctrA, t + 2n, 'container app restarted', 13, 'container.restart'),
          logRecord(ctrC, t, 'container db started', 9, 'container.start'),
        ]),
      )
    ).status,
  ).toBe(200);
  await until('committed', async () => (await apiData<{ pendingBytes: number }>(gw.url, '/api/v1/status', auth)).pendingBytes === 0);
});

afterAll(async () => {
  await gw.close();
  await removeDir(dir);
});

describe('entity bounds and health', () => {
  it('pods: requests and limits summed over their containers, the spec before the cgroup; health the worst below', async () => {
    const page = await apiData<{ items: Row[] }>(gw.url, '/api/v1/entities?type=pod', auth);
    const by = new Map(page.items.map((r) => [r.id, r]));
    expect(by.get(ids.podA)!.bounds).toEqual({ cpuRequest: 0.3, cpuLimit: 1, memoryRequest: null, memoryLimit: 576e6 });
    expect(by.get(ids.podA)!.health).toEqual({ level: 'critical', reasons: [{ reason: 'container.restart', count: 2 }, { reason: 'container.oom', count: 1 }] });
    expect(by.get(ids.podB)!.bounds).toEqual({ cpuRequest: null, cpuLimit: null, memoryRequest: null, memoryLimit: 256e6 });
    expect(by.get(ids.podB)!.health.level).toBe('warning');
    expect(by.get(ids.podB)!.health.reasons.map((r) => r.reason).sort()).toEqual(['CPU throttled 60%', 'container not ready']);
    // An INFO event is no reason.
    expect(by.get(ids.podC)!.health).toEqual({ level: 'ok', reasons: [] });
  });

  it('a workload is the worst of its pods; one entity answers the same', async () => {
    const w = await apiData<Row>(gw.url, `/api/v1/entities/${ids.web}`, auth);
    expect(w.health.level).toBe('critical');
    expect(w.bounds.memoryLimit).toBe(576e6 + 256e6);
    const c = await apiData<Row>(gw.url, `/api/v1/entities/${ids.ctrA}`, auth);
    expect(c.bounds).toEqual({ cpuRequest: 0.25, cpuLimit: 1, memoryRequest: null, memoryLimit: 512e6 });
    expect(c.health.level).toBe('critical');
  });

  it('q=key=value finds by label or attribute; a plain q still by name', async () => {
    const byName = await apiData<{ items: { id: string }[] }>(gw.url, '/api/v1/entities?type=pod&q=web-', auth);
    expect(byName.items.map((i) => i.id).sort()).toEqual([ids.podA, ids.podB].sort());
    const byAttr = await apiData<{ items: { id: string }[] }>(gw.url, `/api/v1/entities?type=pod&q=${encodeURIComponent('k8s.pod.uid=uid-c')}`, auth);
    expect(byAttr.items.map((i) => i.id)).toEqual([ids.podC]);
    const none = await apiData<{ items: unknown[] }>(gw.url, `/api/v1/entities?type=pod&q=${encodeURIComponent('app=nope')}`, auth);
    expect(none.items).toEqual([]);
  });
});

describe('open problems in health', () => {
  let pdir: string;
  let pgw: Gateway;

  beforeAll(async () => {
    pdir = await tmpDataDir();
    ({ gw: pgw } = await start(pdir, { ndjson: false, problems: { ...DEFAULT_PROBLEMS_CONFIG, intervalMs: 500 }, api: { readTokens: [secret(READ)], readOpenOnLoopback: false, queryTimeoutMs: 5_000, queryMaxRows: 1_000 } }));
  });

  afterAll(async () => {
    await pgw.close();
    await removeDir(pdir);
  });

  it('an open problem makes the entities it touches, and those above them, critical with its title; others stay as they were', async () => {
    const t = BigInt(Date.now() - 10_000) * 1_000_000n;
    const body = logsBody([logRecord(ctrA, t, 'container app was OOM-killed', 17, 'container.oom'), logRecord(ctrC, t, 'container db started', 9, 'container.start')]);
    expect((await post(`${pgw.url}/v1/logs`, body)).status).toBe(200);
    const open = await until('an open problem', async () => {
      const page = await apiData<{ problems: { title: string; affected: { id: string }[] }[] }>(pgw.url, '/api/v1/problems?status=open', auth);
      return page.problems[0];
    });
    const reason = { reason: `problem: ${open.title}`, count: 1 };
    const pods = new Map((await apiData<{ items: Row[] }>(pgw.url, '/api/v1/entities?type=pod', auth)).items.map((r) => [r.id, r]));
    expect(pods.get(ids.podA)!.health.level).toBe('critical');
    expect(pods.get(ids.podA)!.health.reasons).toContainEqual(reason);
    expect(pods.get(ids.podC)!.health).toEqual({ level: 'ok', reasons: [] });
    for (const id of [ids.ctrA, ids.web, entityId('namespace', 'c1/shop')]) {
      const e = await apiData<Row>(pgw.url, `/api/v1/entities/${id}`, auth);
      expect(e.health.reasons, id).toContainEqual(reason);
    }
  });
});
