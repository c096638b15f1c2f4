import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeltaConverter } from '../../../../src/export/temporality.js';
import { createResource, type MetricPoint } from '../../../../src/model/index.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import type { HostSourceOptions } from '../../../../src/sources/host/config.js';
import { HostSource } from '../../../../src/sources/host/host-source.js';
import type { StatfsFn } from '../../../../src/sources/host/statfs-guard.js';
import { ArraySink } from '../../../helpers/array-sink.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures/hosts');

const tmpDirs: string[] = [];
async function tmpRoot(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'sextant-host-'));
  tmpDirs.push(d);
  await mkdir(path.join(d, 'proc/1/net'), { recursive: true });
  return d;
}
afterEach(async () => {
  await Promise.all(tmpDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const fakeStatfs: StatfsFn = async () => ({ bsize: 4096, blocks: 1000, bfree: 300, bavail: 250, files: 100, ffree: 60 });

function source(options: HostSourceOptions, registry = new Registry(), statfs: StatfsFn = fakeStatfs): HostSource {
  return new HostSource(options, { resource: createResource({ 'host.name': 't' }), registry, logger: silentLogger(), version: '0', clockTicks: 100, statfs });
}

/** A fixture host laid out as it looks under a host root: /proc, and the net files under /proc/1/net. */
async function fixtureRoot(host: string): Promise<string> {
  const root = await tmpRoot();
  await cp(path.join(FIXTURES, host, 'proc'), path.join(root, 'proc'), { recursive: true });
  await cp(path.join(FIXTURES, host, 'proc/net'), path.join(root, 'proc/1/net'), { recursive: true });
  await cp(path.join(FIXTURES, host, 'proc/self/mountinfo'), path.join(root, 'proc/1/mountinfo'));
  return root;
}

const DISK = (name: string, f: number[]): string => `   8       0 ${name} ${f.join(' ')}\n`;

describe('HostSource on the captured hosts', () => {
  it('h100: hand-checked disk, network, paging, PSI, uptime and process values with their units', async () => {
    const root = await fixtureRoot('h100-cgroup2');
    const sink = new ArraySink();
    await source({ hostRoot: root }).collect(sink);
    const boot = 1795503032n * 1_000_000_000n;
    // diskstats vda: 1286322 sectors read × 512; 2107 ms reading; 1104 ms busy.
    const readBytes = sink.point('system.disk.io', { 'system.device': 'vda', 'disk.io.direction': 'read' })!;
    expect(readBytes.value).toBe(1286322 * 512);
    expect(readBytes.startTimeUnixNano).toBe(boot);
    expect(sink.point('system.disk.io', { 'system.device': 'vda', 'disk.io.direction': 'write' })!.value).toBe(496 * 512);
    expect(sink.point('system.disk.operation_time', { 'system.device': 'vda', 'disk.io.direction': 'read' })!.value).toBe(2.107);
    expect(sink.point('system.disk.io_time', { 'system.device': 'vda' })!.value).toBe(1.104);
    expect(sink.point('system.disk.merged', { 'system.device': 'vda', 'disk.io.direction': 'read' })!.value).toBe(912);
    expect(sink.point('system.disk.pending_operations', { 'system.device': 'vda' })!.value).toBe(0);
    // loop devices skipped by default; no /sys/block in the fixture, so names decide partitions.
    const devices = new Set(sink.named('system.disk.io').map((p) => p.attributes['system.device']));
    expect([...devices].sort()).toEqual(['vda', 'vdb', 'zram0']);
    // net/dev eth0 read from /proc/1/net (the host's namespace) under a host root.
    expect(sink.point('system.network.io', { 'network.interface.name': 'eth0', 'network.io.direction': 'transmit' })!.value).toBe(1473);
    expect(sink.point('system.network.packet.count', { 'network.interface.name': 'eth0', 'network.io.direction': 'receive' })!.value).toBe(10);
    // vmstat: minor faults = pgfault − pgmajfault.
    expect(sink.point('system.paging.faults', { 'system.paging.fault.type': 'minor' })!.value).toBe(113266 - 396);
    expect(sink.point('system.paging.faults', { 'system.paging.fault.type': 'major' })!.value).toBe(396);
    expect(sink.point('system.paging.operations', { 'system.paging.fault.type': 'minor', 'system.paging.direction': 'in' })!.value).toBe(768113);
    // No swap: usage 0/0, no utilization.
    expect(sink.named('system.paging.usage').map((p) => p.value)).toEqual([0, 0]);
    expect(sink.named('system.paging.utilization')).toHaveLength(0);
    // PSI: total µs → s; avg percent → ratio.
    expect(sink.point('sextant.pressure.stall.time', { 'sextant.pressure.resource': 'io', 'sextant.pressure.scope': 'full' })!.value).toBe(0.974144);
    expect(sink.point('sextant.pressure.stall.ratio', { 'sextant.pressure.resource': 'cpu', 'sextant.pressure.scope': 'some', 'sextant.pressure.window': '10s' })!.value).toBeCloseTo(0.0051, 12);
    expect(sink.named('sextant.pressure.stall.ratio')).toHaveLength(18);
    expect(sink.named('system.uptime')[0]!.value).toBe(22.52);
    expect(sink.named('sextant.host.boot_time')[0]!.value).toBe(1795503032);
    // Process counts by state come from the process source's scan, not from /proc/stat.
    expect(sink.named('system.process.count')).toHaveLength(0);
    expect(sink.named('system.process.created')[0]!.value).toBe(432);
    // Filesystems: / (ext4) and the tmpfs kept; squashfs, cgroup2, /dev and /proc skipped.
    const mounts = new Set(sink.named('system.filesystem.usage').map((p) => p.attributes['system.filesystem.mountpoint']));
    expect([...mounts].sort()).toEqual(['/', '/mnt/sandboxing/model_tools_env/v1/python']);
    const used = sink.point('system.filesystem.usage', { 'system.filesystem.mountpoint': '/', 'system.filesystem.state': 'used' })!;
    expect(used.value).toBe(700 * 4096);
    expect(used.attributes).toMatchObject({ 'system.device': '/dev/vda', 'system.filesystem.type': 'ext4', 'system.filesystem.mode': 'rw' });
    expect(sink.point('system.filesystem.usage', { 'system.filesystem.mountpoint': '/', 'system.filesystem.state': 'reserved' })!.value).toBe(50 * 4096);
    expect(sink.point('system.filesystem.utilization', { 'system.filesystem.mountpoint': '/' })!.value).toBe(700 / 950);
    expect(sink.point('sextant.filesystem.inodes.usage', { 'system.filesystem.mountpoint': '/', 'system.filesystem.state': 'used' })!.value).toBe(40);
    expect(sink.point('system.filesystem.usage', { 'system.filesystem.mountpoint': '/mnt/sandboxing/model_tools_env/v1/python', 'system.filesystem.state': 'used' })!.attributes['system.filesystem.mode']).toBe('ro');
    // No utilization on the first cycle: it needs two readings.
    expect(sink.named('system.cpu.utilization')).toHaveLength(0);
  });

  it('VM: the bind mount of the root filesystem and the container overlay are not reported again', async () => {
    const root = await fixtureRoot('vm-hybrid-docker');
    const registry = new Registry();
    const sink = new ArraySink();
    await source({ hostRoot: root }, registry).collect(sink);
    const mounts = new Set(sink.named('system.filesystem.limit').map((p) => p.attributes['system.filesystem.mountpoint']));
    expect([...mounts].sort()).toEqual(['/', '/mnt/sandboxing/model_tools_env/v1/python']);
    expect(sink.point('system.disk.operations', { 'system.device': 'vda', 'disk.io.direction': 'write' })!.value).toBe(18329);
    // No PSI files on this host: skipped silently, not counted as read errors.
    expect(sink.named('sextant.pressure.stall.time')).toHaveLength(0);
    expect(registry.render()).not.toMatch(/read_errors_total\{file="pressure\/cpu",source="host"\} [1-9]/);
    // TCP counting is on by default; the capture lacks /proc/net/tcp (not an optional file), and
    // a fixture root has no proc/1/ns/net so the files are read: the one read error.
    expect(registry.render().match(/read_errors_total\{[^}]*\} [1-9]/g)).toEqual(['read_errors_total{file="net/tcp",source="host"} 1']);
    // With TCP counting switched off, every file this cycle reads is in the capture: no read errors at all.
    const withoutTcp = new Registry();
    await source({ hostRoot: root, network: { tcpConnections: false } }, withoutTcp).collect(new ArraySink());
    expect(withoutTcp.render().match(/read_errors_total\{[^}]*\} [1-9]/g)).toBeNull();
  });
});

describe('disks', () => {
  const stats = DISK('sda', [10, 0, 100, 5, 20, 0, 200, 5, 1, 9, 10]) + DISK('sda1', [10, 0, 100, 5, 20, 0, 200, 5, 1, 9, 10])
    + DISK('nvme0n1', [1, 0, 8, 1, 1, 0, 8, 1, 0, 1, 2]) + DISK('nvme0n1p1', [1, 0, 8, 1, 1, 0, 8, 1, 0, 1, 2])
    + DISK('dm-0', [1, 0, 8, 1, 1, 0, 8, 1, 0, 1, 2]) + DISK('loop3', [1, 0, 8, 1, 1, 0, 8, 1, 0, 1, 2]) + DISK('ram0', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const devices = (sink: ArraySink): string[] => [...new Set(sink.named('system.disk.io').map((p) => String(p.attributes['system.device'])))].sort();

  it('skips partitions by /sys/block, and loop and ram devices', async () => {
    const root = await tmpRoot();
    await writeFile(path.join(root, 'proc/diskstats'), stats);
    // dm-0 is whole in /sys/block though its name ends in a digit; sda1 is not listed there.
    for (const d of ['sda', 'nvme0n1', 'dm-0', 'loop3', 'ram0']) await mkdir(path.join(root, 'sys/block', d), { recursive: true });
    const sink = new ArraySink();
    await source({ hostRoot: root }).collect(sink);
    expect(devices(sink)).toEqual(['dm-0', 'nvme0n1', 'sda']);
  });

  it('falls back to names without /sys, and keeps everything when asked', async () => {
    const root = await tmpRoot();
    await writeFile(path.join(root, 'proc/diskstats'), stats);
    const a = new ArraySink();
    await source({ hostRoot: root }).collect(a);
    expect(devices(a)).toEqual(['dm-0', 'nvme0n1', 'sda']);
    const b = new ArraySink();
    await source({ hostRoot: root, disk: { partitions: true, exclude: '' } }).collect(b);
    expect(devices(b)).toEqual(['dm-0', 'loop3', 'nvme0n1', 'nvme0n1p1', 'ram0', 'sda', 'sda1']);
    const c = new ArraySink();
    await source({ hostRoot: root, disk: { include: '^nvme' } }).collect(c);
    expect(devices(c)).toEqual(['nvme0n1']);
  });

  it('a counter that goes backwards starts a new series, and the DeltaConverter never goes negative', async () => {
    const root = await tmpRoot();
    const file = path.join(root, 'proc/diskstats');
    const s = source({ hostRoot: root });
    const delta = new DeltaConverter({ since: 0n });
    const cycle = async (f: number[]): Promise<{ start: bigint; time: bigint; deltas: MetricPoint[] }> => {
      await writeFile(file, DISK('sdz', f));
      const sink = new ArraySink();
      await s.collect(sink);
      const p = sink.point('system.disk.operations', { 'system.device': 'sdz', 'disk.io.direction': 'read' })!;
      return { start: p.startTimeUnixNano, time: p.timeUnixNano, deltas: delta.convert(sink.metrics).filter((x) => x.descriptor.name === 'system.disk.operations' && x.attributes['disk.io.direction'] === 'read') };
    };
    const one = await cycle([1000, 0, 8000, 10, 5, 0, 40, 1, 3, 11, 12]);
    const two = await cycle([1500, 0, 12000, 15, 6, 0, 48, 2, 0, 16, 18]); // in-flight 3 → 0 is not a reset
    expect(two.start).toBe(one.start);
    expect(two.deltas[0]!.value).toBe(500);
    const three = await cycle([7, 0, 56, 1, 1, 0, 8, 1, 0, 1, 2]); // device re-added: counters restart
    expect(three.start).toBe(two.time);
    expect(three.start).toBeGreaterThan(one.start);
    expect(three.deltas[0]!.value).toBe(7);
    for (const c of [two, three]) for (const d of c.deltas) expect(d.value).toBeGreaterThanOrEqual(0);
    const four = await cycle([9, 0, 72, 1, 1, 0, 8, 1, 0, 1, 2]);
    expect(four.start).toBe(three.start);
    expect(four.deltas[0]!.value).toBe(2);
  });

  it('a device that appears after the first cycle starts at the previous cycle', async () => {
    const root = await tmpRoot();
    const file = path.join(root, 'proc/diskstats');
    const s = source({ hostRoot: root });
    await writeFile(file, DISK('sda', [1, 0, 8, 1, 1, 0, 8, 1, 0, 1, 2]));
    const a = new ArraySink();
    await s.collect(a);
    await writeFile(file, DISK('sda', [1, 0, 8, 1, 1, 0, 8, 1, 0, 1, 2]) + DISK('sdb', [5, 0, 8, 1, 1, 0, 8, 1, 0, 1, 2]));
    const b = new ArraySink();
    await s.collect(b);
    const sdb = b.point('system.disk.operations', { 'system.device': 'sdb', 'disk.io.direction': 'read' })!;
    expect(sdb.startTimeUnixNano).toBe(a.named('system.disk.operations')[0]!.timeUnixNano);
    expect(b.point('system.disk.operations', { 'system.device': 'sda', 'disk.io.direction': 'read' })!.startTimeUnixNano).toBe(a.named('system.disk.operations')[0]!.startTimeUnixNano);
  });
});

describe('network', () => {
  it('streams a /proc/net/tcp larger than one read chunk and counts every socket', async () => {
    const root = await tmpRoot();
    const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
    let body = '';
    for (let i = 0; i < 4000; i++) {
      const st = i % 3 === 0 ? '0A' : i % 3 === 1 ? '01' : '06';
      body += `${String(i).padStart(4)}: 0100007F:${(1000 + i).toString(16).toUpperCase().padStart(4, '0')} 0100007F:1F90 ${st} 00000000:00000000 00:00000000 00000000     0        0 ${i} 1 0000000000000000 100 0 0 10 0\n`;
    }
    expect(body.length).toBeGreaterThan(256 << 10);
    await writeFile(path.join(root, 'proc/1/net/tcp'), header + body.slice(0, -1)); // last line without newline
    const registry = new Registry();
    const sink = new ArraySink();
    // On by default (counted over netlink where it can be: BENCHMARKS.md); off when asked.
    const byDefault = new ArraySink();
    await source({ hostRoot: root }, new Registry()).collect(byDefault);
    expect(byDefault.named('system.network.connection.count')).toHaveLength(11);
    const off = new ArraySink();
    await source({ hostRoot: root, network: { tcpConnections: false } }, new Registry()).collect(off);
    expect(off.named('system.network.connection.count')).toHaveLength(0);
    await source({ hostRoot: root, network: { tcpConnections: true } }, registry).collect(sink);
    const count = (state: string): number => sink.point('system.network.connection.count', { 'network.connection.state': state })!.value;
    expect(count('listen') + count('established') + count('time_wait')).toBe(4000);
    expect(count('listen')).toBe(1334);
    expect(sink.named('system.network.connection.count')).toHaveLength(11);
    expect(registry.render()).not.toMatch(/malformed_total\{file="net\/tcp",source="host"\} [1-9]/);
  });

  it('excludes per-pod veths by default and counts a reset per interface', async () => {
    const root = await tmpRoot();
    const file = path.join(root, 'proc/1/net/dev');
    const dev = (eth: number): string => `Inter-|\n face |\n  eth0: ${eth} 1 0 0 0 0 0 0 ${eth} 1 0 0 0 0 0 0\n vethab12: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n`;
    const s = source({ hostRoot: root });
    await writeFile(file, dev(1000));
    const a = new ArraySink();
    await s.collect(a);
    expect(new Set(a.named('system.network.io').map((p) => p.attributes['network.interface.name']))).toEqual(new Set(['eth0']));
    await writeFile(file, dev(10));
    const b = new ArraySink();
    await s.collect(b);
    expect(b.named('system.network.io')[0]!.startTimeUnixNano).toBe(a.named('system.network.io')[0]!.timeUnixNano);
  });
});

describe('bad files', () => {
  it('counts oversized and binary files, skips missing optional ones silently', async () => {
    const root = await tmpRoot();
    const registry = new Registry();
    await writeFile(path.join(root, 'proc/diskstats'), Buffer.alloc(2 << 20, 0x31));
    await writeFile(path.join(root, 'proc/vmstat'), Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x0a, 0x80]));
    await writeFile(path.join(root, 'proc/1/net/dev'), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31) % 256)));
    const sink = new ArraySink();
    await source({ hostRoot: root }, registry).collect(sink);
    const text = registry.render();
    expect(text).toMatch(/read_errors_total\{file="diskstats",source="host"\} 1/);
    expect(text).toMatch(/malformed_total\{file="vmstat",source="host"\} [1-9]/);
    expect(text).toMatch(/malformed_total\{file="net\/dev",source="host"\} [1-9]/);
    for (const optional of ['pressure/cpu', 'pressure/io', 'net/tcp6', 'sys/fs/file-nr']) {
      expect(text).toMatch(new RegExp(`read_errors_total\\{file="${optional.replace('/', '\\/')}",source="host"\\} 0`));
    }
    expect(sink.named('system.disk.io')).toHaveLength(0);
  });
});

