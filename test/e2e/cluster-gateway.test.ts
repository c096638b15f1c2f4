import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { LEASE_ANNOTATION } from '../../src/gateway/cluster/event-checkpoint.js';
import { TOKEN } from '../unit/enrich/k8s/cluster.js';
import { event, load, UID } from '../unit/gateway/cluster/cluster-fixtures.js';
import { type Api, LEASE_NS, startApi } from '../unit/gateway/cluster/harness.js';
import { OtlpReceiver } from '../unit/gateway/cluster/otlp-capture.js';
import { encodeRef, logsRequest } from '../unit/gateway/helpers.js';
import { until } from '../helpers/wait.js';
import { freePort, storedRequests } from './helpers/gateway-store.js';
import { SextantProcess } from './helpers/sextant-process.js';

/**
 * `sextant gateway` as real processes (dist/) monitoring the stand-in API server (loopback HTTPS,
 * a token file and a CA file, the `kubernetes.*` keys the agent uses), forwarding to a real
 * OTLP/HTTP receiver: the metrics and events it exports, one replica monitoring at a time, the
 * other taking over after `kill -9` within a lease duration of the leader's last renewal, no event
 * sent twice across the failover or a restart, and every replica still forwarding OTLP.
 */

const LEASE = 'sextant-gateway-cluster-monitor';
const LEASE_SECONDS = 3;

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

interface Gateway {
  readonly proc: SextantProcess;
  readonly identity: string;
  readonly otlp: string;
  readonly self: string;
  readonly dataDir: string;
}

async function gateway(api: Api, upstream: string, dir: string, name: string, dataDir = path.join(dir, name)): Promise<Gateway> {
  const otlpPort = await freePort();
  const selfPort = await freePort();
  const proc = new SextantProcess(['gateway'], {
    cwd: dir,
    env: {
      SEXTANT_GATEWAY_LISTEN: `127.0.0.1:${otlpPort}`,
      SEXTANT_LISTEN: `127.0.0.1:${selfPort}`,
      SEXTANT_GATEWAY_DATA_DIR: dataDir,
      SEXTANT_GATEWAY_UPSTREAM: upstream,
      // NDJSON beside the embedded store: the test reads what was stored from the files.
      SEXTANT_GATEWAY_NDJSON: 'true',
      SEXTANT_KUBERNETES_API_SERVER: api.server.url,
      SEXTANT_KUBERNETES_TOKEN_FILE: path.join(dir, 'token'),
      SEXTANT_KUBERNETES_CA_FILE: path.join(dir, 'ca.crt'),
      SEXTANT_KUBERNETES_CLUSTER_NAME: 'prod-eu-1',
      SEXTANT_CLUSTER_ENABLED: 'true',
      SEXTANT_CLUSTER_INTERVAL: '1s',
      SEXTANT_CLUSTER_LEASE_NAMESPACE: LEASE_NS,
      SEXTANT_CLUSTER_LEASE_DURATION: `${LEASE_SECONDS}s`,
    },
  });
  cleanups.push(async () => {
    proc.kill('SIGKILL');
    await proc.exited;
  });
  const line = await proc.waitForLog('cluster monitor: campaigning for the Lease', 20_000);
  await proc.waitForLog('gateway started', 20_000);
  return { proc, identity: String(line['identity']), otlp: `http://127.0.0.1:${otlpPort}`, self: `http://127.0.0.1:${selfPort}`, dataDir };
}

async function readyz(g: Gateway): Promise<string> {
  const r = await request(`${g.self}/readyz`);
  return r.body.text();
}

function holder(api: Api): string | undefined {
  return api.cluster.lease(LEASE_NS, LEASE)?.spec?.holderIdentity;
}

