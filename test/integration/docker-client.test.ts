/**
 * DockerClient against the real dockerd of test/runtimes/setup.sh: containers with known
 * limits, labels, exit codes, restarts and an OOM kill, the event stream, a stream cut through
 * a relay socket, and a process that must exit by itself after close().
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import { DockerClient } from '../../src/sources/container/docker-client.js';
import type { ContainerInfo, RuntimeEvent } from '../../src/sources/container/types.js';
import { OomGate } from '../helpers/oom-gate.js';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import { until } from '../helpers/wait.js';

const rt = await runtimesOrSkip('docker');
const PREFIX = `sx-dcli-${process.pid}-`;
const POD_UID = `5e1f0c2a-${process.pid.toString(16).padStart(4, '0').slice(-4)}-4b6d-9e8f-0a1b2c3d4e5f`;
const MiB = 1024 * 1024;

const docker = new Docker({ socketPath: rt.dockerSock });
const tmp = mkdtempSync(join(tmpdir(), 'sextant-docker-int-'));

interface Spec {
  readonly name: string;
  readonly cmd: string[];
  readonly labels?: Record<string, string>;
  readonly hostConfig?: Docker.HostConfig;
  readonly start?: boolean;
}

async function create(spec: Spec): Promise<string> {
  const container = await docker.createContainer({
    name: `${PREFIX}${spec.name}`,
    Image: rt.busyboxImage,
    Cmd: spec.cmd,
    Labels: { [rt.testLabel]: '1', ...spec.labels },
    HostConfig: { NetworkMode: 'none', ...spec.hostConfig },
  });
  if (spec.start !== false) await container.start();
  return container.id;
}

async function removeOurs(): Promise<void> {
  const ours = await docker.listContainers({ all: true, filters: { label: [`${rt.testLabel}=1`], name: [PREFIX] } });
  await Promise.all(ours.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
}

function byId(list: ContainerInfo[], id: string): ContainerInfo {
  const info = list.find((c) => c.id === id);
  if (info === undefined) throw new Error(`container ${id} not listed`);
  return info;
}

describe.skipIf(!rt.available)('DockerClient against the real dockerd', () => {
  const ids: Record<string, string> = {};
  const client = new DockerClient({ socketPath: rt.dockerSock, inspectConcurrency: 2 });

  beforeAll(async () => {
    await removeOurs();
    const podLabels = {
      'io.kubernetes.pod.name': 'web-0',
      'io.kubernetes.pod.namespace': 'shop',
      'io.kubernetes.pod.uid': POD_UID,
    };
    const [plain, quota, sandbox, restart, created] = await Promise.all([
      create({
        name: 'plain',
        cmd: ['sleep', '300'],
        labels: { app: 'demo' },
        hostConfig: { Memory: 64 * MiB, NanoCpus: 500_000_000, PidsLimit: 100 },
      }),
      create({ name: 'quota', cmd: ['sleep', '300'], hostConfig: { CpuQuota: 25_000, CpuPeriod: 50_000 } }),
      create({
        name: `k8s_POD_web-0_shop_${POD_UID}_0`,
        cmd: ['sleep', '300'],
        labels: { ...podLabels, 'io.kubernetes.container.name': 'POD', 'io.kubernetes.docker.type': 'podsandbox' },
      }),
      create({ name: 'restart', cmd: ['sh', '-c', 'exit 3'], hostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } } }),
      create({ name: 'created', cmd: ['sleep', '1'], start: false }),
    ]);
    Object.assign(ids, { plain, quota, sandbox, restart, created });
    ids['k8s'] = await create({
      name: `k8s_app_web-0_shop_${POD_UID}_3`,
      cmd: ['sleep', '300'],
      labels: {
        ...podLabels,
        'io.kubernetes.container.name': 'app',
        'io.kubernetes.docker.type': 'container',
        'io.kubernetes.sandbox.id': sandbox,
        'annotation.io.kubernetes.container.restartCount': '3',
      },
      hostConfig: { Memory: 128 * MiB, CpuQuota: 20_000, CpuPeriod: 100_000 },
    });
    // on-failure:2 → the first run and two restarts, then it stays exited.
    await until('the restart policy to give up', async () => {
      const s = await docker.getContainer(restart).inspect();
      return s.RestartCount === 2 && s.State.Status === 'exited' ? true : undefined;
    }, { everyMs: 100 });
  });

  afterAll(async () => {
    client.close();
    await removeOurs();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('lists names, images, states, pids, limits, pods and restart counts', async () => {
    const list = await client.list(AbortSignal.timeout(10_000));

    const plain = byId(list, ids['plain'] as string);
    expect(plain).toMatchObject({
      runtime: 'docker',
      name: `${PREFIX}plain`,
      imageName: 'docker.io/sextant-test/busybox',
      imageTags: ['latest'],
      state: 'running',
      restartCount: 0,
      labels: { app: 'demo', [rt.testLabel]: '1' },
      annotations: {},
      limits: { memoryBytes: 64 * MiB, cpus: 0.5, pids: 100 },
    });
    expect(plain.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(plain.pod).toBeUndefined();
    expect(plain.logPath).toContain(plain.id);
    expect(plain.createdAtUnixNano).toBeGreaterThan(0n);
    expect(plain.startedAtUnixNano).toBeGreaterThanOrEqual(plain.createdAtUnixNano as bigint);
    expect(plain.finishedAtUnixNano).toBeUndefined();
    // The pid is the host's: its cgroup names the container.
    expect(plain.pid).toBeGreaterThan(1);
    expect(existsSync(`/proc/${plain.pid}`)).toBe(true);
    expect(readFileSync(`/proc/${plain.pid}/cgroup`, 'utf8')).toContain(plain.id);

    expect(byId(list, ids['quota'] as string).limits).toEqual({ cpus: 0.5 });

    const restart = byId(list, ids['restart'] as string);
    expect(restart).toMatchObject({ state: 'exited', exitCode: 3, restartCount: 2, oomKilled: false });
    expect(restart.pid).toBeUndefined();
    // Both set; not ordered: under a restart policy Docker may stamp FinishedAt before the last StartedAt.
    expect(restart.finishedAtUnixNano).toBeGreaterThan(0n);
    expect(restart.startedAtUnixNano).toBeGreaterThan(0n);

    const created = byId(list, ids['created'] as string);
    expect(created.state).toBe('created');
    expect(created.pid).toBeUndefined();
    expect(created.exitCode).toBeUndefined();
    expect(created.startedAtUnixNano).toBeUndefined();

    const k8s = byId(list, ids['k8s'] as string);
    expect(k8s).toMatchObject({ name: 'app', restartCount: 3, limits: { memoryBytes: 128 * MiB, cpus: 0.2 } });
    expect(k8s.sandbox).toBeUndefined();
    expect(k8s.pod).toMatchObject({ uid: POD_UID, name: 'web-0', namespace: 'shop', sandboxId: ids['sandbox'], annotations: {} });
    const sandbox = byId(list, ids['sandbox'] as string);
    expect(sandbox).toMatchObject({ sandbox: true, name: 'POD', pod: { uid: POD_UID, sandboxId: ids['sandbox'] } });
  });

  it('reuses inspections of unchanged containers until invalidated; inspect() is fresh', async () => {
    const a = await client.list(AbortSignal.timeout(10_000));
    const b = await client.list(AbortSignal.timeout(10_000));
    const id = ids['plain'] as string;
    expect(byId(b, id)).toBe(byId(a, id));
    client.invalidate(id);
    const c = await client.list(AbortSignal.timeout(10_000));
    expect(byId(c, id)).not.toBe(byId(a, id));
    expect(byId(c, id)).toEqual(byId(a, id));
    expect((await client.inspect(id, AbortSignal.timeout(5000)))?.pid).toBe(byId(a, id).pid);
    expect(await client.inspect('0'.repeat(64), AbortSignal.timeout(5000))).toBeUndefined();
  });

  it('streams start, exit with its code, oom and destroy', async () => {
    const events: RuntimeEvent[] = [];
    const ends: (Error | undefined)[] = [];
    const watch = client.watch((e) => events.push(e), (err) => ends.push(err));
    const oomGate = await OomGate.create();
    try {
      // The stream is live once a container we start shows up in it.
      const probe = await create({ name: 'probe', cmd: ['true'] });
      await until('the probe start event', () => events.find((e) => e.id === probe && e.kind === 'start'));

      const seven = await create({ name: 'exit7', cmd: ['sh', '-c', 'exit 7'] });
      // dd, the container's process, is OOM-killed; it allocates only once the start has
      // returned (see OomGate), or dockerd may never hear of the OOM.
      const oom = await create({
        name: 'oom',
        cmd: oomGate.command('exec dd if=/dev/zero of=/dev/null bs=64M count=1'),
        hostConfig: { Memory: 32 * MiB, MemorySwap: 32 * MiB, Binds: [oomGate.bind] },
      });
      await oomGate.open();
      const exit7 = await until('exit 7', () => events.find((e) => e.id === seven && e.kind === 'exit'));
      expect(exit7.exitCode).toBe(7);
      expect(exit7.runtime).toBe('docker');
      const kinds7 = events.filter((e) => e.id === seven).map((e) => e.kind);
      expect(kinds7.indexOf('start')).toBeGreaterThan(kinds7.indexOf('create'));
      expect(kinds7.indexOf('exit')).toBeGreaterThan(kinds7.indexOf('start'));
      // Event times are the daemon's, in nanoseconds, close to now.
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      expect(nowNs - exit7.timeUnixNano).toBeLessThan(60_000_000_000n);

      await until('the oom event', () => events.find((e) => e.id === oom && e.kind === 'oom'));
      const oomExit = await until('the oom exit', () => events.find((e) => e.id === oom && e.kind === 'exit'));
      expect(oomExit.exitCode).toBe(137);
      client.invalidate(oom);
      expect(await client.inspect(oom, AbortSignal.timeout(5000))).toMatchObject({ state: 'exited', oomKilled: true, exitCode: 137, exitReason: 'OOMKilled' });

      await docker.getContainer(seven).remove({ force: true });
      await until('the destroy event', () => events.find((e) => e.id === seven && e.kind === 'destroy'));
      expect(ends).toHaveLength(0);
      expect(client.malformedEvents).toBe(0);
    } finally {
      watch.close();
      await oomGate.remove();
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(ends).toHaveLength(0); // close() never calls onEnd
  });

  it('ends the watch once, with an error, when the connection to the daemon breaks', async () => {
    // A relay socket between the client and dockerd, so the test can cut the stream.
    const relayed = new Set<net.Socket>();
    const relay = net.createServer((down) => {
      const up = net.connect(rt.dockerSock);
      relayed.add(down).add(up);
      const drop = (): void => {
        down.destroy();
        up.destroy();
      };
      down.on('error', drop).on('close', drop);
      up.on('error', drop).on('close', drop);
      down.pipe(up);
      up.pipe(down);
    });
    const relayPath = join(tmp, 'relay.sock');
    await new Promise<void>((r) => relay.listen(relayPath, r));
    const relayed_client = new DockerClient({ socketPath: relayPath });
    try {
      const events: RuntimeEvent[] = [];
      const ends: (Error | undefined)[] = [];
      relayed_client.watch((e) => events.push(e), (err) => ends.push(err));
      const before = await create({ name: 'relay-before', cmd: ['true'] });
      await until('an event through the relay', () => events.find((e) => e.id === before && e.kind === 'start'));

      for (const s of relayed) s.destroy();
      await until('onEnd', () => (ends.length > 0 ? true : undefined), 2000);
      expect(ends[0]).toBeInstanceOf(RuntimeError);
      expect(['unavailable', 'protocol']).toContain((ends[0] as RuntimeError).reason);

      const count = events.length;
      await create({ name: 'relay-after', cmd: ['true'] });
      await new Promise((r) => setTimeout(r, 300));
      expect(events.length).toBe(count);
      expect(ends).toHaveLength(1);
    } finally {
      relayed_client.close();
      for (const s of relayed) s.destroy();
      await new Promise((r) => relay.close(r));
    }
  });

  it('leaves nothing that keeps the process alive after close()', async () => {
    // A child process lists, watches, closes, and must then exit on its own.
    const source = fileURLToPath(new URL('../../src/sources/container/docker-client.ts', import.meta.url));
    const script = join(tmp, 'close-exits.mjs');
    writeFileSync(
      script,
      `import { registerHooks } from 'node:module';
// Source imports say .js (NodeNext); the files are .ts, run through Node's type stripping.
registerHooks({
  resolve(specifier, context, next) {
    try { return next(specifier, context); } catch (err) {
      if (err?.code === 'ERR_MODULE_NOT_FOUND' && /^\\.{1,2}\\//.test(specifier) && specifier.endsWith('.js')) return next(specifier.slice(0, -3) + '.ts', context);
      throw err;
    }
  },
});
const { DockerClient } = await import(${JSON.stringify(source)});
const client = new DockerClient({ socketPath: ${JSON.stringify(rt.dockerSock)} });
const list = await client.list(AbortSignal.timeout(10000));
let ended = 0;
client.watch(() => {}, () => ended++);
const pending = client.list(AbortSignal.timeout(60000)).then(() => 'resolved', (e) => e.reason);
await new Promise((r) => setTimeout(r, 200));
client.close();
console.log(JSON.stringify({ listed: list.length, ended, pending: await pending }));
`,
    );
    const node = process.execPath;
    const t0 = Date.now();
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(node, [script], { timeout: 10_000, killSignal: 'SIGKILL' }, (err, out, errOut) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout: out, stderr: errOut });
      });
      child.stdin?.end();
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    const result = JSON.parse(stdout.trim()) as { listed: number; ended: number; pending: string };
    expect(result.listed).toBeGreaterThan(0);
    expect(result.ended).toBe(0);
    expect(['unavailable', 'resolved']).toContain(result.pending);
  });
});
