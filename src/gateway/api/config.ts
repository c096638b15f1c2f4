import { ConfigError } from '../../errors.js';

/** A token as the API reads it: only through `reveal()` (the config's `Secret` fits). */
export interface ReadToken {
  reveal(): string;
}

/** The query API's options (`gateway.*` keys, parsed). */
export interface ApiConfig {
  /** Accepted read tokens (`gateway.readTokens`); none: only loopback, and only when open. */
  readonly readTokens: readonly ReadToken[];
  /** Loopback clients need no token (`gateway.readOpenOnLoopback`; `--local` sets it). */
  readonly readOpenOnLoopback: boolean;
  /** A query is cancelled after this (`gateway.queryTimeout`). */
  readonly queryTimeoutMs: number;
  /** Most rows one page returns (`gateway.queryMaxRows`). */
  readonly queryMaxRows: number;
  /** Most live log streams (/api/v1/logs/stream) open at once (`gateway.logStreams`). */
  readonly maxLogStreams?: number;
}

export const DEFAULT_API_CONFIG: ApiConfig = Object.freeze({
  readTokens: [],
  readOpenOnLoopback: false,
  queryTimeoutMs: 5_000,
  queryMaxRows: 10_000,
  maxLogStreams: 32,
});

/** Checks the options at start, naming the key that sets each. Never prints a token. */
export function validateApiConfig(c: ApiConfig): void {
  if (!Number.isSafeInteger(c.queryTimeoutMs) || c.queryTimeoutMs <= 0) throw new ConfigError('gateway.queryTimeout', `must be a positive duration, got ${String(c.queryTimeoutMs)} ms`);
  if (!Number.isSafeInteger(c.queryMaxRows) || c.queryMaxRows <= 0) throw new ConfigError('gateway.queryMaxRows', `must be a positive integer, got ${String(c.queryMaxRows)}`);
  if (c.maxLogStreams !== undefined && (!Number.isSafeInteger(c.maxLogStreams) || c.maxLogStreams <= 0)) {
    throw new ConfigError('gateway.logStreams', `must be a positive integer, got ${String(c.maxLogStreams)}`);
  }
  for (let i = 0; i < c.readTokens.length; i++) {
    const t = c.readTokens[i]!.reveal();
    if (t.length === 0 || /\s/.test(t)) throw new ConfigError('gateway.readTokens', `token ${i + 1} (gateway.readTokens[${i}]) must be non-empty and contain no whitespace`);
  }
}
