import type { Logger } from '../self/logger.js';
import type { BoundCounter, Histogram, Registry } from '../self/registry.js';
import { SourceTally } from '../pipeline/source-tally.js';
import type { CycleSpan, CycleTracer } from '../self/tracing/hooks.js';
import type { RecordSink, Source } from '../sources/types.js';

/**
 * Runs every source's collection cycle on the interval, aligned to wall-clock multiples of it
 * (all nodes sample at the same instants, so dashboards line up). A cycle never overlaps the
 * previous one: if a source is still collecting when its next tick comes, that tick is skipped
 * and counted — a slow /proc must not pile up concurrent scans.
 */
export class CollectionScheduler {
  readonly #sources: readonly Source[];
  readonly #sink: RecordSink;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  readonly #skipped: Map<string, BoundCounter>;
  readonly #failed: Map<string, BoundCounter>;
  readonly #duration: Histogram;
  readonly #running = new Set<string>();
  /** Per source (streaming ones too): the sink that counts what it offers. */
  readonly #tallies: Map<string, SourceTally>;
  /** Self-traces (SEXTANT_SELF_TRACES_ENDPOINT); undefined when off. */
  readonly #tracer: CycleTracer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #cycles = 0;
  /** The cycle running now, so stop() can let it finish before the pipeline is flushed. */
  #current: Promise<void> | undefined;

  constructor(sources: readonly Source[], sink: RecordSink, intervalMs: number, deps: { registry: Registry; logger: Logger; tracer?: CycleTracer | undefined }) {
    this.#sources = sources.filter((s) => s.collect);
    this.#sink = sink;
    this.#tallies = new Map(sources.map((s) => [s.name, new SourceTally(sink, s.name, deps.registry)]));
    this.#tracer = deps.tracer;
    this.#intervalMs = intervalMs;
    this.#logger = deps.logger;
    const skipped = deps.registry.counter('sextant_collect_skipped_total', 'Collection cycles skipped because the previous one was still running, by source.');
    const failed = deps.registry.counter('sextant_collect_failed_total', 'Collection cycles that threw, by source.');
    this.#duration = deps.registry.histogram('sextant_collect_duration_seconds', 'Wall time of one collection cycle, by source.', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5]);
    this.#skipped = new Map(this.#sources.map((s) => [s.name, skipped.bind({ source: s.name })]));
    this.#failed = new Map(this.#sources.map((s) => [s.name, failed.bind({ source: s.name })]));
  }

  get cycles(): number {
    return this.#cycles;
  }

  /** The counting sink of `source` (for `start` of a streaming source); the pipeline for an unknown one. */
  sinkFor(source: Source): RecordSink {
    return this.#tallies.get(source.name) ?? this.#sink;
  }

  /** Collects once now, then on every aligned tick. */
  start(): void {
    void this.runOnce();
    this.#arm();
  }

  /** One cycle of every source, concurrently; resolves when all are done. */
  async runOnce(): Promise<void> {
    this.#cycles++;
    const span = this.#tracer?.startCycle(this.#cycles);
    const cycle = Promise.all(this.#sources.map((s) => this.#collect(s, span))).then(() => undefined);
    this.#current = cycle;
    await cycle;
    span?.end();
    if (this.#current === cycle) this.#current = undefined;
  }

  /**
   * No further cycles; resolves once the cycle running now has finished, or after `waitMs`,
   * whichever comes first. Whatever it offers after that is offered after the flush began.
   */
  async stop(waitMs = 0): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const running = this.#current;
    if (running === undefined || waitMs <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([running, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }

  #arm(): void {
    if (this.#stopped) return;
    const now = Date.now();
    const delay = this.#intervalMs - (now % this.#intervalMs);
    this.#timer = setTimeout(() => {
      void this.runOnce();
      this.#arm();
    }, delay);
  }

  async #collect(source: Source, span: CycleSpan | undefined): Promise<void> {
    if (this.#running.has(source.name)) {
      this.#skipped.get(source.name)!.inc();
      span?.startSource(source.name).end({ records: 0, bytes: 0, skipped: true });
      return;
    }
    this.#running.add(source.name);
    const tally = this.#tallies.get(source.name)!;
    tally.cycleRecords = 0;
    tally.cycleBytes = 0;
    const child = span?.startSource(source.name);
    let error: Error | undefined;
    const t0 = process.hrtime.bigint();
    try {
      await source.collect!(tally);
    } catch (err) {
      error = err as Error;
      this.#failed.get(source.name)!.inc();
      this.#logger.warn({ source: source.name, err: (err as Error).message }, 'collection cycle failed');
    } finally {
      this.#running.delete(source.name);
      this.#duration.observe(Number(process.hrtime.bigint() - t0) / 1e9, { source: source.name });
      child?.end({ records: tally.cycleRecords, bytes: tally.cycleBytes, error });
    }
  }
}
