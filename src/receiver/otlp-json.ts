import type { FieldDesc, MessageDesc, OtlpKind } from './otlp-schema.js';
import { REQUEST_OF } from './otlp-schema.js';

/**
 * OTLP/JSON → the protobuf encoding of the same request, from the tables of otlp-schema.ts, so a
 * JSON request takes the protobuf path from there (validated walk, resource rewrite, copied
 * scopes). JSON as OTLP defines it: lowerCamelCase or snake_case names; trace and span ids as
 * hex (base64 accepted, as older senders wrote them); other bytes base64; 64-bit integers as
 * numbers or decimal strings; enums as numbers or names; unknown fields ignored. Not the hot
 * path (the SDKs send protobuf unless told otherwise), so it favours plain code over speed.
 */

export class JsonShapeError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const MAX_DEPTH = 64;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const DECIMAL = /^-?\d{1,20}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Growing byte output; messages are written into a child and copied in with their length. */
class Out {
  readonly parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}

function varint(v: bigint): Buffer {
  let u = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (u > 0x7fn) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
  return Buffer.from(out);
}

function tag(field: FieldDesc, wire: number): Buffer {
  return varint(BigInt((field.number << 3) | wire));
}

function where(path: string, what: string): JsonShapeError {
  return new JsonShapeError(`${path}: ${what}`);
}

function integer(v: unknown, path: string, signed: boolean, bits: 32 | 64): bigint {
  let n: bigint;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw where(path, 'not an integer');
    n = BigInt(v);
  } else if (typeof v === 'string' && DECIMAL.test(v.trim())) n = BigInt(v.trim());
  else throw where(path, 'expected an integer (a number or a decimal string)');
  const min = signed ? -(2n ** BigInt(bits - 1)) : 0n;
  const max = signed ? 2n ** BigInt(bits - 1) - 1n : 2n ** BigInt(bits) - 1n;
  if (n < min || n > max) throw where(path, `out of range for a ${signed ? '' : 'u'}int${bits}`);
  return n;
}

function double(v: unknown, path: string): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return Number.NaN;
  if (v === 'Infinity') return Number.POSITIVE_INFINITY;
  if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  throw where(path, 'expected a number');
}

function fixed64(n: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, n));
  return b;
}

function bytesOf(v: unknown, path: string, id: boolean): Buffer {
  if (typeof v !== 'string') throw where(path, 'expected a string');
  if (id && HEX.test(v)) return Buffer.from(v, 'hex');
  if (!BASE64.test(v)) throw where(path, id ? 'expected hex' : 'expected base64');
  return Buffer.from(v, 'base64');
}

/** One value of `field` (not a list) → its encoding with tag. */
function scalar(field: FieldDesc, v: unknown, path: string, depth: number, out: Out): void {
  switch (field.kind) {
    case 'string': {
      if (typeof v !== 'string') throw where(path, 'expected a string');
      const b = Buffer.from(v, 'utf8');
      out.push(tag(field, 2));
      out.push(varint(BigInt(b.length)));
      out.push(b);
      return;
    }
    case 'bytes':
    case 'id': {
      const b = bytesOf(v, path, field.kind === 'id');
      out.push(tag(field, 2));
      out.push(varint(BigInt(b.length)));
      out.push(b);
      return;
    }
    case 'message': {
      if (!isObject(v)) throw where(path, 'expected an object');
      const b = message(field.message!, v, path, depth + 1);
      out.push(tag(field, 2));
      out.push(varint(BigInt(b.length)));
      out.push(b);
      return;
    }
    case 'bool':
      if (typeof v !== 'boolean') throw where(path, 'expected true or false');
      out.push(tag(field, 0));
      out.push(Buffer.from([v ? 1 : 0]));
      return;
    case 'enum': {
      let n: bigint;
      if (typeof v === 'string' && field.enumValues !== undefined && Object.hasOwn(field.enumValues, v)) n = BigInt(field.enumValues[v]!);
      else n = integer(v, path, true, 32);
      out.push(tag(field, 0));
      out.push(varint(n));
      return;
    }
    case 'int32':
      out.push(tag(field, 0));
      out.push(varint(integer(v, path, true, 32)));
      return;
    case 'uint32':
      out.push(tag(field, 0));
      out.push(varint(integer(v, path, false, 32)));
      return;
    case 'sint32': {
      const n = integer(v, path, true, 32);
      out.push(tag(field, 0));
      out.push(varint(n >= 0n ? n * 2n : -n * 2n - 1n));
      return;
    }
    case 'int64':
      out.push(tag(field, 0));
      out.push(varint(integer(v, path, true, 64)));
      return;
    case 'uint64':
      out.push(tag(field, 0));
      out.push(varint(integer(v, path, false, 64)));
      return;
    case 'fixed64':
      out.push(tag(field, 1));
      out.push(fixed64(integer(v, path, false, 64)));
      return;
    case 'sfixed64':
      out.push(tag(field, 1));
      out.push(fixed64(integer(v, path, true, 64)));
      return;
    case 'double': {
      const b = Buffer.allocUnsafe(8);
      b.writeDoubleLE(double(v, path));
      out.push(tag(field, 1));
      out.push(b);
      return;
    }
    case 'fixed32': {
      const b = Buffer.allocUnsafe(4);
      b.writeUInt32LE(Number(integer(v, path, false, 32)));
      out.push(tag(field, 5));
      out.push(b);
      return;
    }
  }
}

function message(desc: MessageDesc, obj: Record<string, unknown>, path: string, depth: number): Buffer {
  if (depth > MAX_DEPTH) throw where(path, `nested more than ${MAX_DEPTH} deep`);
  const out = new Out();
  for (const name in obj) {
    const field = desc.byJson.get(name);
    const v = obj[name];
    // Unknown fields are ignored, as the OTLP spec asks of receivers; null means absent.
    if (field === undefined || v === null || v === undefined) continue;
    const at = `${path}.${name}`;
    if (field.repeated) {
      if (!Array.isArray(v)) throw where(at, 'expected a list');
      for (let i = 0; i < v.length; i++) if (v[i] !== null) scalar(field, v[i], `${at}[${i}]`, depth, out);
    } else scalar(field, v, at, depth, out);
  }
  return out.bytes();
}

/** A JSON request body → the protobuf request. Throws JsonShapeError (→ 400) with a short reason. */
export function jsonToProtobuf(kind: OtlpKind, body: Uint8Array): Buffer {
  let parsed: unknown;
  try {
    // An empty body is the empty request, as it is for protobuf.
    parsed = body.length === 0 ? {} : JSON.parse(utf8.decode(body));
  } catch (err) {
    throw new JsonShapeError(`invalid JSON: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) throw new JsonShapeError('invalid JSON: the request must be a JSON object');
  return message(REQUEST_OF[kind], parsed, '$', 0);
}
