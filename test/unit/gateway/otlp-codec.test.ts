import { beforeAll, describe, expect, it } from 'vitest';
import { IngestError } from '../../../src/errors.js';
import { OtlpCodec } from '../../../src/gateway/otlp-codec.js';
import { encodeRef, logsRequest, metricsRequest, Ref, tracesRequest } from './helpers.js';

let codec: OtlpCodec;
beforeAll(async () => {
  codec = await OtlpCodec.load();
});

function expect400(fn: () => unknown): IngestError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(IngestError);
    expect((err as IngestError).status).toBe(400);
    expect((err as IngestError).message.length).toBeLessThan(260);
    return err as IngestError;
  }
  throw new Error('expected a 400');
}

describe('OtlpCodec', () => {
  it('decodes what the official encoder wrote and re-encodes it byte for byte', () => {
    for (const [signal, req] of [
      ['metrics', metricsRequest(['a', 'b'])],
      ['logs', logsRequest(['one', 'two', 'three'])],
      ['traces', tracesRequest(['s1', 's2'])],
    ] as const) {
      const bytes = encodeRef(signal, req);
      const msg = codec.decode(signal, 'protobuf', bytes);
      expect(Buffer.from(codec.encode(signal, msg)).equals(bytes), signal).toBe(true);
    }
  });

  it('counts data points of every metric type, log records and spans', () => {
    const req = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                { name: 'g', gauge: { dataPoints: [{ asDouble: 1 }, { asDouble: 2 }] } },
                { name: 's', sum: { dataPoints: [{ asInt: 1 }] } },
                { name: 'h', histogram: { dataPoints: [{ count: 1, bucketCounts: [1], explicitBounds: [] }] } },
                { name: 'e', exponentialHistogram: { dataPoints: [{ count: 0 }, { count: 0 }] } },
                { name: 'q', summary: { dataPoints: [{ count: 1, quantileValues: [{ quantile: 0.5, value: 1 }] }] } },
                { name: 'empty' },
              ],
            },
          ],
        },
        { scopeMetrics: [{ metrics: [{ name: 'g2', gauge: { dataPoints: [{ asDouble: 3 }] } }] }] },
      ],
    };
    expect(codec.countRecords('metrics', codec.decode('metrics', 'protobuf', encodeRef('metrics', req)))).toBe(8);
    expect(codec.countRecords('logs', codec.decode('logs', 'protobuf', encodeRef('logs', logsRequest(['a', 'b', 'c']))))).toBe(3);
    expect(codec.countRecords('traces', codec.decode('traces', 'protobuf', encodeRef('traces', tracesRequest(['x']))))).toBe(1);
    expect(codec.countRecords('traces', codec.decode('traces', 'protobuf', Buffer.alloc(0)))).toBe(0);
  });

  it('stores ids as hex and other bytes as base64, longs as strings, enums as numbers', () => {
    const msg = codec.decode('traces', 'protobuf', encodeRef('traces', tracesRequest(['x'])));
    const obj = codec.toStoredObject('traces', msg) as { resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[] };
    const span = obj.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(span['traceId']).toBe('5b8efff798038103d269b633813fc60c');
    expect(span['spanId']).toBe('eee19b7ec3c1b170');
    expect(span['parentSpanId']).toBe('eee19b7ec3c1b173');
    expect(span['kind']).toBe(2);
    expect(span['startTimeUnixNano']).toBe('1700000000000000000');
    expect(span['status']).toEqual({ code: 1 });
  });

  it('reads OTLP JSON in both name styles and agrees with the protobuf decoding', () => {
    const proto = codec.decode('logs', 'protobuf', encodeRef('logs', logsRequest(['same'])));
    const asStored = codec.toStoredObject('logs', proto);
    // The stored form is OTLP JSON: decoding it again gives the same message.
    const again = codec.decode('logs', 'json', Buffer.from(JSON.stringify(asStored)));
    expect(codec.toStoredObject('logs', again)).toEqual(asStored);
    const snake = {
      resource_logs: [{ scope_logs: [{ log_records: [{ trace_id: '0102030405060708090a0b0c0d0e0f10', severity_number: 'SEVERITY_NUMBER_WARN', body: { string_value: 'snake' } }] }] }],
    };
    const s = codec.toStoredObject('logs', codec.decode('logs', 'json', Buffer.from(JSON.stringify(snake))));
    expect(s).toEqual({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ traceId: '0102030405060708090a0b0c0d0e0f10', severityNumber: 13, body: { stringValue: 'snake' } }] }] }] });
  });

  it('accepts base64 ids from senders that do not follow the hex rule', () => {
    const b64 = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex').toString('base64');
    const json = { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: b64, spanId: Buffer.from('1112131415161718', 'hex').toString('base64'), name: 'b' }] }] }] };
    const s = codec.toStoredObject('traces', codec.decode('traces', 'json', Buffer.from(JSON.stringify(json)))) as {
      resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[];
    };
    expect(s.resourceSpans[0]!.scopeSpans[0]!.spans[0]!['traceId']).toBe('0102030405060708090a0b0c0d0e0f10');
    expect(s.resourceSpans[0]!.scopeSpans[0]!.spans[0]!['spanId']).toBe('1112131415161718');
  });

  it('converts exemplar ids in metrics JSON', () => {
    const json = {
      resourceMetrics: [
        { scopeMetrics: [{ metrics: [{ name: 'h', histogram: { dataPoints: [{ count: '1', exemplars: [{ traceId: 'ff'.repeat(16), spanId: 'aa'.repeat(8), asDouble: 1 }] }] } }] }] },
      ],
    };
    const msg = codec.decode('metrics', 'json', Buffer.from(JSON.stringify(json)));
    const ref = Ref.metrics.toObject(Ref.metrics.decode(codec.encode('metrics', msg)), { bytes: String });
    const ex = (ref as { resourceMetrics: { scopeMetrics: { metrics: { histogram: { dataPoints: { exemplars: Record<string, string>[] }[] } }[] }[] }[] }).resourceMetrics[0]!
      .scopeMetrics[0]!.metrics[0]!.histogram.dataPoints[0]!.exemplars[0]!;
    expect(Buffer.from(ex['traceId']!, 'base64').toString('hex')).toBe('ff'.repeat(16));
    expect(Buffer.from(ex['spanId']!, 'base64').toString('hex')).toBe('aa'.repeat(8));
  });

  it('refuses bad input with a short 400, never anything else', () => {
    const good = encodeRef('metrics', metricsRequest(['a']));
    for (let cut = 1; cut < good.length; cut += 7) {
      let ok = false;
      try {
        codec.decode('metrics', 'protobuf', good.subarray(0, cut));
        ok = true;
      } catch (err) {
        expect((err as IngestError).status).toBe(400);
      }
      // A prefix that happens to end on a field boundary is a valid (smaller) message.
      if (ok) expect(cut).toBeGreaterThan(0);
    }
    expect400(() => codec.decode('logs', 'protobuf', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])));
    expect400(() => codec.decode('logs', 'protobuf', Buffer.from([0x0f])));
    expect400(() => codec.decode('logs', 'json', Buffer.from('{"resourceLogs":[{"scopeLogs":"x"}]}')));
    expect400(() => codec.decode('logs', 'json', Buffer.from('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":{}}]}]}]}')));
    expect400(() => codec.decode('logs', 'json', Buffer.from('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1e999"}]}]}]}')));
    // An enum name from a newer schema is ignored like an unknown field, not refused.
    const newer = codec.decode('logs', 'json', Buffer.from('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_NEW"}]}]}]}'));
    expect(codec.countRecords('logs', newer)).toBe(1);
    expect400(() => codec.decode('logs', 'json', Buffer.from([0x7b, 0xff, 0x7d])));
    const e = expect400(() => codec.decode('logs', 'json', Buffer.from(`{"resourceLogs":[{"x":"${'y'.repeat(5000)}`)));
    expect(e.message).toMatch(/^invalid JSON/);
  });

  it('refuses nesting deeper than the recursion limit (no stack overflow)', () => {
    // AnyValue → KvList → KeyValue → AnyValue … 300 levels, built by hand as protobuf.
    let any: Buffer = Buffer.from([0x0a, 0x01, 0x78]); // string_value "x"
    const len = (n: number): Buffer => {
      const out: number[] = [];
      while (n > 0x7f) {
        out.push((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      out.push(n);
      return Buffer.from(out);
    };
    for (let i = 0; i < 300; i++) {
      const kv = Buffer.concat([Buffer.from([0x0a, 0x01, 0x6b, 0x12]), len(any.length), any]);
      const kvlist = Buffer.concat([Buffer.from([0x0a]), len(kv.length), kv]);
      any = Buffer.concat([Buffer.from([0x32]), len(kvlist.length), kvlist]);
    }
    const record = Buffer.concat([Buffer.from([0x2a]), len(any.length), any]);
    const scope = Buffer.concat([Buffer.from([0x12]), len(record.length), record]);
    const resource = Buffer.concat([Buffer.from([0x12]), len(scope.length), scope]);
    const req = Buffer.concat([Buffer.from([0x0a]), len(resource.length), resource]);
    const e = expect400(() => codec.decode('logs', 'protobuf', req));
    expect(e.message).toMatch(/depth/);
    let json = '{"stringValue":"x"}';
    for (let i = 0; i < 300; i++) json = `{"kvlistValue":{"values":[{"key":"k","value":${json}}]}}`;
    expect400(() => codec.decode('logs', 'json', Buffer.from(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":${json}}]}]}]}`)));
  });

  it('skips unknown protobuf fields (newer senders)', () => {
    const good = encodeRef('logs', logsRequest(['fwd']));
    // Field 99, varint 1, appended at the top level.
    const withUnknown = Buffer.concat([good, Buffer.from([0x98, 0x06, 0x01])]);
    const msg = codec.decode('logs', 'protobuf', withUnknown);
    expect(codec.countRecords('logs', msg)).toBe(1);
  });
});
