import type { LogStream } from './record-assembler.js';

/**
 * Joins a stack trace's lines into one record: a record whose body matches the start pattern
 * begins a new entry; any other record continues the entry held on its stream (joined with `\n`).
 * An entry is given out when the next one starts, when its file has nothing more to read for now
 * (a trace is written in one burst), or when it would grow past `maxBytes` (then it is given out
 * as it is and the continuation starts a new entry, marked as cut).
 *
 * At least once: the entry held on one stream has not been offered yet, so a record given out on
 * the other stream must not let its file's checkpoint pass the held entry's first line;
 * `holdBack()` says where that is.
 */
export interface JoinedEntry {
  body: string;
  timeUnixNano: bigint;
  stream: LogStream | undefined;
  /** File offset of the entry's first line. */
  startOffset: number;
  /** Where the checkpoint may go once this entry is acknowledged. */
  checkpointOffset: number;
  truncated: boolean;
  /** UTF-8 bytes of `body`, kept to bound the entry without re-measuring it. */
  bytes: number;
}

export interface JoinInput {
  readonly body: string;
  readonly timeUnixNano: bigint;
  readonly stream: LogStream | undefined;
  readonly startOffset: number;
  readonly checkpointOffset: number;
  readonly truncated: boolean;
}

export class MultilineJoiner {
  readonly #start: RegExp;
  readonly #maxBytes: number;
  #stdout: JoinedEntry | undefined;
  #stderr: JoinedEntry | undefined;
  /** Entries cut at maxBytes. */
  cut = 0;

  constructor(start: RegExp, maxBytes: number) {
    this.#start = start;
    this.#maxBytes = maxBytes;
  }

  /** Adds one record; returns the entry it completes, if any (at most one). */
  add(r: JoinInput): JoinedEntry | undefined {
    const held = this.#held(r.stream);
    const bytes = Buffer.byteLength(r.body);
    if (held !== undefined && !this.#start.test(r.body)) {
      if (held.bytes + 1 + bytes <= this.#maxBytes) {
        held.body += '\n' + r.body;
        held.bytes += 1 + bytes;
        held.checkpointOffset = r.checkpointOffset;
        held.truncated ||= r.truncated;
        return undefined;
      }
      this.cut++;
      held.truncated = true;
    }
    this.#set(r.stream, { body: r.body, timeUnixNano: r.timeUnixNano, stream: r.stream, startOffset: r.startOffset, checkpointOffset: r.checkpointOffset, truncated: r.truncated, bytes });
    return held;
  }

  /**
   * Gives out the earliest entry held (the file has nothing more to read for now, or is done);
   * call until undefined. One at a time, so a caller the pipeline pushes back loses nothing.
   */
  flushOne(): JoinedEntry | undefined {
    const a = this.#stdout;
    const b = this.#stderr;
    if (a !== undefined && (b === undefined || a.startOffset <= b.startOffset)) {
      this.#stdout = undefined;
      return a;
    }
    this.#stderr = undefined;
    return b;
  }

  /** The first line of an entry still held, which no checkpoint may pass; -1 when none. */
  holdBack(): number {
    const a = this.#stdout?.startOffset ?? -1;
    const b = this.#stderr?.startOffset ?? -1;
    if (a < 0) return b;
    if (b < 0) return a;
    return Math.min(a, b);
  }

  #held(stream: LogStream | undefined): JoinedEntry | undefined {
    return stream === 'stderr' ? this.#stderr : this.#stdout;
  }

  #set(stream: LogStream | undefined, e: JoinedEntry): void {
    if (stream === 'stderr') this.#stderr = e;
    else this.#stdout = e;
  }
}
