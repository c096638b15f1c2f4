import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { controllerPath, parseProcCgroup } from '../../../../../src/sources/lib/cgroup/proc-cgroup.js';

const HOSTS = new URL('../../../../fixtures/hosts/', import.meta.url);
const ID = 'e883135d2bd464bb0572ed18228d58342c480b57bc0c5795cee88107c3d0d635';

describe('parseProcCgroup', () => {
  it('reads the hybrid VM’s container process: nine v1 hierarchies and the unified line', () => {
    const pc = parseProcCgroup(readFileSync(new URL('vm-hybrid-docker/proc/container-init/cgroup', HOSTS), 'utf8'));
    expect(pc.malformed).toBe(0);
    expect(pc.unified).toBe(`/docker/${ID}`);
    expect([...pc.v1.keys()].sort()).toEqual(['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'name=systemd', 'pids']);
    expect(pc.v1.get('memory')).toBe(`/docker/${ID}`);
    expect(controllerPath(pc, 'memory')).toBe(`/docker/${ID}`);
  });

  it('reads the pure v2 host: one line, no v1', () => {
    const pc = parseProcCgroup(readFileSync(new URL('h100-cgroup2/proc/shell-pid/cgroup', HOSTS), 'utf8'));
    expect(pc).toEqual({ unified: '/system.slice/workload.scope', v1: new Map(), malformed: 0 });
    expect(controllerPath(pc, 'memory')).toBe('/system.slice/workload.scope');
  });

  it('splits joined controllers and keeps `:` inside the path', () => {
    const pc = parseProcCgroup('3:cpu,cpuacct:/a:b\n2:net_cls,net_prio:/x\n1:name=systemd:/user.slice\n');
    expect(pc.v1.get('cpu')).toBe('/a:b');
    expect(pc.v1.get('cpuacct')).toBe('/a:b');
    expect(pc.v1.get('net_prio')).toBe('/x');
    expect(pc.v1.get('name=systemd')).toBe('/user.slice');
    expect(pc.unified).toBeUndefined();
    expect(controllerPath(pc, 'memory')).toBeUndefined();
  });

  it.each([
    ['a v2 line with controllers', '0:memory:/a'],
    ['a v1 line without', '3::/a'],
    ['no path', '0::'],
    ['a relative path', '0::a/b'],
    ['no colons', 'garbage'],
    ['a hierarchy that is not a number', 'x::/a'],
    ['an empty controller in a list', '3:cpu,,memory:/a'],
    ['a path over PATH_MAX', `0::/${'a'.repeat(5000)}`],
    ['a NUL in the path', '0::/a\0b'],
  ])('counts a bad line: %s', (_, line) => {
    const pc = parseProcCgroup(line + '\n0::/good\n');
    expect(pc.malformed).toBe(1);
    expect(pc.unified).toBe('/good');
  });

  it('takes a cgroup-namespace-relative path as written', () => {
    expect(parseProcCgroup('0::/../../kubepods/x\n').unified).toBe('/../../kubepods/x');
  });

  it('survives empty, binary, invalid UTF-8, huge, and every truncation', () => {
    expect(parseProcCgroup('')).toEqual({ unified: undefined, v1: new Map(), malformed: 0 });
    expect(parseProcCgroup('\n\n').malformed).toBe(0);
    const bin = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)).toString('utf8');
    expect(() => parseProcCgroup(bin)).not.toThrow();
    expect(parseProcCgroup(Buffer.from([0x30, 0x3a, 0x3a, 0x2f, 0xff, 0xfe]).toString('utf8')).unified).toBe('/\uFFFD\uFFFD');
    const huge = parseProcCgroup('1:cpu:/a\n'.repeat(100_000));
    expect(huge.malformed).toBe(1); // stops after the line cap
    const text = readFileSync(new URL('vm-hybrid-docker/proc/container-init/cgroup', HOSTS), 'utf8');
    for (let i = 0; i <= text.length; i++) {
      const pc = parseProcCgroup(text.slice(0, i));
      expect(pc.malformed).toBeLessThanOrEqual(1);
      for (const p of pc.v1.values()) expect(p.startsWith('/')).toBe(true);
    }
  });
});
