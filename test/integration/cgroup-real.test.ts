import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CgroupDiscovery } from '../../src/sources/lib/cgroup/cgroup-discovery.js';
import { SyncCgroupFileReader } from '../../src/sources/lib/cgroup/cgroup-file-sync.js';
import { cgroupDir, parseCgroupMounts, type CgroupLayout } from '../../src/sources/lib/cgroup/cgroup-mounts.js';
import { firstPid } from '../../src/sources/lib/cgroup/cgroup-procs.js';
import { CgroupStatsReader, pathsFromProcCgroup, type CgroupStats } from '../../src/sources/lib/cgroup/cgroup-stats.js';
import { parseProcCgroup } from '../../src/sources/lib/cgroup/proc-cgroup.js';
import { netNamespaceId, readNetDev } from '../../src/sources/container/net-namespace.js';
import { runtimesOrSkip } from '../helpers/runtimes.js';
import { presentOrSkip } from '../helpers/ci-gate.js';

/**
 * The cgroup readers against the real kernel of this machine: cgroups the test makes itself
 * (needs root), with a child process of known memory and a CPU quota it runs into; then one real
 * Docker container found by discovery alone. Locally without root the kernel part skips with a
 * message; under CI=true it fails instead.
 */
const isRoot = process.getuid?.() === 0;
if (!isRoot) {
  if (process.env['CI'] === 'true') throw new Error('CI=true: test/integration/cgroup-real.test.ts must run as root');
  console.warn('cgroup-real: not root, the kernel cgroup tests are skipped');
}
const rt = await runtimesOrSkip('docker');
const run = promisify(execFile);

const layout: CgroupLayout = parseCgroupMounts(readFileSync('/proc/1/mountinfo', 'utf8'));
const NAME = `/sextant-test-${process.pid}`;
const MIB = 1024 * 1024;
const HOG_MIB = 64;

/** The directories of `path` in every hierarchy the reader uses (v1 controllers once per mount, and unified). */
function hierarchyDirs(path: string): string[] {
  const dirs = new Set<string>();
  if (layout.mode === 'v1' || layout.mode === 'hybrid') {
    for (const c of ['memory', 'cpu', 'cpuacct', 'pids', 'blkio']) {
      const m = layout.v1.get(c);
      if (m) dirs.add(cgroupDir('/', m, path)!);
    }
  }
  if (layout.unified) dirs.add(cgroupDir('/', layout.unified, path)!);
  return [...dirs];
}

/** A child that, once told, touches HOG_MIB of memory, spins for a second, then idles until killed. */
const CHILD = `
process.stdin.once('data', () => {
  globalThis.hog = Buffer.alloc(${HOG_MIB} * 1024 * 1024, 1);
  const end = Date.now() + 1000;
  let x = 0;
  while (Date.now() < end) x++;
  process.stdout.write('done ' + x + '\\n');
  setInterval(() => {}, 1000);
});
process.stdout.write('ready\\n');
`;

