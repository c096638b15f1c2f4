import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP proxy in front of a real gateway that injects the faults an agent meets in
 * production. Faults are switched at runtime; `down()` closes the listening socket so the
 * agent sees a real ECONNREFUSED, `up()` listens again on the same port.
 */
export type Fault =
  | { kind: 'pass' }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'slow'; delayMs: number }
  /** Read part of the request, then destroy the socket: a reset mid-request. */
  | { kind: 'reset' };

export interface FaultProxy {
  readonly url: string;
  set(fault: Fault, times?: number): void;
  /** Every `n`th request gets `fault`, the others pass, until `set` is called again. */
  setEvery(n: number, fault: Fault): void;
  down(): Promise<void>;
  up(): Promise<void>;
  /** Requests seen per (path, status answered); 'reset' for resets. */
  readonly seen: { path: string; outcome: number | 'reset'; at: number }[];
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  let fault: Fault = { kind: 'pass' };
  let remaining = Infinity;
  let every = 0;
  let counted = 0;
  const seen: { path: string; outcome: number | 'reset'; at: number }[] = [];
  const targetUrl = new URL(target);

  const current = (): Fault => {
    if (every > 0) return ++counted % every === 0 ? fault : { kind: 'pass' };
    if (remaining <= 0) return { kind: 'pass' };
    remaining--;
    return fault;
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = req.url ?? '/';
    const f = current();
    if (f.kind === 'reset') {
      req.once('data', () => {
        seen.push({ path, outcome: 'reset', at: Date.now() });
        req.socket.destroy();
      });
      req.once('end', () => req.socket.destroy());
      return;
    }
    if (f.kind === 'status') {
      req.resume();
      req.once('end', () => {
        seen.push({ path, outcome: f.status, at: Date.now() });
        res.writeHead(f.status, { 'content-type': 'text/plain', ...f.headers }).end(f.body ?? `injected ${f.status}\n`);
      });
      return;
    }
    const forward = (): void => {
      const upstream = http.request(
        { host: targetUrl.hostname, port: targetUrl.port, method: req.method, path, headers: req.headers },
        (up) => {
          seen.push({ path, outcome: up.statusCode ?? 0, at: Date.now() });
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502).end('upstream error\n');
      });
      req.pipe(upstream);
    };
    if (f.kind === 'slow') setTimeout(forward, f.delayMs);
    else forward();
  };

  let server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  const closeServer = (s: http.Server): Promise<void> =>
    new Promise((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });

  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    set(f, times = Infinity) {
      fault = f;
      remaining = times;
      every = 0;
    },
    setEvery(n, f) {
      fault = f;
      every = n;
      counted = 0;
    },
    async down() {
      await closeServer(server);
    },
    async up() {
      server = http.createServer(handler);
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    },
    async close() {
      if (server.listening) await closeServer(server);
    },
  };
}
