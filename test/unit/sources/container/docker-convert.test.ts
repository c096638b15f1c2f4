import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../../src/errors.js';
import {
  EventLineSplitter,
  decodeJson,
  eventFromLine,
  inspectionFromJson,
  listFromJson,
  mapDockerState,
} from '../../../../src/sources/container/docker-convert.js';

const FIXTURES = new URL('../../../fixtures/docker/', import.meta.url);

function fixtureText(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8');
}

function fixture(name: string): Record<string, any> {
  return JSON.parse(fixtureText(name)) as Record<string, any>;
}

function ns(text: string): bigint {
  // Test-side reference: whole seconds through Date, the fraction digits appended.
  const dot = text.indexOf('.');
  const whole = dot === -1 ? text : `${text.slice(0, dot)}Z`;
  const frac = dot === -1 ? '' : text.slice(dot + 1, text.length - 1);
  return BigInt(Date.parse(whole)) * 1_000_000n + BigInt(frac.padEnd(9, '0') || '0');
}

function expectProtocol(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).reason).toBe('protocol');
    expect((err as RuntimeError).runtime).toBe('docker');
    return;
  }
  throw new Error('expected a protocol error');
}

const RUNNING_ID = 'a38b38ca4612d9ebe2036d30ce5dcf8cb2af3899fef32c133ad40e24846816f7';

