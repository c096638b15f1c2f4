import type { OtlpSignal } from '../../export/types.js';
import { BurstLog } from '../../self/burst-log.js';
import type { Logger } from '../../self/logger.js';
import { LATENCY_BUCKETS, type Counter, type Gauge, type Histogram, type Registry } from '../../self/registry.js';
import type { Catalog, GraphObject } from './catalog.js';
import path from 'node:path';
import type { DuckDBValue } from '@duckdb/node-api';
import { DEFAULT_STORE_TUNING, validateStoreConfig, type StoreConfig, type StoreTuning } from './config.js';
import { closeDatabase, openDatabase, storeFile, type OpenDatabase } from './database.js';
import { maintain, usedBytes, type MaintenanceReport, type MaintenanceState } from './maintenance.js';
import { QueryPool, type QueryParam, type Row } from './query-pool.js';
import { RequestLog } from './request-log.js';
import { classifyStoreError, isFatalStoreError, StoreUnavailableError } from './store-errors.js';
import { StoreWriter, type RequestDecoder } from './store-writer.js';

export interface StoreDeps {
  readonly logger: Logger;
  readonly registry: Registry;
  readonly decoder: RequestDecoder;
  /** Wall-clock Unix ms: receive times, retention, rollups. Injectable so tests move time. */
  readonly clock?: (() => number) | undefined;
  readonly tuning?: Partial<StoreTuning> | undefined;
}

export type StoreState = 'ready' | 'unavailable' | 'closed';

/** Connections the query API may use at once, and queries that may wait for one. */
const QUERY_CONNECTIONS = 2;
const QUERY_WAITING = 16;
/**
 * A batch holds at most this many body bytes (about 25 ms of building for log requests on this
 * machine). Batches are made large: each commit costs statements, a DuckDB WAL sync and its
 * share of garbage whatever it carries (measured on the log bench: batches from 1 MiB or 100 ms
 * ~65,000 records per CPU-second, from 4 MiB or 250 ms ~80,000). Not larger: with 8 MiB
 * batches the size cap's test found DuckDB freeing too little per round and everything deleted.
 */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** A batch starts at once from this many bytes, else at most LINGER_MS after its first request. */
const MIN_BATCH_BYTES = 4 * 1024 * 1024;
const LINGER_MS = 250;
/** The decoded tree (several times its body's size) rides along with a request only while the queue is below this. */
const DECODED_QUEUE_BYTES = 4 * 1024 * 1024;
/** The request log's directory under the data dir. */
const REQUEST_LOG_DIR = 'store-wal';

class StoreMetrics {
  readonly rows: Counter;
  readonly commits: Counter;
  readonly commitSeconds: Histogram;
  readonly up: Gauge;
  readonly used: Gauge;
  readonly deleted: Counter;
  readonly pending: Gauge;
  readonly skipped: Counter;

  constructor(registry: Registry) {
    this.rows = registry.counter('sextant_gateway_store_rows_total', 'Rows committed to the embedded store, by table.');
    this.commits = registry.counter('sextant_gateway_store_commits_total', 'Store transactions (one per batch of requests), by result.');
    this.commitSeconds = registry.histogram('sextant_gateway_store_commit_seconds', 'Time from a batch starting to its commit being durable.', LATENCY_BUCKETS);
    this.up = registry.gauge('sextant_gateway_store_up', '1 while the embedded store is open and writable, 0 while it cannot be used.');
    this.used = registry.gauge('sextant_gateway_store_used_bytes', 'Bytes of the store file in use (after the last maintenance run).');
    this.deleted = registry.counter('sextant_gateway_store_deleted_rows_total', 'Rows deleted by retention (age, size) and by rollups, by table and reason.');
    this.pending = registry.gauge('sextant_gateway_store_pending_bytes', 'Request bytes waiting for a store commit.');
    this.skipped = registry.counter('sextant_gateway_store_skipped_requests_total', 'Accepted requests the store could not read into rows (left out; a bug or a request log from another version).');
  }
}

/**
 * The gateway's embedded store: one DuckDB file in the data dir, written by one group-commit
 * writer, read by the query API through its own connections, kept in bounds by a maintenance
 * run every minute.
 *
 * A store that cannot be opened, or that fails for good while running (disk full, a damaged
 * file), does not stop the gateway: it logs one error that says what to do, reports itself
 * unavailable (`/readyz` detail, `sextant_gateway_store_up`, the query API's 503) and tries to
 * open again every minute, while the gateway goes on receiving and forwarding.
 */
