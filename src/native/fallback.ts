import { closeSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { HOST_FILE_CAP, HOST_KINDS, type HostFileKind } from './host-layout.js';
import { NameList, parseHostBytes } from './host-parse.js';
import { TCP_COUNT_UNSUPPORTED, type ProcessDetails, type ProcessTable, type ProcReader } from './types.js';
import { checkDetailsArgs, checkHostArgs, checkHostKind, checkScanArgs, checkTcpOut, procDirError } from './validate.js';

/*
 * The pure-TypeScript /proc reader: the same parsing rules, byte for byte, as native/sextant_proc.c
 * (a differential test holds the two equal). Read that file's comments for the why of each rule.
 * Files are read with openSync/readSync into buffers allocated once per reader; numbers are
 * accumulated in doubles digit by digit, as the C code does, so both give the same values.
 */

const STAT_BUF = 4096;
const TEXT_BUF = 16384;
const LINK_BUF = 4096;
const INT32_MAX = 2147483647;

const SPACE = 0x20;
const NL = 0x0a;
const TAB = 0x09;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN = 0x28;
const CLOSE = 0x29;
const COLON = 0x3a;

/** The fields of one stat line; a single instance is reused for every row. */
class StatRow {
  commStart = 0;
  commEnd = 0;
  state = 0;
  ppid = 0;
  minflt = 0;
  majflt = 0;
  utime = 0;
  stime = 0;
  threads = 0;
  start = 0;
  vsize = 0;
  rss = 0;
}

/** parseNumber's value: a module-level slot rather than a returned object per field. */
let parsedValue = 0;

/**
 * Digits at `p` ending at `end`, a space or a newline (a sign or junk fails): returns the position
 * after them and leaves the value in `parsedValue`, or -1.
 */
function parseNumber(buf: Buffer, p: number, end: number): number {
  if (p >= end) return -1;
  let c = buf[p]!;
  if (c < ZERO || c > NINE) return -1;
  let v = 0;
  while (p < end) {
    c = buf[p]!;
    if (c < ZERO || c > NINE) break;
    v = v * 10 + (c - ZERO);
    p++;
  }
  if (p < end && c !== SPACE && c !== NL) return -1;
  parsedValue = v;
  return p;
}

function isStateLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** `pid (comm) S ppid …`: comm ends at the LAST ')'. False when malformed. */
function parseStat(buf: Buffer, n: number, row: StatRow): boolean {
  let p = parseNumber(buf, 0, n);
  if (p < 0) return false;
  if (n - p < 2 || buf[p] !== SPACE || buf[p + 1] !== OPEN) return false;
  const open = p + 1;
  let close = n - 1;
  while (close > open && buf[close] !== CLOSE) close--;
  if (close <= open) return false;
  row.commStart = open + 1;
  row.commEnd = close;
  if (n - close < 4 || buf[close + 1] !== SPACE || !isStateLetter(buf[close + 2]!) || buf[close + 3] !== SPACE) return false;
  row.state = buf[close + 2]!;
  p = close + 4;
  for (let field = 4; field <= 24; field++) {
    switch (field) {
      case 4:
      case 10:
      case 12:
      case 14:
      case 15:
      case 20:
      case 22:
      case 23:
      case 24:
        p = parseNumber(buf, p, n);
        if (p < 0) return false;
        storeField(row, field, parsedValue);
        break;
      default: {
        const s = p;
        while (p < n && buf[p] !== SPACE && buf[p] !== NL) p++;
        if (p === s) return false;
      }
    }
    if (field < 24) {
      if (p >= n || buf[p] !== SPACE) return false;
      p++;
    }
  }
  return row.ppid <= INT32_MAX && row.threads <= INT32_MAX;
}

function storeField(row: StatRow, field: number, v: number): void {
  switch (field) {
    case 4: row.ppid = v; break;
    case 10: row.minflt = v; break;
    case 12: row.majflt = v; break;
    case 14: row.utime = v; break;
    case 15: row.stime = v; break;
    case 20: row.threads = v; break;
    case 22: row.start = v; break;
    case 23: row.vsize = v; break;
    default: row.rss = v;
  }
}

/** The pid a directory entry names, or 0: digits, no leading zero, at most 2^31 − 1. */
function pidOfName(name: string): number {
  const len = name.length;
  if (len === 0 || len > 10 || name.charCodeAt(0) === ZERO) return 0;
  let v = 0;
  for (let i = 0; i < len; i++) {
    const c = name.charCodeAt(i);
    if (c < ZERO || c > NINE) return 0;
    v = v * 10 + (c - ZERO);
  }
  return v <= INT32_MAX ? v : 0;
}

/** One read() of a file, as the kernel renders it in one go; -1 on any error. */
function readOnce(path: string, buf: Buffer): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return -1;
  }
  try {
    return readSync(fd, buf, 0, buf.length, null);
  } catch {
    return -1;
  } finally {
    closeSync(fd);
  }
}

