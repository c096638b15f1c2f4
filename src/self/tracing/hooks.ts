/**
 * The seam self-tracing hooks into the scheduler: types only, so the scheduler imports nothing at
 * run time for it (the export path's seam, `ExportObserver`, is export's own, in
 * `src/export/types.ts`). When self-traces are off the hooks are `undefined` and every call site
 * is an optional call that costs one comparison per cycle or per request.
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
