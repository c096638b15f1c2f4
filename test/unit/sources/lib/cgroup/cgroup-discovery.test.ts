import type { Dirent } from 'node:fs';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CgroupDiscovery, type DiscoveredContainer } from '../../../../../src/sources/lib/cgroup/cgroup-discovery.js';
import { parseCgroupMounts } from '../../../../../src/sources/lib/cgroup/cgroup-mounts.js';

const HOSTS = new URL('../../../../fixtures/hosts/', import.meta.url).pathname;
const HYBRID = parseCgroupMounts(readFileSync(join(HOSTS, 'vm-hybrid-docker/proc/self/mountinfo'), 'utf8'));
const V2 = parseCgroupMounts(readFileSync(join(HOSTS, 'h100-cgroup2/proc/self/mountinfo'), 'utf8'));

const id = (c: string): string => c.repeat(64);
const POD = '0f6b3c57-1c1d-4a52-9c53-6f0bd0a7f1e2';
const POD2 = '11111111-2222-4333-8444-555555555555';
const POD3 = '6a2ac2e8a1f0b1c7a7b5c3f8f1ba1234'; // a static pod's hash
const POD4 = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const POD5 = '99999999-8888-4777-8666-555555555555';
const POD6 = '12345678-90ab-4cde-8f01-234567890abc';
const u = (uid: string): string => uid.replaceAll('-', '_');
const NODE = id('e');

/**
 * The cgroup paths runtimes give containers (Docker, the kubelet's cgroupfs and systemd trees
 * under containerd and CRI-O, containerd's k8s.io, Podman, minikube's nested node), relative to
 * the walked mount.
 */
