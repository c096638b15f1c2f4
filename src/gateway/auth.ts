import { createHash, timingSafeEqual } from 'node:crypto';
import type { SecretValue } from './config.js';

export type AuthResult = 'ok' | 'missing' | 'invalid';

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Checks `Authorization: Api-Token <t>` (Dynatrace style) or `Bearer <t>`.
 *
 * Tokens are compared as SHA-256 digests with `timingSafeEqual`: the digests always have equal
 * length, so neither the content nor the length of an accepted token leaks through timing, and
 * every accepted token is compared (no early exit) so the position of a match does not either.
 */
export class TokenAuth {
  readonly #digests: readonly Buffer[];

  constructor(tokens: readonly SecretValue[]) {
    this.#digests = tokens.map((t) => digest(t.reveal()));
  }

  /** No tokens configured: every request is accepted. */
  get open(): boolean {
    return this.#digests.length === 0;
  }

  check(header: string | undefined): AuthResult {
    if (this.#digests.length === 0) return 'ok';
    if (header === undefined) return 'missing';
    const token = parseAuthorization(header);
    if (token === undefined) return 'missing';
    const d = digest(token);
    let match = false;
    for (const accepted of this.#digests) {
      // The comparison comes first so it runs for every token, whatever matched before.
      match = timingSafeEqual(d, accepted) || match;
    }
    return match ? 'ok' : 'invalid';
  }
}

/** The token from an Authorization header, or undefined when the scheme is neither Api-Token nor Bearer. */
export function parseAuthorization(header: string): string | undefined {
  const trimmed = header.trim();
  const sp = trimmed.indexOf(' ');
  if (sp <= 0) return undefined;
  const scheme = trimmed.slice(0, sp).toLowerCase();
  if (scheme !== 'api-token' && scheme !== 'bearer') return undefined;
  const token = trimmed.slice(sp + 1).trim();
  return token === '' ? undefined : token;
}
