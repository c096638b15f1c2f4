import { isUtf8 } from 'node:buffer';
import type { ByteMap } from '../io/byte-map.js';
import { type FieldDesc, KEY_VALUE, LEN_MESSAGE, LEN_PACKED, LEN_SKIP, LEN_STRING, type MessageDesc, type OtlpKind, REQUEST_OF, RESOURCE, RESOURCE_ENTRY_OF } from './otlp-schema.js';

/**
 * A validating walk over an OTLP protobuf export request that decodes nothing it does not need.
 *
 * Every message is walked field by field against the tables of otlp-schema.ts: tags, wire types,
 * lengths within their parent, varints of at most ten bytes, packed numbers whole, strings valid
 * UTF-8, nesting at most MAX_DEPTH deep; unknown fields are skipped as the protobuf rules say. So
 * anything this accepts, a full decoder (the gateway's protobufjs) accepts too, and one bad
 * application cannot get a batch of everyone's data refused upstream. What comes out is byte
 * ranges: one entry per `ResourceSpans`/`ResourceMetrics`/`ResourceLogs`, with its resource's
 * attributes located (keys decoded, values left as bytes) and its items (spans, data points, log
 * records) counted. The receiver then writes a new resource and copies every other byte.
 */

export class WireError extends Error {}

/** AnyValue ⇄ ArrayValue/KeyValueList nest without bound in the schema; a request does not. */
const MAX_DEPTH = 64;

/** One attribute of the sender's resource: its `KeyValue` field as it came, and its key. */
export interface ResourceAttribute {
  readonly key: string;
  /** The whole `attributes` field (tag, length, KeyValue), to copy. */
  readonly start: number;
  readonly end: number;
  /** The AnyValue's string_value bytes, when the value is a string; -1 otherwise. */
  readonly stringStart: number;
  readonly stringEnd: number;
}

export interface ResourceEntry {
  /** The sender's resource attributes, in order (a key given twice appears twice). */
  readonly attributes: ResourceAttribute[];
  /** Fields of `Resource` other than attributes (dropped_attributes_count, entity_refs, unknown): [start, end) pairs. */
  readonly resourceRest: number[];
  /** Fields of the entry other than `resource` (the scope messages, schema_url, unknown): [start, end) pairs, merged where adjacent. */
  readonly rest: number[];
  /** Bytes in `rest`. */
  restBytes: number;
  /** Spans, data points or log records. */
  items: number;
}

// The walk's cursor: module state, so the hot loop passes no objects around. Single-threaded and
// never re-entered (nothing in the walk calls out).
let buf: Uint8Array = new Uint8Array(0);
/** `buf` read four bytes at a time (the ASCII check). */
let words = new DataView(buf.buffer);
let pos = 0;
/** Resources already validated, during a `countItems` that was given them. */
let knownResources: ByteMap<true> | undefined;

function fail(what: string): never {
  throw new WireError(`${what} at byte ${pos}`);
}

/** A varint that must fit in 32 bits unsigned (tags, lengths). */
function readVarint32(end: number): number {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    if (pos >= end) fail('truncated varint');
    const b = buf[pos++]!;
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return result;
    shift += 7;
  }
  // A 32-bit value in a 10-byte encoding (a negative int32): the high bytes must be there.
  for (let i = 5; i < 10; i++) {
    if (pos >= end) fail('truncated varint');
    if (buf[pos++]! < 0x80) return result % 2 ** 32;
  }
  return fail('varint longer than 10 bytes');
}

function skipVarint(end: number): void {
  for (let i = 0; i < 10; i++) {
    if (pos >= end) fail('truncated varint');
    if (buf[pos++]! < 0x80) return;
  }
  fail('varint longer than 10 bytes');
}

/** Reads a length prefix and checks the bytes it announces are inside `end`. */
function readLength(end: number): number {
  const len = readVarint32(end);
  if (len > end - pos) fail('length past the end of its message');
  return len;
}

