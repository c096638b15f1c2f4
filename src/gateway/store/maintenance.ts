import { stat } from 'node:fs/promises';
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import type { StoreConfig } from './config.js';
import type { OpenDatabase } from './database.js';
import { FACT_TIMES } from './schema.js';

/**
 * Retention by age and by size, and the 1-minute rollups. Runs through the writer's `exclusive`
 * (between batches, never beside one), each step its own transaction, each bounded: a gateway
 * that was down for a day catches up over several runs rather than holding ingest for minutes.
 */

const MINUTE = 60_000;
/** Rollups are made at most this much raw time per transaction … */
const ROLLUP_SLICE_MS = 60 * MINUTE;
/** … and at most this many slices per run. */
const ROLLUP_SLICES_PER_RUN = 24;
/** Rounds of deleting the oldest tenth of the data while the store is over its size. */
const SIZE_ROUNDS = 8;

export interface MaintenanceReport {
  /** Rows deleted, by table and reason. */
  readonly deleted: Record<string, number>;
  /** Raw minutes folded into rollups in this run. */
  readonly rolledUpMinutes: number;
  readonly rollupRows: number;
  /** Raw points before this (Unix ms) exist only as rollups. */
  readonly rollupWatermarkMs: number;
  /** Blocks in use after the run, in bytes. */
  readonly usedBytes: number;
}

/** What maintenance keeps between runs. */
export interface MaintenanceState {
  rollupWatermarkMs: number;
}

async function changes(c: DuckDBConnection, sql: string, params: unknown[]): Promise<number> {
  const r = await c.run(sql, params as never);
  return Number(r.rowsChanged);
}

async function scalar(c: DuckDBConnection, sql: string, params: unknown[] = []): Promise<number | undefined> {
  const r = await c.runAndReadAll(sql, params as never);
  const v = r.getRows()[0]?.[0];
  if (v === null || v === undefined) return undefined;
  return typeof v === 'bigint' ? Number(v) : Number(v);
}

/**
 * Bytes the store takes: the blocks of its file in use (free blocks left by deletes are reused,
 * not counted) plus its write-ahead log, which holds what was committed since the last checkpoint.
 */
export async function usedBytes(c: DuckDBConnection, file: string): Promise<number> {
  const r = await c.runAndReadAll('SELECT used_blocks * block_size FROM pragma_database_size()');
  const v = r.getRows()[0]?.[0];
  const wal = await stat(`${file}.wal`).then(
    (s) => s.size,
    () => 0,
  );
  return (typeof v === 'bigint' ? Number(v) : Number(v ?? 0)) + wal;
}

