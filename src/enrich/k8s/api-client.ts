import type { Dispatcher, Pool } from 'undici';
import { undiciPool } from '../../io/http-client.js';
import { readBody } from '../../io/read-body.js';
import { KubeApiError, reasonForStatus } from './kube-error.js';
import { statusOf } from './objects.js';
import type { TokenSource } from './token-source.js';

/**
 * A small client for the parts of the Kubernetes API Sextant uses: GET of a list or an object,
 * a watch stream, and the create/replace of one object (the gateway's Lease). Plain undici, one
 * keep-alive pool to the API server; the bearer token is taken from a TokenSource per request (it
 * rotates) and revealed only into the header.
 *
 * Every failure is a KubeApiError with a reason (kube-error.ts). Responses are bounded: a GET
 * body over `maxResponseBytes` is abandoned (too-large); a watch is read chunk by chunk by the
 * caller, which bounds its lines itself (src/io/ndjson-lines.ts).
 */

export interface KubeApiClientOptions {
  /** `https://10.96.0.1:443`, or `http://127.0.0.1:8001` behind `kubectl proxy`. */
  readonly server: string;
  /** PEM text of the CA that signs the API server's certificate (replaces the system CAs). */
  readonly ca?: string | undefined;
  /** Without one no Authorization header is sent (kubectl proxy). */
  readonly token?: TokenSource | undefined;
  /** Deadline of a GET (headers and body), and of a watch's response headers. */
  readonly requestTimeoutMs: number;
  /** Largest GET body read. */
  readonly maxResponseBytes: number;
  readonly userAgent: string;
  /**
   * Connections kept to the API server (default 4: the agent's two watches, owner lookups and a
   * re-list beside them). Each watch holds one for its whole length, so a caller with more
   * watches asks for more.
   */
  readonly connections?: number | undefined;
}

/** Bytes of an error body read for its Status message. */
const MAX_ERROR_BODY = 16 * 1024;

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT']);

export class KubeApiClient {
  readonly #pool: Pool;
  readonly #origin: string;
  readonly #token: TokenSource | undefined;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #userAgent: string;
  // fatal: a body that is not UTF-8 is not the API's JSON.
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(options: KubeApiClientOptions) {
    let url: URL;
    try {
      url = new URL(options.server);
    } catch {
      throw new KubeApiError('config', 0, 'the API server address is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new KubeApiError('config', 0, 'the API server address must be https:// (or http:// behind kubectl proxy)');
    this.#origin = url.origin;
    this.#token = options.token;
    this.#timeoutMs = options.requestTimeoutMs;
    this.#maxBytes = options.maxResponseBytes;
    this.#userAgent = options.userAgent;
    const UndiciPool = undiciPool();
    this.#pool = new UndiciPool(this.#origin, {
      connections: options.connections ?? 4,
      connect: options.ca !== undefined ? { ca: options.ca, rejectUnauthorized: true } : { rejectUnauthorized: true },
      keepAliveTimeout: 30_000,
    });
  }

  get server(): string {
    return this.#origin;
  }

  /** GET of `path` (with its query), parsed JSON. */
  async get(path: string, signal?: AbortSignal): Promise<unknown> {
    return this.#json(await this.#request(path, signal, this.#timeoutMs), path);
  }

  /**
   * PATCH of one object (the webhook writes its caBundle: `application/strategic-merge-patch+json`
   * or `application/json-patch+json`), the answer parsed.
   */
  async patch(path: string, body: unknown, contentType: string, signal?: AbortSignal): Promise<unknown> {
    return this.#json(await this.#request(path, signal, this.#timeoutMs, { method: 'PATCH', body: JSON.stringify(body), contentType }), path);
  }

