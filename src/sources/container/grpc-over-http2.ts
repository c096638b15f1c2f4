/**
 * Unary gRPC calls over node:http2 on a unix socket: just enough of the gRPC-over-HTTP/2
 * protocol for a CRI client, without a gRPC library (grpc-js costs the agent ~7 MB of heap and
 * code for features a read-only runtime client never uses).
 *
 * A call is `POST <path>` with `content-type: application/grpc`, `te: trailers` and a
 * `grpc-timeout`, its body one framed message (grpc-frame.ts). The answer is one framed message
 * and the status in the trailers (`grpc-status`, `grpc-message`), or, for an answer with no
 * message, the status in the headers alone ("trailers-only").
 *
 * One HTTP/2 session per channel is opened on first use and reused; it is dropped when it closes,
 * fails or receives a GOAWAY, and the next call opens a new one. A session that gets no SETTINGS
 * frame from the server within `connectTimeoutMs` is destroyed: a runtime that accepts and never
 * answers must not hold calls until their deadlines one after another.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import net from 'node:net';
import { type GrpcFrameProblem, UnaryFrameReader, grpcFrame } from './grpc-frame.js';

/** gRPC status codes (the numbers are the protocol's). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const STATUS_NAMES: readonly string[] = Object.keys(GrpcStatus);

/** `NOT_FOUND` for 5; the number itself for a code outside the protocol's list. */
export function grpcStatusName(code: number): string {
  return STATUS_NAMES[code] ?? String(code);
}

/**
 * A call that did not end with status OK and a message. `code` is the server's status, or the one
 * gRPC clients conventionally report for what happened locally (DEADLINE_EXCEEDED, CANCELLED,
 * UNAVAILABLE for a connection that failed or went away). `malformed` marks an answer that broke
 * the protocol (framing, content type, status value) rather than one that carried a status.
 */
export class GrpcCallError extends Error {
  readonly code: number;
  readonly details: string;
  readonly malformed: boolean;
  constructor(code: number, details: string, malformed = false, options?: { cause?: unknown }) {
    super(`${grpcStatusName(code)}${details.length > 0 ? `: ${details}` : ''}`, options);
    this.name = 'GrpcCallError';
    this.code = code;
    this.details = details;
    this.malformed = malformed;
  }
}

export interface GrpcChannelOptions {
  readonly socketPath: string;
  /** How long a new connection may go without the server's SETTINGS frame before it is dropped. */
  readonly connectTimeoutMs: number;
  /** Largest answer message accepted, in bytes (its length prefix is checked before it is read). */
  readonly maxReceiveBytes: number;
}

/** The :authority gRPC clients send for a unix socket; servers do not route on it. */
const AUTHORITY = 'http://localhost';
/** Longest `grpc-message` kept, and longest text quoted from a server. */
const MAX_MESSAGE_CHARS = 1024;
/** `grpc-timeout` takes at most 8 digits. */
const MAX_TIMEOUT_MS = 99_999_999;

const {
  HTTP2_HEADER_METHOD,
  HTTP2_HEADER_PATH,
  HTTP2_HEADER_STATUS,
  HTTP2_HEADER_CONTENT_TYPE,
  HTTP2_HEADER_TE,
  NGHTTP2_CANCEL,
  NGHTTP2_REFUSED_STREAM,
  NGHTTP2_ENHANCE_YOUR_CALM,
  NGHTTP2_NO_ERROR,
} = http2.constants;

/** One HTTP/2 session and what is known about how it ended. */
class Connection {
  readonly session: ClientHttp2Session;
  /** Why the session failed (connect error, silent server, protocol error); undefined while fine. */
  error: Error | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #socket: net.Socket;
  #ended = false;

