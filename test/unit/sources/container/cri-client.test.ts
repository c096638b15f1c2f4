/**
 * CriClient over its own gRPC transport against a stand-in CRI runtime: a real node:http2 server
 * on a unix socket that answers RuntimeService calls with protobufjs-encoded messages, and
 * misbehaves on purpose. Checks the RuntimeError reasons the metadata cache acts on. The same
 * client against the real containerd is test/integration/cri-client.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http2, { type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../../src/errors.js';
import { CriClient } from '../../../../src/sources/container/cri-client.js';
import { type CriMethod, criProto } from '../../../../src/sources/container/cri-proto.js';
import { grpcFrame } from '../../../../src/sources/container/grpc-frame.js';

const ID = 'c'.repeat(64);
const SANDBOX = 'a'.repeat(64);
const methods = criProto().methods;

type Reply = { message?: Record<string, unknown>; raw?: Buffer; status?: number; text?: string; hang?: boolean };
let replies: Partial<Record<CriMethod, Reply>> = {};
const seen: { method: string; request: Record<string, unknown> }[] = [];

const dir = mkdtempSync(join(tmpdir(), 'sextant-cri-client-'));
const sockPath = join(dir, 'cri.sock');
const sessions = new Set<ServerHttp2Session>();
const server = http2.createServer();
server.on('session', (s: ServerHttp2Session) => {
  sessions.add(s);
  s.on('close', () => sessions.delete(s));
  s.on('error', () => undefined);
});
server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
  stream.on('error', () => undefined);
  const method = String(headers[':path']).split('/').pop() as CriMethod;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => {
    const types = methods[method];
    const body = Buffer.concat(chunks);
    if (types !== undefined) seen.push({ method, request: types.request.toObject(types.request.decode(body.subarray(5))) });
    const reply = replies[method];
    if (reply === undefined || types === undefined) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': `unknown method ${method}` }, { endStream: true });
      return;
    }
    if (reply.hang === true) return;
    if (reply.status !== undefined && reply.status !== 0) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(reply.status), 'grpc-message': encodeURIComponent(reply.text ?? '') }, { endStream: true });
      return;
    }
    const payload = reply.raw ?? grpcFrame(types.response.encode(types.response.fromObject(reply.message ?? {})).finish());
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(payload);
  });
});

const clients: CriClient[] = [];
function client(opts: { path?: string; callTimeoutMs?: number; runtime?: 'containerd' | 'cri-o' } = {}): CriClient {
  const c = new CriClient({ socketPath: opts.path ?? sockPath, ...(opts.runtime === undefined ? {} : { runtime: opts.runtime }), ...(opts.callTimeoutMs === undefined ? {} : { callTimeoutMs: opts.callTimeoutMs }) });
  clients.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<RuntimeError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeError);
    return err as RuntimeError;
  }
  throw new Error('expected the call to fail');
}

const container = {
  id: ID,
  podSandboxId: SANDBOX,
  metadata: { name: 'app', attempt: 2 },
  image: { image: 'docker.io/library/nginx:1.27' },
  imageRef: `sha256:${'e'.repeat(64)}`,
  state: 'CONTAINER_RUNNING',
  createdAt: '1795602164000000000',
  labels: { 'io.kubernetes.container.name': 'app' },
};

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(sockPath, resolve));
});

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  replies = {};
  seen.length = 0;
});

afterAll(async () => {
  for (const s of sessions) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('CriClient over node:http2', () => {
  it('asks Version, then lists over the same connection', async () => {
    replies = {
      Version: { message: { version: '0.1.0', runtimeName: 'cri-o', runtimeVersion: '1.30.0', runtimeApiVersion: 'v1' } },
      ListPodSandbox: { message: { items: [] } },
      ListContainers: { message: { containers: [container] } },
      ContainerStatus: { message: { status: { id: ID, metadata: { name: 'app', attempt: 2 }, state: 'CONTAINER_RUNNING', createdAt: '1795602164000000000', startedAt: '1795602165000000000' }, info: { info: JSON.stringify({ pid: 4242 }) } } },
    };
    const c = client();
    const list = await c.list(AbortSignal.timeout(5000));
    expect(c.runtime).toBe('cri-o');
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: ID, runtime: 'cri-o', name: 'app', state: 'running', restartCount: 2, pid: 4242, imageName: 'docker.io/library/nginx', imageTags: ['1.27'] });
    expect(seen.map((s) => s.method).sort()).toEqual(['ContainerStatus', 'ListContainers', 'ListPodSandbox', 'Version']);
    expect(seen.find((s) => s.method === 'ContainerStatus')?.request).toEqual({ containerId: ID, verbose: true });
    // A steady node: the two list calls, nothing else.
    seen.length = 0;
    await c.list(AbortSignal.timeout(5000));
    expect(seen.map((s) => s.method).sort()).toEqual(['ListContainers', 'ListPodSandbox']);
    expect(sessions.size).toBe(1);
  });

  it("inspect(): undefined when ContainerStatus says NOT_FOUND (the container went meanwhile)", async () => {
    replies = { ListContainers: { message: { containers: [container] } }, ContainerStatus: { status: 5, text: `container "${ID}" not found` } };
    expect(await client({ runtime: 'containerd' }).inspect(ID, AbortSignal.timeout(5000))).toBeUndefined();
  });

  it("'failed' for an error status (the status name and message quoted, cut short), 'protocol' for answers not in gRPC's or the API's shape", async () => {
    const c = client({ runtime: 'containerd' });
    replies = { ListPodSandbox: { status: 13, text: `boom ${'z'.repeat(5000)}` } };
    const failed = await failure(c.call('ListPodSandbox', {}, AbortSignal.timeout(5000)));
    expect(failed.reason).toBe('failed');
    expect(failed.message).toContain('INTERNAL (boom');
    expect(failed.message.length).toBeLessThan(400);
    const unimplemented = await failure(c.call('ListContainers', {}, AbortSignal.timeout(5000)));
    expect(unimplemented.reason).toBe('failed');
    expect(unimplemented.message).toContain('UNIMPLEMENTED');

    // Field 1 with a length past the end: not a ListPodSandboxResponse.
    replies = { ListPodSandbox: { raw: grpcFrame(Buffer.from([0x0a, 0x7f, 0x01])) } };
    expect((await failure(c.call('ListPodSandbox', {}, AbortSignal.timeout(5000)))).reason).toBe('protocol');
    // A compressed frame nobody asked for, and a frame cut short.
    replies = { ListPodSandbox: { raw: Buffer.from([1, 0, 0, 0, 1, 0]) } };
    expect((await failure(c.call('ListPodSandbox', {}, AbortSignal.timeout(5000)))).reason).toBe('protocol');
    replies = { ListPodSandbox: { raw: Buffer.from([0, 0, 0, 0, 9, 1, 2]) } };
    expect((await failure(c.call('ListPodSandbox', {}, AbortSignal.timeout(5000)))).reason).toBe('protocol');
    expect(c.failures).toMatchObject({ failed: 2, protocol: 3 });
  });

  it("'timeout' by the caller's signal or by callTimeoutMs; 'absent' without a socket; 'unavailable' once closed", async () => {
    replies = { ListPodSandbox: { hang: true }, ListContainers: { hang: true } };
    const c = client({ runtime: 'containerd' });
    let t0 = performance.now();
    expect((await failure(c.list(AbortSignal.timeout(200)))).reason).toBe('timeout');
    expect(performance.now() - t0).toBeLessThan(1500);
    const short = client({ runtime: 'containerd', callTimeoutMs: 200 });
    t0 = performance.now();
    expect((await failure(short.list(new AbortController().signal))).reason).toBe('timeout');
    expect(performance.now() - t0).toBeLessThan(1500);
    const absent = client({ path: join(dir, 'missing.sock') });
    expect((await failure(absent.list(AbortSignal.timeout(1000)))).reason).toBe('absent');
    expect(absent.calls).toBe(0);
    c.close();
    expect((await failure(c.list(AbortSignal.timeout(1000)))).reason).toBe('unavailable');
  });
});