async function inTransaction<T>(c: DuckDBConnection, fn: () => Promise<T>): Promise<T> {
  await c.run('BEGIN TRANSACTION');
  try {
    const out = await fn();
    await c.run('COMMIT');
    return out;
  } catch (err) {
    await c.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

function add(deleted: Record<string, number>, key: string, n: number): void {
  if (n > 0) deleted[key] = (deleted[key] ?? 0) + n;
}

async function saveWatermark(c: DuckDBConnection, ms: number): Promise<void> {
  await c.run("DELETE FROM store_meta WHERE key = 'rollup_watermark_ms'");
  await c.run("INSERT INTO store_meta VALUES ('rollup_watermark_ms', $1)", [String(ms)]);
}

/** One run: retention by age, then rollups, then the size cap. */
export async function maintain(db: OpenDatabase, config: StoreConfig, state: MaintenanceState, nowMs: number): Promise<MaintenanceReport> {
  const c = db.writer;
  const deleted: Record<string, number> = {};
  // Age first: what retention removes is not worth rolling up.
  await deleteByAge(db, config, nowMs, deleted);
  const { minutes, rows } = await rollUp(c, config, state, nowMs, deleted);
  const used = await enforceSize(c, db.file, config.maxStoreBytes, deleted);
  return { deleted, rolledUpMinutes: minutes, rollupRows: rows, rollupWatermarkMs: state.rollupWatermarkMs, usedBytes: used };
}

/**
 * Folds raw points older than `rollupAfter` into one row per series and minute. A sum's
 * increase needs the point before each one, so each slice reads one minute before its start
 * (those points were rolled up by the previous slice and are deleted only now); points that
 * arrived late, below the watermark, are rolled up with the next slice.
 */
async function rollUp(c: DuckDBConnection, config: StoreConfig, state: MaintenanceState, nowMs: number, deleted: Record<string, number>): Promise<{ minutes: number; rows: number }> {
  const target = Math.floor((nowMs - config.rollupAfterMs) / MINUTE) * MINUTE;
  if (state.rollupWatermarkMs === 0) {
    const oldest = await scalar(c, 'SELECT min(time_ms) FROM points');
    if (oldest === undefined) return { minutes: 0, rows: 0 };
    state.rollupWatermarkMs = Math.floor(oldest / MINUTE) * MINUTE;
  }
  let minutes = 0;
  let rows = 0;
  for (let slice = 0; slice < ROLLUP_SLICES_PER_RUN && state.rollupWatermarkMs < target; slice++) {
    // Over a gap in the data (the gateway was down, or a sender's clock was off) in one step.
    const next = await scalar(c, 'SELECT min(time_ms) FROM points WHERE time_ms >= CAST($1 AS BIGINT)', [state.rollupWatermarkMs]);
    if (next === undefined || next >= target) {
      state.rollupWatermarkMs = Math.max(state.rollupWatermarkMs, target);
      await saveWatermark(c, state.rollupWatermarkMs);
      break;
    }
    const from = state.rollupWatermarkMs;
    const b = Math.min(target, Math.max(from, Math.floor(next / MINUTE) * MINUTE) + ROLLUP_SLICE_MS);
    const r = await inTransaction(c, async () => {
      const inserted = await changes(
        c,
        `INSERT INTO rollups
         SELECT minute, resource_id, metric_id, attrs_id, count(*), sum(value), min(value), max(value), arg_max(value, time_ms), sum(inc)
         FROM (
           SELECT p.time_ms // 60000 * 60000 AS minute, p.time_ms, p.resource_id, p.metric_id, p.attrs_id, p.value,
             CASE m.temporality
               WHEN 1 THEN p.value
               WHEN 2 THEN CASE WHEN lag(p.value) OVER w IS NULL THEN NULL WHEN p.value >= lag(p.value) OVER w THEN p.value - lag(p.value) OVER w ELSE p.value END
             END AS inc
           FROM points p JOIN metrics m ON m.metric_id = p.metric_id
           WHERE p.time_ms < CAST($2 AS BIGINT)
           WINDOW w AS (PARTITION BY p.resource_id, p.metric_id, p.attrs_id ORDER BY p.time_ms)
         )
         WHERE minute >= CAST($1 AS BIGINT) OR time_ms < CAST($1 AS BIGINT) - 60000
         GROUP BY ALL`,
        [from, b],
      );
      const gone = await changes(c, 'DELETE FROM points WHERE time_ms < CAST($1 AS BIGINT) - 60000', [b]);
      await saveWatermark(c, b);
      return { inserted, gone };
    });
    add(deleted, 'points:rollup', r.gone);
    rows += r.inserted;
    minutes += (b - from) / MINUTE;
    state.rollupWatermarkMs = b;
  }
  return { minutes, rows };
}

async function deleteByAge(db: OpenDatabase, config: StoreConfig, nowMs: number, deleted: Record<string, number>): Promise<void> {
  const c = db.writer;
  const cutoff = nowMs - config.retentionMs;
  const rollupCutoff = nowMs - Math.min(config.rollupRetentionMs, config.retentionMs);
  for (const [table, column, unitsPerMs] of FACT_TIMES) {
    const before = table === 'rollups' ? rollupCutoff : cutoff;
    // Table and column names come from the schema's own list, never from a request.
    add(deleted, `${table}:age`, await changes(c, `DELETE FROM ${table} WHERE ${column} < CAST($1 AS BIGINT)`, [BigInt(before) * BigInt(unitsPerMs)]));
  }
  const catalog = db.catalog;
  const gone = catalog.forgetBefore(cutoff);
  if (gone.resources.length + gone.entities.length + gone.links.length === 0) {
    catalog.commit();
    return;
  }
  try {
    await inTransaction(c, async () => {
      if (gone.resources.length > 0) add(deleted, 'resources:age', await changes(c, 'DELETE FROM resources WHERE resource_id IN (SELECT unnest($1::INTEGER[]))', [listValue(gone.resources)]));
      if (gone.entities.length > 0) add(deleted, 'entities:age', await changes(c, 'DELETE FROM entities WHERE entity_id IN (SELECT unnest($1::VARCHAR[]))', [listValue(gone.entities)]));
      if (gone.links.length > 0) {
        add(
          deleted,
          'entity_links:age',
          await changes(
            c,
            'DELETE FROM entity_links USING (SELECT unnest($1::VARCHAR[]) AS c, unnest($2::VARCHAR[]) AS p) u WHERE entity_links.child_id = u.c AND entity_links.parent_id = u.p',
            [listValue(gone.links.map((l) => l[0])), listValue(gone.links.map((l) => l[1]))],
          ),
        );
      }
    });
    catalog.commit();
  } catch (err) {
    catalog.rollback();
    throw err;
  }
}

/**
 * While the blocks in use pass `maxBytes`, deletes the oldest tenth of the time the store spans
 * (at least ten minutes) from every signal, then checkpoints so the freed blocks count as free.
 */
async function enforceSize(c: DuckDBConnection, file: string, maxBytes: number, deleted: Record<string, number>): Promise<number> {
  let used = await usedBytes(c, file);
  if (used > maxBytes) {
    // The log may hold what a checkpoint stores in less (compressed): measure after one.
    await c.run('CHECKPOINT');
    used = await usedBytes(c, file);
  }
  for (let round = 0; round < SIZE_ROUNDS && used > maxBytes; round++) {
    let oldest = Number.POSITIVE_INFINITY;
    let newest = Number.NEGATIVE_INFINITY;
    for (const [table, column, unitsPerMs] of FACT_TIMES) {
      const lo = await scalar(c, `SELECT min(${column}) // ${unitsPerMs} FROM ${table}`);
      const hi = await scalar(c, `SELECT max(${column}) // ${unitsPerMs} FROM ${table}`);
      if (lo !== undefined) oldest = Math.min(oldest, lo);
      if (hi !== undefined) newest = Math.max(newest, hi);
    }
    if (!Number.isFinite(oldest)) break;
    const cut = oldest + Math.max(10 * MINUTE, Math.ceil((newest - oldest) / 10));
    for (const [table, column, unitsPerMs] of FACT_TIMES) {
      add(deleted, `${table}:size`, await changes(c, `DELETE FROM ${table} WHERE ${column} < CAST($1 AS BIGINT)`, [BigInt(cut) * BigInt(unitsPerMs)]));
    }
    await c.run('CHECKPOINT');
    used = await usedBytes(c, file);
  }
  return used;
}
