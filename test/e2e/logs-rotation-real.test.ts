import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CriPods } from '../helpers/cri-pods.js';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import type { SextantProcess } from './helpers/sextant-process.js';
import { startGateway } from './helpers/gateway-store.js';
import { CriLogReopener, numberedLoop, numbersByWriter, RealLogHost, removePodSettled, sleep, storedLogs, tally, WRITER_LINE } from './helpers/real-log-host.js';
import { until } from '../helpers/wait.js';

/**
 * Rotation by rename under real writers at full speed, tailed by a real `sextant agent` shipping
 * to a real gateway:
 *   - Docker json-file with max-size=1m, max-file=5: the engine itself renames -json.log →
 *     -json.log.1 (→ .2 … .4, the oldest deleted) while a busybox loop prints as fast as it can;
 *   - a CRI pod through containerd: no kubelet here, so the test rotates 0.log the way kubelet
 *     does — rename to 0.log.<YYYYMMDD-HHMMSS>, then ReopenContainerLog over CRI (containerd
 *     keeps writing into the renamed file until that call returns) — every ROTATE_BYTES.
 * Both must store every line exactly once.
 */

const rt = await runtimesOrSkip('docker', 'cri');
const tag = `sx-rot-${process.pid}`;
/** Lines of about 190 bytes in Docker's json (about 5,500 per MiB): ~9 rotations at 1 MiB. */
const DOCKER_LINES = 50_000;
const CRI_LINES = 120_000;
const PAD = 100;
const ROTATE_BYTES = 2 * 1024 * 1024;
/** The waits inside end when the writer or the store stops making progress; this only bounds a crawl. */
const TEST_MS = 240_000;

describe.skipIf(!rt.available)('rotation by rename with real writers at full speed (real dockerd + containerd)', () => {
  const docker = new Docker({ socketPath: rt.dockerSock });
  const pods = new CriPods({ socketPath: rt.criSock, criRoot: rt.criRoot, image: rt.busyboxImage });
  const reopener = new CriLogReopener(rt.criSock);
  const host = new RealLogHost('sextant-rot-');
  const dockerIds: string[] = [];
  let dataDir = '';
  let agent: SextantProcess;

  beforeAll(async () => {
    const gw = await startGateway(host.tmp);
    host.track(gw.gateway);
    dataDir = gw.dataDir;
    ({ agent } = await host.startAgent(`http://127.0.0.1:${gw.port}`));
    await sleep(1_500); // past the first scan: files from here on are read from their start
  }, 60_000);

  afterAll(async () => {
    for (const id of dockerIds) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    reopener.close();
    await pods.close();
    await host.close();
  }, 60_000);

  /**
   * Waits while the agent keeps storing `name`'s lines, until all `count` are stored; a store
   * that stops growing for 20 s ends the wait (the tally then says what is missing).
   */
  const waitStored = async (name: string, count: number): Promise<number[]> => {
    let stored = 0;
    await until(
      `${count} '${name}' lines stored`,
      () => (stored = new Set(numbersByWriter(storedLogs(dataDir)).get(name)).size) >= count,
      { timeoutMs: 20_000, everyMs: 500, progress: () => stored },
    ).catch(() => undefined);
    await sleep(1_500); // a late repeat would show by now
    return numbersByWriter(storedLogs(dataDir)).get(name) ?? [];
  };

  it('Docker max-size=1m max-file=5 at full speed: every line exactly once, though max-file deletes each file 200–600 ms after its creation', async () => {
    const t0 = Date.now();
    const c = await docker.createContainer({
      name: `${tag}-d`,
      Image: rt.busyboxImage,
      Cmd: ['sh', '-c', numberedLoop('dr', DOCKER_LINES, PAD)],
      Labels: { [rt.testLabel]: '1' },
      HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '5' } } },
    });
    dockerIds.push(c.id);
    await c.start();
    await c.wait();
    const writeMs = Date.now() - t0;
    const dir = `/var/lib/docker/containers/${c.id}`;
    const rotatedFiles = readdirSync(dir).filter((f) => /-json\.log\.\d+$/.test(f)).length;
    const got = await waitStored('dr', DOCKER_LINES);
    const t = tally(got, DOCKER_LINES);
    console.log(`logs rotation (docker): ${DOCKER_LINES} lines written in ${writeMs} ms, ${rotatedFiles} rotated files left by the engine; ${t.missing.length} missing (${spans(t.missing)}), ${t.duplicates} duplicates; all stored after ${Date.now() - t0} ms`);
    expect(rotatedFiles).toBe(4); // rotated at least 4 times (max-file=5: the current file + .1 … .4)
    // At full speed here (10 MB in 0.4–1.2 s: 8–25 rotations a second) a file lives 200–600 ms
    // from its creation to max-file deleting it. A file the agent opened is never lost (the open
    // descriptor keeps it, and it is read to its end), and the agent opens every file of the
    // container's directory as soon as a watch event reports a change there (readdir + open, a
    // few event-loop waits), not at its next rescan between two turns.
    expect(t.missing.slice(0, 10)).toEqual([]);
    expect(t.duplicates).toBe(0);
    expect(agent.child.exitCode).toBeNull();
  }, TEST_MS);

  it('CRI 0.log renamed kubelet-style + ReopenContainerLog every 2 MiB: every line exactly once', async () => {
    const t0 = Date.now();
    const uid = randomUUID();
    const podName = `${tag}-p`;
    const logDirectory = host.podLogDir('rot', podName, uid);
    const pod = await pods.runPod({ name: podName, namespace: 'rot', uid, logDirectory, containers: [{ name: 'w', command: ['sh', '-c', `${numberedLoop('cr', CRI_LINES, PAD)}; exec sleep 600`] }] });
    const id = pod.containerIds[0]!;
    const file = join(logDirectory, 'w', '0.log');
    let rotations = 0;
    let reopenMs = 0;
    let rotated: string | undefined; // the newest renamed file, complete once its reopen returned
    let rotatedBytes = 0;
    let endedIn = '';
    const written = (): number => rotatedBytes + sizeOf(file);
    // Rotate while the writer writes; it is done when its last line ends 0.log, or ends the file
    // just renamed (a rotation can take the whole rest of the output: 0.log then stays empty).
    // A slow writer on a loaded machine is waited for as long as its files keep growing.
    const lastLine = `"n":${CRI_LINES - 1},`;
    await until(
      'the CRI writer’s last line',
      async () => {
        if (sizeOf(file) >= ROTATE_BYTES) {
          const renamed = `${file}.20261125-1${String(rotations).padStart(5, '0')}`;
          renameSync(file, renamed);
          const r0 = Date.now();
          await reopener.reopen(id);
          reopenMs = Math.max(reopenMs, Date.now() - r0);
          rotatedBytes += sizeOf(renamed);
          rotated = renamed;
          rotations++;
        }
        if (await fileEndsWith(file, lastLine)) return (endedIn = '0.log');
        return rotated !== undefined && (await fileEndsWith(rotated, lastLine)) && (endedIn = 'the file renamed last');
      },
      { timeoutMs: 20_000, progress: written, detail: () => `${rotations} rotations, ${written()} bytes written` },
    );
    const writeMs = Date.now() - t0;
    const got = await waitStored('cr', CRI_LINES);
    const t = tally(got, CRI_LINES);
    console.log(`logs rotation (CRI): ${CRI_LINES} lines written in ${writeMs} ms with ${rotations} rename+ReopenContainerLog rotations (slowest reopen ${reopenMs} ms), the last line in ${endedIn}; ${t.missing.length} missing (${spans(t.missing)}), ${t.duplicates} duplicates`);
    if (t.missing.length > 0) console.log(whereLinesAre(join(logDirectory, 'w'), t.missing.slice(0, 5), storedLogs(dataDir).map((l) => l.body)));
    expect(rotations).toBeGreaterThanOrEqual(3);
    expect(t.missing.slice(0, 10)).toEqual([]);
    expect(t.duplicates).toBe(0);
    expect(agent.child.exitCode).toBeNull();
    await removePodSettled(pods, pod.podId);
  }, TEST_MS);
});

