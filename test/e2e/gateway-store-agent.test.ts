import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CriPods } from '../helpers/cri-pods.js';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import { startAgentAndGateway } from './helpers/agent-gateway.js';
import type { SextantProcess } from './helpers/sextant-process.js';

/**
 * A real `sextant agent` (host root /, real dockerd and containerd CRI) shipping to a real
 * `sextant gateway` with its embedded store; everything is read back through the query API:
 * a Docker container's and a CRI container's CPU series, all their numbered log lines in order
 * and searchable, their lifecycle events, and the entity tree host → pod → container.
 */

const rt = await runtimesOrSkip('docker', 'cri');
const INGEST = 'e2e-store-ingest-0123456789';
const READ = 'e2e-store-read-0123456789';
const LINES = 200;
const NODE = `e2e-store-${process.pid}`;
const tag = `sx-store-${process.pid}`;

/** A busybox loop: `LINES` numbered JSON lines 20 ms apart, then a pause, then `exit 3`. */
function writer(name: string): string {
  return `i=0; while [ $i -lt ${LINES} ]; do echo "{\\"c\\":\\"${name}\\",\\"n\\":$i}"; i=$((i+1)); usleep 20000; done; sleep 2; exit 3`;
}

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
interface LogItem {
  body: string;
  timeUnixNano: string;
}
interface EntityItem {
  id: string;
  type: string;
  name: string;
  parents: { id: string; type: string; name: string }[];
}