function checkUtf8(start: number, stop: number): void {
  // ASCII is the common case and needs no call into the native check. Eight bytes a step (a
  // log body is most of a record's bytes: ~5× faster than byte by byte on 170-byte bodies).
  let i = start;
  for (const last = stop - 8; i <= last; i += 8) {
    if (((words.getUint32(i, true) | words.getUint32(i + 4, true)) & 0x80808080) !== 0) return checkUtf8Native(start, stop);
  }
  for (; i < stop; i++) if (buf[i]! >= 0x80) return checkUtf8Native(start, stop);
}

function checkUtf8Native(start: number, stop: number): void {
  if (!isUtf8(buf.subarray(start, stop))) fail('invalid UTF-8 in a string field');
}

/** Points the cursor at `body`. */
function holdBody(body: Uint8Array): void {
  buf = body;
  words = new DataView(body.buffer, body.byteOffset, body.byteLength);
  pos = 0;
}

/** Lets go of the body: the module must not pin the last request in memory. */
function releaseBody(): void {
  buf = EMPTY;
  words = EMPTY_WORDS;
}

/** A packed repeated number field: whole values only. */
function checkPacked(field: FieldDesc, start: number, stop: number): void {
  if (field.wire === 1) {
    if ((stop - start) % 8 !== 0) fail(`packed ${field.snake} is not a whole number of 8-byte values`);
  } else if (field.wire === 5) {
    if ((stop - start) % 4 !== 0) fail(`packed ${field.snake} is not a whole number of 4-byte values`);
  } else {
    pos = start;
    while (pos < stop) skipVarint(stop);
  }
  pos = stop;
}

/** Walks one message body in [pos, end); returns the items it holds. */
function walk(desc: MessageDesc, end: number, depth: number): number {
  if (depth > MAX_DEPTH) fail(`messages nested more than ${MAX_DEPTH} deep`);
  let items = 0;
  const byNumber = desc.byNumber;
  while (pos < end) {
    // One-byte tags (fields 1..15) are nearly all of them: read those inline.
    const first = buf[pos]!;
    let tag: number;
    if (first < 0x80) {
      tag = first;
      pos++;
    } else tag = readVarint32(end);
    const number = tag >>> 3;
    const wire = tag & 7;
    if (number === 0) fail('field number 0');
    const field = number < byNumber.length ? byNumber[number] : undefined;
    switch (wire) {
      case 0:
        if (field !== undefined && field.wire !== 0) fail(`wrong wire type for ${desc.name}.${field.snake}`);
        if (pos < end && buf[pos]! < 0x80) pos++;
        else skipVarint(end);
        break;
      case 1:
        if (field !== undefined && field.wire !== 1) fail(`wrong wire type for ${desc.name}.${field.snake}`);
        if (end - pos < 8) fail('truncated fixed64');
        pos += 8;
        break;
      case 5:
        if (field !== undefined && field.wire !== 5) fail(`wrong wire type for ${desc.name}.${field.snake}`);
        if (end - pos < 4) fail('truncated fixed32');
        pos += 4;
        break;
      case 2: {
        let len: number;
        if (pos < end && buf[pos]! < 0x80) {
          len = buf[pos++]!;
          if (len > end - pos) fail('length past the end of its message');
        } else len = readLength(end);
        const start = pos;
        const stop = pos + len;
        if (field === undefined) {
          pos = stop;
          break;
        }
        switch (field.lenAction) {
          case LEN_STRING:
            checkUtf8(start, stop);
            pos = stop;
            break;
          case LEN_SKIP:
            pos = stop;
            break;
          case LEN_MESSAGE:
            if (field.message === KEY_VALUE) keyValueFast(stop, depth + 1);
            else if (field.message === RESOURCE && knownResources !== undefined) knownResource(knownResources, start, stop, depth + 1);
            else {
              items += walk(field.message!, stop, depth + 1);
              if (field.item) items++;
            }
            break;
          case LEN_PACKED:
            checkPacked(field, start, stop);
            break;
          default:
            fail(`wrong wire type for ${desc.name}.${field.snake}`);
        }
        break;
      }
      default:
        fail(`wire type ${wire} (groups are not used by OTLP)`);
    }
  }
  if (pos !== end) fail('message overruns its length');
  return items;
}

