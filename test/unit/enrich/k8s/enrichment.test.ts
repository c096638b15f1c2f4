import { afterEach, describe, expect, it } from 'vitest';
import type { PodMetadataLookup } from '../../../../src/enrich/k8s/pod-metadata-index.js';
import { FakeApiServer, captureLogger, fixture, json, selfSignedCert, watchStream, type SeenRequest } from './fake-api-server.js';
import { until } from '../../../helpers/wait.js';
import { recordedOwner, route, startInCluster, type Started } from './cluster.js';

const tls = selfSignedCert();
const UID = {
  checkout: '5f0c2a4e-8b1d-4c3e-9a7f-1e2d3c4b5a69',
  postgres: 'a3b9c1d2-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  fluentBit: 'c7d8e9f0-1a2b-4c3d-8e4f-5a6b7c8d9e0f',
  nightly: '1e2f3a4b-5c6d-4e7f-9a8b-7c6d5e4f3a2b',
  migrate: '2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e',
  canary: '4d5e6f7a-8b9c-4d0e-9f1a-3b4c5d6e7f8a',
  debug: '6f7a8b9c-0d1e-4f2a-8b3c-5d6e7f8a9b0c',
};

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function cluster(script: Parameters<typeof route>[1] = {}, config: Parameters<typeof startInCluster>[2] = {}): Promise<{ server: FakeApiServer; s: Started; log: ReturnType<typeof captureLogger>; index: PodMetadataLookup }> {
  const server = new FakeApiServer(tls);
  await server.listen();
  cleanup.push(() => server.close());
  route(server, script);
  const log = captureLogger();
  const s = startInCluster(server, log.logger, config);
  cleanup.push(() => s.stop());
  const index = s.k8s.index!;
  return { server, s, log, index };
}

function attrs(index: PodMetadataLookup, uid: string): Record<string, unknown> {
  return { ...index.byUid(uid)?.attributes };
}

/**
 * Waits until every owner lookup that changes a pod's attributes has landed: the two
 * ReplicaSet GETs (checkout gains its Deployment's uid, canary turns out a ReplicaSet) and the
 * nightly Job's (its CronJob). Each answer re-resolves the pods and moves the version, so a test
 * that counts notifications or versions must not start before the last of them (migrate-db's
 * Job answer changes nothing: it has no CronJob).
 */
async function settled(index: PodMetadataLookup): Promise<void> {
  await until(
    'owner lookups',
    () =>
      index.byUid(UID.checkout)?.attributes['k8s.deployment.uid'] !== undefined &&
      index.byUid(UID.nightly)?.attributes['k8s.workload.kind'] === 'cronjob' &&
      index.byUid(UID.canary)?.attributes['k8s.workload.kind'] === 'replicaset',
    8000,
  );
}