describe('inspectionFromJson on recorded answers', () => {
  it('maps a running container with memory, NanoCpus and pids limits', () => {
    const { info, key } = inspectionFromJson(fixture('inspect-running.json'));
    expect(info).toEqual({
      id: RUNNING_ID,
      runtime: 'docker',
      name: 'sxfix-running',
      imageName: 'docker.io/sextant-test/busybox',
      imageTags: ['latest'],
      imageId: 'sha256:7633becbd5245eaf5afdfe844a867f5cba2768f3106dd6d00a7d92a7fff30bec',
      state: 'running',
      pid: 25043,
      createdAtUnixNano: ns('2026-11-25T10:22:44.295315698Z'),
      startedAtUnixNano: ns('2026-11-25T10:22:44.485134735Z'),
      oomKilled: false,
      restartCount: 0,
      labels: { app: 'demo', 'io.sextant.test': '1' },
      annotations: {},
      limits: { memoryBytes: 67108864, cpus: 0.5, pids: 100 },
      logPath: `/var/lib/docker/containers/${RUNNING_ID}/${RUNNING_ID}-json.log`,
    });
    expect(info.finishedAtUnixNano).toBeUndefined(); // the zero time
    expect(info.exitCode).toBeUndefined();
    expect(key).toBe('running|1795602164');
  });

  it('counts a paused container as running and reads CpuQuota/CpuPeriod', () => {
    const { info, key } = inspectionFromJson(fixture('inspect-quota.json'));
    expect(info.state).toBe('running');
    expect(info.pid).toBe(25109);
    expect(info.limits).toEqual({ cpus: 0.5 });
    expect(key).toBe('paused|1795602164');
  });

  it('maps an exited container with its exit code and finish time', () => {
    const { info } = inspectionFromJson(fixture('inspect-exited.json'));
    expect(info.state).toBe('exited');
    expect(info.exitCode).toBe(3);
    expect(info.exitReason).toBeUndefined();
    expect(info.pid).toBeUndefined();
    expect(info.finishedAtUnixNano).toBe(ns('2026-11-25T10:22:44.788047912Z'));
    expect(info.limits).toBeUndefined();
  });

  it('maps a created container: no start, no exit code, no log path yet', () => {
    const { info } = inspectionFromJson(fixture('inspect-created.json'));
    expect(info.state).toBe('created');
    expect(info.startedAtUnixNano).toBeUndefined();
    expect(info.finishedAtUnixNano).toBeUndefined();
    expect(info.exitCode).toBeUndefined();
    expect(info.logPath).toBeUndefined();
  });

  it('maps an OOM kill', () => {
    const { info } = inspectionFromJson(fixture('inspect-oom.json'));
    expect(info).toMatchObject({ state: 'exited', exitCode: 137, oomKilled: true, exitReason: 'OOMKilled', limits: { memoryBytes: 33554432 } });
  });

  it("takes Docker's RestartCount for a plain container", () => {
    expect(inspectionFromJson(fixture('inspect-restart.json')).info).toMatchObject({ restartCount: 2, exitCode: 3 });
  });

  it('maps a cri-dockerd container to its pod, with the kubelet restart count', () => {
    const { info } = inspectionFromJson(fixture('inspect-k8s-container.json'));
    expect(info.name).toBe('nginx');
    expect(info.sandbox).toBeUndefined();
    expect(info.restartCount).toBe(2);
    expect(info.pod).toEqual({
      uid: '0f3c2b1a-5d6e-4f70-8a9b-c0d1e2f3a4b5',
      name: 'web-0',
      namespace: 'shop',
      sandboxId: '24c9cb5bfc895e7d1ff9f5935caa9204780d59ab6db55fb10a8a38697f10842b',
      labels: info.labels,
      annotations: {},
    });
    expect(info.limits).toEqual({ memoryBytes: 134217728, cpus: 0.2 });
  });

  it('marks a pod sandbox', () => {
    const { info } = inspectionFromJson(fixture('inspect-k8s-sandbox.json'));
    expect(info.sandbox).toBe(true);
    expect(info.name).toBe('POD');
    expect(info.pod?.sandboxId).toBe(info.id);
    expect(info.pod?.labels['app']).toBe('web');
  });

  it('lets io.kubernetes.container.restartCount win over RestartCount and ignores a bad one', () => {
    const c = fixture('inspect-k8s-container.json');
    c['RestartCount'] = 9;
    c['Config'].Labels['io.kubernetes.container.restartCount'] = '5';
    expect(inspectionFromJson(c).info.restartCount).toBe(5);
    c['Config'].Labels['io.kubernetes.container.restartCount'] = 'five';
    c['Config'].Labels['annotation.io.kubernetes.container.restartCount'] = '-1';
    expect(inspectionFromJson(c).info.restartCount).toBe(9);
  });

  it('maps State.Error to exitReason and Docker state words to ours', () => {
    const c = fixture('inspect-exited.json');
    c['State'].Error = 'exec: "nope": executable file not found in $PATH';
    expect(inspectionFromJson(c).info.exitReason).toBe(c['State'].Error);
    const words: Record<string, string> = { running: 'running', paused: 'running', restarting: 'running', created: 'created', exited: 'exited', dead: 'exited', removing: 'exited', weird: 'unknown' };
    for (const [word, ours] of Object.entries(words)) expect(mapDockerState(word)).toBe(ours);
    expect(mapDockerState(7)).toBe('unknown');
  });

  it('reads limits edge cases: PidsLimit 0/-1/null, CpuPeriod 0, quota -1', () => {
    const c = fixture('inspect-running.json');
    const hc = c['HostConfig'];
    hc.NanoCpus = 0;
    hc.CpuQuota = 50000;
    hc.CpuPeriod = 0; // Docker's default 100 ms period
    hc.PidsLimit = -1;
    hc.Memory = 0;
    expect(inspectionFromJson(c).info.limits).toEqual({ cpus: 0.5 });
    hc.CpuQuota = -1;
    hc.PidsLimit = 0;
    expect(inspectionFromJson(c).info.limits).toBeUndefined();
  });
});