function sizeOf(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

/** True when the file's last line contains `needle` (reads only its last 4 KiB). */
async function fileEndsWith(file: string, needle: string): Promise<boolean> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch {
    return false;
  }
  try {
    const size = (await fh.stat()).size;
    const from = Math.max(0, size - 4096);
    const buf = Buffer.alloc(size - from);
    await fh.read(buf, 0, buf.length, from);
    const text = buf.toString('utf8').trimEnd();
    return text.slice(text.lastIndexOf('\n') + 1).includes(needle);
  } finally {
    await fh.close();
  }
}

/**
 * For a failure's message: the file, offset and neighbours of each missing line on disk, and any
 * stored body that holds its number without being a well-formed writer line (a line cut or joined).
 */
function whereLinesAre(dir: string, missing: readonly number[], bodies: readonly string[]): string {
  const out: string[] = [];
  for (const n of missing) {
    const needle = `"n":${n},`;
    for (const f of readdirSync(dir).sort()) {
      const text = readFileSync(join(dir, f), 'latin1');
      const at = text.indexOf(needle);
      if (at === -1) continue;
      const lineStart = text.lastIndexOf('\n', at) + 1;
      const lineEnd = text.indexOf('\n', at);
      out.push(`line ${n}: ${f} bytes ${lineStart}–${lineEnd} of ${text.length} (line ${text.slice(0, lineStart).split('\n').length} of ${text.split('\n').length - 1}): ${JSON.stringify(text.slice(lineStart, lineStart + 60))}`);
    }
  }
  for (const b of bodies) if (b.startsWith('{"c":"cr') || b.includes('"n":')) if (!WRITER_LINE.test(b)) out.push(`stored, malformed: ${JSON.stringify(b.slice(0, 300))} (${b.length} bytes)`);
  for (const f of readdirSync(dir).sort()) {
    const text = readFileSync(join(dir, f), 'latin1');
    out.push(`${f}: first ${JSON.stringify(text.slice(0, 80))} … last ${JSON.stringify(text.slice(-120))}`);
  }
  return out.join('\n');
}

/** Missing numbers as runs, `a–b`, for a failure that says which stretch of a file went missing. */
function spans(ns: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ns.length; ) {
    let j = i;
    while (j + 1 < ns.length && ns[j + 1] === ns[j]! + 1) j++;
    out.push(i === j ? `${ns[i]}` : `${ns[i]}–${ns[j]}`);
    i = j + 1;
  }
  return out.slice(0, 8).join(',');
}

