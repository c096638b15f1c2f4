import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../../src/errors.js';
import { ContainerMetadataCache, type LifecycleEvent } from '../../../../src/sources/container/metadata-cache.js';
import type { ContainerInfo, RuntimeClient, RuntimeEvent, RuntimeName, RuntimeWatch } from '../../../../src/sources/container/types.js';
import { Registry } from '../../../../src/self/registry.js';
import type { Logger } from '../../../../src/self/logger.js';
import { until } from '../../../helpers/wait.js';

/**
 * The cache's own logic — lifecycle derivation, backoff, deadlines, stream handling — against a
 * scripted client of our own RuntimeClient interface. The real Docker and containerd behind that
 * interface are exercised in test/integration/.
 */

const ID = (n: number): string => n.toString(16).padStart(64, '0');

function info(n: number, over: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id: ID(n),
    runtime: 'containerd',
    name: `c${n}`,
    state: 'running',
    restartCount: 0,
    labels: {},
    annotations: {},
    startedAtUnixNano: 1000n * BigInt(n),
    ...over,
  };
}

class ScriptedClient implements RuntimeClient {
  readonly socketPath = '/run/test.sock';
  containers: ContainerInfo[] = [];
  failWith: RuntimeError | undefined;
  hang = false;
  lists = 0;
  inspects = 0;
  closed = false;
  onEvent: ((e: RuntimeEvent) => void) | undefined;
  onEnd: ((err: Error | undefined) => void) | undefined;
  watch?: RuntimeClient['watch'];

  constructor(readonly runtime: RuntimeName, streaming = false) {
    if (streaming) {
      this.watch = (onEvent, onEnd): RuntimeWatch => {
        this.onEvent = onEvent;
        this.onEnd = onEnd;
        return { close: () => (this.onEvent = undefined) };
      };
    }
  }

  async #call<T>(signal: AbortSignal, value: () => T): Promise<T> {
    if (this.failWith) throw this.failWith;
    if (this.hang) {
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(new RuntimeError(this.runtime, 'timeout', 'deadline')), { once: true }));
    }
    return value();
  }
  list(signal: AbortSignal): Promise<ContainerInfo[]> {
    this.lists++;
    return this.#call(signal, () => [...this.containers]);
  }
  inspect(id: string, signal: AbortSignal): Promise<ContainerInfo | undefined> {
    this.inspects++;
    return this.#call(signal, () => this.containers.find((c) => c.id === id));
  }
  invalidate(): void {}
  close(): void {
    this.closed = true;
  }
  set(c: ContainerInfo): void {
    this.containers = [...this.containers.filter((x) => x.id !== c.id), c];
  }
}

