import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createResource, type MetricPoint } from '../../../../src/model/index.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { CgroupDiscovery } from '../../../../src/sources/lib/cgroup/cgroup-discovery.js';
import { parseCgroupMounts } from '../../../../src/sources/lib/cgroup/cgroup-mounts.js';
import { CgroupStatsReader } from '../../../../src/sources/lib/cgroup/cgroup-stats.js';
import { ContainerSource, hostNetworkNamespace } from '../../../../src/sources/container/container-source.js';
import { netNamespaceId } from '../../../../src/sources/container/net-namespace.js';
import { ContainerMetadataCache } from '../../../../src/sources/container/metadata-cache.js';
import type { ContainerInfo, RuntimeClient } from '../../../../src/sources/container/types.js';
import { ArraySink } from '../../../helpers/array-sink.js';
import { ScriptedRuntime } from '../../../helpers/scripted-runtime.js';

/**
 * The container source's cycle on a cgroup v2 host built from the captured H100 cgroup files,
 * laid out as kubelet (cgroupfs driver) lays out a pod, with a scripted runtime of our own
 * RuntimeClient interface. Real runtimes: test/integration/container-source.test.ts.
 */

const H100 = new URL('../../../fixtures/hosts/h100-cgroup2/', import.meta.url).pathname;
const V2 = parseCgroupMounts(readFileSync(join(H100, 'proc/self/mountinfo'), 'utf8'));
const UID = '5f0c6a3e-2b1d-4c8e-9f7a-0123456789ab';
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const SANDBOX = 'c'.repeat(64);
const LONE = 'd'.repeat(64);
const podDir = `/kubepods/burstable/pod${UID}`;

