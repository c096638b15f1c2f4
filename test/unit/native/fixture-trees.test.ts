// Both /proc readers on fake /proc trees built in a tmp dir: the captured hosts, then every trap
// we know of. Each case asserts the expected values AND that the addon and the fallback agree.
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessTable, type ProcessDetails } from '../../../src/native/types.js';
import { copyCaptured, js, native, readers, removeDir, rows, scanAll, statLine, tmpDir, writeProcess } from './proc-tree.js';

const CAP = 4096;

/** Runs `fn` with each reader and demands identical results; returns the (shared) result. */
function both<T>(fn: (r: (typeof readers)[number][1]) => T): T {
  const fromJs = fn(js);
  if (native) expect(fn(native)).toStrictEqual(fromJs);
  return fromJs;
}

describe('captured hosts', () => {
  let root: string;
  beforeAll(() => {
    root = tmpDir('captured');
    copyCaptured(root, 'h100-cgroup2', 'shell-pid', 399);
    copyCaptured(root, 'vm-hybrid-docker', 'container-init', 4342);
  });
  afterAll(() => removeDir(root));

  it('scans both processes with the kernel values', () => {
    const scan = both((r) => scanAll(r, root));
    expect(scan.total).toBe(2);
    expect(scan.malformed).toBe(0);
    const byPid = new Map(scan.rows.map((r) => [r.pid, r]));
    expect(byPid.get(399)).toEqual({
      pid: 399, ppid: 398, state: 'S', startTicks: 2244, utimeTicks: 0, stimeTicks: 1,
      minorFaults: 2089, majorFaults: 0, threads: 1, vsizeBytes: 7667712, rssPages: 984,
    });
    expect(byPid.get(4342)).toEqual({
      pid: 4342, ppid: 4322, state: 'S', startTicks: 543387, utimeTicks: 2, stimeTicks: 16,
      minorFaults: 7780, majorFaults: 1, threads: 1, vsizeBytes: 2322432, rssPages: 380,
    });
  });

  it('reads the details of the GPU host shell (cgroup v2)', () => {
    const d = both((r) => r.readProcessDetails(root, 399, CAP))!;
    expect(d.comm).toBe('bash');
    expect(d.cmdline!.startsWith('bash -c set -x; uname -a; nproc;')).toBe(true);
    expect(d.cmdline!.endsWith('ls -la $OUT')).toBe(true);
    expect(d.cmdlineTruncated).toBe(false);
    expect(d.uid).toBe(0);
    expect(d.cgroup).toBe('/system.slice/workload.scope');
    expect(d.io).toEqual({ readBytes: 274432, writeBytes: 221184 });
    // The capture has no exe link and no fd/ directory: unreadable, not an error.
    expect(d.exe).toBeUndefined();
    expect(d.openFds).toBeUndefined();
  });

  it('reads the details of the container init (hybrid cgroup v1, v2 line wins)', () => {
    const d = both((r) => r.readProcessDetails(root, 4342, CAP))!;
    expect(d).toStrictEqual({
      comm: 'sh',
      cmdline: 'sh -c while true; do echo hello $(date); sleep 1; done',
      cmdlineTruncated: false,
      exe: undefined,
      uid: 0,
      cgroup: '/docker/e883135d2bd464bb0572ed18228d58342c480b57bc0c5795cee88107c3d0d635',
      io: { readBytes: 262144, writeBytes: 0 },
      openFds: undefined,
    } satisfies ProcessDetails);
  });

  it('returns undefined for a pid that is not there', () => {
    expect(both((r) => r.readProcessDetails(root, 12345, CAP))).toBeUndefined();
  });
});

