import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InjectionSettings, mutatePod, MOUNT_PATH } from '../../src/webhook/pod-mutator.js';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import { CriPods } from '../helpers/cri-pods.js';
import { createPodNetns, netnsUnavailable, type PodNetns } from '../helpers/pod-netns.js';
import { FakeApiServer, json, selfSignedCert, watchStream } from '../unit/enrich/k8s/fake-api-server.js';
import { freePort, startGateway } from './helpers/gateway-store.js';
import { SextantProcess } from './helpers/sextant-process.js';

/**
 * Real applications, instrumented exactly as the webhook instruments them, through a real
 * `sextant agent` (mode application: the receiver alone) into a real `sextant gateway`:
 *
 * - an Express app (CommonJS) in a pod network namespace → identified by its address (`peer`);
 * - an ES-module app on the node's network (a host-network pod) → identified by the
 *   k8s.pod.uid the webhook's OTEL_RESOURCE_ATTRIBUTES give it (`resource`);
 * - the Express app in a Docker container, sending over the agent's unix socket → identified by
 *   its socket credentials, pid → cgroup → container id → pod (`socket`);
 * - the ES-module app in a CRI pod (containerd), over the socket → `socket`, the pod named by
 *   the cgroup path itself.
 *
 * The pods are served by a fake API server in the API's shapes; the bundle is the one the image
 * ships, built by instrumentation/nodejs/build-bundle.mjs. Each app's spans, metrics and logs
 * must be stored by the gateway with its pod's attributes.
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const APPS = path.join(REPO, 'test/fixtures/apps');
const NODE = 'node-e2e';
const NS = 'shop';
const rt = await runtimesOrSkip('docker', 'cri');
const noNetns = netnsUnavailable();

interface PodDef {
  readonly name: string;
  readonly uid: string;
  readonly rs: string;
  readonly deployment: string;
  readonly hostNetwork: boolean;
  ip: string;
  containerId: string;
}

const PODS: Record<'peer' | 'resource' | 'socket' | 'cri', PodDef> = {
  peer: { name: 'express-cjs-5f8d7c9b4-k2x8q', uid: '1b0c7a52-1d2e-4f3a-9b8c-aa0000000001', rs: 'express-cjs-5f8d7c9b4', deployment: 'express-cjs', hostNetwork: false, ip: '', containerId: '' },
  resource: { name: 'esm-http-7c6b5a4d3-p9z1w', uid: '1b0c7a52-1d2e-4f3a-9b8c-aa0000000002', rs: 'esm-http-7c6b5a4d3', deployment: 'esm-http', hostNetwork: true, ip: '127.0.0.1', containerId: '' },
  socket: { name: 'express-docker-6d5c4b3a2-m4n5b', uid: '1b0c7a52-1d2e-4f3a-9b8c-aa0000000003', rs: 'express-docker-6d5c4b3a2', deployment: 'express-docker', hostNetwork: false, ip: '', containerId: '' },
  // A CRI pod: its cgroup path names the pod (kubepods/…/pod<uid>/<id>), so the socket proves it
  // even before the API reports the container's id.
  cri: { name: 'esm-cri-5b4a3c2d1-q7r8s', uid: '1b0c7a52-1d2e-4f3a-9b8c-aa0000000004', rs: 'esm-cri-5b4a3c2d1', deployment: 'esm-cri', hostNetwork: true, ip: '', containerId: '' },
};

/** A pod as the API lists it (the fields the agent keeps, in their real places). */
function podJson(p: PodDef): unknown {
  return {
    metadata: {
      name: p.name,
      namespace: NS,
      uid: p.uid,
      resourceVersion: '100',
      generateName: `${p.rs}-`,
      labels: { app: p.deployment, 'pod-template-hash': p.rs.split('-').at(-1) },
      annotations: { 'sextant.dev/inject-nodejs': 'true', 'metadata.dynatrace.com/dt.cost.costcenter': 'cc-shop' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: p.rs, uid: `rs-${p.uid}`, controller: true, blockOwnerDeletion: true }],
    },
    spec: { nodeName: NODE, hostNetwork: p.hostNetwork, containers: [{ name: 'app', image: 'node:24' }] },
    status: {
      phase: 'Running',
      hostIP: '10.0.0.5',
      podIP: p.ip,
      podIPs: p.ip === '' ? [] : [{ ip: p.ip }],
      containerStatuses: [{ name: 'app', ready: true, restartCount: 0, image: 'node:24', containerID: p.containerId === '' ? '' : `${p === PODS.cri ? 'containerd' : 'docker'}://${p.containerId}`, state: { running: { startedAt: '2026-12-06T20:00:00Z' } } }],
    },
  };
}