const CONTAINERS: Array<[path: string, want: Partial<DiscoveredContainer>]> = [
  [`/docker/${id('1')}`, { identity: { containerId: id('1'), runtime: 'docker' } }],
  [`/system.slice/docker-${id('2')}.scope`, { identity: { containerId: id('2'), runtime: 'docker' } }],
  [`/kubepods/burstable/pod${POD}/${id('3')}`, { identity: { containerId: id('3'), podUid: POD, qosClass: 'burstable' } }],
  [`/kubepods/pod${POD2}/${id('4')}`, { identity: { containerId: id('4'), podUid: POD2, qosClass: 'guaranteed' } }],
  [`/kubepods/besteffort/pod${POD3}/crio-${id('5')}`, { identity: { containerId: id('5'), podUid: POD3, qosClass: 'besteffort', runtime: 'cri-o' } }],
  [
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${u(POD4)}.slice/cri-containerd-${id('6')}.scope`,
    { identity: { containerId: id('6'), podUid: POD4, qosClass: 'burstable', runtime: 'containerd' } },
  ],
  [`/kubepods.slice/kubepods-pod${u(POD5)}.slice/crio-${id('7')}.scope`, { identity: { containerId: id('7'), podUid: POD5, qosClass: 'guaranteed', runtime: 'cri-o' } }],
  [`/k8s.io/${id('8')}`, { identity: { containerId: id('8'), runtime: 'containerd' } }],
  [`/machine.slice/libpod-${id('a')}.scope`, { identity: { containerId: id('a') } }],
  // minikube's docker driver: the node is a container, the pods' containers are inside it.
  [`/docker/${NODE}`, { identity: { containerId: NODE, runtime: 'docker' } }],
  [`/docker/${NODE}/kubepods/besteffort/pod${POD6}/${id('b')}`, { identity: { containerId: id('b'), podUid: POD6, qosClass: 'besteffort' }, enclosingPath: `/docker/${NODE}` }],
];

/** Directories that hold no container of their own. */
const OTHER_DIRS = [
  `/system.slice/docker-${id('2')}.scope/init.scope`, // nested inside a container: not a second one
  `/system.slice/docker-${id('2')}.scope/init.scope/deeper`,
  `/docker/${id('1')}/sub`,
  `/kubepods.slice/kubepods-pod${u(POD5)}.slice/crio-conmon-${id('7')}.scope`, // CRI-O's monitor
  `/system.slice/containerd.service/${id('c')}`, // services are not walked
  `/system.slice/ssh.service`,
  `/user.slice/user-1000.slice/docker-${id('d')}.scope`, // not under a root we walk
  `/docker/${NODE}/system.slice/kubelet.service`,
  `/kubepods/burstable/not-a-pod/${'x'.repeat(10)}`,
];

const tmp = mkdtempSync(join(tmpdir(), 'sextant-cgdisc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let trees = 0;

/** A fake host: the dirs under the hybrid VM's memory mount (or the v2 root), each with a file in it as cgroupfs has. */
function tree(mountRel: string, dirs: readonly string[]): string {
  const root = join(tmp, `t${trees++}`);
  const mount = join(root, mountRel);
  mkdirSync(mount, { recursive: true });
  for (const d of dirs) {
    mkdirSync(join(mount, d), { recursive: true });
    writeFileSync(join(mount, d, 'cgroup.procs'), '');
  }
  return root;
}

const byPath = (list: readonly DiscoveredContainer[]): Map<string, DiscoveredContainer> => new Map(list.map((c) => [c.cgroupPath, c]));

describe('CgroupDiscovery: every path format', () => {
  for (const [name, layout, mountRel] of [
    ['hybrid host (memory hierarchy)', HYBRID, 'sys/fs/cgroup/memory'],
    ['pure v2 host', V2, 'sys/fs/cgroup'],
  ] as const) {
    it(`${name}: finds each container once, with its identity, and the pods it passed`, async () => {
      const root = tree(mountRel, [...CONTAINERS.map(([p]) => p), ...OTHER_DIRS]);
      const d = new CgroupDiscovery(root, layout);
      const r = await d.discover();
      const found = byPath(r.containers);
      expect(r.containers.length).toBe(CONTAINERS.length);
      for (const [path, want] of CONTAINERS) {
        expect(found.get(path), path).toStrictEqual(want.enclosingPath ? { cgroupPath: path, ...want } : { cgroupPath: path, identity: want.identity });
      }
      expect([...r.pods.values()].sort((a, b) => a.podUid.localeCompare(b.podUid))).toEqual(
        [
          { podUid: POD, cgroupPath: `/kubepods/burstable/pod${POD}`, qosClass: 'burstable' },
          { podUid: POD2, cgroupPath: `/kubepods/pod${POD2}`, qosClass: 'guaranteed' },
          { podUid: POD3, cgroupPath: `/kubepods/besteffort/pod${POD3}`, qosClass: 'besteffort' },
          { podUid: POD4, cgroupPath: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${u(POD4)}.slice`, qosClass: 'burstable' },
          { podUid: POD5, cgroupPath: `/kubepods.slice/kubepods-pod${u(POD5)}.slice`, qosClass: 'guaranteed' },
          { podUid: POD6, cgroupPath: `/docker/${NODE}/kubepods/besteffort/pod${POD6}`, qosClass: 'besteffort' },
        ].sort((a, b) => a.podUid.localeCompare(b.podUid)),
      );
      expect([r.truncated, r.vanished, r.unreadable]).toEqual([false, 0, 0]);
    });
  }

  it('walks only the roots it is given', async () => {
    const root = tree('sys/fs/cgroup/memory', CONTAINERS.map(([p]) => p));
    const r = await new CgroupDiscovery(root, HYBRID, { roots: ['docker'] }).discover();
    expect(r.containers.map((c) => c.cgroupPath).sort()).toEqual([`/docker/${id('1')}`, `/docker/${NODE}`, `/docker/${NODE}/kubepods/besteffort/pod${POD6}/${id('b')}`].sort());
  });

  it('an empty host and a host without cgroups find nothing', async () => {
    expect((await new CgroupDiscovery(tree('sys/fs/cgroup/memory', []), HYBRID).discover()).containers).toEqual([]);
    const none = parseCgroupMounts('');
    const d = new CgroupDiscovery(tmp, none);
    expect(d.mount).toBeUndefined();
    expect((await d.discover()).containers).toEqual([]);
    // A layout whose mount directory does not exist under the host root.
    const r = await new CgroupDiscovery(join(tmp, 'nowhere'), HYBRID).discover();
    expect([r.containers.length, r.vanished]).toEqual([0, 1]);
  });

  it('a mount showing a sub-tree names paths as the process sees them', async () => {
    const layout = parseCgroupMounts('35 31 0:32 /docker/' + NODE + ' /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n');
    const root = tree('sys/fs/cgroup', [`/kubepods/pod${POD2}/${id('4')}`]);
    const r = await new CgroupDiscovery(root, layout).discover();
    // Everything is inside the node container, which is the mount's top and not reported.
    expect(r.containers.map((c) => [c.cgroupPath, c.identity.containerId, c.enclosingPath])).toEqual([[`/docker/${NODE}/kubepods/pod${POD2}/${id('4')}`, id('4'), `/docker/${NODE}`]]);
  });
});

