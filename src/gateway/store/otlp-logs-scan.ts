import { ByteMap } from '../../io/byte-map.js';
import { countItems, WireError } from '../../receiver/otlp-walk.js';
import type { Catalog } from './catalog.js';
import type { ColumnBatch } from './column-batch.js';
import { anyValueJson, bodyText, SEVERITY_NAMES, type AnyValueLike, type KeyValueLike } from './otlp-values.js';

/**
 * Log rows straight from the protobuf bytes of an ExportLogsServiceRequest, without decoding the
 * request into objects: the hot path of log ingest (protobufjs' tree of a 50-record request is
 * hundreds of objects, most of them garbage a moment later).
 *
 * The request is first checked whole by the receiver's validating walk (tags, wire types,
 * lengths, UTF-8 of every string), so what follows reads a well-formed message. What it reads
 * is what `RowBuilder.logs` reads from protobufjs' tree, with protobufjs' rules (a repeated
 * scalar keeps its last value, repeated fields keep their order, unknown fields are skipped).
 * Where protobufjs' handling is subtle — a singular message given twice, an AnyValue with more
 * than one member, a bool or an enum in more than one byte — the scan gives up and returns
 * false, having added nothing, and the caller takes the protobufjs path: those encodings do not
 * come from real senders, and that path is the reference.
 *
 * A body that is a string is handed to DuckDB as its UTF-8 bytes (a view into the request), and
 * the severity text too when it is not the usual name of the number; attribute lists are
 * turned into JSON once per distinct encoding, and a resource is decoded once per encoding.
 */

/** The scan met an encoding it leaves to protobufjs. */
class Unusual extends Error {}
const UNUSUAL = new Unusual('unusual encoding');

/** Attribute-list encodings remembered before the cache starts again. */
const MAX_ATTRIBUTE_ENCODINGS = 10_000;

/** A log record's attributes, worked out once per encoding. */
interface AttributesInfo {
  /** JSON text, or null for none (the logs table's NULL). */
  readonly text: string | null;
  /** The `event.name` attribute when it is a string ('' otherwise). */
  readonly eventName: string;
}

const NO_ATTRIBUTES: AttributesInfo = { text: null, eventName: '' };
const SEVERITY_BYTES: readonly Buffer[] = SEVERITY_NAMES.map((n) => Buffer.from(n, 'latin1'));
const EMPTY = Buffer.alloc(0);

// The scan's cursor: module state, so the hot loop passes no objects around. Single-threaded and
// never re-entered.
let buf: Buffer = EMPTY;
let pos = 0;

/** What the scan writes into, and reads from: the builder's. */
export interface LogsTarget {
  readonly catalog: Catalog;
  readonly logs: ColumnBatch;
  readonly events: ColumnBatch;
  /** The next log/event sequence number; the scan advances it. */
  seq: number;
}

/** A varint of at most 32 bits (tags, lengths). The walk checked it ends within its message. */
function varint32(): number {
  let b = buf[pos++]!;
  if (b < 0x80) return b;
  let result = b & 0x7f;
  let shift = 7;
  for (let i = 1; i < 5; i++) {
    b = buf[pos++]!;
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return result;
    shift += 7;
  }
  throw UNUSUAL;
}

function skipVarint(): void {
  while (buf[pos++]! >= 0x80);
}

/** Skips a field of wire type `wire` whose tag has been read. */
function skipField(wire: number): void {
  if (wire === 0) skipVarint();
  else if (wire === 1) pos += 8;
  else if (wire === 5) pos += 4;
  else if (wire === 2) {
    const len = varint32();
    pos += len;
  } else throw UNUSUAL;
}

function utf8(start: number, end: number): string {
  return buf.toString('utf8', start, end);
}

/**
 * Steps to the next field `tag` (length-delimited) before `end`, skipping any other, and reads
 * its length: pos is then at its first byte. -1 when there is none.
 */
function nextField(tag: number, end: number): number {
  while (pos < end) {
    const t = varint32();
    if (t === tag) return varint32();
    skipField(t & 7);
  }
  return -1;
}

/** Reads a length prefix and steps over the bytes it counts: returns where they start (pos is where they end). */
function lengthDelimited(): number {
  const len = varint32();
  const start = pos;
  pos += len;
  return start;
}

/** A length-delimited string field whose tag has been read. */
function string(): string {
  const start = lengthDelimited();
  return utf8(start, pos);
}

/** A fixed64 read as two 32-bit halves, as a bigint. */
function fixed64(lo: number, hi: number): bigint {
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/** A signed 64-bit varint, exactly. */
function int64(): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) break;
    shift += 7n;
  }
  return BigInt.asIntN(64, result);
}

