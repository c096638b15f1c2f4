import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import type { OtlpSignal } from '../../export/types.js';
import type { GraphObject } from './catalog.js';
import type { ColumnBatch } from './column-batch.js';
import type { OpenDatabase } from './database.js';
import { RowBuilder, type LogsRequestLike, type MetricsRequestLike, type TracesRequestLike } from './otlp-rows.js';

/**
 * Decodes a request body again at commit time. The gateway decoded it once to validate it; the
 * queue holds the body rather than the decoded tree, which is several times its size, so a
 * store that falls behind holds megabytes, not hundreds of them.
 */
export interface RequestDecoder {
  decode(signal: OtlpSignal, format: 'protobuf' | 'json', body: Uint8Array): unknown;
}

export interface WriterHooks {
  /** A batch committed: rows per table, and how long the commit took. */
  committed(rows: Readonly<Record<string, number>>, requests: number, ms: number): void;
  /** A batch failed and was rolled back; its requests were refused. */
  failed(err: unknown, requests: number): void;
}

export interface WriterLimits {
  /** Bodies queued and not committed; above it `accepting` is false (503 to senders). */
  readonly maxPendingBytes: number;
  /** Most body bytes in one transaction: bounds how long one batch keeps the event loop. */
  readonly maxBatchBytes: number;
}

interface WriteJob {
  readonly kind: 'write';
  readonly signal: OtlpSignal;
  readonly format: 'protobuf' | 'json';
  readonly body: Uint8Array;
  readonly bytes: number;
  readonly receivedMs: number;
  resolve(): void;
  reject(err: unknown): void;
}

interface ObjectsJob {
  readonly kind: 'objects';
  readonly objects: readonly GraphObject[];
  readonly bytes: number;
  readonly receivedMs: number;
  resolve(): void;
  reject(err: unknown): void;
}

interface TaskJob {
  readonly kind: 'task';
  readonly bytes: number;
  run(): Promise<void>;
  reject(err: unknown): void;
}

type Job = WriteJob | ObjectsJob | TaskJob;

/** Rough size of a graph object in the queue. */
const OBJECT_BYTES = 512;

/**
 * The store's single writer: requests queue here and are committed in batches, each batch one
 * DuckDB transaction through the tables' appenders. A request's promise settles when its batch
 * has committed (DuckDB has synced its write-ahead log: the rows survive `kill -9`) or failed.
 * While one batch commits, the next gathers (group commit): the busier the gateway, the larger
 * and cheaper the batches. Maintenance (retention, rollups) runs between batches through
 * `exclusive`, so nothing else ever writes.
 */
