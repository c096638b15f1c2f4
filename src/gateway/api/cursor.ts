import { createHash } from 'node:crypto';
import { badParameter } from './envelope.js';

/**
 * Opaque paging cursors: where the last page ended (a time and a sequence number, both exact),
 * and a fingerprint of the query it belongs to, so a cursor carried over to other filters is
 * refused instead of quietly paging something else. base64url of a small JSON object.
 */

export interface Position {
  /** Nanoseconds (logs, events) or milliseconds, as a decimal string: exact beyond 2^53. */
  readonly time: string;
  readonly seq: number;
}

const MAX_CURSOR = 200;

/** A fingerprint of the filters a cursor continues (everything but the cursor and the limit). */
export function queryFingerprint(endpoint: string, query: URLSearchParams): string {
  const parts: string[] = [];
  for (const [k, v] of query) if (k !== 'cursor' && k !== 'limit') parts.push(`${k}=${v}`);
  parts.sort();
  return createHash('sha256').update(`${endpoint}?${parts.join('&')}`).digest('hex').slice(0, 12);
}

export function encodeCursor(pos: Position, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ t: pos.time, s: pos.seq, f: fingerprint })).toString('base64url');
}

/** The position in `text`, or a 400 naming `cursor`. */
export function decodeCursor(text: string | undefined, fingerprint: string): Position | undefined {
  if (text === undefined) return undefined;
  if (text.length === 0 || text.length > MAX_CURSOR || !/^[A-Za-z0-9_-]+$/.test(text)) throw badParameter('cursor', 'malformed cursor; pass the nextCursor of the previous page unchanged');
  let o: unknown;
  try {
    o = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw badParameter('cursor', 'malformed cursor; pass the nextCursor of the previous page unchanged');
  }
  const c = o as { t?: unknown; s?: unknown; f?: unknown } | null;
  if (c === null || typeof c !== 'object' || typeof c.t !== 'string' || !/^\d{1,20}$/.test(c.t) || typeof c.s !== 'number' || !Number.isSafeInteger(c.s) || c.s < 0 || typeof c.f !== 'string') {
    throw badParameter('cursor', 'malformed cursor; pass the nextCursor of the previous page unchanged');
  }
  if (c.f !== fingerprint) throw badParameter('cursor', 'the cursor belongs to another query; page with the same filters, or start without a cursor');
  return { time: c.t, seq: c.s };
}
