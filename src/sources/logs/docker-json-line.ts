/**
 * One line of Docker's json-file log driver (`/var/lib/docker/containers/<id>/<id>-json.log`):
 *
 *   {"log":"hello\n","stream":"stdout","time":"2026-11-25T10:16:51.123456789Z"}
 *
 * Docker always writes the fields in that order with no spaces, so a byte-level fast path reads
 * that shape in place: the `log` string is unescaped into a reused scratch buffer (or, when it
 * holds no backslash, referenced in the line itself: no copy at all). Any other shape (extra
 * `attrs`, another order, whitespace) falls back to JSON.parse of the line.
 *
 * Unescaping follows JSON: \" \\ \/ \b \f \n \r \t and \uXXXX, surrogate pairs joined into one
 * 4-byte UTF-8 character. Deliberately lenient where JSON.parse would reject the line: an
 * invalid escape (`\q`, `\u12G4`) or a lone surrogate becomes U+FFFD, and raw control or
 * non-UTF-8 bytes inside the string pass through (the assembler's decoding replaces the
 * invalid ones). A line the fast path cannot read and JSON.parse rejects is malformed.
 *
 * Partial: Docker splits a long write into `log` values of 16 KiB (16384 unescaped UTF-8 bytes)
 * without a trailing `\n`; such a piece continues in the next line of the same stream.
 *
 * Malformed lines (the rule, as for CRI): not JSON, no string `log`, a `stream` that is not
 * stdout/stderr, or a missing or invalid `time` give `kind: 'malformed'` with the whole raw line
 * as content, `partial: false`, `timeUnixNano: 0n`; the caller counts it and still delivers it as
 * a record of its own with the observed time.
 */
import { parseRfc3339Nano } from '../../io/rfc3339.js';
import { type LogStream, MutablePiece } from './record-assembler.js';

/** Docker's partial-message size: a `log` of exactly this many bytes without `\n` is a piece. */
export const DOCKER_PARTIAL_BYTES = 16 * 1024;

const C_QUOTE = 0x22;
const C_BACKSLASH = 0x5c;
const C_NL = 0x0a;

/** `{"log":"` */
const PREFIX = Buffer.from('{"log":"', 'latin1');
/** `","stream":"` */
const STREAM_KEY = Buffer.from('","stream":"', 'latin1');
/** `","time":"` */
const TIME_KEY = Buffer.from('","time":"', 'latin1');
const STDOUT = Buffer.from('stdout', 'latin1');
const STDERR = Buffer.from('stderr', 'latin1');
const MAX_TIMESTAMP_BYTES = 40;
/** Scratch space kept between lines; above it the buffer shrinks back when lines are short. */
const SCRATCH_KEEP_BYTES = 256 * 1024;


/** The result of a parse; one instance per reader, overwritten by every call. */
/**
 * Its `content` is the input line itself (no escapes) or the parser's scratch buffer (valid until
 * the next parse).
 */
export class DockerJsonLine extends MutablePiece {}