function replicaSetJson(p: PodDef): unknown {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: p.rs, namespace: NS, uid: `rs-${p.uid}`, resourceVersion: '90', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: p.deployment, uid: `dep-${p.uid}`, controller: true }] },
  };
}

const SETTINGS: InjectionSettings = { image: 'sextant:test', agentPort: 0, disabledInstrumentations: ['fs', 'dns', 'net'], resourceDetectors: 'env,host,os,process', bundleSizeLimit: '256Mi' };

/** The env the webhook gives container `app` of pod `p`, with the kubelet's downward API and $(VAR) expansion applied. */
function injectedEnv(p: PodDef, hostIp: string, agentPort: number, bundle: string): Record<string, string> {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: (podJson(p) as any).metadata, spec: { containers: [{ name: 'app', image: 'node:24' }] } };
  const result = mutatePod(pod, undefined, { ...SETTINGS, agentPort });
  expect(result.injected).toBe(true);
  const fields: Record<string, string> = { 'status.hostIP': hostIp, 'metadata.name': p.name, 'metadata.uid': p.uid, 'metadata.namespace': NS, 'spec.nodeName': NODE };
  const env: Record<string, string> = {};
  const list: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }[] = [];
  for (const op of result.patch) {
    if (op.op !== 'add' || !op.path.includes('/containers/0/env')) continue;
    if (Array.isArray(op.value)) list.push(...(op.value as typeof list));
    else if (op.path.endsWith('/env/0')) list.unshift(op.value as (typeof list)[number]);
    else list.push(op.value as (typeof list)[number]);
  }
  for (const e of list) {
    const raw = e.valueFrom !== undefined ? fields[e.valueFrom.fieldRef.fieldPath]! : e.value!;
    env[e.name] = raw.replace(/\$\(([A-Z_]+)\)/g, (m, n: string) => env[n] ?? m);
  }
  env['NODE_OPTIONS'] = env['NODE_OPTIONS']!.replace(MOUNT_PATH, bundle);
  return env;
}

type Attr = { key: string; value: Record<string, unknown> };
interface Stored {
  resource: { attributes: Attr[] };
  names: string[];
}

function stored(dataDir: string, signal: 'traces' | 'metrics' | 'logs'): Stored[] {
  const dir = path.join(dataDir, signal);
  let files: string[] = [];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Stored[] = [];
  for (const f of files) {
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      const req = JSON.parse(line).request as any;
      for (const r of req.resourceSpans ?? req.resourceMetrics ?? req.resourceLogs ?? []) {
        const names: string[] = [];
        for (const s of r.scopeSpans ?? []) for (const sp of s.spans ?? []) names.push(sp.name);
        for (const s of r.scopeMetrics ?? []) for (const m of s.metrics ?? []) names.push(m.name);
        for (const s of r.scopeLogs ?? []) for (const l of s.logRecords ?? []) names.push(String(l.body?.stringValue ?? ''));
        out.push({ resource: r.resource ?? { attributes: [] }, names });
      }
    }
  }
  return out;
}

function attrs(s: Stored): Record<string, unknown> {
  return Object.fromEntries(s.resource.attributes.map((a) => [a.key, Object.values(a.value)[0]]));
}

function ofPod(dataDir: string, signal: 'traces' | 'metrics' | 'logs', uid: string): Stored[] {
  return stored(dataDir, signal).filter((s) => attrs(s)['k8s.pod.uid'] === uid);
}

