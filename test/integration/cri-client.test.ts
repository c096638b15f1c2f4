import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import { CriClient } from '../../src/sources/container/cri-client.js';
import { criProto } from '../../src/sources/container/cri-proto.js';
import type { ContainerInfo } from '../../src/sources/container/types.js';
import { CriPods, type RunningPod } from '../helpers/cri-pods.js';
import { OomGate } from '../helpers/oom-gate.js';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import { until } from '../helpers/wait.js';

const rt = await runtimesOrSkip('cri');

/** Unique per run, so parallel files and leftovers of a killed run never collide. */
const RUN = `sx-cric-${process.pid}-${Date.now().toString(36)}`;
const NAMESPACE = `${RUN}-ns`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejection reason of a call that must fail with a RuntimeError, and how long it took. */
async function failure(run: () => Promise<unknown>): Promise<{ reason: string; ms: number; err: RuntimeError }> {
  const t0 = performance.now();
  try {
    await run();
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeError);
    return { reason: (err as RuntimeError).reason, ms: performance.now() - t0, err: err as RuntimeError };
  }
  throw new Error('expected the call to fail');
}

/** Lists until `done` holds for the entry with `id`. */
async function listUntil(client: CriClient, id: string, done: (c: ContainerInfo) => boolean, limitMs = 15_000): Promise<ContainerInfo> {
  let found: ContainerInfo | undefined;
  return until(
    `container ${id} in the wanted state`,
    async () => {
      found = (await client.list(AbortSignal.timeout(5_000))).find((c) => c.id === id);
      return found !== undefined && done(found) && found;
    },
    { timeoutMs: limitMs, everyMs: 200, detail: () => `its state: ${JSON.stringify(found?.state)}` },
  );
}

