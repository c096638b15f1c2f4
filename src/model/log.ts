import type { Attributes } from './attributes.js';
import type { Resource, Scope } from './resource.js';

/**
 * Whoever offers a record with an `ack` learns when the batch holding it was settled: `ok` is
 * true once the endpoint acknowledged it, false when it was dropped for good (rejected with a
 * non-retryable status, or discarded at shutdown). One AckTarget serves many records — the
 * `ackToken` says which — so no closure is made per record.
 */
export interface AckTarget {
  settle(token: number, ok: boolean): void;
}

/** OTLP SeverityNumber values used by name in the code. */
export const Severity = {
  UNSPECIFIED: 0,
  TRACE: 1,
  DEBUG: 5,
  INFO: 9,
  WARN: 13,
  ERROR: 17,
  FATAL: 21,
} as const;

/** A log line, or (with `eventName` set, on the events signal) an event. */
export interface LogRecord {
  readonly resource: Resource;
  readonly scope: Scope;
  /** When it happened (the CRI/Docker timestamp for container logs); 0n if unknown. */
  readonly timeUnixNano: bigint;
  /** When Sextant read it. */
  readonly observedTimeUnixNano: bigint;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: string;
  readonly attributes: Attributes;
  /** OTLP `event_name` (field 12); set for events, empty for plain log lines. */
  readonly eventName: string;
  readonly ack?: AckTarget;
  readonly ackToken?: number;
}
