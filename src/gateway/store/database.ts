import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import { Catalog } from './catalog.js';
import type { EntityType } from './entities.js';
import { SCHEMA_SQL, SCHEMA_VERSION, STORE_FILE } from './schema.js';
import { classifyStoreError, StoreUnavailableError } from './store-errors.js';

/** The appenders of the tables the writer fills, created once and reused by every batch. */
export type Appenders = Record<string, DuckDBAppender>;

/** An open store file: the instance, the writer's connection and appenders, what was read at open. */
export interface OpenDatabase {
  readonly file: string;
  readonly instance: DuckDBInstance;
  readonly writer: DuckDBConnection;
  readonly appenders: Appenders;
  readonly catalog: Catalog;
  /** The sequence number the next log record or event gets. */
  readonly nextSeq: number;
  /** Raw points before this (Unix ms) have been folded into rollups; 0 when none have. */
  readonly rollupWatermarkMs: number;
  /** The last request-log sequence number committed: the log is replayed after it. */
  readonly requestLogSeq: number;
}

const APPENDED_TABLES = ['resources', 'entities', 'entity_links', 'metrics', 'attribute_sets', 'points', 'logs', 'events', 'spans'] as const;

export function storeFile(dataDir: string): string {
  return path.join(dataDir, STORE_FILE);
}

/**
 * Opens (or creates) `<dataDir>/sextant.duckdb`, brings its tables up to the schema and reads
 * the dimensions into a catalog. DuckDB replays its own write-ahead log here, so whatever a
 * killed gateway committed is back. Every failure becomes a StoreUnavailableError that says
 * what to do.
 *
 * Settings: the memory limit from config; one thread; no extension is installed or loaded (these machines
 * are often offline); file access from SQL and configuration changes are refused, so even a
 * query that somehow carried client text could not read a file or lift a limit.
 */
export async function openDatabase(dataDir: string, memoryLimitBytes: number, lastSeenResolutionMs: number): Promise<OpenDatabase> {
  const file = storeFile(dataDir);
  let instance: DuckDBInstance | undefined;
  try {
    await mkdir(dataDir, { recursive: true });
    instance = await DuckDBInstance.create(file, {
      memory_limit: `${Math.floor(memoryLimitBytes / (1024 * 1024))}MiB`,
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      enable_external_access: 'false',
      lock_configuration: 'true',
      // One thread: the store has one writer and bounded queries, and DuckDB's worker threads
      // spun between the writer's statements (measured: 0.7 of 6 CPU-seconds on the log bench).
      threads: '1',
    });
    const writer = await instance.connect();
    for (const sql of SCHEMA_SQL) await writer.run(sql);
    await checkVersion(writer, file);
    const catalog = await loadCatalog(writer, lastSeenResolutionMs);
    const seq = await scalar(writer, 'SELECT greatest((SELECT coalesce(max(seq), 0) FROM logs), (SELECT coalesce(max(seq), 0) FROM events)) + 1');
    const watermark = await scalar(writer, "SELECT coalesce(max(CAST(value AS BIGINT)), 0) FROM store_meta WHERE key = 'rollup_watermark_ms'");
    const requestLogSeq = await scalar(writer, "SELECT coalesce(max(CAST(value AS BIGINT)), 0) FROM store_meta WHERE key = 'request_log_seq'");
    const appenders: Record<string, DuckDBAppender> = {};
    for (const t of APPENDED_TABLES) appenders[t] = await writer.createAppender(t);
    return { file, instance, writer, appenders, catalog, nextSeq: seq, rollupWatermarkMs: watermark, requestLogSeq };
  } catch (err) {
    try {
      instance?.closeSync();
    } catch {
      // Closing after a failed open: nothing more to do.
    }
    throw classifyStoreError(err, file);
  }
}

async function scalar(c: DuckDBConnection, sql: string): Promise<number> {
  const r = await c.runAndReadAll(sql);
  const v = r.getRows()[0]?.[0];
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
}

async function checkVersion(c: DuckDBConnection, file: string): Promise<void> {
  const r = await c.runAndReadAll("SELECT value FROM store_meta WHERE key = 'schema_version'");
  const found = r.getRows()[0]?.[0];
  if (found === undefined) {
    await c.run("INSERT INTO store_meta VALUES ('schema_version', $1), ('created_at', $2), ('request_log_seq', '0')", [String(SCHEMA_VERSION), new Date().toISOString()]);
    return;
  }
  const v = Number(found);
  if (!Number.isInteger(v) || v > SCHEMA_VERSION) {
    throw new StoreUnavailableError('version', file, `its schema version is ${String(found)}, this gateway writes version ${SCHEMA_VERSION}`);
  }
}

async function loadCatalog(c: DuckDBConnection, lastSeenResolutionMs: number): Promise<Catalog> {
  const catalog = new Catalog(lastSeenResolutionMs);
  const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : (v as number));
  for (const row of (await c.runAndReadAll('SELECT entity_id, type, key, name, namespace, attributes, source, first_seen_ms, last_seen_ms FROM entities')).getRows()) {
    catalog.loadEntity(row[0] as string, row[1] as EntityType, row[2] as string, row[3] as string, row[4] as string | null, row[5] as string, row[6] as string, num(row[7]), num(row[8]));
  }
  for (const row of (await c.runAndReadAll('SELECT child_id, parent_id, last_seen_ms FROM entity_links')).getRows()) {
    catalog.loadLink(row[0] as string, row[1] as string, num(row[2]));
  }
  catalog.loadResources(
    (await c.runAndReadAll('SELECT resource_id, hash, attributes, last_seen_ms FROM resources ORDER BY resource_id')).getRows().map((row) => ({
      id: row[0] as number,
      hash: row[1] as string,
      attributes: row[2] as string,
      lastSeenMs: num(row[3]),
    })),
  );
  for (const row of (await c.runAndReadAll('SELECT metric_id, name, unit, type, temporality, monotonic FROM metrics')).getRows()) {
    catalog.loadMetric(row[0] as number, row[1] as string, row[2] as string, row[3] as string, row[4] as number, row[5] as boolean);
  }
  for (const row of (await c.runAndReadAll('SELECT attrs_id, attributes FROM attribute_sets')).getRows()) {
    catalog.loadAttributeSet(row[0] as number, row[1] as string);
  }
  catalog.finishLoading();
  return catalog;
}

/** Closes what `openDatabase` opened; a checkpoint first folds the write-ahead log into the file. */
export async function closeDatabase(db: OpenDatabase, checkpoint: boolean): Promise<void> {
  for (const a of Object.values(db.appenders)) {
    try {
      a.closeSync();
    } catch {
      // An appender of a failed database: closing the instance frees it.
    }
  }
  if (checkpoint) await db.writer.run('CHECKPOINT').catch(() => undefined);
  try {
    db.writer.closeSync();
  } catch {
    // Already closed.
  }
  db.instance.closeSync();
}
