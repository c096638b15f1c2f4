import type { LogRecord, MetricPoint } from '../model/index.js';
import { LogsEncoder } from './otlp/logs-encoder.js';
import { MetricsEncoder, type Temporality } from './otlp/metrics-encoder.js';
import type { DeltaConverter } from './temporality.js';
import type { Codec } from './types.js';

export interface OtlpCodecs {
  readonly metrics: Codec<MetricPoint>;
  readonly logs: Codec<LogRecord>;
  /** Events travel as OTLP log records. */
  readonly events: Codec<LogRecord>;
}

/**
 * The codecs the pipeline's dispatcher calls, one per signal: records → OTLP protobuf request.
 * With delta temporality the metrics codec converts counters once per batch (`prepare`), before
 * any split or retry re-encodes it. One encoder per signal, reused for every batch.
 */
export function otlpCodecs(temporality: Temporality, deltas: DeltaConverter | undefined): OtlpCodecs {
  const metricsEncoder = new MetricsEncoder();
  const logsEncoder = new LogsEncoder();
  return {
    metrics: {
      prepare: deltas ? (points: MetricPoint[]) => deltas.convert(points) : undefined,
      encode: (points) => metricsEncoder.encode(points, temporality),
      release: (body) => metricsEncoder.release(body),
    },
    logs: { encode: (records) => logsEncoder.encode(records), release: (body) => logsEncoder.release(body) },
    events: { encode: (records) => logsEncoder.encode(records), release: (body) => logsEncoder.release(body) },
  };
}
