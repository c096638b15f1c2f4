import type { OtlpSignal } from '../export/types.js';
import type { BoundCounter, Registry } from '../self/registry.js';
import { IDENTIFIED_BY, type IdentifiedBy } from './sender-identity.js';

/** The receiver's listeners: `transport` label values. */
export type Transport = 'http' | 'grpc' | 'socket';
const TRANSPORTS: readonly Transport[] = ['http', 'grpc', 'socket'];

/** How a request ended: `result` label values. */
export type RequestResult = 'accepted' | 'forbidden' | 'bad_request' | 'too_large' | 'unsupported' | 'not_found' | 'unavailable';
const RESULTS: readonly RequestResult[] = ['accepted', 'forbidden', 'bad_request', 'too_large', 'unsupported', 'not_found', 'unavailable'];
const SIGNALS: readonly (OtlpSignal | 'unknown')[] = ['traces', 'metrics', 'logs', 'unknown'];
const SIGNAL_BY_CODE: readonly OtlpSignal[] = ['traces', 'metrics', 'logs'];

/**
 * The receiver's self-metrics (docs/metrics.md, "Receiver"), every label set bound once:
 * requests by signal, listener and result; resources by how their sender was identified; the
 * items and bytes accepted; and, from the pipeline's acknowledgements, items exported or lost.
 */
export class ReceiverMetrics {
  readonly #requests = new Map<string, BoundCounter>();
  readonly #identified = new Map<string, BoundCounter>();
  readonly #items: Record<OtlpSignal, BoundCounter>;
  readonly #bytes: Record<OtlpSignal, BoundCounter>;
  readonly #delivered: Record<OtlpSignal, { exported: BoundCounter; lost: BoundCounter }>;

  constructor(registry: Registry) {
    const requests = registry.counter('sextant_receiver_requests_total', 'OTLP export requests applications sent to the receiver, by signal, listener (http, grpc, socket) and result.');
    const identified = registry.counter(
      'sextant_receiver_resources_total',
      'Resources in accepted requests by how their sender was identified: socket (peer credentials), peer (pod IP), resource (k8s.pod.uid the sender set), none.',
    );
    const items = registry.counter('sextant_receiver_items_total', 'Spans, data points and log records accepted by the receiver.');
    const bytes = registry.counter('sextant_receiver_bytes_total', 'Bytes of accepted requests (protobuf, after gzip).');
    const delivered = registry.counter('sextant_receiver_delivered_items_total', 'Accepted items by outcome at the endpoint: exported (acknowledged) or lost (dropped after acceptance).');
    for (const s of SIGNALS) {
      for (const t of TRANSPORTS) for (const r of RESULTS) this.#requests.set(`${s}|${t}|${r}`, requests.bind({ signal: s, transport: t, result: r }));
    }
    for (const s of SIGNAL_BY_CODE) for (const by of IDENTIFIED_BY) this.#identified.set(`${s}|${by}`, identified.bind({ signal: s, identified_by: by }));
    this.#items = { traces: items.bind({ signal: 'traces' }), metrics: items.bind({ signal: 'metrics' }), logs: items.bind({ signal: 'logs' }) };
    this.#bytes = { traces: bytes.bind({ signal: 'traces' }), metrics: bytes.bind({ signal: 'metrics' }), logs: bytes.bind({ signal: 'logs' }) };
    const d = (signal: OtlpSignal) => ({ exported: delivered.bind({ signal, outcome: 'exported' }), lost: delivered.bind({ signal, outcome: 'lost' }) });
    this.#delivered = { traces: d('traces'), metrics: d('metrics'), logs: d('logs') };
  }

  request(signal: OtlpSignal | undefined, transport: Transport, result: RequestResult): void {
    this.#requests.get(`${signal ?? 'unknown'}|${transport}|${result}`)!.inc();
  }

  identified(signal: OtlpSignal, by: IdentifiedBy): void {
    this.#identified.get(`${signal}|${by}`)!.inc();
  }

  accepted(signal: OtlpSignal, items: number, bytes: number): void {
    this.#items[signal].inc(items);
    this.#bytes[signal].inc(bytes);
  }

  /** An acknowledgement from the pipeline: `code` is the block's signal (0 traces, 1 metrics, 2 logs). */
  settled(code: number, items: number, ok: boolean): void {
    const d = this.#delivered[SIGNAL_BY_CODE[code] ?? 'traces'];
    (ok ? d.exported : d.lost).inc(items);
  }
}
