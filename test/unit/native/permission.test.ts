// Permission denied: reading another user's /proc/<pid>/{io,exe,fd} needs CAP_SYS_PTRACE, and a
// file may be chmod 000. Tests run as root, which has both capabilities, so the readers run in a
// child process as `nobody` (setpriv drops every capability with the uid switch).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native, removeDir, statLine, tmpDir, writeProcess } from './proc-tree.js';
import { presentOrSkip } from '../../helpers/ci-gate.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcNative = path.resolve(here, '../../../src/native');
const isRoot = process.getuid?.() === 0;
/** How as-nobody.mjs spells undefined in its JSON. */
const U = '<undefined>';
const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;

describe.runIf(isRoot && presentOrSkip(hasSetpriv, 'setpriv', 'apt-get install util-linux'))('as nobody (no CAP_SYS_PTRACE, no CAP_DAC_OVERRIDE)', () => {
  let root: string;
  let target: ChildProcess;
  let seen: { uid: number; readers: Record<string, { live: unknown; fixture: unknown; scan: unknown }> };

  beforeAll(async () => {
    root = tmpDir('perm');
    chmodSync(root, 0o755);
    writeProcess(root, '300', {
      stat: statLine(300, 'locked'),
      cmdline: 'locked\0--x\0',
      status: 'Uid:\t0\t0\t0\t0\n',
      cgroup: '0::/locked\n',
      io: 'read_bytes: 1\nwrite_bytes: 2\n',
      exe: '/usr/bin/locked',
      fds: 2,
    });
    for (const f of ['io', 'cmdline', 'status']) chmodSync(path.join(root, '300', f), 0);
    chmodSync(path.join(root, '300', 'fd'), 0);
    writeProcess(root, '301', { stat: statLine(301, 'hidden') });
    chmodSync(path.join(root, '301', 'stat'), 0); // unreadable stat: skipped, not malformed
    writeProcess(root, '302', { stat: statLine(302, 'open') });

    target = spawn('sleep', ['30'], { stdio: 'ignore' }); // root-owned
    await new Promise((r) => target.once('spawn', r));
    const node = process.execPath;
    const child = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', node, path.join(here, 'as-nobody.mjs'), srcNative, String(target.pid), root],
      { encoding: 'utf8', timeout: 20_000 },
    );
    if (child.status !== 0) throw new Error(`as-nobody.mjs failed (${child.status}): ${child.stderr}`);
    seen = JSON.parse(child.stdout);
  });
  afterAll(() => {
    target?.kill('SIGKILL');
    if (root) removeDir(root);
  });

  it('ran unprivileged, with the native reader when it is built', () => {
    expect(seen.uid).toBe(65534);
    expect(Object.keys(seen.readers).sort()).toEqual(native ? ['js', 'native'] : ['js']);
  });

  it("reads a root process's public files and leaves io, exe and openFds undefined (EACCES)", () => {
    for (const r of Object.values(seen.readers)) {
      expect(r.live).toMatchObject({ comm: 'sleep', cmdline: 'sleep 30', cmdlineTruncated: false, uid: 0, exe: U, io: U, openFds: U });
      expect((r.live as { cgroup?: string }).cgroup).toMatch(/^\//);
    }
  });

  it('treats chmod 000 files as unreadable fields, and an unreadable stat as a skipped row', () => {
    for (const r of Object.values(seen.readers)) {
      expect(r.fixture).toStrictEqual({ comm: 'locked', cmdline: U, cmdlineTruncated: false, exe: '/usr/bin/locked', uid: U, cgroup: '/locked', io: U, openFds: U });
      expect(r.scan).toEqual({ total: 2, malformed: 0, pids: expect.arrayContaining([300, 302]) });
    }
    if (native) expect(seen.readers.native).toStrictEqual(seen.readers.js);
  });
});

describe.runIf(!isRoot)('as an unprivileged test user', () => {
  it('leaves io, exe and openFds of pid 1 undefined', async () => {
    const { js } = await import('./proc-tree.js');
    if (!existsSync('/proc/1')) return;
    const d = js.readProcessDetails('/proc', 1, 4096);
    expect(d).toMatchObject({ io: undefined, exe: undefined, openFds: undefined });
  });
});
