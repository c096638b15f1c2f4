import { describe, expect, test } from 'vitest';
import { LogsEncoder } from '../../../../src/export/otlp/logs-encoder.js';
import { type Attributes, type LogRecord, type Resource, type Scope, createResource, createScope } from '../../../../src/model/index.js';
import { type MessageType, decodeToObject, ourLogsRequest, refLogsRequest } from '../otlp-decoders.js';

const scope = createScope('sextant.logs', '1.2.3');

function rec(resource: Resource, body: string, attributes: Attributes = {}, extra: Partial<LogRecord> = {}): LogRecord {
  return {
    resource,
    scope,
    timeUnixNano: 1_700_000_000_123_456_789n,
    observedTimeUnixNano: 1_700_000_000_223_456_789n,
    severityNumber: 9,
    severityText: 'INFO',
    body,
    attributes,
    eventName: '',
    ...extra,
  };
}

/** Decoding with a protobufjs type and re-encoding must give the same bytes (canonical form). */
function expectCanonical(type: MessageType, bytes: Uint8Array): void {
  const again = type.encode(type.decode(bytes)).finish();
  expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
}

function both(bytes: Uint8Array): Record<string, any>[] {
  return [decodeToObject(ourLogsRequest, bytes), decodeToObject(refLogsRequest, bytes)];
}

