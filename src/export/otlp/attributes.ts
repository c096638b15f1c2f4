import type { Attributes, AttrValue } from '../../model/index.js';
import { ProtoWriter, hi32, lenFieldSize, lo32, utf8Length, varint64Size, varintSize } from './proto-writer.js';

/**
 * Encoding of attribute sets as `repeated KeyValue` fields, with the caches that make them
 * cheap on the hot path:
 * - attribute keys are few and repeat in every record, so their encoded `KeyValue.key` field is
 *   kept in a module-level map (measured ~11 ns per key vs ~43 ns to measure and write it);
 * - an attribute object that is FROZEN is immutable, so its whole encoding is cached on it by
 *   identity (sources share one frozen object per file/cpu/mode); an unfrozen object is encoded
 *   every time because it may change between batches.
 *
 * Values: string → string_value; boolean → bool_value; integral number within int64 →
 * int_value; any other number → double_value; bigint → int_value (wrapped to 64 bits);
 * string[] → array_value of string_value. Anything else (undefined, null, objects smuggled past
 * the types) is skipped, the key with it.
 */

const KEY_CACHE_LIMIT = 4096;
const keyCache = new Map<string, Uint8Array>();

const TAG_KEY = 0x0a; // KeyValue.key
const TAG_VALUE = 0x12; // KeyValue.value
const TAG_STRING = 0x0a; // AnyValue.string_value
const TAG_BOOL = 0x10; // AnyValue.bool_value
const TAG_INT = 0x18; // AnyValue.int_value
const TAG_DOUBLE = 0x21; // AnyValue.double_value
const TAG_ARRAY = 0x2a; // AnyValue.array_value
const TAG_ARRAY_VALUES = 0x0a; // ArrayValue.values

const INT64_MIN = -(2 ** 63);
const INT64_LIMIT = 2 ** 63;

/** The encoded `KeyValue.key` field (tag, length, UTF-8) for `key`. */
function keyField(key: string): Uint8Array {
  let b = keyCache.get(key);
  if (b === undefined) {
    const n = utf8Length(key);
    const w = new ProtoWriter(lenFieldSize(n));
    w.stringField(TAG_KEY, key, n);
    b = w.finish();
    // Keys come from code and config, so the set is small; the cap guards against keys taken from data.
    if (keyCache.size < KEY_CACHE_LIMIT) keyCache.set(key, b);
  }
  return b;
}

function isInt64(v: number): boolean {
  return Number.isInteger(v) && v >= INT64_MIN && v < INT64_LIMIT;
}

/** Size of the AnyValue message for `v`, or -1 when `v` is not an attribute value we encode. */
function anyValueSize(v: AttrValue): number {
  switch (typeof v) {
    case 'string': {
      const n = utf8Length(v);
      return 1 + varintSize(n) + n;
    }
    case 'boolean':
      return 2;
    case 'number':
      return isInt64(v) ? 1 + varint64Size(lo32(v), hi32(v)) : 9;
    case 'bigint': {
      const u = BigInt.asUintN(64, v);
      return 1 + varint64Size(Number(u & 0xffff_ffffn), Number(u >> 32n));
    }
    default: {
      if (!Array.isArray(v)) return -1;
      const n = arrayValueSize(v);
      return 1 + varintSize(n) + n;
    }
  }
}

function arrayValueSize(items: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    // Non-string items are written as empty AnyValue messages, keeping positions.
    const s = typeof item === 'string' ? utf8Length(item) : -1;
    const any = s < 0 ? 0 : 1 + varintSize(s) + s;
    n += 1 + varintSize(any) + any;
  }
  return n;
}

/** Writes the AnyValue message for `v` (size already known to be >= 0). */
function writeAnyValue(w: ProtoWriter, v: AttrValue): void {
  switch (typeof v) {
    case 'string':
      w.stringField(TAG_STRING, v, utf8Length(v));
      return;
    case 'boolean':
      w.byte(TAG_BOOL);
      w.byte(v ? 1 : 0);
      return;
    case 'number':
      if (isInt64(v)) {
        w.byte(TAG_INT);
        w.varint64(lo32(v), hi32(v));
      } else {
        w.byte(TAG_DOUBLE);
        w.double(v);
      }
      return;
    case 'bigint': {
      const u = BigInt.asUintN(64, v);
      w.byte(TAG_INT);
      w.varint64(Number(u & 0xffff_ffffn), Number(u >> 32n));
      return;
    }
    default: {
      const items = v as readonly string[];
      w.byte(TAG_ARRAY);
      w.varint(arrayValueSize(items));
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        w.byte(TAG_ARRAY_VALUES);
        if (typeof item === 'string') {
          const s = utf8Length(item);
          w.varint(1 + varintSize(s) + s);
          w.stringField(TAG_STRING, item, s);
        } else {
          w.byte(0);
        }
      }
    }
  }
}

