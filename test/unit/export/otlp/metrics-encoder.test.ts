import { describe, expect, test } from 'vitest';
import { MetricsEncoder } from '../../../../src/export/otlp/metrics-encoder.js';
import { type MetricDescriptor, type MetricPoint, type Resource, createResource, createScope, defineMetric } from '../../../../src/model/index.js';
import { type MessageType, decodeToObject, ourMetricsRequest, refMetricsRequest } from '../otlp-decoders.js';

const scope = createScope('sextant.host', '0.1.0');
const cpuTime = defineMetric({ name: 'system.cpu.time', unit: 's', description: 'CPU seconds', kind: 'sum', monotonic: true, valueType: 'double' });
const memUsage = defineMetric({ name: 'system.memory.usage', unit: 'By', description: '', kind: 'gauge', monotonic: false, valueType: 'int' });
const procCount = defineMetric({ name: 'system.processes.count', unit: '{process}', description: '', kind: 'sum', monotonic: false, valueType: 'int' });
const netPackets = defineMetric({ name: 'system.network.packets', unit: '{packet}', description: '', kind: 'sum', monotonic: true, valueType: 'int' });

function point(descriptor: MetricDescriptor, resource: Resource, value: number, attributes = {}): MetricPoint {
  return {
    descriptor,
    resource,
    scope,
    attributes,
    startTimeUnixNano: descriptor.kind === 'sum' ? 1_000n : 0n,
    timeUnixNano: 2_000_000_000_000_000_000n,
    value,
  };
}

function expectCanonical(type: MessageType, bytes: Uint8Array): void {
  const again = type.encode(type.decode(bytes)).finish();
  expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
}

