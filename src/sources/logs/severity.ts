/**
 * Cheap severity detection on a decoded log body, for the OTLP SeverityNumber and text.
 *
 * Looks at no more than the first SCAN_CHARS characters, reads char codes in place and makes no
 * string: the body is parsed once, by whoever exports it, and not here.
 *   - JSON bodies (first non-blank char `{`): a top-level `level`, `severity`, `lvl` or
 *     `log.level` key (case-insensitive) with a string value (`"warn"`, `"ERROR"`, …) or a number
 *     (pino/bunyan: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal).
 *   - Plain bodies: a level word as the first token, or after tokens that look like a timestamp
 *     (start with a digit), a `[thread]`-style bracketed token, punctuation (`|`, `-`), or logfmt
 *     pairs (`time=… level=info`); optionally in brackets (`[ERROR]`, `<warn>`). The word must
 *     end at a delimiter, so `INFORMATIONAL` or `Errors found` do not count. A glog/klog prefix
 *     (`I1125 10:16:51.123456 …`, letter I/W/E/F then MMDD) counts too.
 * Anything else gives 0 (UNSPECIFIED). Words, case-insensitive: TRACE; DEBUG, DBG; INFO,
 * INFORMATION; WARN, WARNING; ERROR, ERR; FATAL, CRITICAL, CRIT, PANIC, EMERG.
 */
import { Severity } from '../../model/log.js';

/** How much of the body is looked at. */
export const SCAN_CHARS = 256;
/** Tokens skipped before the level word in a plain body. */
const MAX_PLAIN_TOKENS = 8;

const TEXTS: Readonly<Record<number, string>> = {
  [Severity.TRACE]: 'TRACE',
  [Severity.DEBUG]: 'DEBUG',
  [Severity.INFO]: 'INFO',
  [Severity.WARN]: 'WARN',
  [Severity.ERROR]: 'ERROR',
  [Severity.FATAL]: 'FATAL',
};

/** The canonical text for a number detectSeverity returns; '' for 0. */
export function severityText(severityNumber: number): string {
  return TEXTS[severityNumber] ?? '';
}

/** `s[i, i + lit.length)` equals the lower-case ASCII `lit`, ignoring case. */
function eqi(s: string, i: number, lit: string): boolean {
  for (let k = 0; k < lit.length; k++) {
    if ((s.charCodeAt(i + k) | 0x20) !== lit.charCodeAt(k)) return false;
  }
  return true;
}

function isLetter(c: number): boolean {
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x7a;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The severity of the word `s[from, to)`, or 0. */
function levelWord(s: string, from: number, to: number): number {
  switch (to - from) {
    case 3:
      if (eqi(s, from, 'err')) return Severity.ERROR;
      if (eqi(s, from, 'dbg')) return Severity.DEBUG;
      return 0;
    case 4:
      if (eqi(s, from, 'info')) return Severity.INFO;
      if (eqi(s, from, 'warn')) return Severity.WARN;
      if (eqi(s, from, 'crit')) return Severity.FATAL;
      return 0;
    case 5:
      if (eqi(s, from, 'error')) return Severity.ERROR;
      if (eqi(s, from, 'debug')) return Severity.DEBUG;
      if (eqi(s, from, 'trace')) return Severity.TRACE;
      if (eqi(s, from, 'fatal')) return Severity.FATAL;
      if (eqi(s, from, 'panic')) return Severity.FATAL;
      if (eqi(s, from, 'emerg')) return Severity.FATAL;
      return 0;
    case 7:
      return eqi(s, from, 'warning') ? Severity.WARN : 0;
    case 8:
      return eqi(s, from, 'critical') ? Severity.FATAL : 0;
    case 11:
      return eqi(s, from, 'information') ? Severity.INFO : 0;
    default:
      return 0;
  }
}

/** pino/bunyan numeric levels: 10..60 in steps of ten (in-between values round down). */
function numericLevel(n: number): number {
  if (n < 10 || n > 60) return 0;
  if (n < 20) return Severity.TRACE;
  if (n < 30) return Severity.DEBUG;
  if (n < 40) return Severity.INFO;
  if (n < 50) return Severity.WARN;
  if (n < 60) return Severity.ERROR;
  return Severity.FATAL;
}

/** The OTLP SeverityNumber found in `body`, or 0 (UNSPECIFIED). Never throws. */
export function detectSeverity(body: string): number {
  const n = Math.min(body.length, SCAN_CHARS);
  let i = 0;
  while (i < n && body.charCodeAt(i) <= 0x20) i++;
  if (i >= n) return 0;
  return body.charCodeAt(i) === 0x7b ? jsonLevel(body, i + 1, n) : plainLevel(body, i, n);
}

/** Index of the quote closing the string whose content starts at `i`, or -1 within `n`. */
function stringEnd(s: string, i: number, n: number): number {
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return i;
    i += c === 0x5c ? 2 : 1;
  }
  return -1;
}

