import type { Secret } from '../config-kinds/secret.js';
import { formatListen, type ListenAddress } from '../config-kinds/values.js';
import type { KubernetesConfig } from '../enrich/k8s/kubernetes-metadata.js';
import type { LogLevel } from '../self/logger.js';
import type { ClusterSection } from './cluster/config.js';
import type { GatewayConfig } from './config.js';
import type { ProblemsConfig } from './problems/config.js';
import type { ConfigOf } from '../config-kinds/section.js';
import type { GATEWAY_STORE_KEYS } from './store/keys.js';
import type { GATEWAY_EXPLORER_KEYS } from './ui/keys.js';
import type { GATEWAY_PROBLEM_KEYS } from './problems/keys.js';

/**
 * What the gateway process reads of the loaded configuration (`SextantConfig` has all of it).
 * Written here rather than imported from src/config/: the schema composes the gateway's own
 * `cluster` keys (cluster/config.ts), so the gateway importing the schema back would make the
 * two rooms import each other (test/unit/import-graph.test.ts).
 */
export interface GatewayProcessConfig {
  readonly logLevel: LogLevel;
  readonly native: boolean;
  readonly listen: ListenAddress;
  readonly shutdownTimeout: number;
  readonly gateway: ConfigOf<typeof GATEWAY_STORE_KEYS> &
    ConfigOf<typeof GATEWAY_EXPLORER_KEYS> & {
    readonly listen: ListenAddress;
    readonly grpcListen: ListenAddress;
    readonly tokens: readonly Secret[];
    readonly dataDir: string;
    readonly upstream: string | undefined;
    readonly upstreamToken: Secret | undefined;
    readonly maxRequestBytes: number;
    readonly maxDecompressedBytes: number;
    readonly store: { readonly maxFileBytes: number; readonly maxTotalBytes: number };
    readonly forward: { readonly maxQueueBytes: number; readonly maxQueueItems: number };
    readonly problems: ConfigOf<typeof GATEWAY_PROBLEM_KEYS>;
  };
  readonly kubernetes: KubernetesConfig;
  readonly cluster: ClusterSection;
}

/**
 * The gateway's options from the loaded Sextant configuration (`gateway.*` keys, already parsed:
 * sizes in bytes, secrets as `Secret`, durations in ms). The process-wide `shutdownTimeout`
 * bounds the gateway's own close as well.
 */
export function gatewayConfigFrom(config: Pick<GatewayProcessConfig, 'gateway' | 'shutdownTimeout'> & Partial<Pick<GatewayProcessConfig, 'native'>>): GatewayConfig {
  const g = config.gateway;
  return {
    listen: formatListen(g.listen),
    tokens: g.tokens,
    dataDir: g.dataDir,
    upstream: g.upstream,
    upstreamToken: g.upstreamToken,
    maxRequestBytes: g.maxRequestBytes,
    maxDecompressedBytes: g.maxDecompressedBytes,
    native: config.native ?? true,
    store: { maxFileBytes: g.store.maxFileBytes, maxTotalBytes: g.store.maxTotalBytes },
    forward: { maxQueueBytes: g.forward.maxQueueBytes, maxQueueItems: g.forward.maxQueueItems },
    shutdownTimeoutMs: config.shutdownTimeout,
    database: g.storeEnabled
      ? { retentionMs: g.retention, maxStoreBytes: g.maxStoreBytes, rollupAfterMs: g.rollupAfter, rollupRetentionMs: g.rollupRetention, memoryLimitBytes: g.storeMemoryLimit }
      : false,
    ndjson: g.ndjson,
    api: { readTokens: g.readTokens, readOpenOnLoopback: g.readOpenOnLoopback, queryTimeoutMs: g.queryTimeout, queryMaxRows: g.queryMaxRows, maxLogStreams: g.logStreams },
    explorer: { enabled: g.explorer, sessionTtlMs: g.sessionTtl },
    problems: g.storeEnabled && g.problems.enabled ? problemsConfigFrom(g.problems) : false,
  };
}

/** `gateway.problems.*` as the engine takes them. */
function problemsConfigFrom(p: ConfigOf<typeof GATEWAY_PROBLEM_KEYS>): ProblemsConfig {
  return {
    enabled: p.enabled,
    intervalMs: p.interval,
    windowMs: p.window,
    minHistoryMs: p.minHistory,
    stepMs: p.step,
    violations: p.violations,
    steps: p.steps,
    deviations: p.deviations,
    closeAfterMs: p.closeAfter,
    eventHoldMs: p.eventHold,
    crashLoopRestarts: p.crashLoopRestarts,
    crashLoopWindowMs: p.crashLoopWindow,
    throttlingPercent: p.throttlingPercent,
    filesystemPercent: p.filesystemPercent,
    filesystemTimeToFullMs: p.filesystemTimeToFull,
    errorLogsPerMinute: p.errorLogsPerMinute,
    pendingAfterMs: p.pendingAfter,
    webhookUrl: p.webhookUrl,
    webhookSecret: p.webhookSecret,
  };
}
