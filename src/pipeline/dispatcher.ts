import { gunzip } from 'node:zlib';
import type { Codec, ExportResult, OtlpSignal, SendOptions, Transport } from '../export/types.js';
import { BurstLog } from '../self/burst-log.js';
import type { Logger } from '../self/logger.js';
import type { Batcher } from './batcher.js';
import { monotonicMs } from './clock.js';
import type { DropReason, PipelineSignal, SignalMetrics } from './self-metrics.js';
import type { AckList, DiskSpool, SpooledBatch } from './spool/disk-spool.js';
import type { SpoolEncoding, SpoolSignal } from './spool/segment-format.js';
import { ackListOf, encodeParts, keepsOrder, spills } from './spool/spill.js';

export type { Codec };

/** One signal's path through the dispatcher. */
export interface Lane<T> {
  readonly signal: PipelineSignal;
  /** The OTLP path its requests go to (events: 'logs'). */
  readonly path: OtlpSignal;
  readonly batcher: Batcher<T>;
  readonly codec: Codec<T>;
  /** The real encoded size a request may have; a larger one is split before it is sent. */
  readonly maxRequestBytes: number;
  readonly metrics: SignalMetrics;
}

export interface DispatcherOptions {
  readonly transport: Transport;
  /** In priority order is not required: events are always taken first, then metrics and logs in turn. */
  readonly lanes: readonly Lane<any>[];
  readonly maxInFlight: number;
  readonly exportTimeoutMs: number;
  readonly logger: Logger;
  /** At most one drop summary line per signal per this many ms (default 10 s). */
  readonly dropLogIntervalMs?: number | undefined;
  /** Monotonic milliseconds; injectable for tests. */
  readonly now?: (() => number) | undefined;
  /**
   * The disk spool (src/pipeline/spool/): batches the endpoint cannot take yet go there instead
   * of waiting in memory, and come back oldest first. Absent: the rings and the files are the
   * only buffer.
   */
  readonly spool?: DiskSpool | undefined;
}

export interface FlushResult {
  /** True when everything queued and in flight was settled before the deadline. */
  readonly flushed: boolean;
  /** Records not delivered because the deadline passed (queued plus unsettled in flight). */
  readonly pending: number;
}

/**
 * One batch on its way out. It is also the `SendOptions` of its requests, so a retry hook that
 * hands back the options it was given tells us exactly which batch is being retried.
 */
class ExportJob implements SendOptions {
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  readonly #abort = new AbortController();
  readonly lane: LaneState;
  readonly records: unknown[];
  /** A request read back from the disk spool: sent as it is, no records of its own. */
  readonly spooled: SpooledBatch | undefined;
  /** `gzip` when `spooled` is sent as the transport already compressed it. */
  encoded: 'gzip' | undefined;
  /** Records [0, settled) have had their outcome decided; halves go left to right, so it is a prefix. */
  settled = 0;
  retrying = false;
  /** Given up at a flush deadline or stop: its records were settled as not delivered. */
  abandoned = false;
  /** Being written to the spool while its request retries. */
  spilling = false;
  /** Moved to the disk spool while it retried: its request was aborted, its records are the spool's now. */
  spilled = false;

  constructor(lane: LaneState, records: unknown[], timeoutMs: number, spooled?: SpooledBatch) {
    this.lane = lane;
    this.records = records;
    this.timeoutMs = timeoutMs;
    this.signal = this.#abort.signal;
    this.spooled = spooled;
  }

  abort(): void {
    this.#abort.abort();
  }
}

interface LaneState extends Lane<unknown> {
  readonly dropLog: BurstLog;
  readonly onTimer: () => void;
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
  /** Requests encoded for the spool that it failed to take (a write error): sent directly, first. */
  readonly unspooled: HeldBatch[];
}

/** An encoded request of records no longer held, with their acks: bound for the spool. */
interface EncodedBatch {
  readonly body: Uint8Array;
  readonly items: number;
  readonly acks: AckList;
}

