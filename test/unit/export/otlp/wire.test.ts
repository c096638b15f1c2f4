import { describe, expect, test } from 'vitest';
import { NO_PARTIAL_SUCCESS, decodePartialSuccess } from '../../../../src/export/otlp/partial-success.js';
import { ProtoWriter, hi32, lo32, utf8Length, varint64Size, varintSize } from '../../../../src/export/otlp/proto-writer.js';
import { ourLogsResponse } from '../otlp-decoders.js';
import protobuf from 'protobufjs';

describe('ProtoWriter', () => {
  test('varints match protobufjs for boundary values', () => {
    const values = [0, 1, 127, 128, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35, 2 ** 49, 2 ** 53 - 1];
    for (const v of values) {
      const w = new ProtoWriter(16);
      w.varint(v);
      const ref = protobuf.Writer.create().uint64(v).finish();
      expect(Buffer.from(w.finish())).toEqual(Buffer.from(ref));
      expect(varintSize(v)).toBe(ref.length);
    }
  });

  test('64-bit varints and sfixed64 from two halves, including negatives', () => {
    for (const v of [-1, -2, -(2 ** 40), -(2 ** 63), 2 ** 60, 5]) {
      const w = new ProtoWriter(16);
      w.varint64(lo32(v), hi32(v));
      // A decimal string: protobufjs parses it exactly (through its Long), as it does a Long.
      const ref = protobuf.Writer.create().int64(BigInt(v).toString()).finish();
      expect(Buffer.from(w.finish())).toEqual(Buffer.from(ref));
      expect(varint64Size(lo32(v), hi32(v))).toBe(ref.length);
    }
  });

  test('fixed64 wraps out-of-range bigints instead of throwing', () => {
    const w = new ProtoWriter(32);
    w.fixed64(2n ** 64n + 5n);
    w.fixed64(-1n);
    expect(Buffer.from(w.finish()).toString('hex')).toBe('0500000000000000ffffffffffffffff');
  });

  test('grows in powers of two and keeps what was written', () => {
    const w = new ProtoWriter(8);
    w.ensure(3);
    w.byte(1);
    w.byte(2);
    w.byte(3);
    w.ensure(100);
    expect(w.capacity).toBe(128);
    w.utf8('héllo', utf8Length('héllo'));
    expect(Buffer.from(w.finish())).toEqual(Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from('héllo')]));
  });

  test('utf8Length counts lone surrogates as U+FFFD', () => {
    expect(utf8Length('\ud800')).toBe(3);
    expect(utf8Length('😀')).toBe(4);
    expect(utf8Length('\ud83d\ude00\ud83d')).toBe(7);
  });
});

describe('decodePartialSuccess', () => {
  test('reads rejected count and message', () => {
    const body = ourLogsResponse.encode({ partialSuccess: { rejectedLogRecords: 12, errorMessage: 'bad' } }).finish();
    expect(decodePartialSuccess(body)).toEqual({ rejected: 12, message: 'bad' });
  });

  test('truncates long messages to 200 chars', () => {
    const body = ourLogsResponse.encode({ partialSuccess: { rejectedLogRecords: 1, errorMessage: 'm'.repeat(10_000) } }).finish();
    expect(decodePartialSuccess(body).message).toHaveLength(200);
  });

  test('skips unknown fields', () => {
    const w = protobuf.Writer.create();
    w.uint32((5 << 3) | 0).uint32(99); // unknown varint
    w.uint32((6 << 3) | 1).fixed64(1); // unknown fixed64
    w.uint32((7 << 3) | 5).fixed32(1); // unknown fixed32
    w.uint32((1 << 3) | 2).fork().uint32((9 << 3) | 2).string('x').uint32(8).uint32(3).ldelim();
    expect(decodePartialSuccess(w.finish())).toEqual({ rejected: 3, message: '' });
  });

  test('empty, truncated, oversized-length, invalid UTF-8 and random bytes never throw', () => {
    expect(decodePartialSuccess(new Uint8Array(0))).toBe(NO_PARTIAL_SUCCESS);
    const good = ourLogsResponse.encode({ partialSuccess: { rejectedLogRecords: 300, errorMessage: 'abc' } }).finish();
    for (let cut = 1; cut < good.length; cut++) {
      const r = decodePartialSuccess(good.subarray(0, cut));
      expect(r).toBe(NO_PARTIAL_SUCCESS);
    }
    expect(decodePartialSuccess(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toBe(NO_PARTIAL_SUCCESS);
    expect(decodePartialSuccess(new Uint8Array([0x0a, 0x0b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe(NO_PARTIAL_SUCCESS);
    const badUtf8 = new Uint8Array([0x0a, 0x04, 0x12, 0x02, 0xc3, 0x28]);
    expect(decodePartialSuccess(badUtf8)).toEqual({ rejected: 0, message: '\ufffd(' });
    // Negative int64 (ten-byte varint) is not a count.
    const neg = ourLogsResponse.encode({ partialSuccess: { rejectedLogRecords: -1 } }).finish();
    expect(decodePartialSuccess(neg).rejected).toBe(0);
    let seed = 42;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed & 0xff;
    };
    for (let i = 0; i < 2000; i++) {
      const bytes = new Uint8Array(1 + (rand() % 40)).map(rand);
      const r = decodePartialSuccess(bytes);
      expect(r.rejected).toBeGreaterThanOrEqual(0);
    }
  });
});
