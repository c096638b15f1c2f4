import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createResource } from '../../../../src/model/index.js';
import { silentLogger } from '../../../../src/self/logger.js';
import { Registry } from '../../../../src/self/registry.js';
import { HostSource } from '../../../../src/sources/host/host-source.js';
import { DEFAULT_EXCLUDE_FS_TYPES, DEFAULT_EXCLUDE_MOUNT_POINTS, selectMounts } from '../../../../src/sources/host/mount-filter.js';
import { parseMountinfo } from '../../../../src/sources/lib/mountinfo.js';
import { type StatfsNumbers, StatfsGuard } from '../../../../src/sources/host/statfs-guard.js';
import { ArraySink } from '../../../helpers/array-sink.js';

/** The mount points a cycle reported, sorted. */
function mounts(sink: ArraySink): string[] {
  return [...new Set(sink.named('system.filesystem.limit').map((p) => String(p.attributes['system.filesystem.mountpoint'])))].sort();
}

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures/hosts');
const STATS: StatfsNumbers = Object.freeze({ bsize: 4096, blocks: 100, bfree: 50, bavail: 40, files: 10, ffree: 5 });

/** A statfs whose calls on `hungPaths` never return until `release()`; counts every call. */
class FakeStatfs {
  readonly calls: string[] = [];
  readonly hungPaths = new Set<string>();
  readonly #waiting: (() => void)[] = [];
  readonly fn = (p: string): Promise<StatfsNumbers> => {
    this.calls.push(p);
    if (!this.hungPaths.has(p)) return Promise.resolve(STATS);
    return new Promise((resolve) => this.#waiting.push(() => resolve(STATS)));
  };
  release(): void {
    this.hungPaths.clear();
    for (const w of this.#waiting.splice(0)) w();
  }
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('StatfsGuard', () => {
  it('times out a hung call, never stacks a second one on it, and retries after it returns', async () => {
    const fake = new FakeStatfs();
    fake.hungPaths.add('/nfs');
    const guard = new StatfsGuard(fake.fn, 30);
    expect((await guard.stat('/data')).status).toBe('ok');
    const t0 = performance.now();
    expect((await guard.stat('/nfs')).status).toBe('timeout');
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(guard.pendingCount).toBe(1);
    for (let i = 0; i < 5; i++) expect((await guard.stat('/nfs')).status).toBe('hung');
    expect(fake.calls.filter((c) => c === '/nfs')).toHaveLength(1);
    // Other mounts are unaffected.
    expect((await guard.stat('/data')).status).toBe('ok');
    // The server answers: the background probe returns, the mount is tried again.
    fake.release();
    await tick();
    expect(guard.pendingCount).toBe(0);
    expect((await guard.stat('/nfs')).status).toBe('ok');
    expect(fake.calls.filter((c) => c === '/nfs')).toHaveLength(2);
  });

  it('reports errors, and a slow call that beats the deadline is fine', async () => {
    const guard = new StatfsGuard(async (p) => {
      if (p === '/gone') throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      await tick(5);
      return STATS;
    }, 1000);
    const r = await guard.stat('/gone');
    expect(r.status).toBe('error');
    expect((await guard.stat('/slow')).status).toBe('ok');
    expect(guard.pendingCount).toBe(0);
  });
});

describe('mount selection', () => {
  const opts = { excludeFsTypes: new Set(DEFAULT_EXCLUDE_FS_TYPES), excludeMountPoints: new RegExp(DEFAULT_EXCLUDE_MOUNT_POINTS) };
  it.each([
    ['h100-cgroup2', ['/', '/mnt/sandboxing/model_tools_env/v1/python']],
    ['vm-hybrid-docker', ['/', '/mnt/sandboxing/model_tools_env/v1/python']],
  ])('%s: pseudo filesystems, squashfs, overlay, nsfs and bind mounts skipped', (host, expected) => {
    const m = parseMountinfo(readFileSync(path.join(FIXTURES, host, 'proc/self/mountinfo'), 'utf8'));
    expect(selectMounts(m.mounts, opts).map((x) => x.mountPoint).sort()).toEqual(expected);
  });

  it('keeps the root of a filesystem over a bind of its subtree, whichever comes first', () => {
    const m = parseMountinfo([
      '50 27 8:1 /data/x /srv/x rw - xfs /dev/sdb1 rw',
      '51 27 8:1 / /data rw - xfs /dev/sdb1 rw',
      '52 27 0:90 / /var/lib/kubelet/pods/abc/volumes/kubernetes.io~secret/t rw - tmpfs tmpfs rw',
      '53 27 0:91 / /run rw - tmpfs tmpfs rw',
      '54 27 0:92 / /mnt/nfs rw - nfs4 srv:/export rw',
    ].join('\n'));
    expect(selectMounts(m.mounts, opts).map((x) => x.mountPoint)).toEqual(['/data', '/run', '/mnt/nfs']);
  });
});

const tmpDirs: string[] = [];
afterEach(async () => {
  await Promise.all(tmpDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('HostSource filesystems', () => {
  async function rootWith(mountinfo: string, file = 'proc/1/mountinfo'): Promise<string> {
    const root = await mkdtemp(path.join(os.tmpdir(), 'sextant-fs-'));
    tmpDirs.push(root);
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), mountinfo);
    return root;
  }
  const MOUNTS = [
    '27 1 254:0 / / rw - ext4 /dev/vda rw',
    '60 27 0:70 / /mnt/nfs1 rw - nfs4 a:/x rw',
    '61 27 0:71 / /mnt/nfs2 rw - nfs4 b:/y rw',
    '62 27 0:72 / /mnt/nfs3 rw - nfs4 c:/z rw',
    '63 27 8:16 / /data rw - xfs /dev/sdb ro',
  ].join('\n');

  it('a hung NFS mount costs one timeout, then is skipped without a new call until it returns', async () => {
    const root = await rootWith(MOUNTS);
    const fake = new FakeStatfs();
    const nfs1 = path.join(root, 'mnt/nfs1');
    fake.hungPaths.add(nfs1);
    const registry = new Registry();
    const s = new HostSource(
      { hostRoot: root, filesystem: { statfsTimeoutMs: 40 } },
      { resource: createResource({}), registry, logger: silentLogger(), version: '0', clockTicks: 100, statfs: fake.fn },
    );
    const a = new ArraySink();
    const t0 = performance.now();
    await s.collect(a);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(mounts(a)).toEqual(['/', '/data', '/mnt/nfs2', '/mnt/nfs3']);
    expect(s.hungMounts).toBe(1);
    const b = new ArraySink();
    await s.collect(b);
    expect(mounts(b)).toEqual(['/', '/data', '/mnt/nfs2', '/mnt/nfs3']);
    expect(fake.calls.filter((c) => c === nfs1)).toHaveLength(1);
    expect(registry.render()).toMatch(/sextant_host_statfs_skipped_total 1/);
    expect(registry.render()).toMatch(/read_errors_total\{file="statfs",source="host"\} 1/);
    fake.release();
    await tick();
    const c = new ArraySink();
    await s.collect(c);
    expect(mounts(c)).toEqual(['/', '/data', '/mnt/nfs1', '/mnt/nfs2', '/mnt/nfs3']);
    // Read-only by the superblock option.
    expect(c.metrics.find((p) => p.attributes['system.filesystem.mountpoint'] === '/data')!.attributes['system.filesystem.mode']).toBe('ro');
  });

  it('past maxHungStatfs only block-device filesystems are asked: hung calls cannot take the threadpool', async () => {
    const root = await rootWith(MOUNTS);
    const fake = new FakeStatfs();
    for (const n of ['nfs1', 'nfs2', 'nfs3']) fake.hungPaths.add(path.join(root, 'mnt', n));
    const s = new HostSource(
      { hostRoot: root, filesystem: { statfsTimeoutMs: 20, maxHungStatfs: 2 } },
      { resource: createResource({}), registry: new Registry(), logger: silentLogger(), version: '0', clockTicks: 100, statfs: fake.fn },
    );
    for (let i = 0; i < 4; i++) {
      const sink = new ArraySink();
      await s.collect(sink);
      expect(mounts(sink)).toEqual(['/', '/data']);
    }
    expect(s.hungMounts).toBe(2);
    expect(fake.calls.filter((c) => c.includes('/mnt/nfs3'))).toHaveLength(0);
    fake.release();
    await tick();
  });

  it("in a container, statfs goes through init's root (<root>/proc/1/root), not the container's own filesystem", async () => {
    const root = await rootWith(MOUNTS);
    const hostFs = await mkdtemp(path.join(os.tmpdir(), 'sextant-initroot-'));
    tmpDirs.push(hostFs);
    await symlink(hostFs, path.join(root, 'proc/1/root'));
    const fake = new FakeStatfs();
    const s = new HostSource({ hostRoot: root }, { resource: createResource({}), registry: new Registry(), logger: silentLogger(), version: '0', clockTicks: 100, statfs: fake.fn });
    const sink = new ArraySink();
    await s.collect(sink);
    const initRoot = path.join(root, 'proc/1/root');
    expect(fake.calls.sort()).toEqual([initRoot, ...['data', 'mnt/nfs1', 'mnt/nfs2', 'mnt/nfs3'].map((m) => path.join(initRoot, m))].sort());
    expect(mounts(sink)).toEqual(['/', '/data', '/mnt/nfs1', '/mnt/nfs2', '/mnt/nfs3']);
  });

  it('falls back to our own mountinfo and names host mounts as the host does', async () => {
    const root = await rootWith('', 'proc/self/mountinfo');
    await writeFile(
      path.join(root, 'proc/self/mountinfo'),
      [`100 1 0:50 / / rw - overlay overlay rw`, `101 100 254:0 / ${root} ro - ext4 /dev/vda rw`, `102 101 8:16 / ${root}/data rw - xfs /dev/sdb rw`, `103 100 254:0 /etc/hosts /etc/hosts rw - ext4 /dev/vda rw`].join('\n'),
    );
    const fake = new FakeStatfs();
    const s = new HostSource({ hostRoot: root }, { resource: createResource({}), registry: new Registry(), logger: silentLogger(), version: '0', clockTicks: 100, statfs: fake.fn });
    const sink = new ArraySink();
    await s.collect(sink);
    expect(mounts(sink)).toEqual(['/', '/data']);
    expect(fake.calls.sort()).toEqual([path.join(root, 'data'), root].sort());
  });
});
