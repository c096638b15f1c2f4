/**
 * The pipeline's monotonic clock in milliseconds. One shared function, not a `bind` per
 * instance: a call site that sees a different function per pipeline deoptimizes ("wrong call
 * target", seen in the benchmark when pipelines were created per run).
 */
export function monotonicMs(): number {
  return performance.now();
}
