import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { CriPods } from '../../helpers/cri-pods.js';
import type { Runtimes } from '../../helpers/runtimes.js';
import { freePort } from '../../e2e/helpers/gateway-store.js';
import { SextantProcess } from '../../e2e/helpers/sextant-process.js';

/**
 * One fresh run of the problems evaluation: a real `sextant gateway` (its store and problem
 * detection, the interval scaled down) and a real `sextant agent` (host root /, the real dockerd
 * and containerd CRI) shipping to it; containers made here carry a tag, so problems about them
 * are told apart from those about other containers on this shared machine.
 */

/** The agent's interval and the problem evaluation's, scaled down from 10 s (the issue's). */
export const INTERVAL_S = 2;

export interface ProblemJson {
  id: string;
  title: string;
  status: 'open' | 'closed';
  openedAt: string;
  closedAt: string | null;
  rootCause: { id: string; type: string; name: string; why: string };
  affected: { id: string; type: string; name: string }[];
  evidence: { type: string; signal: string; summary: string; entity: { name: string } | null; lines?: { body: string }[] }[];
  ranking: { id: string; type: string; name: string; score: number; reasons: string[] }[];
}

export class ProblemsRun {
  readonly tag: string;
  readonly node: string;
  readonly work: string;
  readonly docker: Docker;
  readonly pods: CriPods;
  readonly procs: SextantProcess[] = [];
  readonly dockerIds: string[] = [];
  readonly podIds: string[] = [];
  readonly cleanups: (() => Promise<void> | void)[] = [];
  api = '';
  readonly #read = 'eval-read-0123456789';
  readonly #rt: Runtimes;

  constructor(rt: Runtimes, name: string) {
    this.#rt = rt;
    this.tag = `sxp${process.pid}${name}`;
    this.node = `eval-${name}-${process.pid}`;
    this.work = mkdtempSync(path.join(tmpdir(), `sextant-eval-${name}-`));
    this.docker = new Docker({ socketPath: rt.dockerSock });
    this.pods = new CriPods({ socketPath: rt.criSock, criRoot: rt.criRoot, image: rt.busyboxImage });
  }

  /** Starts the gateway and the agent; resolves once the agent's first log scan is done. */
  async start(extraGatewayEnv: Record<string, string> = {}): Promise<void> {
    const port = await freePort();
    this.api = `http://127.0.0.1:${port}`;
    const ingest = 'eval-ingest-0123456789';
    const gw = new SextantProcess(['gateway'], {
      cwd: this.work,
      env: {
        SEXTANT_GATEWAY_LISTEN: `127.0.0.1:${port}`,
        SEXTANT_GATEWAY_DATA_DIR: path.join(this.work, 'gw'),
        SEXTANT_GATEWAY_TOKENS: ingest,
        SEXTANT_GATEWAY_READ_TOKENS: this.#read,
        SEXTANT_LISTEN: '127.0.0.1:0',
        SEXTANT_CLUSTER_ENABLED: 'false',
        SEXTANT_GATEWAY_PROBLEMS_INTERVAL: `${INTERVAL_S}s`,
        SEXTANT_GATEWAY_PROBLEMS_WINDOW: '15m',
        SEXTANT_GATEWAY_PROBLEMS_MIN_HISTORY: '60s',
        SEXTANT_GATEWAY_PROBLEMS_VIOLATIONS: '3',
        SEXTANT_GATEWAY_PROBLEMS_STEPS: '4',
        SEXTANT_GATEWAY_PROBLEMS_CLOSE_AFTER: '1m',
        SEXTANT_GATEWAY_PROBLEMS_EVENT_HOLD: '1m',
        SEXTANT_GATEWAY_PROBLEMS_CRASH_LOOP_WINDOW: '2m',
        ...extraGatewayEnv,
      },
    });
    this.procs.push(gw);
    await gw.waitForLog('gateway started', 30_000);
    mkdirSync('/var/log/pods', { recursive: true });
    // A file present at the first scan: the checkpoint written for it says the scan is done.
    mkdirSync(path.join(this.work, 'decoy'));
    writeFileSync(path.join(this.work, 'decoy', 'a.log'), 'before\n');
    const agent = new SextantProcess(['agent'], {
      cwd: this.work,
      env: {
        SEXTANT_ENDPOINT: this.api,
        SEXTANT_API_TOKEN: ingest,
        SEXTANT_HOST_ROOT: '/',
        SEXTANT_STATE_DIR: path.join(this.work, 'state'),
        SEXTANT_INTERVAL: `${INTERVAL_S}s`,
        SEXTANT_LISTEN: '127.0.0.1:0',
        SEXTANT_SUMMARY_INTERVAL: '0',
        SEXTANT_NODE_NAME: this.node,
        SEXTANT_PROCESS_ENABLED: 'false',
        SEXTANT_CONTAINERS_DOCKER_SOCKETS: this.#rt.dockerSock,
        SEXTANT_CONTAINERS_CRI_SOCKETS: this.#rt.criSock,
        SEXTANT_BATCH_LOGS_LINGER: '200ms',
        SEXTANT_EXPORT_RETRY_MAX_BACKOFF: '1s',
        SEXTANT_LOGS_CHECKPOINT_INTERVAL: '200ms',
        SEXTANT_LOGS_GLOBS: path.join(this.work, 'decoy', '*.log'),
      },
    });
    this.procs.push(agent);
    await agent.waitForLog('agent started', 30_000);
    await agent.waitFor(() => agent.logs().filter((l) => l['msg'] === 'container runtime connected').length >= 2 || undefined, 30_000, 'both runtimes connected');
    await agent.waitFor(() => (existsSync(path.join(this.work, 'state', 'checkpoints.json')) ? true : undefined), 30_000, 'the first log scan');
  }

