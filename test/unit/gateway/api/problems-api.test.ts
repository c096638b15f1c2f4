import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../../src/gateway/gateway.js';
import { entityId } from '../../../../src/gateway/store/entities.js';
import { until } from '../../../helpers/wait.js';
import { post, removeDir, secret, start, tmpDataDir } from '../helpers.js';
import { testProblemsConfig } from '../problems/problem-helpers.js';
import { containerResource, logRecord, logsBody } from '../store/store-helpers.js';
import { apiData, apiGet } from './api-helpers.js';

/**
 * GET /api/v1/problems and /api/v1/problems/{id} of a real gateway whose engine runs every
 * 200 ms: the shape the explorer reads (checked against the OpenAPI document on every call),
 * the filters, paging, and bad parameters answered 400 naming the parameter.
 */

const READ = 'read-token-problems-0123';
const auth = `Api-Token ${READ}`;
const NS = 1_000_000n;
let dir: string;
let gw: Gateway;
let base: string;
const ctr = containerResource('ca11', 'app', 'uid-a', 'web-a', 'shop', 'web');
const other = containerResource('cc44', 'db', 'uid-c', 'db-0', 'data', 'db');
const CTR = entityId('container', 'uid-a/app');
const POD = entityId('pod', 'uid-a');

interface ProblemJson {
  id: string;
  title: string;
  status: string;
  rootCause: { id: string; type: string; name: string; why: string };
  affected: { id: string }[];
  evidence: { type: string }[];
  history?: { event: string }[];
}

beforeAll(async () => {
  dir = await tmpDataDir();
  ({ gw } = await start(dir, { ndjson: false, api: { readTokens: [secret(READ)], readOpenOnLoopback: false, queryTimeoutMs: 5_000, queryMaxRows: 1_000 }, problems: testProblemsConfig({ intervalMs: 200 }) }));
  base = gw.url;
  const now = BigInt(Date.now()) * NS;
  const records = [
    logRecord(ctr, now - 2000n * NS, 'container shop/web-a/app: a process was killed by the OOM killer', 17, 'container.oom'),
    logRecord(other, now - 1000n * NS, 'container data/db-0/db exited with code 2', 13, 'container.exit', { 'process.exit.code': 2 }),
  ];
  expect((await post(`${base}/v1/logs`, logsBody(records))).status).toBe(200);
});

afterAll(async () => {
  await gw.close();
  await removeDir(dir);
});

describe('GET /api/v1/problems', () => {
  it('lists the open problems with root cause, affected entities and evidence', async () => {
    const data = await until('two problems', async () => {
      const d = await apiData<{ problems: ProblemJson[] }>(base, '/api/v1/problems?status=open', auth);
      return d.problems.length === 2 ? d : undefined;
    });
    const oom = data.problems.find((p) => p.rootCause.id === CTR)!;
    expect(oom.status).toBe('open');
    expect(oom.title).toMatch(/OOM kill/);
    expect(oom.rootCause).toMatchObject({ type: 'container', name: 'app' });
    expect(oom.affected.map((a) => a.id)).toContain(CTR);
    expect(oom.evidence.length).toBeGreaterThan(0);
    expect((await apiData<{ problems: ProblemJson[] }>(base, '/api/v1/problems?status=closed', auth)).problems).toEqual([]);
  });

  it('filters by an entity, or one above it (a pod finds its containers\' problems); pages with a cursor', async () => {
    const byCtr = await apiData<{ problems: ProblemJson[] }>(base, `/api/v1/problems?entity=${CTR}`, auth);
    expect(byCtr.problems).toHaveLength(1);
    const byPod = await apiData<{ problems: ProblemJson[] }>(base, `/api/v1/problems?entity=${POD}&status=all`, auth);
    expect(byPod.problems.map((p) => p.id)).toEqual(byCtr.problems.map((p) => p.id));
    const page1 = await apiData<{ problems: ProblemJson[]; nextCursor: string | null }>(base, '/api/v1/problems?limit=1', auth);
    expect(page1.problems).toHaveLength(1);
    expect(page1.nextCursor).not.toBeNull();
    const page2 = await apiData<{ problems: ProblemJson[]; nextCursor: string | null }>(base, `/api/v1/problems?limit=1&cursor=${page1.nextCursor!}`, auth);
    expect(page2.problems).toHaveLength(1);
    expect(page2.problems[0]!.id).not.toBe(page1.problems[0]!.id);
    expect(page2.nextCursor).toBeNull();
  });

  it('one problem with its history and signals; 404 for an unknown id', async () => {
    const list = await apiData<{ problems: ProblemJson[] }>(base, `/api/v1/problems?entity=${CTR}`, auth);
    const one = await apiData<ProblemJson & { signals: unknown[] }>(base, `/api/v1/problems/${list.problems[0]!.id}`, auth);
    expect(one.history!.map((h) => h.event)[0]).toBe('opened');
    expect(one.signals.length).toBeGreaterThan(0);
    const missing = await apiGet(base, '/api/v1/problems/0123456789abcdef', auth);
    expect(missing.status).toBe(404);
  });

  it('bad parameters are 400s that name the parameter', async () => {
    const cases: [string, string][] = [
      ['/api/v1/problems?status=broken', 'status'],
      ['/api/v1/problems?entity=nope', 'entity'],
      ['/api/v1/problems?limit=0', 'limit'],
      ['/api/v1/problems?limit=abc', 'limit'],
      ['/api/v1/problems?cursor=!!!', 'cursor'],
      ['/api/v1/problems?status=open&status=closed', 'status'],
      ['/api/v1/problems?severity=1', 'severity'],
      ['/api/v1/problems/not-an-id', 'id'],
      ['/api/v1/problems/X123456789abcdef', 'id'],
    ];
    for (const [url, parameter] of cases) {
      const a = await apiGet(base, url, auth);
      expect(a.status, url).toBe(400);
      expect(a.body['parameter'], url).toBe(parameter);
    }
    // A cursor of another query is refused.
    const page1 = await apiData<{ nextCursor: string | null }>(base, '/api/v1/problems?limit=1', auth);
    const other = await apiGet(base, `/api/v1/problems?limit=1&status=open&cursor=${page1.nextCursor!}`, auth);
    expect(other.status).toBe(400);
    expect(other.body['parameter']).toBe('cursor');
    expect((await apiGet(base, '/api/v1/problems', undefined)).status).toBe(401);
  });
});
