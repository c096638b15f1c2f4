import { execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startGateway, storedRequests } from '../e2e/helpers/gateway-store.js';
import { BIN, type SextantProcess } from '../e2e/helpers/sextant-process.js';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import { until } from '../helpers/wait.js';

/**
 * The Dockerfile, proven with the real dockerd and no registry: test/image/build-image.sh
 * builds it with --network none FROM base images made locally (debootstrap + this machine's
 * Node), then the agent container runs the way the DaemonSet runs it — read-only root, all
 * capabilities dropped but DAC_READ_SEARCH and SYS_PTRACE, uid 65532, the host's pid namespace,
 * the host paths read-only under /host, a writable state dir — and ships to a real
 * `sextant gateway` on the host. The gateway's store must show the host, a busybox container
 * started here (by its name) and that container's numbered log lines; `docker stop` must flush
 * and exit 0 within the grace period.
 *
 * Time: the first run on a machine makes the base images (two debootstraps, ~1.5-5 min,
 * cached in Docker and /var/cache/sextant-image), then the image build (~1 min; layer cache
 * makes a rebuild after a source change ~50 s) and ~1 min of running. Budget 8 min in CI.
 */

const rt = await runtimesOrSkip('docker');
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PREFIX = `sx-image-${process.pid}`;
const TAG = `sextant-test/sextant:image-test`;

