import { ConfigError } from '../errors.js';
import { encodePassThrough } from '../export/otlp/pass-through.js';
import type { OtlpSignal, SendOptions, Transport } from '../export/types.js';
import type { LogRecord } from '../model/log.js';
import type { MetricPoint } from '../model/metric.js';
import { type OtlpBlock, otlpBlockSize } from '../model/otlp-block.js';
import { logRecordSize, metricPointSize } from '../model/size.js';
import type { Registry } from '../self/registry.js';
import type { Logger } from '../self/logger.js';
import { Batcher, type BatchLimits } from './batcher.js';
import { type Codec, Dispatcher, type FlushResult, type Lane } from './dispatcher.js';
import { createPipelineMetrics, DROP_REASONS, PIPELINE_SIGNALS, type PipelineSignal, type ReceivedSignal } from './self-metrics.js';
import { SharedBudget, SignalQueue } from './signal-queue.js';
import type { DiskSpool } from './spool/disk-spool.js';

export interface QueueBounds {
  readonly maxItems: number;
  /** Estimated bytes (`logRecordSize` / `metricPointSize`). */
  readonly maxBytes: number;
}

export interface BatchConfig extends BatchLimits {
  /** The real encoded (uncompressed) size one request may have; larger requests are split. */
  readonly maxRequestBytes: number;
}

export interface PipelineConfig {
  readonly queues: {
    readonly metrics: QueueBounds;
    readonly logs: QueueBounds;
    readonly events: QueueBounds;
    /**
     * Bytes metrics and events hold together. An event that finds no room evicts the oldest
     * metrics first; events' own bound keeps them from taking all of it.
     */
    readonly sharedMetricsEventsBytes: number;
    /**
     * What applications send through the receiver: three rings (spans, metrics, logs passed
     * through as encoded blocks), each of at most `maxItems` blocks, together at most `maxBytes`.
     */
    readonly traces?: QueueBounds | undefined;
  };
  readonly batches: {
    readonly metrics: BatchConfig;
    readonly logs: BatchConfig;
    readonly events: BatchConfig;
    /** The receiver's three lanes; items are blocks (one resource of one request each). Default DEFAULT_PIPELINE_CONFIG's. */
    readonly traces?: BatchConfig | undefined;
  };
  /** Export requests in flight at once, all signals together. */
  readonly maxInFlight: number;
}

const MiB = 1024 * 1024;

/**
 * Production defaults. Request sizes stay inside Dynatrace's OTLP ingest limits: 15,000 data
 * points and 4 MB uncompressed per metrics request, 2 MB per logs request (events go to logs).
 * The batch byte caps are on estimates; `maxRequestBytes` is checked on the real encoding.
 */
export const DEFAULT_PIPELINE_CONFIG: PipelineConfig = Object.freeze({
  queues: Object.freeze({
    metrics: Object.freeze({ maxItems: 50_000, maxBytes: 16 * MiB }),
    logs: Object.freeze({ maxItems: 4096, maxBytes: 4 * MiB }),
    events: Object.freeze({ maxItems: 5_000, maxBytes: 2 * MiB }),
    sharedMetricsEventsBytes: 16 * MiB,
    traces: Object.freeze({ maxItems: 4_096, maxBytes: 16 * MiB }),
  }),
  batches: Object.freeze({
    metrics: Object.freeze({ maxItems: 10_000, maxBytes: 3 * MiB, lingerMs: 1_000, maxRequestBytes: 4_000_000 }),
    logs: Object.freeze({ maxItems: 2_000, maxBytes: 1.5 * MiB, lingerMs: 1_000, maxRequestBytes: 2_000_000 }),
    events: Object.freeze({ maxItems: 500, maxBytes: 1 * MiB, lingerMs: 200, maxRequestBytes: 2_000_000 }),
    traces: Object.freeze({ maxItems: 256, maxBytes: 1.5 * MiB, lingerMs: 500, maxRequestBytes: 2_000_000 }),
  }),
  maxInFlight: 2,
});