describe('MetricsEncoder', () => {
  test('nothing to send → null', () => {
    expect(new MetricsEncoder().encode([], 'delta')).toBeNull();
  });

  test('groups resource → scope → metric; gauge vs sum; int vs double; start time for sums only', () => {
    const resources = [0, 1, 2].map((i) => createResource({ 'host.name': `h${i}` }));
    const points: MetricPoint[] = [];
    for (const r of resources) {
      points.push(point(cpuTime, r, 1.5, { cpu: 'cpu0', 'cpu.mode': 'user' }));
      points.push(point(memUsage, r, 1024));
      points.push(point(cpuTime, r, 2.5, { cpu: 'cpu0', 'cpu.mode': 'system' }));
    }
    const bytes = new MetricsEncoder().encode(points, 'cumulative')!;
    for (const type of [ourMetricsRequest, refMetricsRequest]) {
      const msg = decodeToObject(type, bytes);
      expect(msg.resourceMetrics).toHaveLength(3);
      for (const rm of msg.resourceMetrics) {
        expect(rm.scopeMetrics).toHaveLength(1);
        expect(rm.scopeMetrics[0].scope).toEqual({ name: 'sextant.host', version: '0.1.0' });
        const [cpu, mem] = rm.scopeMetrics[0].metrics;
        expect(cpu.name).toBe('system.cpu.time');
        expect(cpu.unit).toBe('s');
        expect(cpu.description).toBe('CPU seconds');
        expect(cpu.data).toBe('sum');
        expect(cpu.sum.isMonotonic).toBe(true);
        expect(cpu.sum.aggregationTemporality).toBe(2);
        expect(cpu.sum.dataPoints.map((d: any) => d.asDouble)).toEqual([1.5, 2.5]);
        expect(cpu.sum.dataPoints[0].startTimeUnixNano).toBe('1000');
        expect(cpu.sum.dataPoints[0].timeUnixNano).toBe('2000000000000000000');
        expect(cpu.sum.dataPoints[1].attributes).toEqual([
          { key: 'cpu', value: { stringValue: 'cpu0', value: 'stringValue' } },
          { key: 'cpu.mode', value: { stringValue: 'system', value: 'stringValue' } },
        ]);
        expect(mem.data).toBe('gauge');
        expect(mem.gauge.dataPoints).toEqual([{ timeUnixNano: '2000000000000000000', asInt: '1024', value: 'asInt' }]);
      }
    }
    expectCanonical(ourMetricsRequest, bytes);
    expectCanonical(refMetricsRequest, bytes);
  });

  test('temporality: delta only for monotonic sums; non-monotonic sums stay cumulative', () => {
    const r = createResource({ 'host.name': 'h' });
    const pts = [point(cpuTime, r, 1), point(procCount, r, 7), point(netPackets, r, 9), point(memUsage, r, 3)];
    const byName = (bytes: Uint8Array) =>
      Object.fromEntries(decodeToObject(refMetricsRequest, bytes).resourceMetrics[0].scopeMetrics[0].metrics.map((m: any) => [m.name, m]));
    const delta = byName(new MetricsEncoder().encode(pts, 'delta')!);
    expect(delta['system.cpu.time'].sum.aggregationTemporality).toBe(1);
    expect(delta['system.network.packets'].sum.aggregationTemporality).toBe(1);
    expect(delta['system.processes.count'].sum.aggregationTemporality).toBe(2);
    expect(delta['system.processes.count'].sum.isMonotonic).toBeUndefined();
    expect(delta['system.memory.usage'].gauge).toBeDefined();
    const cumulative = byName(new MetricsEncoder().encode(pts, 'cumulative')!);
    expect(cumulative['system.cpu.time'].sum.aggregationTemporality).toBe(2);
    expect(cumulative['system.network.packets'].sum.aggregationTemporality).toBe(2);
  });

  test('as_int is sfixed64: negatives, large values, fractions truncated, NaN → 0', () => {
    const r = createResource({});
    const g = defineMetric({ name: 'g', unit: '', description: '', kind: 'gauge', monotonic: false, valueType: 'int' });
    const values = [0, -1, -(2 ** 40), 2 ** 53 - 1, 3.9, -3.9, Number.NaN, Infinity, -Infinity];
    const bytes = new MetricsEncoder().encode(values.map((v) => point(g, r, v)), 'cumulative')!;
    const dps = decodeToObject(refMetricsRequest, bytes).resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints;
    expect(dps.map((d: any) => d.asInt)).toEqual([
      '0', '-1', String(-(2 ** 40)), String(2 ** 53 - 1), '3', '-3', '0', '9223372036854775807', '-9223372036854775808',
    ]);
    expectCanonical(ourMetricsRequest, bytes);
  });

  test('as_double keeps doubles exactly, including 0, negative, NaN', () => {
    const r = createResource({});
    const values = [0, -0.25, 1e-300, 123.456];
    const bytes = new MetricsEncoder().encode(values.map((v) => point(cpuTime, r, v)), 'cumulative')!;
    const dps = decodeToObject(ourMetricsRequest, bytes).resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints;
    expect(dps.map((d: any) => d.asDouble)).toEqual(values);
  });

  test('descriptor identity splits metrics; interleaved points keep batch order per metric', () => {
    const r = createResource({});
    const pts: MetricPoint[] = [];
    for (let i = 0; i < 20; i++) pts.push(point(i % 2 ? memUsage : netPackets, r, i));
    const bytes = new MetricsEncoder().encode(pts, 'delta')!;
    const metrics = decodeToObject(refMetricsRequest, bytes).resourceMetrics[0].scopeMetrics[0].metrics;
    expect(metrics.map((m: any) => m.name)).toEqual(['system.network.packets', 'system.memory.usage']);
    expect(metrics[0].sum.dataPoints.map((d: any) => Number(d.asInt))).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(metrics[1].gauge.dataPoints.map((d: any) => Number(d.asInt))).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
  });

  test('the encoder is reusable across batches of different shapes', () => {
    const enc = new MetricsEncoder();
    const a = createResource({ a: '1' });
    const b = createResource({ b: '2' });
    const first = enc.encode([point(cpuTime, a, 1), point(memUsage, b, 2)], 'cumulative')!;
    const second = enc.encode([point(memUsage, b, 3)], 'cumulative')!;
    const third = enc.encode([point(cpuTime, a, 1), point(memUsage, b, 2)], 'cumulative')!;
    expect(Buffer.from(third).equals(Buffer.from(first))).toBe(true);
    const msg = decodeToObject(refMetricsRequest, second);
    expect(msg.resourceMetrics).toHaveLength(1);
    expect(msg.resourceMetrics[0].scopeMetrics[0].metrics).toHaveLength(1);
  });

  test('2,000 points across 20 resources: canonical and complete', () => {
    const resources = Array.from({ length: 20 }, (_, i) => createResource({ 'container.id': `c${i}` }));
    const ds = Array.from({ length: 10 }, (_, k) =>
      defineMetric({ name: `m${k}`, unit: '', description: '', kind: k % 2 ? 'gauge' : 'sum', monotonic: k % 2 === 0, valueType: k % 3 ? 'double' : 'int' }),
    );
    const pts: MetricPoint[] = [];
    for (let i = 0; i < 2000; i++) pts.push(point(ds[i % 10]!, resources[(i >> 4) % 20]!, i * 1.5, { cpu: `cpu${i % 4}` }));
    const bytes = new MetricsEncoder().encode(pts, 'delta')!;
    expectCanonical(ourMetricsRequest, bytes);
    expectCanonical(refMetricsRequest, bytes);
    const msg = decodeToObject(refMetricsRequest, bytes);
    let n = 0;
    for (const rm of msg.resourceMetrics) for (const m of rm.scopeMetrics[0].metrics) n += (m.sum ?? m.gauge).dataPoints.length;
    expect(n).toBe(2000);
  });
});
