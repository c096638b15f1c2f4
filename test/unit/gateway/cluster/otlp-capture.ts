import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeToObject, ourLogsRequest, refMetricsRequest } from '../../export/otlp-decoders.js';

/**
 * What the cluster monitor sent, decoded by protobufjs — metrics with the official generated
 * decoders (otlp-transformer-reference), logs from the .proto files — not by our hand-written
 * encoder's own reading of the format, and flattened into points and records
 * with their resource and attributes as plain values — for assertions. As an in-process output
 * (`deliver`) or as a real OTLP/HTTP receiver on loopback (`OtlpReceiver`).
 */

export type Values = Record<string, string | number | boolean | string[]>;

export interface Point {
  readonly name: string;
  readonly unit: string;
  readonly kind: 'gauge' | 'sum';
  readonly monotonic: boolean;
  readonly resource: Values;
  readonly attributes: Values;
  readonly value: number;
  readonly timeUnixNano: string;
  readonly request: number;
}

export interface LogRecordOut {
  readonly resource: Values;
  readonly attributes: Values;
  readonly body: string;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly eventName: string;
  readonly timeUnixNano: string;
  readonly scope: string;
}

function anyValue(v: Record<string, any>): string | number | boolean | string[] {
  if (v['stringValue'] !== undefined) return v['stringValue'] as string;
  if (v['intValue'] !== undefined) return Number(v['intValue']);
  if (v['doubleValue'] !== undefined) return v['doubleValue'] as number;
  if (v['boolValue'] !== undefined) return v['boolValue'] as boolean;
  if (v['arrayValue'] !== undefined) return ((v['arrayValue']['values'] ?? []) as Record<string, any>[]).map((x) => String(anyValue(x)));
  return '';
}

function values(list: Record<string, any>[] | undefined): Values {
  const out: Values = {};
  for (const kv of list ?? []) out[kv['key'] as string] = anyValue(kv['value'] ?? {});
  return out;
}

export class OtlpCapture {
  readonly points: Point[] = [];
  readonly logs: LogRecordOut[] = [];
  requests = { metrics: 0, logs: 0 };
  #listeners: Array<() => void> = [];

  add(signal: 'metrics' | 'logs', body: Uint8Array): void {
    if (signal === 'metrics') {
      const req = ++this.requests.metrics;
      const m = decodeToObject(refMetricsRequest, body);
      for (const rm of m['resourceMetrics'] ?? []) {
        const resource = values(rm['resource']?.['attributes']);
        for (const sm of rm['scopeMetrics'] ?? []) {
          for (const metric of sm['metrics'] ?? []) {
            const kind = metric['sum'] !== undefined ? 'sum' : 'gauge';
            const data = metric[kind];
            for (const dp of data['dataPoints'] ?? []) {
              const value = dp['asInt'] !== undefined ? Number(dp['asInt']) : (dp['asDouble'] as number);
              this.points.push({ name: metric['name'], unit: metric['unit'] ?? '', kind, monotonic: data['isMonotonic'] === true, resource, attributes: values(dp['attributes']), value, timeUnixNano: String(dp['timeUnixNano']), request: req });
            }
          }
        }
      }
    } else {
      this.requests.logs++;
      // protobufjs on proto/ (the reference build predates LogRecord.event_name, field 12).
      const l = decodeToObject(ourLogsRequest, body);
      for (const rl of l['resourceLogs'] ?? []) {
        const resource = values(rl['resource']?.['attributes']);
        for (const sl of rl['scopeLogs'] ?? []) {
          for (const r of sl['logRecords'] ?? []) {
            this.logs.push({
              resource,
              attributes: values(r['attributes']),
              body: String(anyValue(r['body'] ?? {})),
              severityNumber: r['severityNumber'] ?? 0,
              severityText: r['severityText'] ?? '',
              eventName: r['eventName'] ?? '',
              timeUnixNano: String(r['timeUnixNano'] ?? '0'),
              scope: sl['scope']?.['name'] ?? '',
            });
          }
        }
      }
    }
    for (const l of [...this.#listeners]) l();
  }

  /** Resolves once `check` holds after something arrived (or at once). Bounded by `ms`. */
  until<T>(check: () => T | undefined | false, ms = 20_000, what = 'OTLP data'): Promise<T> {
    const now = check();
    if (now !== undefined && now !== false) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners = this.#listeners.filter((l) => l !== listener);
        reject(new Error(`timed out waiting for ${what} (${this.points.length} points, ${this.logs.length} records so far)`));
      }, ms);
      const listener = (): void => {
        const v = check();
        if (v === undefined || v === false) return;
        clearTimeout(timer);
        this.#listeners = this.#listeners.filter((l) => l !== listener);
        resolve(v);
      };
      this.#listeners.push(listener);
    });
  }

  /** Points of `name` whose resource and attributes contain the given values; the newest request's when `latest`. */
  find(name: string, resource: Values = {}, attributes: Values = {}): Point[] {
    return this.points.filter((p) => p.name === name && contains(p.resource, resource) && contains(p.attributes, attributes));
  }

  /** The value of the newest such point; undefined when there is none. */
  latest(name: string, resource: Values = {}, attributes: Values = {}): number | undefined {
    const all = this.find(name, resource, attributes);
    return all.length === 0 ? undefined : all[all.length - 1]!.value;
  }

  events(reason?: string): LogRecordOut[] {
    return this.logs.filter((l) => l.eventName === 'k8s.event' && (reason === undefined || l.attributes['k8s.event.reason'] === reason));
  }

  /** The output interface of the cluster monitor, taking everything. */
  readonly output = { deliver: (signal: 'metrics' | 'logs', body: Uint8Array) => (this.add(signal, body), { ok: true as const }) };
}

export function contains(have: Values, want: Values): boolean {
  for (const k in want) {
    const a = have[k];
    const b = want[k];
    if (Array.isArray(b)) {
      if (!Array.isArray(a) || a.join('\u0000') !== b.join('\u0000')) return false;
    } else if (a !== b) return false;
  }
  return true;
}

/** A real OTLP/HTTP receiver (protobuf, gzip or not) on loopback: the gateway's upstream in the end-to-end tests. */
export class OtlpReceiver extends OtlpCapture {
  #server: Server | undefined;
  url = '';

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const signal = req.url?.endsWith('/v1/metrics') ? 'metrics' : req.url?.endsWith('/v1/logs') ? 'logs' : undefined;
        if (signal !== undefined) this.add(signal, body);
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.#server = server;
  }

  async close(): Promise<void> {
    const s = this.#server;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
