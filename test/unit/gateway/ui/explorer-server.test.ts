import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../../../src/gateway/gateway.js';
import { CONTENT_SECURITY_POLICY } from '../../../../src/gateway/ui/explorer-server.js';
import { chooseEncoding } from '../../../../src/gateway/ui/static-assets.js';
import { removeDir, secret, start, tmpDataDir } from '../helpers.js';

/**
 * The explorer's serving on a real gateway: the page and its assets (compressed, cached, under a
 * strict CSP), the token → session cookie exchange the query API then accepts, logout, expiry,
 * and bad input: garbage and oversized tokens, path traversal, methods it does not answer.
 */

const READ = 'read-token-0123456789';
const TTL_MS = 1500;
const SCRIPT = 'assets/explorer-ABC123.js';
const SCRIPT_BODY = `console.log(${JSON.stringify('x'.repeat(2000))});\n`;
const INDEX = '<!doctype html><title>t</title><script type="module" src="/ui/assets/explorer-ABC123.js"></script>';

let dir: string;
let gw: Gateway;
let base: string;

/** A built explorer as ui/build.mjs writes it: files, their .gz and .br, manifest.json. */
function writeAssets(root: string): void {
  mkdirSync(path.join(root, 'assets'), { recursive: true });
  const files: [string, string, boolean][] = [
    ['index.html', INDEX, false],
    [SCRIPT, SCRIPT_BODY, true],
  ];
  const manifest = { files: [] as unknown[] };
  for (const [name, body, immutable] of files) {
    const buf = Buffer.from(body);
    writeFileSync(path.join(root, name), buf);
    writeFileSync(path.join(root, `${name}.gz`), gzipSync(buf));
    writeFileSync(path.join(root, `${name}.br`), brotliCompressSync(buf));
    manifest.files.push({ path: name, etag: `"${createHash('sha256').update(buf).digest('base64url').slice(0, 22)}"`, immutable });
  }
  writeFileSync(path.join(root, 'manifest.json'), JSON.stringify(manifest));
  // A file beside the assets that no request may reach.
  writeFileSync(path.join(root, 'secret.txt'), 'not for you');
}

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request sent as written: the path is not normalized (no client-side `..` removal). */
function raw(method: string, p: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<Raw> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: p, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = (r: Raw): Record<string, unknown> => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
const login = (token: unknown, extra: Record<string, string> = {}): Promise<Raw> => raw('POST', '/ui/session', { 'content-type': 'application/json', ...extra }, JSON.stringify({ token }));
const cookieOf = (r: Raw): string => String(r.headers['set-cookie']?.[0] ?? '').split(';')[0]!;

beforeAll(async () => {
  dir = await tmpDataDir();
  const assets = path.join(dir, 'ui');
  writeAssets(assets);
  ({ gw } = await start(dir, {
    ndjson: false,
    api: { readTokens: [secret(READ)], readOpenOnLoopback: false, queryTimeoutMs: 5_000, queryMaxRows: 1_000 },
    explorer: { enabled: true, sessionTtlMs: TTL_MS, assetsDir: assets },
  }));
  base = gw.url;
});

afterAll(async () => {
  await gw.close();
  await removeDir(dir);
});

describe('the page and its assets', () => {
  it('/ sends the browser to /ui/; every view path answers index.html, revalidated, under the CSP', async () => {
    const root = await raw('GET', '/');
    expect(root.status).toBe(302);
    expect(root.headers.location).toBe('/ui/');
    for (const p of ['/ui/', '/ui', '/ui/list/pod?q=web', '/ui/entity/0123456789abcdef?tab=logs', '/ui/no/such/view']) {
      const r = await raw('GET', p);
      expect(r.status, p).toBe(200);
      expect(r.body.toString()).toBe(INDEX);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.headers['cache-control']).toBe('no-cache');
      expect(r.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe-inline');
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe-eval');
    expect(gw.explorerUrl).toBe(`${base}/ui/`);
  });

  it('hashed assets: brotli, gzip or plain as accepted, immutable, 304 for the ETag the browser holds', async () => {
    const br = await raw('GET', `/ui/${SCRIPT}`, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).toString()).toBe(SCRIPT_BODY);
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(br.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(br.headers.vary).toBe('Accept-Encoding');
    const gz = await raw('GET', `/ui/${SCRIPT}`, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(SCRIPT_BODY);
    const plain = await raw('GET', `/ui/${SCRIPT}`);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(SCRIPT_BODY);
    const again = await raw('GET', `/ui/${SCRIPT}`, { 'if-none-match': String(br.headers.etag) });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const head = await raw('HEAD', `/ui/${SCRIPT}`, { 'accept-encoding': 'gzip' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(chooseEncoding('br;q=0, gzip')).toBe('gzip');
    expect(chooseEncoding('identity')).toBe('identity');
    expect(chooseEncoding('*')).toBe('gzip');
  });

  it('path traversal reaches nothing: only the built names are served, looked up exactly', async () => {
    for (const p of [
      '/ui/assets/../secret.txt',
      '/ui/assets/../../package.json',
      '/ui/assets/..%2fsecret.txt',
      '/ui/assets/%2e%2e/secret.txt',
      '/ui/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/ui/assets/explorer-ABC123.js%00.png',
      '/ui/assets//etc/passwd',
      '/ui/assets/manifest.json',
      '/ui/assets/',
    ]) {
      const r = await raw('GET', p);
      expect(r.body.toString(), p).not.toContain('not for you');
      expect(r.body.toString(), p).not.toContain('root:');
      // Under /ui/assets/ a miss is a 404; a path the URL parser lifts out of /ui is not the explorer's.
      expect([404, 200], p).toContain(r.status);
      if (r.status === 200) expect(r.body.toString(), p).toBe(INDEX);
    }
    expect((await raw('GET', '/ui/assets/../secret.txt')).body.toString()).not.toContain('not for you');
  });

  it('methods it does not answer: 405 with Allow', async () => {
    for (const [m, p, allow] of [
      ['POST', '/ui/', 'GET, HEAD'],
      ['PUT', '/ui/list/pod', 'GET, HEAD'],
      ['DELETE', `/ui/${SCRIPT}`, 'GET, HEAD'],
      ['PUT', '/ui/session', 'GET, POST, DELETE'],
      ['PATCH', '/ui/session', 'GET, POST, DELETE'],
    ] as const) {
      const r = await raw(m, p, { 'content-type': 'application/json' }, '{}');
      expect(r.status, `${m} ${p}`).toBe(405);
      expect(r.headers.allow).toBe(allow);
    }
    // `/` is the explorer's for a browser's GET only: a POST there is still ingest's 404.
    expect((await raw('POST', '/', { 'content-type': 'application/x-protobuf' }, '')).status).toBe(404);
    // The query API stays GET-only, whatever cookie comes with it.
    expect((await raw('POST', '/api/v1/entities?type=pod')).status).toBe(405);
  });
});

describe('the session', () => {
  it('a read token is exchanged for an HttpOnly, SameSite=Strict cookie that the query API accepts; logout ends it', async () => {
    expect(json(await raw('GET', '/ui/session')).data).toEqual({ mode: 'login', expiresAt: null });
    expect((await raw('GET', '/api/v1/entities?type=pod')).status).toBe(401);
    const r = await login(READ);
    expect(r.status).toBe(200);
    const set = String(r.headers['set-cookie']?.[0]);
    expect(set).toMatch(/^sextant-session=[A-Za-z0-9_-]{43}; Max-Age=1; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(set).not.toContain(READ);
    expect(r.body.toString()).not.toContain(READ);
    const cookie = cookieOf(r);
    expect((await raw('GET', '/api/v1/entities?type=pod', { cookie })).status).toBe(200);
    expect((json(await raw('GET', '/ui/session', { cookie })).data as { mode: string }).mode).toBe('session');
    // An Authorization header is judged on its own: a bad one is not rescued by the cookie.
    expect((await raw('GET', '/api/v1/entities?type=pod', { cookie, authorization: 'Api-Token wrong' })).status).toBe(403);
    const out = await raw('DELETE', '/ui/session', { cookie });
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie']?.[0])).toMatch(/^sextant-session=; Max-Age=0/);
    expect((await raw('GET', '/api/v1/entities?type=pod', { cookie })).status).toBe(401);
  });

  it('a session expires after gateway.sessionTtl', async () => {
    const cookie = cookieOf(await login(READ));
    expect((await raw('GET', '/api/v1/entities?type=pod', { cookie })).status).toBe(200);
    await new Promise((r) => setTimeout(r, TTL_MS + 200));
    expect((await raw('GET', '/api/v1/entities?type=pod', { cookie })).status).toBe(401);
    expect((json(await raw('GET', '/ui/session', { cookie })).data as { mode: string }).mode).toBe('login');
  });

  it('bad tokens and bodies: refused, nothing set', async () => {
    const cases: [string, Raw, number][] = [
      ['wrong token', await login('not-the-token'), 403],
      ['empty token', await login(''), 400],
      ['token with a space', await login('read token'), 400],
      ['token with a newline', await login('read\ntoken'), 400],
      ['a 600-character token', await login('a'.repeat(600)), 400],
      ['a number', await login(12345), 400],
      ['garbage JSON', await raw('POST', '/ui/session', { 'content-type': 'application/json' }, '{"token": '), 400],
      ['binary garbage', await raw('POST', '/ui/session', { 'content-type': 'application/json' }, Buffer.from([0xff, 0xfe, 0x00, 0x01])), 400],
      ['no JSON type', await raw('POST', '/ui/session', { 'content-type': 'application/x-www-form-urlencoded' }, `token=${READ}`), 415],
      ['an oversized body', await raw('POST', '/ui/session', { 'content-type': 'application/json' }, JSON.stringify({ token: READ, pad: 'x'.repeat(10_000) })), 413],
      ['a cross-site form', await login(READ, { origin: 'https://evil.example' }), 403],
    ];
    for (const [what, r, status] of cases) {
      expect(r.status, what).toBe(status);
      expect(r.headers['set-cookie'], what).toBeUndefined();
      expect(json(r)['status'], what).toBe('error');
    }
    // A same-origin browser login is accepted.
    const host = new URL(base).host;
    expect((await login(READ, { origin: `http://${host}` })).status).toBe(200);
  });

  it('garbage cookies are no session', async () => {
    for (const cookie of ['sextant-session=', 'sextant-session=abc', `sextant-session=${'A'.repeat(43)}`, `sextant-session=${'A'.repeat(42)}!`, 'x'.repeat(9000), 'sextant-session']) {
      expect((await raw('GET', '/api/v1/entities?type=pod', { cookie })).status, cookie.slice(0, 40)).toBe(401);
    }
  });
});
