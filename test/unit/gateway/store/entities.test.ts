import { describe, expect, it } from 'vitest';
import { deriveEntities, entityId } from '../../../../src/gateway/store/entities.js';
import { anyValueJson, canonicalJson, stableHash } from '../../../../src/gateway/store/otlp-values.js';

/** Entities from resource attributes as the agent and the cluster monitor emit them. */

const HOST = { 'host.name': 'node-1', 'host.id': 'm1' };

describe('entities from resource attributes', () => {
  it('a container of a pod of a Deployment: the whole chain, the container its own', () => {
    const d = deriveEntities({ ...HOST, 'k8s.cluster.name': 'c1', 'k8s.namespace.name': 'shop', 'k8s.workload.kind': 'Deployment', 'k8s.workload.name': 'web', 'k8s.pod.uid': 'u1', 'k8s.pod.name': 'web-1', 'k8s.node.name': 'node-1', 'container.id': 'abc', 'k8s.container.name': 'app' });
    expect(d.primary).toMatchObject({ type: 'container', name: 'app', namespace: 'shop' });
    expect(d.entities.map((e) => e.type)).toEqual(['container', 'pod', 'workload', 'namespace', 'host', 'cluster']);
    const id = (t: Parameters<typeof entityId>[0], k: string): string => entityId(t, k);
    expect(d.links).toEqual([
      [id('host', 'node-1'), id('cluster', 'c1')],
      [id('namespace', 'c1/shop'), id('cluster', 'c1')],
      [id('workload', 'c1/shop/Deployment/web'), id('namespace', 'c1/shop')],
      [id('pod', 'u1'), id('workload', 'c1/shop/Deployment/web')],
      [id('pod', 'u1'), id('host', 'node-1')],
      [id('container', 'u1/app'), id('pod', 'u1')],
    ]);
    // Each entity keeps its own attributes only.
    expect(d.entities.find((e) => e.type === 'pod')!.attributes).toEqual({ 'k8s.namespace.name': 'shop', 'k8s.node.name': 'node-1', 'k8s.pod.name': 'web-1', 'k8s.pod.uid': 'u1', 'k8s.workload.kind': 'Deployment', 'k8s.workload.name': 'web' });
  });

  it('a bare Docker container runs on its host; a process group names its container by id only', () => {
    expect(deriveEntities({ ...HOST, 'container.id': 'abc', 'container.name': 'redis' }).links).toEqual([[entityId('container', 'abc'), entityId('host', 'node-1')]]);
    const g = deriveEntities({ ...HOST, 'sextant.process_group.key': 'nginx|abc', 'process.executable.name': 'nginx', 'container.id': 'abc' });
    expect(g.primary).toMatchObject({ type: 'process_group', name: 'nginx' });
    expect(g.links).toEqual([[entityId('process_group', 'node-1/nginx|abc'), entityId('container', 'abc')]]);
  });

  it('the cluster monitor names workloads by kind (k8s.deployment.name …) and nodes by k8s.node.name', () => {
    const rs = deriveEntities({ 'k8s.cluster.name': 'c1', 'k8s.namespace.name': 'shop', 'k8s.replicaset.name': 'web-7f9' });
    expect(rs.primary).toMatchObject({ type: 'workload', key: 'c1/shop/ReplicaSet/web-7f9' });
    expect(deriveEntities({ 'k8s.node.name': 'node-1' }).primary!.id).toBe(deriveEntities(HOST).primary!.id);
  });

  it('services, processes; nothing named: no entity', () => {
    expect(deriveEntities({ 'service.name': 'checkout', 'service.namespace': 'shop' }).primary).toMatchObject({ type: 'service', key: 'shop/checkout' });
    expect(deriveEntities({ ...HOST, 'process.pid': 42, 'process.executable.name': 'java' }).primary).toMatchObject({ type: 'process', name: 'java (42)' });
    expect(deriveEntities({ 'telemetry.sdk.name': 'x' })).toEqual({ primary: undefined, entities: [], links: [] });
  });
});

describe('stable ids', () => {
  it('the same attributes in any order give the same text and hash; the hash does not change between versions', () => {
    const a = canonicalJson({ b: 1, a: 'x', c: { z: 1, y: [2, { k: 1, j: 2 }] } });
    expect(a).toBe('{"a":"x","b":1,"c":{"y":[2,{"j":2,"k":1}],"z":1}}');
    expect(canonicalJson({ c: { y: [2, { j: 2, k: 1 }], z: 1 }, a: 'x', b: 1 })).toBe(a);
    // Pinned: a stored store's ids must mean the same after an upgrade.
    expect(stableHash('{"host.name":"node-1"}')).toBe('f493e0f82b3d857a');
    expect(entityId('pod', 'u1')).toBe(stableHash('pod\u0000u1'));
  });

  it('AnyValue from either decoder: int64 beyond 2^53 as exact text, bytes as base64', () => {
    expect(anyValueJson({ intValue: { low: 1, high: 0x00200000, unsigned: false } })).toBe('9007199254740993');
    expect(anyValueJson({ intValue: '12' })).toBe(12);
    expect(anyValueJson({ bytesValue: new Uint8Array([1, 2, 3]) })).toBe('AQID');
    expect(anyValueJson({ kvlistValue: { values: [{ key: 'a', value: { boolValue: true } }] } })).toEqual({ a: true });
    expect(anyValueJson({ doubleValue: Number.NaN })).toBe('NaN');
    expect(anyValueJson({})).toBeNull();
  });
});

describe('containers of pods', () => {
  it('are keyed by pod uid and name: the same entity from its series (with an id), from its log file (without), and after a restart', () => {
    const pod = { 'k8s.pod.uid': 'u1', 'k8s.pod.name': 'web-1', 'k8s.namespace.name': 'shop', 'k8s.container.name': 'app' };
    const fromMetrics = deriveEntities({ ...HOST, ...pod, 'container.id': 'aaa' }).primary!;
    const fromLogFile = deriveEntities({ ...HOST, ...pod, 'k8s.container.restart_count': 0, 'log.file.path': '/var/log/pods/shop_web-1_u1/app/0.log' }).primary!;
    const restarted = deriveEntities({ ...HOST, ...pod, 'container.id': 'bbb', 'k8s.container.restart_count': 1 }).primary!;
    expect(fromLogFile.id).toBe(fromMetrics.id);
    expect(restarted.id).toBe(fromMetrics.id);
    // A process group naming the container by id finds it through what was learnt.
    const group = deriveEntities({ ...HOST, 'sextant.process_group.key': 'nginx|aaa', 'container.id': 'aaa' }, (id) => (id === 'aaa' ? 'u1/app' : undefined));
    expect(group.links).toEqual([[group.primary!.id, fromMetrics.id]]);
  });
});