// ------------------------------------------------------------------ AnyValue / KeyValue (cold)
// Decoded into the shapes protobufjs gives (a member present is an own property), for the
// functions of otlp-values.ts: only for attribute lists and resources not seen before, and
// bodies that are not strings.

function anyValue(end: number, depth: number): AnyValueLike {
  if (depth > 64) throw UNUSUAL;
  const out: { -readonly [K in keyof AnyValueLike]: AnyValueLike[K] } = {};
  let members = 0;
  while (pos < end) {
    const tag = varint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        out.stringValue = string();
        break;
      case 2:
        if (buf[pos]! >= 0x80) throw UNUSUAL;
        out.boolValue = buf[pos++] !== 0;
        break;
      case 3:
        out.intValue = int64();
        break;
      case 4:
        out.doubleValue = buf.readDoubleLE(pos);
        pos += 8;
        break;
      case 5: {
        const len = varint32();
        const stop = pos + len;
        const values: AnyValueLike[] = [];
        for (let l = nextField(0x0a, stop); l >= 0; l = nextField(0x0a, stop)) values.push(anyValue(pos + l, depth + 1));
        out.arrayValue = { values };
        break;
      }
      case 6: {
        const len = varint32();
        out.kvlistValue = { values: keyValues(pos + len, depth + 1) };
        break;
      }
      case 7: {
        const start = lengthDelimited();
        out.bytesValue = buf.subarray(start, pos);
        break;
      }
      default:
        skipField(wire);
        continue;
    }
    // protobufjs keeps one member of the oneof; which one, for two, is its business.
    if (++members > 1) throw UNUSUAL;
  }
  return out;
}

/** The KeyValue messages of a repeated field 1 in [pos, end) (a KeyValueList or a Resource's attributes). */
function keyValues(end: number, depth: number): KeyValueLike[] {
  const out: KeyValueLike[] = [];
  for (let len = nextField(0x0a, end); len >= 0; len = nextField(0x0a, end)) out.push(keyValue(pos + len, depth));
  return out;
}

function keyValue(end: number, depth: number): KeyValueLike {
  let key = '';
  let value: AnyValueLike | undefined;
  let keys = 0;
  while (pos < end) {
    const tag = varint32();
    if (tag === 0x0a) {
      key = string();
      keys++;
    } else if (tag === 0x12) {
      if (value !== undefined) throw UNUSUAL;
      const len = varint32();
      value = anyValue(pos + len, depth + 1);
    } else skipField(tag & 7);
  }
  if (keys > 1) throw UNUSUAL;
  return value === undefined ? { key } : { key, value };
}

// ------------------------------------------------------------------ the request

/** Per resource entry of the request: where its `ResourceLogs` is, and its `Resource` message. */
const entryStart: number[] = [];
const entryEnd: number[] = [];
const resourceStart: number[] = [];
const resourceEnd: number[] = [];

export class LogsScanner {
  /** Attribute-list encoding (latin1 of its fields' bytes) → what the rows need of it. */
  readonly #attributes = new Map<string, AttributesInfo>();
  /** Resources the walk checked before (request-log replays walk every body). */
  readonly #knownResources = new ByteMap<true>(MAX_ATTRIBUTE_ENCODINGS);

