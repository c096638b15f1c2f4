import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoreConfig } from '../../../../src/gateway/store/config.js';
import type { TelemetryStore } from '../../../../src/gateway/store/telemetry-store.js';
import { createResource } from '../../../../src/model/index.js';
import { removeDir, tmpDataDir } from '../helpers.js';
import { logRecord, logsBody, metric, metricsBody, openStore, podResource, point, TestClock } from './store-helpers.js';

/**
 * Retention by age and size, and the 1-minute rollups, on a real store with a clock the test
 * moves: nothing here waits for the minute timer.
 */

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 10, 25, 0, 0, 0);

const dirs: string[] = [];
const stores: TelemetryStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function fresh(clock: TestClock, config: Partial<StoreConfig> = {}): Promise<TelemetryStore> {
  const dir = await tmpDataDir();
  dirs.push(dir);
  // No maintenance by timer: the test runs it.
  const store = await openStore(dir, { clock, config, tuning: { maintenanceIntervalMs: 3_600_000 } });
  stores.push(store);
  return store;
}

const rows = async (s: TelemetryStore, sql: string) => {
  await s.flush();
  return s.query(sql, [], 5_000);
};

describe('rollups', () => {
  it('folds points older than rollupAfter into minutes: count, sum, min, max, last, and increase across a reset', async () => {
    const clock = new TestClock(T0);
    const store = await fresh(clock, { rollupAfterMs: HOUR });
    const pod = podResource('u1', 'p1');
    const gauge = metric('g', 'gauge');
    const counter = metric('c', 'sum');
    // Two minutes at 10 s: the gauge 0..11, the counter climbing by 5 with a reset in minute 2.
    const counterValues = [0, 5, 10, 15, 20, 25, 30, 35, 3, 8, 13, 18];
    const points = [];
    for (let i = 0; i < 12; i++) points.push(point(gauge, pod, T0 + i * 10_000, i), point(counter, pod, T0 + i * 10_000, counterValues[i]!));
    await store.write('metrics', 'protobuf', metricsBody(points, 'cumulative'));

    clock.advance(HOUR + 3 * MIN);
    const report = await store.maintain();
    expect(report.rollupRows).toBe(4);
    expect(store.rollupWatermarkMs).toBe(T0 + 3 * MIN);
    const r = await rows(store, 'SELECT m.name, r.minute_ms, r.samples, r.sum, r.min, r.max, r.last, r.increase FROM rollups r JOIN metrics m USING (metric_id) ORDER BY m.name, r.minute_ms');
    expect(r).toEqual([
      // The first point of the series has no predecessor: its increase is unknown, not its value.
      { name: 'c', minute_ms: T0, samples: 6, sum: 75, min: 0, max: 25, last: 25, increase: 25 },
      // 25→30→35, reset to 3 (counted from zero: +3), then +5 +5 +5.
      { name: 'c', minute_ms: T0 + MIN, samples: 6, sum: 107, min: 3, max: 35, last: 18, increase: 5 + 5 + 3 + 5 + 5 + 5 },
      { name: 'g', minute_ms: T0, samples: 6, sum: 15, min: 0, max: 5, last: 5, increase: null },
      { name: 'g', minute_ms: T0 + MIN, samples: 6, sum: 51, min: 6, max: 11, last: 11, increase: null },
    ]);
    // The raw points are gone (but for the minute kept before the watermark, which queries skip).
    expect((await rows(store, 'SELECT count(*) AS n FROM points WHERE time_ms < ' + String(T0 + 2 * MIN)))[0]!['n']).toBe(0);

    // A second run with nothing new does nothing.
    clock.advance(MIN);
    expect((await store.maintain()).rollupRows).toBe(0);
  });

  it('the watermark survives a restart, and late points below it are rolled up with the next slice', async () => {
    const clock = new TestClock(T0);
    const dir = await tmpDataDir();
    dirs.push(dir);
    let store = await openStore(dir, { clock, config: { rollupAfterMs: HOUR }, tuning: { maintenanceIntervalMs: 3_600_000 } });
    const pod = podResource('u1', 'p1');
    const g = metric('g', 'gauge');
    await store.write('metrics', 'protobuf', metricsBody([point(g, pod, T0, 1), point(g, pod, T0 + 30 * MIN, 2)]));
    clock.advance(HOUR + 10 * MIN);
    await store.maintain();
    const wm = store.rollupWatermarkMs;
    expect(wm).toBe(T0 + 10 * MIN);
    await store.close();
    store = await openStore(dir, { clock, config: { rollupAfterMs: HOUR }, tuning: { maintenanceIntervalMs: 3_600_000 } });
    stores.push(store);
    expect(store.rollupWatermarkMs).toBe(wm);
    // A point that arrives late, below the watermark.
    await store.write('metrics', 'protobuf', metricsBody([point(g, pod, T0 + 2 * MIN, 7)]));
    clock.advance(30 * MIN);
    await store.maintain();
    const r = await rows(store, 'SELECT minute_ms, sum FROM rollups ORDER BY minute_ms');
    expect(r).toEqual([
      { minute_ms: T0, sum: 1 },
      { minute_ms: T0 + 2 * MIN, sum: 7 },
      { minute_ms: T0 + 30 * MIN, sum: 2 },
    ]);
  });
});

