import { type AckTarget, type Attributes, EMPTY_ATTRIBUTES, type LogRecord, nowUnixNano, type Resource, type Scope } from '../../model/index.js';
import type { BoundCounter, Counter } from '../../self/registry.js';
import type { RecordSink } from '../types.js';
import { CriLine, parseCriLine } from './cri-line.js';
import { DockerJsonLine, DockerJsonLineParser } from './docker-json-line.js';
import type { FileTail, TailLines } from './file-tail.js';
import { LINE_CONTINUED, LINE_PARTIAL } from './line-reader.js';
import type { LogFormat } from './log-discovery.js';
import type { LogResources } from './log-resources.js';
import type { JoinedEntry } from './multiline-joiner.js';
import { type CarriedAck, type LinePiece, type LogStream, MutablePiece, TRUNCATED_ATTRIBUTE } from './record-assembler.js';
import { detectSeverity, severityText } from './severity.js';

/**
 * Line pieces → log records, for every tailed file: each line is parsed per its file's format
 * (the headerless rest of a long line keeps its first piece's header), assembled into a record,
 * joined into a multiline entry where that applies, and offered to the pipeline with the file's
 * checkpoint as its AckTarget. This is the per-line hot path: one instance serves every file, its
 * parsers' piece objects and the attribute maps are shared and reused, and no closure is made per
 * line (the reader calls a method of the file's tail, which calls `onLine` here).
 */

const STREAM_ATTRS: Readonly<Record<LogStream, Attributes>> = {
  stdout: Object.freeze({ 'log.iostream': 'stdout' }),
  stderr: Object.freeze({ 'log.iostream': 'stderr' }),
};
const TRUNCATED_ATTRS: Readonly<Record<LogStream, Attributes>> = {
  stdout: Object.freeze({ 'log.iostream': 'stdout', [TRUNCATED_ATTRIBUTE]: true }),
  stderr: Object.freeze({ 'log.iostream': 'stderr', [TRUNCATED_ATTRIBUTE]: true }),
};
const PLAIN_TRUNCATED: Attributes = Object.freeze({ [TRUNCATED_ATTRIBUTE]: true });

export class LineRecords implements TailLines {
  readonly #scope: Scope;
  readonly #resources: LogResources;
  /** Bound once per format: no label lookup per record. */
  readonly #records: Readonly<Record<LogFormat, BoundCounter>>;
  readonly #problems: Counter;
  readonly #cri = new CriLine();
  readonly #docker = new DockerJsonLine();
  readonly #dockerParser = new DockerJsonLineParser();
  readonly #plain = new MutablePiece();
  #sink: RecordSink | undefined;
  #blocked = false;
  /** The observed time, read again once the monotonic clock has moved a millisecond. */
  #observed = 0n;
  #observedAt = Number.NEGATIVE_INFINITY;

  constructor(scope: Scope, resources: LogResources, records: Readonly<Record<LogFormat, BoundCounter>>, problems: Counter) {
    this.#scope = scope;
    this.#resources = resources;
    this.#records = records;
    this.#problems = problems;
  }

  /** Where records go from now on. */
  attach(sink: RecordSink): void {
    this.#sink = sink;
  }

  /** The pipeline refused a record (its logs ring is full): no file is read until it drains. */
  get blocked(): boolean {
    return this.#blocked;
  }

  /** The pipeline has room again. */
  drained(): void {
    this.#blocked = false;
  }

  /** The line reader's callback: parse, assemble, offer. False pauses the reader (ring full). */
  onLine(t: FileTail, buf: Buffer, start: number, end: number, endOffset: number, flags: number): boolean {
    const lineStart = endOffset - (end - start) - ((flags & LINE_PARTIAL) === 0 ? 1 : 0);
    const piece = this.#piece(t, buf, start, end, flags);
    const observed = this.#observedNow();
    const rec = t.assembler.add(piece, Math.max(0, lineStart), endOffset, observed);
    if (rec === null) return true;
    let out: Emit = rec;
    if (t.joiner !== undefined) {
      settleCarried(rec.carried); // an entry's bytes from two files: the older file's part counts as read
      const entry = t.joiner.add({ body: rec.body, timeUnixNano: rec.timeUnixNano === 0n ? observed : rec.timeUnixNano, stream: rec.stream, startOffset: rec.startOffset, checkpointOffset: rec.checkpointOffset, truncated: rec.truncated });
      if (entry === undefined) return true;
      out = joined(entry, t.joiner.holdBack());
    }
    return this.#emit(t, out, observed);
  }

