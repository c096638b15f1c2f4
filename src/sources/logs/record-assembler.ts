/**
 * Turns parsed line pieces into log records, per stream of one file. Both container log formats
 * split a long write into pieces: CRI writes `P` pieces ended by an `F` piece, Docker's json-file
 * writes 16 KiB `log` values without a trailing newline until the last one. The assembler joins
 * them as BYTES and decodes once per record, so a multi-byte character split across pieces comes
 * out whole; invalid UTF-8 becomes U+FFFD (never dropped) and NUL stays U+0000.
 *
 * Memory is bounded: a record holds at most `maxRecordBytes` of content. The piece that crosses
 * the bound is cut there (at a UTF-8 character boundary, so the body never exceeds the bound),
 * the record is emitted at once marked truncated, and the rest of its pieces up to its final one
 * are dropped and counted, never buffered.
 *
 * At least once: every record carries `endOffset` (just past the last line it consumed) and
 * `checkpointOffset` (the offset a checkpoint may move to once this record and every record
 * before it are acknowledged: `endOffset`, held back to the start of any record still being
 * assembled on the other stream). `checkpointOffset()` on the assembler gives the same bound when
 * no record is in flight (e.g. after dropped pieces that emitted nothing). The values never
 * decrease while lines are added in file order.
 *
 * One assembler per open file; it owns at most two growable byte buffers (one per stream), kept
 * small between records.
 */

import type { AckTarget } from '../../model/index.js';

export type LogStream = 'stdout' | 'stderr';

/** Why a line did not parse; the caller counts by it. */
export type MalformedReason = 'timestamp' | 'stream' | 'tag' | 'json' | 'field';

/** What a line parser (cri-line.ts, docker-json-line.ts) hands over; its objects are reused. */
export interface LinePiece {
  readonly kind: 'ok' | 'malformed';
  /** Meaningful only when `kind` is 'ok'. */
  readonly stream: LogStream;
  /** True when more pieces of the same record follow on this stream. */
  readonly partial: boolean;
  /** The line's own timestamp; 0n when malformed. */
  readonly timeUnixNano: bigint;
  /** The content bytes are `content[contentStart, contentEnd)` (the raw line when malformed). */
  readonly content: Buffer;
  readonly contentStart: number;
  readonly contentEnd: number;
}

const NO_BYTES = Buffer.alloc(0);

/**
 * The reusable LinePiece the parsers fill (one instance per reader, overwritten by every call)
 * and the tailer makes up for the headerless rest of a long line.
 */
export class MutablePiece implements LinePiece {
  kind: 'ok' | 'malformed' = 'malformed';
  /** Why the line is malformed; `''` when it is not. */
  reason: MalformedReason | '' = '';
  stream: LogStream = 'stdout';
  /** True when more pieces of the same record follow on this stream. */
  partial = false;
  /** The line's own timestamp in Unix nanoseconds; 0n for a malformed line. */
  timeUnixNano = 0n;
  content: Buffer = NO_BYTES;
  contentStart = 0;
  contentEnd = 0;

  /** The whole raw line as the content of a malformed piece (never lose user bytes). */
  setMalformed(reason: MalformedReason, buf: Buffer, start: number, end: number): this {
    this.kind = 'malformed';
    this.reason = reason;
    this.stream = 'stdout';
    this.partial = false;
    this.timeUnixNano = 0n;
    this.content = buf;
    this.contentStart = start;
    this.contentEnd = end;
    return this;
  }
}

/** The attribute a truncated record carries (value `true`). */
export const TRUNCATED_ATTRIBUTE = 'sextant.log.truncated';
export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;
/** The smallest bound accepted: a UTF-8 character must fit. */
const MIN_MAX_RECORD_BYTES = 4;

/** Buffers up to this size are kept between records; larger ones are released once emitted. */
const KEEP_BUFFER_BYTES = 64 * 1024;
const INITIAL_BUFFER_BYTES = 16 * 1024;

/** One emitted record. The assembler reuses this object: read it before the next call. */
export class AssembledRecord {
  body = '';
  /** undefined for a malformed line (its stream could not be read). */
  stream: LogStream | undefined = undefined;
  /** The first piece's timestamp; the observed time for a malformed line. */
  timeUnixNano = 0n;
  /** True when content beyond `maxRecordBytes` was cut off: set `sextant.log.truncated`. */
  truncated = false;
  /** True when the record is one malformed line delivered raw. */
  malformed = false;
  /** Offset of the first line of the record. */
  startOffset = 0;
  /** Offset just past the last line the record consumed. */
  endOffset = 0;
  /** Where a checkpoint may go once this record (and all before it) are acknowledged. */
  checkpointOffset = 0;
  /** Content bytes the body was decoded from (after truncation). */
  byteLength = 0;
  /**
   * The record began in the file this one continues (handOver): that file's ack for the bytes it
   * gave, to settle with this record's own; undefined for most records.
   */
  carried: CarriedAck | undefined = undefined;
}

