import { credentials, makeGenericClientConstructor, Metadata, type ServiceError } from '@grpc/grpc-js';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PodMetadata, PodMetadataLookup } from '../../src/enrich/k8s/pod-metadata-index.js';
import type { ExportResult, OtlpSignal, SendOptions, Transport } from '../../src/export/types.js';
import { JsPeerCredentials, loadPeerCredentials } from '../../src/native/peer-credentials.js';
import { createPipeline, DEFAULT_PIPELINE_CONFIG, type Pipeline } from '../../src/pipeline/pipeline.js';
import { networkList } from '../../src/receiver/config.js';
import { type Listeners, startListeners } from '../../src/receiver/listeners.js';
import { OtlpReceiver } from '../../src/receiver/otlp-receiver.js';
import { ReceiverMetrics } from '../../src/receiver/receiver-metrics.js';
import { SenderIdentifier } from '../../src/receiver/sender-identity.js';
import { silentLogger } from '../../src/self/logger.js';
import { Registry } from '../../src/self/registry.js';
import { createPodNetns, netnsUnavailable, type PodNetns, runIn } from '../helpers/pod-netns.js';
import { encodeRef, logsRequest, metricsRequest, post, Ref, tracesRequest } from '../unit/gateway/helpers.js';

/**
 * The receiver's three listeners with the real pipeline behind them, on loopback (and, where a
 * network namespace can be made, from a "pod" address): the gateway's bad-input cases, who may
 * send, the three ways a sender is identified, and a full ring answered 503 / UNAVAILABLE with
 * recovery and nothing lost that was accepted.
 */

const UID = '6a1c2b7e-1111-4a5b-9c8d-0123456789ab';
const POD_ATTRS = { 'k8s.pod.uid': UID, 'k8s.pod.name': 'checkout-7d9c-abcde', 'k8s.namespace.name': 'shop', 'k8s.deployment.name': 'checkout', 'k8s.node.name': 'node-1', 'dt.cost.costcenter': 'cc-42' };

class FakePods implements PodMetadataLookup {
  version = 1;
  ips = new Map<string, string>();
  readonly pod: PodMetadata = { attributes: POD_ATTRS, version: 1, containers: [{ name: 'app', id: 'c0ffee'.repeat(10) + 'c0ff', restartCount: 2 }], hostNetwork: false };
  byUid(uid: string) {
    return uid === UID ? this.pod : undefined;
  }
  byName() {
    return undefined;
  }
  byIp(ip: string) {
    return this.ips.get(ip) === UID ? this.pod : undefined;
  }
  isPodAddress(ip: string) {
    return this.ips.has(ip);
  }
  byContainerId() {
    return undefined;
  }
  onChange() {}
}

