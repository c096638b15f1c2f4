import { describe, expect, it } from 'vitest';
import { convertEvent } from '../../../../src/gateway/cluster/event.js';
import { KINDS } from '../../../../src/gateway/cluster/kinds/index.js';
import { StringTable } from '../../../../src/gateway/cluster/kinds/json-fields.js';
import type { ConvertContext, PointSink } from '../../../../src/gateway/cluster/kinds/kind.js';
import { convertPod, type PodObject } from '../../../../src/gateway/cluster/kinds/pod.js';
import { parseQuantity } from '../../../../src/gateway/cluster/kinds/quantity.js';
import { quotaFamily } from '../../../../src/gateway/cluster/kinds/resourcequota.js';
import { KEEP_ALL } from '../../../../src/enrich/k8s/objects.js';
import type { Attributes, MetricDescriptor } from '../../../../src/model/index.js';
import { crashLoop, demoCluster, pod, UID } from './cluster-fixtures.js';

const ctx: ConvertContext = { strings: new StringTable(), podFilter: KEEP_ALL, namespaceFilter: KEEP_ALL };

function points(kind: string, raw: unknown): Array<{ name: string; attributes: Attributes; value: number }> {
  const spec = KINDS.find((k) => k.kind === kind)!;
  const o = spec.convert(raw, ctx)!;
  const out: Array<{ name: string; attributes: Attributes; value: number }> = [];
  const sink: PointSink = { point: (m: MetricDescriptor, attributes, value) => out.push({ name: m.name, attributes, value }) };
  for (const row of spec.metrics) row.write(o, sink);
  return out;
}

describe('Kubernetes quantities', () => {
  it.each([
    ['100m', 0.1],
    ['1', 1],
    ['2.5', 2.5],
    ['128Mi', 128 * 2 ** 20],
    ['16374228Ki', 16374228 * 1024],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['1G', 1e9],
    ['1k', 1000],
    ['2e3', 2000],
    ['1E', 1e18],
    ['500n', 5e-7],
    ['.5', 0.5],
    ['-1', -1],
    ['+3', 3],
  ])('%s is %d', (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value, 12);
  });

  it.each(['', 'abc', '1KiB', '1 Mi', '1e', 'Mi', '1.2.3', 'x'.repeat(100)])('%j is no quantity', (text) => {
    expect(parseQuantity(text)).toBeUndefined();
  });
});

