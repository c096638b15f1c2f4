/**
 * A bounded map keyed by byte strings (ranges of a larger buffer), for messages that arrive
 * again and again with the same encoding — a resource is resent with every request. A lookup
 * hashes a sample of the range and confirms with a byte comparison, so it makes no string and
 * hashes no more than 64 bytes however long the key; keys are copied when stored. Past
 * `maxEntries` it starts again empty (a cache, bounded against a flood of one-off keys).
 */
export class ByteMap<V> {
  readonly #buckets = new Map<number, { readonly bytes: Buffer; readonly value: V }[]>();
  readonly #maxEntries: number;
  #size = 0;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#size;
  }

  get(src: Uint8Array, start: number, end: number): V | undefined {
    const bucket = this.#buckets.get(sampleHash(src, start, end));
    if (bucket === undefined) return undefined;
    const len = end - start;
    for (const e of bucket) if (e.bytes.length === len && e.bytes.compare(src, start, end) === 0) return e.value;
    return undefined;
  }

  set(src: Uint8Array, start: number, end: number, value: V): void {
    if (this.#size >= this.#maxEntries) this.clear();
    const h = sampleHash(src, start, end);
    const bytes = Buffer.from(src.subarray(start, end));
    let bucket = this.#buckets.get(h);
    if (bucket === undefined) this.#buckets.set(h, (bucket = []));
    const at = bucket.findIndex((e) => e.bytes.equals(bytes));
    if (at >= 0) bucket[at] = { bytes, value };
    else {
      bucket.push({ bytes, value });
      this.#size++;
    }
  }

  clear(): void {
    this.#buckets.clear();
    this.#size = 0;
  }
}

/** FNV-1a over the length, up to 64 bytes spread over the range, and its last 8 bytes. */
function sampleHash(src: Uint8Array, start: number, end: number): number {
  const len = end - start;
  let h = Math.imul(0x811c9dc5 ^ len, 0x01000193);
  const step = len > 64 ? (len >>> 6) + 1 : 1;
  for (let i = start; i < end; i += step) h = Math.imul(h ^ src[i]!, 0x01000193);
  for (let i = Math.max(start, end - 8); i < end; i++) h = Math.imul(h ^ src[i]!, 0x01000193);
  return h >>> 0;
}