function capture(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

function setup(clients: RuntimeClient[], over: { callTimeoutMs?: number; resyncIntervalMs?: number } = {}) {
  let now = 0;
  const { logger, lines } = capture();
  const registry = new Registry();
  const cache = new ContainerMetadataCache(clients, {
    callTimeoutMs: over.callTimeoutMs ?? 200,
    resyncIntervalMs: over.resyncIntervalMs ?? 60_000,
    backoffInitialMs: 1000,
    backoffMaxMs: 8000,
    absentRetryMs: 30_000,
    logger,
    registry,
    clock: () => now,
  });
  const events: LifecycleEvent[] = [];
  cache.onLifecycle((e) => events.push(e));
  return { cache, events, lines, registry, advance: (ms: number) => (now += ms) };
}

const kinds = (events: LifecycleEvent[]): string[] => events.map((e) => `${e.kind}:${e.info.name}${e.exitCode === undefined ? '' : `:${e.exitCode}`}`);

describe('ContainerMetadataCache from successive lists (CRI)', () => {
  it('reports nothing for containers that were running before the first list', async () => {
    const c = new ScriptedClient('containerd');
    c.containers = [info(1), info(2, { state: 'exited', exitCode: 1, finishedAtUnixNano: 5n })];
    const { cache, events } = setup([c]);
    await cache.refresh();
    expect(cache.size).toBe(2);
    expect(cache.get(ID(1))?.name).toBe('c1');
    expect(events).toEqual([]);
  });

  it('derives start, exit with code and reason, OOM, restart and a vanished container', async () => {
    const c = new ScriptedClient('containerd');
    const { cache, events } = setup([c]);
    await cache.refresh();
    c.set(info(3, { state: 'created', startedAtUnixNano: undefined }));
    await cache.refresh();
    expect(events).toEqual([]);
    c.set(info(3, { startedAtUnixNano: 30n }));
    await cache.refresh();
    expect(kinds(events)).toEqual(['start:c3']);
    expect(events[0]!.timeUnixNano).toBe(30n);
    c.set(info(3, { state: 'exited', exitCode: 137, exitReason: 'OOMKilled', oomKilled: true, startedAtUnixNano: 30n, finishedAtUnixNano: 40n }));
    await cache.refresh();
    expect(kinds(events.slice(1))).toEqual(['oom:c3', 'exit:c3:137']);
    // kubelet starts the next attempt: a new id with attempt 1.
    c.set(info(4, { name: 'c3', restartCount: 1, startedAtUnixNano: 50n }));
    await cache.refresh();
    expect(kinds(events.slice(3))).toEqual(['restart:c3']);
    // A container that starts and exits between two lists still gets both events.
    c.set(info(5, { state: 'exited', exitCode: 2, startedAtUnixNano: 60n, finishedAtUnixNano: 61n }));
    await cache.refresh();
    expect(kinds(events.slice(4))).toEqual(['start:c5', 'exit:c5:2']);
    // Removed while running: the exit is still reported, without a code.
    c.containers = c.containers.filter((x) => x.id !== ID(4));
    await cache.refresh();
    expect(kinds(events.slice(6))).toEqual(['exit:c3']);
    expect(cache.get(ID(4))).toBeUndefined();
  });

  it('counts an OOM from cgroup counters once, so the OOMKilled exit adds no second one', async () => {
    const c = new ScriptedClient('containerd');
    const { cache, events } = setup([c]);
    c.containers = [info(1)];
    await cache.refresh();
    cache.reportOomKills(ID(1), 1, 7n);
    c.set(info(1, { state: 'exited', exitCode: 137, oomKilled: true, exitReason: 'OOMKilled', startedAtUnixNano: 1000n, finishedAtUnixNano: 8n }));
    await cache.refresh();
    expect(kinds(events)).toEqual(['oom:c1', 'exit:c1:137']);
  });

  it('indexes a pod\'s containers and its sandbox, and never reports events for the sandbox', async () => {
    const c = new ScriptedClient('containerd');
    const pod = { uid: 'u-1', name: 'web', namespace: 'shop', labels: {}, annotations: {} };
    const { cache, events } = setup([c]);
    await cache.refresh();
    c.containers = [info(9, { sandbox: true, name: 'web', pod }), info(10, { pod })];
    await cache.refresh();
    expect(cache.podContainers('u-1').map((x) => x.id).sort()).toEqual([ID(9), ID(10)]);
    expect(kinds(events)).toEqual(['start:c10']);
  });
});

describe('ContainerMetadataCache failure handling', () => {
  it('an absent socket: one log line, no retry before absentRetryMs, then found', async () => {
    const c = new ScriptedClient('cri-o');
    c.failWith = new RuntimeError('cri-o', 'absent', 'no socket');
    const { cache, lines, advance } = setup([c]);
    await cache.refresh();
    await cache.refresh();
    expect(c.lists).toBe(1);
    expect(lines.filter((l) => String(l['msg']).includes('no cri-o socket'))).toHaveLength(1);
    expect(cache.runtimeStatus()[0]!.status).toBe('absent');
    advance(30_000);
    c.failWith = undefined;
    c.containers = [info(1)];
    await cache.refresh();
    expect(cache.runtimeStatus()[0]!.status).toBe('up');
    expect(cache.size).toBe(1);
  });

  it('a failing runtime: backoff doubles up to the cap, containers are kept, the recovery is logged once', async () => {
    const c = new ScriptedClient('containerd');
    c.containers = [info(1)];
    const { cache, lines, advance } = setup([c]);
    await cache.refresh();
    c.failWith = new RuntimeError('containerd', 'unavailable', 'connection refused');
    await cache.refresh();
    expect(cache.get(ID(1))).toBeDefined();
    const tries = (): number => c.lists;
    const at = tries();
    await cache.refresh(); // within the backoff: no call
    expect(tries()).toBe(at);
    advance(1000);
    await cache.refresh();
    expect(tries()).toBe(at + 1);
    advance(1000); // the backoff is now 2 s (±25% jitter): still waiting
    await cache.refresh();
    expect(tries()).toBe(at + 1);
    advance(8000 * 4);
    c.failWith = undefined;
    await cache.refresh();
    expect(lines.filter((l) => String(l['msg']).includes('unreachable'))).toHaveLength(1);
    expect(lines.filter((l) => String(l['msg']).includes('reachable again'))).toHaveLength(1);
  });

  it('a hung runtime costs at most the call deadline', async () => {
    const c = new ScriptedClient('containerd');
    c.hang = true;
    const { cache } = setup([c], { callTimeoutMs: 100 });
    const t0 = performance.now();
    await cache.refresh();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(cache.runtimeStatus()[0]).toMatchObject({ status: 'down', reason: 'timeout' });
  });

  it('stop() aborts a call in flight and closes the clients', async () => {
    const c = new ScriptedClient('containerd');
    c.hang = true;
    const { cache } = setup([c], { callTimeoutMs: 60_000 });
    const pending = cache.refresh();
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    await cache.stop();
    await pending;
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(c.closed).toBe(true);
  });
});

describe('ContainerMetadataCache with an event stream (Docker)', () => {
  it('inspects on an event at once and reports it, exit code from the event', async () => {
    const c = new ScriptedClient('docker', true);
    const { cache, events } = setup([c]);
    await cache.refresh();
    expect(c.onEvent).toBeDefined();
    const listsAfterSync = c.lists;
    c.set(info(1, { runtime: 'docker' }));
    c.onEvent!({ kind: 'start', runtime: 'docker', id: ID(1), timeUnixNano: 11n });
    await until('1 event', () => events.length === 1);
    expect(kinds(events)).toEqual(['start:c1']);
    // The restart policy already started it again by the time it is inspected.
    c.set(info(1, { runtime: 'docker', restartCount: 1, startedAtUnixNano: 99n }));
    c.onEvent!({ kind: 'exit', runtime: 'docker', id: ID(1), timeUnixNano: 12n, exitCode: 3 });
    c.onEvent!({ kind: 'start', runtime: 'docker', id: ID(1), timeUnixNano: 13n });
    await until('3 events', () => events.length === 3);
    expect(kinds(events.slice(1))).toEqual(['exit:c1:3', 'restart:c1']);
    c.onEvent!({ kind: 'oom', runtime: 'docker', id: ID(1), timeUnixNano: 14n });
    await until('4 events', () => events.length === 4);
    expect(events[3]!.kind).toBe('oom');
    // A refresh within the resync interval does not list again.
    await cache.refresh();
    expect(c.lists).toBe(listsAfterSync);
    c.onEvent!({ kind: 'destroy', runtime: 'docker', id: ID(1), timeUnixNano: 15n });
    expect(cache.get(ID(1))).toBeUndefined();
  });

  it('a stream that ends marks the runtime down; the next turn after the backoff relists and reopens it', async () => {
    const c = new ScriptedClient('docker', true);
    const { cache, advance, lines } = setup([c]);
    await cache.refresh();
    const first = c.onEnd!;
    first(new RuntimeError('docker', 'unavailable', 'socket closed'));
    expect(cache.runtimeStatus()[0]!.status).toBe('down');
    const lists = c.lists;
    advance(1500);
    await cache.refresh();
    expect(c.lists).toBe(lists + 1);
    expect(c.onEnd).not.toBe(first);
    expect(cache.runtimeStatus()[0]!.status).toBe('up');
    expect(lines.some((l) => String(l['msg']).includes('reachable again'))).toBe(true);
  });

  it('two runtimes at once (minikube docker driver): one view', async () => {
    const d = new ScriptedClient('docker', true);
    const k = new ScriptedClient('containerd');
    d.containers = [info(1, { runtime: 'docker' })];
    k.containers = [info(2)];
    const { cache, registry } = setup([d, k]);
    await cache.refresh();
    expect([...cache.all()].map((x) => x.runtime).sort()).toEqual(['containerd', 'docker']);
    expect(cache.connected.sort()).toEqual(['containerd', 'docker']);
    expect(registry.counter('sextant_container_runtime_calls_total', '').get({ runtime: 'docker', outcome: 'ok' })).toBe(1);
  });
});


describe('ContainerMetadataCache.resolve: names for cgroups found before the runtime said anything', () => {
  it('asks the connected runtimes once per unknown id; a listed runtime reports the start from there, once', async () => {
    const c = new ScriptedClient('containerd');
    const { cache, events } = setup([c]);
    await cache.refresh();
    c.set(info(1));
    await cache.resolve(new Set([ID(1), ID(2)]));
    expect(cache.get(ID(1))?.name).toBe('c1');
    expect(kinds(events)).toEqual(['start:c1']);
    const inspects = c.inspects;
    // ID(2) is known to no runtime: not asked again until a list.
    await cache.resolve(new Set([ID(1), ID(2)]));
    expect(c.inspects).toBe(inspects);
    // The next list sees the same container: no second start.
    await cache.refresh();
    expect(kinds(events)).toEqual(['start:c1']);
    // After that list, an id still unknown is asked about again.
    await cache.resolve(new Set([ID(2)]));
    expect(c.inspects).toBe(inspects + 1);
  });

  it('a streaming runtime: the event reports the start, as a start (not a restart), once', async () => {
    const c = new ScriptedClient('docker', true);
    const { cache, events } = setup([c]);
    await cache.refresh();
    c.set(info(1, { runtime: 'docker' }));
    await cache.resolve(new Set([ID(1)]));
    expect(cache.get(ID(1))).toBeDefined();
    expect(events).toEqual([]);
    c.onEvent!({ kind: 'start', runtime: 'docker', id: ID(1), timeUnixNano: 1n });
    await until('1 event', () => events.length === 1);
    expect(kinds(events)).toEqual(['start:c1']);
  });

  it('runtimes that are down are not asked', async () => {
    const c = new ScriptedClient('containerd');
    c.failWith = new RuntimeError('containerd', 'unavailable', 'refused');
    const { cache } = setup([c]);
    await cache.refresh();
    const inspects = c.inspects;
    await cache.resolve(new Set([ID(1)]));
    expect(c.inspects).toBe(inspects);
  });
});
