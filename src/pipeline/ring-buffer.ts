/**
 * A bounded FIFO: a power-of-two array of slots indexed with a mask, plus two parallel typed
 * arrays holding each item's byte estimate and a stamp (the signal queues' enqueue time). Bounded
 * twice, in items and in bytes. The slots start small and double, up to `capacity`, only when a
 * push finds them all taken: an idle agent's queues hold a few hundred records at a time, and
 * slots allocated up front for the bound (65,536 for metrics: 1.5 MiB with the two columns) would
 * be resident for nothing. A stalled endpoint still costs at most `capacity` slots.
 */
/** Slots a ring starts with: more than an idle agent's cycle offers to a queue at once. */
const INITIAL_SLOTS = 1024;

export class RingBuffer<T> {
  /** Slots it may grow to: `maxItems` rounded up to a power of two, so `index & mask` wraps. */
  readonly capacity: number;
  readonly maxItems: number;
  readonly maxBytes: number;
  #mask: number;
  #items: (T | undefined)[];
  // Float64Array, not Uint32Array: a byte estimate above 4 GiB must not wrap to a small number.
  #sizes: Float64Array;
  #stamps: Float64Array;
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
    const slots = Math.min(cap, INITIAL_SLOTS);
    this.#mask = slots - 1;
    // Filled with undefined up front so the array stays packed and never changes shape.
    this.#items = new Array<T | undefined>(slots).fill(undefined);
    this.#sizes = new Float64Array(slots);
    this.#stamps = new Float64Array(slots);
  }

  /** Slots allocated now (a power of two, at most `capacity`). */
  get slots(): number {
    return this.#mask + 1;
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
  push(item: T, bytes: number, stamp = 0): boolean {
    if (this.#length >= this.maxItems || this.#bytes + bytes > this.maxBytes) return false;
    if (this.#length > this.#mask) this.#grow();
    const i = (this.#head + this.#length) & this.#mask;
    this.#items[i] = item;
    this.#sizes[i] = bytes;
    this.#stamps[i] = stamp;
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
    this.#stamps[i] = 0;
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

  /** The stamp pushed with the oldest item (0 when empty). */
  peekStamp(): number {
    return this.#length === 0 ? 0 : this.#stamps[this.#head]!;
  }

  /** Drops everything, clearing every slot. */
  clear(): void {
    for (let n = 0, i = this.#head; n < this.#length; n++, i = (i + 1) & this.#mask) {
      this.#items[i] = undefined;
      this.#sizes[i] = 0;
      this.#stamps[i] = 0;
    }
    this.#head = 0;
    this.#length = 0;
    this.#bytes = 0;
  }

  /** Twice the slots (every slot taken, and `length < maxItems <= capacity`), oldest item first. */
  #grow(): void {
    const slots = this.#mask + 1;
    const next = slots * 2;
    const items = new Array<T | undefined>(next).fill(undefined);
    const sizes = new Float64Array(next);
    const stamps = new Float64Array(next);
    for (let n = 0, i = this.#head; n < this.#length; n++, i = (i + 1) & this.#mask) {
      items[n] = this.#items[i];
      sizes[n] = this.#sizes[i]!;
      stamps[n] = this.#stamps[i]!;
    }
    this.#items = items;
    this.#sizes = sizes;
    this.#stamps = stamps;
    this.#head = 0;
    this.#mask = next - 1;
  }
}
