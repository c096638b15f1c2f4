import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResource, type LogRecord, type MetricPoint } from '../../src/model/index.js';
import { loadProcReader } from '../../src/native/index.js';
import { silentLogger } from '../../src/self/logger.js';
import { Registry } from '../../src/self/registry.js';
import { CriClient } from '../../src/sources/container/cri-client.js';
import type { ContainerSource } from '../../src/sources/container/container-source.js';
import { create } from '../../src/sources/container/index.js';
import type { ContainerMetadataCache } from '../../src/sources/container/metadata-cache.js';
import { ArraySink } from '../helpers/array-sink.js';
import { CriPods, type RunningPod } from '../helpers/cri-pods.js';
import { OomGate } from '../helpers/oom-gate.js';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import { until } from '../helpers/wait.js';

/**
 * The container source end to end against the real kernel, a real dockerd and a real containerd
 * CRI: containers and pods with known limits and load, read through the source as the agent
 * builds it, checked against what the runtimes themselves report.
 */

const rt = await runtimesOrSkip('docker', 'cri');
const MiB = 1024 * 1024;
const HOG_MIB = 48;
const tag = `sx-cs-${process.pid}`;

interface Started {
  readonly hog: string;
  readonly spinner: string;
  readonly oom: string;
  readonly exiter: string;
}

function attrs(p: { resource: { attributes: Record<string, unknown> } }): Record<string, unknown> {
  return p.resource.attributes as Record<string, unknown>;
}

/** The latest point of `name` on the resource with `container.id` = id (and point attributes ⊇ `match`). */
function latest(points: readonly MetricPoint[], name: string, key: string, value: string, match: Record<string, unknown> = {}): MetricPoint | undefined {
  let found: MetricPoint | undefined;
  for (const p of points) {
    if (p.descriptor.name !== name || attrs(p)[key] !== value) continue;
    if (!Object.entries(match).every(([k, v]) => p.attributes[k] === v)) continue;
    found = p;
  }
  return found;
}

function eventsFor(events: readonly LogRecord[], id: string, name: string): LogRecord[] {
  return events.filter((e) => e.eventName === name && e.resource.attributes['container.id'] === id);
}

