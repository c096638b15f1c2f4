import { mkdtemp, mkdir, readFile, rm, writeFile, cp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createResource } from '../../../../src/model/index.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { HostSource } from '../../../../src/sources/host/host-source.js';
import { parseLoadavg } from '../../../../src/sources/host/loadavg.js';
import { memoryStates, parseMeminfo } from '../../../../src/sources/host/meminfo.js';
import { CPU_MODES, parseProcStat } from '../../../../src/sources/host/proc-stat.js';
import { ArraySink } from '../../../helpers/array-sink.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures/hosts');
const HOSTS = ['h100-cgroup2', 'vm-hybrid-docker'];

const tmpDirs: string[] = [];
async function tmpRoot(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'sextant-host-'));
  tmpDirs.push(d);
  await mkdir(path.join(d, 'proc'), { recursive: true });
  return d;
}
afterEach(async () => {
  await Promise.all(tmpDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function source(hostRoot: string, registry = new Registry()): HostSource {
  return new HostSource({ hostRoot }, { resource: createResource({ 'host.name': 't' }), registry, logger: silentLogger(), version: '0', clockTicks: 100 });
}

describe('/proc/stat', () => {
  it.each(HOSTS)('parses every logical CPU of %s and the boot time', async (host) => {
    const text = await readFile(path.join(FIXTURES, host, 'proc/stat'), 'utf8');
    const stat = parseProcStat(text);
    const cpuLines = text.split('\n').filter((l) => /^cpu\d+ /.test(l)).length;
    expect(stat.cpus).toHaveLength(cpuLines);
    expect(stat.malformed).toBe(0);
    expect(stat.bootTimeSec).toBeGreaterThan(1_600_000_000);
    for (const c of stat.cpus) expect(c.ticks).toHaveLength(CPU_MODES.length);
  });

  it('maps columns to modes in kernel order', () => {
    const stat = parseProcStat('cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 10\nbtime 1700000000\n');
    expect(stat.cpus[0]!.ticks).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('counts malformed lines and keeps the good ones', () => {
    const stat = parseProcStat('cpu0 1 2 3 4 5 6 7 8\ncpu1 1 x 3 4 5 6 7 8\ncpu2 1\ncpu3 -1 2 3 4 5 6 7 8\nbtime nope\n');
    expect(stat.cpus.map((c) => c.cpu)).toEqual([0]);
    expect(stat.malformed).toBe(4);
    expect(stat.bootTimeSec).toBeUndefined();
  });

  it('survives truncation at every byte and random bytes', () => {
    const text = 'cpu  63 0 467 35144 121 0 22 6 0 0\ncpu0 15 0 49 2170 1 0 16 0 0 0\nbtime 1763966000\n';
    for (let i = 0; i <= text.length; i++) expect(() => parseProcStat(text.slice(0, i))).not.toThrow();
    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('utf8');
    expect(() => parseProcStat(junk)).not.toThrow();
  });
});

describe('/proc/meminfo', () => {
  it.each(HOSTS)('derives states of %s that add up to the total', async (host) => {
    const info = parseMeminfo(await readFile(path.join(FIXTURES, host, 'proc/meminfo'), 'utf8'));
    expect(info.malformed).toBe(0);
    const m = memoryStates(info)!;
    expect(m.used + m.free + m.buffers + m.cached).toBe(m.total);
    expect(m.total % 1024).toBe(0);
    expect(m.available).toBeGreaterThan(0);
  });

  it('rejects a file without MemTotal and counts junk lines', () => {
    const info = parseMeminfo('MemFree: 10 kB\ngarbage\nCached: x kB\n\u0000\u0001:\n');
    expect(info.malformed).toBe(3);
    expect(memoryStates(info)).toBeUndefined();
  });
});

describe('/proc/loadavg', () => {
  it('parses the fixture and refuses junk', async () => {
    expect(parseLoadavg(await readFile(path.join(FIXTURES, 'vm-hybrid-docker/proc/loadavg'), 'utf8'))).toBeDefined();
    expect(parseLoadavg('0.14 0.03 0.01 1/204 423')).toEqual({ m1: 0.14, m5: 0.03, m15: 0.01 });
    for (const bad of ['', '0.1', 'a b c', '1 2 -3', 'NaN 1 1', '\uFFFD\uFFFD\uFFFD']) expect(parseLoadavg(bad)).toBeUndefined();
  });
});

describe('HostSource', () => {
  it('reads the live kernel: one cpu.time series per logical CPU and mode, in seconds', async () => {
    const sink = new ArraySink();
    await source('/').collect(sink);
    const cpus = os.cpus().length;
    expect(sink.named('system.cpu.time')).toHaveLength(cpus * CPU_MODES.length);
    expect(sink.named('system.cpu.logical.count')[0]!.value).toBe(cpus);
    const idle0 = sink.named('system.cpu.time').find((p) => p.attributes['cpu.mode'] === 'idle' && p.attributes['cpu.logical_number'] === 0)!;
    // idle seconds of cpu0 cannot exceed the uptime
    expect(idle0.value).toBeGreaterThan(0);
    expect(idle0.value).toBeLessThanOrEqual(os.uptime() + 1);
    expect(idle0.startTimeUnixNano).toBeGreaterThan(0n);
    const limit = sink.named('system.memory.limit')[0]!.value;
    expect(Math.abs(limit - os.totalmem()) / os.totalmem()).toBeLessThan(0.01);
    expect(sink.named('system.cpu.load_average.1m')).toHaveLength(1);
  });

  it('reuses attribute objects across cycles (the encoder caches by identity)', async () => {
    const s = source('/');
    const a = new ArraySink();
    const b = new ArraySink();
    await s.collect(a);
    await s.collect(b);
    expect(a.named('system.cpu.time')[3]!.attributes).toBe(b.named('system.cpu.time')[3]!.attributes);
  });

  it('reads the captured hosts under a host root', async () => {
    for (const host of HOSTS) {
      const root = await tmpRoot();
      await cp(path.join(FIXTURES, host, 'proc'), path.join(root, 'proc'), { recursive: true });
      const sink = new ArraySink();
      await source(root).collect(sink);
      const stat = parseProcStat(await readFile(path.join(root, 'proc/stat'), 'utf8'));
      expect(sink.named('system.cpu.time')).toHaveLength(stat.cpus.length * CPU_MODES.length);
      expect(sink.named('system.cpu.time')[0]!.startTimeUnixNano).toBe(BigInt(stat.bootTimeSec!) * 1_000_000_000n);
    }
  });

  it('counts missing, vanished, oversized and binary files instead of throwing', async () => {
    const root = await tmpRoot();
    const registry = new Registry();
    const s = source(root, registry);
    const sink = new ArraySink();
    await s.collect(sink); // nothing there at all
    expect(sink.metrics).toHaveLength(0);
    await writeFile(path.join(root, 'proc/stat'), Buffer.alloc(2 << 20, 0x31)); // 2 MiB: over the cap
    await writeFile(path.join(root, 'proc/meminfo'), Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x0a, 0x80]));
    await writeFile(path.join(root, 'proc/loadavg'), '0.5 0.4 0.3 1/2 3\n');
    await s.collect(sink);
    expect(sink.named('system.cpu.load_average.1m')[0]!.value).toBe(0.5);
    const text = registry.render();
    expect(text).toMatch(/sextant_source_read_errors_total\{file="stat",source="host"\} 2/);
    expect(text).toMatch(/sextant_source_read_errors_total\{file="meminfo",source="host"\} 1/);
    expect(text).toMatch(/sextant_source_malformed_total\{file="meminfo",source="host"\} [1-9]/);
  });
});
