import { randomBytes } from 'node:crypto';
import { credentials, Client, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OTLP_GRPC_METHODS, startGrpcIngest, type GrpcIngest } from '../../../../src/gateway/grpc-ingest.js';
import type { Gateway } from '../../../../src/gateway/gateway.js';
import { silentLogger } from '../../../../src/self/logger.js';
import type { Registry } from '../../../../src/self/registry.js';
import { startSelfTraces } from '../../../../src/self/tracing/self-traces.js';
import { encodeRef, logsRequest, metricsRequest, readStored, removeDir, secret, start, tmpDataDir, TOKEN, tracesRequest } from '../../gateway/helpers.js';
import { until } from '../../../helpers/wait.js';

/** A raw-bytes unary call, as any OTLP/gRPC exporter makes it. */
function call(client: Client, path: string, body: Buffer, md: Metadata): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      md,
      { deadline: Date.now() + 10_000 },
      (err: ServiceError | null, res?: Buffer) => (err ? reject(err) : resolve(res!)),
    );
  });
}

function auth(value: string | undefined): Metadata {
  const md = new Metadata();
  if (value !== undefined) md.set('authorization', value);
  return md;
}

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return GrpcStatus.OK;
  } catch (err) {
    return (err as ServiceError).code;
  }
}

describe('gateway OTLP/gRPC ingest', () => {
  let dataDir: string;
  let gw: Gateway;
  let registry: Registry;
  let grpc: GrpcIngest;
  let client: Client;
  const MAX = 64 * 1024;

  beforeAll(async () => {
    dataDir = await tmpDataDir();
    ({ gw, registry } = await start(dataDir));
    grpc = await startGrpcIngest(gw, { listen: '127.0.0.1:0', tokens: [secret(TOKEN)], maxMessageBytes: MAX, shutdownTimeoutMs: 2000 }, { registry, logger: silentLogger() });
    client = new Client(grpc.address, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await grpc?.close();
    await gw?.close();
    await removeDir(dataDir);
  });

  it('stores traces, metrics and logs sent over gRPC exactly as over HTTP', async () => {
    const md = auth(`Api-Token ${TOKEN}`);
    const res = await call(client, OTLP_GRPC_METHODS.traces, encodeRef('traces', tracesRequest(['grpc-span-a', 'grpc-span-b'])), md);
    expect(res.length).toBe(0);
    await call(client, OTLP_GRPC_METHODS.metrics, encodeRef('metrics', metricsRequest(['grpc.metric'])), md);
    // Bearer works as on HTTP.
    await call(client, OTLP_GRPC_METHODS.logs, encodeRef('logs', logsRequest(['grpc line'])), auth(`Bearer ${TOKEN}`));
    await until('the span and the log stored', async () => (await readStored(dataDir, 'traces')).length === 1 && (await readStored(dataDir, 'logs')).length === 1);
    const traces = JSON.stringify(await readStored(dataDir, 'traces'));
    expect(traces).toContain('grpc-span-a');
    expect(traces).toContain('5b8efff798038103d269b633813fc60c'); // ids stored as hex
    expect(JSON.stringify(await readStored(dataDir, 'metrics'))).toContain('grpc.metric');
    expect(JSON.stringify(await readStored(dataDir, 'logs'))).toContain('grpc line');
    expect(registry.counter('sextant_gateway_received_records_total', '').get({ signal: 'traces' })).toBe(2);
  });

  it('refuses a missing or wrong token, and never stores those calls', async () => {
    const body = encodeRef('traces', tracesRequest(['must-not-land']));
    expect(await code(call(client, OTLP_GRPC_METHODS.traces, body, auth(undefined)))).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(await code(call(client, OTLP_GRPC_METHODS.traces, body, auth('Basic abc')))).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(await code(call(client, OTLP_GRPC_METHODS.traces, body, auth('Api-Token wrong')))).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(JSON.stringify(await readStored(dataDir, 'traces'))).not.toContain('must-not-land');
    expect(registry.counter('sextant_gateway_rejected_total', '').get({ reason: 'forbidden' })).toBeGreaterThanOrEqual(1);
  });

  it('answers INVALID_ARGUMENT to bad protobuf (random, truncated) and RESOURCE_EXHAUSTED above the size limit', async () => {
    const md = auth(`Api-Token ${TOKEN}`);
    const good = encodeRef('traces', tracesRequest(['x']));
    expect(await code(call(client, OTLP_GRPC_METHODS.traces, good.subarray(0, good.length - 3), md))).toBe(GrpcStatus.INVALID_ARGUMENT);
    // Random bytes: some happen to be valid protobuf of nothing; none may crash the gateway.
    for (let i = 0; i < 20; i++) {
      const c = await code(call(client, OTLP_GRPC_METHODS.traces, randomBytes(1 + (i * 37) % 500), md));
      expect([GrpcStatus.OK, GrpcStatus.INVALID_ARGUMENT]).toContain(c);
    }
    // Invalid UTF-8 in a string field: the span name's first byte made 0xff.
    const bad = encodeRef('traces', tracesRequest(['AAAA']));
    const at = bad.indexOf(Buffer.from('AAAA'));
    bad[at] = 0xff;
    expect(await code(call(client, OTLP_GRPC_METHODS.traces, bad, md))).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(await code(call(client, OTLP_GRPC_METHODS.traces, Buffer.alloc(MAX + 1024, 0x0a), md))).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    // Still serving.
    await call(client, OTLP_GRPC_METHODS.traces, encodeRef('traces', tracesRequest(['after-bad'])), md);
  });

  it('answers UNIMPLEMENTED for other methods', async () => {
    expect(await code(call(client, '/opentelemetry.proto.collector.trace.v1.TraceService/Other', Buffer.alloc(0), auth(`Api-Token ${TOKEN}`)))).toBe(GrpcStatus.UNIMPLEMENTED);
  });

  it('receives the agent tracer: cycle spans with source children and export spans through the real OTLP/gRPC exporter', async () => {
    const traces = await startSelfTraces({ endpoint: `http://${grpc.address}`, apiToken: secret(TOKEN), serviceName: 'sextant-agent', version: '0.0.0-test', logger: silentLogger(), exportDelayMs: 100 });
    const cycle = traces.cycles.startCycle(7);
    cycle.startSource('host').end({ records: 12, bytes: 3400 });
    cycle.startSource('logs').end({ records: 0, bytes: 0, error: new Error('boom') });
    cycle.end();
    const exp = traces.exports.start('metrics', 5000);
    exp.retry({ kind: 'retryable', status: 503, retryAfterMs: undefined, reason: 'HTTP 503' }, 1, 10);
    exp.end({ kind: 'success', status: 200, rejected: 0, message: '' }, 2);
    await traces.shutdown(5000);

    let spans: { name: string; spanId: string; parentSpanId?: string; attributes: { key: string; value: Record<string, unknown> }[]; events?: { name: string }[]; status?: { code?: number } }[] = [];
    await until('the span of a metrics export', async () => {
      spans = [];
      for (const line of await readStored(dataDir, 'traces')) {
        const req = line.request as { resourceSpans: { scopeSpans: { spans: typeof spans }[] }[] };
        for (const rs of req.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      return spans.some((s) => s.name === 'sextant.export metrics');
    });
    const attr = (s: (typeof spans)[number], k: string): unknown => {
      const v = s.attributes.find((a) => a.key === k)?.value;
      return v === undefined ? undefined : (v.intValue ?? v.stringValue ?? v.boolValue);
    };
    const root = spans.find((s) => s.name === 'sextant.collect')!;
    expect(attr(root, 'sextant.cycle')).toBe('7');
    const host = spans.find((s) => s.name === 'sextant.collect host')!;
    expect(host.parentSpanId).toBe(root.spanId);
    expect(attr(host, 'sextant.records')).toBe('12');
    const logs = spans.find((s) => s.name === 'sextant.collect logs')!;
    expect(logs.parentSpanId).toBe(root.spanId);
    expect(logs.status?.code).toBe(2);
    const ex = spans.find((s) => s.name === 'sextant.export metrics')!;
    expect(attr(ex, 'sextant.export.attempts')).toBe('2');
    expect(attr(ex, 'sextant.export.bytes')).toBe('5000');
    expect(attr(ex, 'http.response.status_code')).toBe('200');
    expect(ex.events?.map((e) => e.name)).toEqual(['retry']);
  });
});