/** A socket file nobody listens on: a child listens on it and is SIGKILLed, so the file stays. */
async function staleSocket(file: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => process.stdout.write('up'))", file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('error', reject);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Closes a net.Server after destroying the connections it holds. */
function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  sockets.clear();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe.skipIf(!rt.available)('CriClient against the real containerd CRI', () => {
  let dir: string;
  let pods: CriPods;
  let client: CriClient;
  let main: RunningPod;
  let oom: RunningPod;
  let oomGate: OomGate;
  const uid = randomUUID();
  const oomUid = randomUUID();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sx-cric-'));
    pods = new CriPods({ socketPath: rt.criSock, criRoot: rt.criRoot, image: rt.busyboxImage });
    // No `runtime`: the client asks Version.
    client = new CriClient({ socketPath: rt.criSock });
    main = await pods.runPod({
      name: `${RUN}-main`,
      namespace: NAMESPACE,
      uid,
      annotations: { 'sextant.test/pod': 'yes' },
      containers: [
        { name: 'sleeper', command: ['sleep', '3600'], memoryLimitBytes: 64 * 1024 * 1024, cpuQuota: 50_000, cpuPeriod: 100_000 },
        { name: 'quitter', command: ['sh', '-c', 'sleep 1; exit 5'], annotations: { 'sextant.test/c': 'q' } },
      ],
    });
    // dd's 64 MiB buffer, filled from /dev/zero, is over the limit: the kernel OOM-kills dd, the
    // container's process. It allocates only once StartContainer has returned (see OomGate).
    oomGate = await OomGate.create();
    oom = await pods.runPod({
      name: `${RUN}-oom`,
      namespace: NAMESPACE,
      uid: oomUid,
      containers: [
        {
          name: 'hog',
          command: oomGate.command('exec dd if=/dev/zero of=/dev/null bs=64M count=1'),
          memoryLimitBytes: 32 * 1024 * 1024,
          mounts: [oomGate.mount],
        },
      ],
    });
    await oomGate.open();
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await pods?.close();
    await oomGate?.remove();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('asks Version and learns it talks to containerd', async () => {
    const probe = new CriClient({ socketPath: rt.criSock });
    try {
      expect(probe.runtime).toBe('containerd'); // the default until asked
      const version = await probe.version(AbortSignal.timeout(5_000));
      expect(version.runtimeName).toBe('containerd');
      expect(version.runtimeApiVersion).toBe('v1');
      expect(version.runtimeVersion).not.toBe('');
      expect(probe.calls).toBe(1);
    } finally {
      probe.close();
    }
  });

  it('lists the pod, its sandbox and its containers with identity, image, pid, limits and log path', async () => {
    const all = await client.list(AbortSignal.timeout(10_000));
    expect(client.runtime).toBe('containerd');

    const sandbox = all.find((c) => c.id === main.podId);
    expect(sandbox).toMatchObject({
      sandbox: true,
      runtime: 'containerd',
      name: `${RUN}-main`,
      state: 'running',
      restartCount: 0,
      imageName: 'docker.io/sextant-test/pause',
      pod: { uid, name: `${RUN}-main`, namespace: NAMESPACE, sandboxId: main.podId, logDirectory: main.logDirectory },
    });
    expect(sandbox!.pod!.annotations).toMatchObject({ 'sextant.test/pod': 'yes' });
    expect(sandbox!.pid).toBeGreaterThan(1);

    const sleeper = all.find((c) => c.id === main.containerIds[0])!;
    expect(sleeper).toMatchObject({
      runtime: 'containerd',
      name: 'sleeper',
      restartCount: 0,
      state: 'running',
      imageName: 'docker.io/sextant-test/busybox',
      imageTags: ['latest'],
      limits: { memoryBytes: 64 * 1024 * 1024, cpus: 0.5 },
      logPath: `${main.logDirectory}/sleeper/0.log`,
      pod: { uid, name: `${RUN}-main`, namespace: NAMESPACE, sandboxId: main.podId },
      labels: { 'io.kubernetes.container.name': 'sleeper', 'io.kubernetes.pod.uid': uid },
    });
    expect(sleeper.sandbox).toBeUndefined();
    expect(sleeper.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(sleeper.createdAtUnixNano).toBeTypeOf('bigint');
    expect(sleeper.startedAtUnixNano! >= sleeper.createdAtUnixNano!).toBe(true);
    expect(sleeper.exitCode).toBeUndefined();
    // The pid is the host's: its cgroup names the container and the pod.
    expect(sleeper.pid).toBeGreaterThan(1);
    const cgroup = await readFile(`/proc/${sleeper.pid}/cgroup`, 'utf8');
    expect(cgroup).toContain(sleeper.id);
    expect(cgroup).toContain(`pod${uid}`);

    const quitter = all.find((c) => c.id === main.containerIds[1])!;
    expect(quitter).toMatchObject({ name: 'quitter', restartCount: 0, annotations: { 'sextant.test/c': 'q' } });
    expect(quitter.limits).toBeUndefined();
  }, 20_000);

  it('sees a container exit with its code, and re-reads only what changed', async () => {
    const quitter = await listUntil(client, main.containerIds[1]!, (c) => c.state === 'exited');
    expect(quitter).toMatchObject({ state: 'exited', exitCode: 5, exitReason: 'Error', oomKilled: false });
    expect(quitter.pid).toBeUndefined();
    expect(quitter.finishedAtUnixNano! > quitter.startedAtUnixNano!).toBe(true);

    // Nothing of ours changes now (the OOM pod may still be settling: wait for it too).
    await listUntil(client, oom.containerIds[0]!, (c) => c.state === 'exited');
    const before = client.calls;
    await client.list(AbortSignal.timeout(5_000));
    // Other test files may be creating pods on the same runtime: at least the two list calls.
    const steady = client.calls - before;
    expect(steady).toBeGreaterThanOrEqual(2);

    // invalidate() forces one fresh ContainerStatus for that container alone.
    const settled = client.calls;
    await client.list(AbortSignal.timeout(5_000));
    const baseline = client.calls - settled;
    client.invalidate(main.containerIds[0]!);
    const t = client.calls;
    await client.list(AbortSignal.timeout(5_000));
    expect(client.calls - t).toBe(baseline + 1);
  }, 30_000);

  it('reports an OOM-killed container as exited with reason OOMKilled', async () => {
    const hog = await listUntil(client, oom.containerIds[0]!, (c) => c.state === 'exited');
    expect(hog).toMatchObject({ name: 'hog', state: 'exited', exitReason: 'OOMKilled', oomKilled: true });
    expect(hog.exitCode).not.toBe(0);
    expect(hog.limits?.memoryBytes).toBe(32 * 1024 * 1024);
  }, 20_000);

  it('inspects one container, one sandbox, and nothing for an unknown id', async () => {
    const sleeper = await client.inspect(main.containerIds[0]!, AbortSignal.timeout(5_000));
    expect(sleeper).toMatchObject({ id: main.containerIds[0], name: 'sleeper', state: 'running', pod: { uid } });
    expect(sleeper!.pid).toBeGreaterThan(1);

    // A fresh client has no sandbox cached: it asks PodSandboxStatus for the pod.
    const fresh = new CriClient({ socketPath: rt.criSock, runtime: 'containerd' });
    try {
      const viaFresh = await fresh.inspect(main.containerIds[1]!, AbortSignal.timeout(5_000));
      expect(viaFresh).toMatchObject({ name: 'quitter', state: 'exited', exitCode: 5, pod: { uid, logDirectory: main.logDirectory } });
      const sandbox = await fresh.inspect(main.podId, AbortSignal.timeout(5_000));
      expect(sandbox).toMatchObject({ sandbox: true, id: main.podId, pod: { uid } });
      expect(await fresh.inspect('0'.repeat(64), AbortSignal.timeout(5_000))).toBeUndefined();
      expect(await fresh.inspect('not an id/../x', AbortSignal.timeout(5_000))).toBeUndefined();
    } finally {
      fresh.close();
    }
  }, 20_000);

  it('forgets a container the runtime no longer lists', async () => {
    const extra = await pods.addContainer(main.podId, { name: 'brief', command: ['sleep', '3600'] });
    expect((await client.list(AbortSignal.timeout(5_000))).some((c) => c.id === extra)).toBe(true);
    await pods.removeContainer(extra);
    expect((await client.list(AbortSignal.timeout(5_000))).some((c) => c.id === extra)).toBe(false);
    expect(await client.inspect(extra, AbortSignal.timeout(5_000))).toBeUndefined();
  }, 20_000);

  it('removes a pod with its containers, log directory and pod cgroup dirs', async () => {
    await listUntil(client, oom.containerIds[0]!, (c) => c.state === 'exited');
    expect(existsSync(oom.logDirectory)).toBe(true);
    await pods.removePod(oom.podId);
    const listed = await client.list(AbortSignal.timeout(5_000));
    expect(listed.some((c) => c.id === oom.podId || c.id === oom.containerIds[0])).toBe(false);
    expect(existsSync(oom.logDirectory)).toBe(false);
    for (const hierarchy of ['memory', 'cpu', 'pids', 'unified']) {
      expect(existsSync(`/sys/fs/cgroup/${hierarchy}${oom.cgroupParent}`)).toBe(false);
    }
  }, 20_000);

  it('fails absent for a missing socket and unavailable for a socket nobody listens on', async () => {
    const absent = new CriClient({ socketPath: path.join(dir, 'nothing-here.sock') });
    const absentFailure = await failure(() => absent.list(AbortSignal.timeout(2_000)));
    expect(absentFailure.reason).toBe('absent');
    expect(absentFailure.ms).toBeLessThan(500);
    expect(absent.failures.absent).toBe(1);
    expect(absent.calls).toBe(0);
    absent.close();

    const stalePath = path.join(dir, 'stale.sock');
    await staleSocket(stalePath);
    expect(existsSync(stalePath)).toBe(true);
    const stale = new CriClient({ socketPath: stalePath, runtime: 'containerd' });
    const staleFailure = await failure(() => stale.list(AbortSignal.timeout(2_000)));
    expect(staleFailure.reason).toBe('unavailable');
    expect(staleFailure.ms).toBeLessThan(1_500);
    expect(stale.failures.unavailable).toBeGreaterThanOrEqual(1);
    stale.close();
  }, 10_000);

  it('times out on a runtime that accepts and never answers, and closes its connection on close()', async () => {
    const hungPath = path.join(dir, 'hung.sock');
    const sockets = new Set<net.Socket>();
    let closedByClient = 0;
    let accepted = 0;
    // Accepts, reads, never writes a byte: not even the HTTP/2 server preface.
    const hung = net.createServer((s) => {
      accepted++;
      sockets.add(s);
      s.on('close', () => {
        closedByClient++;
        sockets.delete(s);
      });
      s.resume();
    });
    await new Promise<void>((resolve) => hung.listen(hungPath, resolve));
    const client2 = new CriClient({ socketPath: hungPath, runtime: 'containerd' });
    try {
      const byDeadline = await failure(() => client2.list(AbortSignal.timeout(300)));
      expect(byDeadline.reason).toBe('timeout');
      expect(byDeadline.ms).toBeLessThan(1_000);

      // An already-aborted signal fails before any call.
      const aborted = await failure(() => client2.list(AbortSignal.abort()));
      expect(aborted.reason).toBe('timeout');

      // Only the gRPC deadline, with a signal that never fires.
      const short = new CriClient({ socketPath: hungPath, runtime: 'containerd', callTimeoutMs: 300 });
      const byGrpcDeadline = await failure(() => short.list(new AbortController().signal));
      expect(byGrpcDeadline.reason).toBe('timeout');
      expect(byGrpcDeadline.ms).toBeLessThan(1_500);
      short.close();
      expect(client2.failures.timeout).toBeGreaterThanOrEqual(2);

      // A silent connection is dropped after connectTimeoutMs, failing the waiting call as
      // unavailable, and a later call connects afresh (grpc-js alone would stay CONNECTING forever).
      const before = accepted;
      const retrying = new CriClient({ socketPath: hungPath, runtime: 'containerd', connectTimeoutMs: 200 });
      const silent = await failure(() => retrying.list(AbortSignal.timeout(2_000)));
      expect(silent.reason).toBe('unavailable');
      expect(silent.ms).toBeLessThan(1_000);
      await sleep(700); // past the first reconnect backoff (500 ms)
      expect(['unavailable', 'timeout']).toContain((await failure(() => retrying.list(AbortSignal.timeout(1_000)))).reason);
      retrying.close();
      expect(accepted - before).toBeGreaterThanOrEqual(2);
    } finally {
      client2.close();
    }
    // close() drops the channel: the server sees every connection end.
    await until('every connection closed', () => sockets.size === 0, 3_000);
    expect(closedByClient).toBeGreaterThanOrEqual(1);
    await closeServer(hung, sockets);
    // A closed client refuses further calls at once.
    expect((await failure(() => client2.list(AbortSignal.timeout(1_000)))).reason).toBe('unavailable');
  }, 15_000);

  it('reconnects by itself after the runtime socket goes away and comes back', async () => {
    const relayPath = path.join(dir, 'relay.sock');
    const sockets = new Set<net.Socket>();
    let dropping = false;
    const makeRelay = () =>
      net.createServer((down) => {
        sockets.add(down);
        down.on('close', () => sockets.delete(down));
        if (dropping) {
          down.destroy();
          return;
        }
        const up = net.connect(rt.criSock);
        sockets.add(up);
        up.on('close', () => sockets.delete(up));
        down.pipe(up).pipe(down);
        down.on('error', () => up.destroy());
        up.on('error', () => down.destroy());
        down.on('close', () => up.destroy());
        up.on('close', () => down.destroy());
      });
    let relay = makeRelay();
    await new Promise<void>((resolve) => relay.listen(relayPath, resolve));
    const viaRelay = new CriClient({ socketPath: relayPath, runtime: 'containerd' });
    try {
      expect((await viaRelay.list(AbortSignal.timeout(5_000))).some((c) => c.id === main.containerIds[0])).toBe(true);

      // The runtime restarts: live connections drop, new ones are cut at once.
      dropping = true;
      for (const s of sockets) s.destroy();
      const down = await failure(() => viaRelay.list(AbortSignal.timeout(1_000)));
      expect(['unavailable', 'timeout']).toContain(down.reason);

      // The socket file is gone while it is down.
      await closeServer(relay, sockets);
      expect((await failure(() => viaRelay.list(AbortSignal.timeout(1_000)))).reason).toBe('absent');

      // Back on the same path: the same client gets through again (grpc-js reconnects itself).
      dropping = false;
      relay = makeRelay();
      await new Promise<void>((resolve) => relay.listen(relayPath, resolve));
      const listed = await until(
        'a list through the relay again',
        async () => {
          try {
            return await viaRelay.list(AbortSignal.timeout(1_000));
          } catch (err) {
            expect(['unavailable', 'timeout']).toContain((err as RuntimeError).reason);
            return undefined;
          }
        },
        { timeoutMs: 10_000, everyMs: 250 },
      );
      expect(listed.some((c) => c.id === main.containerIds[0])).toBe(true);
    } finally {
      viaRelay.close();
      await closeServer(relay, sockets);
    }
  }, 20_000);

  it('maps a server that answers garbage to protocol and an unimplemented method to failed', async () => {
    const fakePath = path.join(dir, 'fake.sock');
    const methods = criProto().methods;
    const pass = (b: Buffer) => b;
    const server = new grpc.Server();
    // ListPodSandbox answers bytes that are not a ListPodSandboxResponse (field 1, length past the end).
    server.addService(
      {
        ListPodSandbox: {
          path: methods.ListPodSandbox.path,
          requestStream: false,
          responseStream: false,
          requestSerialize: pass,
          requestDeserialize: pass,
          responseSerialize: pass,
          responseDeserialize: pass,
        },
      },
      {
        ListPodSandbox: (_call: unknown, callback: (err: null, value: Buffer) => void) => callback(null, Buffer.from([0x0a, 0x7f, 0x01])),
      },
    );
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${fakePath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    const fake = new CriClient({ socketPath: fakePath, runtime: 'cri-o' });
    try {
      const garbage = await failure(() => fake.call('ListPodSandbox', {}, AbortSignal.timeout(2_000)));
      expect(garbage.reason).toBe('protocol');
      expect(garbage.err.runtime).toBe('cri-o');
      const unimplemented = await failure(() => fake.call('ListContainers', {}, AbortSignal.timeout(2_000)));
      expect(unimplemented.reason).toBe('failed');
      expect(unimplemented.err.message).toContain('UNIMPLEMENTED');
      // list() runs both: the first failure wins, and both are counted.
      const listed = await failure(() => fake.list(AbortSignal.timeout(2_000)));
      expect(['protocol', 'failed']).toContain(listed.reason);
      // list() fails on the first; the other call settles a moment later and is counted too.
      await until('the other call of list() counted', () => fake.failures.protocol + fake.failures.failed >= 4, 2_000);
      expect(fake.failures).toMatchObject({ protocol: 2, failed: 2, timeout: 0, absent: 0, unavailable: 0 });
      expect(fake.calls).toBe(4);
    } finally {
      fake.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    }
  }, 10_000);
});
