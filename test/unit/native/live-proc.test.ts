// Both /proc readers on this machine's real /proc: a differential scan, a frozen copy compared
// exactly, and the traps played for real (a comm with spaces and parentheses, kernel threads,
// zombies, a 100k-character cmdline, processes exiting while we scan).
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessTable, type ProcessDetails, type ProcReader } from '../../../src/native/types.js';
import { js, native, readers, removeDir, scanAll, tmpDir, type Row } from './proc-tree.js';
import { until } from '../../helpers/wait.js';

const PROC = '/proc';
const CAP = 4096;
const children: ChildProcess[] = [];
let scratch: string;

beforeAll(() => (scratch = tmpDir('live')));
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  removeDir(scratch);
});

function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  children.push(c);
  return c;
}

/** Scans until `pick` finds a row. */
function waitForRow(reader: ProcReader, what: string, pick: (r: Row) => boolean): Promise<Row> {
  return until(what, () => scanAll(reader, PROC).rows.find(pick), { everyMs: 50 });
}

const key = (r: Row) => `${r.pid}/${r.startTicks}`;

describe.skipIf(!native)('differential on the live /proc', () => {
  it('native, js, native: same processes, counters in between', () => {
    const n1 = scanAll(native!, PROC);
    const j = scanAll(js, PROC);
    const n2 = scanAll(native!, PROC);
    expect(n1.total).toBeGreaterThan(1);
    expect(n1.malformed + j.malformed + n2.malformed).toBe(0);
    const m1 = new Map(n1.rows.map((r) => [key(r), r]));
    const mj = new Map(j.rows.map((r) => [key(r), r]));
    const m2 = new Map(n2.rows.map((r) => [key(r), r]));
    let compared = 0;
    for (const [k, a] of m1) {
      const b = m2.get(k);
      if (!b) continue; // exited between the scans
      // Alive in both native scans (same pid AND starttime): it was alive for the JS scan too.
      const x = mj.get(k);
      expect(x, `process ${k} missing from the JS scan`).toBeDefined();
      // Monotonic counters must lie between the two native reads; gauges are checked exactly
      // on the frozen copy below.
      for (const f of ['utimeTicks', 'stimeTicks', 'minorFaults', 'majorFaults'] as const) {
        expect(x![f]).toBeGreaterThanOrEqual(a[f]);
        expect(x![f]).toBeLessThanOrEqual(b[f]);
      }
      compared++;
    }
    expect(compared).toBeGreaterThan(1);
    // Our own process is in every scan, with our pid and parent.
    const self = j.rows.find((r) => r.pid === process.pid);
    expect(self).toMatchObject({ ppid: process.ppid, state: 'R' });
  });

  it('details agree for every live process (stable fields exactly)', () => {
    const stable = (d: ProcessDetails | undefined) =>
      d && { comm: d.comm, cmdline: d.cmdline, cmdlineTruncated: d.cmdlineTruncated, exe: d.exe, uid: d.uid, cgroup: d.cgroup, io: d.io !== undefined, openFds: d.openFds !== undefined };
    let compared = 0;
    for (const r of scanAll(native!, PROC).rows) {
      // A process may exec between the reads (same pid and starttime, new comm), and a kernel
      // worker's comm follows its work ("kworker/u8:7+ext4-rsv-conversion" while busy, "-…"
      // idle): native, js, native again, until the js read matches a native one beside it.
      let reads: [ReturnType<typeof stable>, ReturnType<typeof stable>, ReturnType<typeof stable>] | undefined;
      for (let attempt = 0; attempt < 10; attempt++) {
        const a = stable(native!.readProcessDetails(PROC, r.pid, CAP));
        const b = stable(js.readProcessDetails(PROC, r.pid, CAP));
        const c = stable(native!.readProcessDetails(PROC, r.pid, CAP));
        reads = [a, b, c];
        if (!a || !b || !c || isDeepStrictEqual(a, b) || isDeepStrictEqual(c, b)) break;
      }
      const [a, b, c] = reads!;
      if (!a || !b || !c) continue; // exited
      expect([a, c]).toContainEqual(b);
      compared++;
    }
    expect(compared).toBeGreaterThan(1);
  });

  it('a frozen copy of the live /proc reads identically, row by row and detail by detail', () => {
    const frozen = path.join(scratch, 'frozen');
    mkdirSync(frozen);
    for (const name of readdirSync(PROC)) {
      if (!/^[1-9][0-9]*$/.test(name)) continue;
      const src = path.join(PROC, name);
      const dst = path.join(frozen, name);
      try {
        const stat = readFileSync(path.join(src, 'stat'));
        mkdirSync(dst);
        writeFileSync(path.join(dst, 'stat'), stat);
      } catch {
        continue; // exited
      }
      for (const f of ['cmdline', 'status', 'cgroup', 'io']) {
        try {
          writeFileSync(path.join(dst, f), readFileSync(path.join(src, f)));
        } catch {
          // EACCES (io of a process we may not trace) or gone: absent in the copy as well.
        }
      }
      try {
        symlinkSync(readlinkSync(path.join(src, 'exe'), { encoding: 'buffer' }), path.join(dst, 'exe'));
      } catch {
        // kernel thread (ENOENT) or EACCES
      }
      try {
        const fds = readdirSync(path.join(src, 'fd')).length;
        mkdirSync(path.join(dst, 'fd'));
        for (let i = 0; i < fds; i++) writeFileSync(path.join(dst, 'fd', String(i)), '');
      } catch {
        // EACCES or gone
      }
    }
    const a = scanAll(native!, frozen);
    const b = scanAll(js, frozen);
    expect(a).toStrictEqual(b);
    expect(a.total).toBeGreaterThan(1);
    for (const r of a.rows) {
      expect(native!.readProcessDetails(frozen, r.pid, CAP)).toStrictEqual(js.readProcessDetails(frozen, r.pid, CAP));
      expect(native!.readProcessDetails(frozen, r.pid, 16)).toStrictEqual(js.readProcessDetails(frozen, r.pid, 16));
    }
  });
});