/** Appends `attrs` as repeated KeyValue under `fieldTag` to `w`, growing it as needed. */
export function writeAttributes(w: ProtoWriter, attrs: Attributes, fieldTag: number): void {
  for (const k in attrs) {
    const v = attrs[k] as AttrValue;
    if (typeof v === 'string') {
      // Strings are nearly every attribute: measure once, not in both size and write (~25 ns each).
      const key = keyField(k);
      const n = utf8Length(v);
      const any = 1 + varintSize(n) + n;
      const kv = key.length + 1 + varintSize(any) + any;
      w.ensure(1 + varintSize(kv) + kv);
      w.byte(fieldTag);
      w.varint(kv);
      w.bytes(key);
      w.byte(TAG_VALUE);
      w.varint(any);
      w.stringField(TAG_STRING, v, n);
      continue;
    }
    const any = anyValueSize(v);
    if (any < 0) continue;
    const key = keyField(k);
    const kv = key.length + 1 + varintSize(any) + any;
    w.ensure(1 + varintSize(kv) + kv);
    w.byte(fieldTag);
    w.varint(kv);
    w.bytes(key);
    w.byte(TAG_VALUE);
    w.varint(any);
    writeAnyValue(w, v);
  }
}

/** The encoding of `attrs` as repeated KeyValue under `fieldTag`, in an owned array (cold path). */
export function encodeAttributes(attrs: Attributes, fieldTag: number): Uint8Array {
  const w = new ProtoWriter(256);
  writeAttributes(w, attrs, fieldTag);
  return w.finish();
}

/**
 * Per-batch table of encoded attribute sets, one slot per record: `add` measures (and encodes)
 * a record's attributes in the sizing pass, `write` copies them in the write pass, so every
 * string is measured and encoded once.
 */
export class AttributeTable {
  readonly #tag: number;
  readonly #cache = new WeakMap<Attributes, Uint8Array>();
  readonly #scratch = new ProtoWriter(16 * 1024);
  #cached: (Uint8Array | undefined)[] = [];
  #start = new Int32Array(1024);
  #len = new Int32Array(1024);
  #used = 0;

  /** `fieldTag` is the tag byte of the attributes field in the enclosing message. */
  constructor(fieldTag: number) {
    this.#tag = fieldTag;
  }

  /** Starts a batch of `n` records. */
  reset(n: number): void {
    if (n > this.#start.length) {
      let size = this.#start.length;
      while (size < n) size *= 2;
      this.#start = new Int32Array(size);
      this.#len = new Int32Array(size);
    }
    this.#scratch.pos = 0;
    this.#used = n;
  }

  /** Encodes record `i`'s attributes; returns the byte size of its repeated KeyValue fields. */
  add(i: number, attrs: Attributes): number {
    if (Object.isFrozen(attrs)) {
      let b = this.#cache.get(attrs);
      if (b === undefined) {
        const start = this.#scratch.pos;
        writeAttributes(this.#scratch, attrs, this.#tag);
        b = this.#scratch.sliceOwned(start);
        this.#scratch.pos = start;
        this.#cache.set(attrs, b);
      }
      this.#cached[i] = b;
      return b.length;
    }
    this.#cached[i] = undefined;
    const start = this.#scratch.pos;
    writeAttributes(this.#scratch, attrs, this.#tag);
    this.#start[i] = start;
    const len = this.#scratch.pos - start;
    this.#len[i] = len;
    return len;
  }

  write(w: ProtoWriter, i: number): void {
    const b = this.#cached[i];
    if (b !== undefined) {
      if (b.length !== 0) w.bytes(b);
    } else {
      const len = this.#len[i] as number;
      if (len !== 0) w.copyFrom(this.#scratch, this.#start[i] as number, len);
    }
  }

  /** Drops references to this batch's cached encodings. */
  clear(): void {
    this.#cached.fill(undefined, 0, this.#used);
    this.#used = 0;
  }
}
