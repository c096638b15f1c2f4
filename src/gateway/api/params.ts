import { parseRfc3339Nano } from '../../io/rfc3339.js';
import { badParameter } from './envelope.js';

/**
 * Query parameters, validated the way the config is: an unknown or repeated parameter, a
 * malformed value or one out of bounds is a 400 that names the parameter. Nothing here builds
 * SQL; values leave this module typed (numbers, ids of a fixed shape, bounded text), and reach
 * DuckDB only as statement parameters.
 */

const MAX_TEXT = 256;
const DURATION = /^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const RELATIVE = /^now(?:-(.+))?$/;
const UNIX_SECONDS = /^\d{1,12}(?:\.\d{1,9})?$/;
const ENTITY_ID = /^[0-9a-f]{16}$/;

export const SEVERITIES: Readonly<Record<string, number>> = { TRACE: 1, DEBUG: 5, INFO: 9, WARN: 13, WARNING: 13, ERROR: 17, FATAL: 21 };

/** `10s`, `1m30s`, `500ms`, `2h`, `1d`; a bare number is seconds (as Prometheus reads `step`). */
export function parseDuration(text: string): number | undefined {
  if (UNIX_SECONDS.test(text)) return Math.round(Number(text) * 1000);
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(DURATION_PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Math.round(ms);
}

export class Params {
  readonly #query: URLSearchParams;
  readonly #allowed: ReadonlySet<string>;

  /** Refuses any parameter not in `allowed`: a typo must not silently widen a query. */
  constructor(query: URLSearchParams, allowed: readonly string[]) {
    this.#query = query;
    this.#allowed = new Set(allowed);
    for (const name of query.keys()) {
      if (!this.#allowed.has(name)) throw badParameter(name, `unknown parameter; this endpoint takes ${allowed.length === 0 ? 'none' : allowed.join(', ')}`);
    }
  }

  /** The one value of `name`, or undefined; given twice is an error. */
  one(name: string): string | undefined {
    const all = this.#query.getAll(name);
    if (all.length > 1) throw badParameter(name, 'given more than once');
    return all[0];
  }

  /** Every value of `name` (repeated, or comma-separated), at most `max`. */
  many(name: string, max: number): string[] {
    const out: string[] = [];
    for (const v of this.#query.getAll(name)) for (const part of v.split(',')) if (part.trim() !== '') out.push(part.trim());
    if (out.length > max) throw badParameter(name, `at most ${max} values`);
    for (const v of out) if (v.length > MAX_TEXT) throw badParameter(name, `a value longer than ${MAX_TEXT} characters`);
    return out;
  }

  /** Free text (a search string, a name), trimmed, at most 256 characters; empty is absent. */
  text(name: string): string | undefined {
    const v = this.one(name);
    if (v === undefined || v.trim() === '') return undefined;
    if (v.length > MAX_TEXT) throw badParameter(name, `longer than ${MAX_TEXT} characters`);
    if (/[\u0000-\u001f]/.test(v)) throw badParameter(name, 'contains control characters');
    return v.trim();
  }

  int(name: string, min: number, max: number, fallback: number): number {
    const v = this.one(name);
    if (v === undefined) return fallback;
    if (!/^\d{1,9}$/.test(v)) throw badParameter(name, `not a whole number from ${min} to ${max}`);
    const n = Number(v);
    if (n < min || n > max) throw badParameter(name, `must be from ${min} to ${max}, got ${n}`);
    return n;
  }

  choice<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const v = this.one(name);
    if (v === undefined) return fallback;
    if (!(values as readonly string[]).includes(v)) throw badParameter(name, `must be one of ${values.join(', ')}`);
    return v as T;
  }

  /** A duration in ms within [min, max]. */
  duration(name: string, min: number, max: number, fallback: number | undefined): number | undefined {
    const v = this.one(name);
    if (v === undefined) return fallback;
    const ms = parseDuration(v);
    if (ms === undefined) throw badParameter(name, 'not a duration; write 10s, 1m, 500ms, 2h or seconds as a number');
    if (ms < min || ms > max) throw badParameter(name, `must be from ${min} ms to ${max} ms, got ${ms} ms`);
    return ms;
  }

  /** A time: RFC 3339, Unix seconds, `now` or `now-15m`; Unix ms out. */
  time(name: string, nowMs: number, fallback: number): number {
    const v = this.one(name);
    if (v === undefined) return fallback;
    const rel = RELATIVE.exec(v);
    if (rel !== null) {
      if (rel[1] === undefined) return nowMs;
      const ago = parseDuration(rel[1]);
      if (ago === undefined) throw badParameter(name, `"now-…" needs a duration (now-15m)`);
      return nowMs - ago;
    }
    if (UNIX_SECONDS.test(v)) return Math.round(Number(v) * 1000);
    const ns = v.length <= 40 ? parseRfc3339Nano(v) : undefined;
    if (ns === undefined) throw badParameter(name, 'not a time; write RFC 3339 (2026-11-25T08:00:00Z), Unix seconds, now or now-15m');
    return Number(ns / 1_000_000n);
  }

  /** An entity id: 16 lowercase hex digits. */
  entityIds(name: string, max: number): string[] {
    const ids = this.many(name, max);
    for (const id of ids) if (!ENTITY_ID.test(id)) throw badParameter(name, `"${id.slice(0, 40)}" is not an entity id (16 hex digits)`);
    return ids;
  }

  /** A minimum severity: a number 0–24 or a name (TRACE, DEBUG, INFO, WARN, ERROR, FATAL). */
  severity(name: string): number {
    const v = this.one(name);
    if (v === undefined) return 0;
    if (/^\d{1,2}$/.test(v) && Number(v) <= 24) return Number(v);
    const s = SEVERITIES[v.toUpperCase()];
    if (s === undefined) throw badParameter(name, 'must be 0–24 or one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL');
    return s;
  }

  /** `key=value` pairs (point attributes to match). */
  attributes(name: string, max: number): [string, string][] {
    return this.many(name, max).map((kv) => {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw badParameter(name, `"${kv.slice(0, 40)}" is not key=value`);
      return [kv.slice(0, eq), kv.slice(eq + 1)];
    });
  }
}

export interface TimeRange {
  readonly fromMs: number;
  readonly toMs: number;
}

/** `from` and `to` (default: the `defaultSpanMs` before now), checked for order and span. */
export function timeRange(p: Params, nowMs: number, defaultSpanMs: number, maxSpanMs: number): TimeRange {
  const toMs = p.time('to', nowMs, nowMs);
  const fromMs = p.time('from', nowMs, toMs - defaultSpanMs);
  if (fromMs >= toMs) throw badParameter('from', 'must be before "to"');
  if (toMs - fromMs > maxSpanMs) throw badParameter('from', `the range may span at most ${Math.round(maxSpanMs / 3_600_000)} h`);
  return { fromMs, toMs };
}
