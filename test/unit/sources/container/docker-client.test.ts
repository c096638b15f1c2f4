/**
 * DockerClient against a stand-in Engine API: a real node:http server on a unix socket that
 * answers with the answers recorded from dockerd (test/fixtures/docker/), and misbehaves on
 * purpose (hangs, 404s, 500s, garbage, oversized bodies, broken event streams). The same client
 * against the real dockerd is test/integration/docker-client.test.ts.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../../src/errors.js';
import { DockerClient } from '../../../../src/sources/container/docker-client.js';
import type { RuntimeEvent } from '../../../../src/sources/container/types.js';

const FIXTURES = new URL('../../../fixtures/docker/', import.meta.url);
const fixtureText = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const LIST = JSON.parse(fixtureText('list.json')) as Array<Record<string, any>>;
const INSPECT = new Map<string, string>();
for (const name of ['running', 'quota', 'exited', 'created', 'oom', 'restart', 'k8s-sandbox', 'k8s-container']) {
  const text = fixtureText(`inspect-${name}.json`);
  INSPECT.set((JSON.parse(text) as { Id: string }).Id, text);
}
const EVENTS = fixtureText('events.ndjson');
const RUNNING_ID = 'a38b38ca4612d9ebe2036d30ce5dcf8cb2af3899fef32c133ad40e24846816f7';
const OOM_ID = '3fe0e2eebd3501343ef91b4b02c0c9d352942a0f061c67b32f5eeef0b622541a';
const EXITED_ID = '9b358b7d6c4aa13f842cb8301b01d2beedb29126d1b1e7265312c5ead6094d46';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const dir = mkdtempSync(join(tmpdir(), 'sextant-docker-client-'));
const sockPath = join(dir, 'docker.sock');
let handler: Handler = () => undefined;
let inspectsInFlight = 0;
let maxInspectsInFlight = 0;
let inspectCount = 0;
const server = http.createServer((req, res) => handler(req, res));
const serverSockets = new Set<net.Socket>();
server.on('connection', (s) => {
  serverSockets.add(s);
  s.on('close', () => serverSockets.delete(s));
});

/** The recorded engine: list and inspect from the fixtures, each inspect held `delayMs`. */
function recordedEngine(opts: { list?: unknown; delayMs?: number; inspect?: (id: string, res: http.ServerResponse) => boolean } = {}): Handler {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://d');
    if (url.pathname === '/containers/json') {
      expect(url.searchParams.get('all')).toBe('1');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(opts.list ?? LIST));
      return;
    }
    const m = /^\/containers\/([^/]+)\/json$/.exec(url.pathname);
    if (m !== null) {
      const id = decodeURIComponent(m[1] as string);
      inspectCount++;
      inspectsInFlight++;
      maxInspectsInFlight = Math.max(maxInspectsInFlight, inspectsInFlight);
      setTimeout(() => {
        inspectsInFlight--;
        if (opts.inspect?.(id, res)) return;
        const body = INSPECT.get(id);
        if (body === undefined) {
          res.statusCode = 404;
          res.end(JSON.stringify({ message: `No such container: ${id}` }));
        } else {
          res.setHeader('content-type', 'application/json');
          res.end(body);
        }
      }, opts.delayMs ?? 0);
      return;
    }
    res.statusCode = 404;
    res.end('{"message":"page not found"}');
  };
}

function resetCounts(): void {
  inspectsInFlight = 0;
  maxInspectsInFlight = 0;
  inspectCount = 0;
}

async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeError);
    return (err as RuntimeError).reason;
  }
  return 'resolved';
}

const clients: DockerClient[] = [];
function client(inspectConcurrency?: number, path = sockPath): DockerClient {
  const c = new DockerClient(inspectConcurrency === undefined ? { socketPath: path } : { socketPath: path, inspectConcurrency });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(sockPath, resolve));
});

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  resetCounts();
});