/** An encoded request the spool did not take, sent like a spooled one; its acks settle on the answer. */
interface HeldBatch extends SpooledBatch {
  readonly acks: AckList;
}

/**
 * Batches encoded for the spool and not yet written, at most: their records are gone once encoded
 * (so they die in V8's young generation instead of waiting in the ring for the disk), and this
 * many requests' bodies are what memory holds for it meanwhile.
 */
const MAX_SPILLS_PENDING = 2;

interface FlushWaiter {
  readonly resolve: (r: FlushResult) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The exporter loop. A fixed number of requests in flight; events before metrics and logs; no
 * new batch while any batch is being retried, so a slow or dead endpoint fills the rings and
 * pushes back on the sources instead of multiplying requests. One linger timer per signal,
 * armed only while records wait.
 */
export class Dispatcher {
  readonly #transport: Transport;
  readonly #lanes: LaneState[];
  readonly #events: LaneState | undefined;
  readonly #others: LaneState[];
  readonly #maxInFlight: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #jobs = new Set<ExportJob>();
  readonly #waiters = new Set<FlushWaiter>();
  readonly #spool: DiskSpool | undefined;
  /** A retried job's records are being encoded and written to the spool (one at a time). */
  #spilling = false;
  /** Ring batches encoded and handed to the spool, not yet written. */
  #spillsPending = 0;
  /** Their writes, one after the other: the spool takes them in the order they were cut. */
  #spillTail: Promise<void> = Promise.resolve();
  #inFlight = 0;
  #retrying = 0;
  #running = false;
  #pumpScheduled = false;
  #turn = 0;
  readonly #pumpTask = (): void => {
    this.#pumpScheduled = false;
    this.#pump();
  };

