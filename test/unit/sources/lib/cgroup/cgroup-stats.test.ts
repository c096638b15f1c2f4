import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CgroupFileReader } from '../../../../../src/sources/lib/cgroup/cgroup-file.js';
import { SyncCgroupFileReader } from '../../../../../src/sources/lib/cgroup/cgroup-file-sync.js';
import { parseCgroupMounts, type CgroupLayout } from '../../../../../src/sources/lib/cgroup/cgroup-mounts.js';
import { CgroupStatsReader, pathsFromProcCgroup } from '../../../../../src/sources/lib/cgroup/cgroup-stats.js';
import { parseProcCgroup } from '../../../../../src/sources/lib/cgroup/proc-cgroup.js';

const HOSTS = new URL('../../../../fixtures/hosts/', import.meta.url).pathname;
const VM = join(HOSTS, 'vm-hybrid-docker');
const H100 = join(HOSTS, 'h100-cgroup2');
const ID = 'e883135d2bd464bb0572ed18228d58342c480b57bc0c5795cee88107c3d0d635';
const DOCKER_PATH = `/docker/${ID}`;
const V1_CONTROLLERS = ['blkio', 'cpu', 'cpuacct', 'memory', 'pids'];

const VM_MOUNTINFO = readFileSync(join(VM, 'proc/self/mountinfo'), 'utf8');
const HYBRID = parseCgroupMounts(VM_MOUNTINFO);
const V1_ONLY = parseCgroupMounts(VM_MOUNTINFO.split('\n').filter((l) => !l.includes('cgroup2')).join('\n'));
const HYBRID_NO_CPUACCT = parseCgroupMounts(VM_MOUNTINFO.split('\n').filter((l) => !l.includes('rw,cpuacct')).join('\n'));
const V2 = parseCgroupMounts(readFileSync(join(H100, 'proc/self/mountinfo'), 'utf8'));

