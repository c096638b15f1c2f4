import { type BoundCounter, type Counter, type Gauge, type Histogram, LATENCY_BUCKETS, type Registry } from '../self/registry.js';

/**
 * The pipeline's signals. Events travel on the OTLP logs path but queue and count on their own.
 * The last three hold what applications send through the receiver, passed through as encoded
 * blocks: `traces` (spans), `app_metrics` and `app_logs`, one ring each, sharing one byte budget.
 */
export type PipelineSignal = 'metrics' | 'logs' | 'events' | ReceivedSignal;
export type ReceivedSignal = 'traces' | 'app_metrics' | 'app_logs';
const RECEIVED_SIGNALS: readonly ReceivedSignal[] = ['traces', 'app_metrics', 'app_logs'];
export const PIPELINE_SIGNALS: readonly PipelineSignal[] = ['metrics', 'logs', 'events', ...RECEIVED_SIGNALS];

/** Why a record left the pipeline without being exported. A closed set: these are label values. */
export type DropReason =
  | 'queue_full'
  | 'evicted_for_events'
  | 'too_large'
  | 'rejected'
  | 'retries_exhausted'
  | 'shutdown'
  /** Metrics dropped oldest while the disk spool was full too (spooled logs are never dropped for room). */
  | 'spool_full';
export const DROP_REASONS: readonly DropReason[] = [
  'queue_full',
  'evicted_for_events',
  'too_large',
  'rejected',
  'retries_exhausted',
  'shutdown',
  'spool_full',
];

export type RequestResult = 'success' | 'retryable' | 'too_large' | 'failure';

/** Anything that counts; `BoundCounter` is one. Lets the queue count without knowing the registry. */
export interface Tally {
  inc(by?: number): void;
}

const NOOP_TALLY: Tally = { inc() {} };

/** What a queue counts. */
export interface QueueTallies {
  readonly offered: Tally;
  readonly dropped: Readonly<Record<DropReason, Tally>>;
}

export const NOOP_QUEUE_TALLIES: QueueTallies = Object.freeze({
  offered: NOOP_TALLY,
  dropped: Object.freeze({
    queue_full: NOOP_TALLY,
    evicted_for_events: NOOP_TALLY,
    too_large: NOOP_TALLY,
    rejected: NOOP_TALLY,
    retries_exhausted: NOOP_TALLY,
    shutdown: NOOP_TALLY,
    spool_full: NOOP_TALLY,
  }),
});

/** Per-signal handles, label text computed once at construction. */
export interface SignalMetrics extends QueueTallies {
  readonly offered: BoundCounter;
  readonly dropped: Readonly<Record<DropReason, BoundCounter>>;
  readonly exportedRecords: BoundCounter;
  readonly requests: Readonly<Record<RequestResult, BoundCounter>>;
  readonly retries: BoundCounter;
  readonly bytes: BoundCounter;
  /** Observe with `labels` (a frozen object made once) — the histogram has no bound handle. */
  readonly latency: Histogram;
  readonly labels: Readonly<{ signal: PipelineSignal }>;
}

export interface PipelineMetrics {
  readonly signals: Readonly<Record<PipelineSignal, SignalMetrics>>;
  readonly queueItems: Gauge;
  readonly queueBytes: Gauge;
  readonly queueCapacityItems: Gauge;
  readonly queueCapacityBytes: Gauge;
  readonly inFlight: Gauge;
}

/** Registers the pipeline's and exporter's self-metrics on `registry` (idempotent per registry). */
export function createPipelineMetrics(registry: Registry): PipelineMetrics {
  const offered = registry.counter('sextant_pipeline_offered_total', 'Records offered to the pipeline and taken (queued or dropped).');
  const dropped = registry.counter('sextant_pipeline_dropped_total', 'Records dropped by the pipeline or exporter, by reason.');
  const records = registry.counter('sextant_export_records_total', 'Records accepted by the endpoint.');
  const requests = registry.counter('sextant_export_requests_total', 'Export requests by final result.');
  const retries = registry.counter('sextant_export_retries_total', 'Export request retries.');
  const bytes = registry.counter('sextant_export_bytes_total', 'Uncompressed bytes of export requests sent.');
  const latency = registry.histogram(
    'sextant_export_latency_seconds',
    'Time from sending an export request to its final result, retries included.',
    LATENCY_BUCKETS,
  );
  const signals = {} as Record<PipelineSignal, SignalMetrics>;
  for (const signal of PIPELINE_SIGNALS) signals[signal] = signalMetrics(signal, offered, dropped, records, requests, retries, bytes, latency);
  return {
    signals,
    queueItems: registry.gauge('sextant_pipeline_queue_items', 'Records waiting in the queue.'),
    queueBytes: registry.gauge('sextant_pipeline_queue_bytes', 'Estimated bytes waiting in the queue.'),
    queueCapacityItems: registry.gauge('sextant_pipeline_queue_capacity_items', 'Queue bound in records.'),
    queueCapacityBytes: registry.gauge('sextant_pipeline_queue_capacity_bytes', 'Queue bound in estimated bytes.'),
    inFlight: registry.gauge('sextant_export_in_flight', 'Export requests in flight.'),
  };
}

function signalMetrics(
  signal: PipelineSignal,
  offered: Counter,
  dropped: Counter,
  records: Counter,
  requests: Counter,
  retries: Counter,
  bytes: Counter,
  latency: Histogram,
): SignalMetrics {
  const labels = Object.freeze({ signal });
  const droppedBy = {} as Record<DropReason, BoundCounter>;
  for (const reason of DROP_REASONS) droppedBy[reason] = dropped.bind({ signal, reason });
  return {
    offered: offered.bind(labels),
    dropped: droppedBy,
    exportedRecords: records.bind(labels),
    requests: {
      success: requests.bind({ signal, result: 'success' }),
      retryable: requests.bind({ signal, result: 'retryable' }),
      too_large: requests.bind({ signal, result: 'too_large' }),
      failure: requests.bind({ signal, result: 'failure' }),
    },
    retries: retries.bind(labels),
    bytes: bytes.bind(labels),
    latency,
    labels,
  };
}
