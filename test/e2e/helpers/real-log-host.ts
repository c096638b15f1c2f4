import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import grpc from '@grpc/grpc-js';
import { SextantProcess } from './sextant-process.js';

/**
 * A host root for a real `sextant agent` tailing the logs real runtimes write: Docker's
 * container directory is linked in (`<host>/var/lib/docker/containers` → the engine's own), and
 * `<host>/var/log/pods` is a real directory the test's CRI pods put their log directories under
 * (as kubelet would under /var/log/pods). Containers other tests start at the same time are
 * tailed too; assertions only look at the bodies this test's writers produce.
 */
export class RealLogHost {
  readonly tmp: string;
  readonly hostRoot: string;
  readonly podsDir: string;
  readonly stateDir: string;
  readonly #procs: SextantProcess[] = [];

  constructor(prefix: string, dockerContainersDir = '/var/lib/docker/containers') {
    this.tmp = mkdtempSync(join(tmpdir(), prefix));
    this.hostRoot = join(this.tmp, 'host');
    this.podsDir = join(this.hostRoot, 'var/log/pods');
    this.stateDir = join(this.tmp, 'state');
    mkdirSync(this.podsDir, { recursive: true });
    mkdirSync(join(this.hostRoot, 'var/lib/docker'), { recursive: true });
    symlinkSync(dockerContainersDir, join(this.hostRoot, 'var/lib/docker/containers'));
  }

  /** `<host>/var/log/pods/<ns>_<pod>_<uid>`: what CriPods.runPod gets as `logDirectory`. */
  podLogDir(namespace: string, pod: string, uid: string): string {
    return join(this.podsDir, `${namespace}_${pod}_${uid}`);
  }

  /**
   * Starts `sextant agent` on this host root, shipping to `endpoint`. Files that exist at its
   * start are read from their end (other tests' containers are not re-sent); every file this
   * test's containers create later is read from its start.
   */
  async startAgent(endpoint: string, env: Record<string, string> = {}): Promise<{ agent: SextantProcess; self: string }> {
    const agent = new SextantProcess(['agent'], {
      cwd: this.tmp,
      env: {
        SEXTANT_ENDPOINT: endpoint,
        SEXTANT_HOST_ROOT: this.hostRoot,
        SEXTANT_STATE_DIR: this.stateDir,
        SEXTANT_LOGS_READ_FROM: 'end',
        SEXTANT_CONTAINERS_ENABLED: 'false',
        SEXTANT_INTERVAL: '1m',
        SEXTANT_LISTEN: '127.0.0.1:0',
        SEXTANT_BATCH_LOGS_LINGER: '200ms',
        SEXTANT_EXPORT_RETRY_MAX_BACKOFF: '1s',
        ...env,
      },
    });
    this.#procs.push(agent);
    const self = String((await agent.waitForLog('agent started', 30_000))['self']);
    return { agent, self };
  }

  track(p: SextantProcess): SextantProcess {
    this.#procs.push(p);
    return p;
  }

  async close(): Promise<void> {
    for (const p of this.#procs) {
      p.kill('SIGKILL');
      await p.exited;
    }
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

type Attr = { key: string; value: Record<string, unknown> };

export interface StoredLog {
  readonly body: string;
  readonly resource: Readonly<Record<string, unknown>>;
  readonly attributes: Readonly<Record<string, unknown>>;
}

function flatten(attrs: Attr[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of attrs ?? []) out[a.key] = Object.values(a.value)[0];
  return out;
}

/**
 * The gateway's stored log requests, read while it may still be appending: a last line not
 * yet complete is left for the next read (storedRequests would throw on it).
 */
function storedLogRequests(dataDir: string): Record<string, unknown>[] {
  const dir = join(dataDir, 'logs');
  let files: string[] = [];
  try {
    files = readdirSync(dir).sort();
  } catch {
    return [];
  }
  const out: Record<string, unknown>[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(join(dir, f), 'utf8');
    } catch {
      continue;
    }
    const end = text.lastIndexOf('\n');
    for (const line of text.slice(0, end + 1).split('\n')) if (line) out.push(JSON.parse(line).request as Record<string, unknown>);
  }
  return out;
}

/** Every log record the gateway stored, with its resource attributes (repeats kept). */
export function storedLogs(dataDir: string): StoredLog[] {
  const out: StoredLog[] = [];
  for (const req of storedLogRequests(dataDir)) {
    for (const rl of (req['resourceLogs'] ?? []) as { resource?: { attributes?: Attr[] }; scopeLogs?: { logRecords?: { body?: { stringValue?: string }; attributes?: Attr[] }[] }[] }[]) {
      const resource = flatten(rl.resource?.attributes);
      for (const sl of rl.scopeLogs ?? []) {
        for (const r of sl.logRecords ?? []) out.push({ body: r.body?.stringValue ?? '', resource, attributes: flatten(r.attributes) });
      }
    }
  }
  return out;
}

/** The body the test writers print: `{"c":"<writer>","n":<i>}`, or with a padding field `"p"`. */
export const WRITER_LINE = /^\{"c":"([^"]+)","n":(\d+)(?:,"p":"[^"]*")?\}$/;

