import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { startGateway, type Gateway, type GatewayDeps } from '../../../src/gateway/gateway.js';
import { DEFAULT_GATEWAY_CONFIG, type GatewayConfig } from '../../../src/gateway/config.js';
import { silentLogger } from '../../../src/self/logger.js';
import { Registry } from '../../../src/self/registry.js';

export const TOKEN = 'dt0c01.TESTTOKEN.0123456789abcdef';

export function secret(value: string): { reveal(): string } {
  return { reveal: () => value };
}

/* The official protobufjs-generated OTLP types (from @opentelemetry/otlp-transformer 0.57.2): an
   encoder independent of our proto tree, so the tests do not check our schema against itself. */
interface RefType {
  fromObject(o: unknown): unknown;
  encode(m: unknown): { finish(): Uint8Array };
  decode(b: Uint8Array): unknown;
  toObject(m: unknown, o?: unknown): Record<string, unknown>;
}
const require = createRequire(import.meta.url);
const refRoot = createRequire(require.resolve('otlp-transformer-reference/package.json'))('./build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: Record<'metrics' | 'logs' | 'trace', { v1: Record<string, RefType> }> } };
};
const col = refRoot.opentelemetry.proto.collector;
export const Ref = {
  metrics: col.metrics.v1['ExportMetricsServiceRequest']!,
  logs: col.logs.v1['ExportLogsServiceRequest']!,
  traces: col.trace.v1['ExportTraceServiceRequest']!,
};

export function encodeRef(signal: keyof typeof Ref, obj: unknown): Buffer {
  const t = Ref[signal];
  return Buffer.from(t.encode(t.fromObject(obj)).finish());
}

export function logsRequest(bodies: string[], resourceAttrs: Record<string, string> = { 'service.name': 'test' }): unknown {
  return {
    resourceLogs: [
      {
        resource: { attributes: Object.entries(resourceAttrs).map(([key, v]) => ({ key, value: { stringValue: v } })) },
        scopeLogs: [
          {
            scope: { name: 'test-scope' },
            logRecords: bodies.map((b, i) => ({
              timeUnixNano: String(1_700_000_000_000_000_000n + BigInt(i)),
              severityNumber: 9,
              severityText: 'INFO',
              body: { stringValue: b },
              traceId: Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'),
              spanId: Buffer.from('1112131415161718', 'hex'),
            })),
          },
        ],
      },
    ],
  };
}

export function metricsRequest(names: string[]): unknown {
  return {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'host.name', value: { stringValue: 'node-1' } }] },
        scopeMetrics: [
          {
            scope: { name: 'sextant' },
            metrics: names.map((name) => ({
              name,
              unit: 'By',
              sum: {
                aggregationTemporality: 2,
                isMonotonic: true,
                dataPoints: [{ startTimeUnixNano: '1700000000000000000', timeUnixNano: '1700000060000000000', asInt: '9007199254740993' }],
              },
            })),
          },
        ],
      },
    ],
  };
}

export function tracesRequest(spanNames: string[]): unknown {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
        scopeSpans: [
          {
            scope: { name: 'tracer' },
            spans: spanNames.map((name, i) => ({
              traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'),
              spanId: Buffer.from(`eee19b7ec3c1b17${i % 10}`, 'hex'),
              parentSpanId: Buffer.from('eee19b7ec3c1b173', 'hex'),
              name,
              kind: 2,
              startTimeUnixNano: '1700000000000000000',
              endTimeUnixNano: '1700000001000000000',
              status: { code: 1 },
            })),
          },
        ],
      },
    ],
  };
}

export async function tmpDataDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'sextant-gw-'));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export function testConfig(dataDir: string, overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  return {
    ...DEFAULT_GATEWAY_CONFIG,
    listen: '127.0.0.1:0',
    tokens: [secret(TOKEN)],
    dataDir,
    shutdownTimeoutMs: 3_000,
    // These tests read what was received from the NDJSON files (off by default since the embedded store).
    ndjson: true,
    ...overrides,
  };
}

export async function start(dataDir: string, overrides: Partial<GatewayConfig> = {}, deps: Partial<GatewayDeps> = {}): Promise<{ gw: Gateway; registry: Registry }> {
  const registry = deps.registry ?? new Registry();
  const gw = await startGateway(testConfig(dataDir, overrides), { registry, logger: deps.logger ?? silentLogger(), forwarder: deps.forwarder });
  return { gw, registry };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export async function post(
  url: string,
  body: Uint8Array | string | AsyncIterable<Uint8Array>,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<Answer> {
  const res = await request(url, {
    method: method as 'POST',
    body: body as never,
    headers: { 'content-type': 'application/x-protobuf', authorization: `Api-Token ${TOKEN}`, ...headers },
  });
  const buf = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body: buf };
}

/** Every stored line of a signal, files in write order (hour, then rotation index). */
export async function readStored(dataDir: string, signal: string): Promise<{ receivedAt: string; request: Record<string, unknown> }[]> {
  const dir = path.join(dataDir, signal);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const key = (n: string): [string, number] => {
    const m = /-(\d{4}-\d{2}-\d{2}T\d{2})(?:\.(\d+))?\.ndjson$/.exec(n)!;
    return [m[1]!, m[2] === undefined ? 0 : Number(m[2])];
  };
  names = names.filter((n) => n.endsWith('.ndjson')).sort((a, b) => {
    const [ha, ia] = key(a);
    const [hb, ib] = key(b);
    return ha < hb ? -1 : ha > hb ? 1 : ia - ib;
  });
  const out = [];
  for (const n of names) {
    const lines = (await readFile(path.join(dir, n), 'utf8')).split('\n');
    // The text after the last newline is a line the store is still appending (tests poll this
    // while a gateway writes); every stored line ends with a newline once written.
    lines.pop();
    for (const line of lines) if (line) out.push(JSON.parse(line));
  }
  return out;
}
