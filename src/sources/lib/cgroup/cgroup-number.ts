/**
 * Numbers in cgroup files: unsigned 64-bit decimals (`memory.current`, `cpuacct.usage`), and
 * limits that are either a number or `max` (v2) or, in v1, the largest page-aligned value
 * (`PAGE_COUNTER_MAX * PAGE_SIZE`: 9223372036854771712 with 4 KiB pages, slightly less with
 * larger pages). Values become doubles: exact below 2^53, which no byte or nanosecond counter
 * of a running container reaches; metrics are doubles on the wire anyway.
 */

/** A limit at or above this is "no limit" (4 EiB: no machine has that much memory or pids). */
export const UNLIMITED_AT = 2 ** 62;
/** u64 has at most 20 decimal digits; a longer number is not the kernel's. */
const MAX_DIGITS = 20;
/** Doubles cannot tell u64 max from one past it, so 20-digit values are compared as text. */
const U64_MAX = '18446744073709551615';

/** The decimal in `text[s, e)`, or NaN if it is not 1–20 digits of a u64. Allocates nothing. */
export function readUnsigned(text: string, s: number, e: number): number {
  if (e <= s || e - s > MAX_DIGITS) return Number.NaN;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number.NaN;
    v = v * 10 + d;
  }
  return e - s === MAX_DIGITS && !notAboveU64(text, s) ? Number.NaN : v;
}

/** Whether the 20 digits at `s` are at most u64 max (digit-wise, no allocation). */
function notAboveU64(text: string, s: number): boolean {
  for (let i = 0; i < MAX_DIGITS; i++) {
    const d = text.charCodeAt(s + i) - U64_MAX.charCodeAt(i);
    if (d !== 0) return d < 0;
  }
  return true;
}

/** Bounds of the one value in a single-value file, trailing newline and blanks dropped. */
export function valueEnd(text: string): number {
  let e = text.length;
  while (e > 0) {
    const c = text.charCodeAt(e - 1);
    if (c !== 10 && c !== 32 && c !== 9) break;
    e--;
  }
  return e;
}

/** A single-value counter or gauge file (`memory.current`, `pids.current`, `cpuacct.usage`, `memory.usage_in_bytes`). */
export function parseValue(text: string): number | undefined {
  const v = readUnsigned(text, 0, valueEnd(text));
  return Number.isNaN(v) ? undefined : v;
}

/**
 * A limit file (`memory.max`, `pids.max`, `memory.limit_in_bytes`): `Infinity` for no limit
 * (`max`, or v1's huge value), the number otherwise, undefined if unreadable.
 */
export function parseLimit(text: string): number | undefined {
  const e = valueEnd(text);
  if (e === 3 && text.startsWith('max')) return Number.POSITIVE_INFINITY;
  const v = readUnsigned(text, 0, e);
  if (Number.isNaN(v)) return undefined;
  return v >= UNLIMITED_AT ? Number.POSITIVE_INFINITY : v;
}
