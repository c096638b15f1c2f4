import type { IncomingMessage } from 'node:http';
import { createGunzip, gunzipSync, type Gunzip } from 'node:zlib';
import { IngestError } from '../errors.js';

export interface BodyLimits {
  /** Bytes on the wire (compressed). */
  readonly maxRequestBytes: number;
  /** Bytes after gzip. */
  readonly maxDecompressedBytes: number;
}

/** Why a body could not be read; `reason` is the `rejected_total` label. */
export class BodyError extends IngestError {
  readonly reason: 'too_large' | 'decompressed_too_large' | 'bad_gzip' | 'aborted';
  constructor(status: number, reason: BodyError['reason'], message: string) {
    super(status, message);
    this.reason = reason;
  }
}

/**
 * Reads a request body into one Buffer, enforcing both limits while the bytes arrive:
 * the compressed count as each chunk comes off the socket (a chunked upload with no
 * Content-Length is cut at the limit), the decompressed count as the inflater emits output, so a
 * gzip bomb is stopped at `maxDecompressedBytes` of output — it is never inflated fully first.
 *
 * On failure the request is paused, not destroyed: the caller still answers (413/400) and closes
 * the connection after the answer.
 */
export interface ReadBody {
  /** The (decompressed) body. */
  readonly body: Buffer;
  /** Bytes as they came off the wire. */
  readonly wireBytes: number;
}

/** A gzip body up to this many compressed bytes is inflated in one call when it has all come. */
const SYNC_GUNZIP_MAX = 64 * 1024;
/** …and its output buffer sized from the gzip trailer up to this (larger: zlib's own chunks). */
const SYNC_OUTPUT_HINT_MAX = 4 * 1024 * 1024;

/**
 * Inflates one gzip body into `output`, sized from its trailer: output.length for the plain case
 * (one member of exactly that length), -1 for anything else, which Node's gunzip then answers.
 * The native addon's (src/native/gunzip.ts).
 */
export type GunzipInto = (input: Uint8Array, output: Uint8Array) => number;

/** `gunzipInto`: the native addon's inflater, tried first on a small gzip body. */
export function readBody(req: IncomingMessage, gzip: boolean, limits: BodyLimits, gunzipInto?: GunzipInto): Promise<ReadBody> {
  return new Promise<ReadBody>((resolve, reject) => {
    new BodyRead(req, gzip, limits, resolve, reject, gunzipInto).start();
  });
}

/** One read in progress. A class, so the listeners are methods bound once per request. */
class BodyRead {
  readonly #req: IncomingMessage;
  readonly #limits: BodyLimits;
  readonly #resolve: (r: ReadBody) => void;
  readonly #reject: (e: Error) => void;
  /** gzip: the inflater, once the body has outgrown SYNC_GUNZIP_MAX (undefined before). */
  #inflater: Gunzip | undefined;
  readonly #gzip: boolean;
  readonly #gunzipInto: GunzipInto | undefined;
  /** gzip bodies up to SYNC_GUNZIP_MAX: the compressed chunks, inflated in one call at the end. */
  #compressed: Buffer[] | undefined;
  readonly #parts: Buffer[] = [];
  #inBytes = 0;
  #outBytes = 0;
  #done = false;

