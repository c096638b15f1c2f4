import type { FileHandle } from 'node:fs/promises';
import { compareIdentity, extendIdentity, FINGERPRINT_BYTES, headMatches, probeFile, type FileIdentity } from './file-identity.js';

/** Flags on a delivered piece. A complete line that fit in the buffer has flags 0. */
/** More bytes of this line follow in later pieces (the line was longer than the buffer). */
export const LINE_PARTIAL = 1;
/** Earlier bytes of this line were delivered in previous pieces. */
export const LINE_CONTINUED = 2;
/** The file ended for good (deleted or rotated away) before this line's newline was written. */
export const LINE_UNTERMINATED = 4;

/**
 * Receives lines without decoding: bytes `[start, end)` of `buf`, the `\n` excluded. `endOffset`
 * is the file offset just past this piece (past its `\n` when it has one): the offset to
 * acknowledge once the record ending here is delivered. `buf` is the reader's reused buffer —
 * copy or decode what you need before returning.
 *
 * Return `false` to pause: the piece WAS taken, and the reader stops this turn right after it,
 * keeping the rest of its buffer for the next turn. An interface with a method rather than a
 * callback, so the hot loop makes no closure.
 */
export interface LineSink {
  line(buf: Buffer, start: number, end: number, endOffset: number, flags: number): boolean;
}

/**
 * What one turn ended with:
 *   more       the turn's byte budget is spent and the file has more: call again (after the
 *              other files had their turn);
 *   paused     the sink returned false;
 *   eof        caught up with the writer: poll again later;
 *   truncated  the content under our offset was replaced (copytruncate) or cut: the reader now
 *              stands at offset 0 of the new content, with a new identity; count it, call again;
 *   gone       the file was deleted (or `retire()`d after a rename) and is read to its end;
 *              close the reader.
 */
export type ReadStatus = 'more' | 'paused' | 'eof' | 'truncated' | 'gone';

/**
 * Input that never changes and is read front to back (the decompressed content of a gzipped
 * rotated file, gzip-source.ts): no size or head checks, read to its end, then 'gone'.
 */
export interface SealedSource {
  readonly sealed: true;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/**
 * Buffers for readers that take one for a turn and give it back when they hold nothing, so a
 * thousand idle files do not each pin a buffer. A reader holding an unfinished line keeps its
 * buffer. Keeps at most `maxIdle` free buffers.
 */
export class BufferPool {
  readonly bufferSize: number;
  readonly #free: Buffer[] = [];
  readonly #maxIdle: number;
  #allocated = 0;

  constructor(bufferSize = 64 * 1024, maxIdle = 8) {
    if (!Number.isInteger(bufferSize) || bufferSize < 256) throw new RangeError(`bufferSize must be an integer ≥ 256, got ${bufferSize}`);
    this.bufferSize = bufferSize;
    this.#maxIdle = maxIdle;
  }

  acquire(): Buffer {
    const b = this.#free.pop();
    if (b !== undefined) return b;
    this.#allocated++;
    return Buffer.allocUnsafe(this.bufferSize);
  }