describe('traps', () => {
  let root: string;
  beforeAll(() => (root = tmpDir('traps')));
  afterAll(() => removeDir(root));

  it('splits comm at the LAST parenthesis (spaces and parentheses in comm)', () => {
    const dir = path.join(root, 'comm');
    writeProcess(dir, '1234', { stat: '1234 (a) b (c)) S 1 1234 1234 0 -1 4194304 5 0 6 0 7 8 0 0 20 0 3 0 999 4096 2 18446744073709551615 0 0\n' });
    writeProcess(dir, '1235', { stat: statLine(1235, ') ) (( x) R 9 (') });
    const scan = both((r) => scanAll(r, dir));
    expect(scan.malformed).toBe(0);
    const byPid = new Map(scan.rows.map((r) => [r.pid, r]));
    expect(byPid.get(1234)).toMatchObject({ ppid: 1, state: 'S', minorFaults: 5, majorFaults: 6, utimeTicks: 7, stimeTicks: 8, threads: 3, startTicks: 999, vsizeBytes: 4096, rssPages: 2 });
    expect(byPid.get(1235)).toMatchObject({ ppid: 1, state: 'S', startTicks: 2200 });
    expect(both((r) => r.readProcessDetails(dir, 1234, CAP))!.comm).toBe('a) b (c)');
    expect(both((r) => r.readProcessDetails(dir, 1235, CAP))!.comm).toBe(') ) (( x) R 9 (');
  });

  it('identifies a reused pid by its new starttime', () => {
    const dir = path.join(root, 'reuse');
    writeProcess(dir, '500', { stat: statLine(500, 'old', { 22: 1000 }), cmdline: 'old\0' });
    const table = createProcessTable(8);
    both((r) => (r.scanProcesses(dir, table), rows(table)));
    expect(rows(table)[0]).toMatchObject({ pid: 500, startTicks: 1000 });
    writeFileSync(path.join(dir, '500', 'stat'), statLine(500, 'new', { 22: 7000, 14: 1 }));
    writeFileSync(path.join(dir, '500', 'cmdline'), 'new\0--flag\0');
    const after = both((r) => (r.scanProcesses(dir, table), rows(table)));
    expect(after[0]).toMatchObject({ pid: 500, startTicks: 7000, utimeTicks: 1 });
    expect(both((r) => r.readProcessDetails(dir, 500, CAP))).toMatchObject({ comm: 'new', cmdline: 'new --flag' });
  });

  it('skips malformed stat files, counts them, and never throws', () => {
    const dir = path.join(root, 'malformed');
    const good = statLine(10, 'good');
    writeProcess(dir, '10', { stat: good });
    const bad: Record<string, string | Buffer> = {
      '11': '', // empty
      '12': good.subarray(0, 40), // truncated before rss
      '13': Buffer.from([0x00, 0xff, 0x28, 0x29, 0x0a, 0x01, 0x02, 0xfe]), // binary
      '14': '14 (no close paren S 1 2 3\n',
      '15': statLine(15, 'neg', { 4: -1 }), // negative ppid
      '16': statLine(16, 'x', { 3: '?' }), // not a state letter
      '17': statLine(17, 'x', { 14: '12a' }), // junk in a number
      '18': statLine(18, 'x', { 20: 2 ** 31 }), // threads beyond Int32
      '19': statLine(19, 'x').toString().replace(' 0 0 0 ', '  0 0 '), // an empty field
      '20': 'abc (x) S 1\n', // no pid
      '21': statLine(21, 'x').toString().replace(/^21 \(/, '21('), // no space before (
      '22': Buffer.alloc(4096, 0x41), // a full buffer of 'A'
    };
    for (const [pid, stat] of Object.entries(bad)) writeProcess(dir, pid, { stat });
    const scan = both((r) => scanAll(r, dir));
    expect(scan.rows.map((r) => r.pid)).toEqual([10]);
    expect(scan.total).toBe(1);
    expect(scan.malformed).toBe(Object.keys(bad).length);
    for (const pid of Object.keys(bad)) expect(both((r) => r.readProcessDetails(dir, Number(pid), CAP))).toBeUndefined();
  });

  it('accepts a stat that ends right after rss, and huge numbers as the same doubles', () => {
    const dir = path.join(root, 'edges');
    const line = statLine(30, 'x').toString().split(' ').slice(0, 24).join(' ');
    writeProcess(dir, '30', { stat: line });
    writeProcess(dir, '31', { stat: statLine(31, 'x', { 23: '18446744073709551615', 24: '123456789012345678901234567890', 10: '9007199254740993' }) });
    const scan = both((r) => scanAll(r, dir));
    const byPid = new Map(scan.rows.map((r) => [r.pid, r]));
    expect(byPid.get(30)).toMatchObject({ rssPages: 240 });
    // Beyond 2^53 the digit-by-digit doubles may differ from Number(text) in the last bit; what
    // matters is that both readers compute the same one (asserted by both()).
    expect(byPid.get(31)!.vsizeBytes / 18446744073709551615 - 1).toBeLessThan(1e-15);
    expect(Math.abs(byPid.get(31)!.rssPages / 1.2345678901234568e29 - 1)).toBeLessThan(1e-12);
    expect(byPid.get(31)!.minorFaults).toBe(9007199254740992);
  });

  it('lists only numeric entries (no leading zero, ≤ 2^31−1) and skips entries without a stat', () => {
    const dir = path.join(root, 'names');
    for (const name of ['self', 'thread-self', '0123', '0', '2147483648', '99999999999', 'abc', '12x']) {
      writeProcess(dir, name, { stat: statLine(1, 'x') });
    }
    writeProcess(dir, '2147483647', { stat: statLine(2147483647, 'max') });
    writeProcess(dir, '41', {}); // vanished: directory but no stat (ENOENT)
    writeFileSync(path.join(dir, '42'), 'not a directory'); // ENOTDIR
    const scan = both((r) => scanAll(r, dir));
    expect(scan.rows.map((r) => r.pid)).toEqual([2147483647]);
    expect(scan.malformed).toBe(0);
  });

  it('fills only the capacity and returns the total, in ascending pid order for both readers', () => {
    const dir = path.join(root, 'capacity');
    // Created out of order and with different digit counts ("9" sorts after "10" as a string).
    const pids = [130, 9, 1000, 10, 55, 2, 100000, 131, 7, 99];
    for (let i = 100; i < 130; i++) pids.push(i);
    for (const pid of pids) writeProcess(dir, String(pid), { stat: statLine(pid, `p${pid}`, { 22: pid * 10 }) });
    const full = both((r) => scanAll(r, dir));
    expect(full.total).toBe(40);
    expect(full.rows.map((r) => r.pid)).toEqual([...pids].sort((a, b) => a - b));
    for (const cap of [0, 1, 7, 39, 40, 41]) {
      const table = createProcessTable(cap);
      const got = both((r) => ({ total: r.scanProcesses(dir, table), count: table.count, rows: rows(table) }));
      expect(got.total).toBe(40);
      expect(got.count).toBe(Math.min(40, cap));
      expect(got.rows).toEqual(full.rows.slice(0, cap));
    }
  });

  it('throws a coded error when the process directory itself cannot be listed', () => {
    const table = createProcessTable(4);
    const missing = path.join(root, 'does-not-exist');
    for (const [, r] of readers) {
      expect(() => r.scanProcesses(missing, table)).toThrow(expect.objectContaining({ code: 'ENOENT', message: `cannot read process directory ${missing}: ENOENT` }));
    }
    const file = path.join(root, 'a-file');
    writeFileSync(file, '');
    for (const [, r] of readers) expect(() => r.scanProcesses(file, table)).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    const long = '/' + 'x'.repeat(5000);
    for (const [, r] of readers) expect(() => r.scanProcesses(long, table)).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }));
    for (const [, r] of readers) expect(r.readProcessDetails(long, 1, 10)).toBeUndefined();
  });

  it('rejects bad arguments the same way', () => {
    for (const [, r] of readers) {
      expect(() => r.scanProcesses('/pr\0oc', createProcessTable(1))).toThrow(TypeError);
      const broken = { ...createProcessTable(4), pid: new Int32Array(2) };
      expect(() => r.scanProcesses(root, broken)).toThrow(TypeError);
      expect(() => r.readProcessDetails(root, 0, 10)).toThrow(TypeError);
      expect(() => r.readProcessDetails(root, 1.5, 10)).toThrow(TypeError);
      expect(() => r.readProcessDetails(root, 1, -1)).toThrow(TypeError);
      expect(() => r.readProcessDetails(root, 1, 2 ** 40)).toThrow(TypeError);
    }
  });
});