function line(child: ChildProcessWithoutNullStreams, want: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      if (buf.includes(want)) {
        child.stdout.off('data', onData);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before "${want}"`)));
  });
}

describe.skipIf(!isRoot)('CgroupStatsReader on cgroups this test makes (real kernel)', () => {
  const dirs = hierarchyDirs(NAME);
  // PSI lives in the v2 tree only: a pure v1 machine skips those checks (not under CI=true).
  const unifiedDir = presentOrSkip(layout.unified !== undefined, 'the cgroup v2 hierarchy (unified or hybrid mode)', 'a kernel with cgroup2 mounted') ? cgroupDir('/', layout.unified!, NAME) : undefined;
  const v1 = layout.mode === 'v1' || layout.mode === 'hybrid';
  let child: ChildProcessWithoutNullStreams | undefined;
  const reader = new CgroupStatsReader('/', layout);
  let before: CgroupStats | undefined;

  beforeAll(async () => {
    for (const d of dirs) mkdirSync(d);
    if (v1) {
      const mem = cgroupDir('/', layout.v1.get('memory')!, NAME)!;
      writeFileSync(`${mem}/memory.limit_in_bytes`, String(256 * MIB));
      const cpu = cgroupDir('/', layout.v1.get('cpu')!, NAME)!;
      writeFileSync(`${cpu}/cpu.cfs_period_us`, '100000');
      writeFileSync(`${cpu}/cpu.cfs_quota_us`, '20000');
      if (layout.v1.get('pids')) writeFileSync(`${cgroupDir('/', layout.v1.get('pids')!, NAME)}/pids.max`, '64');
    } else {
      writeFileSync(`${unifiedDir}/memory.max`, String(256 * MIB));
      writeFileSync(`${unifiedDir}/cpu.max`, '20000 100000');
      writeFileSync(`${unifiedDir}/pids.max`, '64');
    }
    child = spawn(process.execPath, ['-e', CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
    await line(child, 'ready');
    for (const d of dirs) writeFileSync(`${d}/cgroup.procs`, String(child.pid));
    before = await reader.read({ path: NAME });
    child.stdin.write('go\n');
    await line(child, 'done');
  }, 20_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    // Deepest first would matter for nested dirs; ours are one level. A just-killed task may
    // hold its cgroup a moment (EBUSY): retry briefly.
    for (const d of dirs) {
      for (let i = 0; i < 40; i++) {
        try {
          rmdirSync(d);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  });

  it('the child’s own /proc/<pid>/cgroup names our cgroup in every hierarchy', () => {
    const pc = parseProcCgroup(readFileSync(`/proc/${child!.pid}/cgroup`, 'utf8'));
    expect(pathsFromProcCgroup(pc)?.path).toBe(NAME);
  });

  it('memory: usage as the kernel’s own file says, the hog in it, the limit', async () => {
    const s = (await reader.read({ path: NAME }))!;
    const file = v1 ? `${cgroupDir('/', layout.v1.get('memory')!, NAME)}/memory.usage_in_bytes` : `${unifiedDir}/memory.current`;
    const kernel = Number(readFileSync(file, 'utf8'));
    expect(Math.abs(s.memoryUsageBytes! - kernel) / kernel).toBeLessThan(0.05);
    expect(s.memoryUsageBytes!).toBeGreaterThanOrEqual(HOG_MIB * MIB);
    expect(s.memoryWorkingSetBytes!).toBeGreaterThanOrEqual(HOG_MIB * MIB * 0.95);
    expect(s.memoryWorkingSetBytes!).toBeLessThanOrEqual(s.memoryUsageBytes!);
    expect(s.memoryRssBytes!).toBeGreaterThanOrEqual(HOG_MIB * MIB * 0.95);
    expect(s.memoryLimitBytes).toBe(256 * MIB);
    expect(s.memoryOomKills).toBe(0);
    expect(s.memoryPageFaults!).toBeGreaterThan((HOG_MIB * MIB) / 4096 / 2);
  });

  it('CPU: time grew, the 0.2-CPU quota throttled the spinner', async () => {
    const s = (await reader.read({ path: NAME }))!;
    expect(s.cpuLimitCpus).toBe(0.2);
    expect(s.cpuUsageSeconds! - before!.cpuUsageSeconds!).toBeGreaterThan(0.05);
    expect(s.cpuUserSeconds! + s.cpuSystemSeconds!).toBeGreaterThan(0);
    expect(s.cpuPeriods!).toBeGreaterThan(0);
    expect(s.cpuThrottledPeriods!).toBeGreaterThan(0);
    expect(s.cpuThrottledSeconds!).toBeGreaterThan(0);
    // A second at 20% of one CPU, plus node's start: well under a full second of CPU.
    expect(s.cpuUsageSeconds!).toBeLessThan(1);
  });

  it('pids, and PSI from the unified tree', async () => {
    const s = (await reader.read({ path: NAME }))!;
    expect(s.pidsCurrent!).toBeGreaterThanOrEqual(1);
    expect(s.pidsLimit).toBe(64);
    if (unifiedDir) {
      expect(s.cpuPressure?.someSeconds).toBeGreaterThanOrEqual(0);
      expect(s.memoryPressure).toBeDefined();
      expect(s.ioPressure).toBeDefined();
    }
    expect([reader.files.gone, reader.files.failed, reader.malformed]).toEqual([0, 0, 0]);
  });

  it.skipIf(!unifiedDir)('PSI switched off for the cgroup (cgroup.pressure = 0): the hidden files are counted as unsupported, not as gone', async () => {
    writeFileSync(`${unifiedDir}/cgroup.pressure`, '0');
    try {
      const r = new CgroupStatsReader('/', layout);
      const s = (await r.read({ path: NAME }))!;
      expect([s.cpuPressure, s.memoryPressure, s.ioPressure]).toEqual([undefined, undefined, undefined]);
      expect([r.files.unsupported, r.files.gone]).toEqual([3, 0]);
      expect(s.memoryUsageBytes!).toBeGreaterThan(0);
    } finally {
      writeFileSync(`${unifiedDir}/cgroup.pressure`, '1');
    }
  });

  it('firstPid and the network namespace of the child', async () => {
    const pid = await firstPid(dirs[0]!);
    expect(pid).toBe(child!.pid);
    const ns = await netNamespaceId('/', pid!);
    expect(ns).toBeGreaterThan(0);
    expect(ns).toBe(await netNamespaceId('/', process.pid)); // the child shares ours
    const dev = await readNetDev('/', pid!, new SyncCgroupFileReader());
    expect(dev?.interfaces.map((i) => i.name)).toContain('lo');
  });

  it('a cgroup that is gone reads as undefined', async () => {
    const gone = `${NAME}-never`;
    expect(await reader.read({ path: gone })).toBeUndefined();
    expect(await firstPid(hierarchyDirs(gone)[0]!)).toBeUndefined();
  });
});

describe.skipIf(!rt.available || !isRoot)('a real Docker container, found without asking Docker', () => {
  const name = `sextant-cgreal-${process.pid}`;
  let id = '';

  beforeAll(async () => {
    const { stdout } = await run('docker', [
      'run', '--rm', '-d', '--label', `${rt.testLabel}=1`, '--name', name, '--network', 'none', '--memory', '64m',
      rt.busyboxImage, 'sleep', '60',
    ]);
    id = stdout.trim();
  }, 30_000);

  afterAll(async () => {
    await run('docker', ['rm', '-f', '-v', name]).catch(() => undefined);
  }, 30_000);

  it('discovery finds it by id; its cgroup reads; its network namespace is its own', async () => {
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const r = await new CgroupDiscovery('/', layout).discover();
    const found = r.containers.find((c) => c.identity.containerId === id);
    expect(found).toBeDefined();
    expect(found!.identity.runtime).toBe('docker');
    expect(r.truncated).toBe(false);

    const s = (await new CgroupStatsReader('/', layout).read({ path: found!.cgroupPath }))!;
    expect(s.memoryLimitBytes).toBe(64 * MIB);
    expect(s.memoryUsageBytes!).toBeGreaterThan(0);
    expect(s.pidsCurrent!).toBeGreaterThanOrEqual(1);

    const pid = await firstPid(hierarchyDirs(found!.cgroupPath)[0]!);
    expect(pid).toBeGreaterThan(0);
    const { stdout } = await run('docker', ['inspect', '-f', '{{.State.Pid}}', id]);
    expect(pid).toBe(Number(stdout.trim()));
    const ns = await netNamespaceId('/', pid!);
    expect(ns).toBeGreaterThan(0);
    expect(ns).not.toBe(await netNamespaceId('/', process.pid)); // --network none: a namespace of its own
    const dev = await readNetDev('/', pid!, new SyncCgroupFileReader());
    expect(dev?.interfaces.map((i) => i.name)).toEqual(['lo']);
  }, 20_000);
});
