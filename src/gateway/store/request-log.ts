import { constants, mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { OtlpSignal } from '../../export/types.js';

/**
 * The store's write-ahead file: every accepted request body, appended and synced before the
 * gateway answers 200, so the answer never waits for a DuckDB transaction and DuckDB commits
 * large batches whatever the senders' request sizes (a commit costs about a millisecond of CPU
 * however little it carries). Each DuckDB batch records the last sequence number it holds, in
 * the same transaction; at start, what the file has beyond it is replayed, so a `kill -9` loses
 * nothing acknowledged and replays nothing twice. Segments are deleted once committed.
 *
 * A record: u32 body length, u32 CRC-32 (of the 10 bytes that follow and the body), u8 signal,
 * u8 format, u64 sequence number, then the body (decompressed protobuf or JSON). A torn last
 * record — the process died mid-write, before its answer — ends the replay there.
 *
 * A committed segment of full size is kept as the next one's file (one spare) and written over
 * from its start: a synced write into blocks the file already has changes no metadata, where an
 * append also writes the inode (the file's size) — one disk write of two per sync (measured on
 * the log ingest bench, BENCHMARKS.md M2.5). Its first record is wiped when it is taken, and
 * what is left of its old records past the new ones holds lower sequence numbers than they do,
 * which ends a replay as a torn record does.
 */

export interface LoggedRequest {
  readonly seq: number;
  readonly signal: OtlpSignal;
  readonly format: 'protobuf' | 'json';
  readonly body: Uint8Array;
}

const HEADER = 18;
const SIGNAL_CODES: Readonly<Record<OtlpSignal, number>> = { metrics: 1, logs: 2, traces: 3 };
const SIGNAL_NAMES: readonly (OtlpSignal | undefined)[] = [undefined, 'metrics', 'logs', 'traces'];
const SEGMENT = /^requests-(\d{16})\.log$/;
/** A committed segment kept to be written over by the next one (not a segment: replays pass it by). */
const SPARE = 'requests-spare';
/** Buffers one vectored write takes (IOV_MAX on Linux). */
const MAX_IOV = 1024;
/** A segment is closed (and a new one begun) past this size, by default. */
const SEGMENT_BYTES = 64 * 1024 * 1024;

function segmentName(firstSeq: number): string {
  return `requests-${String(firstSeq).padStart(16, '0')}.log`;
}

function encode(seq: number, signal: OtlpSignal, format: 'protobuf' | 'json', body: Uint8Array): Buffer {
  const head = Buffer.allocUnsafe(HEADER);
  head.writeUInt32LE(body.byteLength, 0);
  head.writeUInt8(SIGNAL_CODES[signal], 8);
  head.writeUInt8(format === 'json' ? 1 : 0, 9);
  head.writeBigUInt64LE(BigInt(seq), 10);
  head.writeUInt32LE(crc32(body, crc32(head.subarray(8, HEADER))), 4);
  return head;
}

interface Pending {
  readonly seq: number;
  readonly buffers: Buffer[];
  resolve(): void;
  reject(err: unknown): void;
}

interface Segment {
  readonly name: string;
  readonly firstSeq: number;
  /** Highest sequence number written to it (firstSeq - 1 while empty). */
  lastSeq: number;
}

export class RequestLog {
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #segments: Segment[] = [];
  #handle: FileHandle | undefined;
  #size = 0;
  /** The segment being written is a spare written over: writes go at #size, not appended. */
  #overwrite = false;
  #nextSeq = 1;
  /** The highest sequence number written (a segment begun now starts with the next). */
  #writtenSeq = 0;
  #queue: Pending[] = [];
  #syncing: Promise<void> | undefined;
  #closed = false;
  /** A write failed and could not be undone: nothing more is appended (see #writeAll). */
  #failed: unknown;

  private constructor(dir: string, segmentBytes: number) {
    this.#dir = dir;
    this.#segmentBytes = segmentBytes;
  }

  /**
   * Opens the log in `dir`, hands every intact record after `committedSeq` to `replay` (oldest
   * first), deletes what is committed, and starts a new segment for what comes.
   */
  static async open(dir: string, committedSeq: number, replay: (r: LoggedRequest) => void, segmentBytes = SEGMENT_BYTES): Promise<RequestLog> {
    const log = new RequestLog(dir, segmentBytes);
    await mkdir(dir, { recursive: true });
    const names = (await readdir(dir)).filter((n) => SEGMENT.test(n)).sort();
    let last = committedSeq;
    for (const name of names) {
      const file = path.join(dir, name);
      const data = await readFile(file);
      let off = 0;
      let segLast = Number(SEGMENT.exec(name)![1]) - 1;
      let previous = 0;
      while (off + HEADER <= data.length) {
        const len = data.readUInt32LE(off);
        const end = off + HEADER + len;
        if (end > data.length) break;
        const body = data.subarray(off + HEADER, end);
        if (crc32(body, crc32(data.subarray(off + 8, off + HEADER))) !== data.readUInt32LE(off + 4)) break;
        const signal = SIGNAL_NAMES[data.readUInt8(off + 8)];
        const seq = Number(data.readBigUInt64LE(off + 10));
        if (signal === undefined) break;
        // Numbers only grow within a segment: a lower one is what is left of the spare it was
        // written over (records committed long ago), the segment's own end.
        if (seq <= previous) break;
        previous = seq;
        if (seq > committedSeq) replay({ seq, signal, format: data.readUInt8(off + 9) === 1 ? 'json' : 'protobuf', body });
        segLast = Math.max(segLast, seq);
        off = end;
      }
      last = Math.max(last, segLast);
      log.#segments.push({ name, firstSeq: Number(SEGMENT.exec(name)![1]), lastSeq: segLast });
    }
    log.#nextSeq = last + 1;
    log.#writtenSeq = last;
    await log.release(committedSeq);
    await log.#startSegment();
    return log;
  }

  /** Bytes of the segment being written. */
  get size(): number {
    return this.#size;
  }

  /** Appends a request and resolves with its sequence number once it is on disk (synced). */
  append(signal: OtlpSignal, format: 'protobuf' | 'json', body: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new Error('store is closing'));
    const seq = this.#nextSeq++;
    const head = encode(seq, signal, format, body);
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({ seq, buffers: [head, Buffer.from(body.buffer, body.byteOffset, body.byteLength)], resolve: () => resolve(seq), reject });
      this.#syncing ??= this.#sync();
    });
  }

  /**
   * Writes what is queued with one synchronous-data write: every request that arrived while
   * the previous write ran shares the next (group commit). The file is opened O_DSYNC, so the
   * write returns once the data is on disk, as a write and an fdatasync would, in one trip
   * through the thread pool instead of two (measured: the pool's wake-ups were ~5% of the
   * gateway's CPU on the log bench).
   */
  async #sync(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        try {
          const h = this.#handle;
          if (h === undefined || this.#failed !== undefined) throw this.#failed ?? new Error('store is closing');
          await this.#writeAll(h, batch);
          const seg = this.#segments[this.#segments.length - 1]!;
          seg.lastSeq = Math.max(seg.lastSeq, batch[batch.length - 1]!.seq);
          this.#writtenSeq = Math.max(this.#writtenSeq, seg.lastSeq);
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
        if (this.#size >= this.#segmentBytes && this.#queue.length === 0) await this.#startSegment();
      }
    } finally {
      this.#syncing = undefined;
    }
  }

  /**
   * Appends a batch whole or not at all, written until done: a vectored write stops at the
   * system's limit of buffers (1,024 here) and a full disk takes part of a write without an
   * error. What a failed write left is cut off again, so no later record sits behind a torn
   * one where a replay would not reach it; if even that fails, the log takes nothing more until
   * the store opens it anew.
   */
  async #writeAll(h: FileHandle, batch: readonly Pending[]): Promise<void> {
    const buffers = batch.flatMap((p) => p.buffers);
    let total = 0;
    for (const b of buffers) total += b.length;
    try {
      // One vectored write of the bodies as they are (a copy of every body into one buffer was
      // garbage enough to set off V8's old-space collections on the log bench); what a short
      // write left, or a batch past the system's limit of buffers, goes as one buffer.
      const at = this.#overwrite ? this.#size : undefined;
      let off = buffers.length <= MAX_IOV ? (await h.writev(buffers, at)).bytesWritten : 0;
      if (off < total) {
        const data = Buffer.concat(buffers, total);
        while (off < total) {
          const { bytesWritten } = await h.write(data, off, total - off, at === undefined ? null : at + off);
          if (bytesWritten === 0) throw Object.assign(new Error('no space left on device (the request log took no more bytes)'), { code: 'ENOSPC' });
          off += bytesWritten;
        }
      }
    } catch (err) {
      try {
        await h.truncate(this.#size);
      } catch {
        this.#failed = err;
      }
      throw err;
    }
    this.#size += total;
  }

  async #startSegment(): Promise<void> {
    await this.#handle?.close().catch(() => undefined);
    // Named by the first sequence number it can hold: appends made while it is being opened
    // have numbers from just past the last one written, and go into it.
    const firstSeq = this.#writtenSeq + 1;
    const name = segmentName(firstSeq);
    const file = path.join(this.#dir, name);
    this.#size = 0;
    // A segment of this name may exist: one from a start that wrote nothing, or that died
    // writing its first record. It holds no intact record (its first would carry this very
    // sequence number, and numbering resumes past every intact one), so it starts empty: what
    // this start appends must not sit behind a torn record, where no replay would reach it.
    const exists = this.#segments[this.#segments.length - 1]?.name === name;
    this.#overwrite = !exists && (await this.#takeSpare(file));
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_DSYNC | (this.#overwrite ? 0 : constants.O_APPEND);
    this.#handle = await open(file, flags);
    // A spare's first record would read as this segment's until a new one is written over it.
    if (this.#overwrite) await this.#handle.write(Buffer.alloc(HEADER), 0, HEADER, 0);
    if (!exists) this.#segments.push({ name, firstSeq, lastSeq: firstSeq - 1 });
    else await this.#handle.truncate(0);
  }

  /** Renames the spare, if there is one, to `file`; whether it did. */
  async #takeSpare(file: string): Promise<boolean> {
    try {
      await rename(path.join(this.#dir, SPARE), file);
      return true;
    } catch {
      // None (ENOENT), or it cannot be used: a new file is appended to instead.
      return false;
    }
  }

  /** Deletes the segments, but the one being written, whose every record is committed (sequence ≤ `committedSeq`). */
  async release(committedSeq: number): Promise<void> {
    // Chosen and taken off the list before the first await: two releases in flight (two
    // commits in a row) must not both take the same segment, or the one being written.
    const gone: Segment[] = [];
    while (this.#segments.length > (this.#handle === undefined ? 0 : 1) && this.#segments[0]!.lastSeq <= committedSeq) gone.push(this.#segments.shift()!);
    for (const s of gone) {
      const file = path.join(this.#dir, s.name);
      // A full-size one becomes the spare (replacing any older spare) while the log is open; the
      // rest, and all of them once it is closed, are deleted.
      const size = this.#closed ? 0 : await stat(file).then((st) => st.size, () => 0);
      if (size >= this.#segmentBytes) await rename(file, path.join(this.#dir, SPARE)).catch(() => rm(file, { force: true }));
      else await rm(file, { force: true });
    }
  }

  /** Waits for queued appends, then closes the file and deletes the spare (disk a stopped gateway need not hold). */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#syncing !== undefined) await this.#syncing;
    await this.#handle?.close().catch(() => undefined);
    this.#handle = undefined;
    await rm(path.join(this.#dir, SPARE), { force: true }).catch(() => undefined);
  }
}
