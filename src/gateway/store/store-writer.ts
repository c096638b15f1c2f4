import { LIST, listValue, VARCHAR, type DuckDBConnection } from '@duckdb/node-api';
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
  /**
   * A batch committed: rows per table, the requests in it, how long it took, and the highest
   * request-log sequence number it holds (0 when it held no request).
   */
  committed(rows: Readonly<Record<string, number>>, requests: number, ms: number, lastSeq: number): void;
  /** A batch failed and was rolled back (its requests are still in the request log). */
  failed(err: unknown, requests: number): void;
  /** A request could not be read into rows and was left out of its batch. */
  skipped(err: unknown): void;
}

export interface WriterLimits {
  /** Bodies queued and not committed; above it `accepting` is false (503 to senders). */
  readonly maxPendingBytes: number;
  /** Most body bytes in one transaction: bounds how long one batch keeps the event loop. */
  readonly maxBatchBytes: number;
  /** A batch starts at once from this many bytes; below, it waits up to `lingerMs` for more. */
  readonly minBatchBytes: number;
  readonly lingerMs: number;
}

/** A request already safe in the request log: committing it is the writer's business alone. */
export interface WriteJob {
  readonly kind: 'write';
  readonly seq: number;
  readonly signal: OtlpSignal;
  readonly format: 'protobuf' | 'json';
  readonly body: Uint8Array;
  readonly bytes: number;
  readonly receivedMs: number;
  /** The body decoded already (the gateway checked it at the door), while the queue is short. */
  readonly message?: unknown;
  /** The body passed the validating walk at the door (a request-log replay has not). */
  readonly walked?: boolean;
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

/** VARCHAR[] for a list parameter that may hold NULLs. */
const TEXT_LIST = LIST(VARCHAR);

/** Rough size of a graph object in the queue. */
const OBJECT_BYTES = 512;

/**
 * The store's single writer: requests (already safe in the request log) queue here and are
 * committed in batches, each one DuckDB transaction through the tables' appenders that also
 * records the last request-log sequence number it holds. A batch starts once a megabyte is
 * queued or 100 ms after the first request, and while one commits the next gathers: a commit
 * costs about a millisecond of CPU whatever it carries, so batches are made large. Maintenance
 * (retention, rollups) runs between batches through `exclusive`, so nothing else ever writes.
 */
export class StoreWriter {
  readonly #db: OpenDatabase;
  readonly #decoder: RequestDecoder;
  readonly #limits: WriterLimits;
  readonly #hooks: WriterHooks;
  readonly #builder: RowBuilder;
  #queue: Job[] = [];
  #queuedBytes = 0;
  #pendingBytes = 0;
  #running: Promise<void> | undefined;
  #linger: NodeJS.Timeout | undefined;
  #urgent = false;
  #closed = false;
  /**
   * A batch failed: nothing more is committed by this writer. A later batch committing would
   * record a request-log position past the failed one's requests, and a replay would skip them;
   * the store opens again with a new writer that replays the log from the last commit.
   */
  #broken = false;

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

