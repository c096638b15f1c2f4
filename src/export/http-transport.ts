import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { Logger } from 'pino';
import { MAX_MESSAGE_CHARS, decodePartialSuccess } from './otlp/partial-success.js';
import { readBody } from '../io/read-body.js';
import { type Dispatcher, undiciEnvProxyAgent, undiciProxyAgent } from '../io/http-client.js';
import { GzipEngine } from './gzip-engine.js';
import type { ExportResult, OtlpSignal, SendOptions, Transport } from './types.js';

/**
 * OTLP/HTTP with protobuf bodies over undici: one keep-alive dispatcher per transport, gzip
 * when configured, `Authorization: Api-Token …` when a token is given. Status handling follows
 * the OTLP/HTTP specification: 2xx is success (with an optional partial success in the body),
 * 429/502/503/504 and network failures are retryable (honouring Retry-After), 413 says the
 * batch is too large, anything else is a permanent failure. `send` never rejects.
 */

export interface HttpTransportOptions {
  /** Base URL; requests go to `${endpoint}/v1/metrics|logs|traces`. */
  readonly endpoint: string;
  /** The config key `endpoint` was set by, named when it is wrong (default `endpoint`, the agent's). */
  readonly endpointKey?: 'endpoint' | 'gateway.upstream' | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /** Sent as `Authorization: Api-Token <token>`; revealed per request, never logged. */
  readonly apiToken?: { reveal(): string } | undefined;
  readonly compression: 'gzip' | 'none';
  /** PEM file of extra CAs trusted on top of the system ones (`tls.caFile`). */
  readonly caFile?: string | undefined;
  /** Accept any server certificate. For test endpoints only; warned about at construction. */
  readonly insecureSkipVerify?: boolean | undefined;
  /** Explicit proxy URL; without it HTTPS_PROXY/HTTP_PROXY/NO_PROXY from the environment apply. */
  readonly proxy?: string | undefined;
  readonly userAgent: string;
  readonly logger: Logger;
  /** gzip level, 1–9 (default 6). */
  readonly gzipLevel?: number | undefined;
  /** Keep-alive connections per origin (default 4). */
  readonly connections?: number | undefined;
}

/** Longest Retry-After honoured. */
export const MAX_RETRY_AFTER_MS = 5 * 60 * 1000;
/** How much of a response body is read: enough for a partial success or an error line. */
const MAX_RESPONSE_BYTES = 64 * 1024;

const PATHS: Readonly<Record<OtlpSignal, string>> = { metrics: '/v1/metrics', logs: '/v1/logs', traces: '/v1/traces' };

export class HttpTransport implements Transport {
  readonly #dispatcher: Dispatcher;
  readonly #origin: string;
  readonly #paths: Readonly<Record<OtlpSignal, string>>;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #apiToken: { reveal(): string } | undefined;
  readonly #gzip: GzipEngine | undefined;
  readonly compression: 'gzip' | 'none';
  /** A retried request sends the same body object again: compress it once, not per attempt. */
  readonly #compressed = new WeakMap<Uint8Array, Uint8Array>();

