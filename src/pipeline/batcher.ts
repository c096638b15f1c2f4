import type { SignalQueue } from './signal-queue.js';

export interface BatchLimits {
  /** Records per batch. */
  readonly maxItems: number;
  /** Estimated bytes per batch (the encoded request is checked again against the real size). */
  readonly maxBytes: number;
  /** How long the oldest waiting record may wait before a partial batch is cut. */
  readonly lingerMs: number;
}

/**
 * Decides when a signal's queue holds a batch and cuts it. Pure logic: it owns no timer; the
 * dispatcher asks `msUntilReady` to arm its one linger timer per signal.
 */
export class Batcher<T> {
  readonly queue: SignalQueue<T>;
  readonly maxItems: number;
  readonly maxBytes: number;
  readonly lingerMs: number;

  constructor(queue: SignalQueue<T>, limits: BatchLimits) {
    if (!Number.isInteger(limits.maxItems) || limits.maxItems < 1) throw new RangeError(`batch maxItems must be a positive integer, got ${limits.maxItems}`);
    if (!(limits.maxBytes > 0)) throw new RangeError(`batch maxBytes must be positive, got ${limits.maxBytes}`);
    if (!(limits.lingerMs >= 0) || !Number.isFinite(limits.lingerMs)) throw new RangeError(`batch lingerMs must be >= 0, got ${limits.lingerMs}`);
    this.queue = queue;
    this.maxItems = limits.maxItems;
    this.maxBytes = limits.maxBytes;
    this.lingerMs = limits.lingerMs;
  }

  /** A full batch waits: cut now whatever the linger. Two comparisons; called after every offer. */
  full(): boolean {
    return this.queue.length >= this.maxItems || this.queue.bytes >= this.maxBytes;
  }

  /** Something should be cut now: a full batch, or the oldest record has lingered long enough. */
  ready(now: number): boolean {
    const q = this.queue;
    if (q.length === 0) return false;
    return this.full() || now - q.oldestAt >= this.lingerMs;
  }

  /** Milliseconds until `ready` turns true with no further offers: 0 if ready, Infinity if empty. */
  msUntilReady(now: number): number {
    const q = this.queue;
    if (q.length === 0) return Number.POSITIVE_INFINITY;
    if (this.full()) return 0;
    return Math.max(0, q.oldestAt + this.lingerMs - now);
  }

  /** Cuts one batch from the head of the queue (empty array if nothing waits). */
  cut(): T[] {
    const out: T[] = [];
    this.queue.take(out, this.maxItems, this.maxBytes);
    return out;
  }
}