  async #json(res: Dispatcher.ResponseData, path: string): Promise<unknown> {
    let body: Buffer;
    try {
      const read = await readBody(res.body, this.#maxBytes);
      if (read.overflowed) throw new KubeApiError('too-large', res.statusCode, `response to ${describe(path)} is larger than ${this.#maxBytes} bytes`);
      body = read.bytes;
    } catch (err) {
      throw this.#wrap(err, path);
    }
    try {
      return JSON.parse(this.#decoder.decode(body)) as unknown;
    } catch {
      throw new KubeApiError('protocol', res.statusCode, `response to ${describe(path)} is not JSON`);
    }
  }

  /**
   * A create (POST) or replace (PUT) of one object, its JSON answer parsed. 200 and 201 are
   * success; anything else is a KubeApiError (409 `conflict`: the object changed since it was read,
   * or exists already — the caller's optimistic concurrency lost the race).
   */
  async write(method: 'POST' | 'PUT', path: string, object: unknown, signal?: AbortSignal): Promise<unknown> {
    const res = await this.#request(path, signal, this.#timeoutMs, { method, body: JSON.stringify(object), contentType: 'application/json' });
    try {
      const read = await readBody(res.body, this.#maxBytes);
      if (read.overflowed) throw new KubeApiError('too-large', res.statusCode, `response to ${describe(path)} is larger than ${this.#maxBytes} bytes`);
      return JSON.parse(this.#decoder.decode(read.bytes)) as unknown;
    } catch (err) {
      if (err instanceof SyntaxError || (err as { code?: string })?.code === 'ERR_ENCODING_INVALID_ENCODED_DATA') {
        throw new KubeApiError('protocol', res.statusCode, `response to ${describe(path)} is not JSON`);
      }
      throw this.#wrap(err, path);
    }
  }

  /**
   * Opens a watch (`path` carries `watch=1`); the body's chunks, for the caller to split into
   * events. `idleTimeoutMs` ends a stream that goes quiet longer than that (a half-open TCP
   * connection after the API server vanished): the server sends bookmarks, so a live watch is
   * never that quiet.
   */
  async watch(path: string, signal: AbortSignal, idleTimeoutMs: number): Promise<AsyncIterable<Buffer> & { destroy(): void }> {
    const res = await this.#request(path, signal, idleTimeoutMs);
    return res.body as unknown as AsyncIterable<Buffer> & { destroy(): void };
  }

  /** Maps an error thrown while reading a body to a KubeApiError (an abort is passed through). */
  wrapError(err: unknown, path: string): unknown {
    return this.#wrap(err, path);
  }

  async close(): Promise<void> {
    await this.#pool.destroy().catch(() => undefined);
  }

  async #request(path: string, signal: AbortSignal | undefined, bodyTimeoutMs: number, write?: { method: 'PATCH' | 'POST' | 'PUT'; body: string; contentType: string }) {
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.#userAgent };
      if (this.#token !== undefined) headers['authorization'] = `Bearer ${(await this.#token.current()).reveal()}`;
      if (write !== undefined) headers['content-type'] = write.contentType;
      let res;
      try {
        res = await this.#pool.request({ path, method: write?.method ?? 'GET', headers, signal, headersTimeout: this.#timeoutMs, bodyTimeout: bodyTimeoutMs, ...(write !== undefined ? { body: write.body } : {}) });
      } catch (err) {
        throw this.#wrap(err, path);
      }
      if (res.statusCode === 200 || (res.statusCode === 201 && write?.method === 'POST')) return res;
      const detail = await this.#errorDetail(res.body);
      // A rotated or expired token: read the file again and try once more at once.
      if (res.statusCode === 401 && attempt === 0 && this.#token !== undefined) {
        this.#token.invalidate();
        continue;
      }
      const reason = reasonForStatus(res.statusCode);
      throw new KubeApiError(reason, res.statusCode, `${describe(path)}: HTTP ${res.statusCode}${detail ? ` ${detail}` : ''}`);
    }
  }

  /** The Status message of an error answer, for the one log line. */
  async #errorDetail(body: AsyncIterable<Uint8Array>): Promise<string> {
    try {
      // A cut answer is still parsed: a Status that long is not one, and the parse says so.
      const { bytes } = await readBody(body, MAX_ERROR_BODY - 1);
      const status = statusOf(JSON.parse(bytes.toString('utf8')) as unknown);
      if (status === undefined) return '';
      return [status.reason, status.message].filter((s) => s.length > 0).join(': ');
    } catch {
      return '';
    }
  }

  #wrap(err: unknown, path: string): unknown {
    if (err instanceof KubeApiError) return err;
    const e = err as { name?: string; code?: string; message?: string };
    if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR') return err;
    const code = e?.code ?? '';
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return new KubeApiError('timeout', 0, `${describe(path)}: no answer in time`, { cause: err });
    if (NETWORK_CODES.has(code)) return new KubeApiError('unavailable', 0, `${describe(path)}: ${code}`, { cause: err });
    // TLS failures (an unknown CA, a name mismatch) name their code; the message says which.
    return new KubeApiError('unavailable', 0, `${describe(path)}: ${code || e?.message || 'request failed'}`, { cause: err });
  }
}

/** A path without its query, for messages (a continue token is long and says nothing). */
function describe(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}
