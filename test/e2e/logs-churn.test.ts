import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { CriPods } from '../helpers/cri-pods.js';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import { startGateway } from './helpers/gateway-store.js';
import { liveCheckpoints, numberedLoop, numbersByWriter, openFiles, RealLogHost, removePodSettled, sleep, storedLogs, tally } from './helpers/real-log-host.js';
import { until } from '../helpers/wait.js';

/**
 * 100 real containers started and removed while one real `sextant agent` runs: 70 Docker
 * containers (json-file) and 30 CRI pods through containerd, a few at a time, each printing a
 * known count of numbered lines and exiting, then removed (Docker deletes its log directory; for
 * the pods the test deletes the log directory, kubelet's job). Every line of every container must
 * reach the real gateway exactly once with its own container / pod on the resource, and the
 * agent's descriptors and live checkpoints for these files must go back to none afterwards.
 */

const rt = await runtimesOrSkip('docker', 'cri');
const DOCKER = 70;
const CRI = 30;
const LINES = 200;
const DOCKER_LANES = 4;
const CRI_LANES = 3;
const tag = `sx-churn-${process.pid}`;
const NS = 'churn';

function lineCount(file: string): number {
  if (!existsSync(file)) return 0;
  let n = 0;
  const b = readFileSync(file);
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}

