import { ConfigError } from '../../errors.js';

/** The embedded store's options (`gateway.*` keys, parsed: durations in ms, sizes in bytes). */
export interface StoreConfig {
  /** Logs, events, spans, entities and resources unseen for longer are deleted (`gateway.retention`). */
  readonly retentionMs: number;
  /** Above this the oldest data goes first (`gateway.maxStoreBytes`). */
  readonly maxStoreBytes: number;
  /** Raw points older than this become 1-minute rollups (`gateway.rollupAfter`). */
  readonly rollupAfterMs: number;
  /** How long rollups are kept (`gateway.rollupRetention`). */
  readonly rollupRetentionMs: number;
  /** DuckDB's buffer pool (`gateway.storeMemoryLimit`). */
  readonly memoryLimitBytes: number;
}

const MiB = 1024 * 1024;
const HOUR = 3_600_000;

export const DEFAULT_STORE_CONFIG: StoreConfig = Object.freeze({
  retentionMs: 168 * HOUR,
  maxStoreBytes: 4096 * MiB,
  rollupAfterMs: 6 * HOUR,
  rollupRetentionMs: 168 * HOUR,
  memoryLimitBytes: 512 * MiB,
});

/** Internal limits a user does not set (a bad one is a bug: RangeError). */
export interface StoreTuning {
  /** Requests decoded and waiting for a commit; above this the gateway answers 503 (the store is behind). */
  readonly maxPendingBytes: number;
  /** How often retention, rollups and the size cap run. */
  readonly maintenanceIntervalMs: number;
  /** A resource's or entity's last-seen time is written at most this often. */
  readonly lastSeenResolutionMs: number;
  /** How often a store that could not be opened is tried again. */
  readonly reopenIntervalMs: number;
}

export const DEFAULT_STORE_TUNING: StoreTuning = Object.freeze({
  maxPendingBytes: 32 * MiB,
  maintenanceIntervalMs: 60_000,
  lastSeenResolutionMs: 60_000,
  reopenIntervalMs: 60_000,
});

function positive(key: 'gateway.retention' | 'gateway.maxStoreBytes' | 'gateway.rollupAfter' | 'gateway.rollupRetention' | 'gateway.storeMemoryLimit', value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new ConfigError(key, `must be a positive whole number, got ${String(value)}`);
}

/** Checks the options at start, naming the key that sets each. */
export function validateStoreConfig(c: StoreConfig): void {
  positive('gateway.retention', c.retentionMs);
  positive('gateway.maxStoreBytes', c.maxStoreBytes);
  positive('gateway.rollupAfter', c.rollupAfterMs);
  positive('gateway.rollupRetention', c.rollupRetentionMs);
  positive('gateway.storeMemoryLimit', c.memoryLimitBytes);
}