/** Reads until EOF or `cap` bytes; -1 on any error. */
function readFull(path: string, buf: Buffer, cap: number): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return -1;
  }
  try {
    let total = 0;
    while (total < cap) {
      const n = readSync(fd, buf, total, cap - total, null);
      if (n === 0) break;
      total += n;
    }
    return total;
  } catch {
    return -1;
  } finally {
    closeSync(fd);
  }
}

/** Offset just after `key` on the first line that starts with it, or -1. */
function findLine(buf: Buffer, n: number, key: string): number {
  const klen = key.length;
  let i = 0;
  while (i + klen <= n) {
    let match = true;
    for (let k = 0; k < klen; k++) {
      if (buf[i + k] !== key.charCodeAt(k)) {
        match = false;
        break;
      }
    }
    if (match) return i + klen;
    const nl = buf.indexOf(NL, i);
    if (nl < 0 || nl >= n) return -1;
    i = nl + 1;
  }
  return -1;
}

/** `Key:<spaces or tabs>digits` followed by whitespace or the end; undefined otherwise. */
function lineNumber(buf: Buffer, n: number, key: string): number | undefined {
  let p = findLine(buf, n, key);
  if (p < 0) return undefined;
  while (p < n && (buf[p] === SPACE || buf[p] === TAB)) p++;
  const s = p;
  let v = 0;
  while (p < n) {
    const c = buf[p]!;
    if (c < ZERO || c > NINE) break;
    v = v * 10 + (c - ZERO);
    p++;
  }
  if (p === s) return undefined;
  if (p < n && buf[p] !== SPACE && buf[p] !== TAB && buf[p] !== NL) return undefined;
  return v;
}

/** The cgroup v2 line's path (`0::path`), else the first well-formed v1 line's; empty = absent. */
function cgroupPath(buf: Buffer, n: number): string | undefined {
  let line = 0;
  let v1Start = -1;
  let v1End = -1;
  while (line < n) {
    let nl = buf.indexOf(NL, line);
    if (nl >= n) nl = -1;
    const le = nl < 0 ? n : nl;
    if (le - line >= 3 && buf[line] === ZERO && buf[line + 1] === COLON && buf[line + 2] === COLON) {
      if (le - line > 3) return buf.toString('utf8', line + 3, le);
    } else if (v1Start < 0) {
      let p = line;
      while (p < le && buf[p]! >= ZERO && buf[p]! <= NINE) p++;
      if (p > line && p < le && buf[p] === COLON) {
        let c2 = buf.indexOf(COLON, p + 1);
        if (c2 >= le) c2 = -1;
        if (c2 >= 0 && le - (c2 + 1) > 0) {
          v1Start = c2 + 1;
          v1End = le;
        }
      }
    }
    line = nl < 0 ? n : nl + 1;
  }
  return v1Start < 0 ? undefined : buf.toString('utf8', v1Start, v1End);
}

/**
 * Reads a whole host file into buf (until EOF); a file larger than the buffer is refused with
 * EFBIG rather than grown into. Returns the length, or the errno name on failure.
 */
function readHost(path: string, buf: Buffer, probe: Buffer): number | string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EIO';
  }
  try {
    let total = 0;
    for (;;) {
      const n = readSync(fd, buf, total, buf.length - total, null);
      if (n === 0) return total;
      total += n;
      // Full: one more byte tells "exactly the size of the buffer" from "larger".
      if (total === buf.length) return readSync(fd, probe, 0, 1, null) > 0 ? 'EFBIG' : total;
    }
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EIO';
  } finally {
    closeSync(fd);
  }
}

export class JsProcReader implements ProcReader {
  readonly implementation = 'js' as const;
  /** Rows the last scan skipped because their stat did not parse. */
  malformed = 0;
  /** The errno name of the last failed `readHostFile`. */
  hostError = '';
  #host: Buffer | undefined;
  readonly #probe = Buffer.allocUnsafe(1);
  readonly #names = Array.from({ length: HOST_KINDS }, () => new NameList());
  readonly #stat = Buffer.allocUnsafe(STAT_BUF);
  readonly #text = Buffer.allocUnsafe(TEXT_BUF);
  readonly #row = new StatRow();
  #cmd = Buffer.allocUnsafe(0);
  #pids = new Int32Array(1024);

