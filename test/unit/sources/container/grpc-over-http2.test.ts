/**
 * The gRPC-over-HTTP/2 channel (grpc-over-http2.ts) and its framing (grpc-frame.ts) against a
 * real node:http2 server on a unix socket in a tmp dir that answers well and badly on purpose:
 * split and truncated frames, oversized length prefixes, non-zero statuses, trailers-only
 * answers, resets, GOAWAY, a socket that speaks something else, one that never answers.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import http2, { type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UnaryFrameReader, grpcFrame } from '../../../../src/sources/container/grpc-frame.js';
import { GrpcCallError, GrpcStatus, GrpcUnixChannel, grpcStatusName } from '../../../../src/sources/container/grpc-over-http2.js';
import { until } from '../../../helpers/wait.js';

type Handler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, session: ServerHttp2Session) => void;

const dir = mkdtempSync(join(tmpdir(), 'sextant-grpc-h2-'));
const sockPath = join(dir, 'grpc.sock');
let handler: Handler = () => undefined;
const sessions = new Set<ServerHttp2Session>();
let sessionCount = 0;
const server = http2.createServer();
server.on('session', (s: ServerHttp2Session) => {
  sessionCount++;
  sessions.add(s);
  s.on('close', () => sessions.delete(s));
  s.on('error', () => undefined);
});
server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
  stream.on('error', () => undefined);
  handler(stream, headers, stream.session as ServerHttp2Session);
});

const channels: GrpcUnixChannel[] = [];
function channel(opts: { path?: string; connectTimeoutMs?: number; maxReceiveBytes?: number } = {}): GrpcUnixChannel {
  const c = new GrpcUnixChannel({ socketPath: opts.path ?? sockPath, connectTimeoutMs: opts.connectTimeoutMs ?? 2000, maxReceiveBytes: opts.maxReceiveBytes ?? 1024 * 1024 });
  channels.push(c);
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The request body, then `then` with it. */
function readBody(stream: ServerHttp2Stream, then: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => then(Buffer.concat(chunks)));
}

/** A normal answer: headers, `body` bytes (framed by the caller), trailers with `status`. */
function answer(stream: ServerHttp2Stream, body: Buffer | Buffer[], trailers: Record<string, string> = { 'grpc-status': '0' }): void {
  if (stream.destroyed) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers(trailers));
  const parts = Array.isArray(body) ? body : [body];
  for (const p of parts) stream.write(p);
  stream.end();
}

/** Answers every call with its own request message echoed back. */
const echo: Handler = (stream) => readBody(stream, (body) => answer(stream, body));

async function failure(p: Promise<unknown>): Promise<GrpcCallError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(GrpcCallError);
    return err as GrpcCallError;
  }
  throw new Error('expected the call to fail');
}

const MSG = Buffer.from('hello, runtime');

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(sockPath, resolve));
});

afterEach(() => {
  for (const c of channels.splice(0)) c.close();
  handler = () => undefined;
});

