import type { SextantConfig } from '../config/schema.js';
import { formatListen } from '../config-kinds/values.js';
import type { GatewayConfig } from './config.js';

/**
 * The gateway's options from the loaded Sextant configuration (`gateway.*` keys, already parsed:
 * sizes in bytes, secrets as `Secret`, durations in ms). The process-wide `shutdownTimeout`
 * bounds the gateway's own close as well.
 */
export function gatewayConfigFrom(config: SextantConfig): GatewayConfig {
  const g = config.gateway;
  return {
    listen: formatListen(g.listen),
    tokens: g.tokens,
    dataDir: g.dataDir,
    upstream: g.upstream,
    upstreamToken: g.upstreamToken,
    maxRequestBytes: g.maxRequestBytes,
    maxDecompressedBytes: g.maxDecompressedBytes,
    store: { maxFileBytes: g.store.maxFileBytes, maxTotalBytes: g.store.maxTotalBytes },
    forward: { maxQueueBytes: g.forward.maxQueueBytes, maxQueueItems: g.forward.maxQueueItems },
    shutdownTimeoutMs: config.shutdownTimeout,
    database: g.storeEnabled
      ? { retentionMs: g.retention, maxStoreBytes: g.maxStoreBytes, rollupAfterMs: g.rollupAfter, rollupRetentionMs: g.rollupRetention, memoryLimitBytes: g.storeMemoryLimit }
      : false,
    ndjson: g.ndjson,
    api: { readTokens: g.readTokens, readOpenOnLoopback: g.readOpenOnLoopback, queryTimeoutMs: g.queryTimeout, queryMaxRows: g.queryMaxRows },
  };
}