  release(b: Buffer): void {
    if (this.#free.length < this.#maxIdle) this.#free.push(b);
    else this.#allocated--;
  }

  /** Buffers allocated and not dropped (in use + idle). */
  get allocated(): number {
    return this.#allocated;
  }
}

export interface LineReaderOptions {
  /** Size of the reader's own buffer when no pool is given (default 64 KiB). */
  readonly bufferSize?: number;
  /** Take buffers from this pool per turn instead of owning one. */
  readonly pool?: BufferPool;
  /** Bytes read from the file per turn at most (default 1 MiB), so one chatty file cannot starve others. */
  readonly maxBytesPerTurn?: number;
  /**
   * Bytes asked of one read at most (default: all the buffer's free room). The lines a read
   * brings are handed out without a pause, so this bounds how long a turn holds the event loop
   * between two awaits — what a watch event waits for before it can be handled.
   */
  readonly maxBytesPerRead?: number;
}

const DEFAULT_BUFFER = 64 * 1024;
const DEFAULT_TURN = 1024 * 1024;
const NEWLINE = 0x0a;

/**
 * Reads one open log file from an offset and hands out its lines as byte ranges of one fixed,
 * reused buffer. Memory is the buffer and nothing else: a line longer than the buffer goes out in
 * buffer-sized pieces (LINE_PARTIAL / LINE_CONTINUED), so a 50 MB line without a newline costs
 * no more than a short one. NUL and invalid UTF-8 are bytes like any other; decoding is the
 * sink's business.
 *
 * The file may change under us between turns, and each turn starts with one fstat:
 *   - shrunk below our offset → 'truncated' and restart at 0 of the new content (copytruncate).
 *     Whole lines still buffered (a pause) are delivered first; the unfinished line we held is
 *     discarded (counted in `discardedBytes`): its rest went to the copy.
 *   - cut and refilled past our offset (at any time, even between this fstat and a read): each
 *     read is followed by a look at the head (one 256-byte pread). A changed head means the
 *     read's bytes may be the new content's, which a restart at 0 reads again: they are dropped
 *     undelivered and the turn reports 'truncated', so no line goes out twice.
 *   - deleted (no links left) → keep reading the open descriptor; at its end, deliver the
 *     unfinished last line (LINE_UNTERMINATED) and report 'gone'.
 *   - renamed away: the reader cannot see that; the caller, which watches the path, calls
 *     `retire()`, and the reader then finishes the old file the same way.
 * Backpressure is the caller not calling `readTurn()`; nothing is read ahead of the sink.
 *
 * Not safe for two overlapping `readTurn()` calls (one caller loop per reader).
 */
export class LineReader {
  readonly #fh: FileHandle | undefined;
  readonly #src: FileHandle | SealedSource;
  readonly #sink: LineSink;
  readonly #pool: BufferPool | undefined;
  readonly #maxBytesPerTurn: number;
  readonly #maxBytesPerRead: number;
  readonly #bufferSize: number;
  readonly #head = Buffer.allocUnsafe(FINGERPRINT_BYTES);
  #identity: FileIdentity;
  #buf: Buffer | undefined;
  /** Undelivered bytes are buf[#start, #end); none of buf[#start, #scan) is a newline. */
  #start = 0;
  #scan = 0;
  #end = 0;
  /** File offset of buf[#end]: where the next read goes. */
  #pos: number;
  /** The line at #start already had pieces delivered. */
  #continuing = false;
  #retired = false;
  #gone = false;
  #finalStamp: string | undefined;
  #truncations = 0;
  #discarded = 0;
  /** The size the last turn's fstat saw: bytes past our position then, never read, are lost to a copytruncate. */
  #lastSize = 0;
  #unread = 0;

  constructor(fh: FileHandle | SealedSource, identity: FileIdentity, offset: number, sink: LineSink, options: LineReaderOptions = {}) {
    // None of these is a setting (the offset is a checkpoint's or a file position, the sizes are
    // the log source's constants): a bad one is a bug, not a config error.
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
    const turn = options.maxBytesPerTurn ?? DEFAULT_TURN;
    if (!Number.isInteger(turn) || turn < 1) throw new RangeError(`maxBytesPerTurn must be a positive integer, got ${turn}`);
    this.#src = fh;
    this.#fh = 'sealed' in fh ? undefined : fh;
    this.#identity = identity;
    this.#pos = offset;
    this.#sink = sink;
    this.#pool = options.pool;
    this.#maxBytesPerTurn = turn;
    const perRead = options.maxBytesPerRead ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(perRead) || perRead < 1) throw new RangeError(`maxBytesPerRead must be a positive integer, got ${perRead}`);
    this.#maxBytesPerRead = perRead;
    if (options.pool !== undefined) {
      this.#bufferSize = options.pool.bufferSize;
    } else {
      const size = options.bufferSize ?? DEFAULT_BUFFER;
      if (!Number.isInteger(size) || size < 256) throw new RangeError(`bufferSize must be an integer ≥ 256, got ${size}`);
      this.#bufferSize = size;
      this.#buf = Buffer.allocUnsafe(size);
    }
  }

  /** File offset of the first byte not yet handed to the sink: where a restart would resume. */
  get offset(): number {
    return this.#pos - (this.#end - this.#start);
  }