describe('LogsEncoder', () => {
  test('groups 3 resources × N records into 3 ResourceLogs, resource encoded once each', () => {
    const resources = [0, 1, 2].map((i) => createResource({ 'container.id': `c${i}`, 'k8s.pod.name': `pod-${i}` }));
    const records: LogRecord[] = [];
    for (let i = 0; i < 30; i++) records.push(rec(resources[i % 3] as Resource, `line ${i}`));
    const bytes = new LogsEncoder().encode(records);
    for (const msg of both(bytes)) {
      expect(msg.resourceLogs).toHaveLength(3);
      msg.resourceLogs.forEach((rl: any, r: number) => {
        expect(rl.resource.attributes).toEqual([
          { key: 'container.id', value: { stringValue: `c${r}`, value: 'stringValue' } },
          { key: 'k8s.pod.name', value: { stringValue: `pod-${r}`, value: 'stringValue' } },
        ]);
        expect(rl.scopeLogs).toHaveLength(1);
        expect(rl.scopeLogs[0].scope).toEqual({ name: 'sextant.logs', version: '1.2.3' });
        const bodies = rl.scopeLogs[0].logRecords.map((l: any) => l.body.stringValue);
        // Order within a group is the batch order.
        expect(bodies).toEqual(Array.from({ length: 10 }, (_, k) => `line ${k * 3 + r}`));
      });
    }
    expectCanonical(ourLogsRequest, bytes);
    expectCanonical(refLogsRequest, bytes);
  });

  test('an equal resource rebuilt as another object lands in the same group (key fallback)', () => {
    const a = createResource({ 'host.name': 'h' });
    const b = createResource({ 'host.name': 'h' });
    const bytes = new LogsEncoder().encode([rec(a, 'one'), rec(b, 'two'), rec(a, 'three')]);
    const msg = decodeToObject(refLogsRequest, bytes);
    expect(msg.resourceLogs).toHaveLength(1);
    expect(msg.resourceLogs[0].scopeLogs[0].logRecords.map((l: any) => l.body.stringValue)).toEqual(['one', 'two', 'three']);
  });

  test('groups by scope within a resource', () => {
    const r = createResource({ 'host.name': 'h' });
    const other: Scope = createScope('sextant.events', '');
    const bytes = new LogsEncoder().encode([rec(r, 'a'), { ...rec(r, 'b'), scope: other }, rec(r, 'c')]);
    for (const msg of both(bytes)) {
      const sl = msg.resourceLogs[0].scopeLogs;
      expect(sl).toHaveLength(2);
      expect(sl[0].scope).toEqual({ name: 'sextant.logs', version: '1.2.3' });
      expect(sl[0].logRecords.map((l: any) => l.body.stringValue)).toEqual(['a', 'c']);
      expect(sl[1].scope).toEqual({ name: 'sextant.events' });
    }
  });

  test('caches encoded resource and scope bytes on the objects', () => {
    const r = createResource({ 'host.name': 'h' });
    const s = createScope('x', '1');
    expect(r.encoded).toBeUndefined();
    new LogsEncoder().encode([{ ...rec(r, 'a'), scope: s }]);
    expect(r.encoded).toBeInstanceOf(Uint8Array);
    expect(s.encoded).toBeInstanceOf(Uint8Array);
  });

  test('all record fields and every attribute value type', () => {
    const r = createResource({ 'host.name': 'h' });
    const attrs = {
      s: 'text',
      empty: '',
      t: true,
      f: false,
      i: 42,
      zero: 0,
      neg: -5,
      big: 2 ** 60,
      dbl: 1.25,
      negDbl: -0.5,
      huge: 1e300,
      bi: 123456789012345678n,
      negBi: -3n,
      arr: ['a', 'ü', ''],
      none: [] as string[],
    };
    const bytes = new LogsEncoder().encode([
      rec(r, 'body', attrs, { severityNumber: 17, severityText: 'ERROR', eventName: 'k8s.pod.restart' }),
    ]);
    const ours = decodeToObject(ourLogsRequest, bytes);
    const lr = ours.resourceLogs[0].scopeLogs[0].logRecords[0];
    expect(lr.timeUnixNano).toBe('1700000000123456789');
    expect(lr.observedTimeUnixNano).toBe('1700000000223456789');
    expect(lr.severityNumber).toBe(17);
    expect(lr.severityText).toBe('ERROR');
    expect(lr.eventName).toBe('k8s.pod.restart');
    const byKey = Object.fromEntries(lr.attributes.map((kv: any) => [kv.key, kv.value]));
    expect(byKey.s).toEqual({ stringValue: 'text', value: 'stringValue' });
    expect(byKey.empty).toEqual({ stringValue: '', value: 'stringValue' });
    expect(byKey.t).toEqual({ boolValue: true, value: 'boolValue' });
    expect(byKey.f).toEqual({ boolValue: false, value: 'boolValue' });
    expect(byKey.i).toEqual({ intValue: '42', value: 'intValue' });
    expect(byKey.zero).toEqual({ intValue: '0', value: 'intValue' });
    expect(byKey.neg).toEqual({ intValue: '-5', value: 'intValue' });
    expect(byKey.big).toEqual({ intValue: (2n ** 60n).toString(), value: 'intValue' });
    expect(byKey.dbl).toEqual({ doubleValue: 1.25, value: 'doubleValue' });
    expect(byKey.negDbl).toEqual({ doubleValue: -0.5, value: 'doubleValue' });
    expect(byKey.huge).toEqual({ doubleValue: 1e300, value: 'doubleValue' });
    expect(byKey.bi).toEqual({ intValue: '123456789012345678', value: 'intValue' });
    expect(byKey.negBi).toEqual({ intValue: '-3', value: 'intValue' });
    expect(byKey.arr.arrayValue.values.map((v: any) => v.stringValue)).toEqual(['a', 'ü', '']);
    expect(byKey.none).toEqual({ arrayValue: {}, value: 'arrayValue' });
    // The official decoders agree on everything they know (their LogRecord predates event_name,
    // which they skip as an unknown field).
    const ref = decodeToObject(refLogsRequest, bytes).resourceLogs[0].scopeLogs[0].logRecords[0];
    expect(ref.attributes).toEqual(lr.attributes);
    expect(ref.body).toEqual(lr.body);
    expect(ref.timeUnixNano).toBe(lr.timeUnixNano);
    expectCanonical(ourLogsRequest, bytes);
  });

  test('int vs double: integral numbers are int_value, others double_value, NaN/Infinity double', () => {
    const r = createResource({});
    const bytes = new LogsEncoder().encode([rec(r, 'x', { a: 3, b: 3.5, c: Number.NaN, d: -Infinity, e: 2 ** 63, f: -(2 ** 63) })]);
    const kv = decodeToObject(refLogsRequest, bytes).resourceLogs[0].scopeLogs[0].logRecords[0].attributes;
    const byKey = Object.fromEntries(kv.map((x: any) => [x.key, x.value]));
    expect(byKey.a.value).toBe('intValue');
    expect(byKey.b.value).toBe('doubleValue');
    expect(Number.isNaN(byKey.c.doubleValue)).toBe(true);
    expect(byKey.d.doubleValue).toBe(-Infinity);
    expect(byKey.e.value).toBe('doubleValue'); // 2^63 does not fit int64
    expect(byKey.f).toEqual({ intValue: '-9223372036854775808', value: 'intValue' });
  });

  test('values outside the attribute types are skipped, key and all', () => {
    const r = createResource({});
    const attrs = { ok: 'y', u: undefined, n: null, o: { nested: 1 } } as unknown as Attributes;
    const bytes = new LogsEncoder().encode([rec(r, 'x', attrs)]);
    const kv = decodeToObject(ourLogsRequest, bytes).resourceLogs[0].scopeLogs[0].logRecords[0].attributes;
    expect(kv.map((x: any) => x.key)).toEqual(['ok']);
  });

  test('unicode, emoji and lone surrogates (→ U+FFFD) never throw', () => {
    const r = createResource({ 'k8s.pod.name': 'päd-🚀' });
    const bodies = ['héllo wörld', '日本語のログ', 'emoji 😀👍🏽', 'lone high \ud800 end', 'lone low \udc00', 'trail \ud83d', '\udfff\ud800'];
    const records = bodies.map((b) => rec(r, b, { 'käy 🔑': 'välue \ud800' }));
    const bytes = new LogsEncoder().encode(records);
    for (const msg of both(bytes)) {
      const lrs = msg.resourceLogs[0].scopeLogs[0].logRecords;
      expect(lrs.map((l: any) => l.body.stringValue)).toEqual(bodies.map((b) => b.toWellFormed()));
      expect(lrs[0].attributes[0]).toEqual({ key: 'käy 🔑', value: { stringValue: 'välue \ufffd', value: 'stringValue' } });
      expect(msg.resourceLogs[0].resource.attributes[0].value.stringValue).toBe('päd-🚀');
    }
    expectCanonical(ourLogsRequest, bytes);
  });

  test('empty batch is an empty request', () => {
    const bytes = new LogsEncoder().encode([]);
    expect(bytes.length).toBe(0);
    expect(decodeToObject(refLogsRequest, bytes)).toEqual({});
  });

  test('1 MiB bodies (ASCII and multi-byte) round-trip and grow the scratch buffer', () => {
    const r = createResource({ 'host.name': 'h' });
    const ascii = 'x'.repeat(1 << 20);
    const wide = 'é😀'.repeat(1 << 18);
    const enc = new LogsEncoder();
    const bytes = enc.encode([rec(r, ascii), rec(r, wide), rec(r, 'small')]);
    const lrs = decodeToObject(refLogsRequest, bytes).resourceLogs[0].scopeLogs[0].logRecords;
    expect(lrs[0].body.stringValue).toBe(ascii);
    expect(lrs[1].body.stringValue).toBe(wide);
    expect(lrs[2].body.stringValue).toBe('small');
    expectCanonical(ourLogsRequest, bytes);
    // A later small batch still encodes correctly from the (regrown or dropped) scratch.
    const small = enc.encode([rec(r, 'after')]);
    expect(decodeToObject(ourLogsRequest, small).resourceLogs[0].scopeLogs[0].logRecords[0].body.stringValue).toBe('after');
  });

  test('omits proto3 defaults: zero times, severity 0, empty texts', () => {
    const r = createResource({});
    const bytes = new LogsEncoder().encode([
      rec(r, '', {}, { timeUnixNano: 0n, observedTimeUnixNano: 0n, severityNumber: 0, severityText: '' }),
    ]);
    const lr = decodeToObject(ourLogsRequest, bytes).resourceLogs[0].scopeLogs[0].logRecords[0];
    expect(lr).toEqual({ body: { stringValue: '', value: 'stringValue' } });
    expectCanonical(ourLogsRequest, bytes);
  });

  test('returns owned arrays: a later encode does not change an earlier result', () => {
    const r = createResource({ 'host.name': 'h' });
    const enc = new LogsEncoder();
    const first = enc.encode([rec(r, 'first batch')]);
    const copy = Buffer.from(first);
    enc.encode([rec(r, 'second batch, different bytes')]);
    expect(Buffer.from(first).equals(copy)).toBe(true);
  });

  test('frozen attribute objects are cached; unfrozen ones are re-read every batch', () => {
    const r = createResource({});
    const enc = new LogsEncoder();
    const frozen = Object.freeze({ 'log.iostream': 'stdout' });
    const mutable: Record<string, string> = { 'log.iostream': 'stdout' };
    enc.encode([rec(r, 'a', frozen), rec(r, 'b', mutable)]);
    mutable['log.iostream'] = 'stderr';
    const bytes = enc.encode([rec(r, 'a', frozen), rec(r, 'b', mutable)]);
    const lrs = decodeToObject(ourLogsRequest, bytes).resourceLogs[0].scopeLogs[0].logRecords;
    expect(lrs[0].attributes[0].value.stringValue).toBe('stdout');
    expect(lrs[1].attributes[0].value.stringValue).toBe('stderr');
  });

  test('large batches: many resources, varied sizes, matches protobufjs canonical encoding', () => {
    const resources = Array.from({ length: 40 }, (_, i) => createResource({ 'container.id': 'c'.repeat(i * 5) }));
    const records: LogRecord[] = [];
    for (let i = 0; i < 3000; i++) {
      records.push(rec(resources[(i * 7) % 40] as Resource, 'y'.repeat((i * 37) % 400), { n: i, 'log.file.path': `/var/log/${i % 13}` }));
    }
    const bytes = new LogsEncoder().encode(records);
    expectCanonical(ourLogsRequest, bytes);
    expectCanonical(refLogsRequest, bytes);
    const msg = decodeToObject(refLogsRequest, bytes);
    expect(msg.resourceLogs).toHaveLength(40);
    const total = msg.resourceLogs.reduce((n: number, rl: any) => n + rl.scopeLogs[0].logRecords.length, 0);
    expect(total).toBe(3000);
  });
});
