// Encoding throughput: Sextant's OTLP encoders vs the official @opentelemetry/otlp-transformer
// protobuf serializers, on the same content built twice (Sextant records / OTel SDK objects).
// Run: npx tsc -p tsconfig.json && node_modules/.bin/node test/bench/encode.bench.js
import { pathToFileURL } from 'node:url';
import { ProtobufLogsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { LogsEncoder, MetricsEncoder } from '../../dist/export/index.js';
import { createResource, createScope, defineMetric } from '../../dist/model/index.js';

const WARMUP_MS = 500;
const MEASURE_MS = 1000;
const BASE_NS = 1_700_000_000_000_000_000n;

function hrTime(ns) {
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

function containerAttributes(c) {
  const id = c.toString(16).padStart(2, '0').repeat(32);
  return {
    'host.name': 'node-7.eu-west-1.compute.internal',
    'k8s.namespace.name': 'shop',
    'k8s.pod.name': `checkout-7d9f8b6c5-${c}x2kq`,
    'k8s.pod.uid': `3f2a9c1e-5b7d-4e8f-9a0b-${String(c).padStart(12, '0')}`,
    'k8s.container.name': 'app',
    'container.id': id,
    'container.image.name': 'registry.example.com/shop/checkout',
  };
}

/** A ~205-byte JSON application log line. */
function logLine(i) {
  const line = JSON.stringify({
    ts: `2024-05-01T12:00:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z`,
    level: i % 10 === 0 ? 'error' : 'info',
    msg: 'request completed',
    svc: 'checkout',
    method: 'GET',
    path: `/api/v1/orders/${100000 + i}`,
    status: i % 10 === 0 ? 500 : 200,
    duration_ms: (i % 97) + 0.25,
    trace_id: (i * 2654435761 >>> 0).toString(16).padStart(8, '0').repeat(4),
  });
  return line;
}

function buildLogs() {
  const N = 1000;
  const ours = [];
  const otel = [];
  const scope = createScope('sextant.logs', '0.1.0');
  const otelScope = { name: 'sextant.logs', version: '0.1.0' };
  const resources = [];
  for (let c = 0; c < 10; c++) {
    const attrs = containerAttributes(c);
    const path = `/var/log/pods/shop_checkout-7d9f8b6c5-${c}x2kq_3f2a9c1e/app/0.log`;
    // One attribute object per (file, stream), shared by its records — as the tailer builds them.
    const stdout = Object.freeze({ 'log.iostream': 'stdout', 'log.file.path': path });
    const stderr = Object.freeze({ 'log.iostream': 'stderr', 'log.file.path': path });
    resources.push({ ours: createResource(attrs), otel: resourceFromAttributes(attrs), stdout, stderr });
  }
  for (let i = 0; i < N; i++) {
    const r = resources[i % 10];
    const isErr = i % 10 === 3;
    const attributes = isErr ? r.stderr : r.stdout;
    const body = logLine(i);
    const t = BASE_NS + BigInt(i) * 1_000_123n;
    const obs = t + 2_000_000n;
    ours.push({
      resource: r.ours,
      scope,
      timeUnixNano: t,
      observedTimeUnixNano: obs,
      severityNumber: isErr ? 17 : 9,
      severityText: isErr ? 'ERROR' : 'INFO',
      body,
      attributes,
      eventName: '',
    });
    otel.push({
      hrTime: hrTime(t),
      hrTimeObserved: hrTime(obs),
      severityNumber: isErr ? 17 : 9,
      severityText: isErr ? 'ERROR' : 'INFO',
      body,
      resource: r.otel,
      instrumentationScope: otelScope,
      attributes,
      droppedAttributesCount: 0,
    });
  }
  // The same records with a fresh, unfrozen attribute object each (no caching possible).
  const oursFresh = ours.map((r) => ({ ...r, attributes: { ...r.attributes } }));
  return { ours, oursFresh, otel, count: N };
}

const MODES = ['user', 'system', 'idle', 'iowait', 'steal'];

function buildMetrics() {
  const descriptors = [];
  for (let k = 0; k < 10; k++) {
    const sum = k % 2 === 0;
    descriptors.push(
      defineMetric({
        name: sum ? `system.cpu.time.${k}` : `system.cpu.utilization.${k}`,
        unit: sum ? 's' : '1',
        description: sum ? 'Seconds each logical CPU spent on each mode' : 'CPU utilization',
        kind: sum ? 'sum' : 'gauge',
        monotonic: sum,
        valueType: k % 4 === 0 ? 'int' : 'double',
      }),
    );
  }
  const scope = createScope('sextant.host', '0.1.0');
  const otelScope = { name: 'sextant.host', version: '0.1.0' };
  // Series attribute objects are built once and shared across readings, as a source keeps them.
  const seriesAttrs = [];
  for (let j = 0; j < 10; j++) {
    seriesAttrs.push(
      j % 2 === 0
        ? Object.freeze({ 'cpu.mode': MODES[j % 5], cpu: `cpu${j >> 1}` })
        : Object.freeze({ 'cpu.mode': MODES[j % 5] }),
    );
  }
  const start = BASE_NS - 3_600_000_000_000n;
  const now = BASE_NS;
  const ours = [];
  const otel = [];
  for (let r = 0; r < 20; r++) {
    const attrs = containerAttributes(r);
    const resource = createResource(attrs);
    const otelMetrics = [];
    for (let k = 0; k < 10; k++) {
      const d = descriptors[k];
      const dataPoints = [];
      for (let j = 0; j < 10; j++) {
        const value = d.valueType === 'int' ? 1000 * r + 10 * k + j : (r * 100 + k * 10 + j) * 0.37;
        ours.push({ descriptor: d, resource, scope, attributes: seriesAttrs[j], startTimeUnixNano: d.kind === 'sum' ? start : 0n, timeUnixNano: now, value });
        dataPoints.push({ startTime: hrTime(d.kind === 'sum' ? start : now), endTime: hrTime(now), attributes: seriesAttrs[j], value });
      }
      otelMetrics.push({
        descriptor: { name: d.name, description: d.description, unit: d.unit, valueType: d.valueType === 'int' ? 1 : 0 },
        dataPointType: d.kind === 'sum' ? DataPointType.SUM : DataPointType.GAUGE,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        isMonotonic: d.monotonic,
        dataPoints,
      });
    }
    otel.push({ resource: resourceFromAttributes(attrs), scopeMetrics: [{ scope: otelScope, metrics: otelMetrics }] });
  }
  return { ours, otel, count: ours.length };
}

const ROUNDS = 7;

/**
 * Times several implementations fairly on a shared, noisy machine: warm each up, then run
 * ROUNDS rounds, each implementation in turn for MEASURE_MS / ROUNDS (≥ MEASURE_MS in all per
 * implementation), and keep each one's median round. Returns ns and bytes per call.
 */
function measureAll(fns) {
  const results = fns.map(() => ({ samples: [], bytes: 0 }));
  fns.forEach((fn, k) => {
    const warmEnd = performance.now() + WARMUP_MS;
    while (performance.now() < warmEnd) results[k].bytes = fn();
  });
  const slice = Math.max(MEASURE_MS / ROUNDS, 150);
  for (let round = 0; round < ROUNDS; round++) {
    fns.forEach((fn, k) => {
      let calls = 0;
      const t0 = process.hrtime.bigint();
      const end = performance.now() + slice;
      while (performance.now() < end) {
        for (let j = 0; j < 5; j++) results[k].bytes = fn();
        calls += 5;
      }
      results[k].samples.push(Number(process.hrtime.bigint() - t0) / calls);
    });
  }
  return results.map((r) => {
    const sorted = r.samples.sort((x, y) => x - y);
    return { ns: sorted[sorted.length >> 1], bytes: r.bytes };
  });
}

function row(workload, impl, count, m, baselineNs) {
  return {
    workload,
    impl,
    recordsPerSec: Math.round((count * 1e9) / m.ns),
    nsPerRecord: +(m.ns / count).toFixed(1),
    bytesPerRecord: +(m.bytes / count).toFixed(1),
    speedup: baselineNs === undefined ? 1 : +(baselineNs / m.ns).toFixed(2),
  };
}

export async function run() {
  const rows = [];
  const logs = buildLogs();
  const logsEncoder = new LogsEncoder();
  const [otelLogs, oursLogs, oursFresh] = measureAll([
    () => ProtobufLogsSerializer.serializeRequest(logs.otel).length,
    () => logsEncoder.encode(logs.ours).length,
    () => logsEncoder.encode(logs.oursFresh).length,
  ]);
  rows.push(row('logs 1000×~205B, 10 resources', 'otel otlp-transformer', logs.count, otelLogs));
  rows.push(row('logs 1000×~205B, 10 resources', 'sextant', logs.count, oursLogs, otelLogs.ns));
  rows.push(row('logs 1000×~205B, 10 resources', 'sextant (unshared attrs)', logs.count, oursFresh, otelLogs.ns));

  const metrics = buildMetrics();
  const metricsEncoder = new MetricsEncoder();
  const [otelMetrics, oursMetrics] = measureAll([
    // The official serializer takes one ResourceMetrics per request: one call per resource.
    () => {
      let n = 0;
      for (const rm of metrics.otel) n += ProtobufMetricsSerializer.serializeRequest(rm).length;
      return n;
    },
    () => metricsEncoder.encode(metrics.ours, 'cumulative').length,
  ]);
  rows.push(row('metrics 2000 pts, 20 resources', 'otel otlp-transformer', metrics.count, otelMetrics));
  rows.push(row('metrics 2000 pts, 20 resources', 'sextant', metrics.count, oursMetrics, otelMetrics.ns));
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await run();
  console.table(rows);
}
