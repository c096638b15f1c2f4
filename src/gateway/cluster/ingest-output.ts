import type { ClusterOutput, ClusterSignal, DeliveryOutcome } from './output.js';

/**
 * The gateway's ingest as the cluster monitor's output. Structural, so this folder does not
 * import the gateway's server: `Gateway.ingest` (src/gateway/gateway.ts) is exactly this — the
 * function every OTLP request goes through, into the local store and the upstream forwarder.
 */
export interface IngestTarget {
  ingest(
    signal: ClusterSignal,
    format: 'protobuf',
    body: Uint8Array,
    wireBytes: number,
  ): Promise<IngestAnswer>;
}

type IngestAnswer = { readonly ok: true } | { readonly ok: false; readonly status: number; readonly reason: string; readonly retryAfterSeconds?: number | undefined };

const OK: DeliveryOutcome = Object.freeze({ ok: true });

export function ingestOutput(gateway: IngestTarget): ClusterOutput {
  return {
    async deliver(signal, body) {
      // Resolves once the store's request log holds the batch (or the answer says why not).
      const o = await gateway.ingest(signal, 'protobuf', body, body.byteLength);
      if (o.ok) return OK;
      // 503: the store is behind or the forward queue is full — the same answer a sender gets.
      return { ok: false, retryable: o.status === 503, retryAfterMs: (o.retryAfterSeconds ?? 1) * 1000, reason: o.reason };
    },
  };
}
