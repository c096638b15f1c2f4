import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../../src/gateway/gateway.js';
import { STORE_FILE } from '../../../../src/gateway/store/schema.js';
import type { TelemetryStore } from '../../../../src/gateway/store/telemetry-store.js';
import { createResource } from '../../../../src/model/index.js';
import { createLogger } from '../../../../src/self/logger.js';
import { encodeRef, logsRequest, post, readStored, removeDir, secret, start, TOKEN, tmpDataDir } from '../helpers.js';
import { until } from '../../../helpers/wait.js';
import { logRecord, logsBody, openStore, TestClock } from './store-helpers.js';

/**
 * A store that cannot be used — a damaged file, one from a newer version, a full disk — gives
 * one clear error with what to do, and never takes the gateway down: it goes on receiving and
 * forwarding, and answers 503 only where nothing else would keep a request.
 */

const dirs: string[] = [];
const gateways: Gateway[] = [];
const stores: TelemetryStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const g of gateways.splice(0)) await g.close();
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function dataDir(): Promise<string> {
  const d = await tmpDataDir();
  dirs.push(d);
  return d;
}

function capture(): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c.toString()));
  return {
    logger: createLogger('info', sink),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('a store that cannot be opened', () => {
  it('a damaged file: one error naming the file and the recovery; the gateway forwards and answers 200; the API says unavailable', async () => {
    const upDir = await dataDir();
    const { gw: upstream } = await start(upDir, { database: false });
    gateways.push(upstream);
    const dir = await dataDir();
    writeFileSync(path.join(dir, STORE_FILE), randomBytes(64 * 1024));
    const log = capture();
    const { gw } = await start(dir, { upstream: upstream.url, upstreamToken: secret(TOKEN), ndjson: false, api: { readTokens: [{ reveal: () => 'read-token' }], readOpenOnLoopback: false, queryTimeoutMs: 2_000, queryMaxRows: 100 } }, { logger: log.logger });
    gateways.push(gw);

    const errors = log.lines().filter((l) => l['msg'] === 'store unavailable; the gateway goes on receiving and forwarding without it');
    expect(errors).toHaveLength(1);
    expect(errors[0]!['problem']).toBe('corrupt');
    expect(String(errors[0]!['recovery'])).toContain(`mv ${path.join(dir, STORE_FILE)} ${path.join(dir, STORE_FILE)}.broken`);
    expect(gw.storeStatus()).toMatch(/^unavailable: store .* cannot be used \(corrupt\)/);

    const r = await post(`${gw.url}/v1/logs`, encodeRef('logs', logsRequest(['kept upstream'])));
    expect(r.status).toBe(200);
    await until('the upstream storing the request', async () => (await readStored(upDir, 'logs')).length === 1);

    const api = await fetch(`${gw.url}/api/v1/entities?type=pod`, { headers: { authorization: 'Api-Token read-token' } });
    expect(api.status).toBe(503);
    const body = (await api.json()) as Record<string, string>;
    expect(body).toMatchObject({ status: 'error', errorType: 'unavailable' });
    expect(body['recovery']).toContain('mv ');
  });

  it('without an upstream, a request waits with its sender: 503 store_unavailable with Retry-After', async () => {
    const dir = await dataDir();
    writeFileSync(path.join(dir, STORE_FILE), Buffer.from('this is not a database'));
    const { gw } = await start(dir, { ndjson: false });
    gateways.push(gw);
    const r = await post(`${gw.url}/v1/logs`, encodeRef('logs', logsRequest(['not kept'])));
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('30');
  });

  it('the recovery works: moved aside, the next start has a fresh store', async () => {
    const dir = await dataDir();
    const file = path.join(dir, STORE_FILE);
    writeFileSync(file, Buffer.from('this is not a database'));
    const first = await openStore(dir);
    stores.push(first);
    expect(first.state).toBe('unavailable');
    expect(first.problem!.problem).toBe('corrupt');
    execFileSync('mv', [file, `${file}.broken`]);
    const second = await openStore(dir);
    stores.push(second);
    expect(second.state).toBe('ready');
    expect(readFileSync(`${file}.broken`, 'utf8')).toBe('this is not a database');
  });

  it('a store written by a newer schema is refused as such, not overwritten', async () => {
    const dir = await dataDir();
    const s = await openStore(dir);
    await s.query('SELECT 1', [], 1_000);
    await s.close();
    // Bump the version the way a newer gateway would have left it.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const inst = await DuckDBInstance.create(path.join(dir, STORE_FILE));
    const c = await inst.connect();
    await c.run("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'");
    c.closeSync();
    inst.closeSync();
    const again = await openStore(dir);
    stores.push(again);
    expect(again.state).toBe('unavailable');
    expect(again.problem!.problem).toBe('version');
    expect(again.problem!.message).toContain('schema version is 99');
  });
});

/** A small tmpfs (root only): a disk that really fills. */
const canMount = process.getuid?.() === 0 && (() => {
  try {
    execFileSync('mount', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Writes `file` so that only about `leave` bytes stay free on its file system. */
function fill(file: string, leave: number): void {
  const fs = statfsSync(path.dirname(file));
  writeFileSync(file, Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - leave)));
}

describe.skipIf(!canMount)('a full disk (a 24 MiB tmpfs)', () => {
  const mnt = path.join(tmpdir(), `sextant-full-${process.pid}`);
  beforeAll(() => {
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt]);
  });
  afterAll(() => {
    execFileSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  it('commits fail and are refused (nothing acknowledged is lost); the store reopens once space is freed', async () => {
    const dir = path.join(mnt, 'gw');
    const log = capture();
    const store = await openStore(dir, { clock: new TestClock(Date.UTC(2026, 10, 25)), tuning: { reopenIntervalMs: 200 }, logger: log.logger });
    stores.push(store);
    expect(store.state).toBe('ready');
    // Leave a few MiB: the filler is what an operator would delete.
    const filler = path.join(mnt, 'filler');
    fill(filler, 4 * 1024 * 1024);
    const r = createResource({ 'service.name': 'disk' });
    let acked = 0;
    let failure: unknown;
    for (let batch = 0; batch < 200 && failure === undefined; batch++) {
      const records = [];
      for (let i = 0; i < 500; i++) records.push(logRecord(r, BigInt(Date.UTC(2026, 10, 25) + batch * 1000 + i) * 1_000_000n, `${acked + i} ${randomBytes(200).toString('base64')}`));
      try {
        await store.write('logs', 'protobuf', logsBody(records));
        acked += records.length;
      } catch (err) {
        failure = err;
      }
    }
    expect(failure, 'the disk filled up').toBeDefined();
    expect(acked).toBeGreaterThan(0);
    expect(store.state).toBe('unavailable');
    expect(store.problem!.problem).toBe('disk_full');
    expect(store.accepting).toBe(false);
    const errors = log.lines().filter((l) => l['msg'] === 'store unavailable; the gateway goes on receiving and forwarding without it');
    expect(errors).toHaveLength(1);
    expect(String(errors[0]!['recovery'])).toMatch(/free space/);

    rmSync(filler);
    await until('the store ready again', () => store.state === 'ready', 20_000);
    // Every acknowledged record is there.
    expect((await store.query('SELECT count(*) AS n FROM logs', [], 5_000))[0]!['n']).toBe(acked);
    await store.write('logs', 'protobuf', logsBody([logRecord(r, 1n, 'after')]));
    await store.flush();
    expect((await store.query('SELECT count(*) AS n FROM logs', [], 5_000))[0]!['n']).toBe(acked + 1);
    await until('the recovery logged', () => log.lines().some((l) => l['msg'] === 'store recovered: writing again'));
  }, 60_000);

  it('a gateway on a full disk goes on forwarding and answers 200 for what its upstream took', async () => {
    const upDir = await dataDir();
    const { gw: upstream } = await start(upDir, { database: false });
    gateways.push(upstream);
    const dir = path.join(mnt, 'edge');
    const { gw } = await start(dir, { upstream: upstream.url, upstreamToken: secret(TOKEN), ndjson: false });
    gateways.push(gw);
    const filler = path.join(mnt, 'filler2');
    fill(filler, 1024 * 1024);
    try {
      let sent = 0;
      for (let i = 0; i < 60; i++) {
        const bodies = Array.from({ length: 200 }, (_, k) => `${i}-${k} ${randomBytes(200).toString('base64')}`);
        const res = await post(`${gw.url}/v1/logs`, encodeRef('logs', logsRequest(bodies)));
        expect(res.status, `request ${i}`).toBe(200);
        sent += bodies.length;
      }
      expect(gw.storeStatus()).toMatch(/unavailable.*disk_full|unavailable/);
      await until('every record forwarded upstream', async () => (await readStored(upDir, 'logs')).reduce((n, l) => n + JSON.stringify(l).split('"body"').length - 1, 0) >= sent, 20_000);
    } finally {
      rmSync(filler, { force: true });
    }
  }, 60_000);
});

