import { createReadStream, type ReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import { FINGERPRINT_BYTES } from './file-identity.js';

/**
 * The decompressed bytes of one of kubelet's gzipped rotated logs (`0.log.<timestamp>.gz`), read
 * front to back as the LineReader asks for them. kubelet compresses a rotated file it keeps
 * (all but the newest) and deletes the original: when the agent was behind at that moment (it
 * was down, or its buffers were full), the lines past its checkpoint are only in the `.gz`, at
 * the same offsets of the decompressed content. The reader starts at the checkpoint's offset;
 * what lies before it is decompressed and skipped.
 *
 * Forward only: a read at an offset behind the last one is a bug. A damaged gzip ends the file
 * there (`damaged` says so; the caller counts it): the lines before the damage were read.
 */
export class GzipLineSource {
  /** Marks the LineReader's input as one that never changes: read to its end, then gone. */
  readonly sealed = true;
  readonly #input: ReadStream;
  readonly #gunzip: Gunzip;
  readonly #iterator: AsyncIterator<Buffer>;
  #chunk: Buffer | undefined;
  #chunkAt = 0;
  /** Decompressed offset of the next byte `read` hands out. */
  #pos = 0;
  #ended = false;
  damaged = false;

  constructor(fh: FileHandle) {
    // A stream of its own on the descriptor, reading at explicit positions from byte 0 (a second
    // FileHandle stream on a handle that had one does not start); the descriptor stays the caller's.
    const input = createReadStream('', { fd: fh.fd, start: 0, autoClose: false, highWaterMark: 64 * 1024 });
    this.#input = input;
    this.#gunzip = createGunzip({ chunkSize: 64 * 1024 });
    input.on('error', (err: Error) => this.#gunzip.destroy(err));
    input.pipe(this.#gunzip);
    this.#iterator = this.#gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** `length` decompressed bytes from `position` (never behind the last read) into `buffer`. */
  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    if (position < this.#pos) throw new RangeError(`gzip source read backwards: ${position} < ${this.#pos}`);
    // Skip to the position (a checkpoint's offset inside the file).
    while (this.#pos < position) {
      const c = await this.#next();
      if (c === undefined) return { bytesRead: 0 };
      const n = Math.min(c.length - this.#chunkAt, position - this.#pos);
      this.#chunkAt += n;
      this.#pos += n;
    }
    let got = 0;
    while (got < length) {
      const c = await this.#next();
      if (c === undefined) break;
      const n = Math.min(c.length - this.#chunkAt, length - got);
      c.copy(buffer, offset + got, this.#chunkAt, this.#chunkAt + n);
      this.#chunkAt += n;
      this.#pos += n;
      got += n;
      // One decompressed chunk per read is enough to make progress; the reader asks again.
      if (this.#chunkAt >= c.length) break;
    }
    return { bytesRead: got };
  }

  close(): void {
    // Not destroy(): a read stream's destroy closes its descriptor even with autoClose false,
    // and the descriptor is the caller's.
    this.#input.unpipe(this.#gunzip);
    this.#input.pause();
    this.#gunzip.destroy();
  }

  /** The current chunk with bytes left, or the next one; undefined at the end (or at damage). */
  async #next(): Promise<Buffer | undefined> {
    if (this.#chunk !== undefined && this.#chunkAt < this.#chunk.length) return this.#chunk;
    if (this.#ended) return undefined;
    try {
      const r = await this.#iterator.next();
      if (r.done === true) {
        this.#ended = true;
        this.#chunk = undefined;
        return undefined;
      }
      this.#chunk = r.value;
      this.#chunkAt = 0;
      return r.value;
    } catch {
      this.damaged = true;
      this.#ended = true;
      this.#chunk = undefined;
      return undefined;
    }
  }
}

/**
 * The first ≤ FINGERPRINT_BYTES decompressed bytes of a gzipped file: its head, to match it with
 * the checkpoint of the file it was compressed from. Undefined when it is not readable gzip.
 */
export async function gzipHead(fh: FileHandle): Promise<Buffer | undefined> {
  const src = new GzipLineSource(fh);
  try {
    const head = Buffer.alloc(FINGERPRINT_BYTES);
    let got = 0;
    while (got < head.length) {
      const { bytesRead } = await src.read(head, got, head.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (src.damaged && got === 0) return undefined;
    return head.subarray(0, got);
  } finally {
    src.close();
  }
}
