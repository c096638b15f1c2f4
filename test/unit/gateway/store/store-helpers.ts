import { LogsEncoder } from '../../../../src/export/otlp/logs-encoder.js';
import { MetricsEncoder } from '../../../../src/export/otlp/metrics-encoder.js';
import { OtlpCodec } from '../../../../src/gateway/otlp-codec.js';
import { DEFAULT_STORE_CONFIG, type StoreConfig, type StoreTuning } from '../../../../src/gateway/store/config.js';
import { TelemetryStore } from '../../../../src/gateway/store/telemetry-store.js';
import { createResource, defineMetric, type AttrValue, type LogRecord, type MetricDescriptor, type MetricPoint, type Resource } from '../../../../src/model/index.js';
import { createLogger, type Logger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';

/** A clock the test moves by hand (Unix ms). */
export class TestClock {
  constructor(public ms: number) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

let codec: OtlpCodec | undefined;

export async function openStore(
  dir: string,
  options: { clock?: TestClock; config?: Partial<StoreConfig>; tuning?: Partial<StoreTuning>; logger?: Logger; registry?: Registry } = {},
): Promise<TelemetryStore> {
  codec ??= await OtlpCodec.load();
  return TelemetryStore.open(
    dir,
    { ...DEFAULT_STORE_CONFIG, ...options.config },
    { logger: options.logger ?? createLogger('silent'), registry: options.registry ?? new Registry(), decoder: codec, clock: options.clock?.now, tuning: options.tuning },
  );
}

const SCOPE = { name: 'sextant', version: '0.1.0' };
const NS = 1_000_000n;

export const HOST_ATTRS = { 'host.name': 'node-1', 'host.id': 'machine-1', 'os.type': 'linux' };

/** A pod's resource as the agent builds it (host attributes + pod identity + workload). */
export function podResource(uid: string, name: string, ns = 'shop', workload = 'web'): Resource {
  return createResource({ ...HOST_ATTRS, 'k8s.pod.uid': uid, 'k8s.pod.name': name, 'k8s.namespace.name': ns, 'k8s.node.name': 'node-1', 'k8s.cluster.name': 'c1', 'k8s.workload.kind': 'Deployment', 'k8s.workload.name': workload });
}

export function containerResource(id: string, name: string, podUid: string, podName: string, ns = 'shop', workload = 'web'): Resource {
  return createResource({ ...podResource(podUid, podName, ns, workload).attributes, 'container.id': id, 'container.name': name, 'k8s.container.name': name });
}

export function metric(name: string, kind: 'gauge' | 'sum', unit = '1'): MetricDescriptor {
  return defineMetric({ name, unit, description: `${name} (test)`, kind, monotonic: kind === 'sum', valueType: 'double' });
}

export function point(d: MetricDescriptor, resource: Resource, timeMs: number, value: number, attributes: Record<string, AttrValue> = {}, startMs = 1_000): MetricPoint {
  return { descriptor: d, resource, scope: SCOPE, attributes, startTimeUnixNano: d.kind === 'sum' ? BigInt(startMs) * NS : 0n, timeUnixNano: BigInt(timeMs) * NS, value };
}

/** An OTLP metrics request body, encoded by the agent's own encoder. */
export function metricsBody(points: MetricPoint[], temporality: 'delta' | 'cumulative' = 'cumulative'): Uint8Array {
  return new MetricsEncoder().encode(points, temporality)!.slice();
}

export function logRecord(resource: Resource, timeNs: bigint, body: string, severity = 9, eventName = '', attributes: Record<string, AttrValue> = {}): LogRecord {
  return { resource, scope: SCOPE, timeUnixNano: timeNs, observedTimeUnixNano: timeNs, severityNumber: severity, severityText: severity >= 17 ? 'ERROR' : severity >= 13 ? 'WARN' : 'INFO', body, attributes, eventName };
}

export function logsBody(records: LogRecord[]): Uint8Array {
  return new LogsEncoder().encode(records).slice();
}

/** A query after everything written so far is committed (writes are durable before DuckDB has them). */
export async function committedQuery(store: TelemetryStore, sql: string, params: (string | number)[], timeoutMs: number): Promise<Record<string, unknown>[]> {
  await store.flush();
  return store.query(sql, params, timeoutMs);
}