  /** File offset of the next read: bytes read so far, an unfinished line included. */
  get position(): number {
    return this.#pos;
  }

  /** The file's identity, its head completed as the file grew, renewed after a truncation. */
  get identity(): FileIdentity {
    return this.#identity;
  }

  /** Bytes read but not yet handed out (an unfinished line, or the rest after a pause). */
  get heldBytes(): number {
    return this.#end - this.#start;
  }

  get bufferSize(): number {
    return this.#bufferSize;
  }

  /** True while the reader pins a buffer (always without a pool). */
  get holdsBuffer(): boolean {
    return this.#buf !== undefined;
  }

  /** Times the content was found truncated or replaced under our offset. */
  get truncations(): number {
    return this.#truncations;
  }

  /** Bytes of unfinished lines thrown away at truncations. */
  get discardedBytes(): number {
    return this.#discarded;
  }

  /**
   * Bytes a truncation took before they were read: what the file held past our position when we
   * last looked (a lower bound: what was written after that look is unknown), plus the unfinished
   * line thrown away. What a copytruncate costs the tailer, as opposed to what logrotate's own
   * copy-then-truncate window loses.
   */
  get unreadBytes(): number {
    return this.#unread;
  }

  /** The path no longer names this file: read it to its end, then report 'gone'. */
  retire(): void {
    this.#retired = true;
  }

  get retired(): boolean {
    return this.#retired;
  }

  /**
   * After 'gone': size and mtime (finished-files.ts's stamp) of the file as it was when its end
   * was read; undefined for a sealed source.
   */
  get finalStamp(): string | undefined {
    return this.#finalStamp;
  }