  constructor(options: HttpTransportOptions) {
    const endpointKey = options.endpointKey ?? 'endpoint';
    let base: URL;
    try {
      base = new URL(options.endpoint);
    } catch (err) {
      throw new ConfigError(endpointKey, 'not a valid URL', { cause: err });
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new ConfigError(endpointKey, `unsupported scheme ${base.protocol} (use http: or https:)`);
    }
    const prefix = base.pathname.replace(/\/+$/, '') + base.search;
    this.#origin = base.origin;
    this.#paths = { metrics: prefix + PATHS.metrics, logs: prefix + PATHS.logs, traces: prefix + PATHS.traces };

    const level = options.gzipLevel ?? 6;
    // No setting reaches the level (the default is always used): a bad one is a bug.
    if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`gzipLevel must be an integer from 1 to 9, got ${level}`);
    this.compression = options.compression === 'gzip' ? 'gzip' : 'none';
    this.#gzip = this.compression === 'gzip' ? new GzipEngine(level) : undefined;
    this.#apiToken = options.apiToken;

    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.headers)) headers[k.toLowerCase()] = v;
    headers['content-type'] = 'application/x-protobuf';
    headers['user-agent'] = options.userAgent;
    if (this.#gzip !== undefined) headers['content-encoding'] = 'gzip';
    this.#headers = headers;

    const tlsOptions: { ca?: string[]; rejectUnauthorized?: boolean } = {};
    if (options.caFile !== undefined) {
      let pem: string;
      try {
        pem = readFileSync(options.caFile, 'utf8');
      } catch (err) {
        throw new ConfigError('tls.caFile', `cannot read ${options.caFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
      }
      // Giving `ca` replaces the default store, so the system CAs are listed first. node:tls is
      // loaded only here (+3.2 MB measured); undici loads it itself for an https endpoint.
      tlsOptions.ca = [...process.getBuiltinModule('node:tls').getCACertificates('default'), pem];
    }
    if (options.insecureSkipVerify === true) {
      tlsOptions.rejectUnauthorized = false;
      options.logger.warn({ endpoint: base.origin }, 'TLS certificate verification is disabled (insecureSkipVerify); use only against test endpoints');
    }
    const connections = options.connections ?? 4;
    const common = { connections, keepAliveTimeout: 30_000, pipelining: 1 };
    if (options.proxy !== undefined && options.proxy !== '') {
      try {
        new URL(options.proxy);
      } catch (err) {
        throw new ConfigError('proxy', 'not a valid URL', { cause: err });
      }
      const ProxyAgent = undiciProxyAgent();
      this.#dispatcher = new ProxyAgent({ ...common, uri: options.proxy, requestTls: tlsOptions, proxyTls: tlsOptions });
    } else {
      // Honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY; without them it is a plain keep-alive Agent.
      const EnvHttpProxyAgent = undiciEnvProxyAgent();
      this.#dispatcher = new EnvHttpProxyAgent({ ...common, connect: tlsOptions, requestTls: tlsOptions, proxyTls: tlsOptions });
    }
  }

  async send(signal: OtlpSignal, body: Uint8Array, options: SendOptions): Promise<ExportResult> {
    const external = options.signal;
    if (external?.aborted) return aborted();
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const abort = external === undefined ? timeout : AbortSignal.any([external, timeout]);
    let token: string | undefined;
    try {
      if (options.encoded === 'gzip' && this.#gzip === undefined) throw new RangeError('a gzip body for a transport without compression');
      const payload = this.#gzip === undefined || options.encoded === 'gzip' ? body : await this.compress(body);
      const headers: Record<string, string> = { ...this.#headers };
      if (this.#apiToken !== undefined) {
        token = this.#apiToken.reveal();
        headers.authorization = `Api-Token ${token}`;
      }
      const res = await this.#dispatcher.request({
        origin: this.#origin,
        path: this.#paths[signal],
        method: 'POST',
        headers,
        body: payload,
        signal: abort,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
      const status = res.statusCode;
      // The first MAX_RESPONSE_BYTES are enough for a partial-success answer or an error message.
      const { bytes } = await readBody(res.body, MAX_RESPONSE_BYTES - 1);
      return classify(status, res.headers, bytes, token);
    } catch (err) {
      if (external?.aborted) return aborted();
      if (timeout.aborted) return { kind: 'retryable', status: 0, retryAfterMs: undefined, reason: `timeout after ${options.timeoutMs} ms` };
      return { kind: 'retryable', status: 0, retryAfterMs: undefined, reason: networkReason(err, token) };
    }
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
    this.#gzip?.close();
  }

  /** The body gzipped as it goes on the wire (the body itself without compression). */
  async compress(body: Uint8Array): Promise<Uint8Array> {
    if (this.#gzip === undefined) return body;
    let z = this.#compressed.get(body);
    if (z === undefined) {
      z = await this.#gzip.compress(body);
      this.#compressed.set(body, z);
    }
    return z;
  }
}

function aborted(): ExportResult {
  return { kind: 'retryable', status: 0, retryAfterMs: undefined, reason: 'aborted' };
}

type Headers = Record<string, string | string[] | undefined>;

export function classify(status: number, headers: Headers, body: Buffer, token?: string): ExportResult {
  if (status >= 200 && status < 300) {
    const partial = isJson(headers) ? jsonPartialSuccess(body) : decodePartialSuccess(body);
    return { kind: 'success', status, rejected: partial.rejected, message: redact(partial.message, token) };
  }
  const reason = `HTTP ${status}${describeBody(body, token)}`;
  if (status === 429 || status === 502 || status === 503 || status === 504) {
    return { kind: 'retryable', status, retryAfterMs: parseRetryAfter(first(headers['retry-after'])), reason };
  }
  if (status === 413) return { kind: 'too_large', status, reason };
  return { kind: 'failure', status, reason };
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3), capped at
 * MAX_RETRY_AFTER_MS; undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | undefined, nowMs = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, MAX_RETRY_AFTER_MS);
  // Only a date-shaped value counts: Date.parse accepts far too much ("1.5", "tomorrow" in some engines).
  if (!/^[A-Za-z]{3},? /.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function isJson(headers: Headers): boolean {
  const ct = first(headers['content-type']);
  return ct !== undefined && ct.includes('json');
}

function jsonPartialSuccess(body: Buffer): { rejected: number; message: string } {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { partialSuccess?: Record<string, unknown> } | null;
    const ps = parsed?.partialSuccess;
    if (ps === undefined || ps === null || typeof ps !== 'object') return { rejected: 0, message: '' };
    const raw = ps.rejectedLogRecords ?? ps.rejectedDataPoints ?? ps.rejectedSpans ?? 0;
    const rejected = Number(raw);
    const message = typeof ps.errorMessage === 'string' ? ps.errorMessage.slice(0, MAX_MESSAGE_CHARS) : '';
    return { rejected: Number.isFinite(rejected) && rejected > 0 ? rejected : 0, message };
  } catch {
    return { rejected: 0, message: '' };
  }
}

/** `: <first line of the body>` when it is short printable text, else nothing. */
function describeBody(body: Buffer, token: string | undefined): string {
  if (body.length === 0) return '';
  const text = body.subarray(0, MAX_MESSAGE_CHARS * 2).toString('utf8');
  // Protobuf or other binary: not worth echoing.
  if (/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text)) return '';
  let line = text.replace(/\s+/g, ' ').trim();
  if (line.length > MAX_MESSAGE_CHARS) line = `${line.slice(0, MAX_MESSAGE_CHARS)}…`;
  return line === '' ? '' : `: ${redact(line, token)}`;
}

function redact(text: string, token: string | undefined): string {
  return token !== undefined && token !== '' && text.includes(token) ? text.split(token).join('[redacted]') : text;
}

function networkReason(err: unknown, token: string | undefined): string {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } } | null;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
  const message = typeof e?.message === 'string' ? e.message.slice(0, MAX_MESSAGE_CHARS) : 'unknown error';
  return redact(`network error${code === undefined ? '' : ` ${code}`}: ${message}`, token);
}
