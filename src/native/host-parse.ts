import * as L from './host-layout.js';

/*
 * The pure-TypeScript parsers of the whole-host /proc files: the only TypeScript parser of each
 * (the string APIs in src/sources/host/ and src/sources/lib/ wrap these), and byte for byte the
 * rules of native/sextant_host.c, which a differential test holds equal. They walk raw bytes with
 * index arithmetic, write numbers into the caller's Float64Array in the layout of host-layout.ts
 * and allocate nothing; names (disks, interfaces) go to a NameList that keeps the previous set.
 *
 * Shared rules: lines end at '\n'; fields are separated by blanks (space or tab); an integer is
 * 1–16 decimal digits whose value is at most 2^53 − 1 (a larger kernel u64 cannot be exact in a
 * double: refused, not rounded); a decimal is digits, optionally '.' and digits, computed as
 * (all digits as an integer) / 10^(fraction digits) — one correctly rounded division, the value
 * Number() gives, in C as in JavaScript.
 */

const SPACE = 0x20;
const TAB = 0x09;
const NL = 0x0a;
const ZERO = 0x30;
const NINE = 0x39;
const DOT = 0x2e;
const COLON = 0x3a;
const BAR = 0x7c;
const EQ = 0x3d;
const MAX_SAFE = 9007199254740991;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

function skipBlanks(b: Buffer, i: number, end: number): number {
  while (i < end && isBlank(b[i]!)) i++;
  return i;
}

function fieldEnd(b: Buffer, i: number, end: number): number {
  while (i < end && !isBlank(b[i]!)) i++;
  return i;
}

function lineEnd(b: Buffer, i: number, n: number): number {
  const nl = b.indexOf(NL, i);
  return nl < 0 || nl >= n ? n : nl;
}

/** `b[s, e)` as an integer, or NaN (empty, a non-digit, more than 16 digits, above 2^53 − 1). */
function parseUint(b: Buffer, s: number, e: number): number {
  if (s >= e || e - s > 16) return NaN;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c < ZERO || c > NINE) return NaN;
    v = v * 10 + (c - ZERO);
  }
  return v <= MAX_SAFE ? v : NaN;
}

/** `b[s, e)` as `digits[.digits]` with at most `maxInt` and `maxFrac` digits, or NaN. */
function parseDecimal(b: Buffer, s: number, e: number, maxInt: number, maxFrac: number): number {
  let p = s;
  let m = 0;
  while (p < e && b[p]! >= ZERO && b[p]! <= NINE) m = m * 10 + (b[p++]! - ZERO);
  const ints = p - s;
  if (ints === 0 || ints > maxInt) return NaN;
  if (p === e) return m;
  if (b[p] !== DOT) return NaN;
  const f = ++p;
  while (p < e && b[p]! >= ZERO && b[p]! <= NINE) m = m * 10 + (b[p++]! - ZERO);
  const frac = p - f;
  if (p !== e || frac === 0 || frac > maxFrac) return NaN;
  return m / POW10[frac]!;
}

/** Reads up to `max` blank-separated integers into out[at…]; how many, or -1 on a bad field. */
function readUints(b: Buffer, i: number, end: number, out: Float64Array, at: number, max: number): number {
  let k = 0;
  while (k < max) {
    i = skipBlanks(b, i, end);
    if (i >= end) break;
    const e = fieldEnd(b, i, end);
    const v = parseUint(b, i, e);
    if (Number.isNaN(v)) return -1;
    out[at + k++] = v; // a typed array ignores a write past its end: the caller grows and reads again
    i = e;
  }
  return k;
}

function startsWith(b: Buffer, i: number, end: number, word: string): boolean {
  if (end - i < word.length) return false;
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) return false;
  return true;
}

function equals(b: Buffer, s: number, e: number, word: string): boolean {
  return e - s === word.length && startsWith(b, s, e, word);
}

/** `<blanks> integer <blanks> end-of-line`, or NaN. */
function lineValue(b: Buffer, p: number, end: number): number {
  p = skipBlanks(b, p, end);
  const e = fieldEnd(b, p, end);
  if (skipBlanks(b, e, end) !== end) return NaN;
  return parseUint(b, p, e);
}

/**
 * The row names of the last diskstats or net/dev parse, '\n'-separated (a name never holds one).
 * `commit` compares them with the previous set and bumps the generation only on a change, so a
 * steady host decodes no string per cycle.
 */