  constructor(socketPath: string, connectTimeoutMs: number, onEnd: (conn: Connection) => void) {
    const socket = net.connect(socketPath);
    this.#socket = socket;
    this.session = http2.connect(AUTHORITY, { createConnection: () => socket, settings: { enablePush: false } });
    // Calls hold the event loop open with their deadline timers; an idle session must not.
    this.session.unref();
    this.#timer = setTimeout(() => {
      this.error ??= Object.assign(new Error(`no HTTP/2 answer within ${connectTimeoutMs} ms`), { code: 'ETIMEDOUT' });
      this.session.destroy();
    }, connectTimeoutMs);
    this.#timer.unref();
    this.session.once('remoteSettings', () => clearTimeout(this.#timer));
    this.session.on('error', (err: Error) => {
      this.error ??= err;
    });
    // After a GOAWAY node closes the session itself (gracefully, or at once for an error code):
    // streams the server accepted run on, and new calls must go to a new session.
    this.session.on('goaway', () => onEnd(this));
    this.session.once('close', () => {
      this.#ended = true;
      clearTimeout(this.#timer);
      // The socket is ours (createConnection): make sure it goes with the session however it ended.
      socket.destroy();
      onEnd(this);
    });
  }

  /**
   * Runs `fn` once the session has closed. A dying session closes its streams before it emits
   * its own error (ENOENT, ECONNREFUSED, a protocol error): waiting lets a call report that cause.
   */
  afterEnd(fn: () => void): void {
    if (this.#ended) fn();
    else this.session.once('close', fn);
  }

  /** True while new streams may be opened on this session. */
  get usable(): boolean {
    return !this.session.closed && !this.session.destroyed;
  }

  destroy(): void {
    clearTimeout(this.#timer);
    this.session.destroy();
    this.#socket.destroy();
  }
}

/** A unix-socket gRPC channel for unary calls. */
export class GrpcUnixChannel {
  readonly socketPath: string;
  readonly #connectTimeoutMs: number;
  readonly #maxReceiveBytes: number;
  #current: Connection | undefined;
  readonly #connections = new Set<Connection>();
  readonly #calls = new Set<UnaryCall>();
  #closed = false;
  #sessionsOpened = 0;
  readonly #onConnectionEnd = (conn: Connection): void => {
    if (this.#current === conn) this.#current = undefined;
    if (conn.session.destroyed) this.#connections.delete(conn);
  };

  constructor(options: GrpcChannelOptions) {
    this.socketPath = options.socketPath;
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#maxReceiveBytes = options.maxReceiveBytes;
  }

  /** HTTP/2 sessions opened so far (each is one connection to the socket). */
  get sessionsOpened(): number {
    return this.#sessionsOpened;
  }

  /**
   * One unary call: resolves with the answer's message bytes, rejects with a GrpcCallError. Settles
   * within `deadlineMs` (sent as `grpc-timeout` too) or as soon as `signal` aborts.
   */
  unary(path: string, message: Uint8Array, signal: AbortSignal, deadlineMs: number): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new GrpcCallError(GrpcStatus.CANCELLED, 'channel closed'));
    if (signal.aborted) return Promise.reject(new GrpcCallError(GrpcStatus.CANCELLED, 'aborted before the call'));
    return new Promise<Buffer>((resolve, reject) => {
      const call = new UnaryCall(this, path, grpcFrame(message), signal, deadlineMs, this.#maxReceiveBytes, resolve, reject);
      this.#calls.add(call);
      call.start();
    });
  }

  /** Fails every call in flight (CANCELLED) and destroys every session; later calls are refused. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const call of this.#calls) call.cancel('channel closed');
    this.#calls.clear();
    for (const conn of this.#connections) conn.destroy();
    this.#connections.clear();
    this.#current = undefined;
  }

  /** @internal The session to open the next stream on: the current one, or a new one. */
  connection(): Connection {
    const current = this.#current;
    if (current !== undefined && current.usable) return current;
    const conn = new Connection(this.socketPath, this.#connectTimeoutMs, this.#onConnectionEnd);
    this.#sessionsOpened++;
    this.#connections.add(conn);
    this.#current = conn;
    return conn;
  }

  /** @internal A call settled. */
  done(call: UnaryCall): void {
    this.#calls.delete(call);
  }
}

/**
 * One unary call: a stream on the channel's session, settled exactly once by the answer, the
 * caller's signal, the deadline, or close(). A stream the server refused without reading it (a
 * GOAWAY raced it) is tried once more on a fresh session.
 */
class UnaryCall {
  readonly #channel: GrpcUnixChannel;
  readonly #path: string;
  readonly #frame: Buffer;
  readonly #signal: AbortSignal;
  readonly #deadlineAt: number;
  readonly #maxBytes: number;
  readonly #resolve: (value: Buffer) => void;
  readonly #reject: (err: GrpcCallError) => void;
  readonly #timer: NodeJS.Timeout;
  #conn: Connection | undefined;
  #stream: ClientHttp2Stream | undefined;
  #reader: UnaryFrameReader;
  #headers: IncomingHttpHeaders | undefined;
  #trailers: IncomingHttpHeaders | undefined;
  #streamError: Error | undefined;
  #retried = false;
  #settled = false;

  constructor(
    channel: GrpcUnixChannel,
    path: string,
    frame: Buffer,
    signal: AbortSignal,
    deadlineMs: number,
    maxBytes: number,
    resolve: (value: Buffer) => void,
    reject: (err: GrpcCallError) => void,
  ) {
    this.#channel = channel;
    this.#path = path;
    this.#frame = frame;
    this.#signal = signal;
    this.#deadlineAt = Date.now() + deadlineMs;
    this.#maxBytes = maxBytes;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#reader = new UnaryFrameReader(maxBytes);
    this.#timer = setTimeout(() => this.#fail(new GrpcCallError(GrpcStatus.DEADLINE_EXCEEDED, `no answer within ${deadlineMs} ms`)), deadlineMs);
    signal.addEventListener('abort', this, { once: true });
  }

  start(): void {
    if (this.#settled) return;
    const conn = this.#channel.connection();
    this.#conn = conn;
    this.#headers = undefined;
    this.#trailers = undefined;
    this.#streamError = undefined;
    const timeoutMs = Math.min(MAX_TIMEOUT_MS, Math.max(1, Math.ceil(this.#deadlineAt - Date.now())));
    let stream: ClientHttp2Stream;
    try {
      stream = conn.session.request(
        {
          [HTTP2_HEADER_METHOD]: 'POST',
          [HTTP2_HEADER_PATH]: this.#path,
          [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
          [HTTP2_HEADER_TE]: 'trailers',
          'grpc-timeout': `${timeoutMs}m`,
        },
        { endStream: false },
      );
    } catch (err) {
      // The session went away between the check and the request (GOAWAY, socket closed).
      this.#fail(transportError(conn, err, this.#channel.socketPath));
      return;
    }
    this.#stream = stream;
    stream.on('response', (headers: IncomingHttpHeaders) => this.#onResponse(stream, headers));
    stream.on('data', (chunk: Buffer) => this.#onData(stream, chunk));
    stream.on('trailers', (trailers: IncomingHttpHeaders) => {
      if (stream === this.#stream) this.#trailers = trailers;
    });
    stream.on('error', (err: Error) => {
      if (stream === this.#stream) this.#streamError ??= err;
    });
    stream.on('close', () => this.#onClose(stream));
    stream.end(this.#frame);
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    this.cancel('aborted by the caller');
  }

  cancel(details: string): void {
    this.#fail(new GrpcCallError(GrpcStatus.CANCELLED, details));
  }

  #onResponse(stream: ClientHttp2Stream, headers: IncomingHttpHeaders): void {
    if (stream !== this.#stream || this.#settled) return;
    this.#headers = headers;
    // A status in the headers is a trailers-only answer: the stream ends next, judged on close.
    if (headers['grpc-status'] !== undefined) return;
    const status = Number(headers[HTTP2_HEADER_STATUS]);
    if (status !== 200) {
      this.#fail(httpStatusError(status));
      return;
    }
    const type = headers[HTTP2_HEADER_CONTENT_TYPE];
    if (typeof type !== 'string' || !type.startsWith('application/grpc')) {
      this.#fail(new GrpcCallError(GrpcStatus.UNKNOWN, `not a gRPC answer (content-type ${quote(String(type ?? 'none'))})`, true));
    }
  }

  #onData(stream: ClientHttp2Stream, chunk: Buffer): void {
    if (stream !== this.#stream || this.#settled) return;
    const problem = this.#reader.push(chunk);
    if (problem !== undefined) this.#fail(frameError(problem));
  }

  #onClose(stream: ClientHttp2Stream): void {
    if (stream !== this.#stream || this.#settled) return;
    const statusText = this.#trailers?.['grpc-status'] ?? this.#headers?.['grpc-status'];
    if (statusText !== undefined) {
      const source = this.#trailers?.['grpc-status'] !== undefined ? this.#trailers : this.#headers;
      const code = parseStatus(statusText);
      if (code === undefined) {
        this.#fail(new GrpcCallError(GrpcStatus.UNKNOWN, `grpc-status ${quote(String(statusText))} is not a status code`, true));
        return;
      }
      if (code !== GrpcStatus.OK) {
        this.#fail(new GrpcCallError(code, grpcMessage(source?.['grpc-message'])));
        return;
      }
      const result = this.#reader.finish();
      if (Buffer.isBuffer(result)) this.#succeed(result);
      else this.#fail(frameError(result));
      return;
    }
    const conn = this.#conn as Connection;
    const rst = stream.rstCode;
    // Refused before the server looked at it (REFUSED_STREAM, or cut by a GOAWAY it raced):
    // safe to send again, once, on a new session.
    if (!this.#retried && this.#headers === undefined && rst === NGHTTP2_REFUSED_STREAM && Date.now() < this.#deadlineAt) {
      this.#retried = true;
      this.#reader = new UnaryFrameReader(this.#maxBytes);
      this.start();
      return;
    }
    if (conn.error !== undefined || conn.session.destroyed) {
      const streamError = this.#streamError;
      conn.afterEnd(() => this.#fail(transportError(conn, conn.error ?? streamError, this.#channel.socketPath)));
      return;
    }
    if (this.#headers !== undefined && (rst === undefined || rst === NGHTTP2_NO_ERROR)) {
      this.#fail(new GrpcCallError(GrpcStatus.UNKNOWN, 'the answer ended without a grpc-status', true));
      return;
    }
    this.#fail(rstError(rst));
  }

  #succeed(message: Buffer): void {
    if (this.#settled) return;
    this.#end();
    this.#resolve(message);
  }

  #fail(err: GrpcCallError): void {
    if (this.#settled) return;
    this.#end();
    const stream = this.#stream;
    // Tell the server to stop (and free the stream) unless it is already over.
    if (stream !== undefined && !stream.closed && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
    this.#reject(err);
  }

  #end(): void {
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#signal.removeEventListener('abort', this);
    this.#channel.done(this);
  }
}

function parseStatus(value: string | string[]): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string' || !/^\d{1,3}$/.test(text)) return undefined;
  return Number(text);
}

/** `grpc-message` is percent-encoded; a bad escape leaves the text as sent. */
function grpcMessage(value: string | string[] | undefined): string {
  const text = (Array.isArray(value) ? value[0] : value) ?? '';
  let decoded = text;
  if (text.includes('%')) {
    try {
      decoded = decodeURIComponent(text);
    } catch {
      decoded = text;
    }
  }
  return quote(decoded);
}

function quote(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}

function frameError(problem: GrpcFrameProblem): GrpcCallError {
  return problem.kind === 'too-large'
    ? new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, problem.text)
    : new GrpcCallError(GrpcStatus.INTERNAL, problem.text, true);
}

/** The gRPC spec's mapping for an HTTP status that came without a grpc-status. */
function httpStatusError(status: number): GrpcCallError {
  let code: number = GrpcStatus.UNKNOWN;
  if (status === 400) code = GrpcStatus.INTERNAL;
  else if (status === 401) code = GrpcStatus.UNAUTHENTICATED;
  else if (status === 403) code = GrpcStatus.PERMISSION_DENIED;
  else if (status === 404) code = GrpcStatus.UNIMPLEMENTED;
  else if (status === 429 || status === 502 || status === 503 || status === 504) code = GrpcStatus.UNAVAILABLE;
  return new GrpcCallError(code, `HTTP status ${status} without a grpc-status`);
}

/** A stream reset by the server, as gRPC clients report it. */
function rstError(rst: number | undefined): GrpcCallError {
  const code = rst ?? -1;
  if (code === NGHTTP2_REFUSED_STREAM) return new GrpcCallError(GrpcStatus.UNAVAILABLE, 'stream refused by the server');
  if (code === NGHTTP2_CANCEL) return new GrpcCallError(GrpcStatus.CANCELLED, 'stream cancelled by the server');
  if (code === NGHTTP2_ENHANCE_YOUR_CALM) return new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, 'stream reset by the server (ENHANCE_YOUR_CALM)');
  return new GrpcCallError(GrpcStatus.INTERNAL, `stream reset by the server (HTTP/2 error ${code})`);
}

/** The session failed or closed under the call: UNAVAILABLE, naming the socket and the errno code. */
function transportError(conn: Connection, err: unknown, socketPath: string): GrpcCallError {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  let what: string;
  if (code === 'ETIMEDOUT' && conn.error === err) what = String(e?.message);
  else if (code.startsWith('ERR_HTTP2_') && code !== 'ERR_HTTP2_INVALID_SESSION' && code !== 'ERR_HTTP2_GOAWAY_SESSION' && code !== 'ERR_HTTP2_STREAM_CANCEL') {
    // The bytes from the socket were not HTTP/2 (a server that is not gRPC, or garbage).
    return new GrpcCallError(GrpcStatus.UNAVAILABLE, `socket ${socketPath}: not an HTTP/2 answer (${code})`, true, { cause: err });
  } else what = code || (typeof e?.message === 'string' ? quote(e.message) : 'connection closed');
  return new GrpcCallError(GrpcStatus.UNAVAILABLE, `socket ${socketPath}: ${what}`, false, { cause: err });
}
