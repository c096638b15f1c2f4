import type { LogRecord, MetricPoint } from '../model/index.js';

/**
 * Where a source puts what it read: the pipeline's three signals. Each `offer` returns false
 * when the record was not taken (logs: wait for `onLogsDrain`; metrics/events: the pipeline
 * already counted the drop).
 */
export interface RecordSink {
  offerMetric(point: MetricPoint): boolean;
  offerLog(record: LogRecord): boolean;
  offerEvent(event: LogRecord): boolean;
  onLogsDrain(listener: () => void): void;
}

/**
 * A source as ARCHITECTURE.md defines it: built by `create(config, deps)`, it knows nothing of
 * export. `collect` runs one collection cycle (the agent's scheduler calls it each interval and
 * `--once` calls it once); sources that stream (logs) use `start`/`stop` instead.
 */
export interface Source {
  readonly name: string;
  collect?(sink: RecordSink): Promise<void>;
  start?(sink: RecordSink): void;
  stop(): Promise<void>;
  /** Called once the pipeline has flushed at shutdown (or given up): final state writes (log checkpoints). */
  afterFlush?(): Promise<void>;
}
