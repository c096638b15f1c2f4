import { describe, expect, it } from 'vitest';
import { createResource, type MetricPoint } from '../../../../src/model/index.js';
import { silentLogger, type Logger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { type ProcessSourceConfig, processSourceConfig } from '../../../../src/sources/process/config.js';
import { ProcessSource } from '../../../../src/sources/process/process-source.js';
import { ArraySink, FakeReader, fakeProc } from './process-test-readers.js';

const HZ = 100;
const PAGE = 4096;
const BOOT = 1_700_000_000_000_000_000n;
const STEP = 10_000_000_000n; // 10 s between cycles
const HOST = createResource({ 'host.name': 'node-1' });
const ID = 'e883135d2bd464bb0572ed18228d58342c480b57bc0c5795cee88107c3d0d635';

interface Rig {
  source: ProcessSource;
  reader: FakeReader;
  sink: ArraySink;
  registry: Registry;
  /** Runs one cycle into a cleared sink. */
  cycle(): Promise<ArraySink>;
}

function rig(config: Partial<ProcessSourceConfig> = {}, reader = new FakeReader(), logger: Logger = silentLogger()): Rig {
  const registry = new Registry();
  const sink = new ArraySink();
  let now = BOOT + 1_000_000n * 1_000_000_000n;
  const source = new ProcessSource(processSourceConfig(config), {
    reader,
    hostRoot: '/nonexistent-host-root',
    resource: HOST,
    registry,
    logger,
    version: 't',
    clockTicks: HZ,
    pageSize: PAGE,
    bootTimeUnixNano: () => BOOT,
    cpuCount: 4,
    now: () => now,
  });
  return {
    source,
    reader,
    sink,
    registry,
    async cycle() {
      now += STEP;
      sink.clear();
      await source.collect(sink);
      return sink;
    },
  };
}

const KEY = 'sextant.process_group.key';
const groupCpu = (s: ArraySink, key: string, mode = 'user'): number => s.one('process.cpu.time', KEY, key, { 'cpu.mode': mode }).value;
const groupCount = (s: ArraySink, key: string): number => s.one('sextant.process_group.count', KEY, key).value;

/** Captures what a source logs, to hold it to "no log line per process". */
function capturingLogger(lines: string[]): Logger {
  const l = silentLogger();
  const push = (_obj: unknown, msg?: string) => void lines.push(msg ?? String(_obj));
  return Object.assign(Object.create(l), { info: push, warn: push, error: push, debug: () => {}, child: () => capturingLogger(lines) }) as Logger;
}

describe('process identity', () => {
  it('a reused pid with a new start time is a new process', async () => {
    const r = rig({ topByMemory: 10 });
    r.reader.add(fakeProc(100, { comm: 'old', startTicks: 5000, utime: 50, rss: 10 }));
    await r.cycle();
    r.reader.procs.get(100)!.utime = 80;
    await r.cycle();
    // Same pid, later start, another program.
    r.reader.add(fakeProc(100, { comm: 'new', startTicks: 9000, utime: 5, rss: 20, exe: '/usr/bin/new' }));
    const s = await r.cycle();
    expect(r.reader.detailCalls.get(100)).toBe(2);
    expect(r.registry.counter('sextant_process_pid_reused_total', '').get()).toBe(1);
    const p = s.one('process.memory.usage', 'process.pid', 100);
    expect(p.resource.attributes['process.executable.name']).toBe('new');
    expect(p.resource.attributes['process.executable.path']).toBe('/usr/bin/new');
    // The old process left its group with what it had used since the group started (30 ticks).
    expect(groupCount(s, 'old')).toBe(0);
    expect(groupCpu(s, 'old')).toBeCloseTo(0.3);
    // The new one was born since the previous scan: all of its CPU counts in its new group.
    expect(groupCpu(s, 'new')).toBeCloseTo(0.05);
    expect(r.source.trackedProcesses).toBe(1);
  });

  it('process.cpu.time starts at the process start: boot + starttime / USER_HZ', async () => {
    const r = rig();
    r.reader.add(fakeProc(7, { startTicks: 12_345, utime: 250, stime: 75, rss: 1 }));
    const s = await r.cycle();
    const user = s.one('process.cpu.time', 'process.pid', 7, { 'cpu.mode': 'user' });
    expect(user.startTimeUnixNano).toBe(BOOT + 123_450_000_000n);
    expect(user.value).toBe(2.5);
    expect(s.one('process.cpu.time', 'process.pid', 7, { 'cpu.mode': 'system' }).value).toBe(0.75);
    const up = s.one('process.uptime', 'process.pid', 7).value;
    expect(up).toBeCloseTo(1_000_010 - 123.45, 3);
  });
});

describe('details cache', () => {
  it('reads details once per identity, then only on the refresh cadence', async () => {
    const r = rig({ detailsRefreshCycles: 1000 });
    for (let pid = 10; pid < 60; pid++) r.reader.add(fakeProc(pid));
    for (let i = 0; i < 30; i++) {
      for (const p of r.reader.procs.values()) p.utime += 1;
      await r.cycle();
    }
    expect(r.reader.scans).toBe(30);
    expect([...r.reader.detailCalls.values()].every((n) => n === 1)).toBe(true);
    expect(r.reader.totalDetailCalls).toBe(50);

    const slow = rig({ detailsRefreshCycles: 5 });
    for (let pid = 10; pid < 60; pid++) slow.reader.add(fakeProc(pid));
    for (let i = 0; i < 20; i++) await slow.cycle();
    for (const n of slow.reader.detailCalls.values()) {
      // First read, then every 5 cycles after a first wait of 5..9 cycles.
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(4);
    }
  });

  it('a refresh that finds a new program (exec) moves the process to its group; the old group keeps its count', async () => {
    const r = rig({ detailsRefreshCycles: 2 });
    r.reader.add(fakeProc(2000, { comm: 'sh', utime: 10 }));
    await r.cycle();
    const p = r.reader.procs.get(2000)!;
    for (let i = 0; i < 4; i++) {
      p.utime += 10;
      await r.cycle();
    }
    p.comm = 'python3';
    p.exe = '/usr/bin/python3';
    // Refreshes of pid 2000 fall on odd cycles: cycle 6 still sees `sh`, cycle 7 moves it.
    let s = await r.cycle();
    let last = groupCpu(s, 'sh');
    expect(last).toBeCloseTo(0.4);
    for (let i = 0; i < 2; i++) {
      p.utime += 10;
      s = await r.cycle();
      expect(groupCpu(s, 'sh')).toBeGreaterThanOrEqual(last);
      last = groupCpu(s, 'sh');
    }
    expect(groupCount(s, 'python3')).toBe(1);
    expect(groupCount(s, 'sh')).toBe(0);
    expect(s.one('process.memory.usage', 'process.pid', 2000).resource.attributes['process.executable.path']).toBe('/usr/bin/python3');
    // Everything the process used since the first scan is in one group or the other.
    expect(groupCpu(s, 'sh') + groupCpu(s, 'python3')).toBeCloseTo(0.6);
  });
});

describe('bounded memory and series under churn', () => {
  it('10,000 short-lived pids over 100 cycles keep the cache, the groups and the series bounded', async () => {
    const r = rig({ maxGroups: 50 });
    for (let pid = 1; pid <= 20; pid++) r.reader.add(fakeProc(pid, { comm: `daemon${pid}`, rss: 1000 + pid }));
    let next = 1000;
    let maxSeries = 0;
    for (let c = 0; c < 100; c++) {
      for (const p of [...r.reader.procs.values()]) if (p.pid >= 1000) r.reader.kill(p.pid);
      for (let i = 0; i < 100; i++, next++) {
        // 300 distinct names: more than the cap of 50 groups.
        r.reader.add(fakeProc(next, { comm: `worker-${next % 300}`, utime: (next % 7) + 1, startTicks: 100_000 + next }));
      }
      const s = await r.cycle();
      expect(r.source.trackedProcesses).toBe(120);
      expect(r.source.groupCount).toBeLessThanOrEqual(50 + 1);
      const series = r.registry.gauge('sextant_process_series', '').get();
      expect(series).toBe(s.metrics.length);
      maxSeries = Math.max(maxSeries, series);
    }
    expect(next - 1000).toBe(10_000);
    // 51 groups × 13 points + 20 processes × 15 points.
    expect(maxSeries).toBeLessThanOrEqual(51 * 13 + 20 * 15);
    expect(r.registry.gauge('sextant_process_groups', '').get()).toBe(r.source.groupCount);
  });
});

describe('top N per-process series', () => {
  it('exports only the top N by CPU since the last cycle and by memory, each process once', async () => {
    const r = rig({ topByCpu: 3, topByMemory: 2 });
    for (let pid = 1; pid <= 30; pid++) r.reader.add(fakeProc(pid, { utime: 1000 * pid, rss: pid === 5 ? 10_000 : pid }));
    let s = await r.cycle();
    // First scan: no CPU delta yet; memory top only (5 has the most, then 30).
    expect(s.pids()).toEqual([5, 30]);
    // CPU this cycle: 7 > 12 > 5 (no relation to the cumulative totals); 5 is also top memory.
    r.reader.procs.get(7)!.utime += 300;
    r.reader.procs.get(12)!.stime += 200;
    r.reader.procs.get(5)!.utime += 100;
    r.reader.procs.get(29)!.utime += 50;
    s = await r.cycle();
    expect(s.pids()).toEqual([5, 7, 12, 30]);
    expect(s.find('process.cpu.time', 'process.pid', 5)).toHaveLength(2);
    const util = s.one('process.cpu.utilization', 'process.pid', 12, { 'cpu.mode': 'system' });
    // 2 s of CPU over 10 s on 4 CPUs.
    expect(util.value).toBeCloseTo(0.05);
    s = await r.cycle();
    // Nobody used CPU: memory top only again.
    expect(s.pids()).toEqual([5, 30]);
  });

  it('0 and 0 export groups only', async () => {
    const r = rig({ topByCpu: 0, topByMemory: 0 });
    r.reader.add(fakeProc(1, { utime: 5 }));
    await r.cycle();
    r.reader.procs.get(1)!.utime = 50;
    const s = await r.cycle();
    expect(s.pids()).toEqual([]);
    expect(groupCount(s, 'app')).toBe(1);
  });
});

describe('process groups', () => {
  it('group counters never go backwards when members exit, and count from the group start', async () => {
    const r = rig();
    r.reader.add(
      fakeProc(1, { comm: 'nginx', utime: 500, minflt: 1000, io: { readBytes: 4096, writeBytes: 0 } }),
      fakeProc(2, { comm: 'nginx', utime: 500, minflt: 1000, io: { readBytes: 4096, writeBytes: 0 } }),
      fakeProc(3, { comm: 'nginx', utime: 500, minflt: 1000, io: { readBytes: 4096, writeBytes: 0 } }),
    );
    const seen: number[] = [];
    let s = await r.cycle();
    seen.push(groupCpu(s, 'nginx'));
    // Pre-existing members join from what they have: the group starts at 0.
    expect(seen[0]).toBe(0);
    expect(s.one('process.paging.faults', KEY, 'nginx', { 'system.paging.fault.type': 'minor' }).value).toBe(0);
    const start = s.one('process.cpu.time', KEY, 'nginx', { 'cpu.mode': 'user' }).startTimeUnixNano;
    for (const p of r.reader.procs.values()) p.utime += 10;
    s = await r.cycle();
    seen.push(groupCpu(s, 'nginx'));
    expect(seen[1]).toBeCloseTo(0.3);
    r.reader.kill(1);
    for (const p of r.reader.procs.values()) p.utime += 10;
    s = await r.cycle();
    seen.push(groupCpu(s, 'nginx'));
    expect(seen[2]).toBeCloseTo(0.5);
    expect(groupCount(s, 'nginx')).toBe(2);
    // A worker born since the previous scan counts from zero.
    r.reader.add(fakeProc(4, { comm: 'nginx', utime: 7, startTicks: 99_999 }));
    s = await r.cycle();
    seen.push(groupCpu(s, 'nginx'));
    expect(seen[3]).toBeCloseTo(0.57);
    r.reader.kill(2, 3, 4);
    s = await r.cycle();
    seen.push(groupCpu(s, 'nginx'));
    expect(seen[4]).toBeCloseTo(0.57);
    expect(groupCount(s, 'nginx')).toBe(0);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);
    // The series keeps its start through all of this.
    expect(s.one('process.cpu.time', KEY, 'nginx', { 'cpu.mode': 'user' }).startTimeUnixNano).toBe(start);
    expect(s.one('process.disk.io', KEY, 'nginx', { 'disk.io.direction': 'read' }).value).toBe(0);
  });

  it('a group created later starts at the previous scan and sums memory, threads and fds', async () => {
    const r = rig();
    r.reader.add(fakeProc(1, { comm: 'init' }));
    const first = await r.cycle();
    const firstTime = first.metrics[0]!.timeUnixNano;
    r.reader.add(
      fakeProc(50, { comm: 'java', utime: 300, stime: 100, rss: 1000, vsize: 5e9, threads: 40, openFds: 100, majflt: 3, io: { readBytes: 1e6, writeBytes: 2e6 } }),
      fakeProc(51, { comm: 'java', utime: 100, rss: 500, vsize: 4e9, threads: 20, openFds: undefined, io: undefined }),
    );
    const s = await r.cycle();
    const cpu = s.one('process.cpu.time', KEY, 'java', { 'cpu.mode': 'user' });
    expect(cpu.startTimeUnixNano).toBe(firstTime);
    expect(cpu.value).toBe(4);
    expect(s.one('process.memory.usage', KEY, 'java').value).toBe(1500 * PAGE);
    expect(s.one('process.memory.virtual', KEY, 'java').value).toBe(9e9);
    expect(s.one('process.thread.count', KEY, 'java').value).toBe(60);
    expect(s.one('process.unix.file_descriptor.count', KEY, 'java').value).toBe(100);
    expect(s.one('process.disk.io', KEY, 'java', { 'disk.io.direction': 'write' }).value).toBe(2e6);
    expect(s.one('process.paging.faults', KEY, 'java', { 'system.paging.fault.type': 'major' }).value).toBe(3);
    // 4 s user over 10 s on 4 CPUs.
    expect(s.one('process.cpu.utilization', KEY, 'java', { 'cpu.mode': 'user' }).value).toBeCloseTo(0.1);
    const res = cpu.resource.attributes;
    expect(res['process.executable.name']).toBe('java');
    expect(res['host.name']).toBe('node-1');
    expect(res['process.pid']).toBeUndefined();
  });

  it('caps the named groups and sums the rest in `other`, which stays monotonic', async () => {
    const r = rig({ maxGroups: 3, detailsRefreshCycles: 1 });
    for (let i = 0; i < 6; i++) r.reader.add(fakeProc(10 + i, { comm: `svc${i}`, utime: 100 }));
    let s = await r.cycle();
    expect(r.registry.gauge('sextant_process_groups', '').get()).toBe(4);
    expect(['svc0', 'svc1', 'svc2'].map((k) => groupCount(s, k))).toEqual([1, 1, 1]);
    expect(groupCount(s, 'other')).toBe(3);
    const otherRes = s.one('sextant.process_group.count', KEY, 'other').resource.attributes;
    expect(otherRes['process.executable.name']).toBeUndefined();
    let last = groupCpu(s, 'other');
    // The named groups' processes exit; after the idle cycles their slots free up and the
    // processes counted in `other` move to their own groups at their next refresh.
    r.reader.kill(10, 11, 12);
    for (let c = 0; c < 6; c++) {
      for (const p of r.reader.procs.values()) p.utime += 10;
      s = await r.cycle();
      const o = s.find('process.cpu.time', KEY, 'other', { 'cpu.mode': 'user' });
      if (o.length === 1) {
        expect(o[0]!.value).toBeGreaterThanOrEqual(last);
        last = o[0]!.value;
      }
    }
    expect(['svc3', 'svc4', 'svc5'].map((k) => groupCount(s, k))).toEqual([1, 1, 1]);
    expect(s.find('sextant.process_group.count', KEY, 'svc0')).toHaveLength(0);
    expect(r.source.groupCount).toBeLessThanOrEqual(4);
  });

  it('groups by executable and container, or by executable and owner', async () => {
    const byContainer = rig();
    byContainer.reader.add(
      fakeProc(1, { comm: 'nginx', cgroup: `/docker/${ID}` }),
      fakeProc(2, { comm: 'nginx', cgroup: '/system.slice/nginx.service' }),
      fakeProc(3, { comm: 'nginx', cgroup: `/kubepods/burstable/podx/${ID}` }),
    );
    let s = await byContainer.cycle();
    const groups = s.named('sextant.process_group.count');
    expect(groups).toHaveLength(2);
    const inContainer = groups.find((p) => p.resource.attributes['container.id'] === ID)!;
    expect(inContainer.value).toBe(2);
    expect(inContainer.resource.attributes['process.executable.name']).toBe('nginx');

    const byUser = rig({ groupBy: 'exe+user' });
    byUser.reader.add(fakeProc(1, { comm: 'sh', uid: 0 }), fakeProc(2, { comm: 'sh', uid: 1234 }), fakeProc(3, { comm: 'sh', uid: 1234 }));
    s = await byUser.cycle();
    const owners = s.named('sextant.process_group.count').map((p) => [p.resource.attributes['process.owner'], p.value]);
    // No passwd under this host root: owners are uid texts.
    expect(owners.sort()).toEqual([
      ['0', 1],
      ['1234', 2],
    ]);

    const byExe = rig({ groupBy: 'exe' });
    byExe.reader.add(fakeProc(1, { comm: 'sh', cgroup: `/docker/${ID}` }), fakeProc(2, { comm: 'sh' }));
    s = await byExe.cycle();
    expect(groupCount(s, 'sh')).toBe(2);
    expect(s.one('sextant.process_group.count', KEY, 'sh').resource.attributes['container.id']).toBeUndefined();
  });
});

