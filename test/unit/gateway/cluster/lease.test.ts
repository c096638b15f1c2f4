import { afterEach, describe, expect, it } from 'vitest';
import { LEASE_NAME } from '../../../../src/gateway/cluster/cluster-monitor.js';
import { microTime } from '../../../../src/gateway/cluster/lease-elector.js';
import { json } from '../../enrich/k8s/fake-api-server.js';
import { until } from '../../../helpers/wait.js';
import { load } from './cluster-fixtures.js';
import { type Api, LEASE_NS, leading, leaseOf, startApi, startMonitor, type Started } from './harness.js';
import { status } from './stand-in-cluster.js';

/**
 * Lease leader election between two monitors against the stand-in Lease API: one leads, the
 * other stands by; a 409 on a write is a lost race, not an error; a lost Lease stops monitoring
 * at once; a leader that cannot renew stops before its lease could pass to another; a clean stop
 * releases the Lease and the standby takes over at once. Lease duration 3 s (renew deadline 2 s,
 * retry period 400 ms).
 */

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function api(): Promise<Api> {
  const a = await startApi();
  cleanups.push(() => a.close());
  load(a.cluster);
  return a;
}

function monitor(a: Api, identity: string): Started {
  const s = startMonitor(a, { identity });
  cleanups.push(() => s.stop());
  return s;
}

function counter(s: Started, name: string, labels: Record<string, string>): number {
  return s.registry.counter(name, '').get(labels);
}