describe('retention', () => {
  it('deletes logs, events, spans, rollups and entities past gateway.retention; keeps what is newer', async () => {
    const clock = new TestClock(T0);
    const store = await fresh(clock, { retentionMs: 2 * HOUR, rollupAfterMs: HOUR, rollupRetentionMs: 24 * HOUR });
    const old = createResource({ 'service.name': 'old-svc' });
    const g = metric('g', 'gauge');
    await store.write('logs', 'protobuf', logsBody([logRecord(old, BigInt(T0) * 1_000_000n, 'old line'), logRecord(old, BigInt(T0) * 1_000_000n, 'old event', 9, 'container.exit')]));
    await store.write('metrics', 'protobuf', metricsBody([point(g, old, T0, 1)]));
    clock.advance(90 * MIN);
    const fresh1 = createResource({ 'service.name': 'new-svc' });
    await store.write('logs', 'protobuf', logsBody([logRecord(fresh1, BigInt(clock.ms) * 1_000_000n, 'new line')]));
    await store.maintain();
    expect((await rows(store, 'SELECT count(*) AS n FROM rollups'))[0]!['n']).toBe(1);

    clock.advance(45 * MIN); // the old records are 2 h 15 min old, the new ones 45 min
    const report = await store.maintain();
    expect(report.deleted).toMatchObject({ 'logs:age': 1, 'events:age': 1, 'rollups:age': 1, 'resources:age': 1, 'entities:age': 1 });
    expect((await rows(store, 'SELECT body FROM logs')).map((r) => r['body'])).toEqual(['new line']);
    expect((await rows(store, 'SELECT name FROM entities')).map((r) => r['name'])).toEqual(['new-svc']);
    expect(store.catalog!.sizes.resources).toBe(1);
    // The forgotten resource comes back as a new row if it is seen again.
    await store.write('logs', 'protobuf', logsBody([logRecord(old, BigInt(clock.ms) * 1_000_000n, 'back')]));
    expect((await rows(store, 'SELECT count(*) AS n FROM resources'))[0]!['n']).toBe(2);
  });

  it('deletes the oldest data first while the store is over gateway.maxStoreBytes', async () => {
    const clock = new TestClock(T0);
    const store = await fresh(clock, { maxStoreBytes: 16 * 1024 * 1024, retentionMs: 1_000 * HOUR, rollupAfterMs: 1_000 * HOUR });
    const r = createResource({ 'service.name': 'big' });
    // About 24 MB of log text over 4 hours (random, so incompressible), in time order.
    let n = 0;
    for (let hour = 0; hour < 4; hour++) {
      for (let batch = 0; batch < 5; batch++) {
        const records = [];
        for (let i = 0; i < 3_000; i++) {
          const t = BigInt(T0 + hour * HOUR + batch * 60_000 + i) * 1_000_000n;
          records.push(logRecord(r, t, `${n++} ${randomBytes(300).toString('base64')}`));
        }
        await store.write('logs', 'protobuf', logsBody(records));
      }
    }
    clock.advance(5 * HOUR);
    const before = await store.usedBytes();
    expect(before).toBeGreaterThan(16 * 1024 * 1024);
    const report = await store.maintain();
    expect(report.usedBytes).toBeLessThanOrEqual(16 * 1024 * 1024);
    expect(report.deleted['logs:size']).toBeGreaterThan(0);
    // What is left is the newest: the last record is there, the first is not.
    const left = await rows(store, 'SELECT min(time_ns) AS lo, max(time_ns) AS hi, count(*) AS n FROM logs');
    expect(BigInt(left[0]!['hi'] as string)).toBe(BigInt(T0 + 3 * HOUR + 4 * 60_000 + 2_999) * 1_000_000n);
    expect(BigInt(left[0]!['lo'] as string)).toBeGreaterThan(BigInt(T0) * 1_000_000n);
  });
});
