import { afterEach, describe, expect, it } from 'vitest';
import { errorGroup, SeriesReader } from '../../../../src/gateway/problems/series-reader.js';
import { entityId } from '../../../../src/gateway/store/entities.js';
import type { TelemetryStore } from '../../../../src/gateway/store/telemetry-store.js';
import { removeDir, tmpDataDir } from '../helpers.js';
import { containerResource, logRecord, logsBody, metric, metricsBody, openStore, point } from '../store/store-helpers.js';

/** What the rules read of a real store: steps on a grid, counters' last values, error counts per workload. */

const STEP = 10_000;
const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;
const ctr = containerResource('ca11', 'app', 'uid-a', 'web-a', 'shop', 'web');
let store: TelemetryStore | undefined;
let dir = '';
afterEach(async () => {
  await store?.close();
  await removeDir(dir);
});

describe('SeriesReader', () => {
  it('reads steps (mean and last) on the grid, only the point attributes asked for, NaN as no data', async () => {
    dir = await tmpDataDir();
    store = await openStore(dir);
    const stall = metric('sextant.container.pressure.stall.time', 'sum', 's');
    const cpu = metric('container.cpu.usage', 'gauge', '{cpu}');
    const pts = [];
    for (let i = 0; i < 6; i++) {
      const t = T0 + i * 5_000;
      pts.push(point(stall, ctr, t, i, { 'sextant.pressure.resource': 'cpu', 'sextant.pressure.stall.type': 'some' }));
      pts.push(point(stall, ctr, t, 100 + i, { 'sextant.pressure.resource': 'memory', 'sextant.pressure.stall.type': 'full' }));
      pts.push(point(cpu, ctr, t, i === 5 ? NaN : i));
    }
    await store.write('metrics', 'protobuf', metricsBody(pts));
    await store.flush();
    const reader = new SeriesReader(store, store.catalog!, 5_000);
    const got = await reader.steps(['sextant.container.pressure.stall.time', 'container.cpu.usage'], T0, T0 + 4 * STEP, STEP, {
      'sextant.container.pressure.stall.time': { 'sextant.pressure.resource': 'cpu', 'sextant.pressure.stall.type': 'some' },
    });
    const s = got.find((x) => x.metric === 'sextant.container.pressure.stall.time')!;
    expect(got.filter((x) => x.metric === 'sextant.container.pressure.stall.time')).toHaveLength(1);
    expect(s.entityId).toBe(entityId('container', 'uid-a/app'));
    expect(s.t).toEqual([T0, T0 + STEP, T0 + 2 * STEP, T0 + 3 * STEP]);
    expect(s.last).toEqual([1, 3, 5, undefined]);
    const c = got.find((x) => x.metric === 'container.cpu.usage')!;
    expect(c.avg.slice(0, 2)).toEqual([0.5, 2.5]);
  });

  it('counts ERROR-or-worse lines per step under the workload; no data before the first line', async () => {
    dir = await tmpDataDir();
    store = await openStore(dir);
    const recs = [];
    for (let i = 0; i < 10; i++) recs.push(logRecord(ctr, BigInt(T0 + 10_000 + i * 2_000) * 1_000_000n, `line ${i}`, i >= 5 ? 17 : 9));
    await store.write('logs', 'protobuf', logsBody(recs));
    await store.flush();
    const reader = new SeriesReader(store, store.catalog!, 5_000);
    const [g] = await reader.errorCounts(T0, T0 + 4 * STEP, STEP);
    const wl = errorGroup(store.catalog!, store.catalog!.entity(entityId('container', 'uid-a/app'))!);
    expect(wl.type).toBe('workload');
    expect(g!.entityId).toBe(wl.id);
    expect(g!.errors).toEqual([undefined, 0, 5, 0]);
    const lines = await reader.errorLines(wl.id, T0, 3);
    expect(lines.map((l) => l.body)).toEqual(['line 7', 'line 8', 'line 9']);
  });
});