const tmp = mkdtempSync(join(tmpdir(), 'sextant-cgstats-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let hosts = 0;

/** A host root holding the VM's container files where a hybrid host has them, and the blkio root's files. */
function hybridHost(): string {
  const root = join(tmp, `host${hosts++}`);
  for (const c of V1_CONTROLLERS) {
    cpSync(join(VM, 'cgroup-v1', c, 'docker/CID'), join(root, 'sys/fs/cgroup', c, 'docker', ID), { recursive: true });
  }
  cpSync(join(VM, 'cgroup-v2/docker/CID'), join(root, 'sys/fs/cgroup/unified/docker', ID), { recursive: true });
  // The blkio root has the files a child has; the reader probes it once for the variant.
  for (const f of ['blkio.throttle.io_service_bytes_recursive', 'blkio.throttle.io_serviced_recursive']) {
    writeFileSync(join(root, 'sys/fs/cgroup/blkio', f), 'Total 0\n');
  }
  return root;
}

/** A pure v2 host root with the H100's captured cgroup at /system.slice/workload.scope. */
function v2Host(): string {
  const root = join(tmp, `host${hosts++}`);
  cpSync(join(H100, 'cg'), join(root, 'sys/fs/cgroup/system.slice/workload.scope'), { recursive: true });
  return root;
}

function v1Dir(root: string, controller: string, path = DOCKER_PATH): string {
  return join(root, 'sys/fs/cgroup', controller, path);
}

describe('CgroupStatsReader on the captured hybrid VM (Docker container, v1 + unified)', () => {
  it('reads every number from the right hierarchy', async () => {
    const root = hybridHost();
    const r = new CgroupStatsReader(root, HYBRID);
    const s = await r.read({ path: DOCKER_PATH });
    expect(s).toEqual({
      cpuUserSeconds: 0.13, cpuSystemSeconds: 0.49, cpuUsageSeconds: 0.623498851,
      cpuPeriods: 0, cpuThrottledPeriods: 0, cpuThrottledSeconds: 0,
      memoryUsageBytes: 1056768, memoryWorkingSetBytes: 1056768, memoryRssBytes: 122880, memoryCacheBytes: 204800,
      memoryLimitBytes: undefined, memoryOomKills: 0, memoryPageFaults: 44786, memoryMajorPageFaults: 5,
      io: [],
      pidsCurrent: 2, pidsLimit: undefined,
      cpuPressure: { someSeconds: 0.254225, fullSeconds: 0.242182 },
      memoryPressure: { someSeconds: 0, fullSeconds: 0 },
      ioPressure: { someSeconds: 0.000021, fullSeconds: 0.000015 },
      cpuLimitCpus: undefined,
    });
    expect([r.files.gone, r.files.unsupported, r.files.failed, r.malformed]).toEqual([0, 0, 0, 0]);
  });

  it('the path from the container process’s /proc/<pid>/cgroup needs no overrides', () => {
    const pc = parseProcCgroup(readFileSync(join(VM, 'proc/container-init/cgroup'), 'utf8'));
    expect(pathsFromProcCgroup(pc)).toEqual({ path: DOCKER_PATH });
  });

  it('limits: memory, CPU quota, pids; v1’s huge value is no limit', async () => {
    const root = hybridHost();
    writeFileSync(join(v1Dir(root, 'memory'), 'memory.limit_in_bytes'), '67108864\n');
    writeFileSync(join(v1Dir(root, 'cpu'), 'cpu.cfs_quota_us'), '20000\n');
    writeFileSync(join(v1Dir(root, 'pids'), 'pids.max'), '100\n');
    const r = new CgroupStatsReader(root, HYBRID);
    expect(await r.read({ path: DOCKER_PATH })).toMatchObject({ memoryLimitBytes: 67108864, cpuLimitCpus: 0.2, pidsLimit: 100 });
    // Without the limit files: the limits undefined, the rest as before.
    expect(await r.read({ path: DOCKER_PATH }, false)).toMatchObject({ memoryLimitBytes: undefined, cpuLimitCpus: undefined, pidsLimit: undefined, memoryUsageBytes: 1056768, cpuPeriods: 0 });
    writeFileSync(join(v1Dir(root, 'memory'), 'memory.limit_in_bytes'), '9223372036854710272\n'); // 64 KiB pages
    writeFileSync(join(v1Dir(root, 'cpu'), 'cpu.cfs_quota_us'), '-1\n');
    writeFileSync(join(v1Dir(root, 'pids'), 'pids.max'), 'max\n');
    expect(await r.read({ path: DOCKER_PATH })).toMatchObject({ memoryLimitBytes: undefined, cpuLimitCpus: undefined, pidsLimit: undefined });
    expect(r.malformed).toBe(0);
  });

  it('block IO per device, bytes and operations joined by device', async () => {
    const root = hybridHost();
    const d = v1Dir(root, 'blkio');
    writeFileSync(join(d, 'blkio.throttle.io_service_bytes_recursive'), '8:16 Read 100\n8:16 Write 200\n8:16 Total 300\n8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4908\n');
    // Operations in another device order, and a device the bytes file lacks.
    writeFileSync(join(d, 'blkio.throttle.io_serviced_recursive'), '8:0 Read 3\n8:0 Write 1\n8:16 Read 2\n8:16 Write 5\n8:32 Read 9\nTotal 11\n');
    const s = (await new CgroupStatsReader(root, HYBRID).read({ path: DOCKER_PATH }))!;
    expect(s.io).toEqual([
      { major: 8, minor: 16, readBytes: 100, writeBytes: 200, readOps: 2, writeOps: 5 },
      { major: 8, minor: 0, readBytes: 4096, writeBytes: 512, readOps: 3, writeOps: 1 },
    ]);
  });

  it('falls back to the non-recursive throttle files, then CFQ’s, as the blkio root offers them', async () => {
    for (const [bytes, ops] of [
      ['blkio.throttle.io_service_bytes', 'blkio.throttle.io_serviced'],
      ['blkio.io_service_bytes_recursive', 'blkio.io_serviced_recursive'],
    ]) {
      const root = hybridHost();
      const blkioRoot = join(root, 'sys/fs/cgroup/blkio');
      rmSync(join(blkioRoot, 'blkio.throttle.io_service_bytes_recursive'));
      writeFileSync(join(blkioRoot, bytes!), '');
      writeFileSync(join(v1Dir(root, 'blkio'), bytes!), '8:0 Read 7\n8:0 Write 8\nTotal 15\n');
      writeFileSync(join(v1Dir(root, 'blkio'), ops!), '8:0 Read 1\n8:0 Write 2\nTotal 3\n');
      const r = new CgroupStatsReader(root, HYBRID);
      expect((await r.read({ path: DOCKER_PATH }))!.io).toEqual([{ major: 8, minor: 0, readBytes: 7, writeBytes: 8, readOps: 1, writeOps: 2 }]);
      expect(r.files.gone).toBe(0); // variants were probed at the root, not tried and failed per container
    }
  });

  it('a blkio root with none of the files: no IO read, nothing counted', async () => {
    const root = hybridHost();
    rmSync(join(root, 'sys/fs/cgroup/blkio/blkio.throttle.io_service_bytes_recursive'));
    const r = new CgroupStatsReader(root, HYBRID);
    expect((await r.read({ path: DOCKER_PATH }))!.io).toEqual([]);
    expect(r.files.gone + r.files.failed).toBe(0);
  });

  it('per-hierarchy overrides: a process whose memory cgroup is elsewhere', async () => {
    const root = hybridHost();
    const elsewhere = '/elsewhere/inner';
    cpSync(v1Dir(root, 'memory'), v1Dir(root, 'memory', elsewhere), { recursive: true });
    writeFileSync(join(v1Dir(root, 'memory', elsewhere), 'memory.usage_in_bytes'), '5000000\n');
    const pc = parseProcCgroup(`4:memory:${elsewhere}\n1:cpu:${DOCKER_PATH}\n2:cpuacct:${DOCKER_PATH}\n0::${DOCKER_PATH}\n`);
    const paths = pathsFromProcCgroup(pc)!;
    expect(paths).toEqual({ path: DOCKER_PATH, overrides: { memory: elsewhere } });
    const s = (await new CgroupStatsReader(root, HYBRID).read(paths))!;
    expect(s.memoryUsageBytes).toBe(5000000);
    expect(s.cpuUsageSeconds).toBe(0.623498851);
  });

  it('a process left in the unified root (`0::/`): the unified tree is skipped, not the root’s PSI read', async () => {
    const root = hybridHost();
    const paths = pathsFromProcCgroup(parseProcCgroup(`4:memory:${DOCKER_PATH}\n1:cpu:${DOCKER_PATH}\n2:cpuacct:${DOCKER_PATH}\n8:pids:${DOCKER_PATH}\n7:blkio:${DOCKER_PATH}\n0::/\n`))!;
    expect(paths).toEqual({ path: DOCKER_PATH, overrides: { unified: null } });
    const r = new CgroupStatsReader(root, HYBRID);
    const s = (await r.read(paths))!;
    expect([s.cpuPressure, s.memoryPressure, s.ioPressure]).toEqual([undefined, undefined, undefined]);
    expect(s.memoryUsageBytes).toBe(1056768);
    expect([r.files.gone, r.files.failed]).toEqual([0, 0]);
  });

  it('pure v1 (no unified mount): no PSI, nothing counted for it', async () => {
    const root = hybridHost();
    const r = new CgroupStatsReader(root, V1_ONLY);
    const s = (await r.read({ path: DOCKER_PATH }))!;
    expect(s.cpuPressure).toBeUndefined();
    expect(s.memoryUsageBytes).toBe(1056768);
    expect([r.files.gone, r.files.unsupported, r.files.failed]).toEqual([0, 0, 0]);
  });

  it('hybrid without a v1 cpuacct: CPU time from the unified cpu.stat (µs)', async () => {
    const root = hybridHost();
    const s = (await new CgroupStatsReader(root, HYBRID_NO_CPUACCT).read({ path: DOCKER_PATH }))!;
    expect([s.cpuUsageSeconds, s.cpuUserSeconds, s.cpuSystemSeconds]).toEqual([0.623498, 0.131589, 0.491909]);
    expect(s.cpuPeriods).toBe(0); // still v1's cpu.stat
  });
});

describe('CgroupStatsReader on the captured H100 (pure v2)', () => {
  it('reads the captured cgroup: no cpu or io controller there, so those stay undefined', async () => {
    const root = v2Host();
    const r = new CgroupStatsReader(root, V2);
    const s = await r.read({ path: '/system.slice/workload.scope' });
    expect(s).toEqual({
      cpuUserSeconds: 0.050924, cpuSystemSeconds: 0.123398, cpuUsageSeconds: 0.174322,
      cpuPeriods: undefined, cpuThrottledPeriods: undefined, cpuThrottledSeconds: undefined,
      memoryUsageBytes: 9306112, memoryWorkingSetBytes: 9306112 - 524288, memoryRssBytes: 1052672, memoryCacheBytes: 802816,
      memoryLimitBytes: undefined, memoryOomKills: 0, memoryPageFaults: expect.any(Number), memoryMajorPageFaults: 5,
      io: [],
      pidsCurrent: undefined, pidsLimit: undefined,
      cpuPressure: { someSeconds: 0.000216, fullSeconds: 0.000216 },
      memoryPressure: { someSeconds: 0, fullSeconds: 0 },
      ioPressure: { someSeconds: 0.00018, fullSeconds: 0.00018 },
      cpuLimitCpus: undefined,
    });
    // cpu.max, io.stat, pids.* are absent from the capture: counted as gone, the directory is there.
    expect(r.files.gone).toBe(4);
  });

  it('with the cpu, io and pids controllers on: throttling, quota, io.stat devices, pids', async () => {
    const root = v2Host();
    const dir = join(root, 'sys/fs/cgroup/system.slice/workload.scope');
    writeFileSync(join(dir, 'cpu.stat'), 'usage_usec 2000000\nuser_usec 1500000\nsystem_usec 500000\nnice_usec 0\nnr_periods 40\nnr_throttled 12\nthrottled_usec 350000\nnr_bursts 0\nburst_usec 0\n');
    writeFileSync(join(dir, 'cpu.max'), '20000 100000\n');
    writeFileSync(join(dir, 'memory.max'), '67108864\n');
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 31\noom 2\noom_kill 1\noom_group_kill 0\n');
    cpSync(join(H100, 'cg/root.io.stat'), join(dir, 'io.stat'));
    writeFileSync(join(dir, 'pids.current'), '3\n');
    writeFileSync(join(dir, 'pids.max'), '512\n');
    const r = new CgroupStatsReader(root, V2);
    const s = (await r.read({ path: '/system.slice/workload.scope' }))!;
    expect(s).toMatchObject({
      cpuUsageSeconds: 2, cpuUserSeconds: 1.5, cpuSystemSeconds: 0.5, cpuPeriods: 40, cpuThrottledPeriods: 12, cpuThrottledSeconds: 0.35,
      cpuLimitCpus: 0.2, memoryLimitBytes: 67108864, memoryOomKills: 1, pidsCurrent: 3, pidsLimit: 512,
    });
    expect(s.io).toEqual([
      { major: 254, minor: 16, readBytes: 127950848, writeBytes: 0, readOps: 2305, writeOps: 0 },
      { major: 254, minor: 0, readBytes: 658768896, writeBytes: 253952, readOps: 2857, writeOps: 36 },
    ]);
    expect([r.files.gone, r.malformed]).toEqual([0, 0]);
    expect(await r.read({ path: '/system.slice/workload.scope' }, false)).toMatchObject({ cpuLimitCpus: undefined, memoryLimitBytes: undefined, pidsLimit: undefined, pidsCurrent: 3 });
    writeFileSync(join(dir, 'cpu.max'), 'max 100000\n');
    expect((await r.read({ path: '/system.slice/workload.scope' }))!.cpuLimitCpus).toBeUndefined();
  });
});

describe('CgroupStatsReader: bad input', () => {
  it('missing files leave their fields undefined; the rest is read', async () => {
    const root = hybridHost();
    rmSync(join(v1Dir(root, 'memory'), 'memory.stat'));
    rmSync(join(v1Dir(root, 'cpuacct'), 'cpuacct.usage'));
    rmSync(join(root, 'sys/fs/cgroup/unified', DOCKER_PATH, 'io.pressure'));
    const r = new CgroupStatsReader(root, HYBRID);
    const s = (await r.read({ path: DOCKER_PATH }))!;
    expect(s).toMatchObject({ memoryUsageBytes: 1056768, memoryWorkingSetBytes: 1056768, memoryRssBytes: undefined, memoryCacheBytes: undefined, cpuUsageSeconds: undefined, cpuUserSeconds: 0.13, ioPressure: undefined });
    expect(s.cpuPressure?.someSeconds).toBe(0.254225);
    // A PSI file missing beside the others is what `cgroup.pressure` = 0 does: unsupported, not gone.
    expect([r.files.gone, r.files.unsupported]).toEqual([2, 1]);
  });

  it('empty files, binary junk, `max` where a number belongs, huge numbers: undefined and counted, never thrown', async () => {
    const junk = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919 + 3) % 256));
    for (const content of ['', junk, 'max\n', '99999999999999999999999\n', Buffer.from([0x31, 0xff, 0x32, 0x0a])]) {
      const root = hybridHost();
      for (const c of V1_CONTROLLERS) {
        for (const f of ['cpuacct.usage', 'cpuacct.stat', 'cpu.stat', 'cpu.cfs_quota_us', 'cpu.cfs_period_us', 'memory.usage_in_bytes', 'memory.stat', 'memory.oom_control', 'blkio.throttle.io_service_bytes_recursive', 'pids.current']) {
          try {
            writeFileSync(join(v1Dir(root, c), f), content);
          } catch {
            // not this controller's file
          }
        }
      }
      for (const f of ['cpu.pressure', 'memory.pressure', 'io.pressure']) writeFileSync(join(root, 'sys/fs/cgroup/unified', DOCKER_PATH, f), content);
      const r = new CgroupStatsReader(root, HYBRID);
      const s = (await r.read({ path: DOCKER_PATH }))!;
      expect(s).toBeDefined();
      for (const k of ['cpuUsageSeconds', 'cpuUserSeconds', 'cpuPeriods', 'memoryUsageBytes', 'memoryRssBytes', 'memoryOomKills', 'pidsCurrent', 'cpuPressure', 'cpuLimitCpus'] as const) {
        expect(s[k], `${k} with ${JSON.stringify(content.toString().slice(0, 20))}`).toBeUndefined();
      }
      expect(s.io).toEqual([]);
      if (content.length > 0) expect(r.malformed).toBeGreaterThan(0);
    }
  });

  it('a file larger than the reader’s buffer is counted as failed', async () => {
    const root = hybridHost();
    writeFileSync(join(v1Dir(root, 'memory'), 'memory.stat'), 'total_rss 1\n'.repeat(10_000));
    const r = new CgroupStatsReader(root, HYBRID, new CgroupFileReader(4096));
    const s = (await r.read({ path: DOCKER_PATH }))!;
    expect(s.memoryRssBytes).toBeUndefined();
    expect(s.memoryUsageBytes).toBe(1056768);
    expect(r.files.failed).toBe(1);
  });

  it('a cgroup that is gone reads as undefined', async () => {
    const root = hybridHost();
    const r = new CgroupStatsReader(root, HYBRID);
    expect(await r.read({ path: `/docker/${'f'.repeat(64)}` })).toBeUndefined();
    expect(r.files.gone).toBeGreaterThan(0);
    const v2 = new CgroupStatsReader(v2Host(), V2);
    expect(await v2.read({ path: '/system.slice/gone.scope' })).toBeUndefined();
  });

  it('a path that climbs out of the tree is never read', async () => {
    const root = hybridHost();
    const r = new CgroupStatsReader(root, HYBRID);
    expect(await r.read({ path: '/../../etc' })).toBeUndefined();
    expect(await r.read({ path: 'docker/x' })).toBeUndefined();
    expect(r.files.failed).toBeGreaterThan(0);
    expect(r.files.gone).toBe(0);
  });

  it('a container removed mid-read: undefined once its memory cgroup is gone', async () => {
    const root = hybridHost();
    /** A real file reader that, like runc on exit, removes the container's directories mid-read. */
    class RemovingReader extends CgroupFileReader {
      constructor(private readonly when: string, private readonly dirs: string[]) {
        super();
      }
      override async read(file: string): Promise<string | undefined> {
        if (file.endsWith(this.when)) for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
        return super.read(file);
      }
    }
    const all = [...V1_CONTROLLERS.map((c) => v1Dir(root, c)), join(root, 'sys/fs/cgroup/unified', DOCKER_PATH)];
    const r = new CgroupStatsReader(root, HYBRID, new RemovingReader('/memory.stat', all));
    expect(await r.read({ path: DOCKER_PATH })).toBeUndefined();
    expect(r.files.gone).toBeGreaterThan(0);
  });

  it('only the unified directory gone mid-read: the v1 numbers are kept, PSI is not', async () => {
    const root = hybridHost();
    const unified = join(root, 'sys/fs/cgroup/unified', DOCKER_PATH);
    class RemovingReader extends CgroupFileReader {
      override async read(file: string): Promise<string | undefined> {
        if (file.endsWith('/pids.max')) rmSync(unified, { recursive: true, force: true });
        return super.read(file);
      }
    }
    const r = new CgroupStatsReader(root, HYBRID, new RemovingReader());
    const s = (await r.read({ path: DOCKER_PATH }))!;
    expect(s.memoryUsageBytes).toBe(1056768);
    expect(s.cpuPressure).toBeUndefined();
    expect(r.files.gone).toBe(3);
  });
});

