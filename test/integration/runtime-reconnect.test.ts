import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Docker from 'dockerode';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { CriClient } from '../../src/sources/container/cri-client.js';
import { DockerClient } from '../../src/sources/container/docker-client.js';
import { ContainerMetadataCache, type LifecycleEvent } from '../../src/sources/container/metadata-cache.js';
import type { Logger } from '../../src/self/logger.js';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import { until } from '../helpers/wait.js';

/**
 * A runtime that restarts, through the metadata cache: the real dockerd and containerd behind a
 * relay socket that the test cuts and reopens (what a daemon restart looks like from the
 * agent's side: connections reset, then the socket answers again). And a runtime that hangs:
 * a socket that accepts and never answers.
 */

const rt = await runtimesOrSkip('docker', 'cri');
const tmp = mkdtempSync(join(tmpdir(), 'sextant-reconnect-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A unix socket that pipes every connection to `target`; `cut()` drops them all and stops listening. */
class Relay {
  #server: net.Server | undefined;
  readonly #conns = new Set<net.Socket>();
  constructor(
    readonly path: string,
    readonly target: string,
  ) {}
  open(): Promise<void> {
    rmSync(this.path, { force: true });
    this.#server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      this.#conns.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.#conns.delete(client);
        this.#conns.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    return new Promise((resolve) => this.#server!.listen(this.path, resolve));
  }
  cut(): Promise<void> {
    for (const c of this.#conns) c.destroy();
    this.#conns.clear();
    const s = this.#server;
    this.#server = undefined;
    return new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }
}

function logCapture(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    logger: pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _e, done) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      }),
    ),
  };
}

describe.skipIf(!rt.available)('container runtimes that restart or hang, through the metadata cache', () => {
  const docker = new Docker({ socketPath: rt.dockerSock });
  const started: string[] = [];
  afterAll(async () => {
    for (const id of started) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
  });

  async function runContainer(name: string): Promise<string> {
    const c = await docker.createContainer({ name: `sx-rc-${process.pid}-${name}`, Image: rt.busyboxImage, Cmd: ['sleep', '600'], Labels: { [rt.testLabel]: '1' }, HostConfig: { NetworkMode: 'none' } });
    started.push(c.id);
    await c.start();
    return c.id;
  }

  it('Docker restarting: the stream ends, one warning, backoff, reconnect, and the relist reports what started meanwhile', async () => {
    const relay = new Relay(join(tmp, 'docker.sock'), rt.dockerSock);
    await relay.open();
    const { logger, lines } = logCapture();
    const cache = new ContainerMetadataCache([new DockerClient({ socketPath: relay.path })], {
      callTimeoutMs: 2000,
      resyncIntervalMs: 60_000,
      backoffInitialMs: 200,
      backoffMaxMs: 1000,
      logger,
    });
    const events: LifecycleEvent[] = [];
    cache.onLifecycle((e) => events.push(e));
    try {
      await cache.refresh();
      expect(cache.runtimeStatus()[0]!.status).toBe('up');
      const a = await runContainer('a');
      await until('the start of a', () => events.some((e) => e.kind === 'start' && e.info.id === a), 10_000);

      // The daemon "restarts": connections reset, the socket refuses for a while.
      await relay.cut();
      await until('the runtime down', () => cache.runtimeStatus()[0]!.status === 'down', { timeoutMs: 5000, everyMs: 100, step: () => cache.refresh() });
      const b = await runContainer('b'); // its start event is lost with the stream
      await cache.refresh();
      await cache.refresh();
      expect(lines.filter((l) => String(l['msg']).includes('unreachable'))).toHaveLength(1);
      expect(cache.get(a)).toBeDefined(); // last known containers kept while down

      await relay.open();
      await until('the runtime up again', () => cache.runtimeStatus()[0]!.status === 'up', { timeoutMs: 5000, everyMs: 100, step: () => cache.refresh() });
      expect(lines.filter((l) => String(l['msg']).includes('reachable again'))).toHaveLength(1);
      // The relist after reconnecting found b, and reported its start (its event was missed).
      expect(cache.get(b)?.state).toBe('running');
      expect(events.filter((e) => e.kind === 'start' && e.info.id === b)).toHaveLength(1);
      // And the new stream delivers again.
      await docker.getContainer(a).kill();
      await until('the exit of a', () => events.some((e) => e.kind === 'exit' && e.info.id === a), 10_000);
    } finally {
      await cache.stop();
      await relay.cut();
    }
  }, 60_000);

  it('containerd restarting: calls fail while it is gone, the cache keeps its containers and recovers', async () => {
    const relay = new Relay(join(tmp, 'cri.sock'), rt.criSock);
    await relay.open();
    const { logger, lines } = logCapture();
    const cache = new ContainerMetadataCache([new CriClient({ socketPath: relay.path, runtime: 'containerd' })], {
      callTimeoutMs: 1500,
      resyncIntervalMs: 60_000,
      backoffInitialMs: 200,
      backoffMaxMs: 1000,
      logger,
    });
    try {
      await cache.refresh();
      expect(cache.runtimeStatus()[0]!.status).toBe('up');
      const known = cache.size;
      await relay.cut();
      const t0 = performance.now();
      await cache.refresh();
      expect(performance.now() - t0).toBeLessThan(2500); // within the call deadline
      expect(cache.runtimeStatus()[0]!.status).toBe('down');
      expect(cache.size).toBe(known);
      await relay.open();
      await until('the runtime up again', () => cache.runtimeStatus()[0]!.status === 'up', { timeoutMs: 10_000, everyMs: 100, step: () => cache.refresh() });
      expect(lines.filter((l) => String(l['msg']).includes('reachable again'))).toHaveLength(1);
    } finally {
      await cache.stop();
      await relay.cut();
    }
  }, 60_000);

  it('a runtime that accepts and never answers costs each refresh at most the call deadline', async () => {
    const path = join(tmp, 'hung.sock');
    const held: net.Socket[] = [];
    const server = net.createServer((s) => held.push(s)); // accepts, never answers
    await new Promise<void>((r) => server.listen(path, r));
    const { logger } = logCapture();
    const cache = new ContainerMetadataCache([new DockerClient({ socketPath: path })], { callTimeoutMs: 300, resyncIntervalMs: 60_000, logger });
    try {
      const t0 = performance.now();
      await cache.refresh();
      expect(performance.now() - t0).toBeLessThan(1500);
      expect(cache.runtimeStatus()[0]).toMatchObject({ status: 'down', reason: 'timeout' });
    } finally {
      await cache.stop();
      for (const s of held) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
