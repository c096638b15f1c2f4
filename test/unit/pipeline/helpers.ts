import type { ExportResult, OtlpSignal, SendOptions, Transport } from '../../../src/export/types.js';
import { type AckTarget, type LogRecord, Severity } from '../../../src/model/log.js';
import { defineMetric, type MetricPoint } from '../../../src/model/metric.js';
import { createResource, createScope } from '../../../src/model/resource.js';

export const RESOURCE = createResource({ 'host.name': 'node-1' });
export const SCOPE = createScope('sextant.test', '0.0.0');
export const CPU = defineMetric({
  name: 'system.cpu.time',
  unit: 's',
  description: '',
  kind: 'sum',
  monotonic: true,
  valueType: 'double',
});

export function metric(value: number, attributes: Record<string, string> = {}): MetricPoint {
  return { descriptor: CPU, resource: RESOURCE, scope: SCOPE, attributes, startTimeUnixNano: 1n, timeUnixNano: 2n, value };
}

export function log(body: string, ack?: AckTarget, ackToken?: number, eventName = ''): LogRecord {
  return {
    resource: RESOURCE,
    scope: SCOPE,
    timeUnixNano: 1n,
    observedTimeUnixNano: 2n,
    severityNumber: Severity.INFO,
    severityText: '',
    body,
    attributes: {},
    eventName,
    ...(ack ? { ack, ackToken } : {}),
  };
}

export function event(body: string, ack?: AckTarget, ackToken?: number): LogRecord {
  return log(body, ack, ackToken, 'k8s.event');
}

/** Records every settle call so tests can demand exactly one per token. */
export class AckRecorder implements AckTarget {
  readonly calls: [number, boolean][] = [];
  settle(token: number, ok: boolean): void {
    this.calls.push([token, ok]);
  }
  byToken(): Map<number, boolean[]> {
    const m = new Map<number, boolean[]>();
    for (const [t, ok] of this.calls) m.set(t, [...(m.get(t) ?? []), ok]);
    return m;
  }
}

export interface SentRequest {
  readonly path: OtlpSignal;
  readonly body: Uint8Array;
  readonly options: SendOptions;
  /** Decoded by the test codec: the record ids in this request. */
  readonly ids: string[];
  resolve(result: ExportResult): void;
}

export const OK: ExportResult = { kind: 'success', status: 200, rejected: 0, message: '' };
export const TOO_LARGE: ExportResult = { kind: 'too_large', status: 413, reason: 'payload too large' };
export const BAD: ExportResult = { kind: 'failure', status: 400, reason: 'bad request' };
export const UNAVAILABLE: ExportResult = { kind: 'retryable', status: 503, retryAfterMs: undefined, reason: 'unavailable' };

/**
 * An in-process transport whose requests stay pending until the test resolves them (or an
 * `auto` answer settles them at once). It honours `options.signal` like the real one.
 */
export class FakeTransport implements Transport {
  readonly sent: SentRequest[] = [];
  readonly pending = new Set<SentRequest>();
  maxConcurrent = 0;
  auto: ((req: SentRequest) => ExportResult) | undefined;
  closed = false;

  send(path: OtlpSignal, body: Uint8Array, options: SendOptions): Promise<ExportResult> {
    return new Promise<ExportResult>((resolve) => {
      const req: SentRequest = {
        path,
        body,
        options,
        ids: new TextDecoder().decode(body).split('\n'),
        resolve: (r) => {
          if (!this.pending.delete(req)) return;
          resolve(r);
        },
      };
      this.sent.push(req);
      this.pending.add(req);
      this.maxConcurrent = Math.max(this.maxConcurrent, this.pending.size);
      options.signal?.addEventListener('abort', () => req.resolve({ kind: 'retryable', status: 0, retryAfterMs: undefined, reason: 'aborted' }), { once: true });
      if (this.auto) {
        const r = this.auto(req);
        queueMicrotask(() => req.resolve(r));
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Resolves the oldest pending request. */
  answerNext(result: ExportResult): SentRequest {
    const req = this.pending.values().next().value;
    if (!req) throw new Error('no pending request');
    req.resolve(result);
    return req;
  }
}

/** A codec whose "encoding" is the records' bodies (or values) joined by newlines: readable in tests. */
export const textCodec = {
  encode(records: readonly (LogRecord | MetricPoint)[]): Uint8Array | null {
    if (records.length === 0) return null;
    return new TextEncoder().encode(records.map((r) => ('body' in r ? r.body : String(r.value))).join('\n'));
  },
};

/** Lets queued microtasks and promise chains run. */
export async function settleMicrotasks(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}
