import type { LogRecord, Resource, Scope } from '../../model/index.js';
import { AttributeTable, encodeAttributes } from './attributes.js';
import { ResourceScopeGroups, grow, growFloat, placeByGroup } from './grouping.js';
import { OutputPool, ProtoWriter, lenFieldSize, utf8Length, varintSize } from './proto-writer.js';
import { encodeStringFields } from './string-fields.js';

/**
 * Encodes log records as an OTLP `ExportLogsServiceRequest`
 * (opentelemetry/proto/collector/logs/v1, logs/v1).
 *
 * Two passes over the batch: the first groups records by resource and scope and measures every
 * record (string byte lengths, attribute encodings), the second writes the request once, front
 * to back, with exact lengths. Fields are written in field-number order with proto3 defaults
 * omitted, so the bytes are canonical: any conforming encoder writes the same bytes for the
 * decoded message.
 */

// ExportLogsServiceRequest / ResourceLogs / ScopeLogs
const TAG_RESOURCE_LOGS = 0x0a; // field 1, LEN
const TAG_RESOURCE = 0x0a; // ResourceLogs.resource, field 1
const TAG_SCOPE_LOGS = 0x12; // ResourceLogs.scope_logs, field 2
const TAG_SCOPE = 0x0a; // ScopeLogs.scope, field 1
const TAG_LOG_RECORD = 0x12; // ScopeLogs.log_records, field 2
// LogRecord
const TAG_TIME = 0x09; // time_unix_nano, field 1, fixed64
const TAG_SEVERITY = 0x10; // severity_number, field 2, varint
const TAG_SEVERITY_TEXT = 0x1a; // severity_text, field 3
const TAG_BODY = 0x2a; // body, field 5, AnyValue
const TAG_ATTRIBUTES = 0x32; // attributes, field 6
const TAG_OBSERVED_TIME = 0x59; // observed_time_unix_nano, field 11, fixed64
const TAG_EVENT_NAME = 0x62; // event_name, field 12
const TAG_STRING_VALUE = 0x0a; // AnyValue.string_value
// Resource / InstrumentationScope
const TAG_RESOURCE_ATTRIBUTES = 0x0a; // Resource.attributes, field 1
const TAG_SCOPE_NAME = 0x0a; // InstrumentationScope.name
const TAG_SCOPE_VERSION = 0x12; // InstrumentationScope.version

/** The encoded OTLP `Resource` message, cached on the resource. */
export function encodedResource(resource: Resource): Uint8Array {
  let b = resource.encoded;
  if (b === undefined) {
    b = encodeAttributes(resource.attributes, TAG_RESOURCE_ATTRIBUTES);
    resource.encoded = b;
  }
  return b;
}

/** The encoded OTLP `InstrumentationScope` message, cached on the scope. */
export function encodedScope(scope: Scope): Uint8Array {
  // `??=` builds the field list only on the first call for a scope.
  return (scope.encoded ??= encodeStringFields([
    [TAG_SCOPE_NAME, scope.name],
    [TAG_SCOPE_VERSION, scope.version],
  ]));
}

export class LogsEncoder {
  readonly #w = new ProtoWriter();
  /** Bodies' memory, given back through `release` once a request is done with it. */
  readonly #out = new OutputPool();
  readonly #groups = new ResourceScopeGroups();
  readonly #attrs = new AttributeTable(TAG_ATTRIBUTES);
  // Per record, indexed by position in the batch.
  #group = new Int32Array(1024);
  #size = new Int32Array(1024);
  #bodyLen = new Int32Array(1024);
  #severityTextLen = new Int32Array(1024);
  #eventNameLen = new Int32Array(1024);
  #order = new Int32Array(1024);
  // Per scope group / resource group.
  #groupCount = new Int32Array(64);
  #groupStart = new Int32Array(64);
  #groupFill = new Int32Array(64);
  #groupBytes = new Float64Array(64);
  #resourceBytes = new Float64Array(64);

  /** A body this encoder made is no longer needed (the endpoint took it): its memory serves a later one. */
  release(body: Uint8Array): void {
    this.#out.give(body);
  }

