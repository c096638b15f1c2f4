import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGunzipInto, type GunzipInto } from '../../../src/native/gunzip.js';
import { BodyError, readBody, type BodyLimits } from '../../../src/io/request-body.js';
import { pseudoRandom } from '../../helpers/pseudo-random.js';

/**
 * The addon's gzip inflater (native/sextant_gzip.c) against Node's gunzip, the fallback: the
 * same request bodies, read by readBody over real HTTP with and without it, give the same body or
 * the same refusal. The addon answers only the plain case and leaves the rest to Node's gunzip.
 */

const KiB = 1024;
const LIMITS: BodyLimits = { maxRequestBytes: 1024 * KiB, maxDecompressedBytes: 1024 * KiB };

/** Deterministic bytes that compress somewhat: pseudo-random letters from a small alphabet. */
function text(n: number, seed = 7): Buffer {
  const b = pseudoRandom(n, seed);
  for (let i = 0; i < n; i++) b[i] = 0x61 + (b[i]! % 20);
  return b;
}

type Outcome = { body: string } | { status: number; reason: string };

let server: Server;
let port = 0;
/** The inflater the next request is read with (undefined: Node's gunzip only). */
let current: GunzipInto | undefined;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    readBody(req, true, LIMITS, current).then(
      ({ body }) => res.end(JSON.stringify({ body: body.toString('hex') })),
      (err: unknown) => res.end(JSON.stringify(err instanceof BodyError ? { status: err.status, reason: err.reason } : { status: 0, reason: String(err) })),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

function post(body: Buffer): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', headers: { 'content-length': body.length } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString()) as Outcome));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const native = loadGunzipInto(true);

async function both(body: Buffer): Promise<{ js: Outcome; addon: Outcome }> {
  current = undefined;
  const js = await post(body);
  current = native;
  const addon = await post(body);
  return { js, addon };
}

/** A gzip member whose trailer's length field says `size` instead. */
function withTrailerSize(gz: Buffer, size: number): Buffer {
  const out = Buffer.from(gz);
  out.writeUInt32LE(size >>> 0, out.length - 4);
  return out;
}

describe('the addon gunzip and Node gunzip agree', () => {
  it('the addon is built and exports gunzipInto (CI=true requires it)', () => {
    if (process.env.CI === 'true') expect(native).toBeTypeOf('function');
  });

  const one = gzipSync(text(10 * KiB));
  const cases: [string, Buffer][] = [
    ['an empty body', gzipSync(Buffer.alloc(0))],
    ['63 bytes (below the size hint: Node gunzip only)', gzipSync(text(63))],
    ['64 bytes', gzipSync(text(64))],
    ['10 KiB', one],
    ['200 KiB of text', gzipSync(text(200 * KiB, 3))],
    ['binary, invalid UTF-8', gzipSync(Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80, ...text(500)]))],
    ['two members', Buffer.concat([gzipSync(text(3000, 1)), gzipSync(text(5000, 2))])],
    ['a member and trailing garbage', Buffer.concat([one, Buffer.from('garbage')])],
    ['a trailer that claims more', withTrailerSize(one, 20 * KiB)],
    ['a trailer that claims less', withTrailerSize(one, 5 * KiB)],
    ['a bad CRC-32', (() => { const b = Buffer.from(one); b.writeUInt32LE((b.readUInt32LE(b.length - 8) ^ 1) >>> 0, b.length - 8); return b; })()],
    ['corrupted deflate data', (() => { const b = Buffer.from(one); for (let i = 20; i < 60; i++) b[i] = b[i]! ^ 0x5a; return b; })()],
    ['truncated', one.subarray(0, one.length - 10)],
    ['only a header', one.subarray(0, 10)],
    ['not gzip at all', text(5000)],
    ['a bomb past the decompressed limit (trailer says so)', gzipSync(Buffer.alloc(8 * 1024 * KiB), { level: 9 })],
    ['a bomb whose trailer lies small', withTrailerSize(gzipSync(Buffer.alloc(8 * 1024 * KiB), { level: 9 }), 1000)],
  ];
  for (const [name, body] of cases) {
    it(name, async () => {
      const { js, addon } = await both(body);
      expect(addon).toEqual(js);
    });
  }

  it('the plain case is the addon\'s own answer, and its stream is reused after a refusal', () => {
    if (native === undefined) return;
    const plain = text(10 * KiB, 11);
    const gz = gzipSync(plain);
    const bad = gz.subarray(0, gz.length - 3);
    for (let round = 0; round < 3; round++) {
      const out = Buffer.alloc(plain.length);
      expect(native(bad, Buffer.alloc(plain.length))).toBe(-1);
      expect(native(gz, out)).toBe(plain.length);
      expect(out.equals(plain)).toBe(true);
      // Too small or too large an output: not the plain case.
      expect(native(gz, Buffer.alloc(plain.length - 1))).toBe(-1);
      expect(native(gz, Buffer.alloc(plain.length + 1))).toBe(-1);
    }
    expect(() => native(gz as unknown as Uint8Array, 'x' as unknown as Uint8Array)).toThrow(TypeError);
    expect(native(new Uint8Array(0), new Uint8Array(0))).toBe(-1);
  });
});