export class NameList {
  generation = 0;
  #next = Buffer.allocUnsafe(1024);
  #nextLen = 0;
  #cur = Buffer.allocUnsafe(1024);
  #curLen = 0;
  #names: string[] | undefined = [];

  reset(): void {
    this.#nextLen = 0;
  }

  add(b: Buffer, s: number, e: number): void {
    const need = this.#nextLen + (e - s) + 1;
    if (need > this.#next.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.#next.length * 2));
      this.#next.copy(grown, 0, 0, this.#nextLen);
      this.#next = grown;
    }
    b.copy(this.#next, this.#nextLen, s, e);
    this.#nextLen += e - s;
    this.#next[this.#nextLen++] = NL;
  }

  commit(): void {
    if (this.#nextLen === this.#curLen && this.#next.compare(this.#cur, 0, this.#curLen, 0, this.#nextLen) === 0) return;
    const swap = this.#cur;
    this.#cur = this.#next;
    this.#curLen = this.#nextLen;
    this.#next = swap;
    this.#names = undefined;
    this.generation++;
  }

  /** The committed names, decoded once per change (invalid UTF-8 becomes U+FFFD). */
  names(): readonly string[] {
    if (this.#names !== undefined) return this.#names;
    const names: string[] = [];
    for (let s = 0; s < this.#curLen; ) {
      const e = this.#cur.indexOf(NL, s);
      names.push(this.#cur.toString('utf8', s, e));
      s = e + 1;
    }
    return (this.#names = names);
  }
}

function parseStat(b: Buffer, n: number, out: Float64Array): number {
  let malformed = 0;
  let rows = 0;
  out[L.STAT_BTIME] = out[L.STAT_PROCESSES] = out[L.STAT_PROCS_RUNNING] = out[L.STAT_PROCS_BLOCKED] = NaN;
  for (let i = 0; i < n; ) {
    const ls = i;
    const end = lineEnd(b, i, n);
    i = end + 1;
    if (startsWith(b, ls, end, 'cpu')) {
      let p = ls + 3;
      while (p < end && b[p]! >= ZERO && b[p]! <= NINE) p++;
      // `cpu ` is the aggregate line (we export per logical CPU); `cpuX…` is not a CPU line.
      if (p === ls + 3 || p >= end || !isBlank(b[p]!)) continue;
      const cpu = parseUint(b, ls + 3, p);
      const at = L.STAT_ROW_START + rows * L.STAT_ROW_SIZE;
      // Kernels before 2.6.11 had 7 columns; fewer than user..idle is not a CPU line. Missing
      // modes are 0; columns past the 8th (guest time, already inside user and nice) are ignored.
      const got = readUints(b, p, end, out, at + 1, L.STAT_MODES);
      if (Number.isNaN(cpu) || got < 4) {
        malformed++;
        continue;
      }
      for (let k = got; k < L.STAT_MODES; k++) out[at + 1 + k] = 0;
      out[at] = cpu;
      rows++;
    } else if (startsWith(b, ls, end, 'btime ')) {
      const v = lineValue(b, ls + 6, end);
      if (v > 0) out[L.STAT_BTIME] = v;
      else malformed++;
    } else {
      let slot = -1;
      let p = ls;
      if (startsWith(b, ls, end, 'processes ')) (slot = L.STAT_PROCESSES), (p += 10);
      else if (startsWith(b, ls, end, 'procs_running ')) (slot = L.STAT_PROCS_RUNNING), (p += 14);
      else if (startsWith(b, ls, end, 'procs_blocked ')) (slot = L.STAT_PROCS_BLOCKED), (p += 14);
      if (slot < 0) continue;
      const v = lineValue(b, p, end);
      if (Number.isNaN(v)) malformed++;
      else out[slot] = v;
    }
  }
  out[L.HOST_MALFORMED] = malformed;
  out[L.HOST_ROWS] = rows;
  return L.STAT_ROW_START + rows * L.STAT_ROW_SIZE;
}

function parseMeminfo(b: Buffer, n: number, out: Float64Array): number {
  let malformed = 0;
  out.fill(NaN, L.MEMINFO_START, L.MEMINFO_SIZE);
  for (let i = 0; i < n; ) {
    const ls = i;
    const end = lineEnd(b, i, n);
    i = end + 1;
    if (end === ls) continue;
    const c = b.indexOf(COLON, ls);
    if (c <= ls || c >= end) {
      malformed++;
      continue;
    }
    const vs = skipBlanks(b, c + 1, end);
    const ve = fieldEnd(b, vs, end);
    const v = parseUint(b, vs, ve);
    if (Number.isNaN(v)) {
      malformed++;
      continue;
    }
    for (let k = 0; k < L.MEMINFO_KEYS.length; k++) {
      if (!equals(b, ls, c, L.MEMINFO_KEYS[k]!)) continue;
      const us = skipBlanks(b, ve, end);
      out[L.MEMINFO_START + k] = equals(b, us, fieldEnd(b, us, end), 'kB') ? v * 1024 : v;
      break;
    }
  }
  out[L.HOST_MALFORMED] = malformed;
  out[L.HOST_ROWS] = 0;
  return L.MEMINFO_SIZE;
}

function parseVmstat(b: Buffer, n: number, out: Float64Array): number {
  let malformed = 0;
  out.fill(NaN, L.VMSTAT_START, L.VMSTAT_SIZE);
  for (let i = 0; i < n; ) {
    const end = lineEnd(b, i, n);
    const s = skipBlanks(b, i, end);
    i = end + 1;
    // Every key we want starts with `p`: the other ~170 lines cost one comparison.
    if (s >= end || b[s] !== 0x70) continue;
    const ke = fieldEnd(b, s, end);
    for (let k = 0; k < L.VMSTAT_KEYS.length; k++) {
      if (!equals(b, s, ke, L.VMSTAT_KEYS[k]!)) continue;
      const vs = skipBlanks(b, ke, end);
      const v = parseUint(b, vs, fieldEnd(b, vs, end));
      if (Number.isNaN(v)) malformed++;
      else out[L.VMSTAT_START + k] = v;
      break;
    }
  }
  out[L.HOST_MALFORMED] = malformed;
  out[L.HOST_ROWS] = 0;
  return L.VMSTAT_SIZE;
}

function parseDiskstats(b: Buffer, n: number, out: Float64Array, names: NameList): number {
  let malformed = 0;
  let rows = 0;
  names.reset();
  for (let i = 0; i < n; ) {
    const end = lineEnd(b, i, n);
    const s = skipBlanks(b, i, end);
    i = end + 1;
    if (s >= end) continue;
    const at = L.DISK_ROW_START + rows * L.DISK_ROW_SIZE;
    if (readUints(b, s, end, out, at, 2) !== 2) {
      malformed++;
      continue;
    }
    const p = skipBlanks(b, fieldEnd(b, skipBlanks(b, fieldEnd(b, s, end), end), end), end);
    const ne = fieldEnd(b, p, end);
    // Kernels since 4.18 add discard fields, 5.5 flush fields: the first 11 are the classic ones.
    if (ne === p || readUints(b, ne, end, out, at + 2, 11) !== 11) {
      malformed++;
      continue;
    }
    names.add(b, p, ne);
    rows++;
  }
  names.commit();
  out[L.HOST_MALFORMED] = malformed;
  out[L.HOST_ROWS] = rows;
  out[L.HOST_NAMES_GEN] = names.generation;
  return L.DISK_ROW_START + rows * L.DISK_ROW_SIZE;
}

function parseNetDev(b: Buffer, n: number, out: Float64Array, names: NameList): number {
  let malformed = 0;
  let rows = 0;
  names.reset();
  for (let i = 0; i < n; ) {
    const end = lineEnd(b, i, n);
    const s = skipBlanks(b, i, end);
    i = end + 1;
    if (s >= end) continue;
    // Interface names hold neither ':' nor a newline (dev_valid_name): the first ':' ends one.
    const c = b.indexOf(COLON, s);
    if (c < 0 || c >= end) {
      // The two header lines have `|` and no `:`.
      const bar = b.indexOf(BAR, s);
      if (bar < 0 || bar >= end) malformed++;
      continue;
    }
    if (c === s || readUints(b, c + 1, end, out, L.NET_ROW_START + rows * L.NET_ROW_SIZE, 16) !== 16) {
      malformed++;
      continue;
    }
    names.add(b, s, c);
    rows++;
  }
  names.commit();
  out[L.HOST_MALFORMED] = malformed;
  out[L.HOST_ROWS] = rows;
  out[L.HOST_NAMES_GEN] = names.generation;
  return L.NET_ROW_START + rows * L.NET_ROW_SIZE;
}

function isSpace(c: number): boolean {
  return c === SPACE || c === TAB || c === NL;
}

function parseLoadavg(b: Buffer, n: number, out: Float64Array): number {
  let p = 0;
  let ok = true;
  for (let k = 0; k < 3; k++) {
    while (p < n && isSpace(b[p]!)) p++;
    const s = p;
    while (p < n && !isSpace(b[p]!)) p++;
    const v = parseDecimal(b, s, p, 15, 15);
    if (Number.isNaN(v) || p - s > 16) ok = false;
    out[L.LOAD_START + k] = v;
  }
  if (!ok) out.fill(NaN, L.LOAD_START, L.LOAD_SIZE);
  out[L.HOST_MALFORMED] = ok ? 0 : 1;
  out[L.HOST_ROWS] = ok ? 1 : 0;
  return L.LOAD_SIZE;
}

/** `key=value` fields of one `some`/`full` line into out[at…at+3]; false when one is missing. */
function parsePsiLine(b: Buffer, i: number, end: number, out: Float64Array, at: number): boolean {
  let avg10 = NaN;
  let avg60 = NaN;
  let avg300 = NaN;
  let total = NaN;
  while (i < end) {
    i = skipBlanks(b, i, end);
    if (i >= end) break;
    const e = fieldEnd(b, i, end);
    const eq = b.indexOf(EQ, i);
    if (eq < 0 || eq >= e) return false;
    if (equals(b, i, eq, 'total')) total = parseUint(b, eq + 1, e);
    else if (equals(b, i, eq, 'avg10')) avg10 = parsePercent(b, eq + 1, e);
    else if (equals(b, i, eq, 'avg60')) avg60 = parsePercent(b, eq + 1, e);
    else if (equals(b, i, eq, 'avg300')) avg300 = parsePercent(b, eq + 1, e);
    i = e;
  }
  if (Number.isNaN(avg10) || Number.isNaN(avg60) || Number.isNaN(avg300) || Number.isNaN(total)) return false;
  out[at] = avg10;
  out[at + 1] = avg60;
  out[at + 2] = avg300;
  out[at + 3] = total;
  return true;
}

/** The kernel prints `%lu.%02lu`; any plain decimal of ≤ 3 + 6 digits in [0, 100] passes. */
function parsePercent(b: Buffer, s: number, e: number): number {
  const v = parseDecimal(b, s, e, 3, 6);
  return v <= 100 ? v : NaN;
}

function parsePressure(b: Buffer, n: number, out: Float64Array): number {
  let malformed = 0;
  out.fill(NaN, L.PSI_SOME, L.PSI_SIZE);
  for (let i = 0; i < n; ) {
    const end = lineEnd(b, i, n);
    const s = skipBlanks(b, i, end);
    i = end + 1;
    if (s >= end) continue;
    const ke = fieldEnd(b, s, end);
    const at = equals(b, s, ke, 'some') ? L.PSI_SOME : equals(b, s, ke, 'full') ? L.PSI_FULL : -1;
    if (at < 0 || !parsePsiLine(b, ke, end, out, at)) malformed++;
  }
  out[L.HOST_MALFORMED] = malformed;
  out[L.HOST_ROWS] = 0;
  return L.PSI_SIZE;
}

/**
 * Parses `b[0, n)` as a file of `kind` into `out` (length ≥ HOST_MIN_OUT). Returns the slots the
 * whole result needs: when that exceeds `out.length` the rows past the end were not stored and
 * the caller grows `out` and parses again. `names` receives the row names of diskstats/net/dev.
 */
export function parseHostBytes(kind: L.HostFileKind, b: Buffer, n: number, out: Float64Array, names: NameList): number {
  out[L.HOST_NAMES_GEN] = 0;
  switch (kind) {
    case L.HOST_STAT: return parseStat(b, n, out);
    case L.HOST_MEMINFO: return parseMeminfo(b, n, out);
    case L.HOST_VMSTAT: return parseVmstat(b, n, out);
    case L.HOST_DISKSTATS: return parseDiskstats(b, n, out, names);
    case L.HOST_NET_DEV: return parseNetDev(b, n, out, names);
    case L.HOST_LOADAVG: return parseLoadavg(b, n, out);
    default: return parsePressure(b, n, out);
  }
}

/** Convenience for the string APIs of src/sources/host/ and src/sources/lib/, and tests (allocates; not the hot path). */
export function parseHostText(kind: L.HostFileKind, text: string): { values: Float64Array; names: readonly string[] } {
  const b = Buffer.from(text, 'utf8');
  const names = new NameList();
  let values = new Float64Array(L.HOST_MIN_OUT);
  const need = parseHostBytes(kind, b, b.length, values, names);
  if (need > values.length) {
    values = new Float64Array(need);
    parseHostBytes(kind, b, b.length, values, new NameList());
  }
  return { values, names: names.names() };
}
