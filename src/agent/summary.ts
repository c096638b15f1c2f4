import type { Registry } from '../self/registry.js';

const SIGNALS = ['metrics', 'logs', 'events'] as const;

/**
 * Lines are printed by a setInterval, so the line one window back is a window old to within
 * the timer's rounding, never much less: this much short still counts as a whole window.
 */
const TIMER_SLACK_MS = 100;

function n(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}

/** `10 s`, `1.5 s`: how long the rate in a line covers. */
function span(ms: number): string {
  const s = ms / 1000;
  return `${s >= 10 ? Math.round(s) : Number(s.toFixed(1))} s`;
}

export interface SummaryTiming {
  /** How often a cycle collects, and so how often metrics are exported in a burst. */
  collectionIntervalMs: number;
  /** How often `render` is called. */
  printIntervalMs: number;
}

/** The exported total a line saw, and when. */
interface Sample {
  at: number;
  exported: number;
}

/**
 * The one-line summary a foreground run prints every few seconds, read from the same counters
 * `/metrics` serves — so what the user sees and what Prometheus scrapes never disagree.
 *
 * Metrics leave in one burst per collection interval, and lines come more often than that by
 * default (5 s against 10 s), so a rate since the previous line would read 0/s on every line
 * between two bursts. The rate is instead over at least one collection interval (back to the
 * newest earlier line that is that old, or to the start), and the line says how long it covers.
 */
export class SummaryLine {
  readonly #registry: Registry;
  readonly #windowMs: number;
  readonly #slackMs: number;
  /** Earlier lines, oldest first, back to the one the next rate starts from; the first is the start. */
  #samples: Sample[];

  constructor(registry: Registry, timing: SummaryTiming, now = Date.now()) {
    this.#registry = registry;
    this.#windowMs = Math.max(timing.collectionIntervalMs, timing.printIntervalMs);
    this.#slackMs = Math.min(TIMER_SLACK_MS, timing.printIntervalMs / 2);
    this.#samples = [{ at: now, exported: this.#exported() }];
  }

  render(now = Date.now()): string {
    const r = this.#registry;
    const offered = r.counter('sextant_pipeline_offered_total', '');
    const dropped = r.counter('sextant_pipeline_dropped_total', '');
    const retries = r.counter('sextant_export_retries_total', '');
    const queued = r.gauge('sextant_pipeline_queue_items', '');
    const latency = r.histogram('sextant_export_latency_seconds', '', []);

    const collected = SIGNALS.map((s) => `${n(offered.get({ signal: s }))} ${s}`).join(', ');
    const exported = this.#exported();
    const from = this.#windowStart(now);
    const covered = Math.max(1, now - from.at);
    const rate = ((exported - from.exported) * 1000) / covered;
    this.#samples.push({ at: now, exported });

    let queue = 0;
    for (const s of SIGNALS) queue += queued.get({ signal: s });
    let p99 = 0;
    for (const s of ['metrics', 'logs'] as const) p99 = Math.max(p99, latency.quantile(0.99, { signal: s }));
    const rssMb = process.memoryUsage.rss() / (1024 * 1024);
    return (
      `collected ${collected} | exported ${n(exported)} (${n(rate)}/s over ${span(covered)})` +
      ` | dropped ${n(dropped.sum())} | queued ${n(queue)} | retries ${n(retries.sum())}` +
      ` | export p99 ${(p99 * 1000).toFixed(1)} ms | rss ${rssMb.toFixed(0)} MB`
    );
  }

  #exported(): number {
    return this.#registry.counter('sextant_export_records_total', '').sum();
  }

  /** The newest earlier line at least a window old (the start while none is); older ones are let go. */
  #windowStart(now: number): Sample {
    let i = 0;
    while (i + 1 < this.#samples.length && now - this.#samples[i + 1]!.at >= this.#windowMs - this.#slackMs) i++;
    this.#samples = this.#samples.slice(i);
    return this.#samples[0]!;
  }
}
