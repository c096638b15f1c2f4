import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { parseAuthorization, TokenAuth } from '../../../src/gateway/auth.js';
import { DEFAULT_GATEWAY_CONFIG, parseListen, validateGatewayConfig } from '../../../src/gateway/config.js';
import { bodyFormat, isGzip, routeSignal } from '../../../src/export/http-routes.js';
import { statusJson, statusProtobuf } from '../../../src/export/rpc-status.js';
import { BurstLog } from '../../../src/self/burst-log.js';
import { createLogger } from '../../../src/self/logger.js';
import { secret } from './helpers.js';

describe('auth', () => {
  it('parses Api-Token and Bearer, case-insensitively', () => {
    expect(parseAuthorization('Api-Token abc')).toBe('abc');
    expect(parseAuthorization('api-token  abc ')).toBe('abc');
    expect(parseAuthorization('Bearer abc')).toBe('abc');
    expect(parseAuthorization('Basic abc')).toBeUndefined();
    expect(parseAuthorization('Api-Token')).toBeUndefined();
    expect(parseAuthorization('Api-Token ')).toBeUndefined();
    expect(parseAuthorization('')).toBeUndefined();
  });

  it('accepts any configured token, refuses others, tells missing from wrong', () => {
    const auth = new TokenAuth([secret('first-token'), secret('second')]);
    expect(auth.check(undefined)).toBe('missing');
    expect(auth.check('Basic x')).toBe('missing');
    expect(auth.check('Api-Token first-token')).toBe('ok');
    expect(auth.check('Bearer second')).toBe('ok');
    expect(auth.check('Api-Token first-toke')).toBe('invalid');
    expect(auth.check('Api-Token first-token-and-more')).toBe('invalid');
    expect(auth.check(`Api-Token ${'\u00e9'.repeat(5000)}`)).toBe('invalid');
  });

  it('is open with no tokens', () => {
    const auth = new TokenAuth([]);
    expect(auth.open).toBe(true);
    expect(auth.check(undefined)).toBe('ok');
  });
});

describe('routes', () => {
  it('maps both prefixes and ignores the query', () => {
    expect(routeSignal('/v1/metrics')).toBe('metrics');
    expect(routeSignal('/v1/logs?x=y')).toBe('logs');
    expect(routeSignal('/api/v2/otlp/v1/traces')).toBe('traces');
    expect(routeSignal('/v1/trace')).toBeUndefined();
    expect(routeSignal('/v1/metrics/')).toBeUndefined();
    expect(routeSignal('/api/v2/otlp/v1/profiles')).toBeUndefined();
    expect(routeSignal(undefined)).toBeUndefined();
  });

  it('recognises content types and encodings', () => {
    expect(bodyFormat('application/x-protobuf')).toBe('protobuf');
    expect(bodyFormat('Application/Protobuf')).toBe('protobuf');
    expect(bodyFormat('application/json; charset=utf-8')).toBe('json');
    expect(bodyFormat('text/json')).toBeUndefined();
    expect(bodyFormat(undefined)).toBeUndefined();
    expect(isGzip(undefined)).toBe(false);
    expect(isGzip('identity')).toBe(false);
    expect(isGzip('GZIP')).toBe(true);
    expect(isGzip('br')).toBeUndefined();
    expect(isGzip('gzip, br')).toBeUndefined();
  });
});

