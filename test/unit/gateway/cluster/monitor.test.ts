import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createClusterMonitor } from '../../../../src/gateway/cluster/cluster-monitor.js';
import { startClusterMonitor } from '../../../../src/gateway/cluster/index.js';
import type { IngestTarget } from '../../../../src/gateway/cluster/ingest-output.js';
import { Registry } from '../../../../src/self/registry.js';
import { Readiness } from '../../../../src/self/server.js';
import { BASE_CONFIG, startInCluster } from '../../enrich/k8s/cluster.js';
import { captureLogger, json } from '../../enrich/k8s/fake-api-server.js';
import { until } from '../../../helpers/wait.js';
import { demoCluster, load, UID, CLUSTER_UID } from './cluster-fixtures.js';
import { type Api, leading, SECTION, startApi, startMonitor, type Started } from './harness.js';
import { OtlpCapture } from './otlp-capture.js';

/**
 * The cluster monitor in-process against the stand-in API: what it lists and watches, the metrics
 * an interval produces for the demo cluster, and the events it delivers.
 */

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(): Promise<{ api: Api; s: Started }> {
  const api = await startApi();
  cleanups.push(() => api.close());
  load(api.cluster);
  const s = startMonitor(api);
  cleanups.push(() => s.stop());
  await leading(api, s);
  return { api, s };
}

/** The stand-in answers the first `times` Pod lists (not watches) 503; returns how many it refused. */
function refusePodLists(api: Api, times: number): () => number {
  let refused = 0;
  api.cluster.intercept = (req, res) => {
    if (refused >= times || req.path !== '/api/v1/pods' || req.query.get('watch') === '1') return false;
    refused++;
    json(res, 503, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'ServiceUnavailable', code: 503, message: 'the server is currently unable to handle the request' });
    return true;
  };
  return () => refused;
}

