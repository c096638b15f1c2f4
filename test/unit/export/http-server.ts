/** Real HTTP(S) servers and a forward proxy on 127.0.0.1, for transport tests. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface Captured {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type Handler = (req: Captured, res: http.ServerResponse, raw: http.IncomingMessage) => void;

export interface TestServer {
  url: string;
  requests: Captured[];
  handler: Handler;
  close(): Promise<void>;
}

function attach(server: http.Server | https.Server, state: { requests: Captured[]; handler: Handler }): void {
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const captured = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      state.requests.push(captured);
      state.handler(captured, res, req);
    });
  });
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function closer(server: http.Server | https.Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

export async function startServer(handler: Handler = (_q, res) => res.end()): Promise<TestServer> {
  const server = http.createServer();
  const state: TestServer = { url: '', requests: [], handler, close: closer(server) };
  attach(server, state);
  const port = await listen(server);
  state.url = `http://127.0.0.1:${port}`;
  return state;
}

export interface Cert {
  dir: string;
  keyFile: string;
  certFile: string;
}

/** A self-signed certificate for 127.0.0.1, made with the openssl CLI. */
export function makeCert(): Cert {
  const dir = mkdtempSync(path.join(tmpdir(), 'sextant-tls-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile,
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { stdio: 'ignore' },
  );
  return { dir, keyFile, certFile };
}

export async function startHttpsServer(cert: Cert, handler: Handler = (_q, res) => res.end()): Promise<TestServer> {
  const server = https.createServer({ key: readFileSync(cert.keyFile), cert: readFileSync(cert.certFile) });
  const state: TestServer = { url: '', requests: [], handler, close: closer(server) };
  attach(server, state);
  const port = await listen(server);
  state.url = `https://127.0.0.1:${port}`;
  return state;
}

export interface TestProxy {
  url: string;
  /** `CONNECT host:port` tunnels and absolute-URI forwards seen. */
  seen: string[];
  close(): Promise<void>;
}

/** A forward proxy: tunnels CONNECT and forwards absolute-URI requests. */
export async function startProxy(): Promise<TestProxy> {
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    sockets.add(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A pino logger whose lines land in `lines`. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}