export interface PipelineDeps {
  readonly transport: Transport;
  readonly codecs: {
    readonly metrics: Codec<MetricPoint>;
    readonly logs: Codec<LogRecord>;
    readonly events: Codec<LogRecord>;
  };
  readonly registry: Registry;
  readonly logger: Logger;
  /** Per-request deadline handed to the transport. */
  readonly exportTimeoutMs: number;
  /** Monotonic milliseconds; injectable for tests. */
  readonly now?: (() => number) | undefined;
  /** At most one drop summary line per signal per this many ms (default 10 s). */
  readonly dropLogIntervalMs?: number | undefined;
  /** The disk spool (`DiskSpool.open`), when `buffer.disk.maxBytes` is not 0; closed by `close()`. */
  readonly spool?: DiskSpool | undefined;
}

export interface SignalStats {
  readonly items: number;
  readonly bytes: number;
  readonly maxItems: number;
  readonly maxBytes: number;
  readonly offered: number;
  readonly dropped: number;
  readonly exported: number;
}

export interface PipelineStats {
  readonly inFlight: number;
  readonly retrying: number;
  readonly sharedBytesUsed: number;
  readonly signals: Readonly<Record<PipelineSignal, SignalStats>>;
}

export interface Pipeline {
  /** Metrics never wait: a full queue drops its oldest point. Always true. */
  offerMetric(point: MetricPoint): boolean;
  /** False: the logs queue is full; hold the record, stop reading, offer it again on drain. */
  offerLog(record: LogRecord): boolean;
  /** Events never wait: room is taken from metrics first. Always true. */
  offerEvent(event: LogRecord): boolean;
  /**
   * Queues the blocks of one request from the receiver on `signal`'s ring, all or none: false
   * (nothing queued) when they do not all fit now — the receiver answers 503 with Retry-After
   * and the application's SDK sends the request again. Blocks larger than the ring
   * (`receivedMaxBytes`) must be refused by the caller before.
   */
  offerReceived(signal: OtlpSignal, blocks: readonly OtlpBlock[]): boolean;
  /** The byte bound of each receiver ring: a request larger than this can never be queued. */
  readonly receivedMaxBytes: number;
  /** Calls `fn` each time the logs queue drains after a refused offer; returns an unsubscribe. */
  onLogsDrain(fn: () => void): () => void;
  /** Wire to the RetryingTransport's retry hook; pass the request's options when the hook has them. */
  noteRetry(path: OtlpSignal, options?: SendOptions): void;
  /** Sends everything queued and in flight within `deadlineMs` milliseconds. */
  flush(deadlineMs: number): Promise<FlushResult>;
  start(): void;
  stop(): void;
  /** `stop()`, then the disk spool's last sync (settling the acks it covers) and cursor write. */
  close(): Promise<void>;
  stats(): PipelineStats;
}

const LANE_METRICS = 0;
const LANE_LOGS = 1;
const LANE_EVENTS = 2;
/** The receiver's lanes follow, in OTLP path order: traces, metrics, logs. */
const LANE_RECEIVED: Readonly<Record<OtlpSignal, number>> = { traces: 3, metrics: 4, logs: 5 };
const RECEIVED_SIGNAL_OF: Readonly<Record<OtlpSignal, ReceivedSignal>> = { traces: 'traces', metrics: 'app_metrics', logs: 'app_logs' };
const PASS_THROUGH: Codec<OtlpBlock> = { encode: encodePassThrough };

class PipelineImpl implements Pipeline {
  readonly #metrics: SignalQueue<MetricPoint>;
  readonly #logs: SignalQueue<LogRecord>;
  readonly #events: SignalQueue<LogRecord>;
  readonly #budget: SharedBudget;
  readonly #received: Readonly<Record<OtlpSignal, SignalQueue<OtlpBlock>>>;
  readonly receivedMaxBytes: number;
  readonly #dispatcher: Dispatcher;
  readonly #selfMetrics: ReturnType<typeof createPipelineMetrics>;
  readonly #spool: DiskSpool | undefined;

