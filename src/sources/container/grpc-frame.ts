/**
 * gRPC's length-prefixed message framing, as the gRPC-over-HTTP/2 protocol defines it: every
 * message in a request or answer body is one byte of compressed-flag (0: not compressed), four
 * bytes of big-endian length, then the message. A unary answer carries exactly one message.
 * Pure code over bytes: no I/O, and the input is untrusted (a runtime can answer anything).
 */

/** The flag byte and the 4-byte length. */
export const GRPC_FRAME_HEADER_BYTES = 5;

/** One uncompressed message in its frame. */
export function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(GRPC_FRAME_HEADER_BYTES + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, GRPC_FRAME_HEADER_BYTES);
  return out;
}

/**
 * What went wrong with an answer body: `too-large` when the length prefix says more than the cap
 * (known before the bytes arrive, so nothing that large is ever held), `malformed` for anything
 * else that is not one uncompressed message (a compressed or unknown flag, a second message, a
 * frame cut short).
 */
export type GrpcFrameProblem = { readonly kind: 'too-large' | 'malformed'; readonly text: string };

/**
 * Reads the one message of a unary answer from the DATA chunks as they come. `push` returns a
 * problem as soon as one is certain (the caller then cancels the stream); `finish` at the end of
 * the stream says whether a whole message arrived. A message that lies within one chunk is a
 * view of that chunk (no copy); one split over chunks is copied once into a buffer of its size.
 */
export class UnaryFrameReader {
  readonly #maxBytes: number;
  readonly #header = Buffer.alloc(GRPC_FRAME_HEADER_BYTES);
  #headerFill = 0;
  #message: Buffer | undefined;
  #messageFill = 0;
  #complete = false;
  #problem: GrpcFrameProblem | undefined;

  /** `maxBytes`: the largest message accepted (the prefix's length, not counting the 5 bytes). */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Takes the next chunk; returns the problem once the body cannot be one good message. */
  push(chunk: Uint8Array): GrpcFrameProblem | undefined {
    if (this.#problem !== undefined) return this.#problem;
    let at = 0;
    while (at < chunk.length) {
      if (this.#complete) return this.#fail('malformed', 'more than one message in a unary answer');
      if (this.#message === undefined) {
        const take = Math.min(GRPC_FRAME_HEADER_BYTES - this.#headerFill, chunk.length - at);
        this.#header.set(chunk.subarray(at, at + take), this.#headerFill);
        this.#headerFill += take;
        at += take;
        if (this.#headerFill < GRPC_FRAME_HEADER_BYTES) break;
        const flag = this.#header[0];
        // We send no grpc-accept-encoding, so a conforming server never compresses.
        if (flag !== 0) return this.#fail('malformed', flag === 1 ? 'compressed message (no compression was offered)' : `frame flag ${String(flag)}`);
        const length = this.#header.readUInt32BE(1);
        if (length > this.#maxBytes) return this.#fail('too-large', `message of ${length} bytes, more than the ${this.#maxBytes} accepted`);
        if (chunk.length - at >= length) {
          this.#message = Buffer.from(chunk.buffer, chunk.byteOffset + at, length);
          this.#messageFill = length;
          at += length;
          this.#complete = true;
          continue;
        }
        this.#message = Buffer.allocUnsafe(length);
        this.#messageFill = 0;
      }
      const take = Math.min(this.#message.length - this.#messageFill, chunk.length - at);
      this.#message.set(chunk.subarray(at, at + take), this.#messageFill);
      this.#messageFill += take;
      at += take;
      if (this.#messageFill === this.#message.length) this.#complete = true;
    }
    return undefined;
  }

  /** At the end of the stream: the message, or the problem (none, or one cut short). */
  finish(): Buffer | GrpcFrameProblem {
    if (this.#problem !== undefined) return this.#problem;
    if (this.#complete && this.#message !== undefined) return this.#message;
    if (this.#headerFill === 0) return this.#fail('malformed', 'no message in the answer');
    if (this.#message === undefined) return this.#fail('malformed', `answer cut short in a frame header (${this.#headerFill} of 5 bytes)`);
    return this.#fail('malformed', `answer cut short (${this.#messageFill} of ${this.#message.length} message bytes)`);
  }

  #fail(kind: GrpcFrameProblem['kind'], text: string): GrpcFrameProblem {
    this.#problem = { kind, text };
    this.#message = undefined;
    return this.#problem;
  }
}