function isLevelKey(s: string, from: number, to: number): boolean {
  switch (to - from) {
    case 3:
      return eqi(s, from, 'lvl');
    case 5:
      return eqi(s, from, 'level');
    case 8:
      return eqi(s, from, 'severity');
    case 9:
      return eqi(s, from, 'log.level');
    default:
      return false;
  }
}

function jsonLevel(s: string, i: number, n: number): number {
  let depth = 1;
  let expectKey = true;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x22) {
      const close = stringEnd(s, i + 1, n);
      if (close < 0) return 0;
      if (depth === 1 && expectKey) {
        let k = close + 1;
        while (k < n && s.charCodeAt(k) <= 0x20) k++;
        if (s.charCodeAt(k) === 0x3a) {
          if (isLevelKey(s, i + 1, close)) return jsonValueLevel(s, k + 1, n);
          expectKey = false;
          i = k + 1;
          continue;
        }
      }
      i = close + 1;
      continue;
    }
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) return 0;
    } else if (c === 0x2c && depth === 1) expectKey = true;
    i++;
  }
  return 0;
}

function jsonValueLevel(s: string, i: number, n: number): number {
  while (i < n && s.charCodeAt(i) <= 0x20) i++;
  const c = s.charCodeAt(i);
  if (c === 0x22) {
    const close = stringEnd(s, i + 1, n);
    return close < 0 ? 0 : levelWord(s, i + 1, close);
  }
  if (isDigit(c)) {
    let v = 0;
    while (i < n && isDigit(s.charCodeAt(i)) && v < 1000) v = v * 10 + (s.charCodeAt(i++) - 0x30);
    return numericLevel(v);
  }
  return 0;
}

/** A char that may end a level word: end, blank, or closing/separating punctuation. */
function endsWord(c: number): boolean {
  // NaN (past the end) is a valid end as well.
  return (
    Number.isNaN(c) ||
    c <= 0x20 ||
    c === 0x5d || // ]
    c === 0x29 || // )
    c === 0x3e || // >
    c === 0x3a || // :
    c === 0x7c || // |
    c === 0x2c || // ,
    c === 0x3b // ;
  );
}

function glogLevel(s: string, i: number, n: number): number {
  if (i + 5 >= n) return 0;
  for (let k = 1; k <= 4; k++) if (!isDigit(s.charCodeAt(i + k))) return 0;
  if (s.charCodeAt(i + 5) !== 0x20) return 0;
  switch (s.charCodeAt(i)) {
    case 0x49: return Severity.INFO; // I
    case 0x57: return Severity.WARN; // W
    case 0x45: return Severity.ERROR; // E
    case 0x46: return Severity.FATAL; // F
    default: return 0;
  }
}

function plainLevel(s: string, i: number, n: number): number {
  const glog = glogLevel(s, i, n);
  if (glog !== 0) return glog;
  for (let tokens = 0; tokens < MAX_PLAIN_TOKENS && i < n; tokens++) {
    while (i < n && s.charCodeAt(i) <= 0x20) i++;
    if (i >= n) return 0;
    let bracketed = false;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c !== 0x5b && c !== 0x28 && c !== 0x3c) break; // [ ( <
      bracketed = true;
      i++;
    }
    const start = i;
    while (i < n && isLetter(s.charCodeAt(i))) i++;
    if (i > start) {
      const after = s.charCodeAt(i);
      if (after === 0x3d) {
        // logfmt `key=value`: the level key gives the answer; any other pair is skipped.
        const isKey = isLevelKey(s, start, i);
        i++;
        if (isKey) {
          let v = i;
          const quoted = s.charCodeAt(v) === 0x22;
          if (quoted) v++;
          let w = v;
          while (w < n && isLetter(s.charCodeAt(w))) w++;
          return quoted ? (s.charCodeAt(w) === 0x22 ? levelWord(s, v, w) : 0) : endsWord(s.charCodeAt(w)) ? levelWord(s, v, w) : 0;
        }
        i = skipValue(s, i, n);
        continue;
      }
      if (endsWord(after)) {
        const level = levelWord(s, start, i);
        if (level !== 0) return level;
      }
      if (!bracketed) return 0; // the message itself has started
    } else if (i < n && !isDigit(s.charCodeAt(i)) && !isPunctuation(s.charCodeAt(i))) {
      return 0;
    }
    // A timestamp part, a bracketed tag, or punctuation: skip to the next blank.
    while (i < n && s.charCodeAt(i) > 0x20) i++;
  }
  return 0;
}

function isPunctuation(c: number): boolean {
  return c === 0x7c || c === 0x2d || c === 0x3a || c === 0x2e || c === 0x2c || c === 0x2b || c === 0x2f;
}

/** Skips a logfmt value starting at `i` (quoted or bare). */
function skipValue(s: string, i: number, n: number): number {
  if (s.charCodeAt(i) === 0x22) {
    const close = stringEnd(s, i + 1, n);
    return close < 0 ? n : close + 1;
  }
  while (i < n && s.charCodeAt(i) > 0x20) i++;
  return i;
}
