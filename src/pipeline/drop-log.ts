import type { Logger } from '../self/logger.js';

/**
 * One log line per burst of export drops, never one per record or per request: drops are summed
 * and written at most once per `intervalMs`, with the count and the last status and reason.
 * The counters (`sextant_pipeline_dropped_total`) carry the exact numbers; this line is for the
 * person reading the log.
 */
export class DropLog {
  readonly #logger: Logger;
  readonly #signal: string;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #count = 0;
  #status = 0;
  #reason = '';
  #lastAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.flush();
  };

  constructor(logger: Logger, signal: string, intervalMs: number, now: () => number) {
    this.#logger = logger;
    this.#signal = signal;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  note(count: number, status: number, reason: string): void {
    this.#count += count;
    this.#status = status;
    this.#reason = reason;
    const wait = this.#lastAt + this.#intervalMs - this.#now();
    if (wait <= 0) this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#onTimer, wait);
      // A pending summary line must not keep a stopping process alive.
      this.#timer.unref();
    }
  }

  /** Writes the pending summary now, if any. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#count === 0) return;
    // The endpoint's reason text is bounded here: it is a response body, not ours to trust in size.
    const reason = this.#reason.length > 200 ? `${this.#reason.slice(0, 200)}…` : this.#reason;
    this.#logger.warn(
      { signal: this.#signal, dropped: this.#count, status: this.#status, reason },
      'export dropped records',
    );
    this.#count = 0;
    this.#lastAt = this.#now();
  }
}
