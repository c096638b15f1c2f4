import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { namespaceMeta, podMeta, type PodMeta } from '../../../../src/enrich/k8s/objects.js';
import { CompiledRules } from '../../../../src/enrich/k8s/pod-attributes.js';
import { PodMetadataIndex } from '../../../../src/enrich/k8s/pod-metadata-index.js';
import { createResource } from '../../../../src/model/index.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { CgroupDiscovery } from '../../../../src/sources/lib/cgroup/cgroup-discovery.js';
import { parseCgroupMounts } from '../../../../src/sources/lib/cgroup/cgroup-mounts.js';
import { CgroupStatsReader } from '../../../../src/sources/lib/cgroup/cgroup-stats.js';
import { containerResource, podResource } from '../../../../src/sources/container/container-resource.js';
import { ContainerSource } from '../../../../src/sources/container/container-source.js';
import { lifecycleRecord } from '../../../../src/sources/container/lifecycle-records.js';
import { ContainerMetadataCache } from '../../../../src/sources/container/metadata-cache.js';
import type { ContainerInfo } from '../../../../src/sources/container/types.js';
import { LogSource } from '../../../../src/sources/logs/logs-source.js';
import { ArraySink } from '../../../helpers/array-sink.js';
import { BASE_CONFIG } from './cluster.js';
import { fixtureJson } from './fake-api-server.js';
import { AckingSink } from '../../../helpers/acking-sink.js';
import { ScriptedRuntime } from '../../../helpers/scripted-runtime.js';
import { until } from '../../../helpers/wait.js';

/**
 * Pod metadata from the API reaching records: container and pod metrics, container lifecycle
 * events and pod logs all carry the workload and dt.cost.* attributes, the runtime's identity is
 * never replaced, and a metadata change reaches records through one rebuild, not per record.
 */

