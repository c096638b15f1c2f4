import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { QueryApi } from '../../../../src/gateway/api/query-api.js';
import type { ApiStore } from '../../../../src/gateway/api/query-context.js';
import { Catalog } from '../../../../src/gateway/store/catalog.js';
import { QueryBusyError, QueryTimeoutError } from '../../../../src/gateway/store/store-errors.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';

/**
 * How the API answers when a query cannot finish: a timeout (the store interrupted it), too many
 * queries at once, an unexpected failure. The store is a stand-in whose query fails as told;
 * the real cancellation is tested on a real store (telemetry-store.test.ts).
 */

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function serve(fail: () => Error): Promise<string> {
  const catalog = new Catalog(60_000);
  catalog.loadMetric(1, 'm', '1', 'gauge', 0, false);
  const store: ApiStore = {
    state: 'ready',
    problem: undefined,
    catalog,
    rollupWatermarkMs: 0,
    file: '/tmp/x.duckdb',
    pendingBytes: 0,
    now: () => Date.now(),
    query: () => Promise.reject(fail()),
  };
  catalog.loadEntity('0123456789abcdef', 'pod', 'u', 'p', 'ns', '{}', 'otlp', 0, 0);
  catalog.finishLoading();
  const api = new QueryApi(() => store, { readTokens: [], readOpenOnLoopback: true, queryTimeoutMs: 100, queryMaxRows: 10 }, { logger: silentLogger(), registry: new Registry(), authorize: () => 'missing' });
  const server = createServer((req, res) => void api.handle(req, res));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('query API bounds', () => {
  it('a cancelled query is 503 timeout', async () => {
    const base = await serve(() => new QueryTimeoutError(100));
    const r = await fetch(`${base}/api/v1/logs`);
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ status: 'error', errorType: 'timeout' });
  });

  it('too many queries is 503 busy with Retry-After', async () => {
    const base = await serve(() => new QueryBusyError());
    const r = await fetch(`${base}/api/v1/logs`);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(await r.json()).toMatchObject({ errorType: 'busy' });
  });

  it('an unexpected failure is 500 without its details', async () => {
    const base = await serve(() => new Error('Binder Error: secret internals'));
    const r = await fetch(`${base}/api/v1/logs`);
    expect(r.status).toBe(500);
    const body = await r.text();
    expect(body).not.toContain('secret internals');
    expect(JSON.parse(body)).toEqual({ status: 'error', errorType: 'internal', error: 'internal error' });
  });
});
