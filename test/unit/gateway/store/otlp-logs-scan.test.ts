import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { OtlpCodec } from '../../../../src/gateway/otlp-codec.js';
import { Catalog } from '../../../../src/gateway/store/catalog.js';
import type { ColumnBatch } from '../../../../src/gateway/store/column-batch.js';
import { RowBuilder, type LogsRequestLike } from '../../../../src/gateway/store/otlp-rows.js';
import { encodeRef } from '../helpers.js';
import { containerResource, logRecord, logsBody, podResource } from './store-helpers.js';

/**
 * The log scanner (otlp-logs-scan.ts) against the reference it replaces: protobufjs' decode
 * walked by RowBuilder.logs. On real requests both must give the same rows and the same
 * catalog; on anything malformed or unusual the scanner must add nothing and say so, so that the
 * writer takes the protobufjs path, which then decides as it always did.
 */

const RECEIVED_MS = 1_765_000_000_000;
let codec: OtlpCodec;
beforeAll(async () => {
  codec = await OtlpCodec.load();
});

type Snapshot = Record<string, unknown[][]>;

function cells(b: ColumnBatch): unknown[][] {
  // A string cell may come as its UTF-8 bytes: DuckDB stores the same text either way.
  return b.columns.map((col) => col.map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v)));
}

function snapshot(builder: RowBuilder, catalog: Catalog): Snapshot {
  const d = catalog.rows;
  return {
    logs: cells(builder.rows.logs),
    events: cells(builder.rows.events),
    resources: cells(d.resources),
    entities: cells(d.entities),
    links: cells(d.links),
    seq: [[builder.seq]],
  };
}

/** Rows of `bodies` (one request each, in order) by protobufjs + RowBuilder.logs, and by the scanner. */
function both(bodies: readonly Uint8Array[]): { reference: Snapshot; scanned: Snapshot; scannedAll: boolean } {
  const refCatalog = new Catalog(60_000);
  const ref = new RowBuilder(refCatalog, 1);
  const scanCatalog = new Catalog(60_000);
  const scan = new RowBuilder(scanCatalog, 1);
  let scannedAll = true;
  bodies.forEach((body, i) => {
    ref.logs(codec.decode('logs', 'protobuf', body) as LogsRequestLike, RECEIVED_MS + i * 1_000);
    if (!scan.logsProtobuf(body, RECEIVED_MS + i * 1_000)) {
      scannedAll = false;
      scan.logs(codec.decode('logs', 'protobuf', body) as LogsRequestLike, RECEIVED_MS + i * 1_000);
    }
  });
  return { reference: snapshot(ref, refCatalog), scanned: snapshot(scan, scanCatalog), scannedAll };
}

/** What the scanner alone does with one body: false and no rows, or true. */
function scanOnly(body: Uint8Array): { ok: boolean; logs: number; events: number; seq: number } {
  const b = new RowBuilder(new Catalog(60_000), 1);
  const ok = b.logsProtobuf(body, RECEIVED_MS);
  // Rows counted and cells held agree (no half row left behind).
  for (const batch of [b.rows.logs, b.rows.events]) for (const col of batch.columns) expect(col.length).toBe(batch.rows);
  return { ok, logs: b.rows.logs.rows, events: b.rows.events.rows, seq: b.seq };
}

const kv = (key: string, value: unknown): unknown => ({ key, value });
const s = (v: string): unknown => ({ stringValue: v });

/** One log record in a request of one resource and one scope (OTLP/JSON shape, for the reference encoder). */
function request(records: unknown[], resourceAttrs: unknown[] = [kv('service.name', s('svc'))], scope: unknown = { name: 'scope-a' }): Uint8Array {
  return encodeRef('logs', { resourceLogs: [{ resource: { attributes: resourceAttrs }, scopeLogs: [{ scope, logRecords: records }] }] });
}

const T = '1765000000123456789';

