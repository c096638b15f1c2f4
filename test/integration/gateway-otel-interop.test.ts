/**
 * The official OpenTelemetry JS exporters (protobuf and JSON) send to a real gateway, with the
 * Api-Token header configured the way a user would, and the gateway stores what the SDK produced.
 */
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as LogsHttpExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as MetricsHttpExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as TraceProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import type { Registry } from '../../src/self/registry.js';
import { readStored, removeDir, start, TOKEN, tmpDataDir } from '../unit/gateway/helpers.js';
import { until } from '../helpers/wait.js';

type Json = Record<string, unknown>;

let dir: string;
let gw: Gateway;
let registry: Registry;
const headers = { Authorization: `Api-Token ${TOKEN}` };

beforeAll(async () => {
  dir = await tmpDataDir();
  ({ gw, registry } = await start(dir));
});

afterAll(async () => {
  await gw.close();
  await removeDir(dir);
});

function metricsOf(lines: { request: Json }[]): Json[] {
  return lines.flatMap((l) =>
    ((l.request['resourceMetrics'] ?? []) as { scopeMetrics?: { metrics?: Json[] }[] }[]).flatMap((rm) => (rm.scopeMetrics ?? []).flatMap((sm) => sm.metrics ?? [])),
  );
}

function logRecordsOf(lines: { request: Json }[]): Json[] {
  return lines.flatMap((l) =>
    ((l.request['resourceLogs'] ?? []) as { scopeLogs?: { logRecords?: Json[] }[] }[]).flatMap((rl) => (rl.scopeLogs ?? []).flatMap((sl) => sl.logRecords ?? [])),
  );
}

function resourceAttr(lines: { request: Json }[], key: string, top: string): unknown[] {
  return lines.flatMap((l) =>
    ((l.request[top] ?? []) as { resource?: { attributes?: { key: string; value: Json }[] } }[]).flatMap((r) =>
      (r.resource?.attributes ?? []).filter((a) => a.key === key).map((a) => a.value['stringValue']),
    ),
  );
}

async function exportMetrics(exporter: PushMetricExporter, prefix: string): Promise<void> {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': `${prefix}-svc` }), readers: [reader] });
  const meter = provider.getMeter('interop-meter', '1.2.3');
  meter.createCounter(`${prefix}.requests`, { unit: '{request}' }).add(5, { route: '/a' });
  meter.createHistogram(`${prefix}.latency`, { unit: 'ms' }).record(12.5);
  meter.createUpDownCounter(`${prefix}.inflight`).add(-2);
  meter.createObservableGauge(`${prefix}.temperature`).addCallback((r) => r.observe(21.5, { room: 'lab' }));
  await provider.forceFlush();
  await provider.shutdown();
}