describe('cluster metrics', () => {
  it('reports the demo cluster with semconv names and the agents’ resource attributes', async () => {
    const { s } = await setup();
    const n = await s.monitor.runInterval();
    expect(n).toBeGreaterThan(100);
    const c = s.capture;
    const checkout = { 'k8s.deployment.name': 'checkout', 'k8s.namespace.name': 'shop' };
    expect(c.latest('k8s.deployment.pod.desired', checkout)).toBe(3);
    expect(c.latest('k8s.deployment.pod.available', checkout)).toBe(1);
    expect(c.latest('sextant.k8s.deployment.pod.ready', checkout)).toBe(1);
    expect(c.latest('sextant.k8s.deployment.pod.updated', checkout)).toBe(3);
    const dep = c.find('k8s.deployment.pod.desired', checkout)[0]!;
    expect(dep.resource).toMatchObject({ 'k8s.deployment.uid': UID.checkout, 'k8s.cluster.uid': CLUSTER_UID, 'k8s.cluster.name': 'prod-eu-1', 'dt.cost.costcenter': 'CC-42', 'dt.cost.product': 'webshop', 'k8s.workload.kind': 'deployment' });
    expect(dep.kind).toBe('sum');
    expect(dep.monotonic).toBe(false);

    const crashing = { 'k8s.pod.uid': UID.podCrashing, 'k8s.container.name': 'app' };
    expect(c.latest('k8s.container.status.reason', crashing, { 'k8s.container.status.reason': 'CrashLoopBackOff' })).toBe(1);
    expect(c.latest('k8s.container.status.reason', crashing, { 'k8s.container.status.reason': 'ImagePullBackOff' })).toBe(0);
    expect(c.latest('k8s.container.status.state', crashing, { 'k8s.container.status.state': 'waiting' })).toBe(1);
    expect(c.latest('k8s.container.restart.count', crashing)).toBe(7);
    expect(c.latest('k8s.container.ready', crashing)).toBe(0);
    expect(c.latest('sextant.k8s.container.last_terminated.exit_code', crashing, { 'k8s.container.status.last_terminated_reason': 'Error' })).toBe(1);
    expect(c.latest('k8s.container.cpu.request.desired', crashing)).toBeCloseTo(0.25);
    expect(c.latest('k8s.container.memory.limit.desired', crashing)).toBe(256 * 1024 * 1024);
    const container = c.find('k8s.container.ready', crashing)[0]!;
    // The same attributes the agents put on this pod's records (src/enrich/k8s/), plus the container.
    expect(container.resource).toMatchObject({
      'k8s.pod.name': 'checkout-7d9f8b6c5d-bbbbb',
      'k8s.namespace.name': 'shop',
      'k8s.node.name': 'node-a',
      'k8s.replicaset.name': 'checkout-7d9f8b6c5d',
      'k8s.replicaset.uid': UID.checkoutRs,
      'k8s.deployment.name': 'checkout',
      'k8s.deployment.uid': UID.checkout,
      'k8s.workload.kind': 'deployment',
      'k8s.workload.name': 'checkout',
      'k8s.cluster.uid': CLUSTER_UID,
      'dt.cost.costcenter': 'CC-42',
      'container.image.name': 'registry.example.com/shop/app',
      'container.image.tags': ['1.4.2'],
    });

    const pending = { 'k8s.pod.uid': UID.podPending };
    expect(c.latest('k8s.pod.status.phase', pending, { 'k8s.pod.status.phase': 'Pending' })).toBe(1);
    expect(c.latest('k8s.pod.status.phase', pending, { 'k8s.pod.status.phase': 'Running' })).toBe(0);
    expect(c.latest('sextant.k8s.pod.condition.status', pending, { 'sextant.k8s.pod.condition.type': 'PodScheduled', 'sextant.k8s.pod.condition.status': 'false' })).toBe(1);
    expect(c.find('k8s.pod.status.phase', pending)[0]!.resource['k8s.node.name']).toBeUndefined();

    expect(c.latest('k8s.container.status.reason', { 'k8s.pod.uid': UID.web0 }, { 'k8s.container.status.reason': 'ImagePullBackOff' })).toBe(1);
    expect(c.latest('k8s.statefulset.pod.ready', { 'k8s.statefulset.name': 'web' })).toBe(0);
    expect(c.latest('k8s.daemonset.node.ready', { 'k8s.daemonset.name': 'fluent-bit' })).toBe(1);
    expect(c.latest('k8s.daemonset.node.desired_scheduled', { 'k8s.daemonset.name': 'fluent-bit' })).toBe(2);
    expect(c.latest('k8s.job.pod.successful', { 'k8s.job.name': 'report-28930560', 'k8s.cronjob.name': 'report' })).toBe(1);
    expect(c.latest('k8s.cronjob.job.active', { 'k8s.cronjob.name': 'report' })).toBe(0);
    expect(c.latest('k8s.hpa.pod.desired', { 'k8s.hpa.name': 'checkout', 'k8s.hpa.scaletargetref.kind': 'Deployment' })).toBe(4);
    expect(c.latest('k8s.hpa.pod.max', { 'k8s.hpa.name': 'checkout' })).toBe(10);
    expect(c.latest('k8s.resourcequota.cpu.request.used', { 'k8s.resourcequota.name': 'compute' })).toBeCloseTo(0.75);
    expect(c.latest('k8s.resourcequota.memory.limit.hard', { 'k8s.resourcequota.name': 'compute' })).toBe(16 * 1024 ** 3);
    expect(c.latest('k8s.resourcequota.object_count.hard', {}, { 'k8s.resourcequota.resource_name': 'count/deployments.apps' })).toBe(10);
    expect(c.latest('k8s.resourcequota.object_count.used', {}, { 'k8s.resourcequota.resource_name': 'pods' })).toBe(5);
    expect(c.latest('k8s.resourcequota.storage.request.hard', {}, { 'k8s.storageclass.name': 'gold' })).toBe(100 * 1024 ** 3);
    expect(c.latest('k8s.resource_quota.hard_limit', {}, { resource: 'requests.nvidia.com/gpu' })).toBe(2);
    expect(c.latest('k8s.persistentvolumeclaim.status.phase', { 'k8s.persistentvolumeclaim.name': 'data-web-0' }, { 'k8s.persistentvolumeclaim.status.phase': 'Bound' })).toBe(1);
    expect(c.latest('k8s.persistentvolumeclaim.storage.capacity', { 'k8s.persistentvolumeclaim.name': 'data-web-0' })).toBe(10 * 1024 ** 3);

    const nodeA = { 'k8s.node.name': 'node-a', 'k8s.node.uid': UID.nodeA };
    expect(c.latest('k8s.node.condition.status', nodeA, { 'k8s.node.condition.type': 'Ready', 'k8s.node.condition.status': 'true' })).toBe(1);
    expect(c.latest('k8s.node.condition.status', nodeA, { 'k8s.node.condition.type': 'MemoryPressure', 'k8s.node.condition.status': 'false' })).toBe(1);
    expect(c.latest('k8s.node.cpu.allocatable', nodeA)).toBeCloseTo(3.8);
    expect(c.latest('k8s.node.memory.allocatable', nodeA)).toBe(15 * 1024 ** 3);
    expect(c.latest('sextant.k8s.node.memory.capacity', nodeA)).toBe(16374228 * 1024);
    expect(c.latest('k8s.node.pod.allocatable', nodeA)).toBe(110);
    expect(c.latest('k8s.namespace.phase', { 'k8s.namespace.name': 'shop' }, { 'k8s.namespace.phase': 'active' })).toBe(1);
  });

  it('follows the watch: a node turning NotReady shows in the next interval', async () => {
    const { api, s } = await setup();
    api.cluster.modify('Node', '', 'node-b', (n) => {
      n.status.conditions = n.status.conditions.map((c: Record<string, string>) => (c.type === 'Ready' ? { ...c, status: 'Unknown', reason: 'NodeStatusUnknown' } : c));
    });
    const nodeB = { 'k8s.node.name': 'node-b' };
    const deadline = performance.now() + 10_000;
    for (;;) {
      await s.monitor.runInterval();
      if (s.capture.latest('k8s.node.condition.status', nodeB, { 'k8s.node.condition.type': 'Ready', 'k8s.node.condition.status': 'unknown' }) === 1) break;
      if (performance.now() > deadline) throw new Error('node-b never NotReady');
      // The next try waits for the watch event to land (a macrotask), not a fixed time.
      await new Promise((r) => setImmediate(r));
    }
    expect(s.capture.latest('k8s.node.condition.status', nodeB, { 'k8s.node.condition.type': 'Ready', 'k8s.node.condition.status': 'true' })).toBe(0);
  });
});

