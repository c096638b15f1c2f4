import http from 'node:http';

/**
 * An HTTP proxy between the agent and the gateway that injects the endpoint faults of the soak:
 * `down()` closes the listening socket and every open connection (the agent sees a real
 * ECONNREFUSED), `up()` listens again on the same port, `storm(status, retryAfterS)` answers
 * every request with that status and a Retry-After header until `pass()`. Counts, never logs,
 * what it did (bounded memory however long the soak runs).
 */
export class FaultProxy {
  #target;
  #server;
  #port = 0;
  #fault = { kind: 'pass' };
  /** outcome (status code, 'error') → requests. */
  counts = new Map();

  constructor(targetUrl) {
    this.#target = new URL(targetUrl);
  }

  get url() {
    return `http://127.0.0.1:${this.#port}`;
  }

  get isUp() {
    return this.#server?.listening === true;
  }

  async start() {
    await this.#listen(0);
    return this;
  }

  pass() {
    this.#fault = { kind: 'pass' };
  }

  storm(status, retryAfterS) {
    this.#fault = { kind: 'status', status, retryAfter: String(retryAfterS) };
  }

  async down() {
    if (!this.isUp) return;
    const s = this.#server;
    await new Promise((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  async up() {
    if (this.isUp) return;
    await this.#listen(this.#port);
  }

  async close() {
    await this.down();
  }

  #count(outcome) {
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
  }

  #listen(port) {
    this.#server = http.createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 5_000;
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#port = this.#server.address().port;
        resolve();
      });
    });
  }

  #handle(req, res) {
    const f = this.#fault;
    if (f.kind === 'status') {
      req.resume();
      req.once('end', () => {
        this.#count(f.status);
        res.writeHead(f.status, { 'content-type': 'text/plain', 'retry-after': f.retryAfter }).end(`injected ${f.status}\n`);
      });
      return;
    }
    const upstream = http.request(
      { host: this.#target.hostname, port: this.#target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        this.#count(up.statusCode ?? 0);
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      this.#count('error');
      if (!res.headersSent) res.writeHead(502).end('upstream error\n');
      else res.destroy();
    });
    req.on('error', () => upstream.destroy());
    req.pipe(upstream);
  }
}
