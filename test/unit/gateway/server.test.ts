import { request as httpRequest } from 'node:http';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { createLogger } from '../../../src/self/logger.js';
import type { Registry } from '../../../src/self/registry.js';
import {
  encodeRef,
  logsRequest,
  metricsRequest,
  post,
  readStored,
  removeDir,
  secret,
  start,
  TOKEN,
  tmpDataDir,
  tracesRequest,
} from './helpers.js';
import { pseudoRandom } from '../../helpers/pseudo-random.js';

const MiB = 1024 * 1024;

describe('gateway server', () => {
  let dir: string;
  let gw: Gateway;
  let registry: Registry;
  const logLines: string[] = [];

  beforeAll(async () => {
    dir = await tmpDataDir();
    const sink = new PassThrough();
    sink.on('data', (c: Buffer) => logLines.push(c.toString()));
    ({ gw, registry } = await start(
      dir,
      { maxRequestBytes: 1 * MiB, maxDecompressedBytes: 8 * MiB },
      { logger: createLogger('debug', sink) },
    ));
  });

  afterAll(async () => {
    await gw.close();
    await removeDir(dir);
  });

  it('binds the real port when asked for port 0', () => {
    expect(gw.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(gw.url.endsWith(':0')).toBe(false);
  });

  describe('auth', () => {
    const body = encodeRef('logs', logsRequest(['auth']));
    it('401 without a token, with WWW-Authenticate', async () => {
      const r = await post(`${gw.url}/v1/logs`, body, { authorization: '' });
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Api-Token');
    });
    it('401 with an unknown scheme', async () => {
      const r = await post(`${gw.url}/v1/logs`, body, { authorization: `Basic ${TOKEN}` });
      expect(r.status).toBe(401);
    });
    it('403 with a wrong token, and the token is never echoed', async () => {
      const r = await post(`${gw.url}/v1/logs`, body, { authorization: 'Api-Token wrong-token-value', 'content-type': 'application/json' });
      expect(r.status).toBe(403);
      expect(r.body.toString()).not.toContain('wrong-token-value');
      expect(JSON.parse(r.body.toString())).toEqual({ code: 7, message: 'API token not accepted' });
    });
    it('403 for a token that is a prefix of the right one', async () => {
      const r = await post(`${gw.url}/v1/logs`, body, { authorization: `Api-Token ${TOKEN.slice(0, -1)}` });
      expect(r.status).toBe(403);
    });
    it('200 with Api-Token and with Bearer', async () => {
      expect((await post(`${gw.url}/v1/logs`, body)).status).toBe(200);
      expect((await post(`${gw.url}/v1/logs`, body, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
      expect((await post(`${gw.url}/v1/logs`, body, { authorization: `api-token   ${TOKEN}` })).status).toBe(200);
    });
  });

  describe('routing', () => {
    it('accepts both prefixes for every signal', async () => {
      const bodies = {
        metrics: encodeRef('metrics', metricsRequest(['route.metric'])),
        logs: encodeRef('logs', logsRequest(['route log'])),
        traces: encodeRef('traces', tracesRequest(['route span'])),
      };
      for (const signal of ['metrics', 'logs', 'traces'] as const) {
        for (const prefix of ['', '/api/v2/otlp']) {
          const r = await post(`${gw.url}${prefix}/v1/${signal}?x=1`, bodies[signal]);
          expect(r.status, `${prefix}/v1/${signal}`).toBe(200);
          expect(r.headers['content-type']).toBe('application/x-protobuf');
          expect(r.body.length).toBe(0);
        }
      }
    });
    it('404 for other paths, 405 for other methods', async () => {
      expect((await post(`${gw.url}/v1/profiles`, '')).status).toBe(404);
      expect((await post(`${gw.url}/`, '')).status).toBe(404);
      expect((await post(`${gw.url}/api/v2/otlp/v1/metricsx`, '')).status).toBe(404);
      const r = await post(`${gw.url}/v1/metrics`, '', {}, 'PUT');
      expect(r.status).toBe(405);
      expect(r.headers['allow']).toBe('POST');
      const g = await httpGet(`${gw.url}/v1/metrics`);
      expect(g).toBe(405);
    });
  });

  describe('content', () => {
    it('415 for other content types and encodings', async () => {
      const body = encodeRef('logs', logsRequest(['x']));
      expect((await post(`${gw.url}/v1/logs`, body, { 'content-type': 'text/plain' })).status).toBe(415);
      expect((await post(`${gw.url}/v1/logs`, body, { 'content-type': 'application/grpc' })).status).toBe(415);
      expect((await post(`${gw.url}/v1/logs`, body, { 'content-encoding': 'br' })).status).toBe(415);
      expect((await post(`${gw.url}/v1/logs`, body, { 'content-encoding': 'deflate' })).status).toBe(415);
      expect((await post(`${gw.url}/v1/logs`, body, { 'content-type': 'application/protobuf' })).status).toBe(200);
      expect((await post(`${gw.url}/v1/logs`, body, { 'content-type': 'application/x-protobuf; charset=binary' })).status).toBe(200);
    });

    it('accepts gzip', async () => {
      const body = gzipSync(encodeRef('logs', logsRequest(['gzipped body'])));
      const r = await post(`${gw.url}/v1/logs`, body, { 'content-encoding': 'gzip' });
      expect(r.status).toBe(200);
    });

    it('400 for a body that claims gzip but is not', async () => {
      const r = await post(`${gw.url}/v1/logs`, encodeRef('logs', logsRequest(['x'])), { 'content-encoding': 'gzip' });
      expect(r.status).toBe(400);
    });

    it('400 for truncated gzip', async () => {
      const gz = gzipSync(encodeRef('logs', logsRequest(['truncated gzip'])));
      const r = await post(`${gw.url}/v1/logs`, gz.subarray(0, gz.length - 10), { 'content-encoding': 'gzip' });
      expect(r.status).toBe(400);
    });

    it('400 with a protobuf google.rpc.Status for truncated protobuf', async () => {
      const full = encodeRef('traces', tracesRequest(['a', 'b', 'c']));
      for (const cut of [1, 7, full.length - 1]) {
        const r = await post(`${gw.url}/v1/traces`, full.subarray(0, cut));
        expect(r.status, `cut at ${cut}`).toBe(400);
        expect(r.headers['content-type']).toBe('application/x-protobuf');
        expect(r.body[0]).toBe(0x08); // Status.code
        expect(r.body[1]).toBe(3); // INVALID_ARGUMENT
        expect(r.body.toString('latin1')).toContain('invalid protobuf');
      }
    });

    it('400 for random bytes, on every signal', async () => {
      for (const [i, signal] of (['metrics', 'logs', 'traces'] as const).entries()) {
        const r = await post(`${gw.url}/v1/${signal}`, pseudoRandom(4096, 1234 + i));
        expect(r.status).toBe(400);
      }
    });

    it('400 for invalid UTF-8 in a protobuf string', async () => {
      const body = encodeRef('logs', logsRequest(['hello-utf8']));
      const at = body.indexOf('hello-utf8');
      body[at + 1] = 0xff;
      body[at + 2] = 0xfe;
      const r = await post(`${gw.url}/v1/logs`, body);
      expect(r.status).toBe(400);
      expect(r.body.toString('latin1')).toMatch(/utf-8/i);
    });

    it('400 for invalid UTF-8 in a JSON body', async () => {
      const json = Buffer.from(JSON.stringify(logsRequest(['x'].map(() => 'zzzz'))));
      const at = json.indexOf('zzzz');
      json[at] = 0xc3;
      json[at + 1] = 0x28;
      const r = await post(`${gw.url}/v1/logs`, json, { 'content-type': 'application/json' });
      expect(r.status).toBe(400);
      expect(r.headers['content-type']).toBe('application/json');
    });

    it('400 for malformed JSON and for JSON that is not an object', async () => {
      for (const text of ['{', '[]', 'null', '"x"', '{"resourceLogs": 5}', '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"abc"}]}]}]}']) {
        const r = await post(`${gw.url}/v1/logs`, text, { 'content-type': 'application/json' });
        expect(r.status, text).toBe(400);
        expect(JSON.parse(r.body.toString()).code).toBe(3);
      }
    });

    it('200 for an empty body in both encodings; nothing stored', async () => {
      const p = await post(`${gw.url}/v1/traces`, '');
      expect(p.status).toBe(200);
      const j = await post(`${gw.url}/v1/traces`, '', { 'content-type': 'application/json' });
      expect(j.status).toBe(200);
      expect(j.headers['content-type']).toBe('application/json');
      expect(j.body.toString()).toBe('{}');
      const e = await post(`${gw.url}/v1/traces`, '{}', { 'content-type': 'application/json' });
      expect(e.status).toBe(200);
    });

    it('decodes OTLP JSON: hex ids, enum names or numbers, int64 as string or number, snake_case', async () => {
      const json = {
        resource_spans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json-svc' } }] },
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: '5B8EFFF798038103D269B633813FC60C',
                    span_id: 'eee19b7ec3c1b174',
                    parentSpanId: '',
                    name: 'json-span',
                    kind: 'SPAN_KIND_CLIENT',
                    startTimeUnixNano: 1700000000000000000,
                    endTimeUnixNano: '1700000001000000000',
                    attributes: [{ key: 'bytes', value: { bytesValue: 'AAEC' } }, { key: 'n', value: { intValue: 42 } }],
                    status: { code: 2, message: 'boom' },
                    unknownFieldFromTheFuture: { a: 1 },
                  },
                ],
              },
            ],
          },
        ],
      };
      const r = await post(`${gw.url}/v1/traces`, JSON.stringify(json), { 'content-type': 'application/json' });
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe('{}');
    });
  });

  describe('limits', () => {
    it('413 by Content-Length without reading the body', async () => {
      const t0 = Date.now();
      const r = await post(`${gw.url}/v1/logs`, Buffer.alloc(3 * MiB));
      expect(r.status).toBe(413);
      expect(r.headers['connection']).toBe('close');
      expect(Date.now() - t0).toBeLessThan(5000);
    });

    it('413 while streaming a chunked body with no Content-Length', async () => {
      let sent = 0;
      async function* chunks(): AsyncGenerator<Uint8Array> {
        // 4 MiB in 64 KiB chunks against a 1 MiB limit; stops early if the server hangs up.
        for (let i = 0; i < 64; i++) {
          sent += 64 * 1024;
          yield Buffer.alloc(64 * 1024, 1);
        }
      }
      const { status } = await post(`${gw.url}/v1/logs`, chunks());
      expect(status).toBe(413);
      expect(registry.counter('sextant_gateway_rejected_total', '').get({ reason: 'too_large' })).toBeGreaterThanOrEqual(2);
      expect(sent).toBeGreaterThan(0);
    });

    it('413 for a gzip bomb, quickly and without inflating it all', async () => {
      // 256 MiB of zeros gzips to ~250 KiB: under the 1 MiB wire limit, 32x the 8 MiB inflate limit.
      const bomb = gzipSync(Buffer.alloc(256 * MiB), { level: 9 });
      expect(bomb.length).toBeLessThan(1 * MiB);
      global.gc?.();
      const before = process.memoryUsage();
      let peak = 0;
      const sampler = setInterval(() => {
        const m = process.memoryUsage();
        peak = Math.max(peak, m.arrayBuffers - before.arrayBuffers);
      }, 5);
      const t0 = Date.now();
      const r = await post(`${gw.url}/v1/logs`, bomb, { 'content-encoding': 'gzip' });
      const ms = Date.now() - t0;
      clearInterval(sampler);
      expect(r.status).toBe(413);
      expect(r.body.toString()).toContain('decompressed body exceeds');
      expect(ms).toBeLessThan(3000);
      // Fully inflated it would be 256 MiB; the guard holds at most the 8 MiB limit (plus chunks).
      expect(peak).toBeLessThan(64 * MiB);
    });

    it('413 for Expect: 100-continue before any body is sent', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const u = new URL(`${gw.url}/v1/logs`);
        const req = httpRequest(
          {
            host: u.hostname,
            port: u.port,
            path: u.pathname,
            method: 'POST',
            headers: { 'content-type': 'application/x-protobuf', 'content-length': String(50 * MiB), expect: '100-continue', authorization: `Api-Token ${TOKEN}` },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('continue', () => reject(new Error('server asked for the body')));
        req.on('error', reject);
        req.flushHeaders();
      });
      expect(status).toBe(413);
    });

    it('survives garbage that is not HTTP', async () => {
      const net = await import('node:net');
      const u = new URL(gw.url);
      const reply = await new Promise<string>((resolve) => {
        const s = net.connect(Number(u.port), u.hostname, () => s.write('\x00\x01\x02 GARBAGE\r\n\r\n'));
        let text = '';
        s.on('data', (c) => (text += c.toString()));
        s.on('close', () => resolve(text));
        s.on('error', () => resolve(text));
      });
      expect(reply).toContain('400');
      expect((await post(`${gw.url}/v1/logs`, encodeRef('logs', logsRequest(['still alive'])))).status).toBe(200);
    });
  });

  it('counts requests, records, rejections; keeps tokens out of logs and metrics', async () => {
    const text = registry.render();
    expect(text).toMatch(/sextant_gateway_requests_total\{code="200",signal="logs"\} \d+/);
    expect(text).toMatch(/sextant_gateway_requests_total\{code="401",signal="logs"\} 2/);
    expect(text).toMatch(/sextant_gateway_received_records_total\{signal="logs"\} \d+/);
    expect(text).toMatch(/sextant_gateway_received_bytes_total\{signal="logs"\} \d+/);
    expect(text).toMatch(/sextant_gateway_rejected_total\{reason="forbidden"\} 2/);
    expect(text).toMatch(/sextant_gateway_rejected_total\{reason="decompressed_too_large"\} 1/);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('wrong-token-value');
    const logs = logLines.join('');
    expect(logs).not.toContain(TOKEN);
    expect(logs).not.toContain('wrong-token-value');
  });

  it('stores what it accepted, ids as hex, int64 as strings', async () => {
    await gw.close(); // flushes the store
    const traces = await readStored(dir, 'traces');
    const spans = traces.flatMap((l) =>
      (l.request['resourceSpans'] as { scopeSpans: { spans: Record<string, unknown>[] }[] }[]).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)),
    );
    const jsonSpan = spans.find((s) => s['name'] === 'json-span')!;
    expect(jsonSpan['traceId']).toBe('5b8efff798038103d269b633813fc60c');
    expect(jsonSpan['spanId']).toBe('eee19b7ec3c1b174');
    expect(jsonSpan['kind']).toBe(3);
    expect(jsonSpan['startTimeUnixNano']).toBe('1700000000000000000');
    expect(jsonSpan['attributes']).toEqual([
      { key: 'bytes', value: { bytesValue: 'AAEC' } },
      { key: 'n', value: { intValue: '42' } },
    ]);
    const protoSpan = spans.find((s) => s['name'] === 'route span')!;
    expect(protoSpan['parentSpanId']).toBe('eee19b7ec3c1b173');
    expect(traces.every((l) => !Number.isNaN(Date.parse(l.receivedAt)))).toBe(true);

    const metrics = await readStored(dir, 'metrics');
    expect(JSON.stringify(metrics)).toContain('"asInt":"9007199254740993"');
    const logs = await readStored(dir, 'logs');
    const bodies = JSON.stringify(logs);
    expect(bodies).toContain('gzipped body');
    expect(bodies).not.toContain('hello-utf8');
    expect(bodies).toContain('"traceId":"0102030405060708090a0b0c0d0e0f10"');
  });
});