describe('cluster events', () => {
  it('wait for the lists that describe their object: a Pod list refused five times', async () => {
    // Delivered before the Pods were listed, a pod's event named only the pod and its namespace:
    // no ReplicaSet, no Deployment (seen once in a full run on a loaded machine).
    const api = await startApi();
    cleanups.push(() => api.close());
    load(api.cluster);
    const refused = refusePodLists(api, 5);
    const s = startMonitor(api);
    cleanups.push(() => s.stop());
    await leading(api, s);
    const c = s.capture;
    await c.until(() => c.events('FailedScheduling').length === 1, 10_000, 'the FailedScheduling event');
    expect(refused()).toBe(5);
    expect(c.events('FailedScheduling')[0]!.resource).toMatchObject({ 'k8s.pod.uid': UID.podPending, 'k8s.replicaset.name': 'checkout-7d9f8b6c5d', 'k8s.deployment.name': 'checkout' });
  });

  it('are not held back for long by a kind that cannot be listed: they go after eventListWaitMs', async () => {
    const api = await startApi();
    cleanups.push(() => api.close());
    load(api.cluster);
    refusePodLists(api, Number.POSITIVE_INFINITY);
    const t0 = performance.now();
    const s = startMonitor(api, { tuning: { eventListWaitMs: 400 } });
    cleanups.push(() => s.stop());
    const c = s.capture;
    await c.until(() => c.events('FailedScheduling').length === 1, 10_000, 'the FailedScheduling event');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
    // Named as the event names it: the pod and its namespace.
    expect(c.events('FailedScheduling')[0]!.resource).toMatchObject({ 'k8s.pod.uid': UID.podPending, 'k8s.pod.name': 'checkout-7d9f8b6c5d-ccccc', 'k8s.namespace.name': 'shop' });
  });

  it('delivers each event once, as OTLP log events with the involved object’s resource', async () => {
    const { s } = await setup();
    const c = s.capture;
    await c.until(() => c.events().length >= 5, 10_000, 'five events');
    const sched = c.events('FailedScheduling');
    expect(sched).toHaveLength(1);
    const e = sched[0]!;
    expect(e.severityNumber).toBe(13);
    expect(e.severityText).toBe('Warning');
    expect(e.body).toContain('Insufficient cpu');
    expect(e.attributes).toMatchObject({ 'k8s.event.reason': 'FailedScheduling', 'k8s.event.count': 3, 'k8s.event.action': 'Scheduling', 'k8s.object.kind': 'Pod', 'k8s.object.name': 'checkout-7d9f8b6c5d-ccccc', 'k8s.event.uid': UID.evScheduling });
    expect(e.resource).toMatchObject({ 'k8s.pod.uid': UID.podPending, 'k8s.deployment.name': 'checkout', 'dt.cost.costcenter': 'CC-42', 'k8s.cluster.uid': CLUSTER_UID });
    // series.lastObservedTime is the record's time.
    expect(e.timeUnixNano).toBe(String(BigInt(Date.parse('2026-12-01T08:09:30.123Z')) * 1_000_000n));
    const old = c.events('NodeHasSufficientMemory')[0]!;
    expect(old.attributes['k8s.event.count']).toBe(2);
    expect(old.resource).toMatchObject({ 'k8s.node.name': 'node-a', 'k8s.node.uid': UID.nodeA });
    expect(old.severityNumber).toBe(9);
    expect(c.events().length).toBe(demoCluster().filter(([k]) => k === 'Event').length);
  });
});

