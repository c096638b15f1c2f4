import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResource } from '../../src/model/index.js';
import { silentLogger } from '../../src/self/logger.js';
import { Registry } from '../../src/self/registry.js';
import { ContainerMetadataCache } from '../../src/sources/container/metadata-cache.js';
import { DockerClient } from '../../src/sources/container/docker-client.js';
import { LogSource } from '../../src/sources/logs/logs-source.js';
import { CriPods, type RunningPod } from '../helpers/cri-pods.js';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import { AckingSink } from '../helpers/acking-sink.js';
import { until } from '../helpers/wait.js';

/**
 * Real writers: a Docker container (json-file driver) and a CRI pod through containerd, each
 * writing numbered lines as fast as the shell can; the log source reads the files the runtimes
 * wrote and every number must arrive exactly once, with the container or pod on it.
 */

const rt = await runtimesOrSkip('docker', 'cri');
const LINES = 5000;
const tag = `sx-logs-${process.pid}`;
/** Numbered lines, one to stderr, then one 40,000-byte line (the runtimes split it: Docker into 16 KiB partials, containerd into P pieces). */
const LONG = 40_000;
const writer = (prefix: string): string[] => [
  'sh',
  '-c',
  `i=0; while [ $i -lt ${LINES} ]; do echo "${prefix} n=$i"; i=$((i+1)); done; echo "${prefix} n=err" >&2; printf '${prefix} long:'; head -c ${LONG} /dev/zero | tr '\\0' a; echo; exec sleep 600`,
];

describe.skipIf(!rt.available)('log source with real writers (Docker json-file, containerd CRI)', () => {
  const docker = new Docker({ socketPath: rt.dockerSock });
  const pods = new CriPods({ socketPath: rt.criSock, criRoot: rt.criRoot });
  const sink = new AckingSink();
  const state = mkdtempSync(join(tmpdir(), 'sextant-logs-rw-'));
  const cache = new ContainerMetadataCache([new DockerClient({ socketPath: rt.dockerSock })], { callTimeoutMs: 5000, resyncIntervalMs: 60_000, logger: silentLogger() });
  let source: LogSource;
  let dockerId = '';
  let pod: RunningPod;
  const podUid = randomUUID();

  beforeAll(async () => {
    source = new LogSource(
      // Only new files are read from their start (readFrom end): the machine's older logs are not re-sent.
      { hostRoot: '/', stateDir: state, readFrom: 'end', maxRecordBytes: 1024 * 1024, rescanIntervalMs: 1000, checkpointIntervalMs: 200, globs: [], podLogDirs: [`${rt.criRoot}/pods`], nodeName: 'node-x' },
      { resource: createResource({ 'host.name': 'h' }), registry: new Registry(), logger: silentLogger(), version: 't', cache },
    );
    source.start(sink);
    await new Promise((r) => setTimeout(r, 500)); // the first scan is done before the writers start
    const c = await docker.createContainer({ name: `${tag}-d`, Image: rt.busyboxImage, Cmd: writer('docker'), Labels: { [rt.testLabel]: '1' }, HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'json-file', Config: {} } } });
    dockerId = c.id;
    // The cache learns the created container before it writes a line, so even the first line is
    // named (a refresh after start raced the tailer reading that line, under load).
    await cache.refresh();
    await c.start();
    pod = await pods.runPod({ name: `${tag}-pod`, namespace: 'logs', uid: podUid, containers: [{ name: 'writer', command: writer('cri') }] });
    const long = (p: string): boolean => sink.logs.some((l) => l.body.startsWith(`${p} long:`));
    await until('the long line of both writers', () => long('docker') && long('cri'), 30_000);
  }, 60_000);

  afterAll(async () => {
    await source?.stop();
    await source?.afterFlush();
    await cache.stop();
    if (dockerId) await docker.getContainer(dockerId).remove({ force: true }).catch(() => undefined);
    if (pod) await pods.removePod(pod.podId).catch(() => undefined);
    await pods.close();
    rmSync(state, { recursive: true, force: true });
  }, 60_000);

  it('Docker json-file: every line exactly once, in order, with the container on it', () => {
    expect(sink.numbersOf('docker')).toEqual(Array.from({ length: LINES }, (_, i) => i));
    const r = sink.logs.find((l) => l.body === 'docker n=0')!;
    expect(r.resource.attributes).toMatchObject({ 'container.id': dockerId, 'container.runtime.name': 'docker', 'container.name': `${tag}-d` });
    expect(r.attributes['log.iostream']).toBe('stdout');
    expect(r.timeUnixNano).toBeGreaterThan(0n);
    const err = sink.logs.find((l) => l.body === 'docker n=err');
    expect(err?.attributes['log.iostream']).toBe('stderr');
  });

  it('a 40,000-byte line comes out as one record from both runtimes (16 KiB partials and P pieces merged)', () => {
    for (const p of ['docker', 'cri']) {
      const recs = sink.logs.filter((l) => l.body.startsWith(`${p} long:`));
      expect(recs, p).toHaveLength(1);
      expect(recs[0]!.body).toBe(`${p} long:${'a'.repeat(LONG)}`);
      expect(recs[0]!.attributes['sextant.log.truncated']).toBeUndefined();
    }
  });

  it('CRI pod: every line exactly once, in order, with the pod from the path', () => {
    expect(sink.numbersOf('cri')).toEqual(Array.from({ length: LINES }, (_, i) => i));
    const r = sink.logs.find((l) => l.body === 'cri n=0')!;
    expect(r.resource.attributes).toMatchObject({
      'k8s.namespace.name': 'logs',
      'k8s.pod.name': `${tag}-pod`,
      'k8s.pod.uid': podUid,
      'k8s.container.name': 'writer',
      'k8s.container.restart_count': 0,
      'k8s.node.name': 'node-x',
    });
    expect(sink.logs.find((l) => l.body === 'cri n=err')?.attributes['log.iostream']).toBe('stderr');
  });
});
