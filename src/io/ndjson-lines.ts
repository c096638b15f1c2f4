import { TextDecoder } from 'node:util';

/**
 * Splits a newline-delimited stream (a Kubernetes watch, Docker's /events: one JSON object per
 * line) into lines as chunks arrive, without holding more than one line. Chunk boundaries may
 * fall anywhere, mid-line and mid-UTF-8-sequence: bytes are kept until the newline and decoded
 * then. A line over `maxLineBytes` is skipped up to its newline; with `utf8: 'strict'` a line
 * that is not valid UTF-8 is skipped (with 'replace' its bad bytes become U+FFFD); what remains
 * at the end of the stream without a newline is a truncated line and is skipped. Each skip is
 * counted by reason, never thrown: the stream goes on with the next line.
 */

export interface LineDrops {
  oversized: number;
  invalid_utf8: number;
  truncated: number;
}

const NEWLINE = 0x0a;

export class NdjsonLines {
  readonly #maxLineBytes: number;
  // strict (fatal): a malformed byte sequence throws instead of turning into U+FFFD, so the line
  // is dropped rather than parsed into an object with damaged names.
  readonly #decoder: TextDecoder;
  /** Pieces of the line in progress (a line can span many chunks). */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Inside an oversized line: everything up to the next newline is discarded. */
  #skipping = false;
  readonly drops: LineDrops = { oversized: 0, invalid_utf8: 0, truncated: 0 };

  constructor(maxLineBytes: number, utf8: 'strict' | 'replace' = 'strict') {
    this.#maxLineBytes = maxLineBytes;
    this.#decoder = new TextDecoder('utf-8', { fatal: utf8 === 'strict' });
  }

  /** Feeds one chunk; `onLine` gets each complete line (without its newline), in order. */
  push(chunk: Buffer, onLine: (line: string) => void): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? chunk.length : nl;
      if (this.#skipping) {
        if (nl === -1) return;
        this.#skipping = false;
        start = nl + 1;
        continue;
      }
      const size = this.#pendingBytes + (end - start);
      if (size > this.#maxLineBytes) {
        this.drops.oversized++;
        this.#pending = [];
        this.#pendingBytes = 0;
        if (nl === -1) {
          this.#skipping = true;
          return;
        }
        start = nl + 1;
        continue;
      }
      if (nl === -1) {
        // Copied: the caller may reuse the chunk's memory once push returns.
        this.#pending.push(Buffer.from(chunk.subarray(start)));
        this.#pendingBytes = size;
        return;
      }
      let bytes = chunk.subarray(start, end);
      if (this.#pendingBytes > 0) {
        this.#pending.push(bytes);
        bytes = Buffer.concat(this.#pending, size);
        this.#pending = [];
        this.#pendingBytes = 0;
      }
      start = nl + 1;
      if (bytes.length === 0 || (bytes.length === 1 && bytes[0] === 0x0d)) continue;
      let line: string;
      try {
        line = this.#decoder.decode(bytes);
      } catch {
        this.drops.invalid_utf8++;
        continue;
      }
      onLine(line);
    }
  }

  /** The stream ended: a line without its newline is an event cut off mid-way. */
  end(): void {
    if (this.#pendingBytes > 0 || this.#skipping) {
      if (!this.#skipping) this.drops.truncated++;
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#skipping = false;
    }
  }

  /** Takes the counts since the last call (the caller adds them to its counters). */
  takeDrops(): LineDrops {
    const d = { ...this.drops };
    this.drops.oversized = this.drops.invalid_utf8 = this.drops.truncated = 0;
    return d;
  }
}