describe('the watch', () => {
  it('applies every event type: ADDED, MODIFIED, DELETED, BOOKMARK (the next watch starts at the bookmark, no re-list)', async () => {
    const { api, s } = await setup();
    const g = s.monitor.graph;
    const v = g.version;
    api.cluster.put('Pod', demoCluster().find(([k, o]) => k === 'Pod' && o.metadata.uid === UID.podRunning)![1]); // MODIFIED
    api.cluster.remove('Pod', 'shop', 'checkout-7d9f8b6c5d-ccccc'); // DELETED
    await until('the deletion', () => g.get('Pod', UID.podPending) === undefined && g.version >= v + 2, 10_000);
    await s.monitor.runInterval();
    expect(s.capture.find('k8s.pod.status.phase', { 'k8s.pod.uid': UID.podPending }).every((p) => p.request < s.capture.requests.metrics)).toBe(true);
    api.cluster.bookmark('Pod');
    const bookmarkRv = String(api.cluster.resourceVersion);
    await until('the bookmark', () => s.registry.counter('sextant_kubernetes_watch_events_total', '').get({ resource: 'pods', type: 'bookmark' }) === 1, 10_000);
    const lists = api.server.of('/api/v1/pods', false).length;
    api.cluster.endWatches('Pod');
    await until('a watch from the bookmark', () => api.server.of('/api/v1/pods', true).some((r) => r.query.get('resourceVersion') === bookmarkRv), 10_000);
    expect(api.server.of('/api/v1/pods', false)).toHaveLength(lists);
    for (const t of ['added', 'modified', 'deleted']) expect(s.registry.counter('sextant_kubernetes_watch_events_total', '').get({ resource: 'pods', type: t })).toBeGreaterThanOrEqual(t === 'added' ? 0 : 1);
  });
});

