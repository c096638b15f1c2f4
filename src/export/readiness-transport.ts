import type { ExportResult, OtlpSignal, SendOptions, Transport } from './types.js';

/** What readiness this wrapper drives (the self server's `Readiness`); owned here so export imports nothing from it. */
export interface ReadinessTarget {
  readonly ready: boolean;
  markReady(): void;
  markNotReady(reason: string): void;
}

/**
 * Tells readiness what each export attempt learned: any HTTP answer means the endpoint is
 * reachable (the agent is ready even if the endpoint refuses a batch); no answer before the
 * first success keeps it not ready with the reason. Once ready, an outage does not flip it
 * back — restarting a DaemonSet pod because its backend is down would only lose its buffer.
 */
export class ReadinessTransport implements Transport {
  readonly #inner: Transport;
  readonly #readiness: ReadinessTarget;

  constructor(inner: Transport, readiness: ReadinessTarget) {
    this.#inner = inner;
    this.#readiness = readiness;
  }

  async send(signal: OtlpSignal, body: Uint8Array, options: SendOptions): Promise<ExportResult> {
    const result = await this.#inner.send(signal, body, options);
    if (!this.#readiness.ready) {
      if (result.status > 0) this.#readiness.markReady();
      else this.#readiness.markNotReady(`endpoint not reachable: ${result.kind === 'success' ? '' : result.reason}`);
    }
    return result;
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  get compression(): 'gzip' | 'none' | undefined {
    return this.#inner.compression;
  }

  compress(body: Uint8Array): Promise<Uint8Array> {
    if (this.#inner.compress === undefined) return Promise.resolve(body);
    return this.#inner.compress(body);
  }
}
