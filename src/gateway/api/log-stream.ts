import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Row } from '../store/index.js';
import { ApiError } from './envelope.js';
import type { Params } from './params.js';
import { run, selectEntities, Statement, type QueryContext } from './query-context.js';
import { logItem } from './record-queries.js';

/**
 * GET /api/v1/logs/stream: log records as they arrive, as server-sent events, with the filters
 * of /api/v1/logs (entity, workload, namespace, severity, q). One timer serves every stream:
 * each tick reads the store's newest log sequence number once, and only when it moved does each
 * stream ask for the records past its own watermark (arrival order, so records with old
 * timestamps that arrive late are still followed). Bounded: at most `maxStreams` at once (503
 * beyond), at most `MAX_BATCH` records a tick per stream; a comment line every `HEARTBEAT_MS`
 * keeps proxies from closing an idle stream; `close()` ends them all when the gateway stops.
 * The event id is the last sequence number sent, so a browser's reconnect (Last-Event-ID)
 * resumes where it left off.
 */

const TICK_MS = 1_000;
const HEARTBEAT_MS = 15_000;
const MAX_BATCH = 500;
/** A reconnect resumes at most this many records back. */
const MAX_RESUME = 5_000;

export interface StreamOptions {
  readonly maxStreams: number;
  readonly tickMs?: number;
  readonly heartbeatMs?: number;
}

interface Stream {
  readonly res: ServerResponse;
  readonly select: (ctx: QueryContext) => number[] | null;
  readonly minSeverity: number;
  readonly q: string | null;
  lastSeq: number;
  lastWriteMs: number;
}

export class LogStreams {
  readonly #streams = new Set<Stream>();
  readonly #options: StreamOptions;
  readonly #context: () => QueryContext | undefined;
  #timer: NodeJS.Timeout | undefined;
  #storeSeq = -1;
  #ticking = false;
  #closed = false;

  /** `context`: a query context on the open store, or undefined while it is unavailable. */
  constructor(options: StreamOptions, context: () => QueryContext | undefined) {
    this.#options = options;
    this.#context = context;
  }

  get open(): number {
    return this.#streams.size;
  }

  /** Starts a stream for a request already authorized, its parameters parsed (throws ApiError). */
  async start(ctx: QueryContext, p: Params, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.#closed) throw new ApiError('unavailable', 'the gateway is stopping', { retryAfterSeconds: 5 });
    if (this.#streams.size >= this.#options.maxStreams) {
      throw new ApiError('busy', `too many live log streams (${this.#options.maxStreams}, gateway.logStreams); close one or try again`, { retryAfterSeconds: 10 });
    }
    // Validate everything before the 200: a bad parameter is an ordinary JSON 400.
    selectEntities(ctx, p, false);
    const minSeverity = p.severity('severity');
    const q = p.text('q')?.toLowerCase() ?? null;
    const maxSeq = await this.#maxSeq(ctx);
    const resume = Number(req.headers['last-event-id']);
    const lastSeq = Number.isSafeInteger(resume) && resume >= 0 && resume <= maxSeq ? Math.max(resume, maxSeq - MAX_RESUME) : maxSeq;
    const stream: Stream = {
      res,
      // The selection is taken again each tick: a workload's new pods join its stream.
      select: (c) => {
        const sel = selectEntities(c, p, false);
        return sel === undefined ? null : sel.groups.flatMap((g) => g.resources);
      },
      minSeverity,
      q,
      lastSeq,
      lastWriteMs: Date.now(),
    };
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'X-Accel-Buffering': 'no',
    });
    res.write(`retry: 3000\nevent: ready\nid: ${lastSeq}\ndata: {"seq":${lastSeq}}\n\n`);
    this.#streams.add(stream);
    const done = (): void => {
      this.#streams.delete(stream);
      if (this.#streams.size === 0) this.#stopTimer();
    };
    res.once('close', done);
    req.socket.setTimeout(0);
    this.#startTimer();
  }

  /** Ends every stream (the gateway is stopping); new ones are refused. */
  close(): void {
    this.#closed = true;
    this.#stopTimer();
    for (const s of this.#streams) {
      s.res.end('event: bye\ndata: {"reason":"gateway stopping"}\n\n');
    }
    this.#streams.clear();
  }

  #startTimer(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => void this.#tick(), this.#options.tickMs ?? TICK_MS);
    this.#timer.unref();
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #maxSeq(ctx: QueryContext): Promise<number> {
    const rows = await run(ctx, 'SELECT coalesce(max(seq), -1) AS seq FROM logs', []);
    return Number(rows[0]?.['seq'] ?? -1);
  }

  async #tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      const now = Date.now();
      const heartbeat = this.#options.heartbeatMs ?? HEARTBEAT_MS;
      const ctx = this.#context();
      if (ctx !== undefined) {
        const seq = await this.#maxSeq(ctx).catch(() => this.#storeSeq);
        if (seq !== this.#storeSeq) {
          this.#storeSeq = seq;
          for (const s of [...this.#streams]) if (s.lastSeq < seq) await this.#send(ctx, s).catch(() => undefined);
        }
      }
      for (const s of this.#streams) {
        if (now - s.lastWriteMs >= heartbeat && !s.res.destroyed) {
          s.res.write(': heartbeat\n\n');
          s.lastWriteMs = now;
        }
      }
    } finally {
      this.#ticking = false;
    }
  }

  async #send(ctx: QueryContext, s: Stream): Promise<void> {
    if (s.res.destroyed || !this.#streams.has(s)) return;
    const resources = s.select(ctx);
    if (resources !== null && resources.length === 0) return;
    const st = new Statement();
    const where = [`seq > CAST(${st.p(s.lastSeq)} AS BIGINT)`];
    if (resources !== null) where.push(`resource_id IN (SELECT unnest(${st.p(resources)}::INTEGER[]))`);
    if (s.minSeverity > 0) where.push(`severity >= CAST(${st.p(s.minSeverity)} AS INTEGER)`);
    if (s.q !== null) where.push(`contains(lower(body), ${st.p(s.q)}::VARCHAR)`);
    const rows: Row[] = await run(
      ctx,
      `SELECT time_ns, seq, resource_id, severity, severity_text, body, attributes, trace_id, span_id, scope
       FROM logs WHERE ${where.join(' AND ')} ORDER BY seq LIMIT CAST(${st.p(MAX_BATCH)} AS BIGINT)`,
      st.params,
    );
    // Rows that did not match still move the watermark: the next tick starts past them.
    const newest = rows.length > 0 ? Number(rows[rows.length - 1]!['seq']) : -1;
    const last = rows.length === MAX_BATCH ? newest : Math.max(this.#storeSeq, newest);
    if (rows.length > 0 && !s.res.destroyed) {
      const items = rows.map((r) => logItem(ctx, r));
      s.res.write(`event: logs\nid: ${last}\ndata: ${JSON.stringify({ items })}\n\n`);
      s.lastWriteMs = Date.now();
    }
    s.lastSeq = last;
  }
}