describe.skipIf(!rt.available)('real agent → real gateway → query API (real Docker and CRI containers)', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'sextant-e2e-store-'));
  const docker = new Docker({ socketPath: rt.dockerSock });
  const pods = new CriPods({ socketPath: rt.criSock, criRoot: rt.criRoot, image: rt.busyboxImage });
  const procs: SextantProcess[] = [];
  const dockerIds: string[] = [];
  const podLogDirs: string[] = [];
  let api = '';
  let dockerId = '';
  const podUid = randomUUID();
  const podName = `${tag}-pod`;
  const podNs = 'e2e-store';
  const criName = `w${process.pid}`;

  const get = async <T>(pathAndQuery: string): Promise<T> => {
    const r = await fetch(`${api}${pathAndQuery}`, { headers: { authorization: `Api-Token ${READ}` } });
    const body = (await r.json()) as { status: string; data: T; error?: string };
    if (r.status !== 200) throw new Error(`${pathAndQuery} → ${r.status} ${body.error ?? ''}`);
    return body.data;
  };
  const until = async <T>(what: string, probe: () => Promise<T | undefined>, ms = 90_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await probe().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${procs.map((p) => p.stderr.slice(-2000)).join('\n---\n')}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  /** Every log line of an entity, oldest first (the API pages newest first). */
  const allLogs = async (entity: string): Promise<LogItem[]> => {
    const out: LogItem[] = [];
    let cursor: string | null = null;
    do {
      const page: Page<LogItem> = await get<Page<LogItem>>(`/api/v1/logs?entity=${entity}&from=now-30m&limit=100${cursor === null ? '' : `&cursor=${cursor}`}`);
      out.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return out.reverse();
  };
  const containerEntity = (name: string): Promise<EntityItem> =>
    until(`the container entity ${name}`, async () => (await get<Page<EntityItem>>(`/api/v1/entities?type=container&q=${encodeURIComponent(name)}`)).items.find((e) => e.name === name));

  beforeAll(async () => {
    ({ base: api } = await startAgentAndGateway({ work, runtimes: rt, ingestToken: INGEST, readToken: READ, nodeName: NODE, procs }));

    const c = await docker.createContainer({
      name: `${tag}-docker`,
      Image: rt.busyboxImage,
      Cmd: ['sh', '-c', writer('dk')],
      Labels: { [rt.testLabel]: '1' },
      HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'json-file', Config: {} } },
    });
    dockerId = c.id;
    dockerIds.push(c.id);
    const logDirectory = `/var/log/pods/${podNs}_${podName}_${podUid}`;
    podLogDirs.push(logDirectory);
    await Promise.all([c.start(), pods.runPod({ name: podName, namespace: podNs, uid: podUid, logDirectory, containers: [{ name: criName, command: ['sh', '-c', writer('cr')] }] })]);
  }, 120_000);

  afterAll(async () => {
    for (const p of procs.reverse()) {
      p.kill('SIGTERM');
      await p.exited;
    }
    for (const id of dockerIds) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    await pods.close();
    for (const d of podLogDirs) rmSync(d, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  const expectNumberedInOrder = (logs: LogItem[], writerName: string): void => {
    const numbers = logs.map((l) => JSON.parse(l.body) as { c: string; n: number }).filter((l) => l.c === writerName).map((l) => l.n);
    expect(numbers).toEqual(Array.from({ length: LINES }, (_, i) => i));
  };

  it('the Docker container: all its numbered lines in order, searchable; its CPU series; its start and exit events', async () => {
    const ctr = await containerEntity(`${tag}-docker`);
    const logs = await until('all Docker lines', async () => {
      const l = await allLogs(ctr.id);
      return l.length >= LINES ? l : undefined;
    });
    expectNumberedInOrder(logs, 'dk');
    const hit = await get<Page<LogItem>>(`/api/v1/logs?entity=${ctr.id}&from=now-30m&q=${encodeURIComponent('"n":137}')}`);
    expect(hit.items.map((i) => i.body)).toEqual(['{"c":"dk","n":137}']);

    const exit = await until('the exit event', async () => {
      const ev = await get<Page<{ name: string; attributes: Record<string, unknown> }>>(`/api/v1/events?entity=${ctr.id}&from=now-30m`);
      return ev.items.some((e) => e.name === 'container.exit') ? ev.items : undefined;
    });
    expect(exit.map((e) => e.name).sort()).toEqual(['container.exit', 'container.start']);
    expect(Number(exit.find((e) => e.name === 'container.exit')!.attributes['process.exit.code'])).toBe(3);

    const cpu = await get<{ series: { entity: { id: string }; t: number[]; v: number[] }[] }>(`/api/v1/series?metric=container.cpu.usage&entity=${ctr.id}&from=now-30m&step=1s`);
    expect(cpu.series).toHaveLength(1);
    expect(cpu.series[0]!.entity.id).toBe(ctr.id);
    expect(cpu.series[0]!.t.length).toBeGreaterThanOrEqual(2);
    for (const v of cpu.series[0]!.v) expect(v).toBeGreaterThanOrEqual(0);
    expect(dockerId).not.toBe('');
  }, 120_000);

  it('the CRI container: all its lines in order, its CPU series, and the tree host → pod → container', async () => {
    const ctr = await containerEntity(criName);
    const one = await get<EntityItem & { children: EntityItem[] }>(`/api/v1/entities/${ctr.id}`);
    const pod = one.parents.find((p) => p.type === 'pod')!;
    expect(pod.name).toBe(podName);
    const podEntity = await get<EntityItem & { children: EntityItem[] }>(`/api/v1/entities/${pod.id}`);
    expect(podEntity.children.some((c) => c.id === ctr.id)).toBe(true);
    const host = podEntity.parents.find((p) => p.type === 'host')!;
    expect(host.name).toBe(NODE);
    const hostEntity = await get<EntityItem & { children: EntityItem[] }>(`/api/v1/entities/${host.id}`);
    expect(hostEntity.children.some((c) => c.id === pod.id)).toBe(true);

    const logs = await until('all CRI lines', async () => {
      const l = await allLogs(ctr.id);
      return l.length >= LINES ? l : undefined;
    });
    expectNumberedInOrder(logs, 'cr');
    const cpu = await until('the CRI container CPU series', async () => {
      const s = await get<{ series: { t: number[]; v: number[] }[] }>(`/api/v1/series?metric=container.cpu.usage&entity=${ctr.id}&from=now-30m&step=1s`);
      return s.series.length === 1 && s.series[0]!.t.length >= 2 ? s : undefined;
    });
    for (const v of cpu.series[0]!.v) expect(v).toBeGreaterThanOrEqual(0);
    // The pod lists its container among the pods of its namespace.
    const inNs = await get<Page<EntityItem>>(`/api/v1/entities?type=pod&namespace=${podNs}`);
    expect(inNs.items.map((p) => p.id)).toContain(pod.id);
  }, 120_000);
});