  constructor(given: PipelineConfig, deps: PipelineDeps) {
    // A config without the receiver's bounds (one built before they existed) gets the defaults.
    const config: PipelineConfig = {
      ...given,
      queues: { ...given.queues, traces: given.queues.traces ?? DEFAULT_PIPELINE_CONFIG.queues.traces },
      batches: { ...given.batches, traces: given.batches.traces ?? DEFAULT_PIPELINE_CONFIG.batches.traces },
    };
    validate(config);
    const m = createPipelineMetrics(deps.registry);
    this.#selfMetrics = m;
    const q = config.queues;
    this.#budget = new SharedBudget(q.sharedMetricsEventsBytes);
    this.#metrics = new SignalQueue<MetricPoint>({
      signal: 'metrics',
      ...q.metrics,
      sizeOf: metricPointSize,
      budget: this.#budget,
      tallies: m.signals.metrics,
      now: deps.now,
    });
    this.#logs = new SignalQueue<LogRecord>({ signal: 'logs', ...q.logs, sizeOf: logRecordSize, tallies: m.signals.logs, now: deps.now });
    this.#events = new SignalQueue<LogRecord>({
      signal: 'events',
      ...q.events,
      sizeOf: logRecordSize,
      budget: this.#budget,
      evictFrom: this.#metrics as SignalQueue<unknown>,
      tallies: m.signals.events,
      now: deps.now,
    });
    // The receiver's rings share one budget, so one chatty kind cannot hold more than the whole.
    const receivedBounds = q.traces!;
    const receivedBudget = new SharedBudget(receivedBounds.maxBytes);
    const receivedQueue = (signal: ReceivedSignal): SignalQueue<OtlpBlock> =>
      new SignalQueue<OtlpBlock>({ signal, ...receivedBounds, sizeOf: otlpBlockSize, budget: receivedBudget, tallies: m.signals[signal], now: deps.now });
    this.#received = { traces: receivedQueue('traces'), metrics: receivedQueue('app_metrics'), logs: receivedQueue('app_logs') };
    this.receivedMaxBytes = receivedBounds.maxBytes;
    const b = config.batches;
    this.#spool = deps.spool;
    // Order matters: the LANE_* indexes above name these positions.
    const lanes: Lane<any>[] = [
      lane('metrics', 'metrics', this.#metrics, b.metrics, deps.codecs.metrics, m.signals.metrics),
      lane('logs', 'logs', this.#logs, b.logs, deps.codecs.logs, m.signals.logs),
      lane('events', 'logs', this.#events, b.events, deps.codecs.events, m.signals.events),
    ];
    for (const path of ['traces', 'metrics', 'logs'] as const) {
      const signal = RECEIVED_SIGNAL_OF[path];
      lanes[LANE_RECEIVED[path]] = lane(signal, path, this.#received[path], b.traces!, PASS_THROUGH, m.signals[signal]);
    }
    this.#dispatcher = new Dispatcher({
      transport: deps.transport,
      lanes,
      maxInFlight: config.maxInFlight,
      exportTimeoutMs: deps.exportTimeoutMs,
      logger: deps.logger,
      now: deps.now,
      dropLogIntervalMs: deps.dropLogIntervalMs,
      spool: deps.spool,
    });
    for (const [signal, queue] of [
      ['metrics', this.#metrics],
      ['logs', this.#logs],
      ['events', this.#events],
      ['traces', this.#received.traces],
      ['app_metrics', this.#received.metrics],
      ['app_logs', this.#received.logs],
    ] as const) {
      const labels = { signal };
      m.queueItems.collect(() => queue.length, labels);
      m.queueBytes.collect(() => queue.bytes, labels);
      m.queueCapacityItems.set(queue.maxItems, labels);
      m.queueCapacityBytes.set(queue.maxBytes, labels);
    }
    m.inFlight.collect(() => this.#dispatcher.inFlight);
  }

  offerMetric(point: MetricPoint): boolean {
    const ok = this.#metrics.offer(point);
    this.#dispatcher.notify(LANE_METRICS);
    return ok;
  }

  offerLog(record: LogRecord): boolean {
    const ok = this.#logs.offer(record);
    // Refused too: with a disk spool, a full ring is what moves batches to it.
    if (ok || this.#spool !== undefined) this.#dispatcher.notify(LANE_LOGS);
    return ok;
  }

  offerEvent(event: LogRecord): boolean {
    const ok = this.#events.offer(event);
    this.#dispatcher.notify(LANE_EVENTS);
    return ok;
  }

  offerReceived(signal: OtlpSignal, blocks: readonly OtlpBlock[]): boolean {
    const queue = this.#received[signal];
    let bytes = 0;
    for (const b of blocks) bytes += otlpBlockSize(b);
    if (!queue.hasRoom(blocks.length, bytes)) return false;
    for (const b of blocks) queue.offer(b);
    this.#dispatcher.notify(LANE_RECEIVED[signal]);
    return true;
  }

  onLogsDrain(fn: () => void): () => void {
    this.#logs.on('drain', fn);
    return () => this.#logs.off('drain', fn);
  }

  noteRetry(path: OtlpSignal, options?: SendOptions): void {
    this.#dispatcher.noteRetry(path, options);
  }

  flush(deadlineMs: number): Promise<FlushResult> {
    return this.#dispatcher.flush(deadlineMs);
  }

  start(): void {
    this.#dispatcher.start();
  }

  stop(): void {
    this.#dispatcher.stop();
  }

  async close(): Promise<void> {
    this.#dispatcher.stop();
    await this.#spool?.close();
  }

  stats(): PipelineStats {
    const signals = {} as Record<PipelineSignal, SignalStats>;
    const r = this.#received;
    const queues = { metrics: this.#metrics, logs: this.#logs, events: this.#events, traces: r.traces, app_metrics: r.metrics, app_logs: r.logs } as const;
    for (const signal of PIPELINE_SIGNALS) {
      const q = queues[signal] as SignalQueue<unknown>;
      const sm = this.#selfMetrics.signals[signal];
      let dropped = 0;
      for (const reason of DROP_REASONS) dropped += sm.dropped[reason].value;
      signals[signal] = {
        items: q.length,
        bytes: q.bytes,
        maxItems: q.maxItems,
        maxBytes: q.maxBytes,
        offered: sm.offered.value,
        dropped,
        exported: sm.exportedRecords.value,
      };
    }
    return {
      inFlight: this.#dispatcher.inFlight,
      retrying: this.#dispatcher.retrying,
      sharedBytesUsed: this.#budget.used,
      signals,
    };
  }
}

function lane<T>(
  signal: PipelineSignal,
  path: OtlpSignal,
  queue: SignalQueue<T>,
  batch: BatchConfig,
  codec: Codec<T>,
  metrics: Lane<T>['metrics'],
): Lane<T> {
  return { signal, path, batcher: new Batcher(queue, batch), codec, maxRequestBytes: batch.maxRequestBytes, metrics };
}

/**
 * Checks every number at start, naming the config key that sets it (agent/run.ts
 * `pipelineConfigFrom` maps the keys to these options): queues are `pipeline.<signal>.*`,
 * batches `batch.<signal>.*`, and the derived options name the key they are derived from.
 */
function validate(config: PipelineConfig): void {
  const positiveInt = (key: string, v: unknown): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ConfigError(key, `must be a positive integer, got ${String(v)}`);
  };
  const positive = (key: string, v: unknown): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ConfigError(key, `must be a positive number, got ${String(v)}`);
  };
  for (const s of ['metrics', 'logs', 'events', 'traces'] as const) {
    const q = config.queues[s]!;
    positiveInt(`pipeline.${s}.maxItems`, q?.maxItems);
    if (q.maxItems > 2 ** 30) throw new ConfigError(`pipeline.${s}.maxItems`, `must be at most ${2 ** 30}, got ${q.maxItems}`);
    positive(`pipeline.${s}.maxBytes`, q.maxBytes);
    const b = config.batches[s]!;
    positiveInt(`batch.${s}.maxItems`, b?.maxItems);
    positive(`batch.${s}.maxBytes`, b.maxBytes);
    // The request ceiling is batch.<signal>.maxBytes raised to the ingest limit.
    positive(`batch.${s}.maxBytes`, b.maxRequestBytes);
    if (typeof b.lingerMs !== 'number' || !Number.isFinite(b.lingerMs) || b.lingerMs < 0) {
      throw new ConfigError(`batch.${s}.linger`, `must be a number >= 0, got ${String(b.lingerMs)}`);
    }
  }
  // Metrics and events share the metrics queue's byte budget.
  positive('pipeline.metrics.maxBytes', config.queues.sharedMetricsEventsBytes);
  positiveInt('export.maxInFlight', config.maxInFlight);
}

export function createPipeline(config: PipelineConfig, deps: PipelineDeps): Pipeline {
  return new PipelineImpl(config, deps);
}

export type { Codec, FlushResult };