describe.skipIf(!rt.available)('logs of 100 containers started and removed during one agent run (real dockerd + containerd)', () => {
  const docker = new Docker({ socketPath: rt.dockerSock });
  const pods = new CriPods({ socketPath: rt.criSock, criRoot: rt.criRoot, image: rt.busyboxImage });
  const host = new RealLogHost('sextant-churn-');
  const dockerIds: string[] = [];
  afterAll(async () => {
    for (const id of dockerIds) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    await pods.close();
    await host.close();
  }, 60_000);

  it('every line of every container exactly once, with its container; descriptors and checkpoints released', async () => {
    const t0 = Date.now();
    const { gateway, port, dataDir } = await startGateway(host.tmp);
    host.track(gateway);
    const { agent } = await host.startAgent(`http://127.0.0.1:${port}`);
    const pid = agent.child.pid!;
    await sleep(1_500); // the first scan (files present then are read from their end) is behind us
    const mine = (target: string): boolean => target.startsWith(host.podsDir) || dockerIds.some((id) => target.includes(id));
    const filesBefore = openFiles(pid);
    const fdsBefore = filesBefore.length;
    let peakMine = 0;
    const sampler = setInterval(() => {
      peakMine = Math.max(peakMine, openFiles(pid).filter(mine).length);
    }, 250);

    /** Writer name → what its resource must say. */
    const expected = new Map<string, Record<string, unknown>>();
    /** CRI writer name → the lines its file holds, where the runtime wrote fewer than LINES. */
    const runtimeLost = new Map<string, number>();

    const dockerLane = async (lane: number): Promise<void> => {
      for (let i = lane; i < DOCKER; i += DOCKER_LANES) {
        const name = `d${i}`;
        const c = await docker.createContainer({
          name: `${tag}-${name}`,
          Image: rt.busyboxImage,
          Cmd: ['sh', '-c', numberedLoop(name, LINES)],
          Labels: { [rt.testLabel]: '1' },
          HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'json-file', Config: {} } },
        });
        dockerIds.push(c.id);
        expected.set(name, { 'container.id': c.id, 'container.runtime.name': 'docker' });
        await c.start();
        await c.wait();
        // Every line is in the file before it goes (the engine's log copier may trail the exit).
        const file = `/var/lib/docker/containers/${c.id}/${c.id}-json.log`;
        await until(`every line of ${name} in its file`, () => lineCount(file) >= LINES, { timeoutMs: 10_000, everyMs: 50, progress: () => lineCount(file) });
        await c.remove({ force: true });
      }
    };
    // The container exits by itself; removing it while containerd still processes the exit fails ("still running").
    const exited = async (id: string): Promise<void> => {
      await until(
        `container ${id} exited`,
        async () => {
          const st = (await pods.client.call('ContainerStatus', { containerId: id }, AbortSignal.timeout(10_000))) as unknown as { status?: { state?: number | string } };
          return st.status?.state === 2 || st.status?.state === 'CONTAINER_EXITED';
        },
        { timeoutMs: 20_000, everyMs: 100 },
      );
    };
    const criLane = async (lane: number): Promise<void> => {
      for (let i = lane; i < CRI; i += CRI_LANES) {
        const name = `p${i}`;
        const uid = randomUUID();
        const podName = `${tag}-${name}`;
        const logDirectory = host.podLogDir(NS, podName, uid);
        expected.set(name, { 'k8s.namespace.name': NS, 'k8s.pod.name': podName, 'k8s.pod.uid': uid, 'k8s.container.name': `w${i}` });
        const pod = await pods.runPod({ name: podName, namespace: NS, uid, logDirectory, cgroupParent: `/kubepods/besteffort/pod${uid}`, containers: [{ name: `w${i}`, command: ['sh', '-c', numberedLoop(name, LINES)] }] });
        const file = join(logDirectory, `w${i}`, '0.log');
        await exited(pod.containerIds[0]!);
        // containerd 1.6 can lose the tail of a writer that exits at once ("Failed to pipe stdout
        // of container …: file already closed" in its log; once in ~10 full runs here): the
        // agent is then held to the lines the runtime did write, and the shortfall is printed.
        const complete = await until(`every line of ${name} in its file`, () => lineCount(file) >= LINES, { timeoutMs: 10_000, everyMs: 50, progress: () => lineCount(file) }).catch(() => false);
        if (complete !== true) runtimeLost.set(name, lineCount(file));
        await removePodSettled(pods, pod.podId);
        // kubelet deletes a removed pod's log directory; containerd leaves it.
        rmSync(logDirectory, { recursive: true, force: true });
      }
    };
    await Promise.all([...Array.from({ length: DOCKER_LANES }, (_, l) => dockerLane(l)), ...Array.from({ length: CRI_LANES }, (_, l) => criLane(l))]);
    const churnMs = Date.now() - t0;

    let byWriter = new Map<string, number[]>();
    // While the store grows; short of every line when it stops, the tally below says what is missing.
    let stored = 0;
    await until(
      'every line stored',
      () => {
        byWriter = numbersByWriter(storedLogs(dataDir));
        stored = 0;
        for (const name of expected.keys()) stored += new Set(byWriter.get(name)).size;
        return stored >= (DOCKER + CRI) * LINES;
      },
      { timeoutMs: 20_000, everyMs: 500, progress: () => stored },
    ).catch(() => undefined);
    // Every descriptor on these files closed, every checkpoint released (written every second).
    const released = await until('descriptors and checkpoints released', () => openFiles(pid).filter(mine).length === 0 && liveCheckpoints(host.stateDir).filter((e) => mine(e.path)).length === 0, { timeoutMs: 15_000, everyMs: 250 }).catch(() => false);
    clearInterval(sampler);
    // Idle keep-alive sockets may outlive the churn: the Docker client's pool (up to its inspect
    // concurrency + 2 connections, closed after a few idle seconds) and the exporter's (up to 4
    // to the gateway, 30 s). On a loaded machine a full run once ended with 10 of them open.
    // A leak does not go away; those do, so the count is awaited, not sampled once.
    await until('the agent back to its descriptors of before', () => openFiles(pid).length <= fdsBefore + 3, { timeoutMs: 40_000, everyMs: 500 }).catch(() => false);
    const filesAfter = openFiles(pid);
    const fdsAfter = filesAfter.length;
    // What the descriptors opened meanwhile point at (sockets, pipes, files), for a bound that fails.
    const left = [...filesBefore];
    const added = filesAfter.filter((f) => {
      const i = left.indexOf(f);
      if (i < 0) return true;
      left.splice(i, 1);
      return false;
    });
    const logs = storedLogs(dataDir);
    byWriter = numbersByWriter(logs);

    let missing = 0;
    let duplicates = 0;
    const bad: string[] = [];
    for (const name of expected.keys()) {
      const t = tally(byWriter.get(name), runtimeLost.get(name) ?? LINES);
      missing += t.missing.length;
      duplicates += t.duplicates;
      if (t.missing.length > 0 || t.duplicates > 0) bad.push(`${name}: ${t.missing.length} missing (first ${t.missing.slice(0, 3).join(',')}), ${t.duplicates} repeats`);
    }
    // The resource of every stored line names its own container / pod.
    let wrongResource = 0;
    const wrongExample: string[] = [];
    for (const l of logs) {
      const m = /^\{"c":"([^"]+)"/.exec(l.body);
      const want = m ? expected.get(m[1]!) : undefined;
      if (want === undefined) continue;
      for (const [k, v] of Object.entries(want)) {
        if (l.resource[k] !== v) {
          wrongResource++;
          if (wrongExample.length < 3) wrongExample.push(`${m![1]}: ${k}=${String(l.resource[k])}, want ${String(v)}`);
          break;
        }
      }
    }
    console.log(
      `logs churn: ${DOCKER} docker + ${CRI} CRI containers × ${LINES} lines in ${churnMs} ms: ${missing} missing, ${duplicates} duplicates, ${wrongResource} wrong resources; ` +
        `agent fds ${fdsBefore} before, peak ${peakMine} on these files, ${fdsAfter} after (added: ${added.join(' ') || 'none'}); released=${released}` +
        (runtimeLost.size === 0 ? '' : `; containerd wrote fewer lines than written for ${[...runtimeLost].map(([n, c]) => `${n} (${c} of ${LINES})`).join(', ')}`),
    );
    // A runtime that loses lines often would leave this test nothing to check.
    expect(runtimeLost.size).toBeLessThanOrEqual(2);
    expect(bad).toEqual([]);
    expect(wrongExample).toEqual([]);
    expect(released).toBe(true);
    // The agent's descriptors are back where they were (a socket or two to the gateway may come and go).
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore + 3);
    expect(peakMine).toBeGreaterThan(0);
    expect(agent.child.exitCode).toBeNull();
  }, 180_000);
});