const tmp = mkdtempSync(join(tmpdir(), 'sextant-csrc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let hosts = 0;

function host(): { root: string; add: (path: string) => string; remove: (path: string) => void } {
  const root = join(tmp, `host${hosts++}`);
  const cg = join(root, 'sys/fs/cgroup');
  mkdirSync(cg, { recursive: true });
  return {
    root,
    add: (path) => {
      const dir = join(cg, path);
      cpSync(join(H100, 'cg'), dir, { recursive: true });
      // No processes: network reads are not part of these tests.
      writeFileSync(join(dir, 'cgroup.procs'), '');
      return dir;
    },
    remove: (path) => rmSync(join(cg, path), { recursive: true, force: true }),
  };
}

const pod = { uid: UID, name: 'web-7d9', namespace: 'shop', labels: {}, annotations: {} };
function info(id: string, name: string, over: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id,
    runtime: 'containerd',
    name,
    imageName: 'registry.local/shop/web',
    imageTags: ['1.4'],
    state: 'running',
    restartCount: 0,
    labels: {},
    annotations: {},
    pod,
    startedAtUnixNano: 1_000_000_000n,
    ...over,
  };
}

function build(root: string, clients: RuntimeClient[]) {
  const registry = new Registry();
  const sink = new ArraySink();
  const cache = new ContainerMetadataCache(clients, { callTimeoutMs: 500, resyncIntervalMs: 60_000, logger: silentLogger() });
  const discovery = new CgroupDiscovery(root, V2);
  let now = 10_000_000_000n;
  const source = new ContainerSource({
    hostRoot: root,
    resource: createResource({ 'host.name': 'node-1' }),
    registry,
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
  return { source, sink, registry, cache };
}

function on(points: readonly MetricPoint[], name: string, key: string, value: string): MetricPoint[] {
  return points.filter((p) => p.descriptor.name === name && p.resource.attributes[key] === value);
}

describe('ContainerSource', () => {
  it('without any runtime: containers measured under the ids and pod uid their cgroup paths give', async () => {
    const h = host();
    h.add(`${podDir}/${A}`);
    h.add(`/docker/${LONE}`);
    const { source, sink } = build(h.root, []);
    await source.collect(sink);
    const mem = on(sink.metrics, 'container.memory.usage', 'container.id', A)[0]!;
    expect(mem.value).toBe(Number(readFileSync(join(H100, 'cg/memory.current'), 'utf8')));
    expect(mem.resource.attributes).toMatchObject({ 'host.name': 'node-1', 'k8s.pod.uid': UID, 'k8s.node.name': 'node-1' });
    expect(mem.resource.attributes['container.name']).toBeUndefined();
    const lone = on(sink.metrics, 'container.memory.usage', 'container.id', LONE)[0]!;
    expect(lone.resource.attributes).toMatchObject({ 'container.runtime.name': 'docker' });
    expect(lone.resource.attributes['k8s.pod.uid']).toBeUndefined();
    // CPU time from cpu.stat (µs), user and system.
    const cpu = on(sink.metrics, 'container.cpu.time', 'container.id', A);
    expect(cpu.map((p) => [p.attributes['cpu.mode'], p.value])).toEqual([['user', 0.050924], ['system', 0.123398]]);
    expect(on(sink.metrics, 'k8s.pod.memory.usage', 'k8s.pod.uid', UID)[0]!.value).toBe(mem.value);
  });

  it('with the runtime: names on every series, the sandbox counted nowhere, pod sums over containers', async () => {
    const h = host();
    h.add(`${podDir}/${SANDBOX}`);
    h.add(`${podDir}/${A}`);
    h.add(`${podDir}/${B}`);
    const rt = new ScriptedRuntime();
    rt.containers = [info(SANDBOX, 'web-7d9', { sandbox: true }), info(A, 'web'), info(B, 'sidecar', { restartCount: 2 })];
    const { source, sink, registry } = build(h.root, [rt]);
    await source.collect(sink);
    const web = on(sink.metrics, 'container.memory.working_set', 'container.id', A)[0]!;
    expect(web.resource.attributes).toMatchObject({
      'container.name': 'web',
      'container.image.name': 'registry.local/shop/web',
      'container.image.tags': ['1.4'],
      'container.runtime.name': 'containerd',
      'k8s.pod.name': 'web-7d9',
      'k8s.namespace.name': 'shop',
      'k8s.container.name': 'web',
      'k8s.container.restart_count': 0,
    });
    expect(on(sink.metrics, 'container.memory.usage', 'container.id', B)[0]!.resource.attributes['k8s.container.restart_count']).toBe(2);
    expect(sink.metrics.some((p) => p.resource.attributes['container.id'] === SANDBOX)).toBe(false);
    const podWs = on(sink.metrics, 'k8s.pod.memory.working_set', 'k8s.pod.uid', UID)[0]!;
    expect(podWs.value).toBe(2 * web.value);
    expect(podWs.resource.attributes['container.id']).toBeUndefined();
    expect(registry.gauge('sextant_containers', '').get()).toBe(2);
    expect(registry.gauge('sextant_pods', '').get()).toBe(1);
  });

  it("a pod's counters never go back when one of its containers goes away", async () => {
    const h = host();
    h.add(`${podDir}/${A}`);
    h.add(`${podDir}/${B}`);
    const { source, sink } = build(h.root, []);
    await source.collect(sink);
    const user = (): number[] => on(sink.metrics, 'k8s.pod.cpu.time', 'k8s.pod.uid', UID).filter((p) => p.attributes['cpu.mode'] === 'user').map((p) => p.value);
    h.remove(`${podDir}/${B}`);
    await source.collect(sink);
    await source.collect(sink);
    const series = user();
    expect(series).toHaveLength(3);
    expect(series[1]).toBeCloseTo(series[0]!, 9);
    expect(series[2]).toBeCloseTo(series[0]!, 9);
    // Memory is a level: it drops with the container.
    const mem = on(sink.metrics, 'k8s.pod.memory.usage', 'k8s.pod.uid', UID).map((p) => p.value);
    expect(mem[1]).toBe(mem[0]! / 2);
  });

  it('a container that vanishes between the walk and the read is skipped and counted, not an error', async () => {
    const h = host();
    h.add(`${podDir}/${A}`);
    h.add(`${podDir}/${B}`);
    const { source, sink, registry } = build(h.root, []);
    const discovery = new CgroupDiscovery(h.root, V2);
    // Discovery sees both; B is gone by the time its files are read.
    const found = (await discovery.discover()).containers;
    h.remove(`${podDir}/${B}`);
    const s2 = new ContainerSource({
      hostRoot: h.root,
      resource: createResource({}),
      registry,
      logger: silentLogger(),
      version: 't',
      cache: new ContainerMetadataCache([], { callTimeoutMs: 100, resyncIntervalMs: 1000, logger: silentLogger() }),
      layout: V2,
      stats: new CgroupStatsReader(h.root, V2),
      discover: async () => found,
      sink,
    });
    await s2.collect(sink);
    expect(on(sink.metrics, 'container.memory.usage', 'container.id', A)).toHaveLength(1);
    expect(on(sink.metrics, 'container.memory.usage', 'container.id', B)).toHaveLength(0);
    expect(registry.counter('sextant_container_read_problems_total', '').get({ reason: 'gone' })).toBeGreaterThan(0);
    void source;
  });

  it('bad cgroup files (binary junk, empty, max) leave those series out and the rest intact', async () => {
    const h = host();
    const dir = h.add(`${podDir}/${A}`);
    writeFileSync(join(dir, 'memory.stat'), Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x0a]));
    writeFileSync(join(dir, 'memory.max'), 'max\n');
    writeFileSync(join(dir, 'cpu.stat'), '');
    writeFileSync(join(dir, 'memory.current'), 'usage_usec 12\n');
    const { source, sink } = build(h.root, []);
    await source.collect(sink);
    expect(on(sink.metrics, 'sextant.container.memory.limit', 'container.id', A)).toHaveLength(0);
    expect(on(sink.metrics, 'container.cpu.time', 'container.id', A)).toHaveLength(0);
    expect(on(sink.metrics, 'container.memory.usage', 'container.id', A)).toHaveLength(0);
    expect(on(sink.metrics, 'sextant.container.pids.usage', 'container.id', A).length + on(sink.metrics, 'sextant.container.pressure.stall.time', 'container.id', A).length).toBeGreaterThan(0);
  });

  it('lifecycle events go out on the events signal with the container resource', async () => {
    const h = host();
    h.add(`${podDir}/${A}`);
    const rt = new ScriptedRuntime();
    const { source, sink } = build(h.root, [rt]);
    await source.collect(sink);
    rt.containers = [info(A, 'web', { startedAtUnixNano: 5n })];
    await source.collect(sink);
    rt.containers = [info(A, 'web', { startedAtUnixNano: 5n, state: 'exited', exitCode: 3, exitReason: 'Error', finishedAtUnixNano: 9n })];
    await source.collect(sink);
    expect(sink.events.map((e) => [e.eventName, e.attributes['process.exit.code'], e.severityText])).toEqual([
      ['container.start', undefined, 'INFO'],
      ['container.exit', 3, 'WARN'],
    ]);
    const exit = sink.events[1]!;
    expect(exit.resource.attributes).toMatchObject({ 'container.id': A, 'k8s.pod.name': 'web-7d9', 'container.name': 'web' });
    expect(exit.attributes['sextant.container.exit.reason']).toBe('Error');
    expect(exit.body).toBe('container shop/web-7d9/web exited with code 3 (Error)');
    expect(exit.timeUnixNano).toBe(9n);
  });
});

describe('ContainerSource: a container the runtime names late', () => {
  // The cgroup can be found before the runtime answers for it (CRI under load: the browser test's
  // pod, OOM-killed 2 s after its start, never got its container.oom event).
  it('reports the OOM kills of its unnamed cycles once named, and its pod sum does not jump', async () => {
    const h = host();
    const dir = h.add(`${podDir}/${A}`);
    const rt = new ScriptedRuntime();
    const { source, sink } = build(h.root, [rt]);
    await source.collect(sink); // unnamed: the runtime does not know it yet
    const podCpu = (): number => on(sink.metrics, 'k8s.pod.cpu.time', 'k8s.pod.uid', UID).at(-1)!.value as number;
    const before = podCpu();
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n');
    await source.collect(sink); // still unnamed: nothing can be reported yet
    expect(sink.events.filter((e) => e.eventName === 'container.oom')).toHaveLength(0);
    // Named now; it started after the agent did (the source's clock began at 20 s).
    rt.containers = [info(A, 'oom', { startedAtUnixNano: 20_000_000_001n })];
    await source.collect(sink);
    const ooms = sink.events.filter((e) => e.eventName === 'container.oom');
    expect(ooms).toHaveLength(1);
    expect(ooms[0]!.resource.attributes).toMatchObject({ 'container.id': A, 'container.name': 'oom' });
    // Naming is not a restart: the pod's CPU time (a sum over its containers) stays where it was.
    expect(podCpu()).toBeCloseTo(before, 9);
    const cpu = on(sink.metrics, 'container.cpu.time', 'container.id', A).at(-1)!;
    expect(cpu.startTimeUnixNano).toBe(20_000_000_001n);
    // Nothing more is reported while the counter stands.
    await source.collect(sink);
    expect(sink.events.filter((e) => e.eventName === 'container.oom')).toHaveLength(1);
  });
});

describe('hostNetworkNamespace', () => {
  it("is this machine's namespace (init's, or kthreadd's where init's link is refused)", () => {
    // The test runs in the host's network namespace on the development VM and in CI.
    expect(hostNetworkNamespace('/')).toBe(netNamespaceId('/', process.pid));
  });

  it('is unknown, not guessed, when neither init nor kthreadd can be read', () => {
    const root = join(tmp, 'no-proc');
    mkdirSync(join(root, 'proc/2'), { recursive: true });
    writeFileSync(join(root, 'proc/2/comm'), 'bash\n');
    expect(hostNetworkNamespace(root)).toBeUndefined();
    expect(hostNetworkNamespace(join(tmp, 'nothing-here'))).toBeUndefined();
  });
});
