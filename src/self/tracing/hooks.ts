import type { ExportResult, OtlpSignal } from '../../export/types.js';

/**
 * The seams self-tracing hooks into: types only, so the scheduler and the export path import
 * nothing at run time for them. When self-traces are off the hooks are `undefined` and every
 * call site is an optional call that costs one comparison per cycle or per request.
 */

/** Gives the scheduler a span per collection cycle. */
export interface CycleTracer {
  startCycle(cycle: number): CycleSpan;
}

export interface CycleSpan {
  /** A child span for one source's part of the cycle. */
  startSource(source: string): SourceSpan;
  end(): void;
}

export interface SourceSpan {
  /**
   * `records` and `bytes` are what the source offered during its collect (estimated encoded
   * bytes); `error` when it threw; `skipped` when the previous cycle of the source still ran.
   */
  end(outcome: { readonly records: number; readonly bytes: number; readonly error?: Error | undefined; readonly skipped?: boolean }): void;
}

/** Gives the retrying transport a span per export request (all its attempts). */
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