describe('SyncCgroupFileReader', () => {
  it('reads what the async reader reads: the same stats from both', async () => {
    const root = hybridHost();
    const a = await new CgroupStatsReader(root, HYBRID, new CgroupFileReader()).read({ path: DOCKER_PATH });
    const b = await new CgroupStatsReader(root, HYBRID, new SyncCgroupFileReader()).read({ path: DOCKER_PATH });
    expect(b).toEqual(a);
    const v2 = v2Host();
    expect(await new CgroupStatsReader(v2, V2, new SyncCgroupFileReader()).read({ path: '/system.slice/workload.scope' })).toEqual(
      await new CgroupStatsReader(v2, V2, new CgroupFileReader()).read({ path: '/system.slice/workload.scope' }),
    );
  });

  it('counts gone, failed (a directory, a file over the buffer) and reads a file of exactly the buffer', async () => {
    const dir = join(tmp, `sync${hosts++}`);
    mkdirSync(dir);
    const r = new SyncCgroupFileReader(16);
    writeFileSync(join(dir, 'exact'), 'x'.repeat(16));
    writeFileSync(join(dir, 'big'), 'x'.repeat(17));
    writeFileSync(join(dir, 'empty'), '');
    expect(await r.read(join(dir, 'exact'))).toBe('x'.repeat(16));
    expect(r.readSync(join(dir, 'empty'))).toBe('');
    expect(await r.read(join(dir, 'big'))).toBeUndefined();
    expect(await r.read(dir)).toBeUndefined();
    expect(await r.read(join(dir, 'missing'))).toBeUndefined();
    expect(await r.read(join(dir, 'exact', 'below-a-file'))).toBeUndefined();
    expect([r.gone, r.unsupported, r.failed]).toEqual([2, 0, 2]);
    r.resetCounts();
    expect(r.gone + r.failed).toBe(0);
  });
});
