import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../integration/helpers/fault-proxy.js';
import { CriPods } from '../helpers/cri-pods.js';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import { startGateway } from './helpers/gateway-store.js';
import type { SextantProcess } from './helpers/sextant-process.js';
import { metricsText, numberedLoop, numbersByWriter, openFiles, RealLogHost, removePodSettled, sleep, storedLogs, tally, WRITER_LINE } from './helpers/real-log-host.js';
import { until } from '../helpers/wait.js';

/**
 * Real writers whose files are cut or deleted under a real `sextant agent` (shipping through a
 * fault proxy to a real gateway):
 *   - copytruncate of a CRI pod's 0.log while containerd writes to it (its descriptor is
 *     O_APPEND, so after the cut it writes at the new end, from 0);
 *   - a Docker container and a CRI pod removed (their log files deleted) while the agent is far
 *     behind them, held back by an endpoint that refuses connections and a small logs ring.
 */

const rt = await runtimesOrSkip('docker', 'cri');
const tag = `sx-trd-${process.pid}`;
const CT_LINES = 20_000;
const DEL_LINES = 20_000;
/** Logs ring of the agent: small, so a stalled endpoint stops the tailer early in the files. */
const RING = 1_000;

/** The writer's numbers found in a CRI file's text (`<time> <stream> <tag> <body>`). */
function numbersInCri(text: string, name: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' F ');
    if (sp === -1) continue;
    const m = WRITER_LINE.exec(line.slice(sp + 3));
    if (m && m[1] === name) out.push(Number(m[2]));
  }
  return out;
}

function lineCount(file: string): number {
  if (!existsSync(file)) return 0;
  const b = readFileSync(file);
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}

