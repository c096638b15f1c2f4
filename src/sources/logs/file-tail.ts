import type { FileHandle } from 'node:fs/promises';
import type { LogRecord, Resource } from '../../model/index.js';
import type { FileCheckpoint } from './checkpoint-store.js';
import type { GzipLineSource } from './gzip-source.js';
import type { LineReader, LineSink } from './line-reader.js';
import type { LogFile } from './log-discovery.js';
import type { MultilineJoiner } from './multiline-joiner.js';
import { MutablePiece, RecordAssembler } from './record-assembler.js';

/**
 * One file being tailed: its descriptor, reader and checkpoint, the record it holds back when the
 * pipeline pushed back, the state of a long line split across reads, and the resource its records
 * carry. Plain state, read and written by the tail loop, the tail set and the line-records step;
 * as its reader's LineSink it hands every line to the one shared `TailLines` (a method, no closure).
 */

/** What turns a tail's lines into records (line-records.ts). */
export interface TailLines {
  /** False pauses the reader (the pipeline pushed back, or a record waits for a checkpoint slot). */
  onLine(t: FileTail, buf: Buffer, start: number, end: number, endOffset: number, flags: number): boolean;
}

export class FileTail implements LineSink {
  reader!: LineReader;
  checkpoint!: FileCheckpoint;
  readonly assembler: RecordAssembler;
  /** A record the pipeline refused (ring full), or that waits for a checkpoint slot: offered again first. */
  held: LogRecord | undefined;
  /** The held record's checkpoint offset, for a record still without an ack token. */
  heldOffset = 0;
  /** The path's file is now another one (renamed away): finish this one, then let it go. */
  rotated = false;
  /** A rotated file's read position when it was last seen at its end, and since when (performance.now()) it has stayed there. */
  quietAt = -1;
  quietSince = 0;
  /** performance.now() when it was first read to its end after it was renamed away; -1 before. */
  endSeenAt = -1;
  /**
   * The file this one took the name from, while this one waits for it to settle (log-source's
   * #waitsForPredecessor), and the reverse link: a record the old file ends in the middle of
   * continues at the start of the new one.
   */
  predecessor: FileTail | undefined;
  successor: FileTail | undefined;
  done = false;
  /** The header of a long line whose later pieces carry no header of their own. */
  readonly longLine = new MutablePiece();
  inLongLine = false;
  /** The long line's own tag: P (true) or F. */
  longTag = false;
  /** The metadata version its resource was built from. */
  resourceVersion = 0;
  /** The reader's unreadBytes already counted in sextant_logs_copytruncate_unread_bytes_total. */
  unreadCounted = 0;
  /** Set when multiline joining applies to this file. */
  joiner: MultilineJoiner | undefined;
  /** A gzipped rotated file read from its original's checkpoint: the `.gz`'s own dev:ino and its decompressing source. */
  compressed: { readonly key: string; readonly source: GzipLineSource } | undefined;

  constructor(
    readonly lines: TailLines,
    readonly file: LogFile,
    readonly fh: FileHandle,
    public resource: Resource,
    maxRecordBytes: number,
  ) {
    this.assembler = new RecordAssembler({ maxRecordBytes });
  }

  line(buf: Buffer, start: number, end: number, endOffset: number, flags: number): boolean {
    return this.lines.onLine(this, buf, start, end, endOffset, flags);
  }
}