function sh(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function docker(...args: string[]): Promise<string> {
  const r = await sh('docker', ['-H', `unix://${rt.dockerSock}`, ...args]);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

type Attr = { key: string; value: Record<string, unknown> };
const attr = (attrs: Attr[] | undefined, key: string): unknown => {
  const a = attrs?.find((x) => x.key === key);
  return a === undefined ? undefined : Object.values(a.value)[0];
};
interface ResourceMetrics {
  resource: { attributes: Attr[] };
  scopeMetrics: { metrics: { name: string }[] }[];
}
interface ResourceLogs {
  resource: { attributes: Attr[] };
  scopeLogs: { logRecords: { body?: { stringValue?: string } }[] }[];
}

/** Metric names stored, per resource, for resources that match `pick`. */
function metricNames(dataDir: string, pick: (attrs: Attr[]) => boolean): Set<string> {
  const names = new Set<string>();
  for (const req of storedRequests(dataDir, 'metrics')) {
    for (const rm of (req['resourceMetrics'] ?? []) as ResourceMetrics[]) {
      if (!pick(rm.resource.attributes)) continue;
      for (const sm of rm.scopeMetrics) for (const m of sm.metrics) names.add(m.name);
    }
  }
  return names;
}

/** The `"n":<number>` of stored log records from the container named `name`. */
function logNumbers(dataDir: string, name: string): number[] {
  const out: number[] = [];
  for (const req of storedRequests(dataDir, 'logs')) {
    for (const rl of (req['resourceLogs'] ?? []) as ResourceLogs[]) {
      if (attr(rl.resource.attributes, 'container.name') !== name) continue;
      for (const sl of rl.scopeLogs) {
        for (const r of sl.logRecords) {
          const m = /"n":(\d+)/.exec(r.body?.stringValue ?? '');
          if (m) out.push(Number(m[1]));
        }
      }
    }
  }
  return out;
}

describe.skipIf(!rt.available)('the container image, run like the DaemonSet runs it', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sextant-image-'));
  const agentName = `${PREFIX}-agent`;
  const loggerName = `${PREFIX}-logger`;
  let gateway: SextantProcess | undefined;
  let gwPort = 0;
  let dataDir = '';
  let selfPort = 0;
  let buildLog = '';
  const agentLogs = (): Promise<string> => sh('docker', ['-H', `unix://${rt.dockerSock}`, 'logs', '--tail', '60', agentName]).then((r) => `agent log:\n${r.stdout}${r.stderr}`);

  beforeAll(async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} missing: run npx tsc -p tsconfig.json first (the gateway runs from dist/)`);
    // Build (or reuse) the bases and the image. Output streams to the test log on failure only.
    const t0 = Date.now();
    const code = await new Promise<number>((resolve) => {
      const p = spawn('bash', [path.join(REPO, 'test/image/build-image.sh'), TAG], { env: { ...process.env, DOCKER_HOST: `unix://${rt.dockerSock}` }, stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout.on('data', (d: Buffer) => (buildLog += d.toString()));
      p.stderr.on('data', (d: Buffer) => (buildLog += d.toString()));
      p.on('exit', (c) => resolve(c ?? 1));
    });
    if (code !== 0) throw new Error(`test/image/build-image.sh failed (${code}):\n${buildLog}`);
    console.log(`image ${TAG} ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    ({ gateway, port: gwPort, dataDir } = await startGateway(tmp));
    selfPort = await freePort();
    // A container that prints numbered lines, 5 a second, for at most ~10 minutes.
    await docker('run', '-d', '--name', loggerName, '--label', `${rt.testLabel}=1`, '--network', 'none', rt.busyboxImage, 'sh', '-c', 'i=0; while [ $i -lt 3000 ]; do echo "{\\"msg\\":\\"image test\\",\\"n\\":$i}"; i=$((i+1)); sleep 0.2; done');
  }, 480_000);

  afterAll(async () => {
    await sh('docker', ['-H', `unix://${rt.dockerSock}`, 'rm', '-f', '-v', agentName, loggerName]);
    if (gateway) {
      gateway.kill('SIGTERM');
      await gateway.exited;
    }
    rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('is a small runtime image: no compiler, no dev dependencies, non-root, with the addon', async () => {
    const size = Number(await docker('image', 'inspect', '-f', '{{.Size}}', TAG));
    console.log(`image size: ${(size / 1e6).toFixed(1)} MB (${size} bytes)`);
    // Debian minbase ~80 MB + Node ~127 MB + app ~40 MB + the Node.js instrumentation bundle the
    // webhook's init container copies into application pods (~145 MB: auto-instrumentations-node
    // and its closure); measured 380 MB. A stray build stage would add the 550 MB build image.
    expect(size).toBeLessThan(450e6);
    const cfg = JSON.parse(await docker('image', 'inspect', '-f', '{{json .Config}}', TAG)) as { User: string; StopSignal: string; Healthcheck?: { Test: string[] }; Volumes: Record<string, unknown>; Entrypoint: string[] };
    expect(cfg.User).toBe('65532:65532');
    expect(cfg.StopSignal).toBe('SIGTERM');
    expect(cfg.Healthcheck?.Test.join(' ')).toContain('/healthz');
    expect(Object.keys(cfg.Volumes)).toEqual(['/var/lib/sextant']);
    const probe = await docker('run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', TAG, '-c',
      'command -v gcc python3 make npm >/dev/null && echo toolchain; ls /app/node_modules/typescript /app/node_modules/vitest 2>/dev/null && echo devdeps; ls /app/build/Release/sextant_proc.node; ls -ld /var/lib/sextant');
    expect(probe).not.toMatch(/toolchain|devdeps/);
    expect(probe).toContain('/app/build/Release/sextant_proc.node');
    expect(probe).toMatch(/^drwx------ \d+ sextant sextant .* \/var\/lib\/sextant$/m);
  });

  it('the launcher makes only the added capabilities effective for uid 65532, and none when none are added', async () => {
    const caps = async (...extra: string[]): Promise<string> =>
      docker('run', '--rm', '--network', 'none', '--cap-drop', 'ALL', ...extra, '--entrypoint', '/usr/local/bin/sextant-cap-launcher', TAG, '/bin/grep', 'CapEff', '/proc/self/status');
    // Bit 2 DAC_READ_SEARCH, bit 19 SYS_PTRACE.
    expect(await caps('--cap-add', 'DAC_READ_SEARCH', '--cap-add', 'SYS_PTRACE')).toMatch(/CapEff:\s+0000000000080004/);
    expect(await caps('--cap-add', 'DAC_READ_SEARCH')).toMatch(/CapEff:\s+0000000000000004/);
    expect(await caps()).toMatch(/CapEff:\s+0000000000000000/);
    // The gateway (and `version`) need no capability and start without any.
    expect(await docker('run', '--rm', '--network', 'none', '--cap-drop', 'ALL', '--read-only', TAG, 'version')).toMatch(/^sextant \d/);
  });

  it('sees the host, the other containers and their logs, and stops cleanly on docker stop', async () => {
    const state = path.join(tmp, 'state');
    mkdirSync(state, { mode: 0o700 });
    chownSync(state, 65532, 65532);
    const sockGid = statSync(rt.dockerSock).gid;
    const ro = (host: string, inContainer = `/host${host}`): string[] => (existsSync(host) ? ['-v', `${host}:${inContainer}:ro`] : []);
    const t0 = Date.now();
    await docker(
      'run', '-d', '--name', agentName, '--label', `${rt.testLabel}=1`,
      // The DaemonSet's security context.
      '--user', '65532:65532', '--read-only', '--cap-drop', 'ALL', '--cap-add', 'DAC_READ_SEARCH', '--cap-add', 'SYS_PTRACE',
      // Its runtime-socket groups: 0 (containerd) and, on a Docker host, the socket's group.
      '--group-add', '0', '--group-add', String(sockGid),
      '--pid', 'host', '--network', 'host', '--stop-timeout', '30', '--health-interval', '2s', '--health-start-period', '5s',
      ...ro('/proc'), ...ro('/sys'), ...ro('/etc/hostname'), ...ro('/etc/machine-id'), ...ro('/etc/os-release'), ...ro('/etc/passwd'),
      ...ro('/var/log/pods'), ...ro('/var/lib/docker/containers'), '-v', `${rt.dockerSock}:/host/var/run/docker.sock:ro`,
      '-v', `${state}:/var/lib/sextant`,
      '-e', `SEXTANT_ENDPOINT=http://127.0.0.1:${gwPort}`,
      '-e', `SEXTANT_LISTEN=127.0.0.1:${selfPort}`,
      '-e', 'SEXTANT_NODE_NAME=image-test-node',
      '-e', 'SEXTANT_INTERVAL=2s',
      '-e', 'SEXTANT_SUMMARY_INTERVAL=0',
      '-e', 'SEXTANT_LOGS_READ_FROM=beginning',
      '-e', 'SEXTANT_BATCH_LOGS_LINGER=200ms',
      TAG, 'agent',
    );
    const loggerId = await docker('inspect', '-f', '{{.Id}}', loggerName);

    // The host: system.* metrics on a resource without a container or process.
    await until('host metrics in the gateway store', () => {
      const names = metricNames(dataDir, (a) => attr(a, 'container.id') === undefined && attr(a, 'process.pid') === undefined && attr(a, 'sextant.process_group.key') === undefined);
      return [...names].some((n) => n.startsWith('system.cpu')) && [...names].some((n) => n.startsWith('system.memory')) ? names : undefined;
    }, { timeoutMs: 120_000, everyMs: 500, detail: agentLogs });

    // The busybox container, by its name (Docker API through the socket), with cgroup metrics.
    await until(`container metrics for ${loggerName}`, () => {
      const names = metricNames(dataDir, (a) => attr(a, 'container.name') === loggerName && attr(a, 'process.pid') === undefined && attr(a, 'sextant.process_group.key') === undefined);
      // CPU time is a delta: it needs a second cycle.
      return names.has('container.memory.usage') && [...names].some((n) => n.startsWith('container.cpu')) ? names : undefined;
    }, { timeoutMs: 60_000, everyMs: 500, detail: agentLogs });

    // Its log lines, from the root-owned json-file under /var/lib/docker/containers (needs
    // DAC_READ_SEARCH), in order from the first.
    const numbers = await until(`numbered log lines of ${loggerName}`, () => {
      const ns = logNumbers(dataDir, loggerName);
      return ns.length >= 10 ? ns : undefined;
    }, { timeoutMs: 60_000, everyMs: 500, detail: agentLogs });
    const distinct = [...new Set(numbers)].sort((a, b) => a - b);
    expect(distinct[0]).toBe(0);
    expect(distinct.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const rl = storedRequests(dataDir, 'logs').flatMap((r) => (r['resourceLogs'] ?? []) as ResourceLogs[]).find((x) => attr(x.resource.attributes, 'container.name') === loggerName)!;
    expect(attr(rl.resource.attributes, 'container.id')).toBe(loggerId);
    // Its first lines carry its name too: the log source waits for the runtime's first list.
    const nameless = storedRequests(dataDir, 'logs')
      .flatMap((r) => (r['resourceLogs'] ?? []) as ResourceLogs[])
      .filter((x) => attr(x.resource.attributes, 'container.id') === loggerId && attr(x.resource.attributes, 'container.name') !== loggerName);
    expect(nameless).toHaveLength(0);

    // Processes of other users (pid namespace of the host + SYS_PTRACE): process metrics exist.
    expect(metricNames(dataDir, (a) => attr(a, 'sextant.process_group.key') !== undefined || attr(a, 'process.pid') !== undefined).size).toBeGreaterThan(0);

    // The healthcheck passes (its interval is 2 s here).
    let health = '';
    await until('a healthy agent container', async () => (health = await docker('inspect', '-f', '{{.State.Health.Status}}', agentName)) === 'healthy', {
      timeoutMs: 30_000,
      everyMs: 1000,
      detail: () => `health: ${health}`,
    });
    console.log(`agent container: first data after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // Nothing tried to write outside the state dir, nothing was denied.
    const log = (await sh('docker', ['-H', `unix://${rt.dockerSock}`, 'logs', agentName])).stderr;
    expect(log).not.toMatch(/EROFS|read-only file system/i);
    expect(log).not.toMatch(/EACCES/);

    // docker stop: SIGTERM, flush, exit 0 well inside the 30 s grace.
    const s0 = Date.now();
    await docker('stop', '-t', '30', agentName);
    const stopS = (Date.now() - s0) / 1000;
    console.log(`docker stop took ${stopS.toFixed(1)} s`);
    expect(stopS).toBeLessThan(25);
    expect(await docker('inspect', '-f', '{{.State.ExitCode}} {{.State.OOMKilled}}', agentName)).toBe('0 false');
    const finalLog = (await sh('docker', ['-H', `unix://${rt.dockerSock}`, 'logs', agentName])).stderr;
    expect(finalLog).toContain('stopping: flushing queued records');
    // The checkpoints went to the state dir, owned by 65532.
    expect(statSync(state).uid).toBe(65532);
  }, 300_000);
});