/** `buf[i, i + lit.length)` equals `lit`. */
function matches(buf: Buffer, i: number, end: number, lit: Buffer): boolean {
  if (i + lit.length > end) return false;
  for (let k = 0; k < lit.length; k++) if (buf[i + k] !== lit[k]) return false;
  return true;
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Four hex digits at `i` (bounded by `end`), or -1. */
function hex4(buf: Buffer, i: number, end: number): number {
  if (i + 4 > end) return -1;
  const a = hexValue(buf[i]);
  const b = hexValue(buf[i + 1]);
  const c = hexValue(buf[i + 2]);
  const d = hexValue(buf[i + 3]);
  if (a < 0 || b < 0 || c < 0 || d < 0) return -1;
  return (a << 12) | (b << 8) | (c << 4) | d;
}

export class DockerJsonLineParser {
  /** Lines that needed the JSON.parse fallback (a hint that the fast path misses a shape). */
  slowPathLines = 0;
  #scratch: Buffer = Buffer.allocUnsafe(4096);
  /** Bytes written to the scratch buffer by the last unescape. */
  #scratchLength = 0;

  /**
   * Parses `buf[start, end)` (one line, without its newline) into `out` and returns `out`.
   * Never throws, whatever the bytes.
   */
  parse(buf: Buffer, start: number, end: number, out: DockerJsonLine): DockerJsonLine {
    if (start < 0) start = 0;
    if (end > buf.length) end = buf.length;
    if (end < start) end = start;
    // Docker writes `\n` line ends; tolerate a CR-LF copy of a file.
    let e = end;
    if (e > start && buf[e - 1] === 0x0d) e--;
    if (this.#fast(buf, start, e, out)) return out;
    return this.#slow(buf, start, end, out);
  }

  /** The usual shape, read in place. False when the line is not exactly that shape. */
  #fast(buf: Buffer, start: number, end: number, out: DockerJsonLine): boolean {
    if (!matches(buf, start, end, PREFIX)) return false;
    let i = start + PREFIX.length;
    const logStart = i;
    // Find the closing quote; plain bytes need no copy.
    while (i < end) {
      const c = buf[i] as number;
      if (c === C_QUOTE || c === C_BACKSLASH) break;
      i++;
    }
    if (i >= end) return false;
    let content: Buffer;
    let contentStart: number;
    let contentEnd: number;
    if (buf[i] === C_QUOTE) {
      content = buf;
      contentStart = logStart;
      contentEnd = i;
    } else {
      const stop = this.#unescape(buf, logStart, i, end);
      if (stop < 0) return false;
      content = this.#scratch;
      contentStart = 0;
      contentEnd = this.#scratchLength;
      i = stop;
    }
    // i is at the closing quote of `log`.
    if (!matches(buf, i, end, STREAM_KEY)) return false;
    i += STREAM_KEY.length;
    let stream: LogStream;
    if (matches(buf, i, end, STDOUT)) stream = 'stdout';
    else if (matches(buf, i, end, STDERR)) stream = 'stderr';
    else return false;
    i += 6;
    if (!matches(buf, i, end, TIME_KEY)) return false;
    i += TIME_KEY.length;
    const timeStart = i;
    const timeLimit = Math.min(end, i + MAX_TIMESTAMP_BYTES);
    while (i < timeLimit && buf[i] !== C_QUOTE) i++;
    // The line must end right after `"}`.
    if (i + 2 !== end || buf[i] !== C_QUOTE || buf[i + 1] !== 0x7d) return false;
    const time = parseRfc3339Nano(buf.toString('latin1', timeStart, i));
    if (time === undefined) return false; // the slow path decides (and will call it malformed)

    out.kind = 'ok';
    out.reason = '';
    out.stream = stream;
    out.timeUnixNano = time;
    out.content = content;
    out.contentStart = contentStart;
    out.contentEnd = contentEnd;
    out.partial = contentEnd - contentStart === DOCKER_PARTIAL_BYTES && content[contentEnd - 1] !== C_NL;
    // The newline Docker keeps at the end of a complete line ends the record; it is not content.
    if (!out.partial && contentEnd > contentStart && content[contentEnd - 1] === C_NL) out.contentEnd = contentEnd - 1;
    return true;
  }

  /**
   * A scratch buffer of at least `need` bytes. It grows in doublings and is given back once it is
   * far larger than the lines being read, so one 50 MB line does not pin 75 MB for good.
   */
  #ensureScratch(need: number): Buffer {
    const have = this.#scratch.length;
    if (have < need) {
      this.#scratch = Buffer.allocUnsafe(Math.max(need, have * 2));
    } else if (have > SCRATCH_KEEP_BYTES && have > need * 4) {
      this.#scratch = Buffer.allocUnsafe(Math.max(need, 4096));
    }
    return this.#scratch;
  }

  /**
   * Unescapes the JSON string starting at `from` (its first backslash at `bs`) into the scratch
   * buffer; returns the index of the closing quote, or -1 when the string does not close.
   */
  #unescape(buf: Buffer, from: number, bs: number, end: number): number {
    // Output never exceeds 1.5x the input: the worst case is a 2-byte invalid escape becoming
    // the 3-byte U+FFFD; \uXXXX (6 bytes) yields at most 3 bytes, a pair (12) yields 4.
    const dst = this.#ensureScratch(Math.ceil((end - from) * 1.5) + 8);
    let o = buf.copy(dst, 0, from, bs);
    let i = bs;
    while (i < end) {
      const c = buf[i] as number;
      if (c === C_QUOTE) {
        this.#scratchLength = o;
        return i;
      }
      if (c !== C_BACKSLASH) {
        dst[o++] = c;
        i++;
        continue;
      }
      const esc = buf[i + 1];
      if (esc === undefined || i + 1 >= end) return -1; // a backslash at the end: no closing quote
      i += 2;
      switch (esc) {
        case 0x22: dst[o++] = 0x22; break; // \"
        case 0x5c: dst[o++] = 0x5c; break; // \\
        case 0x2f: dst[o++] = 0x2f; break; // \/
        case 0x62: dst[o++] = 0x08; break; // \b
        case 0x66: dst[o++] = 0x0c; break; // \f
        case 0x6e: dst[o++] = 0x0a; break; // \n
        case 0x72: dst[o++] = 0x0d; break; // \r
        case 0x74: dst[o++] = 0x09; break; // \t
        case 0x75: { // \uXXXX
          let cp = hex4(buf, i, end);
          if (cp < 0) {
            cp = 0xfffd; // bad hex: the `\u` becomes U+FFFD, the rest is read as text
          } else {
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
              const lo = buf[i] === C_BACKSLASH && buf[i + 1] === 0x75 ? hex4(buf, i + 2, end) : -1;
              if (lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
              } else {
                cp = 0xfffd; // a lone high surrogate
              }
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
              cp = 0xfffd; // a lone low surrogate
            }
          }
          if (cp < 0x80) {
            dst[o++] = cp;
          } else if (cp < 0x800) {
            dst[o++] = 0xc0 | (cp >> 6);
            dst[o++] = 0x80 | (cp & 0x3f);
          } else if (cp < 0x10000) {
            dst[o++] = 0xe0 | (cp >> 12);
            dst[o++] = 0x80 | ((cp >> 6) & 0x3f);
            dst[o++] = 0x80 | (cp & 0x3f);
          } else {
            dst[o++] = 0xf0 | (cp >> 18);
            dst[o++] = 0x80 | ((cp >> 12) & 0x3f);
            dst[o++] = 0x80 | ((cp >> 6) & 0x3f);
            dst[o++] = 0x80 | (cp & 0x3f);
          }
          break;
        }
        default: // an invalid escape: U+FFFD in place of the backslash and its character
          dst[o++] = 0xef;
          dst[o++] = 0xbf;
          dst[o++] = 0xbd;
      }
    }
    return -1;
  }

  /** Any other shape, through JSON.parse. */
  #slow(buf: Buffer, start: number, end: number, out: DockerJsonLine): DockerJsonLine {
    this.slowPathLines++;
    let value: unknown;
    try {
      value = JSON.parse(buf.toString('utf8', start, end));
    } catch {
      return out.setMalformed('json', buf, start, end);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return out.setMalformed('json', buf, start, end);
    }
    const rec = value as Record<string, unknown>;
    const log = rec['log'];
    const stream = rec['stream'];
    const time = rec['time'];
    if (typeof log !== 'string' || (stream !== 'stdout' && stream !== 'stderr') || typeof time !== 'string') {
      return out.setMalformed('field', buf, start, end);
    }
    const t = parseRfc3339Nano(time);
    if (t === undefined) return out.setMalformed('field', buf, start, end);
    // Lone surrogates from JSON.parse encode as U+FFFD here, as in the fast path.
    const n = this.#ensureScratch(log.length * 3).write(log, 0, 'utf8');
    out.kind = 'ok';
    out.reason = '';
    out.stream = stream;
    out.timeUnixNano = t;
    out.content = this.#scratch;
    out.contentStart = 0;
    out.contentEnd = n;
    out.partial = n === DOCKER_PARTIAL_BYTES && this.#scratch[n - 1] !== C_NL;
    if (!out.partial && n > 0 && this.#scratch[n - 1] === C_NL) out.contentEnd = n - 1;
    return out;
  }
}
