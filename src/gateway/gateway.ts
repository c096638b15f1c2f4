import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IngestError } from '../errors.js';
import type { OtlpSignal, Transport } from '../export/types.js';
import type { Logger } from '../self/logger.js';
import type { Registry } from '../self/registry.js';
import { TokenAuth } from './auth.js';
import { BodyError, readBody, type BodyLimits, type GunzipInto } from '../io/request-body.js';
import { loadGunzipInto } from '../native/gunzip.js';
import { BurstLog } from '../self/burst-log.js';
import { DEFAULT_GATEWAY_CONFIG, validateGatewayConfig, type GatewayConfig } from './config.js';
import { DEFAULT_FORWARD_TIMING, SignalForwarder, type ForwardOutcome } from './forwarder.js';
import { GatewayMetrics, type SignalLabel } from './gateway-metrics.js';
import { SignalStore } from './ndjson-store.js';
import { OtlpCodec } from './otlp-codec.js';
import { countItems, WireError } from '../receiver/otlp-walk.js';
import { ByteMap } from '../io/byte-map.js';
import { bodyFormat, isGzip, routeSignal, SIGNALS, type BodyFormat } from '../export/http-routes.js';
import { statusBody } from '../export/rpc-status.js';
import { createUpstreamTransport } from './upstream-transport.js';
import { DEFAULT_API_CONFIG } from './api/config.js';
import { isApiPath, QueryApi } from './api/query-api.js';
import { DEFAULT_EXPLORER_CONFIG } from './ui/config.js';
import { ExplorerServer, isExplorerPath } from './ui/explorer-server.js';
import { SessionStore } from './ui/sessions.js';
import { defaultAssetsDir, StaticAssets } from './ui/static-assets.js';
import { DEFAULT_STORE_CONFIG } from './store/config.js';
// Types only: the store's module (and DuckDB with it) is imported when the store is on.
import type { GraphObject, TelemetryStore } from './store/index.js';
// Types only: the engine's module loads with the store.
import type { ProblemEngine } from './problems/engine.js';
import type { ClusterGraph } from './cluster/object-graph.js';

/** What became of one request body handed to `Gateway.ingest`. */
export type IngestOutcome =
  | { readonly ok: true; readonly records: number }
  /** `status` in HTTP terms (400 malformed, 503 busy); `retryAfterSeconds` with 503. */
  | { readonly ok: false; readonly status: number; readonly reason: string; readonly message: string; readonly retryAfterSeconds?: number | undefined };

export interface Gateway {
  /** Base URL of the bound listener, with the real port when `listen` asked for port 0. */
  readonly url: string;
  /** The explorer page's URL (on loopback when the listener is on every address); undefined when it is off. */
  readonly explorerUrl: string | undefined;
  /**
   * Decodes, stores and forwards one request that came by another transport (OTLP/gRPC), and
   * counts it as the HTTP listener counts its requests. The caller has authenticated it and
   * bounded its size. Resolves once the request is kept (committed to the store); never rejects
   * for a bad body: that is an outcome.
   */
  ingest(signal: OtlpSignal, format: BodyFormat, body: Uint8Array, wireBytes: number): Promise<IngestOutcome>;
  /** Records objects of the cluster monitor's graph in the store; resolves at once without one. */
  recordObjects(objects: readonly GraphObject[]): Promise<void>;
  /** One line on the embedded store, for `/readyz`. */
  storeStatus(): string;
  /** Gives problem detection the cluster monitor's graph (pod → node) while it runs. */
  useClusterGraph(graph: () => ClusterGraph | undefined): void;
  /** Stops accepting, finishes requests in flight, flushes the store and the forward queues (within `shutdownTimeoutMs`). */
  close(): Promise<void>;
}

export interface GatewayDeps {
  readonly registry: Registry;
  readonly logger: Logger;
  /**
   * Sends forwarded requests upstream. When absent and `config.upstream` is set, the gateway builds
   * an HTTP transport with retries for it (and closes it at shutdown); when given, the caller owns
   * it. Forwarding is on when either is present.
   */
  readonly forwarder?: Transport | undefined;
}

/**
 * Above this many bytes queued for the disk, requests get 503: the disk is not keeping up, and
 * memory must not be where the difference goes.
 */
const STORE_MAX_PENDING_BYTES = 32 * 1024 * 1024;

