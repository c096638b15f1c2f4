import { afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer, captureLogger, fixture, json, selfSignedCert, watchStream } from './fake-api-server.js';
import { until } from '../../../helpers/wait.js';
import { route, startInCluster, type Started } from './cluster.js';

const tls = selfSignedCert();
const CHECKOUT = '5f0c2a4e-8b1d-4c3e-9a7f-1e2d3c4b5a69';
const NEW_POD = '7a8b9c0d-1e2f-4a3b-8c4d-6e7f8a9b0c1d';
const DEBUG_SHELL = '6f7a8b9c-0d1e-4f2a-8b3c-5d6e7f8a9b0c';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function serve(): Promise<FakeApiServer> {
  const s = new FakeApiServer(tls);
  await s.listen();
  cleanup.push(() => s.close());
  return s;
}

function start(server: FakeApiServer, ...rest: Parameters<typeof startInCluster> extends [unknown, unknown, ...infer R] ? R : never): Started & ReturnType<typeof captureLogger> {
  const log = captureLogger();
  const s = startInCluster(server, log.logger, ...rest);
  cleanup.push(() => s.stop());
  return { ...s, ...log };
}

function counter(s: Started, name: string, labels: Record<string, string>): number {
  return s.registry.counter(name, '').get(labels);
}