export class TelemetryStore {
  readonly #dataDir: string;
  readonly #config: StoreConfig;
  readonly #deps: StoreDeps;
  readonly #tuning: StoreTuning;
  readonly #clock: () => number;
  readonly #metrics: StoreMetrics;
  #state: StoreState = 'unavailable';
  #problem: StoreUnavailableError | undefined;
  #db: OpenDatabase | undefined;
  #writer: StoreWriter | undefined;
  #log: RequestLog | undefined;
  /** The highest request-log sequence number committed to the database. */
  #committedSeq = 0;
  /** Bodies being appended to the request log (counted against the pending limit too). */
  #appending = 0;
  #pool: QueryPool | undefined;
  readonly #maintenance: MaintenanceState = { rollupWatermarkMs: 0 };
  #maintaining: Promise<MaintenanceReport> | undefined;
  #maintenanceTimer: NodeJS.Timeout | undefined;
  #reopenTimer: NodeJS.Timeout | undefined;
  #reopening: Promise<void> | undefined;
  readonly #skips: BurstLog;
  /** The last problem logged, so an unchanged one is not logged again on every retry. */
  #loggedProblem = '';

  private constructor(dataDir: string, config: StoreConfig, deps: StoreDeps) {
    this.#dataDir = dataDir;
    this.#config = config;
    this.#deps = deps;
    this.#tuning = { ...DEFAULT_STORE_TUNING, ...deps.tuning };
    this.#clock = deps.clock ?? Date.now;
    this.#metrics = new StoreMetrics(deps.registry);
    this.#skips = new BurstLog(deps.logger, 'store left out requests it could not read', { level: 'error' });
    this.#metrics.pending.collect(() => this.pendingBytes);
    this.#metrics.up.collect(() => (this.#state === 'ready' ? 1 : 0));
  }

  /**
   * Opens the store under `dataDir`. Never throws for the store's own problems (the store is
   * then `unavailable`, see `problem`); throws ConfigError for bad options.
   */
  static async open(dataDir: string, config: StoreConfig, deps: StoreDeps): Promise<TelemetryStore> {
    validateStoreConfig(config);
    const store = new TelemetryStore(dataDir, config, deps);
    await store.#tryOpen();
    return store;
  }

