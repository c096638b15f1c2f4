import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuUtilization } from '../../../../src/sources/host/cpu-utilization.js';
import { looksLikePartition } from '../../../../src/sources/host/disk-filter.js';
import * as D from '../../../../src/sources/host/diskstats.js';
import { parseFileNr } from '../../../../src/sources/host/file-nr.js';
import { parseLoadavg } from '../../../../src/sources/host/loadavg.js';
import { parseMeminfo, swapStates } from '../../../../src/sources/host/meminfo.js';
import { parseMountinfo, unescapeOctal } from '../../../../src/sources/lib/mountinfo.js';
import * as N from '../../../../src/sources/lib/net-dev.js';
import { TCP_STATES, TCP_STATE_SLOTS, countTcpStates } from '../../../../src/sources/host/net-tcp.js';
import { parsePressure } from '../../../../src/sources/host/pressure.js';
import { parseProcStat } from '../../../../src/sources/host/proc-stat.js';
import { parseUptime } from '../../../../src/sources/host/uptime.js';
import { parseVmstat } from '../../../../src/sources/host/vmstat.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures/hosts');
const fixture = (host: string, file: string): string => readFileSync(path.join(FIXTURES, host, 'proc', file), 'utf8');
const H100 = 'h100-cgroup2';
const VM = 'vm-hybrid-docker';

const TCP_SAMPLE = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 128 1 0000000004b15465 100 0 0 10 0',
  '   1: 0100007F:1F90 0100007F:A2B4 01 00000000:00000000 00:00000000 00000000  1000        0 9001 1 0000000000000000 20 4 30 10 -1',
  '   2: 0100007F:A2B4 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000',
  '   3: 0100007F:A2B5 0100007F:1F90 0c 00000000:00000000 00:00000000 00000000     0        0 0 3 0000000000000000',
  '',
].join('\n');

/**
 * Every parser gets the same abuse: truncated at every byte, random bytes, invalid UTF-8 as
 * readCapped decodes it (U+FFFD), binary zeros, empty, and a long junk string. None may throw.
 */
const PARSERS: [string, (t: string) => unknown, string][] = [
  ['diskstats', D.parseDiskstats, fixture(VM, 'diskstats')],
  ['net/dev', N.parseNetDev, fixture(VM, 'net/dev')],
  ['vmstat', parseVmstat, fixture(VM, 'vmstat')],
  ['pressure', parsePressure, fixture(H100, 'pressure/io')],
  ['uptime', parseUptime, fixture(VM, 'uptime')],
  ['file-nr', parseFileNr, '414\t0\t2466170\n'],
  ['mountinfo', parseMountinfo, fixture(VM, 'self/mountinfo')],
  ['tcp', (t) => countTcpStates(t, new Float64Array(TCP_STATE_SLOTS)), TCP_SAMPLE],
  ['stat', parseProcStat, fixture(H100, 'stat')],
  ['meminfo', parseMeminfo, fixture(H100, 'meminfo')],
  ['loadavg', parseLoadavg, fixture(H100, 'loadavg')],
];