describe('CgroupDiscovery: bounds and a changing tree', () => {
  it('bounded depth: a container below depth 6 is not reached', async () => {
    const deep = `/kubepods/a/b/c/d/e/${id('1')}`;
    const at6 = `/docker/${NODE}/kubepods/besteffort/pod${POD6}/${id('b')}`;
    const r = await new CgroupDiscovery(tree('sys/fs/cgroup/memory', [deep, at6]), HYBRID).discover();
    expect(r.containers.map((c) => c.cgroupPath).sort()).toEqual([`/docker/${NODE}`, at6].sort());
    const shallow = await new CgroupDiscovery(tree('sys/fs/cgroup/memory', [deep]), HYBRID, { maxDepth: 7 }).discover();
    expect(shallow.containers.map((c) => c.cgroupPath)).toEqual([deep]);
  });

  it('bounded entries: stops when maxDirs directories were listed, and says so', async () => {
    const dirs = Array.from({ length: 50 }, (_, i) => `/docker/${i.toString(16).padStart(64, '0')}`);
    const root = tree('sys/fs/cgroup/memory', dirs);
    const r = await new CgroupDiscovery(root, HYBRID, { maxDirs: 10 }).discover();
    expect(r.truncated).toBe(true);
    expect(r.dirs).toBe(10);
    expect(r.containers.length).toBeLessThan(50);
    const all = await new CgroupDiscovery(root, HYBRID).discover();
    expect([all.truncated, all.containers.length]).toEqual([false, 50]);
  });

  it('symlinks are not followed: a loop, and a link to a container elsewhere', async () => {
    const root = tree('sys/fs/cgroup/memory', [`/docker/${id('1')}`, '/kubepods/burstable']);
    const mount = join(root, 'sys/fs/cgroup/memory');
    symlinkSync('..', join(mount, 'kubepods/burstable/loop'));
    symlinkSync(mount, join(mount, 'kubepods/root'));
    const outside = join(root, 'outside', `pod${POD}`, id('3'));
    mkdirSync(outside, { recursive: true });
    symlinkSync(join(root, 'outside', `pod${POD}`), join(mount, `kubepods/burstable/pod${POD}`));
    // A root that is itself a symlink is not walked either.
    symlinkSync(join(mount, 'docker'), join(mount, 'k8s.io'));
    const r = await new CgroupDiscovery(root, HYBRID).discover();
    expect(r.containers.map((c) => c.cgroupPath)).toEqual([`/docker/${id('1')}`]);
    expect(r.pods.size).toBe(0);
  });

  it('a directory deleted mid-walk is counted and skipped; a container that exited is not reported', async () => {
    const gone = `/kubepods/burstable/pod${POD}`;
    const root = tree('sys/fs/cgroup/memory', [`/docker/${id('1')}`, `/docker/${id('2')}`, `${gone}/${id('3')}`, `/kubepods/pod${POD2}/${id('4')}`]);
    const mount = join(root, 'sys/fs/cgroup/memory');
    /** Lists for real, but first removes what a container exiting right then would remove. */
    class Racing extends CgroupDiscovery {
      protected override async listDir(dir: string): Promise<Dirent[]> {
        if (dir === join(mount, 'docker')) rmSync(join(mount, 'docker', id('2')), { recursive: true });
        if (dir === join(mount, 'kubepods/burstable')) rmSync(join(mount, gone), { recursive: true });
        return super.listDir(dir);
      }
    }
    // The parent was listed before the child vanished: list `docker` first, then remove the child.
    class ListThenRemove extends CgroupDiscovery {
      protected override async listDir(dir: string): Promise<Dirent[]> {
        const entries = await super.listDir(dir);
        if (dir === join(mount, 'docker')) rmSync(join(mount, 'docker', id('1')), { recursive: true });
        return entries;
      }
    }
    const r = await new Racing(root, HYBRID).discover();
    expect(r.containers.map((c) => c.identity.containerId).sort()).toEqual([id('1'), id('4')]);
    expect(r.vanished).toBe(0); // removed before its parent was listed: never seen
    const r2 = await new ListThenRemove(root, HYBRID).discover();
    expect(r2.containers.map((c) => c.identity.containerId)).toEqual([id('4')]);
    expect(r2.vanished).toBe(1);
  });

  it('a container directory is listed again only every 6th walk; a node nested in it meanwhile is found within 6 walks', async () => {
    const root = tree('sys/fs/cgroup/memory', [`/docker/${NODE}`, `/docker/${id('1')}`]);
    const mount = join(root, 'sys/fs/cgroup/memory');
    const listed: string[] = [];
    class Counting extends CgroupDiscovery {
      protected override listDir(dir: string): Dirent[] | Promise<Dirent[]> {
        listed.push(dir.slice(mount.length));
        return super.listDir(dir);
      }
    }
    const d = new Counting(root, HYBRID);
    expect((await d.discover()).containers).toHaveLength(2);
    listed.length = 0;
    // The node starts kubelet's tree inside it after the first walk.
    mkdirSync(join(mount, `docker/${NODE}/kubepods/pod${POD2}/${id('4')}`), { recursive: true });
    let walks = 0;
    let found = false;
    while (!found && walks < 6) {
      walks++;
      found = (await d.discover()).containers.some((c) => c.identity.containerId === id('4'));
    }
    expect(found).toBe(true);
    expect(walks).toBeLessThanOrEqual(6);
    // Between relistings a container directory costs no listing.
    expect(listed.filter((p) => p === `/docker/${id('1')}`).length).toBeLessThanOrEqual(1);
    // A container that exits is gone from its parent's listing at once: parents are listed every walk.
    rmSync(join(mount, `docker/${id('1')}`), { recursive: true });
    expect((await d.discover()).containers.some((c) => c.identity.containerId === id('1'))).toBe(false);
  });

  it('a directory that cannot be listed is counted; the walk goes on', async () => {
    const root = tree('sys/fs/cgroup/memory', [`/docker/${id('1')}`, `/kubepods/pod${POD2}/${id('4')}`]);
    const mount = join(root, 'sys/fs/cgroup/memory');
    class Denied extends CgroupDiscovery {
      protected override listDir(dir: string): Dirent[] | Promise<Dirent[]> {
        if (dir === join(mount, 'kubepods')) return Promise.reject(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }));
        return super.listDir(dir);
      }
    }
    const r = await new Denied(root, HYBRID).discover();
    expect(r.containers.map((c) => c.identity.containerId)).toEqual([id('1')]);
    expect(r.unreadable).toBe(1);
  });
});