describe('official OpenTelemetry exporters → gateway', () => {
  it('metrics over protobuf (exporter-metrics-otlp-proto)', async () => {
    await exportMetrics(new MetricsProtoExporter({ url: `${gw.url}/v1/metrics`, headers }), 'proto');
    await until('the protobuf gauge stored', async () => metricsOf(await readStored(dir, 'metrics')).some((m) => m['name'] === 'proto.temperature'));
    const lines = await readStored(dir, 'metrics');
    const metrics = metricsOf(lines);
    const names = metrics.map((m) => m['name']);
    expect(names).toEqual(expect.arrayContaining(['proto.requests', 'proto.latency', 'proto.inflight', 'proto.temperature']));
    const counter = metrics.find((m) => m['name'] === 'proto.requests') as { sum: { isMonotonic: boolean; dataPoints: Json[] } };
    expect(counter.sum.isMonotonic).toBe(true);
    expect(Number(counter.sum.dataPoints[0]!['asDouble'] ?? counter.sum.dataPoints[0]!['asInt'])).toBe(5);
    const hist = metrics.find((m) => m['name'] === 'proto.latency') as { histogram: { dataPoints: Json[] } };
    expect(hist.histogram.dataPoints[0]!['sum']).toBe(12.5);
    expect(resourceAttr(lines, 'service.name', 'resourceMetrics')).toContain('proto-svc');
  });

  it('metrics over JSON (exporter-metrics-otlp-http), via the Dynatrace path', async () => {
    await exportMetrics(new MetricsHttpExporter({ url: `${gw.url}/api/v2/otlp/v1/metrics`, headers }), 'json');
    await until('the JSON gauge stored', async () => metricsOf(await readStored(dir, 'metrics')).some((m) => m['name'] === 'json.temperature'));
    const metrics = metricsOf(await readStored(dir, 'metrics'));
    const gauge = metrics.find((m) => m['name'] === 'json.temperature') as { gauge: { dataPoints: Json[] } };
    expect(gauge.gauge.dataPoints[0]!['asDouble']).toBe(21.5);
    const counter = metrics.find((m) => m['name'] === 'json.requests') as { sum: { dataPoints: Json[] } };
    expect(Number(counter.sum.dataPoints[0]!['asDouble'] ?? counter.sum.dataPoints[0]!['asInt'])).toBe(5);
  });

  it('logs over protobuf with gzip (exporter-logs-otlp-proto) and over JSON (exporter-logs-otlp-http)', async () => {
    const proto = new LogsProtoExporter({ url: `${gw.url}/v1/logs`, headers, compression: CompressionAlgorithm.GZIP });
    const json = new LogsHttpExporter({ url: `${gw.url}/v1/logs`, headers });
    for (const [exporter, tag] of [
      [proto, 'proto'],
      [json, 'json'],
    ] as const) {
      const provider = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': `${tag}-logs` }), processors: [new SimpleLogRecordProcessor({ exporter })] });
      const logger = provider.getLogger('interop-logger');
      logger.emit({ body: `hello from otel ${tag}`, severityNumber: SeverityNumber.WARN, severityText: 'WARN', attributes: { 'http.status': 503, tag } });
      logger.emit({ body: `second ${tag} line ✓ ünïcödé`, severityNumber: SeverityNumber.INFO });
      await provider.forceFlush();
      await provider.shutdown();
    }
    await until('4 log records stored', async () => logRecordsOf(await readStored(dir, 'logs')).length >= 4);
    const lines = await readStored(dir, 'logs');
    const records = logRecordsOf(lines);
    const bodies = records.map((r) => (r['body'] as Json)['stringValue']);
    expect(bodies).toEqual(expect.arrayContaining(['hello from otel proto', 'second proto line ✓ ünïcödé', 'hello from otel json', 'second json line ✓ ünïcödé']));
    const warn = records.find((r) => (r['body'] as Json)['stringValue'] === 'hello from otel json')!;
    expect(warn['severityNumber']).toBe(SeverityNumber.WARN);
    expect(warn['attributes']).toEqual(expect.arrayContaining([{ key: 'http.status', value: { intValue: '503' } }]));
    expect(resourceAttr(lines, 'service.name', 'resourceLogs')).toEqual(expect.arrayContaining(['proto-logs', 'json-logs']));
  });

  it('traces over protobuf (exporter-trace-otlp-proto)', async () => {
    const exporter = new TraceProtoExporter({ url: `${gw.url}/v1/traces`, headers });
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'trace-svc' }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('interop-tracer');
    const parent = tracer.startSpan('parent-op');
    const { trace, context } = await import('@opentelemetry/api');
    const child = tracer.startSpan('child-op', { attributes: { 'db.system': 'sqlite' } }, trace.setSpan(context.active(), parent));
    child.addEvent('cache-miss');
    child.end();
    parent.end();
    await provider.forceFlush();
    await provider.shutdown();
    await until('2 trace requests stored', async () => (await readStored(dir, 'traces')).length >= 2);
    const spans = (await readStored(dir, 'traces')).flatMap((l) =>
      (l.request['resourceSpans'] as { scopeSpans: { spans: Json[] }[] }[]).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)),
    );
    const p = spans.find((s) => s['name'] === 'parent-op')!;
    const c = spans.find((s) => s['name'] === 'child-op')!;
    expect(p['traceId']).toBe(parent.spanContext().traceId);
    expect(p['spanId']).toBe(parent.spanContext().spanId);
    expect(c['parentSpanId']).toBe(parent.spanContext().spanId);
    expect(c['traceId']).toBe(p['traceId']);
    expect((c['events'] as Json[])[0]!['name']).toBe('cache-miss');
  });

  it('counted every accepted request and nothing as rejected', () => {
    const text = registry.render();
    expect(text).not.toMatch(/sextant_gateway_rejected_total\{reason="[a-z_]+"\} [1-9]/);
    expect(registry.counter('sextant_gateway_received_records_total', '').get({ signal: 'logs' })).toBe(4);
    expect(registry.counter('sextant_gateway_received_records_total', '').get({ signal: 'traces' })).toBe(2);
  });
});