afterAll(async () => {
  for (const s of sessions) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('grpcFrame and UnaryFrameReader', () => {
  it('frames a message with flag 0 and a big-endian length', () => {
    expect([...grpcFrame(Buffer.from([1, 2, 3]))]).toEqual([0, 0, 0, 0, 3, 1, 2, 3]);
    expect([...grpcFrame(Buffer.alloc(0))]).toEqual([0, 0, 0, 0, 0]);
  });

  it('reads one message split at every possible place, and an empty one', () => {
    const framed = grpcFrame(MSG);
    for (let cut = 0; cut <= framed.length; cut++) {
      const r = new UnaryFrameReader(1024);
      expect(r.push(framed.subarray(0, cut))).toBeUndefined();
      expect(r.push(framed.subarray(cut))).toBeUndefined();
      expect(r.finish()).toEqual(MSG);
    }
    const byByte = new UnaryFrameReader(1024);
    for (const b of framed) expect(byByte.push(Buffer.from([b]))).toBeUndefined();
    expect(byByte.finish()).toEqual(MSG);
    const empty = new UnaryFrameReader(1024);
    empty.push(grpcFrame(Buffer.alloc(0)));
    expect(empty.finish()).toEqual(Buffer.alloc(0));
  });

  it('refuses a length prefix over the cap before any of it arrives', () => {
    const r = new UnaryFrameReader(100);
    expect(r.push(Buffer.from([0, 0xff, 0xff, 0xff, 0xff]))).toMatchObject({ kind: 'too-large' });
    // Sticky: nothing after changes the verdict.
    expect(r.push(Buffer.alloc(10))).toMatchObject({ kind: 'too-large' });
    expect(r.finish()).toMatchObject({ kind: 'too-large' });
    expect(new UnaryFrameReader(100).push(Buffer.from([0, 0, 0, 0, 101]))).toMatchObject({ kind: 'too-large' });
    expect(new UnaryFrameReader(100).push(Buffer.from([0, 0, 0, 0, 100]))).toBeUndefined();
  });

  it('calls malformed: a compressed or unknown flag, two messages, a frame cut short, no message', () => {
    expect(new UnaryFrameReader(100).push(Buffer.from([1, 0, 0, 0, 1, 9]))).toMatchObject({ kind: 'malformed', text: expect.stringContaining('compressed') });
    expect(new UnaryFrameReader(100).push(Buffer.from([7, 0, 0, 0, 0]))).toMatchObject({ kind: 'malformed' });
    expect(new UnaryFrameReader(100).push(Buffer.concat([grpcFrame(MSG), grpcFrame(MSG)]))).toMatchObject({ kind: 'malformed', text: expect.stringContaining('more than one') });
    const two = new UnaryFrameReader(100);
    expect(two.push(grpcFrame(MSG))).toBeUndefined();
    expect(two.push(Buffer.from([0]))).toMatchObject({ kind: 'malformed' });
    const cutBody = new UnaryFrameReader(100);
    cutBody.push(grpcFrame(MSG).subarray(0, 9));
    expect(cutBody.finish()).toMatchObject({ kind: 'malformed', text: expect.stringContaining('4 of 14') });
    const cutHeader = new UnaryFrameReader(100);
    cutHeader.push(Buffer.from([0, 0, 0]));
    expect(cutHeader.finish()).toMatchObject({ kind: 'malformed', text: expect.stringContaining('header') });
    expect(new UnaryFrameReader(100).finish()).toMatchObject({ kind: 'malformed', text: expect.stringContaining('no message') });
  });

  it('never throws on random bytes in random chunks', () => {
    for (let i = 0; i < 300; i++) {
      const r = new UnaryFrameReader(i % 2 === 0 ? 64 : 1 << 20);
      const bytes = randomBytes(1 + (i % 97));
      let at = 0;
      while (at < bytes.length) {
        const n = 1 + ((bytes[at] ?? 0) % 13);
        r.push(bytes.subarray(at, at + n));
        at += n;
      }
      const out = r.finish();
      expect(Buffer.isBuffer(out) || ['too-large', 'malformed'].includes((out as { kind: string }).kind)).toBe(true);
    }
  });
});

describe('GrpcUnixChannel answers', () => {
  it('posts one framed message with the gRPC headers and returns the answer', async () => {
    let seen: IncomingHttpHeaders | undefined;
    let seenBody: Buffer | undefined;
    handler = (stream, headers) => {
      seen = headers;
      readBody(stream, (body) => {
        seenBody = body;
        answer(stream, grpcFrame(Buffer.from('answer')));
      });
    };
    const c = channel();
    expect((await c.unary('/runtime.v1.RuntimeService/Version', MSG, AbortSignal.timeout(5000), 4000)).toString()).toBe('answer');
    expect(seen).toMatchObject({ ':method': 'POST', ':path': '/runtime.v1.RuntimeService/Version', 'content-type': 'application/grpc', te: 'trailers' });
    expect(seen?.['grpc-timeout']).toMatch(/^\d{1,8}m$/);
    expect(Number(String(seen?.['grpc-timeout']).slice(0, -1))).toBeLessThanOrEqual(4000);
    expect(seenBody).toEqual(grpcFrame(MSG));
  });

  it('reuses one session for many calls, in parallel too', async () => {
    handler = echo;
    const before = sessionCount;
    const c = channel();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => c.unary('/x/Y', Buffer.from(`m${i}`), AbortSignal.timeout(5000), 5000)));
    expect(answers.map(String)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    await c.unary('/x/Y', MSG, AbortSignal.timeout(5000), 5000);
    expect(sessionCount - before).toBe(1);
    expect(c.sessionsOpened).toBe(1);
  });

  it('reads a message sent a few bytes per DATA frame, and one of 1 MiB', async () => {
    const big = randomBytes(1024 * 1024);
    handler = (stream, headers) =>
      readBody(stream, () => {
        if (headers[':path'] === '/big') answer(stream, grpcFrame(big));
        else {
          const framed = grpcFrame(MSG);
          const parts: Buffer[] = [];
          for (let i = 0; i < framed.length; i += 3) parts.push(framed.subarray(i, i + 3));
          answer(stream, parts);
        }
      });
    const c = channel({ maxReceiveBytes: 1024 * 1024 });
    expect(await c.unary('/small', MSG, AbortSignal.timeout(5000), 5000)).toEqual(MSG);
    expect((await c.unary('/big', MSG, AbortSignal.timeout(5000), 5000)).equals(big)).toBe(true);
  });

  it('rejects with the status and the decoded grpc-message of a non-zero status', async () => {
    handler = (stream) => readBody(stream, () => answer(stream, Buffer.alloc(0), { 'grpc-status': '5', 'grpc-message': 'container %22abc%22 not found: caf%C3%A9' }));
    const err = await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000));
    expect(err.code).toBe(GrpcStatus.NOT_FOUND);
    expect(err.details).toBe('container "abc" not found: café');
    expect(err.malformed).toBe(false);
    expect(err.message).toContain('NOT_FOUND');
    expect(grpcStatusName(12)).toBe('UNIMPLEMENTED');
    expect(grpcStatusName(99)).toBe('99');
  });

  it('keeps a grpc-message with a bad escape or invalid UTF-8 as sent, and cuts a huge one', async () => {
    handler = (stream) => readBody(stream, () => answer(stream, Buffer.alloc(0), { 'grpc-status': '13', 'grpc-message': 'bad %E0%A4%A escape %FF' }));
    expect((await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000))).details).toBe('bad %E0%A4%A escape %FF');
    handler = (stream) => readBody(stream, () => answer(stream, Buffer.alloc(0), { 'grpc-status': '13', 'grpc-message': 'y'.repeat(20_000) }));
    expect((await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000))).details.length).toBeLessThan(1100);
  });

  it('takes the status from the headers of a trailers-only answer', async () => {
    handler = (stream) =>
      readBody(stream, () => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'unknown service' }, { endStream: true }));
    const err = await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000));
    expect(err).toMatchObject({ code: GrpcStatus.UNIMPLEMENTED, details: 'unknown service', malformed: false });
    // Status OK with no message at all is not an answer to a unary call.
    handler = (stream) => readBody(stream, () => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true }));
    expect(await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000))).toMatchObject({ code: GrpcStatus.INTERNAL, malformed: true });
  });

  it('calls a truncated frame, a second message and a compressed one malformed', async () => {
    const framed = grpcFrame(Buffer.alloc(100, 7));
    for (const body of [framed.subarray(0, 50), framed.subarray(0, 3), Buffer.concat([grpcFrame(MSG), grpcFrame(MSG)]), Buffer.from([1, 0, 0, 0, 1, 0])]) {
      handler = (stream) => readBody(stream, () => answer(stream, body));
      const err = await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000));
      expect(err).toMatchObject({ code: GrpcStatus.INTERNAL, malformed: true });
    }
  });

  it('refuses an oversized length prefix at once and cancels the stream', async () => {
    let serverSawClose = false;
    handler = (stream) =>
      readBody(stream, () => {
        stream.on('close', () => (serverSawClose = true));
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
        // Says 4 GiB, sends 5 bytes of it and holds the stream open.
        stream.write(Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5]));
      });
    const t0 = performance.now();
    const err = await failure(channel({ maxReceiveBytes: 1000 }).unary('/x', MSG, AbortSignal.timeout(5000), 5000));
    expect(err).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
    expect(err.details).toContain('4294967295');
    expect(performance.now() - t0).toBeLessThan(2000);
    await until('the server to see the stream closed', () => serverSawClose);
  });

  it('rejects a wrong content type, an HTTP error without grpc-status, a bad status value, an answer without status', async () => {
    handler = (stream) => readBody(stream, () => stream.respond({ ':status': 200, 'content-type': 'text/html' }, { endStream: true }));
    expect(await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000))).toMatchObject({ code: GrpcStatus.UNKNOWN, malformed: true });
    handler = (stream) => readBody(stream, () => stream.respond({ ':status': 404 }, { endStream: true }));
    expect(await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000))).toMatchObject({ code: GrpcStatus.UNIMPLEMENTED });
    handler = (stream) => readBody(stream, () => stream.respond({ ':status': 503 }, { endStream: true }));
    expect(await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000))).toMatchObject({ code: GrpcStatus.UNAVAILABLE });
    handler = (stream) => readBody(stream, () => answer(stream, grpcFrame(MSG), { 'grpc-status': 'ok' }));
    expect(await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000))).toMatchObject({ code: GrpcStatus.UNKNOWN, malformed: true });
    handler = (stream) =>
      readBody(stream, () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
        stream.end(grpcFrame(MSG));
      });
    const noStatus = await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000));
    expect(noStatus).toMatchObject({ code: GrpcStatus.UNKNOWN, malformed: true });
    expect(noStatus.details).toContain('without a grpc-status');
  });

  it('maps a stream reset by the server', async () => {
    handler = (stream) => readBody(stream, () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    expect(await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000))).toMatchObject({ code: GrpcStatus.INTERNAL });
    handler = (stream) => readBody(stream, () => stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM));
    expect(await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000))).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
  });

  it('sends a refused stream once more, and gives up on a second refusal', async () => {
    let n = 0;
    handler = (stream) => {
      if (n++ === 0) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      else echo(stream, {}, stream.session as ServerHttp2Session);
    };
    expect(await channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000)).toEqual(MSG);
    expect(n).toBe(2);
    handler = (stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    expect(await failure(channel().unary('/x', MSG, AbortSignal.timeout(5000), 5000))).toMatchObject({ code: GrpcStatus.UNAVAILABLE });
  });
});