  /**
   * Now, in Unix ns, to the millisecond: lines read within one millisecond share it. Reading the
   * clock as a bigint made three bigints per line (hrtime, and two sums), a fifth of what a line
   * allocates besides its body (measured on the logs bench: fewer promotions with a 1 MiB young
   * generation); performance.now() is a plain double.
   */
  #observedNow(): bigint {
    const ms = performance.now();
    if (ms - this.#observedAt >= 1) {
      this.#observed = nowUnixNano();
      this.#observedAt = ms;
    }
    return this.#observed;
  }

  /** Offers a record to the pipeline; false when it pushed back (then `blocked` is set). */
  offer(record: LogRecord): boolean {
    if (this.#sink!.offerLog(record)) return true;
    this.#blocked = true;
    return false;
  }

  /** A held record without a token gets one once acks have freed a slot; false while they have not. */
  retryHeld(t: FileTail): boolean {
    const held = t.held!;
    if (held.ackToken !== -1) return true;
    const token = t.checkpoint.track(t.heldOffset);
    if (token < 0) return false;
    t.held = { ...held, ackToken: token };
    return true;
  }

  /** Gives out the held multiline entries; false when the pipeline pushed back (the rest stay held). */
  flushJoiner(t: FileTail): boolean {
    const j = t.joiner!;
    for (let e = j.flushOne(); e !== undefined; e = j.flushOne()) {
      if (!this.#emit(t, joined(e, j.holdBack()), nowUnixNano())) return false;
    }
    return true;
  }

  /** A file that ended with an unfinished record: emit what there is. */
  flushAssembler(t: FileTail): void {
    for (;;) {
      const rec = t.assembler.flush();
      if (rec === null) return;
      if (t.joiner !== undefined) {
        settleCarried(rec.carried);
        const e = t.joiner.add({ body: rec.body, timeUnixNano: rec.timeUnixNano, stream: rec.stream, startOffset: rec.startOffset, checkpointOffset: rec.checkpointOffset, truncated: rec.truncated });
        if (e !== undefined && !this.#emit(t, joined(e, t.joiner.holdBack()), nowUnixNano())) return;
        continue;
      }
      const record = this.#record(t, rec, nowUnixNano());
      if (record.ackToken === -1 || !this.offer(record)) return;
    }
  }

  /** Offers one record; false pauses the reader (held for the next turn). */
  #emit(t: FileTail, out: Emit, observed: bigint): boolean {
    const record = this.#record(t, out, observed);
    if (record.ackToken === -1) {
      t.held = record;
      t.heldOffset = out.checkpointOffset;
      return false;
    }
    if (!this.offer(record)) {
      t.held = record;
      return false;
    }
    return true;
  }

  #piece(t: FileTail, buf: Buffer, start: number, end: number, flags: number): LinePiece {
    const more = (flags & LINE_PARTIAL) !== 0;
    if ((flags & LINE_CONTINUED) !== 0 && t.inLongLine) {
      // The next piece of a line longer than the reader's buffer: no header of its own.
      const p = t.longLine;
      p.content = buf;
      p.contentStart = start;
      p.contentEnd = end;
      p.partial = more || t.longTag; // its last piece carries the line's own P/F
      if (!more) t.inLongLine = false;
      return p;
    }
    if (t.file.format === 'plain') {
      const p = this.#plain;
      p.stream = 'stdout';
      p.timeUnixNano = 0n;
      p.content = buf;
      p.contentStart = start;
      p.contentEnd = end;
      p.partial = more;
      return p;
    }
    const parsed: LinePiece = t.file.format === 'cri' ? parseCriLine(buf, start, end, this.#cri) : this.#dockerParser.parse(buf, start, end, this.#docker);
    if (!more || parsed.kind !== 'ok') return parsed;
    // The first piece of a long line: remember its header for the pieces that follow.
    const h = t.longLine;
    t.inLongLine = true;
    t.longTag = parsed.partial;
    h.kind = 'ok';
    h.stream = parsed.stream;
    h.timeUnixNano = parsed.timeUnixNano;
    h.content = parsed.content;
    h.contentStart = parsed.contentStart;
    h.contentEnd = parsed.contentEnd;
    h.partial = true;
    return h;
  }

  /** The record to offer; its ackToken is -1 when the file has too many records in flight (held until acks free a slot). */
  #record(t: FileTail, rec: Emit, observed: bigint): LogRecord {
    const resources = this.#resources;
    if (t.resourceVersion !== resources.version) {
      t.resource = resources.resourceFor(t.file);
      t.resourceVersion = resources.version;
      // A container named only now (Docker's name from the cache) may be one that joins lines.
      t.joiner ??= resources.joinerFor(t.file, t.resource);
    }
    const token = t.checkpoint.track(rec.checkpointOffset);
    // Plain files have no stream; a malformed line's stream is unknown.
    const stream = t.file.format === 'plain' ? undefined : rec.stream;
    const attributes = stream === undefined ? (rec.truncated ? PLAIN_TRUNCATED : EMPTY_ATTRIBUTES) : rec.truncated ? TRUNCATED_ATTRS[stream] : STREAM_ATTRS[stream];
    const severity = detectSeverity(rec.body);
    this.#records[t.file.format].inc();
    if (rec.malformed) this.#problems.inc({ kind: 'malformed' });
    if (rec.truncated) this.#problems.inc({ kind: 'truncated' });
    const ack = rec.carried === undefined ? t.checkpoint : new CarriedAckTarget(t.checkpoint, rec.carried);
    return new LineRecord(t.resource, this.#scope, rec.timeUnixNano === 0n ? observed : rec.timeUnixNano, observed, severity, rec.body, attributes, ack, token);
  }
}

/**
 * A log line as the pipeline's LogRecord, made with `new` rather than as an object literal: V8
 * tracks allocation sites for literals and, once it sees most objects of a site survive a young
 * collection (a backlog, when records wait for the ring, the spool or a slow endpoint), allocates
 * every later one straight in the old generation — where dead records and the bodies they point
 * to wait for a full collection. Measured on the logs bench (V8's heap-space statistics, 4 MiB
 * semi-space): 289 MB promoted to the old space from a literal, 19 MB from this class.
 */
class LineRecord implements LogRecord {
  readonly severityText: string;
  readonly eventName = '';
  constructor(
    readonly resource: Resource,
    readonly scope: Scope,
    readonly timeUnixNano: bigint,
    readonly observedTimeUnixNano: bigint,
    readonly severityNumber: number,
    readonly body: string,
    readonly attributes: Attributes,
    readonly ack: AckTarget,
    readonly ackToken: number,
  ) {
    this.severityText = severityText(severityNumber);
  }
}

/**
 * The ack of a record that began at the end of a rotated file and ended in the file that took its
 * name: settling it settles both files' checkpoints (the token given is the record's own file's).
 */
class CarriedAckTarget implements AckTarget {
  constructor(
    readonly own: AckTarget,
    readonly carried: CarriedAck,
  ) {}

  settle(token: number, ok: boolean): void {
    this.carried.target.settle(this.carried.token, ok);
    this.own.settle(token, ok);
  }
}

function settleCarried(carried: CarriedAck | undefined): void {
  if (carried !== undefined) carried.target.settle(carried.token, true);
}

/** What a record is made from: an assembled record, or a joined multiline entry. */
interface Emit {
  readonly carried?: CarriedAck | undefined;
  readonly body: string;
  readonly stream: LogStream | undefined;
  readonly timeUnixNano: bigint;
  readonly truncated: boolean;
  readonly malformed: boolean;
  readonly checkpointOffset: number;
}

/** A joined entry as a record; its checkpoint never passes an entry still held on the other stream. */
function joined(e: JoinedEntry, holdBack: number): Emit {
  return {
    body: e.body,
    stream: e.stream,
    timeUnixNano: e.timeUnixNano,
    truncated: e.truncated,
    malformed: false,
    checkpointOffset: holdBack >= 0 ? Math.min(e.checkpointOffset, holdBack) : e.checkpointOffset,
  };
}
