import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { HttpTransport, type HttpTransportOptions, parseRetryAfter } from '../../../src/export/http-transport.js';
import { silentLogger } from '../../../src/self/logger.js';
import { type Cert, type TestServer, captureLogger, makeCert, startHttpsServer, startProxy, startServer } from './http-server.js';
import { ourLogsResponse, ourMetricsResponse } from './otlp-decoders.js';

const TOKEN = 'dt0c01.SECRETSECRETSECRET';
const BODY = new Uint8Array([0x0a, 0x03, 1, 2, 3]);
const SEND = { timeoutMs: 5_000 };

const PROXY_ENV = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];
const savedEnv: Record<string, string | undefined> = {};

let server: TestServer;
const transports: HttpTransport[] = [];

function transport(overrides: Partial<HttpTransportOptions> = {}): HttpTransport {
  const t = new HttpTransport({
    endpoint: server.url,
    headers: { 'X-Extra': 'yes' },
    apiToken: { reveal: () => TOKEN },
    compression: 'gzip',
    userAgent: 'sextant/0.1.0 test',
    logger: silentLogger(),
    ...overrides,
  });
  transports.push(t);
  return t;
}

beforeAll(async () => {
  // The tests decide where requests go; a proxy in the developer's environment must not.
  for (const k of PROXY_ENV) {
    savedEnv[k] = process.env[k];
    delete process.env[k];
  }
  server = await startServer();
});

afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  server.requests.length = 0;
  server.handler = (_q, res) => res.end();
});

afterAll(async () => {
  await server.close();
  for (const k of PROXY_ENV) if (savedEnv[k] !== undefined) process.env[k] = savedEnv[k];
});

describe('HttpTransport requests', () => {
  test('posts gzip protobuf to /v1/<signal> with Api-Token, user agent and extra headers', async () => {
    const result = await transport().send('logs', BODY, SEND);
    expect(result).toEqual({ kind: 'success', status: 200, rejected: 0, message: '' });
    const [req] = server.requests;
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe('/v1/logs');
    expect(req!.headers['content-type']).toBe('application/x-protobuf');
    expect(req!.headers['content-encoding']).toBe('gzip');
    expect(req!.headers.authorization).toBe(`Api-Token ${TOKEN}`);
    expect(req!.headers['user-agent']).toBe('sextant/0.1.0 test');
    expect(req!.headers['x-extra']).toBe('yes');
    expect(req!.body[0]).toBe(0x1f);
    expect(req!.body[1]).toBe(0x8b);
    expect(new Uint8Array(gunzipSync(req!.body))).toEqual(BODY);
  });

  test('compression none sends the bytes as they are; no token, no Authorization', async () => {
    await transport({ compression: 'none', apiToken: undefined }).send('metrics', BODY, SEND);
    const [req] = server.requests;
    expect(req!.url).toBe('/v1/metrics');
    expect(req!.headers['content-encoding']).toBeUndefined();
    expect(req!.headers.authorization).toBeUndefined();
    expect(new Uint8Array(req!.body)).toEqual(BODY);
  });

  test('endpoint with a base path and trailing slash', async () => {
    const t = transport({ endpoint: `${server.url}/api/v2/otlp/` });
    await t.send('traces', BODY, SEND);
    await t.send('logs', BODY, SEND);
    expect(server.requests.map((r) => r.url)).toEqual(['/api/v2/otlp/v1/traces', '/api/v2/otlp/v1/logs']);
  });

  test('keeps the connection alive across requests', async () => {
    const ports = new Set<number>();
    server.handler = (_q, res, raw) => {
      ports.add(raw.socket.remotePort ?? 0);
      res.end();
    };
    const t = transport();
    // A new body per request, as the pipeline sends (the same body object comes back only as a
    // retry, after a backoff wait, and skips compression: sent back to back it could beat
    // undici's return of the socket to the pool).
    for (let i = 0; i < 5; i++) await t.send('logs', new Uint8Array(BODY), SEND);
    expect(ports.size).toBe(1);
  });

  test('bad options are ConfigErrors naming the key the user set', () => {
    expect(() => transport({ endpoint: 'not a url' })).toThrow(ConfigError);
    expect(() => transport({ endpoint: 'ftp://x/' })).toThrow(/^endpoint: /);
    // The gateway's upstream transport says which key its endpoint came from.
    expect(() => transport({ endpoint: 'ftp://x/', endpointKey: 'gateway.upstream' })).toThrow(/^gateway\.upstream: /);
    expect(() => transport({ caFile: '/nonexistent/ca.pem' })).toThrow(/^tls\.caFile: /);
    expect(() => transport({ proxy: '::nope' })).toThrow(/^proxy: /);
    // No setting reaches the gzip level: a bad one is a bug (RangeError), not a config error.
    expect(() => transport({ gzipLevel: 12 })).toThrow(RangeError);
    expect(() => transport({ gzipLevel: 12 })).toThrow(/gzipLevel/);
  });
});