/**
 * A busybox shell loop printing `count` numbered lines as fast as it can
 * (`{"c":"<name>","n":<i>}`, with `"p":"xxx…"` of `pad` bytes when `pad` > 0).
 */
export function numberedLoop(name: string, count: number, pad = 0): string {
  const p = pad > 0 ? `,\\"p\\":\\"${'x'.repeat(pad)}\\"` : '';
  return `i=0; while [ $i -lt ${count} ]; do echo "{\\"c\\":\\"${name}\\",\\"n\\":$i${p}}"; i=$((i+1)); done`;
}

/** Numbers per writer name, repeats kept, in stored order. */
export function numbersByWriter(logs: readonly StoredLog[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const l of logs) {
    const m = WRITER_LINE.exec(l.body);
    if (m === null) continue;
    let arr = out.get(m[1]!);
    if (arr === undefined) out.set(m[1]!, (arr = []));
    arr.push(Number(m[2]));
  }
  return out;
}

/** Missing numbers of [0, count) and the repeat count. */
export function tally(got: readonly number[] | undefined, count: number): { missing: number[]; duplicates: number; unique: number } {
  const seen = new Set<number>();
  let duplicates = 0;
  for (const n of got ?? []) {
    if (seen.has(n)) duplicates++;
    else seen.add(n);
  }
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!seen.has(i)) missing.push(i);
  return { missing, duplicates, unique: seen.size };
}

/** What the process's descriptors point at (`/proc/<pid>/fd/*` link targets). */
export function openFiles(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  const out: string[] = [];
  let fds: string[];
  try {
    fds = readdirSync(dir);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      out.push(readlinkSync(`${dir}/${fd}`));
    } catch {
      // closed between the listing and the readlink
    }
  }
  return out;
}

/** Checkpoint entries (checkpoints.json's second line) still live (not released as gone). */
export function liveCheckpoints(stateDir: string): { path: string; offset: number }[] {
  let text: string;
  try {
    text = readFileSync(join(stateDir, 'checkpoints.json'), 'utf8');
  } catch {
    return [];
  }
  const lines = text.split('\n');
  if (lines.length < 2 || !lines[1]) return [];
  const entries = JSON.parse(lines[1]) as { path: string; offset: number; goneAt: number }[];
  return entries.filter((e) => e.goneAt === 0).map((e) => ({ path: e.path, offset: e.offset }));
}

/** The agent's /metrics text (`self` from its 'agent started' line). */
export async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `runtime.v1.RuntimeService/ReopenContainerLog`, what kubelet calls right after renaming a
 * container's log file: containerd closes the old file and creates the path anew. Not in the
 * agent's CRI subset (it only reads), so the request is encoded here: field 1, container_id.
 */
export class CriLogReopener {
  readonly #client: grpc.Client;

  constructor(socketPath: string) {
    this.#client = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure());
  }

  reopen(containerId: string): Promise<void> {
    const id = Buffer.from(containerId, 'utf8');
    const body = Buffer.concat([Buffer.from([0x0a, id.length]), id]);
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        '/runtime.v1.RuntimeService/ReopenContainerLog',
        (b: Buffer) => b,
        (b: Buffer) => b,
        body,
        { deadline: Date.now() + 20_000 },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}

/**
 * Removes a pod whose container may be exiting on its own right now: containerd refuses to
 * remove a container while it still processes the exit ("still running"), so retry briefly.
 */
export async function removePodSettled(pods: { removePod(id: string): Promise<void> }, podId: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await pods.removePod(podId);
      return;
    } catch (err) {
      if (attempt >= 10) throw err;
      await sleep(200);
    }
  }
}
