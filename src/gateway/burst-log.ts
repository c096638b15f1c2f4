import type { Logger } from '../self/logger.js';

/**
 * Sums events by reason and logs one line per burst: the first event opens a window, and when it
 * closes a single line reports how many of each reason happened in it. A flood of bad requests
 * costs one log line per window, not one per request.
 */
export class BurstLog {
  readonly #logger: Logger;
  readonly #message: string;
  readonly #windowMs: number;
  readonly #level: 'warn' | 'error';
  readonly #counts = new Map<string, number>();
  #total = 0;
  #timer: NodeJS.Timeout | undefined;
  #firstAt = 0;
  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.flush();
  };

  constructor(logger: Logger, message: string, options: { windowMs?: number; level?: 'warn' | 'error' } = {}) {
    this.#logger = logger;
    this.#message = message;
    this.#windowMs = options.windowMs ?? 10_000;
    this.#level = options.level ?? 'warn';
  }

  /** `reason` is a fixed label: never request data, never a token. */
  note(reason: string): void {
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + 1);
    if (this.#total++ === 0) {
      this.#firstAt = Date.now();
      this.#timer = setTimeout(this.#onTimer, this.#windowMs);
      // A pending summary must not keep the process alive.
      this.#timer.unref();
    }
  }

  /** Logs the pending summary now, if any. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#total === 0) return;
    const reasons = Object.fromEntries(this.#counts);
    this.#logger[this.#level]({ count: this.#total, reasons, windowMs: Date.now() - this.#firstAt }, this.#message);
    this.#counts.clear();
    this.#total = 0;
  }
}
