/**
 * The seams of the export path. A transport sends one encoded OTLP request and says what
 * became of it; retrying, splitting and acknowledging are layered on top by their owners.
 */

/** Which OTLP path a request goes to. Events travel as logs. */
export type OtlpSignal = 'metrics' | 'logs' | 'traces';

export type ExportResult =
  /** Accepted (2xx). `rejected` counts items refused in an OTLP partial success. */
  | { readonly kind: 'success'; readonly status: number; readonly rejected: number; readonly message: string }
  /** Worth trying again: 429/502/503/504, network error, timeout. */
  | { readonly kind: 'retryable'; readonly status: number; readonly retryAfterMs: number | undefined; readonly reason: string }
  /** 413: the same bytes will never fit; the caller may split the batch and try the halves. */
  | { readonly kind: 'too_large'; readonly status: number; readonly reason: string }
  /** Refused for good (other 4xx, unrecoverable). */
  | { readonly kind: 'failure'; readonly status: number; readonly reason: string };

export interface SendOptions {
  /** Per-request deadline. */
  readonly timeoutMs: number;
  /** Aborts the request (and any waiting between retries) at shutdown. */
  readonly signal?: AbortSignal | undefined;
  /**
   * `gzip`: the body is already compressed by this transport's `compress` (a batch read back from
   * the disk spool), sent as it is. Only for a transport whose `compression` is `gzip`.
   */
  readonly encoded?: 'gzip' | undefined;
}

export interface Transport {
  /** `body` is an uncompressed OTLP protobuf request; the transport compresses as configured. */
  send(signal: OtlpSignal, body: Uint8Array, options: SendOptions): Promise<ExportResult>;
  close(): Promise<void>;
  /** How request bodies go on the wire; absent: uncompressed. */
  readonly compression?: 'gzip' | 'none' | undefined;
  /** The body as this transport would compress it (only where `compression` is `gzip`). */
  compress?(body: Uint8Array): Promise<Uint8Array>;
}

/**
 * What the retrying transport tells an observer (self-traces: a span per export request, all its
 * attempts). Owned here so the export path imports nothing from the observer; undefined when off.
 */
export interface ExportObserver {
  /** `bytes`: the uncompressed OTLP request. */
  start(signal: OtlpSignal, bytes: number): ExportSpan;
}

export interface ExportSpan {
  /** An attempt failed retryably and the next one follows after `delayMs`. */
  retry(result: ExportResult, attempt: number, delayMs: number): void;
  /** The request's final result after `attempts` attempts. */
  end(result: ExportResult, attempts: number): void;
}

/**
 * Turns a batch into one OTLP request body. `prepare` runs once per batch when it is cut (delta
 * conversion must not run twice when a batch is split or retried); it may drop records (the
 * first cumulative point of a series) but must keep every record that carries an `ack`.
 * `encode` may run several times on parts of a batch; `null` means nothing to send, which
 * settles the part as delivered.
 */
export interface Codec<T> {
  prepare?(records: T[]): T[];
  encode(records: readonly T[]): Uint8Array | null;
  /** The endpoint took this body (`encode`'s): its memory may serve a later one. Optional. */
  release?(body: Uint8Array): void;
}
