import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findMemoryCgroup, memoryLimit, workingSet } from '../../../src/self/cgroup-memory.js';
import { parseStatusMemory } from '../../../src/self/process-memory.js';
import { derivedOldSpaceMiB, limitsIn, relaunchArgv, v8Flags, v8LimitsFor } from '../../../src/self/v8-limits.js';

/**
 * V8's limits from the memory limit: bin/sextant (sh) and src/self/v8-limits.ts (TypeScript)
 * must give the same flags for the same cgroup files, for cgroup v1 and v2, in a container and
 * on a host; and the relaunch decision keeps flags given by the launcher unless the
 * configuration says otherwise.
 */

const REPO = resolve(import.meta.dirname, '../../..');
const LAUNCHER = join(REPO, 'bin/sextant');
const MiB = 1024 * 1024;
const DEFAULTS = { limit: 0, semiSpace: 2, oldSpace: 0, heapGrowth: 0 };

const tmp = mkdtempSync(join(tmpdir(), 'sextant-v8limits-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

/** A fake root with the given files (paths absolute under it). */
function tree(files: Record<string, string>): string {
  const root = join(tmp, `t${n++}`);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

const V2_MOUNT = '30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n';
const v1Mount = (root = '/'): string =>
  `35 29 0:31 ${root} /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory\n` +
  '36 29 0:32 / /sys/fs/cgroup/cpu rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct\n';

const TREES: Record<string, { files: Record<string, string>; limit: number | undefined }> = {
  'v2, a pod container, the pod lower than the container': {
    files: {
      '/proc/self/cgroup': '0::/kubepods.slice/pod1/ctr\n',
      '/proc/self/mountinfo': V2_MOUNT,
      '/sys/fs/cgroup/kubepods.slice/pod1/ctr/memory.current': '50000000\n',
      '/sys/fs/cgroup/kubepods.slice/pod1/ctr/memory.max': '536870912\n',
      '/sys/fs/cgroup/kubepods.slice/pod1/ctr/memory.stat': 'anon 30000000\ninactive_file 8000000\nactive_file 100\n',
      '/sys/fs/cgroup/kubepods.slice/pod1/memory.max': '268435456\n',
      '/sys/fs/cgroup/kubepods.slice/memory.max': 'max\n',
    },
    limit: 268435456,
  },
  'v2, a container with its own cgroup namespace': {
    files: {
      '/proc/self/cgroup': '0::/\n',
      '/proc/self/mountinfo': V2_MOUNT,
      '/sys/fs/cgroup/memory.current': '1000\n',
      '/sys/fs/cgroup/memory.max': '134217728\n',
    },
    limit: 134217728,
  },
  'v2, a host without a limit': {
    files: {
      '/proc/self/cgroup': '0::/user.slice/session-1.scope\n',
      '/proc/self/mountinfo': V2_MOUNT,
      '/sys/fs/cgroup/user.slice/session-1.scope/memory.current': '1000\n',
      '/sys/fs/cgroup/user.slice/session-1.scope/memory.max': 'max\n',
      '/sys/fs/cgroup/user.slice/memory.max': 'max\n',
    },
    limit: undefined,
  },
  'v1, a Docker container seen through the host path': {
    files: {
      '/proc/self/cgroup': '12:pids:/docker/abc\n4:memory:/docker/abc\n0::/docker/abc\n',
      '/proc/self/mountinfo': v1Mount(),
      '/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes': '70000000\n',
      '/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes': '1073741824\n',
      '/sys/fs/cgroup/memory/docker/abc/memory.stat': 'cache 100\nhierarchical_memory_limit 536870912\ntotal_inactive_file 20000000\n',
    },
    limit: 536870912,
  },
  'v1, a container whose mount root is its own cgroup': {
    files: {
      '/proc/self/cgroup': '4:memory:/docker/abc\n',
      '/proc/self/mountinfo': v1Mount('/docker/abc'),
      '/sys/fs/cgroup/memory/memory.usage_in_bytes': '70000000\n',
      '/sys/fs/cgroup/memory/memory.limit_in_bytes': '209715200\n',
    },
    limit: 209715200,
  },
  'v1, unlimited': {
    files: {
      '/proc/self/cgroup': '4:memory:/\n',
      '/proc/self/mountinfo': v1Mount(),
      '/sys/fs/cgroup/memory/memory.usage_in_bytes': '70000000\n',
      '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
      '/sys/fs/cgroup/memory/memory.stat': 'hierarchical_memory_limit 9223372036854771712\n',
    },
    limit: undefined,
  },
  'no cgroup files at all': { files: { '/proc/self/cgroup': '' }, limit: undefined },
};

function launcherFlags(root: string, env: Record<string, string> = {}): string[] {
  const out = execFileSync('/bin/sh', [LAUNCHER, 'agent', '--once'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SEXTANT_TEST_FS_ROOT: root, SEXTANT_TEST_LAUNCHER_PRINT: '1', ...env },
    encoding: 'utf8',
  });
  return out.trim().split(' ').filter((w) => w.startsWith('--max-'));
}

describe('the memory limit and V8 flags: bin/sextant and v8-limits.ts agree', () => {
  const built = existsSync(join(REPO, 'dist/cli/sextant.js'));

  for (const [name, t] of Object.entries(TREES)) {
    it.skipIf(!built)(name, () => {
      const root = tree(t.files);
      const cg = findMemoryCgroup({ root });
      const limit = cg === undefined ? undefined : memoryLimit(cg, { root });
      expect(limit).toBe(t.limit);
      const want = v8Flags(v8LimitsFor(DEFAULTS, limit));
      expect(want[0]).toBe('--max-semi-space-size=2');
      expect(want.length).toBe(t.limit === undefined ? 1 : 2);
      expect(launcherFlags(root)).toEqual(want);
    });
  }

  it.skipIf(!built)('the machine running the test: same answer from its real cgroup files', () => {
    const cg = findMemoryCgroup();
    const limit = cg === undefined ? undefined : memoryLimit(cg);
    expect(launcherFlags('')).toEqual(v8Flags(v8LimitsFor(DEFAULTS, limit)));
  });

  it.skipIf(!built)('the environment overrides what the launcher derives, as the configuration would', () => {
    const root = tree(TREES['v1, a Docker container seen through the host path']!.files);
    expect(launcherFlags(root, { SEXTANT_MEMORY_SEMI_SPACE: '0' })).toEqual([]);
    expect(launcherFlags(root, { SEXTANT_MEMORY_SEMI_SPACE: '4' })).toEqual(['--max-semi-space-size=4', '--max-old-space-size=240']);
    expect(launcherFlags(root, { SEXTANT_MEMORY_OLD_SPACE: '300MiB' })).toEqual(['--max-semi-space-size=2', '--max-old-space-size=300']);
    expect(launcherFlags(root, { SEXTANT_MEMORY_LIMIT: '1GiB' })).toEqual(['--max-semi-space-size=2', '--max-old-space-size=496']);
    for (const [env, memory] of [
      [{ SEXTANT_MEMORY_SEMI_SPACE: '4' }, { ...DEFAULTS, semiSpace: 4 }],
      [{ SEXTANT_MEMORY_OLD_SPACE: '300MiB' }, { ...DEFAULTS, oldSpace: 300 * MiB }],
      [{ SEXTANT_MEMORY_LIMIT: '1GiB' }, { ...DEFAULTS, limit: 1024 * MiB }],
    ] as const) {
      expect(launcherFlags(root, env)).toEqual(v8Flags(v8LimitsFor(memory, 536870912)));
    }
    // Flags already in NODE_OPTIONS win: the launcher adds none.
    expect(launcherFlags(root, { NODE_OPTIONS: '--max-old-space-size=900' })).toEqual([]);
  });

  it('the working set is usage less inactive file pages (v1 total_inactive_file, v2 inactive_file)', () => {
    const v1 = tree(TREES['v1, a Docker container seen through the host path']!.files);
    expect(workingSet(findMemoryCgroup({ root: v1 })!, { root: v1 })).toBe(50_000_000);
    const v2 = tree(TREES['v2, a pod container, the pod lower than the container']!.files);
    expect(workingSet(findMemoryCgroup({ root: v2 })!, { root: v2 })).toBe(42_000_000);
  });
});

describe('v8-limits', () => {
  it('old space is half the limit less 16 MiB, within 32 MiB and 2 GiB', () => {
    expect(derivedOldSpaceMiB(512 * MiB)).toBe(240);
    expect(derivedOldSpaceMiB(128 * MiB)).toBe(48);
    expect(derivedOldSpaceMiB(64 * MiB)).toBe(32);
    expect(derivedOldSpaceMiB(64 * 1024 * MiB)).toBe(2048);
  });

  it('never an old-space cap without the semi-space cap', () => {
    expect(v8LimitsFor({ limit: 0, semiSpace: 0, oldSpace: 256 * MiB, heapGrowth: 0 }, 512 * MiB)).toEqual({ semiSpaceMiB: undefined, oldSpaceMiB: undefined });
    expect(relaunchArgv(['--max-semi-space-size=1'], undefined, { semiSpaceMiB: undefined, oldSpaceMiB: undefined }, false)).toBeUndefined();
  });

  it('relaunch: keeps what the launcher gave unless the configuration says otherwise', () => {
    const want = { semiSpaceMiB: 1, oldSpaceMiB: 240 };
    // Started by the launcher: nothing to do.
    expect(relaunchArgv(['--max-semi-space-size=1', '--max-old-space-size=240'], undefined, want, false)).toBeUndefined();
    // A user's own flags are kept when the configuration is silent.
    expect(relaunchArgv(['--max-semi-space-size=2'], undefined, want, false)?.execArgv).toEqual(['--max-semi-space-size=2', '--max-old-space-size=240']);
    // Started without the launcher (the image, the systemd unit): the flags are added, other flags kept.
    expect(relaunchArgv(['--enable-source-maps'], undefined, want, false)?.execArgv).toEqual(['--max-semi-space-size=1', '--max-old-space-size=240', '--enable-source-maps']);
    // A memory.* setting (a YAML file): exactly what it asks, replacing the launcher's.
    expect(relaunchArgv(['--max-semi-space-size=1', '--max-old-space-size=240'], undefined, { semiSpaceMiB: 4, oldSpaceMiB: 100 }, true)?.execArgv).toEqual([
      '--max-semi-space-size=4',
      '--max-old-space-size=100',
    ]);
    expect(relaunchArgv(['--max-semi-space-size=1'], undefined, { semiSpaceMiB: undefined, oldSpaceMiB: undefined }, true)?.execArgv).toEqual([]);
    // NODE_OPTIONS: counted, and cleaned when the configuration overrides it.
    expect(relaunchArgv([], '--max-semi-space-size=1 --max-old-space-size=240', want, false)).toBeUndefined();
    expect(relaunchArgv([], '--max-old-space-size=900 --trace-warnings', want, true)).toEqual({
      execArgv: ['--max-semi-space-size=1', '--max-old-space-size=240'],
      nodeOptions: '--trace-warnings',
    });
    expect(limitsIn(['--max_semi_space_size=3', '--max-old-space-size=7'])).toEqual({ semiSpaceMiB: 3, oldSpaceMiB: 7 });
    // memory.heapGrowth: V8's --heap-growing-percent, beside the semi-space cap only.
    expect(v8Flags(v8LimitsFor({ ...DEFAULTS, heapGrowth: 100 }, undefined))).toEqual(['--max-semi-space-size=2', '--heap-growing-percent=100']);
    expect(v8Flags(v8LimitsFor({ ...DEFAULTS, semiSpace: 0, heapGrowth: 100 }, undefined))).toEqual([]);
    expect(relaunchArgv(['--max-semi-space-size=1'], undefined, { semiSpaceMiB: 1, oldSpaceMiB: undefined, heapGrowingPercent: 50 }, true)?.execArgv).toEqual(['--max-semi-space-size=1', '--heap-growing-percent=50']);
  });

  it('reads RSS, RssAnon, RssFile and VmHWM from /proc/<pid>/status', () => {
    const status = 'Name:\tnode\nVmHWM:\t  103436 kB\nVmRSS:\t   97484 kB\nRssAnon:\t   44108 kB\nRssFile:\t   53376 kB\nRssShmem:\t       0 kB\n';
    expect(parseStatusMemory(status)).toEqual({ rss: 97484 * 1024, rssAnon: 44108 * 1024, rssFile: 53376 * 1024, peakRss: 103436 * 1024 });
  });
});