  /** Queues a request from the request log; it is committed with the next batch. */
  write(job: Omit<WriteJob, 'kind' | 'bytes'>): void {
    this.#push({ kind: 'write', bytes: job.body.byteLength, ...job });
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

  /** Commits everything queued so far, now, and resolves once it has committed or failed. */
  async flush(): Promise<void> {
    this.#urgent = true;
    this.#start();
    while (this.#running !== undefined || this.#linger !== undefined) {
      this.#start();
      await this.#running;
    }
  }

  /** Refuses new work and commits what is queued. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  /** Whether a batch failed (see #broken). */
  get broken(): boolean {
    return this.#broken;
  }

  #push(job: Job): void {
    if ((this.#closed || this.#broken) && job.kind !== 'write') {
      job.reject(new Error(this.#broken ? 'store failed' : 'store is closing'));
      return;
    }
    // A request is in the request log already: a broken writer leaves it to the replay.
    if (this.#broken) return;
    this.#queue.push(job);
    this.#queuedBytes += job.bytes;
    this.#pendingBytes += job.bytes;
    if (job.kind !== 'write' || this.#queuedBytes >= this.#limits.minBatchBytes) this.#urgent = true;
    if (this.#running !== undefined) return;
    if (this.#urgent) this.#start();
    else this.#linger ??= setTimeout(() => this.#start(), this.#limits.lingerMs);
  }

  /** Starts the batch loop (on the next turn: the request path only queues). */
  #start(): void {
    clearTimeout(this.#linger);
    this.#linger = undefined;
    if (this.#queue.length === 0) return;
    this.#running ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#run());
  }

  async #run(): Promise<void> {
    try {
      this.#urgent = false;
      for (let first = true; this.#queue.length > 0 && !this.#broken; first = false) {
        // After a batch, the next waits for its size or its linger like the first did.
        if (!first && !this.#urgent && this.#queue[0]!.kind === 'write' && this.#queuedBytes < this.#limits.minBatchBytes) break;
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
        this.#queuedBytes -= bytes;
        await this.#commit(batch, bytes);
      }
    } finally {
      this.#running = undefined;
      if (this.#broken) {
        for (const job of this.#queue.splice(0)) if (job.kind !== 'write') job.reject(new Error('store failed'));
        this.#queuedBytes = 0;
        this.#pendingBytes = 0;
      }
      // What arrived during the last commit waits for its own linger (or size) to start.
      if (this.#queue.length > 0) {
        if (this.#urgent || this.#queuedBytes >= this.#limits.minBatchBytes) this.#start();
        else this.#linger ??= setTimeout(() => this.#start(), this.#limits.lingerMs);
      }
    }
  }

  async #commit(batch: readonly (WriteJob | ObjectsJob)[], bytes: number): Promise<void> {
    const started = performance.now();
    const catalog = this.#db.catalog;
    const builder = this.#builder;
    const firstSeq = builder.seq;
    const conn = this.#db.writer;
    let begun = false;
    let lastSeq = 0;
    try {
      for (const job of batch) {
        if (job.kind === 'write' && job.seq > lastSeq) lastSeq = job.seq;
        if (job.kind === 'objects') {
          for (const o of job.objects) catalog.recordObject(o, job.receivedMs);
          continue;
        }
        // One request that cannot be read (it was checked at the door, so: a bug, or a request
        // log from another version) costs its own rows, not the batch's.
        const mark = builder.rows.mark();
        try {
          // A logs body is read into rows from its bytes, unless it is one the scan leaves to protobufjs.
          if (job.message === undefined && job.signal === 'logs' && job.format === 'protobuf' && builder.logsProtobuf(job.body, job.receivedMs, job.walked === true)) continue;
          const message = job.message ?? this.#decoder.decode(job.signal, job.format, job.body);
          if (job.signal === 'metrics') builder.metrics(message as MetricsRequestLike, job.receivedMs);
          else if (job.signal === 'logs') builder.logs(message as LogsRequestLike, job.receivedMs);
          else builder.traces(message as TracesRequestLike, job.receivedMs);
        } catch (err) {
          builder.rows.truncate(mark);
          this.#hooks.skipped(err);
        }
      }
      await conn.run('BEGIN TRANSACTION');
      begun = true;
      const counts: Record<string, number> = {};
      const dims = catalog.rows;
      // Dimensions before facts, so a row never names an id its transaction has not written.
      for (const b of [dims.resources, dims.entities, dims.links, dims.metrics, dims.attributeSets, ...builder.rows.all]) this.#append(b, counts);
      await this.#applyUpdates(conn);
      // In the same transaction: a restart replays the request log after this, and only that.
      if (lastSeq > 0) await conn.run("UPDATE store_meta SET value = $1 WHERE key = 'request_log_seq'", [String(lastSeq)]);
      await conn.run('COMMIT');
      begun = false;
      catalog.commit();
      builder.rows.clear();
      // Before the requests hear back: whoever they wake sees the room their bytes left.
      this.#pendingBytes -= bytes;
      this.#hooks.committed(counts, batch.length, performance.now() - started, lastSeq);
      for (const job of batch) if (job.kind === 'objects') job.resolve();
    } catch (err) {
      if (begun) await conn.run('ROLLBACK').catch(() => undefined);
      catalog.rollback();
      builder.reset(firstSeq);
      await this.#renewAppenders();
      this.#pendingBytes -= bytes;
      if (batch.some((j) => j.kind === 'write')) this.#broken = true;
      this.#hooks.failed(err, batch.length);
      for (const job of batch) if (job.kind === 'objects') job.reject(err);
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
        // Typed: the node API types a list by its first value, and a list starting with NULL (a
        // host has no namespace) was bound as NULLs throughout, wiping every namespace after it.
        [TEXT_LIST, TEXT_LIST, TEXT_LIST, TEXT_LIST],
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