/** The ack a record's first pieces owe the file they were read from (another file than the record's). */
export interface CarriedAck {
  readonly target: AckTarget;
  readonly token: number;
}

/** Per-stream assembly state. */
class StreamSlot {
  buf: Buffer | null = null;
  length = 0;
  /** A record has started and not been emitted. */
  pending = false;
  /** A truncated record was emitted; its remaining pieces are dropped until its last one. */
  discarding = false;
  startOffset = 0;
  timeUnixNano = 0n;
  carried: CarriedAck | undefined = undefined;
}

export interface RecordAssemblerOptions {
  /** Bound on one record's content bytes (default 1 MiB). */
  readonly maxRecordBytes?: number;
}

/**
 * How many bytes of `buf[start, start + n)` to keep so the cut does not split a UTF-8 character:
 * n, or up to 3 less when the last bytes begin a multi-byte sequence that would be cut.
 */
function utf8CutLength(buf: Buffer, start: number, n: number): number {
  const stop = Math.max(0, n - 4);
  for (let j = n - 1; j >= stop; j--) {
    const b = buf[start + j] as number;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    if (b < 0xc0) return n; // ASCII (or a stray byte): nothing is cut
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return j + need > n ? j : n;
  }
  return n;
}

export class RecordAssembler {
  readonly maxRecordBytes: number;
  /** Malformed lines delivered raw. */
  malformedLines = 0;
  /** Records cut at `maxRecordBytes`. */
  truncatedRecords = 0;
  /** Pieces (or the cut-off tail of one) dropped after truncation. */
  droppedPieces = 0;
  /** Content bytes dropped after truncation. */
  droppedBytes = 0;

  readonly #out = new AssembledRecord();
  readonly #stdout = new StreamSlot();
  readonly #stderr = new StreamSlot();
  #consumed = 0;

  constructor(options: RecordAssemblerOptions = {}) {
    const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    if (!Number.isInteger(max) || max < MIN_MAX_RECORD_BYTES) {
      throw new RangeError(`maxRecordBytes must be an integer >= ${MIN_MAX_RECORD_BYTES}, got ${String(max)}`);
    }
    this.maxRecordBytes = max;
  }

  /** Offset just past the last line added (or the offset given to reset). */
  get consumedOffset(): number {
    return this.#consumed;
  }

  /** Start offset of the earliest line belonging to a record not yet emitted; -1 when none. */
  pendingOffset(): number {
    const a = this.#stdout;
    const b = this.#stderr;
    if (a.pending && b.pending) return Math.min(a.startOffset, b.startOffset);
    if (a.pending) return a.startOffset;
    if (b.pending) return b.startOffset;
    return -1;
  }

  /** The furthest offset a checkpoint may reach once every emitted record is acknowledged. */
  checkpointOffset(): number {
    const p = this.pendingOffset();
    return p < 0 ? this.#consumed : Math.min(p, this.#consumed);
  }

  /**
   * Adds the piece parsed from the line at file bytes `[lineStart, lineEnd)` (lineEnd past the
   * newline). Returns the record it completes, or null. A malformed piece is its own record,
   * timed `observedTimeUnixNano`, and leaves pending records alone.
   */
  add(piece: LinePiece, lineStart: number, lineEnd: number, observedTimeUnixNano: bigint): AssembledRecord | null {
    this.#consumed = lineEnd;
    const s = piece.contentStart;
    const len = piece.contentEnd - s;

    if (piece.kind === 'malformed') {
      this.malformedLines++;
      return this.#emitDirect(piece.content, s, len, undefined, observedTimeUnixNano, true, lineStart, lineEnd);
    }

    const slot = piece.stream === 'stdout' ? this.#stdout : this.#stderr;
    if (slot.discarding) {
      this.droppedPieces++;
      this.droppedBytes += len;
      if (!piece.partial) slot.discarding = false;
      return null;
    }

    if (!slot.pending) {
      // The usual case, a one-piece record: decode straight from the line, no copy.
      if (!piece.partial) {
        return this.#emitDirect(piece.content, s, len, piece.stream, piece.timeUnixNano, false, lineStart, lineEnd);
      }
      slot.pending = true;
      slot.length = 0;
      slot.startOffset = lineStart;
      slot.timeUnixNano = piece.timeUnixNano;
    }

    const room = this.maxRecordBytes - slot.length;
    if (len > room) {
      // Crosses the bound: keep what fits, emit now, drop the rest of the record.
      this.#append(slot, piece.content, s, room);
      const kept = utf8CutLength(slot.buf as Buffer, 0, slot.length);
      this.truncatedRecords++;
      this.droppedPieces++;
      this.droppedBytes += len - room + (slot.length - kept);
      slot.length = kept;
      slot.discarding = piece.partial;
      return this.#emitSlot(slot, piece.stream, true, lineEnd);
    }
    this.#append(slot, piece.content, s, len);
    if (piece.partial) return null;
    return this.#emitSlot(slot, piece.stream, false, lineEnd);
  }