describe('inspectionFromJson on corrupted answers', () => {
  it.each([
    ['null', null],
    ['an array', []],
    ['a string', 'x'],
    ['no Id', { Name: '/x' }],
    ['a short Id', { Id: 'a38b38ca4612' }],
    ['an upper-case Id', { Id: RUNNING_ID.toUpperCase() }],
    ['a numeric Id', { Id: 12 }],
  ])('throws a protocol RuntimeError for %s', (_what, value) => {
    expectProtocol(() => inspectionFromJson(value));
  });

  it('leaves out every field of the wrong type, never throwing', () => {
    const c = fixture('inspect-running.json');
    c['Name'] = 42;
    c['Created'] = 'yesterday';
    c['Image'] = { x: 1 };
    c['RestartCount'] = '3';
    c['LogPath'] = ['a'];
    c['Config'] = { Image: 7, Labels: { ok: 'yes', num: 1, obj: {}, nul: null } };
    c['State'] = { Status: 5, Pid: '25043', ExitCode: 'x', OOMKilled: 'true', Error: 9, StartedAt: 1, FinishedAt: null };
    c['HostConfig'] = { Memory: '64m', NanoCpus: 1e400, CpuQuota: 1.5, PidsLimit: {} };
    const { info } = inspectionFromJson(c);
    expect(info).toEqual({
      id: RUNNING_ID,
      runtime: 'docker',
      name: RUNNING_ID.slice(0, 12),
      state: 'unknown',
      restartCount: 0,
      labels: { ok: 'yes' },
      annotations: {},
    });
  });

  it('survives missing State, Config and HostConfig', () => {
    const { info } = inspectionFromJson({ Id: RUNNING_ID });
    expect(info).toEqual({ id: RUNNING_ID, runtime: 'docker', name: RUNNING_ID.slice(0, 12), state: 'unknown', restartCount: 0, labels: {}, annotations: {} });
  });

  it('rejects absurd numbers: a pid past PID_MAX_LIMIT, negative restarts, unsafe integers', () => {
    const c = fixture('inspect-running.json');
    c['State'].Pid = 2 ** 31;
    c['RestartCount'] = -4;
    c['HostConfig'].Memory = 2 ** 60;
    const { info } = inspectionFromJson(c);
    expect(info.pid).toBeUndefined();
    expect(info.restartCount).toBe(0);
    expect(info.limits?.memoryBytes).toBeUndefined();
  });

  it('drops oversized strings and labels, caps the label count', () => {
    const huge = 'x'.repeat(1 << 20);
    const c = fixture('inspect-k8s-container.json');
    c['Name'] = `/${huge}`;
    c['LogPath'] = huge;
    c['State'].Error = huge;
    c['State'].StartedAt = `2026-11-25T10:22:45.323945038Z${huge}`;
    c['Config'].Image = `${huge}:tag`;
    c['Config'].Labels['big'] = huge;
    c['Config'].Labels[huge] = 'v';
    c['Config'].Labels['io.kubernetes.pod.name'] = huge;
    const { info } = inspectionFromJson(c);
    expect(info.name).toBe(info.id.slice(0, 12)); // no usable Docker name, and no pod to take the k8s name from
    expect(info.logPath).toBeUndefined();
    expect(info.exitReason).toBeUndefined();
    expect(info.startedAtUnixNano).toBeUndefined();
    expect(info.imageName).toBeUndefined();
    expect(info.labels['big']).toBeUndefined();
    expect(Object.keys(info.labels).some((k) => k.length > 1024)).toBe(false);
    expect(info.pod).toBeUndefined(); // no valid pod name: not a pod container

    const many: Record<string, string> = {};
    for (let i = 0; i < 5000; i++) many[`k${i}`] = 'v';
    c['Config'].Labels = many;
    expect(Object.keys(inspectionFromJson(c).info.labels)).toHaveLength(1024);
  });

  it('does not let a __proto__ label touch the prototype', () => {
    const c = JSON.parse(fixtureText('inspect-running.json').replace('"app": "demo"', '"__proto__": "yes", "app": "demo"'));
    const { info } = inspectionFromJson(c);
    expect(Object.getPrototypeOf(info.labels)).toBe(Object.prototype);
    expect((info.labels as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(info.labels['app']).toBe('demo');
  });
});

describe('decodeJson', () => {
  it('decodes a recorded answer', () => {
    expect((decodeJson(readFileSync(new URL('list.json', FIXTURES)), 'list') as unknown[]).length).toBe(8);
  });

  it('turns invalid UTF-8 in a label into U+FFFD, not a failure', () => {
    const text = fixtureText('inspect-running.json').replace('"app": "demo"', '"app": "de@@mo"');
    const bytes = Buffer.from(text, 'utf8');
    const at = bytes.indexOf('@@');
    bytes[at] = 0xc3; // a lead byte ...
    bytes[at + 1] = 0x28; // ... followed by an ASCII byte: invalid
    const { info } = inspectionFromJson(decodeJson(bytes, 'inspect'));
    expect(info.labels['app']).toBe('de\ufffd(mo');
  });

  it.each([
    ['truncated JSON', Buffer.from(fixtureText('inspect-running.json').slice(0, 500))],
    ['empty', Buffer.alloc(0)],
    ['HTML', Buffer.from('<html>502 Bad Gateway</html>')],
    ['random bytes', Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 73 + 11) & 0xff))],
  ])('throws a protocol RuntimeError for %s', (_what, bytes) => {
    expectProtocol(() => decodeJson(bytes, 'inspect'));
  });

  it('never throws anything but protocol on any truncation of a recorded answer', () => {
    const text = fixtureText('inspect-k8s-container.json');
    for (let cut = 0; cut < text.length; cut += 7) {
      try {
        inspectionFromJson(decodeJson(Buffer.from(text.slice(0, cut)), 'inspect'));
      } catch (err) {
        expect((err as RuntimeError).reason).toBe('protocol');
      }
    }
  });
});