  get file(): string {
    return storeFile(this.#dataDir);
  }

  get state(): StoreState {
    return this.#state;
  }

  /** Why the store is unavailable, with what to do about it. */
  get problem(): StoreUnavailableError | undefined {
    return this.#problem;
  }

  /** Whether a request may be written now: open, and not behind. */
  get accepting(): boolean {
    return this.#state === 'ready' && this.#writer !== undefined && this.#writer.accepting && this.pendingBytes < this.#tuning.maxPendingBytes;
  }

  /** Request bytes accepted and not yet committed to the database. */
  get pendingBytes(): number {
    return (this.#writer?.pendingBytes ?? 0) + this.#appending;
  }

  /** The store's catalog (dimensions in memory) while it is open. */
  get catalog(): Catalog | undefined {
    return this.#state === 'ready' ? this.#db?.catalog : undefined;
  }

  /** Raw points before this (Unix ms) exist only as 1-minute rollups. */
  get rollupWatermarkMs(): number {
    return this.#maintenance.rollupWatermarkMs;
  }

  /** The wall clock the store dates by (the query API's "now"). */
  now(): number {
    return this.#clock();
  }

  /** One line for `/readyz`. */
  describe(): string {
    if (this.#state === 'ready') return `open (${this.file})`;
    if (this.#state === 'closed') return 'closed';
    return `unavailable: ${this.#problem?.message ?? 'not open'}; ${this.#problem?.recovery ?? ''}`;
  }

  /**
   * Keeps one request body: resolves once it is durable (synced to the request log; DuckDB
   * commits it with the next batch, and a restart replays it if that never happened). Rejects
   * with the store's problem when it is unavailable, or with the request log's error.
   * `decoded` is the body as the gateway's codec decoded it, if it has it (saves decoding twice);
   * `walked`: the gateway checked the body with the validating walk (otlp-walk.ts) instead, so
   * the writer's scan need not check it again.
   */
  async write(signal: OtlpSignal, format: 'protobuf' | 'json', body: Uint8Array, decoded?: unknown, walked = false): Promise<void> {
    const w = this.#writer;
    const log = this.#log;
    if (this.#state !== 'ready' || w === undefined || log === undefined) throw this.#problem ?? new Error('store is not open');
    const receivedMs = this.#clock();
    this.#appending += body.byteLength;
    let seq: number;
    try {
      seq = await log.append(signal, format, body);
    } catch (err) {
      // Whatever stops the request log stops the store: it opens again and finds its place.
      this.#onFailure(err, true);
      throw classifyStoreError(err, this.file);
    } finally {
      this.#appending -= body.byteLength;
    }
    // The decoded tree is several times the body's size: it rides along only while the queue
    // is short (the usual case), else the batch decodes the body again.
    const message = decoded !== undefined && w.pendingBytes < DECODED_QUEUE_BYTES ? decoded : undefined;
    w.write({ seq, signal, format, body, receivedMs, ...(message === undefined ? {} : { message }), ...(walked ? { walked } : {}) });
  }

  /** Commits everything accepted so far (tests, and a caller about to query what it wrote). */
  async flush(): Promise<void> {
    await this.#writer?.flush();
  }

  /** Records objects of the cluster monitor's graph (entities and their links). */
  recordObjects(objects: readonly GraphObject[]): Promise<void> {
    const w = this.#writer;
    if (this.#state !== 'ready' || w === undefined) return Promise.reject(this.#problem ?? new Error('store is not open'));
    return w.recordObjects(objects, this.#clock());
  }

  /** Runs one read-only statement for the query API, bounded by `timeoutMs`. */
  query(sql: string, params: readonly QueryParam[], timeoutMs: number): Promise<Row[]> {
    const pool = this.#pool;
    if (this.#state !== 'ready' || pool === undefined) return Promise.reject(this.#problem ?? new Error('store is not open'));
    return pool.rows(sql, params, timeoutMs);
  }

  /**
   * Runs write statements (problem detection's own table) in one transaction on the writer,
   * between ingest batches: the only writer stays the only writer.
   */
  async execute(statements: readonly { readonly sql: string; readonly params: readonly QueryParam[] }[]): Promise<void> {
    const w = this.#writer;
    if (this.#state !== 'ready' || w === undefined) throw this.#problem ?? new Error('store is not open');
    await w.exclusive(async (db) => {
      await db.writer.run('BEGIN TRANSACTION');
      try {
        for (const s of statements) await db.writer.run(s.sql, s.params as DuckDBValue[]);
        await db.writer.run('COMMIT');
      } catch (err) {
        await db.writer.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Retention, rollups and the size cap, now (it also runs every minute by itself). */
  maintain(): Promise<MaintenanceReport> {
    this.#maintaining ??= this.#maintain().finally(() => (this.#maintaining = undefined));
    return this.#maintaining;
  }

  async #maintain(): Promise<MaintenanceReport> {
    const w = this.#writer;
    if (this.#state !== 'ready' || w === undefined) throw this.#problem ?? new Error('store is not open');
    try {
      const report = await w.exclusive((db) => maintain(db, this.#config, this.#maintenance, this.#clock()));
      for (const [key, n] of Object.entries(report.deleted)) {
        const [table, reason] = key.split(':');
        this.#metrics.deleted.inc({ table: table!, reason: reason! }, n);
      }
      this.#metrics.used.set(report.usedBytes);
      return report;
    } catch (err) {
      this.#onFailure(err);
      throw err;
    }
  }

  /** Bytes of the store file in use now. */
  async usedBytes(): Promise<number> {
    const w = this.#writer;
    if (this.#state !== 'ready' || w === undefined) return 0;
    return w.exclusive((db) => usedBytes(db.writer, db.file));
  }

  async close(): Promise<void> {
    const wasReady = this.#state === 'ready';
    this.#state = 'closed';
    clearInterval(this.#maintenanceTimer);
    clearTimeout(this.#reopenTimer);
    await this.#reopening;
    await this.#maintaining?.catch(() => undefined);
    await this.#shutDown(wasReady);
  }

  async #shutDown(checkpoint: boolean): Promise<void> {
    const db = this.#db;
    const log = this.#log;
    await this.#writer?.close();
    this.#pool?.close();
    this.#writer = undefined;
    this.#pool = undefined;
    this.#db = undefined;
    this.#log = undefined;
    if (log !== undefined) {
      await log.close();
      // Closed, every segment whose records are all committed can go.
      await log.release(this.#committedSeq).catch(() => undefined);
    }
    if (db !== undefined) {
      try {
        await closeDatabase(db, checkpoint);
      } catch {
        // A failed database: its memory goes with the instance.
      }
    }
  }

  async #tryOpen(): Promise<void> {
    const t = this.#tuning;
    try {
      const db = await openDatabase(this.#dataDir, this.#config.memoryLimitBytes, t.lastSeenResolutionMs);
      let pool: QueryPool;
      try {
        pool = await QueryPool.open(db.instance, QUERY_CONNECTIONS, QUERY_WAITING);
      } catch (err) {
        await closeDatabase(db, false).catch(() => undefined);
        throw classifyStoreError(err, db.file);
      }
      if (this.#state === 'closed') {
        pool.close();
        await closeDatabase(db, false).catch(() => undefined);
        return;
      }
      this.#db = db;
      this.#pool = pool;
      this.#maintenance.rollupWatermarkMs = db.rollupWatermarkMs;
      this.#committedSeq = db.requestLogSeq;
      const limits = { maxPendingBytes: t.maxPendingBytes, maxBatchBytes: MAX_BATCH_BYTES, minBatchBytes: MIN_BATCH_BYTES, lingerMs: LINGER_MS };
      let replayFailure: unknown;
      const writer = new StoreWriter(db, this.#deps.decoder, limits, {
        committed: (rows, _requests, ms, lastSeq) => {
          if (lastSeq > this.#committedSeq) {
            this.#committedSeq = lastSeq;
            void this.#log?.release(lastSeq).catch(() => undefined);
          }
          if (this.#loggedProblem !== '') {
            this.#deps.logger.info({ file: db.file }, 'store recovered: writing again');
            this.#loggedProblem = '';
          }
          this.#metrics.commits.inc({ result: 'ok' });
          this.#metrics.commitSeconds.observe(ms / 1000);
          for (const [table, n] of Object.entries(rows)) this.#metrics.rows.inc({ table }, n);
        },
        failed: (err) => {
          this.#metrics.commits.inc({ result: 'failed' });
          replayFailure ??= err;
          this.#onFailure(err);
        },
        skipped: (err) => {
          this.#metrics.skipped.inc();
          this.#skips.note('unreadable', 1, undefined, err instanceof Error ? err.message : String(err));
        },
      });
      this.#writer = writer;
      // What was accepted and never committed (the gateway was killed) is committed now, before
      // anything new: a sender's retry of a request it never heard back about comes after it.
      let replayed = 0;
      this.#log = await RequestLog.open(path.join(this.#dataDir, REQUEST_LOG_DIR), db.requestLogSeq, (r) => {
        replayed++;
        writer.write({ seq: r.seq, signal: r.signal, format: r.format, body: r.body, receivedMs: this.#clock() });
      });
      await writer.flush();
      // Not ready with a writer that could not commit the replay: everything after would wait
      // behind it unseen. Down instead, saying why, and tried again in a minute.
      if (writer.broken) throw replayFailure ?? new Error('the request log could not be committed');
      if (replayed > 0) this.#deps.logger.info({ requests: replayed }, 'store replayed its request log');
      this.#state = 'ready';
      this.#problem = undefined;
      // After a problem the next line is "store recovered", once a batch has committed.
      if (this.#loggedProblem === '') this.#deps.logger.info({ file: db.file, ...db.catalog.sizes }, 'store open');
      this.#maintenanceTimer = setInterval(() => void this.maintain().catch(() => undefined), t.maintenanceIntervalMs);
      this.#maintenanceTimer.unref();
    } catch (err) {
      // Opened far enough to hold files or connections: let them go before trying again.
      if (this.#db !== undefined) await this.#shutDown(false);
      this.#becomeUnavailable(classifyStoreError(err, this.file));
    }
  }

  /**
   * A failed batch, request-log write or maintenance run. A failed batch or request-log write,
   * or a fatal error, takes the store down until it reopens (and replays its request log); a
   * maintenance run that failed otherwise is only logged: it runs again in a minute.
   */
  #onFailure(err: unknown, always = false): void {
    if (this.#state !== 'ready') return;
    const problem = classifyStoreError(err, this.file);
    if (!always && this.#writer?.broken !== true && !isFatalStoreError(err) && problem.problem !== 'disk_full' && problem.problem !== 'corrupt') {
      this.#deps.logger.warn({ err: problem.message }, 'store maintenance failed');
      return;
    }
    this.#becomeUnavailable(problem);
    // Close the broken database off the failing call's stack; reopening starts from a clean one.
    this.#reopening = this.#shutDown(false).then(() => undefined);
  }

  #becomeUnavailable(problem: StoreUnavailableError): void {
    if (this.#state === 'closed') return;
    this.#state = 'unavailable';
    this.#problem = problem;
    clearInterval(this.#maintenanceTimer);
    if (problem.message !== this.#loggedProblem) {
      this.#loggedProblem = problem.message;
      this.#deps.logger.error({ err: problem.message, problem: problem.problem, file: problem.file, recovery: problem.recovery }, 'store unavailable; the gateway goes on receiving and forwarding without it');
    }
    clearTimeout(this.#reopenTimer);
    this.#reopenTimer = setTimeout(() => {
      this.#reopening = (this.#reopening ?? Promise.resolve()).then(() => (this.#state === 'unavailable' ? this.#tryOpen() : undefined));
    }, this.#tuning.reopenIntervalMs);
    this.#reopenTimer.unref();
  }
}