describe('config', () => {
  it('parses listen addresses', () => {
    expect(parseListen('127.0.0.1:14318')).toEqual({ host: '127.0.0.1', port: 14318 });
    expect(parseListen('0.0.0.0:0')).toEqual({ host: '0.0.0.0', port: 0 });
    expect(parseListen('[::1]:9')).toEqual({ host: '::1', port: 9 });
    expect(parseListen(':8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(() => parseListen('host:99999')).toThrow(/gateway\.listen/);
    expect(() => parseListen('::1:80')).toThrow(/brackets/);
    expect(() => parseListen('host:')).toThrow(/gateway\.listen/);
    // The gRPC listener's address is gateway.grpcListen: its errors say so.
    expect(() => parseListen('host:', 'gateway.grpcListen')).toThrow(/^gateway\.grpcListen: /);
  });

  it('rejects bad listen addresses as ConfigErrors that do not echo the value', () => {
    for (const bad of ['', ':', 'h0st-name', 'bad host:80', '[fe80::9]', 'host:-1', 'host:65536', '99999999', '\u00ff:80', 'x'.repeat(300) + ':1']) {
      let err: unknown;
      try {
        parseListen(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toMatchObject({ code: 'SEXTANT_ERR_CONFIG', key: 'gateway.listen' });
      if (bad.length > 3) expect((err as Error).message).not.toContain(bad);
    }
  });

  it('has the documented defaults', () => {
    expect(DEFAULT_GATEWAY_CONFIG.listen).toBe('127.0.0.1:14318');
    expect(DEFAULT_GATEWAY_CONFIG.dataDir).toBe('./data');
    expect(DEFAULT_GATEWAY_CONFIG.maxRequestBytes).toBe(8 * 1024 * 1024);
    expect(DEFAULT_GATEWAY_CONFIG.maxDecompressedBytes).toBe(32 * 1024 * 1024);
    expect(DEFAULT_GATEWAY_CONFIG.store).toEqual({ maxFileBytes: 64 * 1024 * 1024, maxTotalBytes: 1024 * 1024 * 1024 });
    expect(DEFAULT_GATEWAY_CONFIG.forward).toEqual({ maxQueueBytes: 64 * 1024 * 1024, maxQueueItems: 1024 });
    expect(() => validateGatewayConfig(DEFAULT_GATEWAY_CONFIG)).not.toThrow();
  });

  it('names the bad option and never prints a token', () => {
    const base = DEFAULT_GATEWAY_CONFIG;
    expect(() => validateGatewayConfig({ ...base, maxRequestBytes: 0 })).toThrow(/gateway\.maxRequestBytes/);
    expect(() => validateGatewayConfig({ ...base, store: { ...base.store, maxTotalBytes: -1 } })).toThrow(/gateway\.store\.maxTotalBytes/);
    expect(() => validateGatewayConfig({ ...base, forward: { ...base.forward, maxQueueItems: 1.5 } })).toThrow(/gateway\.forward\.maxQueueItems/);
    expect(() => validateGatewayConfig({ ...base, upstream: 'ftp://x' })).toThrow(/gateway\.upstream/);
    expect(() => validateGatewayConfig({ ...base, upstream: 'https://user:pw@x' })).toThrow(/gateway\.upstream/);
    let msg = '';
    try {
      validateGatewayConfig({ ...base, tokens: [secret('ok'), secret('sec ret')] });
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toContain('gateway.tokens[1]');
    expect(msg).not.toContain('sec ret');
  });
});

describe('status bodies', () => {
  it('encodes google.rpc.Status as protobuf and JSON', () => {
    expect([...statusProtobuf(400, 'bad')]).toEqual([0x08, 3, 0x12, 3, 0x62, 0x61, 0x64]);
    const long = statusProtobuf(503, 'x'.repeat(200));
    expect([...long.subarray(0, 5)]).toEqual([0x08, 14, 0x12, 0xc8, 0x01]);
    expect(JSON.parse(statusJson(401, 'who?').toString())).toEqual({ code: 16, message: 'who?' });
  });
});

describe('BurstLog', () => {
  it('logs the first rejection at once, then one line per window with counts by reason', () => {
    vi.useFakeTimers();
    try {
      const lines: string[] = [];
      const sink = new PassThrough();
      sink.on('data', (c: Buffer) => lines.push(c.toString()));
      const log = new BurstLog(createLogger('info', sink), 'rejected', { windowMs: 1000, now: Date.now });
      for (let i = 0; i < 500; i++) log.note(i % 5 === 0 ? 'forbidden' : 'too_large');
      // The first line at once, the rest of the burst waits for the window.
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ count: 1, reasons: { forbidden: 1 } });
      vi.advanceTimersByTime(1000);
      expect(lines).toHaveLength(2);
      const entry = JSON.parse(lines[1]!);
      expect(entry.count).toBe(499);
      expect(entry.reasons).toEqual({ forbidden: 99, too_large: 400 });
      log.note('forbidden');
      log.flush();
      expect(lines).toHaveLength(3);
      log.flush();
      expect(lines).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('gatewayConfigFrom', () => {
  it('maps the loaded gateway.* keys onto a valid GatewayConfig', async () => {
    const { loadConfig } = await import('../../../src/config/load.js');
    const { gatewayConfigFrom } = await import('../../../src/gateway/from-config.js');
    const { config } = loadConfig({
      argv: [],
      cwd: '/tmp',
      env: {
        SEXTANT_GATEWAY_LISTEN: '0.0.0.0:4318',
        SEXTANT_GATEWAY_TOKENS: 'tok-a,tok-b',
        SEXTANT_GATEWAY_STORE_MAX_FILE_BYTES: '1MiB',
        SEXTANT_GATEWAY_UPSTREAM: 'https://example.invalid/api/v2/otlp',
      },
    });
    const g = gatewayConfigFrom(config);
    expect(g.listen).toBe('0.0.0.0:4318');
    expect(g.tokens.map((t) => t.reveal())).toEqual(['tok-a', 'tok-b']);
    expect(g.store.maxFileBytes).toBe(1024 * 1024);
    expect(g.maxDecompressedBytes).toBe(DEFAULT_GATEWAY_CONFIG.maxDecompressedBytes);
    expect(g.forward).toEqual(DEFAULT_GATEWAY_CONFIG.forward);
    expect(g.upstream).toBe('https://example.invalid/api/v2/otlp');
    expect(g.shutdownTimeoutMs).toBe(10_000);
    expect(validateGatewayConfig(g)).toEqual({ host: '0.0.0.0', port: 4318 });
  });
});
