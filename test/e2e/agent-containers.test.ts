import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import { storedRequests } from './helpers/gateway-store.js';
import { SextantProcess } from './helpers/sextant-process.js';
import { until } from '../helpers/wait.js';

/**
 * `sextant agent --local` on a node with a real dockerd and a real containerd CRI: container
 * metrics and lifecycle events travel the whole way (source → pipeline → OTLP/HTTP → gateway
 * store), with the container's names on them.
 */

const rt = await runtimesOrSkip('docker', 'cri');

type Attr = { key: string; value: Record<string, unknown> };
const attrValue = (attrs: Attr[] | undefined, key: string): unknown => {
  const a = attrs?.find((x) => x.key === key);
  return a === undefined ? undefined : Object.values(a.value)[0];
};

interface StoredEvent {
  eventName: string;
  attributes: Attr[];
  resource: Attr[];
}

function storedEvents(dataDir: string): StoredEvent[] {
  const events: StoredEvent[] = [];
  for (const req of storedRequests(dataDir, 'logs')) {
    for (const rl of (req['resourceLogs'] ?? []) as { resource: { attributes: Attr[] }; scopeLogs: { logRecords: StoredEvent[] }[] }[]) {
      for (const sl of rl.scopeLogs) for (const r of sl.logRecords) if (r.eventName) events.push({ ...r, resource: rl.resource.attributes });
    }
  }
  return events;
}

describe.skipIf(!rt.available)('sextant agent --local with real container runtimes', () => {
  const docker = new Docker({ socketPath: rt.dockerSock });
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('ships container metrics and a container exit event with its exit code to the gateway', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'sextant-e2e-ctr-'));
    cleanup.push(() => rm(cwd, { recursive: true, force: true }));
    const agent = new SextantProcess(['agent', '--local'], {
      cwd,
      env: {
        SEXTANT_LISTEN: '127.0.0.1:0',
        SEXTANT_GATEWAY_LISTEN: '127.0.0.1:0',
        SEXTANT_INTERVAL: '1s',
        SEXTANT_SUMMARY_INTERVAL: '0',
        SEXTANT_CONTAINERS_DOCKER_SOCKETS: rt.dockerSock,
        SEXTANT_CONTAINERS_CRI_SOCKETS: rt.criSock,
        SEXTANT_NODE_NAME: 'e2e-node',
        SEXTANT_GATEWAY_NDJSON: 'true',
      },
    });
    cleanup.push(async () => {
      agent.kill('SIGKILL');
      await agent.exited;
    });
    await agent.waitForLog('agent started');
    await agent.waitFor(() => agent.logs().filter((l) => l['msg'] === 'container runtime connected').length >= 2 || undefined, 20_000, 'both runtimes connected');

    const name = `sx-e2e-${process.pid}`;
    const c = await docker.createContainer({
      name,
      Image: rt.busyboxImage,
      Cmd: ['sh', '-c', 'sleep 3; exit 3'],
      Labels: { [rt.testLabel]: '1' },
      HostConfig: { NetworkMode: 'none', Memory: 64 * 1024 * 1024 },
    });
    cleanup.push(() => c.remove({ force: true }));
    await c.start();

    const dataDir = path.join(cwd, 'data');
    const found = await until(
      'the container.exit event stored by the gateway',
      () => storedEvents(dataDir).find((e) => e.eventName === 'container.exit' && attrValue(e.resource, 'container.id') === c.id),
      { timeoutMs: 30_000, everyMs: 250 },
    );
    expect(Number(attrValue(found.attributes, 'process.exit.code'))).toBe(3);
    expect(attrValue(found.resource, 'container.name')).toBe(name);
    expect(attrValue(found.resource, 'container.runtime.name')).toBe('docker');
    const events = storedEvents(dataDir);
    expect(events.some((e) => e.eventName === 'container.start' && attrValue(e.resource, 'container.id') === c.id)).toBe(true);

    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    // The container lived ~3 s at a 1 s interval: its metrics were stored under its name.
    let sawMemory = false;
    for (const req of storedRequests(dataDir, 'metrics')) {
      for (const rm of (req['resourceMetrics'] ?? []) as { resource: { attributes: Attr[] }; scopeMetrics: { metrics: { name: string }[] }[] }[]) {
        if (attrValue(rm.resource.attributes, 'container.id') !== c.id) continue;
        // Process groups carry the container id too; the container's own series have no process.
        if (attrValue(rm.resource.attributes, 'sextant.process_group.key') !== undefined || attrValue(rm.resource.attributes, 'process.pid') !== undefined) continue;
        expect(attrValue(rm.resource.attributes, 'container.name')).toBe(name);
        for (const sm of rm.scopeMetrics) if (sm.metrics.some((m) => m.name === 'container.memory.usage')) sawMemory = true;
      }
    }
    expect(sawMemory).toBe(true);
    // Nothing was logged per container or per cycle about the runtimes beyond the connect lines.
    expect(agent.logs().filter((l) => String(l['msg']).includes('unreachable'))).toEqual([]);
  }, 90_000);
});
