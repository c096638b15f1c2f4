import { describe, expect, it } from 'vitest';
import { ApiHealth } from '../../../../src/enrich/k8s/api-health.js';
import { Backoff } from '../../../../src/enrich/k8s/backoff.js';
import { KubeApiError } from '../../../../src/enrich/k8s/kube-error.js';
import { captureLogger } from './fake-api-server.js';

describe('Backoff', () => {
  it('doubles its window to the cap, each wait in the upper half of its window', () => {
    const lo = new Backoff(1000, 60_000, () => 0);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(() => lo.next())).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    const hi = new Backoff(1000, 60_000, () => 1);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(() => hi.next())).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    hi.reset();
    expect(hi.next()).toBe(1000);
    // Never overflows however long the outage.
    for (let i = 0; i < 5000; i++) hi.next();
    expect(hi.next()).toBe(60000);
  });
});

describe('ApiHealth', () => {
  const err = new KubeApiError('unavailable', 0, '/api/v1/pods: ECONNREFUSED');

  it('one warning per outage, one info when back, debug in between; at most one warning per 10 minutes', () => {
    let now = 0;
    const { logger, lines } = captureLogger();
    const h = new ApiHealth(logger, ['pods', 'namespaces'], () => now);
    expect(h.status(0, 0).state).toBe('connecting');
    h.ok('pods');
    h.ok('namespaces');
    expect(h.status(3, 2)).toMatchObject({ state: 'synced', detail: 'ok', pods: 3, namespaces: 2 });
    for (let i = 0; i < 50; i++) h.failed(i % 2 ? 'pods' : 'namespaces', err, 1000);
    expect(h.status(3, 2).state).toBe('unavailable');
    expect(h.status(3, 2).detail).toContain('pods: unavailable (/api/v1/pods: ECONNREFUSED)');
    h.ok('pods');
    expect(h.status(0, 0).state).toBe('unavailable'); // namespaces still failing
    h.ok('namespaces');
    expect(h.status(0, 0).state).toBe('synced');
    const levels = (n: number) => lines.filter((l) => l['level'] === n).length;
    expect(levels(40)).toBe(1);
    expect(levels(30)).toBe(1);
    // Flapping within 10 minutes: no further warnings or infos.
    now += 60_000;
    h.failed('pods', err, 1000);
    h.ok('pods');
    expect(levels(40)).toBe(1);
    expect(levels(30)).toBe(1);
    now += 10 * 60_000;
    h.failed('pods', err, 1000);
    expect(levels(40)).toBe(2);
  });
});
