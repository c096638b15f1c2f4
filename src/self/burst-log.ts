import type { Logger } from './logger.js';

export interface BurstLogOptions {
  /** At most one line per this many ms after the first (default 10 s). */
  readonly windowMs?: number | undefined;
  readonly level?: 'warn' | 'error' | undefined;
  /** Monotonic milliseconds; injectable for tests. */
  readonly now?: (() => number) | undefined;
}

/** Longest `detail` written: it may be a response body, not ours to trust in size. */
const MAX_DETAIL = 200;

/** The default clock: one shared function, so every instance calls the same target. */
function monotonicMs(): number {
  return performance.now();
}

/**
 * Log once per burst, never once per event. The first event after a quiet window is written at
 * once (whoever reads the log sees the first failure right away); the events that follow within
 * the window are summed by reason and written as one summary line when it closes, so a flood
 * costs at most one line per window. Counters carry the exact numbers; this is for the reader.
 *
 * A line is `{ count, reasons: { <reason>: n }, windowMs, status?, detail? }` under the fixed
 * message: `windowMs` is how long its events span, `status`/`detail` the last ones given. Put
 * context such as the signal on the logger (`logger.child({ signal })`).
 */
export class BurstLog {
  readonly #logger: Logger;
  readonly #message: string;
  readonly #windowMs: number;
  readonly #level: 'warn' | 'error';
  readonly #now: () => number;
  readonly #counts = new Map<string, number>();
  #total = 0;
  #firstAt = 0;
  #status: number | undefined;
  #detail: string | undefined;
  /** When the last line was written; a window after it is quiet again. */
  #lastAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.flush();
  };

  constructor(logger: Logger, message: string, options: BurstLogOptions = {}) {
    this.#logger = logger;
    this.#message = message;
    this.#windowMs = options.windowMs ?? 10_000;
    this.#level = options.level ?? 'warn';
    this.#now = options.now ?? monotonicMs;
  }

  /**
   * Counts `count` events of `reason`. `reason` is a fixed label, never request data or a token;
   * `status` and `detail` (e.g. an endpoint's answer) are kept as the last ones seen.
   */
  note(reason: string, count = 1, status?: number, detail?: string): void {
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + count);
    const now = this.#now();
    if (this.#total === 0) this.#firstAt = now;
    this.#total += count;
    if (status !== undefined) this.#status = status;
    if (detail !== undefined) this.#detail = detail;
    const wait = this.#lastAt + this.#windowMs - now;
    if (wait <= 0) this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#onTimer, wait);
      // A pending summary must not keep a stopping process alive.
      this.#timer.unref();
    }
  }

  /** Writes the pending summary now, if any (at shutdown). */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#total === 0) return;
    const now = this.#now();
    const detail = this.#detail;
    this.#logger[this.#level](
      {
        count: this.#total,
        reasons: Object.fromEntries(this.#counts),
        windowMs: Math.round(now - this.#firstAt),
        status: this.#status,
        detail: detail !== undefined && detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL)}…` : detail,
      },
      this.#message,
    );
    this.#counts.clear();
    this.#total = 0;
    this.#status = undefined;
    this.#detail = undefined;
    this.#lastAt = now;
  }
}
