/**
 * RFC 3339 timestamps to Unix nanoseconds, exact to the nanosecond:
 *   2026-11-25T10:16:51.123456789Z   (what Docker and CRI log lines write)
 *   2026-11-25T11:16:51.5+01:00      (an offset; 1 to 9 fraction digits)
 * Used on the log-tailing hot path (every CRI log line starts with one), so it reads char codes
 * in place: no Date, no regex, no substring; the only allocation is the bigint it returns.
 * Anything malformed gives undefined: a missing or tenth fraction digit, month 13, Feb 30,
 * hour 24, second 60 (Go, which writes these, never emits a leap second either).
 */

const NS_PER_S = 1_000_000_000n;
/** Fraction digits past the ninth would be below a nanosecond: not written by Go or containerd. */
const MAX_FRACTION_DIGITS = 9;
/** 10^(9 - digits): scales a fraction of n digits to nanoseconds. */
const FRACTION_SCALE = [1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1];

const C_0 = 48;
const C_DASH = 45;
const C_PLUS = 43;
const C_COLON = 58;
const C_DOT = 46;
const C_T = 84;
const C_t = 116;
const C_Z = 90;
const C_z = 122;

/** Two digits at `i`, or -1. */
function twoDigits(text: string, i: number): number {
  const a = text.charCodeAt(i) - C_0;
  const b = text.charCodeAt(i + 1) - C_0;
  // NaN (past the end) fails both comparisons, so it lands in -1 as well.
  if (!(a >= 0 && a <= 9 && b >= 0 && b <= 9)) return -1;
  return a * 10 + b;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Days from 1970-01-01 to a proleptic Gregorian date (negative before it). The era arithmetic
 * of the well-known days-from-civil algorithm: 400-year eras of 146097 days, March-based years
 * so the leap day is last.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = month > 2 ? month - 3 : month + 9;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * Parses `text[start, end)` as one RFC 3339 date-time; undefined when it is not exactly one.
 * Returns Unix nanoseconds (negative before 1970; Docker's zero time `0001-01-01T00:00:00Z`
 * comes out as a large negative number, which callers map to "unset").
 */
export function parseRfc3339Nano(text: string, start = 0, end = text.length): bigint | undefined {
  if (start < 0 || end > text.length || end - start < 20) return undefined;
  const y1 = twoDigits(text, start);
  const y2 = twoDigits(text, start + 2);
  if (y1 < 0 || y2 < 0) return undefined;
  const year = y1 * 100 + y2;
  if (text.charCodeAt(start + 4) !== C_DASH || text.charCodeAt(start + 7) !== C_DASH) return undefined;
  const month = twoDigits(text, start + 5);
  const day = twoDigits(text, start + 8);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  const t = text.charCodeAt(start + 10);
  if (t !== C_T && t !== C_t) return undefined;
  const hour = twoDigits(text, start + 11);
  const minute = twoDigits(text, start + 14);
  const second = twoDigits(text, start + 17);
  if (text.charCodeAt(start + 13) !== C_COLON || text.charCodeAt(start + 16) !== C_COLON) return undefined;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;

  let i = start + 19;
  let nanos = 0;
  if (text.charCodeAt(i) === C_DOT) {
    i++;
    const first = i;
    let fraction = 0;
    while (i < end) {
      const d = text.charCodeAt(i) - C_0;
      if (d < 0 || d > 9) break;
      if (i - first === MAX_FRACTION_DIGITS) return undefined;
      fraction = fraction * 10 + d;
      i++;
    }
    const digits = i - first;
    if (digits === 0) return undefined;
    nanos = fraction * (FRACTION_SCALE[digits] as number);
  }

  // The zone: Z, or ±HH:MM.
  if (i >= end) return undefined;
  let offsetSeconds = 0;
  const z = text.charCodeAt(i);
  if (z === C_Z || z === C_z) {
    i++;
  } else if (z === C_PLUS || z === C_DASH) {
    const oh = twoDigits(text, i + 1);
    const om = twoDigits(text, i + 4);
    if (text.charCodeAt(i + 3) !== C_COLON || oh < 0 || oh > 23 || om < 0 || om > 59) return undefined;
    offsetSeconds = (oh * 3600 + om * 60) * (z === C_PLUS ? 1 : -1);
    i += 6;
  } else {
    return undefined;
  }
  if (i !== end) return undefined;

  // Whole seconds fit a double exactly (|s| < 2^53 for every 4-digit year); only the final
  // nanosecond value needs a bigint.
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offsetSeconds;
  return BigInt(seconds) * NS_PER_S + BigInt(nanos);
}
