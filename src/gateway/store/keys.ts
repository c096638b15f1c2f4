import { boolean, bytes, duration, integer, secretFile, secretList } from '../../config-kinds/values.js';

/**
 * The gateway's embedded store (DuckDB, `<dataDir>/sextant.duckdb`) and its query API
 * (`/api/v1`): keys composed into the `gateway` section of the schema. Defaults match
 * `DEFAULT_STORE_CONFIG` and `DEFAULT_API_CONFIG` in src/gateway/store and src/gateway/api.
 */

const GiB = 1024 ** 3;

export const GATEWAY_STORE_KEYS = {
  storeEnabled: boolean({
    description:
      'Keep what the gateway receives in its embedded store (DuckDB, <dataDir>/sextant.duckdb) and serve the query API. false: receive and forward only.',
    default: true,
  }),
  ndjson: boolean({
    description: 'Also write every request as one NDJSON line per request under <dataDir>/<signal>/, hourly files sized by gateway.store.* (the format before the embedded store).',
    default: false,
  }),
  retention: duration({
    description: 'Logs, events, spans and entities not seen for this long are deleted; nothing is kept longer (raw points and rollups included).',
    default: '168h',
    min: '1m',
    max: '8760h',
  }),
  maxStoreBytes: bytes({
    description: 'Most bytes the store may use; above it the oldest data is deleted first. The file does not shrink: freed space is reused.',
    default: '4GiB',
    min: 16 * 1024 * 1024,
    max: { value: 2 ** 50 },
  }),
  rollupAfter: duration({ description: 'Points older than this are folded into 1-minute rollups (count, sum, min, max, last, increase) and the raw points deleted.', default: '6h', min: '1m', max: '8760h' }),
  rollupRetention: duration({ description: 'How long 1-minute rollups are kept (at most gateway.retention).', default: '168h', min: '1m', max: '8760h' }),
  storeMemoryLimit: bytes({ description: "DuckDB's memory limit (its buffer pool for inserts and queries).", default: '512MiB', min: 64 * 1024 * 1024, max: { value: 64 * GiB } }),
  heapFloor: bytes({
    description:
      "V8's old-space floor for the gateway process (--initial-old-space-size; the gateway restarts itself once at start to apply it): below it V8 starts no full collection for the heap's own growth, which a storing gateway otherwise does back to back (BENCHMARKS.md M2.5). 0: a quarter of the container's memory limit within 32-256 MiB, 256 MiB without one. Not memory taken: a limit for when to collect.",
    default: 0,
    min: 16 * 1024 * 1024,
    max: { value: 16 * GiB },
    zero: 'from the memory limit',
  }),
  readTokens: secretList({ description: 'Tokens accepted by the query API (/api/v1), separate from the ingest tokens. Empty: the API answers 401 (unless gateway.readOpenOnLoopback).' }),
  readTokensFile: secretFile({ description: 'File holding the query API tokens, one per line or comma-separated.', fills: 'gateway.readTokens' }),
  readOpenOnLoopback: boolean({ description: 'Answer query API requests from loopback addresses without a token (local development; --local sets it).', default: false }),
  queryTimeout: duration({ description: 'Longest a query API request may run; a slower one is cancelled and answered 503 with errorType timeout.', default: '5s', min: '10ms', max: '5m' }),
  logStreams: integer({ description: 'Most live log streams (/api/v1/logs/stream, the explorer\'s follow) open at once; more are answered 503.', default: 32, min: 1, max: { value: 10_000 } }),
  queryMaxRows: integer({ description: 'Most rows (log lines, events, entities, traces) one query API page may return.', default: 10_000, min: 1, max: { value: 1_000_000 } }),
};
