/**
 * Exponential backoff with full jitter: the n-th wait is uniform in [base·2ⁿ/2, base·2ⁿ], capped
 * at `maxMs`. Half the window is kept as a floor so a burst of failures never retries at once,
 * and the jitter spreads the agents of a cluster that lost the API server at the same moment.
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(initialMs: number, maxMs: number, random: () => number = Math.random) {
    this.#initialMs = initialMs;
    this.#maxMs = Math.max(initialMs, maxMs);
    this.#random = random;
  }

  /** The next wait in ms; each call doubles the window until the cap. */
  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return Math.round(ceiling / 2 + (this.#random() * ceiling) / 2);
  }

  /** After a success: the next failure starts from the initial wait again. */
  reset(): void {
    this.#attempt = 0;
  }

  get attempts(): number {
    return this.#attempt;
  }
}
