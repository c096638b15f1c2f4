import { randomBytes } from 'node:crypto';

/** The session cookie's name; its value is 32 random bytes, base64url (43 characters). */
export const SESSION_COOKIE = 'sextant-session';
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * Explorer sessions: a read token is exchanged once for a random id that the browser holds in
 * an HttpOnly cookie, so the token never sits in page script or storage. Ids live in memory
 * only: a gateway restart ends every session (the page asks for the token again). Bounded: past
 * `maxSessions` the one closest to expiry goes first.
 */
export class SessionStore {
  readonly #ttlMs: number;
  readonly #maxSessions: number;
  readonly #now: () => number;
  /** id → expiry (Unix ms); Map order is creation order, which is expiry order (one ttl). */
  readonly #expiry = new Map<string, number>();

  constructor(ttlMs: number, maxSessions = 10_000, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#maxSessions = maxSessions;
    this.#now = now;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  get size(): number {
    return this.#expiry.size;
  }

  create(): { id: string; expiresAtMs: number } {
    this.#sweep();
    while (this.#expiry.size >= this.#maxSessions) this.#expiry.delete(this.#expiry.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const expiresAtMs = this.#now() + this.#ttlMs;
    this.#expiry.set(id, expiresAtMs);
    return { id, expiresAtMs };
  }

  /** The session's expiry when the Cookie header carries a live one; undefined otherwise. */
  check(cookieHeader: string | undefined): number | undefined {
    const id = sessionIdFrom(cookieHeader);
    if (id === undefined) return undefined;
    const exp = this.#expiry.get(id);
    if (exp === undefined) return undefined;
    if (exp <= this.#now()) {
      this.#expiry.delete(id);
      return undefined;
    }
    return exp;
  }

  /** Ends the session the Cookie header names (logout); true when there was one. */
  revoke(cookieHeader: string | undefined): boolean {
    const id = sessionIdFrom(cookieHeader);
    return id !== undefined && this.#expiry.delete(id);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, exp] of this.#expiry) {
      if (exp > now) break;
      this.#expiry.delete(id);
    }
  }
}

/** The session id in a Cookie header, when it has the shape of one (anything else is ignored). */
export function sessionIdFrom(cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined || cookieHeader.length > 8192) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    if (SESSION_ID.test(value)) return value;
  }
  return undefined;
}

/** Set-Cookie for a new session: HttpOnly (no script reads it), SameSite=Strict, the whole origin. */
export function sessionCookie(id: string, ttlMs: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Max-Age=${Math.floor(ttlMs / 1000)}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** Set-Cookie that removes the session cookie (logout). */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict`;
}