describe('workloads', () => {
  it('resolves each kind as Dynatrace does (lower-case kind, root owner name)', async () => {
    const { index, server } = await cluster();
    await settled(index);
    await until('deployment uid', () => index.byUid(UID.checkout)?.attributes['k8s.deployment.uid'] !== undefined, 8000);
    expect(attrs(index, UID.checkout)).toMatchObject({
      'k8s.workload.kind': 'deployment',
      'k8s.workload.name': 'checkout',
      'k8s.deployment.name': 'checkout',
      'k8s.deployment.uid': '8f9a0b1c-2d3e-4f4a-9b5c-6d7e8f9a0b1c',
      'k8s.replicaset.name': 'checkout-7d9f8b6c5d',
      'k8s.replicaset.uid': '0d6a1c9e-2b3f-4a5d-8e7c-6f1a2b3c4d5e',
    });
    expect(attrs(index, UID.postgres)).toMatchObject({ 'k8s.workload.kind': 'statefulset', 'k8s.workload.name': 'postgres', 'k8s.statefulset.name': 'postgres' });
    expect(attrs(index, UID.fluentBit)).toMatchObject({ 'k8s.workload.kind': 'daemonset', 'k8s.workload.name': 'fluent-bit', 'k8s.daemonset.name': 'fluent-bit' });
    expect(attrs(index, UID.nightly)).toMatchObject({
      'k8s.workload.kind': 'cronjob',
      'k8s.workload.name': 'nightly-report',
      'k8s.cronjob.name': 'nightly-report',
      'k8s.job.name': 'nightly-report-28930560',
    });
    expect(attrs(index, UID.migrate)).toMatchObject({ 'k8s.workload.kind': 'job', 'k8s.workload.name': 'migrate-db', 'k8s.job.name': 'migrate-db' });
    expect(attrs(index, UID.migrate)['k8s.cronjob.name']).toBeUndefined();
    // An Argo Rollout is not a well-known workload: its ReplicaSet is the root.
    expect(attrs(index, UID.canary)).toMatchObject({ 'k8s.workload.kind': 'replicaset', 'k8s.workload.name': 'canary-5c8d7f9b4' });
    expect(attrs(index, UID.canary)['k8s.deployment.name']).toBeUndefined();
    // A bare pod is its own workload.
    expect(attrs(index, UID.debug)).toMatchObject({ 'k8s.workload.kind': 'pod', 'k8s.workload.name': 'debug-shell' });
    // Cluster and node on every pod.
    for (const uid of Object.values(UID)) {
      expect(attrs(index, uid)).toMatchObject({ 'k8s.cluster.name': 'prod-eu-1', 'k8s.cluster.uid': 'd2c7e5a1-3f4b-4e8a-9c6d-0b1a2f3e4d5c', 'k8s.node.name': 'node-a' });
    }
    // One GET per middle link, cached: StatefulSet, DaemonSet and bare pods need none. migrate-db's
    // answer changes no attribute (its Job has no CronJob), so nothing above waited for its GET.
    const owners = (): SeenRequest[] => server.requests.filter((r) => r.path.startsWith('/apis/'));
    await until('the four owner GETs', () => owners().length >= 4, 8000);
    expect(owners().map((r) => r.path).sort()).toEqual([
      '/apis/apps/v1/namespaces/shop/replicasets/canary-5c8d7f9b4',
      '/apis/apps/v1/namespaces/shop/replicasets/checkout-7d9f8b6c5d',
      '/apis/batch/v1/namespaces/shop/jobs/migrate-db',
      '/apis/batch/v1/namespaces/shop/jobs/nightly-report-28930560',
    ]);
  });

  it('RBAC forbids ReplicaSets: the Deployment is named from pod-template-hash, one warning, retried later', async () => {
    let forbidden = true;
    const { index, log, server } = await cluster({
      owner: (req, res) => (forbidden && req.path.includes('/replicasets/') ? json(res, 403, fixture('status-403-replicasets.json')) : recordedOwner(req, res)),
    });
    await until('jobs resolved', () => index.byUid(UID.nightly)?.attributes['k8s.workload.kind'] === 'cronjob', 8000);
    expect(attrs(index, UID.checkout)).toMatchObject({ 'k8s.workload.kind': 'deployment', 'k8s.workload.name': 'checkout', 'k8s.deployment.name': 'checkout', 'k8s.replicaset.name': 'checkout-7d9f8b6c5d' });
    // Without the hash convention (a Rollout's ReplicaSet) the ReplicaSet is the workload.
    expect(attrs(index, UID.canary)).toMatchObject({ 'k8s.workload.kind': 'replicaset', 'k8s.workload.name': 'canary-5c8d7f9b4' });
    await until('a retry', () => server.requests.filter((r) => r.path.endsWith('/replicasets/checkout-7d9f8b6c5d')).length >= 2, 8000);
    const warns = log.lines.filter((l) => l['level'] === 40);
    expect(warns).toHaveLength(1);
    expect(String(warns[0]!['msg'])).toMatch(/cannot get replicasets \(RBAC\)/);
    forbidden = false;
    await until('resolved after RBAC fixed', () => index.byUid(UID.checkout)?.attributes['k8s.deployment.uid'] === '8f9a0b1c-2d3e-4f4a-9b5c-6d7e8f9a0b1c', 8000);
  });
});

