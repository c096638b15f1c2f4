import { describe, expect, it } from 'vitest';
import { KEEP_ALL } from '../../../../src/enrich/k8s/objects.js';
import { KIND_BY_NAME, KINDS } from '../../../../src/gateway/cluster/kinds/index.js';
import { StringTable } from '../../../../src/gateway/cluster/kinds/json-fields.js';
import type { ClusterObject, ConvertContext } from '../../../../src/gateway/cluster/kinds/kind.js';
import type { PodObject } from '../../../../src/gateway/cluster/kinds/pod.js';
import type { ServiceObject } from '../../../../src/gateway/cluster/kinds/service.js';
import { ObjectGraph } from '../../../../src/gateway/cluster/object-graph.js';
import { CLUSTER_UID, demoCluster, UID } from './cluster-fixtures.js';

const ctx: ConvertContext = { strings: new StringTable(), podFilter: KEEP_ALL, namespaceFilter: KEEP_ALL };

function graphOf(objects = demoCluster()): ObjectGraph {
  const g = new ObjectGraph(KINDS.map((k) => k.kind));
  const byKind = new Map<string, ClusterObject[]>();
  for (const [kind, raw] of objects) {
    const spec = KIND_BY_NAME.get(kind);
    if (spec === undefined) continue;
    const o = spec.convert({ ...raw, metadata: { ...raw.metadata, resourceVersion: '1' } }, ctx)!;
    byKind.set(kind, [...(byKind.get(kind) ?? []), o]);
  }
  for (const k of KINDS) g.handler(k.kind).replace(byKind.get(k.kind) ?? [], '1');
  return g;
}

describe('the object graph', () => {
  it('links container → pod → ReplicaSet → Deployment, Job → CronJob, pod → node, pod → claim, Service → pods', () => {
    const g = graphOf();
    expect(g.clusterUid).toBe(CLUSTER_UID);
    const crashing = g.get<PodObject>('Pod', UID.podCrashing)!;
    expect(crashing.containers.map((c) => c.name)).toEqual(['app']);
    expect(g.owners(crashing).map((o) => `${o.kind}/${o.name}`)).toEqual(['ReplicaSet/checkout-7d9f8b6c5d', 'Deployment/checkout']);
    expect(g.nodeOf(crashing)?.name).toBe('node-a');
    expect(g.workloadOf(crashing)).toEqual({ kind: 'deployment', name: 'checkout', attributes: { 'k8s.replicaset.name': 'checkout-7d9f8b6c5d', 'k8s.replicaset.uid': UID.checkoutRs, 'k8s.deployment.name': 'checkout', 'k8s.deployment.uid': UID.checkout } });
    const report = g.get<PodObject>('Pod', UID.reportPod)!;
    expect(g.owners(report).map((o) => `${o.kind}/${o.name}`)).toEqual(['Job/report-28930560', 'CronJob/report']);
    expect(g.workloadOf(report).kind).toBe('cronjob');
    expect(g.claimsOf(g.get<PodObject>('Pod', UID.web0)!).map((c) => c.name)).toEqual(['data-web-0']);
    expect(g.children(UID.checkoutRs).map((p) => p.name).sort()).toEqual(['checkout-7d9f8b6c5d-aaaaa', 'checkout-7d9f8b6c5d-bbbbb', 'checkout-7d9f8b6c5d-ccccc']);
    expect(g.children(UID.checkout).map((o) => o.name)).toEqual(['checkout-7d9f8b6c5d']);
    expect(g.podsOnNode('node-a').map((p) => p.name).sort()).toEqual(['checkout-7d9f8b6c5d-aaaaa', 'checkout-7d9f8b6c5d-bbbbb', 'fluent-bit-x7k2p']);
    const svc = g.get<ServiceObject>('Service', UID.service)!;
    expect(g.podsOf(svc).map((p) => p.name).sort()).toEqual(['checkout-7d9f8b6c5d-aaaaa', 'checkout-7d9f8b6c5d-bbbbb', 'checkout-7d9f8b6c5d-ccccc']);
    expect(g.servicesOf(crashing).map((s) => s.name)).toEqual(['checkout']);
    expect(g.servicesOf(g.get<PodObject>('Pod', UID.web0)!)).toEqual([]);
    expect(g.find('Pod', 'shop', 'web-0')?.uid).toBe(UID.web0);
    expect(g.problems()).toEqual({ ownerMissing: 0, ownerCycle: 0, ownerUnknownKind: 0 });
  });

  it('keeps its indexes right through updates, deletions and a re-list', () => {
    const g = graphOf();
    const pods = g.handler<PodObject>('Pod');
    const crashing = g.get<PodObject>('Pod', UID.podCrashing)!;
    // Moved to another node (a new pod object for the same uid, as a watch delivers it).
    pods.upsert({ ...crashing, nodeName: 'node-b' });
    expect(g.podsOnNode('node-a').map((p) => p.uid)).not.toContain(UID.podCrashing);
    expect(g.podsOnNode('node-b').map((p) => p.uid)).toContain(UID.podCrashing);
    expect(g.children(UID.checkoutRs)).toHaveLength(3);
    pods.remove(crashing);
    expect(g.children(UID.checkoutRs)).toHaveLength(2);
    expect(g.podsOnNode('node-b').map((p) => p.uid)).not.toContain(UID.podCrashing);
    // A re-list without the pending pod forgets it.
    pods.replace([...g.objects<PodObject>('Pod')].filter((p) => p.uid !== UID.podPending));
    expect(g.get('Pod', UID.podPending)).toBeUndefined();
    expect(g.children(UID.checkoutRs)).toHaveLength(1);
    expect(g.podsInNamespace('shop').map((p) => p.name).sort()).toEqual(['checkout-7d9f8b6c5d-aaaaa', 'report-28930560-q9r8s', 'web-0']);
    const v = g.version;
    g.clear();
    expect(g.version).toBeGreaterThan(v);
    expect(g.size).toBe(0);
    expect(g.synced('Pod')).toBe(false);
    expect(g.clusterUid).toBeUndefined();
  });
});
