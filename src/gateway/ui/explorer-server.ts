import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../self/logger.js';
import type { Counter, Registry } from '../../self/registry.js';
import { isLoopback } from '../api/query-api.js';
import { clearedSessionCookie, sessionCookie, SessionStore } from './sessions.js';
import { sendAsset, type StaticAssets } from './static-assets.js';

/**
 * The explorer's routes on the gateway's listener: `/` sends the browser to `/ui/`; `/ui/session`
 * exchanges a read token for a session cookie (POST), says how the page may read (GET) and ends
 * the session (DELETE); `/ui/assets/*` are the built files; every other `/ui/…` path is a view of
 * the page, answered with index.html so a deep link works after a reload. Every answer carries
 * a strict Content-Security-Policy: scripts and styles only from the gateway, no inline code, no
 * framing, requests only to the gateway itself.
 */

export const UI_PREFIX = '/ui';

/**
 * Whether the explorer answers this request (the gateway routes the rest to the API and ingest).
 * `/` only for a browser's GET or HEAD: anything else there stays ingest's 404, as before.
 */
export function isExplorerPath(url: string | undefined, method: string | undefined): boolean {
  if (url === undefined) return false;
  if (url === '/') return method === 'GET' || method === 'HEAD';
  return url === UI_PREFIX || url.startsWith(`${UI_PREFIX}/`) || url.startsWith(`${UI_PREFIX}?`);
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Largest login body read; a token is far shorter. */
const MAX_LOGIN_BODY = 4096;
/** A token as the login takes it: printable ASCII without spaces, at most this long. */
const MAX_TOKEN = 512;
const TOKEN_SHAPE = /^[\x21-\x7e]+$/;

export interface ExplorerDeps {
  readonly logger: Logger;
  readonly registry: Registry;
  /** Checks an Authorization header against the read tokens (the gateway owns the comparison). */
  readonly authorize: (authorization: string | undefined) => 'ok' | 'missing' | 'invalid';
  /** Whether any read token is configured (none: a login can never succeed). */
  readonly hasReadTokens: boolean;
  readonly readOpenOnLoopback: boolean;
}

type Mode = 'open' | 'session' | 'login' | 'closed';

export class ExplorerServer {
  readonly #assets: StaticAssets | undefined;
  readonly #sessions: SessionStore;
  readonly #deps: ExplorerDeps;
  readonly #requests: Counter;
  readonly #logins: Counter;

  constructor(assets: StaticAssets | undefined, sessions: SessionStore, deps: ExplorerDeps) {
    this.#assets = assets;
    this.#sessions = sessions;
    this.#deps = deps;
    this.#requests = deps.registry.counter('sextant_gateway_explorer_requests_total', 'Explorer requests (page, assets, session), by route and HTTP status.');
    this.#logins = deps.registry.counter('sextant_gateway_explorer_logins_total', 'Explorer logins (read token exchanged for a session), by result: ok, rejected, bad_request.');
    deps.registry.gauge('sextant_gateway_explorer_sessions', 'Explorer sessions held in memory (live or expired and not yet swept).').collect(() => sessions.size);
    if (assets === undefined) deps.logger.warn('the explorer is not built (dist/ui is missing): /ui answers 503; run npm run build');
  }

  /** Whether a request carries a live session cookie (the query API accepts it as a read token). */
  hasSession(req: IncomingMessage): boolean {
    return this.#sessions.check(req.headers.cookie) !== undefined;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const p = url.pathname;
    let route = 'page';
    let status: number;
    if (p === '/') {
      route = 'root';
      status = this.#redirect(res);
    } else if (p === `${UI_PREFIX}/session`) {
      route = 'session';
      status = await this.#session(req, res);
    } else if (p.startsWith(`${UI_PREFIX}/assets/`)) {
      route = 'asset';
      status = this.#methods(req, res, ['GET', 'HEAD']) ? this.#asset(req, res, p.slice(UI_PREFIX.length + 1)) : 405;
    } else {
      status = this.#methods(req, res, ['GET', 'HEAD']) ? this.#asset(req, res, 'index.html') : 405;
    }
    this.#requests.inc({ route, code: String(status) });
  }

  /** False (after a 405) when the method is not one of `allowed`. */
  #methods(req: IncomingMessage, res: ServerResponse, allowed: readonly string[]): boolean {
    if (allowed.includes(req.method ?? '')) return true;
    res.setHeader('Allow', allowed.join(', '));
    this.#json(res, 405, { status: 'error', errorType: 'method_not_allowed', error: `method not allowed: use ${allowed.join(' or ')}` });
    return false;
  }

  #redirect(res: ServerResponse): number {
    res.writeHead(302, { ...SECURITY_HEADERS, Location: `${UI_PREFIX}/`, 'Content-Length': '0', 'Cache-Control': 'no-cache' });
    res.end();
    return 302;
  }

  #asset(req: IncomingMessage, res: ServerResponse, name: string): number {
    if (this.#assets === undefined) {
      this.#text(res, 503, 'The explorer is not built: run `npm run build` (it writes dist/ui).\n');
      return 503;
    }
    const asset = this.#assets.get(name);
    if (asset === undefined) {
      this.#text(res, 404, 'not found\n');
      return 404;
    }
    sendAsset(req, res, asset, SECURITY_HEADERS);
    return res.statusCode;
  }

  #mode(req: IncomingMessage): Mode {
    if (this.#deps.readOpenOnLoopback && isLoopback(req.socket.remoteAddress)) return 'open';
    if (this.hasSession(req)) return 'session';
    return this.#deps.hasReadTokens ? 'login' : 'closed';
  }

  async #session(req: IncomingMessage, res: ServerResponse): Promise<number> {
    if (!this.#methods(req, res, ['GET', 'POST', 'DELETE'])) return 405;
    if (req.method === 'GET') {
      const mode = this.#mode(req);
      const exp = this.#sessions.check(req.headers.cookie);
      return this.#json(res, 200, { status: 'success', data: { mode, expiresAt: exp === undefined ? null : new Date(exp).toISOString() } });
    }
    // A form on another site must not log a browser in or out (SameSite guards the cookie; this
    // guards the exchange itself).
    if (!sameOrigin(req)) return this.#json(res, 403, { status: 'error', errorType: 'forbidden', error: 'cross-origin request refused' });
    if (req.method === 'DELETE') {
      this.#sessions.revoke(req.headers.cookie);
      res.setHeader('Set-Cookie', clearedSessionCookie());
      return this.#json(res, 200, { status: 'success', data: { mode: this.#deps.readOpenOnLoopback && isLoopback(req.socket.remoteAddress) ? 'open' : 'login' } });
    }
    const token = await readToken(req);
    if (typeof token !== 'string') {
      this.#logins.inc({ result: 'bad_request' });
      if (token.status === 413) res.shouldKeepAlive = false;
      return this.#json(res, token.status, { status: 'error', errorType: 'bad_data', error: token.error });
    }
    if (!this.#deps.hasReadTokens) {
      this.#logins.inc({ result: 'rejected' });
      return this.#json(res, 403, { status: 'error', errorType: 'forbidden', error: 'this gateway has no read tokens (gateway.readTokens): no token can log in' });
    }
    if (this.#deps.authorize(`Api-Token ${token}`) !== 'ok') {
      this.#logins.inc({ result: 'rejected' });
      return this.#json(res, 403, { status: 'error', errorType: 'forbidden', error: 'read token not accepted' });
    }
    const s = this.#sessions.create();
    this.#logins.inc({ result: 'ok' });
    res.setHeader('Set-Cookie', sessionCookie(s.id, this.#sessions.ttlMs, isTls(req)));
    return this.#json(res, 200, { status: 'success', data: { mode: 'session', expiresAt: new Date(s.expiresAtMs).toISOString() } });
  }

  #json(res: ServerResponse, status: number, body: unknown): number {
    const buf = Buffer.from(JSON.stringify(body), 'utf8');
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(buf.length), 'Cache-Control': 'no-store' });
    res.end(buf);
    return status;
  }

  #text(res: ServerResponse, status: number, text: string): void {
    const buf = Buffer.from(text, 'utf8');
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(buf.length), 'Cache-Control': 'no-store' });
    res.end(buf);
  }
}