describe('live /proc', () => {
  it('agrees with the os module and df', async () => {
    // Node's own statfs this time.
    const s = new HostSource({ hostRoot: '/' }, { resource: createResource({}), registry: new Registry(), logger: silentLogger(), version: '0', clockTicks: 100 });
    const a = new ArraySink();
    await s.collect(a);
    await new Promise((r) => setTimeout(r, 120));
    const b = new ArraySink();
    await s.collect(b);
    const cpus = os.cpus().length;
    expect(b.named('system.cpu.utilization')).toHaveLength(cpus * 8);
    for (let c = 0; c < cpus; c++) {
      const sum = b.named('system.cpu.utilization').filter((p) => p.attributes['cpu.logical_number'] === c).reduce((x, p) => x + p.value, 0);
      if (sum > 0) expect(sum).toBeCloseTo(1, 9);
    }
    expect(Math.abs(b.named('system.uptime')[0]!.value - os.uptime())).toBeLessThan(2);
    const boot = b.named('sextant.host.boot_time')[0]!.value;
    expect(Math.abs(boot + os.uptime() - Date.now() / 1000)).toBeLessThan(3);
    expect(b.named('sextant.host.file_descriptors.allocated')[0]!.value).toBeGreaterThan(0);
    // df -B1 / : used and available bytes (df's Used is blocks − free, Avail is bavail).
    const df = execFileSync('df', ['-B1', '--output=used,avail', '/'], { encoding: 'utf8' }).trim().split('\n')[1]!.trim().split(/\s+/).map(Number);
    const used = b.point('system.filesystem.usage', { 'system.filesystem.mountpoint': '/', 'system.filesystem.state': 'used' })!.value;
    const free = b.point('system.filesystem.usage', { 'system.filesystem.mountpoint': '/', 'system.filesystem.state': 'free' })!.value;
    expect(Math.abs(used - df[0]!)).toBeLessThan(64 << 20); // other helpers write meanwhile
    expect(Math.abs(free - df[1]!)).toBeLessThan(64 << 20);
    // Interfaces and disks the kernel lists.
    const ifaces = (await readFile('/proc/net/dev', 'utf8')).split('\n').slice(2).filter((l) => l.includes(':')).length;
    expect(new Set(b.named('system.network.io').map((p) => p.attributes['network.interface.name'])).size).toBe(ifaces);
  });
});
