import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../../src/gateway/gateway.js';
import { entityId } from '../../../../src/gateway/store/entities.js';
import { until } from '../../../helpers/wait.js';
import { post, removeDir, secret, start, tmpDataDir } from '../helpers.js';
import { containerResource, logRecord, logsBody } from '../store/store-helpers.js';

/**
 * GET /api/v1/logs/stream on a real gateway: records arrive as server-sent events once
 * committed, with /api/v1/logs's filters; read tokens as everywhere; bounded in number; every
 * stream is ended (with a `bye`) when the gateway stops, which does not wait on them.
 */

const READ = 'read-token-0123456789';
const auth = { authorization: `Api-Token ${READ}` };
const ctrA = containerResource('ca11', 'app', 'uid-a', 'web-a', 'shop', 'web');
const ctrB = containerResource('cb22', 'db', 'uid-b', 'db-0', 'data', 'db');
const idA = entityId('container', 'uid-a/app');

let dir: string;
let gw: Gateway;

interface Sse {
  status: number;
  text: () => string;
  events: () => { event: string; data: string; id?: string }[];
  ended: Promise<void>;
  close: () => void;
}

function openStream(query: string, headers: Record<string, string> = auth): Promise<Sse> {
  const u = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: u.hostname, port: u.port, path: `/api/v1/logs/stream${query}`, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      const ended = new Promise<void>((r) => res.once('close', () => r()));
      resolve({
        status: res.statusCode ?? 0,
        text: () => text,
        events: () =>
          text
            .split('\n\n')
            .filter((b) => b.includes('event:'))
            .map((b) => {
              const get = (k: string): string | undefined => b.split('\n').find((l) => l.startsWith(`${k}: `))?.slice(k.length + 2);
              return { event: get('event')!, data: get('data') ?? '', ...(get('id') !== undefined ? { id: get('id')! } : {}) };
            }),
        ended,
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

const bodies = (s: Sse): string[] => s.events().filter((e) => e.event === 'logs').flatMap((e) => (JSON.parse(e.data) as { items: { body: string }[] }).items.map((i) => i.body));

beforeAll(async () => {
  dir = await tmpDataDir();
  ({ gw } = await start(dir, { ndjson: false, api: { readTokens: [secret(READ)], readOpenOnLoopback: false, queryTimeoutMs: 5_000, queryMaxRows: 1_000, maxLogStreams: 2 } }));
  // One record first, so the entities exist (and a stream starts after it, not with it).
  expect((await post(`${gw.url}/v1/logs`, logsBody([logRecord(ctrA, BigInt(Date.now()) * 1_000_000n, 'before the stream'), logRecord(ctrB, BigInt(Date.now()) * 1_000_000n, 'b before')]))).status).toBe(200);
  await until('the first records committed', async () => {
    const r = await fetch(`${gw.url}/api/v1/logs?entity=${idA}`, { headers: auth });
    return ((await r.json()) as { data?: { items: unknown[] } }).data?.items.length === 1;
  });
});

afterAll(async () => {
  await gw.close();
  await removeDir(dir);
});

describe('the live log stream', () => {
  it('refuses bad input the way /api/v1/logs does: no token, a bad parameter, an unknown entity', async () => {
    expect((await openStream(`?entity=${idA}`, {})).status).toBe(401);
    expect((await openStream(`?entity=${idA}`, { authorization: 'Api-Token nope' })).status).toBe(403);
    expect((await openStream('?severity=LOUD')).status).toBe(400);
    expect((await openStream('?limit=5')).status).toBe(400);
    expect((await openStream('?entity=0123456789abcdef')).status).toBe(404);
    const ok = await openStream(`?entity=${idA}`);
    expect(ok.status).toBe(200);
    ok.close();
  });

  it('sends what arrives after it opened, filtered, as events; bounded in number; ended with a bye when the gateway stops', async () => {
    // The previous test's stream is gone once the server has seen its socket close.
    const s = await until('a stream slot', async () => {
      const x = await openStream(`?entity=${idA}`);
      return x.status === 200 ? x : (x.close(), undefined);
    }, { timeoutMs: 10_000 });
    const filtered = await openStream(`?entity=${idA}&q=NEEDLE&severity=WARN`);
    expect(filtered.status).toBe(200);
    await until('the ready events', () => s.events().some((e) => e.event === 'ready'));
    expect(s.events()[0]!.event).toBe('ready');
    expect(s.text()).toMatch(/^retry: 3000\n/);
    const now = BigInt(Date.now()) * 1_000_000n;
    expect(
      (await post(`${gw.url}/v1/logs`, logsBody([logRecord(ctrA, now, 'live 1'), logRecord(ctrA, now + 1n, 'a NEEDLE warning', 13), logRecord(ctrB, now, 'other container')]))).status,
    ).toBe(200);
    await until('the live records', () => bodies(s).length >= 2, { timeoutMs: 10_000 });
    expect(bodies(s)).toEqual(['live 1', 'a NEEDLE warning']);
    await until('the filtered record', () => bodies(filtered).length >= 1, { timeoutMs: 10_000 });
    expect(bodies(filtered)).toEqual(['a NEEDLE warning']);
    // Two are open (gateway.logStreams: 2): a third is refused, busy.
    const third = await openStream(`?entity=${idA}`);
    expect(third.status).toBe(503);
    await third.ended;
    expect(third.text()).toContain('gateway.logStreams');
    const lastId = s.events().filter((e) => e.event === 'logs').at(-1)!.id;
    expect(Number(lastId)).toBeGreaterThan(0);
    const closing = gw.close();
    await Promise.all([s.ended, filtered.ended]);
    expect(s.events().at(-1)!.event).toBe('bye');
    expect(filtered.events().at(-1)!.event).toBe('bye');
    await closing;
  }, 30_000);
});
