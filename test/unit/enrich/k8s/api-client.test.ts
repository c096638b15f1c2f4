import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiClient } from '../../../../src/enrich/k8s/api-client.js';
import { KubeApiError } from '../../../../src/enrich/k8s/kube-error.js';
import { TokenSource } from '../../../../src/enrich/k8s/token-source.js';
import { FakeApiServer, fixture, fixtureJson, json, selfSignedCert } from './fake-api-server.js';

const TOKEN_A = 'eyJhbGciOiJSUzI1NiIsImtpZCI6InRva2VuLWEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2V4dGFudDpzZXh0YW50In0.c2lnbmF0dXJlLWE';
const TOKEN_B = 'eyJhbGciOiJSUzI1NiIsImtpZCI6InRva2VuLWIifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2V4dGFudDpzZXh0YW50In0.c2lnbmF0dXJlLWI';

const tls = selfSignedCert();
const server = new FakeApiServer(tls);
const dir = mkdtempSync(join(tmpdir(), 'sextant-k8s-client-'));
const tokenFile = join(dir, 'token');
const clients: KubeApiClient[] = [];

beforeAll(async () => {
  await server.listen();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function client(o: { ca?: string | undefined; maxResponseBytes?: number; token?: TokenSource } = {}): KubeApiClient {
  const c = new KubeApiClient({
    server: server.url,
    ca: 'ca' in o ? o.ca : tls.cert,
    token: o.token ?? new TokenSource(tokenFile),
    requestTimeoutMs: 5000,
    maxResponseBytes: o.maxResponseBytes ?? 1024 * 1024,
    userAgent: 'sextant/test',
  });
  clients.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<KubeApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(KubeApiError);
    const e = err as KubeApiError;
    expect(e.code).toBe('SEXTANT_ERR_KUBE_API');
    expect(e.message).not.toContain(TOKEN_A.slice(10, 40));
    expect(e.message).not.toContain(TOKEN_B.slice(10, 40));
    return e;
  }
  throw new Error('expected a KubeApiError');
}

describe('Kubernetes API client', () => {
  it('GETs JSON with the bearer token over TLS verified against the given CA', async () => {
    writeFileSync(tokenFile, `${TOKEN_A}\n`);
    server.handle = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(fixture('replicaset-checkout.json'));
    const obj = (await client().get('/apis/apps/v1/namespaces/shop/replicasets/checkout-7d9f8b6c5d')) as { kind: string };
    expect(obj.kind).toBe('ReplicaSet');
    const seen = server.requests.at(-1)!;
    expect(seen.authorization).toBe(`Bearer ${TOKEN_A}`);
  });

  it('reads the token file again when it is replaced (bound tokens rotate), as the kubelet does it', async () => {
    writeFileSync(tokenFile, TOKEN_A);
    server.handle = (_req, res) => json(res, 200, fixtureJson('job-migrate-db.json'));
    const c = client();
    await c.get('/apis/batch/v1/namespaces/shop/jobs/migrate-db');
    expect(server.requests.at(-1)!.authorization).toBe(`Bearer ${TOKEN_A}`);
    // The kubelet writes the new token beside the old one and swaps it in atomically.
    writeFileSync(`${tokenFile}.new`, TOKEN_B);
    renameSync(`${tokenFile}.new`, tokenFile);
    await c.get('/apis/batch/v1/namespaces/shop/jobs/migrate-db');
    expect(server.requests.at(-1)!.authorization).toBe(`Bearer ${TOKEN_B}`);
  });

  it('on 401 reads the token again and retries once, then reports unauthorized', async () => {
    writeFileSync(tokenFile, TOKEN_A);
    const c = client();
    await c.get('/x').catch(() => undefined); // token A cached
    // The file changes without its stamp changing is impossible to see; a 401 forces the read.
    server.handle = (req, res) => (req.authorization === `Bearer ${TOKEN_A}` ? json(res, 401, fixtureJson('status-401.json')) : json(res, 200, { kind: 'Status', code: 200 }));
    writeFileSync(`${tokenFile}.new`, TOKEN_B);
    renameSync(`${tokenFile}.new`, tokenFile);
    await expect(c.get('/api/v1/namespaces')).resolves.toBeDefined();

    server.handle = (_req, res) => json(res, 401, fixtureJson('status-401.json'));
    const before = server.requests.length;
    const e = await failure(c.get('/api/v1/namespaces'));
    expect(e.reason).toBe('unauthorized');
    expect(server.requests.length - before).toBe(2);
  });

  it('turns a 403 Status into a forbidden error carrying the server message, not the token', async () => {
    writeFileSync(tokenFile, TOKEN_A);
    server.handle = (_req, res) => json(res, 403, fixtureJson('status-403-pods.json'));
    const e = await failure(client().get('/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&limit=500'));
    expect(e.reason).toBe('forbidden');
    expect(e.status).toBe(403);
    expect(e.message).toContain('cannot list resource "pods"');
    expect(e.message).not.toContain('fieldSelector');
  });

  it('maps 410, 404, 503 and unknown statuses', async () => {
    writeFileSync(tokenFile, TOKEN_A);
    const c = client();
    for (const [status, file, reason] of [
      [410, 'status-410-expired.json', 'gone'],
      [404, 'status-404-replicaset.json', 'not-found'],
      [503, 'status-503.json', 'unavailable'],
      [418, 'status-503.json', 'failed'],
    ] as const) {
      server.handle = (_req, res) => json(res, status, fixtureJson(file));
      expect((await failure(c.get('/api/v1/pods'))).reason).toBe(reason);
    }
    // An error body that is not a Status (a proxy's HTML page) still gives the status.
    server.handle = (_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>');
    const e = await failure(c.get('/api/v1/pods'));
    expect(e.reason).toBe('unavailable');
    expect(e.message).toContain('502');
  });

  it('refuses a body over the size cap, a body that is not JSON, and one that is not UTF-8', async () => {
    writeFileSync(tokenFile, TOKEN_A);
    server.handle = (_req, res) => res.writeHead(200).end(fixture('pod-list.json'));
    expect((await failure(client({ maxResponseBytes: 4096 }).get('/api/v1/pods'))).reason).toBe('too-large');
    server.handle = (_req, res) => res.writeHead(200).end('{"kind":"PodList","items":[');
    expect((await failure(client().get('/api/v1/pods'))).reason).toBe('protocol');
    server.handle = (_req, res) => res.writeHead(200).end(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]));
    expect((await failure(client().get('/api/v1/pods'))).reason).toBe('protocol');
  });

  it('fails a server whose certificate the CA does not sign, and a server that is not there', async () => {
    writeFileSync(tokenFile, TOKEN_A);
    const other = selfSignedCert();
    const e = await failure(client({ ca: other.cert }).get('/api/v1/pods'));
    expect(e.reason).toBe('unavailable');
    const gone = new KubeApiClient({ server: 'https://127.0.0.1:1', ca: tls.cert, requestTimeoutMs: 2000, maxResponseBytes: 1024, userAgent: 't' });
    clients.push(gone);
    expect((await failure(gone.get('/api/v1/pods'))).reason).toBe('unavailable');
  });

  it('a missing or empty token file is a config error naming neither the token nor its contents', async () => {
    const missing = client({ token: new TokenSource(join(dir, 'absent')) });
    const e = await failure(missing.get('/api/v1/pods'));
    expect(e.reason).toBe('config');
    expect(e.message).toContain('no such file');
    writeFileSync(join(dir, 'bad'), 'not a token with spaces');
    const e2 = await failure(client({ token: new TokenSource(join(dir, 'bad')) }).get('/api/v1/pods'));
    expect(e2.message).not.toContain('spaces');
  });

  it('the token never shows in how a TokenSource prints', async () => {
    writeFileSync(tokenFile, TOKEN_A);
    const t = new TokenSource(tokenFile);
    const s = await t.current();
    expect(String(s)).toBe('[redacted]');
    expect(JSON.stringify({ s })).not.toContain(TOKEN_A);
  });
});