function isTls(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}

/** No Origin (not a browser's cross-site request), or an Origin naming this very host. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  if (host === undefined) return false;
  return origin === `http://${host}` || origin === `https://${host}`;
}

/** The token of a login body: JSON `{"token":"…"}` up to 4 KiB; or why it cannot be read. */
async function readToken(req: IncomingMessage): Promise<string | { status: number; error: string }> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    return { status: 415, error: 'send the token as application/json: {"token":"…"}' };
  }
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_LOGIN_BODY) {
    req.resume();
    return { status: 413, error: `login body larger than ${MAX_LOGIN_BODY} bytes` };
  }
  const raw = await new Promise<Buffer | undefined>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= MAX_LOGIN_BODY) {
        chunks.push(chunk);
        return;
      }
      // Too large: answer now and discard the rest (the answer closes the connection).
      req.off('data', onData);
      req.resume();
      resolve(undefined);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
  if (raw === undefined) return { status: 413, error: `login body larger than ${MAX_LOGIN_BODY} bytes` };
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return { status: 400, error: 'login body is not JSON: send {"token":"…"}' };
  }
  const token = typeof body === 'object' && body !== null ? (body as { token?: unknown }).token : undefined;
  if (typeof token !== 'string' || token.length === 0) return { status: 400, error: 'login body has no "token" string' };
  if (token.length > MAX_TOKEN || !TOKEN_SHAPE.test(token)) return { status: 400, error: `"token" must be 1 to ${MAX_TOKEN} printable characters without spaces` };
  return token;
}
