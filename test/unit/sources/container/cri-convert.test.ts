import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../../src/errors.js';
import {
  type ConvertNotes,
  containerInfo,
  criId,
  criNanos,
  listKey,
  parseVerboseInfo,
  podFromSandbox,
  sandboxInfo,
} from '../../../../src/sources/container/cri-convert.js';
import { criProto, decodeResponse, encodeRequest } from '../../../../src/sources/container/cri-proto.js';
import type { PodInfo } from '../../../../src/sources/container/types.js';

const proto = criProto();
const ContainerStatusResponse = proto.methods.ContainerStatus.response;
const ListContainersResponse = proto.methods.ListContainers.response;
const ListPodSandboxResponse = proto.methods.ListPodSandbox.response;
const PodSandboxStatusResponse = proto.methods.PodSandboxStatus.response;

const CID = 'ef64db4b1a92e7137710a8d05b21af62f89f7ba936966f798e78ddcf5dec95a5';
const SID = '356ba2c4a0784093e293b6aa06004d09db3683d48e71d0f50a222db3e70a9886';
const UID = '11111111-2222-3333-4444-555555555555';
const LOG_DIR = `/var/log/pods/ns_web_${UID}`;
const CREATED = 1795602287827889061n;
const STARTED = 1795602287886316745n;
const FINISHED = 1795602297886316745n;

/** Round-trips a plain object through the wire, so tests see exactly what the client decodes. */
function wire(type: typeof ContainerStatusResponse, value: Record<string, unknown>): unknown {
  return decodeResponse('containerd', type, encodeRequest(type, value));
}

function notes(): ConvertNotes {
  return { malformed: 0 };
}

/** containerd's verbose `info` document, reduced to what matters (the real one is ~10 KiB). */
function containerdInfo(pid: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    sandboxID: SID,
    pid,
    removing: false,
    config: { metadata: { name: 'app' }, log_path: 'app/0.log' },
    runtimeSpec: { linux: { resources: { memory: { limit: 67108864 }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 1024 } } } },
    ...extra,
  });
}

function statusMessage(overrides: Record<string, unknown> = {}, info: Record<string, string> = { info: containerdInfo(4242) }): unknown {
  return wire(ContainerStatusResponse, {
    status: {
      id: CID,
      metadata: { name: 'app', attempt: 2 },
      state: 'CONTAINER_RUNNING',
      createdAt: CREATED.toString(),
      startedAt: STARTED.toString(),
      image: { image: 'registry:5000/team/app:v2' },
      imageRef: 'sha256:b50bc8bd1437fed2eea9c8873b7476d26de126ffcd5be180d59df8147673de31',
      labels: { 'io.kubernetes.container.name': 'app' },
      annotations: { 'io.kubernetes.container.restartCount': '2' },
      logPath: `${LOG_DIR}/app/2.log`,
      ...overrides,
    },
    info,
  });
}

function listItem(overrides: Record<string, unknown> = {}): unknown {
  const resp = wire(ListContainersResponse, {
    containers: [
      {
        id: CID,
        podSandboxId: SID,
        metadata: { name: 'app', attempt: 2 },
        image: { image: 'sha256:b50bc8bd1437fed2eea9c8873b7476d26de126ffcd5be180d59df8147673de31' },
        imageRef: 'sha256:b50bc8bd1437fed2eea9c8873b7476d26de126ffcd5be180d59df8147673de31',
        state: 'CONTAINER_RUNNING',
        createdAt: CREATED.toString(),
        labels: { 'io.kubernetes.container.name': 'app' },
        ...overrides,
      },
    ],
  }) as { containers: unknown[] };
  return resp.containers[0];
}

function sandboxItem(overrides: Record<string, unknown> = {}): unknown {
  const resp = wire(ListPodSandboxResponse, {
    items: [
      {
        id: SID,
        metadata: { name: 'web', uid: UID, namespace: 'ns', attempt: 0 },
        state: 'SANDBOX_READY',
        createdAt: '1795602287761245754',
        labels: { 'io.kubernetes.pod.name': 'web' },
        annotations: { 'kubernetes.io/config.source': 'api' },
        ...overrides,
      },
    ],
  }) as { items: unknown[] };
  return resp.items[0];
}