describe('GrpcUnixChannel connections', () => {
  it('after a GOAWAY finishes the calls the server took and opens a new session for the next', async () => {
    let held: ServerHttp2Stream | undefined;
    handler = (stream, headers, session) => {
      if (headers[':path'] === '/hold') {
        readBody(stream, () => {
          held = stream;
          // Graceful shutdown: this stream is the last one the server will process.
          session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id as number);
        });
        return;
      }
      echo(stream, headers, session);
    };
    const c = channel();
    const before = sessionCount;
    const first = c.unary('/hold', MSG, AbortSignal.timeout(5000), 5000);
    await until('the held call on the server', () => held !== undefined);
    await sleep(50); // the GOAWAY reaches the client
    const second = await c.unary('/echo', Buffer.from('after'), AbortSignal.timeout(5000), 5000);
    expect(second.toString()).toBe('after');
    answer(held as ServerHttp2Stream, grpcFrame(Buffer.from('held')));
    expect((await first).toString()).toBe('held');
    expect(sessionCount - before).toBe(2);
    expect(c.sessionsOpened).toBe(2);
  });

  it('fails calls in flight as UNAVAILABLE when the server drops the connection, and reconnects', async () => {
    handler = (stream, headers, session) => {
      if (headers[':path'] === '/drop') readBody(stream, () => session.destroy());
      else echo(stream, headers, session);
    };
    const c = channel();
    const err = await failure(c.unary('/drop', MSG, AbortSignal.timeout(5000), 5000));
    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(err.details).toContain(sockPath);
    expect(await c.unary('/echo', MSG, AbortSignal.timeout(5000), 5000)).toEqual(MSG);
    expect(c.sessionsOpened).toBe(2);
  });

  it('fails on a socket that answers garbage, naming the socket', async () => {
    const garbagePath = join(dir, 'garbage.sock');
    const garbage = net.createServer((s) => {
      s.on('error', () => undefined);
      s.resume(); // reads (and so sees the client go away)
      s.end('SSH-2.0-OpenSSH_9.2\r\n' + randomBytes(64).toString('latin1'));
    });
    await new Promise<void>((r) => garbage.listen(garbagePath, r));
    try {
      const t0 = performance.now();
      const err = await failure(channel({ path: garbagePath }).unary('/x', MSG, AbortSignal.timeout(3000), 3000));
      expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
      expect(err.details).toContain(garbagePath);
      expect(err.malformed).toBe(true);
      expect(performance.now() - t0).toBeLessThan(2000);
    } finally {
      await new Promise((r) => garbage.close(r));
    }
  });

  it('drops a connection that stays silent past connectTimeoutMs, and connects afresh for the next call', async () => {
    const silentPath = join(dir, 'silent.sock');
    const held = new Set<net.Socket>();
    let accepted = 0;
    const silent = net.createServer((s) => {
      accepted++;
      held.add(s);
      s.on('close', () => held.delete(s));
      s.resume();
    });
    await new Promise<void>((r) => silent.listen(silentPath, r));
    try {
      const c = channel({ path: silentPath, connectTimeoutMs: 200 });
      const t0 = performance.now();
      const err = await failure(c.unary('/x', MSG, AbortSignal.timeout(5000), 5000));
      expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
      expect(err.details).toContain('no HTTP/2 answer within 200 ms');
      expect(performance.now() - t0).toBeLessThan(1500);
      await failure(c.unary('/x', MSG, AbortSignal.timeout(5000), 5000));
      expect(accepted).toBe(2);
      await until('every held stream closed', () => held.size === 0);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('settles at the deadline (DEADLINE_EXCEEDED) or when the signal aborts (CANCELLED), cancelling the stream', async () => {
    const closed: number[] = [];
    handler = (stream) => {
      stream.resume();
      stream.on('close', () => closed.push(stream.rstCode));
    };
    const c = channel();
    let t0 = performance.now();
    expect(await failure(c.unary('/x', MSG, new AbortController().signal, 250))).toMatchObject({ code: GrpcStatus.DEADLINE_EXCEEDED });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(240);
    expect(performance.now() - t0).toBeLessThan(1500);
    t0 = performance.now();
    expect(await failure(c.unary('/x', MSG, AbortSignal.timeout(200), 10_000))).toMatchObject({ code: GrpcStatus.CANCELLED });
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(await failure(c.unary('/x', MSG, AbortSignal.abort(), 10_000))).toMatchObject({ code: GrpcStatus.CANCELLED });
    await until('both streams closed on the server', () => closed.length >= 2);
    expect(closed).toEqual([http2.constants.NGHTTP2_CANCEL, http2.constants.NGHTTP2_CANCEL]);
    expect(c.sessionsOpened).toBe(1);
  });

  it('UNAVAILABLE with ENOENT for a missing socket, ECONNREFUSED for one nobody listens on', async () => {
    const missing = await failure(channel({ path: join(dir, 'none.sock') }).unary('/x', MSG, AbortSignal.timeout(2000), 2000));
    expect(missing.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(missing.details).toContain('ENOENT');
    const stale = net.createServer();
    const bound = join(dir, 'bound.sock');
    const stalePath = join(dir, 'stale.sock');
    await new Promise<void>((r) => stale.listen(bound, r));
    renameSync(bound, stalePath);
    await new Promise((r) => stale.close(r));
    const refused = await failure(channel({ path: stalePath }).unary('/x', MSG, AbortSignal.timeout(2000), 2000));
    expect(refused.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(refused.details).toContain('ECONNREFUSED');
  });

  it('close() cancels calls in flight, closes the connection and refuses later calls', async () => {
    handler = (stream) => stream.resume();
    const c = channel();
    const pending = c.unary('/x', MSG, AbortSignal.timeout(10_000), 10_000);
    await until('a session on the server', () => sessions.size >= 1);
    const t0 = performance.now();
    c.close();
    expect(await failure(pending)).toMatchObject({ code: GrpcStatus.CANCELLED });
    expect(performance.now() - t0).toBeLessThan(200);
    await until('every session closed', () => sessions.size === 0);
    expect(await failure(c.unary('/x', MSG, AbortSignal.timeout(1000), 1000))).toMatchObject({ code: GrpcStatus.CANCELLED });
  });
});
