import type { IncomingMessage, ServerResponse } from 'node:http';
import { BurstLog } from '../../self/burst-log.js';
import type { Logger } from '../../self/logger.js';
import { LATENCY_BUCKETS, type BoundCounter, type Counter, type Histogram, type Registry } from '../../self/registry.js';
import { QueryBusyError, QueryTimeoutError } from '../store/store-errors.js';
import { DEFAULT_API_CONFIG, validateApiConfig, type ApiConfig } from './config.js';
import type { Catalog } from '../store/index.js';
import { ApiError, sendData, sendError } from './envelope.js';
import { getEntity, listEntities } from './entity-queries.js';
import { listMetrics, series } from './metric-queries.js';
import { OPENAPI_DOCUMENT } from './openapi.js';
import { Params } from './params.js';
import { getProblem, listProblems } from './problem-queries.js';
import type { ApiStore, QueryContext } from './query-context.js';
import { LogStreams } from './log-stream.js';
import { events, logs, trace, traces } from './record-queries.js';

const PREFIX = '/api/v1';

/** Whether a request URL is the query API's (the gateway routes the rest to OTLP ingest). */
export function isApiPath(url: string | undefined): boolean {
  if (url === undefined) return false;
  return url === PREFIX || url.startsWith(`${PREFIX}/`) || url.startsWith(`${PREFIX}?`);
}

export interface QueryApiDeps {
  readonly logger: Logger;
  readonly registry: Registry;
  /** Checks a read token (the gateway owns the token comparison): ok, missing or invalid. */
  readonly authorize: (authorization: string | undefined) => 'ok' | 'missing' | 'invalid';
  /** Whether a request without an Authorization header holds a live explorer session (its cookie). */
  readonly session?: (req: IncomingMessage) => boolean;
}

type Handler = (ctx: QueryContext, p: Params, pathArg: string) => Promise<unknown>;

interface Route {
  /** The endpoint's name in metrics and in the envelope's errors. */
  readonly endpoint: string;
  readonly params: readonly string[];
  readonly handler: Handler;
}

const ENTITY_SELECTORS = ['entity', 'workload', 'namespace'];
const STREAM_ENDPOINT = '/api/v1/logs/stream';
const STREAM_PARAMS = [...ENTITY_SELECTORS, 'severity', 'q'];

const ROUTES: Readonly<Record<string, Route>> = {
  '/entities': { endpoint: '/api/v1/entities', params: ['type', 'namespace', 'parent', 'q', 'limit', 'cursor'], handler: (c, p) => listEntities(c, p) },
  '/entities/{id}': { endpoint: '/api/v1/entities/{id}', params: [], handler: (c, p, id) => getEntity(c, id, p) },
  '/metrics': { endpoint: '/api/v1/metrics', params: ENTITY_SELECTORS, handler: (c, p) => listMetrics(c, p) },
  '/series': {
    endpoint: '/api/v1/series',
    params: ['metric', ...ENTITY_SELECTORS, 'type', 'parent', 'attr', 'from', 'to', 'step', 'agg', 'by'],
    handler: (c, p) => series(c, p),
  },
  '/logs': { endpoint: '/api/v1/logs', params: [...ENTITY_SELECTORS, 'from', 'to', 'severity', 'q', 'limit', 'cursor'], handler: (c, p) => logs(c, p) },
  '/events': { endpoint: '/api/v1/events', params: [...ENTITY_SELECTORS, 'from', 'to', 'name', 'severity', 'limit', 'cursor'], handler: (c, p) => events(c, p) },
  '/traces': { endpoint: '/api/v1/traces', params: ['service', 'minDuration', 'maxDuration', 'from', 'to', 'limit'], handler: (c, p) => traces(c, p) },
  '/traces/{traceId}': { endpoint: '/api/v1/traces/{traceId}', params: [], handler: (c, p, id) => trace(c, id, p) },
  '/problems': { endpoint: '/api/v1/problems', params: ['status', 'entity', 'limit', 'cursor'], handler: (c, p) => listProblems(c, p) },
  '/problems/{id}': { endpoint: '/api/v1/problems/{id}', params: [], handler: (c, p, id) => getProblem(c, id, p) },
  '/status': {
    endpoint: '/api/v1/status',
    params: [],
    handler: (c) => {
      const sizes = c.catalog.sizes;
      return Promise.resolve({
        state: c.store.state,
        file: c.store.file,
        pendingBytes: c.store.pendingBytes,
        rollupsBefore: c.store.rollupWatermarkMs,
        entities: sizes.entities,
        resources: sizes.resources,
        metrics: sizes.metrics,
      });
    },
  },
};

/** The route for a path below /api/v1 and its path argument, if any. */
function route(rest: string): { route: Route; arg: string } | undefined {
  const exact = ROUTES[rest];
  if (exact !== undefined) return { route: exact, arg: '' };
  const m = /^\/(entities|traces|problems)\/([^/]+)$/.exec(rest);
  if (m === null) return undefined;
  const r = ROUTES[m[1] === 'entities' ? '/entities/{id}' : m[1] === 'problems' ? '/problems/{id}' : '/traces/{traceId}']!;
  let arg: string;
  try {
    arg = decodeURIComponent(m[2]!);
  } catch {
    arg = '';
  }
  return { route: r, arg };
}

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

const OPENAPI_BODY = Buffer.from(JSON.stringify(OPENAPI_DOCUMENT), 'utf8');

/**
 * The query API: JSON over HTTP on the gateway's listener, read tokens apart from ingest tokens,
 * one envelope for every answer, every query bounded (range and rows by the parameters' limits,
 * time by gateway.queryTimeout, concurrency by the store's query pool).
 */
