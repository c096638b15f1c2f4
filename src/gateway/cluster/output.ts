/**
 * Where the cluster monitor's data goes, as OTLP requests: the gateway hands it to the same
 * ingest that received OTLP goes through (its local store and the upstream forwarder, run.ts);
 * the embedded store of milestone 2 plugs in here too. The monitor owns this interface, so it
 * reaches neither the gateway's server nor its store directly.
 */

export type ClusterSignal = 'metrics' | 'logs';

export type DeliveryOutcome =
  | { readonly ok: true }
  /** `retryable`: the receiver is busy (store behind, forward queue full), try again after `retryAfterMs`. */
  | { readonly ok: false; readonly retryable: boolean; readonly retryAfterMs: number; readonly reason: string };

export interface ClusterOutput {
  /** One encoded OTLP `Export*ServiceRequest` (protobuf) holding `records` metric points or log records. */
  deliver(signal: ClusterSignal, body: Uint8Array, records: number): DeliveryOutcome | Promise<DeliveryOutcome>;
}