  constructor(options: DispatcherOptions) {
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be a positive integer, got ${options.maxInFlight}`);
    }
    this.#transport = options.transport;
    this.#maxInFlight = options.maxInFlight;
    this.#timeoutMs = options.exportTimeoutMs;
    this.#now = options.now ?? monotonicMs;
    const interval = options.dropLogIntervalMs ?? 10_000;
    this.#lanes = options.lanes.map((l) => {
      const state: LaneState = {
        ...l,
        dropLog: new BurstLog(options.logger.child({ signal: l.signal }), 'export dropped records', { windowMs: interval, now: this.#now }),
        onTimer: () => {
          state.timer = undefined;
          this.#pump();
        },
        timer: undefined,
        timerAt: 0,
        unspooled: [],
      };
      return state;
    });
    this.#events = this.#lanes.find((l) => l.signal === 'events');
    this.#others = this.#lanes.filter((l) => l.signal !== 'events');
    this.#spool = options.spool;
    this.#spool?.onReady(() => this.#schedulePump());
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Batches whose request is being retried right now. */
  get retrying(): number {
    return this.#retrying;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedulePump();
  }

  /**
   * Called after each offer on `lane` (its index in the options). Cheap on purpose: a full
   * batch schedules one pump, a first waiting record arms the linger timer, anything else is a
   * couple of comparisons.
   */
  notify(laneIndex: number): void {
    if (!this.#running) return;
    const lane = this.#lanes[laneIndex]!;
    if (this.#inFlight >= this.#maxInFlight || this.#retrying > 0) {
      // Gated: the pump runs again when a request settles, and a pump or timer now would only
      // spin — unless the spool can take what the ring can no longer hold.
      if (this.#spool !== undefined && this.#canSpill() && this.#wantsSpill(lane, false)) this.#schedulePump();
      return;
    }
    if (lane.batcher.full()) this.#schedulePump();
    else if (lane.timer === undefined) this.#arm(lane, this.#now());
  }

  /**
   * The retry hook: wire it to the RetryingTransport's `onRetry`. With the request's
   * `SendOptions` we know the batch; without, every batch in flight on that path counts as
   * retrying until it settles (conservative: the one being retried is among them).
   */
  noteRetry(path: OtlpSignal, options?: SendOptions): void {
    if (options instanceof ExportJob) {
      if (!this.#jobs.has(options)) return; // a late hook for a batch already settled
      options.lane.metrics.retries.inc();
      this.#markRetrying(options);
      // With a spool, a batch the endpoint refused waits there, not in memory behind the gate.
      if (this.#spool !== undefined) void this.#spillJob(options);
      return;
    }
    let counted = false;
    for (const job of this.#jobs) {
      if (job.lane.path !== path) continue;
      if (!counted) {
        job.lane.metrics.retries.inc();
        counted = true;
      }
      this.#markRetrying(job);
    }
  }

  /**
   * Sends everything queued and in flight, linger or not, then resolves. Past `deadlineMs`
   * (milliseconds from now) aborts the requests in flight, settles every remaining acked record
   * as not delivered, drops what is queued (`reason="shutdown"`) and resolves `flushed: false`.
   */
  flush(deadlineMs: number): Promise<FlushResult> {
    return new Promise<FlushResult>((resolve) => {
      const waiter: FlushWaiter = {
        resolve,
        timer: setTimeout(() => this.#deadline(), Math.max(0, deadlineMs)),
      };
      this.#waiters.add(waiter);
      if (this.#idle()) {
        this.#resolveWaiters(true, 0);
        return;
      }
      this.#schedulePump();
    });
  }

  /** Stops taking batches; aborts requests in flight; drops and settles everything left (spooled batches stay spooled). */
  stop(): void {
    this.#running = false;
    for (const lane of this.#lanes) {
      if (lane.timer !== undefined) clearTimeout(lane.timer);
      lane.timer = undefined;
    }
    const pending = this.#giveUp();
    this.#resolveWaiters(false, pending);
    for (const lane of this.#lanes) lane.dropLog.flush();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(this.#pumpTask);
  }

  #arm(lane: LaneState, now: number): void {
    const ms = lane.batcher.msUntilReady(now);
    if (ms === Number.POSITIVE_INFINITY) return;
    const at = now + ms;
    if (lane.timer !== undefined) {
      if (lane.timerAt <= at) return;
      clearTimeout(lane.timer);
    }
    lane.timerAt = at;
    // +1: timers may fire a fraction of a millisecond early, which would find the batch not ready.
    lane.timer = setTimeout(lane.onTimer, ms + 1);
  }

  /** Takes batches while slots are free and nothing is being retried (a flush works unstarted too). */
  #pump(): void {
    const flushing = this.#waiters.size > 0;
    if (!this.#running && !flushing) return;
    let now = this.#now();
    const spool = this.#spool;
    while (this.#inFlight < this.#maxInFlight && this.#retrying === 0) {
      // Spooled batches first, oldest first (not at shutdown: they stay spooled for the next start).
      const batch = flushing ? undefined : spool?.next();
      if (batch !== undefined) {
        this.#startReplay(batch);
        continue;
      }
      const lane = this.#pick(now, flushing);
      if (lane === undefined) break;
      this.#startJob(lane);
      now = this.#now();
    }
    if (spool !== undefined) this.#spillWhereNeeded(now, flushing);
    // Gated, nothing needs a timer: the settling request pumps again (with a spool waiting to be
    // drained, a lingering batch goes to the spool, so its timer runs).
    if ((this.#inFlight < this.#maxInFlight && this.#retrying === 0) || spool?.pending === true) {
      for (const lane of this.#lanes) if (lane.batcher.queue.length > 0) this.#arm(lane, now);
    }
    if (flushing && this.#idle()) this.#resolveWaiters(true, 0);
  }

  /** Events first; then metrics and logs take turns so neither starves the other. */
  #pick(now: number, flushing: boolean): LaneState | undefined {
    const ev = this.#events;
    if (ev !== undefined && this.#direct(ev) && (ev.unspooled.length > 0 || (flushing ? ev.batcher.queue.length > 0 : ev.batcher.ready(now)))) return ev;
    const n = this.#others.length;
    for (let k = 0; k < n; k++) {
      const lane = this.#others[(this.#turn + k) % n]!;
      if (!this.#direct(lane)) continue;
      if (lane.unspooled.length > 0 || (flushing ? lane.batcher.queue.length > 0 : lane.batcher.ready(now))) {
        this.#turn = (this.#turn + k + 1) % n;
        return lane;
      }
    }
    return undefined;
  }

  /** The lane may send straight to the endpoint now: no spooled batch of it waits to go first. */
  #direct(lane: LaneState): boolean {
    return lane.unspooled.length > 0 || this.#spool === undefined || !keepsOrder(lane.signal) || !this.#spool.pending;
  }

  #startJob(lane: LaneState): void {
    const held = lane.unspooled.shift();
    if (held !== undefined) {
      this.#startReplay(held);
      return;
    }
    let records: unknown[] = lane.batcher.cut();
    if (lane.codec.prepare !== undefined) records = lane.codec.prepare(records);
    if (lane.timer !== undefined && lane.batcher.queue.length === 0) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
    }
    const job = new ExportJob(lane, records, this.#timeoutMs);
    this.#jobs.add(job);
    this.#inFlight++;
    void this.#run(job);
  }

  // ------------------------------------------------------------------ the disk spool

  /**
   * Whether `lane`'s queued records should go to the spool now: the spool holds older batches
   * of an ordered lane (its ready batches follow them there), or the ring is filling while no
   * request can take it (slots busy or a retry pending; at shutdown, anything left).
   */
  #wantsSpill(lane: LaneState, flushing: boolean): boolean {
    const spool = this.#spool!;
    const q = lane.batcher.queue;
    if (q.length === 0 || lane.unspooled.length > 0 || !spills(lane.signal)) return false;
    if (keepsOrder(lane.signal) && spool.pending) return flushing || lane.batcher.full() || q.pressured || lane.batcher.ready(this.#now());
    const gated = this.#inFlight >= this.#maxInFlight || this.#retrying > 0;
    return gated && (q.pressured || flushing);
  }

  /** Whether a ring batch may be spilled now: no job spill runs and fewer than MAX_SPILLS_PENDING wait to be written. */
  #canSpill(): boolean {
    return !this.#spilling && this.#spillsPending < MAX_SPILLS_PENDING;
  }

  /** Starts the spills that are due (ring batches, or a job being retried at shutdown) while there is room for them. */
  #spillWhereNeeded(now: number, flushing: boolean): void {
    if (this.#spilling) return;
    const spool = this.#spool!;
    if (flushing && this.#spillsPending === 0) {
      // Shutdown: a batch stuck in retries is written to disk rather than given up at the deadline.
      for (const job of this.#jobs) {
        if (job.retrying && !job.spilling && !job.spilled && job.spooled === undefined && spills(job.lane.signal)) {
          void this.#spillJob(job);
          return;
        }
      }
    }
    let spilled = true;
    while (spilled && this.#canSpill()) {
      spilled = false;
      for (const lane of this.#lanes) {
        if (!this.#wantsSpill(lane, flushing)) continue;
        const q = lane.batcher.queue;
        if (!spool.hasRoom(Math.min(q.bytes, lane.batcher.maxBytes))) {
          // Full: logs wait in their files; metrics drop oldest, counted as spool_full.
          if (q.fullReason !== 'spool_full') spool.noteRefused();
          q.fullReason = 'spool_full';
          continue;
        }
        q.fullReason = 'queue_full';
        this.#spillBatch(lane, now);
        spilled = true;
        if (!this.#canSpill()) break;
      }
    }
  }

  /**
   * Cuts a batch from `lane`'s ring and encodes it now; its records are not held past this call.
   * The requests are written to the spool after those spilled before them.
   */
  #spillBatch(lane: LaneState, _now: number): void {
    let batches: EncodedBatch[];
    try {
      batches = this.#encodeForSpool(lane);
    } catch (err) {
      this.#spillFailed(lane, err);
      return;
    }
    if (batches.length === 0) return;
    this.#spillsPending++;
    this.#spillTail = this.#spillTail
      .then(() => this.#appendToSpool(lane, batches))
      .catch((err: unknown) => this.#spillFailed(lane, err))
      .finally(() => {
        this.#spillsPending--;
        this.#pump();
      });
  }

  #encodeForSpool(lane: LaneState): EncodedBatch[] {
    let records: unknown[] = lane.batcher.cut();
    if (lane.timer !== undefined && lane.batcher.queue.length === 0) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
    }
    if (lane.codec.prepare !== undefined) records = lane.codec.prepare(records);
    const parts = encodeParts(
      lane.codec,
      records,
      lane.maxRequestBytes,
      (a, b, bytes) => this.#dropRecords(lane, records, a, b, 'too_large', 413, `one record encodes to ${bytes} bytes, over maxRequestBytes ${lane.maxRequestBytes}`),
      (a, b) => settleRange(records, a, b, true),
    );
    return parts.map((p) => ({ body: p.body, items: p.to - p.from, acks: ackListOf(records, p.from, p.to) }));
  }

  /** Writes `batches` to the spool in order; what it does not take is sent directly, first. */
  async #appendToSpool(lane: LaneState, batches: readonly EncodedBatch[]): Promise<void> {
    const spool = this.#spool!;
    const gzip = this.#transport.compression === 'gzip' && this.#transport.compress !== undefined;
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      let payload = b.body;
      let encoding: SpoolEncoding = 'identity';
      let ok = false;
      try {
        if (gzip) {
          payload = await this.#transport.compress!(b.body);
          encoding = 'gzip';
        }
        ok = await spool.append({ signal: lane.signal as SpoolSignal, encoding, items: b.items, payload, rawBytes: b.body.byteLength, acks: b.acks });
      } catch (err) {
        this.#spillFailed(lane, err);
      }
      if (!ok) {
        lane.unspooled.push(held(lane, b, payload, encoding));
        for (const rest of batches.slice(i + 1)) lane.unspooled.push(held(lane, rest, rest.body, 'identity'));
        return;
      }
      // On disk: the body's memory serves the next batch now, not after a full GC (the spool keeps
      // no reference to it).
      lane.codec.release?.(b.body);
    }
  }

  /** A job whose request is being retried goes to the spool; its request is aborted once it is written. */
  async #spillJob(job: ExportJob): Promise<void> {
    if (this.#spilling || job.spilling || job.spilled || job.abandoned || job.spooled !== undefined || !spills(job.lane.signal)) return;
    const records = job.records;
    const from = job.settled;
    if (from >= records.length || !this.#spool!.hasRoom(1024)) return;
    this.#spilling = true;
    job.spilling = true;
    try {
      const left = await this.#toSpool(job.lane, records, from);
      if (left === records.length && !job.abandoned) {
        job.spilled = true;
        job.settled = records.length;
        this.#clearRetrying(job);
        job.abort();
      }
      // Written in part (a write error): the job keeps retrying; the part on disk is sent twice.
    } catch (err) {
      this.#spillFailed(job.lane, err);
    } finally {
      job.spilling = false;
      this.#spilling = false;
      this.#pump();
    }
  }

  /**
   * Encodes `records[from…]` into requests and appends them to the spool, their acks settled by
   * the spool once on disk. Returns the index of the first record not written (records.length
   * when all were).
   */
  async #toSpool(lane: LaneState, records: unknown[], from: number): Promise<number> {
    const spool = this.#spool!;
    const part = from === 0 ? records : records.slice(from);
    const gzip = this.#transport.compression === 'gzip' && this.#transport.compress !== undefined;
    const parts = encodeParts(
      lane.codec,
      part,
      lane.maxRequestBytes,
      (a, b, bytes) => this.#dropRecords(lane, part, a, b, 'too_large', 413, `one record encodes to ${bytes} bytes, over maxRequestBytes ${lane.maxRequestBytes}`),
      (a, b) => settleRange(part, a, b, true),
    );
    for (const p of parts) {
      const payload = gzip ? await this.#transport.compress!(p.body) : p.body;
      const ok = await spool.append({
        signal: lane.signal as SpoolSignal,
        encoding: gzip ? 'gzip' : 'identity',
        items: p.to - p.from,
        payload,
        rawBytes: p.body.byteLength,
        acks: ackListOf(part, p.from, p.to),
      });
      // On disk (or not, and encoded again when sent): the body's memory serves the next batch
      // now, not after a full GC (the spool keeps no reference to it).
      lane.codec.release?.(p.body);
      if (!ok) return from + p.from;
    }
    return records.length;
  }

  #spillFailed(lane: LaneState, err: unknown): void {
    lane.dropLog.note('spill_failed', 0, 0, `disk spool: ${errorText(err)}`);
  }

  #dropRecords(lane: LaneState, records: readonly unknown[], from: number, to: number, reason: DropReason, status: number, text: string): void {
    lane.metrics.dropped[reason].inc(to - from);
    lane.dropLog.note(reason, to - from, status, text);
    settleRange(records, from, to, false);
  }

  /** A spooled batch goes out in a request slot like any other. */
  #startReplay(batch: SpooledBatch): void {
    const lane = this.#lanes.find((l) => l.signal === batch.signal) ?? this.#lanes[0]!;
    const job = new ExportJob(lane, [], this.#timeoutMs, batch);
    this.#jobs.add(job);
    this.#inFlight++;
    void this.#runReplay(job, batch);
  }

  /**
   * One request to the endpoint, its latency observed: a transport that throws is a retryable
   * answer with status 0 (no answer), as every outcome is an `ExportResult` from here on.
   */
  async #sendTimed(job: ExportJob, body: Uint8Array): Promise<ExportResult> {
    const lane = job.lane;
    const t0 = this.#now();
    let result: ExportResult;
    try {
      result = await this.#transport.send(lane.path, body, job);
    } catch (err) {
      result = { kind: 'retryable', status: 0, retryAfterMs: undefined, reason: errorText(err) };
    }
    lane.metrics.latency.observe((this.#now() - t0) / 1000, lane.metrics.labels);
    this.#clearRetrying(job);
    return result;
  }

  async #runReplay(job: ExportJob, batch: SpooledBatch): Promise<void> {
    const lane = job.lane;
    let delivered = true;
    // A held batch's acks: true once the endpoint took it, false when dropped (as a direct batch's).
    let accepted = false;
    try {
      let body: Uint8Array = batch.payload;
      if (batch.encoding === 'gzip') {
        // Spooled as the transport compresses; a transport that no longer does gets it plain.
        if (this.#transport.compression === 'gzip') job.encoded = 'gzip';
        else body = await gunzipAsync(batch.payload);
      }
      lane.metrics.bytes.inc(batch.rawBytes);
      const result = await this.#sendTimed(job, body);
      if (job.abandoned) {
        delivered = false;
        return;
      }
      lane.metrics.requests[result.kind].inc();
      const n = batch.items;
      switch (result.kind) {
        case 'success': {
          accepted = true;
          const rejected = Math.min(n, Math.max(0, result.rejected));
          lane.metrics.exportedRecords.inc(n - rejected);
          if (rejected > 0) {
            lane.metrics.dropped.rejected.inc(rejected);
            lane.dropLog.note('rejected', rejected, result.status, result.message || 'partial success');
          }
          return;
        }
        case 'too_large':
          lane.metrics.dropped.too_large.inc(n);
          lane.dropLog.note('too_large', n, result.status, `spooled request: ${result.reason}`);
          return;
        case 'failure':
          lane.metrics.dropped.rejected.inc(n);
          lane.dropLog.note('rejected', n, result.status, result.reason);
          return;
        default:
          lane.metrics.dropped.retries_exhausted.inc(n);
          lane.dropLog.note('retries_exhausted', n, result.status, result.reason);
      }
    } catch (err) {
      // An unreadable gzip body from the spool: dropped and counted, never retried forever.
      lane.metrics.dropped.rejected.inc(batch.items);
      lane.dropLog.note('rejected', batch.items, 0, `spooled request: ${errorText(err)}`);
    } finally {
      if (isHeld(batch)) settleAcks(batch.acks, accepted && !job.abandoned);
      else this.#spool?.done(batch, delivered && !job.abandoned);
      this.#clearRetrying(job);
      this.#jobs.delete(job);
      this.#inFlight--;
      this.#pump();
    }
  }

  async #run(job: ExportJob): Promise<void> {
    try {
      if (job.records.length > 0) await this.#sendRange(job, 0, job.records.length);
    } catch (err) {
      // A codec or transport that throws is a bug; the batch is dropped, counted and logged once.
      if (!job.abandoned && !job.spilled) this.#drop(job, job.records.length, 'rejected', 0, `export error: ${errorText(err)}`);
    } finally {
      this.#clearRetrying(job);
      this.#jobs.delete(job);
      this.#inFlight--;
      this.#pump();
    }
  }

  async #sendRange(job: ExportJob, start: number, end: number): Promise<void> {
    const lane = job.lane;
    const part = start === 0 && end === job.records.length ? job.records : job.records.slice(start, end);
    const body = lane.codec.encode(part);
    if (body === null) {
      this.#settle(job, end, true);
      return;
    }
    if (body.byteLength > lane.maxRequestBytes) {
      // The batch was cut on estimates; the real encoding is what the endpoint limits.
      if (end - start > 1) {
        await this.#splitRange(job, start, end);
        return;
      }
      this.#drop(job, end, 'too_large', 413, `one record encodes to ${body.byteLength} bytes, over maxRequestBytes ${lane.maxRequestBytes}`);
      return;
    }
    lane.metrics.bytes.inc(body.byteLength);
    const result = await this.#sendTimed(job, body);
    if (job.abandoned || job.spilled) return;
    lane.metrics.requests[result.kind].inc();
    const n = end - start;
    switch (result.kind) {
      case 'success': {
        // Answered: the request is done with the body (after other outcomes it is left to the GC).
        lane.codec.release?.(body);
        const rejected = Math.min(n, Math.max(0, result.rejected));
        lane.metrics.exportedRecords.inc(n - rejected);
        if (rejected > 0) {
          lane.metrics.dropped.rejected.inc(rejected);
          lane.dropLog.note('rejected', rejected, result.status, result.message || 'partial success');
        }
        this.#settle(job, end, true);
        return;
      }
      case 'too_large':
        if (n > 1) await this.#splitRange(job, start, end);
        else this.#drop(job, end, 'too_large', result.status, result.reason);
        return;
      case 'failure':
        this.#drop(job, end, 'rejected', result.status, result.reason);
        return;
      default:
        this.#drop(job, end, 'retries_exhausted', result.status, result.reason);
    }
  }

  async #splitRange(job: ExportJob, start: number, end: number): Promise<void> {
    const mid = start + Math.ceil((end - start) / 2);
    await this.#sendRange(job, start, mid);
    if (job.abandoned || job.spilled) return;
    await this.#sendRange(job, mid, end);
  }

  /** Settles records [job.settled, end) with `ok`. */
  #settle(job: ExportJob, end: number, ok: boolean): void {
    const records = job.records;
    for (let i = job.settled; i < end; i++) {
      const r = records[i] as { ack?: { settle(token: number, ok: boolean): void }; ackToken?: number };
      if (r.ack !== undefined) r.ack.settle(r.ackToken ?? 0, ok);
    }
    job.settled = end;
  }

  #drop(job: ExportJob, end: number, reason: DropReason, status: number, text: string): void {
    const n = end - job.settled;
    job.lane.metrics.dropped[reason].inc(n);
    job.lane.dropLog.note(reason, n, status, text);
    this.#settle(job, end, false);
  }

  #markRetrying(job: ExportJob): void {
    if (job.retrying || job.abandoned) return;
    job.retrying = true;
    this.#retrying++;
  }

  #clearRetrying(job: ExportJob): void {
    if (!job.retrying) return;
    job.retrying = false;
    this.#retrying--;
  }

  /** Nothing of this run's records is queued or on its way (spooled batches being sent again do not count). */
  #idle(): boolean {
    if (this.#spilling || this.#spillsPending > 0) return false;
    for (const job of this.#jobs) if (!job.abandoned && !job.spilled && (job.spooled === undefined || isHeld(job.spooled))) return false;
    for (const lane of this.#lanes) if (lane.batcher.queue.length > 0 || lane.unspooled.length > 0) return false;
    return true;
  }

  /** Aborts what is in flight and drops what is queued; returns how many records that was. */
  #giveUp(): number {
    let pending = 0;
    for (const job of this.#jobs) {
      if (job.abandoned) continue;
      job.abort();
      job.abandoned = true;
      // Its request is still counted in flight until the transport returns, but it gates nothing.
      this.#clearRetrying(job);
      if (job.spooled !== undefined && isHeld(job.spooled)) {
        // Encoded for the spool, which did not take it: not delivered.
        pending += job.spooled.items;
        job.lane.metrics.dropped.shutdown.inc(job.spooled.items);
        continue;
      }
      if (job.spilled || job.spooled !== undefined) continue; // on disk: sent after the restart
      const n = job.records.length - job.settled;
      pending += n;
      if (n > 0) job.lane.metrics.dropped.shutdown.inc(n);
      this.#settle(job, job.records.length, false);
    }
    for (const lane of this.#lanes) {
      pending += lane.batcher.queue.dropAll('shutdown');
      for (const h of lane.unspooled.splice(0)) {
        pending += h.items;
        lane.metrics.dropped.shutdown.inc(h.items);
        settleAcks(h.acks, false);
      }
    }
    return pending;
  }

  #deadline(): void {
    if (this.#waiters.size === 0) return;
    const pending = this.#giveUp();
    this.#resolveWaiters(pending === 0, pending);
  }

  #resolveWaiters(flushed: boolean, pending: number): void {
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.resolve({ flushed, pending });
    }
    this.#waiters.clear();
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Settles the acks of `records[from, to)`. */
function settleRange(records: readonly unknown[], from: number, to: number, ok: boolean): void {
  for (let i = from; i < to; i++) {
    const r = records[i] as { ack?: { settle(token: number, ok: boolean): void }; ackToken?: number };
    if (r.ack !== undefined) r.ack.settle(r.ackToken ?? 0, ok);
  }
}

/** Settles every ack of `acks` (runs of consecutive tokens per target). */
function settleAcks(acks: AckList, ok: boolean): void {
  for (let r = 0; r < acks.targets.length; r++) {
    const target = acks.targets[r]!;
    const first = acks.firsts[r]!;
    for (let t = first, end = first + acks.counts[r]!; t < end; t++) target.settle(t, ok);
  }
}

function held(lane: LaneState, b: EncodedBatch, payload: Uint8Array, encoding: SpoolEncoding): HeldBatch {
  return {
    signal: lane.signal as SpoolSignal,
    encoding,
    items: b.items,
    rawBytes: b.body.byteLength,
    payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
    backing: undefined,
    acks: b.acks,
  };
}

function isHeld(batch: SpooledBatch): batch is HeldBatch {
  return (batch as Partial<HeldBatch>).acks !== undefined;
}

function gunzipAsync(b: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => gunzip(b, (err, out) => (err ? reject(err) : resolve(out))));
}