describe.each(readers)('%s reader on real processes', (_name, reader) => {
  it('reads a comm with spaces and parentheses (a copy of sleep named "x) (y z")', async () => {
    const exe = path.join(scratch, `x) (y z-${reader.implementation}`);
    copyFileSync('/bin/sleep', exe);
    const child = start(exe, ['30']);
    const row = await waitForRow(reader, 'the sleeping child', (r) => r.pid === child.pid && r.state === 'S');
    expect(row.ppid).toBe(process.pid);
    expect(row.threads).toBe(1);
    const d = reader.readProcessDetails(PROC, child.pid!, CAP)!;
    // comm is the file name cut to 15 bytes (TASK_COMM_LEN − 1).
    expect(d.comm).toBe(path.basename(exe).slice(0, 15));
    expect(d.comm).toContain(') (');
    expect(d.exe).toBe(exe);
    expect(d.cmdline).toBe(`${exe} 30`);
    expect(d.uid).toBe(process.getuid!());
    child.kill('SIGKILL');
  });

  it.skipIf(!existsSync('/proc/2/stat') || !readFileSync('/proc/2/stat', 'latin1').startsWith('2 (kthreadd)'))(
    'kernel threads have no cmdline and no exe',
    () => {
      const rows = scanAll(reader, PROC).rows.filter((r) => r.pid === 2 || r.ppid === 2);
      expect(rows.length).toBeGreaterThan(0);
      let checked = 0;
      for (const r of rows) {
        const d = reader.readProcessDetails(PROC, r.pid, CAP);
        if (!d) continue; // a worker thread that exited
        expect(d.cmdline).toBeUndefined();
        expect(d.cmdlineTruncated).toBe(false);
        expect(d.exe).toBeUndefined();
        expect(d.comm.length).toBeGreaterThan(0);
        checked++;
      }
      expect(checked).toBeGreaterThan(0);
    },
  );

  it('reads a zombie: state Z, no cmdline, no exe, and the same row in both readers', async () => {
    // sh starts a short child, then becomes `sleep 30`, which never waits for it.
    const parent = start('/bin/sh', ['-c', 'sleep 0 & exec sleep 30']);
    const z = await waitForRow(reader, 'the zombie', (r) => r.ppid === parent.pid && r.state === 'Z');
    const d = reader.readProcessDetails(PROC, z.pid, CAP)!;
    expect(d).toMatchObject({ comm: 'sleep', cmdline: undefined, exe: undefined });
    if (native) {
      const again = (r: ProcReader) => scanAll(r, PROC).rows.find((x) => x.pid === z.pid);
      expect(again(native)).toStrictEqual(again(js));
      expect(native.readProcessDetails(PROC, z.pid, CAP)).toStrictEqual(js.readProcessDetails(PROC, z.pid, CAP));
    }
    parent.kill('SIGKILL');
  });

  it('caps a real 100k-character cmdline and flags the cut', async () => {
    const arg = 'é'.repeat(50_000); // 100,000 bytes of two-byte characters
    const child = start('/bin/sh', ['-c', 'sleep 30; exit 0', arg]);
    await waitForRow(reader, 'the child', (r) => r.pid === child.pid);
    const raw = Buffer.from(`/bin/sh\0-c\0sleep 30; exit 0\0${arg}\0`);
    const full = reader.readProcessDetails(PROC, child.pid!, 200_000)!;
    expect(full.cmdline).toBe(`/bin/sh -c sleep 30; exit 0 ${arg}`);
    expect(full.cmdlineTruncated).toBe(false);
    for (const cap of [4096, 4097, 65_536]) {
      const d = reader.readProcessDetails(PROC, child.pid!, cap)!;
      expect(d.cmdlineTruncated).toBe(true);
      const cut = Buffer.from(raw.subarray(0, cap));
      for (let i = 0; i < cut.length; i++) if (cut[i] === 0) cut[i] = 0x20;
      expect(d.cmdline).toBe(new TextDecoder().decode(cut));
      if (native) expect(native.readProcessDetails(PROC, child.pid!, cap)).toStrictEqual(js.readProcessDetails(PROC, child.pid!, cap));
    }
    child.kill('SIGKILL');
  });

  it('never throws while processes exit mid-scan', async () => {
    // A churner forks 600 short-lived processes; meanwhile we scan and read details in a loop.
    const churner = start('/bin/sh', ['-c', 'i=0; while [ $i -lt 150 ]; do sleep 0 & sleep 0 & sleep 0 & sleep 0 & i=$((i+1)); done; wait']);
    let exited = false;
    churner.on('exit', () => (exited = true));
    const deadline = Date.now() + 8000;
    let scans = 0;
    while (!exited && Date.now() < deadline) {
      const { rows } = scanAll(reader, PROC, 8);
      for (const r of rows) {
        expect(r.pid).toBeGreaterThan(0);
        expect(r.state).toMatch(/^[A-Za-z]$/);
        // Details of a child that may have exited since the scan: undefined then, never a throw.
        if (r.ppid === churner.pid) reader.readProcessDetails(PROC, r.pid, CAP);
      }
      scans++;
      await sleep(0); // let the 'exit' event in
    }
    expect(scans).toBeGreaterThan(0);
  });
});

describe('live capacity', () => {
  it.each(readers)('%s: a table smaller than the process count returns the total and fills capacity', (_n, reader) => {
    const full = scanAll(reader, PROC);
    const t = createProcessTable(1);
    const total = reader.scanProcesses(PROC, t);
    expect(total).toBeGreaterThan(1);
        expect(t.count).toBe(1);
    expect(t.pid[0]).toBe(full.rows[0]!.pid); // the lowest pid: rows come in ascending pid order
  });
});