/**
 * A `Resource` message: skipped when these very bytes were checked before (a sender repeats its
 * resources in every request, and they can be most of its bytes), else walked and remembered.
 */
function knownResource(known: ByteMap<true>, start: number, end: number, depth: number): void {
  if (known.get(buf, start, end) === true) {
    pos = end;
    return;
  }
  walk(RESOURCE, end, depth);
  known.set(buf, start, end, true);
}

/**
 * Attributes are most of a span's bytes: a KeyValue of a string key and an AnyValue of one
 * scalar. Those are checked here without a walk() per message (measured: ~1.4× the walk of a
 * 512-span request); anything else — arrays, maps, repeated or unknown fields — goes back to the
 * generic walk from the message's start.
 */
function keyValueFast(end: number, depth: number): void {
  const start = pos;
  if (end - pos >= 2 && buf[pos] === 0x0a && buf[pos + 1]! < 0x80) {
    const keyEnd = pos + 2 + buf[pos + 1]!;
    if (keyEnd <= end) {
      checkUtf8(pos + 2, keyEnd);
      pos = keyEnd;
      if (pos === end) return;
      if (end - pos >= 2 && buf[pos] === 0x12 && buf[pos + 1]! < 0x80 && pos + 2 + buf[pos + 1]! === end) {
        pos += 2;
        if (anyValueScalar(end)) return;
      }
    }
  }
  pos = start;
  walk(KEY_VALUE, end, depth);
}

/** One scalar AnyValue filling [pos, end): true when checked; false (pos unchanged) for anything else. */
function anyValueScalar(end: number): boolean {
  const start = pos;
  if (pos === end) return true; // an empty AnyValue
  const tag = buf[pos]!;
  if (tag === 0x0a || tag === 0x3a) {
    // string_value / bytes_value with a one-byte length
    if (end - pos >= 2 && buf[pos + 1]! < 0x80 && pos + 2 + buf[pos + 1]! === end) {
      if (tag === 0x0a) checkUtf8(pos + 2, end);
      pos = end;
      return true;
    }
  } else if (tag === 0x10 || tag === 0x18) {
    // bool_value / int_value
    pos++;
    skipVarint(end);
    if (pos === end) return true;
  } else if (tag === 0x21) {
    if (end - pos === 9) {
      pos = end;
      return true;
    }
  }
  pos = start;
  return false;
}

function keyValue(fieldStart: number, end: number, attributes: ResourceAttribute[]): void {
  let key = '';
  let stringStart = -1;
  let stringEnd = -1;
  const bodyStart = pos;
  // Validate first (any order, repeats, unknown fields), then pick out the key and a string value.
  walk(KEY_VALUE, end, 2);
  pos = bodyStart;
  while (pos < end) {
    const tag = readVarint32(end);
    const wire = tag & 7;
    if (wire !== 2) {
      // Validated above: only unknown numeric fields get here.
      if (wire === 0) skipVarint(end);
      else pos += wire === 1 ? 8 : 4;
      continue;
    }
    const len = readLength(end);
    if (tag === 0x0a) key = Buffer.from(buf.buffer, buf.byteOffset + pos, len).toString('utf8');
    else if (tag === 0x12) {
      // AnyValue: the last string_value wins, as a decoder would keep it.
      const valueEnd = pos + len;
      stringStart = -1;
      stringEnd = -1;
      while (pos < valueEnd) {
        const t = readVarint32(valueEnd);
        const w = t & 7;
        if (w === 2) {
          const l = readLength(valueEnd);
          if (t === 0x0a) {
            stringStart = pos;
            stringEnd = pos + l;
          } else {
            stringStart = -1;
            stringEnd = -1;
          }
          pos += l;
        } else if (w === 0) {
          skipVarint(valueEnd);
          stringStart = -1;
        } else {
          pos += w === 1 ? 8 : 4;
          stringStart = -1;
        }
      }
      continue;
    }
    pos += len;
  }
  attributes.push({ key, start: fieldStart, end, stringStart, stringEnd });
}

