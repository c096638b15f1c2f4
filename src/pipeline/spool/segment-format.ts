import { crc32 } from 'node:zlib';

/**
 * The bytes of one spool segment file (`<stateDir>/spool/seg-<seq>.spool`): a fixed header, then
 * records appended one after the other, each an encoded OTLP request with its own checksum.
 *
 *   header (32 bytes)
 *     0  magic "SXSPOOL\n"
 *     8  version u16 (1)      10 flags u16 (0)      12 reserved u32 (0)
 *     16 seq u32 low          20 seq u32 high       24 reserved u32 (0)
 *     28 crc32 of bytes 0–27
 *   record (20-byte header + payload)
 *     0  payload length u32
 *     4  crc32 of bytes 8–19 and the payload
 *     8  signal u8            9  encoding u8 (0 identity, 1 gzip)     10 reserved u16
 *     12 items u32 (records in the request, for the counters)
 *     16 uncompressed bytes u32 (the request before gzip, for the counters)
 *
 * Little-endian throughout. The length comes first and is not covered by the checksum it
 * precedes, so a torn write (length written, payload not) is found by the length running past
 * the end of the file, and a flipped bit anywhere else by the checksum; either way everything
 * from that record on is cut off (`segment-scan.ts`).
 */

export const SEGMENT_MAGIC = Buffer.from('SXSPOOL\n', 'latin1');
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 32;
export const RECORD_HEADER_BYTES = 20;
/** No request is this large (logs cap at 2 MB, metrics at 4 MB): a bigger length is corruption. */
export const MAX_RECORD_PAYLOAD = 64 * 1024 * 1024;

/** What a record holds, as a byte: the pipeline signal whose lane spilled it. */
export const SPOOL_SIGNALS = ['metrics', 'logs', 'events', 'traces'] as const;
export type SpoolSignal = (typeof SPOOL_SIGNALS)[number];

export type SpoolEncoding = 'identity' | 'gzip';

export interface RecordHeader {
  readonly length: number;
  readonly crc: number;
  readonly signal: SpoolSignal | undefined;
  readonly encoding: SpoolEncoding | undefined;
  readonly items: number;
  readonly rawBytes: number;
}

const TWO_32 = 0x1_0000_0000;

export function segmentFileName(seq: number): string {
  return `seg-${String(seq).padStart(16, '0')}.spool`;
}

/** The sequence number in a segment's file name, or undefined for any other name. */
export function segmentSeq(name: string): number | undefined {
  const m = /^seg-(\d{16})\.spool$/.exec(name);
  if (m === null) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function encodeSegmentHeader(seq: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(b, 0);
  b.writeUInt16LE(SEGMENT_VERSION, 8);
  b.writeUInt32LE(seq % TWO_32, 16);
  b.writeUInt32LE(Math.floor(seq / TWO_32), 20);
  b.writeUInt32LE(crc32(b.subarray(0, 28)), 28);
  return b;
}

/** The sequence number a valid header carries, or why it is not valid. */
export function decodeSegmentHeader(b: Buffer): { seq: number } | { problem: 'short' | 'magic' | 'version' | 'checksum' } {
  if (b.length < SEGMENT_HEADER_BYTES) return { problem: 'short' };
  if (!b.subarray(0, 8).equals(SEGMENT_MAGIC)) return { problem: 'magic' };
  if (crc32(b.subarray(0, 28)) !== b.readUInt32LE(28)) return { problem: 'checksum' };
  if (b.readUInt16LE(8) !== SEGMENT_VERSION) return { problem: 'version' };
  return { seq: b.readUInt32LE(16) + b.readUInt32LE(20) * TWO_32 };
}

/** Fills `out` (RECORD_HEADER_BYTES) with a record header for `payload` (`rawBytes`: its size before compression). */
export function encodeRecordHeader(out: Buffer, signal: SpoolSignal, encoding: SpoolEncoding, items: number, payload: Uint8Array, rawBytes = payload.byteLength): Buffer {
  out.writeUInt32LE(payload.byteLength, 0);
  out.writeUInt8(SPOOL_SIGNALS.indexOf(signal), 8);
  out.writeUInt8(encoding === 'gzip' ? 1 : 0, 9);
  out.writeUInt16LE(0, 10);
  out.writeUInt32LE(Math.min(items, 0xffff_ffff), 12);
  out.writeUInt32LE(Math.min(rawBytes, 0xffff_ffff), 16);
  out.writeUInt32LE(crc32(payload, crc32(out.subarray(8, RECORD_HEADER_BYTES))), 4);
  return out;
}

export function decodeRecordHeader(b: Buffer, at = 0): RecordHeader {
  const enc = b[at + 9];
  return {
    length: b.readUInt32LE(at),
    crc: b.readUInt32LE(at + 4),
    signal: SPOOL_SIGNALS[b[at + 8] as number],
    encoding: enc === 0 ? 'identity' : enc === 1 ? 'gzip' : undefined,
    items: b.readUInt32LE(at + 12),
    rawBytes: b.readUInt32LE(at + 16),
  };
}

/** True when the checksum in the header at `b[at]` matches it and `payload`. */
export function recordChecksumOk(b: Buffer, at: number, payload: Uint8Array): boolean {
  return crc32(payload, crc32(b.subarray(at + 8, at + RECORD_HEADER_BYTES))) === b.readUInt32LE(at + 4);
}
