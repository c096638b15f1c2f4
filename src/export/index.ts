export * from './types.js';
export * from './otlp/proto-writer.js';
export { LogsEncoder, encodedResource, encodedScope } from './otlp/logs-encoder.js';
export {
  MetricsEncoder,
  type Temporality,
  AGGREGATION_TEMPORALITY_CUMULATIVE,
  AGGREGATION_TEMPORALITY_DELTA,
} from './otlp/metrics-encoder.js';
export { encodeAttributes } from './otlp/attributes.js';
export { DeltaConverter } from './temporality.js';
export { HttpTransport, type HttpTransportOptions } from './http-transport.js';
export { RetryingTransport, type RetryPolicy, type RetryHooks } from './retrying-transport.js';