describe.skipIf(!rt.available)('real writers: copytruncate, and files deleted while the agent is behind (real dockerd + containerd)', () => {
  const docker = new Docker({ socketPath: rt.dockerSock });
  const pods = new CriPods({ socketPath: rt.criSock, criRoot: rt.criRoot, image: rt.busyboxImage });
  const host = new RealLogHost('sextant-trd-');
  const dockerIds: string[] = [];
  let proxy: FaultProxy | undefined;
  let agent: SextantProcess;
  let self = '';
  let dataDir = '';

  beforeAll(async () => {
    const gw = await startGateway(host.tmp);
    host.track(gw.gateway);
    dataDir = gw.dataDir;
    proxy = await startFaultProxy(`http://127.0.0.1:${gw.port}`);
    // The files are the buffer here (no disk spool): with the spool, the default, the agent would
    // not fall behind while the endpoint is down, and holding deleted files open while behind is
    // what this file tests. test/e2e/logs-spool-*.test.ts cover the spool.
    ({ agent, self } = await host.startAgent(proxy.url, { SEXTANT_PIPELINE_LOGS_MAX_ITEMS: String(RING), SEXTANT_BATCH_LOGS_MAX_ITEMS: '500', SEXTANT_BUFFER_DISK_MAX_BYTES: '0' }));
    await sleep(1_500); // past the first scan: files from here on are read from their start
  }, 60_000);

  afterAll(async () => {
    for (const id of dockerIds) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    await pods.close();
    await proxy?.close();
    await host.close();
  }, 60_000);

  it('copytruncate of a CRI 0.log under containerd: what was read before each cut and everything after it arrive once; the tailer restarts at 0 each time', async () => {
    const uid = randomUUID();
    const podName = `${tag}-ct`;
    const logDirectory = host.podLogDir('trd', podName, uid);
    const copies = join(host.tmp, 'copies');
    mkdirSync(copies);
    // About 5,000 lines/s: 50 lines, then 10 ms of sleep.
    const loop = numberedLoop('ct', CT_LINES).replace('i=$((i+1)); done', 'i=$((i+1)); [ $((i % 50)) -eq 0 ] && usleep 10000; done');
    const pod = await pods.runPod({ name: podName, namespace: 'trd', uid, logDirectory, containers: [{ name: 'w', command: ['sh', '-c', `${loop}; exec sleep 600`] }] });
    const file = join(logDirectory, 'w', '0.log');
    const metricsBefore = copytruncates(await metricsText(self));
    // logrotate's copytruncate three times while the container writes.
    const cuts: number[] = [];
    for (let k = 0; k < 3; k++) {
      await until('2,000 lines in the file', () => lineCount(file) >= 2_000, { timeoutMs: 20_000, everyMs: 50, progress: () => lineCount(file) });
      copyFileSync(file, join(copies, String(k)));
      truncateSync(file, 0);
      cuts.push(Date.now());
    }
    await until('the writer’s last line', () => readFileSync(file, 'utf8').includes(`"n":${CT_LINES - 1}}`), { timeoutMs: 20_000, everyMs: 100, progress: () => lineCount(file) });
    const finalText = readFileSync(file, 'utf8');
    // containerd writes with O_APPEND: after the cut it writes from 0, no hole of NULs.
    expect(finalText.charCodeAt(0)).not.toBe(0);
    const inFile = numbersInCri(finalText, 'ct');
    const inCopies = [0, 1, 2].map((k) => numbersInCri(readFileSync(join(copies, String(k)), 'utf8'), 'ct'));

    // Done when the final file's last line is stored (it is read after everything before it).
    let got: number[] = [];
    await until(
      'the last line stored',
      () => {
        got = numbersByWriter(storedLogs(dataDir)).get('ct') ?? [];
        return got.includes(CT_LINES - 1);
      },
      { timeoutMs: 20_000, everyMs: 500, progress: () => got.length },
    ).catch(() => undefined); // the tally below says what is missing
    await sleep(1_500);
    got = numbersByWriter(storedLogs(dataDir)).get('ct') ?? [];
    const stored = new Set(got);
    const t = tally(got, CT_LINES);
    // What copytruncate lets a tailer guarantee: what it had read of the old content before the
    // cut (a prefix of each copy), and all of the content after it, read from 0. The rest of each
    // copy — lines the tailer had not reached at the cut, with those written between copy and
    // cut — exists only in the copy: lost to copytruncate itself, for every tailer.
    const lostPerCut = inCopies.map((xs) => {
      let k = 0;
      while (k < xs.length && stored.has(xs[k]!)) k++;
      const holes = xs.slice(k).filter((x) => stored.has(x)).length; // a line after the first loss that did arrive
      return { read: k, lost: xs.length - k, holes };
    });
    const missingInFile = inFile.filter((x) => !stored.has(x));
    const metricsAfter = copytruncates(await metricsText(self));
    console.log(
      `logs copytruncate (CRI): ${CT_LINES} lines, 3 cuts; per cut read/lost of the copy: ${lostPerCut.map((c) => `${c.read}/${c.lost}`).join(', ')}; ` +
        `after the last cut ${inFile.length} lines, ${missingInFile.length} missing; stored ${t.unique} unique, ${t.duplicates} duplicates; copytruncates counted ${metricsAfter - metricsBefore}`,
    );
    expect(missingInFile.slice(0, 10)).toEqual([]);
    expect(inFile[0]).toBeGreaterThan(inCopies[2]!.at(-1)!); // the content after the cut, from its first line
    for (const c of lostPerCut) {
      expect(c.holes).toBe(0); // a prefix of each copy arrived, no gap inside it
      expect(c.read).toBeGreaterThan(0);
      // The tailer trails the writer by one idle poll (200 ms) and a turn: well under 1 s of writing (5,000 lines).
      expect(c.lost).toBeLessThan(5_000);
    }
    expect(t.duplicates).toBe(0);
    expect(metricsAfter - metricsBefore).toBeGreaterThanOrEqual(3);
    expect(agent.child.exitCode).toBeNull();
    await removePodSettled(pods, pod.podId);
  }, 90_000);

  it('a Docker container and a CRI pod removed while the agent is far behind (endpoint down): every line written before removal arrives, once', async () => {
    const t0 = Date.now();
    const step = (what: string): void => void process.stderr.write(`logs deleted while behind: ${what} at ${Date.now() - t0} ms\n`);
    await proxy!.down();
    const c = await docker.createContainer({
      name: `${tag}-del`,
      Image: rt.busyboxImage,
      Cmd: ['sh', '-c', numberedLoop('dd', DEL_LINES)],
      Labels: { [rt.testLabel]: '1' },
      HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'json-file', Config: {} } },
    });
    dockerIds.push(c.id);
    const uid = randomUUID();
    const logDirectory = host.podLogDir('trd', `${tag}-del`, uid);
    const pod = await pods.runPod({ name: `${tag}-del`, namespace: 'trd', uid, logDirectory, containers: [{ name: 'w', command: ['sh', '-c', numberedLoop('cd', DEL_LINES)] }] });
    step('containers created');
    await c.start();
    await c.wait();
    step('docker writer exited');
    const dockerFile = `/var/lib/docker/containers/${c.id}/${c.id}-json.log`;
    const criFile = join(logDirectory, 'w', '0.log');
    // Normally every line; a writer slowed by a loaded machine may not be done (see below).
    await until('every line in both files', () => lineCount(dockerFile) >= DEL_LINES && lineCount(criFile) >= DEL_LINES, {
      timeoutMs: 20_000,
      everyMs: 100,
      progress: () => lineCount(dockerFile) + lineCount(criFile),
    }).catch(() => undefined);
    // The agent has both open and is behind: nothing reached the store, the ring holds RING.
    const pid = agent.child.pid!;
    await until('both files open in the agent', () => openFiles(pid).filter((f) => f === dockerFile || f === criFile).length === 2, { timeoutMs: 15_000, everyMs: 250 });
    const storedBefore = (numbersByWriter(storedLogs(dataDir)).get('dd') ?? []).length + (numbersByWriter(storedLogs(dataDir)).get('cd') ?? []).length;

    // What was written before the removal (normally all DEL_LINES of each; a writer slowed by a
    // loaded machine may not be done, and the claim is about what was written).
    const dockerWritten = new Set<number>();
    for (const m of readFileSync(dockerFile, 'utf8').matchAll(/\\"c\\":\\"dd\\",\\"n\\":(\d+)\}/g)) dockerWritten.add(Number(m[1]));
    const criWritten = new Set(numbersInCri(readFileSync(criFile, 'utf8'), 'cd'));
    step(`written before removal: docker ${dockerWritten.size}, CRI ${criWritten.size}; open in the agent`);
    await c.remove({ force: true });
    await removePodSettled(pods, pod.podId);
    rmSync(logDirectory, { recursive: true, force: true });
    step('both removed');
    const deletedOpen = openFiles(pid).filter((f) => f.endsWith('(deleted)') && (f.includes(c.id) || f.startsWith(logDirectory))).length;
    await sleep(2_000); // still down a while after the removal
    await proxy!.up();

    let dd: number[] = [];
    let cd: number[] = [];
    await until(
      'every written line stored',
      () => {
        const by = numbersByWriter(storedLogs(dataDir));
        dd = by.get('dd') ?? [];
        cd = by.get('cd') ?? [];
        return new Set(dd).size >= dockerWritten.size && new Set(cd).size >= criWritten.size;
      },
      { timeoutMs: 20_000, everyMs: 500, progress: () => dd.length + cd.length },
    ).catch(() => undefined); // the tallies below say what is missing
    await sleep(1_500);
    const by = numbersByWriter(storedLogs(dataDir));
    const td = tally(by.get('dd'), DEL_LINES);
    const tc = tally(by.get('cd'), DEL_LINES);
    const lost = (written: Set<number>, got: number[] | undefined): number[] => {
      const s = new Set(got);
      return [...written].filter((x) => !s.has(x));
    };
    const dockerLost = lost(dockerWritten, by.get('dd'));
    const criLost = lost(criWritten, by.get('cd'));
    const released = await until('the deleted files let go', () => openFiles(pid).filter((f) => f.includes(c.id) || f.startsWith(logDirectory)).length === 0, { timeoutMs: 10_000, everyMs: 250 }).catch(() => false);
    console.log(
      `logs deleted while behind: stored before removal ${storedBefore}; deleted files still open after removal ${deletedOpen}; ` +
        `docker ${dockerWritten.size} written, ${dockerLost.length} missing / ${td.duplicates} duplicates, CRI ${criWritten.size} written, ${criLost.length} missing / ${tc.duplicates} duplicates; handles released=${released}`,
    );
    expect(storedBefore).toBe(0);
    expect(deletedOpen).toBe(2);
    expect(dockerWritten.size).toBeGreaterThan(RING * 5); // far more than the agent could hold: it was behind
    expect(criWritten.size).toBeGreaterThan(RING * 5);
    expect(dockerLost.slice(0, 10)).toEqual([]);
    expect(criLost.slice(0, 10)).toEqual([]);
    expect(td.duplicates + tc.duplicates).toBe(0);
    expect(released).toBe(true);
  }, 90_000);
});

/** sextant_logs_problems_total{kind="copytruncate"} from the agent's /metrics. */
function copytruncates(text: string): number {
  let n = 0;
  for (const m of text.matchAll(/^sextant_logs_problems_total\{[^}]*kind="copytruncate"[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}
