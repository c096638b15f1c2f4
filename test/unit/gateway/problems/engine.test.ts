import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ProblemEngine } from '../../../../src/gateway/problems/engine.js';
import { listProblems } from '../../../../src/gateway/problems/problem-table.js';
import { WEBHOOK_SECRET_HEADER } from '../../../../src/gateway/problems/webhook.js';
import { entityId } from '../../../../src/gateway/store/entities.js';
import type { TelemetryStore } from '../../../../src/gateway/store/telemetry-store.js';
import { createResource } from '../../../../src/model/index.js';
import { createLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { removeDir, tmpDataDir } from '../helpers.js';
import { containerResource, logRecord, logsBody, metric, metricsBody, openStore, point, TestClock } from '../store/store-helpers.js';
import { testProblemsConfig } from './problem-helpers.js';

/**
 * The engine over a real store: problems opened from events and from baselines, found again
 * (never opened twice) across evaluations and a gateway restart, closed after the hysteresis,
 * kept in the store's `problems` table; the webhook against a real local HTTP server.
 */

const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 60 * 60_000;
const NS = 1_000_000n;
const ctr = containerResource('ca11', 'app', 'uid-a', 'web-a', 'shop', 'web');
const ctrB = containerResource('cb22', 'side', 'uid-b', 'web-b', 'shop', 'web');
const CTR_ID = entityId('container', 'uid-a/app');

const dirs: string[] = [];
const stores: TelemetryStore[] = [];
const engines: ProblemEngine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop();
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function setup(clock: TestClock, dir?: string): Promise<{ store: TelemetryStore; engine: ProblemEngine; dir: string; registry: Registry }> {
  const d = dir ?? (await tmpDataDir());
  if (dir === undefined) dirs.push(d);
  const store = await openStore(d, { clock });
  stores.push(store);
  const registry = new Registry();
  const engine = new ProblemEngine(store, testProblemsConfig(), { logger: createLogger('silent'), registry, clock: clock.now });
  engines.push(engine);
  return { store, engine, dir: d, registry };
}

async function event(store: TelemetryStore, atMs: number, name: string, attrs: Record<string, string | number> = {}, resource = ctr): Promise<void> {
  await store.write('logs', 'protobuf', logsBody([logRecord(resource, BigInt(atMs) * NS, `${name} happened`, 13, name, attrs)]));
  await store.flush();
}

describe('the problem engine over a real store', () => {
  it('opens one problem for an OOM kill, finds it again on every evaluation and after a restart, closes it after the hysteresis', async () => {
    const clock = new TestClock(T0);
    const first = await setup(clock);
    await event(first.store, T0 - 5_000, 'container.oom');
    await event(first.store, T0 - 4_900, 'container.exit', { 'process.exit.code': 137, 'sextant.container.exit.reason': 'OOMKilled' });

    const r1 = await first.engine.evaluate();
    expect(r1.result).toBe('ok');
    expect(r1.opened).toHaveLength(1);
    const [p] = first.engine.problems;
    expect(p!.rootCause.id).toBe(CTR_ID);
    expect(p!.rootCause.name).toBe('app');
    expect(p!.title).toMatch(/OOM kill/);
    expect(p!.evidence.some((e) => e.type === 'event' && e.event?.name === 'container.oom')).toBe(true);

    clock.advance(10_000);
    expect((await first.engine.evaluate()).opened).toEqual([]);

    // A gateway restart: the problem is read back from the store, and the same events open nothing.
    await first.engine.stop();
    await first.store.close();
    stores.splice(0);
    engines.splice(0);
    const second = await setup(clock, first.dir);
    clock.advance(10_000);
    const r3 = await second.engine.evaluate();
    expect(r3.opened).toEqual([]);
    expect(second.engine.problems.map((x) => x.id)).toEqual([p!.id]);

    // Evaluated every 30 s: closed once the events are past the hold (5 min) and everything
    // has been quiet for the hysteresis (5 min) — not before, and only once.
    let closedAt = 0;
    while (closedAt === 0 && clock.ms < T0 + 20 * 60_000) {
      clock.advance(30_000);
      const r = await second.engine.evaluate();
      expect(r.opened).toEqual([]);
      if (r.closed.length > 0) {
        expect(r.closed).toEqual([p!.id]);
        closedAt = clock.ms;
      }
    }
    const quietFrom = T0 - 4_900 + 5 * 60_000;
    // (the last evaluation that saw it active is at most one interval before the hold ended)
    expect(closedAt - quietFrom).toBeGreaterThanOrEqual(5 * 60_000 - 30_000);
    expect(closedAt - quietFrom).toBeLessThanOrEqual(5 * 60_000 + 30_000);
    clock.advance(10_000);
    const r6 = await second.engine.evaluate();
    expect(r6.opened).toEqual([]);
    expect(r6.closed).toEqual([]);
    const closed = await listProblems(second.store, { status: 'closed', entity: undefined, offset: 0, limit: 10 }, 5_000);
    expect(closed.problems.map((x) => x.id)).toEqual([p!.id]);
    expect(closed.problems[0]!.history.map((h) => h.event)).toEqual(['opened', 'closed']);

    // Past retention, closed problems go with the data they were about.
    const pruning = new ProblemEngine(second.store, testProblemsConfig(), { logger: createLogger('silent'), registry: new Registry(), clock: () => clock.ms + 8 * 24 * 3_600_000 });
    await pruning.evaluate();
    expect((await listProblems(second.store, { status: 'closed', entity: undefined, offset: 0, limit: 10 }, 5_000)).problems).toEqual([]);
    await pruning.stop();

    // A new OOM kill later is a new problem.
    await event(second.store, clock.ms, 'container.oom');
    clock.advance(1_000);
    const r7 = await second.engine.evaluate();
    expect(r7.opened).toHaveLength(1);
    expect(r7.opened[0]).not.toBe(p!.id);
  }, 60_000);

  it('merges a crash loop and a non-zero exit of one container, and an OOM of another container of the same pod, into one problem', async () => {
    const clock = new TestClock(T0);
    const { store, engine } = await setup(clock);
    for (let i = 0; i < 4; i++) {
      await event(store, T0 - 40_000 + i * 5_000, 'container.exit', { 'process.exit.code': 1 });
      await event(store, T0 - 39_000 + i * 5_000, 'container.restart', { 'k8s.container.restart_count': i + 1 });
    }
    const podB = containerResource('cb33', 'helper', 'uid-a', 'web-a', 'shop', 'web');
    await event(store, T0 - 1_000, 'container.oom', {}, podB);
    const r = await engine.evaluate();
    expect(r.opened).toHaveLength(1);
    const p = engine.problems[0]!;
    expect(p.affected.map((a) => a.name).sort()).toEqual(['app', 'helper']);
    // The crash loop started first: the container that loops is the root cause.
    expect(p.rootCause.id).toBe(CTR_ID);
    expect(p.candidates.length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('opens a problem for CPU usage above its baseline (k of n), not before the history is long enough', async () => {
    const clock = new TestClock(T0);
    const { store, engine } = await setup(clock);
    const cpu = metric('container.cpu.usage', 'gauge', '{cpu}');
    const points = [];
    // 10 minutes at 0.05 cores for both containers, then one jumps to 1.8 for the last 40 s.
    for (let t = T0 - 10 * 60_000; t < T0; t += 5_000) {
      points.push(point(cpu, ctr, t, t >= T0 - 40_000 ? 1.8 : 0.05 + 0.005 * Math.sin(t / 5000)));
      points.push(point(cpu, ctrB, t, 0.05));
    }
    await store.write('metrics', 'protobuf', metricsBody(points));
    await store.flush();
    const r = await engine.evaluate();
    expect(r.opened).toHaveLength(1);
    const p = engine.problems[0]!;
    expect(p.rootCause.id).toBe(CTR_ID);
    const m = p.evidence.find((e) => e.type === 'metric')!.metric!;
    expect(m.metric).toBe('container.cpu.usage');
    expect(m.median).toBeCloseTo(0.05, 1);
    expect(m.v[m.v.length - 1]).toBeCloseTo(1.8, 1);
  }, 60_000);

  it('a node NotReady under two crash-looping pods: one problem, the node its root cause', async () => {
    const clock = new TestClock(T0);
    const { store, engine } = await setup(clock);
    const node = createResource({ 'k8s.node.name': 'node-1', 'k8s.cluster.name': 'c1' });
    const cond = metric('k8s.node.condition.status', 'gauge', '{node}');
    const points = [];
    for (let t = T0 - 3 * 60_000; t < T0; t += 10_000) {
      points.push(point(cond, node, t, t >= T0 - 90_000 ? 1 : 0, { 'k8s.node.condition.type': 'Ready', 'k8s.node.condition.status': 'unknown' }));
      points.push(point(cond, node, t, t >= T0 - 90_000 ? 0 : 1, { 'k8s.node.condition.type': 'Ready', 'k8s.node.condition.status': 'true' }));
    }
    await store.write('metrics', 'protobuf', metricsBody(points));
    for (const [i, r] of [ctr, ctrB].entries()) {
      for (let k = 0; k < 3; k++) await event(store, T0 - 60_000 + i * 1000 + k * 10_000, 'container.restart', { 'k8s.container.restart_count': k + 1 }, r);
    }
    const rep = await engine.evaluate();
    expect(rep.opened).toHaveLength(1);
    const p = engine.problems[0]!;
    expect(p.rootCause).toMatchObject({ type: 'host', name: 'node-1' });
    expect(p.rootCause.why).toMatch(/above 2 failing pods/);
    expect(p.affected.map((a) => a.name).sort()).toEqual(['app', 'node-1', 'side']);
  }, 60_000);

  it('an empty store opens nothing; garbage events (unknown names, odd attributes) open nothing', async () => {
    const clock = new TestClock(T0);
    const { store, engine } = await setup(clock);
    expect(await engine.evaluate()).toEqual({ result: 'ok', signals: 0, opened: [], closed: [] });
    await event(store, T0 - 1000, 'container.exit', { 'process.exit.code': 'not a number' });
    await event(store, T0 - 1000, 'made.up');
    await event(store, T0 - 1000, 'container.exit', { 'process.exit.code': 143 });
    expect((await engine.evaluate()).opened).toEqual([]);
  }, 60_000);

  it('skips while the store is unavailable', async () => {
    const clock = new TestClock(T0);
    const { store, engine, registry } = await setup(clock);
    await store.close();
    stores.splice(0);
    expect((await engine.evaluate()).result).toBe('skipped');
    expect(registry.render()).toMatch(/sextant_gateway_problems_evaluations_total\{result="skipped"\} 1/);
  });
});

describe('the webhook', () => {
  it('POSTs JSON on open and close with the secret header, retrying a receiver that fails at first', async () => {
    const got: { body: Record<string, unknown>; secret: string | undefined }[] = [];
    let calls = 0;
    const server = createServer((req: IncomingMessage, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        calls++;
        if (calls <= 2) {
          res.writeHead(503).end();
          return;
        }
        got.push({ body: JSON.parse(text) as Record<string, unknown>, secret: req.headers[WEBHOOK_SECRET_HEADER] as string | undefined });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const clock = new TestClock(T0);
      const d = await tmpDataDir();
      dirs.push(d);
      const store = await openStore(d, { clock });
      stores.push(store);
      const registry = new Registry();
      const logs: string[] = [];
      const logger = createLogger('info', { write: (line: string) => void logs.push(line) } as unknown as NodeJS.WritableStream);
      const engine = new ProblemEngine(store, testProblemsConfig({ webhookUrl: url, webhookSecret: { reveal: () => 's3cret-value' } }), { logger, registry, clock: clock.now, webhookTuning: { firstBackoffMs: 20, maxBackoffMs: 50 } });
      engines.push(engine);
      await event(store, T0 - 1000, 'container.oom');
      expect((await engine.evaluate()).opened).toHaveLength(1);
      clock.advance(11 * 60_000);
      await engine.evaluate();
      expect((await engine.evaluate()).closed).toHaveLength(0);
      await engine.webhook!.idle();
      expect(got.map((g) => g.body['event'])).toEqual(['opened', 'closed']);
      expect(got.every((g) => g.secret === 's3cret-value')).toBe(true);
      expect((got[0]!.body['problem'] as { rootCause: { name: string } }).rootCause.name).toBe('app');
      expect(registry.render()).toMatch(/sextant_gateway_problems_webhook_total\{result="retry"\} 2/);
      expect(logs.join('\n')).not.toContain('s3cret-value');
    } finally {
      await new Promise((r) => server.close(r));
    }
  }, 60_000);
});