  /** An ExportLogsServiceRequest holding `records`, in an owned array (empty batch → empty request). */
  encode(records: readonly LogRecord[]): Uint8Array {
    const n = records.length;
    if (n === 0) return new Uint8Array(0);
    this.#ensureRecords(n);
    const groups = this.#groups;
    const attrs = this.#attrs;
    groups.reset();
    attrs.reset(n);

    const group = this.#group;
    const size = this.#size;
    const bodyLen = this.#bodyLen;
    const severityTextLen = this.#severityTextLen;
    const eventNameLen = this.#eventNameLen;

    // Pass 1: group and measure.
    for (let i = 0; i < n; i++) {
      const r = records[i] as LogRecord;
      group[i] = groups.groupOf(r.resource, r.scope);
      let s = 0;
      if (r.timeUnixNano !== 0n) s += 9;
      const sev = r.severityNumber;
      if (sev > 0) s += 1 + varintSize(sev);
      const stl = r.severityText.length === 0 ? 0 : utf8Length(r.severityText);
      severityTextLen[i] = stl;
      if (stl > 0) s += lenFieldSize(stl);
      const bl = utf8Length(r.body);
      bodyLen[i] = bl;
      s += lenFieldSize(lenFieldSize(bl));
      s += attrs.add(i, r.attributes);
      if (r.observedTimeUnixNano !== 0n) s += 9;
      const el = r.eventName.length === 0 ? 0 : utf8Length(r.eventName);
      eventNameLen[i] = el;
      if (el > 0) s += lenFieldSize(el);
      size[i] = s;
    }

    const total = this.#layout(n);

    // Pass 2: write front to back.
    const w = this.#w;
    w.reserve(total);
    const order = this.#order;
    const groupStart = this.#groupStart;
    const groupCount = this.#groupCount;
    const groupBytes = this.#groupBytes;
    for (let ri = 0; ri < groups.resourceCount; ri++) {
      const res = encodedResource(groups.resources[ri] as Resource);
      w.byte(TAG_RESOURCE_LOGS);
      w.varint(this.#resourceBytes[ri] as number);
      w.byte(TAG_RESOURCE);
      w.varint(res.length);
      w.bytes(res);
      for (let g = groups.resourceFirstScope[ri] as number; g !== -1; g = groups.scopeNext[g] as number) {
        const scope = encodedScope(groups.scopes[g] as Scope);
        w.byte(TAG_SCOPE_LOGS);
        w.varint(groupBytes[g] as number);
        w.byte(TAG_SCOPE);
        w.varint(scope.length);
        w.bytes(scope);
        const end = (groupStart[g] as number) + (groupCount[g] as number);
        for (let k = groupStart[g] as number; k < end; k++) {
          const i = order[k] as number;
          this.#writeRecord(w, records[i] as LogRecord, i);
        }
      }
    }
    attrs.clear();
    groups.reset();
    return w.finish(this.#out);
  }

  #writeRecord(w: ProtoWriter, r: LogRecord, i: number): void {
    w.byte(TAG_LOG_RECORD);
    w.varint(this.#size[i] as number);
    if (r.timeUnixNano !== 0n) {
      w.byte(TAG_TIME);
      w.fixed64(r.timeUnixNano);
    }
    if (r.severityNumber > 0) {
      w.byte(TAG_SEVERITY);
      w.varint(r.severityNumber);
    }
    const stl = this.#severityTextLen[i] as number;
    if (stl > 0) w.stringField(TAG_SEVERITY_TEXT, r.severityText, stl);
    const bl = this.#bodyLen[i] as number;
    w.byte(TAG_BODY);
    w.varint(1 + varintSize(bl) + bl);
    w.stringField(TAG_STRING_VALUE, r.body, bl);
    this.#attrs.write(w, i);
    if (r.observedTimeUnixNano !== 0n) {
      w.byte(TAG_OBSERVED_TIME);
      w.fixed64(r.observedTimeUnixNano);
    }
    const el = this.#eventNameLen[i] as number;
    if (el > 0) w.stringField(TAG_EVENT_NAME, r.eventName, el);
  }

  /** Sizes of scope and resource groups, the output order of records; returns the request size. */
  #layout(n: number): number {
    const groups = this.#groups;
    const gc = groups.scopeCount;
    if (gc > this.#groupCount.length) {
      this.#groupCount = grow(this.#groupCount, gc);
      this.#groupStart = grow(this.#groupStart, gc);
      this.#groupBytes = growFloat(this.#groupBytes, gc);
      this.#groupFill = grow(this.#groupFill, gc);
    }
    if (groups.resourceCount > this.#resourceBytes.length) {
      this.#resourceBytes = growFloat(this.#resourceBytes, groups.resourceCount);
    }
    const groupCount = this.#groupCount;
    const groupStart = this.#groupStart;
    const groupBytes = this.#groupBytes;
    groupCount.fill(0, 0, gc);
    groupBytes.fill(0, 0, gc);
    const group = this.#group;
    const size = this.#size;
    for (let i = 0; i < n; i++) {
      const g = group[i] as number;
      const s = size[i] as number;
      groupCount[g] = (groupCount[g] as number) + 1;
      groupBytes[g] = (groupBytes[g] as number) + 1 + varintSize(s) + s;
    }
    let total = 0;
    let cursor = 0;
    for (let ri = 0; ri < groups.resourceCount; ri++) {
      let rb = lenFieldSize(encodedResource(groups.resources[ri] as Resource).length);
      for (let g = groups.resourceFirstScope[ri] as number; g !== -1; g = groups.scopeNext[g] as number) {
        const sb = lenFieldSize(encodedScope(groups.scopes[g] as Scope).length) + (groupBytes[g] as number);
        groupBytes[g] = sb;
        rb += lenFieldSize(sb);
        groupStart[g] = cursor;
        cursor += groupCount[g] as number;
      }
      this.#resourceBytes[ri] = rb;
      total += lenFieldSize(rb);
    }
    const fill = this.#groupFill;
    for (let g = 0; g < gc; g++) fill[g] = groupStart[g] as number;
    placeByGroup(group, n, fill, this.#order);
    return total;
  }

  #ensureRecords(n: number): void {
    if (n <= this.#group.length) return;
    this.#group = grow(this.#group, n);
    this.#size = grow(this.#size, n);
    this.#bodyLen = grow(this.#bodyLen, n);
    this.#severityTextLen = grow(this.#severityTextLen, n);
    this.#eventNameLen = grow(this.#eventNameLen, n);
    this.#order = grow(this.#order, n);
  }
}