describe('list and watch', () => {
  it('lists this node’s pods, then watches from the list’s resourceVersion with bookmarks', async () => {
    const server = await serve();
    route(server, {
      podWatch: (_req, res, n) => (n === 0 ? watchStream(res, fixture('watch-pods.ndjson'), true) : watchStream(res, '', false)),
    });
    const s = start(server);
    await until('a second pod watch', () => server.of('/api/v1/pods', true).length >= 2, 8000);
    const [list] = server.of('/api/v1/pods', false);
    expect(list!.query.get('fieldSelector')).toBe('spec.nodeName=node-a');
    expect(list!.query.get('resourceVersion')).toBe('0');
    expect(list!.query.get('limit')).toBe('500');
    expect(list!.authorization).toMatch(/^Bearer eyJ/);
    const [w1, w2] = server.of('/api/v1/pods', true);
    expect(w1!.query.get('resourceVersion')).toBe('48213');
    expect(w1!.query.get('allowWatchBookmarks')).toBe('true');
    expect(w1!.query.get('fieldSelector')).toBe('spec.nodeName=node-a');
    const seconds = Number(w1!.query.get('timeoutSeconds'));
    expect(seconds).toBeGreaterThanOrEqual(60);
    expect(seconds).toBeLessThan(120);
    // The bookmark moved the resourceVersion on: the next watch starts there, with no re-list.
    expect(w2!.query.get('resourceVersion')).toBe('48400');
    expect(server.of('/api/v1/pods', false)).toHaveLength(1);

    const index = s.k8s.index!;
    // ADDED, MODIFIED, DELETED applied.
    expect(index.byUid(NEW_POD)?.attributes['k8s.pod.name']).toBe('checkout-7d9f8b6c5d-p8n2m');
    expect(index.byUid(CHECKOUT)?.attributes['dt.cost.costcenter']).toBe('CC-3003');
    expect(s.k8s.status().pods).toBe(7); // 7 listed + 1 added − 1 deleted
    // A deleted pod's metadata stays a while for its last log lines.
    expect(index.byUid(DEBUG_SHELL)?.attributes['k8s.pod.name']).toBe('debug-shell');
    expect(counter(s, 'sextant_kubernetes_watch_events_total', { resource: 'pods', type: 'bookmark' })).toBe(1);
    expect(counter(s, 'sextant_kubernetes_watch_events_total', { resource: 'pods', type: 'modified' })).toBe(2);
    await until('synced', () => s.k8s.status().state === 'synced', 8000);
    expect(s.k8s.status().detail).toBe('ok');
  });

  it('reads a list in pages with continue tokens (no resourceVersion on later pages)', async () => {
    const server = await serve();
    route(server, {
      podList: (req, res) => json(res, 200, fixture(req.query.get('continue') ? 'pod-list-page2.json' : 'pod-list-page1.json')),
    });
    const s = start(server, {}, { pageSize: 4 });
    await until('all pages', () => s.k8s.status().pods === 7, 8000);
    const lists = server.of('/api/v1/pods', false);
    expect(lists).toHaveLength(2);
    expect(lists[0]!.query.get('limit')).toBe('4');
    expect(lists[1]!.query.get('continue')).toMatch(/^eyJ2Ijoi/);
    expect(lists[1]!.query.has('resourceVersion')).toBe(false);
    await until('the watch', () => server.of('/api/v1/pods', true).length === 1, 8000);
    expect(server.of('/api/v1/pods', true)[0]!.query.get('resourceVersion')).toBe('48213');
  });

  it('lists again on 410 Gone, as an HTTP status and as an ERROR event', async () => {
    const server = await serve();
    route(server, {
      podWatch: (_req, res, n) => {
        if (n === 0) json(res, 410, fixture('status-410-expired.json'));
        else if (n === 1) watchStream(res, fixture('watch-error-410.ndjson'), false); // left open: the client must act on the event
        else watchStream(res, '', false);
      },
    });
    const s = start(server);
    await until('a third watch', () => server.of('/api/v1/pods', true).length >= 3, 8000);
    expect(server.of('/api/v1/pods', false)).toHaveLength(3);
    expect(counter(s, 'sextant_kubernetes_relists_total', { resource: 'pods' })).toBe(2);
    expect(counter(s, 'sextant_kubernetes_watch_events_total', { resource: 'pods', type: 'error' })).toBe(1);
    expect(s.k8s.status().pods).toBe(7);
    // Expected protocol, not an outage: no warning.
    expect(s.lines.filter((l) => (l['level'] as number) >= 40)).toEqual([]);
  });

  it('RBAC 403: one warning, no enrichment, retried with growing backoff, and back when allowed', async () => {
    const server = await serve();
    let allowed = false;
    route(server, {
      podList: (_req, res) => (allowed ? json(res, 200, fixture('pod-list.json')) : json(res, 403, fixture('status-403-pods.json'))),
    });
    const s = start(server);
    await until('five tries', () => server.of('/api/v1/pods', false).length >= 5, 8000);
    const st = s.k8s.status();
    expect(st.state).toBe('unavailable');
    expect(st.detail).toContain('pods: forbidden');
    expect(st.detail).toContain('cannot list resource "pods"');
    expect(s.k8s.index!.byUid(CHECKOUT)).toBeUndefined();
    const warnings = s.lines.filter((l) => l['level'] === 40);
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]!['msg'])).toMatch(/RBAC/);
    expect(s.text()).not.toContain('eyJhbGci');
    // Waits grow (with jitter: each at least half its window): 40, 80, 160, 320 ms windows.
    const at = server.of('/api/v1/pods', false).map((r) => r.at);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps[3]!).toBeGreaterThan(gaps[0]! * 1.5);
    expect(gaps.every((g) => g >= 15)).toBe(true);
    expect(counter(s, 'sextant_kubernetes_api_errors_total', { resource: 'pods', reason: 'forbidden' })).toBeGreaterThanOrEqual(4);
    // Namespaces were allowed all along; pods come once RBAC is fixed.
    allowed = true;
    await until('synced', () => s.k8s.status().state === 'synced', 8000);
    expect(s.k8s.index!.byUid(CHECKOUT)).toBeDefined();
    expect(s.lines.filter((l) => l['level'] === 40)).toHaveLength(1);
    expect(s.lines.some((l) => l['level'] === 30 && /reachable again/.test(String(l['msg'])))).toBe(true);
  });

  it('API server down at start, then up: one warning, then synced', async () => {
    const server = await serve();
    route(server);
    await server.close(); // the port is known, nothing listens on it
    const s = start(server);
    await until('unavailable', () => s.k8s.status().state === 'unavailable', 8000);
    await new Promise((r) => setTimeout(r, 400));
    expect(s.k8s.status().detail).toMatch(/unavailable \(.*ECONNREFUSED/);
    await server.listen();
    cleanup.push(() => server.close());
    await until('synced after the server came up', () => s.k8s.status().state === 'synced', 8000);
    expect(s.lines.filter((l) => l['level'] === 40)).toHaveLength(1);
    expect(s.k8s.status().pods).toBe(7);
  });

  it('API server goes away mid-watch: the watch is re-opened from its resourceVersion, not re-listed', async () => {
    const server = await serve();
    route(server);
    const s = start(server);
    await until('watching', () => server.of('/api/v1/pods', true).length === 1 && s.k8s.status().state === 'synced', 8000);
    await server.close();
    await until('unavailable', () => s.k8s.status().state === 'unavailable', 8000);
    await server.listen();
    await until('watch again', () => server.of('/api/v1/pods', true).length >= 2, 8000);
    expect(server.of('/api/v1/pods', true)[1]!.query.get('resourceVersion')).toBe('48213');
    expect(server.of('/api/v1/pods', false)).toHaveLength(1);
    // A quiet watch that holds counts as the API being back.
    await until('synced on a quiet watch', () => s.k8s.status().state === 'synced', 8000);
    expect(s.lines.filter((l) => l['level'] === 40)).toHaveLength(1);
    // Metadata stayed while the API was away.
    expect(s.k8s.index!.byUid(CHECKOUT)?.attributes['k8s.workload.name']).toBe('checkout');
  });

  it('drops garbage, truncated, oversized and non-UTF-8 watch lines with counts, and keeps watching', async () => {
    const server = await serve();
    const good = fixture('watch-pods.ndjson').split('\n')[2]!; // ADDED checkout-…-p8n2m
    const body = Buffer.concat([
      Buffer.from('not json at all\n{"type":"ADDED"}\n{"type":"EXPLODED","object":{}}\n[1,2,3]\n'),
      Buffer.from(`{"type":"ADDED","object":{"metadata":{"name":"x"}}}\n`), // no uid
      Buffer.from(`{"type":"MODIFIED","object":{"metadata":{"name":"${'y'.repeat(70_000)}"}}}\n`),
      Buffer.from([0x7b, 0x22, 0x74, 0xff, 0xfe, 0x22, 0x7d, 0x0a]),
      Buffer.from(`${good}\n`),
      Buffer.from('{"type":"MODIFIED","object":{"metadata":{"uid":"cut'),
    ]);
    route(server, { podWatch: (_req, res, n) => (n === 0 ? watchStream(res, body, true) : watchStream(res, '', false)) });
    const s = start(server, {}, { maxLineBytes: 64 * 1024 });
    await until('a second watch', () => server.of('/api/v1/pods', true).length >= 2, 8000);
    expect(s.k8s.index!.byUid(NEW_POD)).toBeDefined();
    const dropped = (reason: string) => counter(s, 'sextant_kubernetes_watch_dropped_total', { resource: 'pods', reason });
    expect(dropped('malformed')).toBe(5);
    expect(dropped('oversized')).toBe(1);
    expect(dropped('invalid_utf8')).toBe(1);
    expect(dropped('truncated')).toBe(1);
    expect(s.k8s.status().state).toBe('synced');
  });

  it('a list that is not a list, or has no resourceVersion, is a protocol failure retried with backoff', async () => {
    const server = await serve();
    let n = 0;
    route(server, {
      podList: (_req, res) => {
        n++;
        if (n === 1) json(res, 200, { kind: 'PodList', metadata: { resourceVersion: '5' } });
        else if (n === 2) json(res, 200, { kind: 'PodList', metadata: {}, items: [] });
        else json(res, 200, fixture('pod-list.json'));
      },
    });
    const s = start(server);
    await until('synced', () => s.k8s.status().state === 'synced' && s.k8s.status().pods === 7, 8000);
    expect(counter(s, 'sextant_kubernetes_api_errors_total', { resource: 'pods', reason: 'protocol' })).toBe(2);
  });
});
