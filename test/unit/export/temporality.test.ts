import { describe, expect, it, test } from 'vitest';
import { DeltaConverter } from '../../../src/export/temporality.js';
import { type MetricDescriptor, type MetricPoint, createResource, createScope, defineMetric } from '../../../src/model/index.js';

const scope = createScope('sextant.host', '0.1.0');
const res = createResource({ 'host.name': 'h' });
const counter = defineMetric({ name: 'system.cpu.time', unit: 's', description: '', kind: 'sum', monotonic: true, valueType: 'double' });
const upDown = defineMetric({ name: 'system.processes.count', unit: '', description: '', kind: 'sum', monotonic: false, valueType: 'int' });
const gauge = defineMetric({ name: 'system.memory.usage', unit: 'By', description: '', kind: 'gauge', monotonic: false, valueType: 'int' });

const SINCE = 1_000n;
const USER = Object.freeze({ 'cpu.mode': 'user' });

function p(value: number, time: bigint, start = 500n, d: MetricDescriptor = counter, attributes: Record<string, string> = USER): MetricPoint {
  return { descriptor: d, resource: res, scope, attributes, startTimeUnixNano: start, timeUnixNano: time, value };
}

describe('DeltaConverter', () => {
  test('first sighting of a counter started before us is only a baseline', () => {
    const c = new DeltaConverter({ since: SINCE });
    expect(c.convert([p(100, 2_000n)])).toEqual([]);
    expect(c.size).toBe(1);
  });

  test('first sighting of a counter started after us is reported from its start', () => {
    const c = new DeltaConverter({ since: SINCE });
    const [d] = c.convert([p(7, 3_000n, 2_000n)]);
    expect(d).toMatchObject({ value: 7, startTimeUnixNano: 2_000n, timeUnixNano: 3_000n });
  });

  test('steady readings give value − previous over [previous time, time]', () => {
    const c = new DeltaConverter({ since: SINCE });
    c.convert([p(100, 2_000n)]);
    expect(c.convert([p(130, 3_000n)])).toMatchObject([{ value: 30, startTimeUnixNano: 2_000n, timeUnixNano: 3_000n }]);
    expect(c.convert([p(130, 4_000n)])).toMatchObject([{ value: 0, startTimeUnixNano: 3_000n, timeUnixNano: 4_000n }]);
    expect(c.convert([p(131.5, 5_000n)])).toMatchObject([{ value: 1.5, startTimeUnixNano: 4_000n }]);
  });

  test('a counter going backwards is a reset: current value from the new start, never negative', () => {
    const c = new DeltaConverter({ since: SINCE });
    c.convert([p(100, 2_000n)]);
    const [d] = c.convert([p(5, 3_000n, 2_500n)]);
    expect(d).toMatchObject({ value: 5, startTimeUnixNano: 2_500n, timeUnixNano: 3_000n });
    // Same start time reported but the value dropped (start unknown to the source): from the previous reading.
    c.convert([p(50, 4_000n, 2_500n)]);
    const [e] = c.convert([p(10, 5_000n, 2_500n)]);
    expect(e).toMatchObject({ value: 10, startTimeUnixNano: 4_000n });
  });

  test('a changed start time is a reset even when the value went up', () => {
    const c = new DeltaConverter({ since: SINCE });
    c.convert([p(100, 2_000n, 500n)]);
    const [d] = c.convert([p(150, 3_000n, 2_800n)]);
    expect(d).toMatchObject({ value: 150, startTimeUnixNano: 2_800n });
  });

  test('a start moved to before the last reading is the same counter re-dated, not a reset', () => {
    // An agent restart on the same boot dates a device from boot instead of from when the
    // previous run first saw it; the counter itself went on counting.
    const c = new DeltaConverter({ since: SINCE });
    c.convert([p(2_000_000, 2_000n, 1_500n)]);
    const restored = new DeltaConverter({ since: 10_000n });
    restored.restore(JSON.parse(JSON.stringify(c.snapshot())));
    expect(restored.convert([p(2_100_000, 20_000n, 500n)])).toMatchObject([{ value: 100_000, startTimeUnixNano: 2_000n }]);
  });

  test('boot time read a second off (btime jitter) is not a reset', () => {
    const c = new DeltaConverter({ since: SINCE });
    c.convert([p(5_000, 2_000n, 500n)]);
    expect(c.convert([p(5_010, 3_000n, 499n)])).toMatchObject([{ value: 10 }]);
    expect(c.convert([p(5_030, 4_000n, 501n)])).toMatchObject([{ value: 20 }]);
  });

  test('duplicates and out-of-order readings emit nothing', () => {
    const c = new DeltaConverter({ since: SINCE });
    c.convert([p(100, 2_000n)]);
    expect(c.convert([p(100, 2_000n)])).toEqual([]);
    expect(c.convert([p(90, 1_500n)])).toEqual([]);
    expect(c.convert([p(110, 3_000n)])).toMatchObject([{ value: 10 }]);
  });

  test('gauges and non-monotonic sums pass through unchanged (same objects)', () => {
    const c = new DeltaConverter({ since: SINCE });
    const a = p(5, 2_000n, 0n, gauge);
    const b = p(-3, 2_000n, 500n, upDown);
    const out = c.convert([a, b]);
    expect(out[0]).toBe(a);
    expect(out[1]).toBe(b);
    expect(c.size).toBe(0);
  });

  test('series are told apart by resource, metric name and attributes (in any key order)', () => {
    const c = new DeltaConverter({ since: SINCE });
    const other = createResource({ 'host.name': 'other' });
    c.convert([p(1, 2_000n, 500n, counter, { a: '1', b: '2' }), { ...p(1, 2_000n), resource: other }, p(1, 2_000n, 500n, counter, { a: '2' })]);
    expect(c.size).toBe(3);
    const out = c.convert([p(4, 3_000n, 500n, counter, { b: '2', a: '1' })]);
    expect(out).toMatchObject([{ value: 3 }]);
  });

  test('snapshot/restore is plain JSON and resumes deltas across a restart', () => {
    const c = new DeltaConverter({ since: SINCE });
    c.convert([p(100, 2_000n)]);
    const json = JSON.stringify(c.snapshot());
    const restored = new DeltaConverter({ since: 10_000n });
    restored.restore(JSON.parse(json));
    expect(restored.convert([p(125, 20_000n)])).toMatchObject([{ value: 25, startTimeUnixNano: 2_000n, timeUnixNano: 20_000n }]);
  });

  test('restore skips damaged entries and ignores other shapes', () => {
    const c = new DeltaConverter({ since: SINCE });
    c.restore({ version: 2, series: [] });
    c.restore({ version: 1, series: 'nope' });
    c.restore({ version: 1, series: [['k', 1, '2', '3'], ['k2', 'x', '2', '3'], ['k3', 1, '-2', '3'], ['k4', 1, '2'], null, 5, ['k5', Infinity, '1', '1'], ['k6', 1, '1e5', '1']] });
    expect(c.size).toBe(1);
  });

  test('forget drops series not seen since a time', () => {
    const c = new DeltaConverter({ since: SINCE });
    c.convert([p(1, 2_000n, 500n, counter, { cpu: '0' }), p(1, 2_000n, 500n, counter, { cpu: '1' })]);
    c.convert([p(2, 5_000n, 500n, counter, { cpu: '1' })]);
    expect(c.forget(4_000n)).toBe(1);
    expect(c.size).toBe(1);
    // A forgotten series starts over as a baseline.
    expect(c.convert([p(9, 6_000n, 500n, counter, { cpu: '0' })])).toEqual([]);
  });
});

describe('subtractDoubles', () => {
  it('gives the decimal users expect for CPU seconds', async () => {
    const { subtractDoubles } = await import('../../../src/export/temporality.js');
    expect(202.6 - 202.41).not.toBe(0.19);
    expect(subtractDoubles(202.6, 202.41)).toBe(0.19);
    expect(subtractDoubles(1e6 + 0.1, 1e6)).toBe(0.1);
    expect(subtractDoubles(0.3, 0.1)).toBe(0.2);
    expect(subtractDoubles(5, 5)).toBe(0);
    expect(subtractDoubles(0, 0)).toBe(0);
    // beyond 15 digits there is nothing to round: the plain difference stands
    expect(subtractDoubles(1e300, 1e299)).toBe(1e300 - 1e299);
    expect(subtractDoubles(1.5e-10, 0.5e-10)).toBeCloseTo(1e-10, 20);
  });
});