const POD: PodInfo = { uid: UID, name: 'web', namespace: 'ns', sandboxId: SID, logDirectory: LOG_DIR, labels: {}, annotations: {} };

/** Small deterministic PRNG (mulberry32), so a failing random case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('containerInfo', () => {
  it('maps a running container from its list entry and verbose status', () => {
    const n = notes();
    const info = containerInfo(listItem(), statusMessage(), POD, 'containerd', n);
    expect(info).toEqual({
      id: CID,
      runtime: 'containerd',
      name: 'app',
      imageName: 'registry:5000/team/app',
      imageTags: ['v2'],
      imageId: 'sha256:b50bc8bd1437fed2eea9c8873b7476d26de126ffcd5be180d59df8147673de31',
      state: 'running',
      pid: 4242,
      createdAtUnixNano: CREATED,
      startedAtUnixNano: STARTED,
      finishedAtUnixNano: undefined,
      exitCode: undefined,
      exitReason: undefined,
      oomKilled: undefined,
      restartCount: 2,
      labels: { 'io.kubernetes.container.name': 'app' },
      annotations: { 'io.kubernetes.container.restartCount': '2' },
      pod: POD,
      limits: { memoryBytes: 67108864, cpus: 0.5, pids: 1024 },
      logPath: `${LOG_DIR}/app/2.log`,
    });
    expect(n.malformed).toBe(0);
  });

  it('prefers the status resources over the runtime spec for limits', () => {
    const status = statusMessage({ resources: { linux: { cpuPeriod: 100000, cpuQuota: 250000, memoryLimitInBytes: 1 << 30 } } });
    expect(containerInfo(listItem(), status, POD, 'containerd', notes())?.limits).toEqual({
      memoryBytes: 1 << 30,
      cpus: 2.5,
      pids: undefined,
    });
  });

  it('reports exit code, reason and OOM only once exited', () => {
    const exited = (reason: string, exitCode: number) =>
      containerInfo(
        listItem({ state: 'CONTAINER_EXITED' }),
        statusMessage({ state: 'CONTAINER_EXITED', finishedAt: FINISHED.toString(), exitCode, reason }),
        POD,
        'containerd',
        notes(),
      );
    expect(exited('OOMKilled', 137)).toMatchObject({ state: 'exited', exitCode: 137, exitReason: 'OOMKilled', oomKilled: true, pid: undefined });
    expect(exited('Error', 5)).toMatchObject({ exitCode: 5, exitReason: 'Error', oomKilled: false, finishedAtUnixNano: FINISHED });
    expect(exited('Completed', 0)).toMatchObject({ exitCode: 0, exitReason: 'Completed', oomKilled: false });
    // A running container's leftover reason/exit code are not reported.
    const running = containerInfo(listItem(), statusMessage({ reason: 'OOMKilled', exitCode: 1 }), POD, 'containerd', notes());
    expect(running).toMatchObject({ state: 'running', exitCode: undefined, exitReason: undefined, oomKilled: undefined });
  });

  it('maps the four CRI states and treats an unknown number as unknown', () => {
    const states = ['CONTAINER_CREATED', 'CONTAINER_RUNNING', 'CONTAINER_EXITED', 'CONTAINER_UNKNOWN'];
    expect(states.map((s) => containerInfo(listItem({ state: s }), undefined, undefined, 'cri-o', notes())?.state)).toEqual([
      'created',
      'running',
      'exited',
      'unknown',
    ]);
    expect(containerInfo({ id: CID, state: 17 }, undefined, undefined, 'cri-o', notes())?.state).toBe('unknown');
    expect(containerInfo({ id: CID, state: 'CONTAINER_RUNNING' }, undefined, undefined, 'cri-o', notes())?.state).toBe('unknown');
  });

  it('falls back to the list entry when no status could be fetched', () => {
    const info = containerInfo(listItem(), undefined, POD, 'containerd', notes());
    expect(info).toMatchObject({ id: CID, name: 'app', state: 'running', restartCount: 2, createdAtUnixNano: CREATED, pod: POD });
    // containerd's list entry names the image by id: no name, no tag.
    expect(info).toMatchObject({ imageName: undefined, imageTags: undefined, pid: undefined, startedAtUnixNano: undefined, limits: undefined, logPath: undefined });
  });

  it('joins a relative log_path to the pod log directory, and drops one it cannot place', () => {
    const relative = statusMessage({ logPath: 'app/2.log' });
    expect(containerInfo(listItem(), relative, POD, 'cri-o', notes())?.logPath).toBe(`${LOG_DIR}/app/2.log`);
    expect(containerInfo(listItem(), relative, { ...POD, logDirectory: `${LOG_DIR}/` }, 'cri-o', notes())?.logPath).toBe(`${LOG_DIR}/app/2.log`);
    expect(containerInfo(listItem(), relative, { ...POD, logDirectory: undefined }, 'cri-o', notes())?.logPath).toBeUndefined();
    expect(containerInfo(listItem(), relative, undefined, 'cri-o', notes())?.logPath).toBeUndefined();
  });

  it('gives defaults, not throws, for a container with no metadata, image or times', () => {
    const n = notes();
    const bare = wire(ContainerStatusResponse, { status: { id: CID } });
    const info = containerInfo({ id: CID }, bare, undefined, 'containerd', n);
    expect(info).toMatchObject({
      id: CID,
      name: '',
      restartCount: 0,
      state: 'created', // proto3 zero value
      imageName: undefined,
      imageTags: undefined,
      imageId: undefined,
      pid: undefined,
      createdAtUnixNano: undefined,
      labels: {},
      annotations: {},
      pod: undefined,
      limits: undefined,
    });
    expect(n.malformed).toBe(0);
  });

  it('drops and counts an entry without a usable id', () => {
    const n = notes();
    for (const item of [undefined, null, 42, 'x', [], {}, { id: '' }, { id: 7 }, { id: 'a/b' }, { id: '../etc' }, { id: 'x'.repeat(200) }]) {
      expect(containerInfo(item, undefined, undefined, 'containerd', n)).toBeUndefined();
    }
    expect(n.malformed).toBe(11);
    // The status's id is enough when the list entry has none.
    expect(containerInfo(undefined, statusMessage(), undefined, 'containerd', n)?.id).toBe(CID);
  });

  it('survives fields of the wrong type everywhere', () => {
    const n = notes();
    const odd = {
      status: {
        id: CID,
        metadata: 'app',
        state: '1',
        createdAt: { low: 'x', high: 1 },
        startedAt: Number.NaN,
        finishedAt: 1e300,
        exitCode: 1.5,
        image: ['x'],
        imageRef: 12,
        reason: { r: 1 },
        labels: ['a', 'b'],
        annotations: { a: 1, b: null, c: 'ok' },
        logPath: 5,
        resources: { linux: { memoryLimitInBytes: 'lots', cpuQuota: -5, cpuPeriod: 0 } },
      },
      info: { info: 17 },
    };
    const info = containerInfo({ id: CID, metadata: null, image: 5 }, odd, undefined, 'containerd', n);
    expect(info).toMatchObject({
      id: CID,
      name: '',
      state: 'unknown',
      restartCount: 0,
      createdAtUnixNano: undefined,
      startedAtUnixNano: undefined,
      finishedAtUnixNano: undefined,
      exitCode: undefined,
      imageName: undefined,
      imageId: undefined,
      labels: {},
      annotations: { c: 'ok' },
      limits: undefined,
      logPath: undefined,
    });
  });

  it('drops oversized strings and map entries and keeps the rest', () => {
    const n = notes();
    const huge = 'a'.repeat(5000);
    const labels: Record<string, string> = { ok: 'yes', [huge]: 'long key', big: 'v'.repeat(300 * 1024), __proto__x: 'fine' };
    for (let i = 0; i < 2000; i++) labels[`k${i}`] = 'v';
    const status = wire(ContainerStatusResponse, {
      status: { id: CID, metadata: { name: huge }, image: { image: `${huge}:tag` }, reason: huge, logPath: `/${huge}`, labels },
    });
    const info = containerInfo({ id: CID }, status, undefined, 'containerd', n)!;
    expect(info.name).toBe('');
    expect(info.imageName).toBeUndefined();
    expect(info.logPath).toBeUndefined();
    expect(info.labels['ok']).toBe('yes');
    expect(info.labels[huge]).toBeUndefined();
    expect(info.labels['big']).toBeUndefined();
    expect(Object.keys(info.labels).length).toBeLessThanOrEqual(1024);
  });

  it('never lets a runtime set a prototype through a map key', () => {
    const labels = JSON.parse('{"__proto__": {"polluted": "yes"}, "a": "b"}') as unknown;
    const info = containerInfo({ id: CID, labels }, undefined, undefined, 'containerd', notes())!;
    expect(info.labels).toEqual({ a: 'b' });
    expect(Object.getPrototypeOf(info.labels)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('timestamps', () => {
  it('reads int64 nanoseconds in every shape protobufjs can hand over', () => {
    expect(criNanos(CREATED)).toBe(CREATED);
    expect(criNanos(CREATED.toString())).toBe(CREATED);
    expect(criNanos(1_000)).toBe(1_000n);
    const decoded = (statusMessage() as { status: { createdAt: unknown } }).status.createdAt;
    expect(typeof decoded).toBe('object'); // a Long
    expect(criNanos(decoded)).toBe(CREATED);
  });

  it('treats 0, negative, huge and unreadable values as not set', () => {
    for (const v of [0, 0n, '0', -1, -1n, '-5', (1n << 63n), '99999999999999999999', 2 ** 60, Number.NaN, 1.5, Infinity, null, undefined, {}, 'now', true]) {
      expect(criNanos(v)).toBeUndefined();
    }
    // A negative int64 on the wire decodes as a signed Long: still not a time.
    const negative = wire(ContainerStatusResponse, { status: { id: CID, createdAt: '-1795602287827889061', startedAt: '-1' } }) as {
      status: Record<string, unknown>;
    };
    expect(criNanos(negative.status['createdAt'])).toBeUndefined();
    expect(criNanos(negative.status['startedAt'])).toBeUndefined();
    // An unsigned Long at or above 2^63.
    expect(criNanos({ low: 0, high: 0x80000000, unsigned: true })).toBeUndefined();
    expect(criNanos({ low: 1, high: 0, unsigned: false })).toBe(1n);
  });
});

describe('parseVerboseInfo', () => {
  it('reads pid, log directory, image and limits from containerd-style JSON', () => {
    const n = notes();
    const sandboxJson = JSON.stringify({ pid: 27261, image: 'docker.io/sextant-test/pause:latest', config: { log_directory: LOG_DIR } });
    expect(parseVerboseInfo({ info: sandboxJson }, n)).toEqual({
      pid: 27261,
      logDirectory: LOG_DIR,
      image: 'docker.io/sextant-test/pause:latest',
      limits: undefined,
    });
    expect(parseVerboseInfo({ info: containerdInfo(1) }, n).limits).toEqual({ memoryBytes: 67108864, cpus: 0.5, pids: 1024 });
    expect(n.malformed).toBe(0);
  });

  it('counts JSON that does not parse or is not an object, and returns nothing from it', () => {
    const n = notes();
    for (const raw of ['{"pid": 12', 'not json', '[1,2,3]', 'null', '"pid"', '42', '\u0000\uffff', 'x'.repeat(5 * 1024 * 1024)]) {
      expect(parseVerboseInfo({ info: raw }, n)).toEqual({});
    }
    expect(n.malformed).toBe(8);
  });

  it('ignores an absent or empty info map without counting it', () => {
    const n = notes();
    for (const info of [undefined, null, {}, { info: '' }, { other: '{}' }, 'info', 5]) expect(parseVerboseInfo(info, n)).toEqual({});
    expect(n.malformed).toBe(0);
  });

  it('takes only a plausible pid', () => {
    const pid = (v: unknown) => parseVerboseInfo({ info: JSON.stringify({ pid: v }) }, notes()).pid;
    expect(pid(1)).toBe(1);
    expect(pid(4_194_304)).toBe(4_194_304);
    for (const v of [0, -1, 4_194_305, 1.5, '123', null, [1], 2 ** 53]) expect(pid(v)).toBeUndefined();
  });

  it('ignores unlimited or nonsense limits in the runtime spec', () => {
    const limits = (resources: unknown) =>
      parseVerboseInfo({ info: JSON.stringify({ runtimeSpec: { linux: { resources } } }) }, notes()).limits;
    expect(limits({ memory: { limit: 9223372036854771712 }, cpu: { quota: -1, period: 100000 } })).toBeUndefined();
    expect(limits({ memory: { limit: 'x' }, cpu: { quota: 50000 } })).toBeUndefined();
    expect(limits({ cpu: { quota: 150000, period: 100000 } })).toEqual({ memoryBytes: undefined, cpus: 1.5, pids: undefined });
    expect(limits('nope')).toBeUndefined();
  });
});

describe('sandboxes', () => {
  it('maps a READY sandbox with its verbose status to a sandbox entry and its pod', () => {
    const n = notes();
    const status = wire(PodSandboxStatusResponse, {
      status: {
        id: SID,
        metadata: { name: 'web', uid: UID, namespace: 'ns' },
        state: 'SANDBOX_READY',
        createdAt: '1795602287761245754',
        labels: { 'io.kubernetes.pod.name': 'web' },
        annotations: { 'kubernetes.io/config.source': 'api' },
      },
      info: { info: JSON.stringify({ pid: 27261, image: 'docker.io/sextant-test/pause:latest', config: { log_directory: LOG_DIR } }) },
    }) as { status: unknown; info: unknown };
    const verbose = parseVerboseInfo(status.info, n);
    const pod = podFromSandbox(status.status, verbose);
    expect(pod).toEqual({
      uid: UID,
      name: 'web',
      namespace: 'ns',
      sandboxId: SID,
      logDirectory: LOG_DIR,
      labels: { 'io.kubernetes.pod.name': 'web' },
      annotations: { 'kubernetes.io/config.source': 'api' },
    });
    const info = sandboxInfo(sandboxItem(), status.status, verbose, pod, 'containerd', n);
    expect(info).toMatchObject({
      id: SID,
      sandbox: true,
      name: 'web',
      state: 'running',
      pid: 27261,
      imageName: 'docker.io/sextant-test/pause',
      imageTags: ['latest'],
      createdAtUnixNano: 1795602287761245754n,
      restartCount: 0,
      pod,
    });
    expect(n.malformed).toBe(0);
  });

  it('maps NOTREADY to exited without a pid, and odd states to unknown', () => {
    const verbose = { pid: 5 };
    expect(sandboxInfo(sandboxItem({ state: 'SANDBOX_NOTREADY' }), undefined, verbose, undefined, 'cri-o', notes())).toMatchObject({
      state: 'exited',
      pid: undefined,
    });
    expect(sandboxInfo({ id: SID, state: 9 }, undefined, {}, undefined, 'cri-o', notes())?.state).toBe('unknown');
  });

  it('has no pod without metadata or id, and drops a sandbox without an id', () => {
    const n = notes();
    expect(podFromSandbox({ id: SID }, {})).toBeUndefined();
    expect(podFromSandbox({ metadata: { name: 'x' } }, {})).toBeUndefined();
    expect(podFromSandbox(null, {})).toBeUndefined();
    expect(podFromSandbox({ id: SID, metadata: { name: 5 } }, {})).toMatchObject({ name: '', uid: '', namespace: '' });
    expect(sandboxInfo({ id: '' }, undefined, {}, undefined, 'containerd', n)).toBeUndefined();
    expect(sandboxInfo(undefined, undefined, {}, undefined, 'containerd', n)).toBeUndefined();
    expect(n.malformed).toBe(2);
  });
});

describe('list keys and ids', () => {
  it('changes when state or creation time changes, and only then', () => {
    const a = listKey(listItem());
    expect(listKey(listItem())).toBe(a);
    expect(listKey(listItem({ state: 'CONTAINER_EXITED' }))).not.toBe(a);
    expect(listKey(listItem({ createdAt: '1' }))).not.toBe(a);
    expect(listKey(listItem({ labels: { other: 'x' } }))).toBe(a);
    expect(listKey(null)).toBeUndefined();
    expect(listKey({})).toBe('-1:0');
  });

  it('accepts runtime ids and rejects path-like or huge ones', () => {
    expect(criId(CID)).toBe(CID);
    expect(criId('abc-123_x.y')).toBe('abc-123_x.y');
    for (const v of ['', '/x', '.hidden', 'a b', 'a\nb', 'x'.repeat(129), 5, null]) expect(criId(v)).toBeUndefined();
  });
});

describe('decoding runtime answers', () => {
  it('turns truncated messages into protocol errors or partial messages, never another throw', () => {
    const full = encodeRequest(ContainerStatusResponse, {
      status: { id: CID, metadata: { name: 'app' }, createdAt: CREATED.toString(), labels: { a: 'b' }, logPath: '/x' },
      info: { info: containerdInfo(1) },
    });
    let protocolErrors = 0;
    for (let len = 0; len < full.length; len++) {
      try {
        const msg = decodeResponse('containerd', ContainerStatusResponse, full.subarray(0, len));
        // Whatever decoded must map without throwing.
        containerInfo({ id: CID }, msg, undefined, 'containerd', notes());
      } catch (err) {
        expect(err).toBeInstanceOf(RuntimeError);
        expect((err as RuntimeError).reason).toBe('protocol');
        expect((err as RuntimeError).runtime).toBe('containerd');
        protocolErrors++;
      }
    }
    expect(protocolErrors).toBeGreaterThan(full.length / 2);
  });

  it('decodes random bytes to a protocol error or a message the mapping survives', () => {
    const random = prng(0x5e7a);
    const types = [ContainerStatusResponse, ListContainersResponse, ListPodSandboxResponse, PodSandboxStatusResponse];
    let protocolErrors = 0;
    let decoded = 0;
    for (let i = 0; i < 2000; i++) {
      const bytes = new Uint8Array(1 + Math.floor(random() * 200));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
      const type = types[i % types.length]!;
      let msg: unknown;
      try {
        msg = decodeResponse('cri-o', type, bytes);
        decoded++;
      } catch (err) {
        expect(err).toBeInstanceOf(RuntimeError);
        expect((err as RuntimeError).reason).toBe('protocol');
        protocolErrors++;
        continue;
      }
      const n = notes();
      const m = msg as Record<string, unknown>;
      containerInfo(m, m, undefined, 'cri-o', n);
      for (const c of (m['containers'] as unknown[] | undefined) ?? []) containerInfo(c, undefined, undefined, 'cri-o', n);
      for (const s of (m['items'] as unknown[] | undefined) ?? []) sandboxInfo(s, undefined, {}, podFromSandbox(s, {}), 'cri-o', n);
      parseVerboseInfo(m['info'], n);
    }
    expect(protocolErrors).toBeGreaterThan(0);
    expect(decoded).toBeGreaterThan(0);
  });

  it('rejects invalid UTF-8 in a string field as a protocol error (proto3 strings are UTF-8)', () => {
    // ContainerStatusResponse.status (1) { id (1): "\xff\xfe", metadata (2) { name (1): "\xc3" } }
    const bytes = Uint8Array.from([0x0a, 0x09, 0x0a, 0x02, 0xff, 0xfe, 0x12, 0x03, 0x0a, 0x01, 0xc3]);
    expect(() => decodeResponse('containerd', ContainerStatusResponse, bytes)).toThrow(RuntimeError);
    try {
      decodeResponse('containerd', ContainerStatusResponse, bytes);
    } catch (err) {
      expect((err as RuntimeError).reason).toBe('protocol');
      expect((err as RuntimeError).code).toBe('SEXTANT_ERR_RUNTIME');
    }
    // The same shape with valid UTF-8 decodes.
    const good = Uint8Array.from([0x0a, 0x09, 0x0a, 0x02, 0x61, 0x62, 0x12, 0x03, 0x0a, 0x01, 0x63]);
    expect(decodeResponse('containerd', ContainerStatusResponse, good)).toMatchObject({ status: { id: 'ab', metadata: { name: 'c' } } });
  });
});
