import { describe, expect, it } from 'vitest';
import { closest, envName, flagName } from '../../../src/config-kinds/names.js';
import { KEYS, KEYS_BY_PATH } from '../../../src/config/schema.js';

/**
 * The public contract: these names are documented (README, `sextant help config`) and set in
 * deploy/ and in users' configs.
 */
const CONTRACT: Array<[path: string, env: string, flag: string | undefined]> = [
  ['endpoint', 'SEXTANT_ENDPOINT', '--endpoint'],
  ['apiToken', 'SEXTANT_API_TOKEN', undefined],
  ['apiTokenFile', 'SEXTANT_API_TOKEN_FILE', '--api-token-file'],
  ['headers', 'SEXTANT_HEADERS', '--headers'],
  ['interval', 'SEXTANT_INTERVAL', '--interval'],
  ['hostRoot', 'SEXTANT_HOST_ROOT', '--host-root'],
  ['stateDir', 'SEXTANT_STATE_DIR', '--state-dir'],
  ['temporality', 'SEXTANT_TEMPORALITY', '--temporality'],
  ['compression', 'SEXTANT_COMPRESSION', '--compression'],
  ['logLevel', 'SEXTANT_LOG_LEVEL', '--log-level'],
  ['listen', 'SEXTANT_LISTEN', '--listen'],
  ['tls.caFile', 'SEXTANT_TLS_CA_FILE', '--tls-ca-file'],
  ['tls.insecureSkipVerify', 'SEXTANT_TLS_INSECURE_SKIP_VERIFY', '--tls-insecure-skip-verify'],
  ['proxy', 'SEXTANT_PROXY', '--proxy'],
  ['export.timeout', 'SEXTANT_EXPORT_TIMEOUT', '--export-timeout'],
  ['export.maxInFlight', 'SEXTANT_EXPORT_MAX_IN_FLIGHT', '--export-max-in-flight'],
  ['export.retryInitialBackoff', 'SEXTANT_EXPORT_RETRY_INITIAL_BACKOFF', '--export-retry-initial-backoff'],
  ['export.retryMaxBackoff', 'SEXTANT_EXPORT_RETRY_MAX_BACKOFF', '--export-retry-max-backoff'],
  ['export.retryMaxElapsed', 'SEXTANT_EXPORT_RETRY_MAX_ELAPSED', '--export-retry-max-elapsed'],
  ['shutdownTimeout', 'SEXTANT_SHUTDOWN_TIMEOUT', '--shutdown-timeout'],
  ['summaryInterval', 'SEXTANT_SUMMARY_INTERVAL', '--summary-interval'],
  ['native', 'SEXTANT_NATIVE', '--native'],
  ['pipeline.metrics.maxItems', 'SEXTANT_PIPELINE_METRICS_MAX_ITEMS', '--pipeline-metrics-max-items'],
  ['pipeline.metrics.maxBytes', 'SEXTANT_PIPELINE_METRICS_MAX_BYTES', '--pipeline-metrics-max-bytes'],
  ['pipeline.logs.maxItems', 'SEXTANT_PIPELINE_LOGS_MAX_ITEMS', '--pipeline-logs-max-items'],
  ['pipeline.logs.maxBytes', 'SEXTANT_PIPELINE_LOGS_MAX_BYTES', '--pipeline-logs-max-bytes'],
  ['pipeline.events.maxItems', 'SEXTANT_PIPELINE_EVENTS_MAX_ITEMS', '--pipeline-events-max-items'],
  ['pipeline.events.maxBytes', 'SEXTANT_PIPELINE_EVENTS_MAX_BYTES', '--pipeline-events-max-bytes'],
  ['batch.metrics.maxItems', 'SEXTANT_BATCH_METRICS_MAX_ITEMS', '--batch-metrics-max-items'],
  ['batch.metrics.maxBytes', 'SEXTANT_BATCH_METRICS_MAX_BYTES', '--batch-metrics-max-bytes'],
  ['batch.metrics.linger', 'SEXTANT_BATCH_METRICS_LINGER', '--batch-metrics-linger'],
  ['batch.logs.maxItems', 'SEXTANT_BATCH_LOGS_MAX_ITEMS', '--batch-logs-max-items'],
  ['batch.logs.maxBytes', 'SEXTANT_BATCH_LOGS_MAX_BYTES', '--batch-logs-max-bytes'],
  ['batch.logs.linger', 'SEXTANT_BATCH_LOGS_LINGER', '--batch-logs-linger'],
  ['batch.events.maxItems', 'SEXTANT_BATCH_EVENTS_MAX_ITEMS', '--batch-events-max-items'],
  ['batch.events.maxBytes', 'SEXTANT_BATCH_EVENTS_MAX_BYTES', '--batch-events-max-bytes'],
  ['batch.events.linger', 'SEXTANT_BATCH_EVENTS_LINGER', '--batch-events-linger'],
  ['gateway.listen', 'SEXTANT_GATEWAY_LISTEN', '--gateway-listen'],
  ['gateway.tokens', 'SEXTANT_GATEWAY_TOKENS', undefined],
  ['gateway.dataDir', 'SEXTANT_GATEWAY_DATA_DIR', '--gateway-data-dir'],
  ['gateway.upstream', 'SEXTANT_GATEWAY_UPSTREAM', '--gateway-upstream'],
  ['gateway.upstreamToken', 'SEXTANT_GATEWAY_UPSTREAM_TOKEN', undefined],
  ['gateway.maxRequestBytes', 'SEXTANT_GATEWAY_MAX_REQUEST_BYTES', '--gateway-max-request-bytes'],
  ['gateway.maxDecompressedBytes', 'SEXTANT_GATEWAY_MAX_DECOMPRESSED_BYTES', '--gateway-max-decompressed-bytes'],
  ['gateway.store.maxFileBytes', 'SEXTANT_GATEWAY_STORE_MAX_FILE_BYTES', '--gateway-store-max-file-bytes'],
  ['gateway.store.maxTotalBytes', 'SEXTANT_GATEWAY_STORE_MAX_TOTAL_BYTES', '--gateway-store-max-total-bytes'],
  ['gateway.forward.maxQueueBytes', 'SEXTANT_GATEWAY_FORWARD_MAX_QUEUE_BYTES', '--gateway-forward-max-queue-bytes'],
  ['gateway.forward.maxQueueItems', 'SEXTANT_GATEWAY_FORWARD_MAX_QUEUE_ITEMS', '--gateway-forward-max-queue-items'],
];