describe('HttpTransport status classes', () => {
  function reply(status: number, headers: Record<string, string> = {}, body: string | Uint8Array = ''): void {
    server.handler = (_q, res) => {
      res.writeHead(status, headers);
      res.end(body);
    };
  }

  test('2xx with an OTLP partial success', async () => {
    const body = ourLogsResponse.encode({ partialSuccess: { rejectedLogRecords: 7, errorMessage: 'too old' } }).finish();
    reply(200, { 'content-type': 'application/x-protobuf' }, body);
    expect(await transport().send('logs', BODY, SEND)).toEqual({ kind: 'success', status: 200, rejected: 7, message: 'too old' });
    const mbody = ourMetricsResponse.encode({ partialSuccess: { rejectedDataPoints: 3, errorMessage: '' } }).finish();
    reply(200, {}, mbody);
    expect(await transport().send('metrics', BODY, SEND)).toMatchObject({ kind: 'success', rejected: 3 });
  });

  test('2xx with a JSON partial success', async () => {
    reply(200, { 'content-type': 'application/json' }, JSON.stringify({ partialSuccess: { rejectedLogRecords: '4', errorMessage: 'dup' } }));
    expect(await transport().send('logs', BODY, SEND)).toEqual({ kind: 'success', status: 200, rejected: 4, message: 'dup' });
  });

  test('2xx with an empty, garbage or truncated body is a plain success', async () => {
    for (const body of [new Uint8Array(0), Buffer.from('<html>ok</html>'), new Uint8Array([0x0a, 0x10, 0x08]), new Uint8Array([0xff, 0xff, 0xff])]) {
      reply(200, {}, body);
      expect(await transport().send('logs', BODY, SEND)).toEqual({ kind: 'success', status: 200, rejected: 0, message: '' });
    }
    reply(202, { 'content-type': 'application/json' }, '{not json');
    expect(await transport().send('logs', BODY, SEND)).toMatchObject({ kind: 'success', status: 202, rejected: 0 });
    reply(204);
    expect(await transport().send('logs', BODY, SEND)).toMatchObject({ kind: 'success', status: 204 });
  });

  test.each([429, 502, 503, 504])('%i is retryable', async (status) => {
    reply(status, {}, 'busy');
    expect(await transport().send('logs', BODY, SEND)).toEqual({ kind: 'retryable', status, retryAfterMs: undefined, reason: `HTTP ${status}: busy` });
  });

  test('Retry-After as delta-seconds, HTTP-date, garbage, and capped', async () => {
    reply(429, { 'retry-after': '3' });
    expect(await transport().send('logs', BODY, SEND)).toMatchObject({ kind: 'retryable', retryAfterMs: 3_000 });
    reply(503, { 'retry-after': new Date(Date.now() + 10_000).toUTCString() });
    const dated = await transport().send('logs', BODY, SEND);
    expect(dated.kind === 'retryable' && dated.retryAfterMs).toBeGreaterThan(7_000);
    expect(dated.kind === 'retryable' && dated.retryAfterMs).toBeLessThanOrEqual(10_000);
    reply(503, { 'retry-after': 'soon-ish' });
    expect(await transport().send('logs', BODY, SEND)).toMatchObject({ kind: 'retryable', retryAfterMs: undefined });
    reply(503, { 'retry-after': '86400' });
    expect(await transport().send('logs', BODY, SEND)).toMatchObject({ retryAfterMs: 300_000 });
  });

  test('parseRetryAfter edge cases', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0); // in the past
    for (const bad of ['', '-5', '1.5', '1e3', 'abc', 'Wed, 99 Foo 2015', '12abc', undefined]) expect(parseRetryAfter(bad, now)).toBeUndefined();
  });

  test('413 is too_large', async () => {
    reply(413, {}, 'payload too large');
    expect(await transport().send('logs', BODY, SEND)).toEqual({ kind: 'too_large', status: 413, reason: 'HTTP 413: payload too large' });
  });

  test.each([400, 401, 403, 404, 500, 501, 301])('%i is a failure', async (status) => {
    reply(status, {}, 'no');
    expect(await transport().send('logs', BODY, SEND)).toMatchObject({ kind: 'failure', status });
  });

  test('reasons are short, skip binary bodies, and never echo the token', async () => {
    reply(400, {}, `bad token ${TOKEN} ${'x'.repeat(5_000)}`);
    const r = await transport().send('logs', BODY, SEND);
    expect(r.kind).toBe('failure');
    const reason = (r as { reason: string }).reason;
    expect(reason.length).toBeLessThan(230);
    expect(reason).not.toContain(TOKEN);
    expect(reason).toContain('[redacted]');
    reply(400, {}, new Uint8Array([0x0a, 0x02, 0x00, 0x01]));
    expect(await transport().send('logs', BODY, SEND)).toMatchObject({ reason: 'HTTP 400' });
  });

  test('a huge response body is not read to the end', async () => {
    server.handler = (_q, res) => {
      res.writeHead(500);
      const chunk = Buffer.alloc(64 * 1024, 'a');
      let sent = 0;
      const write = (): void => {
        while (sent < 200 && res.write(chunk)) sent++;
        if (sent < 200) res.once('drain', write);
        else res.end();
      };
      res.on('close', () => undefined);
      write();
    };
    const r = await transport().send('logs', BODY, SEND);
    expect(r).toMatchObject({ kind: 'failure', status: 500 });
  });
});