const UID = '5f0c6a3e-2b1d-4c8e-9f7a-0123456789ab';
const HOST = createResource({ 'host.name': 'node-1', 'host.id': 'abc' });
const tmp = mkdtempSync(join(tmpdir(), 'sextant-k8s-wiring-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type RawList = { items: Array<{ metadata: Record<string, unknown>; spec: Record<string, unknown> }> };

/** The recorded checkout pod, renamed to the pod these tests' containers and log files belong to. */
function recordedPod(over: { annotations?: Record<string, string> } = {}): unknown {
  const p = structuredClone((fixtureJson<RawList>('pod-list.json')).items[0]!);
  p.metadata['uid'] = UID;
  p.metadata['name'] = 'web-7d9';
  p.spec['nodeName'] = 'node-1';
  if (over.annotations) p.metadata['annotations'] = { ...(p.metadata['annotations'] as object), ...over.annotations };
  return p;
}

function index(): { index: PodMetadataIndex; rules: CompiledRules; put: (raw: unknown) => void; shop: () => void } {
  const rules = new CompiledRules({ ...BASE_CONFIG, podLabels: ['app'] });
  const idx = new PodMetadataIndex({
    rules,
    nodeName: 'node-1',
    workloads: { resolve: (p: PodMeta) => ({ kind: 'deployment', name: 'web', attributes: { 'k8s.deployment.name': 'web', 'k8s.replicaset.name': p.controller?.name ?? '' } }) },
  });
  const nsList = fixtureJson<RawList>('namespace-list.json');
  return {
    index: idx,
    rules,
    put: (raw) => idx.podHandler.upsert(podMeta(raw, rules.podFilter)!),
    shop: () => idx.namespaceHandler.replace(nsList.items.map((n) => namespaceMeta(n, rules.namespaceFilter)!)),
  };
}

const criPod = { uid: UID, name: 'web-7d9', namespace: 'shop', labels: {}, annotations: {} };
function info(id: string, name: string, over: Partial<ContainerInfo> = {}): ContainerInfo {
  return { id, runtime: 'containerd', name, imageName: 'registry.local/shop/web', imageTags: ['1.4'], state: 'running', restartCount: 0, labels: {}, annotations: {}, pod: criPod, startedAtUnixNano: 1_000_000_000n, ...over };
}

describe('containerResource and podResource with pod metadata', () => {
  it('adds workload, cost and labels under the runtime’s identity', () => {
    const { index: idx, put, shop } = index();
    shop();
    put(recordedPod());
    const r = containerResource(HOST, 'a'.repeat(64), info('a'.repeat(64), 'web'), undefined, 'node-1', idx);
    expect(r.attributes).toMatchObject({
      'host.name': 'node-1',
      'container.id': 'a'.repeat(64),
      'container.name': 'web',
      'k8s.container.name': 'web',
      'k8s.pod.uid': UID,
      'k8s.pod.name': 'web-7d9',
      'k8s.namespace.name': 'shop',
      'k8s.workload.kind': 'deployment',
      'k8s.workload.name': 'web',
      'k8s.deployment.name': 'web',
      'k8s.cluster.name': 'prod-eu-1',
      'k8s.cluster.uid': 'd2c7e5a1-3f4b-4e8a-9c6d-0b1a2f3e4d5c',
      'k8s.pod.label.app': 'checkout',
      'dt.cost.costcenter': 'CC-1042',
      'dt.cost.product': 'webshop',
    });
    expect(Object.isFrozen(r.attributes)).toBe(true);
    expect(podResource(HOST, UID, criPod, 'node-1', idx).attributes).toMatchObject({ 'k8s.pod.name': 'web-7d9', 'dt.cost.product': 'webshop', 'k8s.workload.name': 'web' });
  });

  it('the runtime and cgroup path win for what they say; the API fills in the rest', () => {
    const { index: idx, put, shop } = index();
    shop();
    // An annotation claiming a different container id or pod name changes nothing.
    put(recordedPod({ annotations: { 'metadata.dynatrace.com/container.id': 'evil', 'metadata.dynatrace.com/k8s.pod.name': 'evil' } }));
    const runtimeSaysOther = info('b'.repeat(64), 'web', { pod: { ...criPod, name: 'web-from-runtime' } });
    const r = containerResource(HOST, 'b'.repeat(64), runtimeSaysOther, undefined, 'node-1', idx);
    expect(r.attributes['container.id']).toBe('b'.repeat(64));
    expect(r.attributes['k8s.pod.name']).toBe('web-from-runtime');
    // Only a cgroup path (no runtime answered): the API names the pod.
    const bare = containerResource(HOST, 'c'.repeat(64), undefined, { containerId: 'c'.repeat(64), podUid: UID, runtime: 'containerd' }, 'node-1', idx);
    expect(bare.attributes).toMatchObject({ 'container.id': 'c'.repeat(64), 'k8s.pod.uid': UID, 'k8s.pod.name': 'web-7d9', 'k8s.namespace.name': 'shop', 'dt.cost.costcenter': 'CC-1042' });
  });

  it('without metadata, or for a pod the API does not know, the resource is what it was', () => {
    const { index: idx } = index();
    const i = info('a'.repeat(64), 'web');
    const without = containerResource(HOST, 'a'.repeat(64), i, undefined, 'node-1');
    expect(containerResource(HOST, 'a'.repeat(64), i, undefined, 'node-1', idx).key).toBe(without.key);
    expect(without.attributes['dt.cost.costcenter']).toBeUndefined();
  });

  it('a lifecycle event of the pod’s container carries the cost attributes', () => {
    const { index: idx, put, shop } = index();
    shop();
    put(recordedPod());
    const c = info('a'.repeat(64), 'web', { state: 'exited', exitCode: 137, exitReason: 'OOMKilled' });
    const rec = lifecycleRecord({ kind: 'exit', info: c, timeUnixNano: 5n, exitCode: 137 } as Parameters<typeof lifecycleRecord>[0], containerResource(HOST, c.id, c, undefined, 'node-1', idx), { name: 's', version: '1' });
    expect(rec.resource.attributes).toMatchObject({ 'dt.cost.costcenter': 'CC-1042', 'dt.cost.product': 'webshop', 'k8s.workload.kind': 'deployment' });
  });
});

// ContainerSource over a cgroup v2 tree from the captured H100 files (as test/unit/container does).
const H100 = new URL('../../../fixtures/hosts/h100-cgroup2/', import.meta.url).pathname;
const V2 = parseCgroupMounts(readFileSync(join(H100, 'proc/self/mountinfo'), 'utf8'));

describe('ContainerSource with pod metadata', () => {
  it('container and pod metrics and lifecycle events carry it; a change rebuilds once', async () => {
    const root = join(tmp, 'host');
    const addCgroup = (id: string): void => {
      const dir = join(root, 'sys/fs/cgroup', `/kubepods/burstable/pod${UID}/${id}`);
      mkdirSync(dir, { recursive: true });
      cpSync(join(H100, 'cg'), dir, { recursive: true });
      writeFileSync(join(dir, 'cgroup.procs'), '');
    };
    const A = 'a'.repeat(64);
    const B = 'b'.repeat(64);
    addCgroup(A);
    const runtime = new ScriptedRuntime();
    runtime.containers = [info(A, 'web')];
    const cache = new ContainerMetadataCache([runtime], { callTimeoutMs: 500, resyncIntervalMs: 60_000, logger: silentLogger() });
    const discovery = new CgroupDiscovery(root, V2);
    const sink = new ArraySink();
    let now = 10_000_000_000n;
    const source = new ContainerSource({
      hostRoot: root,
      resource: HOST,
      registry: new Registry(),
      logger: silentLogger(),
      version: 't',
      cache,
      layout: V2,
      stats: new CgroupStatsReader(root, V2),
      discover: async () => (await discovery.discover()).containers,
      sink,
      nodeName: 'node-1',
      now: () => (now += 10_000_000_000n),
    });
    const { index: idx, put, shop } = index();
    source.setPodMetadata(idx);

    // Before the API answered: runtime metadata only.
    await source.collect(sink);
    const first = sink.metrics.find((p) => p.descriptor.name === 'container.memory.usage')!;
    expect(first.resource.attributes['container.name']).toBe('web');
    expect(first.resource.attributes['dt.cost.costcenter']).toBeUndefined();

    shop();
    put(recordedPod());
    sink.clear();
    await source.collect(sink);
    const containerPoints = sink.metrics.filter((p) => p.resource.attributes['container.id'] === A);
    const podPoints = sink.metrics.filter((p) => p.descriptor.name.startsWith('k8s.pod.'));
    expect(containerPoints.length).toBeGreaterThan(5);
    expect(podPoints.length).toBeGreaterThan(3);
    for (const p of [...containerPoints, ...podPoints]) {
      expect(p.resource.attributes).toMatchObject({ 'dt.cost.costcenter': 'CC-1042', 'dt.cost.product': 'webshop', 'k8s.workload.kind': 'deployment', 'k8s.workload.name': 'web' });
    }
    // One resource object per container for all its points: built once, not per record.
    expect(new Set(containerPoints.map((p) => p.resource)).size).toBe(1);
    const built = containerPoints[0]!.resource;

    // Nothing changed: the next cycle reuses the same resource objects.
    sink.clear();
    await source.collect(sink);
    expect(sink.metrics.find((p) => p.resource.attributes['container.id'] === A)!.resource).toBe(built);

    // A new container of the pod starts: its lifecycle event carries the cost attributes too.
    addCgroup(B);
    runtime.containers = [info(A, 'web'), info(B, 'sidecar', { startedAtUnixNano: 2_000_000_000n })];
    sink.clear();
    await source.collect(sink);
    const start = sink.events.find((e) => e.eventName === 'container.start' && e.resource.attributes['container.id'] === B);
    expect(start?.resource.attributes).toMatchObject({ 'dt.cost.costcenter': 'CC-1042', 'k8s.workload.name': 'web' });

    // The pod's cost center changes in the API: the next cycle's records carry it.
    put(recordedPod({ annotations: { 'metadata.dynatrace.com/dt.cost.costcenter': 'CC-7' } }));
    sink.clear();
    await source.collect(sink);
    const after = sink.metrics.filter((p) => p.resource.attributes['k8s.pod.uid'] === UID);
    expect(after.length).toBeGreaterThan(0);
    for (const p of after) expect(p.resource.attributes['dt.cost.costcenter']).toBe('CC-7');
    await source.stop();
  });
});


describe('LogSource with pod metadata', () => {
  it('pod log records carry it, from the file path’s pod uid; a change reaches the next records', async () => {
    const root = join(tmp, 'logs');
    const dir = join(root, `var/log/pods/shop_web-7d9_${UID}/web`);
    mkdirSync(dir, { recursive: true });
    const state = join(root, 'state');
    mkdirSync(state);
    const file = join(dir, '0.log');
    writeFileSync(file, '2026-11-25T10:00:00.000000001Z stdout F line 1\n2026-11-25T10:00:00.000000002Z stdout F line 2\n');
    const { index: idx, put, shop } = index();
    shop();
    put(recordedPod());
    const src = new LogSource(
      { hostRoot: root, stateDir: state, readFrom: 'beginning', maxRecordBytes: 1024 * 1024, rescanIntervalMs: 200, checkpointIntervalMs: 100, globs: [], nodeName: 'node-1' },
      { resource: HOST, registry: new Registry(), logger: silentLogger(), version: 't', pods: idx },
    );
    const sink = new AckingSink();
    src.start(sink);
    try {
      await until('2 records', () => sink.logs.length === 2);
      for (const r of sink.logs) {
        expect(r.resource.attributes).toMatchObject({ 'k8s.pod.name': 'web-7d9', 'k8s.container.name': 'web', 'dt.cost.costcenter': 'CC-1042', 'dt.cost.product': 'webshop', 'k8s.workload.kind': 'deployment', 'log.file.path': expect.stringContaining('0.log') });
      }
      expect(sink.logs[0]!.resource).toBe(sink.logs[1]!.resource);
      put(recordedPod({ annotations: { 'metadata.dynatrace.com/dt.cost.product': 'checkout-v2' } }));
      appendFileSync(file, '2026-11-25T10:00:01.000000001Z stdout F line 3\n2026-11-25T10:00:01.000000002Z stdout F line 4\n');
      await until('4 records', () => sink.logs.length === 4);
      expect(sink.logs[2]!.resource.attributes['dt.cost.product']).toBe('checkout-v2');
      expect(sink.logs[3]!.resource).toBe(sink.logs[2]!.resource);
    } finally {
      await src.stop();
      await src.afterFlush();
    }
  });
});