function resource(end: number, entry: ResourceEntry): void {
  while (pos < end) {
    const fieldStart = pos;
    const tag = readVarint32(end);
    if (tag === 0x0a) {
      const len = readLength(end);
      keyValue(fieldStart, pos + len, entry.attributes);
      continue;
    }
    // Any other field: validated as part of Resource, kept as it came.
    pos = fieldStart;
    const one = oneField(RESOURCE, end);
    entry.resourceRest.push(fieldStart, one);
    pos = one;
  }
}

/** Validates the single field at `pos` of message `desc`; returns where it ends. */
function oneField(desc: MessageDesc, end: number): number {
  const start = pos;
  const tag = readVarint32(end);
  const wire = tag & 7;
  let stop: number;
  if (wire === 2) {
    const len = readLength(end);
    stop = pos + len;
  }
  else if (wire === 0) {
    skipVarint(end);
    stop = pos;
  } else if (wire === 1 || wire === 5) stop = pos + (wire === 1 ? 8 : 4);
  else return fail(`wire type ${wire} (groups are not used by OTLP)`);
  if (stop > end) fail('field past the end of its message');
  // Walk the one field as a message of its own: same checks, same item counting.
  pos = start;
  lastItems = walk(desc, stop, 1);
  return stop;
}
/** Items in the field `oneField` walked last. */
let lastItems = 0;

function entryOf(kind: OtlpKind, end: number): ResourceEntry {
  const entry: ResourceEntry = { attributes: [], resourceRest: [], rest: [], restBytes: 0, items: 0 };
  const desc = RESOURCE_ENTRY_OF[kind];
  while (pos < end) {
    const fieldStart = pos;
    const tag = readVarint32(end);
    if (tag === 0x0a) {
      const len = readLength(end);
      resource(pos + len, entry);
      continue;
    }
    pos = fieldStart;
    const stop = oneField(desc, end);
    entry.items += lastItems;
    const rest = entry.rest;
    if (rest.length > 0 && rest[rest.length - 1] === fieldStart) rest[rest.length - 1] = stop;
    else rest.push(fieldStart, stop);
    entry.restBytes += stop - fieldStart;
    pos = stop;
  }
  return entry;
}

/**
 * Validates a whole export request of `kind` and returns one entry per resource message in it,
 * in order. Throws WireError (→ 400) on anything a protobuf decoder would refuse. Fields of the
 * request other than its resource list are unknown to OTLP and dropped, as a decoder would.
 */
export function splitRequest(kind: OtlpKind, body: Uint8Array): ResourceEntry[] {
  holdBody(body);
  const stop = body.length;
  const entries: ResourceEntry[] = [];
  try {
    while (pos < stop) {
      const fieldStart = pos;
      const tag = readVarint32(stop);
      if (tag === 0x0a) {
        const len = readLength(stop);
        entries.push(entryOf(kind, pos + len));
        continue;
      }
      pos = fieldStart;
      pos = oneField(REQUEST_OF[kind], stop);
    }
    return entries;
  } finally {
    releaseBody();
  }
}
const EMPTY = new Uint8Array(0);
const EMPTY_WORDS = new DataView(EMPTY.buffer);

/**
 * Validates a whole export request of `kind` as `splitRequest` does and returns its items
 * (spans, data points, log records), building nothing. Throws WireError on anything a protobuf
 * decoder would refuse. With `known`, a resource whose bytes it holds is not walked again, and
 * one walked is added to it.
 */
export function countItems(kind: OtlpKind, body: Uint8Array, known?: ByteMap<true>): number {
  holdBody(body);
  knownResources = known;
  try {
    return walk(REQUEST_OF[kind], body.length, 0);
  } finally {
    releaseBody();
    knownResources = undefined;
  }
}

/** The string value of an attribute found by `splitRequest` (undefined when not a string). */
export function attributeString(body: Uint8Array, a: ResourceAttribute): string | undefined {
  if (a.stringStart < 0) return undefined;
  return Buffer.from(body.buffer, body.byteOffset + a.stringStart, a.stringEnd - a.stringStart).toString('utf8');
}
