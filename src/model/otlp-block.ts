import type { AckTarget } from './log.js';

/**
 * One resource's share of an OTLP export request an application sent to the agent's receiver,
 * already encoded: the bytes of one `ResourceSpans` / `ResourceMetrics` / `ResourceLogs` message
 * (without its tag and length), its resource rewritten by the receiver and every
 * `ScopeSpans`/`ScopeMetrics`/`ScopeLogs` copied through as the application encoded it. The
 * exporter concatenates blocks into a request; nothing decodes them again.
 */
export interface OtlpBlock {
  readonly bytes: Uint8Array;
  /** Spans, data points or log records inside (counted by the receiver's walk). */
  readonly items: number;
  readonly ack?: AckTarget;
  readonly ackToken?: number;
}

/** Bytes a block adds to a request besides its own: tag and length prefix (at most 6). */
const BLOCK_FRAMING_BYTES = 6;

/** The ring's byte estimate of a block: exact, it is already encoded. */
export function otlpBlockSize(b: OtlpBlock): number {
  return b.bytes.byteLength + BLOCK_FRAMING_BYTES;
}
