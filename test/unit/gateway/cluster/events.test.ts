import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LEASE_ANNOTATION } from '../../../../src/gateway/cluster/event-checkpoint.js';
import { event, load, UID } from './cluster-fixtures.js';
import { type Api, LEASE_NS, leading, leaseOf, startApi, startMonitor, type Started } from './harness.js';
import { OtlpCapture } from './otlp-capture.js';
import { until } from '../../../helpers/wait.js';
import { LEASE_NAME } from '../../../../src/gateway/cluster/cluster-monitor.js';

/**
 * Kubernetes events exactly once: across watch restarts (the server ending the stream, a 410
 * and the re-list), series updates, a restart of the gateway (its state file), and a new leader
 * on another disk (the Lease's annotation). Every wait is on an event (a record arriving, a Lease
 * write), never a fixed time.
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

function monitor(a: Api, o: Parameters<typeof startMonitor>[1] = {}): Started {
  const s = startMonitor(a, o);
  cleanups.push(() => s.stop());
  return s;
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sextant-cluster-events-'));
  cleanups.push(async () => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** (uid, resourceVersion) of every event record delivered, repeats included. */
function delivered(c: OtlpCapture): string[] {
  return c.events().map((e) => `${e.attributes['k8s.event.uid']}@${e.attributes['sextant.k8s.event.resource_version']}`);
}

function newEvent(n: number, reason = 'Pulled'): Record<string, any> {
  return event({
    name: `checkout-7d9f8b6c5d-aaaaa.18${String(n).padStart(14, '0')}`,
    namespace: 'shop',
    uid: `77777777-0000-4000-8000-${String(n).padStart(12, '0')}`,
    type: 'Normal',
    reason,
    note: `event ${n}`,
    regarding: { kind: 'Pod', namespace: 'shop', name: 'checkout-7d9f8b6c5d-aaaaa', uid: UID.podRunning, apiVersion: 'v1' },
    controller: 'kubelet',
    instance: 'node-a',
  });
}

