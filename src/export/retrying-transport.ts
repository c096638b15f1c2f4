import { ConfigError } from '../errors.js';
import { MAX_RETRY_AFTER_MS } from './http-transport.js';
import type { ExportObserver, ExportResult, ExportSpan, OtlpSignal, SendOptions, Transport } from './types.js';

/**
 * Retries `retryable` results of an inner transport with exponential backoff and full jitter:
 * before retry n (n = 0, 1, …) it waits `random() * min(maxBackoffMs, initialBackoffMs *
 * multiplier^n)`, and at least the server's Retry-After when one was given (capped at 5 min).
 *
 * It returns the first result that is not retryable, or the last retryable one when it gives
 * up: when the next wait would take it past `maxElapsedMs` of retrying (0 = never give up), or
 * when `options.signal` aborts. Abort never rejects: the caller sees the last retryable result
 * and knows from its own signal why. The wait between attempts is an ordinary timer (a pending
 * retry is work, so it keeps the process alive) that abort clears at once.
 */

export interface RetryPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
  /** Give up after this long of retrying one request; 0 = never give up. */
  maxElapsedMs: number;
}

export interface RetryHooks {
  /**
   * Called before each wait for a retry. `options` is the request's own SendOptions object, so
   * a caller that passed a per-request object (the dispatcher passes its batch) knows exactly
   * which request is being retried.
   */
  onRetry?(signal: OtlpSignal, result: ExportResult, attempt: number, delayMs: number, options: SendOptions): void;
  /** Self-traces: a span per request (all its attempts). Absent: nothing is called. */
  observer?: ExportObserver | undefined;
}

/**
 * The config keys that set the agent's policy (agent/run.ts reads them), named when a value is
 * wrong. The gateway's upstream policy is fixed in code, so only the agent's can be.
 */
const POLICY_KEYS = {
  initialBackoffMs: 'export.retryInitialBackoff',
  maxBackoffMs: 'export.retryMaxBackoff',
  maxElapsedMs: 'export.retryMaxElapsed',
} as const;

export class RetryingTransport implements Transport {
  readonly #inner: Transport;
  readonly #policy: RetryPolicy;
  readonly #hooks: RetryHooks;
  readonly #random: () => number;

  constructor(inner: Transport, policy: RetryPolicy, hooks: RetryHooks = {}, random: () => number = Math.random) {
    checkNonNegative(POLICY_KEYS.initialBackoffMs, policy.initialBackoffMs);
    checkNonNegative(POLICY_KEYS.maxBackoffMs, policy.maxBackoffMs);
    checkNonNegative(POLICY_KEYS.maxElapsedMs, policy.maxElapsedMs);
    // No setting reaches the multiplier (the agent and the gateway pass 2): a bad one is a bug.
    if (!Number.isFinite(policy.multiplier) || policy.multiplier < 1) throw new RangeError(`retry multiplier must be a number >= 1, got ${policy.multiplier}`);
    if (policy.maxBackoffMs < policy.initialBackoffMs) throw new ConfigError(POLICY_KEYS.maxBackoffMs, `must be >= ${POLICY_KEYS.initialBackoffMs}`);
    this.#inner = inner;
    this.#policy = { ...policy };
    this.#hooks = hooks;
    this.#random = random;
  }

  async send(signal: OtlpSignal, body: Uint8Array, options: SendOptions): Promise<ExportResult> {
    const policy = this.#policy;
    const span = this.#hooks.observer?.start(signal, body.byteLength);
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      const result = await this.#inner.send(signal, body, options);
      if (result.kind !== 'retryable' || options.signal?.aborted) return done(span, result, attempt);
      const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** attempt);
      let delay = this.#random() * ceiling;
      if (result.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(result.retryAfterMs, MAX_RETRY_AFTER_MS));
      delay = Math.round(delay);
      if (policy.maxElapsedMs > 0 && performance.now() - started + delay > policy.maxElapsedMs) return done(span, result, attempt);
      span?.retry(result, attempt + 1, delay);
      this.#hooks.onRetry?.(signal, result, attempt + 1, delay, options);
      if (!(await sleep(delay, options.signal))) return done(span, result, attempt);
    }
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  get compression(): 'gzip' | 'none' | undefined {
    return this.#inner.compression;
  }

  compress(body: Uint8Array): Promise<Uint8Array> {
    if (this.#inner.compress === undefined) return Promise.resolve(body);
    return this.#inner.compress(body);
  }
}

/** Ends the request's span (when traced) after attempt number `attempt` (0-based). */
function done(span: ExportSpan | undefined, result: ExportResult, attempt: number): ExportResult {
  span?.end(result, attempt + 1);
  return result;
}

function checkNonNegative(key: string, v: number): void {
  if (!Number.isFinite(v) || v < 0) throw new ConfigError(key, 'must be a number >= 0');
}

/** Resolves true after `ms`, or false as soon as `signal` aborts (clearing the timer). */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
