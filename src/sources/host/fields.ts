/**
 * Allocation-free helpers for the whitespace-separated fields of /proc text (used by the
 * /proc/net/tcp counter; the every-cycle files are parsed on bytes in src/native/host-parse.ts).
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

/** Index of the end of the line starting at `i` (the `\n`, or the text's length). */
export function lineEnd(text: string, i: number): number {
  const nl = text.indexOf('\n', i);
  return nl === -1 ? text.length : nl;
}
