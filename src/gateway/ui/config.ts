import { ConfigError } from '../../errors.js';

/** The explorer's options (`gateway.explorer`, `gateway.sessionTtl`, parsed). */
export interface ExplorerConfig {
  /** Serve the explorer at /ui (it needs the store and its query API). */
  readonly enabled: boolean;
  /** How long a session cookie a read token was exchanged for stays valid. */
  readonly sessionTtlMs: number;
  /** Where the built page is (dist/ui); undefined: beside the running code. */
  readonly assetsDir?: string | undefined;
}

export const DEFAULT_EXPLORER_CONFIG: ExplorerConfig = Object.freeze({ enabled: true, sessionTtlMs: 12 * 3_600_000 });

export function validateExplorerConfig(c: ExplorerConfig): void {
  if (!Number.isSafeInteger(c.sessionTtlMs) || c.sessionTtlMs < 1000) throw new ConfigError('gateway.sessionTtl', `must be at least 1s, got ${String(c.sessionTtlMs)} ms`);
}
