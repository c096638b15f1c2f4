import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cgroupDir, controllerMount, parseCgroupMounts } from '../../../../../src/sources/lib/cgroup/cgroup-mounts.js';

const HOSTS = new URL('../../../../fixtures/hosts/', import.meta.url);
const read = (p: string): string => readFileSync(new URL(p, HOSTS), 'utf8');

describe('parseCgroupMounts', () => {
  it('finds the pure v2 layout of the H100 host', () => {
    const layout = parseCgroupMounts(read('h100-cgroup2/proc/self/mountinfo'));
    expect(layout.mode).toBe('v2');
    expect(layout.malformed).toBe(0);
    expect(layout.v1.size).toBe(0);
    expect(layout.unified).toEqual({ version: 2, mountPoint: '/sys/fs/cgroup', root: '/', controllers: [] });
    const mem = controllerMount(layout, 'memory')!;
    expect(cgroupDir('/host', mem, '/system.slice/workload.scope')).toBe('/host/sys/fs/cgroup/system.slice/workload.scope');
    expect(cgroupDir('/', mem, '/')).toBe('/sys/fs/cgroup');
  });

  it('finds the hybrid layout of the VM: v1 per controller, v2 at /sys/fs/cgroup/unified', () => {
    const layout = parseCgroupMounts(read('vm-hybrid-docker/proc/self/mountinfo'));
    expect(layout.mode).toBe('hybrid');
    expect(layout.malformed).toBe(0);
    expect(layout.unified?.mountPoint).toBe('/sys/fs/cgroup/unified');
    expect([...layout.v1.keys()].sort()).toEqual(['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'name=systemd', 'pids']);
    const id = '/docker/e883135d2bd464bb0572ed18228d58342c480b57bc0c5795cee88107c3d0d635';
    expect(cgroupDir('/host/', controllerMount(layout, 'memory')!, id)).toBe(`/host/sys/fs/cgroup/memory${id}`);
    expect(cgroupDir('', controllerMount(layout, 'blkio')!, id)).toBe(`/sys/fs/cgroup/blkio${id}`);
    // `io` is not a v1 controller here: its files (and PSI) come from the unified tree.
    expect(cgroupDir('', controllerMount(layout, 'io')!, id)).toBe(`/sys/fs/cgroup/unified${id}`);
  });

  it('reads a pure v1 host with joined controllers, and ignores non-controller options', () => {
    const layout = parseCgroupMounts(
      [
        '25 18 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755',
        '26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid shared:6 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd',
        '29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:10 - cgroup cgroup rw,cpu,cpuacct',
        '30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid shared:11 - cgroup cgroup rw,memory',
        '31 25 0:28 / /sys/fs/cgroup/net_cls,net_prio rw shared:12 - cgroup cgroup rw,net_cls,net_prio',
      ].join('\n'),
    );
    expect(layout.mode).toBe('v1');
    expect(layout.unified).toBeUndefined();
    expect(layout.v1.get('cpu')).toBe(layout.v1.get('cpuacct'));
    expect(layout.v1.get('cpu')?.mountPoint).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(layout.v1.get('cpu')?.controllers).toEqual(['cpu', 'cpuacct']);
    expect(layout.v1.has('xattr')).toBe(false);
    expect(controllerMount(layout, 'io')).toBeUndefined();
  });

  it('prefers the mount showing the whole tree when a hierarchy is mounted twice', () => {
    const layout = parseCgroupMounts(
      [
        '40 30 0:30 /docker/abc /run/x rw - cgroup2 cgroup2 rw',
        '41 30 0:30 / /mnt/cg rw - cgroup2 cgroup2 rw',
        '42 30 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw',
        '43 30 0:30 / /elsewhere rw - cgroup2 cgroup2 rw',
      ].join('\n'),
    );
    expect(layout.unified?.mountPoint).toBe('/sys/fs/cgroup');
  });

  it('maps paths through a mount of a sub-tree, and refuses paths outside it or climbing out', () => {
    const layout = parseCgroupMounts('40 30 0:30 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n');
    const m = layout.unified!;
    expect(cgroupDir('/h', m, '/docker/abc')).toBe('/h/sys/fs/cgroup');
    expect(cgroupDir('/h', m, '/docker/abc/child/')).toBe('/h/sys/fs/cgroup/child');
    expect(cgroupDir('/h', m, '/docker/abcd')).toBeUndefined();
    expect(cgroupDir('/h', m, '/other')).toBeUndefined();
    const whole = parseCgroupMounts('1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n').unified!;
    for (const p of ['/../../etc', '/a/../../b', '/..', '/a/.', 'relative', '/a\0b']) expect(cgroupDir('/h', whole, p)).toBeUndefined();
  });

  it('mode: none without any cgroup mount; v1 with only a named hierarchy', () => {
    expect(parseCgroupMounts(read('h100-cgroup2/proc/mounts')).mode).toBeUndefined(); // /proc/mounts is not mountinfo
    expect(parseCgroupMounts('').mode).toBeUndefined();
    expect(parseCgroupMounts('1 0 0:1 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n').mode).toBe('v1');
    expect(parseCgroupMounts('1 0 0:1 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n2 0 0:2 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n').mode).toBe('v2');
  });

  it('counts malformed cgroup lines and survives junk and every truncation', () => {
    const layout = parseCgroupMounts('1 0 0:1 / /x rw - cgroup cgroup rw\nbroken - cgroup\n1 0 0:1 rel /x rw - cgroup2 cgroup2 rw\n');
    expect(layout.malformed).toBe(3);
    const bin = Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 7) % 256)).toString('utf8');
    expect(() => parseCgroupMounts(bin)).not.toThrow();
    expect(parseCgroupMounts(' - cgroup\n'.repeat(200_000)).malformed).toBe(100_001);
    const text = read('vm-hybrid-docker/proc/self/mountinfo');
    for (let i = 0; i <= text.length; i++) {
      const l = parseCgroupMounts(text.slice(0, i));
      expect(l.malformed).toBeLessThanOrEqual(1);
    }
  });
});