/** A transport that records every request and can be held (a slow endpoint). */
class HeldTransport implements Transport {
  readonly bodies: { signal: OtlpSignal; body: Uint8Array }[] = [];
  #hold: Promise<void> | undefined;
  #release: (() => void) | undefined;
  hold(): void {
    this.#hold = new Promise((r) => (this.#release = r));
  }
  release(): void {
    this.#release?.();
    this.#hold = undefined;
  }
  async send(signal: OtlpSignal, body: Uint8Array, _o: SendOptions): Promise<ExportResult> {
    if (this.#hold) await this.#hold;
    this.bodies.push({ signal, body: Buffer.from(body) });
    return { kind: 'success', status: 200, rejected: 0, message: '' };
  }
  async close() {}
}

function spanNames(bodies: HeldTransport['bodies']): string[] {
  const out: string[] = [];
  for (const b of bodies) {
    if (b.signal !== 'traces') continue;
    const req = Ref.traces.toObject(Ref.traces.decode(b.body)) as any;
    for (const rs of req.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) out.push(s.name);
  }
  return out;
}

function resourceOf(bodies: HeldTransport['bodies'], spanName: string): Record<string, unknown> | undefined {
  for (const b of bodies) {
    if (b.signal !== 'traces') continue;
    const req = Ref.traces.toObject(Ref.traces.decode(b.body), { longs: String }) as any;
    for (const rs of req.resourceSpans ?? []) {
      if ((rs.scopeSpans ?? []).some((ss: any) => (ss.spans ?? []).some((s: any) => s.name === spanName))) {
        return Object.fromEntries(rs.resource.attributes.map((a: any) => [a.key, Object.values(a.value)[0]]));
      }
    }
  }
  return undefined;
}

async function until(fn: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const TraceClient = makeGenericClientConstructor(
  {
    Export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  },
  'TraceService',
);

function grpcExport(target: string, body: Buffer): Promise<ServiceError | null> {
  const client = new TraceClient(target, credentials.createInsecure()) as unknown as { Export(req: Buffer, md: Metadata, cb: (err: ServiceError | null) => void): void; close(): void };
  return new Promise((resolve) =>
    client.Export(body, new Metadata(), (err) => {
      client.close();
      resolve(err);
    }),
  );
}

describe('the receiver over HTTP, gRPC and the unix socket', () => {
  let dir: string;
  let listeners: Listeners;
  let pipeline: Pipeline;
  let registry: Registry;
  const transport = new HeldTransport();
  const pods = new FakePods();
  let http: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sx-recv-'));
    registry = new Registry();
    pipeline = createPipeline(
      {
        ...DEFAULT_PIPELINE_CONFIG,
        queues: { ...DEFAULT_PIPELINE_CONFIG.queues, traces: { maxItems: 8, maxBytes: 64 * 1024 } },
        batches: { ...DEFAULT_PIPELINE_CONFIG.batches, traces: { maxItems: 4, maxBytes: 32 * 1024, lingerMs: 5, maxRequestBytes: 2_000_000 } },
        maxInFlight: 1,
      },
      { transport, codecs: { metrics: { encode: () => null }, logs: { encode: () => null }, events: { encode: () => null } }, registry, logger: silentLogger(), exportTimeoutMs: 5_000 },
    );
    pipeline.start();
    const identify = new SenderIdentifier('/', pods);
    const receiver = new OtlpReceiver(
      pipeline,
      identify,
      new ReceiverMetrics(registry),
      { allowNetworks: networkList([]), retryAfterSeconds: 3, hostAttributes: { 'host.name': 'node-1', 'host.id': 'h-1' }, nodeName: 'node-1' },
      silentLogger(),
    );
    listeners = await startListeners(
      receiver,
      { httpListen: { host: '0.0.0.0', port: 0 }, grpcListen: { host: '0.0.0.0', port: 0 }, socket: path.join(dir, 'otlp.sock'), maxRequestBytes: 1024 * 1024, maxDecompressedBytes: 2 * 1024 * 1024 },
      loadPeerCredentials({ native: true, logger: silentLogger() }),
    );
    http = `http://127.0.0.1:${listeners.httpAddress.split(':').at(-1)}`;
  });

  afterAll(async () => {
    await listeners?.close();
    pipeline?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const counter = (name: string, labels: Record<string, string>): number => {
    const text = registry.render();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };

  it('answers the gateway\'s bad input as the gateway does, and keeps serving', async () => {
    const good = encodeRef('traces', tracesRequest(['ok']));
    expect((await post(`${http}/v1/traces`, good)).status).toBe(200);
    expect((await post(`${http}/api/v2/otlp/v1/traces`, good)).status).toBe(200);
    expect((await post(`${http}/v1/profiles`, good)).status).toBe(404);
    expect((await post(`${http}/v1/traces`, good, {}, 'PUT')).status).toBe(405);
    expect((await post(`${http}/v1/traces`, good, { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post(`${http}/v1/traces`, good, { 'content-encoding': 'br' })).status).toBe(415);
    expect((await post(`${http}/v1/traces`, good, { 'content-encoding': 'gzip' })).status).toBe(400);
    const truncated = await post(`${http}/v1/traces`, good.subarray(0, good.length - 3));
    expect(truncated.status).toBe(400);
    expect(truncated.body[0]).toBe(0x08);
    expect(truncated.body.toString('latin1')).toContain('invalid protobuf');
    for (const signal of ['traces', 'metrics', 'logs']) {
      const random = Buffer.alloc(4096);
      for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
      expect((await post(`${http}/v1/${signal}`, random)).status, signal).toBe(400);
    }
    for (const text of ['{', '[]', 'null', '{"resourceLogs": 5}']) expect((await post(`${http}/v1/logs`, text, { 'content-type': 'application/json' })).status, text).toBe(400);
    expect((await post(`${http}/v1/traces`, '', { 'content-type': 'application/json' })).body.toString()).toBe('{}');
    expect((await post(`${http}/v1/traces`, Buffer.alloc(2 * 1024 * 1024))).status).toBe(413);
    // A gzip bomb: 64 MiB of zeros in ~64 KiB; refused at 2 MiB of output.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const t0 = Date.now();
    expect((await post(`${http}/v1/traces`, bomb, { 'content-encoding': 'gzip' })).status).toBe(413);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await grpcExport(listeners.grpcAddress.replace('0.0.0.0', '127.0.0.1'), Buffer.from([0xff, 0xff, 0xff]))).toMatchObject({ code: 3 });
    expect(await grpcExport(listeners.grpcAddress.replace('0.0.0.0', '127.0.0.1'), good)).toBeNull();
    expect(counter('sextant_receiver_requests_total', { signal: 'traces', transport: 'http', result: 'bad_request' })).toBeGreaterThanOrEqual(3);
    expect(counter('sextant_receiver_requests_total', { signal: 'traces', transport: 'http', result: 'too_large' })).toBe(2);
    await until(() => spanNames(transport.bodies).filter((n) => n === 'ok').length === 3);
  });

  it('serves OTLP/HTTP and OTLP/gRPC on the unix socket and knows the sender by its credentials', async () => {
    const body = encodeRef('traces', tracesRequest(['over-socket']));
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ socketPath: listeners.socketPath, path: '/v1/traces', method: 'POST', headers: { 'content-type': 'application/x-protobuf' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(200);
    expect(await grpcExport(`unix://${listeners.socketPath}`, encodeRef('traces', tracesRequest(['over-socket-grpc'])))).toBeNull();
    await until(() => spanNames(transport.bodies).includes('over-socket-grpc') && spanNames(transport.bodies).includes('over-socket'));
    // This test's process is in no container: its credentials prove no pod (identified_by none), and
    // the JS fallback, which cannot read them, answers EOPNOTSUPP.
    expect(new JsPeerCredentials().read(0, new Int32Array(3))).toBe(-95);
    expect(counter('sextant_receiver_requests_total', { signal: 'traces', transport: 'socket', result: 'accepted' })).toBe(2);
    expect(resourceOf(transport.bodies, 'over-socket')).toMatchObject({ 'host.name': 'node-1', 'service.name': 'svc' });
  });

  it('identifies a sender by the k8s.pod.uid it sets, adding what it did not set and keeping what it did', async () => {
    const req = tracesRequest(['by-resource']) as any;
    req.resourceSpans[0].resource.attributes.push({ key: 'k8s.pod.uid', value: { stringValue: UID } }, { key: 'k8s.container.name', value: { stringValue: 'app' } }, { key: 'dt.cost.costcenter', value: { stringValue: 'own' } });
    expect((await post(`${http}/v1/traces`, encodeRef('traces', req))).status).toBe(200);
    await until(() => spanNames(transport.bodies).includes('by-resource'));
    expect(resourceOf(transport.bodies, 'by-resource')).toEqual({
      'service.name': 'svc',
      'k8s.pod.uid': UID,
      'k8s.container.name': 'app',
      // The sender's own value wins: a claimed identity proves nothing.
      'dt.cost.costcenter': 'own',
      'host.name': 'node-1',
      'host.id': 'h-1',
      'k8s.pod.name': 'checkout-7d9c-abcde',
      'k8s.namespace.name': 'shop',
      'k8s.deployment.name': 'checkout',
      'k8s.node.name': 'node-1',
      'container.id': 'c0ffee'.repeat(10) + 'c0ff',
      'k8s.container.restart_count': '2',
    });
    expect(counter('sextant_receiver_resources_total', { signal: 'traces', identified_by: 'resource' })).toBe(1);
  });

  it('answers 503 with Retry-After (gRPC UNAVAILABLE) while the ring is full, then recovers; nothing accepted is lost', async () => {
    transport.hold();
    const accepted: string[] = [];
    let refusedHttp: { status: number; retryAfter: unknown } | undefined;
    for (let i = 0; i < 40 && refusedHttp === undefined; i++) {
      const name = `held-${i}`;
      const r = await post(`${http}/v1/traces`, encodeRef('traces', tracesRequest([name, `${name}b`])));
      if (r.status === 200) accepted.push(name, `${name}b`);
      else refusedHttp = { status: r.status, retryAfter: r.headers['retry-after'] };
    }
    expect(refusedHttp).toEqual({ status: 503, retryAfter: '3' });
    const refusedGrpc = await grpcExport(listeners.grpcAddress.replace('0.0.0.0', '127.0.0.1'), encodeRef('traces', tracesRequest(['held-grpc'])));
    expect(refusedGrpc).toMatchObject({ code: 14 });
    expect(counter('sextant_receiver_requests_total', { signal: 'traces', transport: 'http', result: 'unavailable' })).toBeGreaterThanOrEqual(1);
    transport.release();
    // Recovery: the ring drains and the same request is taken again.
    await until(() => pipeline.stats().signals.traces.items === 0);
    expect((await post(`${http}/v1/traces`, encodeRef('traces', tracesRequest(['after'])))).status).toBe(200);
    await until(() => spanNames(transport.bodies).includes('after'));
    const delivered = new Set(spanNames(transport.bodies));
    expect(accepted.filter((n) => !delivered.has(n))).toEqual([]);
    expect(delivered.has('held-grpc')).toBe(false);
    expect(counter('sextant_receiver_delivered_items_total', { signal: 'traces', outcome: 'lost' })).toBe(0);
  });

  it('takes metrics and logs on their own lanes to their own paths', async () => {
    expect((await post(`${http}/v1/metrics`, encodeRef('metrics', metricsRequest(['app.requests'])))).status).toBe(200);
    expect((await post(`${http}/v1/logs`, encodeRef('logs', logsRequest(['app log line'])))).status).toBe(200);
    await until(() => transport.bodies.some((b) => b.signal === 'metrics') && transport.bodies.some((b) => b.signal === 'logs'));
    const m = Ref.metrics.toObject(Ref.metrics.decode(transport.bodies.find((b) => b.signal === 'metrics')!.body)) as any;
    expect(m.resourceMetrics[0].scopeMetrics[0].metrics[0].name).toBe('app.requests');
    expect(counter('sextant_receiver_items_total', { signal: 'logs' })).toBe(1);
  });

  const noNetns = netnsUnavailable();
  describe.skipIf(noNetns !== undefined)('from a pod network namespace (198.18.0.0/15 veth)', () => {
    let ns: PodNetns;
    beforeAll(() => {
      ns = createPodNetns();
    });
    afterAll(() => ns?.remove());

    const send = (name: string) => {
      const port = listeners.httpAddress.split(':').at(-1);
      const body = encodeRef('traces', tracesRequest([name])).toString('base64');
      const script = `fetch('http://${ns.hostIp}:${port}/v1/traces',{method:'POST',headers:{'content-type':'application/x-protobuf'},body:Buffer.from('${body}','base64')}).then(r=>console.log(r.status),e=>{console.log('ERR',e.message);process.exit(1)})`;
      return runIn(ns, [process.execPath, '-e', script]);
    };

    it('refuses a sender that is not a pod of this node (403, counted)', async () => {
      const before = counter('sextant_receiver_requests_total', { signal: 'traces', transport: 'http', result: 'forbidden' });
      const r = await send('stranger');
      expect(r.stdout.trim(), r.stderr).toBe('403');
      expect(counter('sextant_receiver_requests_total', { signal: 'traces', transport: 'http', result: 'forbidden' })).toBe(before + 1);
    });

    it('identifies a pod by its address and proves its pod identity over what it claims', async () => {
      pods.ips.set(ns.podIp, UID);
      const r = await send('by-peer');
      expect(r.stdout.trim(), r.stderr).toBe('200');
      await until(() => spanNames(transport.bodies).includes('by-peer'));
      expect(resourceOf(transport.bodies, 'by-peer')).toMatchObject({ 'k8s.pod.uid': UID, 'k8s.deployment.name': 'checkout', 'host.name': 'node-1', 'dt.cost.costcenter': 'cc-42' });
      expect(counter('sextant_receiver_resources_total', { signal: 'traces', identified_by: 'peer' })).toBe(1);
      pods.ips.delete(ns.podIp);
    });
  });
});
