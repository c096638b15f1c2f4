import { setTimeout as sleep } from 'node:timers/promises';
import type { ExportResult, OtlpSignal, Transport } from '../export/types.js';
import { RingBuffer } from '../pipeline/ring-buffer.js';

export type ForwardOutcome = 'ok' | 'retry' | 'failed' | 'too_large' | 'abandoned';

export interface ForwardHooks {
  /** One request reached an outcome (`retry`: it stays queued and will be sent again). */
  outcome(signal: OtlpSignal, outcome: ForwardOutcome, result: ExportResult | undefined): void;
}

export interface ForwardLimits {
  readonly maxQueueItems: number;
  readonly maxQueueBytes: number;
  /** Deadline of one send (the transport's own retries included). */
  readonly sendTimeoutMs: number;
  /** Wait after the transport gave up on a retryable error, doubled up to `maxBackoffMs`. */
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_FORWARD_TIMING = { sendTimeoutMs: 30_000, initialBackoffMs: 1_000, maxBackoffMs: 30_000 } as const;

/**
 * Forwards one signal's requests upstream, in order, one at a time, from a bounded queue of
 * uncompressed protobuf bodies. A retryable failure keeps the request at the head of the queue
 * and tries again after a backoff, so a dead upstream fills the queue and the gateway answers 503
 * to its senders: backpressure crosses the hop instead of memory growing.
 */
export class SignalForwarder {
  readonly #signal: OtlpSignal;
  readonly #transport: Transport;
  readonly #limits: ForwardLimits;
  readonly #hooks: ForwardHooks;
  readonly #queue: RingBuffer<Uint8Array>;
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  #backoffMs = 0;
  #closing = false;

  constructor(signal: OtlpSignal, transport: Transport, limits: ForwardLimits, hooks: ForwardHooks) {
    this.#signal = signal;
    this.#transport = transport;
    this.#limits = limits;
    this.#hooks = hooks;
    this.#queue = new RingBuffer<Uint8Array>(limits.maxQueueItems, limits.maxQueueBytes);
  }

  get queuedBytes(): number {
    return this.#queue.bytes;
  }

  get queuedItems(): number {
    return this.#queue.length;
  }

  /** Whether a body of `bytes` would be taken now. */
  fits(bytes: number): boolean {
    return !this.#closing && this.#queue.fits(bytes);
  }

  /** Queues a body; false when the queue is full (nothing queued: the caller answers 503). */
  offer(body: Uint8Array): boolean {
    if (this.#closing || !this.#queue.push(body, body.length)) return false;
    this.#running ??= this.#run();
    return true;
  }

  /** What to put in Retry-After when the queue is full: the current backoff, at least a second. */
  retryAfterSeconds(): number {
    return Math.min(60, Math.max(1, Math.ceil(this.#backoffMs / 1000)));
  }

  /** Sends what is queued until done or `deadline` (epoch ms); what is left then is counted as abandoned. */
  async close(deadline: number): Promise<void> {
    this.#closing = true;
    const running = this.#running;
    if (running !== undefined) {
      const left = deadline - Date.now();
      if (left > 0) {
        const timer = new AbortController();
        await Promise.race([running, sleep(left, undefined, { signal: timer.signal }).catch(() => undefined)]);
        timer.abort();
      }
      this.#abort.abort();
      await running;
    }
    while (this.#queue.length > 0) {
      this.#queue.shift();
      this.#hooks.outcome(this.#signal, 'abandoned', undefined);
    }
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    try {
      while (this.#queue.length > 0 && !signal.aborted) {
        const body = this.#queue.peek()!;
        let result: ExportResult;
        try {
          result = await this.#transport.send(this.#signal, body, { timeoutMs: this.#limits.sendTimeoutMs, signal });
        } catch (err) {
          // A transport should answer with a result; a throw is treated as a network error.
          result = { kind: 'retryable', status: 0, retryAfterMs: undefined, reason: err instanceof Error ? err.message : 'send failed' };
        }
        if (signal.aborted) break;
        if (result.kind === 'retryable') {
          this.#hooks.outcome(this.#signal, 'retry', result);
          this.#backoffMs = this.#backoffMs === 0 ? this.#limits.initialBackoffMs : Math.min(this.#limits.maxBackoffMs, this.#backoffMs * 2);
          const wait = Math.min(this.#limits.maxBackoffMs, Math.max(result.retryAfterMs ?? 0, this.#backoffMs));
          try {
            await sleep(wait, undefined, { signal });
          } catch {
            break; // aborted at shutdown
          }
          continue;
        }
        this.#queue.shift();
        this.#backoffMs = 0;
        this.#hooks.outcome(this.#signal, result.kind === 'success' ? 'ok' : result.kind === 'too_large' ? 'too_large' : 'failed', result);
      }
    } finally {
      // The loop only ends on an empty queue (checked synchronously, so no offer slips in
      // between) or at shutdown; the next offer starts a new one.
      this.#running = undefined;
    }
  }
}