describe('listFromJson', () => {
  it('maps the recorded list', () => {
    const { entries, malformed } = listFromJson(fixture('list.json'));
    expect(malformed).toBe(0);
    expect(entries).toHaveLength(8);
    const byName = new Map(entries.map((e) => [e.info.name, e]));
    expect(byName.get('sxfix-quota')?.key).toBe('paused|1795602164');
    expect(byName.get('sxfix-quota')?.info.state).toBe('running');
    expect(byName.get('sxfix-running')?.info).toMatchObject({
      id: RUNNING_ID,
      imageName: 'docker.io/sextant-test/busybox',
      imageTags: ['latest'],
      imageId: 'sha256:7633becbd5245eaf5afdfe844a867f5cba2768f3106dd6d00a7d92a7fff30bec',
      createdAtUnixNano: 1795602164_000_000_000n,
      labels: { app: 'demo', 'io.sextant.test': '1' },
    });
    expect(byName.get('nginx')?.info.pod?.name).toBe('web-0');
    expect(byName.get('POD')?.info.sandbox).toBe(true);
  });

  it('skips and counts bad entries; an answer that is not an array is a protocol error', () => {
    const list = fixture('list.json') as unknown as unknown[];
    const { entries, malformed } = listFromJson([...list, null, 5, { Id: 'short' }, { Names: ['/x'] }, { Id: RUNNING_ID, Names: 'nope', State: 9, Created: 'x', Labels: [] }]);
    expect(malformed).toBe(4);
    expect(entries).toHaveLength(9);
    expect(entries[8]?.info).toMatchObject({ name: RUNNING_ID.slice(0, 12), state: 'unknown', labels: {} });
    expect(entries[8]?.key).toBe('|0');
    expectProtocol(() => listFromJson({ message: 'page not found' }));
    expectProtocol(() => listFromJson(null));
  });
});