  /**
   * Adds the rows of one request (protobuf bytes) to `target`; false, having added nothing,
   * when the body is one to read through protobufjs (malformed, or unusual: see above).
   * `walked`: the body passed the validating walk already (at the gateway's door).
   */
  scan(target: LogsTarget, body: Uint8Array, receivedMs: number, walked = false): boolean {
    if (!walked) {
      try {
        countItems('logs', body, this.#knownResources);
      } catch (err) {
        if (err instanceof WireError) return false;
        throw err;
      }
    }
    const logsMark = target.logs.rows;
    const eventsMark = target.events.rows;
    const seqMark = target.seq;
    buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    pos = 0;
    try {
      this.#request(target, receivedMs);
      return true;
    } catch (err) {
      target.logs.truncate(logsMark);
      target.events.truncate(eventsMark);
      target.seq = seqMark;
      if (err === UNUSUAL) return false;
      throw err;
    } finally {
      // Let go of the body: the module must not pin the last request in memory.
      buf = EMPTY;
    }
  }

  #request(target: LogsTarget, receivedMs: number): void {
    const cat = target.catalog;
    const end = buf.length;
    entryStart.length = 0;
    entryEnd.length = 0;
    resourceStart.length = 0;
    resourceEnd.length = 0;
    // First the resources, so that every container of the request is learnt before any
    // resource is resolved (RowBuilder.logs does the same).
    for (let len = nextField(0x0a, end); len >= 0; len = nextField(0x0a, end)) {
      const stop = pos + len;
      entryStart.push(pos);
      entryEnd.push(stop);
      let rs = -1;
      let re = -1;
      while (pos < stop) {
        const t = varint32();
        if (t === 0x0a) {
          if (rs >= 0) throw UNUSUAL;
          rs = lengthDelimited();
          re = pos;
        } else skipField(t & 7);
      }
      resourceStart.push(rs);
      resourceEnd.push(re);
    }
    const entries = entryStart.length;
    const ids: (number | undefined)[] = [];
    const decoded: (KeyValueLike[] | undefined)[] = [];
    for (let i = 0; i < entries; i++) {
      // No resource field reads as an empty one (both: no attributes).
      if (resourceStart[i]! < 0) resourceStart[i] = resourceEnd[i] = 0;
      const id = cat.resourceOfEncoding(buf, resourceStart[i]!, resourceEnd[i]!, receivedMs);
      ids.push(id);
      let attrs: KeyValueLike[] | undefined;
      if (id === undefined) {
        attrs = resourceStart[i] === resourceEnd[i] ? undefined : this.#resourceAttributes(resourceStart[i]!, resourceEnd[i]!);
        cat.learnContainers(attrs);
      }
      decoded.push(attrs);
    }
    const receivedNs = BigInt(receivedMs) * 1_000_000n;
    for (let i = 0; i < entries; i++) {
      let rid = ids[i];
      if (rid === undefined) {
        rid = cat.resource(decoded[i], receivedMs);
        cat.rememberEncoding(buf, resourceStart[i]!, resourceEnd[i]!, rid);
      }
      pos = entryStart[i]!;
      const stop = entryEnd[i]!;
      for (let len = nextField(0x12, stop); len >= 0; len = nextField(0x12, stop)) this.#scopeLogs(target, pos + len, rid, receivedNs);
    }
  }

