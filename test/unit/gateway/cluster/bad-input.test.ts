import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { json } from '../../enrich/k8s/fake-api-server.js';
import { until } from '../../../helpers/wait.js';
import { load, pod, running, UID } from './cluster-fixtures.js';
import { type Api, leading, startApi, startMonitor, type Started } from './harness.js';
import { status } from './stand-in-cluster.js';

/**
 * What the API may hand the monitor besides well-formed objects — lists cut short or too large,
 * lists over many pages, objects of another kind, fields nobody knows, lines that are not JSON,
 * objects whose owner is missing, owners that own each other, a kind RBAC forbids — is counted
 * and logged once, never thrown, and the rest of the cluster is monitored as usual.
 */

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function api(): Promise<Api> {
  const a = await startApi();
  cleanups.push(() => a.close());
  load(a.cluster);
  return a;
}

function monitor(a: Api, o: Parameters<typeof startMonitor>[1] = {}): Started {
  const s = startMonitor(a, o);
  cleanups.push(() => s.stop());
  return s;
}

function counter(s: Started, name: string, labels: Record<string, string>): number {
  return s.registry.counter(name, '').get(labels);
}

/** Answers the first matching request itself, then lets the stand-in answer. */
function once(a: Api, match: (path: string, watch: boolean) => boolean, answer: (res: ServerResponse) => void): { readonly used: () => boolean } {
  let used = false;
  a.cluster.intercept = (req, res) => {
    if (used || !match(req.path, req.query.get('watch') === '1')) return false;
    used = true;
    answer(res);
    return true;
  };
  return { used: () => used };
}