describe('cost allocation', () => {
  it('takes metadata.dynatrace.com annotations, the pod’s over its namespace’s', async () => {
    const { index } = await cluster();
    await settled(index);
    // checkout: cost center from the namespace, product from the pod (pod over namespace).
    expect(attrs(index, UID.checkout)).toMatchObject({ 'dt.cost.costcenter': 'CC-1042', 'dt.cost.product': 'webshop', 'dt.security_context': 'commerce' });
    // postgres-0: its own cost center, the namespace's product.
    expect(attrs(index, UID.postgres)).toMatchObject({ 'dt.cost.costcenter': 'CC-2001', 'dt.cost.product': 'shop-platform' });
    // logging has no Dynatrace annotations and no rule: nothing invented.
    expect(attrs(index, UID.fluentBit)['dt.cost.costcenter']).toBeUndefined();
    expect(attrs(index, UID.fluentBit)['dt.cost.product']).toBeUndefined();
  });

  it('applies configured label/annotation rules in order, under the pod’s own annotation', async () => {
    const { index } = await cluster(
      {},
      {
        costCenterFrom: [
          { scope: 'pod', kind: 'label', key: 'team' },
          { scope: 'namespace', kind: 'label', key: 'team' },
        ],
        productFrom: [{ scope: 'pod', kind: 'label', key: 'app.kubernetes.io/name' }],
      },
    );
    await settled(index);
    // checkout: pod label team=payments beats the namespace's cost-center annotation (rule over namespace metadata).
    expect(attrs(index, UID.checkout)).toMatchObject({ 'dt.cost.costcenter': 'payments', 'dt.cost.product': 'webshop' });
    // postgres: the pod's own annotation beats every rule.
    expect(attrs(index, UID.postgres)['dt.cost.costcenter']).toBe('CC-2001');
    // fluent-bit: no pod label team, so the namespace label (second rule); product from its app label.
    expect(attrs(index, UID.fluentBit)).toMatchObject({ 'dt.cost.costcenter': 'observability', 'dt.cost.product': 'fluent-bit' });
    // debug-shell in default: no label, no annotation anywhere.
    expect(attrs(index, UID.debug)['dt.cost.costcenter']).toBeUndefined();
  });

  it('follows a namespace annotation change onto its pods only, moving the version once', async () => {
    let nsEvents: ((body: string) => void) | undefined;
    const { index } = await cluster({
      namespaceWatch: (_req, res, n) => {
        watchStream(res, '', false);
        if (n === 0) nsEvents = (b) => res.write(b);
      },
    });
    await settled(index);
    await until('namespace watch', () => nsEvents !== undefined, 8000);
    const before = index.version;
    const logging = index.byUid(UID.fluentBit)!;
    let told = 0;
    index.onChange(() => told++);
    nsEvents!(fixture('watch-namespaces.ndjson'));
    await until('new cost center', () => index.byUid(UID.checkout)?.attributes['dt.cost.costcenter'] === 'CC-1043', 8000);
    expect(index.version).toBeGreaterThan(before);
    expect(told).toBe(1);
    // postgres keeps its own; logging's pods are untouched (same object, same version).
    expect(attrs(index, UID.postgres)['dt.cost.costcenter']).toBe('CC-2001');
    expect(index.byUid(UID.fluentBit)).toBe(logging);
    expect(index.byUid(UID.fluentBit)!.version).toBe(logging.version);
  });
});

describe('labels and annotations', () => {
  it('adds only allow-listed keys, with semantic-convention names', async () => {
    const { index } = await cluster(
      {},
      { podLabels: ['app', 'app.kubernetes.io/*'], podAnnotations: ['prometheus.io/scrape'], namespaceLabels: ['environment'], namespaceAnnotations: ['no-such'] },
    );
    await settled(index);
    const a = attrs(index, UID.checkout);
    expect(a).toMatchObject({
      'k8s.pod.label.app': 'checkout',
      'k8s.pod.label.app.kubernetes.io/name': 'checkout',
      'k8s.pod.label.app.kubernetes.io/version': '1.4.2',
      'k8s.pod.annotation.prometheus.io/scrape': 'true',
      'k8s.namespace.label.environment': 'production',
    });
    expect(Object.keys(a).filter((k) => k.startsWith('k8s.pod.label.') || k.startsWith('k8s.pod.annotation.') || k.startsWith('k8s.namespace.')).sort()).toEqual([
      'k8s.namespace.label.environment',
      'k8s.namespace.name',
      'k8s.pod.annotation.prometheus.io/scrape',
      'k8s.pod.label.app',
      'k8s.pod.label.app.kubernetes.io/name',
      'k8s.pod.label.app.kubernetes.io/version',
    ]);
    // Not allow-listed: no team label, no restartedAt annotation.
    expect(a['k8s.pod.label.team']).toBeUndefined();
    expect(a['k8s.pod.annotation.kubectl.kubernetes.io/restartedAt']).toBeUndefined();
  });

  it('a status-only update of a pod does not move the version (no resource rebuilds)', async () => {
    let podEvents: ((body: string) => void) | undefined;
    const { index, s } = await cluster({
      podWatch: (_req, res, n) => {
        watchStream(res, '', false);
        if (n === 0) podEvents = (b) => res.write(b);
      },
    });
    const podsModified = (): number => s.registry.counter('sextant_kubernetes_watch_events_total', '').get({ resource: 'pods', type: 'modified' });
    await settled(index);
    await until('pod watch', () => podEvents !== undefined, 8000);
    const v = index.version;
    const postgres = index.byUid(UID.postgres)!;
    const lines = fixture('watch-pods.ndjson').split('\n');
    podEvents!(`${lines[1]}\n`); // MODIFIED postgres-0: a probe time in its status
    await until('the MODIFIED event applied', () => podsModified() === 1, 8000);
    expect(index.version).toBe(v);
    expect(index.byUid(UID.postgres)).toBe(postgres);
    expect(index.byName('shop', 'postgres-0')).toBe(postgres);
    podEvents!(`${lines[0]}\n`); // MODIFIED checkout: a new cost center annotation
    await until('version moved', () => index.version > v, 8000);
    expect(index.byUid(UID.checkout)!.version).toBe(index.version);
  });
});