export class StoreWriter {
  readonly #db: OpenDatabase;
  readonly #decoder: RequestDecoder;
  readonly #limits: WriterLimits;
  readonly #hooks: WriterHooks;
  readonly #builder: RowBuilder;
  #queue: Job[] = [];
  #pendingBytes = 0;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(db: OpenDatabase, decoder: RequestDecoder, limits: WriterLimits, hooks: WriterHooks) {
    this.#db = db;
    this.#decoder = decoder;
    this.#limits = limits;
    this.#hooks = hooks;
    this.#builder = new RowBuilder(db.catalog, db.nextSeq);
  }

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Whether another request may queue now (false: the store is behind, or closing). */
  get accepting(): boolean {
    return !this.#closed && this.#pendingBytes < this.#limits.maxPendingBytes;
  }

  /** Queues a request body; resolves once its rows are committed. */
  write(signal: OtlpSignal, format: 'protobuf' | 'json', body: Uint8Array, receivedMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#push({ kind: 'write', signal, format, body, bytes: body.byteLength, receivedMs, resolve, reject });
    });
  }

  /** Queues objects of the cluster monitor's graph; resolves once committed. */
  recordObjects(objects: readonly GraphObject[], receivedMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#push({ kind: 'objects', objects, bytes: objects.length * OBJECT_BYTES, receivedMs, resolve, reject });
    });
  }

  /** Runs `fn` with the writer to itself, between batches. */
  exclusive<T>(fn: (db: OpenDatabase) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#push({ kind: 'task', bytes: 0, run: () => fn(this.#db).then(resolve, reject), reject });
    });
  }

  /** Resolves once everything queued so far has committed or failed. */
  async drain(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Refuses new work and waits for what is queued. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.drain();
  }

  #push(job: Job): void {
    if (this.#closed) {
      job.reject(new Error('store is closing'));
      return;
    }
    this.#queue.push(job);
    this.#pendingBytes += job.bytes;
    // The batch starts on the next turn of the event loop, not inside the request's handler:
    // the request path only queues, and requests that arrive together commit together.
    this.#running ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#run());
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const head = this.#queue[0]!;
        if (head.kind === 'task') {
          this.#queue.shift();
          await head.run();
          continue;
        }
        const batch: (WriteJob | ObjectsJob)[] = [];
        let bytes = 0;
        while (this.#queue.length > 0) {
          const next = this.#queue[0]!;
          if (next.kind === 'task' || (batch.length > 0 && bytes + next.bytes > this.#limits.maxBatchBytes)) break;
          this.#queue.shift();
          batch.push(next);
          bytes += next.bytes;
        }
        await this.#commit(batch, bytes);
      }
    } finally {
      this.#running = undefined;
    }
  }

  async #commit(batch: readonly (WriteJob | ObjectsJob)[], bytes: number): Promise<void> {
    const started = performance.now();
    const catalog = this.#db.catalog;
    const builder = this.#builder;
    const firstSeq = builder.seq;
    const conn = this.#db.writer;
    let begun = false;
    try {
      for (const job of batch) {
        if (job.kind === 'objects') {
          for (const o of job.objects) catalog.recordObject(o, job.receivedMs);
          continue;
        }
        const message = this.#decoder.decode(job.signal, job.format, job.body);
        if (job.signal === 'metrics') builder.metrics(message as MetricsRequestLike, job.receivedMs);
        else if (job.signal === 'logs') builder.logs(message as LogsRequestLike, job.receivedMs);
        else builder.traces(message as TracesRequestLike, job.receivedMs);
      }
      await conn.run('BEGIN TRANSACTION');
      begun = true;
      const counts: Record<string, number> = {};
      const dims = catalog.rows;
      // Dimensions before facts, so a row never names an id its transaction has not written.
      for (const b of [dims.resources, dims.entities, dims.links, dims.metrics, dims.attributeSets, ...builder.rows.all]) this.#append(b, counts);
      await this.#applyUpdates(conn);
      await conn.run('COMMIT');
      begun = false;
      catalog.commit();
      builder.rows.clear();
      // Before the requests hear back: whoever they wake sees the room their bytes left.
      this.#pendingBytes -= bytes;
      this.#hooks.committed(counts, batch.length, performance.now() - started);
      for (const job of batch) job.resolve();
    } catch (err) {
      if (begun) await conn.run('ROLLBACK').catch(() => undefined);
      catalog.rollback();
      builder.reset(firstSeq);
      await this.#renewAppenders();
      this.#pendingBytes -= bytes;
      this.#hooks.failed(err, batch.length);
      for (const job of batch) job.reject(err);
    }
  }

  #append(b: ColumnBatch, counts: Record<string, number>): void {
    if (b.rows === 0) return;
    const appender = this.#db.appenders[b.table]!;
    b.appendTo(appender);
    appender.flushSync();
    counts[b.table] = b.rows;
  }

  async #applyUpdates(conn: DuckDBConnection): Promise<void> {
    const u = this.#db.catalog.updates;
    if (u.resources.ids.length > 0) {
      const latest = new Map<number, number>();
      u.resources.ids.forEach((id, i) => latest.set(id, u.resources.ms[i]!));
      await conn.run(
        'UPDATE resources SET last_seen_ms = u.ms FROM (SELECT unnest($1::INTEGER[]) AS id, unnest($2::BIGINT[]) AS ms) u WHERE resources.resource_id = u.id',
        [listValue([...latest.keys()]), listValue([...latest.values()])],
      );
    }
    if (u.entities.ids.length > 0) {
      const latest = new Map<string, number>();
      u.entities.ids.forEach((id, i) => latest.set(id, i));
      const idx = [...latest.values()];
      await conn.run(
        `UPDATE entities SET name = u.name, namespace = u.ns, attributes = u.attrs, last_seen_ms = u.ms
         FROM (SELECT unnest($1::VARCHAR[]) AS id, unnest($2::VARCHAR[]) AS name, unnest($3::VARCHAR[]) AS ns, unnest($4::VARCHAR[]) AS attrs, unnest($5::BIGINT[]) AS ms) u
         WHERE entities.entity_id = u.id`,
        [
          listValue(idx.map((i) => u.entities.ids[i]!)),
          listValue(idx.map((i) => u.entities.names[i]!)),
          listValue(idx.map((i) => u.entities.namespaces[i] ?? null)),
          listValue(idx.map((i) => u.entities.attributes[i]!)),
          listValue(idx.map((i) => u.entities.ms[i]!)),
        ],
      );
    }
    if (u.links.children.length > 0) {
      const latest = new Map<string, number>();
      u.links.children.forEach((c, i) => latest.set(`${c}>${u.links.parents[i]!}`, i));
      const idx = [...latest.values()];
      await conn.run(
        `UPDATE entity_links SET last_seen_ms = u.ms
         FROM (SELECT unnest($1::VARCHAR[]) AS c, unnest($2::VARCHAR[]) AS p, unnest($3::BIGINT[]) AS ms) u
         WHERE entity_links.child_id = u.c AND entity_links.parent_id = u.p`,
        [listValue(idx.map((i) => u.links.children[i]!)), listValue(idx.map((i) => u.links.parents[i]!)), listValue(idx.map((i) => u.links.ms[i]!))],
      );
    }
  }

  /** After a failed batch an appender may hold rows or be unusable: drop them and make new ones. */
  async #renewAppenders(): Promise<void> {
    const appenders = this.#db.appenders;
    for (const table of Object.keys(appenders)) {
      try {
        appenders[table]!.clear();
        appenders[table]!.closeSync();
      } catch {
        // Unusable already: a new one replaces it below.
      }
      try {
        appenders[table] = await this.#db.writer.createAppender(table);
      } catch {
        // The database itself is failing; the store notices on the next batch and reopens.
      }
    }
  }
}
