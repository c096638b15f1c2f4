/**
 * A bounded FIFO: a power-of-two array of slots indexed with a mask, plus a parallel typed array
 * holding each item's byte estimate. Bounded twice, in items and in bytes; it never grows, so a
 * stalled endpoint costs at most `capacity` slots of memory whatever the producers do.
 */
export class RingBuffer<T> {
  /** Slots allocated: `maxItems` rounded up to a power of two, so `index & mask` wraps. */
  readonly capacity: number;
  readonly maxItems: number;
  readonly maxBytes: number;
  readonly #mask: number;
  readonly #items: (T | undefined)[];
  // Float64Array, not Uint32Array: a byte estimate above 4 GiB must not wrap to a small number.
  readonly #sizes: Float64Array;
  #head = 0;
  #length = 0;
  #bytes = 0;

  constructor(maxItems: number, maxBytes: number) {
    if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 2 ** 30) {
      throw new RangeError(`RingBuffer maxItems must be an integer in [1, 2^30], got ${maxItems}`);
    }
    if (!(maxBytes > 0) || !Number.isFinite(maxBytes)) {
      throw new RangeError(`RingBuffer maxBytes must be a positive finite number, got ${maxBytes}`);
    }
    let cap = 1;
    while (cap < maxItems) cap *= 2;
    this.capacity = cap;
    this.maxItems = maxItems;
    this.maxBytes = maxBytes;
    this.#mask = cap - 1;
    // Filled with undefined up front so the array stays packed and never changes shape.
    this.#items = new Array<T | undefined>(cap).fill(undefined);
    this.#sizes = new Float64Array(cap);
  }

  get length(): number {
    return this.#length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Whether an item of `bytes` would fit right now. */
  fits(bytes: number): boolean {
    return this.#length < this.maxItems && this.#bytes + bytes <= this.maxBytes;
  }

  /** Appends; false (and nothing stored) if it would exceed `maxItems` or `maxBytes`. */
  push(item: T, bytes: number): boolean {
    if (this.#length >= this.maxItems || this.#bytes + bytes > this.maxBytes) return false;
    const i = (this.#head + this.#length) & this.#mask;
    this.#items[i] = item;
    this.#sizes[i] = bytes;
    this.#length++;
    this.#bytes += bytes;
    return true;
  }

  /** Removes and returns the oldest item; its slot is cleared so the ring holds no stale reference. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const i = this.#head;
    const item = this.#items[i];
    this.#items[i] = undefined;
    this.#bytes -= this.#sizes[i]!;
    this.#sizes[i] = 0;
    this.#head = (i + 1) & this.#mask;
    this.#length--;
    // Re-zero on empty so floating-point residue from fractional sizes cannot accumulate.
    if (this.#length === 0) this.#bytes = 0;
    return item;
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  /** The byte size of the oldest item (0 when empty). */
  peekBytes(): number {
    return this.#length === 0 ? 0 : this.#sizes[this.#head]!;
  }

  /** Drops everything, clearing every slot. */
  clear(): void {
    for (let n = 0, i = this.#head; n < this.#length; n++, i = (i + 1) & this.#mask) {
      this.#items[i] = undefined;
      this.#sizes[i] = 0;
    }
    this.#head = 0;
    this.#length = 0;
    this.#bytes = 0;
  }
}