describe('gateway: bodies read on the fast paths answer as before', () => {
  let dir: string;
  let gw: Gateway;

  beforeAll(async () => {
    dir = await tmpDataDir();
    ({ gw } = await start(dir, { maxRequestBytes: 1 * MiB, maxDecompressedBytes: 8 * MiB }));
  });

  afterAll(async () => {
    await gw.close();
    await removeDir(dir);
  });

  it('413 for a small gzip bomb too (a body under 64 KiB is inflated in one call, with the same limit)', async () => {
    // 32 MiB of zeros gzips to ~32 KiB.
    const bomb = gzipSync(Buffer.alloc(32 * MiB), { level: 9 });
    expect(bomb.length).toBeLessThan(64 * 1024);
    const r = await post(`${gw.url}/v1/logs`, bomb, { 'content-encoding': 'gzip' });
    expect(r.status).toBe(413);
    expect(r.body.toString()).toContain('decompressed body exceeds');
  });

  it('a protobuf logs body the validating walk refuses gets protobufjs\' answer: 400 for what it refuses, 200 for what it reads', async () => {
    // Invalid UTF-8 in a body string (C3 28): protobufjs refuses it, naming the problem.
    const rec = [0x2a, 5, 0x0a, 3, 0x78, 0xc3, 0x28];
    const bad = Buffer.from([0x0a, rec.length + 4, 0x12, rec.length + 2, 0x12, rec.length, ...rec]);
    const r1 = await post(`${gw.url}/v1/logs`, bad);
    expect(r1.status).toBe(400);
    expect(r1.body.toString('latin1')).toContain('invalid protobuf');
    expect(r1.body.toString('latin1')).toMatch(/utf-8/i);
    // severity_text (field 3) sent as a varint: the walk refuses the wire type, protobufjs skips the field.
    const rec2 = [0x18, 5, 0x2a, 4, 0x0a, 2, 0x68, 0x69];
    const odd = Buffer.from([0x0a, rec2.length + 4, 0x12, rec2.length + 2, 0x12, rec2.length, ...rec2]);
    const r2 = await post(`${gw.url}/v1/logs`, odd);
    expect(r2.status).toBe(200);
  });
});