describe('log scanner: the same rows as protobufjs on real requests', () => {
  it('agent requests: container resources, severities, attributes, events, across requests', () => {
    const pods = Array.from({ length: 6 }, (_, i) => containerResource(`c${i}`.padEnd(64, '0'), 'app', `uid-${i}`, `web-${i}`, i % 2 === 0 ? 'shop' : 'pay'));
    const bodies: Uint8Array[] = [];
    let n = 0;
    for (let r = 0; r < 5; r++) {
      const records = [];
      for (let i = 0; i < 40; i++) {
        const sev = [9, 13, 17, 5, 0, 21][i % 6]!;
        const t = BigInt(RECEIVED_MS) * 1_000_000n + BigInt(n);
        const rec = logRecord(pods[n % pods.length]!, t, `{"msg":"line ${n}","level":${sev},"ü":"✓"}`, sev, i % 13 === 0 ? 'container.start' : '', i % 3 === 0 ? { 'log.iostream': 'stderr' } : i % 5 === 0 ? { 'k8s.container.restart_count': 3, ok: true, ratio: 0.5 } : {});
        if (sev === 0) (rec as { severityText: string }).severityText = '';
        if (sev === 5) (rec as { severityText: string }).severityText = 'DEBUG';
        records.push(rec);
        n++;
      }
      // A pod resource too (no container), as the agent sends for pod-level logs.
      records.push(logRecord(podResource('uid-9', 'solo'), BigInt(RECEIVED_MS) * 1_000_000n, 'pod line'));
      bodies.push(logsBody(records));
    }
    const { reference, scanned, scannedAll } = both(bodies);
    expect(scannedAll).toBe(true);
    expect(reference.logs![0]!.length).toBeGreaterThan(150);
    expect(reference.events![0]!.length).toBeGreaterThan(0);
    expect(scanned).toEqual(reference);
  });

  it('every field and value kind the rows read', () => {
    const body = encodeRef('logs', {
      resourceLogs: [
        {
          resource: { attributes: [kv('service.name', s('checkout')), kv('k8s.pod.uid', s('u1')), kv('k8s.pod.name', s('p1')), kv('k8s.namespace.name', s('ns')), kv('n', { intValue: '9007199254740993' }), kv('list', { arrayValue: { values: [s('a'), { intValue: '-5' }] } })] },
          scopeLogs: [
            {
              scope: { name: 'lib', version: '1' },
              logRecords: [
                { timeUnixNano: T, severityNumber: 9, severityText: 'INFO', body: s('plain'), traceId: '0102030405060708090a0b0c0d0e0f10', spanId: '0102030405060708' },
                { observedTimeUnixNano: T, severityNumber: 13, severityText: 'warning', body: { kvlistValue: { values: [kv('a', s('x')), kv('b', { doubleValue: 1.5 })] } } },
                { severityNumber: 30, body: { arrayValue: { values: [s('a'), { boolValue: false }, { bytesValue: 'AAEC' }] } } },
                { timeUnixNano: T, body: { intValue: '-12' }, attributes: [kv('event.name', s('deploy.done')), kv('x', s('y'))] },
                { timeUnixNano: T, body: { doubleValue: Number.NaN }, eventName: 'pod.oom', attributes: [kv('event.name', s('ignored'))] },
                { timeUnixNano: T, body: { bytesValue: 'AAEC' }, attributes: [kv('event.name', { intValue: '7' })] },
                { timeUnixNano: T, body: { boolValue: true }, attributes: [kv('dup', s('1')), kv('dup', s('2')), kv('', s('no key')), kv('nested', { kvlistValue: { values: [kv('z', s('1')), kv('a', s('2'))] } })] },
                { timeUnixNano: T, body: s(''), severityText: '' },
                { timeUnixNano: T, body: {} },
                {},
              ],
            },
            { logRecords: [{ timeUnixNano: T, body: s('no scope') }] },
          ],
        },
        { scopeLogs: [{ scope: { name: 'bare' }, logRecords: [{ timeUnixNano: T, body: s('no resource') }] }] },
        { resource: {}, scopeLogs: [{ logRecords: [{ timeUnixNano: T, body: s('empty resource') }] }] },
      ],
    });
    const { reference, scanned, scannedAll } = both([body, body]);
    expect(scannedAll).toBe(true);
    expect(scanned).toEqual(reference);
  });

  it('fields in any order, attributes split by other fields, unknown fields skipped', () => {
    // LogRecord by hand: attributes (6), then body (5), unknown field 20, an attribute again,
    // then time (1): the scanner reads what protobufjs reads.
    const kvBytes = (k: string, v: string): number[] => {
      const key = [...Buffer.from(k)];
      const val = [...Buffer.from(v)];
      const any = [0x0a, val.length, ...val];
      const inner = [0x0a, key.length, ...key, 0x12, any.length, ...any];
      return [0x32, inner.length, ...inner];
    };
    const bodyField = [0x2a, 7, 0x0a, 5, ...Buffer.from('hello')];
    const unknown = [0xa0, 0x01, 0x05]; // field 20, varint 5
    const time = [0x09, ...Buffer.from(BigInt(T).toString(16).padStart(16, '0'), 'hex').reverse()];
    const rec = [...kvBytes('a', '1'), ...bodyField, ...unknown, ...kvBytes('b', '2'), ...time, 0x10, 17];
    const scopeLogs = [0x12, rec.length, ...rec, 0x1a, 3, ...Buffer.from('url')]; // + schema_url
    const resourceLogs = [0x12, scopeLogs.length, ...scopeLogs, 0x0a, 0]; // resource after its scopes, empty
    const body = Uint8Array.from([0x0a, resourceLogs.length, ...resourceLogs]);
    const { reference, scanned, scannedAll } = both([body]);
    expect(scannedAll).toBe(true);
    expect(scanned).toEqual(reference);
    expect(reference.logs![6]).toEqual(['{"a":"1","b":"2"}']);
  });

  it('random agent-shaped requests (fuzzed texts and attributes)', () => {
    const bodies: Uint8Array[] = [];
    for (let r = 0; r < 20; r++) {
      const res = containerResource(randomBytes(32).toString('hex'), 'c', `u${r % 4}`, `p${r % 4}`);
      const records = Array.from({ length: 25 }, (_, i) =>
        logRecord(res, BigInt(RECEIVED_MS + i) * 1_000_000n, randomBytes(1 + (i * 7) % 300).toString('latin1'), (i * 5) % 25, '', { [`k${i % 4}`]: i % 2 === 0 ? randomBytes(4).toString('hex') : i }),
      );
      bodies.push(logsBody(records));
    }
    const { reference, scanned, scannedAll } = both(bodies);
    expect(scannedAll).toBe(true);
    expect(scanned).toEqual(reference);
  });
});

