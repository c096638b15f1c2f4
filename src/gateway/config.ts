import type { Secret } from '../config-kinds/secret.js';
import { type ListenAddress, parseListenText, Problem } from '../config-kinds/values.js';
import { ConfigError } from '../errors.js';
import { DEFAULT_API_CONFIG, validateApiConfig, type ApiConfig } from './api/config.js';
import { DEFAULT_EXPLORER_CONFIG, validateExplorerConfig, type ExplorerConfig } from './ui/config.js';
import { DEFAULT_STORE_CONFIG, validateStoreConfig, type StoreConfig } from './store/config.js';
import { validateProblemsConfig, type ProblemsConfig } from './problems/config.js';

export type { ListenAddress };

/**
 * The part of the config's `Secret` the gateway uses: read only where it is used, through
 * `reveal()`. Structural, so tests may pass `{ reveal: () => 'tok' }`.
 */
export type SecretValue = Pick<Secret, 'reveal'>;

export interface GatewayConfig {
  /** "host:port" ("[::1]:port" for IPv6); port 0 binds an ephemeral port. */
  listen: string;
  /** Accepted API tokens; empty means no authentication (warned about once at start). */
  tokens: readonly SecretValue[];
  /** Where the embedded store's file (and, with `ndjson`, each signal's NDJSON files) live. */
  dataDir: string;
  /** OTLP/HTTP base URL to forward to (the signal path `/v1/<signal>` is appended). */
  upstream?: string | undefined;
  upstreamToken?: SecretValue | undefined;
  /** Limit on the body as sent (compressed); larger answers 413. */
  maxRequestBytes: number;
  /** Limit on the body after gzip; larger answers 413 (inflation stops at the limit). */
  maxDecompressedBytes: number;
  /** Config key `native`: false leaves gzip bodies to Node's gunzip instead of the addon's (src/native/gunzip.ts). Default true. */
  native?: boolean | undefined;
  /** The NDJSON files (`ndjson`). */
  store: {
    /** A file is rotated before it would grow past this. */
    maxFileBytes: number;
    /** Per signal: the oldest files are deleted while the signal's files exceed this. */
    maxTotalBytes: number;
  };
  forward: {
    /** Per signal, in decompressed request bytes. A full queue answers 503 + Retry-After. */
    maxQueueBytes: number;
    /** Per signal, in requests. */
    maxQueueItems: number;
  };
  /** How long `close()` may take to finish requests, flush the store and drain the forward queues. */
  shutdownTimeoutMs?: number | undefined;
  /** The embedded DuckDB store under `dataDir`; false: none (receive and forward only). Default on. */
  database?: StoreConfig | false | undefined;
  /** Also write NDJSON lines under `dataDir/<signal>/` (sized by `store`). Default off. */
  ndjson?: boolean | undefined;
  /** The query API at /api/v1 (served while the store is on). */
  api?: ApiConfig | undefined;
  /** The explorer web page at /ui (served while the store and the API are on). */
  explorer?: ExplorerConfig | undefined;
  /** Problem detection over the store (needs `database`); absent or false: off. `sextant gateway` turns it on by default (gateway.problems.enabled). */
  problems?: ProblemsConfig | false | undefined;
}

const MiB = 1024 * 1024;

export const DEFAULT_GATEWAY_CONFIG: Readonly<GatewayConfig> = Object.freeze({
  listen: '127.0.0.1:14318',
  tokens: [],
  dataDir: './data',
  upstream: undefined,
  upstreamToken: undefined,
  maxRequestBytes: 8 * MiB,
  maxDecompressedBytes: 32 * MiB,
  store: Object.freeze({ maxFileBytes: 64 * MiB, maxTotalBytes: 1024 * MiB }),
  forward: Object.freeze({ maxQueueBytes: 64 * MiB, maxQueueItems: 1024 }),
  shutdownTimeoutMs: 10_000,
  database: DEFAULT_STORE_CONFIG,
  ndjson: false,
  api: DEFAULT_API_CONFIG,
  explorer: DEFAULT_EXPLORER_CONFIG,
});

/** A bare port ("14318") or an empty host (":14318"). */
const PORT_ONLY = /^:?(\d+)$/;

/**
 * Parses `gateway.listen` (or, as `key` says, `gateway.grpcListen`) with the config's own listen
 * parser ("host:port", "[v6]:port"). One gateway-only convenience is kept in front of it: a bare
 * port, or an empty host, listens on 127.0.0.1 (never all interfaces by accident). Errors name
 * the key, not the value.
 */
export function parseListen(listen: string, key: 'gateway.listen' | 'gateway.grpcListen' = 'gateway.listen'): ListenAddress {
  const portOnly = PORT_ONLY.exec(listen);
  try {
    return parseListenText(portOnly === null ? listen : `127.0.0.1:${portOnly[1]!}`);
  } catch (err) {
    if (!(err instanceof Problem)) throw err;
    // An unbracketed IPv6 address is the likely mistake behind a second colon.
    const hint = !listen.startsWith('[') && listen.indexOf(':') !== listen.lastIndexOf(':') ? ' (IPv6 hosts need brackets)' : '';
    throw new ConfigError(key, `${err.message}${hint}`, { cause: err });
  }
}

function positiveInt(key: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new ConfigError(key, `must be a positive integer, got ${String(value)}`);
}

/** Checks every option at start, naming the option in the message. Never prints a token. */
export function validateGatewayConfig(config: GatewayConfig): ListenAddress {
  const addr = parseListen(config.listen);
  if (typeof config.dataDir !== 'string' || config.dataDir === '') throw new ConfigError('gateway.dataDir', 'must be a non-empty path');
  positiveInt('gateway.maxRequestBytes', config.maxRequestBytes);
  positiveInt('gateway.maxDecompressedBytes', config.maxDecompressedBytes);
  positiveInt('gateway.store.maxFileBytes', config.store.maxFileBytes);
  positiveInt('gateway.store.maxTotalBytes', config.store.maxTotalBytes);
  positiveInt('gateway.forward.maxQueueBytes', config.forward.maxQueueBytes);
  positiveInt('gateway.forward.maxQueueItems', config.forward.maxQueueItems);
  // The process-wide shutdownTimeout bounds the gateway's close too (from-config.ts).
  if (config.shutdownTimeoutMs !== undefined) positiveInt('shutdownTimeout', config.shutdownTimeoutMs);
  for (let i = 0; i < config.tokens.length; i++) {
    const t = config.tokens[i]!.reveal();
    // Only the position is reported: the value is a secret.
    if (t.length === 0 || /[\s]/.test(t)) throw new ConfigError('gateway.tokens', `token ${i + 1} (gateway.tokens[${i}]) must be non-empty and contain no whitespace`);
  }
  if (config.database !== undefined && config.database !== false) validateStoreConfig(config.database);
  if (config.api !== undefined) validateApiConfig(config.api);
  if (config.explorer !== undefined) validateExplorerConfig(config.explorer);
  if (config.problems !== undefined && config.problems !== false) {
    if (config.database === false) throw new ConfigError('gateway.problems.enabled', 'problem detection needs the store (gateway.storeEnabled)');
    validateProblemsConfig(config.problems);
  }
  if (config.upstream !== undefined) {
    let u: URL;
    try {
      u = new URL(config.upstream);
    } catch {
      throw new ConfigError('gateway.upstream', 'must be an absolute http(s) URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('gateway.upstream', `must be http or https, got ${u.protocol}`);
    if (u.username || u.password) throw new ConfigError('gateway.upstream', 'must not carry credentials; use gateway.upstreamToken');
  }
  return addr;
}
