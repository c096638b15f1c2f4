import { createHash } from 'node:crypto';

/**
 * Values as the store keeps them, read from decoded OTLP messages (protobufjs, from binary or
 * from JSON). The two decoders differ: a binary decode leaves unset fields on the prototype (an
 * unset `stringValue` reads ""), a JSON decode leaves them undefined; so a oneof member counts
 * only when it is an own property, and an unset scalar is read as its zero.
 */

/** An attribute value as JSON: int64 beyond 2^53 becomes a decimal string, bytes base64. */
export type AttrJson = string | number | boolean | null | AttrJson[] | { [key: string]: AttrJson };

/** protobufjs' Long, or what a decoder left instead (number, string, bigint). */
export type Int64Like = number | string | bigint | { readonly low: number; readonly high: number; readonly unsigned?: boolean } | null | undefined;

export interface AnyValueLike {
  readonly stringValue?: string | null;
  readonly boolValue?: boolean | null;
  readonly intValue?: Int64Like;
  readonly doubleValue?: number | null;
  readonly arrayValue?: { readonly values?: readonly AnyValueLike[] | null } | null;
  readonly kvlistValue?: { readonly values?: readonly KeyValueLike[] | null } | null;
  readonly bytesValue?: Uint8Array | string | null;
}

export interface KeyValueLike {
  readonly key?: string | null;
  readonly value?: AnyValueLike | null;
}

const hasOwn = Object.prototype.hasOwnProperty;
const TWO_32 = 4294967296;

/** An int64 as a JS number (exact below 2^53; timestamps in ns lose a few hundred ns, which ms and µs uses never see). */
export function int64Number(v: Int64Like): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return v === '' ? 0 : Number(v);
  return v.unsigned === true ? (v.high >>> 0) * TWO_32 + (v.low >>> 0) : v.high * TWO_32 + (v.low >>> 0);
}

/** An unsigned 64-bit nanosecond timestamp, exactly. */
export function uint64BigInt(v: Int64Like): bigint {
  if (v === null || v === undefined) return 0n;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? BigInt(Math.floor(v)) : 0n;
  if (typeof v === 'string') return /^\d{1,20}$/.test(v) ? BigInt(v) : 0n;
  return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
}

function int64Json(v: Int64Like): number | string {
  const n = int64Number(v);
  if (Number.isSafeInteger(n)) return n;
  if (v !== null && typeof v === 'object') return ((BigInt(v.high | 0) << 32n) | BigInt(v.low >>> 0)).toString();
  return String(v);
}

function bytesText(v: Uint8Array | readonly number[] | string): string {
  if (typeof v === 'string') return v;
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Buffer.from(v).toString('base64');
}

/** An OTLP AnyValue as JSON; an empty (unset) value is null. */
export function anyValueJson(v: AnyValueLike | null | undefined): AttrJson {
  if (v === null || v === undefined) return null;
  if (hasOwn.call(v, 'stringValue')) return v.stringValue ?? '';
  if (hasOwn.call(v, 'intValue')) return int64Json(v.intValue);
  if (hasOwn.call(v, 'doubleValue')) {
    const d = v.doubleValue ?? 0;
    // JSON has no NaN or Infinity.
    return Number.isFinite(d) ? d : String(d);
  }
  if (hasOwn.call(v, 'boolValue')) return v.boolValue === true;
  if (hasOwn.call(v, 'arrayValue')) return (v.arrayValue?.values ?? []).map(anyValueJson);
  if (hasOwn.call(v, 'kvlistValue')) return attributesJson(v.kvlistValue?.values);
  if (hasOwn.call(v, 'bytesValue') && v.bytesValue !== null && v.bytesValue !== undefined) return bytesText(v.bytesValue);
  return null;
}

/** An attribute list as an object; a repeated key keeps its last value. */
export function attributesJson(kvs: readonly KeyValueLike[] | null | undefined): { [key: string]: AttrJson } {
  const out: { [key: string]: AttrJson } = {};
  if (kvs === null || kvs === undefined) return out;
  for (const kv of kvs) {
    const key = kv.key ?? '';
    if (key !== '') out[key] = anyValueJson(kv.value);
  }
  return out;
}

/** A body as text: a string body as it is, anything else as JSON (empty: ""). */
export function bodyText(v: AnyValueLike | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (hasOwn.call(v, 'stringValue')) return v.stringValue ?? '';
  const j = anyValueJson(v);
  return j === null ? '' : JSON.stringify(j);
}

function sortKeys(value: AttrJson): AttrJson {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(sortKeys);
  const out: { [key: string]: AttrJson } = {};
  for (const k of Object.keys(value).sort()) out[k] = sortKeys(value[k]!);
  return out;
}

/**
 * JSON with keys sorted at every level: the same attributes always give the same text, whatever
 * order the sender listed them in, so the text (and its hash) identifies the set.
 */
export function canonicalJson(attrs: { readonly [key: string]: AttrJson }): string {
  return JSON.stringify(sortKeys(attrs as AttrJson));
}

/**
 * 16 hex digits (64 bits) of SHA-256: stable across processes, versions and machines (unlike a
 * seeded hash), so a resource or entity keeps its id for the life of the store and beyond it.
 */
export function stableHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
}

/** Trace and span ids as lowercase hex ("" when unset). */
export function idHex(v: Uint8Array | readonly number[] | string | null | undefined): string {
  if (v === null || v === undefined || v.length === 0) return '';
  if (typeof v === 'string') return /^[0-9a-fA-F]*$/.test(v) ? v.toLowerCase() : Buffer.from(v, 'base64').toString('hex');
  // protobufjs leaves an unset bytes field as a plain empty array (handled above).
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') : Buffer.from(v).toString('hex');
}

/** OTLP's short names of the severity numbers (1 TRACE … 24 FATAL4): what an unset text means. */
export const SEVERITY_NAMES: readonly string[] = ['', ...['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].flatMap((n) => [n, `${n}2`, `${n}3`, `${n}4`])];