  readonly #onData = (chunk: Buffer): void => {
    if (this.#done) return;
    this.#inBytes += chunk.length;
    if (this.#inBytes > this.#limits.maxRequestBytes) {
      this.#fail(new BodyError(413, 'too_large', `request body exceeds ${this.#limits.maxRequestBytes} bytes`));
      return;
    }
    if (!this.#gzip) {
      this.#onOutput(chunk);
      return;
    }
    if (this.#compressed !== undefined) {
      if (this.#inBytes <= SYNC_GUNZIP_MAX) {
        this.#compressed.push(chunk);
        return;
      }
      // Too large to inflate in one call on the event loop: stream from here on.
      const inflater = this.#startInflater();
      for (const c of this.#compressed) inflater.write(c);
      this.#compressed = undefined;
    }
    // Backpressure: stop reading the socket while the inflater has work queued.
    if (!this.#inflater!.write(chunk)) {
      this.#req.pause();
      this.#inflater!.once('drain', this.#onDrain);
    }
  };

  readonly #onDrain = (): void => {
    if (!this.#done) this.#req.resume();
  };

  readonly #onOutput = (chunk: Buffer): void => {
    if (this.#done) return;
    this.#outBytes += chunk.length;
    if (this.#outBytes > this.#limits.maxDecompressedBytes) {
      this.#fail(new BodyError(413, 'decompressed_too_large', `decompressed body exceeds ${this.#limits.maxDecompressedBytes} bytes`));
      return;
    }
    this.#parts.push(chunk);
  };

  readonly #onEnd = (): void => {
    if (this.#done) return;
    if (this.#inflater !== undefined) this.#inflater.end();
    else if (this.#compressed !== undefined) this.#inflateAll(this.#compressed);
    else this.#finish();
  };

  /**
   * A small gzip body in one synchronous call: the same inflater and the same output limit as
   * the stream, without a thread-pool round trip and a stream event per chunk (measured: the
   * streaming gunzip's JavaScript was ~10% of the gateway's CPU on 4 KB log requests).
   */
  #inflateAll(compressed: Buffer[]): void {
    const input = compressed.length === 1 ? compressed[0]! : Buffer.concat(compressed, this.#inBytes);
    // The gzip trailer's size sizes the output buffer: the body is then that whole buffer, which
    // its holders need not copy to own it (a lie, or several members, only costs a concat).
    const size = input.length >= 18 ? input.readUInt32LE(input.length - 4) : 0;
    const chunkSize = size >= 64 && size <= Math.min(SYNC_OUTPUT_HINT_MAX, this.#limits.maxDecompressedBytes) ? size : undefined;
    if (chunkSize !== undefined && this.#gunzipInto !== undefined) {
      // Unpooled: the body owns its whole buffer, as gunzipSync's does.
      const into = Buffer.allocUnsafeSlow(chunkSize);
      if (this.#gunzipInto(input, into) === chunkSize) {
        this.#onOutput(into);
        this.#finish();
        return;
      }
      // Not the plain case (a lying trailer, more members, bad data): Node's gunzip answers.
    }
    let out: Buffer;
    try {
      out = gunzipSync(input, { maxOutputLength: this.#limits.maxDecompressedBytes, ...(chunkSize === undefined ? {} : { chunkSize }) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        this.#fail(new BodyError(413, 'decompressed_too_large', `decompressed body exceeds ${this.#limits.maxDecompressedBytes} bytes`));
      } else this.#onInflateError();
      return;
    }
    this.#onOutput(out);
    this.#finish();
  }

  readonly #onInflateEnd = (): void => {
    this.#finish();
  };

  readonly #onInflateError = (): void => {
    // zlib's message ("incorrect header check", "unexpected end of file") is short and safe.
    this.#fail(new BodyError(400, 'bad_gzip', 'body is not a valid gzip stream'));
  };

  readonly #onAborted = (): void => {
    this.#fail(new BodyError(400, 'aborted', 'request aborted by the client'));
  };

  constructor(req: IncomingMessage, gzip: boolean, limits: BodyLimits, resolve: (r: ReadBody) => void, reject: (e: Error) => void, gunzipInto?: GunzipInto) {
    this.#req = req;
    this.#gunzipInto = gunzipInto;
    this.#limits = limits;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#gzip = gzip;
    if (gzip) this.#compressed = [];
  }

  #startInflater(): Gunzip {
    const inflater = createGunzip();
    inflater.on('data', this.#onOutput);
    inflater.on('end', this.#onInflateEnd);
    inflater.on('error', this.#onInflateError);
    this.#inflater = inflater;
    return inflater;
  }

  start(): void {
    this.#req.on('data', this.#onData);
    this.#req.on('end', this.#onEnd);
    this.#req.on('error', this.#onAborted);
    // 'close' before 'end' means the client went away mid-body.
    this.#req.on('close', this.#onClose);
  }

  readonly #onClose = (): void => {
    if (!this.#req.complete) this.#onAborted();
  };

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#detach();
    const parts = this.#parts;
    const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#outBytes);
    this.#resolve({ body, wireBytes: this.#inBytes });
  }

  #fail(err: BodyError): void {
    if (this.#done) return;
    this.#done = true;
    this.#detach();
    this.#req.pause();
    this.#parts.length = 0;
    this.#compressed = undefined;
    this.#reject(err);
  }

  #detach(): void {
    this.#req.off('data', this.#onData);
    this.#req.off('end', this.#onEnd);
    this.#req.off('close', this.#onClose);
    // The 'error' listener stays: an error after we are done must not become an uncaught exception.
    const inflater = this.#inflater;
    if (inflater !== undefined) {
      inflater.off('data', this.#onOutput);
      inflater.off('drain', this.#onDrain);
      // destroy() stops inflating at once; the remaining compressed input is never expanded.
      inflater.destroy();
    }
  }
}