describe('Lease leader election', () => {
  it('creates the Lease, renews it with optimistic concurrency, and leaves the other replica on standby', async () => {
    const a = await api();
    const gwA = monitor(a, 'gw-a');
    await leading(a, gwA);
    const gwB = monitor(a, 'gw-b');
    await until('gw-b on standby', () => gwB.monitor.status().state === 'standby' && gwB.monitor.status().holder === 'gw-a', 10_000);
    // Renewals move renewTime; the holder stays.
    const before = leaseOf(a)!.spec.renewTime as string;
    await a.cluster.leaseUntil((l) => l?.spec?.renewTime !== before, LEASE_NS, LEASE_NAME);
    const l = leaseOf(a)!;
    expect(l.spec).toMatchObject({ holderIdentity: 'gw-a', leaseDurationSeconds: 3, leaseTransitions: 0 });
    expect(l.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(a.cluster.leaseWrites.filter((w) => w.holder === 'gw-b')).toEqual([]);
    expect(gwB.monitor.status().detail).toContain('gw-a monitors the cluster');
    expect(gwB.registry.gauge('sextant_cluster_leader', '').get()).toBe(0);
    expect(gwA.registry.gauge('sextant_cluster_leader', '').get()).toBe(1);
    // The standby lists and watches nothing: the 14 watches (13 kinds and the events) are gw-a's.
    const watches = a.server.requests.filter((r) => r.query.get('watch') === '1').length;
    expect(watches).toBe(14);
  });

  it('treats a 409 Conflict as a lost race: the replica that lost reads the Lease again and stands by', async () => {
    const a = await api();
    // A free Lease both see; when gw-a's take-over arrives, gw-b has just written it.
    a.cluster.setLease(LEASE_NS, LEASE_NAME, { holderIdentity: '', leaseDurationSeconds: 3, leaseTransitions: 4 });
    let raced = false;
    a.cluster.beforeLeaseWrite = (req) => {
      if (raced || req.method !== 'PUT' || !req.body.includes('"holderIdentity":"gw-a"')) return;
      raced = true;
      const t = microTime();
      a.cluster.setLease(LEASE_NS, LEASE_NAME, { holderIdentity: 'gw-b', leaseDurationSeconds: 3, acquireTime: t, renewTime: t, leaseTransitions: 5 });
    };
    const gwA = monitor(a, 'gw-a');
    await until('gw-a losing the race', () => raced && gwA.monitor.status().holder === 'gw-b', 10_000);
    expect(a.cluster.leaseWrites.find((w) => w.holder === 'gw-a')?.status).toBe(409);
    expect(counter(gwA, 'sextant_cluster_lease_requests_total', { verb: 'update', result: 'conflict' })).toBe(1);
    expect(gwA.monitor.status().state).toBe('standby');
    // A lost race is no outage: nothing about the API being unavailable.
    expect(gwA.log.lines.filter((l) => String(l['msg']).includes('unavailable'))).toEqual([]);
    // The "other gateway" never renews: gw-a takes over once the lease has run out, as transition 6.
    await a.cluster.leaseUntil((l) => l?.spec?.holderIdentity === 'gw-a', LEASE_NS, LEASE_NAME, 10_000);
    expect(leaseOf(a)!.spec.leaseTransitions).toBe(6);
  });

  it('stops monitoring at once when another replica holds the Lease now', async () => {
    const a = await api();
    const gwA = monitor(a, 'gw-a');
    await leading(a, gwA);
    expect(gwA.monitor.graph.count('Pod')).toBe(6);
    const t = microTime();
    a.cluster.setLease(LEASE_NS, LEASE_NAME, { holderIdentity: 'gw-z', leaseDurationSeconds: 3, acquireTime: t, renewTime: t, leaseTransitions: 1 }, leaseOf(a)!.metadata.annotations);
    const changedAt = performance.now();
    await until('gw-a stopping', () => gwA.monitor.status().state === 'standby', 5000);
    const tookMs = performance.now() - changedAt;
    // Within a retry period (400 ms) and a request; the bound is the lease duration (3 s), with room for a loaded machine.
    expect(tookMs).toBeLessThan(3000);
    expect(gwA.monitor.graph.count('Pod')).toBe(0);
    expect(await gwA.monitor.runInterval()).toBe(0);
    expect(gwA.registry.gauge('sextant_cluster_leader', '').get()).toBe(0);
    expect(counter(gwA, 'sextant_cluster_leadership_changes_total', { change: 'lost' })).toBe(1);
  });

  it('stops before its lease could pass on when it cannot renew (API unreachable), and says so on /readyz', async () => {
    const a = await api();
    const gwA = monitor(a, 'gw-a');
    await leading(a, gwA);
    let lastRenew = performance.now();
    a.cluster.beforeLeaseWrite = () => {
      lastRenew = performance.now();
    };
    a.cluster.intercept = (req, res) => {
      if (!req.path.includes('/leases')) return false;
      json(res, 503, status(503, 'ServiceUnavailable', 'etcdserver: request timed out'));
      return true;
    };
    await until('gw-a giving up', () => gwA.monitor.status().state !== 'leading', 10_000);
    const sinceRenew = performance.now() - lastRenew;
    // The renew deadline (2 s) ends it; a standby could only take over after 3 s.
    expect(sinceRenew).toBeLessThan(3000);
    expect(counter(gwA, 'sextant_cluster_leadership_changes_total', { change: 'deadline' })).toBe(1);
    expect(gwA.monitor.status().detail).toMatch(/lease: unavailable/);
    // One warning for the outage, not one per retry.
    const warnings = gwA.log.lines.filter((l) => l['level'] === 40 && String(l['msg']).startsWith('Kubernetes API unavailable'));
    expect(warnings).toHaveLength(1);
  });

  it('releases the Lease on a clean stop, and the standby takes over within a retry period', async () => {
    const a = await api();
    const gwA = startMonitor(a, { identity: 'gw-a' });
    await leading(a, gwA);
    const gwB = monitor(a, 'gw-b');
    await until('gw-b on standby', () => gwB.monitor.status().state === 'standby', 10_000);
    const stoppedAt = performance.now();
    await gwA.stop();
    await a.cluster.leaseUntil((l) => l?.spec?.holderIdentity === 'gw-b', LEASE_NS, LEASE_NAME, 10_000);
    const tookMs = performance.now() - stoppedAt;
    expect(tookMs).toBeLessThan(3000);
    await leading(a, gwB);
    expect(leaseOf(a)!.spec.leaseTransitions).toBe(1);
    expect(a.cluster.leaseWrites.some((w) => w.method === 'PUT' && w.holder === '' && w.status === 200)).toBe(true);
  });
});