async function setup(): Promise<{ api: Api; receiver: OtlpReceiver; dir: string }> {
  const api = await startApi();
  cleanups.push(() => api.close());
  load(api.cluster);
  const receiver = new OtlpReceiver();
  await receiver.listen();
  cleanups.push(() => receiver.close());
  const dir = mkdtempSync(path.join(tmpdir(), 'sextant-cluster-e2e-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'token'), TOKEN);
  writeFileSync(path.join(dir, 'ca.crt'), api.server.ca);
  return { api, receiver, dir };
}

/** `uid@resourceVersion` of every event record the receiver got, repeats included. */
function delivered(r: OtlpReceiver): string[] {
  return r.events().map((e) => `${e.attributes['k8s.event.uid']}@${e.attributes['sextant.k8s.event.resource_version']}`);
}

function topEventVersion(api: Api): number {
  return Math.max(...api.cluster.all('Event').map((e) => Number(e.metadata.resourceVersion)));
}

describe('sextant gateway monitoring a cluster', () => {
  it('exports the cluster’s metrics and events upstream, fails over to the standby after kill -9, and sends no event twice', async () => {
    const { api, receiver, dir } = await setup();
    const a = await gateway(api, receiver.url, dir, 'gw-a');
    await api.cluster.leaseUntil((l) => l?.spec?.holderIdentity === a.identity, LEASE_NS, LEASE);
    let lastRenewByA = performance.now();
    api.cluster.beforeLeaseWrite = (req) => {
      if (req.body.includes(`"holderIdentity":"${a.identity}"`)) lastRenewByA = performance.now();
    };

    // What the issue says is invisible today: a Deployment at 1 of 3 ready, a CrashLoopBackOff,
    // a Pending pod with its FailedScheduling event.
    await receiver.until(() => receiver.latest('k8s.deployment.pod.desired', { 'k8s.deployment.name': 'checkout' }) === 3, 20_000, 'deployment metrics');
    expect(receiver.latest('sextant.k8s.deployment.pod.ready', { 'k8s.deployment.name': 'checkout' })).toBe(1);
    expect(receiver.latest('k8s.container.status.reason', { 'k8s.pod.uid': UID.podCrashing, 'k8s.container.name': 'app' }, { 'k8s.container.status.reason': 'CrashLoopBackOff' })).toBe(1);
    expect(receiver.latest('k8s.pod.status.phase', { 'k8s.pod.uid': UID.podPending }, { 'k8s.pod.status.phase': 'Pending' })).toBe(1);
    const crash = receiver.find('k8s.container.restart.count', { 'k8s.pod.uid': UID.podCrashing })[0]!;
    expect(crash.value).toBe(7);
    expect(crash.resource).toMatchObject({ 'k8s.deployment.name': 'checkout', 'k8s.cluster.name': 'prod-eu-1', 'dt.cost.costcenter': 'CC-42', 'k8s.node.name': 'node-a' });
    await receiver.until(() => receiver.events().length === 5, 20_000, 'the five events');
    const sched = receiver.events('FailedScheduling')[0]!;
    expect(sched).toMatchObject({ severityText: 'Warning', severityNumber: 13, scope: 'sextant/cluster' });
    expect(sched.attributes['k8s.event.count']).toBe(3);
    expect(sched.resource['k8s.pod.uid']).toBe(UID.podPending);
    expect(await readyz(a)).toMatch(/^ready: ok\nstore: open \([^)]*sextant\.duckdb\)\ncluster monitor: leading: 13\/13 kinds listed, 6 pods, 2 nodes/);
    // The way received data goes: the gateway's own store has them too.
    expect(JSON.stringify(storedRequests(a.dataDir, 'metrics'))).toContain('k8s.deployment.pod.desired');
    expect(JSON.stringify(storedRequests(a.dataDir, 'logs'))).toContain('FailedScheduling');

    // The standby: it watches nothing, yet receives and forwards OTLP like any replica.
    const b = await gateway(api, receiver.url, dir, 'gw-b');
    await until('gw-b on standby', async () => (await readyz(b)).includes(`cluster monitor: standby: ${a.identity} monitors the cluster`), { timeoutMs: 20_000, everyMs: 50, detail: () => readyz(b) });
    const posted = await request(`${b.otlp}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: encodeRef('logs', logsRequest(['through the standby'])) });
    expect(posted.statusCode).toBe(200);
    await posted.body.dump();
    await receiver.until(() => receiver.logs.some((l) => l.body === 'through the standby'), 20_000, 'the standby forwarding');

    // A node going NotReady, with its event.
    api.cluster.modify('Node', '', 'node-b', (n) => {
      n.status.conditions = n.status.conditions.map((c: Record<string, string>) => (c.type === 'Ready' ? { ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' } : c));
    });
    api.cluster.put('Event', event({ name: 'node-b.1813f2a4b5c6e001', namespace: 'default', uid: '66666666-0000-4000-8000-0000000000a1', type: 'Normal', reason: 'NodeNotReady', note: 'Node node-b status is now: NodeNotReady', regarding: { kind: 'Node', name: 'node-b', uid: UID.nodeB, apiVersion: 'v1' }, controller: 'node-controller', instance: '' }));
    await receiver.until(() => receiver.latest('k8s.node.condition.status', { 'k8s.node.name': 'node-b' }, { 'k8s.node.condition.type': 'Ready', 'k8s.node.condition.status': 'unknown' }) === 1, 20_000, 'node-b NotReady');
    await receiver.until(() => receiver.events('NodeNotReady').length === 1, 20_000, 'the NodeNotReady event');
    expect(receiver.events('NodeNotReady')[0]!.resource).toMatchObject({ 'k8s.node.name': 'node-b', 'k8s.node.uid': UID.nodeB });

    // The leader dies without a word, after its last renewal carried the delivered watermark.
    await api.cluster.leaseUntil((l) => Number(l?.metadata?.annotations?.[LEASE_ANNOTATION]) === topEventVersion(api), LEASE_NS, LEASE);
    a.proc.kill('SIGKILL');
    await a.proc.exited;
    const killedAt = performance.now();
    await api.cluster.leaseUntil((l) => l?.spec?.holderIdentity === b.identity, LEASE_NS, LEASE, 20_000);
    const takeover = { sinceKillMs: Math.round(performance.now() - killedAt), sinceLastRenewMs: Math.round(performance.now() - lastRenewByA) };
    console.log(`failover after kill -9: ${JSON.stringify(takeover)} (lease ${LEASE_SECONDS} s)`);
    // Within one lease duration of the leader's last renewal (the poll that notices it adds at most
    // a few ms: the standby wakes when the lease runs out); generous for a loaded 2-core machine.
    expect(takeover.sinceLastRenewMs).toBeLessThan(LEASE_SECONDS * 1000 + 1500);
    expect(api.cluster.lease(LEASE_NS, LEASE)!.spec.leaseTransitions).toBe(1);

    // The new leader monitors: its metrics arrive, and events after the failover come once.
    const before = receiver.points.length;
    await receiver.until(() => receiver.points.length > before && receiver.latest('k8s.deployment.pod.desired', { 'k8s.deployment.name': 'checkout' }) === 3, 20_000, 'metrics from gw-b');
    api.cluster.put('Event', event({ name: 'checkout.1813f2a4b5c6e002', namespace: 'shop', uid: '66666666-0000-4000-8000-0000000000a2', type: 'Normal', reason: 'ScalingReplicaSet', note: 'Scaled up replica set checkout-7d9f8b6c5d to 4 from 3', regarding: { kind: 'Deployment', namespace: 'shop', name: 'checkout', uid: UID.checkout, apiVersion: 'apps/v1' }, controller: 'deployment-controller', instance: '' }));
    await receiver.until(() => receiver.events('ScalingReplicaSet').length === 2, 20_000, 'the event after the failover');
    await readyz(b).then((t) => expect(t).toContain('cluster monitor: leading'));
    const d = delivered(receiver);
    expect(d).toHaveLength(7);
    expect(new Set(d).size).toBe(7);
  });

  it('does not replay the cluster’s events after a restart (SIGTERM, then the same data directory)', async () => {
    const { api, receiver, dir } = await setup();
    const first = await gateway(api, receiver.url, dir, 'gw');
    await api.cluster.leaseUntil((l) => l?.spec?.holderIdentity === first.identity, LEASE_NS, LEASE);
    await receiver.until(() => receiver.events().length === 5, 20_000, 'the five events');
    first.proc.kill('SIGTERM');
    expect((await first.proc.exited).code).toBe(0);
    // A clean stop released the Lease and wrote the watermark twice over (file and Lease).
    expect(holder(api)).toBe('');
    const file = JSON.parse(readFileSync(path.join(first.dataDir, 'state', 'cluster-events.json'), 'utf8')) as { resourceVersion: string };
    expect(Number(file.resourceVersion)).toBe(topEventVersion(api));

    api.cluster.put('Event', event({ name: 'web-0.1813f2a4b5c6e003', namespace: 'shop', uid: '66666666-0000-4000-8000-0000000000a3', type: 'Normal', reason: 'Pulling', note: 'Pulling image "registry.example.com/shop/web:2.0"', regarding: { kind: 'Pod', namespace: 'shop', name: 'web-0', uid: UID.web0, apiVersion: 'v1' }, controller: 'kubelet', instance: 'node-b' }));
    const second = await gateway(api, receiver.url, dir, 'gw2', first.dataDir);
    await api.cluster.leaseUntil((l) => l?.spec?.holderIdentity === second.identity, LEASE_NS, LEASE);
    await receiver.until(() => receiver.events('Pulling').length === 1, 20_000, 'the event from while it was down');
    // Its first interval comes after the events were handed over: by then a replay would be in.
    const before = receiver.points.length;
    await receiver.until(() => receiver.points.length > before, 20_000, 'an interval of the restarted gateway');
    const d = delivered(receiver);
    expect(d).toHaveLength(6);
    expect(new Set(d).size).toBe(6);
  });
});
