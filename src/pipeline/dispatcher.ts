import type { Codec, ExportResult, OtlpSignal, SendOptions, Transport } from '../export/types.js';
import { BurstLog } from '../self/burst-log.js';
import type { Logger } from '../self/logger.js';
import type { Batcher } from './batcher.js';
import { monotonicMs } from './clock.js';
import type { DropReason, PipelineSignal, SignalMetrics } from './self-metrics.js';

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
  readonly lane: LaneState;
  readonly records: unknown[];
  /** Records [0, settled) have had their outcome decided; halves go left to right, so it is a prefix. */
  settled = 0;
  retrying = false;
  /** Given up at a flush deadline or stop: its records were settled as not delivered. */
  abandoned = false;

  constructor(lane: LaneState, records: unknown[], timeoutMs: number, signal: AbortSignal) {
    this.lane = lane;
    this.records = records;
    this.timeoutMs = timeoutMs;
    this.signal = signal;
  }
}

interface LaneState extends Lane<unknown> {
  readonly dropLog: BurstLog;
  readonly onTimer: () => void;
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
}

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
  #abort = new AbortController();
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
      };
      return state;
    });
    this.#events = this.#lanes.find((l) => l.signal === 'events');
    this.#others = this.#lanes.filter((l) => l.signal !== 'events');
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
    // While gated (slots full, or a retry running) the pump runs again when a request settles;
    // a pump or timer now would only spin.
    if (!this.#running || this.#inFlight >= this.#maxInFlight || this.#retrying > 0) return;
    const lane = this.#lanes[laneIndex]!;
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

  /** Stops taking batches; aborts requests in flight; drops and settles everything left. */
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
    while (this.#inFlight < this.#maxInFlight && this.#retrying === 0) {
      const lane = this.#pick(now, flushing);
      if (lane === undefined) break;
      this.#startJob(lane);
      now = this.#now();
    }
    // Gated, nothing needs a timer: the settling request pumps again.
    if (this.#inFlight < this.#maxInFlight && this.#retrying === 0) {
      for (const lane of this.#lanes) if (lane.batcher.queue.length > 0) this.#arm(lane, now);
    }
    if (flushing && this.#idle()) this.#resolveWaiters(true, 0);
  }

  /** Events first; then metrics and logs take turns so neither starves the other. */
  #pick(now: number, flushing: boolean): LaneState | undefined {
    const ev = this.#events;
    if (ev !== undefined && (flushing ? ev.batcher.queue.length > 0 : ev.batcher.ready(now))) return ev;
    const n = this.#others.length;
    for (let k = 0; k < n; k++) {
      const lane = this.#others[(this.#turn + k) % n]!;
      if (flushing ? lane.batcher.queue.length > 0 : lane.batcher.ready(now)) {
        this.#turn = (this.#turn + k + 1) % n;
        return lane;
      }
    }
    return undefined;
  }

  #startJob(lane: LaneState): void {
    let records: unknown[] = lane.batcher.cut();
    if (lane.timer !== undefined && lane.batcher.queue.length === 0) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
    }
    if (lane.codec.prepare !== undefined) records = lane.codec.prepare(records);
    const job = new ExportJob(lane, records, this.#timeoutMs, this.#abort.signal);
    this.#jobs.add(job);
    this.#inFlight++;
    void this.#run(job);
  }

  async #run(job: ExportJob): Promise<void> {
    try {
      if (job.records.length > 0) await this.#sendRange(job, 0, job.records.length);
    } catch (err) {
      // A codec or transport that throws is a bug; the batch is dropped, counted and logged once.
      if (!job.abandoned) this.#drop(job, job.records.length, 'rejected', 0, `export error: ${errorText(err)}`);
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
    const t0 = this.#now();
    let result: ExportResult;
    try {
      result = await this.#transport.send(lane.path, body, job);
    } catch (err) {
      result = { kind: 'retryable', status: 0, retryAfterMs: undefined, reason: errorText(err) };
    }
    lane.metrics.latency.observe((this.#now() - t0) / 1000, lane.metrics.labels);
    this.#clearRetrying(job);
    if (job.abandoned) return;
    lane.metrics.requests[result.kind].inc();
    const n = end - start;
    switch (result.kind) {
      case 'success': {
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
    if (job.abandoned) return;
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

  #idle(): boolean {
    for (const job of this.#jobs) if (!job.abandoned) return false;
    for (const lane of this.#lanes) if (lane.batcher.queue.length > 0) return false;
    return true;
  }

  /** Aborts what is in flight and drops what is queued; returns how many records that was. */
  #giveUp(): number {
    let pending = 0;
    this.#abort.abort();
    this.#abort = new AbortController();
    for (const job of this.#jobs) {
      if (job.abandoned) continue;
      const n = job.records.length - job.settled;
      pending += n;
      if (n > 0) job.lane.metrics.dropped.shutdown.inc(n);
      this.#settle(job, job.records.length, false);
      job.abandoned = true;
      // Its request is still counted in flight until the transport returns, but it gates nothing.
      this.#clearRetrying(job);
    }
    for (const lane of this.#lanes) pending += lane.batcher.queue.dropAll('shutdown');
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