describe('eventFromLine', () => {
  const lines = fixtureText('events.ndjson').split('\n').filter((l) => l.length > 0);

  it('maps the recorded events exactly, timeNano to the nanosecond', () => {
    const events = lines.map(eventFromLine);
    const kinds = events.map((e) => (typeof e === 'string' ? e : e.kind));
    expect(kinds.filter((k) => k === 'ignored')).toHaveLength(lines.filter((l) => /"Action":"(pause|kill|stop)"/.test(l)).length);
    expect(kinds).not.toContain('malformed');
    const first = events[0];
    expect(first).toEqual({ kind: 'create', runtime: 'docker', id: RUNNING_ID, timeUnixNano: 1795602164301906033n });
    const exits = events.filter((e) => typeof e !== 'string' && e.kind === 'exit');
    expect(exits.map((e) => (e as { exitCode?: number }).exitCode).sort()).toEqual([137, 137, 3, 3, 3, 3].sort());
    expect(events.some((e) => typeof e !== 'string' && e.kind === 'oom')).toBe(true);
    expect(events.some((e) => typeof e !== 'string' && e.kind === 'restart')).toBe(true);
    expect(events.at(-1)).toMatchObject({ kind: 'destroy', id: 'fb021ae06176f607e748a03f46f2f4c9e7c6747358acb29ecd9c6f9110987b24' });
  });

  it('ignores other types and actions, flags the malformed', () => {
    const die = JSON.parse(lines.find((l) => l.includes('"Action":"die"')) as string) as Record<string, any>;
    const variant = (patch: (e: Record<string, any>) => void): string => {
      const e = structuredClone(die);
      patch(e);
      return JSON.stringify(e);
    };
    expect(eventFromLine(variant((e) => (e['Type'] = 'network')))).toBe('ignored');
    expect(eventFromLine(variant((e) => (e['Action'] = 'exec_start: sh -c x')))).toBe('ignored');
    expect(eventFromLine(variant((e) => (e['Action'] = 'toString')))).toBe('ignored');
    expect(eventFromLine(variant((e) => delete e['Type']))).toBe('malformed');
    expect(eventFromLine(variant((e) => (e['Action'] = 5)))).toBe('malformed');
    expect(eventFromLine(variant((e) => { e['Actor'].ID = 'x'; e['id'] = 'y'; }))).toBe('malformed');
    expect(eventFromLine(variant((e) => { e['Actor'] = null; }))).toEqual(expect.not.objectContaining({ exitCode: expect.anything() }));
    expect(eventFromLine(variant((e) => { e['Actor'].Attributes.exitCode = '1e3'; }))).toEqual(expect.not.objectContaining({ exitCode: expect.anything() }));
    expect(eventFromLine(variant((e) => { e['Actor'].Attributes.exitCode = 7; }))).toEqual(expect.not.objectContaining({ exitCode: expect.anything() }));
    expect(eventFromLine(variant((e) => { e['Actor'].Attributes.exitCode = '-1'; }))).toMatchObject({ exitCode: -1 });
    // Time falls back to `time` (seconds), then to 0n.
    expect(eventFromLine(variant((e) => delete e['timeNano']))).toMatchObject({ timeUnixNano: BigInt(die['time']) * 1_000_000_000n });
    expect(eventFromLine(variant((e) => { delete e['timeNano']; delete e['time']; }))).toMatchObject({ timeUnixNano: 0n });
    expect(eventFromLine(variant((e) => { e['timeNano'] = -5; e['time'] = 'x'; }))).toMatchObject({ timeUnixNano: 0n });
    for (const bad of ['', '{', 'null', '[]', '"die"', '{"Type":"container"', 'not json at all', '\u0000\u0001']) {
      expect(eventFromLine(bad)).toBe('malformed');
    }
  });
});

describe('EventLineSplitter', () => {
  function split(chunks: Buffer[], maxLine = 1 << 20): { lines: string[]; oversize: number } {
    const lines: string[] = [];
    let oversize = 0;
    const s = new EventLineSplitter(maxLine, (l) => lines.push(l), () => oversize++);
    for (const c of chunks) s.push(c);
    return { lines, oversize };
  }

  it('reassembles lines across every possible chunk boundary, multi-byte characters included', () => {
    const text = '{"a":"é€𝄞"}\n{"b":2}\n\n  \n{"c":3}\n';
    const bytes = Buffer.from(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { lines } = split([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(lines).toEqual(['{"a":"é€𝄞"}', '{"b":2}', '{"c":3}']);
    }
    // One byte at a time.
    expect(split([...bytes].map((b) => Buffer.from([b]))).lines).toHaveLength(3);
  });

  it('drops a line over the cap whole, once, and goes on with the next', () => {
    const long = 'x'.repeat(100);
    const { lines, oversize } = split([Buffer.from(`{"a":1}\n${long.slice(0, 40)}`), Buffer.from(long.slice(40)), Buffer.from(`${long}\n{"b":2}\n`)], 64);
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
    expect(oversize).toBe(1);
  });

  it('keeps a trailing partial line until its newline comes', () => {
    expect(split([Buffer.from('{"a":1}\n{"b"')]).lines).toEqual(['{"a":1}']);
  });
});
