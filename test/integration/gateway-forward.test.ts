/**
 * Forwarding between two real gateways over HTTP, with the real HttpTransport + RetryingTransport
 * the gateway builds from `upstream`: data arrives upstream, a full forward queue answers 503 with
 * Retry-After (and stores nothing), and an upstream that is down at first gets everything once up.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import type { Registry } from '../../src/self/registry.js';
import { encodeRef, logsRequest, metricsRequest, post, readStored, removeDir, secret, start, tmpDataDir, tracesRequest } from '../unit/gateway/helpers.js';
import { until } from '../helpers/wait.js';

const UPSTREAM_TOKEN = 'upstream-only-token-42';

/** A port nothing listens on right now (bound, then released). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function logBodies(lines: { request: Record<string, unknown> }[]): string[] {
  return lines.flatMap((l) =>
    (l.request['resourceLogs'] as { scopeLogs: { logRecords: { body: { stringValue: string } }[] }[] }[]).flatMap((rl) =>
      rl.scopeLogs.flatMap((sl) => sl.logRecords.map((r) => r.body.stringValue)),
    ),
  );
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function gateway(overrides: Parameters<typeof start>[1] = {}): Promise<{ gw: Gateway; registry: Registry; dir: string }> {
  const dir = await tmpDataDir();
  const { gw, registry } = await start(dir, overrides);
  cleanups.push(async () => {
    await gw.close();
    await removeDir(dir);
  });
  return { gw, registry, dir };
}

describe('gateway forwarding', () => {
  it('forwards protobuf and JSON requests to a second gateway, with its own token', async () => {
    const up = await gateway({ tokens: [secret(UPSTREAM_TOKEN)] });
    const edge = await gateway({ upstream: up.gw.url, upstreamToken: secret(UPSTREAM_TOKEN) });

    expect((await post(`${edge.gw.url}/v1/logs`, encodeRef('logs', logsRequest(['forwarded-proto'])))).status).toBe(200);
    const json = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'forwarded-json' }, traceId: 'ab'.repeat(16) }] }] }] });
    expect((await post(`${edge.gw.url}/v1/logs`, json, { 'content-type': 'application/json' })).status).toBe(200);
    expect((await post(`${edge.gw.url}/api/v2/otlp/v1/metrics`, encodeRef('metrics', metricsRequest(['fwd.metric'])))).status).toBe(200);
    expect((await post(`${edge.gw.url}/v1/traces`, encodeRef('traces', tracesRequest(['fwd-span'])))).status).toBe(200);

    await until('the logs and the trace forwarded', async () => logBodies(await readStored(up.dir, 'logs')).length === 2 && (await readStored(up.dir, 'traces')).length === 1);
    await until('the metrics forwarded', async () => (await readStored(up.dir, 'metrics')).length === 1);
    expect(logBodies(await readStored(up.dir, 'logs'))).toEqual(['forwarded-proto', 'forwarded-json']);
    // The JSON request was re-encoded as protobuf upstream; the id survived both hops as hex.
    expect(JSON.stringify(await readStored(up.dir, 'logs'))).toContain(`"traceId":"${'ab'.repeat(16)}"`);
    expect(JSON.stringify(await readStored(up.dir, 'metrics'))).toContain('fwd.metric');
    // The edge stored its own copy too.
    expect(logBodies(await readStored(edge.dir, 'logs'))).toEqual(['forwarded-proto', 'forwarded-json']);

    const fwd = edge.registry.counter('sextant_gateway_forwarded_total', '');
    await until('2 log requests forwarded', () => fwd.get({ signal: 'logs', result: 'ok' }) === 2);
    expect(fwd.get({ signal: 'metrics', result: 'ok' })).toBe(1);
    expect(up.registry.counter('sextant_gateway_requests_total', '').get({ signal: 'logs', code: '200' })).toBe(2);
    expect(edge.registry.gauge('sextant_gateway_forward_queue_bytes', '').get({ signal: 'logs' })).toBe(0);
  });

  it('answers 503 with Retry-After when the forward queue is full, stores nothing for it, and delivers once the upstream is up', async () => {
    const port = await freePort();
    const edge = await gateway({ upstream: `http://127.0.0.1:${port}`, forward: { maxQueueItems: 2, maxQueueBytes: 1 << 20 } });

    expect((await post(`${edge.gw.url}/v1/logs`, encodeRef('logs', logsRequest(['first'])))).status).toBe(200);
    expect((await post(`${edge.gw.url}/v1/logs`, encodeRef('logs', logsRequest(['second'])))).status).toBe(200);
    const full = await post(`${edge.gw.url}/v1/logs`, encodeRef('logs', logsRequest(['third'])));
    expect(full.status).toBe(503);
    expect(Number(full.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(full.body.toString()).toContain('forward queue is full');
    // Other signals have their own queues.
    expect((await post(`${edge.gw.url}/v1/traces`, encodeRef('traces', tracesRequest(['other-signal'])))).status).toBe(200);
    expect(edge.registry.gauge('sextant_gateway_forward_queue_bytes', '').get({ signal: 'logs' })).toBeGreaterThan(0);
    expect(edge.registry.counter('sextant_gateway_rejected_total', '').get({ reason: 'queue_full' })).toBe(1);

    // The upstream comes up on the port the edge has been retrying.
    const upDir = await tmpDataDir();
    const { gw: up } = await start(upDir, { listen: `127.0.0.1:${port}`, tokens: [] });
    cleanups.unshift(async () => {
      await up.close();
      await removeDir(upDir);
    });
    await until('2 log bodies upstream', async () => logBodies(await readStored(upDir, 'logs')).length === 2, 15_000);
    expect(logBodies(await readStored(upDir, 'logs'))).toEqual(['first', 'second']);

    // The sender's retry of the refused request now goes through: one copy stored, one forwarded.
    expect((await post(`${edge.gw.url}/v1/logs`, encodeRef('logs', logsRequest(['third'])))).status).toBe(200);
    await until('3 log bodies upstream', async () => logBodies(await readStored(upDir, 'logs')).length === 3);
    expect(logBodies(await readStored(upDir, 'logs'))).toEqual(['first', 'second', 'third']);
    await edge.gw.close();
    expect(logBodies(await readStored(edge.dir, 'logs'))).toEqual(['first', 'second', 'third']);
    const fwd = edge.registry.counter('sextant_gateway_forwarded_total', '');
    expect(fwd.get({ signal: 'logs', result: 'ok' })).toBe(3);
    expect(fwd.get({ signal: 'logs', result: 'abandoned' })).toBe(0);
  }, 30_000);

  it('close() gives up on an unreachable upstream within the shutdown deadline and counts what it abandoned', async () => {
    const port = await freePort();
    const dir = await tmpDataDir();
    const { gw, registry } = await start(dir, { upstream: `http://127.0.0.1:${port}`, shutdownTimeoutMs: 1_000 });
    expect((await post(`${gw.url}/v1/logs`, encodeRef('logs', logsRequest(['stuck'])))).status).toBe(200);
    const t0 = Date.now();
    await gw.close();
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(registry.counter('sextant_gateway_forwarded_total', '').get({ signal: 'logs', result: 'abandoned' })).toBe(1);
    // Stored locally all the same.
    expect(logBodies(await readStored(dir, 'logs'))).toEqual(['stuck']);
    await removeDir(dir);
  });

  it('a wrong upstream token is a permanent failure: counted, dropped, not retried forever', async () => {
    const up = await gateway({ tokens: [secret(UPSTREAM_TOKEN)] });
    const edge = await gateway({ upstream: up.gw.url, upstreamToken: secret('not-the-upstream-token') });
    expect((await post(`${edge.gw.url}/v1/logs`, encodeRef('logs', logsRequest(['denied'])))).status).toBe(200);
    const fwd = edge.registry.counter('sextant_gateway_forwarded_total', '');
    await until('the forward counted failed', () => fwd.get({ signal: 'logs', result: 'failed' }) === 1);
    expect(edge.registry.gauge('sextant_gateway_forward_queue_bytes', '').get({ signal: 'logs' })).toBe(0);
    expect(up.registry.counter('sextant_gateway_requests_total', '').get({ signal: 'logs', code: '403' })).toBe(1);
  });
});
