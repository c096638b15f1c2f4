/**
 * Test helpers for the process source (not a test file): an in-memory ProcReader for driving
 * scenarios cycle by cycle and a small file-reading ProcReader of our own over a /proc-shaped tree
 * (to compare with the real readers of src/native/); the sink is the shared test one.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { HostFileKind } from '../../../../src/native/host-layout.js';
import { TCP_COUNT_UNSUPPORTED, type ProcessDetails, type ProcessTable, type ProcReader } from '../../../../src/native/types.js';

export { ArraySink } from '../../../helpers/array-sink.js';

export interface FakeProc {
  pid: number;
  ppid: number;
  state: string;
  startTicks: number;
  utime: number;
  stime: number;
  minflt: number;
  majflt: number;
  threads: number;
  vsize: number;
  rss: number;
  comm: string;
  cmdline: string | undefined;
  exe: string | undefined;
  uid: number | undefined;
  cgroup: string | undefined;
  io: { readBytes: number; writeBytes: number } | undefined;
  openFds: number | undefined;
}

export function fakeProc(pid: number, over: Partial<FakeProc> = {}): FakeProc {
  return {
    pid,
    ppid: 1,
    state: 'S',
    startTicks: 1000 + pid,
    utime: 0,
    stime: 0,
    minflt: 0,
    majflt: 0,
    threads: 1,
    vsize: 10_000_000,
    rss: 100,
    comm: 'app',
    cmdline: `/usr/bin/app --id ${pid}`,
    exe: '/usr/bin/app',
    uid: 0,
    cgroup: '/system.slice/app.service',
    io: { readBytes: 0, writeBytes: 0 },
    openFds: 4,
    ...over,
  };
}

/**
 * The whole-host half of ProcReader for the process-only readers below: the process source
 * reads no host files, so they answer as a reader on a host that has none, without netlink.
 */
abstract class ProcessOnlyReader implements ProcReader {
  readonly implementation = 'js' as const;
  malformed = 0;
  hostError = '';

  abstract scanProcesses(procDir: string, table: ProcessTable): number;
  abstract readProcessDetails(procDir: string, pid: number, maxCmdlineBytes: number): ProcessDetails | undefined;

  readHostFile(_kind: HostFileKind, _path: string, _out: Float64Array): number {
    this.hostError = 'ENOENT';
    return -1;
  }
  hostNames(_kind: HostFileKind): readonly string[] {
    return [];
  }
  countTcpStates(_out: Float64Array): number {
    return TCP_COUNT_UNSUPPORTED;
  }
}

/** A host made of FakeProc rows; counts the calls so tests can see what the source read. */
export class FakeReader extends ProcessOnlyReader {
  readonly procs = new Map<number, FakeProc>();
  readonly detailCalls = new Map<number, number>();
  scans = 0;
  /** Pids whose details read finds them gone (exited between scan and details). */
  readonly vanishOnDetails = new Set<number>();
  failScan: Error | undefined;

  add(...ps: FakeProc[]): this {
    for (const p of ps) this.procs.set(p.pid, p);
    return this;
  }
  kill(...pids: number[]): void {
    for (const pid of pids) this.procs.delete(pid);
  }
  get totalDetailCalls(): number {
    let n = 0;
    for (const v of this.detailCalls.values()) n += v;
    return n;
  }

  override scanProcesses(_procDir: string, t: ProcessTable): number {
    this.scans++;
    if (this.failScan) throw this.failScan;
    let i = 0;
    for (const p of this.procs.values()) {
      if (i < t.capacity) {
        t.pid[i] = p.pid;
        t.ppid[i] = p.ppid;
        t.state[i] = p.state.charCodeAt(0);
        t.startTicks[i] = p.startTicks;
        t.utimeTicks[i] = p.utime;
        t.stimeTicks[i] = p.stime;
        t.minorFaults[i] = p.minflt;
        t.majorFaults[i] = p.majflt;
        t.threads[i] = p.threads;
        t.vsizeBytes[i] = p.vsize;
        t.rssPages[i] = p.rss;
      }
      i++;
    }
    t.count = Math.min(i, t.capacity);
    return i;
  }