function run(argv: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd: APPS });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function until(fn: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Bind mounts that let the busybox image run this machine's Node (glibc, libstdc++ from the host). */
function nodeMounts(bundle: string): { hostPath: string; containerPath: string; readonly: boolean }[] {
  return [
    { hostPath: '/lib/x86_64-linux-gnu', containerPath: '/lib/x86_64-linux-gnu', readonly: true },
    { hostPath: '/lib64', containerPath: '/lib64', readonly: true },
    { hostPath: process.execPath, containerPath: '/usr/local/bin/node', readonly: true },
    { hostPath: bundle, containerPath: MOUNT_PATH, readonly: true },
    { hostPath: APPS, containerPath: '/app', readonly: true },
    { hostPath: path.join(REPO, 'node_modules'), containerPath: '/node_modules', readonly: true },
  ];
}

/** Exercises the apps with: one metric export a second, so the run sees at least one. */
const APP_ENV = { APP_REQUESTS: '3', APP_LINGER_MS: '1500', OTEL_METRIC_EXPORT_INTERVAL: '1000', OTEL_BLRP_SCHEDULE_DELAY: '200', OTEL_BSP_SCHEDULE_DELAY: '200' };

describe('real applications through the agent\'s receiver to the gateway', () => {
  let work: string;
  let bundle: string;
  let api: FakeApiServer;
  let gateway: SextantProcess;
  let dataDir: string;
  let agent: SextantProcess;
  let httpPort: number;
  let socketDir: string;
  let ns: PodNetns | undefined;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'sx-apps-'));
    bundle = path.join(work, 'bundle');
    const { buildBundle } = (await import(path.join(REPO, 'instrumentation/nodejs/build-bundle.mjs'))) as { buildBundle(dest: string, root?: string): { packages: number } };
    buildBundle(bundle, REPO);
    if (noNetns === undefined) {
      ns = createPodNetns();
      PODS.peer.ip = ns.podIp;
    }
    api = new FakeApiServer(selfSignedCert());
    api.handle = (req, res) => {
      const watch = req.query.get('watch') === '1';
      if (watch) return watchStream(res, '', false);
      if (req.path === '/api/v1/pods') return json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '100' }, items: Object.values(PODS).map(podJson) });
      if (req.path === '/api/v1/namespaces') {
        return json(res, 200, { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: '50' }, items: [{ metadata: { name: NS, uid: 'ns-shop', resourceVersion: '10' } }, { metadata: { name: 'kube-system', uid: 'cluster-uid-e2e', resourceVersion: '11' } }] });
      }
      const rs = Object.values(PODS).find((p) => req.path === `/apis/apps/v1/namespaces/${NS}/replicasets/${p.rs}`);
      if (rs !== undefined) return json(res, 200, replicaSetJson(rs));
      json(res, 404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'not found', reason: 'NotFound', code: 404 });
    };
    await api.listen();
    writeFileSync(path.join(work, 'ca.crt'), api.ca);
    writeFileSync(path.join(work, 'token'), 'e2e-token');
    ({ gateway, dataDir } = await startGateway(work));
    httpPort = await freePort();
    socketDir = path.join(work, 'sock');
    mkdirSync(socketDir, { mode: 0o755 });
  }, 120_000);

  afterAll(async () => {
    agent?.kill('SIGTERM');
    await agent?.exited;
    gateway?.kill('SIGTERM');
    await gateway?.exited;
    await api?.close();
    ns?.remove();
    rmSync(work, { recursive: true, force: true });
  });

  /** The agent: only when the pods the apps are in are known (the socket pod learns its container id first). */
  async function startAgent(): Promise<void> {
    const gwPort = (gateway.logs().find((l) => l['msg'] === 'gateway listening')!['url'] as string).split(':').at(-1);
    agent = new SextantProcess(['agent'], {
      cwd: work,
      env: {
        SEXTANT_MODE: 'application',
        SEXTANT_ENDPOINT: `http://127.0.0.1:${gwPort}`,
        SEXTANT_STATE_DIR: path.join(work, 'state'),
        SEXTANT_LISTEN: '127.0.0.1:0',
        SEXTANT_NODE_NAME: NODE,
        SEXTANT_RECEIVER_HTTP_LISTEN: `0.0.0.0:${httpPort}`,
        SEXTANT_RECEIVER_GRPC_LISTEN: '127.0.0.1:0',
        SEXTANT_RECEIVER_SOCKET: path.join(socketDir, 'otlp.sock'),
        SEXTANT_KUBERNETES_ENABLED: 'true',
        SEXTANT_KUBERNETES_API_SERVER: api.url,
        SEXTANT_KUBERNETES_CA_FILE: path.join(work, 'ca.crt'),
        SEXTANT_KUBERNETES_TOKEN_FILE: path.join(work, 'token'),
        SEXTANT_LOG_LEVEL: 'info',
        SEXTANT_BATCH_TRACES_LINGER: '100ms',
      },
    });
    await agent.waitForLog('agent started', 30_000);
    await agent.waitFor(() => api.of('/api/v1/pods', true).length > 0 || undefined, 20_000, 'the pod watch');
  }

  function expectPodAttributes(a: Record<string, unknown>, p: PodDef): void {
    expect(a).toMatchObject({
      'k8s.pod.uid': p.uid,
      'k8s.pod.name': p.name,
      'k8s.namespace.name': NS,
      'k8s.node.name': NODE,
      'k8s.deployment.name': p.deployment,
      'k8s.workload.kind': 'deployment',
      'k8s.workload.name': p.deployment,
      'k8s.cluster.uid': 'cluster-uid-e2e',
      'k8s.container.name': 'app',
      'dt.cost.costcenter': 'cc-shop',
      'host.name': NODE,
    });
  }

  async function expectAllSignals(p: PodDef, spanName: string, logText: string): Promise<void> {
    await until(() => ofPod(dataDir, 'traces', p.uid).some((s) => s.names.includes(spanName)), 30_000, `${p.deployment}: span ${spanName}`);
    await until(() => ofPod(dataDir, 'metrics', p.uid).some((s) => s.names.includes('http.server.request.duration')), 30_000, `${p.deployment}: metrics`);
    await until(() => ofPod(dataDir, 'logs', p.uid).some((s) => s.names.some((n) => n.includes(logText))), 30_000, `${p.deployment}: logs`);
    for (const signal of ['traces', 'metrics', 'logs'] as const) {
      const s = ofPod(dataDir, signal, p.uid)[0]!;
      expectPodAttributes(attrs(s), p);
      expect(attrs(s)['service.name']).toBe(p.deployment);
    }
  }

  it.skipIf(noNetns !== undefined)('an Express app (CommonJS) in a pod network namespace: identified by its address', async () => {
    await startAgent();
    const p = PODS.peer;
    const env = { ...injectedEnv(p, ns!.hostIp, httpPort, bundle), ...APP_ENV, NODE_PATH: path.join(REPO, 'node_modules') };
    const r = await run(ns!.command([process.execPath, path.join(APPS, 'express-app.cjs')]), env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('served 6 requests');
    await expectAllSignals(p, 'GET /hello', 'said hello');
    const metricsText = await fetch(`${(agent.logs().find((l) => l['msg'] === 'agent started')!['self'] as string)}/metrics`).then((x) => x.text());
    expect(metricsText).toMatch(/sextant_receiver_resources_total\{identified_by="peer",signal="traces"\} [1-9]/);
  }, 120_000);

  it('an ES-module app on the node\'s network (host-network pod): identified by the k8s.pod.uid the webhook gave it; its ESM imports instrumented', async () => {
    if (agent === undefined || agent.child.exitCode !== null) await startAgent();
    const p = PODS.resource;
    const env = { ...injectedEnv(p, '127.0.0.1', httpPort, bundle), ...APP_ENV, NODE_PATH: path.join(REPO, 'node_modules') };
    const r = await run([process.execPath, path.join(APPS, 'esm-app.mjs')], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('served 3 requests');
    // "GET /hello" is the server span named by Express's route: only the ESM hook sees Express here.
    await expectAllSignals(p, 'GET /hello', 'said hello from an ES module');
    const metricsText = await fetch(`${(agent.logs().find((l) => l['msg'] === 'agent started')!['self'] as string)}/metrics`).then((x) => x.text());
    expect(metricsText).toMatch(/sextant_receiver_resources_total\{identified_by="resource",signal="traces"\} [1-9]/);
    // The control: the same app with the SDK's own --require entry and no loader hook gets its
    // http spans but not Express's route — what the bundle's hook adds for ES modules.
    const register = path.join(bundle, 'node_modules/@opentelemetry/auto-instrumentations-node/build/src/register.js');
    const control = await run([process.execPath, path.join(APPS, 'esm-app.mjs')], { ...env, OTEL_SERVICE_NAME: 'esm-require-only', NODE_OPTIONS: `--require ${register}` });
    expect(control.code, control.stderr).toBe(0);
    const controlSpans = () => ofPod(dataDir, 'traces', p.uid).filter((s) => attrs(s)['service.name'] === 'esm-require-only').flatMap((s) => s.names);
    await until(() => controlSpans().includes('GET'), 30_000, 'the control app\'s spans');
    expect(controlSpans()).not.toContain('GET /hello');
  }, 120_000);

  it.skipIf(!rt.available)('the Express app in a Docker container over the unix socket: identified by its socket credentials', async () => {
    const p = PODS.socket;
    const docker = (args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((resolve) =>
        execFile('docker', ['-H', `unix://${rt.dockerSock}`, ...args], { timeout: 60_000 }, (err, out, e) => resolve({ code: err ? 1 : 0, out: out.trim(), err: e })),
      );
    // Created first, started later: the pod's status names the container before it sends.
    const name = `sx-recv-${process.pid}`;
    const env = { ...injectedEnv(p, '127.0.0.1', httpPort, MOUNT_PATH), ...APP_ENV, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'unix:///var/run/sextant/otlp.sock', OTEL_EXPORTER_OTLP_INSECURE: 'true' };
    const create = await docker([
      'create', '--name', name, '--label', rt.testLabel, '--network', 'none',
      ...nodeMounts(bundle).flatMap((m) => ['-v', `${m.hostPath}:${m.containerPath}:ro`]),
      '-v', `${socketDir}:/var/run/sextant`,
      ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      rt.busyboxImage, '/usr/local/bin/node', '/app/express-app.cjs',
    ]);
    expect(create.code, create.err).toBe(0);
    try {
      p.containerId = create.out;
      // The agent learns the container from the pod list: restart it with the new status.
      agent?.kill('SIGTERM');
      await agent?.exited;
      await startAgent();
      const start = await docker(['start', '-a', name]);
      expect(start.code, start.err).toBe(0);
      expect(start.out).toContain('served 6 requests');
      await expectAllSignals(p, 'GET /hello', 'said hello');
      const a = attrs(ofPod(dataDir, 'traces', p.uid)[0]!);
      expect(a['container.id']).toBe(p.containerId);
      const metricsText = await fetch(`${(agent.logs().find((l) => l['msg'] === 'agent started')!['self'] as string)}/metrics`).then((x) => x.text());
      expect(metricsText).toMatch(/sextant_receiver_resources_total\{identified_by="socket",signal="traces"\} [1-9]/);
    } finally {
      await docker(['rm', '-f', name]);
    }
  }, 180_000);

  it.skipIf(!rt.available)('the ES-module app in a CRI pod (containerd) over the unix socket: identified by its socket credentials', async () => {
    if (agent === undefined || agent.child.exitCode !== null) await startAgent();
    const p = PODS.cri;
    const pods = new CriPods({ socketPath: rt.criSock, criRoot: rt.criRoot, image: rt.busyboxImage });
    const socketCount = async () => {
      const text = await fetch(`${(agent.logs().find((l) => l['msg'] === 'agent started')!['self'] as string)}/metrics`).then((x) => x.text());
      return Number(/sextant_receiver_resources_total\{identified_by="socket",signal="traces"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await socketCount();
    try {
      const env = { ...injectedEnv(p, '127.0.0.1', httpPort, MOUNT_PATH), ...APP_ENV, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'unix:///var/run/sextant/otlp.sock', OTEL_EXPORTER_OTLP_INSECURE: 'true' };
      await pods.runPod({
        name: p.name,
        namespace: NS,
        uid: p.uid,
        containers: [{ name: 'app', command: ['/usr/local/bin/node', '/app/esm-app.mjs'], env, mounts: [...nodeMounts(bundle), { hostPath: socketDir, containerPath: '/var/run/sextant' }] }],
      });
      await expectAllSignals(p, 'GET /hello', 'said hello from an ES module');
      expect(await socketCount()).toBeGreaterThan(before);
      expect(attrs(ofPod(dataDir, 'traces', p.uid)[0]!)['container.id']).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await pods.close();
    }
  }, 180_000);
});