  /** A Docker container of this run (named `<tag>-<name>`), started. Returns its start time (ms). */
  async dockerRun(name: string, script: string, host: Record<string, unknown> = {}): Promise<number> {
    const c = await this.docker.createContainer({
      name: `${this.tag}-${name}`,
      Image: this.#rt.busyboxImage,
      Cmd: ['sh', '-c', script],
      Labels: { [this.#rt.testLabel]: '1' },
      HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'json-file', Config: {} }, ...host },
    });
    this.dockerIds.push(c.id);
    const at = Date.now();
    await c.start();
    return at;
  }

  async dockerStop(name: string): Promise<void> {
    const c = this.docker.getContainer(`${this.tag}-${name}`);
    await c.stop({ t: 1 }).catch(() => undefined);
  }

  async dockerRemove(name: string): Promise<void> {
    const c = this.docker.getContainer(`${this.tag}-${name}`);
    const info = await c.inspect().catch(() => undefined);
    await c.remove({ force: true }).catch(() => undefined);
    if (info !== undefined) this.dockerIds.splice(this.dockerIds.indexOf(info.Id), 1);
  }

  /** The host entity's name: the machine's host name (the node name is on pod records only). */
  get hostName(): string {
    return hostname();
  }

  /** Whether an entity name is one of this run's (its containers, pods, and its node). */
  ours(name: string): boolean {
    return name.startsWith(this.tag) || name === this.node || name === this.hostName;
  }

  async get<T>(pathAndQuery: string): Promise<T> {
    const r = await fetch(`${this.api}${pathAndQuery}`, { headers: { authorization: `Api-Token ${this.#read}` } });
    const body = (await r.json()) as { status: string; data: T; error?: string };
    if (r.status !== 200) throw new Error(`${pathAndQuery} → ${r.status} ${body.error ?? ''}`);
    return body.data;
  }

  /** Every problem that touches this run's entities (root cause or affected). */
  async problems(): Promise<ProblemJson[]> {
    const all = await this.get<{ problems: ProblemJson[] }>('/api/v1/problems?status=all&limit=1000');
    return all.problems.filter((p) => this.ours(p.rootCause.name) || p.affected.some((a) => this.ours(a.name)));
  }

  /** Every problem of the gateway (other containers on this machine included). */
  async allProblems(): Promise<ProblemJson[]> {
    return (await this.get<{ problems: ProblemJson[] }>('/api/v1/problems?status=all&limit=1000')).problems;
  }

  gatewayLog(): string {
    return this.procs[0]?.stderr.slice(-4000) ?? '';
  }

  async stop(): Promise<void> {
    for (const p of [...this.procs].reverse()) {
      p.kill('SIGTERM');
      await p.exited;
    }
    for (const id of this.dockerIds) await this.docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    await this.pods.close();
    for (const c of this.cleanups.reverse()) await c();
    rmSync(this.work, { recursive: true, force: true });
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