describe('every host parser survives bad input', () => {
  const random = Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 256));
  const invalidUtf8 = Buffer.from([0xff, 0xfe, 0x20, 0xc3, 0x28, 0x0a, 0x80, 0x31, 0x3a, 0x20, 0xe2, 0x82, 0x0a]).toString('utf8');
  it.each(PARSERS)('%s', (_name, parse, sample) => {
    // Truncation at every byte (capped at 6 KiB of prefix so the test stays fast).
    const limit = Math.min(sample.length, 6144);
    for (let i = 0; i <= limit; i++) expect(() => parse(sample.slice(0, i))).not.toThrow();
    for (const bad of ['', '\n', '\u0000'.repeat(64), random.toString('utf8'), random.toString('latin1'), invalidUtf8, sample.replace(/\d/g, 'x'), '9'.repeat(100_000), `${sample}\n${'x '.repeat(50_000)}`]) {
      expect(() => parse(bad)).not.toThrow();
    }
  });

  it('finds nothing and counts the damage in junk', () => {
    expect(D.parseDiskstats('x y z\n 8 0 sda 1 2\n').disks).toHaveLength(0);
    expect(D.parseDiskstats('x y z\n 8 0 sda 1 2\n').malformed).toBe(2);
    expect(N.parseNetDev('eth0: 1 2 3\nnocolon 1 2\n').malformed).toBe(2);
    expect(parseVmstat('pgfault -1\npgmajfault 1e3\n').malformed).toBe(2);
    expect(parsePressure('some avg10=x avg60=0 avg300=0 total=1\nfull total=1\nodd\n').malformed).toBe(3);
    expect(parseUptime('12')).toBeUndefined();
    expect(parseUptime('-1 2')).toBeUndefined();
    expect(parseFileNr('1 2')).toBeUndefined();
    expect(parseFileNr('1 5 9')).toBeUndefined(); // unused > allocated
    expect(parseMountinfo('1 2 3\n36 35 98:0 /mnt1 /mnt/parent rw - ext3 /dev/root\n').malformed).toBe(2);
    expect(countTcpStates('   0: 00000000:07E8 00000000:0000 0G 0\n   1: a b 00 0\n   2: a b 0D 0\n', new Float64Array(TCP_STATE_SLOTS))).toBe(3);
  });

  it('refuses counters too large to be exact instead of rounding them', () => {
    const big = ' 8 0 sda 99999999999999999 0 0 0 0 0 0 0 0 0 0\n';
    expect(D.parseDiskstats(big).disks).toHaveLength(0);
  });
});

