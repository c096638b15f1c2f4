/**
 * Two OTLP decoders the project did not write, for round-trip tests: protobufjs loading our
 * own `proto/` files, and the protobufjs-generated decoders shipped inside the official
 * @opentelemetry/otlp-transformer (aliased `otlp-transformer-reference`).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const protoDir = path.resolve(here, '../../../proto');

export interface MessageType {
  decode(bytes: Uint8Array): object;
  encode(message: object): { finish(): Uint8Array };
  toObject(message: object, options?: object): Record<string, unknown>;
  verify?(message: object): string | null;
}

function loadOurs(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string) => path.join(protoDir, target);
  root.loadSync([
    'opentelemetry/proto/collector/logs/v1/logs_service.proto',
    'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
  ]);
  return root;
}

const ours = loadOurs();

export const ourLogsRequest = ours.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest') as unknown as MessageType;
export const ourMetricsRequest = ours.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest') as unknown as MessageType;
export const ourLogsResponse = ours.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse') as unknown as MessageType;
export const ourMetricsResponse = ours.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse') as unknown as MessageType;

const require = createRequire(import.meta.url);
const refRequire = createRequire(require.resolve('otlp-transformer-reference/package.json'));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const refRoot = refRequire('./build/src/generated/root.js') as any;

export const refLogsRequest = refRoot.opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest as MessageType;
export const refMetricsRequest = refRoot.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest as MessageType;

/** toObject options that keep 64-bit values exact and enums numeric. */
export const TO_OBJECT = { longs: String, enums: Number, bytes: Array, defaults: false, oneofs: true } as const;

export function decodeToObject(type: MessageType, bytes: Uint8Array): Record<string, any> {
  return type.toObject(type.decode(bytes), TO_OBJECT);
}