describe('log scanner: bad and unusual input is left to protobufjs', () => {
  const good = (): Uint8Array => request([{ timeUnixNano: T, severityNumber: 9, body: s('hello'), attributes: [kv('a', s('b'))] }]);

  it('truncated anywhere: protobufjs refuses it, the scanner adds nothing', () => {
    const body = good();
    for (let cut = 1; cut < body.length; cut++) {
      const part = body.subarray(0, cut);
      let refused = false;
      try {
        codec.decode('logs', 'protobuf', part);
      } catch {
        refused = true;
      }
      const r = scanOnly(part);
      if (refused) expect(r, `cut at ${cut}`).toEqual({ ok: false, logs: 0, events: 0, seq: 1 });
      // A cut on a field boundary is a shorter valid request: both read it alike.
      else expect(both([part]).scanned).toEqual(both([part]).reference);
    }
  });

  it('a length past the end, and an oversized varint length: refused by both', () => {
    for (const body of [Uint8Array.from([0x0a, 0x7f, 0x12, 0x00]), Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]) {
      expect(() => codec.decode('logs', 'protobuf', body)).toThrow(/invalid protobuf/);
      expect(scanOnly(body)).toEqual({ ok: false, logs: 0, events: 0, seq: 1 });
    }
  });

  it('invalid UTF-8 in a body, a severity text, an attribute key, a resource attribute, a scope name: refused by both', () => {
    for (const body of handBuilt()) {
      expect(() => codec.decode('logs', 'protobuf', body)).toThrow(/utf-8/i);
      expect(scanOnly(body)).toEqual({ ok: false, logs: 0, events: 0, seq: 1 });
    }
  });

  it('a wrong wire type on a known field: protobufjs skips the field; the scanner leaves the request to it', () => {
    const cases = [
      [0x18, 5], // severity_text (3) as a varint
      [0x12, 1, 5], // severity_number (2) as bytes
      [0x08, 5], // time_unix_nano (1) as a varint
      [0x2d, 1, 2, 3, 4], // body (5) as fixed32
    ];
    for (const field of cases) {
      const rec = [...field, 0x2a, 4, 0x0a, 2, 0x68, 0x69];
      const scope = [0x12, rec.length, ...rec];
      const body = Uint8Array.from([0x0a, scope.length + 2, 0x12, scope.length, ...scope]);
      expect(() => codec.decode('logs', 'protobuf', body)).not.toThrow();
      expect(scanOnly(body)).toEqual({ ok: false, logs: 0, events: 0, seq: 1 });
      // …and the writer's result is protobufjs' rows.
      const { reference, scanned, scannedAll } = both([body]);
      expect(scannedAll).toBe(false);
      expect(scanned).toEqual(reference);
    }
  });

  it('a group (wire type 3 or 4): refused by both', () => {
    const rec = [0x1b, 0x1c];
    const scope = [0x12, rec.length, ...rec];
    const body = Uint8Array.from([0x0a, scope.length + 2, 0x12, scope.length, ...scope]);
    let refused = false;
    try {
      codec.decode('logs', 'protobuf', body);
    } catch {
      refused = true;
    }
    expect(scanOnly(body).ok).toBe(false);
    if (!refused) expect(both([body]).scanned).toEqual(both([body]).reference);
  });

  it('unusual encodings (a body twice, an AnyValue of two members, a long bool or enum) go to protobufjs, with its rows', () => {
    const wrap = (rec: number[]): Uint8Array => {
      const scope = [0x12, rec.length, ...rec];
      return Uint8Array.from([0x0a, scope.length + 2, 0x12, scope.length, ...scope]);
    };
    const cases = [
      wrap([0x2a, 3, 0x0a, 1, 0x41, 0x2a, 3, 0x0a, 1, 0x42]), // body twice
      wrap([0x2a, 5, 0x0a, 1, 0x41, 0x10, 1]), // string and bool in one AnyValue
      wrap([0x2a, 3, 0x10, 0x81, 0x00]), // bool in two bytes
      wrap([0x10, 0x89, 0x00, 0x2a, 3, 0x0a, 1, 0x41]), // severity 9 in two bytes
      wrap([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // severity -1
    ];
    for (const body of cases) {
      expect(scanOnly(body)).toEqual({ ok: false, logs: 0, events: 0, seq: 1 });
      const { reference, scanned } = both([body]);
      expect(scanned).toEqual(reference);
    }
  });

  it('a request that stops being usual half-way adds nothing, and the next one is read from its start', () => {
    const ok = good();
    const rec = [0x2a, 3, 0x0a, 1, 0x41, 0x2a, 3, 0x0a, 1, 0x42];
    const scope = [0x12, rec.length, ...rec];
    const tail = [0x0a, scope.length + 2, 0x12, scope.length, ...scope];
    const mixed = Uint8Array.from([...ok, ...tail]);
    const b = new RowBuilder(new Catalog(60_000), 1);
    expect(b.logsProtobuf(ok, RECEIVED_MS)).toBe(true);
    expect(b.logsProtobuf(mixed, RECEIVED_MS)).toBe(false);
    expect(b.rows.logs.rows).toBe(1);
    expect(b.seq).toBe(2);
  });
});

/** Requests with invalid UTF-8 (C3 28) in a body, a severity text, an attribute key, a resource attribute value and a scope name. */
function handBuilt(): Uint8Array[] {
  const bad = [0xc3, 0x28];
  const str = (tag: number, bytes: number[]): number[] => [tag, bytes.length, ...bytes];
  const req = (rec: number[], resource: number[] = [], scope: number[] = []): Uint8Array => {
    const sl = [...(scope.length > 0 ? str(0x0a, scope) : []), ...str(0x12, rec)];
    const rl = [...(resource.length > 0 ? str(0x0a, resource) : []), ...str(0x12, sl)];
    return Uint8Array.from(str(0x0a, rl));
  };
  const keyValue = (key: number[], value: number[]): number[] => [...str(0x0a, key), ...str(0x12, str(0x0a, value))];
  return [
    req(str(0x2a, str(0x0a, [0x78, ...bad]))),
    req(str(0x1a, bad)),
    req(str(0x32, keyValue(bad, [0x76]))),
    req(str(0x2a, str(0x0a, [0x41])), str(0x0a, keyValue([0x6b], bad))),
    req(str(0x2a, str(0x0a, [0x41])), [], str(0x0a, bad)),
  ];
}