describe('/proc/diskstats', () => {
  it('reads the h100 host (hand-checked vda)', () => {
    const d = D.parseDiskstats(fixture(H100, 'diskstats'));
    expect(d.malformed).toBe(0);
    expect(d.disks.map((x) => x.name)).toEqual(['loop0', 'loop1', 'loop2', 'loop3', 'loop4', 'loop5', 'loop6', 'loop7', 'vda', 'vdb', 'zram0']);
    const vda = d.disks.find((x) => x.name === 'vda')!;
    expect([vda.major, vda.minor]).toEqual([254, 0]);
    expect(Array.from(vda.fields)).toEqual([2855, 912, 1286322, 2107, 36, 0, 496, 2, 0, 1104, 2111]);
  });

  it('reads the VM (hand-checked vda)', () => {
    const vda = D.parseDiskstats(fixture(VM, 'diskstats')).disks.find((x) => x.name === 'vda')!;
    expect(vda.fields[D.DISK_READS]).toBe(64636);
    expect(vda.fields[D.DISK_READ_SECTORS]).toBe(12128250);
    expect(vda.fields[D.DISK_WRITE_SECTORS]).toBe(4630264);
    expect(vda.fields[D.DISK_WRITES_MERGED]).toBe(31072);
    expect(vda.fields[D.DISK_IO_MS]).toBe(14220);
  });

  it('accepts the 14-field format of kernels before 4.18', () => {
    const d = D.parseDiskstats('   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n');
    expect(Array.from(d.disks[0]!.fields)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('tells partitions by name when /sys is not there', () => {
    const names = new Set(['sda', 'sda1', 'sda2', 'nvme0n1', 'nvme0n1p1', 'mmcblk0', 'mmcblk0p2', 'md0', 'dm-0', 'loop0', 'sdb10', 'nvme1n1']);
    const parts = [...names].filter((n) => looksLikePartition(n, names));
    expect(parts.sort()).toEqual(['mmcblk0p2', 'nvme0n1p1', 'sda1', 'sda2']);
  });
});

describe('/proc/net/dev', () => {
  it.each([
    [H100, 625, 10, 1473, 18],
    [VM, 113286850, 2513, 152026, 1548],
  ])('reads eth0 of %s', (host, rxB, rxP, txB, txP) => {
    const n = N.parseNetDev(fixture(host, 'net/dev'));
    expect(n.malformed).toBe(0);
    expect(n.interfaces.map((i) => i.name)).toEqual(['lo', 'ifb0', 'ifb1', 'eth0']);
    const eth0 = n.interfaces.find((i) => i.name === 'eth0')!.fields;
    expect([eth0[N.NET_RX_BYTES], eth0[N.NET_RX_PACKETS], eth0[N.NET_TX_BYTES], eth0[N.NET_TX_PACKETS]]).toEqual([rxB, rxP, txB, txP]);
  });

  it('reads the old format without a blank after the colon', () => {
    const n = N.parseNetDev('Inter-|\n face |\n  eth0:123 4 0 0 0 0 0 0 567 8 0 0 0 0 0 0\n');
    expect(n.interfaces[0]!.name).toBe('eth0');
    expect(n.interfaces[0]!.fields[N.NET_RX_BYTES]).toBe(123);
    expect(n.interfaces[0]!.fields[N.NET_TX_BYTES]).toBe(567);
  });
});

describe('/proc/vmstat', () => {
  it('reads the paging counters of both hosts (hand-checked)', () => {
    const h = parseVmstat(fixture(H100, 'vmstat'));
    expect(h).toMatchObject({ pgpgin: 768113, pgpgout: 248, pswpin: 0, pswpout: 0, pgfault: 113266, pgmajfault: 396, malformed: 0 });
    const v = parseVmstat(fixture(VM, 'vmstat'));
    expect(v).toMatchObject({ pgpgin: 6064125, pgpgout: 2315132, pgfault: 15622134, pgmajfault: 1401 });
  });
});

describe('/proc/pressure', () => {
  it('reads the h100 host (hand-checked)', () => {
    const cpu = parsePressure(fixture(H100, 'pressure/cpu'));
    expect(cpu.some).toEqual({ avg10: 0.51, avg60: 0.49, avg300: 0.13, totalUs: 718355 });
    expect(cpu.full).toEqual({ avg10: 0, avg60: 0, avg300: 0, totalUs: 0 });
    const io = parsePressure(fixture(H100, 'pressure/io'));
    expect(io.some!.totalUs).toBe(976565);
    expect(io.full).toEqual({ avg10: 6.59, avg60: 1.44, avg300: 0.3, totalUs: 974144 });
    expect(parsePressure(fixture(H100, 'pressure/memory')).malformed).toBe(0);
  });

  it('takes a cpu file of kernels before 5.13 (no full line)', () => {
    const p = parsePressure('some avg10=1.00 avg60=2.00 avg300=3.00 total=4\n');
    expect(p.full).toBeUndefined();
    expect(p.some!.avg300).toBe(3);
  });
});

describe('/proc/uptime, /proc/stat counters, file-nr, meminfo swap', () => {
  it('reads both hosts (hand-checked)', () => {
    expect(parseUptime(fixture(H100, 'uptime'))).toEqual({ uptimeSec: 22.52, idleSec: 351.98 });
    expect(parseUptime(fixture(VM, 'uptime'))).toEqual({ uptimeSec: 5829.89, idleSec: 11234.66 });
    const h = parseProcStat(fixture(H100, 'stat'));
    expect([h.bootTimeSec, h.processesCreated, h.procsRunning, h.procsBlocked]).toEqual([1795503032, 432, 1, 0]);
    const v = parseProcStat(fixture(VM, 'stat'));
    expect([v.bootTimeSec, v.processesCreated]).toEqual([1795497332, 27402]);
    expect(parseFileNr('414\t0\t2466170\n')).toEqual({ allocated: 414, unused: 0, max: 2466170 });
    expect(parseFileNr('1 0 9223372036854775807')!.max).toBeGreaterThan(9e18);
  });

  it('derives swap states; no swap is 0/0, not missing', () => {
    expect(swapStates(parseMeminfo(fixture(H100, 'meminfo')))).toEqual({ total: 0, free: 0, used: 0 });
    expect(swapStates(parseMeminfo('SwapTotal: 2048 kB\nSwapFree: 512 kB\n'))).toEqual({ total: 2048 * 1024, free: 512 * 1024, used: 1536 * 1024 });
    expect(swapStates(parseMeminfo('MemTotal: 1 kB\n'))).toBeUndefined();
  });
});

describe('/proc/net/tcp', () => {
  it('counts sockets by state; NEW_SYN_RECV counts as syn_recv', () => {
    const counts = new Float64Array(TCP_STATE_SLOTS);
    expect(countTcpStates(TCP_SAMPLE, counts)).toBe(0);
    expect(counts[TCP_STATES.indexOf('listen')]).toBe(1);
    expect(counts[TCP_STATES.indexOf('established')]).toBe(1);
    expect(counts[TCP_STATES.indexOf('time_wait')]).toBe(1);
    expect(counts[TCP_STATES.indexOf('syn_recv')]).toBe(1);
  });

  it('matches the live kernel line count', () => {
    const counts = new Float64Array(TCP_STATE_SLOTS);
    let lines = 0;
    for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text: string;
      try {
        text = readFileSync(f, 'latin1');
      } catch {
        continue;
      }
      expect(countTcpStates(text, counts)).toBe(0);
      lines += text.split('\n').filter((l) => /^\s*\d+:/.test(l)).length;
    }
    expect(counts.reduce((a, b) => a + b, 0)).toBe(lines);
  });
});

describe('mountinfo', () => {
  it('reads the VM (hand-checked root, bind and overlay)', () => {
    const m = parseMountinfo(fixture(VM, 'self/mountinfo'));
    expect(m.malformed).toBe(0);
    const root = m.mounts.find((x) => x.mountPoint === '/')!;
    expect(root).toMatchObject({ id: 27, parentId: 1, major: 254, minor: 0, root: '/', fsType: 'ext4', source: '/dev/vda', readOnly: false });
    const docker = m.mounts.find((x) => x.mountPoint === '/var/lib/docker')!;
    expect(docker).toMatchObject({ major: 254, minor: 0, root: '/var/lib/docker' });
    expect(m.mounts.find((x) => x.fsType === 'overlay')!.source).toBe('overlay');
    expect(m.mounts.find((x) => x.mountPoint === '/run/docker/netns/1c24b75b9a5d')!.root).toBe('net:[4026532181]');
  });

  it('reads read-only mounts and octal escapes', () => {
    const m = parseMountinfo(fixture(H100, 'self/mountinfo'));
    expect(m.mounts.find((x) => x.mountPoint === '/usr/local/nvidia')).toMatchObject({ fsType: 'squashfs', readOnly: true, source: '/dev/vdb' });
    const esc = parseMountinfo('40 27 8:1 / /mnt/my\\040disk rw,relatime shared:5 master:2 - ext4 /dev/sd\\134a1 ro\n').mounts[0]!;
    expect(esc.mountPoint).toBe('/mnt/my disk');
    expect(esc.source).toBe('/dev/sd\\a1');
    expect(esc.readOnly).toBe(true); // superblock option
    expect(unescapeOctal('a\\011b\\012c')).toBe('a\tb\nc');
  });
});

describe('cpu utilization', () => {
  it('is each mode’s share of the ticks that passed; none without ticks or when going back', () => {
    const out = new Float64Array(4);
    expect(cpuUtilization([10, 0, 10, 80], [20, 0, 20, 160], out)).toBe(true);
    expect(Array.from(out)).toEqual([0.1, 0, 0.1, 0.8]);
    expect(cpuUtilization([1, 1, 1, 1], [1, 1, 1, 1], out)).toBe(false);
    expect(cpuUtilization([5, 1, 1, 1], [1, 9, 9, 9], out)).toBe(false);
  });
});