describe('gateway without tokens', () => {
  it('accepts everything and warns once at start', async () => {
    const dir = await tmpDataDir();
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (c: Buffer) => lines.push(c.toString()));
    const { gw } = await start(dir, { tokens: [] }, { logger: createLogger('info', sink) });
    try {
      const r = await post(`${gw.url}/v1/logs`, encodeRef('logs', logsRequest(['open'])), { authorization: '' });
      expect(r.status).toBe(200);
      expect(lines.filter((l) => l.includes('no API tokens')).length).toBe(1);
    } finally {
      await gw.close();
      await removeDir(dir);
    }
  });

  it('refuses a config with a bad listen address, naming the option', async () => {
    const dir = await tmpDataDir();
    await expect(start(dir, { listen: 'nonsense:port' })).rejects.toThrow(/gateway\.listen/);
    await expect(start(dir, { tokens: [secret('has space')] })).rejects.toThrow(/gateway\.tokens\[0\]/);
    await removeDir(dir);
  });
});

function httpGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

describe('gateway shutdown', () => {
  it('finishes a request in flight, stores it, then closes', async () => {
    const dir = await tmpDataDir();
    const { gw } = await start(dir);
    const body = encodeRef('logs', logsRequest(['in flight at close']));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield body.subarray(0, 10);
      await gate;
      yield body.subarray(10);
    }
    const answer = post(`${gw.url}/v1/logs`, slow());
    await new Promise((r) => setTimeout(r, 100));
    const closing = gw.close();
    await new Promise((r) => setTimeout(r, 50));
    release();
    expect((await answer).status).toBe(200);
    await closing;
    const stored = await readStored(dir, 'logs');
    expect(JSON.stringify(stored)).toContain('in flight at close');
    // No longer listening.
    await expect(post(`${gw.url}/v1/logs`, body)).rejects.toThrow();
    await removeDir(dir);
  });
});