describe('derived names', () => {
  it.each(CONTRACT)('%s → %s, %s', (path, env, flag) => {
    const key = KEYS_BY_PATH.get(path);
    expect(key, `${path} is in the schema`).toBeDefined();
    expect(key!.env).toBe(env);
    expect(key!.flag).toBe(flag);
  });

  it('derives every key by the one rule, secrets without a flag', () => {
    for (const k of KEYS) {
      expect(k.env).toBe(envName(k.path));
      expect(k.flag).toBe(k.spec.secret ? undefined : flagName(k.path));
    }
  });

  it('gives no two keys the same env name or flag', () => {
    expect(new Set(KEYS.map((k) => k.env)).size).toBe(KEYS.length);
    const flags = KEYS.flatMap((k) => (k.flag === undefined ? [] : [k.flag]));
    expect(new Set(flags).size).toBe(flags.length);
    expect(flags).not.toContain('--config');
  });

  it('splits camelCase words', () => {
    expect(envName('gateway.dataDir')).toBe('SEXTANT_GATEWAY_DATA_DIR');
    expect(envName('export.maxInFlight')).toBe('SEXTANT_EXPORT_MAX_IN_FLIGHT');
    expect(flagName('gateway.dataDir')).toBe('--gateway-data-dir');
    expect(flagName('tls.insecureSkipVerify')).toBe('--tls-insecure-skip-verify');
  });
});

describe('closest', () => {
  const names = ['interval', 'gateway.dataDir', 'gateway.listen', 'logLevel', 'export.maxInFlight'];
  it('suggests for typos, separators and case', () => {
    expect(closest('intervall', names)).toBe('interval');
    expect(closest('gateway.data_dir', names)).toBe('gateway.dataDir');
    expect(closest('LOG_LEVEL', names)).toBe('logLevel');
    expect(closest('dataDir', names)).toBe('gateway.dataDir');
    expect(closest('export.maxInflight', names)).toBe('export.maxInFlight');
  });
  it('stays quiet when nothing is close', () => {
    expect(closest('completelyDifferent', names)).toBeUndefined();
    expect(closest('', names)).toBeUndefined();
    expect(closest('x'.repeat(10_000), names)).toBeUndefined();
  });
});