  scanProcesses(procDir: string, table: ProcessTable): number {
    checkScanArgs(procDir, table);
    let names: string[];
    try {
      // readdirSync, not opendirSync: Dir#readSync lstat()s an entry whose type the kernel
      // reports as DT_UNKNOWN, which /proc does for a process exiting under it, and throws.
      names = readdirSync(procDir);
    } catch (err) {
      throw procDirError(procDir, (err as NodeJS.ErrnoException).code ?? 'EIO');
    }
    // Ascending pid order, as the addon reads (libuv sorts names as strings: "10" < "9").
    if (this.#pids.length < names.length) this.#pids = new Int32Array(names.length * 2);
    let npids = 0;
    for (let i = 0; i < names.length; i++) {
      const pid = pidOfName(names[i]!);
      if (pid !== 0) this.#pids[npids++] = pid;
    }
    const pids = this.#pids.subarray(0, npids).sort();
    const cap = table.capacity;
    const buf = this.#stat;
    const row = this.#row;
    const prefix = procDir + '/';
    let total = 0;
    let malformed = 0;
    for (let i = 0; i < npids; i++) {
      const pid = pids[i]!;
      const n = readOnce(prefix + pid + '/stat', buf);
      if (n < 0) continue; // gone mid-scan (ENOENT/ESRCH) or unreadable: skipped
      if (!parseStat(buf, n, row)) {
        malformed++;
        continue;
      }
      if (total < cap) {
        table.pid[total] = pid;
        table.ppid[total] = row.ppid;
        table.state[total] = row.state;
        table.startTicks[total] = row.start;
        table.utimeTicks[total] = row.utime;
        table.stimeTicks[total] = row.stime;
        table.minorFaults[total] = row.minflt;
        table.majorFaults[total] = row.majflt;
        table.threads[total] = row.threads;
        table.vsizeBytes[total] = row.vsize;
        table.rssPages[total] = row.rss;
      }
      total++;
    }
    table.count = Math.min(total, cap);
    this.malformed = malformed;
    return total;
  }

  readProcessDetails(procDir: string, pid: number, maxCmdlineBytes: number): ProcessDetails | undefined {
    checkDetailsArgs(procDir, pid, maxCmdlineBytes);
    const dir = `${procDir}/${pid}`;
    const stat = this.#stat;
    const row = this.#row;
    let n = readOnce(dir + '/stat', stat);
    if (n < 0 || !parseStat(stat, n, row)) return undefined;
    const comm = stat.toString('utf8', row.commStart, row.commEnd);

    const want = maxCmdlineBytes + 1;
    if (this.#cmd.length < want) this.#cmd = Buffer.allocUnsafe(want);
    const cmd = this.#cmd;
    n = readFull(dir + '/cmdline', cmd, want);
    let truncated = false;
    let len = 0;
    if (n >= 0) {
      len = n;
      if (len > maxCmdlineBytes) {
        truncated = true;
        len = maxCmdlineBytes;
      }
      while (len > 0 && cmd[len - 1] === 0) len--;
      for (let i = 0; i < len; i++) if (cmd[i] === 0) cmd[i] = SPACE;
    }
    const cmdline = len > 0 ? cmd.toString('utf8', 0, len) : undefined;

    let exe: string | undefined;
    try {
      const link = readlinkSync(dir + '/exe', { encoding: 'buffer' });
      exe = link.toString('utf8', 0, Math.min(link.length, LINK_BUF));
    } catch {
      exe = undefined;
    }

    const text = this.#text;
    n = readFull(dir + '/status', text, TEXT_BUF);
    const uid = n >= 0 ? lineNumber(text, n, 'Uid:') : undefined;

    n = readFull(dir + '/cgroup', text, TEXT_BUF);
    const cgroup = n >= 0 ? cgroupPath(text, n) : undefined;

    let io: ProcessDetails['io'];
    n = readFull(dir + '/io', text, TEXT_BUF);
    if (n >= 0) {
      const readBytes = lineNumber(text, n, 'read_bytes:');
      const writeBytes = readBytes === undefined ? undefined : lineNumber(text, n, 'write_bytes:');
      if (readBytes !== undefined && writeBytes !== undefined) io = { readBytes, writeBytes };
    }

    let openFds: number | undefined;
    try {
      openFds = readdirSync(dir + '/fd').length;
    } catch {
      openFds = undefined;
    }

    return { comm, cmdline, cmdlineTruncated: truncated, exe, uid, cgroup, io, openFds };
  }

  readHostFile(kind: HostFileKind, path: string, out: Float64Array): number {
    checkHostArgs(kind, path, out);
    // Allocated on first use: a reader that only scans processes does not carry 1 MiB.
    const buf = (this.#host ??= Buffer.allocUnsafe(HOST_FILE_CAP));
    const n = readHost(path, buf, this.#probe);
    if (typeof n === 'string') {
      this.hostError = n;
      return -1;
    }
    return parseHostBytes(kind, buf, n, out, this.#names[kind]!);
  }

  hostNames(kind: HostFileKind): readonly string[] {
    checkHostKind(kind);
    return this.#names[kind]!.names();
  }

  /** Node has no netlink sockets: the caller reads /proc/net/tcp{,6}. */
  countTcpStates(out: Float64Array): number {
    checkTcpOut(out);
    return TCP_COUNT_UNSUPPORTED;
  }
}