describe.skipIf(!rt.available)('container source with real Docker and containerd CRI', () => {
  const docker = new Docker({ socketPath: rt.dockerSock });
  const pods = new CriPods({ socketPath: rt.criSock, criRoot: rt.criRoot });
  const sink = new ArraySink();
  const registry = new Registry();
  let source: ContainerSource;
  let cache: ContainerMetadataCache;
  let d: Started;
  let pod: RunningPod;
  const podUid = randomUUID();
  /** A pod the dockershim / cri-dockerd way: a sandbox container owning the network namespace, an app container joining it. */
  const dockerPodUid = randomUUID();
  let dockerPod: { sandbox: string; app: string };
  let dockerOomGate: OomGate;
  let stateDir: string | undefined;

  async function run(name: string, cmd: string[], host: Docker.HostConfig, labels: Record<string, string> = {}): Promise<string> {
    const c = await docker.createContainer({
      name: `${tag}-${name}`,
      Image: rt.busyboxImage,
      Cmd: cmd,
      Labels: { [rt.testLabel]: '1', ...labels },
      HostConfig: { NetworkMode: 'none', ...host },
    });
    await c.start();
    return c.id;
  }

  const collect = (): Promise<void> => source.collect(sink);

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'sx-cs-state-'));
    const created = await create(
      { enabled: true, dockerSockets: [rt.dockerSock], criSockets: [rt.criSock], callTimeout: 5000, resyncInterval: 60_000 },
      {
        hostRoot: '/',
        stateDir,
        nodeName: 'node-a',
        resource: createResource({ 'host.name': 'test-host' }),
        registry,
        logger: silentLogger(),
        version: 'test',
        reader: loadProcReader({ native: true, logger: silentLogger() }),
        sink,
      },
    );
    source = created.source;
    if (created.provides === undefined) throw new Error('the container source provided no metadata cache');
    cache = created.provides.containerMetadata;
    // First cycle before anything starts: what starts afterwards gets start events.
    await collect();
    dockerOomGate = await OomGate.create();
    d = {
      // /dev/shm is a tmpfs charged to the writer's memory cgroup, and shmem is never inactive file:
      // a resident hog of known size.
      hog: await run('hog', ['sh', '-c', `head -c ${HOG_MIB}m /dev/zero > /dev/shm/hog; exec sleep 3600`], { Memory: 128 * MiB, ShmSize: 96 * MiB }),
      spinner: await run('spin', ['sh', '-c', 'while :; do :; done'], { CpuQuota: 10_000, CpuPeriod: 100_000 }),
      // dd's 64 MiB buffer exceeds the limit: the OOM killer kills dd, the shell lives on. Docker's
      // oom event needs dd to allocate only once the start has returned (see OomGate).
      oom: await run('oom', dockerOomGate.command('dd if=/dev/zero of=/dev/null bs=64M count=1; exec sleep 3600'), {
        Memory: 32 * MiB,
        MemorySwap: 32 * MiB,
        Binds: [dockerOomGate.bind],
      }),
      exiter: await run('exit', ['sh', '-c', 'sleep 1; exit 7'], {}),
    };
    await dockerOomGate.open();
    const podLabels = { 'io.kubernetes.pod.name': `${tag}-dpod`, 'io.kubernetes.pod.namespace': 'web', 'io.kubernetes.pod.uid': dockerPodUid };
    const sandbox = await run('dpod-sandbox', ['sleep', '3600'], {}, { ...podLabels, 'io.kubernetes.docker.type': 'podsandbox', 'io.kubernetes.container.name': 'POD' });
    dockerPod = {
      sandbox,
      // Talks to itself over the pod's loopback, so the pod's network counters move.
      app: await run('dpod-app', ['sh', '-c', 'while :; do ping -c 1 -W 1 127.0.0.1 >/dev/null 2>&1; sleep 0.2; done'], { NetworkMode: `container:${sandbox}` }, {
        ...podLabels,
        'io.kubernetes.docker.type': 'container',
        'io.kubernetes.container.name': 'app',
        'io.kubernetes.sandbox.id': sandbox,
      }),
    };
    pod = await pods.runPod({
      name: `${tag}-pod`,
      namespace: 'shop',
      uid: podUid,
      containers: [
        { name: 'hog', command: ['sh', '-c', `head -c ${HOG_MIB}m /dev/zero > /dev/shm/hog; exec sleep 3600`], memoryLimitBytes: 128 * MiB },
        { name: 'spin', command: ['sh', '-c', 'while :; do :; done'], cpuQuota: 10_000, cpuPeriod: 100_000 },
        { name: 'oom', command: ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=64M count=1; exec sleep 3600'], memoryLimitBytes: 32 * MiB },
        { name: 'exit', command: ['sh', '-c', 'sleep 1; exit 5'] },
      ],
    });
    // Cycles until every container has shown what the tests look for; short of that after 30 s,
    // the tests below say what is missing.
    await until(
      'every container throttled, exited or over its memory as scripted',
      () => {
        const m = sink.metrics;
        const throttled = (id: string): boolean => (latest(m, 'sextant.container.cpu.throttling.throttled_periods', 'container.id', id)?.value ?? 0) > 0;
        const exited = (id: string): boolean => eventsFor(sink.events, id, 'container.exit').length > 0;
        return throttled(d.spinner) && throttled(pod.containerIds[1]!) && exited(d.exiter) && exited(pod.containerIds[3]!) &&
          (latest(m, 'container.memory.working_set', 'container.id', pod.containerIds[0]!)?.value ?? 0) > HOG_MIB * MiB;
      },
      { timeoutMs: 30_000, everyMs: 500, step: collect },
    ).catch(() => undefined);
  }, 90_000);

  afterAll(async () => {
    await source?.stop();
    for (const id of [...Object.values(d ?? {}), ...Object.values(dockerPod ?? {})]) await docker.getContainer(id).remove({ force: true, v: true }).catch(() => undefined);
    if (pod) await pods.removePod(pod.podId).catch(() => undefined);
    await pods.close();
    await dockerOomGate?.remove();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  it('names Docker containers from the engine: name, image, runtime, and no pod', () => {
    const p = latest(sink.metrics, 'container.memory.usage', 'container.id', d.hog)!;
    expect(p).toBeDefined();
    expect(attrs(p)).toMatchObject({
      'host.name': 'test-host',
      'container.id': d.hog,
      'container.name': `${tag}-hog`,
      'container.image.name': 'docker.io/sextant-test/busybox',
      'container.image.tags': ['latest'],
      'container.runtime.name': 'docker',
    });
    expect(attrs(p)['k8s.pod.uid']).toBeUndefined();
  });

  it('names CRI containers from the pod: pod name, uid, namespace, container name, restart count, node', () => {
    const p = latest(sink.metrics, 'container.memory.usage', 'container.id', pod.containerIds[0]!)!;
    expect(p).toBeDefined();
    expect(attrs(p)).toMatchObject({
      'container.id': pod.containerIds[0],
      'container.name': 'hog',
      'container.runtime.name': 'containerd',
      'container.image.name': 'docker.io/sextant-test/busybox',
      'k8s.pod.name': `${tag}-pod`,
      'k8s.pod.uid': podUid,
      'k8s.namespace.name': 'shop',
      'k8s.container.name': 'hog',
      'k8s.container.restart_count': 0,
      'k8s.node.name': 'node-a',
    });
    // The sandbox (pause) container is the pod's, not a container of its own.
    expect(sink.metrics.some((m) => attrs(m)['container.id'] === pod.podId)).toBe(false);
  });

  it('Docker: working set within 5% of what the engine\'s own stats API reports at the same moment', async () => {
    const stats = (await docker.getContainer(d.hog).stats({ stream: false })) as unknown as {
      memory_stats: { usage: number; stats: Record<string, number> };
    };
    await collect();
    const ms = stats.memory_stats;
    const inactive = ms.stats['total_inactive_file'] ?? ms.stats['inactive_file'] ?? 0;
    const engine = ms.usage - inactive;
    const ours = latest(sink.metrics, 'container.memory.working_set', 'container.id', d.hog)!.value;
    expect(engine).toBeGreaterThan(HOG_MIB * MiB);
    expect(Math.abs(ours - engine) / engine).toBeLessThan(0.05);
    const limit = latest(sink.metrics, 'sextant.container.memory.limit', 'container.id', d.hog)!.value;
    expect(limit).toBe(128 * MiB);
    expect(latest(sink.metrics, 'container.memory.available', 'container.id', d.hog)!.value).toBe(limit - ours);
  });

  it('CRI: working set within 5% of what containerd\'s own ContainerStats reports at the same moment', async () => {
    const cri = new CriClient({ socketPath: rt.criSock, runtime: 'containerd' });
    try {
      const resp = (await cri.call('ContainerStats', { containerId: pod.containerIds[0]! }, AbortSignal.timeout(10_000))).toJSON() as {
        stats: { memory: { workingSetBytes: { value: string } } };
      };
      await collect();
      const runtime = Number(resp.stats.memory.workingSetBytes.value);
      const ours = latest(sink.metrics, 'container.memory.working_set', 'container.id', pod.containerIds[0]!)!.value;
      expect(runtime).toBeGreaterThan(HOG_MIB * MiB);
      expect(Math.abs(ours - runtime) / runtime).toBeLessThan(0.05);
      expect(latest(sink.metrics, 'sextant.container.memory.limit', 'container.id', pod.containerIds[0]!)!.value).toBe(128 * MiB);
    } finally {
      cri.close();
    }
  });

  it('throttling shows for the CPU spinners under a quota, and usage stays near the quota', () => {
    for (const id of [d.spinner, pod.containerIds[1]!]) {
      expect(latest(sink.metrics, 'sextant.container.cpu.throttling.throttled_periods', 'container.id', id)!.value).toBeGreaterThan(0);
      expect(latest(sink.metrics, 'sextant.container.cpu.throttling.throttled_time', 'container.id', id)!.value).toBeGreaterThan(0);
      expect(latest(sink.metrics, 'sextant.container.cpu.limit', 'container.id', id)!.value).toBeCloseTo(0.1, 5);
      // Over the whole run (one cycle's window can be a few ms, too short for a 10 ms quota per 100 ms).
      const usage = sink.metrics.filter((p) => p.descriptor.name === 'container.cpu.usage' && attrs(p)['container.id'] === id);
      expect(usage.length).toBeGreaterThan(0);
      const cpu = sink.metrics.filter((p) => p.descriptor.name === 'container.cpu.time' && attrs(p)['container.id'] === id);
      const first = cpu.slice(0, 2);
      const last = cpu.slice(-2);
      const seconds = Number(last[0]!.timeUnixNano - first[0]!.timeUnixNano) / 1e9;
      const used = last[0]!.value + last[1]!.value - first[0]!.value - first[1]!.value;
      expect(seconds).toBeGreaterThan(1);
      expect(used / seconds).toBeGreaterThan(0.03);
      expect(used / seconds).toBeLessThan(0.15);
    }
  });

  it('an OOM kill inside a container is counted and reported as an event, for both runtimes', () => {
    for (const id of [d.oom, pod.containerIds[2]!]) {
      expect(latest(sink.metrics, 'sextant.container.memory.oom_kills', 'container.id', id)!.value).toBeGreaterThanOrEqual(1);
    }
    expect(eventsFor(sink.events, d.oom, 'container.oom').length).toBeGreaterThanOrEqual(1);
    // containerd has no event stream: its OOM is seen in the cgroup's counter. The container
    // started after the source, so a kill before its first reading is reported too, once.
    expect(eventsFor(sink.events, pod.containerIds[2]!, 'container.oom')).toHaveLength(1);
    expect(eventsFor(sink.events, pod.containerIds[2]!, 'container.oom')[0]!.severityText).toBe('ERROR');
  });

  it('start and exit events carry the container, the exit code and the time', () => {
    const docExit = eventsFor(sink.events, d.exiter, 'container.exit');
    expect(docExit).toHaveLength(1);
    expect(docExit[0]!.attributes['process.exit.code']).toBe(7);
    expect(docExit[0]!.timeUnixNano).toBeGreaterThan(0n);
    const criExit = eventsFor(sink.events, pod.containerIds[3]!, 'container.exit');
    expect(criExit).toHaveLength(1);
    expect(criExit[0]!.attributes['process.exit.code']).toBe(5);
    expect(criExit[0]!.resource.attributes['k8s.pod.name']).toBe(`${tag}-pod`);
    for (const id of [d.hog, pod.containerIds[0]!]) expect(eventsFor(sink.events, id, 'container.start')).toHaveLength(1);
    // The sandbox has no events of its own.
    expect(sink.events.some((e) => e.resource.attributes['container.id'] === pod.podId)).toBe(false);
  });

  it('pod aggregates sum the pod\'s containers', () => {
    const pw = latest(sink.metrics, 'k8s.pod.memory.working_set', 'k8s.pod.uid', podUid)!;
    expect(pw).toBeDefined();
    expect(attrs(pw)).toMatchObject({ 'k8s.pod.name': `${tag}-pod`, 'k8s.namespace.name': 'shop' });
    expect(attrs(pw)['container.id']).toBeUndefined();
    const at = pw.timeUnixNano;
    let sum = 0;
    for (const id of pod.containerIds) {
      const p = sink.metrics.find((m) => m.descriptor.name === 'container.memory.working_set' && attrs(m)['container.id'] === id && m.timeUnixNano === at);
      sum += p?.value ?? 0;
    }
    expect(pw.value).toBe(sum);
    expect(latest(sink.metrics, 'k8s.pod.cpu.time', 'k8s.pod.uid', podUid, { 'cpu.mode': 'user' })!.value).toBeGreaterThan(0);
  });

  it('every series of a container carries its names from its first cycle (no nameless series first)', () => {
    for (const id of [d.hog, d.spinner, d.oom, dockerPod.app, ...pod.containerIds.slice(0, 3)]) {
      const points = sink.metrics.filter((p) => attrs(p)['container.id'] === id);
      expect(points.length, id).toBeGreaterThan(0);
      expect(points.filter((p) => attrs(p)['container.name'] === undefined), id).toEqual([]);
    }
  });

  it('network: per container for a container with its own namespace, once per pod for a shared one, never for host-network pods', () => {
    // The hog has its own (empty, --network none) namespace: its loopback is reported on it.
    expect(latest(sink.metrics, 'container.network.io', 'container.id', d.hog, { 'network.interface.name': 'lo', 'network.io.direction': 'receive' })).toBeDefined();
    // The docker pod: one namespace, the sandbox's, reported on the pod; the app container joined it.
    expect(sink.metrics.some((p) => p.descriptor.name === 'container.network.io' && attrs(p)['container.id'] === dockerPod.app)).toBe(false);
    const podNet = sink.metrics.filter((p) => p.descriptor.name === 'k8s.pod.network.io' && attrs(p)['k8s.pod.uid'] === dockerPodUid && p.attributes['network.io.direction'] === 'receive');
    expect(podNet.length).toBeGreaterThan(0);
    expect(attrs(podNet[0]!)).toMatchObject({ 'k8s.pod.name': `${tag}-dpod`, 'k8s.namespace.name': 'web' });
    // One point per interface and direction per cycle: the namespace was read once, not per container.
    const perCycle = new Map<bigint, number>();
    for (const p of podNet) perCycle.set(p.timeUnixNano, (perCycle.get(p.timeUnixNano) ?? 0) + 1);
    expect(Math.max(...perCycle.values())).toBe(1);
    expect(podNet.at(-1)!.value).toBeGreaterThan(0); // the pings
    // The CRI pod runs in the host's network namespace: the host source reports those interfaces.
    expect(sink.metrics.some((p) => p.descriptor.name === 'k8s.pod.network.io' && attrs(p)['k8s.pod.uid'] === podUid)).toBe(false);
    // The sandbox itself is not a container of its own.
    expect(sink.metrics.some((p) => attrs(p)['container.id'] === dockerPod.sandbox)).toBe(false);
  });

  it('knows which runtimes answered', () => {
    expect(cache.connected.sort()).toEqual(['containerd', 'docker']);
    expect(registry.gauge('sextant_containers', '').get()).toBeGreaterThanOrEqual(6);
  });
});
