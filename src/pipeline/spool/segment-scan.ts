import { open, rm } from 'node:fs/promises';
import {
  decodeRecordHeader,
  decodeSegmentHeader,
  MAX_RECORD_PAYLOAD,
  RECORD_HEADER_BYTES,
  recordChecksumOk,
  SEGMENT_HEADER_BYTES,
} from './segment-format.js';

/**
 * Recovery of one segment file at start: every record's length and checksum is checked, and the
 * file is cut at the first record that fails (a torn tail after `kill -9` or a power loss, or a
 * flipped bit), so what stays is exactly the records that were written whole. A header that does
 * not check out leaves nothing to trust: the file is removed. Never throws for what it finds in
 * the file; an I/O error on the file itself is returned as `unreadable` (the caller leaves the
 * file alone and does not replay it).
 */

export type ScanProblem = 'header' | 'torn' | 'checksum' | 'unreadable';

export interface SegmentScan {
  /** The sequence number the header carries (undefined when the header is bad). */
  readonly seq: number | undefined;
  /** Bytes kept: the header and the whole records (0 when the file was removed). */
  readonly size: number;
  readonly records: number;
  /** What was wrong, when something was; undefined for a clean segment. */
  readonly problem: ScanProblem | undefined;
  /** Bytes cut off the end (or the whole file when removed). */
  readonly cutBytes: number;
}

/** A growable scratch buffer shared by the scans of one start (records are read whole to check them). */
export class ScanBuffer {
  buf = Buffer.allocUnsafe(256 * 1024);
  ensure(n: number): Buffer {
    if (this.buf.length < n) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    return this.buf;
  }
}

export async function scanSegment(file: string, scratch: ScanBuffer): Promise<SegmentScan> {
  let fh;
  try {
    fh = await open(file, 'r+');
  } catch {
    return { seq: undefined, size: 0, records: 0, problem: 'unreadable', cutBytes: 0 };
  }
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const { bytesRead } = await fh.read(head, 0, SEGMENT_HEADER_BYTES, 0);
    const header = decodeSegmentHeader(head.subarray(0, bytesRead));
    if ('problem' in header) {
      await fh.close();
      fh = undefined;
      await rm(file, { force: true });
      return { seq: undefined, size: 0, records: 0, problem: 'header', cutBytes: size };
    }
    let pos = SEGMENT_HEADER_BYTES;
    let records = 0;
    let problem: ScanProblem | undefined;
    const rh = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    while (pos < size) {
      if (pos + RECORD_HEADER_BYTES > size) {
        problem = 'torn';
        break;
      }
      await readFully(fh, rh, RECORD_HEADER_BYTES, pos);
      const h = decodeRecordHeader(rh);
      if (h.length > MAX_RECORD_PAYLOAD || h.signal === undefined || h.encoding === undefined) {
        problem = 'checksum';
        break;
      }
      if (pos + RECORD_HEADER_BYTES + h.length > size) {
        problem = 'torn';
        break;
      }
      const payload = scratch.ensure(h.length).subarray(0, h.length);
      await readFully(fh, payload, h.length, pos + RECORD_HEADER_BYTES);
      if (!recordChecksumOk(rh, 0, payload)) {
        problem = 'checksum';
        break;
      }
      pos += RECORD_HEADER_BYTES + h.length;
      records++;
    }
    if (problem !== undefined) {
      await fh.truncate(pos);
      await fh.sync();
    }
    return { seq: header.seq, size: pos, records, problem, cutBytes: size - pos };
  } catch {
    return { seq: undefined, size: 0, records: 0, problem: 'unreadable', cutBytes: 0 };
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** Reads exactly `n` bytes at `pos` (a regular file returns short only at its end, which the caller ruled out). */
export async function readFully(fh: { read(b: Buffer, o: number, n: number, p: number): Promise<{ bytesRead: number }> }, buf: Buffer, n: number, pos: number): Promise<void> {
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(buf, got, n - got, pos + got);
    if (bytesRead === 0) throw new Error(`short read at ${pos + got}`);
    got += bytesRead;
  }
}
