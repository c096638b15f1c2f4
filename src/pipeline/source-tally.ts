import type { LogRecord, MetricPoint } from '../model/index.js';
import { logRecordSize, metricPointSize } from '../model/size.js';
import type { RecordSink } from '../sources/types.js';
import type { BoundCounter, Registry } from '../self/registry.js';

/**
 * A source's view of the pipeline that counts what the source offers, so `/metrics` (and
 * `sextant top`) show records/s and bytes/s per source and not only per signal. One per
 * source, made once; per record taken it adds two increments and the size estimate the ring
 * also makes — no allocation. Only records the pipeline took are counted: a refused log record
 * is offered again after `drain` (counting it twice would overstate), and a refused metric or
 * event is already counted by the pipeline as a drop.
 */
export class SourceTally implements RecordSink {
  readonly #inner: RecordSink;
  readonly #records: BoundCounter;
  readonly #bytes: BoundCounter;
  /** Since the last `take()`: what one collection cycle offered, for its trace span. */
  cycleRecords = 0;
  cycleBytes = 0;

  constructor(inner: RecordSink, source: string, registry: Registry) {
    this.#inner = inner;
    const labels = { source };
    this.#records = registry.counter('sextant_source_records_total', 'Records offered by each source (metric points, log records, events).').bind(labels);
    this.#bytes = registry.counter('sextant_source_bytes_total', 'Estimated encoded bytes of the records offered by each source.').bind(labels);
  }

  offerMetric(point: MetricPoint): boolean {
    const ok = this.#inner.offerMetric(point);
    if (ok) this.#count(metricPointSize(point));
    return ok;
  }

  offerLog(record: LogRecord): boolean {
    const ok = this.#inner.offerLog(record);
    if (ok) this.#count(logRecordSize(record));
    return ok;
  }

  offerEvent(event: LogRecord): boolean {
    const ok = this.#inner.offerEvent(event);
    if (ok) this.#count(logRecordSize(event));
    return ok;
  }

  onLogsDrain(listener: () => void): void {
    this.#inner.onLogsDrain(listener);
  }

  #count(bytes: number): void {
    this.#records.inc();
    this.#bytes.inc(bytes);
    this.cycleRecords++;
    this.cycleBytes += bytes;
  }
}