export class QueryApi {
  readonly #store: () => ApiStore | undefined;
  readonly #config: ApiConfig;
  readonly #deps: QueryApiDeps;
  readonly #requests: Counter;
  readonly #seconds: Histogram;
  readonly #bound = new Map<string, BoundCounter>();
  readonly #failures: BurstLog;
  readonly #streams: LogStreams;

  constructor(store: () => ApiStore | undefined, config: ApiConfig, deps: QueryApiDeps) {
    validateApiConfig(config);
    this.#store = store;
    this.#config = config;
    this.#deps = deps;
    this.#requests = deps.registry.counter('sextant_gateway_api_requests_total', 'Query API requests, by endpoint and HTTP status.');
    this.#seconds = deps.registry.histogram('sextant_gateway_api_seconds', 'Time to answer a query API request, by endpoint.', LATENCY_BUCKETS);
    this.#failures = new BurstLog(deps.logger, 'query API failures', { level: 'error' });
    this.#streams = new LogStreams({ maxStreams: config.maxLogStreams ?? DEFAULT_API_CONFIG.maxLogStreams! }, () => {
      const s = this.#store();
      if (s === undefined || s.state !== 'ready' || s.catalog === undefined) return undefined;
      return this.#context(s, s.catalog, new URLSearchParams(), STREAM_ENDPOINT);
    });
    deps.registry.gauge('sextant_gateway_api_log_streams', 'Live log streams (/api/v1/logs/stream) open now.').collect(() => this.#streams.open);
    if (config.readTokens.length === 0 && !config.readOpenOnLoopback) {
      deps.logger.warn('the query API has no read tokens (gateway.readTokens): it answers 401 to every request');
    }
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let endpoint = 'unknown';
    try {
      const url = new URL(req.url ?? '/', 'http://gateway');
      const rest = url.pathname.slice(PREFIX.length);
      if (req.method !== 'GET') throw new ApiError('method_not_allowed', 'method not allowed: the query API answers GET');
      if (rest === '/openapi.json') {
        endpoint = '/api/v1/openapi.json';
        res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': OPENAPI_BODY.length, 'Cache-Control': 'no-cache' });
        res.end(OPENAPI_BODY);
        this.#count(endpoint, 200, started);
        return;
      }
      this.#authorize(req);
      if (rest === '/logs/stream') {
        endpoint = STREAM_ENDPOINT;
        const { store, catalog } = this.#ready();
        const ctx = this.#context(store, catalog, url.searchParams, endpoint);
        await this.#streams.start(ctx, new Params(url.searchParams, STREAM_PARAMS), req, res);
        this.#count(endpoint, 200, started);
        return;
      }
      const found = route(rest);
      if (found === undefined) throw new ApiError('not_found', `no endpoint ${url.pathname.slice(0, 100)}; GET /api/v1/openapi.json lists them`);
      endpoint = found.route.endpoint;
      const { store, catalog } = this.#ready();
      const params = new Params(url.searchParams, found.route.params);
      const ctx = this.#context(store, catalog, url.searchParams, endpoint);
      const data = await found.route.handler(ctx, params, found.arg);
      if (res.destroyed) return;
      sendData(res, data);
      this.#count(endpoint, 200, started);
    } catch (err) {
      const e = this.#toApiError(err);
      if (!res.headersSent && !res.destroyed) sendError(res, e);
      this.#count(endpoint, e.status, started);
    }
  }

  /** Ends the live log streams (the gateway is stopping: they would hold its close open). */
  close(): void {
    this.#streams.close();
  }

  /** The open store and its catalog, or a 503 that says why there is none. */
  #ready(): { store: ApiStore; catalog: Catalog } {
    const store = this.#store();
    const catalog = store?.catalog;
    if (store === undefined || store.state !== 'ready' || catalog === undefined) {
      throw new ApiError('unavailable', `the store is unavailable: ${store?.problem?.message ?? 'not open yet'}`, {
        retryAfterSeconds: 30,
        ...(store?.problem !== undefined ? { extra: { recovery: store.problem.recovery } } : {}),
      });
    }
    return { store, catalog };
  }

  #context(store: ApiStore, catalog: Catalog, query: URLSearchParams, endpoint: string): QueryContext {
    return { store, catalog, nowMs: store.now(), timeoutMs: this.#config.queryTimeoutMs, maxRows: this.#config.queryMaxRows, query, endpoint };
  }

  #authorize(req: IncomingMessage): void {
    if (this.#config.readOpenOnLoopback && isLoopback(req.socket.remoteAddress)) return;
    if (req.headers.authorization === undefined && this.#deps.session?.(req) === true) return;
    const verdict = this.#config.readTokens.length === 0 ? 'missing' : this.#deps.authorize(req.headers.authorization);
    if (verdict === 'missing') throw new ApiError('unauthorized', 'missing read token: send "Authorization: Api-Token <token>" with a token of gateway.readTokens');
    if (verdict === 'invalid') throw new ApiError('forbidden', 'read token not accepted');
  }

  #toApiError(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    if (err instanceof QueryTimeoutError) return new ApiError('timeout', err.message);
    if (err instanceof QueryBusyError) return new ApiError('busy', err.message, { retryAfterSeconds: 1 });
    this.#failures.note(err instanceof Error ? err.name : 'error', 1, undefined, err instanceof Error ? err.message : String(err));
    return new ApiError('internal', 'internal error');
  }

  #count(endpoint: string, status: number, started: number): void {
    const key = `${endpoint} ${status}`;
    let c = this.#bound.get(key);
    if (c === undefined) {
      c = this.#requests.bind({ endpoint, code: String(status) });
      this.#bound.set(key, c);
    }
    c.inc();
    this.#seconds.observe((performance.now() - started) / 1000, { endpoint });
  }
}
