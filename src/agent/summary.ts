import type { Registry } from '../self/registry.js';

const SIGNALS = ['metrics', 'logs', 'events'] as const;

function n(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}

/**
 * The one-line summary a foreground run prints every few seconds, read from the same counters
 * `/metrics` serves — so what the user sees and what Prometheus scrapes never disagree.
 */
export class SummaryLine {
  readonly #registry: Registry;
  #last = { offered: 0, exported: 0, at: Date.now() };

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  render(): string {
    const r = this.#registry;
    const offered = r.counter('sextant_pipeline_offered_total', '');
    const exported = r.counter('sextant_export_records_total', '');
    const dropped = r.counter('sextant_pipeline_dropped_total', '');
    const retries = r.counter('sextant_export_retries_total', '');
    const queued = r.gauge('sextant_pipeline_queue_items', '');
    const latency = r.histogram('sextant_export_latency_seconds', '', []);

    const collected = SIGNALS.map((s) => `${n(offered.get({ signal: s }))} ${s}`).join(', ');
    const totalOffered = offered.sum();
    const totalExported = exported.sum();
    const now = Date.now();
    const secs = Math.max(0.001, (now - this.#last.at) / 1000);
    const rate = (totalExported - this.#last.exported) / secs;
    this.#last = { offered: totalOffered, exported: totalExported, at: now };

    let queue = 0;
    for (const s of SIGNALS) queue += queued.get({ signal: s });
    let p99 = 0;
    for (const s of ['metrics', 'logs'] as const) p99 = Math.max(p99, latency.quantile(0.99, { signal: s }));
    const rssMb = process.memoryUsage.rss() / (1024 * 1024);
    return (
      `collected ${collected} | exported ${n(totalExported)} (${n(rate)}/s)` +
      ` | dropped ${n(dropped.sum())} | queued ${n(queue)} | retries ${n(retries.sum())}` +
      ` | export p99 ${(p99 * 1000).toFixed(1)} ms | rss ${rssMb.toFixed(0)} MB`
    );
  }
}
