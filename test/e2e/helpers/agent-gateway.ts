import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Runtimes } from '../../helpers/runtimes.js';
import { freePort } from './gateway-store.js';
import { SextantProcess } from './sextant-process.js';

export interface AgentGatewayOptions {
  /** The tests' scratch folder: the gateway stores under `gw/`, the agent keeps its state in `state/`. */
  readonly work: string;
  readonly runtimes: Runtimes;
  readonly ingestToken: string;
  readonly readToken: string;
  readonly nodeName: string;
  /** Added to the gateway's environment. */
  readonly gatewayEnv?: Record<string, string>;
  /** Each process is added here as it starts, so the caller's afterAll stops it even when a later wait fails. */
  readonly procs: SextantProcess[];
}

export interface AgentGateway {
  /** The gateway's base URL, e.g. `http://127.0.0.1:34567`. */
  readonly base: string;
  readonly gateway: SextantProcess;
  /** The gateway's `gateway started` log line. */
  readonly gatewayStarted: Record<string, unknown>;
  readonly agent: SextantProcess;
}

/**
 * A real `sextant gateway` with its embedded store and a real `sextant agent` (host root /, the
 * real Docker and CRI runtimes, a 1 s interval, processes off) shipping to it. When this
 * resolves the agent has connected to both runtimes and finished its first log scan, so a
 * container started afterwards is read from its first line.
 */
export async function startAgentAndGateway(o: AgentGatewayOptions): Promise<AgentGateway> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gateway = new SextantProcess(['gateway'], {
    cwd: o.work,
    env: {
      SEXTANT_GATEWAY_LISTEN: `127.0.0.1:${port}`,
      SEXTANT_GATEWAY_DATA_DIR: path.join(o.work, 'gw'),
      SEXTANT_GATEWAY_TOKENS: o.ingestToken,
      SEXTANT_GATEWAY_READ_TOKENS: o.readToken,
      SEXTANT_LISTEN: '127.0.0.1:0',
      ...o.gatewayEnv,
    },
  });
  o.procs.push(gateway);
  const gatewayStarted = await gateway.waitForLog('gateway started', 30_000);
  mkdirSync('/var/log/pods', { recursive: true });
  // A file present at the first scan: the checkpoint written for it says the scan is done.
  mkdirSync(path.join(o.work, 'decoy'));
  writeFileSync(path.join(o.work, 'decoy', 'a.log'), 'before\n');
  const agent = new SextantProcess(['agent'], {
    cwd: o.work,
    env: {
      SEXTANT_ENDPOINT: base,
      SEXTANT_API_TOKEN: o.ingestToken,
      SEXTANT_HOST_ROOT: '/',
      SEXTANT_STATE_DIR: path.join(o.work, 'state'),
      SEXTANT_INTERVAL: '1s',
      SEXTANT_LISTEN: '127.0.0.1:0',
      SEXTANT_SUMMARY_INTERVAL: '0',
      SEXTANT_NODE_NAME: o.nodeName,
      SEXTANT_PROCESS_ENABLED: 'false',
      SEXTANT_CONTAINERS_DOCKER_SOCKETS: o.runtimes.dockerSock,
      SEXTANT_CONTAINERS_CRI_SOCKETS: o.runtimes.criSock,
      SEXTANT_BATCH_LOGS_LINGER: '200ms',
      SEXTANT_EXPORT_RETRY_MAX_BACKOFF: '1s',
      SEXTANT_LOGS_GLOBS: path.join(o.work, 'decoy', '*.log'),
      SEXTANT_LOGS_CHECKPOINT_INTERVAL: '200ms',
    },
  });
  o.procs.push(agent);
  await agent.waitForLog('agent started', 30_000);
  await agent.waitFor(() => agent.logs().filter((l) => l['msg'] === 'container runtime connected').length >= 2 || undefined, 30_000, 'both runtimes connected');
  // Files listed by the first scan are read from their end; the caller's must come after it.
  await agent.waitFor(() => (existsSync(path.join(o.work, 'state', 'checkpoints.json')) ? true : undefined), 30_000, 'the first scan (its checkpoints)');
  return { base, gateway, gatewayStarted, agent };
}