describe('details', () => {
  let root: string;
  beforeAll(() => (root = tmpDir('details')));
  afterAll(() => removeDir(root));

  it('caps cmdline at maxCmdlineBytes and flags the cut', () => {
    const arg = 'a'.repeat(100_000);
    writeProcess(root, '60', { stat: statLine(60, 'big'), cmdline: `prog\0${arg}\0` });
    const whole = both((r) => r.readProcessDetails(root, 60, 200_000))!;
    expect(whole.cmdline).toBe(`prog ${arg}`);
    expect(whole.cmdlineTruncated).toBe(false);
    const capped = both((r) => r.readProcessDetails(root, 60, 4096))!;
    expect(capped.cmdline).toBe(`prog ${arg}`.slice(0, 4096));
    expect(capped.cmdlineTruncated).toBe(true);
    // Exactly the file's length is not a cut; one byte less is (the final NUL is the cut byte).
    const len = 5 + 100_000 + 1;
    expect(both((r) => r.readProcessDetails(root, 60, len))!.cmdlineTruncated).toBe(false);
    expect(both((r) => r.readProcessDetails(root, 60, len - 1))).toMatchObject({ cmdline: `prog ${arg}`, cmdlineTruncated: true });
    expect(both((r) => r.readProcessDetails(root, 60, 0))).toMatchObject({ cmdline: undefined, cmdlineTruncated: true });
  });

  it('drops trailing NULs, joins arguments with spaces, and reads an empty cmdline as a kernel thread', () => {
    writeProcess(root, '61', { stat: statLine(61, 'pad'), cmdline: 'postgres: checkpointer\0\0\0\0\0\0' });
    writeProcess(root, '62', { stat: statLine(62, 'kworker/0:1'), cmdline: '' });
    writeProcess(root, '63', { stat: statLine(63, 'nul'), cmdline: '\0\0' });
    writeProcess(root, '64', { stat: statLine(64, 'empty-args'), cmdline: 'a\0\0b\0' });
    expect(both((r) => r.readProcessDetails(root, 61, CAP))!.cmdline).toBe('postgres: checkpointer');
    expect(both((r) => r.readProcessDetails(root, 62, CAP))).toMatchObject({ comm: 'kworker/0:1', cmdline: undefined, cmdlineTruncated: false });
    expect(both((r) => r.readProcessDetails(root, 63, CAP))!.cmdline).toBeUndefined();
    expect(both((r) => r.readProcessDetails(root, 64, CAP))!.cmdline).toBe('a  b');
  });

  it('replaces invalid UTF-8 in comm, cmdline, exe and cgroup with U+FFFD', () => {
    const bad = Buffer.from([0x61, 0xff, 0x62, 0xc3, 0x28, 0xe2, 0x82, 0x20, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98]);
    const expected = new TextDecoder().decode(bad);
    expect(expected).toContain('\ufffd');
    writeProcess(root, '70', {
      stat: statLine(70, bad),
      cmdline: Buffer.concat([bad, Buffer.from([0]), bad, Buffer.from([0])]),
      exe: Buffer.concat([Buffer.from('/usr/bin/'), bad]),
      cgroup: Buffer.concat([Buffer.from('0::/kubepods/'), bad, Buffer.from('\n')]),
    });
    const d = both((r) => r.readProcessDetails(root, 70, CAP))!;
    expect(d.comm).toBe(expected);
    expect(d.cmdline).toBe(`${expected} ${expected}`);
    expect(d.exe).toBe(`/usr/bin/${expected}`);
    expect(d.cgroup).toBe(`/kubepods/${expected}`);
    // A cap that cuts a multi-byte character leaves one U+FFFD, the same in both readers.
    writeProcess(root, '71', { stat: statLine(71, 'x'), cmdline: 'ab€\0' });
    expect(both((r) => r.readProcessDetails(root, 71, 4))).toMatchObject({ cmdline: 'ab\ufffd', cmdlineTruncated: true });
  });

  it('parses uid, io, cgroup and fd counts, and leaves each undefined when absent or malformed', () => {
    writeProcess(root, '80', {
      stat: statLine(80, 'full'),
      status: 'Name:\tfull\nUmask:\t0022\nUid:\t1000\t1000\t1000\t1000\nGid:\t0\t0\t0\t0\n',
      cgroup: '12:pids:/user.slice\n11:memory:/user.slice/x\n',
      io: 'rchar: 1\nwchar: 2\nread_bytes: 3\nwrite_bytes: 4\ncancelled_write_bytes: 0\n',
      exe: '/usr/bin/full',
      fds: 3,
    });
    expect(both((r) => r.readProcessDetails(root, 80, CAP))).toStrictEqual({
      comm: 'full', cmdline: undefined, cmdlineTruncated: false, exe: '/usr/bin/full', uid: 1000,
      cgroup: '/user.slice', io: { readBytes: 3, writeBytes: 4 }, openFds: 3,
    } satisfies ProcessDetails);

    writeProcess(root, '81', {
      stat: statLine(81, 'odd'),
      status: 'Name:\todd\nXUid:\t5\nUid:\tx\t1\n',
      cgroup: 'garbage\n0::\n3::\n:cpu:/nope\n7:cpu,cpuacct:\n5:blkio:/first\n0::/second-v2\n',
      io: 'read_bytes: 3\n',
      fds: 0,
    });
    expect(both((r) => r.readProcessDetails(root, 81, CAP))).toMatchObject({ uid: undefined, cgroup: '/second-v2', io: undefined, openFds: 0 });

    writeProcess(root, '82', {
      stat: statLine(82, 'v1'),
      status: 'Uid: 4294967295 0\n',
      cgroup: '0::\n5:blkio:/first:with:colons\n4:memory:/second',
      io: 'write_bytes: 9\nread_bytes: 8',
    });
    expect(both((r) => r.readProcessDetails(root, 82, CAP))).toMatchObject({ uid: 4294967295, cgroup: '/first:with:colons', io: { readBytes: 8, writeBytes: 9 } });

    writeProcess(root, '83', { stat: statLine(83, 'bin'), status: Buffer.from([0xff, 0x00, 0x55]), cgroup: Buffer.from([0x30, 0x3a, 0x3a, 0xff]), io: Buffer.alloc(20000, 0x31) });
    expect(both((r) => r.readProcessDetails(root, 83, CAP))).toMatchObject({ uid: undefined, cgroup: '\ufffd', io: undefined });
  });

  it('bounds oversized status, cgroup and io files at the same place in both readers', () => {
    const filler = 'Groups:\t' + '1 '.repeat(20_000) + '\n';
    writeProcess(root, '90', { stat: statLine(90, 'big'), status: `Name:\tbig\n${filler}Uid:\t7\t7\t7\t7\n`, cgroup: `1:cpu:/${'a'.repeat(20_000)}\n0::/late\n` });
    const d = both((r) => r.readProcessDetails(root, 90, CAP))!;
    expect(d.uid).toBeUndefined(); // past the 16 KiB read
    expect(d.cgroup).toBe(`/${'a'.repeat(16384 - 7)}`);
  });

  it('treats unreadable files as absent (root bypasses chmod 000, so this checks nothing breaks)', () => {
    writeProcess(root, '95', { stat: statLine(95, 'locked'), io: 'read_bytes: 1\nwrite_bytes: 2\n', fds: 1 });
    chmodSync(path.join(root, '95', 'io'), 0);
    chmodSync(path.join(root, '95', 'fd'), 0);
    const d = both((r) => r.readProcessDetails(root, 95, CAP))!;
    expect(d.comm).toBe('locked');
    // As root (CAP_DAC_OVERRIDE) the files still read; as nobody see permission.test.ts.
    if (process.getuid?.() !== 0) expect(d).toMatchObject({ io: undefined, openFds: undefined });
  });
});