describe('HttpTransport network failures', () => {
  test('connection reset mid-request is retryable', async () => {
    server.handler = (_q, _res, raw) => raw.socket.destroy();
    const r = await transport().send('logs', BODY, SEND);
    expect(r).toMatchObject({ kind: 'retryable', status: 0 });
    expect((r as { reason: string }).reason).toMatch(/^network error/);
  });

  test('connection refused is retryable', async () => {
    const gone = await startServer();
    const url = gone.url;
    await gone.close();
    const r = await transport({ endpoint: url }).send('logs', BODY, SEND);
    expect(r).toMatchObject({ kind: 'retryable', status: 0 });
    expect((r as { reason: string }).reason).toContain('ECONNREFUSED');
  });

  test('a server slower than the timeout is a retryable timeout', async () => {
    server.handler = () => undefined; // never answers
    const started = performance.now();
    const r = await transport().send('logs', BODY, { timeoutMs: 300 });
    const took = performance.now() - started;
    expect(r).toEqual({ kind: 'retryable', status: 0, retryAfterMs: undefined, reason: 'timeout after 300 ms' });
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(3_000);
  });

  test('a body that stalls after the headers also times out', async () => {
    server.handler = (_q, res) => {
      res.writeHead(200);
      res.write('partial');
    };
    const r = await transport().send('logs', BODY, { timeoutMs: 300 });
    expect(r).toMatchObject({ kind: 'retryable', reason: 'timeout after 300 ms' });
  });

  test('abort stops a request in flight, and a pre-aborted signal sends nothing', async () => {
    server.handler = () => undefined;
    const ac = new AbortController();
    const pending = transport().send('logs', BODY, { timeoutMs: 10_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const started = performance.now();
    expect(await pending).toEqual({ kind: 'retryable', status: 0, retryAfterMs: undefined, reason: 'aborted' });
    expect(performance.now() - started).toBeLessThan(2_000);
    server.requests.length = 0;
    const r = await transport().send('logs', BODY, { timeoutMs: 1_000, signal: AbortSignal.abort() });
    expect(r).toMatchObject({ reason: 'aborted' });
    expect(server.requests).toHaveLength(0);
  });
});

describe('HttpTransport TLS', () => {
  let cert: Cert;
  let tlsServer: TestServer;
  beforeAll(async () => {
    cert = makeCert();
    tlsServer = await startHttpsServer(cert);
  });
  afterAll(async () => {
    await tlsServer.close();
  });

  test('a self-signed certificate is rejected without the CA file', async () => {
    const r = await transport({ endpoint: tlsServer.url }).send('logs', BODY, SEND);
    expect(r).toMatchObject({ kind: 'retryable', status: 0 });
    expect((r as { reason: string }).reason).toMatch(/SELF_SIGNED|self-signed|certificate/i);
    expect(tlsServer.requests).toHaveLength(0);
  });

  test('accepted with caFile', async () => {
    const r = await transport({ endpoint: tlsServer.url, caFile: cert.certFile }).send('logs', BODY, SEND);
    expect(r).toMatchObject({ kind: 'success', status: 200 });
    expect(tlsServer.requests.at(-1)!.headers.authorization).toBe(`Api-Token ${TOKEN}`);
  });

  test('accepted with insecureSkipVerify, which warns once at construction without the token', async () => {
    const { logger, lines } = captureLogger();
    const t = transport({ endpoint: tlsServer.url, insecureSkipVerify: true, logger });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('insecureSkipVerify');
    expect(await t.send('logs', BODY, SEND)).toMatchObject({ kind: 'success' });
    expect(await t.send('logs', BODY, SEND)).toMatchObject({ kind: 'success' });
    expect(lines).toHaveLength(1);
    expect(lines.join('')).not.toContain(TOKEN);
  });

  test('an explicit proxy tunnels HTTPS with CONNECT', async () => {
    const proxy = await startProxy();
    try {
      const r = await transport({ endpoint: tlsServer.url, caFile: cert.certFile, proxy: proxy.url }).send('logs', BODY, SEND);
      expect(r).toMatchObject({ kind: 'success' });
      expect(proxy.seen).toEqual([`CONNECT ${new URL(tlsServer.url).host}`]);
    } finally {
      await proxy.close();
    }
  });
});

describe('HttpTransport proxies', () => {
  test('an explicit proxy carries plain HTTP requests', async () => {
    const proxy = await startProxy();
    try {
      const r = await transport({ proxy: proxy.url }).send('logs', BODY, SEND);
      expect(r).toMatchObject({ kind: 'success' });
      expect(proxy.seen).toHaveLength(1);
      expect(proxy.seen[0]).toContain(new URL(server.url).host);
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]!.headers.authorization).toBe(`Api-Token ${TOKEN}`);
    } finally {
      await proxy.close();
    }
  });

  test('HTTP_PROXY from the environment is honoured, and NO_PROXY bypasses it', async () => {
    const proxy = await startProxy();
    try {
      // HTTP_PROXY is read at construction, NO_PROXY at each request (undici's EnvHttpProxyAgent).
      process.env.HTTP_PROXY = proxy.url;
      const viaEnv = transport();
      expect(await viaEnv.send('logs', BODY, SEND)).toMatchObject({ kind: 'success' });
      expect(proxy.seen).toHaveLength(1);
      process.env.NO_PROXY = '127.0.0.1';
      const bypass = transport();
      expect(await bypass.send('logs', BODY, SEND)).toMatchObject({ kind: 'success' });
      expect(proxy.seen).toHaveLength(1);
      expect(server.requests).toHaveLength(2);
    } finally {
      delete process.env.HTTP_PROXY;
      delete process.env.NO_PROXY;
      await proxy.close();
    }
  });

  test('a dead proxy is a retryable network error', async () => {
    const proxy = await startProxy();
    const url = proxy.url;
    await proxy.close();
    const r = await transport({ proxy: url }).send('logs', BODY, SEND);
    expect(r).toMatchObject({ kind: 'retryable', status: 0 });
  });
});
