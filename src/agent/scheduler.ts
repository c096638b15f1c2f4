import type { Logger } from '../self/logger.js';
import type { BoundCounter, Histogram, Registry } from '../self/registry.js';
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
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #cycles = 0;
  /** The cycle running now, so stop() can let it finish before the pipeline is flushed. */
  #current: Promise<void> | undefined;

  constructor(sources: readonly Source[], sink: RecordSink, intervalMs: number, deps: { registry: Registry; logger: Logger }) {
    this.#sources = sources.filter((s) => s.collect);
    this.#sink = sink;
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

  /** Collects once now, then on every aligned tick. */
  start(): void {
    void this.runOnce();
    this.#arm();
  }

  /** One cycle of every source, concurrently; resolves when all are done. */
  async runOnce(): Promise<void> {
    this.#cycles++;
    const cycle = Promise.all(this.#sources.map((s) => this.#collect(s))).then(() => undefined);
    this.#current = cycle;
    await cycle;
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

  async #collect(source: Source): Promise<void> {
    if (this.#running.has(source.name)) {
      this.#skipped.get(source.name)!.inc();
      return;
    }
    this.#running.add(source.name);
    const t0 = process.hrtime.bigint();
    try {
      await source.collect!(this.#sink);
    } catch (err) {
      this.#failed.get(source.name)!.inc();
      this.#logger.warn({ source: source.name, err: (err as Error).message }, 'collection cycle failed');
    } finally {
      this.#running.delete(source.name);
      this.#duration.observe(Number(process.hrtime.bigint() - t0) / 1e9, { source: source.name });
    }
  }
}
