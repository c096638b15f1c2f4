import type { LogRecord, MetricPoint } from '../../src/model/index.js';
import type { RecordSink } from '../../src/sources/types.js';

/**
 * A sink that acknowledges every log record at once, as the pipeline does when the endpoint
 * takes its batch (so checkpoints advance), or holds acks back (`ack = false`), or refuses while
 * `full` / past `capacity` like a full ring, then drains on demand.
 */
export class AckingSink implements RecordSink {
  logs: LogRecord[] = [];
  full = false;
  capacity = Number.POSITIVE_INFINITY;
  ack = true;
  #drain: (() => void)[] = [];

  offerMetric(_p: MetricPoint): boolean {
    return true;
  }
  offerEvent(): boolean {
    return true;
  }
  offerLog(r: LogRecord): boolean {
    if (this.full || this.logs.length >= this.capacity) {
      this.full = true;
      return false;
    }
    this.logs.push(r);
    if (this.ack) r.ack?.settle(r.ackToken!, true);
    return true;
  }
  onLogsDrain(l: () => void): void {
    this.#drain.push(l);
  }
  drain(): void {
    this.full = false;
    this.capacity = Number.POSITIVE_INFINITY;
    for (const l of this.#drain) l();
  }
  /** The `n=<number>` of each record body, -1 where there is none. */
  numbers(): number[] {
    return this.logs.map((r) => Number(/n=(\d+)/.exec(r.body)?.[1] ?? -1));
  }
  /** The numbers of the bodies that are exactly `<prefix> n=<number>`, others skipped. */
  numbersOf(prefix: string): number[] {
    const re = new RegExp(`^${prefix} n=(\\d+)$`);
    const out: number[] = [];
    for (const r of this.logs) {
      const m = re.exec(r.body);
      if (m) out.push(Number(m[1]));
    }
    return out;
  }
}