describe('without a usable API', () => {
  it('is off outside a cluster with auto, one warning with true, and a /readyz detail either way; never throws', async () => {
    const base = { cluster: { ...SECTION, enabled: 'auto' as const }, kubernetes: BASE_CONFIG };
    const deps = (log: ReturnType<typeof captureLogger>) => ({ logger: log.logger, registry: new Registry(), version: 't', output: new OtlpCapture().output, dataDir: '/nonexistent', env: {}, serviceAccountDir: '/nonexistent' });
    const auto = captureLogger();
    const m = createClusterMonitor(base, deps(auto));
    m.start();
    expect(m.status()).toMatchObject({ state: 'off', detail: 'off: not in a Kubernetes cluster (cluster.enabled=auto)' });
    expect(auto.lines.filter((l) => l['level'] === 40)).toEqual([]);
    const on = captureLogger();
    const t = createClusterMonitor({ ...base, cluster: { ...SECTION, enabled: 'true' } }, deps(on));
    expect(t.status().state).toBe('unavailable');
    expect(on.lines.filter((l) => l['level'] === 40).map((l) => l['msg'])).toEqual([expect.stringContaining('cluster monitoring off: cluster.enabled=true, but there is no Kubernetes API')]);
    expect(await t.runInterval()).toBe(0);
    await t.stop();
    // In a pod whose service account is not mounted: no CA, one warning.
    const nosa = captureLogger();
    const p = createClusterMonitor(base, { ...deps(nosa), env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' } });
    expect(p.status().detail).toMatch(/CA certificate cannot be read/);
    expect(nosa.lines.filter((l) => l['level'] === 40)).toHaveLength(1);
    expect(createClusterMonitor({ ...base, cluster: { ...SECTION, enabled: 'false' } }, deps(captureLogger())).status().detail).toBe('off (cluster.enabled=false)');
  });

  it('puts its state on the gateway’s /readyz through startClusterMonitor', async () => {
    const api = await startApi();
    cleanups.push(() => api.close());
    load(api.cluster);
    const readiness = new Readiness();
    const capture = new OtlpCapture();
    const dataDir = mkdtempSync(join(tmpdir(), 'sextant-cluster-ready-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const ingested: string[] = [];
    const gateway: IngestTarget = {
      async ingest(signal, _format, body) {
        ingested.push(signal);
        capture.add(signal, body);
        return { ok: true };
      },
    };
    const saved = { ...process.env };
    process.env['KUBERNETES_SERVICE_HOST'] = '127.0.0.1';
    process.env['KUBERNETES_SERVICE_PORT'] = String(api.server.port);
    let m;
    try {
      m = startClusterMonitor(
        { cluster: { ...SECTION, leaseNamespace: 'sextant' }, kubernetes: { ...BASE_CONFIG, tokenFile: join(api.saDir, 'token'), caFile: join(api.saDir, 'ca.crt') }, gateway: { dataDir } },
        gateway,
        { registry: new Registry(), logger: captureLogger().logger, readiness, version: 't' },
      );
    } finally {
      process.env = saved;
    }
    cleanups.push(() => m!.stop());
    await capture.until(() => capture.events().length === 5, 10_000, 'events through ingest');
    expect(ingested).toContain('logs');
    await until('the /readyz line', () => readiness.details().startsWith('cluster monitor: leading: 13/13 kinds listed'), 10_000);
  });
});

describe('joining the agents’ series', () => {
  it('gives a pod exactly the attributes the agent on its node gives that pod’s records', async () => {
    const { api, s } = await setup();
    // The agent's Kubernetes metadata on node-a, against the same API (it watches node-a's pods and looks owners up).
    const agent = startInCluster(api.server, captureLogger().logger, { clusterName: 'prod-eu-1' });
    cleanups.push(() => agent.stop());
    await until('the agent resolving the Deployment', () => agent.k8s.index?.byUid(UID.podCrashing)?.attributes['k8s.deployment.uid'] !== undefined, 10_000);
    await s.monitor.runInterval();
    const cluster = s.capture.find('k8s.pod.status.phase', { 'k8s.pod.uid': UID.podCrashing })[0]!.resource;
    expect(cluster).toEqual({ ...agent.k8s.index!.byUid(UID.podCrashing)!.attributes });
    expect(Object.keys(cluster).length).toBeGreaterThan(10);
  });
});