describe('bad input', () => {
  it('kernel threads form one `kernel` group; a pid 2 with a cmdline (pid namespace) is not one', async () => {
    const r = rig({ topByMemory: 0, topByCpu: 5 });
    r.reader.add(
      fakeProc(2, { ppid: 0, comm: 'kthreadd', cmdline: undefined, exe: undefined, rss: 0, vsize: 0 }),
      fakeProc(30, { ppid: 2, comm: 'kworker/3:1-events', cmdline: undefined, exe: undefined, rss: 0, vsize: 0, utime: 5 }),
      fakeProc(31, { ppid: 2, comm: 'ksoftirqd/0', cmdline: undefined, exe: undefined, rss: 0, vsize: 0 }),
    );
    await r.cycle();
    r.reader.procs.get(30)!.utime += 20;
    const s = await r.cycle();
    expect(groupCount(s, 'kernel')).toBe(3);
    expect(s.one('sextant.process_group.count', KEY, 'kernel').resource.attributes['sextant.process.kernel_thread']).toBe(true);
    expect(s.named('sextant.process_group.count')).toHaveLength(1);
    // A busy kernel thread still shows in the CPU top, marked.
    const kw = s.one('process.cpu.time', 'process.pid', 30, { 'cpu.mode': 'user' }).resource.attributes;
    expect(kw['process.executable.name']).toBe('kworker/3:1-events');
    expect(kw['sextant.process.kernel_thread']).toBe(true);
    expect(kw['process.command_line']).toBeUndefined();

    const ns = rig();
    ns.reader.add(fakeProc(2, { ppid: 0, comm: 'app', cmdline: 'app --serve' }));
    const t = await ns.cycle();
    expect(groupCount(t, 'app')).toBe(1);
    expect(t.find('sextant.process_group.count', KEY, 'kernel')).toHaveLength(0);
  });

  it('zombies are counted in their group, with no memory', async () => {
    const r = rig();
    r.reader.add(fakeProc(40, { comm: 'worker', rss: 300 }), fakeProc(41, { comm: 'worker', state: 'Z', cmdline: undefined, exe: undefined, rss: 0, vsize: 0, openFds: undefined, io: undefined }));
    const s = await r.cycle();
    expect(groupCount(s, 'worker')).toBe(2);
    expect(s.one('process.memory.usage', KEY, 'worker').value).toBe(300 * PAGE);
  });

  it('moves every process and group series to a new host identity, keeping their own attributes', async () => {
    const r = rig({ topByMemory: 10 });
    r.reader.add(fakeProc(10, { comm: 'web', rss: 500 }), fakeProc(11, { comm: 'db', rss: 900 }));
    await r.cycle();
    const richer = createResource({ ...HOST.attributes, 'host.cpu.model.name': 'EPYC' });
    r.source.setHostResource(richer);
    const s = await r.cycle();
    expect(s.metrics.length).toBeGreaterThan(0);
    for (const p of s.metrics) expect(p.resource.attributes['host.cpu.model.name']).toBe('EPYC');
    expect(s.one('process.memory.usage', 'process.pid', 11).resource.attributes['process.executable.name']).toBe('db');
    expect(s.one('sextant.process_group.count', KEY, 'web').value).toBe(1);
    for (const p of s.named('system.process.count')) expect(p.resource).toBe(richer);
  });

  it('counts every process by state on the host resource, zeros included', async () => {
    const r = rig();
    r.reader.add(
      fakeProc(1, { comm: 'init', state: 'S' }),
      fakeProc(2, { comm: 'busy', state: 'R' }),
      fakeProc(3, { comm: 'io', state: 'D' }),
      fakeProc(4, { comm: 'gone', state: 'Z', cmdline: undefined, exe: undefined }),
      fakeProc(5, { comm: 'kworker', state: 'I' }),
      fakeProc(6, { comm: 'traced', state: 't' }),
      fakeProc(7, { comm: 'odd', state: 'X' }),
      fakeProc(8, { comm: 'sleeper', state: 'S' }),
    );
    const s = await r.cycle();
    const count = (state: string): number => s.point('system.process.count', { 'process.state': state })!.value;
    expect([count('running'), count('sleeping'), count('blocked'), count('idle'), count('stopped'), count('defunct'), count('unknown')]).toEqual([1, 2, 1, 1, 1, 1, 1]);
    for (const p of s.named('system.process.count')) expect(p.resource).toBe(HOST);
  });

  it('a process gone between the scan and its details is skipped and counted, then retried', async () => {
    const r = rig();
    r.reader.add(fakeProc(1, { comm: 'a' }), fakeProc(2, { comm: 'b' }));
    r.reader.vanishOnDetails.add(2);
    let s = await r.cycle();
    expect(r.registry.counter('sextant_process_vanished_total', '').get()).toBe(1);
    expect(s.find('sextant.process_group.count', KEY, 'b')).toHaveLength(0);
    expect(r.source.trackedProcesses).toBe(1);
    r.reader.vanishOnDetails.clear();
    s = await r.cycle();
    expect(groupCount(s, 'b')).toBe(1);
  });

  it('unreadable io and fds: fields absent, counted once per cycle, logged once', async () => {
    const lines: string[] = [];
    const r = rig({ detailsRefreshCycles: 1 }, new FakeReader(), capturingLogger(lines));
    for (let pid = 1; pid <= 5; pid++) r.reader.add(fakeProc(pid, { comm: 'other-user', io: undefined, openFds: undefined }));
    r.reader.add(fakeProc(9, { comm: 'mine', io: { readBytes: 10, writeBytes: 20 }, openFds: 3 }));
    let s = await r.cycle();
    s = await r.cycle();
    s = await r.cycle();
    const unreadable = r.registry.counter('sextant_process_unreadable_total', '');
    expect(unreadable.get({ field: 'io' })).toBe(15);
    expect(unreadable.get({ field: 'fd' })).toBe(15);
    expect(lines.filter((l) => l.includes('CAP_SYS_PTRACE'))).toHaveLength(1);
    expect(lines.filter((l) => !l.includes('passwd'))).toHaveLength(1);
    expect(s.find('process.disk.io', KEY, 'other-user')).toHaveLength(0);
    expect(s.find('process.unix.file_descriptor.count', KEY, 'other-user')).toHaveLength(0);
    expect(s.find('process.disk.io', KEY, 'mine')).toHaveLength(2);
  });

  it('caps the command line, or exports none at maxCmdlineBytes 0', async () => {
    const long = `/usr/bin/java ${'-Dx=y '.repeat(20_000)}`;
    expect(long.length).toBeGreaterThan(100_000);
    const r = rig({ maxCmdlineBytes: 1000 });
    r.reader.add(fakeProc(1, { comm: 'java', cmdline: long, rss: 5 }));
    const s = await r.cycle();
    const cmd = s.one('process.memory.usage', 'process.pid', 1).resource.attributes['process.command_line'] as string;
    expect(Buffer.byteLength(cmd)).toBe(1000);
    expect(long.startsWith(cmd)).toBe(true);

    const none = rig({ maxCmdlineBytes: 0 });
    none.reader.add(fakeProc(1, { comm: 'java', cmdline: '/usr/bin/java -Dpassword=hunter2', rss: 5 }));
    // Still read (one byte), so a process under kthreadd with a cmdline is not a kernel thread.
    none.reader.add(fakeProc(3, { ppid: 2, comm: 'kworker/0:0', cmdline: undefined, exe: undefined }), fakeProc(4, { ppid: 2, comm: 'userland' }));
    const t = await none.cycle();
    expect(t.one('process.memory.usage', 'process.pid', 1).resource.attributes['process.command_line']).toBeUndefined();
    expect(groupCount(t, 'kernel')).toBe(1);
    expect(groupCount(t, 'userland')).toBe(1);

    // A reader's byte cap inside a two-byte character leaves no replacement character behind.
    const utf = rig({ maxCmdlineBytes: 101 });
    utf.reader.add(fakeProc(1, { cmdline: 'ä'.repeat(1000), rss: 5 }));
    const u = await utf.cycle();
    expect(u.one('process.memory.usage', 'process.pid', 1).resource.attributes['process.command_line']).toBe('ä'.repeat(50));
  });

  it('a resource is built once per process, not per cycle, nor for a new process title', async () => {
    const r = rig({ detailsRefreshCycles: 1 });
    r.reader.add(fakeProc(1, { rss: 10 }));
    const a = (await r.cycle()).one('process.memory.usage', 'process.pid', 1).resource;
    const ga = r.sink.one('process.memory.usage', KEY, 'app').resource;
    r.reader.procs.get(1)!.cmdline = 'app: worker idle';
    const b = (await r.cycle()).one('process.memory.usage', 'process.pid', 1).resource;
    expect(b).toBe(a);
    expect(r.reader.detailCalls.get(1)).toBe(2);
    expect(r.sink.one('process.memory.usage', KEY, 'app').resource).toBe(ga);
  });

  it('a failing scan emits nothing, counts and logs once, and recovers', async () => {
    const lines: string[] = [];
    const r = rig({}, new FakeReader(), capturingLogger(lines));
    r.reader.add(fakeProc(1, { utime: 10 }));
    await r.cycle();
    r.reader.failScan = Object.assign(new Error('ENOENT: /proc'), { code: 'ENOENT' });
    expect((await r.cycle()).metrics).toHaveLength(0);
    await r.cycle();
    const errors = r.registry.counter('sextant_source_read_errors_total', '');
    expect(errors.get({ source: 'process', file: 'proc' })).toBe(2);
    const scanLines = () => lines.filter((l) => !l.includes('passwd'));
    expect(scanLines()).toEqual(['cannot scan processes; process metrics are skipped until it works again']);
    r.reader.failScan = undefined;
    r.reader.procs.get(1)!.utime = 30;
    const s = await r.cycle();
    expect(scanLines()).toHaveLength(2);
    expect(groupCpu(s, 'app')).toBeCloseTo(0.2);
    // Seen at the previous successful scan: the CPU delta is over that gap.
    expect(s.pids()).toContain(1);
  });

  it('counters of one process never step back, even if a reader reports less', async () => {
    const r = rig({ topByCpu: 0, topByMemory: 1 });
    r.reader.add(fakeProc(1, { utime: 100, minflt: 50, rss: 9 }));
    await r.cycle();
    const p = r.reader.procs.get(1)!;
    p.utime = 90;
    p.minflt = 10;
    const s = await r.cycle();
    expect(s.one('process.cpu.time', 'process.pid', 1, { 'cpu.mode': 'user' }).value).toBe(1);
    expect(s.one('process.paging.faults', 'process.pid', 1, { 'system.paging.fault.type': 'minor' }).value).toBe(50);
    expect(groupCpu(s, 'app')).toBe(0);
  });
});

describe('every point is well-formed', () => {
  it('sums carry a start, gauges none, values finite, ints integral', async () => {
    const r = rig();
    for (let pid = 1; pid <= 40; pid++) r.reader.add(fakeProc(pid, { comm: `c${pid % 5}`, utime: pid * 3, rss: pid * 11, vsize: pid * 4096 }));
    await r.cycle();
    for (const p of r.reader.procs.values()) p.utime += p.pid;
    const s = await r.cycle();
    const check = (p: MetricPoint) => {
      expect(Number.isFinite(p.value)).toBe(true);
      if (p.descriptor.valueType === 'int') expect(Number.isInteger(p.value)).toBe(true);
      if (p.descriptor.kind === 'sum' && p.descriptor.monotonic) expect(p.startTimeUnixNano > 0n).toBe(true);
      if (p.descriptor.kind === 'gauge' || !p.descriptor.monotonic) expect(p.startTimeUnixNano).toBe(0n);
      expect(p.startTimeUnixNano <= p.timeUnixNano).toBe(true);
    };
    s.metrics.forEach(check);
    expect(s.metrics.length).toBeGreaterThan(0);
  });
});