describe('bad input from the API', () => {
  it('reads a list over many pages with continue tokens', async () => {
    const a = await api();
    const s = monitor(a, { tuning: { pageSize: 2 } });
    await leading(a, s);
    const podLists = a.server.of('/api/v1/pods', false);
    expect(podLists).toHaveLength(3);
    expect(podLists[0]!.query.get('limit')).toBe('2');
    expect(podLists[0]!.query.get('resourceVersion')).toBe('0');
    expect(podLists[1]!.query.get('continue')).toBeTruthy();
    expect(podLists[1]!.query.get('resourceVersion')).toBeNull();
    expect(s.monitor.graph.count('Pod')).toBe(6);
  });

  it('counts a truncated list (JSON cut short) and lists again', async () => {
    const a = await api();
    const cut = once(
      a,
      (p, w) => p === '/api/v1/pods' && !w,
      (res) => {
        const full = JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: a.cluster.all('Pod') });
        json(res, 200, full.slice(0, Math.floor(full.length / 2)));
      },
    );
    const s = monitor(a);
    await leading(a, s);
    expect(cut.used()).toBe(true);
    expect(counter(s, 'sextant_kubernetes_api_errors_total', { resource: 'pods', reason: 'protocol' })).toBe(1);
    expect(s.monitor.graph.count('Pod')).toBe(6);
  });

  it('counts a list whose connection is cut mid-body and lists again', async () => {
    const a = await api();
    const cut = once(
      a,
      (p, w) => p === '/api/v1/nodes' && !w,
      (res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100000' });
        res.write('{"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[{"metadata":');
        setImmediate(() => res.destroy());
      },
    );
    const s = monitor(a);
    await leading(a, s);
    expect(cut.used()).toBe(true);
    expect(counter(s, 'sextant_kubernetes_api_errors_total', { resource: 'nodes', reason: 'unavailable' })).toBe(1);
    expect(s.monitor.graph.count('Node')).toBe(2);
  });

  it('abandons an oversized list at the cap, counts it and lists again', async () => {
    const a = await api();
    const big = once(
      a,
      (p, w) => p === '/api/v1/pods' && !w,
      (res) => json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [{ metadata: { name: 'x', namespace: 'shop', uid: 'x', annotations: { pad: 'x'.repeat(200_000) } } }] }),
    );
    const s = monitor(a, { tuning: { maxResponseBytes: 100_000 } });
    await leading(a, s);
    expect(big.used()).toBe(true);
    expect(counter(s, 'sextant_kubernetes_api_errors_total', { resource: 'pods', reason: 'too-large' })).toBe(1);
    expect(s.monitor.graph.count('Pod')).toBe(6);
  });

  it('refuses objects of another kind, keeps objects with fields it does not know, drops lines that are not JSON', async () => {
    const a = await api();
    const p = pod({ name: 'future-1', namespace: 'shop', uid: '88888888-0000-4000-8000-000000000001', node: 'node-a', phase: 'Running', ready: true, containers: [{ name: 'app', image: 'app:1', status: running() }] });
    p.spec.someFutureField = { enabled: true, nested: [1, 2, 3] };
    p.status.resize = 'InProgress';
    p.status.futureCounters = { restarts: 'many' };
    a.cluster.put('Pod', p);
    const s = monitor(a, { tuning: { maxLineBytes: 64 * 1024 } });
    await leading(a, s);
    expect(s.monitor.graph.get('Pod', '88888888-0000-4000-8000-000000000001')).toBeDefined();
    // A watch of pods that says something else, a line that is no JSON, an unknown event type, an oversized line.
    const watches = a.server.of('/api/v1/pods', true).length;
    a.cluster.endWatches('Pod');
    await until('a new pod watch', () => a.server.of('/api/v1/pods', true).length > watches, 10_000);
    const rv = a.cluster.resourceVersion;
    a.cluster.intercept = undefined;
    // Written onto the open watch as the next lines.
    const secret = { type: 'ADDED', object: { kind: 'Secret', apiVersion: 'v1', metadata: { name: 's', namespace: 'shop', uid: 'sec-1', resourceVersion: String(rv + 1) }, data: {} } };
    const padded = { type: 'ADDED', object: { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'huge', namespace: 'shop', uid: 'huge-1', resourceVersion: String(rv + 2), annotations: { pad: 'y'.repeat(70_000) } } } };
    const lines = `${JSON.stringify(secret)}\n{"type":"ADDED","object":{"kind":"Pod",\n${JSON.stringify({ type: 'TELEPORTED', object: {} })}\n${JSON.stringify(padded)}\n`;
    expect(a.cluster.writeRaw('Pod', lines)).toBe(1);
    // The line splitter reports what it dropped when the stream ends.
    a.cluster.endWatches('Pod');
    await until('the oversized line counted', () => counter(s, 'sextant_kubernetes_watch_dropped_total', { resource: 'pods', reason: 'oversized' }) === 1, 10_000);
    expect(counter(s, 'sextant_cluster_objects_refused_total', { resource: 'pods', reason: 'unknown_kind' })).toBe(1);
    expect(counter(s, 'sextant_kubernetes_watch_dropped_total', { resource: 'pods', reason: 'malformed' })).toBe(3);
    expect(s.monitor.graph.get('Pod', 'sec-1')).toBeUndefined();
    expect(s.monitor.graph.count('Pod')).toBe(7);
    expect(await s.monitor.runInterval()).toBeGreaterThan(0);
  });

  it('counts owners that are missing, owners of kinds it does not watch and owners that own each other, and reports their objects anyway', async () => {
    const a = await api();
    // A pod of a ReplicaSet that is gone, named the Deployment controller's way.
    a.cluster.put('Pod', pod({ name: 'orphan-5f6d7c8b9a-zzzzz', namespace: 'shop', uid: '88888888-0000-4000-8000-000000000002', node: 'node-a', owner: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'orphan-5f6d7c8b9a', uid: '99999999-0000-4000-8000-00000000dead', controller: true }], labels: { 'pod-template-hash': '5f6d7c8b9a' }, phase: 'Running', ready: true, containers: [{ name: 'app', image: 'app:1', status: running() }] }));
    // A pod of an Argo Rollout (not watched).
    a.cluster.put('Pod', pod({ name: 'canary-abc', namespace: 'shop', uid: '88888888-0000-4000-8000-000000000003', node: 'node-a', owner: [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'canary', uid: '99999999-0000-4000-8000-00000000beef', controller: true }], phase: 'Running', ready: true, containers: [{ name: 'app', image: 'app:1', status: running() }] }));
    // A Deployment and a ReplicaSet that own each other, and a pod of that ReplicaSet.
    const dUid = '99999999-0000-4000-8000-0000000c1c1e';
    const rUid = '99999999-0000-4000-8000-0000000c1c1f';
    a.cluster.put('Deployment', { metadata: { name: 'loop', namespace: 'shop', uid: dUid, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'loop-1', uid: rUid, controller: true }] }, spec: { replicas: 1, selector: { matchLabels: { app: 'loop' } }, template: { metadata: { labels: { app: 'loop' } }, spec: { containers: [{ name: 'c', image: 'c' }] } } }, status: {} });
    a.cluster.put('ReplicaSet', { metadata: { name: 'loop-1', namespace: 'shop', uid: rUid, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'loop', uid: dUid, controller: true }] }, spec: { replicas: 1, selector: { matchLabels: { app: 'loop' } } }, status: { replicas: 1 } });
    a.cluster.put('Pod', pod({ name: 'loop-1-aaaaa', namespace: 'shop', uid: '88888888-0000-4000-8000-000000000004', node: 'node-a', owner: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'loop-1', uid: rUid, controller: true }], phase: 'Running', ready: true, containers: [{ name: 'app', image: 'app:1', status: running() }] }));
    const s = monitor(a);
    await leading(a, s);
    await s.monitor.runInterval();
    const problems = s.registry.gauge('sextant_cluster_graph_problems', '');
    expect(problems.get({ problem: 'owner_missing' })).toBe(1);
    expect(problems.get({ problem: 'owner_unknown_kind' })).toBe(1);
    expect(problems.get({ problem: 'owner_cycle' })).toBe(2);
    const c = s.capture;
    // Each is still reported, with what its references say.
    expect(c.latest('k8s.pod.status.phase', { 'k8s.pod.name': 'orphan-5f6d7c8b9a-zzzzz', 'k8s.deployment.name': 'orphan', 'k8s.workload.kind': 'deployment' }, { 'k8s.pod.status.phase': 'Running' })).toBe(1);
    expect(c.latest('k8s.pod.status.phase', { 'k8s.pod.name': 'canary-abc', 'k8s.workload.kind': 'pod' }, { 'k8s.pod.status.phase': 'Running' })).toBe(1);
    expect(c.latest('k8s.pod.status.phase', { 'k8s.pod.name': 'loop-1-aaaaa', 'k8s.replicaset.name': 'loop-1' }, { 'k8s.pod.status.phase': 'Running' })).toBe(1);
    expect(c.latest('k8s.deployment.pod.desired', { 'k8s.deployment.name': 'loop' })).toBe(1);
    const loop = s.monitor.graph.get('Deployment', dUid)!;
    expect(s.monitor.graph.owners(loop).map((o) => o.name)).toEqual(['loop-1']);
    expect(s.monitor.graph.owners(s.monitor.graph.get('Pod', UID.podCrashing)!).map((o) => o.kind)).toEqual(['ReplicaSet', 'Deployment']);
  });

  it('monitors the rest when RBAC forbids one kind: one warning, a /readyz detail, retried with backoff', async () => {
    const a = await api();
    a.cluster.intercept = (req, res) => {
      if (req.path !== '/apis/batch/v1/cronjobs') return false;
      json(res, 403, status(403, 'Forbidden', 'cronjobs.batch is forbidden: User "system:serviceaccount:sextant:sextant-gateway" cannot list resource "cronjobs" in API group "batch" at the cluster scope'));
      return true;
    };
    const s = monitor(a);
    await a.cluster.leaseUntil((l) => l?.spec?.holderIdentity === s.monitor.status().identity, 'sextant', 'sextant-gateway-cluster-monitor');
    await until('three forbidden lists', () => counter(s, 'sextant_kubernetes_api_errors_total', { resource: 'cronjobs', reason: 'forbidden' }) >= 3, 10_000);
    await until('the rest listed', () => s.monitor.graph.synced('Pod') && s.monitor.graph.synced('Deployment'), 10_000);
    await s.monitor.runInterval();
    expect(s.capture.latest('k8s.deployment.pod.desired', { 'k8s.deployment.name': 'checkout' })).toBe(3);
    expect(s.monitor.status().detail).toMatch(/12\/13 kinds listed.*cronjobs: forbidden/);
    const warnings = s.log.lines.filter((l) => l['level'] === 40);
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]!['msg'])).toContain('RBAC');
  });
});