  override readProcessDetails(_procDir: string, pid: number, maxCmdlineBytes: number): ProcessDetails | undefined {
    this.detailCalls.set(pid, (this.detailCalls.get(pid) ?? 0) + 1);
    const p = this.procs.get(pid);
    if (!p || this.vanishOnDetails.has(pid)) return undefined;
    let cmdline = p.cmdline;
    let truncated = false;
    if (cmdline !== undefined && Buffer.byteLength(cmdline) > maxCmdlineBytes) {
      cmdline = Buffer.from(cmdline).toString('utf8', 0, maxCmdlineBytes);
      truncated = true;
    }
    return { comm: p.comm, cmdline, cmdlineTruncated: truncated, exe: p.exe, uid: p.uid, cgroup: p.cgroup, io: p.io && { ...p.io }, openFds: p.openFds };
  }
}

function tryRead(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Our own reader of a /proc-shaped tree, written from proc(5) and independent of src/native/,
 * so that a test can hold the real readers to the same answers. Slow and simple on purpose.
 */
export class TreeReader extends ProcessOnlyReader {
  override scanProcesses(procDir: string, t: ProcessTable): number {
    let i = 0;
    let malformed = 0;
    for (const name of readdirSync(procDir)) {
      if (!/^[1-9]\d*$/.test(name)) continue;
      const text = tryRead(`${procDir}/${name}/stat`);
      if (text === undefined) continue;
      const close = text.lastIndexOf(')');
      // Fields from 3 (state) on; proc(5) numbers them from 1.
      const f = close < 0 ? [] : text.slice(close + 2).trim().split(' ');
      if (f.length < 22) {
        malformed++;
        continue;
      }
      if (i < t.capacity) {
        t.pid[i] = Number(name);
        t.state[i] = f[0]!.charCodeAt(0);
        t.ppid[i] = Number(f[1]);
        t.minorFaults[i] = Number(f[7]);
        t.majorFaults[i] = Number(f[9]);
        t.utimeTicks[i] = Number(f[11]);
        t.stimeTicks[i] = Number(f[12]);
        t.threads[i] = Number(f[17]);
        t.startTicks[i] = Number(f[19]);
        t.vsizeBytes[i] = Number(f[20]);
        t.rssPages[i] = Number(f[21]);
      }
      i++;
    }
    t.count = Math.min(i, t.capacity);
    this.malformed = malformed;
    return i;
  }

  override readProcessDetails(procDir: string, pid: number, maxCmdlineBytes: number): ProcessDetails | undefined {
    const dir = `${procDir}/${pid}`;
    const stat = tryRead(`${dir}/stat`);
    if (stat === undefined) return undefined;
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    let raw: Buffer | undefined;
    try {
      raw = readFileSync(`${dir}/cmdline`);
    } catch {
      raw = undefined;
    }
    let cmdline: string | undefined;
    let truncated = false;
    if (raw !== undefined) {
      if (raw.length > maxCmdlineBytes) {
        raw = raw.subarray(0, maxCmdlineBytes);
        truncated = true;
      }
      const s = raw.toString('utf8').replace(/\0+$/, '').replaceAll('\0', ' ');
      cmdline = s.length > 0 ? s : undefined;
    }
    let exe: string | undefined;
    try {
      exe = readlinkSync(`${dir}/exe`);
    } catch {
      exe = undefined;
    }
    const uidMatch = /^Uid:\s+(\d+)/m.exec(tryRead(`${dir}/status`) ?? '');
    const cg = tryRead(`${dir}/cgroup`) ?? '';
    const v2 = /^0::(.+)$/m.exec(cg);
    const v1 = /^\d+:[^:\n]*:(.+)$/m.exec(cg);
    const ioText = tryRead(`${dir}/io`);
    const rb = ioText && /^read_bytes:\s+(\d+)/m.exec(ioText);
    const wb = ioText && /^write_bytes:\s+(\d+)/m.exec(ioText);
    let openFds: number | undefined;
    try {
      openFds = readdirSync(`${dir}/fd`).length;
    } catch {
      openFds = undefined;
    }
    return {
      comm,
      cmdline,
      cmdlineTruncated: truncated,
      exe,
      uid: uidMatch ? Number(uidMatch[1]) : undefined,
      cgroup: v2?.[1] ?? v1?.[1],
      io: rb && wb ? { readBytes: Number(rb[1]), writeBytes: Number(wb[1]) } : undefined,
      openFds,
    };
  }
}