  /**
   * Emits the earliest unfinished record as it stands (the file ended mid-record: rotated away,
   * deleted, or a writer that died). Call until it returns null. Also ends any discarding.
   */
  flush(): AssembledRecord | null {
    const a = this.#stdout;
    const b = this.#stderr;
    a.discarding = false;
    b.discarding = false;
    let slot: StreamSlot | null = null;
    if (a.pending && (!b.pending || a.startOffset <= b.startOffset)) slot = a;
    else if (b.pending) slot = b;
    if (slot === null) return null;
    return this.#emitSlot(slot, slot === a ? 'stdout' : 'stderr', false, this.#consumed);
  }

  /**
   * Moves every unfinished record to `next`, the assembler of the file that took this file's
   * name: a runtime that switches files mid-line (containerd's ReopenContainerLog: the old file
   * ends with a `P` piece, the new one starts with the rest) writes the rest of the record there.
   * In `next` the record starts at its current offset, so its checkpoint holds back until the
   * record is acknowledged; `carry()` gives this file's ack for the bytes each moved record took
   * from it (settled with that record's own). A record being discarded (cut at maxRecordBytes)
   * goes on being discarded there. Returns true when a record moved.
   */
  handOver(next: RecordAssembler, carry: () => CarriedAck | undefined): boolean {
    let moved = false;
    for (const [mine, theirs] of [
      [this.#stdout, next.#stdout],
      [this.#stderr, next.#stderr],
    ] as const) {
      if (mine.discarding) {
        theirs.discarding = true;
        mine.discarding = false;
      }
      if (!mine.pending || theirs.pending) continue;
      theirs.pending = true;
      theirs.startOffset = next.#consumed;
      theirs.timeUnixNano = mine.timeUnixNano;
      theirs.length = 0;
      if (mine.buf !== null) next.#append(theirs, mine.buf, 0, mine.length);
      theirs.carried = carry();
      mine.pending = false;
      mine.length = 0;
      moved = true;
    }
    return moved;
  }

  /** Forgets all state and continues at `offset` (a new file, or copytruncate restarting at 0). */
  reset(offset: number): void {
    for (const slot of [this.#stdout, this.#stderr]) {
      slot.pending = false;
      slot.discarding = false;
      slot.length = 0;
      slot.carried = undefined;
      if (slot.buf !== null && slot.buf.length > KEEP_BUFFER_BYTES) slot.buf = null;
    }
    this.#consumed = offset;
  }

  #append(slot: StreamSlot, src: Buffer, start: number, n: number): void {
    if (n <= 0) return;
    const need = slot.length + n;
    let buf = slot.buf;
    if (buf === null || buf.length < need) {
      // Grow in doublings, never past the record bound.
      let cap = buf === null ? Math.min(INITIAL_BUFFER_BYTES, this.maxRecordBytes) : buf.length;
      while (cap < need) cap = Math.min(cap * 2, this.maxRecordBytes);
      const grown = Buffer.allocUnsafe(cap);
      if (buf !== null && slot.length > 0) buf.copy(grown, 0, 0, slot.length);
      slot.buf = buf = grown;
    }
    src.copy(buf, slot.length, start, start + n);
    slot.length = need;
  }

  #emitDirect(
    src: Buffer,
    start: number,
    len: number,
    stream: LogStream | undefined,
    time: bigint,
    malformed: boolean,
    lineStart: number,
    lineEnd: number,
  ): AssembledRecord {
    let n = len;
    let truncated = false;
    if (len > this.maxRecordBytes) {
      n = utf8CutLength(src, start, this.maxRecordBytes);
      truncated = true;
      this.truncatedRecords++;
      this.droppedPieces++;
      this.droppedBytes += len - n;
    }
    const out = this.#out;
    out.body = n === 0 ? '' : src.toString('utf8', start, start + n);
    out.stream = stream;
    out.timeUnixNano = time;
    out.truncated = truncated;
    out.malformed = malformed;
    out.startOffset = lineStart;
    out.endOffset = lineEnd;
    out.byteLength = n;
    out.carried = undefined;
    const p = this.pendingOffset();
    out.checkpointOffset = p < 0 ? lineEnd : Math.min(p, lineEnd);
    return out;
  }

  #emitSlot(slot: StreamSlot, stream: LogStream, truncated: boolean, lineEnd: number): AssembledRecord {
    const out = this.#out;
    const buf = slot.buf;
    out.body = buf === null || slot.length === 0 ? '' : buf.toString('utf8', 0, slot.length);
    out.stream = stream;
    out.timeUnixNano = slot.timeUnixNano;
    out.truncated = truncated;
    out.malformed = false;
    out.startOffset = slot.startOffset;
    out.endOffset = lineEnd;
    out.byteLength = slot.length;
    out.carried = slot.carried;
    slot.carried = undefined;
    slot.pending = false;
    slot.length = 0;
    if (buf !== null && buf.length > KEEP_BUFFER_BYTES) slot.buf = null;
    const p = this.pendingOffset();
    out.checkpointOffset = p < 0 ? lineEnd : Math.min(p, lineEnd);
    return out;
  }
}
