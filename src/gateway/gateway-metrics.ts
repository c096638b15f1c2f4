import type { OtlpSignal } from '../export/types.js';
import type { BoundCounter, Counter, Gauge, Registry } from '../self/registry.js';
import { SIGNALS } from '../export/http-routes.js';

/** Label for requests to a path that names no signal (404s). */
export type SignalLabel = OtlpSignal | 'none';

/**
 * The gateway's self-metrics, registered once. Label values are fixed sets (signals, status
 * codes the gateway itself answers, reason words): never a path, a header or a token.
 */
export class GatewayMetrics {
  readonly #requests: Counter;
  readonly #rejected: Counter;
  readonly #forwarded: Counter;
  readonly forwardQueueBytes: Gauge;
  // Bound per (signal, code): the label text is built once, not per request.
  readonly #requestsBound = new Map<string, BoundCounter>();
  readonly #rejectedBound = new Map<string, BoundCounter>();
  readonly #forwardedBound = new Map<string, BoundCounter>();
  readonly receivedRecords: Readonly<Record<OtlpSignal, BoundCounter>>;
  readonly receivedBytes: Readonly<Record<OtlpSignal, BoundCounter>>;
  readonly storedBytes: Readonly<Record<OtlpSignal, BoundCounter>>;
  readonly storedRecords: Readonly<Record<OtlpSignal, BoundCounter>>;
  readonly storeErrors: Readonly<Record<OtlpSignal, BoundCounter>>;

  constructor(registry: Registry) {
    this.#requests = registry.counter('sextant_gateway_requests_total', 'OTLP requests answered by the gateway, by signal and HTTP status.');
    this.#rejected = registry.counter('sextant_gateway_rejected_total', 'Requests the gateway refused, by reason.');
    this.#forwarded = registry.counter('sextant_gateway_forwarded_total', 'Requests forwarded upstream, by signal and result (retry counts attempts that will be repeated).');
    this.forwardQueueBytes = registry.gauge('sextant_gateway_forward_queue_bytes', 'Bytes of requests waiting to be forwarded upstream.');
    const records = registry.counter('sextant_gateway_received_records_total', 'Data points, log records and spans accepted.');
    const bytes = registry.counter('sextant_gateway_received_bytes_total', 'Request body bytes accepted, as received on the wire (compressed).');
    const stored = registry.counter('sextant_gateway_stored_bytes_total', 'Bytes appended to the local store.');
    const storedRecords = registry.counter('sextant_gateway_stored_records_total', 'Records appended to the local store.');
    const storeErrors = registry.counter('sextant_gateway_store_errors_total', 'Failed writes or deletes in the local store.');
    const per = (c: Counter): Record<OtlpSignal, BoundCounter> => ({
      metrics: c.bind({ signal: 'metrics' }),
      logs: c.bind({ signal: 'logs' }),
      traces: c.bind({ signal: 'traces' }),
    });
    this.receivedRecords = per(records);
    this.receivedBytes = per(bytes);
    this.storedBytes = per(stored);
    this.storedRecords = per(storedRecords);
    this.storeErrors = per(storeErrors);
    for (const s of SIGNALS) this.request(s, 200, 0);
  }

  request(signal: SignalLabel, code: number, by = 1): void {
    const key = `${signal}:${code}`;
    let c = this.#requestsBound.get(key);
    if (c === undefined) {
      c = this.#requests.bind({ signal, code: String(code) });
      this.#requestsBound.set(key, c);
    }
    c.inc(by);
  }

  rejected(reason: string): void {
    let c = this.#rejectedBound.get(reason);
    if (c === undefined) {
      c = this.#rejected.bind({ reason });
      this.#rejectedBound.set(reason, c);
    }
    c.inc();
  }

  forwarded(signal: OtlpSignal, result: string): void {
    const key = `${signal}:${result}`;
    let c = this.#forwardedBound.get(key);
    if (c === undefined) {
      c = this.#forwarded.bind({ signal, result });
      this.#forwardedBound.set(key, c);
    }
    c.inc();
  }
}