/** Distinct resource encodings the door remembers as checked (a cache: it starts again past this). */
const KNOWN_RESOURCES = 10_000;

/** A rejected request whose unread body is at most this big is drained so the keep-alive connection survives. */
const DRAIN_UNREAD_MAX = 64 * 1024;

const EMPTY_JSON_RESPONSE = Buffer.from('{}');
const EMPTY = Buffer.alloc(0);

/** Starts the gateway: validates the config, loads the proto tree, opens the stores, listens. */
export async function startGateway(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  const listen = validateGatewayConfig(config);
  const codec = await OtlpCodec.load();
  const metrics = new GatewayMetrics(deps.registry);
  const server = new GatewayServer(config, deps, codec, metrics);
  await server.open();
  try {
    await server.listen(listen.host, listen.port);
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}

class GatewayServer implements Gateway {
  readonly #config: GatewayConfig;
  readonly #logger: Logger;
  readonly #codec: OtlpCodec;
  readonly #metrics: GatewayMetrics;
  readonly #auth: TokenAuth;
  readonly #limits: BodyLimits;
  /** The native addon's gzip inflater, unless gateway config `native` is false or the addon is missing. */
  readonly #gunzipInto: GunzipInto | undefined;
  /** The NDJSON files, when `ndjson` is on. */
  readonly #ndjson: Readonly<Record<OtlpSignal, SignalStore>> | undefined;
  /** The embedded store, once opened (undefined when `database` is false). */
  #store: TelemetryStore | undefined;
  /** Problem detection over the store, when `problems` is on. */
  #problems: ProblemEngine | undefined;
  #clusterGraph: (() => ClusterGraph | undefined) | undefined;
  readonly #api: QueryApi | undefined;
  /** The explorer page and its sessions (with the API; off by `gateway.explorer: false`). */
  readonly #explorer: ExplorerServer | undefined;
  readonly #registry: Registry;
  readonly #forwarders: Readonly<Record<OtlpSignal, SignalForwarder>> | undefined;
  /** The transport the gateway built itself and must close; undefined when the caller gave one. */
  readonly #ownedTransport: Transport | undefined;
  readonly #rejections: BurstLog;
  readonly #storeErrors: BurstLog;
  readonly #forwardProblems: BurstLog;
  readonly #server: Server;
  /** Resources of log requests the validating walk has checked: not walked again (see #ingest). */
  readonly #knownResources = new ByteMap<true>(KNOWN_RESOURCES);
  #url = '';
  #inFlight = 0;
  #idle: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(config: GatewayConfig, deps: GatewayDeps, codec: OtlpCodec, metrics: GatewayMetrics) {
    this.#config = config;
    this.#logger = deps.logger;
    this.#registry = deps.registry;
    this.#codec = codec;
    this.#metrics = metrics;
    this.#auth = new TokenAuth(config.tokens);
    this.#limits = { maxRequestBytes: config.maxRequestBytes, maxDecompressedBytes: config.maxDecompressedBytes };
    this.#gunzipInto = loadGunzipInto(config.native ?? true);
    this.#rejections = new BurstLog(deps.logger, 'gateway rejected requests');
    this.#storeErrors = new BurstLog(deps.logger, 'gateway store write failures', { level: 'error' });
    this.#forwardProblems = new BurstLog(deps.logger, 'gateway forwarding problems');

    const storeLimits = { maxFileBytes: config.store.maxFileBytes, maxTotalBytes: config.store.maxTotalBytes, maxPendingBytes: STORE_MAX_PENDING_BYTES };
    const makeStore = (signal: OtlpSignal): SignalStore =>
      new SignalStore(config.dataDir, signal, storeLimits, {
        written: (bytes, records) => {
          metrics.storedBytes[signal].inc(bytes);
          metrics.storedRecords[signal].inc(records);
        },
        failed: (err) => {
          metrics.storeErrors[signal].inc();
          this.#storeErrors.note(`${signal}:${err.code ?? 'error'}`);
        },
      });
    this.#ndjson = config.ndjson === true ? { metrics: makeStore('metrics'), logs: makeStore('logs'), traces: makeStore('traces') } : undefined;
    if (config.database !== false) {
      const api = config.api ?? DEFAULT_API_CONFIG;
      const readAuth = new TokenAuth(api.readTokens);
      const authorize = (header: string | undefined): 'ok' | 'missing' | 'invalid' => (readAuth.open ? 'missing' : readAuth.check(header));
      this.#api = new QueryApi(() => this.#store, api, {
        logger: deps.logger,
        registry: deps.registry,
        authorize,
        session: (req) => this.#explorer?.hasSession(req) === true,
      });
      const explorer = config.explorer ?? DEFAULT_EXPLORER_CONFIG;
      if (explorer.enabled) {
        this.#explorer = new ExplorerServer(StaticAssets.load(explorer.assetsDir ?? defaultAssetsDir()), new SessionStore(explorer.sessionTtlMs), {
          logger: deps.logger,
          registry: deps.registry,
          authorize,
          hasReadTokens: !readAuth.open,
          readOpenOnLoopback: api.readOpenOnLoopback,
        });
      }
    }

    let transport = deps.forwarder;
    if (transport === undefined && config.upstream !== undefined) {
      transport = createUpstreamTransport(config.upstream, config.upstreamToken, deps.logger);
      this.#ownedTransport = transport;
    }
    if (transport !== undefined) {
      const limits = { maxQueueItems: config.forward.maxQueueItems, maxQueueBytes: config.forward.maxQueueBytes, ...DEFAULT_FORWARD_TIMING };
      const hooks = {
        outcome: (signal: OtlpSignal, outcome: ForwardOutcome): void => {
          metrics.forwarded(signal, outcome);
          if (outcome !== 'ok') this.#forwardProblems.note(`${signal}:${outcome}`);
        },
      };
      const t = transport;
      const make = (signal: OtlpSignal): SignalForwarder => {
        const f = new SignalForwarder(signal, t, limits, hooks);
        metrics.forwardQueueBytes.collect(() => f.queuedBytes, { signal });
        return f;
      };
      this.#forwarders = { metrics: make('metrics'), logs: make('logs'), traces: make('traces') };
    }

    this.#server = createServer({
      keepAlive: true,
      // Slow senders must not hold a connection forever; a body at the limit still fits easily.
      requestTimeout: 120_000,
      headersTimeout: 30_000,
      keepAliveTimeout: 30_000,
    });
    this.#server.on('request', this.#onRequest);
    // Answer `Expect: 100-continue` ourselves: a body that would be refused (413, 401) is never sent.
    this.#server.on('checkContinue', this.#onCheckContinue);
    this.#server.on('clientError', this.#onClientError);
  }

  get url(): string {
    return this.#url;
  }

  get explorerUrl(): string | undefined {
    if (this.#explorer === undefined || this.#url === '') return undefined;
    // A listener on every address is reached on this machine through loopback.
    return `${this.#url.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:')}/ui/`;
  }

  async open(): Promise<void> {
    if (this.#ndjson !== undefined) for (const s of SIGNALS) await this.#ndjson[s].open();
    if (this.#config.database !== false) {
      // Loaded only here: DuckDB is a large native module that a forward-only gateway, and the
      // agent, never need.
      const { TelemetryStore } = await import('./store/telemetry-store.js');
      this.#store = await TelemetryStore.open(this.#config.dataDir, this.#config.database ?? DEFAULT_STORE_CONFIG, {
        logger: this.#logger,
        registry: this.#registry,
        decoder: this.#codec,
      });
      const problems = this.#config.problems;
      if (problems !== undefined && problems !== false && problems.enabled) {
        const { ProblemEngine } = await import('./problems/engine.js');
        this.#problems = new ProblemEngine(this.#store, problems, {
          logger: this.#logger.child({ component: 'problems' }),
          registry: this.#registry,
          clusterGraph: () => this.#clusterGraph?.(),
          queryTimeoutMs: Math.max(10_000, this.#config.api?.queryTimeoutMs ?? 0),
          retentionMs: (this.#config.database ?? DEFAULT_STORE_CONFIG).retentionMs,
        });
        this.#problems.start();
      }
    } else if (this.#ndjson === undefined && this.#forwarders === undefined) {
      this.#logger.warn('gateway keeps nothing it receives: the store and NDJSON are off and there is no upstream');
    }
    if (this.#auth.open) this.#logger.warn('gateway has no API tokens configured: every request is accepted without authentication');
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        const addr = this.#server.address() as AddressInfo;
        const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
        this.#url = `http://${h}:${addr.port}`;
        this.#logger.info(
          { url: this.#url, dataDir: path.resolve(this.#config.dataDir), upstream: upstreamForLog(this.#config.upstream), forwarding: this.#forwarders !== undefined },
          'gateway listening',
        );
        resolve();
      });
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const deadline = Date.now() + (this.#config.shutdownTimeoutMs ?? DEFAULT_GATEWAY_CONFIG.shutdownTimeoutMs!);
    // Live log streams never end by themselves: end them first, or they hold the close open.
    this.#api?.close();
    const closed = new Promise<void>((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
    this.#server.closeIdleConnections();
    // Requests in flight finish (their responses say Connection: close); then no socket is needed.
    if (this.#inFlight > 0) {
      const idle = new Promise<void>((resolve) => (this.#idle = resolve));
      await raceDeadline(idle, deadline);
    }
    this.#server.closeIdleConnections();
    if (!(await raceDeadline(closed, deadline))) this.#server.closeAllConnections();
    await closed;
    if (this.#ndjson !== undefined) for (const s of SIGNALS) await this.#ndjson[s].close();
    await this.#problems?.stop();
    await this.#store?.close();
    if (this.#forwarders !== undefined) {
      await Promise.all(SIGNALS.map((s) => this.#forwarders![s].close(deadline)));
    }
    if (this.#ownedTransport !== undefined) await this.#ownedTransport.close().catch(() => undefined);
    this.#rejections.flush();
    this.#storeErrors.flush();
    this.#forwardProblems.flush();
  }

  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    this.#track(this.#handle(req, res, false), req, res);
  };

  readonly #onCheckContinue = (req: IncomingMessage, res: ServerResponse): void => {
    this.#track(this.#handle(req, res, true), req, res);
  };

  readonly #onClientError = (err: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void => {
    // Unparseable HTTP or a timed-out request: answer if the socket still can, never crash.
    const reason = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'timeout' : 'bad_http';
    this.#rejections.note(reason);
    this.#metrics.rejected(reason);
    if (socket.writable && err.code !== 'ECONNRESET') {
      const line = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${line}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else {
      socket.destroy();
    }
  };

  #track(p: Promise<void>, req: IncomingMessage, res: ServerResponse): void {
    this.#inFlight++;
    p.catch((err: unknown) => {
      // A bug, not the client's fault: answer 500, counted and logged once per burst by #reject.
      this.#logger.debug({ err }, 'gateway request failed');
      this.#reject(req, res, 'none', undefined, 500, 'internal', 'internal error');
    }).finally(() => {
      if (--this.#inFlight === 0 && this.#idle !== undefined) this.#idle();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
    if (this.#api !== undefined && isApiPath(req.url)) {
      if (this.#closing !== undefined) res.shouldKeepAlive = false;
      if (expectContinue) res.writeContinue();
      return this.#api.handle(req, res);
    }
    if (this.#explorer !== undefined && isExplorerPath(req.url, req.method)) {
      if (this.#closing !== undefined) res.shouldKeepAlive = false;
      if (expectContinue) res.writeContinue();
      return this.#explorer.handle(req, res);
    }
    const signal = routeSignal(req.url);
    if (signal === undefined) return this.#reject(req, res, 'none', undefined, 404, 'not_found', 'not found: POST OTLP to /v1/{metrics,logs,traces} or /api/v2/otlp/v1/{metrics,logs,traces}');
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return this.#reject(req, res, signal, undefined, 405, 'method_not_allowed', 'method not allowed: use POST');
    }
    const format = bodyFormat(req.headers['content-type']);
    const auth = this.#auth.check(req.headers.authorization);
    if (auth === 'missing') {
      res.setHeader('WWW-Authenticate', 'Api-Token');
      return this.#reject(req, res, signal, format, 401, 'unauthenticated', 'missing API token: send "Authorization: Api-Token <token>"');
    }
    if (auth === 'invalid') return this.#reject(req, res, signal, format, 403, 'forbidden', 'API token not accepted');
    if (format === undefined) {
      return this.#reject(req, res, signal, undefined, 415, 'unsupported_media_type', 'unsupported Content-Type: use application/x-protobuf or application/json');
    }
    const gzip = isGzip(req.headers['content-encoding']);
    if (gzip === undefined) return this.#reject(req, res, signal, format, 415, 'unsupported_encoding', 'unsupported Content-Encoding: use gzip or none');
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > this.#config.maxRequestBytes) {
      return this.#reject(req, res, signal, format, 413, 'too_large', `request body exceeds ${this.#config.maxRequestBytes} bytes`);
    }
    if (expectContinue) res.writeContinue();

    let body: Buffer;
    let wireBytes: number;
    try {
      ({ body, wireBytes } = await readBody(req, gzip, this.#limits, this.#gunzipInto));
    } catch (err) {
      if (err instanceof BodyError) {
        if (err.reason === 'aborted') {
          // The client is gone: nobody to answer.
          this.#count(signal, 400, 'aborted');
          res.destroy();
          return;
        }
        return this.#reject(req, res, signal, format, err.status, err.reason, err.message);
      }
      throw err;
    }

    const outcome = await this.#ingest(signal, format, body, wireBytes);
    if (!outcome.ok) {
      if (outcome.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(outcome.retryAfterSeconds));
      return this.#reject(req, res, signal, format, outcome.status, outcome.reason, outcome.message);
    }
    if (format === 'protobuf') this.#send(res, 200, 'application/x-protobuf', EMPTY);
    else this.#send(res, 200, 'application/json', EMPTY_JSON_RESPONSE);
  }

  async ingest(signal: OtlpSignal, format: BodyFormat, body: Uint8Array, wireBytes: number): Promise<IngestOutcome> {
    const outcome = await this.#ingest(signal, format, body, wireBytes);
    if (!outcome.ok) this.#count(signal, outcome.status, outcome.reason);
    return outcome;
  }

  recordObjects(objects: readonly GraphObject[]): Promise<void> {
    return this.#store?.state === 'ready' ? this.#store.recordObjects(objects) : Promise.resolve();
  }

  useClusterGraph(graph: () => ClusterGraph | undefined): void {
    this.#clusterGraph = graph;
  }

  storeStatus(): string {
    return this.#store === undefined ? 'off (gateway.storeEnabled is false)' : this.#store.describe();
  }

  /**
   * Decode, keep (forward queue, NDJSON, store), answer; counts a success (a refusal is counted
   * by the caller's answer). Resolves once the store has committed the request's rows.
   */
  async #ingest(signal: OtlpSignal, format: BodyFormat, body: Uint8Array, wireBytes: number): Promise<IngestOutcome> {
    let message: ReturnType<OtlpCodec['decode']> | undefined;
    let records: number;
    const receivedAt = Date.now();
    try {
      // Protobuf logs bound for the store alone (and upstream, as they came) are checked by the
      // validating walk, and the store reads its rows from the bytes: no tree is built for them
      // (measured: protobufjs' decode was a quarter of the gateway's CPU per log record).
      // Whatever the walk refuses is decoded by protobufjs, which answers it as before.
      const walked = signal === 'logs' && format === 'protobuf' && this.#ndjson === undefined ? walkedRecords(body, this.#knownResources) : undefined;
      if (walked !== undefined) records = walked;
      else {
        message = this.#codec.decode(signal, format, body);
        records = this.#codec.countRecords(signal, message);
      }
    } catch (err) {
      if (err instanceof IngestError) return { ok: false, status: err.status, reason: 'malformed', message: err.message };
      throw err;
    }

    if (records > 0) {
      // Every capacity check comes before anything is kept: a request refused with 503 is
      // neither stored nor forwarded, so the sender's retry is the only copy that lands.
      const store = this.#store?.state === 'ready' ? this.#store : undefined;
      if (store !== undefined && !store.accepting) return { ok: false, status: 503, reason: 'store_busy', message: 'local store is behind; retry later', retryAfterSeconds: 1 };
      const ndjson = this.#ndjson?.[signal];
      if (ndjson !== undefined && !ndjson.accepting) return { ok: false, status: 503, reason: 'store_busy', message: 'local store is behind; retry later', retryAfterSeconds: 1 };
      const forwarder = this.#forwarders?.[signal];
      if (this.#store !== undefined && store === undefined && ndjson === undefined && forwarder === undefined) {
        // The store is on but cannot be used and nothing else would keep the request: it stays
        // with the sender until the store is back.
        return { ok: false, status: 503, reason: 'store_unavailable', message: 'local store is unavailable; retry later', retryAfterSeconds: 30 };
      }
      if (forwarder !== undefined) {
        let out: Uint8Array = format === 'protobuf' || message === undefined ? body : this.#codec.encode(signal, message);
        // A small body may be a view into a larger socket buffer; copy it so the queue's byte
        // count is the memory it really holds.
        if (out.byteLength !== out.buffer.byteLength) out = new Uint8Array(out);
        if (!forwarder.offer(out)) {
          return { ok: false, status: 503, reason: 'queue_full', message: 'forward queue is full; retry later', retryAfterSeconds: forwarder.retryAfterSeconds() };
        }
      }
      if (ndjson !== undefined && message !== undefined) ndjson.append(storedLine(receivedAt, this.#codec.toStoredObject(signal, message)), receivedAt, records);
      if (store !== undefined) {
        // The forwarder never waits for this: the store is behind the answer, not the upstream.
        try {
          await store.write(signal, format, body.byteLength === body.buffer.byteLength ? body : new Uint8Array(body), message, message === undefined);
        } catch {
          this.#metrics.storeErrors[signal].inc();
          this.#storeErrors.note(`${signal}:commit`);
          // Already forwarded or written as NDJSON: a retry would duplicate it there.
          if (forwarder === undefined && ndjson === undefined) {
            return { ok: false, status: 503, reason: 'store_failed', message: 'local store could not keep the request; retry later', retryAfterSeconds: 5 };
          }
        }
      }
    }
    this.#metrics.receivedRecords[signal].inc(records);
    this.#metrics.receivedBytes[signal].inc(wireBytes);
    this.#metrics.request(signal, 200);
    return { ok: true, records };
  }

  #send(res: ServerResponse, status: number, contentType: string, body: Buffer): void {
    // Once shutdown has begun every answer closes its connection, so no keep-alive socket
    // outlives the requests in flight.
    if (this.#closing !== undefined) res.shouldKeepAlive = false;
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': body.length });
    res.end(body);
  }

  #count(signal: SignalLabel, status: number, reason: string): void {
    this.#metrics.request(signal, status);
    this.#metrics.rejected(reason);
    this.#rejections.note(reason);
  }

  /**
   * Answers an error with a google.rpc.Status body. If the request body was not read (an early
   * refusal, or a limit hit mid-stream), the connection is closed after the answer rather than
   * reading a possibly huge body just to keep it alive; a small declared body is drained instead.
   */
  #reject(req: IncomingMessage, res: ServerResponse, signal: SignalLabel, format: BodyFormat | undefined, status: number, reason: string, message: string): void {
    this.#count(signal, status, reason);
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const unread = !req.complete && hasBody(req);
    if (unread) {
      const declared = req.headers['content-length'];
      const small = declared !== undefined && Number(declared) <= DRAIN_UNREAD_MAX && req.readableFlowing !== false;
      if (!small) res.shouldKeepAlive = false;
    }
    const { body, contentType } = statusBody(status, message, format);
    this.#send(res, status, contentType, body);
  }
}

/** The log records of a protobuf logs request the validating walk accepts; undefined for one it refuses. */
function walkedRecords(body: Uint8Array, known: ByteMap<true>): number | undefined {
  try {
    return countItems('logs', body, known);
  } catch (err) {
    if (err instanceof WireError) return undefined;
    throw err;
  }
}

/** Origin and path only: a query string could carry a credential. */
function upstreamForLog(upstream: string | undefined): string | null {
  if (upstream === undefined) return null;
  const u = new URL(upstream);
  return `${u.origin}${u.pathname}`;
}

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

/** One stored NDJSON line: the receive time and the decoded request. */
function storedLine(receivedAtMs: number, request: Record<string, unknown>): string {
  return `{"receivedAt":"${new Date(receivedAtMs).toISOString()}","request":${JSON.stringify(request)}}\n`;
}

/** Waits for `p` until the epoch-ms `deadline`; true when `p` settled in time. */
async function raceDeadline(p: Promise<void>, deadline: number): Promise<boolean> {
  const left = deadline - Date.now();
  if (left <= 0) return false;
  const ac = new AbortController();
  const timedOut = sleep(left, true, { signal: ac.signal }).catch(() => false);
  const won = await Promise.race([p.then(() => false), timedOut]);
  ac.abort();
  return !won;
}
