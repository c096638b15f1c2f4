import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { OtlpSignal } from '../export/types.js';
import { BurstLog } from '../self/burst-log.js';
import type { Logger } from '../self/logger.js';
import type { Registry } from '../self/registry.js';
import { TokenAuth } from './auth.js';
import { parseListen, type SecretValue } from './config.js';
import type { Gateway, IngestOutcome } from './gateway.js';
import { GatewayMetrics } from './gateway-metrics.js';

/**
 * OTLP/gRPC ingest for the gateway: the three collector services' `Export` methods, served with
 * raw-bytes (de)serializers so the body reaches the gateway's own protobuf decoder untouched and
 * is stored and forwarded exactly as an OTLP/HTTP protobuf body is (`Gateway.ingest`). Same
 * tokens as HTTP, in metadata (`authorization: Api-Token <t>` or `Bearer <t>`). grpc-js
 * decompresses gzip messages and refuses any message over the size limit with RESOURCE_EXHAUSTED
 * before a handler sees it.
 */

export interface GrpcIngestConfig {
  /** "host:port"; port 0 binds an ephemeral port (tests). */
  readonly listen: string;
  readonly tokens: readonly SecretValue[];
  /** Largest message accepted, after decompression (the gateway's maxDecompressedBytes). */
  readonly maxMessageBytes: number;
  /** How long `close()` lets calls in flight finish before cutting them off. */
  readonly shutdownTimeoutMs?: number | undefined;
}

export interface GrpcIngest {
  /** `host:port` actually bound. */
  readonly address: string;
  close(): Promise<void>;
}

/** The fully qualified method paths, as the OTLP exporters call them. */
export const OTLP_GRPC_METHODS: Readonly<Record<OtlpSignal, string>> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

/** An empty Export*ServiceResponse: no partial success to report. */
const EMPTY_RESPONSE = Buffer.alloc(0);
const passThrough = (b: Buffer): Buffer => b;

function rawService(signal: OtlpSignal): ServiceDefinition {
  return {
    Export: {
      path: OTLP_GRPC_METHODS[signal],
      requestStream: false,
      responseStream: false,
      requestSerialize: passThrough,
      requestDeserialize: passThrough,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    },
  };
}

/** HTTP-style outcome → gRPC status, as the OTLP spec maps them (UNAVAILABLE is the retryable one). */
function grpcCode(outcome: Extract<IngestOutcome, { ok: false }>): number {
  if (outcome.status === 400) return GrpcStatus.INVALID_ARGUMENT;
  if (outcome.status === 503 || outcome.status === 429) return GrpcStatus.UNAVAILABLE;
  if (outcome.status === 413) return GrpcStatus.RESOURCE_EXHAUSTED;
  return GrpcStatus.INTERNAL;
}

/** Starts the gRPC listener in front of a running gateway. Close it before the gateway. */
export async function startGrpcIngest(gateway: Gateway, config: GrpcIngestConfig, deps: { registry: Registry; logger: Logger }): Promise<GrpcIngest> {
  const addr = parseListen(config.listen, 'gateway.grpcListen');
  if (!Number.isSafeInteger(config.maxMessageBytes) || config.maxMessageBytes <= 0) throw new Error('gRPC maxMessageBytes must be a positive integer');
  const auth = new TokenAuth(config.tokens);
  const metrics = new GatewayMetrics(deps.registry);
  const rejections = new BurstLog(deps.logger, 'gateway rejected gRPC calls');

  const refuse = (callback: sendUnaryData<Buffer>, signal: OtlpSignal, httpStatus: number, code: number, reason: string, details: string): void => {
    metrics.request(signal, httpStatus);
    metrics.rejected(reason);
    rejections.note(reason);
    callback({ code, details });
  };

  const handler = (signal: OtlpSignal) => (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void => {
    const header = call.metadata.get('authorization')[0];
    const verdict = auth.check(typeof header === 'string' ? header : undefined);
    if (verdict === 'missing') return refuse(callback, signal, 401, GrpcStatus.UNAUTHENTICATED, 'unauthenticated', 'missing API token: send metadata "authorization: Api-Token <token>"');
    if (verdict === 'invalid') return refuse(callback, signal, 403, GrpcStatus.PERMISSION_DENIED, 'forbidden', 'API token not accepted');
    const body = call.request;
    gateway.ingest(signal, 'protobuf', body, body.length).then(
      (outcome: IngestOutcome) => {
        if (outcome.ok) callback(null, EMPTY_RESPONSE);
        // Already counted by ingest().
        else callback({ code: grpcCode(outcome), details: outcome.message });
      },
      (err: unknown) => {
        deps.logger.debug({ err }, 'gateway gRPC call failed');
        refuse(callback, signal, 500, GrpcStatus.INTERNAL, 'internal', 'internal error');
      },
    );
  };

  const server = new Server({
    'grpc.max_receive_message_length': config.maxMessageBytes,
    'grpc.max_send_message_length': 64 * 1024,
  });
  for (const signal of ['traces', 'metrics', 'logs'] as const) {
    server.addService(rawService(signal), { Export: handler(signal) } as UntypedServiceImplementation);
  }
  const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${addr.port}`, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  const address = `${host}:${port}`;
  if (auth.open) deps.logger.warn('gateway gRPC has no API tokens configured: every call is accepted without authentication');
  deps.logger.info({ address }, 'gateway gRPC listening');

  let closing: Promise<void> | undefined;
  const shutdown = async (): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const graceful = new Promise<boolean>((resolve) => server.tryShutdown(() => resolve(true)));
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), config.shutdownTimeoutMs ?? 5_000)));
    if (!(await Promise.race([graceful, late]))) server.forceShutdown();
    clearTimeout(timer);
    rejections.flush();
  };
  return {
    address,
    close: () => (closing ??= shutdown()),
  };
}