describe('kind converters', () => {
  it('keeps only what the metrics, attributes and edges need from a pod', () => {
    const raw = demoCluster().find(([k, o]) => k === 'Pod' && o.metadata.uid === UID.podCrashing)![1];
    const p = convertPod(raw, ctx)!;
    expect(p).toMatchObject({ kind: 'Pod', uid: UID.podCrashing, namespace: 'shop', nodeName: 'node-a', phase: 'Running', reason: '', claims: [] });
    expect(p.controller).toEqual({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7d9f8b6c5d', uid: UID.checkoutRs });
    expect(p.conditions).toEqual({ PodReadyToStartContainers: 'True', Initialized: 'True', Ready: 'False', ContainersReady: 'False', PodScheduled: 'True' });
    expect(p.containers).toEqual([
      {
        name: 'app',
        image: 'registry.example.com/shop/app:1.4.2',
        ready: false,
        restarts: 7,
        state: 'waiting',
        reason: 'CrashLoopBackOff',
        lastReason: 'Error',
        lastExitCode: 1,
        desired: { cpuRequest: 0.25, cpuLimit: 1, memoryRequest: 128 * 2 ** 20, memoryLimit: 256 * 2 ** 20 },
        current: undefined,
      },
    ]);
    // No spec, no volumes, no managedFields, no status timestamps kept.
    expect(Object.keys(p).sort()).toEqual(['annotations', 'claims', 'conditions', 'containers', 'controller', 'kind', 'labels', 'name', 'namespace', 'nodeName', 'phase', 'reason', 'resourceVersion', 'uid']);
  });

  it('shares repeated strings between objects', () => {
    const strings = new StringTable();
    const c = { ...ctx, strings };
    const mk = (uid: string): PodObject => convertPod(JSON.parse(JSON.stringify(pod({ name: `p-${uid}`, namespace: 'shop', uid, node: 'node-a', phase: 'Running', containers: [{ name: 'app', image: 'img:1', status: crashLoop(1) }] }))), c)!;
    const a = mk('u1');
    const b = mk('u2');
    // Equal strings from two JSON.parse calls are two strings; interned, they are one.
    expect(strings.intern('shop')).toBe(a.namespace);
    expect(strings.size).toBeGreaterThan(3);
    expect(a.containers[0]!.image === b.containers[0]!.image).toBe(true);
    // Small objects equal between pods are one object: conditions, requests and limits, the owner reference.
    expect(a.conditions).toBe(b.conditions);
    expect(a.containers[0]!.desired).toBe(b.containers[0]!.desired);
  });

  it('never throws on objects that are not in the API shape, and refuses them', () => {
    const junk: unknown[] = [null, 1, 'pod', [], {}, { metadata: null }, { metadata: { name: 'x' } }, { metadata: { uid: 'u' } }, { metadata: { name: 'x', uid: 'u', namespace: 7 }, spec: 'no' }, { kind: 'Secret', metadata: { name: 'x', uid: 'u', namespace: 'n' } }];
    for (const spec of KINDS) {
      for (const j of junk) expect(() => spec.convert(j, ctx)).not.toThrow();
      expect(spec.convert({ kind: 'Secret', metadata: { name: 'x', uid: 'u', namespace: 'n' } }, ctx)).toBeUndefined();
    }
    // Fields of the wrong type are absent, not fatal.
    const odd = convertPod({ metadata: { name: 'p', uid: 'u', namespace: 'n' }, spec: { containers: [{ name: 'c', resources: { requests: { cpu: 12, memory: 'lots' } } }, 'x', null], nodeName: 3 }, status: { phase: ['Running'], containerStatuses: [{ name: 'c', restartCount: -4, ready: 'yes', state: { waiting: 'CrashLoopBackOff' } }], conditions: [{ type: 'Ready' }, 'x'] } }, ctx)!;
    expect(odd.containers).toHaveLength(1);
    expect(odd.containers[0]).toMatchObject({ restarts: 0, ready: false, state: '', desired: { cpuRequest: 12, memoryRequest: undefined } });
    expect(odd.nodeName).toBe('');
    expect(odd.phase).toBe('');
    expect(odd.conditions).toEqual({ Ready: '' });
    for (const j of junk) expect(() => convertEvent(j)).not.toThrow();
  });

  it('writes every phase of a pod, one of them 1, and the container reasons semconv lists', () => {
    const raw = demoCluster().find(([k, o]) => k === 'Pod' && o.metadata.uid === UID.podPending)![1];
    const p = points('Pod', raw);
    expect(p.filter((x) => x.name === 'k8s.pod.status.phase').map((x) => [x.attributes['k8s.pod.status.phase'], x.value])).toEqual([
      ['Pending', 1],
      ['Running', 0],
      ['Succeeded', 0],
      ['Failed', 0],
      ['Unknown', 0],
    ]);
    expect(p.filter((x) => x.name === 'sextant.k8s.pod.condition.status')).toEqual([
      { name: 'sextant.k8s.pod.condition.status', attributes: { 'sextant.k8s.pod.condition.type': 'PodScheduled', 'sextant.k8s.pod.condition.status': 'true' }, value: 0 },
      { name: 'sextant.k8s.pod.condition.status', attributes: { 'sextant.k8s.pod.condition.type': 'PodScheduled', 'sextant.k8s.pod.condition.status': 'false' }, value: 1 },
      { name: 'sextant.k8s.pod.condition.status', attributes: { 'sextant.k8s.pod.condition.type': 'PodScheduled', 'sextant.k8s.pod.condition.status': 'unknown' }, value: 0 },
    ]);
  });

  it('maps every quota resource name to its semconv family, the rest to k8s_cluster’s', () => {
    const f = (r: string): [string, Attributes] => [quotaFamily(r).metrics[0].name, quotaFamily(r).attributes];
    expect(f('cpu')).toEqual(['k8s.resourcequota.cpu.request.hard', {}]);
    expect(f('requests.cpu')).toEqual(['k8s.resourcequota.cpu.request.hard', {}]);
    expect(f('limits.memory')).toEqual(['k8s.resourcequota.memory.limit.hard', {}]);
    expect(f('requests.ephemeral-storage')).toEqual(['k8s.resourcequota.ephemeral_storage.request.hard', {}]);
    expect(f('persistentvolumeclaims')).toEqual(['k8s.resourcequota.persistentvolumeclaim_count.hard', {}]);
    expect(f('gold.storageclass.storage.k8s.io/persistentvolumeclaims')).toEqual(['k8s.resourcequota.persistentvolumeclaim_count.hard', { 'k8s.storageclass.name': 'gold' }]);
    expect(f('requests.hugepages-2Mi')).toEqual(['k8s.resourcequota.hugepage_count.request.hard', { 'k8s.hugepage.size': '2Mi' }]);
    expect(f('count/jobs.batch')).toEqual(['k8s.resourcequota.object_count.hard', { 'k8s.resourcequota.resource_name': 'count/jobs.batch' }]);
    expect(f('services.loadbalancers')).toEqual(['k8s.resourcequota.object_count.hard', { 'k8s.resourcequota.resource_name': 'services.loadbalancers' }]);
    expect(f('requests.nvidia.com/gpu')).toEqual(['k8s.resource_quota.hard_limit', { resource: 'requests.nvidia.com/gpu' }]);
    expect(quotaFamily('limits.cpu').metrics[1].name).toBe('k8s.resourcequota.cpu.limit.used');
  });

  it('reads an event of either API: series and deprecated fields', () => {
    const events = demoCluster().filter(([k]) => k === 'Event').map(([, o]) => ({ ...o, metadata: { ...o.metadata, resourceVersion: '1234' } }));
    const sched = convertEvent(events[0])!;
    expect(sched).toMatchObject({ type: 'Warning', reason: 'FailedScheduling', count: 3, order: 1234n, reportingController: 'default-scheduler', regarding: { kind: 'Pod', name: 'checkout-7d9f8b6c5d-ccccc', uid: UID.podPending } });
    expect(new Date(sched.lastMs).toISOString()).toBe('2026-12-01T08:09:30.123Z');
    expect(new Date(sched.firstMs).toISOString()).toBe('2026-12-01T08:00:00.000Z');
    const old = convertEvent(events[4])!;
    expect(old).toMatchObject({ count: 2, reportingController: 'kubelet', reportingInstance: 'node-a', reason: 'NodeHasSufficientMemory' });
    expect(new Date(old.firstMs).toISOString()).toBe('2026-12-01T07:58:00.000Z');
    expect(new Date(old.lastMs).toISOString()).toBe('2026-12-01T07:59:00.000Z');
    const second = events[1]!;
    expect(convertEvent({ ...second, metadata: { ...second.metadata, resourceVersion: 'a7f' } })!.order).toBeUndefined();
  });
});
