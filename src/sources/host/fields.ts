/**
 * Allocation-free helpers for the whitespace-separated fields of /proc text. The parsers walk a
 * line with index arithmetic instead of `split`, so a cycle over a few hundred lines allocates
 * only the strings it keeps (device names) and the result objects.
 */

/** Index of the first non-blank (space or tab) character at or after `i`, at most `end`. */
export function skipBlanks(text: string, i: number, end: number): number {
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9) break;
    i++;
  }
  return i;
}

/** Index just past the field starting at `i` (the next blank, or `end`). */
export function fieldEnd(text: string, i: number, end: number): number {
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9) break;
    i++;
  }
  return i;
}

/**
 * `text[start, end)` as a non-negative integer, or NaN when it is empty, has a non-digit, or
 * exceeds 2^53 (a kernel u64 that large cannot be represented exactly; we refuse rather than
 * report a rounded counter).
 */
export function parseUint(text: string, start: number, end: number): number {
  if (start >= end || end - start > 16) return NaN;
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return Number.isSafeInteger(v) ? v : NaN;
}

/** Index of the end of the line starting at `i` (the `\n`, or the text's length). */
export function lineEnd(text: string, i: number): number {
  const nl = text.indexOf('\n', i);
  return nl === -1 ? text.length : nl;
}

/**
 * Reads up to `max` blank-separated unsigned integers from `text[i, end)` into `out`. Returns how
 * many were read (fewer when the line ends first), or -1 when a field is not an integer.
 */
export function readUints(text: string, i: number, end: number, out: Float64Array, max = out.length): number {
  let n = 0;
  while (n < max) {
    i = skipBlanks(text, i, end);
    if (i >= end) break;
    const e = fieldEnd(text, i, end);
    const v = parseUint(text, i, e);
    if (Number.isNaN(v)) return -1;
    out[n++] = v;
    i = e;
  }
  return n;
}
