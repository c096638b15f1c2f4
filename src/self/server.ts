import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.js';
import { registerMemoryMetrics } from './process-memory.js';
import type { Registry } from './registry.js';

/**
 * Readiness as the agent knows it. Ready once the first export succeeded or the endpoint is
 * known reachable (it answered at all, even with an error status); the reason is shown on
 * `/readyz` so `kubectl describe` says why a pod is not ready.
 */
export class Readiness {
  #ready = false;
  #reason = 'no export attempted yet';
  readonly #details = new Map<string, () => string>();

  /**
   * A line shown under the verdict that does not change it (Kubernetes metadata: records flow
   * without the API, so losing it must not take the agent out of service).
   */
  addDetail(name: string, describe: () => string): void {
    this.#details.set(name, describe);
  }

  /** `name: text` lines of every detail. */
  details(): string {
    let out = '';
    for (const [name, describe] of this.#details) out += `${name}: ${describe()}\n`;
    return out;
  }

  markReady(): void {
    this.#ready = true;
    this.#reason = 'ok';
  }

  markNotReady(reason: string): void {
    this.#ready = false;
    this.#reason = reason;
  }

  get ready(): boolean {
    return this.#ready;
  }

  get reason(): string {
    return this.#reason;
  }
}

export interface SelfServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Standard process metrics, read at scrape time (Prometheus client conventions). */
export function registerProcessMetrics(registry: Registry): void {
  const start = Date.now() / 1000;
  registry.gauge('process_resident_memory_bytes', 'Resident set size of the agent process.').collect(() => process.memoryUsage.rss());
  registry.gauge('process_heap_bytes', 'V8 heap in use.').collect(() => process.memoryUsage().heapUsed);
  // A counter (promtool rejects a gauge named *_total), read from the kernel at scrape time.
  registry.counter('process_cpu_seconds_total', 'User plus system CPU time of the agent process.').collect(() => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  });
  registry.gauge('process_start_time_seconds', 'Start time of the process, Unix seconds.').set(start);
  registerMemoryMetrics(registry);
}

/** `/healthz`, `/readyz` and `/metrics` on the self listen address. */
export async function startSelfServer(
  listen: { readonly host: string; readonly port: number },
  deps: { registry: Registry; readiness: Readiness; logger: Logger; status?: (() => Promise<unknown>) | undefined },
): Promise<SelfServer> {
  const { host, port } = listen;
  // Through getBuiltinModule, not an ESM import: importing node:http as a module also evaluates
  // its lazy getters (WebSocket, EventSource: Node's bundled undici), +7.2 MB against +0.9 MB
  // measured on Node 24.
  const http = process.getBuiltinModule('node:http');
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (url) {
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const r = deps.readiness;
        res.writeHead(r.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${r.ready ? 'ready' : 'not ready'}: ${r.reason}\n${r.details()}`);
        return;
      }
      case '/metrics':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(deps.registry.render());
        return;
      case '/status':
        // What /metrics cannot carry (per-file checkpoint lag: paths are no label values), as JSON for `sextant top`.
        if (deps.status === undefined) break;
        deps.status().then(
          (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
          () => res.writeHead(500, { 'content-type': 'text/plain' }).end('status unavailable\n'),
        );
        return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  deps.logger.debug({ url }, 'self endpoints listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