  /** Reads and delivers up to `maxBytesPerTurn` bytes. Throws only what fs throws (EIO, closed handle). */
  async readTurn(): Promise<ReadStatus> {
    if (this.#gone) return 'gone';
    if (this.#buf === undefined) this.#buf = this.#pool!.acquire();
    try {
      return await this.#turn(this.#buf);
    } finally {
      if (this.#pool !== undefined && this.#end === this.#start && this.#buf !== undefined) {
        this.#pool.release(this.#buf);
        this.#buf = undefined;
        this.#start = this.#scan = this.#end = 0;
      }
    }
  }

  async #turn(buf: Buffer): Promise<ReadStatus> {
    // Whole lines a pause left in the buffer were read from the content we knew: they go out
    // before the file is looked at again, or a copytruncate found now would discard them (they
    // are in the copy, never to be read again). Only an unfinished last line is discarded then.
    if (!this.#deliver(buf)) return 'paused';
    // A sealed source never changes: nothing to check, and its end is the end.
    let deleted = true;
    const fh = this.#fh;
    if (fh !== undefined) {
      const st = await fh.stat();
      deleted = st.nlink === 0;
      const seen = this.#lastSize;
      this.#lastSize = st.size;
      // Here only what no read would show: the file shrank below our offset (a read there finds
      // nothing), or its head is still shorter than a full fingerprint (to extend it). Content
      // replaced and refilled past our offset shows in the check after each read below.
      if (st.size < this.#pos || (st.size > this.#pos && this.#identity.headLength < FINGERPRINT_BYTES)) {
        const probe = await probeFile(fh, this.#head);
        const verdict = compareIdentity(this.#identity, this.#pos, probe);
        if (verdict !== 'same') return this.#restart(probe.identity, seen, st.size);
        this.#identity = extendIdentity(this.#identity, probe);
      }
    }

    let budget = this.#maxBytesPerTurn;
    for (;;) {
      if (!this.#deliver(buf)) return 'paused';
      // Only an unfinished line is left: move it to the front to make room.
      if (this.#start > 0) {
        buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#scan -= this.#start;
        this.#start = 0;
      }
      if (this.#end === buf.length) {
        // A line longer than the buffer: hand out what we have as a piece and keep going.
        const flags = LINE_PARTIAL | (this.#continuing ? LINE_CONTINUED : 0);
        this.#continuing = true;
        const endOffset = this.#pos;
        this.#start = this.#scan = this.#end = 0;
        if (!this.#sink.line(buf, 0, buf.length, endOffset, flags)) return 'paused';
      }
      if (budget <= 0) return 'more';
      const { bytesRead } = await this.#src.read(buf, this.#end, Math.min(buf.length - this.#end, budget, this.#maxBytesPerRead), this.#pos);
      if (bytesRead === 0) {
        if (!this.#retired && !deleted) return 'eof';
        if (fh !== undefined) {
          // The stamp the file is let go with comes from a look at its end, not from after it:
          // a write landing between this read and a later stat would be in the stamp and never
          // read (a changed stamp is what makes a rescan take the file up again).
          const st = await fh.stat({ bigint: true });
          if (st.size > BigInt(this.#pos)) continue;
          this.#finalStamp = `${st.size}:${st.mtimeNs}`;
        }
        return this.#finish(buf);
      }
      if (fh !== undefined && !(await this.#headIntact(fh))) {
        // The content was replaced under us (copytruncate, and the writer refilled it past our
        // offset before this read): these bytes may be the new content's, which a restart at 0
        // reads again. They are not delivered, so no line goes out twice; had the cut come
        // after the read, they were the old content's and are in the copy. The size this turn's
        // look saw stands for the old content (the read's bytes may be the new content's).
        const probe = await probeFile(fh, this.#head);
        return this.#restart(probe.identity, this.#lastSize, probe.size);
      }
      this.#end += bytesRead;
      this.#pos += bytesRead;
      budget -= bytesRead;
    }
  }

  /** Hands out every complete line in the buffer; false when the sink asked to pause. */
  #deliver(buf: Buffer): boolean {
    const end = this.#end;
    if (this.#scan >= end) return true;
    // indexOf would search past #end into stale bytes: bound it with a view (one per read, not per line).
    const view = end === buf.length ? buf : buf.subarray(0, end);
    const sink = this.#sink;
    const base = this.#pos - end; // file offset of buf[0]
    let i = this.#scan;
    for (;;) {
      const nl = view.indexOf(NEWLINE, i);
      if (nl === -1) {
        this.#scan = end;
        return true;
      }
      const start = this.#start;
      const flags = this.#continuing ? LINE_CONTINUED : 0;
      this.#continuing = false;
      i = nl + 1;
      this.#start = this.#scan = i;
      if (!sink.line(buf, start, nl, base + i, flags)) return false;
    }
  }

  /** End of a file that will not grow again: the unfinished last line goes out as it is. */
  #finish(buf: Buffer): ReadStatus {
    this.#gone = true;
    if (this.#end > this.#start || this.#continuing) {
      const flags = LINE_UNTERMINATED | (this.#continuing ? LINE_CONTINUED : 0);
      const start = this.#start;
      this.#start = this.#scan = this.#end;
      this.#continuing = false;
      this.#sink.line(buf, start, this.#end, this.#pos, flags);
    }
    return 'gone';
  }

  /**
   * After a read: is the head still the one we know? A cut and refill between the turn's first
   * look and a read would otherwise hand out the new content from our old offset, and then, once
   * a later look saw the new head, again from 0. One 256-byte pread per read of up to 64 KiB.
   */
  async #headIntact(fh: FileHandle): Promise<boolean> {
    const n = this.#identity.headLength;
    if (n === 0) return true;
    const { bytesRead } = await fh.read(this.#head, 0, n, 0);
    return bytesRead === n && headMatches(this.#identity, this.#head.subarray(0, n));
  }

  /**
   * The content under our offset was cut: restart at 0 of the new content (`identity`, `size`).
   * Unread: what the old content held past our offset when last looked at (`seenSize`), and
   * the unfinished line thrown away.
   */
  #restart(identity: FileIdentity, seenSize: number, size: number): 'truncated' {
    this.#unread += Math.max(0, seenSize - this.#pos) + (this.#end - this.#start);
    this.#lastSize = size;
    this.#discarded += this.#end - this.#start;
    this.#truncations++;
    this.#identity = identity;
    this.#pos = 0;
    this.#start = this.#scan = this.#end = 0;
    this.#continuing = false;
    return 'truncated';
  }
}