afterAll(async () => {
  for (const s of serverSockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('DockerClient.list', () => {
  it('lists and inspects every container, at most inspectConcurrency at once', async () => {
    handler = recordedEngine({ delayMs: 20 });
    const c = client(3);
    const list = await c.list(AbortSignal.timeout(5000));
    expect(list).toHaveLength(8);
    expect(inspectCount).toBe(8);
    expect(maxInspectsInFlight).toBe(3);
    const running = list.find((i) => i.id === RUNNING_ID);
    expect(running).toMatchObject({ name: 'sxfix-running', state: 'running', pid: 25043, limits: { memoryBytes: 67108864, cpus: 0.5, pids: 100 } });
    expect(list.find((i) => i.name === 'nginx')?.pod?.namespace).toBe('shop');
    // In the list's order.
    expect(list.map((i) => i.id)).toEqual(LIST.map((e) => e['Id']));
  });

  it('reuses an inspection while State and Created stay, and re-inspects on change or invalidate()', async () => {
    handler = recordedEngine();
    const c = client();
    const first = await c.list(AbortSignal.timeout(5000));
    expect(inspectCount).toBe(8);
    const second = await c.list(AbortSignal.timeout(5000));
    expect(inspectCount).toBe(8);
    expect(second.find((i) => i.id === RUNNING_ID)).toBe(first.find((i) => i.id === RUNNING_ID));

    c.invalidate(RUNNING_ID);
    await c.list(AbortSignal.timeout(5000));
    expect(inspectCount).toBe(9);

    // The container was started again: the list and the inspection say so.
    const changed = LIST.map((e) => (e['Id'] === EXITED_ID ? { ...e, State: 'running' } : e));
    const restarted = (INSPECT.get(EXITED_ID) as string).replace('"Status": "exited"', '"Status": "running"');
    const inspect = (id: string, res: http.ServerResponse): boolean => (id === EXITED_ID ? (res.end(restarted), true) : false);
    handler = recordedEngine({ list: changed, inspect });
    await c.list(AbortSignal.timeout(5000));
    expect(inspectCount).toBe(10);

    // A container no longer listed is forgotten: listed again, it is inspected again.
    handler = recordedEngine({ list: changed.filter((e) => e['Id'] !== OOM_ID), inspect });
    expect(await c.list(AbortSignal.timeout(5000))).toHaveLength(7);
    expect(inspectCount).toBe(10);
    handler = recordedEngine({ list: changed, inspect });
    await c.list(AbortSignal.timeout(5000));
    expect(inspectCount).toBe(11);
  });

  it('does not cache an inspection that an invalidate() overtook', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    handler = recordedEngine({
      inspect: (id, res) => {
        if (id !== RUNNING_ID) return false;
        void gate.then(() => res.end(INSPECT.get(id)));
        return true;
      },
    });
    const c = client();
    const listing = c.list(AbortSignal.timeout(5000));
    await new Promise((r) => setTimeout(r, 50));
    c.invalidate(RUNNING_ID); // an event came while the inspection was on the wire
    release();
    await listing;
    const before = inspectCount;
    await c.list(AbortSignal.timeout(5000));
    expect(inspectCount).toBe(before + 1);
  });

  it('leaves out a container that vanished (404), falls back to the list entry on 500 or garbage', async () => {
    handler = recordedEngine({
      inspect: (id, res) => {
        if (id === OOM_ID) {
          res.statusCode = 404;
          res.end('{"message":"No such container"}');
          return true;
        }
        if (id === EXITED_ID) {
          res.statusCode = 500;
          res.end(JSON.stringify({ message: 'x'.repeat(100_000) }));
          return true;
        }
        if (id === RUNNING_ID) {
          res.end('{"Id": "not an id"}');
          return true;
        }
        return false;
      },
    });
    const c = client();
    const list = await c.list(AbortSignal.timeout(5000));
    expect(list).toHaveLength(7);
    expect(list.find((i) => i.id === OOM_ID)).toBeUndefined();
    const exited = list.find((i) => i.id === EXITED_ID);
    expect(exited).toMatchObject({ name: 'sxfix-exited', state: 'exited', createdAtUnixNano: 1795602164_000_000_000n });
    expect(exited?.pid).toBeUndefined();
    expect(list.find((i) => i.id === RUNNING_ID)).toMatchObject({ name: 'sxfix-running', imageTags: ['latest'] });
    expect(c.malformedAnswers).toBe(1);
    // Neither fallbacks nor a 404 are cached: the next list tries all three again.
    const before = inspectCount;
    await c.list(AbortSignal.timeout(5000));
    expect(inspectCount - before).toBe(3);
  });

  it('caps an inspect answer at 4 MiB', async () => {
    handler = recordedEngine({
      inspect: (id, res) => {
        if (id !== RUNNING_ID) return false;
        res.write(`{"Id":"${RUNNING_ID}","Config":{"Labels":{"big":"`);
        res.end(`${'x'.repeat(5 * 1024 * 1024)}"}}}`);
        return true;
      },
    });
    const c = client();
    expect(await reasonOf(c.inspect(RUNNING_ID, AbortSignal.timeout(5000)))).toBe('protocol');
  });

  it("answers 'failed' with the status and at most ~200 chars of the daemon's message", async () => {
    handler = (_req, res) => {
      res.statusCode = 500;
      res.end(JSON.stringify({ message: `boom ${'y'.repeat(10_000)}` }));
    };
    const c = client();
    const err = await c.list(AbortSignal.timeout(5000)).catch((e: unknown) => e as RuntimeError);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).reason).toBe('failed');
    expect((err as RuntimeError).message).toContain('HTTP 500: boom');
    expect((err as RuntimeError).message.length).toBeLessThan(300);
  });

  it("answers 'protocol' for a list that is not JSON or not an array, or not HTTP at all", async () => {
    handler = (_req, res) => res.end('<html>hello</html>');
    expect(await reasonOf(client().list(AbortSignal.timeout(5000)))).toBe('protocol');
    handler = (_req, res) => res.end('{"Id":"x"}');
    expect(await reasonOf(client().list(AbortSignal.timeout(5000)))).toBe('protocol');

    const garbage = net.createServer((s) => s.on('data', () => s.end('SSH-2.0-OpenSSH\r\n\r\n')));
    const garbagePath = join(dir, 'garbage.sock');
    await new Promise<void>((r) => garbage.listen(garbagePath, r));
    try {
      expect(await reasonOf(client(undefined, garbagePath).list(AbortSignal.timeout(5000)))).toBe('protocol');
    } finally {
      await new Promise((r) => garbage.close(r));
    }
  });

  it('inspect(): fresh, undefined for an unknown or impossible id', async () => {
    handler = recordedEngine();
    const c = client();
    expect((await c.inspect(RUNNING_ID, AbortSignal.timeout(5000)))?.name).toBe('sxfix-running');
    expect(await c.inspect('0'.repeat(64), AbortSignal.timeout(5000))).toBeUndefined();
    expect(await c.inspect('../../images/json', AbortSignal.timeout(5000))).toBeUndefined();
    expect(inspectCount).toBe(2);
  });
});