  #resourceAttributes(start: number, end: number): KeyValueLike[] {
    const saved = pos;
    pos = start;
    const attrs = keyValues(end, 0);
    pos = saved;
    return attrs;
  }

  #scopeLogs(target: LogsTarget, end: number, rid: number, receivedNs: bigint): void {
    const start = pos;
    // The scope applies to every record of the message, wherever it is in it.
    let scope = '';
    let scopes = 0;
    for (let len = nextField(0x0a, end); len >= 0; len = nextField(0x0a, end)) {
      if (++scopes > 1) throw UNUSUAL;
      const stop = pos + len;
      while (pos < stop) {
        const t = varint32();
        if (t === 0x0a) scope = string();
        else skipField(t & 7);
      }
    }
    pos = start;
    for (let len = nextField(0x12, end); len >= 0; len = nextField(0x12, end)) this.#record(target, pos + len, rid, scope, receivedNs);
  }

  #record(target: LogsTarget, end: number, rid: number, scope: string, receivedNs: bigint): void {
    let timeLo = 0;
    let timeHi = 0;
    let observedLo = 0;
    let observedHi = 0;
    let severity = 0;
    let textStart = -1;
    let textEnd = -1;
    let bodyStart = -1;
    let bodyEnd = -1;
    let attrStart = -1;
    let attrEnd = -1;
    /** Attribute fields not one after the other: the key is built field by field. */
    let attrKey: string | undefined;
    let traceStart = -1;
    let traceEnd = -1;
    let spanStart = -1;
    let spanEnd = -1;
    let eventStart = -1;
    let eventEnd = -1;
    while (pos < end) {
      const fieldStart = pos;
      const tag = buf[pos++]!;
      // Every LogRecord field has a one-byte tag; anything longer is an unknown field.
      if (tag >= 0x80) {
        pos = fieldStart;
        skipField(varint32() & 7);
        continue;
      }
      switch (tag) {
        case 0x09: // time_unix_nano, fixed64
          timeLo = buf.readUInt32LE(pos);
          timeHi = buf.readUInt32LE(pos + 4);
          pos += 8;
          break;
        case 0x59: // observed_time_unix_nano, fixed64
          observedLo = buf.readUInt32LE(pos);
          observedHi = buf.readUInt32LE(pos + 4);
          pos += 8;
          break;
        case 0x10: // severity_number
          if (buf[pos]! >= 0x80) throw UNUSUAL;
          severity = buf[pos++]!;
          break;
        case 0x1a: // severity_text
          textStart = lengthDelimited();
          textEnd = pos;
          break;
        case 0x2a: // body
          if (bodyStart >= 0) throw UNUSUAL;
          bodyStart = lengthDelimited();
          bodyEnd = pos;
          break;
        case 0x32: {
          // attributes
          const len = varint32();
          const stop = pos + len;
          if (attrStart < 0) {
            attrStart = fieldStart;
          } else if (fieldStart !== attrEnd) {
            attrKey = (attrKey ?? buf.toString('latin1', attrStart, attrEnd)) + buf.toString('latin1', fieldStart, stop);
          } else if (attrKey !== undefined) {
            attrKey += buf.toString('latin1', fieldStart, stop);
          }
          attrEnd = stop;
          pos = stop;
          break;
        }
        case 0x4a: // trace_id
          traceStart = lengthDelimited();
          traceEnd = pos;
          break;
        case 0x52: // span_id
          spanStart = lengthDelimited();
          spanEnd = pos;
          break;
        case 0x62: // event_name
          eventStart = lengthDelimited();
          eventEnd = pos;
          break;
        default:
          skipField(tag & 7);
      }
    }
    pos = end;

    let t: bigint;
    if (timeLo !== 0 || timeHi !== 0) t = fixed64(timeLo, timeHi);
    else if (observedLo !== 0 || observedHi !== 0) t = fixed64(observedLo, observedHi);
    else t = receivedNs;

    const attrs = attrStart < 0 ? NO_ATTRIBUTES : this.#attributesInfo(target.catalog, attrKey ?? buf.toString('latin1', attrStart, attrEnd));
    let eventName = eventStart < eventEnd ? utf8(eventStart, eventEnd) : '';
    if (eventName === '') eventName = attrs.eventName;
    if (eventName !== '') {
      target.events.add(t, target.seq++, rid, eventName, severity, this.#bodyText(bodyStart, bodyEnd), attrs.text ?? '{}');
      return;
    }
    // Every cell before the first push: a body the scan gives up on must leave no part of a row.
    const bodyCell = this.#bodyCell(bodyStart, bodyEnd);
    // The usual name of the number (INFO for 9) is implied: NULL, as RowBuilder.logs stores it.
    const text = textStart < textEnd && !this.#isSeverityName(severity, textStart, textEnd) ? buf.subarray(textStart, textEnd) : null;
    const cols = target.logs.columns;
    cols[0]!.push(t);
    cols[1]!.push(target.seq++);
    cols[2]!.push(rid);
    cols[3]!.push(severity);
    cols[4]!.push(text);
    cols[5]!.push(bodyCell);
    cols[6]!.push(attrs.text);
    cols[7]!.push(traceStart < traceEnd ? buf.toString('hex', traceStart, traceEnd) : null);
    cols[8]!.push(spanStart < spanEnd ? buf.toString('hex', spanStart, spanEnd) : null);
    cols[9]!.push(scope);
    target.logs.endRows(1);
  }

  #isSeverityName(severity: number, start: number, end: number): boolean {
    const name = SEVERITY_BYTES[severity];
    if (name === undefined || name.length !== end - start) return false;
    for (let i = 0; i < name.length; i++) if (buf[start + i] !== name[i]) return false;
    return true;
  }

  /** A body as its column cell: a string body as its bytes; anything else as RowBuilder makes it. */
  #bodyCell(start: number, end: number): Uint8Array | string {
    if (start < 0 || start === end) return '';
    // One string_value filling the AnyValue: the common case.
    if (buf[start] === 0x0a) {
      const save = pos;
      pos = start + 1;
      const len = varint32();
      const at = pos;
      pos = save;
      if (at + len === end) return buf.subarray(at, end);
    }
    return this.#bodyText(start, end);
  }

  #bodyText(start: number, end: number): string {
    if (start < 0) return '';
    const save = pos;
    pos = start;
    const v = anyValue(end, 0);
    pos = save;
    return bodyText(v);
  }

  #attributesInfo(cat: Catalog, key: string): AttributesInfo {
    let info = this.#attributes.get(key);
    if (info !== undefined) return info;
    // The key is the attribute fields' bytes (LogRecord field 6, whole): decode it back (a cold path).
    const save = buf;
    const savePos = pos;
    buf = Buffer.from(key, 'latin1');
    pos = 0;
    const kvs: KeyValueLike[] = [];
    try {
      while (pos < buf.length) {
        if (varint32() !== 0x32) throw UNUSUAL;
        const len = varint32();
        kvs.push(keyValue(pos + len, 1));
      }
    } finally {
      buf = save;
      pos = savePos;
    }
    const text = cat.attributesText(kvs);
    // As RowBuilder.logs reads it: the first `event.name`, if its value reads as a string.
    let eventName = '';
    for (const kv of kvs) {
      if (kv.key === 'event.name') {
        const v = anyValueJson(kv.value);
        if (typeof v === 'string') eventName = v;
        break;
      }
    }
    info = { text: text === '{}' ? null : text, eventName };
    if (this.#attributes.size >= MAX_ATTRIBUTE_ENCODINGS) this.#attributes.clear();
    this.#attributes.set(key, info);
    return info;
  }
}
