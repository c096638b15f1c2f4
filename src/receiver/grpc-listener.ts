import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { gunzipSync } from 'node:zlib';
import type { OtlpSignal } from '../export/types.js';
import { kSender } from './http-listener.js';
import type { OtlpReceiver, Sender } from './otlp-receiver.js';
import type { Transport } from './receiver-metrics.js';

/** The OTLP/gRPC methods, as the exporters call them. */
const METHODS = new Map<string, OtlpSignal>([
  ['/opentelemetry.proto.collector.trace.v1.TraceService/Export', 'traces'],
  ['/opentelemetry.proto.collector.metrics.v1.MetricsService/Export', 'metrics'],
  ['/opentelemetry.proto.collector.logs.v1.LogsService/Export', 'logs'],
]);

// gRPC status codes (grpc/doc/statuscodes.md).
const OK = 0;
const INVALID_ARGUMENT = 3;
const RESOURCE_EXHAUSTED = 8;
const PERMISSION_DENIED = 7;
const UNIMPLEMENTED = 12;
const INTERNAL = 13;
const UNAVAILABLE = 14;

/** An empty Export*ServiceResponse in its frame: flag 0, length 0. */
const EMPTY_RESPONSE_FRAME = Buffer.alloc(5);

export interface GrpcLimits {
  /** Bytes of the framed message on the wire. */
  readonly maxRequestBytes: number;
  /** Bytes after gzip. */
  readonly maxDecompressedBytes: number;
}

/**
 * OTLP/gRPC for the receiver over `node:http2` (h2c): the three `Export` methods, one
 * length-prefixed message each, gzip (`grpc-encoding`) inflated with a cap. A full ring answers
 * UNAVAILABLE, which OTLP exporters retry; a forbidden sender PERMISSION_DENIED. Hand-written on
 * the HTTP/2 stream so the agent loads no gRPC library for it.
 */
export class GrpcHandler {
  readonly #receiver: OtlpReceiver;
  readonly #limits: GrpcLimits;
  readonly #transport: Transport;

  constructor(receiver: OtlpReceiver, limits: GrpcLimits, transport: Transport) {
    this.#receiver = receiver;
    this.#limits = limits;
    this.#transport = transport;
  }

  readonly handle = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    try {
      this.#handle(stream, headers);
    } catch {
      finish(stream, INTERNAL, 'internal error');
    }
  };

  #sender(stream: ServerHttp2Stream): Sender {
    const socket = stream.session?.socket as unknown as ({ [kSender]?: Sender; remoteAddress?: string } | undefined);
    const own = socket?.[kSender];
    if (own !== undefined) return own;
    const address = socket?.remoteAddress;
    const identity = address !== undefined && this.#receiver.allowed(address) ? this.#receiver.identifyAddress(address) : { by: 'none' as const, podUid: undefined, containerId: undefined, local: false };
    return { transport: this.#transport, address, identity };
  }

  #handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const sender = this.#sender(stream);
    const signal = METHODS.get(String(headers[':path']));
    if (signal === undefined) {
      this.#receiver.refused(undefined, sender, 'not_found', 'not_found');
      return finish(stream, UNIMPLEMENTED, 'unknown method: the receiver serves the OTLP trace, metrics and logs Export methods');
    }
    const contentType = String(headers['content-type'] ?? '');
    if (!contentType.startsWith('application/grpc') || headers[':method'] !== 'POST') {
      this.#receiver.refused(signal, sender, 'unsupported', 'content_type');
      return finish(stream, UNIMPLEMENTED, 'not a gRPC request');
    }
    if (sender.transport !== 'socket' && (sender.address === undefined || !this.#receiver.allowed(sender.address))) {
      const o = this.#receiver.forbidden(signal, sender);
      return finish(stream, PERMISSION_DENIED, o.ok ? '' : o.message);
    }
    const encoding = String(headers['grpc-encoding'] ?? 'identity');
    if (encoding !== 'identity' && encoding !== 'gzip') {
      this.#receiver.refused(signal, sender, 'unsupported', 'content_encoding');
      return finish(stream, UNIMPLEMENTED, `unsupported grpc-encoding ${encoding.slice(0, 32)}: use gzip or identity`);
    }
    const parts: Buffer[] = [];
    let size = 0;
    let done = false;
    stream.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > this.#limits.maxRequestBytes + 5) {
        done = true;
        this.#receiver.refused(signal, sender, 'too_large', 'too_large');
        finish(stream, RESOURCE_EXHAUSTED, `message exceeds ${this.#limits.maxRequestBytes} bytes`);
        return;
      }
      parts.push(chunk);
    });
    stream.on('end', () => {
      if (done) return;
      done = true;
      this.#message(stream, signal, sender, Buffer.concat(parts, size), encoding === 'gzip');
    });
    stream.on('error', () => {
      done = true;
    });
  }

  #message(stream: ServerHttp2Stream, signal: OtlpSignal, sender: Sender, framed: Buffer, gzip: boolean): void {
    if (framed.length < 5 || framed.readUInt32BE(1) !== framed.length - 5 || framed[0]! > 1) {
      this.#receiver.refused(signal, sender, 'bad_request', 'bad_frame');
      return finish(stream, INVALID_ARGUMENT, 'expected one length-prefixed message');
    }
    let message = framed.subarray(5);
    if (framed[0] === 1) {
      if (!gzip) {
        this.#receiver.refused(signal, sender, 'bad_request', 'bad_frame');
        return finish(stream, INVALID_ARGUMENT, 'compressed message without grpc-encoding');
      }
      try {
        message = gunzipSync(message, { maxOutputLength: this.#limits.maxDecompressedBytes });
      } catch (err) {
        const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError;
        this.#receiver.refused(signal, sender, tooLarge ? 'too_large' : 'bad_request', tooLarge ? 'decompressed_too_large' : 'bad_gzip');
        return finish(stream, tooLarge ? RESOURCE_EXHAUSTED : INVALID_ARGUMENT, tooLarge ? `decompressed message exceeds ${this.#limits.maxDecompressedBytes} bytes` : 'message is not valid gzip');
      }
    } else if (message.length > this.#limits.maxDecompressedBytes) {
      this.#receiver.refused(signal, sender, 'too_large', 'too_large');
      return finish(stream, RESOURCE_EXHAUSTED, `message exceeds ${this.#limits.maxDecompressedBytes} bytes`);
    }
    const outcome = this.#receiver.receive(signal, 'protobuf', message, sender);
    if (outcome.ok) {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(OK) }));
      stream.end(EMPTY_RESPONSE_FRAME);
      return;
    }
    const code = outcome.status === 503 ? UNAVAILABLE : outcome.status === 413 ? RESOURCE_EXHAUSTED : outcome.status === 403 ? PERMISSION_DENIED : INVALID_ARGUMENT;
    finish(stream, code, outcome.message);
  }
}

/** A trailers-only answer: the status in the headers, no body. */
function finish(stream: ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) }, { endStream: true });
  // Whatever the client still sends is not wanted.
  stream.resume();
}