describe('DockerClient deadlines and socket states', () => {
  it("rejects with 'timeout' within the deadline when the daemon never answers, and frees the socket", async () => {
    const hung = new Set<net.Socket>();
    const hang = net.createServer((s) => {
      s.resume(); // read the request (and the client's FIN) but never answer
      hung.add(s);
      s.on('close', () => hung.delete(s));
    });
    const hangPath = join(dir, 'hang.sock');
    await new Promise<void>((r) => hang.listen(hangPath, r));
    try {
      const c = client(undefined, hangPath);
      const t0 = performance.now();
      expect(await reasonOf(c.list(AbortSignal.timeout(300)))).toBe('timeout');
      const took = performance.now() - t0;
      expect(took).toBeGreaterThanOrEqual(280);
      expect(took).toBeLessThan(1000);
      expect(await reasonOf(c.inspect(RUNNING_ID, AbortSignal.timeout(100)))).toBe('timeout');
      await new Promise((r) => setTimeout(r, 50));
      expect(hung.size).toBe(0); // the client closed its end
    } finally {
      await new Promise((r) => hang.close(r));
    }
  });

  it("rejects with 'timeout' when the answer stops half-way", async () => {
    handler = (_req, res) => {
      res.setHeader('content-length', '1000');
      res.write('[{"Id":');
    };
    const t0 = performance.now();
    expect(await reasonOf(client().list(AbortSignal.timeout(200)))).toBe('timeout');
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("rejects with 'timeout' at once for a signal already aborted", async () => {
    expect(await reasonOf(client().list(AbortSignal.abort()))).toBe('timeout');
  });

  it("'absent' without a socket file, 'unavailable' when nobody listens on it", async () => {
    expect(await reasonOf(client(undefined, join(dir, 'nope.sock')).list(AbortSignal.timeout(1000)))).toBe('absent');
    // A socket file left behind by a dead daemon: bound, then the listener gone.
    const stale = net.createServer();
    const bound = join(dir, 'bound.sock');
    const stalePath = join(dir, 'stale.sock');
    await new Promise<void>((r) => stale.listen(bound, r));
    renameSync(bound, stalePath);
    await new Promise((r) => stale.close(r));
    expect(await reasonOf(client(undefined, stalePath).list(AbortSignal.timeout(1000)))).toBe('unavailable');
    expect(await reasonOf(client(undefined, stalePath).inspect(RUNNING_ID, AbortSignal.timeout(1000)))).toBe('unavailable');
  });

  it("'unavailable' when the daemon drops the connection", async () => {
    handler = (req) => req.socket.destroy();
    expect(await reasonOf(client().list(AbortSignal.timeout(1000)))).toBe('unavailable');
  });

  it('close() rejects what is in flight and refuses new calls', async () => {
    handler = () => undefined; // never answers
    const c = client();
    const pending = c.list(AbortSignal.timeout(10_000));
    await new Promise((r) => setTimeout(r, 30));
    const t0 = performance.now();
    c.close();
    expect(await reasonOf(pending)).toBe('unavailable');
    expect(performance.now() - t0).toBeLessThan(200);
    expect(await reasonOf(c.list(AbortSignal.timeout(1000)))).toBe('unavailable');
  });

  it('validates its options', () => {
    expect(() => new DockerClient({ socketPath: '' })).toThrow(TypeError);
    expect(() => new DockerClient({ socketPath: sockPath, inspectConcurrency: 0 })).toThrow(/inspectConcurrency/);
    expect(() => new DockerClient({ socketPath: sockPath, inspectConcurrency: 1.5 })).toThrow(/inspectConcurrency/);
  });
});

describe('DockerClient.watch', () => {
  /** An events endpoint that writes `chunks` (with a pause between) and then does `then`. */
  function eventsEngine(chunks: (string | Buffer)[], then: 'hold' | 'end' | 'destroy', seen?: (url: URL) => void): Handler {
    return (req, res) => {
      const url = new URL(req.url ?? '/', 'http://d');
      if (url.pathname !== '/events') {
        res.statusCode = 404;
        res.end();
        return;
      }
      seen?.(url);
      res.setHeader('content-type', 'application/json');
      res.flushHeaders();
      let i = 0;
      const next = (): void => {
        if (res.destroyed) return;
        if (i < chunks.length) {
          res.write(chunks[i++] as string | Buffer);
          setTimeout(next, 5);
        } else if (then === 'end') {
          res.end();
        } else if (then === 'destroy') {
          res.destroy();
        }
      };
      next();
    };
  }

  function collect(c: DockerClient): { events: RuntimeEvent[]; ends: (Error | undefined)[]; ended: Promise<void>; watch: { close(): void } } {
    const events: RuntimeEvent[] = [];
    const ends: (Error | undefined)[] = [];
    let done: () => void = () => undefined;
    const ended = new Promise<void>((r) => (done = r));
    const watch = c.watch(
      (e) => events.push(e),
      (err) => {
        ends.push(err);
        done();
      },
    );
    return { events, ends, ended, watch };
  }

  it('streams the recorded events split at awkward places, skipping and counting garbage', async () => {
    const bytes = Buffer.from(EVENTS);
    const chunks: (string | Buffer)[] = [];
    for (let at = 0; at < bytes.length; at += 97) chunks.push(bytes.subarray(at, Math.min(bytes.length, at + 97)));
    chunks.push('not json\n', '{"Type":"container","Action":"start","Actor":{"ID":"short"}}\n', `{"x":"${'z'.repeat(2 * 1024 * 1024)}"}\n`, '{"Type":"network","Action":"connect"}\n');
    chunks.push(bytes.subarray(0, bytes.indexOf('\n') + 1));
    let query: URL | undefined;
    handler = eventsEngine(chunks, 'end', (u) => (query = u));
    const c = client();
    const { events, ends, ended } = collect(c);
    await ended;
    expect(JSON.parse(query?.searchParams.get('filters') ?? '{}')).toEqual({ type: ['container'], event: ['create', 'start', 'die', 'oom', 'restart', 'destroy'] });
    expect(c.malformedEvents).toBe(3);
    const expected = EVENTS.split('\n').filter((l) => /"Action":"(create|start|die|oom|restart|destroy)"/.test(l)).length + 1;
    expect(events).toHaveLength(expected);
    expect(events[0]).toEqual({ kind: 'create', runtime: 'docker', id: RUNNING_ID, timeUnixNano: 1795602164301906033n });
    expect(events.at(-1)).toEqual(events[0]);
    expect(events.filter((e) => e.kind === 'exit').map((e) => e.exitCode)).toContain(137);
    expect(ends).toHaveLength(1);
    expect((ends[0] as RuntimeError).reason).toBe('unavailable');
  });

  it('calls onEnd once with an error when the connection breaks, and delivers nothing after', async () => {
    handler = eventsEngine([EVENTS.slice(0, EVENTS.indexOf('\n') + 1)], 'destroy');
    const { events, ends, ended } = collect(client());
    await ended;
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toHaveLength(1);
    expect(ends).toHaveLength(1);
    expect(ends[0]).toBeInstanceOf(RuntimeError);
  });

  it('close() stops the stream without calling onEnd', async () => {
    handler = eventsEngine([EVENTS.slice(0, EVENTS.indexOf('\n') + 1)], 'hold');
    const c = client();
    const { events, ends, watch } = collect(c);
    await new Promise((r) => setTimeout(r, 100));
    expect(events).toHaveLength(1);
    watch.close();
    watch.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(serverSockets.size).toBe(0);
    expect(ends).toHaveLength(0);
  });

  it("client close() ends watches silently too", async () => {
    handler = eventsEngine([], 'hold');
    const c = client();
    const { ends } = collect(c);
    await new Promise((r) => setTimeout(r, 50));
    c.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(ends).toHaveLength(0);
    expect(serverSockets.size).toBe(0);
  });

  it("onEnd with 'failed' on a non-2xx answer, 'absent' without a socket, 'unavailable' when refused", async () => {
    handler = (_req, res) => {
      res.statusCode = 500;
      res.end('{"message":"events broken"}');
    };
    const failed = collect(client());
    await failed.ended;
    expect((failed.ends[0] as RuntimeError).reason).toBe('failed');
    expect((failed.ends[0] as RuntimeError).message).toContain('events broken');

    let sync = true;
    const absent = client(undefined, join(dir, 'none.sock')).watch(() => undefined, (err) => {
      expect(sync).toBe(false); // after watch() returned
      expect((err as RuntimeError).reason).toBe('absent');
    });
    sync = false;
    expect(absent).toBeDefined();
    await new Promise((r) => setTimeout(r, 10));

    const stale = net.createServer();
    const bound = join(dir, 'bound-watch.sock');
    const stalePath = join(dir, 'stale-watch.sock');
    await new Promise<void>((r) => stale.listen(bound, r));
    renameSync(bound, stalePath);
    await new Promise((r) => stale.close(r));
    const refused = collect(client(undefined, stalePath));
    await refused.ended;
    expect(refused.ends).toHaveLength(1);
    expect((refused.ends[0] as RuntimeError).reason).toBe('unavailable');
  });

  it('ends the watch with the error when onEvent throws', async () => {
    handler = eventsEngine([EVENTS], 'hold');
    const c = client();
    const boom = new Error('consumer bug');
    let calls = 0;
    const err = await new Promise<Error | undefined>((resolve) => {
      c.watch(
        () => {
          calls++;
          throw boom;
        },
        resolve,
      );
    });
    expect(err).toBe(boom);
    expect(calls).toBe(1);
  });
});
