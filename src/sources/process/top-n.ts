/**
 * The N largest values of a stream, as row indices, without sorting the stream: a sorted array
 * of N (largest first) that a value enters by insertion. N is small (tens) and most values fail
 * the first comparison with the smallest kept, so this is one comparison per row.
 * Only positive values are kept: a process that used no CPU this cycle is nobody's "top".
 * Ties keep the earlier row.
 */
export class TopN {
  readonly #rows: Int32Array;
  readonly #values: Float64Array;
  #size = 0;

  constructor(readonly capacity: number) {
    this.#rows = new Int32Array(capacity);
    this.#values = new Float64Array(capacity);
  }

  reset(): void {
    this.#size = 0;
  }

  get size(): number {
    return this.#size;
  }

  /** The i-th largest's row (0 is the largest). */
  row(i: number): number {
    return this.#rows[i]!;
  }

  offer(row: number, value: number): void {
    if (!(value > 0) || this.capacity === 0) return;
    let i = this.#size;
    if (i === this.capacity) {
      if (value <= this.#values[i - 1]!) return;
      i--;
    } else {
      this.#size++;
    }
    // Shift smaller values down one place until the new one's slot is found.
    while (i > 0 && this.#values[i - 1]! < value) {
      this.#values[i] = this.#values[i - 1]!;
      this.#rows[i] = this.#rows[i - 1]!;
      i--;
    }
    this.#values[i] = value;
    this.#rows[i] = row;
  }
}
