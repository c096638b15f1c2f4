import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../../../src/self/logger.js';

/**
 * A loopback HTTPS server that answers like the Kubernetes API server, from the recorded
 * responses in test/fixtures/k8s/ (there is no API server on these machines). Each test sets
 * `handle` to route requests; every request is recorded with its query and Authorization header.
 */

export const FIXTURES = new URL('../../../fixtures/k8s/', import.meta.url).pathname;

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

export function fixtureJson<T = unknown>(name: string): T {
  return JSON.parse(fixture(name)) as T;
}

/** A self-signed certificate for 127.0.0.1, made with the openssl CLI once per test file. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sextant-k8s-tls-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SeenRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly authorization: string | undefined;
  readonly at: number;
  readonly method: string;
  /** The request body as text (writes: the Lease's POST and PUT); '' for a GET. */
  readonly body: string;
}

export type Handler = (req: SeenRequest, res: ServerResponse) => void;

export class FakeApiServer {
  readonly #tls: { key: string; cert: string };
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  readonly requests: SeenRequest[] = [];
  handle: Handler = (_req, res) => json(res, 404, fixtureJson('status-404-replicaset.json'));
  port = 0;

  constructor(tls: { key: string; cert: string }) {
    this.#tls = tls;
  }

  get ca(): string {
    return this.#tls.cert;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Listens (on the port of an earlier listen when there was one: "the API server came back"). */
  async listen(): Promise<void> {
    const server = createServer({ key: this.#tls.key, cert: this.#tls.cert }, (req: IncomingMessage, res: ServerResponse) => {
      const u = new URL(req.url ?? '/', 'https://127.0.0.1');
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen: SeenRequest = { path: u.pathname, query: u.searchParams, authorization: req.headers.authorization, at: performance.now(), method: req.method ?? 'GET', body: Buffer.concat(chunks).toString('utf8') };
        this.requests.push(seen);
        this.handle(seen, res);
      });
    });
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening and cuts every open connection (held watches too): "the API server went down". */
  async close(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (s === undefined) return;
    for (const sock of this.#sockets) sock.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  of(path: string, watch?: boolean): SeenRequest[] {
    return this.requests.filter((r) => r.path === path && (watch === undefined || (r.query.get('watch') === '1') === watch));
  }
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text);
}

/** A watch response: chunked, the given lines written at once; left open unless `end`. */
export function watchStream(res: ServerResponse, body: string | Buffer, end: boolean): void {
  res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
  // The API server sends a watch's headers at once, before any event.
  res.flushHeaders();
  if (body.length > 0) res.write(body);
  if (end) res.end();
}

/** A logger whose lines are kept for assertions. */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>>; text: () => string } {
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw += chunk.toString('utf8');
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger('debug', dest), lines, text: () => raw };
}

