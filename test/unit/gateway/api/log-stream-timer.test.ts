import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LogStreams } from '../../../../src/gateway/api/log-stream.js';
import { Params } from '../../../../src/gateway/api/params.js';
import type { QueryContext } from '../../../../src/gateway/api/query-context.js';
import { until } from '../../../helpers/wait.js';

/**
 * The live log streams' one timer, against a store that only counts its queries: an idle
 * stream gets a heartbeat comment, and while the newest sequence number stands still no stream
 * asks for records (one cheap query a tick for all of them, not one per stream).
 */

const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

function fakeContext(seq: () => number, statements: string[]): QueryContext {
  const store = {
    state: 'ready' as const,
    problem: undefined,
    catalog: undefined,
    rollupWatermarkMs: 0,
    file: '',
    pendingBytes: 0,
    now: () => Date.now(),
    query: (sql: string) => {
      statements.push(sql.includes('max(seq)') ? 'max' : 'records');
      return Promise.resolve(sql.includes('max(seq)') ? [{ seq: seq() }] : []);
    },
  };
  return { store, catalog: undefined as never, nowMs: Date.now(), timeoutMs: 1000, maxRows: 100, query: new URLSearchParams(), endpoint: '/api/v1/logs/stream' };
}

describe('LogStreams', () => {
  it('heartbeats an idle stream; queries for records only when the store moved', async () => {
    let seq = 10;
    const statements: string[] = [];
    const ctx = fakeContext(() => seq, statements);
    const streams = new LogStreams({ maxStreams: 4, tickMs: 50, heartbeatMs: 120 }, () => ctx);
    const server = http.createServer((req, res) => void streams.start(ctx, new Params(new URLSearchParams(), ['entity', 'severity', 'q']), req, res));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    let text = '';
    const clients = [0, 1, 2].map(
      () =>
        new Promise<void>((resolve) => {
          http.get({ host: '127.0.0.1', port, path: '/' }, (res) => {
            res.setEncoding('utf8').on('data', (d: string) => (text += d));
            res.once('close', () => resolve());
          });
        }),
    );
    await until('three streams', () => streams.open === 3);
    await until('a heartbeat', () => text.includes(': heartbeat\n\n'), { timeoutMs: 3000 });
    // Three streams, many ticks: until the store moves, only the one max(seq) a tick.
    expect(statements.filter((s) => s === 'records')).toEqual([]);
    expect(text.match(/event: ready/g)).toHaveLength(3);
    seq = 11;
    await until('each stream asked once', () => statements.filter((s) => s === 'records').length === 3, { timeoutMs: 3000 });
    await new Promise((r) => setTimeout(r, 200));
    expect(statements.filter((s) => s === 'records')).toHaveLength(3);
    streams.close();
    await Promise.all(clients);
    expect(text.match(/event: bye/g)).toHaveLength(3);
    expect(streams.open).toBe(0);
  });
});
