/**
 * Reads the `partial_success` of an OTLP Export*ServiceResponse. The three responses (logs,
 * metrics, traces) share one shape: field 1 is a message whose field 1 is the rejected count
 * (int64) and field 2 the error message. A body that is empty, truncated or not protobuf at
 * all reads as "nothing rejected": a 2xx is a success whatever its body says.
 */

export interface PartialSuccess {
  readonly rejected: number;
  readonly message: string;
}

export const NO_PARTIAL_SUCCESS: PartialSuccess = Object.freeze({ rejected: 0, message: '' });

/** Longest error message kept from a response. */
export const MAX_MESSAGE_CHARS = 200;

class Cursor {
  pos: number;
  readonly end: number;
  readonly buf: Uint8Array;
  constructor(buf: Uint8Array, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** A varint as a number (exact below 2^53), or -1 if truncated/overlong. */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) return -1;
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    return -1;
  }

  /** Skips a field of `wire` type; false if malformed. */
  skip(wire: number): boolean {
    switch (wire) {
      case 0:
        return this.varint() >= 0;
      case 1:
        this.pos += 8;
        return this.pos <= this.end;
      case 2: {
        const len = this.varint();
        if (len < 0) return false;
        this.pos += len;
        return this.pos <= this.end;
      }
      case 5:
        this.pos += 4;
        return this.pos <= this.end;
      default:
        return false;
    }
  }
}

export function decodePartialSuccess(body: Uint8Array): PartialSuccess {
  const top = new Cursor(body, 0, body.length);
  let result = NO_PARTIAL_SUCCESS;
  while (top.pos < top.end) {
    const tag = top.varint();
    if (tag < 0) return NO_PARTIAL_SUCCESS;
    if (tag === 0x0a) {
      const len = top.varint();
      if (len < 0 || top.pos + len > top.end) return NO_PARTIAL_SUCCESS;
      const inner = decodeInner(new Cursor(body, top.pos, top.pos + len));
      if (inner === undefined) return NO_PARTIAL_SUCCESS;
      result = inner;
      top.pos += len;
    } else if (!top.skip(tag & 7)) {
      return NO_PARTIAL_SUCCESS;
    }
  }
  return result;
}

function decodeInner(c: Cursor): PartialSuccess | undefined {
  let rejected = 0;
  let message = '';
  while (c.pos < c.end) {
    const tag = c.varint();
    if (tag < 0) return undefined;
    if (tag === 0x08) {
      const v = c.varint();
      if (v < 0) return undefined;
      // A negative int64 arrives as a 10-byte varint >= 2^63: not a count, read as 0.
      rejected = v < 2 ** 63 ? v : 0;
    } else if (tag === 0x12) {
      const len = c.varint();
      if (len < 0 || c.pos + len > c.end) return undefined;
      const take = Math.min(len, MAX_MESSAGE_CHARS * 4);
      message = Buffer.from(c.buf.buffer, c.buf.byteOffset + c.pos, take).toString('utf8').slice(0, MAX_MESSAGE_CHARS);
      c.pos += len;
    } else if (!c.skip(tag & 7)) {
      return undefined;
    }
  }
  return { rejected, message };
}