describe('events exactly once', () => {
  it('repeats nothing when the watch ends, when the server answers 410 and the list is read again', async () => {
    const a = await api();
    const s = monitor(a);
    await leading(a, s);
    const c = s.capture;
    await c.until(() => c.events().length === 5, 10_000, 'the listed events');

    a.cluster.put('Event', newEvent(1));
    await c.until(() => c.events('Pulled').length === 1, 10_000, 'event 1');
    // The server ends the watch (its timeoutSeconds): the next watch starts at the last version.
    const watchesBefore = a.server.of('/apis/events.k8s.io/v1/events', true).length;
    a.cluster.endWatches('Event');
    a.cluster.put('Event', newEvent(2));
    await c.until(() => c.events('Pulled').length === 2, 10_000, 'event 2 after a re-watch');
    expect(a.server.of('/apis/events.k8s.io/v1/events', true).length).toBeGreaterThan(watchesBefore);

    // History compacted away and the watch told 410: the monitor lists again, and the list holds
    // every event it has already sent.
    const listsBefore = a.server.of('/apis/events.k8s.io/v1/events', false).length;
    a.cluster.compact();
    a.cluster.expireWatches('Event');
    await until('re-list', () => a.server.of('/apis/events.k8s.io/v1/events', false).length > listsBefore, 10_000);
    a.cluster.put('Event', newEvent(3));
    await c.until(() => c.events('Pulled').length === 3, 10_000, 'event 3 after the re-list');
    const d = delivered(c);
    expect(new Set(d).size).toBe(d.length);
    expect(d).toHaveLength(8);
    expect(s.registry.counter('sextant_kubernetes_relists_total', '').get({ resource: 'events' })).toBeGreaterThanOrEqual(1);
    expect(s.registry.counter('sextant_cluster_events_total', '').get({ result: 'skipped' })).toBeGreaterThanOrEqual(7);
  });

  it('sends a series again when its count goes up, with the new count, once', async () => {
    const a = await api();
    const s = monitor(a);
    await leading(a, s);
    const c = s.capture;
    await c.until(() => c.events('BackOff').length === 1, 10_000, 'BackOff');
    expect(c.events('BackOff')[0]!.attributes['k8s.event.count']).toBe(12);
    a.cluster.modify('Event', 'shop', 'checkout-7d9f8b6c5d-bbbbb.1813f2a4b5c6d7f0', (e) => {
      e.series = { count: 13, lastObservedTime: '2026-12-01T08:14:30.000000Z' };
    });
    await c.until(() => c.events('BackOff').length === 2, 10_000, 'the series update');
    const [first, second] = c.events('BackOff');
    expect(second!.attributes['k8s.event.count']).toBe(13);
    expect(second!.attributes['k8s.event.uid']).toBe(first!.attributes['k8s.event.uid']);
    expect(second!.timeUnixNano).toBe(String(BigInt(Date.parse('2026-12-01T08:14:30Z')) * 1_000_000n));
  });

  it('does not replay after a restart of the gateway (its state file), and sends what happened while it was down', async () => {
    const a = await api();
    const dataDir = tempDir();
    const first = startMonitor(a, { dataDir });
    await leading(a, first);
    await first.capture.until(() => first.capture.events().length === 5, 10_000, 'the listed events');
    a.cluster.put('Event', newEvent(1));
    await first.capture.until(() => first.capture.events().length === 6, 10_000, 'event 1');
    await first.stop();
    const file = JSON.parse(readFileSync(join(dataDir, 'state', 'cluster-events.json'), 'utf8')) as { resourceVersion: string };
    expect(Number(file.resourceVersion)).toBe(Number(a.cluster.get('Event', 'shop', newEvent(1).metadata.name)!.metadata.resourceVersion));

    // Down: two events happen, and the Lease is deleted so only the file can tell.
    a.cluster.put('Event', newEvent(2));
    a.cluster.put('Event', newEvent(3));
    a.cluster.setLease(LEASE_NS, LEASE_NAME, { holderIdentity: '', leaseDurationSeconds: 1 });

    const second = monitor(a, { dataDir });
    await leading(a, second);
    await second.capture.until(() => second.capture.events().length === 2, 10_000, 'the two new events');
    // Wait until the file covers them too, then make sure nothing older came.
    await second.capture.until(() => Number(JSON.parse(readFileSync(join(dataDir, 'state', 'cluster-events.json'), 'utf8')).resourceVersion) >= Number(a.cluster.get('Event', 'shop', newEvent(3).metadata.name)!.metadata.resourceVersion) || undefined, 10_000, 'checkpoint');
    expect(second.capture.events().map((e) => e.body)).toEqual(['event 2', 'event 3']);
  });

  it('hands the watermark to the next leader on another disk through the Lease', async () => {
    const a = await api();
    const capture = new OtlpCapture();
    const first = monitor(a, { identity: 'gw-a', capture, dataDir: tempDir() });
    await leading(a, first);
    await capture.until(() => capture.events().length === 5, 10_000, 'the listed events');
    const top = Math.max(...a.cluster.all('Event').map((e) => Number(e.metadata.resourceVersion)));
    // The renewal after delivery carries the watermark.
    await a.cluster.leaseUntil((l) => Number(l?.metadata?.annotations?.[LEASE_ANNOTATION]) === top, LEASE_NS, LEASE_NAME);
    await first.stop();
    expect(leaseOf(a)!.spec.holderIdentity).toBe('');

    const second = monitor(a, { identity: 'gw-b', capture, dataDir: tempDir() });
    await leading(a, second);
    a.cluster.put('Event', newEvent(9, 'Started'));
    await capture.until(() => capture.events('Started').length === 1, 10_000, 'the new event from gw-b');
    const d = delivered(capture);
    expect(d).toHaveLength(6);
    expect(new Set(d).size).toBe(6);
  });

  it('waits for a busy gateway (503) and delivers the same batch again, never dropping it', async () => {
    const a = await api();
    const capture = new OtlpCapture();
    let refuse = 3;
    const output = {
      deliver(signal: 'metrics' | 'logs', body: Uint8Array) {
        if (signal === 'logs' && refuse > 0) {
          refuse--;
          return { ok: false as const, retryable: true, retryAfterMs: 10, reason: 'queue_full' };
        }
        capture.add(signal, body);
        return { ok: true as const };
      },
    };
    const s = monitor(a, { output });
    await leading(a, s);
    await capture.until(() => capture.events().length === 5, 10_000, 'the events after three refusals');
    expect(refuse).toBe(0);
    expect(s.registry.counter('sextant_cluster_deliveries_total', '').get({ signal: 'logs', result: 'retry' })).toBe(3);
    expect(new Set(delivered(capture)).size).toBe(5);
  });
});
